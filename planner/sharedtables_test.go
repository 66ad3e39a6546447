package planner_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestSharedTable: two syncs into one table, with disjoint keys and
// depends_on, used to plan cleanly although the later one's plan was
// always stale at apply. A plan holding both now gives the later one a
// shared_table error (the plan is not applyable); with the earlier one
// applied first, as the finding says, the plan of both applies.
func TestSharedTable(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE low (id bigint, name text)`)
	e.Src(`INSERT INTO low VALUES (1, 'a'), (2, 'b')`)
	e.Src(`CREATE TABLE high (id bigint, name text)`)
	e.Src(`INSERT INTO high VALUES (101, 'x'), (102, 'y')`)
	e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name text)`)
	cfg := e.Config(`
sync "low" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM low"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "update_or_create"
  key         = ["id"]
}

sync "high" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM high"
  destination = destination.postgres.dst
  table       = "public.items"
  behavior    = "update_or_create"
  key         = ["id"]
  depends_on  = [sync.low]
}
`)
	p := plan(t, cfg, planner.Options{})
	if p.Applyable {
		t.Error("a plan of both syncs is applyable")
	}
	if low := syncNamed(t, p, "low"); len(low.Findings) != 0 {
		t.Errorf("low: %s", synctest.FindingsText(low))
	}
	high := syncNamed(t, p, "high")
	if got := codes(high); len(got) != 1 || got[0] != string(planner.CodeSharedTable) ||
		!strings.Contains(high.Findings[0].Summary, `sync "low" of this plan changes public.items`) || !strings.Contains(high.Findings[0].Detail, "apply -sync=low") {
		t.Errorf("high: %v\n%s", got, synctest.FindingsText(high))
	}

	// As the finding says: apply low, then plan again: low has nothing
	// left to change, high's plan applies.
	apply := func(p *planner.Plan) {
		t.Helper()
		if !p.Applyable {
			t.Fatalf("not applyable:\n%s", synctest.FindingsText(syncNamed(t, p, "high")))
		}
		for _, r := range executor.Apply(t.Context(), cfg, p, executor.Options{Environ: e.Environ}).Syncs {
			if r.Err != nil {
				t.Fatalf("apply of %s: %v", r.Name, r.Err)
			}
		}
	}
	apply(plan(t, cfg, planner.Options{Syncs: []string{"low"}}))
	apply(plan(t, cfg, planner.Options{}))
	if got := e.DstQuery(`SELECT string_agg(id::text, ',' ORDER BY id) FROM items`)[0]; got != "1,2,101,102" {
		t.Errorf("items: %s", got)
	}

	// The unattended apply plans each sync in its transaction, after the
	// one it depends on: both apply in one run.
	e.Dst(`TRUNCATE items`)
	_, res, err := executor.PlanAndApply(t.Context(), cfg, nil, executor.Options{Environ: e.Environ})
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range res.Syncs {
		if r.Err != nil {
			t.Errorf("unattended apply of %s: %v", r.Name, r.Err)
		}
	}
	if got := e.DstQuery(`SELECT string_agg(id::text, ',' ORDER BY id) FROM items`)[0]; got != "1,2,101,102" {
		t.Errorf("items after the unattended apply: %s", got)
	}
}

// refusedWhole checks that p, whose sync later has a shared_table error
// naming the sync earlier, is not applyable, and that apply refuses it
// before writing anything: the destination table holds what it held.
func refusedWhole(t *testing.T, e *synctest.Env, cfg *hclconfig.Config, p *planner.Plan, earlier, later, table string) {
	t.Helper()
	if p.Applyable {
		t.Error("the plan is applyable")
	}
	if sp := syncNamed(t, p, earlier); len(sp.Findings) != 0 {
		t.Errorf("%s: %s", earlier, synctest.FindingsText(sp))
	}
	sp := syncNamed(t, p, later)
	if got := codes(sp); len(got) != 1 || got[0] != string(planner.CodeSharedTable) ||
		!strings.Contains(sp.Findings[0].Summary, fmt.Sprintf("sync %q of this plan changes", earlier)) ||
		!strings.Contains(sp.Findings[0].Detail, "apply -sync="+earlier) {
		t.Errorf("%s: %v\n%s", later, got, synctest.FindingsText(sp))
	}
	before := e.DstDigest(table)
	res := executor.Apply(t.Context(), cfg, p, executor.Options{Environ: e.Environ})
	for _, r := range res.Syncs {
		if r.Status == executor.StatusApplied {
			t.Errorf("apply wrote sync %s", r.Name)
		}
	}
	if after := e.DstDigest(table); after != before {
		t.Errorf("apply changed %s", table)
	}
}

