package planner_test

import (
	"fmt"
	"net"
	"slices"
	"strings"
	"testing"
	"unicode"

	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// syncNamed returns the plan of the named sync, failing the test when the
// plan has none.
func syncNamed(t *testing.T, p *planner.Plan, name string) *planner.SyncPlan {
	t.Helper()
	for _, sp := range p.Syncs {
		if sp.Name == name {
			return sp
		}
	}
	t.Fatalf("the plan has no sync %q", name)
	return nil
}

// codes lists the codes of a sync's findings, sorted.
func codes(sp *planner.SyncPlan) []string {
	var out []string
	for _, f := range sp.Findings {
		out = append(out, string(f.Code))
	}
	slices.Sort(out)
	return out
}

// findingWith returns the first finding of sp with code whose summary
// contains substr, or nil.
func findingWith(sp *planner.SyncPlan, code planner.Code, substr string) *planner.Finding {
	for i, f := range sp.Findings {
		if f.Code == code && strings.Contains(f.Summary, substr) {
			return &sp.Findings[i]
		}
	}
	return nil
}

// syncBlock renders a sync from a postgres query into a destination table.
// extra is added inside the block (mapping, guard, ...).
func syncBlock(name, dest, table, behavior, query, extra string) string {
	return fmt.Sprintf(`
sync %q {
  source      = source.postgres.src
  query       = %q
  destination = destination.postgres.%s
  table       = %q
  behavior    = %q
  key         = ["id"]
%s
}
`, name, query, dest, table, behavior, extra)
}

// structuralCodes are the findings about the destination's structure or
// grants: the README's Commands (its finding codes) says each carries fix SQL that removes it.
var structuralCodes = map[planner.Code]bool{
	planner.CodeMissingTable:            true,
	planner.CodeMissingUniqueConstraint: true,
	planner.CodeMissingPrivilege:        true,
	planner.CodeNotNullUnmapped:         true,
}

// checkFixes runs, one at a time, the fix SQL of every finding of p that has
// one, as superuser on the destination, plans again after each, and checks
// that the finding is gone from its sync and that the fix caused no new
// finding there.
func checkFixes(t *testing.T, e *synctest.Env, cfg *hclconfig.Config, p *planner.Plan) {
	t.Helper()
	type key struct {
		code    planner.Code
		summary string
	}
	for _, sp := range p.Syncs {
		before := map[key]bool{}
		for _, f := range sp.Findings {
			before[key{f.Code, f.Summary}] = true
		}
		for _, f := range sp.Findings {
			if f.Fix == "" {
				continue
			}
			e.Dst(f.Fix)
			again := syncNamed(t, plan(t, cfg, planner.Options{}), sp.Name)
			for _, g := range again.Findings {
				switch {
				case g.Code == f.Code && g.Summary == f.Summary:
					t.Errorf("%s: after running the fix\n  %s\nthe finding is still there: %s", sp.Name, f.Fix, f.Summary)
				case !before[key{g.Code, g.Summary}]:
					t.Errorf("%s: after running the fix\n  %s\na new finding appeared: %s %s", sp.Name, f.Fix, g.Code, g.Summary)
				}
			}
		}
	}
}

// closedPort returns a TCP port on 127.0.0.1 that nothing listens on.
func closedPort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	_ = l.Close()
	return port
}

