package planner_test

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// dbSnapshot describes the state of a database: an md5 of every table's
// rows, every sequence's position, the catalog, and the next transaction ID
// of the server (which moves when anything writes, even a temporary table).
func dbSnapshot(t *testing.T, conn *pgx.Conn) map[string]string {
	t.Helper()
	ctx := context.Background()
	out := map[string]string{}
	one := func(key, sql string) {
		t.Helper()
		var v string
		if err := conn.QueryRow(ctx, sql).Scan(&v); err != nil {
			t.Fatalf("snapshot %s: %v\nSQL: %s", key, err, sql)
		}
		out[key] = v
	}
	list := func(sql string) []string {
		t.Helper()
		rows, err := conn.Query(ctx, sql)
		if err != nil {
			t.Fatalf("snapshot: %v\nSQL: %s", err, sql)
		}
		names, err := pgx.CollectRows(rows, pgx.RowTo[string])
		if err != nil {
			t.Fatalf("snapshot: %v\nSQL: %s", err, sql)
		}
		return names
	}
	for _, tbl := range list(`
SELECT format('%I.%I', n.nspname, c.relname) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg_toast%'`) {
		one("table "+tbl, fmt.Sprintf(`SELECT count(*) || ' ' || coalesce(md5(string_agg(t::text, ',' ORDER BY t::text)), '') FROM %s t`, tbl))
	}
	for _, seq := range list(`SELECT format('%I.%I', schemaname, sequencename) FROM pg_sequences`) {
		one("sequence "+seq, fmt.Sprintf(`SELECT last_value || ' ' || is_called FROM %s`, seq))
	}
	one("pg_class", `SELECT count(*) || ' ' || md5(string_agg(oid || ' ' || relname || ' ' || relkind::text || ' ' || relfilenode, ',' ORDER BY oid)) FROM pg_class`)
	one("pg_attribute", `SELECT count(*)::text FROM pg_attribute`)
	one("next xid", `SELECT pg_snapshot_xmax(pg_current_snapshot())::text`)
	return out
}

// compareSnapshots reports every difference between two snapshots.
func compareSnapshots(t *testing.T, what string, before, after map[string]string) {
	t.Helper()
	for _, k := range slices.Sorted(maps.Keys(before)) {
		if before[k] != after[k] {
			t.Errorf("%s: %s changed: %q -> %q", what, k, before[k], after[k])
		}
	}
	for k := range after {
		if _, ok := before[k]; !ok {
			t.Errorf("%s: %s appeared", what, k)
		}
	}
}

// TestPlanIsReadOnly plans all four behaviors with many changes and checks
// that neither server changed at all: no table, sequence or catalog entry,
// and no transaction ID was used. It then plans as a role that has only
// USAGE and SELECT: the counts are the same, and every missing grant is
// reported.
//
// The test does not run in parallel: the transaction ID counter is shared
// by every database of a server.
func TestPlanIsReadOnly(t *testing.T) {
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id bigint, name text, price numeric)`)
	e.Src(`INSERT INTO items SELECT i, 'item ' || i, i * 1.5 FROM generate_series(1, 2000) i`)
	e.Src(`CREATE SEQUENCE src_seq`)
	e.Src(`SELECT nextval('src_seq')`)

	e.Dst(`CREATE TABLE audit (at timestamptz DEFAULT now(), op text, tbl text, row_data text)`)
	e.Dst(`CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  INSERT INTO audit (op, tbl, row_data) VALUES (TG_OP, TG_TABLE_NAME, COALESCE(NEW::text, OLD::text));
  RETURN NULL;
END $$`)
	e.Dst(`CREATE SEQUENCE standalone`)
	tables := map[hclconfig.Behavior]string{
		hclconfig.UpdateOrCreate: "t_update_or_create", hclconfig.UpdateOnly: "t_update_only",
		hclconfig.Append: "t_append", hclconfig.Mirror: "t_mirror",
	}
	var body strings.Builder
	for _, b := range hclconfig.Behaviors {
		tbl := tables[b]
		// serial: a sequence the sync does not map; audit: a trigger that
		// records any write.
		e.Dst(fmt.Sprintf(`CREATE TABLE %s (id bigint PRIMARY KEY, name text, price numeric(10,2), serial bigserial, note text DEFAULT 'kept')
WITH (autovacuum_enabled = off)`, tbl))
		e.Dst(fmt.Sprintf(`CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH ROW EXECUTE FUNCTION audit()`, tbl))
		e.Dst(fmt.Sprintf(`INSERT INTO %s (id, name, price) SELECT i, CASE WHEN i %% 3 = 0 THEN 'stale' ELSE 'item ' || i END, i * 1.5
FROM generate_series(1001, 3000) i`, tbl))
		fmt.Fprintf(&body, `
