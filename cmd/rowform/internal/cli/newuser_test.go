package cli

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rowform/rowform/internal/synctest"
)

// newUserConfig writes main.hcl (a CSV source into a destination whose
// password comes from env("CRM_PW")) and users.csv into a new directory,
// and returns it. Nothing in it needs a server until a plan connects.
func newUserConfig(t *testing.T, syncExtra string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"main.hcl": `destination "postgres" "crm" {
  host     = "127.0.0.1"
  database = "crm"
  user     = "rowform"
  password = env("CRM_PW")
}

source "csv" "users" {
  path = "users.csv"
}

sync "users" {
  source      = source.csv.users
  destination = destination.postgres.crm
  table       = "users"
  behavior    = "update_or_create"
  key         = ["id"]
` + syncExtra + `}
`,
		"users.csv": "id,email\n1,ada@example.com\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestUnsetEnvNamesTheVariable: the name passed to env() in a password is
// not a secret, so the error for an unset variable names it, in the text
// and in the JSON, and the snippet shows the call as written.
func TestUnsetEnvNamesTheVariable(t *testing.T) {
	dir := newUserConfig(t, "")
	for _, args := range [][]string{{"plan"}, {"plan", "-json"}} {
		r := runCLI(t, append([]string{"-chdir=" + dir}, args...)...)
		r.expect(t, exitError)
		out := r.stdout + r.stderr
		if strings.Contains(out, "(sensitive)") {
			t.Errorf("%s masks the variable's name:\n%s", strings.Join(args, " "), out)
		}
		want := `environment variable "CRM_PW" is not set`
		if args[len(args)-1] == "-json" {
			want = `environment variable \"CRM_PW\" is not set`
		} else if !strings.Contains(out, `password = env("CRM_PW")`) {
			t.Errorf("plan's snippet does not show the env call:\n%s", out)
		}
		if !strings.Contains(out, want) {
			t.Errorf("%s does not say %s:\n%s", strings.Join(args, " "), want, out)
		}
	}
}

// TestFindingsNewUsersMeet: the findings for mistakes a new configuration
// makes name the problem and offer only fixes PostgreSQL accepts.
//   - A misspelt sensitive column is an error (the column it meant would
//     be shown), with the written columns and a suggestion.
//   - A key column that neither the source nor the table has is reported
//     as missing, with no ADD CONSTRAINT on a column that does not exist.
//   - A semicolon-separated CSV read with the default comma says to set
//     delimiter, and offers no DROP NOT NULL on the primary key's column.
//   - A mapping to a column the table lacks lists the table's columns and
//     suggests the nearest, without a stray leading space.
//   - A table that does not exist suggests the nearest that does.
//   - Duplicate keys in a CSV file are explained in terms of the file.
func TestFindingsNewUsersMeet(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE users (id bigint PRIMARY KEY, email text, name text)`)
	e.Dst(`INSERT INTO users VALUES (1, 'ada@example.com', 'Ada')`)
	e.WriteFile("users.csv", "id,email,name\n1,ada.new@example.com,Ada\n")
	e.WriteFile("semi.csv", "id;email;name\n1;ada@example.com;Ada\n")
	e.WriteFile("dups.csv", "id,email,name\n1,a@example.com,A\n1,b@example.com,B\n")
	syncOn := func(table, name, source, extra string) string {
		return `
sync "` + name + `" {
  source      = ` + source + `
  destination = destination.postgres.dst
  table       = "` + table + `"
  behavior    = "update_or_create"
` + extra + `}
`
	}
	sync := func(name, source, extra string) string { return syncOn("users", name, source, extra) }
	e.WriteFile("main.hcl", e.Servers()+`
source "csv" "users" {
  path = "users.csv"
}

source "csv" "semi" {
  path = "semi.csv"
}

source "csv" "dups" {
  path = "dups.csv"
}
`+sync("typo", "source.csv.users", `  key = ["id"]
  sensitive_columns = ["emial"]
`)+sync("nokey", "source.csv.users", `  key = ["uid"]
`)+sync("semi", "source.csv.semi", `  key = ["id"]
`)+sync("semi_mapped", "source.csv.semi", `  key = ["id"]
  mapping = { id = "id", email = "email" }
`)+sync("mapped", "source.csv.users", `  key = ["id"]
  mapping = { id = "id", mail = "email" }
`)+syncOn("user", "table_typo", "source.csv.users", `  key = ["id"]
`)+sync("dups", "source.csv.dups", `  key = ["id"]
`))
	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-json")
	r.expect(t, exitError)
	var p struct {
		Syncs []struct {
			Name     string `json:"name"`
			Findings []struct {
				Code    string `json:"code"`
				Summary string `json:"summary"`
				Detail  string `json:"detail"`
				Fix     string `json:"fix"`
			} `json:"findings"`
		} `json:"syncs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	for _, s := range p.Syncs {
		var all strings.Builder
		for _, f := range s.Findings {
			all.WriteString(f.Code + " | " + f.Summary + " | " + f.Detail + " | " + f.Fix + "\n")
			if f.Detail != strings.TrimSpace(f.Detail) {
				t.Errorf("%s: detail with stray spaces: %q", s.Name, f.Detail)
			}
		}
		got := all.String()
		has := func(want ...string) {
			t.Helper()
			for _, w := range want {
				if !strings.Contains(got, w) {
					t.Errorf("%s: findings do not say %q:\n%s", s.Name, w, got)
				}
			}
		}
		lacks := func(bad ...string) {
			t.Helper()
			for _, b := range bad {
				if strings.Contains(got, b) {
					t.Errorf("%s: findings say %q:\n%s", s.Name, b, got)
				}
			}
		}
		switch s.Name {
		case "typo":
			has(`missing_column | sensitive_columns names "emial", which is not a column of public.users`, `Did you mean "email"?`)
		case "nokey":
			has(`missing_column | public.users has no column "uid" for the key`, "id, email, name")
			lacks("ADD CONSTRAINT")
		case "semi":
			has(`set delimiter = ";" in csv.semi`, `It is part of the primary key`)
			lacks("DROP NOT NULL")
		case "semi_mapped":
			has(`the source has no column "email" (mapped to "email")`, `set delimiter = ";" in csv.semi`)
		case "mapped":
			has(`public.users has no column "mail"`, `The columns of public.users are: id, email, name. Did you mean "email"?`)
		case "dups":
			has(`duplicate_source_key`, `remove or merge the rows of the CSV file that repeat a key (id)`)
			lacks("DISTINCT ON")
		case "table_typo":
			has(`missing_table | the table public.user does not exist`, `Did you mean "public.users"?`, "CREATE TABLE")
		default:
			t.Errorf("unexpected sync %q", s.Name)
		}
	}
	if len(p.Syncs) != 7 {
		t.Errorf("%d syncs in the plan, want 7:\n%s", len(p.Syncs), r.stdout)
	}
}

