package executor_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// twoSyncs are two syncs, "first" and "second", of the same table and the
// same rows: two users applying one configuration at once.
const twoSyncs = `
sync "first" {
  source      = source.postgres.src
  query       = "SELECT id, name, qty FROM items"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "%[1]s"
  key         = "id"
}

sync "second" {
  source      = source.postgres.src
  query       = "SELECT id, name, qty FROM items"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "%[1]s"
  key         = "id"
}
`

// twoSlowApplies sets up two update_or_create syncs ("first", "second") of
// the same destination table, n new rows each, every insert slow, and plans
// each alone: the second is applied while the first holds the lock.
func twoSlowApplies(t *testing.T, n int) (*synctest.Env, *hclconfig.Config, *planner.Plan, *planner.Plan) {
	t.Helper()
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id bigint, name text, qty int)`)
	e.Src(fmt.Sprintf(`INSERT INTO items SELECT g, 'item ' || g, g FROM generate_series(1, %d) g`, n))
	e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int)`)
	makeInsertsSlow(e)
	cfg := e.Config(fmt.Sprintf(twoSyncs, "update_or_create"))
	return e, cfg, planOnly(t, cfg, "first"), planOnly(t, cfg, "second")
}

// gateInserts makes every statement that inserts into the destination's
// items wait until the returned open is called, so that an apply holding
// the table's lock is still inside its write for as long as the test needs
// it there, however loaded the machine. The first apply must then be given
// a lock timeout longer than the test's wait.
func gateInserts(t *testing.T, e *synctest.Env) (open func()) {
	t.Helper()
	e.Dst(`SELECT pg_advisory_lock(4242)`)
	e.Dst(`CREATE FUNCTION gate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_advisory_lock(4242); PERFORM pg_advisory_unlock(4242); RETURN NULL; END $$`)
	e.Dst(`CREATE TRIGGER gate BEFORE INSERT ON items FOR EACH STATEMENT EXECUTE FUNCTION gate()`)
	var once sync.Once
	open = func() { once.Do(func() { e.Dst(`SELECT pg_advisory_unlock(4242)`) }) }
	t.Cleanup(open)
	return open
}

// planOnly plans only the named sync of cfg.
func planOnly(t *testing.T, cfg *hclconfig.Config, name string) *planner.Plan {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	p, err := planner.Compute(ctx, cfg, planner.Options{Syncs: []string{name}})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	if len(p.Syncs) != 1 || p.Syncs[0].HasErrors() || !p.Syncs[0].Diffed {
		t.Fatalf("the plan of %s is not applyable", name)
	}
	return p
}

// waitForLockHolder waits until a session of db named app holds an
// advisory lock and returns its pid.
func waitForLockHolder(t *testing.T, e *synctest.Env, app string, done <-chan struct{}) int32 {
	t.Helper()
	var pid int32
	poll(t, time.Minute, app+" to hold the table's lock", func() bool {
		select {
		case <-done:
			t.Fatalf("the apply of %s ended before it was seen holding the lock", app)
		default:
		}
		// The table's lock (lock.go), not the history's, which an apply
		// takes and lets go of before it: seen holding that one, the
		// first apply could still be beaten to the table's by the next.
		err := e.DstConn().QueryRow(context.Background(), `SELECT a.pid FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND a.datname = $1 AND a.application_name = $2
  AND l.objsubid = 2 AND l.classid::bigint = (hashtext('rowform')::bigint & 4294967295)`, e.DstDB, app).Scan(&pid)
		if errors.Is(err, pgx.ErrNoRows) {
			return false
		}
		if err != nil {
			t.Fatalf("reading pg_locks: %v", err)
		}
		return true
	})
	return pid
}

func requireNoAdvisoryLocks(t *testing.T, e *synctest.Env) {
	t.Helper()
	locks := e.DstQuery(`SELECT format('%s pid %s granted %s', l.locktype, l.pid, l.granted) FROM pg_locks l
WHERE l.locktype = 'advisory' AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())`)
	if len(locks) > 0 {
		t.Errorf("advisory locks remain after the applies: %v", locks)
	}
}