sync %q {
  source      = source.postgres.src
  query       = "SELECT id, name, price FROM items"
  destination = destination.postgres.dst
  table       = %q
  behavior    = %q
  key         = ["id"]
}
`, b, tbl, b)
	}
	e.Dst(`SELECT nextval('standalone')`)
	e.Dst(`TRUNCATE audit`)
	// Rows 1..1000 only in the source, 1001..2000 on both (a third of them
	// stale), 2001..3000 only in the destination.
	want := map[string]planner.Counts{
		"update_or_create": {Insert: 1000, Update: 333, Unchanged: 667},
		"update_only":      {Update: 333, Unchanged: 667, Skipped: 1000},
		"append":           {Insert: 1000, Unchanged: 667, Skipped: 333},
		"mirror":           {Insert: 1000, Update: 333, Delete: 1000, Unchanged: 667},
	}

	cfg := e.Config(body.String())
	dstBefore, srcBefore := dbSnapshot(t, e.DstConn()), dbSnapshot(t, e.SrcConn())
	p := plan(t, cfg, planner.Options{ShowRows: 5})
	compareSnapshots(t, "destination after plan", dstBefore, dbSnapshot(t, e.DstConn()))
	compareSnapshots(t, "source after plan", srcBefore, dbSnapshot(t, e.SrcConn()))
	// The only finding: the audit trigger fires for the planned writes
	// (a warning; planning fired nothing, as the snapshots show).
	isAuditNote := func(f planner.Finding) bool {
		return f.Code == planner.CodeTriggers && f.Severity == planner.SeverityWarning && strings.Contains(f.Summary, `"audit"`)
	}
	for _, sp := range p.Syncs {
		if len(sp.Findings) != 1 || !isAuditNote(sp.Findings[0]) || !sp.Diffed {
			t.Errorf("%s: unexpected findings (diffed=%v):\n%s", sp.Name, sp.Diffed, synctest.FindingsText(sp))
		}
		if sp.Counts != want[sp.Name] {
			t.Errorf("%s: counts %+v, want %+v", sp.Name, sp.Counts, want[sp.Name])
		}
	}

	// A role that may only read.
	role := e.WithDestinationRole()
	e.Dst(fmt.Sprintf(`REVOKE TEMPORARY ON DATABASE %q FROM PUBLIC`, e.DstDB))
	e.Dst(fmt.Sprintf(`GRANT USAGE ON SCHEMA public TO %q`, role))
	for _, tbl := range tables {
		e.Dst(fmt.Sprintf(`GRANT SELECT ON %s TO %q`, tbl, role))
	}
	cfg = e.Config(body.String())
	dstBefore, srcBefore = dbSnapshot(t, e.DstConn()), dbSnapshot(t, e.SrcConn())
	p = plan(t, cfg, planner.Options{ShowRows: 5})
	compareSnapshots(t, "destination after plan as a read-only role", dstBefore, dbSnapshot(t, e.DstConn()))
	compareSnapshots(t, "source after plan as a read-only role", srcBefore, dbSnapshot(t, e.SrcConn()))
	// Behaviors that insert also need USAGE on the sequence behind the
	// unmapped serial column.
	lacks := map[string][]string{
		"update_or_create": {"INSERT", "TEMPORARY", "UPDATE", "USAGE", "history"},
		"update_only":      {"TEMPORARY", "UPDATE", "history"},
		"append":           {"INSERT", "TEMPORARY", "USAGE", "history"},
		"mirror":           {"DELETE", "INSERT", "TEMPORARY", "UPDATE", "USAGE", "history"},
	}
	for _, sp := range p.Syncs {
		if !sp.Diffed || sp.Counts != want[sp.Name] {
			t.Errorf("%s as a read-only role: diffed=%v counts %+v, want %+v", sp.Name, sp.Diffed, sp.Counts, want[sp.Name])
		}
		var got []string
		for _, f := range sp.Findings {
			if isAuditNote(f) {
				continue
			}
			if f.Code == planner.CodeMissingPrivilege && strings.Contains(f.Summary, fmt.Sprintf("role %q cannot create the history schema", role)) {
				got = append(got, "history")
				continue
			}
			if f.Code != planner.CodeMissingPrivilege || !strings.Contains(f.Summary, fmt.Sprintf("role %q lacks ", role)) {
				t.Errorf("%s: unexpected finding %s: %s", sp.Name, f.Code, f.Summary)
				continue
			}
			priv, _, _ := strings.Cut(strings.TrimPrefix(f.Summary, fmt.Sprintf("role %q lacks ", role)), " ")
			got = append(got, priv)
		}
		slices.Sort(got)
		if !slices.Equal(got, lacks[sp.Name]) {
			t.Errorf("%s: reports missing %v, want %v:\n%s", sp.Name, got, lacks[sp.Name], synctest.FindingsText(sp))
		}
	}
}

// TestSourceQueryCannotWrite: source queries run in read-only
// transactions, so a query that would write fails as source_query_failed
// and changes nothing.
func TestSourceQueryCannotWrite(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id bigint, name text)`)
	e.Src(`INSERT INTO items SELECT i, 'n' || i FROM generate_series(1, 5) i`)
	e.Src(`CREATE SEQUENCE src_seq`)
	e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name text)`)
	queries := map[string]string{
		"delete_cte": "WITH d AS (DELETE FROM items RETURNING id, name) SELECT id, name FROM d",
		"nextval":    "SELECT id, name FROM items WHERE nextval('src_seq') > 0",
		"for_update": "SELECT id, name FROM items FOR UPDATE",
	}
	var body strings.Builder
	for _, name := range slices.Sorted(maps.Keys(queries)) {
		fmt.Fprintf(&body, `
sync %q {
  source      = source.postgres.src
  query       = %q
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "mirror"
  key         = ["id"]
}
`, name, queries[name])
	}
	cfg := e.Config(body.String())
	before := dbSnapshot(t, e.SrcConn())
	p := plan(t, cfg, planner.Options{})
	after := dbSnapshot(t, e.SrcConn())
	delete(before, "next xid") // other tests run at the same time
	delete(after, "next xid")
	compareSnapshots(t, "source after plan", before, after)
	for _, name := range slices.Sorted(maps.Keys(queries)) {
		sp := syncNamed(t, p, name)
		if got := codes(sp); !slices.Equal(got, []string{string(planner.CodeSourceQueryFailed)}) {
			t.Errorf("%s: finding codes %v, want [source_query_failed]:\n%s", name, got, synctest.FindingsText(sp))
		}
	}
}
