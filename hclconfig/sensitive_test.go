package hclconfig

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// Canary values given to Load from outside the files: none of them may appear
// in a diagnostic, a rendered diagnostic or a printed/encoded Config.
var canaries = []string{
	"canary-not-a-number", // var.secret_port_str
	"canary-var-4242",     // var.secret
	"987654321",           // var.secret_num
	"canary-env-5151",     // env("CANARY_MODE")
	"canary-secret-123",   // env("WAREHOUSE_PASSWORD")
	"canary-file-6363",    // var.file_secret, from a -var-file
	"canaryunquoted6464",  // var.file_secret, unquoted by mistake in a -var-file
}

const sensitiveDecls = `
variable "secret_port_str" {
  type      = string
  sensitive = true
}

variable "secret" {
  sensitive = true
}

variable "secret_num" {
  type      = number
  sensitive = true
}

variable "file_secret" {
  type      = string
  sensitive = true
}

variable "secret_list" {
  type      = list(string)
  sensitive = true
  default   = ["x"]
}

destination "postgres" "ok" {
  host     = "db"
  database = "d"
  user     = "u"
}

source "csv" "ok" {
  path = "ok.csv"
}

source "postgres" "ok" {
  host     = "db"
  database = "d"
  user     = "u"
}
`

func sensitiveInputs() Inputs {
	return Inputs{
		VarFiles: []string{"secret.vars.hcl"},
		Vars: []string{
			"secret_port_str=canary-not-a-number",
			"secret=canary-var-4242",
			"secret_num=987654321",
		},
		Environ: withEnv("CANARY_MODE=canary-env-5151"),
	}
}

const secretVarFile = `file_secret = "canary-file-6363"` + "\n"

// sensitiveSync wraps attribute lines into a sync that is valid apart from them.
func sensitiveSync(source, attrs string) string {
	return fmt.Sprintf(`
sync "s" {
  source      = %s
  destination = destination.postgres.ok
  table       = "t"
  behavior    = "append"
  key         = "id"
%s
}
`, source, attrs)
}

func sensitiveServer(attrs string) string {
	return `
destination "postgres" "x" {
  host     = "db"
  database = "d"
  user     = "u"
` + attrs + `
}
`
}

// assertNoCanary fails when any canary appears in text.
func assertNoCanary(t *testing.T, what, text string) {
	t.Helper()
	for _, c := range canaries {
		if i := strings.Index(text, c); i >= 0 {
			t.Errorf("%s shows the secret %q:\n%s", what, c, around(text, i, len(c)))
		}
	}
}

// around returns text[i:i+n] with up to 200 bytes of context on each side.
func around(text string, i, n int) string {
	from, to := max(0, i-200), min(len(text), i+n+200)
	out := text[from:to]
	if from > 0 {
		out = "..." + out
	}
	if to < len(text) {
		out += "..."
	}
	return out
}