// TestEveryFindingInOneRun plans one configuration in which every sync but
// one has exactly one problem. Every problem must be reported in the same
// run, the healthy sync's counts must still be exact, and running the fix SQL
// of each structure finding must make it go away.
func TestEveryFindingInOneRun(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE people (id bigint, name text, extra int, p point, arr int[])`)
	e.Src(`INSERT INTO people SELECT i, 'n' || i, i, point(i, i), ARRAY[i] FROM generate_series(1, 10) i`)
	e.Src(`CREATE TABLE nullkeys (id bigint, name text)`)
	e.Src(`INSERT INTO nullkeys VALUES (NULL, 'x'), (1, 'a'), (NULL, 'y')`)
	e.Src(`CREATE TABLE dups (id bigint, name text)`)
	e.Src(`INSERT INTO dups SELECT i, 'd' || i FROM generate_series(1, 7) i, generate_series(1, 2)`)
	e.Src(`INSERT INTO dups VALUES (8, 'd8')`)

	// healthy: 4 and 5 inserted, 2 updated, 1 and 3 unchanged, 11 untouched.
	e.Dst(`CREATE TABLE healthy (id bigint PRIMARY KEY, name text)`)
	e.Dst(`INSERT INTO healthy VALUES (1, 'n1'), (2, 'stale'), (3, 'n3'), (11, 'n11')`)
	e.Dst(`CREATE TABLE mc_dst (id bigint PRIMARY KEY, name text)`)
	e.Dst(`CREATE TABLE mc_src (id bigint PRIMARY KEY, name text)`)
	// Neither a partial unique index nor one on an expression identifies a row.
	e.Dst(`CREATE TABLE mu (id bigint, name text)`)
	e.Dst(`CREATE UNIQUE INDEX mu_partial ON mu (id) WHERE id > 0`)
	e.Dst(`CREATE UNIQUE INDEX mu_expr ON mu ((id + 0))`)
	e.Dst(`CREATE TABLE nn (id bigint PRIMARY KEY, name text, required text NOT NULL)`)
	e.Dst(`CREATE TABLE tm_point (id bigint PRIMARY KEY, p bigint)`)
	e.Dst(`CREATE TABLE tm_arr (id bigint PRIMARY KEY, arr bigint)`)
	e.Dst(`CREATE TABLE nk (id bigint PRIMARY KEY, name text)`)
	e.Dst(`CREATE TABLE dk (id bigint PRIMARY KEY, name text)`)
	e.Dst(`CREATE TABLE qf (id bigint PRIMARY KEY, name text)`)
	for _, g := range []string{"g_del", "g_pct", "g_upd", "g_min", "g_ok"} {
		e.Dst(fmt.Sprintf(`CREATE TABLE %s (id bigint PRIMARY KEY, name text)`, g))
		e.Dst(fmt.Sprintf(`INSERT INTO %s SELECT i, 'n' || i FROM generate_series(1, 10) i`, g))
	}
	e.Dst(`UPDATE g_upd SET name = 'stale' WHERE id <= 3`)

	const people = "SELECT id, name FROM people"
	var b strings.Builder
	fmt.Fprintf(&b, `
destination "postgres" "badpw" {
  host     = "127.0.0.1"
  port     = %d
  database = %q
  user     = %q
  password = "not-the-password"
}

destination "postgres" "closed" {
  host     = "127.0.0.1"
  port     = %d
  database = %q
  user     = %q
  password = env("DST_PASSWORD")
}
`, synctest.Destination.Port, e.DstDB, e.DstUser, closedPort(t), e.DstDB, e.DstUser)
	b.WriteString(syncBlock("healthy", "dst", "healthy", "update_or_create", people+" WHERE id <= 5", ""))
	b.WriteString(syncBlock("missing_table", "dst", "nosuch", "update_or_create", people, ""))
	b.WriteString(syncBlock("missing_column_dst", "dst", "mc_dst", "update_or_create", "SELECT id, name, extra FROM people", ""))
	b.WriteString(syncBlock("missing_column_src", "dst", "mc_src", "update_or_create", people,
		`  mapping = { id = "id", name = "nmae" }`))
	b.WriteString(syncBlock("missing_unique", "dst", "mu", "update_or_create", people, ""))
	b.WriteString(syncBlock("not_null_unmapped", "dst", "nn", "update_or_create", people, ""))
	// update_only never inserts, so the unmapped NOT NULL column is no problem.
	b.WriteString(syncBlock("not_null_update_only", "dst", "nn", "update_only", people, ""))
	b.WriteString(syncBlock("type_point", "dst", "tm_point", "update_or_create", "SELECT id, p FROM people", ""))
	b.WriteString(syncBlock("type_array", "dst", "tm_arr", "update_or_create", "SELECT id, arr FROM people", ""))
	b.WriteString(syncBlock("null_key", "dst", "nk", "update_or_create", "SELECT id, name FROM nullkeys", ""))
	b.WriteString(syncBlock("dup_key", "dst", "dk", "update_or_create", "SELECT id, name FROM dups", ""))
	b.WriteString(syncBlock("query_failed", "dst", "qf", "update_or_create", "SELECT id, name\nFROM people\nWHERE id = = 1", ""))
	b.WriteString(syncBlock("conn_badpw", "badpw", "healthy", "update_or_create", people, ""))
	b.WriteString(syncBlock("conn_closed", "closed", "healthy", "update_or_create", people, ""))
	b.WriteString(syncBlock("guard_deletes", "dst", "g_del", "mirror", people+" WHERE id <= 5",
		"  guard {\n    max_deletes = 4\n  }"))
	b.WriteString(syncBlock("guard_percent", "dst", "g_pct", "mirror", people+" WHERE id <= 8",
		"  guard {\n    max_delete_percent = 10\n  }"))
	b.WriteString(syncBlock("guard_updates", "dst", "g_upd", "update_or_create", people,
		"  guard {\n    max_updates = 2\n  }"))
	b.WriteString(syncBlock("guard_min_rows", "dst", "g_min", "update_or_create", people+" WHERE id <= 2",
		"  guard {\n    min_source_rows = 3\n  }"))
	// Every limit exactly reached and none crossed: no finding.
	b.WriteString(syncBlock("guard_at_limits", "dst", "g_ok", "mirror", people+" WHERE id <= 8",
		"  guard {\n    max_deletes = 2\n    max_delete_percent = 20\n    max_updates = 0\n    min_source_rows = 8\n  }"))
	cfg := e.Config(b.String())
	p := plan(t, cfg, planner.Options{})

	want := map[string][]string{
		"healthy":              nil,
		"missing_table":        {"missing_table"},
		"missing_column_dst":   {"missing_column"},
		"missing_column_src":   {"missing_column"},
		"missing_unique":       {"missing_unique_constraint"},
		"not_null_unmapped":    {"not_null_unmapped"},
		"not_null_update_only": nil,
		"type_point":           {"type_mismatch"},
		"type_array":           {"type_mismatch"},
		"null_key":             {"null_source_key"},
		"dup_key":              {"duplicate_source_key"},
		"query_failed":         {"source_query_failed"},
		"conn_badpw":           {"connection_failed"},
		"conn_closed":          {"connection_failed"},
		"guard_deletes":        {"guard_exceeded"},
		"guard_percent":        {"guard_exceeded"},
		"guard_updates":        {"guard_exceeded"},
		"guard_min_rows":       {"guard_exceeded"},
		"guard_at_limits":      nil,
	}
	if len(p.Syncs) != len(want) {
		t.Fatalf("the plan has %d syncs, want %d", len(p.Syncs), len(want))
	}
	for _, sp := range p.Syncs {
		if got := codes(sp); !slices.Equal(got, want[sp.Name]) {
			t.Errorf("%s: finding codes %v, want %v:\n%s", sp.Name, got, want[sp.Name], synctest.FindingsText(sp))
		}
		for _, f := range sp.Findings {
			if f.Severity != planner.SeverityError {
				t.Errorf("%s: %s has severity %q, want error", sp.Name, f.Code, f.Severity)
			}
			if structuralCodes[f.Code] && f.Fix == "" {
				t.Errorf("%s: %s carries no fix SQL", sp.Name, f.Code)
			}
		}
	}
	if p.Applyable {
		t.Error("a plan with error findings is applyable")
	}

	// The healthy sync is planned exactly, beside all the broken ones.
	healthy := syncNamed(t, p, "healthy")
	if !healthy.Diffed || healthy.Counts != (planner.Counts{Insert: 2, Update: 1, Unchanged: 2}) {
		t.Errorf("healthy: diffed=%v counts %+v, want 2 inserts, 1 update, 2 unchanged", healthy.Diffed, healthy.Counts)
	}
	if sp := syncNamed(t, p, "not_null_update_only"); !sp.Diffed || sp.Counts != (planner.Counts{Skipped: 10}) {
		t.Errorf("not_null_update_only: diffed=%v counts %+v, want 10 skipped", sp.Diffed, sp.Counts)
	}

	checkDetails(t, p, e)

	// Guards: which limit, the limit and the planned figure.
	for name, wantSummary := range map[string]string{
		"guard_deletes":  "max_deletes exceeded: 5 rows would be deleted, the limit is 4",
		"guard_percent":  "max_delete_percent exceeded: 20.00% of the table's 10 rows would be deleted (2), the limit is 10%",
		"guard_updates":  "max_updates exceeded: 3 rows would be updated, the limit is 2",
		"guard_min_rows": "min_source_rows not met: the source has 2 rows, the minimum is 3",
	} {
		sp := syncNamed(t, p, name)
		f := findingWith(sp, planner.CodeGuardExceeded, wantSummary)
		if f == nil {
			t.Errorf("%s: no guard_exceeded finding saying %q:\n%s", name, wantSummary, synctest.FindingsText(sp))
		}
		// A minimum is lowered, a maximum raised, to let the change through.
		if want := map[bool]string{true: "lower min_source_rows", false: "raise the limit"}[name == "guard_min_rows"]; f != nil && !strings.Contains(f.Detail, want) {
			t.Errorf("%s: the detail does not say to %s: %s", name, want, f.Detail)
		}
		if !sp.Diffed {
			t.Errorf("%s: a guard finding must not hide the counts (diffed=false)", name)
		}
	}
	if sp := syncNamed(t, p, "guard_at_limits"); sp.Counts != (planner.Counts{Delete: 2, Unchanged: 8}) {
		t.Errorf("guard_at_limits: counts %+v, want 2 deletes, 8 unchanged", sp.Counts)
	}

	checkFixes(t, e, cfg, p)

	// After the fixes, the fixed syncs plan cleanly.
	after := plan(t, cfg, planner.Options{})
	for _, name := range []string{"missing_table", "missing_column_dst", "missing_unique", "not_null_unmapped"} {
		sp := syncNamed(t, after, name)
		if len(sp.Findings) > 0 || !sp.Diffed {
			t.Errorf("%s: after its fix: diffed=%v\n%s", name, sp.Diffed, synctest.FindingsText(sp))
		}
	}
	if sp := syncNamed(t, after, "missing_table"); sp.Counts != (planner.Counts{Insert: 10}) {
		t.Errorf("missing_table after CREATE TABLE: counts %+v, want 10 inserts", sp.Counts)
	}
}

// checkDetails checks what the findings of TestEveryFindingInOneRun say.
func checkDetails(t *testing.T, p *planner.Plan, e *synctest.Env) {
	t.Helper()
	expect := func(sync string, code planner.Code, cond bool, what string) {
		t.Helper()
		if !cond {
			t.Errorf("%s: the %s finding %s:\n%s", sync, code, what, synctest.FindingsText(syncNamed(t, p, sync)))
		}
	}
	first := func(sync string) planner.Finding {
		sp := syncNamed(t, p, sync)
		if len(sp.Findings) == 0 {
			return planner.Finding{}
		}
		return sp.Findings[0]
	}

	f := first("missing_table")
	expect("missing_table", f.Code, strings.HasPrefix(f.Fix, `CREATE TABLE "public"."nosuch"`) &&
		strings.Contains(f.Fix, `"id" bigint`) && strings.Contains(f.Fix, `"name" text`) &&
		strings.Contains(f.Fix, `PRIMARY KEY ("id")`), "has no CREATE TABLE fix with the source's columns and the key")

	f = first("missing_column_dst")
	expect("missing_column_dst", f.Code, strings.Contains(f.Summary, `"extra"`) &&
		f.Fix == `ALTER TABLE "public"."mc_dst" ADD COLUMN "extra" integer;`, "does not name the column or add it as integer")

	f = first("missing_column_src")
	expect("missing_column_src", f.Code, strings.Contains(f.Summary, `"nmae"`) && strings.Contains(f.Detail, `Did you mean "name"?`),
		`does not name the source column "nmae" and suggest "name"`)
	expect("missing_column_src", f.Code, f.Fix == "", "carries fix SQL for the destination although the source is wrong")

	f = first("missing_unique")
	expect("missing_unique", f.Code, strings.Contains(f.Fix, `ADD CONSTRAINT`) && strings.Contains(f.Fix, `UNIQUE ("id")`),
		"does not add a unique constraint on (id)")

	f = first("not_null_unmapped")
	expect("not_null_unmapped", f.Code, strings.Contains(f.Summary, `"required"`) &&
		f.Fix == `ALTER TABLE "public"."nn" ALTER COLUMN "required" DROP NOT NULL;`, "does not name the column or drop NOT NULL")

	for _, s := range []struct{ sync, col, srcType string }{{"type_point", "p", "point"}, {"type_array", "arr", "integer[]"}} {
		tf := findingWith(syncNamed(t, p, s.sync), planner.CodeTypeMismatch, fmt.Sprintf("%q (%s)", s.col, s.srcType))
		expect(s.sync, planner.CodeTypeMismatch, tf != nil && strings.Contains(tf.Summary, "bigint") &&
			strings.Contains(tf.Detail, "cannot cast type "+s.srcType+" to bigint"),
			"does not name the column, the source type "+s.srcType+", bigint and the server's reason")
	}

	f = first("null_key")
	expect("null_key", f.Code, strings.Contains(f.Summary, "2 source rows have a NULL key") && f.Rows == 2 && strings.Join(f.Examples, " ") == "id=NULL",
		"does not count 2 NULL keys with examples")
	if sp := syncNamed(t, p, "null_key"); sp.Counts.Insert != 1 {
		t.Errorf("null_key: the valid row is not counted: %+v", sp.Counts)
	}

	f = first("dup_key")
	expect("dup_key", f.Code, strings.Contains(f.Summary, "7 keys appear more than once"), "does not count 7 duplicated keys")
	expect("dup_key", f.Code, f.Rows == 7 && strings.Join(f.Examples, ", ") == "id=1, id=2, id=3, id=4, id=5",
		"does not give exactly the first 5 example keys in examples, and 7 in rows")
	expect("dup_key", f.Code, !strings.Contains(f.Detail, "id="), "repeats the examples in its detail")

	f = first("query_failed")
	expect("query_failed", f.Code, strings.Contains(f.Summary, "syntax error") && strings.Contains(f.Detail, "At line 3, column 12"),
		"does not carry the server's message and the position line 3, column 12")

	f = first("conn_badpw")
	expect("conn_badpw", f.Code, strings.Contains(f.Summary, "password authentication failed"), "does not carry the server's message")
	expect("conn_badpw", f.Code, !strings.Contains(f.Summary+f.Detail, "not-the-password"), "shows the password")
	f = first("conn_closed")
	expect("conn_closed", f.Code, strings.Contains(f.Summary, "postgres.closed") && strings.Contains(f.Summary, "refused"),
		"does not name the server and say the connection was refused")
	expect("conn_closed", f.Code, !strings.Contains(f.Summary+f.Detail, e.DstPassword), "shows the password")
}

// TestPrivilegeFindings plans with a destination role that may only read:
// the mirror sync reports every missing privilege yet counts exactly, a
// column-level UPDATE grant is honoured (the fix names only the column that
// lacks it), and running each fix GRANT removes its finding.
func TestPrivilegeFindings(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	role := e.WithDestinationRole()
	e.Src(`CREATE TABLE people (id bigint, name text)`)
	e.Src(`INSERT INTO people SELECT i, 'n' || i FROM generate_series(1, 10) i`)
	e.Dst(fmt.Sprintf(`REVOKE TEMPORARY ON DATABASE %q FROM PUBLIC`, e.DstDB))
	e.Dst(fmt.Sprintf(`GRANT USAGE ON SCHEMA public TO %q`, role))
	e.Dst(`CREATE TABLE priv_mirror (id bigint PRIMARY KEY, name text)`)
	e.Dst(`INSERT INTO priv_mirror VALUES (1, 'n1'), (2, 'stale'), (3, 'n3'), (20, 'gone')`)
	e.Dst(fmt.Sprintf(`GRANT SELECT ON priv_mirror TO %q`, role))
	e.Dst(`CREATE TABLE priv_cols (id bigint PRIMARY KEY, a text, b text)`)
	e.Dst(fmt.Sprintf(`GRANT SELECT, INSERT, UPDATE (a) ON priv_cols TO %q`, role))
	// Every table privilege, but no USAGE on the table's schema.
	e.Dst(`CREATE SCHEMA crm`)
	e.Dst(`CREATE TABLE crm.accounts (id bigint PRIMARY KEY, name text)`)
	e.Dst(fmt.Sprintf(`GRANT ALL ON crm.accounts TO %q`, role))
	// SELECT granted; the words SELECT and USAGE in the table's name must not
	// make a missing INSERT look like a missing SELECT.
	e.Dst(`CREATE TABLE "SELECTED_USAGE" (id bigint PRIMARY KEY, name text)`)
	e.Dst(fmt.Sprintf(`GRANT SELECT ON "SELECTED_USAGE" TO %q`, role))

	cfg := e.Config(
		syncBlock("mirror", "dst", "priv_mirror", "mirror", "SELECT id, name FROM people WHERE id <= 5", "") +
			syncBlock("columns", "dst", "priv_cols", "update_or_create", "SELECT id, name FROM people WHERE id <= 3",
				`  mapping = { id = "id", a = "name", b = "name" }`) +
			syncBlock("schema", "dst", "crm.accounts", "update_or_create", "SELECT id, name FROM people", "") +
			syncBlock("upper", "dst", "SELECTED_USAGE", "append", "SELECT id, name FROM people", ""))
	p := plan(t, cfg, planner.Options{})

	mirror := syncNamed(t, p, "mirror")
	for _, priv := range []string{"INSERT", "UPDATE", "DELETE"} {
		f := findingWith(mirror, planner.CodeMissingPrivilege, fmt.Sprintf("role %q lacks %s on public.priv_mirror", role, priv))
		if f == nil {
			t.Errorf("mirror: no missing_privilege finding for %s:\n%s", priv, synctest.FindingsText(mirror))
			continue
		}
		if want := fmt.Sprintf(`GRANT %s ON "public"."priv_mirror" TO %q;`, priv, role); f.Fix != want {
			t.Errorf("mirror: fix for %s is %q, want %q", priv, f.Fix, want)
		}
	}
	if f := findingWith(mirror, planner.CodeMissingPrivilege, "lacks TEMPORARY"); f == nil {
		t.Errorf("mirror: no missing_privilege finding for TEMPORARY:\n%s", synctest.FindingsText(mirror))
	}
	if f := findingWith(mirror, planner.CodeMissingPrivilege, fmt.Sprintf("role %q cannot create the history schema", role)); f == nil {
		t.Errorf("mirror: no missing_privilege finding for the history schema:\n%s", synctest.FindingsText(mirror))
	} else if want := fmt.Sprintf(`CREATE SCHEMA IF NOT EXISTS "rowform" AUTHORIZATION %q;`, role); f.Fix != want {
		t.Errorf("mirror: the history's fix is %q, want %q", f.Fix, want)
	}
	if got := codes(mirror); len(got) != 5 {
		t.Errorf("mirror: %d findings, want exactly INSERT, UPDATE, DELETE, TEMPORARY and the history schema:\n%s", len(got), synctest.FindingsText(mirror))
	}
	if !mirror.Diffed || mirror.Counts != (planner.Counts{Insert: 2, Update: 1, Delete: 1, Unchanged: 2}) {
		t.Errorf("mirror: with SELECT the counts must still be exact: diffed=%v %+v", mirror.Diffed, mirror.Counts)
	}

	cols := syncNamed(t, p, "columns")
	f := findingWith(cols, planner.CodeMissingPrivilege, fmt.Sprintf(`role %q lacks UPDATE on column "b" of public.priv_cols`, role))
	if f == nil {
		t.Errorf("columns: no finding for UPDATE on column b alone:\n%s", synctest.FindingsText(cols))
	} else if want := fmt.Sprintf(`GRANT UPDATE ("b") ON "public"."priv_cols" TO %q;`, role); f.Fix != want {
		t.Errorf("columns: fix %q, want %q", f.Fix, want)
	}
	for _, g := range cols.Findings {
		if strings.Contains(g.Summary, "INSERT") || strings.Contains(g.Summary, `"a"`) || strings.Contains(g.Fix, `"a"`) {
			t.Errorf("columns: a granted privilege is reported missing: %s (fix %s)", g.Summary, g.Fix)
		}
	}
	if got := codes(cols); len(got) != 3 { // UPDATE (b), TEMPORARY and the history schema
		t.Errorf("columns: %d findings, want UPDATE on b, TEMPORARY and the history schema:\n%s", len(got), synctest.FindingsText(cols))
	}

	schema := syncNamed(t, p, "schema")
	if f := findingWith(schema, planner.CodeMissingPrivilege, fmt.Sprintf(`role %q lacks USAGE on schema "crm"`, role)); f == nil {
		t.Errorf("schema: no finding for USAGE on schema crm:\n%s", synctest.FindingsText(schema))
	} else if want := fmt.Sprintf(`GRANT USAGE ON SCHEMA "crm" TO %q;`, role); f.Fix != want {
		t.Errorf("schema: fix %q, want %q", f.Fix, want)
	}

	upper := syncNamed(t, p, "upper")
	if findingWith(upper, planner.CodeMissingPrivilege, "lacks INSERT") == nil {
		t.Errorf("upper: no finding for INSERT:\n%s", synctest.FindingsText(upper))
	}
	if !upper.Diffed || upper.Counts != (planner.Counts{Insert: 10}) {
		t.Errorf("upper: a missing INSERT stopped the diff of a table it may SELECT: diffed=%v counts %+v", upper.Diffed, upper.Counts)
	}

	checkFixes(t, e, cfg, p)
	after := plan(t, cfg, planner.Options{})
	if sp := syncNamed(t, after, "schema"); sp.Counts != (planner.Counts{Insert: 10}) {
		t.Errorf("schema: after the grants: counts %+v, want 10 inserts", sp.Counts)
	}
	for _, sp := range after.Syncs {
		if len(sp.Findings) > 0 {
			t.Errorf("%s: findings after every GRANT ran:\n%s", sp.Name, synctest.FindingsText(sp))
		}
	}
	if !after.Applyable {
		t.Error("the plan is not applyable after every GRANT ran")
	}
}

// TestUnusableUniqueIndexesNamed: a key whose only unique indexes cannot
// serve (partial, on an expression) is refused, and the finding names those
// indexes and why, instead of saying the table has no unique key at all.
func TestUnusableUniqueIndexesNamed(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE people (id bigint, name text)`)
	e.Src(`INSERT INTO people SELECT i, 'n' || i FROM generate_series(1, 3) i`)
	e.Dst(`CREATE TABLE partial_key (id bigint, name text)`)
	e.Dst(`CREATE UNIQUE INDEX partial_key_id ON partial_key (id) WHERE id > 0`)
	e.Dst(`CREATE UNIQUE INDEX partial_key_lower ON partial_key (lower(name))`)
	cfg := e.Config(syncBlock("partial", "dst", "partial_key", "update_or_create", "SELECT id, name FROM people", ""))
	sp := syncNamed(t, plan(t, cfg, planner.Options{}), "partial")
	f := findingWith(sp, planner.CodeMissingUniqueConstraint, "has no primary key or unique constraint on (id)")
	if f == nil {
		t.Fatalf("no missing_unique_constraint finding:\n%s", synctest.FindingsText(sp))
	}
	for _, want := range []string{"no unique key that can serve", "partial_key_id is partial: WHERE (id > 0)", "partial_key_lower is on expressions: CREATE UNIQUE INDEX partial_key_lower"} {
		if !strings.Contains(f.Detail, want) {
			t.Errorf("the detail lacks %q: %s", want, f.Detail)
		}
	}
	if strings.Contains(f.Detail, "no unique key at all") {
		t.Errorf("the detail says there is no unique key at all: %s", f.Detail)
	}
}