// TestConcurrentApplyFailsFast: while one apply of a table runs, a second
// apply of the same table fails at once, naming the holder (application
// name, pid, since when), and writes nothing; the first completes, and no
// advisory lock remains.
func TestConcurrentApplyFailsFast(t *testing.T) {
	e, cfg, pFirst, pSecond := twoSlowApplies(t, 300)
	open := gateInserts(t, e)

	a := startApply(context.Background(), cfg, pFirst, executor.Options{LockTimeout: 5 * time.Minute})
	pid := waitForLockHolder(t, e, "rowform/first", a.done)
	start := time.Now()
	res := apply(t, cfg, pSecond, executor.Options{})
	took := time.Since(start)
	r := requireFailed(t, res, "second", "public.items", "another rowform", "rowform/first", fmt.Sprintf("pid %d", pid), "since", "-lock-timeout")
	var locked *executor.LockedError
	if !errors.As(r.Err, &locked) {
		t.Errorf("the error is not a *LockedError: %T %v", r.Err, r.Err)
	}
	if took > 2*time.Second {
		t.Errorf("the second apply took %s to fail; it should fail at once", took)
	}
	select {
	case <-a.done:
		t.Fatalf("the first apply ended before the second one was refused; the test proves nothing")
	default:
	}
	open()
	requireApplied(t, a.wait(t))
	if got := a.res.Syncs[0].Applied; got.Insert != 300 {
		t.Errorf("the first apply inserted %d rows, want 300", got.Insert)
	}
	requireNoAdvisoryLocks(t, e)
	waitNoRowformSessions(t, e.DstConn(), e.DstDB, 5*time.Second)
	e.Dst(dropSlowSQL)
	requireConverged(t, cfg)
}

