package executor_test

import (
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestEditedPlanCannotCrossTheGuard: a plan whose guard_exceeded finding
// was taken out (a plan file edited by hand) is refused by apply, which
// checks the guard against its own diff, and nothing is written.
func TestEditedPlanCannotCrossTheGuard(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id int, v int); INSERT INTO items SELECT g, 0 FROM generate_series(1, 5) g`)
	e.Dst(`CREATE TABLE items (id int PRIMARY KEY, v int); INSERT INTO items SELECT g, 0 FROM generate_series(1, 10) g`)
	cfg := e.Config(`
sync "items" {
  source      = source.postgres.src
  query       = "SELECT id, v FROM items"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "mirror"
  key         = "id"
  guard {
    max_deletes = 3
  }
}`)
	p := plan(t, cfg)
	sp := p.Syncs[0]
	if f := synctest.FindingsText(sp); !sp.HasErrors() || sp.Counts.Delete != 5 {
		t.Fatalf("the plan does not cross the guard as set up (%+v):\n%s", sp.Counts, f)
	}
	var kept []planner.Finding
	for _, f := range sp.Findings {
		if f.Code != planner.CodeGuardExceeded {
			kept = append(kept, f)
		}
	}
	sp.Findings = kept
	if sp.HasErrors() {
		t.Fatalf("the edited plan still has errors:\n%s", synctest.FindingsText(sp))
	}
	before := e.DstDigest("items")
	requireFailed(t, apply(t, cfg, p, executor.Options{}), "items", "guard max_deletes exceeded: 5 rows would be deleted", "nothing was written")
	if e.DstDigest("items") != before {
		t.Error("the refused apply changed the table")
	}
}

// TestEditedPlanCannotSkipRejectedRows: under on_reject = "fail", a plan
// whose rejected_rows finding was taken out is refused by apply, which
// finds the rejected rows in its own diff, instead of writing the others.
func TestEditedPlanCannotSkipRejectedRows(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id int, v int); INSERT INTO items SELECT g, g FROM generate_series(1, 5) g`)
	e.Dst(`CREATE TABLE items (id int PRIMARY KEY, v int CHECK (v < 4))`)
	cfg := e.Config(`
sync "items" {
  source      = source.postgres.src
  query       = "SELECT id, v FROM items"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "update_or_create"
  key         = "id"
}`)
	p := plan(t, cfg)
	sp := p.Syncs[0]
	if sp.Counts.Reject != 2 || sp.Counts.Insert != 3 {
		t.Fatalf("planned %+v, want 3 inserts and 2 rejected:\n%s", sp.Counts, synctest.FindingsText(sp))
	}
	sp.Findings = nil
	requireFailed(t, apply(t, cfg, p, executor.Options{}), "items", `2 rows would be refused`, `on_reject is "fail"`, "nothing was written")
	if n := e.DstQuery(`SELECT count(*) FROM items`)[0]; n != "0" {
		t.Errorf("the refused apply wrote %s rows", n)
	}
}