func TestSensitiveNeverShown(t *testing.T) {
	cases := []struct {
		name string
		body string
		in   func(Inputs) Inputs // adjusts sensitiveInputs(); nil keeps them
		want []string            // texts of an error that must be reported
	}{
		{"port from a sensitive string", sensitiveServer(`  port = var.secret_port_str`), nil, []string{"Incorrect attribute value type", "port"}},
		{"sslmode from env", sensitiveServer(`  sslmode = env("CANARY_MODE")`), nil, []string{"Invalid sslmode"}},
		{"sslmode from a sensitive variable", sensitiveServer(`  sslmode = var.secret`), nil, []string{"Invalid sslmode"}},
		{"tonumber of a sensitive variable", sensitiveServer(`  max_connections = tonumber(var.secret)`), nil, []string{"Invalid function argument"}},
		{"tobool of env", sensitiveServer(`  password = tobool(env("CANARY_MODE")) ? "a" : "b"`), nil, []string{"Invalid function argument"}},
		{"max_connections out of range from a sensitive number", sensitiveServer(`  max_connections = var.secret_num`), nil, []string{"Invalid max_connections"}},
		{"port out of range from a sensitive number", sensitiveServer(`  port = var.secret_num`), nil, []string{"Invalid port"}},
		{"port not a whole number from a sensitive number", sensitiveServer(`  port = var.secret_num / 1000`), nil, []string{"Invalid port"}},
		{"arithmetic on a sensitive string", sensitiveServer(`  port = var.secret + 1`), nil, []string{"Invalid operand"}},
		{"condition on a sensitive string", sensitiveServer(`  port = var.secret ? 1 : 2`), nil, []string{"condition"}},
		{"format of a sensitive string", sensitiveServer(`  sslrootcert = format("%d", var.secret)`), nil, []string{"Error in function call"}},
		{"env named by a sensitive variable", sensitiveServer(`  password = env(var.secret)`), nil, []string{"Invalid function argument"}},
		{"ssh port from a sensitive string", sensitiveServer("  ssh_tunnel {\n    host = \"b\"\n    user = \"u\"\n    port = var.secret_port_str\n  }"), nil, []string{"Incorrect attribute value type"}},
		{"table from a sensitive variable", tableSync(`"${var.secret}.a.b"`), nil, []string{"Invalid table"}},
		{"table with an empty part from env", tableSync(`"${env("CANARY_MODE")}..x"`), nil, []string{"Invalid table"}},
		{"delimiter from env", `
source "csv" "x" {
  path      = "x.csv"
  delimiter = env("CANARY_MODE")
}
`, nil, []string{"Invalid delimiter"}},
		{"header from a sensitive variable", `
source "csv" "x" {
  path   = "x.csv"
  header = var.secret
}
`, nil, []string{"Incorrect attribute value type"}},
		{"behavior from a sensitive variable", strings.Replace(sensitiveSync("source.csv.ok", ""), `behavior    = "append"`, `behavior    = var.secret`, 1), nil, []string{"Invalid behavior"}},
		{"query from a file named by a sensitive variable", sensitiveSync("source.postgres.ok", `  query = file(var.secret)`), nil, []string{"Invalid function argument"}},
		{"key repeating a sensitive variable", strings.Replace(sensitiveSync("source.csv.ok", ""), `key         = "id"`, `key         = [var.secret, var.secret]`, 1), nil, []string{"Invalid key"}},
		{"key not mapped, from a sensitive variable", strings.Replace(sensitiveSync("source.csv.ok", "  mapping = { id = \"id\" }"), `key         = "id"`, `key         = var.secret`, 1), nil, []string{"Key column not mapped"}},
		{"sensitive_columns from a sensitive variable", sensitiveSync("source.csv.ok", "  mapping = { id = \"id\" }\n  sensitive_columns = [var.secret]"), nil, []string{"Unknown sensitive column"}},
		{"mapping key from a sensitive variable", sensitiveSync("source.csv.ok", "  mapping = {\n    id = \"id\"\n    (var.secret) = 5\n  }"), nil, []string{"Invalid mapping"}},
		{"var file secret of the wrong type", sensitiveServer(`  port = var.file_secret`), nil, []string{"Incorrect attribute value type"}},
		{"sensitive list element", sensitiveServer(`  port = var.secret_list[0]`), func(in Inputs) Inputs {
			in.Vars = append(in.Vars, `secret_list=["canary-var-4242"]`)
			return in
		}, []string{"Incorrect attribute value type"}},
		{"local computed from a secret", "locals {\n  l = { pw = var.secret }\n}\n" + sensitiveServer(`  port = local.l.pw`), nil, []string{"Incorrect attribute value type"}},
		{"-var of the wrong type for a sensitive number", sensitiveServer(""), func(in Inputs) Inputs {
			in.Vars = append(in.Vars, "secret_num=canary-var-4242")
			return in
		}, []string{"Invalid value for variable", "secret_num"}},
		{"-var of the wrong type for a sensitive list", sensitiveServer(""), func(in Inputs) Inputs {
			in.Vars = append(in.Vars, `secret_list="canary-var-4242"`)
			return in
		}, []string{"Invalid value for variable", "secret_list"}},
		{"environment value of the wrong type for a sensitive number", sensitiveServer(""), func(in Inputs) Inputs {
			in.Vars = in.Vars[:2] // no -var secret_num, so the environment decides
			in.Environ = append(in.Environ, "ROWFORM_VAR_secret_num=[\"canary-env-5151\"]")
			return in
		}, []string{"Invalid value for variable", "secret_num"}},
		{"var file value of the wrong type for a sensitive number", sensitiveServer(""), func(in Inputs) Inputs {
			in.Vars = in.Vars[:2]
			in.VarFiles = append(in.VarFiles, "num.vars.hcl")
			return in
		}, []string{"Invalid value for variable", "secret_num"}},
		{"unquoted value in a var file", sensitiveServer(""), func(in Inputs) Inputs {
			in.VarFiles = append(in.VarFiles, "unquoted.vars.hcl")
			return in
		}, []string{"Variables not allowed"}},
		{"malformed -var with an empty name", sensitiveServer(""), func(in Inputs) Inputs {
			in.Vars = append(in.Vars, "=canary-var-4242")
			return in
		}, []string{"Invalid -var option"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			in := sensitiveInputs()
			if c.in != nil {
				in = c.in(in)
			}
			cfg, diags := loadFiles(t, map[string]string{
				"decls.hcl":       sensitiveDecls,
				"main.hcl":        c.body,
				"secret.vars.hcl": secretVarFile,
				"num.vars.hcl":    `secret_num = "987654321x"` + "\n",
				// A value that lost its quotes parses as a reference.
				"unquoted.vars.hcl": "file_secret = canaryunquoted6464\n",
			}, in)
			wantError(t, diags, c.want...)
			assertNoCanary(t, "the rendered diagnostics", renderDiags(cfg, diags))
			for _, d := range diags {
				assertNoCanary(t, "a diagnostic", d.Summary+"\n"+d.Detail)
			}
		})
	}

	t.Run("loaded configuration", func(t *testing.T) {
		body := `
destination "postgres" "x" {
  host     = "db"
  database = "d"
  user     = "u"
  password = var.secret

  ssh_tunnel {
    host                   = "b"
    user                   = "u"
    private_key            = env("WAREHOUSE_PASSWORD")
    private_key_passphrase = var.file_secret
  }
}

source "postgres" "y" {
  host     = "db"
  database = "d"
  user     = "u"
  password = env("CANARY_MODE")
}

sync "s" {
  source      = source.postgres.y
  query       = "select 1 as id"
  destination = destination.postgres.x
  table       = "t"
  behavior    = "append"
  key         = "id"
}
`
		cfg, diags := loadFiles(t, map[string]string{
			"decls.hcl":       sensitiveDecls,
			"main.hcl":        body,
			"secret.vars.hcl": secretVarFile,
		}, sensitiveInputs())
		noErrors(t, cfg, diags)
		assertNoCanary(t, "the rendered warnings", renderDiags(cfg, diags))
		if len(diags) != 0 {
			t.Errorf("unexpected warnings:\n%s", diagsText(diags))
		}

		srv := cfg.Destinations["postgres.x"]
		if srv == nil || srv.SSHTunnel == nil {
			t.Fatalf("destination postgres.x not decoded: %+v", srv)
		}
		// The values are there for the driver...
		eq(t, "Password.Reveal()", srv.Password.Reveal(), "canary-var-4242")
		eq(t, "PrivateKey.Reveal()", srv.SSHTunnel.PrivateKey.Reveal(), "canary-secret-123")
		eq(t, "PrivateKeyPassphrase.Reveal()", srv.SSHTunnel.PrivateKeyPassphrase.Reveal(), "canary-file-6363")
		eq(t, "source password", cfg.Sources["postgres.y"].Server.Password.Reveal(), "canary-env-5151")
		eq(t, "Variables[secret].Sensitive", cfg.Variables["secret"].Sensitive, true)

		// ...and nowhere else.
		js, err := json.Marshal(cfg)
		if err != nil {
			t.Errorf("json.Marshal(cfg): %v", err)
		}
		assertNoCanary(t, "json.Marshal(cfg)", string(js))
		values := []any{srv, *srv, srv.SSHTunnel, *srv.SSHTunnel, cfg.Sources["postgres.y"], cfg.Syncs[0], cfg.Variables["secret"], cfg}
		for _, v := range values {
			assertNoCanary(t, fmt.Sprintf("fmt %%v %%+v %%#v of %T", v), fmt.Sprintf("%v %+v %#v", v, v, v))
			js, err := json.Marshal(v)
			if err != nil {
				t.Errorf("json.Marshal(%T): %v", v, err)
			}
			assertNoCanary(t, "json.Marshal", string(js))
		}
		// A verb that does not suit a field (%s on a struct with pointer
		// fields, %d on one with strings) makes fmt print that field's value
		// "%!s(*T=&{...})" with every method disabled, Format included: the
		// plaintext inside a Secret must not be reachable that way either.
		t.Run("bad verbs", func(t *testing.T) {
			for _, v := range values {
				for _, verb := range []string{"%s", "%q", "%d", "%x", "%t", "%e"} {
					assertNoCanary(t, fmt.Sprintf("fmt %s of %T", verb, v), fmt.Sprintf(verb, v))
				}
			}
		})
		var logBuf bytes.Buffer
		slog.New(slog.NewJSONHandler(&logBuf, nil)).Info("x", "server", srv, "tunnel", srv.SSHTunnel)
		slog.New(slog.NewTextHandler(&logBuf, nil)).Info("x", "server", srv, "password", srv.Password)
		assertNoCanary(t, "slog", logBuf.String())
		if cfg.Digest == "" || strings.Contains(cfg.Digest, "canary") {
			t.Errorf("Digest = %q", cfg.Digest)
		}
	})

	t.Run("digest ignores secret values", func(t *testing.T) {
		files := map[string]string{"main.hcl": sensitiveDecls + sensitiveServer("  password = var.secret"), "secret.vars.hcl": secretVarFile}
		cfg1, d1 := loadFiles(t, files, sensitiveInputs())
		noErrors(t, cfg1, d1)
		in := sensitiveInputs()
		in.Vars[1] = "secret=another-value"
		cfg2, d2 := loadFiles(t, files, in)
		noErrors(t, cfg2, d2)
		if cfg1.Digest != cfg2.Digest {
			t.Errorf("rotating a secret changed the digest: %s vs %s", cfg1.Digest, cfg2.Digest)
		}
	})
}

