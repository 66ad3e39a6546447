package executor_test

import (
	"fmt"
	"runtime/debug"
	"testing"

	"github.com/rowform/rowform/internal/heappeak"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// The accounts a sync inserts, dependencyMemoryRows of them with keys of
// dependencyKeyWidth bytes (about 100 MB of keys), take the plan of a
// contacts sync that depends on it at most dependencyHeap more heap than
// the plan of as many accounts alone: what the accounts sync hands the
// contacts' check is a hash of each key, not the key.
const (
	dependencyMemoryRows = 50000
	dependencyKeyWidth   = 2000
	dependencyContacts   = 20000
	dependencyHeap       = 16 << 20
)

// TestDependencyParentsMemory: contacts referencing accounts that the
// accounts sync they depend on inserts (an initial load of both) are
// checked against those accounts in memory that does not grow with the
// width of the accounts' keys, and each batch of contacts costs what the
// batch holds: every contact of an inserted account is accepted, the one
// of an account nobody inserts refused.
func TestDependencyParentsMemory(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector's allocations are not the code's")
	}
	defer debug.SetGCPercent(debug.SetGCPercent(uniqueMemoryGC))
	e := synctest.New(t)
	// Both account tables have a CHECK constraint, so that both plans
	// spool and check the accounts on the server.
	for _, table := range []string{"plain", "accounts"} {
		e.Dst(fmt.Sprintf(`CREATE TABLE %s (id bigint PRIMARY KEY, code text UNIQUE NOT NULL, n int CHECK (n > 0))`, table))
	}
	e.Dst(`CREATE TABLE contacts (id bigint PRIMARY KEY, account_code text REFERENCES accounts (code))`)
	code := func(expr string) string { return fmt.Sprintf("lpad((%s)::text, %d, 'x')", expr, dependencyKeyWidth) }
	accounts := func(table string) string {
		return fmt.Sprintf(`
sync "%s" {
  source      = source.postgres.src
  query       = "SELECT g AS id, %s AS code, 1 AS n FROM generate_series(1, %d) g"
  destination = destination.postgres.dst
  table       = "%s"
  key         = ["id"]
  behavior    = "mirror"
}
`, table, code("g"), dependencyMemoryRows, table)
	}
	var p *planner.Plan
	base := heappeak.Of(func() { p = plan(t, e.Config(accounts("plain"))) })
	if sp := p.Syncs[0]; sp.Counts != (planner.Counts{Insert: dependencyMemoryRows}) {
		t.Fatalf("counts %+v\n%s", sp.Counts, synctest.FindingsText(sp))
	}
	// Contact g references account g*2 (modulo the accounts, plus one);
	// contact 1 an account nobody inserts.
	cfg := e.Config(accounts("accounts") + fmt.Sprintf(`
sync "contacts" {
  source      = source.postgres.src
  query       = "SELECT g AS id, CASE WHEN g = 1 THEN 'none' ELSE %s END AS account_code FROM generate_series(1, %d) g"
  destination = destination.postgres.dst
  table       = "contacts"
  key         = ["id"]
  behavior    = "mirror"
  on_reject   = "skip"
  depends_on  = [sync.accounts]
}
`, code(fmt.Sprintf("g * 2 %% %d + 1", dependencyMemoryRows)), dependencyContacts))
	peak := heappeak.Of(func() { p = plan(t, cfg) })
	acc, con := p.Syncs[0], p.Syncs[1]
	if acc.Counts != (planner.Counts{Insert: dependencyMemoryRows}) {
		t.Fatalf("accounts: %+v\n%s", acc.Counts, synctest.FindingsText(acc))
	}
	if con.Counts != (planner.Counts{Insert: dependencyContacts - 1, Reject: 1}) {
		t.Fatalf("contacts: %+v\n%s", con.Counts, synctest.FindingsText(con))
	}
	requireRefusedAs(t, con, "contacts_account_code_fkey", `column "account_code": references a row of public.accounts that does not exist`, "id=1")
	t.Logf("%d accounts of %d-byte keys: a plan took %d MB of heap at most alone, %d MB with %d contacts that depend on them",
		dependencyMemoryRows, dependencyKeyWidth, base>>20, peak>>20, dependencyContacts)
	if peak > base+dependencyHeap {
		t.Errorf("%d accounts of %d-byte keys and %d contacts that depend on them took %d MB of heap to plan, want at most %d MB (%d MB more than the accounts alone)",
			dependencyMemoryRows, dependencyKeyWidth, dependencyContacts, peak>>20, (base+dependencyHeap)>>20, dependencyHeap>>20)
	}
}
