package executor_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/pgconnect"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// The unattended apply (apply -auto-approve without a plan file) plans each
// sync inside its transaction: executor.PlanAndApply.

// planAndApply runs PlanAndApply of cfg under the test timeout and returns,
// besides its plan and result, the plans handed to Planned by sync name.
func planAndApply(t *testing.T, cfg *hclconfig.Config, opts executor.Options) (*planner.Plan, *executor.Result, map[string]*planner.SyncPlan) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	var mu sync.Mutex
	shown := map[string]*planner.SyncPlan{}
	planned := opts.Planned
	opts.Planned = func(sp *planner.SyncPlan) {
		mu.Lock()
		if shown[sp.Name] != nil {
			t.Errorf("sync %q was handed over twice", sp.Name)
		}
		shown[sp.Name] = sp
		mu.Unlock()
		if planned != nil {
			planned(sp)
		}
	}
	p, res, err := executor.PlanAndApply(ctx, cfg, nil, opts)
	if err != nil {
		t.Fatalf("PlanAndApply: %v", err)
	}
	if len(p.Syncs) != len(shown) {
		t.Errorf("the plan has %d syncs, %d were handed over", len(p.Syncs), len(shown))
	}
	for _, sp := range p.Syncs {
		if shown[sp.Name] != sp {
			t.Errorf("the plan's sync %q is not the one handed over", sp.Name)
		}
	}
	return p, res, shown
}