// tableSync is a valid sync apart from its table expression.
func tableSync(table string) string {
	return fmt.Sprintf(`
sync "s" {
  source      = source.csv.ok
  destination = destination.postgres.ok
  table       = %s
  behavior    = "append"
  key         = "id"
}
`, table)
}

func TestSecret(t *testing.T) {
	s := NewSecret("canary-var-4242")
	if !s.IsSet() || s.Reveal() != "canary-var-4242" {
		t.Fatalf("Reveal() = %q, IsSet() = %v", s.Reveal(), s.IsSet())
	}
	eq(t, "String()", s.String(), "(sensitive)")
	eq(t, "GoString()", s.GoString(), `hclconfig.Secret("(sensitive)")`)
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%X", "%d", "%10s", "%T"} {
		got := fmt.Sprintf(verb, s)
		assertNoCanary(t, "fmt "+verb, got)
		if verb != "%T" && !strings.Contains(got, "(sensitive)") {
			t.Errorf("fmt %s = %q, want it to say (sensitive)", verb, got)
		}
	}
	ptr := &s
	assertNoCanary(t, "fmt of *Secret", fmt.Sprintf("%v %+v %s", ptr, ptr, ptr))
	type holder struct {
		P Secret
		Q *Secret
		R []Secret
		M map[string]Secret
	}
	h := holder{P: s, Q: &s, R: []Secret{s}, M: map[string]Secret{"k": s}}
	assertNoCanary(t, "fmt of a struct", fmt.Sprintf("%v %+v %#v", h, h, h))
	assertNoCanary(t, "fmt of a struct pointer", fmt.Sprintf("%v %+v %#v", &h, &h, &h))
	js, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	assertNoCanary(t, "json", string(js))
	eq(t, "json", string(js), `{"P":"(sensitive)","Q":"(sensitive)","R":["(sensitive)"],"M":{"k":"(sensitive)"}}`)
	b, err := s.MarshalJSON()
	eq(t, "MarshalJSON()", string(b), `"(sensitive)"`)
	eq(t, "MarshalJSON() error", err, error(nil))
	b, err = s.MarshalText()
	eq(t, "MarshalText()", string(b), "(sensitive)")
	eq(t, "MarshalText() error", err, error(nil))

	var empty Secret
	eq(t, "empty IsSet()", empty.IsSet(), false)
	eq(t, "empty String()", empty.String(), "")
	eq(t, "empty Reveal()", empty.Reveal(), "")

	// The diagnostics type itself: a Secret inside an error message.
	d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "x", Detail: fmt.Sprintf("password %v", s)}
	assertNoCanary(t, "diagnostic", renderDiags(nil, hcl.Diagnostics{d}))
}