// TestConcurrentApplyWaitsWithLockTimeout: with a lock timeout, the second
// apply waits for the first, then finds that the rows it planned to write
// are no longer what it planned: it refuses as stale and writes nothing,
// whatever the plan's kinds of changes. In particular it must not apply
// its plan against the destination as it was before the first apply
// committed.
func TestConcurrentApplyWaitsWithLockTimeout(t *testing.T) {
	for _, tc := range []struct {
		name     string
		behavior hclconfig.Behavior
		dst      string // rows already in the destination
		want     planner.Counts
	}{
		{"inserts_only", hclconfig.UpdateOrCreate, ``, planner.Counts{Insert: 200}},
		{"updates_only", hclconfig.UpdateOnly, `INSERT INTO items SELECT g, 'old', g FROM generate_series(1, 200) g`, planner.Counts{Update: 200}},
		{"mirror", hclconfig.Mirror, `INSERT INTO items SELECT g, CASE WHEN g % 2 = 0 THEN 'old' ELSE 'item ' || g END, g FROM generate_series(101, 300) g`,
			planner.Counts{Insert: 100, Update: 50, Delete: 100, Unchanged: 50}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := synctest.New(t)
			e.Src(`CREATE TABLE items (id bigint, name text, qty int)`)
			e.Src(`INSERT INTO items SELECT g, 'item ' || g, g FROM generate_series(1, 200) g`)
			e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int)`)
			if tc.dst != "" {
				e.Dst(tc.dst)
			}
			// Every written row takes a while, so that the second apply
			// really waits.
			e.Dst(`CREATE FUNCTION slow_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(0.005); RETURN COALESCE(NEW, OLD); END $$`)
			e.Dst(`CREATE TRIGGER slow BEFORE INSERT OR UPDATE OR DELETE ON items FOR EACH ROW EXECUTE FUNCTION slow_write()`)
			cfg := e.Config(fmt.Sprintf(twoSyncs, tc.behavior))
			pFirst, pSecond := planOnly(t, cfg, "first"), planOnly(t, cfg, "second")
			if pSecond.Syncs[0].Counts != tc.want {
				t.Fatalf("planned %+v, want %+v", pSecond.Syncs[0].Counts, tc.want)
			}

			a := startApply(context.Background(), cfg, pFirst, executor.Options{})
			waitForLockHolder(t, e, "rowform/first", a.done)
			b := startApply(context.Background(), cfg, pSecond, executor.Options{LockTimeout: time.Minute})
			requireApplied(t, a.wait(t))
			afterFirst := e.DstDigest("items")
			res := b.wait(t)
			r := requireFailed(t, res, "second", "plan is stale")
			if !errors.Is(r.Err, executor.ErrStale) {
				t.Errorf("the second apply failed, but not as stale (%T): %v", r.Err, r.Err)
			}
			if got := e.DstDigest("items"); got != afterFirst {
				t.Errorf("the second apply changed the table")
			}
			requireNoAdvisoryLocks(t, e)
			requireConverged(t, cfg)
		})
	}
}

// TestConcurrentApplyLockTimeoutExpires: a lock timeout shorter than the
// other apply fails after about that long, naming the holder.
func TestConcurrentApplyLockTimeoutExpires(t *testing.T) {
	e, cfg, pFirst, pSecond := twoSlowApplies(t, 400)
	open := gateInserts(t, e)
	a := startApply(context.Background(), cfg, pFirst, executor.Options{LockTimeout: 5 * time.Minute})
	waitForLockHolder(t, e, "rowform/first", a.done)
	start := time.Now()
	var mu sync.Mutex
	var phases []string
	progress := func(sync, phase string, rows int64) {
		mu.Lock()
		defer mu.Unlock()
		if rows < 0 {
			phases = append(phases, sync+": "+phase)
		}
	}
	res := apply(t, cfg, pSecond, executor.Options{LockTimeout: 500 * time.Millisecond, Progress: progress})
	took := time.Since(start)
	requireFailed(t, res, "second", "rowform/first")
	mu.Lock()
	if len(phases) != 1 || !strings.Contains(phases[0], "second: waiting for the lock on public.items (held by rowform/first") {
		t.Errorf("progress while waiting: %q, want one \"waiting for the lock\" naming the holder", phases)
	}
	mu.Unlock()
	if took < 500*time.Millisecond || took > 3*time.Second {
		t.Errorf("with -lock-timeout=500ms the second apply failed after %s", took)
	}
	open()
	requireApplied(t, a.wait(t))
	requireNoAdvisoryLocks(t, e)
}

// TestConcurrentApplyOfDifferentTablesRuns: the lock is per table; applies
// of two tables of one database do not block each other.
func TestConcurrentApplyOfDifferentTablesRuns(t *testing.T) {
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id bigint, name text, qty int)`)
	e.Src(`INSERT INTO items SELECT g, 'item ' || g, g FROM generate_series(1, 200) g`)
	e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int)`)
	e.Dst(`CREATE TABLE other (id bigint PRIMARY KEY, name text, qty int)`)
	makeInsertsSlow(e)
	cfg := e.Config(`
sync "items" {
  source      = source.postgres.src
  query       = "SELECT id, name, qty FROM items"
  destination = destination.postgres.dst
  table       = "items"
  key         = "id"
  behavior    = "update_or_create"
}