// planJSON renders a sync plan for comparison, without its duration and
// diff strategy (diff_strategy = "auto" chooses from timed reads; every
// strategy makes the same plan).
func planJSON(t *testing.T, sp *planner.SyncPlan) string {
	t.Helper()
	c := *sp
	c.Duration = 0
	c.Strategy, c.StrategyReason, c.StrategyEstimate = "", "", ""
	b, err := json.MarshalIndent(&c, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// requireSamePlans fails unless got holds, for every sync of want, the same
// plan: findings, counts, rows read, change digest and samples.
func requireSamePlans(t *testing.T, got map[string]*planner.SyncPlan, want *planner.Plan) {
	t.Helper()
	for _, w := range want.Syncs {
		g := got[w.Name]
		if g == nil {
			t.Errorf("sync %q was not planned", w.Name)
			continue
		}
		if a, b := planJSON(t, g), planJSON(t, w); a != b {
			t.Errorf("sync %q: the plan made inside the apply differs from plan's:\n%s\nplan's:\n%s", w.Name, a, b)
		}
	}
}

// writeLocks lists the sessions of the test's destination database that
// hold a write lock (RowExclusiveLock or stronger) on a table named table.
func writeLocks(t *testing.T, e *synctest.Env, table string) []string {
	t.Helper()
	return e.DstQuery(`SELECT a.application_name || ' ' || l.mode FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
JOIN pg_class c ON c.oid = l.relation
WHERE a.datname = $1 AND c.relname = $2 AND l.mode NOT IN ('AccessShareLock', 'RowShareLock')`, e.DstDB, table)
}

// TestPlanAndApplyIsThePlan: the unattended apply hands over, for each
// sync, exactly the plan that plan makes of the same rows (counts,
// findings, digest, samples; here every behavior and a sync that skips a
// rejected row), while its transaction is open, holding the table's lock,
// and before it wrote anything; then it writes exactly that plan: the
// applied counts are the plan's, the tables end up as expected row by
// row, and a new plan has nothing to do. Each sync is diffed once.
//
// Not parallel: it counts the diffs of the process.
func TestPlanAndApplyIsThePlan(t *testing.T) {
	e := synctest.New(t)
	kk := synctest.KeyKinds[0]
	e.Src(fmt.Sprintf("CREATE TABLE items (%s, name text, price numeric)", kk.SrcCols))
	var vals []string
	for i := srcFirst; i <= srcLast; i++ {
		vals = append(vals, fmt.Sprintf("(%s, %s, %s)", kk.Key(i), srcName(i), srcPrice(i)))
	}
	e.Src("INSERT INTO items VALUES " + strings.Join(vals, ", "))
	var body strings.Builder
	tables := []string{}
	for _, b := range append(hclconfig.Behaviors, "skip") {
		behavior, nameType, query, extra := string(b), "text", "SELECT * FROM items", ""
		if b == "skip" {
			// Row 5's name is too long for varchar(12): rejected, skipped.
			behavior, nameType, extra = "mirror", "varchar(12)", `on_reject = "skip"`
			query = "SELECT id, CASE WHEN id = " + kk.Key(5) + " THEN name || ' is far too long' ELSE name END AS name, price FROM items"
		}
		table := "items_" + string(b)
		tables = append(tables, table)
		e.Dst(fmt.Sprintf(`CREATE TABLE %s (%s, name %s, price numeric(10,2), note text DEFAULT 'default note', PRIMARY KEY (%s))`, table, kk.DstCols, nameType, kk.KeyCols))
		vals = vals[:0]
		for i := dstFirst; i <= dstLast; i++ {
			vals = append(vals, fmt.Sprintf("(%s, %s, %s, 'note %d')", kk.Key(i), dstName(i), dstPrice(i), i))
		}
		e.Dst(fmt.Sprintf("INSERT INTO %s VALUES %s", table, strings.Join(vals, ", ")))
		eb := hclconfig.Behavior(behavior)
		exp := "expected_" + string(b)
		e.Dst(fmt.Sprintf("CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS)", exp, table))
		vals = vals[:0]
		for i := srcFirst; i <= dstLast; i++ {
			inSrc, inDst := i <= srcLast, i >= dstFirst
			switch {
			case b == "skip" && i == 5: // rejected: stays out
			case inSrc && !inDst && eb.Inserts():
				vals = append(vals, fmt.Sprintf("(%s, %s, %s, 'default note')", kk.Key(i), srcName(i), srcPrice(i)))
			case inSrc && inDst && eb.Updates():
				vals = append(vals, fmt.Sprintf("(%s, %s, %s, 'note %d')", kk.Key(i), srcName(i), srcPrice(i), i))
			case inDst && (inSrc || !eb.Deletes()):
				vals = append(vals, fmt.Sprintf("(%s, %s, %s, 'note %d')", kk.Key(i), dstName(i), dstPrice(i), i))
			}
		}
		e.Dst(fmt.Sprintf("INSERT INTO %s VALUES %s", exp, strings.Join(vals, ", ")))
		fmt.Fprintf(&body, `
sync "%s" {
  source      = source.postgres.src
  query       = "%s"
  destination = destination.postgres.dst
  table       = "%s"
  behavior    = "%s"
  key         = %s
  mapping = {
%s    name  = "name"
    price = "price"
  }
  %s
}
`, b, query, table, behavior, kk.KeyList, synctest.MappingFor(kk.KeyCols), extra)
	}
	cfg := e.Config(body.String())
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	want, err := planner.Compute(ctx, cfg, planner.Options{ShowRows: 3})
	if err != nil {
		t.Fatal(err)
	}
	if !want.Applyable {
		t.Fatalf("the plan has errors")
	}
	if skip := want.Syncs[len(want.Syncs)-1]; skip.Name != "skip" || skip.Counts.Reject != 1 {
		t.Fatalf("the plan of sync skip: %+v\n%s", skip.Counts, synctest.FindingsText(skip))
	}

	diffs := planner.DiffsStarted()
	inTransaction := map[string]bool{}
	var mu sync.Mutex
	p, res, shown := planAndApply(t, cfg, executor.Options{ShowRows: 3, Planned: func(sp *planner.SyncPlan) {
		// Inside the sync's transaction: it holds the table's lock and
		// has written nothing yet.
		mu.Lock()
		defer mu.Unlock()
		app := pgconnect.ApplicationName(sp.Name)
		locks := e.DstQuery(`SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted AND a.datname = $1 AND a.application_name = $2`, e.DstDB, app)
		w := writeLocks(t, e, "items_"+sp.Name)
		inTransaction[sp.Name] = locks[0] == "1" && len(w) == 0
		if !inTransaction[sp.Name] {
			t.Errorf("sync %q handed over with %s advisory locks held by %s and write locks %v", sp.Name, locks[0], app, w)
		}
	}})
	if got := planner.DiffsStarted() - diffs; got != int64(len(want.Syncs)) {
		t.Errorf("the apply of %d syncs started %d diffs, want one per sync", len(want.Syncs), got)
	}
	requireSamePlans(t, shown, want)
	if p.Summary != want.Summary || !p.Applyable {
		t.Errorf("plan summary %+v (applyable %v), want %+v", p.Summary, p.Applyable, want.Summary)
	}
	requireApplied(t, res)
	for i, r := range res.Syncs {
		sp := want.Syncs[i]
		if r.Name != sp.Name {
			t.Fatalf("result %d is %s, want %s", i, r.Name, sp.Name)
		}
		w := sp.Counts
		w.Unchanged, w.Skipped = r.Applied.Unchanged, r.Applied.Skipped
		if r.Applied != w {
			t.Errorf("%s: applied %+v, the plan shown %+v", r.Name, r.Applied, sp.Counts)
		}
		if int64(len(rejectedRows(t, r))) != sp.Counts.Reject {
			t.Errorf("%s: %d rejected rows reported, the plan has %d", r.Name, r.Rejected.Len(), sp.Counts.Reject)
		}
	}
	for _, table := range tables {
		requireSameRows(t, e, table, "expected_"+strings.TrimPrefix(table, "items_"))
	}
	p2 := plan(t, cfg)
	for _, sp := range p2.Syncs {
		if sp.Counts.Changes() != 0 {
			t.Errorf("%s: after the apply the plan still has %+v", sp.Name, sp.Counts)
		}
	}
}

// TestPlanAndApplyRefusesPlanErrors: a sync whose plan, made inside the
// transaction, has an error finding — a crossed guard, a duplicate source
// key, a row the destination would refuse with on_reject = "fail", no
// unique key — is handed over with that finding and its counts, as plan
// shows it, and writes nothing: a trigger that fails any write never
// fires, and the table is as it was. The sync fails saying why.
func TestPlanAndApplyRefusesPlanErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, table, query, extra string
		code                      planner.Code
	}{
		{"guard", "items (id bigint PRIMARY KEY, name varchar(20))", "SELECT id, name FROM items", "guard {\n    max_deletes = 2\n  }", planner.CodeGuardExceeded},
		{"duplicate_key", "items (id bigint PRIMARY KEY, name varchar(20))", "SELECT id, name FROM items UNION ALL SELECT 3, 'again'", "", planner.CodeDuplicateSourceKey},
		{"rejected_row", "items (id bigint PRIMARY KEY, name varchar(20))", "SELECT id, CASE WHEN id = 3 THEN repeat('x', 30) ELSE name END AS name FROM items", "", planner.CodeRejectedRows},
		{"no_unique_key", "items (id bigint, name varchar(20))", "SELECT id, name FROM items", "", planner.CodeMissingUniqueConstraint},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := synctest.New(t)
			e.Src(`CREATE TABLE items (id bigint, name text)`)
			e.Src(`INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 20) g`)
			e.Dst(`CREATE TABLE ` + tc.table)
			e.Dst(`INSERT INTO items SELECT g, CASE WHEN g <= 15 THEN 'stale' ELSE 'n' || g END FROM generate_series(11, 25) g`)
			e.Dst(`CREATE FUNCTION no_write() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the refused sync wrote'; END $$`)
			e.Dst(`CREATE TRIGGER no_write BEFORE INSERT OR UPDATE OR DELETE ON items FOR EACH STATEMENT EXECUTE FUNCTION no_write()`)
			before := e.DstDigest("items")
			cfg := e.Config(fmt.Sprintf(`
sync "items" {
  source      = source.postgres.src
  query       = %q
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "mirror"
  key         = ["id"]
  %s
}
`, tc.query, tc.extra))
			want := plan(t, cfg)
			p, res, shown := planAndApply(t, cfg, executor.Options{})
			requireSamePlans(t, shown, want)
			sp := shown["items"]
			if sp == nil || !sp.HasErrors() || p.Applyable {
				t.Fatalf("the plan handed over has no error")
			}
			found := false
			for _, f := range sp.Findings {
				found = found || (f.Code == tc.code && f.Severity == planner.SeverityError)
			}
			if !found {
				t.Errorf("the plan has no %s error:\n%s", tc.code, synctest.FindingsText(sp))
			}
			if tc.code != planner.CodeDuplicateSourceKey && (!sp.Diffed || sp.Counts.Changes() == 0) {
				t.Errorf("the refused plan shows no counts: diffed %v, %+v", sp.Diffed, sp.Counts)
			}
			requireFailed(t, res, "items", string(tc.code), "nothing was written")
			if got := e.DstDigest("items"); got != before {
				t.Errorf("the refused sync changed the table")
			}
		})
	}
}