// TestGeneratedColumnFinding: writing a generated or GENERATED ALWAYS
// identity column is a type_mismatch error whose hint fits the sync: out
// of the mapping when it has one, out of the query when it maps every
// column by name.
func TestGeneratedColumnFinding(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE gsrc (id int, code text, g int, ident int)`)
	e.Dst(`CREATE TABLE gen (id int PRIMARY KEY, code text, ident int GENERATED ALWAYS AS IDENTITY, g int GENERATED ALWAYS AS (id * 2) STORED)`)
	cfg := e.Config(syncBlock("bymap", "dst", "gen", "update_or_create", "SELECT id, code, g FROM gsrc", `  mapping = { id = "id", code = "code", g = "g" }`) +
		syncBlock("byname", "dst", "gen", "update_or_create", "SELECT id, code, ident FROM gsrc", ""))
	p := plan(t, cfg, planner.Options{})
	for name, want := range map[string]string{
		"bymap":  "Remove it from the mapping.",
		"byname": `The sync has no mapping, so every source column is written to the column of its name: leave "ident" out of the source's query, or give the sync a mapping without it.`,
	} {
		sp := syncNamed(t, p, name)
		f := findingWith(sp, planner.CodeTypeMismatch, "cannot be written: it is a generated or GENERATED ALWAYS identity column")
		if f == nil || f.Detail != want {
			t.Errorf("%s: finding %+v, want the detail %q\n%s", name, f, want, synctest.FindingsText(sp))
		}
	}
}

