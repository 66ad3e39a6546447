package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rowform/rowform/internal/synctest"
)

// roughEdgesSyncs: a CSV source with a byte order mark, a CSV source with
// a row without a key, a postgres source with one too, and an append whose
// destination row differs from the source.
const roughEdgesSyncs = `
source "csv" "bom" {
  path = "bom.csv"
}

source "csv" "nullkey" {
  path = "nullkey.csv"
}

sync "bom" {
  source      = source.csv.bom
  destination = destination.postgres.dst
  table       = "bom"
  behavior    = "update_or_create"
  key         = ["id"]
}

sync "csv_nullkey" {
  source      = source.csv.nullkey
  destination = destination.postgres.dst
  table       = "nullkey"
  behavior    = "update_or_create"
  key         = ["id"]
}

sync "pg_nullkey" {
  source      = source.postgres.src
  query       = "SELECT NULL::bigint AS id, 'x' AS name"
  destination = destination.postgres.dst
  table       = "nullkey"
  behavior    = "update_or_create"
  key         = ["id"]
}

sync "append" {
  source      = source.postgres.src
  query       = "SELECT 1::bigint AS id, 'new' AS name"
  destination = destination.postgres.dst
  table       = "appended"
  behavior    = "append"
  key         = ["id"]
}
`

func roughEdgesEnv(t *testing.T) *synctest.Env {
	t.Helper()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE bom (id bigint PRIMARY KEY, name text)`)
	e.Dst(`CREATE TABLE nullkey (id bigint PRIMARY KEY, name text)`)
	e.Dst(`CREATE TABLE appended (id bigint PRIMARY KEY, name text)`)
	e.Dst(`INSERT INTO appended VALUES (1, 'old')`)
	// Excel's "CSV UTF-8" starts the file with a byte order mark.
	e.WriteFile("bom.csv", "\ufeffid,name\r\n1,Ada\r\n2,Grace\r\n")
	e.WriteFile("nullkey.csv", "id,name\n,nobody\n")
	e.WriteFile("main.hcl", e.Servers()+roughEdgesSyncs)
	return e
}

type roughPlan struct {
	Syncs []struct {
		Name     string           `json:"name"`
		Counts   map[string]int64 `json:"counts"`
		Findings []struct {
			Code   string `json:"code"`
			Detail string `json:"detail"`
		} `json:"findings"`
	} `json:"syncs"`
}

// TestRoughEdges: a CSV file that starts with a UTF-8 byte order mark reads
// its first header as "id"; the null_source_key hint of a CSV source does
// not tell the user to filter in a query it does not have (a postgres
// source's still does); a plan whose append leaves a differing row alone
// does not say "No changes" but how many rows differ; a -var-file's
// undeclared variable is shown with its line, not "(source code not
// available)".
func TestRoughEdges(t *testing.T) {
	t.Parallel()
	e := roughEdgesEnv(t)
	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-json")
	r.expect(t, exitError) // the NULL keys
	var p roughPlan
	if err := json.Unmarshal([]byte(r.stdout), &p); err != nil {
		t.Fatalf("%v\n%s", err, r.stdout)
	}
	for _, s := range p.Syncs {
		switch s.Name {
		case "bom":
			if len(s.Findings) > 0 || s.Counts["insert"] != 2 {
				t.Errorf("CSV with a byte order mark: counts %v, findings %+v", s.Counts, s.Findings)
			}
		case "csv_nullkey", "pg_nullkey":
			if len(s.Findings) != 1 || s.Findings[0].Code != "null_source_key" {
				t.Errorf("%s: findings %+v, want null_source_key", s.Name, s.Findings)
				continue
			}
			d := s.Findings[0].Detail
			if s.Name == "csv_nullkey" && (strings.Contains(d, "query") || !strings.Contains(d, "CSV file")) {
				t.Errorf("the null_source_key hint of a CSV source: %q", d)
			}
			if s.Name == "pg_nullkey" && !strings.Contains(d, "in the query") {
				t.Errorf("the null_source_key hint of a postgres source: %q", d)
			}
		}
	}

	e.WriteFile("main.hcl", e.Servers()+strings.SplitN(roughEdgesSyncs, `sync "csv_nullkey"`, 2)[0]+`
sync "append" {
  source      = source.postgres.src
  query       = "SELECT 1::bigint AS id, 'new' AS name"
  destination = destination.postgres.dst
  table       = "appended"
  behavior    = "append"
  key         = ["id"]
}
`)
	e.Dst(`INSERT INTO bom VALUES (1, 'Ada'), (2, 'Grace')`)
	e.WriteFile("extra.vars.hcl", "# for another configuration\nregion = \"eu-west-1\"\n")
	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-var-file=extra.vars.hcl")
	r.expect(t, exitOK)
	if strings.Contains(r.stdout, "No changes") || strings.Contains(r.stdout, "match the sources") {
		t.Errorf("a plan whose append leaves a differing row alone says the tables match:\n%s", r.stdout)
	}
	for _, want := range []string{
		"1 skipped: they differ, and append does not update rows",
		"Nothing to apply, but 1 row differs from the sources and is left alone by their syncs' behavior (append does not update rows).",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "on extra.vars.hcl:2:1") || !strings.Contains(r.stderr, "2: region =") ||
		strings.Contains(r.stderr, "source code not available") || strings.Contains(r.stderr, "eu-west-1") {
		t.Errorf("the warning about an undeclared variable of a -var-file:\n%s", r.stderr)
	}
}

// TestValidateWarnsMissingCSV: validate warns, and does not fail, when the
// file of a csv source does not exist (it may be written before the plan),
// with the place of its path; -json counts it as a warning.
func TestValidateWarnsMissingCSV(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "main.hcl"), `
destination "postgres" "d" {
  host     = "127.0.0.1"
  database = "db"
  user     = "u"
}

source "csv" "later" {
  path = "exports/today.csv"
}

sync "s" {
  source      = source.csv.later
  destination = destination.postgres.d
  table       = "t"
  behavior    = "append"
  key         = ["id"]
}
`)
	r := runCLI(t, "-chdir="+dir, "validate")
	r.expect(t, exitOK)
	for _, want := range []string{"Warning: CSV file not found", "main.hcl:9:10", `path = "exports/today.csv"`,
		`The file exports/today.csv of source "csv" "later" does not exist.`, "plan fails on it if it is still missing then"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, r.stderr)
		}
	}
	if !strings.HasPrefix(r.stdout, "Success! The configuration is valid.") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	r = runCLI(t, "-chdir="+dir, "validate", "-json")
	r.expect(t, exitOK)
	var v struct {
		Valid        bool `json:"valid"`
		WarningCount int  `json:"warning_count"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &v); err != nil || !v.Valid || v.WarningCount != 1 {
		t.Errorf("validate -json: %+v (%v)\n%s", v, err, r.stdout)
	}
	// With an error elsewhere the warning is there too: every problem at
	// once.
	main := readFile(t, filepath.Join(dir, "main.hcl"))
	writeFile(t, filepath.Join(dir, "main.hcl"), strings.Replace(main, `key         = ["id"]`, `key         = 5`, 1))
	r = runCLI(t, "-chdir="+dir, "validate")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "Warning: CSV file not found") || !strings.Contains(r.stderr, "Error: ") {
		t.Errorf("validate with an error elsewhere:\n%s", r.stderr)
	}
	writeFile(t, filepath.Join(dir, "main.hcl"), main)
	writeFile(t, filepath.Join(dir, "exports", "today.csv"), "id\n1\n")
	r = runCLI(t, "-chdir="+dir, "validate")
	r.expect(t, exitOK)
	if strings.Contains(r.stderr, "CSV file not found") {
		t.Errorf("a warning about a file that exists:\n%s", r.stderr)
	}
}