sync "other" {
  source      = source.postgres.src
  query       = "SELECT id, name, qty FROM items"
  destination = destination.postgres.dst
  table       = "other"
  key         = "id"
  behavior    = "update_or_create"
}
`)
	pItems, pOther := planOnly(t, cfg, "items"), planOnly(t, cfg, "other")
	a := startApply(context.Background(), cfg, pItems, executor.Options{})
	waitForLockHolder(t, e, "rowform/items", a.done)
	requireApplied(t, apply(t, cfg, pOther, executor.Options{}))
	select {
	case <-a.done:
		t.Errorf("the slow apply ended before the other table's apply; the test proves nothing")
	default:
	}
	requireApplied(t, a.wait(t))
	requireConverged(t, cfg)
}

// writerCase is a concurrent writer that changes the destination while an
// apply runs: at the apply's progress phase `at`, before the statement of
// that phase, it runs sql on a separate session (autocommit).
type writerCase struct {
	name string
	at   string
	sql  string
	// ok: the apply must succeed with exactly the planned counts;
	// otherwise it must fail, without writing anything.
	ok bool
}

// TestConcurrentWriterDuringApply: another session writes planned rows
// while the apply runs, after the apply's diff and before its merge
// statement. The apply either succeeds with exactly the planned counts
// (when the writer touched rows the plan does not write) or fails cleanly,
// leaving the table with only the writer's change: never a wrong count.
func TestConcurrentWriterDuringApply(t *testing.T) {
	// Source: ids 1..100. Destination: ids 51..150; 51..60 differ (updates),
	// 61..100 equal, 101..150 only in the destination (deletes with mirror).
	for _, wc := range []writerCase{
		{"update_a_row_to_update", "updating", `UPDATE items SET name = 'writer' WHERE id = 55`, false},
		{"delete_a_row_to_update", "updating", `DELETE FROM items WHERE id = 55`, false},
		{"insert_a_row_to_insert", "inserting", `INSERT INTO items (id, name, qty) VALUES (7, 'writer', 0)`, false},
		{"update_a_row_to_delete", "deleting", `UPDATE items SET name = 'writer' WHERE id = 120`, false},
		{"delete_a_row_to_delete", "deleting", `DELETE FROM items WHERE id = 120`, false},
		{"update_an_unchanged_row", "updating", `UPDATE items SET qty = -1 WHERE id = 80`, true},
		{"insert_an_unplanned_row", "inserting", `INSERT INTO items (id, name, qty) VALUES (1000, 'writer', 0)`, true},
	} {
		t.Run(wc.name, func(t *testing.T) {
			e := synctest.New(t)
			e.Src(`CREATE TABLE items (id bigint, name text, qty int)`)
			e.Src(`INSERT INTO items SELECT g, 'item ' || g, g FROM generate_series(1, 100) g`)
			e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int, note text DEFAULT 'new')`)
			e.Dst(`INSERT INTO items SELECT g, CASE WHEN g <= 60 THEN 'old' ELSE 'item ' || g END, g, 'kept' FROM generate_series(51, 150) g`)
			cfg := e.Config(`
sync "items" {
  source      = source.postgres.src
  query       = "SELECT id, name, qty FROM items"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "mirror"
  key         = "id"
}
`)
			p := applyable(t, cfg)
			requirePlanned(t, p, planner.Counts{Insert: 50, Update: 10, Delete: 50, Unchanged: 40})

			writer, err := pgx.Connect(context.Background(), synctest.Destination.ConnString(e.DstDB))
			if err != nil {
				t.Fatal(err)
			}
			defer writer.Close(context.Background())
			var once sync.Once
			var writerErr error
			wrote := false
			progress := func(_, phase string, _ int64) {
				if phase != wc.at {
					return
				}
				once.Do(func() {
					ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
					defer cancel()
					if _, writerErr = writer.Exec(ctx, wc.sql); writerErr != nil {
						return
					}
					// What the table must hold if the apply writes nothing.
					_, writerErr = writer.Exec(ctx, `CREATE TABLE expected AS TABLE items`)
					wrote = writerErr == nil
				})
			}
			res := apply(t, cfg, p, executor.Options{Progress: progress})
			if writerErr != nil {
				t.Fatalf("the concurrent writer failed (it must not wait for the apply): %v", writerErr)
			}
			if !wrote {
				t.Fatalf("the apply never reached phase %q:%s", wc.at, describeResult(res))
			}
			r := syncResult(t, res, "items")
			t.Logf("%s: %v", r.Status, r.Err)
			if wc.ok {
				requireApplied(t, res)
				if w := p.Syncs[0].Counts; r.Applied.Insert != w.Insert || r.Applied.Update != w.Update || r.Applied.Delete != w.Delete {
					t.Errorf("applied %+v, planned %+v", r.Applied, w)
				}
				// The writer's change is not undone, and the next plan
				// sees exactly what the writer left.
				p2 := applyable(t, cfg)
				want := planner.Counts{Unchanged: 100}
				if wc.name == "update_an_unchanged_row" {
					want = planner.Counts{Update: 1, Unchanged: 99}
				}
				if wc.name == "insert_an_unplanned_row" {
					want = planner.Counts{Delete: 1, Unchanged: 100}
				}
				if p2.Syncs[0].Counts != want {
					t.Errorf("after the apply the plan is %+v, want %+v", p2.Syncs[0].Counts, want)
				}
				return
			}
			requireFailed(t, res, "items")
			if r.OutcomeUnknown {
				t.Errorf("OutcomeUnknown is set")
			}
			requireSameRows(t, e, "items", "expected")
			// The writer committed after the apply's snapshot, so the
			// apply's own diff cannot see it: the write itself is refused,
			// and the refusal must name the row, say why and that nothing
			// was written, and must not pass for a stale plan.
			msg := fmt.Sprint(r.Err)
			for _, want := range []string{"failed at the row", "the table changed since (another writer)", "nothing was written"} {
				if !strings.Contains(msg, want) {
					t.Errorf("the refusal does not say %q: %v", want, r.Err)
				}
			}
			if errors.Is(r.Err, executor.ErrStale) {
				t.Errorf("a write refused by the server is reported as a stale plan: %v", r.Err)
			}
			applyAndConverge(t, cfg)
		})
	}
}