// TestPlanAndApplyRefusedSyncSkipsDependents: a sync refused for its plan
// (a crossed guard) fails and writes nothing; the sync that depends on it
// is skipped without being planned (it reads nothing); an independent sync
// is planned and applied.
func TestPlanAndApplyRefusedSyncSkipsDependents(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE src (id int, name text)`)
	e.Src(`INSERT INTO src SELECT g, 'n' || g FROM generate_series(1, 50) g`)
	for _, n := range []string{"a", "b", "d"} {
		e.Dst(fmt.Sprintf(`CREATE TABLE %s (id int PRIMARY KEY, name text)`, n))
	}
	cfg := e.Config(tableSync("b", `depends_on = [sync.a]`) + tableSync("a", "guard {\n    min_source_rows = 1000\n  }") + tableSync("d", ""))
	p, res, shown := planAndApply(t, cfg, executor.Options{})
	requireFailed(t, res, "a", "guard_exceeded", "min_source_rows", "nothing was written")
	if r := syncResult(t, res, "b"); r.Status != executor.StatusSkipped || !strings.Contains(fmt.Sprint(r.Err), `sync "a"`) {
		t.Errorf("b: status %s, err %v; want skipped because of a", r.Status, r.Err)
	}
	if r := syncResult(t, res, "d"); r.Status != executor.StatusApplied || r.Applied.Insert != 50 {
		t.Errorf("d: status %s, applied %+v, err %v", r.Status, r.Applied, r.Err)
	}
	if shown["b"] != nil || shown["a"] == nil || shown["d"] == nil {
		t.Errorf("planned syncs: %v; want a and d", keys(shown))
	}
	if p.Applyable || p.Summary.Syncs != 2 || p.Summary.Insert != 100 {
		t.Errorf("plan summary %+v, applyable %v", p.Summary, p.Applyable)
	}
	for table, want := range map[string]string{"a": "0", "b": "0", "d": "50"} {
		if n := e.DstQuery(`SELECT count(*) FROM ` + table)[0]; n != want {
			t.Errorf("%s has %s rows, want %s", table, n, want)
		}
	}
}

func keys[V any](m map[string]V) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestPlanAndApplyTakesLockBeforeReading: while another apply of the table
// holds its lock, the unattended apply waits without reading anything (no
// diff starts, nothing is handed over); the other apply changes rows and
// commits; the plan then made is of the rows as that apply left them, and
// is what gets written.
//
// Not parallel: it counts the diffs of the process, and the lock holder's
// lookup does not filter by database.
func TestPlanAndApplyTakesLockBeforeReading(t *testing.T) {
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id bigint, name text)`)
	e.Src(`INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 20) g`)
	e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name text)`)
	e.Dst(`INSERT INTO items SELECT g, CASE WHEN g <= 15 THEN 'stale' ELSE 'n' || g END FROM generate_series(11, 25) g`)
	cfg := e.Config(`