// TestBadVariableInputsAreNotCalledInvalidConfiguration: a malformed -var
// or an unreadable -var-file is reported as what it is, and the closing
// line does not call the configuration invalid.
func TestBadVariableInputsAreNotCalledInvalidConfiguration(t *testing.T) {
	dir := newUserConfig(t, "")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"plan", "-var", "foo"}, "Invalid -var option"},
		{[]string{"plan", "-var-file=nope.vars.hcl"}, "Cannot read variables file"},
	} {
		r := runCLIWith(t, []string{"CRM_PW=pw"}, "", append([]string{"-chdir=" + dir}, c.args...)...)
		r.expect(t, exitError)
		if !strings.Contains(r.stderr, c.want) || !strings.Contains(r.stderr, "the configuration could not be loaded: 1 error.") ||
			strings.Contains(r.stderr, "is invalid") {
			t.Errorf("%s: stderr:\n%s", strings.Join(c.args, " "), r.stderr)
		}
	}
}

// TestGuardCountsRejectedDeletes: a mirror whose deletes a foreign key
// refuses, and that would cross its delete guard once they are fixed,
// shows both in one plan (on_reject = "fail"); with on_reject = "skip" the
// refused deletes are not made, and the guard does not count them.
func TestGuardCountsRejectedDeletes(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE accounts (id bigint PRIMARY KEY, name text)`)
	e.Src(`INSERT INTO accounts VALUES (1, 'a')`)
	e.Dst(`CREATE TABLE accounts (id bigint PRIMARY KEY, name text)`)
	e.Dst(`INSERT INTO accounts SELECT g, 'a' FROM generate_series(1, 4) g`)
	e.Dst(`CREATE TABLE usage (account_id bigint REFERENCES accounts, n int)`)
	e.Dst(`INSERT INTO usage SELECT g, 1 FROM generate_series(2, 4) g`)
	plan := func(onReject string) map[string]bool {
		t.Helper()
		e.WriteFile("main.hcl", e.Servers()+`
sync "accounts" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM accounts"
  destination = destination.postgres.dst
  table       = "accounts"
  behavior    = "mirror"
  key         = ["id"]
  on_reject   = "`+onReject+`"
  guard {
    max_delete_percent = 20
  }
}
`)
		r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-json")
		var p struct {
			Syncs []struct {
				Findings []struct {
					Code string `json:"code"`
				} `json:"findings"`
			} `json:"syncs"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || len(p.Syncs) != 1 {
			t.Fatalf("%v\n%s%s", err, r.stdout, r.stderr)
		}
		codes := map[string]bool{}
		for _, f := range p.Syncs[0].Findings {
			codes[f.Code] = true
		}
		return codes
	}
	if c := plan("fail"); !c["rejected_rows"] || !c["guard_exceeded"] {
		t.Errorf(`on_reject = "fail": findings %v, want rejected_rows and guard_exceeded`, c)
	}
	if c := plan("skip"); !c["rejected_rows"] || c["guard_exceeded"] {
		t.Errorf(`on_reject = "skip": findings %v, want rejected_rows and no guard_exceeded`, c)
	}
}

// TestDuckDBListIntoArrayColumnHint: a DuckDB list written into a
// PostgreSQL array column is refused (it arrives as JSON), and the finding
// says how to send it as an array literal.
func TestDuckDBListIntoArrayColumnHint(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE t (id bigint PRIMARY KEY, arr int[])`)
	config := e.Servers() + `
source "duckdb" "mem" {}

sync "t" {
  source      = source.duckdb.mem
  query       = "SELECT 1 AS id, [1, 2] AS arr"
  destination = destination.postgres.dst
  table       = "t"
  behavior    = "update_or_create"
  key         = ["id"]
}
`
	e.WriteFile("main.hcl", config)
	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-no-color")
	r.expect(t, exitError)
	for _, want := range []string{`column "arr": malformed array literal`, "array_to_string(the_list, ',')"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan does not say %q:\n%s", want, r.stdout)
		}
	}
	// The query the hint suggests plans cleanly.
	e.WriteFile("main.hcl", strings.Replace(config, "[1, 2] AS arr", `'{' || array_to_string([1, 2], ',') || '}' AS arr`, 1))
	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-no-color")
	r.expect(t, exitOK)
	if !strings.Contains(r.stdout, "1 to insert") {
		t.Errorf("plan of the suggested query:\n%s", r.stdout)
	}
}
