package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rowform/rowform/internal/redact"
	"github.com/rowform/rowform/internal/synctest"
)

// TestSecretWithSpecialCharactersNeverAppears: an env() value with characters
// that JSON, Markdown and the terminal escape, used in a query, comes back in
// the server's error; it is masked in every output format and the plan file.
func TestSecretWithSpecialCharactersNeverAppears(t *testing.T) {
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id bigint, name text)`)
	e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name text)`)
	secret := "Qzab<b>&\"\\\t|*_x`[]~#Jkcd"
	e.WriteFile("main.hcl", e.Servers()+`
sync "items" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM items WHERE id = '${env("Q_SECRET")}'::bigint"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "mirror"
  key         = ["id"]
}
`)
	environ := append(append([]string{}, e.Environ...), "Q_SECRET="+secret)
	check := func(what, out string) {
		t.Helper()
		low := strings.ToLower(out)
		if strings.Contains(low, "qzab") || strings.Contains(low, "jkcd") {
			t.Errorf("%s shows the secret:\n%s", what, out)
		}
	}
	for _, args := range [][]string{
		{"plan"}, {"plan", "-json"}, {"plan", "-format=markdown"}, {"plan", "-out=p.plan"},
		{"apply", "-auto-approve"}, {"apply", "-json", "-auto-approve"},
	} {
		r := runCLIWith(t, environ, "", append([]string{"-chdir=" + e.Dir}, args...)...)
		r.expect(t, exitError)
		check(strings.Join(args, " "), r.stdout+r.stderr)
		if !strings.Contains(r.stdout+r.stderr, redact.Mask) {
			t.Errorf("%s: the server's message with the secret is not shown masked:\n%s%s", strings.Join(args, " "), r.stdout, r.stderr)
		}
	}
	b, err := os.ReadFile(filepath.Join(e.Dir, "p.plan"))
	if err != nil {
		t.Fatal(err)
	}
	check("the plan file", string(b))
	for _, args := range [][]string{{"show", "p.plan"}, {"show", "-json", "p.plan"}, {"show", "-format=markdown", "p.plan"}} {
		r := runCLIWith(t, environ, "", append([]string{"-chdir=" + e.Dir}, args...)...)
		check(strings.Join(args, " "), r.stdout+r.stderr)
	}
}

// TestLiteralSecretNotInSnippet: the snippet of a diagnostic about the line
// of a literal password or a sensitive variable's default masks the
// literal, in validate, plan and fmt (whose file does not even parse).
func TestLiteralSecretNotInSnippet(t *testing.T) {
	dir := t.TempDir()
	write := func(src string) {
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`
variable "pw" {
  type      = string
  sensitive = true
  default   = "Qzab-Default" + 1
}

destination "postgres" "crm" {
  host     = "db.internal"
  database = "crm"
  user     = "rowform"
  password = "Qzab-Literal" + 1
}
`)
	for _, args := range [][]string{{"validate"}, {"plan"}} {
		r := runCLI(t, append([]string{"-chdir=" + dir}, args...)...)
		if r.code == exitOK || strings.Contains(r.stdout+r.stderr, "Qzab") || (args[0] == "validate" && !strings.Contains(r.stderr, `password = "`+redact.Mask+`" + 1`)) {
			t.Errorf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
	write(`
destination "postgres" "crm" {
  password = "Qzab-Literal" +
}
`)
	for _, args := range [][]string{{"validate"}, {"fmt"}} {
		r := runCLI(t, append([]string{"-chdir=" + dir}, args...)...)
		if r.code == exitOK || strings.Contains(r.stdout+r.stderr, "Qzab") || !strings.Contains(r.stderr, redact.Mask) {
			t.Errorf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

// TestUnquotedSecretNotShown: a password or a sensitive variable's value
// written without its quotes (password = hunter2) is an error that names
// it, and a diff of the variables file shows its line: both mask it.
func TestUnquotedSecretNotShown(t *testing.T) {
	dir := t.TempDir()
	for name, src := range map[string]string{
		"main.hcl": `
variable "pw" {
  type      = string
  sensitive = true
}

destination "postgres" "crm" {
  host     = "db.internal"
  database = "crm"
  user     = "rowform"
  password = Qzab-Unquoted1
}
`,
		"prod.vars.hcl": "pw =   Qzab-Unquoted2\n",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	for _, args := range [][]string{{"validate"}, {"plan", "-var-file=prod.vars.hcl"}, {"fmt", "-check", "-diff"}} {
		r := runCLI(t, append([]string{"-chdir=" + dir}, args...)...)
		if r.code == exitOK || strings.Contains(r.stdout+r.stderr, "Qzab") || !strings.Contains(r.stdout+r.stderr, redact.Mask) {
			t.Errorf("%v: exit %d\n%s%s", args, r.code, r.stdout, r.stderr)
		}
	}
}

// TestMaskedHeredocKeepsItsLines: a diagnostic whose snippet shows a
// heredoc secret masks each of its lines and keeps them apart, numbered;
// the mask of the whole secret ran them together on one line.
func TestMaskedHeredocKeepsItsLines(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(`destination "postgres" "crm" {
  host     = "db.internal"
  database = "crm"
  user     = "u"
  password = env("PW")
  ssh_tunnel {
    host        = "bastion"
    user        = "t"
    host_key    = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
    private_key = 5 + <<EOT
-----BEGIN KEY-----
Heredoc-Secret-Line-1
Heredoc-Secret-Line-2
-----END KEY-----
EOT
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "-chdir="+dir, "validate", "-no-color")
	r.expect(t, exitError)
	want := "  10:     private_key = 5 + <<EOT\n  11: (sensitive)\n  12: (sensitive)\n  13: (sensitive)\n  14: (sensitive)\n  15: EOT\n"
	if !strings.Contains(r.stderr, want) || strings.Contains(r.outputs(), "Heredoc-Secret") {
		t.Errorf("the snippet of the heredoc, want\n%s\ngot:\n%s", want, r.stderr)
	}
}
