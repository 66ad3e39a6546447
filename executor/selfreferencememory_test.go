package executor_test

import (
	"fmt"
	"runtime/debug"
	"testing"

	"github.com/rowform/rowform/internal/heappeak"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// selfReferenceRows inserts into a table whose rows reference one another
// (a foreign key of the table to itself), each row's parent another row of
// the same inserts, take a plan at most selfReferenceHeap more heap than as
// many into a table without the foreign key, where holding every child
// waiting for its parent and every parent's hash in memory took 127 MB
// more (166 MB against 39 here; 175 MB more at the default GOGC). The
// hashes and the children go through external sorts: the bound holds for
// any number of rows.
// selfReferenceGC is the test's GOGC, low so that the peaks stay close to
// what the plans hold (as in TestUniqueIndexMemory).
const (
	selfReferenceRows = 300000
	selfReferenceHeap = 16 << 20
	selfReferenceGC   = 25
)

// TestSelfReferenceMemory: the initial load of a hierarchy (every row a
// child waiting for a parent the load writes, and every row a parent) is
// checked in bounded memory, still refusing the rows whose parent nobody
// writes: the last three, which reference the row 0.
func TestSelfReferenceMemory(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector's allocations are not the code's")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(selfReferenceGC))
	e := synctest.New(t)
	// Both tables have a CHECK constraint, so that both plans spool and
	// check the changes on the server; only employees checks references.
	e.Dst(`CREATE TABLE plain (id bigint PRIMARY KEY, manager_id bigint, n int CHECK (n > 0))`)
	e.Dst(`CREATE TABLE employees (id bigint PRIMARY KEY, manager_id bigint CONSTRAINT employees_manager_fk REFERENCES employees, n int CHECK (n > 0))`)
	config := func(table string) string {
		return fmt.Sprintf(`
sync "%s" {
  source      = source.postgres.src
  query       = "SELECT g AS id, CASE WHEN g > %d THEN 0 WHEN g = 1 THEN 1 ELSE g / 2 END AS manager_id, 1 AS n FROM generate_series(1, %d) g"
  destination = destination.postgres.dst
  table       = "%s"
  key         = ["id"]
  behavior    = "update_or_create"
  on_reject   = "skip"
}
`, table, selfReferenceRows-3, selfReferenceRows, table)
	}
	var p *planner.Plan
	base := heappeak.Of(func() { p = plan(t, e.Config(config("plain"))) })
	if sp := p.Syncs[0]; sp.Counts != (planner.Counts{Insert: selfReferenceRows}) {
		t.Fatalf("counts %+v\n%s", sp.Counts, synctest.FindingsText(sp))
	}
	peak := heappeak.Of(func() { p = plan(t, e.Config(config("employees"))) })
	sp := p.Syncs[0]
	if sp.Counts != (planner.Counts{Insert: selfReferenceRows - 3, Reject: 3}) {
		t.Fatalf("counts %+v\n%s", sp.Counts, synctest.FindingsText(sp))
	}
	requireRejected(t, sp, []rejected{{"employees_manager_fk", "references a row of public.employees that does not exist",
		[]string{fmt.Sprintf("id=%d", selfReferenceRows-2), fmt.Sprintf("id=%d", selfReferenceRows-1), fmt.Sprintf("id=%d", selfReferenceRows)}, 0}})
	t.Logf("%d inserts: a plan took %d MB of heap at most into a table without a foreign key to itself, %d MB into one with it",
		selfReferenceRows, base>>20, peak>>20)
	if peak > base+selfReferenceHeap {
		t.Errorf("%d inserts that reference one another took %d MB of heap to plan, want at most %d MB (%d MB more than without the foreign key)",
			selfReferenceRows, peak>>20, (base+selfReferenceHeap)>>20, selfReferenceHeap>>20)
	}
}