// TestStalePlanSaysValuesChanged: a saved plan whose rows changed without
// changing the counts is refused as stale with a message that says the
// values changed, not the same figures twice.
func TestStalePlanSaysValuesChanged(t *testing.T) {
	t.Parallel()
	e := planEnv(t)
	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-sync=changes", "-out=p.plan")
	r.expect(t, exitOK)
	e.Dst(`UPDATE items_changes SET name = 'stale, differently' WHERE id = 2`) // still 1 update
	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "p.plan")
	r.expect(t, exitError)
	for _, want := range []string{"plan is stale", "the counts are the same (2 to insert, 1 to update, 0 to delete", "values", "nothing was written"} {
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("output lacks %q:\nstdout:\n%s\nstderr:\n%s", want, r.stdout, r.stderr)
		}
	}
}

// TestApplyOptionsAfterThePlanFile: options written after the plan file
// are extra arguments; the error says that options go first, and does not
// echo them (a -var may hold a secret).
func TestApplyOptionsAfterThePlanFile(t *testing.T) {
	t.Parallel()
	r := runCLI(t, "apply", "x.plan", "-var", "password=hunter2hunter2")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "Options go before the plan file: rowform apply [options] PLANFILE") || strings.Contains(r.outputs(), "hunter2") {
		t.Errorf("apply PLANFILE -var ...:\n%s", r.outputs())
	}
}
