package executor_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/heappeak"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// rejectMemoryRows rows that are all rejected may take a plan and an
// apply at most rejectedRowsHeap more heap than a plan of as many rows that
// are all accepted, where keeping them in memory would take over 200 MB;
// what the apply's result keeps of them in memory is at most
// rejectedRowsKept. The rows are on disk: the bounds hold for any number
// of them.
const (
	rejectMemoryRows = 300000
	rejectedRowsHeap = 24 << 20
	rejectedRowsKept = 4 << 20
)

// TestRejectedRowsMemory: a sync whose every row the destination refuses
// (a column mapping gone wrong) costs a plan and an apply (on_reject =
// "skip") about the heap of a plan that refuses none, whether the checks
// in Go refuse the rows (a value too long) or the server does (a CHECK
// constraint); the apply still reports every one, in key order, and its
// result keeps them on disk, not in memory.
func TestRejectedRowsMemory(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector's allocations are not the code's")
	}
	e := synctest.New(t)
	e.Dst(`CREATE TABLE names (id bigint PRIMARY KEY, name varchar(5))`)
	e.Dst(`CREATE TABLE prices (id bigint PRIMARY KEY, price int CHECK (price > 0))`)
	config := func(table, query string) string {
		return fmt.Sprintf(`
sync "%s" {
  source      = source.postgres.src
  query       = "%s"
  destination = destination.postgres.dst
  table       = "%s"
  key         = ["id"]
  behavior    = "update_or_create"
  on_reject   = "skip"
}
`, table, fmt.Sprintf(query, rejectMemoryRows), table)
	}
	for _, tc := range []struct{ name, table, accepted, rejected, reason string }{
		{"in Go", "names",
			"SELECT g AS id, 'name' AS name FROM generate_series(1, %d) g",
			"SELECT g AS id, 'name-too-long-' || g AS name FROM generate_series(1, %d) g",
			"value too long for type character varying(5)"},
		{"by the server", "prices",
			"SELECT g AS id, g AS price FROM generate_series(1, %d) g",
			"SELECT g AS id, -g AS price FROM generate_series(1, %d) g",
			"violates the CHECK constraint (price > 0)"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var p *planner.Plan
			accepted := e.Config(config(tc.table, tc.accepted))
			base := heappeak.Of(func() { p = plan(t, accepted) })
			if sp := p.Syncs[0]; sp.Counts != (planner.Counts{Insert: rejectMemoryRows}) {
				t.Fatalf("counts %+v\n%s", sp.Counts, synctest.FindingsText(sp))
			}
			cfg := e.Config(config(tc.table, tc.rejected))
			planPeak := heappeak.Of(func() { p = plan(t, cfg) })
			if sp := p.Syncs[0]; sp.Counts != (planner.Counts{Reject: rejectMemoryRows}) {
				t.Fatalf("counts %+v\n%s", sp.Counts, synctest.FindingsText(sp))
			}
			var res *executor.Result
			applyPeak := heappeak.Of(func() { res = apply(t, cfg, p, executor.Options{}) })
			requireApplied(t, res)
			r := syncResult(t, res, tc.table)
			if r.Applied.Reject != rejectMemoryRows || r.Rejected.Len() != rejectMemoryRows {
				t.Fatalf("applied %+v, %d rejected rows listed", r.Applied, r.Rejected.Len())
			}
			n := 0
			err := r.Rejected.Each(func(row *planner.RejectedRow) error {
				n++
				if row.Key["id"] != fmt.Sprint(n) || row.Kind != "insert" || row.Reason != tc.reason {
					return fmt.Errorf("rejected row %d is %+v", n, row)
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			r = nil // what the result keeps is measured without it
			kept := heapKept(&res)
			t.Logf("%d rows: a plan that accepts them took %d MB of heap at most; one that rejects them %d MB, its apply %d MB; the result keeps %d kB",
				rejectMemoryRows, base>>20, planPeak>>20, applyPeak>>20, kept>>10)
			if planPeak > base+rejectedRowsHeap || applyPeak > base+rejectedRowsHeap {
				t.Errorf("%d rejected rows took %d MB of heap to plan and %d MB to apply, want at most %d MB (%d MB more than a plan without them)",
					rejectMemoryRows, planPeak>>20, applyPeak>>20, (base+rejectedRowsHeap)>>20, rejectedRowsHeap>>20)
			}
			if kept > rejectedRowsKept {
				t.Errorf("the apply's result keeps %d MB of heap for its %d rejected rows, want at most %d MB",
					kept>>20, rejectMemoryRows, rejectedRowsKept>>20)
			}
		})
	}
}

// heapKept returns how much heap *res keeps: the heap in use with it,
// less the heap in use once it is dropped (*res is nil after).
func heapKept(res **executor.Result) int64 {
	var with, without runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&with)
	*res = nil
	runtime.GC()
	runtime.ReadMemStats(&without)
	return int64(with.HeapAlloc) - int64(without.HeapAlloc)
}