// TestMissingColumnHintFitsTheSync: a source column without a column of
// its name in the table, in a sync without a mapping, is a missing_column
// whose detail says how to name it after one of the table's (AS, or a
// mapping), not only how to add it; an expression without AS, which
// PostgreSQL names "?column?", gets no fix that adds a column of that name.
// With a mapping the detail is as before.
func TestMissingColumnHintFitsTheSync(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE people (id int, full_name text)`)
	e.Dst(`CREATE TABLE people (id int PRIMARY KEY, name text)`)
	cfg := e.Config(syncBlock("byname", "dst", "people", "update_or_create", "SELECT id, full_name, id + 1 FROM people", "") +
		syncBlock("bymap", "dst", "people", "update_or_create", "SELECT id, full_name FROM people", `  mapping = { id = "id", fullname = "full_name" }`))
	p := plan(t, cfg, planner.Options{})
	byname := syncNamed(t, p, "byname")
	f := findingWith(byname, planner.CodeMissingColumn, `public.people has no column "full_name"`)
	if f == nil || !strings.Contains(f.Detail, `The sync has no mapping, so every source column is written to the column of its name: rename the column in the query (SELECT ... AS name), or give the sync a mapping`) || f.Fix == "" {
		t.Errorf("full_name: finding %+v\n%s", f, synctest.FindingsText(byname))
	}
	f = findingWith(byname, planner.CodeMissingColumn, `public.people has no column "?column?"`)
	if f == nil || !strings.Contains(f.Detail, `"?column?" is PostgreSQL's name for a column of the query that is an expression without AS`) || f.Fix != "" {
		t.Errorf("?column?: finding %+v, want the hint and no fix\n%s", f, synctest.FindingsText(byname))
	}
	bymap := syncNamed(t, p, "bymap")
	f = findingWith(bymap, planner.CodeMissingColumn, `public.people has no column "fullname"`)
	if f == nil || strings.Contains(f.Detail, "has no mapping") || f.Fix == "" {
		t.Errorf("with a mapping: finding %+v\n%s", f, synctest.FindingsText(bymap))
	}
}