// TestSharedTableOtherSpelling: two destination blocks that spell one
// database differently (127.0.0.1 and localhost; the same holds for a DNS
// alias or an SSH tunnel) used to escape shared_table, which compared the
// blocks' host names: the plan was applyable, and apply committed the
// first sync and refused the second as stale. The servers' identity now
// tells they are one database.
func TestSharedTableOtherSpelling(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE t (id int PRIMARY KEY, v text)`)
	e.Dst(`INSERT INTO t VALUES (1, 'a'), (2, 'b')`)
	e.Src(`CREATE TABLE a (id int, v text); INSERT INTO a VALUES (1, 'A'), (3, 'c')`)
	e.Src(`CREATE TABLE b (id int, v text); INSERT INTO b VALUES (2, 'B'), (4, 'd')`)
	cfg := e.Config(fmt.Sprintf(`
destination "postgres" "alias" {
  host     = "localhost"
  port     = %d
  database = %q
  user     = %q
  password = env("DST_PASSWORD")
}

sync "a" {
  source      = source.postgres.src
  query       = "SELECT id, v FROM a"
  destination = destination.postgres.dst
  table       = "t"
  behavior    = "update_or_create"
  key         = ["id"]
}

sync "b" {
  source      = source.postgres.src
  query       = "SELECT id, v FROM b"
  destination = destination.postgres.alias
  table       = "public.t"
  behavior    = "update_or_create"
  key         = ["id"]
}
`, synctest.Destination.Port, e.DstDB, e.DstUser))
	p := plan(t, cfg, planner.Options{})
	refusedWhole(t, e, cfg, p, "a", "b", "t")
	if b := syncNamed(t, p, "b"); len(b.Findings) == 1 && !strings.Contains(b.Findings[0].Summary, "on postgres.alias (the database of postgres.dst too)") {
		t.Errorf("b: %s", b.Findings[0].Summary)
	}
}

// TestSharedTablePartition: a sync into a partitioned table and one into
// its partition (at any depth, either first) write the same rows, and
// used to plan cleanly although apply committed the first and refused the
// second as stale. Two partitions of which neither is the other's share no
// row: syncs into them plan and apply together, and a mirror of one
// deletes nothing from the other.
func TestSharedTablePartition(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		name, first, second, relation string
	}{
		{"table then its partition", "m", "m1", "public.m, of which public.m1 is a partition,"},
		{"partition then its table", "m1", "m", "public.m1, a partition of public.m,"},
		{"table then a partition of its partition", "m", "m2a", "public.m, of which public.m2a is a partition,"},
		{"partition of a partition then its table", "m2a", "m2", "public.m2a, a partition of public.m2,"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := partitionedTable(t, c.first, c.second)
			cfg := e.Config(twoSyncs(c.first, c.second, "update_or_create"))
			p := plan(t, cfg, planner.Options{})
			refusedWhole(t, e, cfg, p, "a", "b", "m")
			if b := syncNamed(t, p, "b"); len(b.Findings) == 1 && !strings.Contains(b.Findings[0].Summary, "changes "+c.relation+" on postgres.dst first") {
				t.Errorf("b: %s", b.Findings[0].Summary)
			}
		})
	}
	t.Run("two partitions", func(t *testing.T) {
		t.Parallel()
		e := partitionedTable(t, "m1", "m2a")
		cfg := e.Config(twoSyncs("m1", "m2a", "mirror"))
		p := plan(t, cfg, planner.Options{})
		if !p.Applyable {
			for _, sp := range p.Syncs {
				t.Errorf("%s: %s", sp.Name, synctest.FindingsText(sp))
			}
			t.FailNow()
		}
		for _, r := range executor.Apply(t.Context(), cfg, p, executor.Options{Environ: e.Environ}).Syncs {
			if r.Err != nil {
				t.Fatalf("apply of %s: %v", r.Name, r.Err)
			}
		}
		// a mirrors m1 (rows below 100) from 1 and 3; b mirrors m2a
		// (100 to 150) from 102 and 104: 2 and 101 are deleted, 150 in
		// m2b is left alone.
		if got := e.DstQuery(`SELECT string_agg(id || v, ',' ORDER BY id) FROM m`)[0]; got != "1A,3c,102B,104d,150z" {
			t.Errorf("m: %s", got)
		}
	})
}

// partitionedTable is a test's destination with the table m partitioned
// by id: m1 holds ids below 100, m2 from 100 to 200, itself partitioned
// into m2a (below 150) and m2b. Its source has a, rows that belong in the
// table first, and b, rows for second.
func partitionedTable(t *testing.T, first, second string) *synctest.Env {
	e := synctest.New(t)
	e.Dst(`CREATE TABLE m (id int PRIMARY KEY, v text) PARTITION BY RANGE (id)`)
	e.Dst(`CREATE TABLE m1 PARTITION OF m FOR VALUES FROM (0) TO (100)`)
	e.Dst(`CREATE TABLE m2 PARTITION OF m FOR VALUES FROM (100) TO (200) PARTITION BY RANGE (id)`)
	e.Dst(`CREATE TABLE m2a PARTITION OF m2 FOR VALUES FROM (100) TO (150)`)
	e.Dst(`CREATE TABLE m2b PARTITION OF m2 FOR VALUES FROM (150) TO (200)`)
	e.Dst(`INSERT INTO m VALUES (1, 'a'), (2, 'b'), (101, 'y'), (150, 'z')`)
	rows := func(table string) string {
		if strings.HasPrefix(table, "m2") {
			return "(102, 'B'), (104, 'd')"
		}
		return "(1, 'A'), (3, 'c')"
	}
	e.Src(`CREATE TABLE a (id int, v text); INSERT INTO a VALUES ` + rows(first))
	e.Src(`CREATE TABLE b (id int, v text); INSERT INTO b VALUES ` + rows(second))
	return e
}

// twoSyncs is the HCL of sync "a" from the source table a into table first
// and sync "b" from b into second, with behavior.
func twoSyncs(first, second, behavior string) string {
	return fmt.Sprintf(`
sync "a" {
  source      = source.postgres.src
  query       = "SELECT id, v FROM a"
  destination = destination.postgres.dst
  table       = %q
  behavior    = %q
  key         = ["id"]
}

sync "b" {
  source      = source.postgres.src
  query       = "SELECT id, v FROM b"
  destination = destination.postgres.dst
  table       = %q
  behavior    = %q
  key         = ["id"]
}
`, first, behavior, second, behavior)
}

// TestSharedTableWithoutServerIdentity: where the destination role may
// not call pg_control_system(), the plan goes on, and two syncs are
// compared by the configuration's spelling of their database and table,
// as before the servers' identity was read.
func TestSharedTableWithoutServerIdentity(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	role := e.WithDestinationRole()
	e.GrantHistory(role)
	e.Dst(`REVOKE EXECUTE ON FUNCTION pg_control_system() FROM PUBLIC`)
	e.Dst(fmt.Sprintf(`GRANT USAGE ON SCHEMA public TO %q`, role))
	e.Dst(`CREATE TABLE t (id int PRIMARY KEY, v text)`)
	e.Dst(`INSERT INTO t VALUES (1, 'a'), (2, 'b')`)
	e.Dst(fmt.Sprintf(`GRANT SELECT, INSERT, UPDATE, DELETE ON t TO %q`, role))
	e.Src(`CREATE TABLE a (id int, v text); INSERT INTO a VALUES (1, 'A'), (3, 'c')`)
	e.Src(`CREATE TABLE b (id int, v text); INSERT INTO b VALUES (2, 'B'), (4, 'd')`)
	cfg := e.Config(twoSyncs("t", "public.t", "update_or_create"))
	refusedWhole(t, e, cfg, plan(t, cfg, planner.Options{}), "a", "b", "t")
}