// TestEnvNumbersAndBoolsAreNoSecrets: a port or a bool read with env() is
// not kept as a secret (masking "5432" or "true" everywhere would corrupt
// counts and JSON); a password from env() is, and so is a number given by
// a variable declared sensitive.
func TestEnvNumbersAndBoolsAreNoSecrets(t *testing.T) {
	cfg, diags := loadFiles(t, map[string]string{"main.hcl": `
variable "pin" {
  type      = number
  sensitive = true
  default   = 987654
}
destination "postgres" "crm" {
  host            = "db"
  port            = tonumber(env("RF_PORT"))
  database        = "crm"
  user            = "rowform"
  password        = env("RF_PASSWORD")
  history         = tobool(env("RF_HISTORY"))
  max_connections = var.pin > 0 ? 2 : 1
}
`}, Inputs{Environ: []string{"RF_PORT=6543", "RF_PASSWORD=env-password-77", "RF_HISTORY=false"}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	secrets := map[string]bool{}
	for _, s := range cfg.Secrets() {
		secrets[s] = true
	}
	for _, s := range []string{"6543", "false"} {
		if secrets[s] {
			t.Errorf("%q, a number or bool from env(), is a secret", s)
		}
	}
	for _, s := range []string{"env-password-77", "987654"} {
		if !secrets[s] {
			t.Errorf("%q is not a secret: %q", s, cfg.Secrets())
		}
	}
	if d := cfg.Destinations["postgres.crm"]; d == nil || d.Port != 6543 || d.HistoryEnabled() {
		t.Errorf("destination: %+v", d)
	}
}

// TestDerivedSecretsAreSecrets: every value a function computes from a
// secret is a secret on its own, since a server can echo that piece
// alone (invalid input syntax for type integer: "HUNTER2SECRET"); so is
// each part of a table name that is a secret; a part the secret does not
// reach (public) is not, nor is one word of a passphrase.
func TestDerivedSecretsAreSecrets(t *testing.T) {
	cfg, diags := loadFiles(t, map[string]string{"main.hcl": `
variable "pw" {
  type      = string
  sensitive = true
  default   = "Hunter2Secret"
}
variable "phrase" {
  type      = string
  sensitive = true
  default   = "correct horse battery staple"
}
variable "tbl" {
  type      = string
  sensitive = true
  default   = "Acme9.Ledger7"
}
variable "name" {
  type      = string
  sensitive = true
  default   = "ledger2024"
}
variable "url" {
  type      = string
  sensitive = true
  default   = "postgres://appuser:UrlPass99@db.internal/crm"
}
variable "schema" {
  type      = string
  sensitive = true
  default   = null
}
locals {
  # Pieces on their way to a password, and a fallback that is no secret.
  url_password = split("@", split(":", var.url)[2])[0]
  schema       = coalesce(var.schema, "sales")
  pieces = [upper(var.pw), substr(var.pw, 0, 8), replace(var.pw, "2", "-"), trimprefix(var.pw, "H"), join(",", split("2", var.pw))]
}
destination "postgres" "d" {
  host     = "h"
  database = "d"
  user     = "u"
}
source "postgres" "s" {
  host     = "h"
  database = "d"
  user     = "u"
}
sync "a" {
  source      = source.postgres.s
  query       = "SELECT 1 AS id WHERE '${join("|", local.pieces)}' <> '${lower(env("RF_TOKEN"))}' AND ${var.phrase}"
  destination = destination.postgres.d
  table       = var.tbl
  key         = "id"
  behavior    = "update_or_create"
}
sync "b" {
  source      = source.postgres.s
  query       = "SELECT 1 AS id"
  destination = destination.postgres.d
  table       = "public.${var.name}"
  key         = "id"
  behavior    = "update_or_create"
}
`}, Inputs{Environ: []string{"RF_TOKEN=TokEn-From-Env"}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	secrets := map[string]bool{}
	for _, s := range cfg.Secrets() {
		secrets[s] = true
	}
	for _, s := range []string{"HUNTER2SECRET", "Hunter2S", "Hunter-Secret", "unter2Secret", "Hunter,Secret", "token-from-env",
		"Acme9", "Ledger7", "ledger2024"} {
		if !secrets[s] {
			t.Errorf("%q is not a secret", s)
		}
	}
	// A passphrase's words are not secrets on their own: that would mask
	// "passphrase" or "horse" in every message (a syntax error that
	// quotes one word of a sensitive query is masked where it is made).
	if secrets["horse"] {
		t.Error(`"horse", one word of a passphrase, is a secret`)
	}
	for _, s := range []string{"postgres", "sales", "//appuser"} {
		if secrets[s] {
			t.Errorf("%q, a piece no output is about to show or a literal fallback, is a secret", s)
		}
	}
	if secrets["public"] {
		t.Error(`"public", the schema written around a secret table name, is a secret`)
	}
}