sync "items" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM items"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "mirror"
  key         = ["id"]
}
`)
	if got := plan(t, cfg).Syncs[0].Counts; got.Insert != 10 || got.Update != 5 || got.Delete != 5 {
		t.Fatalf("planned %+v", got)
	}
	ctx := context.Background()
	if _, err := e.DstConn().Exec(ctx, `BEGIN`); err != nil {
		t.Fatal(err)
	}
	// Another apply of the table: it holds the lock and fixes the stale
	// rows and deletes the extra ones, uncommitted.
	e.Dst(`SELECT pg_advisory_xact_lock(hashtext('rowform'), hashtext('public.items'))`)
	e.Dst(`UPDATE items SET name = 'n' || id WHERE id <= 15`)
	e.Dst(`DELETE FROM items WHERE id > 20`)

	diffs := planner.DiffsStarted()
	waiting := make(chan struct{})
	var once sync.Once
	var mu sync.Mutex
	var shown []*planner.SyncPlan
	type outcome struct {
		p   *planner.Plan
		res *executor.Result
	}
	done := make(chan outcome, 1)
	go func() {
		actx, cancel := context.WithTimeout(ctx, testTimeout)
		defer cancel()
		p, res, err := executor.PlanAndApply(actx, cfg, nil, executor.Options{LockTimeout: time.Minute,
			Progress: func(_, phase string, rows int64) {
				if rows < 0 && strings.HasPrefix(phase, "waiting for the lock") {
					once.Do(func() { close(waiting) })
				}
			},
			Planned: func(sp *planner.SyncPlan) {
				mu.Lock()
				shown = append(shown, sp)
				mu.Unlock()
			}})
		if err != nil {
			t.Errorf("PlanAndApply: %v", err)
		}
		done <- outcome{p, res}
	}()
	select {
	case <-waiting:
	case o := <-done:
		t.Fatalf("the apply did not wait for the lock: %s", describeResult(o.res))
	case <-time.After(time.Minute):
		t.Fatal("the apply never waited for the lock")
	}
	time.Sleep(300 * time.Millisecond)
	mu.Lock()
	if len(shown) != 0 {
		t.Errorf("a plan was handed over while another apply held the lock")
	}
	mu.Unlock()
	if got := planner.DiffsStarted() - diffs; got != 0 {
		t.Errorf("%d diffs started while another apply held the lock", got)
	}
	e.Dst(`COMMIT`)
	var o outcome
	select {
	case o = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the apply did not finish once the lock was free")
	}
	requireApplied(t, o.res)
	if got := planner.DiffsStarted() - diffs; got != 1 {
		t.Errorf("the apply started %d diffs, want 1", got)
	}
	if len(shown) != 1 {
		t.Fatalf("%d plans handed over, want 1", len(shown))
	}
	if got := shown[0].Counts; got.Insert != 10 || got.Update != 0 || got.Delete != 0 || got.Unchanged != 10 {
		t.Errorf("the plan made after the other apply committed: %+v; want 10 inserts and nothing else", got)
	}
	if got := o.res.Syncs[0].Applied; got.Insert != 10 || got.Changes() != 10 {
		t.Errorf("applied %+v", got)
	}
	requireConverged(t, cfg)
}

// TestPlanAndApplyDependsOnAndMaxConnections: the unattended apply runs
// its syncs as Apply does. c depends on b, b on a, d on nothing; with
// max_connections = 1 on the destination there is never more than one
// rowform session on it; each dependent is planned and written only after
// what it depends on committed (a trigger on b and c fails unless the
// table it depends on is full), so its plan sees that table as committed.
func TestPlanAndApplyDependsOnAndMaxConnections(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE src (id int, name text)`)
	e.Src(`INSERT INTO src SELECT g, 'n' || g FROM generate_series(1, 100) g`)
	for _, n := range []string{"a", "b", "c", "d"} {
		e.Dst(fmt.Sprintf(`CREATE TABLE %s (id int PRIMARY KEY, name text)`, n))
	}
	e.Dst(`CREATE FUNCTION require_filled() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM %I', TG_ARGV[0]) INTO n;
  IF n <> 100 THEN RAISE EXCEPTION '% written before % was committed (% rows seen)', TG_TABLE_NAME, TG_ARGV[0], n; END IF;
  RETURN NULL;
END $$`)
	e.Dst(`CREATE TRIGGER after_a BEFORE INSERT ON b FOR EACH STATEMENT EXECUTE FUNCTION require_filled('a')`)
	e.Dst(`CREATE TRIGGER after_b BEFORE INSERT ON c FOR EACH STATEMENT EXECUTE FUNCTION require_filled('b')`)
	d := synctest.Destination
	cfg := configFor(t, e, d.Port, e.DstDB, e.DstUser, e.DstPassword, 1,
		tableSync("c", `depends_on = [sync.b]`)+tableSync("d", "")+tableSync("b", `depends_on = [sync.a]`)+tableSync("a", ""))
	var mu sync.Mutex
	var order []string
	s := sampleSessions(t, d.ConnString(e.DstDB), e.DstDB)
	_, res, _ := planAndApply(t, cfg, executor.Options{Planned: func(sp *planner.SyncPlan) {
		mu.Lock()
		order = append(order, sp.Name)
		mu.Unlock()
	}})
	s.finish(t)
	requireApplied(t, res)
	for _, r := range res.Syncs {
		if r.Applied.Insert != 100 {
			t.Errorf("%s: applied %+v, want 100 inserts", r.Name, r.Applied)
		}
	}
	pos := map[string]int{}
	for i, n := range order {
		pos[n] = i
	}
	if len(order) != 4 || pos["a"] > pos["b"] || pos["b"] > pos["c"] {
		t.Errorf("planned in the order %v; a must come before b, b before c", order)
	}
	if s.seen == 0 {
		t.Fatalf("the sampler never saw a rowform session; the test proves nothing")
	}
	if s.max > 1 {
		t.Errorf("with max_connections = 1, %d rowform sessions were on the destination at once:\n  %s", s.max, strings.Join(s.maxSeen, "\n  "))
	}
	requireConverged(t, cfg)
}
