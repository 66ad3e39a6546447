package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestSavedPlanKeyConstraintGone: a saved plan is refused as stale when,
// by the time it is applied, the key's unique constraint is gone (apply's
// own check finds missing_unique_constraint); it used to apply anyway.
func TestSavedPlanKeyConstraintGone(t *testing.T) {
	t.Parallel()
	e := applyEnv(t)
	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-out=p.plan")
	r.expect(t, exitOK)
	e.Dst(`ALTER TABLE items DROP CONSTRAINT items_pkey`)
	before := e.DstDigest("items")
	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "p.plan")
	if r.code != exitError || !strings.Contains(r.stdout+r.stderr, "plan is stale") || !strings.Contains(r.stdout+r.stderr, "missing_unique_constraint") {
		t.Errorf("apply of the saved plan: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := e.DstDigest("items"); got != before {
		t.Error("the table changed")
	}
}

// TestSavedPlanVariableFromEnvironment: at apply PLANFILE, a variable
// whose ROWFORM_VAR_ value (or -var-file value) differs from the one the
// plan was made with is refused as stale, as a different -var is; it used
// to be ignored without a word. The same value applies.
func TestSavedPlanVariableFromEnvironment(t *testing.T) {
	t.Parallel()
	e := applyEnv(t)
	e.WriteFile("main.hcl", e.Servers()+`
variable "min" {
  type = number
}

sync "items" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM items WHERE id > ${var.min}"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "update_or_create"
  key         = ["id"]
}
`)
	e.WriteFile("other.vars.hcl", "min = 15\n")
	env := func(v string) []string { return append(append([]string{}, e.Environ...), "ROWFORM_VAR_min="+v) }
	r := runCLIWith(t, env("0"), "", "-chdir="+e.Dir, "plan", "-out=p.plan")
	r.expect(t, exitOK)
	before := e.DstDigest("items")
	for _, c := range []struct {
		environ []string
		args    []string
	}{
		{env("10"), nil},
		{e.Environ, []string{"-var-file=other.vars.hcl"}},
		{env("0"), []string{"-var", "min=10"}},
	} {
		args := append(append([]string{"-chdir=" + e.Dir, "apply"}, c.args...), "p.plan")
		r := runCLIWith(t, c.environ, "", args...)
		// Each way of giving another value is named, -var included.
		if r.code != exitError || !strings.Contains(r.stdout+r.stderr, "plan is stale: the plan was made with other values of the variables min (from the ") {
			t.Errorf("%v with %v: exit %d\n%s%s", c.args, c.environ[len(c.environ)-1], r.code, r.stdout, r.stderr)
		}
		if got := e.DstDigest("items"); got != before {
			t.Fatalf("%v: the table changed", c.args)
		}
	}
	// A plan applied in another configuration, which does not declare its
	// variables, is said to be of another configuration — not that a -var
	// no one gave is undeclared.
	other := t.TempDir()
	if err := os.WriteFile(filepath.Join(other, "main.hcl"), []byte(e.Servers()+applyItemsSync), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runCLIWith(t, e.Environ, "", "-chdir="+other, "apply", filepath.Join(e.Dir, "p.plan"))
	if r.code != exitError || !strings.Contains(r.stderr, `plan is stale: the plan was made with the variables "min", which this configuration does not declare`) || strings.Contains(r.stderr, "-var") {
		t.Errorf("a plan of another configuration: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	// A configuration that does not load is said to, not taken for another.
	broken := t.TempDir()
	if err := os.WriteFile(filepath.Join(broken, "main.hcl"), []byte("variable \"min\" {\n  type = number\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runCLIWith(t, e.Environ, "", "-chdir="+broken, "apply", filepath.Join(e.Dir, "p.plan"))
	if r.code != exitError || !strings.Contains(r.stderr, "the configuration could not be loaded") || strings.Contains(r.stderr, "another configuration") {
		t.Errorf("a configuration that does not load: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	r = runCLIWith(t, env("0"), "", "-chdir="+e.Dir, "apply", "p.plan")
	r.expect(t, exitOK)
	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-var", "min=0", "-detailed-exitcode")
	r.expect(t, exitOK)
}

// TestSavedPlanVariableFromDefault: a plan made with a variable's default,
// applied with a value for it, is refused as stale naming the variable
// (the plan saves only given values, so the configuration's digest is
// what differs); applied without it, it applies.
func TestSavedPlanVariableFromDefault(t *testing.T) {
	t.Parallel()
	e := applyEnv(t)
	e.WriteFile("main.hcl", e.Servers()+`
variable "min" {
  type    = number
  default = 0
}

sync "items" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM items WHERE id > ${var.min}"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "update_or_create"
  key         = ["id"]
}
`)
	runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-out=p.plan").expect(t, exitOK)
	before := e.DstDigest("items")
	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-var", "min=10", "p.plan")
	if r.code != exitError || !strings.Contains(r.stderr, "plan is stale: the plan was made without a value for the variables min (from the -var") || !strings.Contains(r.stderr, "used their defaults") {
		t.Errorf("apply with a value for a defaulted variable: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := e.DstDigest("items"); got != before {
		t.Fatal("the table changed")
	}
	runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "p.plan").expect(t, exitOK)
}

// TestSavedPlanOfSeveralSyncsIsAllOrNothing: apply FILE of two syncs,
// after a row of the second sync's table changed, writes neither: the
// stale one fails, the other is skipped and its table is as it was.
func TestSavedPlanOfSeveralSyncsIsAllOrNothing(t *testing.T) {
	t.Parallel()
	other := strings.NewReplacer(`sync "items"`, `sync "other"`, `table       = "items"`, `table       = "other"`).Replace(applyItemsSync)
	e := applyEnv(t)
	e.Dst(`CREATE TABLE other (LIKE items INCLUDING ALL)`)
	e.WriteFile("main.hcl", e.Servers()+applyItemsSync+other)
	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-out=p.plan")
	r.expect(t, exitOK)
	items := e.DstDigest("items")
	e.Dst(`INSERT INTO other (id, name) VALUES (1, 'changed since the review')`)
	others := e.DstDigest("other")

	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-json", "p.plan")
	r.expect(t, exitError)
	doc := decodeApplyJSON(t, r.stdout)
	status := map[string]string{}
	for _, s := range doc.Syncs {
		status[s.Name] = s.Status
		if s.Name == "other" && !strings.Contains(s.Error, "plan is stale") {
			t.Errorf("other's error: %q", s.Error)
		}
	}
	if status["items"] != "skipped" || status["other"] != "failed" {
		t.Errorf("apply of a partly stale plan:\n%s", r.stdout)
	}
	if e.DstDigest("items") != items || e.DstDigest("other") != others {
		t.Error("apply of a partly stale plan wrote to a table")
	}
	// The history tells of the stale sync as it does of a stale plan of one
	// sync: a failed run with why; the skipped one has no run.
	if got := e.DstQuery(`SELECT sync || ': ' || error FROM rowform.runs WHERE status = 'failed'`); len(got) != 1 || !strings.HasPrefix(got[0], "other: plan is stale") {
		t.Errorf("failed runs recorded: %q, want the one of other", got)
	}

	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-no-color", "p.plan")
	r.expect(t, exitError)
	if !strings.Contains(r.stdout+r.stderr, "plan is stale") || !strings.Contains(r.stdout+r.stderr, "applied whole or not at all") {
		t.Errorf("apply of a partly stale plan, text:\n%s%s", r.stdout, r.stderr)
	}
	if e.DstDigest("items") != items {
		t.Error("the text apply wrote to items")
	}
}

// TestSavedPlanOfSeveralSyncsSourceGone: when the preflight of a plan of
// several syncs cannot run a source query, the apply writes nothing and
// says the query failed — not that the plan is stale, which it may not be;
// the other sync is skipped for it.
func TestSavedPlanOfSeveralSyncsSourceGone(t *testing.T) {
	t.Parallel()
	other := strings.NewReplacer(`sync "items"`, `sync "other"`, `table       = "items"`, `table       = "other"`, `FROM items`, `FROM other_src`).Replace(applyItemsSync)
	e := applyEnv(t)
	e.Src(`CREATE TABLE other_src AS SELECT id, name FROM items`)
	e.Dst(`CREATE TABLE other (LIKE items INCLUDING ALL)`)
	e.WriteFile("main.hcl", e.Servers()+applyItemsSync+other)
	runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-out=p.plan").expect(t, exitOK)
	items := e.DstDigest("items")
	e.Src(`ALTER TABLE other_src RENAME TO other_src_gone`)

	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-json", "p.plan")
	r.expect(t, exitError)
	for _, s := range decodeApplyJSON(t, r.stdout).Syncs {
		switch s.Name {
		case "other":
			if s.Status != "failed" || !strings.Contains(s.Error, "the source query failed") || strings.Contains(s.Error, "stale") {
				t.Errorf("other: %s: %q", s.Status, s.Error)
			}
		case "items":
			if s.Status != "skipped" || !strings.Contains(s.Error, `sync "other" could not be checked`) {
				t.Errorf("items: %s: %q", s.Status, s.Error)
			}
		}
	}
	if e.DstDigest("items") != items {
		t.Error("the apply wrote to items")
	}
}

// TestSavedPlanOfSeveralSyncsEitherStale: whichever sync of a reviewed plan
// went stale — one apply checks in the preflight, or, with one connection
// to the destination, the one it applies first and lets check itself —
// nothing is written: the stale sync fails, the other is skipped, and the
// stale one's failure is in the history.
func TestSavedPlanOfSeveralSyncsEitherStale(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ stale, conns string }{{"items", "1"}, {"other", "1"}, {"items", "2"}, {"other", "2"}} {
		stale := tc.stale
		t.Run(stale+"/max_connections="+tc.conns, func(t *testing.T) {
			t.Parallel()
			other := strings.NewReplacer(`sync "items"`, `sync "other"`, `table       = "items"`, `table       = "other"`).Replace(applyItemsSync)
			e := applyEnv(t)
			e.Dst(`CREATE TABLE other (LIKE items INCLUDING ALL)`)
			servers := strings.Replace(e.Servers(), "max_connections = 2", "max_connections = "+tc.conns, 1)
			e.WriteFile("main.hcl", servers+applyItemsSync+other)
			runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-out=p.plan").expect(t, exitOK)
			e.Dst(fmt.Sprintf(`INSERT INTO %s (id, name) VALUES (1000, 'changed since the review')`, stale))
			items, others := e.DstDigest("items"), e.DstDigest("other")

			r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-json", "p.plan")
			r.expect(t, exitError)
			for _, s := range decodeApplyJSON(t, r.stdout).Syncs {
				want, wantErr := "skipped", fmt.Sprintf("the plan of sync %q is stale, and a reviewed plan is applied whole or not at all", stale)
				if s.Name == stale {
					want, wantErr = "failed", "plan is stale"
				}
				if s.Status != want || !strings.Contains(s.Error, wantErr) {
					t.Errorf("%s: %s %q, want %s with %q", s.Name, s.Status, s.Error, want, wantErr)
				}
			}
			if e.DstDigest("items") != items || e.DstDigest("other") != others {
				t.Error("apply of a partly stale plan wrote to a table")
			}
			if got := e.DstQuery(`SELECT sync FROM rowform.runs WHERE status = 'failed'`); len(got) != 1 || got[0] != stale {
				t.Errorf("failed runs recorded for %q, want %q alone", got, stale)
			}
		})
	}
}

// TestSavedPlanWithErrorsIsRecorded: applying a plan file with errors
// records a failed run saying so, as the unattended apply of the same
// configuration does; before, only `apply -auto-approve` did.
func TestSavedPlanWithErrorsIsRecorded(t *testing.T) {
	t.Parallel()
	e := applyEnv(t)
	e.Src(`INSERT INTO items VALUES (3, 'again')`) // a repeated key: duplicate_source_key
	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-out=p.plan")
	r.expect(t, exitError)
	before := e.DstDigest("items")
	runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "p.plan").expect(t, exitError)
	if e.DstDigest("items") != before {
		t.Error("the refused apply wrote to items")
	}
	runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-auto-approve").expect(t, exitError)
	got := e.DstQuery(`SELECT sync || ': ' || error FROM rowform.runs WHERE status = 'failed' ORDER BY id`)
	if len(got) != 2 || got[0] != got[1] || !strings.HasPrefix(got[0], "items: the plan of this sync has errors (duplicate_source_key") {
		t.Errorf("failed runs:\n%s", strings.Join(got, "\n"))
	}
}

// TestSavedPlanEditedSyncIsRefused: a plan file edited to name another
// table, behavior or key than the configuration's is refused before
// anything is written. Before, apply wrote the configuration's table while
// the plan it printed, and had the reviewer approve, named another.
func TestSavedPlanEditedSyncIsRefused(t *testing.T) {
	t.Parallel()
	e := applyEnv(t)
	runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-out=p.plan").expect(t, exitOK)
	plan, err := os.ReadFile(filepath.Join(e.Dir, "p.plan"))
	if err != nil {
		t.Fatal(err)
	}
	before := e.DstDigest("items")
	for _, edit := range []struct{ from, to, says string }{ // from: a regexp
		{`"table": "public.items"`, `"table": "public.audit"`, `its table is "public.audit", where the configuration's is "public.items"`},
		{`"behavior": "mirror"`, `"behavior": "append"`, `its behavior is "append"`},
		{`"key": \[\s*"id"\s*\]`, `"key": ["name"]`, `its key is (name), where the configuration's is (id)`},
	} {
		re := regexp.MustCompile(edit.from)
		edited := re.ReplaceAllLiteralString(string(plan), edit.to)
		if edited == string(plan) {
			t.Fatalf("the plan file has no %s:\n%s", edit.from, plan)
		}
		e.WriteFile("edited.plan", edited)
		r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "edited.plan")
		r.expect(t, exitError)
		if !strings.Contains(r.stderr, "edited.plan is not a plan rowform wrote: sync \"items\": "+edit.says) {
			t.Errorf("apply of a plan with %s: %s", edit.to, r.stderr)
		}
	}
	if e.DstDigest("items") != before {
		t.Error("an edited plan wrote to items")
	}
	runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "p.plan").expect(t, exitOK)
}

// TestSavedPlanAppliesFromACopy: a saved plan of a configuration whose
// sources name files in its directory (a DuckDB database path, a dbt
// project, a csv file) applies from a copy of the directory, another
// checkout of the same configuration: the paths are part of what the plan
// was made from relative to the directory, not as absolute paths.
func TestSavedPlanAppliesFromACopy(t *testing.T) {
	t.Parallel()
	e := duckdbEnv(t)
	e.WriteFile("tags.csv", "id,tag\n1,a\n2,b\n")
	e.Dst(`CREATE TABLE tags (id bigint PRIMARY KEY, tag text)`)
	main, err := os.ReadFile(filepath.Join(e.Dir, "main.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	e.WriteFile("main.hcl", string(main)+`
source "csv" "tags" {
  path = "tags.csv"
}

sync "tags" {
  source      = source.csv.tags
  destination = destination.postgres.dst
  table       = "tags"
  behavior    = "mirror"
  key         = "id"
}
`)
	runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-out=p.plan").expect(t, exitOK)
	checkout := filepath.Join(t.TempDir(), "checkout")
	if err := os.CopyFS(checkout, os.DirFS(e.Dir)); err != nil {
		t.Fatal(err)
	}
	r := runCLIWith(t, e.Environ, "", "-chdir="+checkout, "apply", "p.plan")
	r.expect(t, exitOK)
	if got := strings.Join(e.DstQuery(`SELECT count(*)::text FROM orders UNION ALL SELECT count(*)::text FROM tags`), " "); got != "4 2" {
		t.Errorf("orders and tags hold %s rows after the apply, want 4 2", got)
	}
}
