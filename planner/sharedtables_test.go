package planner_test

import (
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
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