// TestLockHolderIsInTheSameDatabase: advisory locks are per database, so
// an apply of public.items in another database of the same server neither
// blocks this one nor may be named as its holder. The lock is held here by
// "rowform/holder" and, in another database, by "rowform/other-database";
// the refusal must name the former, every time.
func TestLockHolderIsInTheSameDatabase(t *testing.T) {
	e := synctest.New(t)
	other := synctest.New(t)
	cfg := itemsFixture(t, e, 10)
	other.Dst(`CREATE TABLE items (id bigint PRIMARY KEY)`)
	p := applyable(t, cfg)
	lockHere := func(t *testing.T, db, app string) (*pgx.Conn, int32) {
		t.Helper()
		cc, err := pgx.ParseConfig(synctest.Destination.ConnString(db))
		if err != nil {
			t.Fatal(err)
		}
		cc.RuntimeParams["application_name"] = app
		conn, err := pgx.ConnectConfig(context.Background(), cc)
		if err != nil {
			t.Fatal(err)
		}
		var pid int32
		if err := conn.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(context.Background(), `BEGIN`); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(context.Background(), `SELECT pg_advisory_xact_lock(hashtext('rowform'), hashtext('public.items'))`); err != nil {
			t.Fatal(err)
		}
		return conn, pid
	}
	// A lock of the same table name in another database does not block.
	elsewhere, _ := lockHere(t, other.DstDB, "rowform/other-database")
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	elsewhere.Close(context.Background())

	e.Dst(`UPDATE items SET name = 'changed' WHERE id = 111`)
	p = applyable(t, cfg)
	wrong := 0
	const trials = 20
	for i := 0; i < trials; i++ {
		// Both orders of taking the locks, with new sessions each time.
		var holder, elsewhere *pgx.Conn
		var pid, otherPID int32
		if i%2 == 0 {
			elsewhere, otherPID = lockHere(t, other.DstDB, "rowform/other-database")
			holder, pid = lockHere(t, e.DstDB, "rowform/holder")
		} else {
			holder, pid = lockHere(t, e.DstDB, "rowform/holder")
			elsewhere, otherPID = lockHere(t, other.DstDB, "rowform/other-database")
		}
		res := apply(t, cfg, p, executor.Options{})
		elsewhere.Close(context.Background())
		holder.Close(context.Background())
		r := syncResult(t, res, "items")
		var locked *executor.LockedError
		if !errors.As(r.Err, &locked) {
			t.Fatalf("trial %d: not refused for the lock: %s %v", i, r.Status, r.Err)
		}
		if !strings.Contains(r.Err.Error(), fmt.Sprintf("rowform/holder, pid %d", pid)) {
			wrong++
			if wrong == 1 {
				t.Errorf("the refusal names a holder in another database (pid %d there), not rowform/holder (pid %d):\n  %v", otherPID, pid, r.Err)
			}
		}
	}
	if wrong > 0 {
		t.Errorf("%d of %d refusals named the wrong holder", wrong, trials)
	}
}