// TestInvisibleCharactersInNamesShow: a CSV header with a character that
// prints as nothing (a zero-width space, a byte order mark inside the
// line, a bidirectional override) is shown escaped in a finding's detail,
// as the summary's quoted name shows it, and quoted in the U&"..." form in
// the fix: the fix showed "email" where it added a column named
// email\u200b, and once printed (the override spelled \u202e) it was no
// longer the SQL that runs. The fix runs as shown and removes the finding.
func TestInvisibleCharactersInNamesShow(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE users (id int PRIMARY KEY, email text)`)
	e.WriteFile("users.csv", "id,email\u200b,n\u202eote\ufeff\n1,a@example.com,x\n")
	e.WriteFile("keys.csv", "id\u200b,email\n1,a@example.com\n")
	csvSync := func(file, table string) *hclconfig.Config {
		return e.Config(fmt.Sprintf(`
source "csv" "users" {
  path = %q
}
sync "users" {
  source      = source.csv.users
  destination = destination.postgres.dst
  table       = %q
  behavior    = "update_or_create"
  key         = "id"
}`, file, table))
	}
	visible := func(f planner.Finding) {
		t.Helper()
		for _, s := range []string{f.Summary, f.Detail, f.Fix} {
			if i := strings.IndexFunc(s, func(r rune) bool { return r != '\n' && !unicode.IsPrint(r) }); i >= 0 {
				t.Errorf("%s shows %q raw: %q", f.Code, []rune(s[i:])[0], s)
			}
		}
	}

	cfg := csvSync("users.csv", "users")
	sp := syncNamed(t, plan(t, cfg, planner.Options{}), "users")
	for _, want := range []string{
		`ALTER TABLE "public"."users" ADD COLUMN U&"email\200B" text;`,
		`ALTER TABLE "public"."users" ADD COLUMN U&"n\202Eote\FEFF" text;`,
	} {
		i := slices.IndexFunc(sp.Findings, func(f planner.Finding) bool { return f.Code == planner.CodeMissingColumn && f.Fix == want })
		if i < 0 {
			t.Errorf("no missing_column finding with the fix %s:\n%s", want, synctest.FindingsText(sp))
			continue
		}
		visible(sp.Findings[i])
		e.Dst(want)
	}
	if sp := syncNamed(t, plan(t, cfg, planner.Options{}), "users"); len(sp.Findings) != 0 || sp.Counts != (planner.Counts{Insert: 1}) {
		t.Errorf("after the fixes: counts %+v\n%s", sp.Counts, synctest.FindingsText(sp))
	}

	sp = syncNamed(t, plan(t, csvSync("keys.csv", "users"), planner.Options{}), "users")
	f := findingWith(sp, planner.CodeMissingColumn, `the key column "id"`)
	if f == nil || !strings.Contains(f.Detail, `The source returns: "id\u200b", email.`) {
		t.Errorf("a key the header spells with a zero-width space:\n%s", synctest.FindingsText(sp))
	} else {
		visible(*f)
	}

	sp = syncNamed(t, plan(t, csvSync("users.csv", "nosuch"), planner.Options{}), "users")
	f = findingWith(sp, planner.CodeMissingTable, "")
	if f == nil || !strings.Contains(f.Fix, `U&"email\200B" text`) {
		t.Fatalf("a missing table:\n%s", synctest.FindingsText(sp))
	}
	visible(*f)
	e.Dst(f.Fix)
	if sp := syncNamed(t, plan(t, csvSync("users.csv", "nosuch"), planner.Options{}), "users"); len(sp.Findings) != 0 {
		t.Errorf("after the CREATE TABLE:\n%s", synctest.FindingsText(sp))
	}
}
