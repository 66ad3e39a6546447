package executor_test

import (
	"fmt"
	"runtime/debug"
	"testing"

	"github.com/rowform/rowform/internal/heappeak"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// uniqueMemoryRows inserts into a table with a unique column, or with an
// exclusion constraint, take a plan at most uniqueIndexHeap more heap than
// as many into a table without it, where holding a hash of each one in
// memory to find the inserts with equal values would take about 36 MB
// (and more while the list grows). The hashes are sorted on disk: the
// bound holds for any number of rows. uniqueMemoryGC is the GOGC of the
// test: the heap may grow past what is live by that percent before a
// collection, and a low one keeps the peaks close to what the plans hold.
const (
	uniqueMemoryRows = 1500000
	uniqueIndexHeap  = 12 << 20
	uniqueMemoryGC   = 25
)

// TestUniqueIndexMemory: the changed rows of a plan are compared among
// themselves under a unique index or an exclusion constraint (the rows
// whose hashes meet, then on the server) in bounded memory, still finding
// every row that has an equal: the rows with the value 'taken' (one in
// every 250,000).
func TestUniqueIndexMemory(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector's allocations are not the code's")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(uniqueMemoryGC))
	e := synctest.New(t)
	// Every table has a CHECK constraint, so that every plan spools and
	// checks the changes on the server; only users and bookings compare
	// them by email.
	e.Dst(`CREATE TABLE plain (id bigint PRIMARY KEY, email text, n int CHECK (n > 0))`)
	e.Dst(`CREATE TABLE users (id bigint PRIMARY KEY, email text UNIQUE, n int CHECK (n > 0))`)
	e.Dst(`CREATE TABLE bookings (id bigint PRIMARY KEY, email text, n int CHECK (n > 0), EXCLUDE USING btree (email WITH =))`)
	config := func(table string) string {
		return fmt.Sprintf(`
sync "%s" {
  source      = source.postgres.src
  query       = "SELECT g AS id, CASE WHEN g %% 250000 = 0 THEN 'taken' ELSE 'user' || g END AS email, 1 AS n FROM generate_series(1, %d) g"
  destination = destination.postgres.dst
  table       = "%s"
  key         = ["id"]
  behavior    = "update_or_create"
  on_reject   = "skip"
}
`, table, uniqueMemoryRows, table)
	}
	var p *planner.Plan
	base := heappeak.Of(func() { p = plan(t, e.Config(config("plain"))) })
	if sp := p.Syncs[0]; sp.Counts != (planner.Counts{Insert: uniqueMemoryRows}) {
		t.Fatalf("counts %+v\n%s", sp.Counts, synctest.FindingsText(sp))
	}
	taken := int64(uniqueMemoryRows / 250000)
	for _, tc := range []struct{ name, rule, table string }{
		{"unique index", "a unique index", "users"},
		{"exclusion constraint", "an exclusion constraint", "bookings"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			peak := heappeak.Of(func() { p = plan(t, e.Config(config(tc.table))) })
			sp := p.Syncs[0]
			if sp.Counts != (planner.Counts{Insert: uniqueMemoryRows - taken, Reject: taken}) {
				t.Fatalf("counts %+v\n%s", sp.Counts, synctest.FindingsText(sp))
			}
			t.Logf("%d inserts: a plan took %d MB of heap at most into a table without rules that compare them, %d MB into one with %s",
				uniqueMemoryRows, base>>20, peak>>20, tc.rule)
			if peak > base+uniqueIndexHeap {
				t.Errorf("%d inserts under %s took %d MB of heap to plan, want at most %d MB (%d MB more than without it)",
					uniqueMemoryRows, tc.rule, peak>>20, (base+uniqueIndexHeap)>>20, uniqueIndexHeap>>20)
			}
		})
	}
}
