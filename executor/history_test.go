package executor_test

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/history"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// The run history (history.go, docs/history.md).

// historyConfig writes main.hcl with the test's servers, dstAttrs added to
// the destination block, and body, and loads it.
func historyConfig(t *testing.T, e *synctest.Env, dstAttrs, body string) *hclconfig.Config {
	t.Helper()
	servers := strings.Replace(e.Servers(), "max_connections = 2\n", "max_connections = 2\n"+dstAttrs+"\n", 1)
	e.WriteFile("main.hcl", servers+body)
	cfg, diags := hclconfig.Load(e.Dir, hclconfig.Inputs{Environ: e.Environ})
	if diags.HasErrors() {
		t.Fatalf("configuration does not load: %s", diags.Error())
	}
	return cfg
}

// accountsFixture is the table of the history and undo tests: a composite
// key, NULLs, jsonb, numeric scales, arrays, timestamps, a sensitive
// column and an unmapped one. The mirror inserts 3 rows (eu 10..12),
// updates 4 (eu 2: name, eu 3: balance 1.5 -> 2.250, eu 4: meta to NULL,
// us 1: several columns), deletes 3 (eu 7, us 8, us 9) and leaves 2
// alone.
const accountsSrc = `
CREATE TABLE accounts (region text, id int, name text, balance numeric, meta jsonb, tags text[], seen timestamptz, secret text);
INSERT INTO accounts VALUES
  ('eu', 1, 'Ada',   10.5,  '{"a": 1}', '{x,y}', '2024-01-01 10:00+00', 's1'),
  ('eu', 2, 'Bob2',  20,    NULL,       NULL,    NULL,                  's2'),
  ('eu', 3, 'Cy',    2.25,  '{"b": [1, 2.50]}', '{}', '2024-02-02 00:00:00.123456+00', 's3'),
  ('eu', 4, 'Di',    0,     NULL,       '{"a b",NULL}', NULL,           NULL),
  ('us', 1, 'Ed!',   -1.001, '{"c": null}', '{z}', '1999-12-31 23:59:59+00', 'new secret'),
  ('us', 2, NULL,    NULL,  NULL,       NULL,    NULL,                  NULL),
  ('eu', 10, 'New1', 1.1,  '[]',       '{}',    '2024-03-03 03:03+00',  's10'),
  ('eu', 11, 'New2', NULL, '"str"',    NULL,    NULL,                  NULL),
  ('eu', 12, 'New3', 100,  '{"deep": {"x": [true, false]}}', '{q}', NULL, 's12');
`

const accountsDst = `
CREATE TABLE accounts (region text, id int, name text, balance numeric(12,3), meta jsonb, tags text[], seen timestamptz,
  secret text, note text DEFAULT 'default note', PRIMARY KEY (region, id));
INSERT INTO accounts VALUES
  ('eu', 1, 'Ada',   10.5,  '{"a": 1}', '{x,y}', '2024-01-01 10:00+00', 's1', 'n1'),
  ('eu', 2, 'Bob',   20,    NULL,       NULL,    NULL,                  's2', 'n2'),
  ('eu', 3, 'Cy',    1.5,   '{"b": [1, 2.50]}', '{}', '2024-02-02 00:00:00.123456+00', 's3', NULL),
  ('eu', 4, 'Di',    0,     '{"gone": 1}', '{"a b",NULL}', NULL,         NULL, 'n4'),
  ('us', 1, 'Ed',    -1,    '{"c": 1}', '{y}',   '2000-01-01 00:00+00', 'old secret', 'n5'),
  ('us', 2, NULL,    NULL,  NULL,       NULL,    NULL,                  NULL, NULL),
  ('eu', 7, 'Gone',  7.125, '{"z": 0}', '{a}',   '2023-07-07 07:07+00', 's7', 'note 7'),
  ('us', 8, NULL,    NULL,  NULL,       NULL,    NULL,                  NULL, 'note 8'),
  ('us', 9, 'Nine',  9,     '[9]',      '{}',    NULL,                  's9', NULL);
`

const accountsSync = `
sync "accounts" {
  source            = source.postgres.src
  query             = "SELECT region, id, name, balance, meta, tags, seen, secret FROM accounts"
  destination       = destination.postgres.dst
  table             = "accounts"
  behavior          = "mirror"
  key               = ["region", "id"]
  sensitive_columns = ["secret"]
}
`

var accountsCounts = planner.Counts{Insert: 3, Update: 4, Delete: 3, Unchanged: 2}

// accountsEnv sets up the accounts tables; dstAttrs go into the
// destination block.
func accountsEnv(t *testing.T, dstAttrs string) (*synctest.Env, *hclconfig.Config) {
	t.Helper()
	e := synctest.New(t)
	e.Src(accountsSrc)
	e.Dst(accountsDst)
	e.Environ = append(e.Environ, "ROWFORM_ACTOR=tester")
	return e, historyConfig(t, e, dstAttrs, accountsSync)
}

// runRow is one row of rowform.runs as text.
func runsOf(t *testing.T, e *synctest.Env, schema string) []string {
	t.Helper()
	return e.DstQuery(fmt.Sprintf(`SELECT concat_ws(' | ', id, sync, table_name, destination, status, inserted, updated, deleted, rejected,
  actor, rowform_version, coalesce(undo_of::text, '-'), key_count, columns::text, coalesce(error, '-'), finished_at >= started_at)
FROM %s.runs ORDER BY id`, schema))
}

// TestHistoryRecordsEachApply: an apply records its run, in its
// transaction, with what undoing it needs: the whole row before for
// deletes (unmapped columns too), the changed columns before for updates,
// the keys for inserts. Both applies (of a plan file and unattended) do.
func TestHistoryRecordsEachApply(t *testing.T) {
	e, cfg := accountsEnv(t, "")
	p := applyable(t, cfg)
	if got := p.Syncs[0].Counts; got != accountsCounts {
		t.Fatalf("planned %+v, want %+v", got, accountsCounts)
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{Environ: e.Environ, Version: "v9.9.9"}))

	runs := runsOf(t, e, "rowform")
	want := "1 | accounts | public.accounts | postgres.dst | applied | 3 | 4 | 3 | 0 | tester | v9.9.9 | - | 2 | {region,id,name,balance,meta,tags,seen,secret} | - | t"
	if len(runs) != 1 || runs[0] != want {
		t.Fatalf("runs:\n  %s\nwant\n  %s", strings.Join(runs, "\n  "), want)
	}
	digests := e.DstQuery(`SELECT plan_digest || ' ' || config_digest FROM rowform.runs`)
	if digests[0] != p.Syncs[0].ChangeDigest+" "+cfg.Digest {
		t.Errorf("digests %q, want the plan's %s and the configuration's %s", digests[0], p.Syncs[0].ChangeDigest, cfg.Digest)
	}
	rows := e.DstQuery(`SELECT concat_ws(' | ', kind, key::text, coalesce(changed::text, '-'), coalesce(before::text, '-'), after_hash IS NOT NULL)
FROM rowform.run_rows WHERE run_id = 1 ORDER BY kind, key`)
	wantRows := []string{
		`+ | {eu,10} | - | - | t`,
		`+ | {eu,11} | - | - | t`,
		`+ | {eu,12} | - | - | t`,
		`- | {eu,7} | - | {eu,7,Gone,7.125,"{\"z\": 0}","{a}","2023-07-07 07:07:00+00",s7,"note 7"} | f`,
		`- | {us,8} | - | {us,8,NULL,NULL,NULL,NULL,NULL,NULL,"note 8"} | f`,
		`- | {us,9} | - | {us,9,Nine,9.000,[9],"{}",NULL,s9,NULL} | f`,
		`~ | {eu,2} | {3} | {NULL,NULL,Bob,NULL,NULL,NULL,NULL,NULL} | t`,
		`~ | {eu,3} | {4} | {NULL,NULL,NULL,1.500,NULL,NULL,NULL,NULL} | t`,
		`~ | {eu,4} | {5} | {NULL,NULL,NULL,NULL,"{\"gone\": 1}",NULL,NULL,NULL} | t`,
		`~ | {us,1} | {3,4,5,6,7,8} | {NULL,NULL,Ed,-1.000,"{\"c\": 1}","{y}","2000-01-01 00:00:00+00","old secret"} | t`,
	}
	if strings.Join(rows, "\n") != strings.Join(wantRows, "\n") {
		t.Errorf("run_rows:\n  %s\nwant\n  %s", strings.Join(rows, "\n  "), strings.Join(wantRows, "\n  "))
	}

	// The unattended apply records its run too.
	e.Src(`UPDATE accounts SET name = 'Ada L' WHERE id = 1 AND region = 'eu'`)
	_, res, _ := planAndApply(t, cfg, executor.Options{Environ: e.Environ})
	requireApplied(t, res)
	runs = runsOf(t, e, "rowform")
	if len(runs) != 2 || !strings.HasPrefix(runs[1], "2 | accounts | public.accounts | postgres.dst | applied | 0 | 1 | 0 | 0 | tester") {
		t.Fatalf("runs after the unattended apply:\n  %s", strings.Join(runs, "\n  "))
	}
	if got := e.DstQuery(`SELECT count(*) FROM rowform.run_rows WHERE run_id = 2`)[0]; got != "1" {
		t.Errorf("the unattended apply recorded %s rows, want 1", got)
	}
	// An apply with nothing to write records nothing.
	_, res, _ = planAndApply(t, cfg, executor.Options{Environ: e.Environ})
	requireApplied(t, res)
	if runs = runsOf(t, e, "rowform"); len(runs) != 2 {
		t.Errorf("an apply without changes recorded a run:\n  %s", strings.Join(runs, "\n  "))
	}
	if got := e.DstQuery(`SELECT max(version) FROM rowform.layout`)[0]; got != "2" {
		t.Errorf("layout version %s", got)
	}
}

// TestHistoryInitialLoad: the initial load (straight into one COPY)
// records the keys of every row it inserted.
func TestHistoryInitialLoad(t *testing.T) {
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id bigint, name text)`)
	e.Src(`INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 500) g`)
	e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name text)`)
	cfg := e.Config(`
sync "items" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM items"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "mirror"
  key         = "id"
}`)
	p := applyable(t, cfg)
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := e.DstQuery(`SELECT count(*) || ' ' || count(DISTINCT key) || ' ' || min(kind) || ' ' || max(kind) FROM rowform.run_rows WHERE run_id = 1`)[0]; got != "500 500 + +" {
		t.Errorf("the load recorded %s", got)
	}
	if runs := runsOf(t, e, "rowform"); len(runs) != 1 || !strings.Contains(runs[0], "| applied | 500 | 0 | 0 | 0 |") {
		t.Errorf("runs:\n  %s", strings.Join(runs, "\n  "))
	}
}

// TestHistoryFailedApply: an apply that fails records a failed run, with
// its error (secrets redacted), and nothing of the changes it rolled back.
func TestHistoryFailedApply(t *testing.T) {
	e, cfg := accountsEnv(t, "")
	// The trigger's message quotes the destination's password: a secret of
	// the configuration, which the record must not hold.
	e.Dst(fmt.Sprintf(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'refused by a trigger (%s)'; END $$`, synctest.Destination.Password))
	e.Dst(`CREATE TRIGGER refuse BEFORE INSERT ON accounts FOR EACH ROW EXECUTE FUNCTION refuse()`)
	before := e.DstDigest("accounts")
	p := applyable(t, cfg)
	// The sync has sensitive columns: a trigger's message, which could
	// quote their values, is not shown, only its SQLSTATE.
	if r := apply(t, cfg, p, executor.Options{Environ: e.Environ}).Syncs[0]; r.Status != executor.StatusFailed || !strings.Contains(r.Err.Error(), "message is not shown") || !strings.Contains(r.Err.Error(), "P0001") {
		t.Fatalf("the apply did not fail on the trigger: %s %v", r.Status, r.Err)
	}
	if got := e.DstDigest("accounts"); got != before {
		t.Errorf("accounts changed although the apply failed")
	}
	runs := runsOf(t, e, "rowform")
	if len(runs) != 1 || !strings.Contains(runs[0], " | accounts | public.accounts | postgres.dst | failed | 0 | 0 | 0 | 0 | tester") ||
		!strings.Contains(runs[0], "message is not shown") || strings.Contains(runs[0], "refused by a trigger") {
		t.Fatalf("runs:\n  %s", strings.Join(runs, "\n  "))
	}
	if strings.Contains(runs[0], synctest.Destination.Password) {
		t.Errorf("the failed run records the password")
	}
	if got := e.DstQuery(`SELECT count(*) FROM rowform.run_rows`)[0]; got != "0" {
		t.Errorf("the failed apply recorded %s rows of its changes", got)
	}
	// Its plan digest is the plan's.
	if got := e.DstQuery(`SELECT plan_digest FROM rowform.runs`)[0]; got != p.Syncs[0].ChangeDigest {
		t.Errorf("plan digest %q", got)
	}
	e.Dst(`DROP TRIGGER refuse ON accounts`)
	requireApplied(t, apply(t, cfg, p, executor.Options{Environ: e.Environ}))
	if runs := runsOf(t, e, "rowform"); len(runs) != 2 || !strings.Contains(runs[1], "| applied | 3 | 4 | 3 |") {
		t.Errorf("runs:\n  %s", strings.Join(runs, "\n  "))
	}
}

// TestHistoryConcurrentApplies: two applies at once, into a database that
// has no history yet, each create what they need without tripping over
// each other and record their own run.
func TestHistoryConcurrentApplies(t *testing.T) {
	e := synctest.New(t)
	var body strings.Builder
	for _, name := range []string{"a", "b", "c"} {
		e.Src(fmt.Sprintf(`CREATE TABLE %[1]s (id int, v text); INSERT INTO %[1]s SELECT g, '%[1]s' || g FROM generate_series(1, 200) g`, name))
		e.Dst(fmt.Sprintf(`CREATE TABLE %[1]s (id int PRIMARY KEY, v text); INSERT INTO %[1]s SELECT g, 'old' FROM generate_series(100, 300) g`, name))
		fmt.Fprintf(&body, `
sync %[1]q {
  source      = source.postgres.src
  query       = "SELECT id, v FROM %[1]s"
  destination = destination.postgres.dst
  table       = %[1]q
  behavior    = "mirror"
  key         = "id"
}
`, name)
	}
	cfg := historyConfig(t, e, "", body.String())
	p := applyable(t, cfg)
	var wg sync.WaitGroup
	results := make([]*executor.Result, len(p.Syncs))
	for i, sp := range p.Syncs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			one := &planner.Plan{Syncs: []*planner.SyncPlan{sp}}
			one.Finish()
			ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
			defer cancel()
			results[i] = executor.Apply(ctx, cfg, one, executor.Options{})
		}()
	}
	wg.Wait()
	for _, res := range results {
		requireApplied(t, res)
	}
	got := e.DstQuery(`SELECT r.sync || ' ' || r.inserted || ' ' || r.updated || ' ' || r.deleted || ' ' || (SELECT count(*) FROM rowform.run_rows x WHERE x.run_id = r.id)
FROM rowform.runs r ORDER BY r.sync`)
	want := []string{"a 99 101 100 300", "b 99 101 100 300", "c 99 101 100 300"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("runs: %v, want %v", got, want)
	}
}

// TestHistoryRetentionOfFailedRuns: a failed run counts among the
// history_keep runs and prunes as an applied one does: a sync that keeps
// failing does not grow the history without bound (before, the runs beyond
// history_keep were pruned by the next apply that succeeded only).
func TestHistoryRetentionOfFailedRuns(t *testing.T) {
	e, cfg := accountsEnv(t, "history_keep = 2")
	requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{Environ: e.Environ}))
	e.Dst(`UPDATE accounts SET name = name || '!'`)
	e.Dst(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused'; END $$;
CREATE TRIGGER refuse BEFORE UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION refuse()`)
	for i := 0; i < 3; i++ {
		if r := apply(t, cfg, applyable(t, cfg), executor.Options{Environ: e.Environ}).Syncs[0]; r.Status != executor.StatusFailed {
			t.Fatalf("apply %d: %s %v", i, r.Status, r.Err)
		}
	}
	if got := strings.Join(e.DstQuery(`SELECT status FROM rowform.runs ORDER BY id`), ", "); got != "failed, failed" {
		t.Errorf("runs: %s", got)
	}
	if got := e.DstQuery(`SELECT count(*) FROM rowform.run_rows`)[0]; got != "0" {
		t.Errorf("the pruned applied run left %s rows", got)
	}
}

// TestHistoryRetention: history_keep runs of each sync are kept; the
// apply that records a new one prunes the oldest, with their rows.
func TestHistoryRetention(t *testing.T) {
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id int, v int); INSERT INTO items SELECT g, 0 FROM generate_series(1, 10) g`)
	e.Src(`CREATE TABLE other (id int, v int); INSERT INTO other VALUES (1, 1)`)
	e.Dst(`CREATE TABLE items (id int PRIMARY KEY, v int)`)
	e.Dst(`CREATE TABLE other (id int PRIMARY KEY, v int)`)
	cfg := historyConfig(t, e, "history_keep = 2", `
sync "items" {
  source      = source.postgres.src
  query       = "SELECT id, v FROM items"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "mirror"
  key         = "id"
}
sync "other" {
  source      = source.postgres.src
  query       = "SELECT id, v FROM other"
  destination = destination.postgres.dst
  table       = "other"
  behavior    = "mirror"
  key         = "id"
}`)
	for i := 1; i <= 4; i++ {
		if i > 1 {
			e.Src(fmt.Sprintf(`UPDATE items SET v = %d WHERE id <= %d`, i, i))
		}
		_, res, _ := planAndApply(t, cfg, executor.Options{})
		requireApplied(t, res)
	}
	got := e.DstQuery(`SELECT r.sync || ' ' || r.updated || ' ' || (SELECT count(*) FROM rowform.run_rows x WHERE x.run_id = r.id) FROM rowform.runs r ORDER BY r.sync, r.id`)
	// items: runs of 10 inserts, 2, 3 and 4 updates; other: 1 insert.
	want := []string{"items 3 3", "items 4 4", "other 0 1"}
	if strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("runs kept: %v, want %v", got, want)
	}
	if n := e.DstQuery(`SELECT count(*) FROM rowform.run_rows WHERE run_id NOT IN (SELECT id FROM rowform.runs)`)[0]; n != "0" {
		t.Errorf("%s rows of pruned runs are left", n)
	}
}

// TestHistoryRetentionKeepsTheNewRun: with history_keep = 1, a run
// written into the history by hand with a higher id does not make the
// apply prune the run it has just recorded, which stays undoable.
func TestHistoryRetentionKeepsTheNewRun(t *testing.T) {
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id int, v int); INSERT INTO items SELECT g, 0 FROM generate_series(1, 10) g`)
	e.Dst(`CREATE TABLE items (id int PRIMARY KEY, v int)`)
	cfg := historyConfig(t, e, "history_keep = 1", `
sync "items" {
  source      = source.postgres.src
  query       = "SELECT id, v FROM items"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "mirror"
  key         = "id"
}`)
	_, res, _ := planAndApply(t, cfg, executor.Options{})
	requireApplied(t, res)
	e.Dst(`CREATE TEMP TABLE planted AS SELECT * FROM rowform.runs; UPDATE planted SET id = 5000; INSERT INTO rowform.runs SELECT * FROM planted`)
	e.Src(`UPDATE items SET v = 1 WHERE id <= 3`)
	_, res, _ = planAndApply(t, cfg, executor.Options{})
	requireApplied(t, res)
	got := e.DstQuery(`SELECT id || ' ' || updated FROM rowform.runs WHERE id <> 5000 ORDER BY id`)
	if len(got) != 1 || !strings.HasSuffix(got[0], " 3") {
		t.Errorf("runs besides the planted one: %v, want the new run of 3 updates", got)
	}
}

// TestHistoryRetentionDropsRunTables: pruning a run that kept its rows in
// a table of its own drops the table; the runs kept keep theirs.
func TestHistoryRetentionDropsRunTables(t *testing.T) {
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id int, v int); INSERT INTO items SELECT g, 0 FROM generate_series(1, 10) g`)
	e.Dst(`CREATE TABLE items (id int PRIMARY KEY, v int)`)
	cfg := historyConfig(t, e, "history_keep = 2", `
sync "items" {
  source      = source.postgres.src
  query       = "SELECT id, v FROM items"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "mirror"
  key         = "id"
}`)
	opts := executor.WithBulkHistoryRows(executor.Options{}, 3)
	for i := 1; i <= 4; i++ {
		if i > 1 {
			e.Src(fmt.Sprintf(`UPDATE items SET v = %d WHERE id <= %d`, i, i))
		}
		_, res, _ := planAndApply(t, cfg, opts)
		requireApplied(t, res)
	}
	// Runs of 10 inserts, 2, 3 and 4 updates: the last two kept, each with
	// its table (3 rows and more), and the tables of the first two dropped.
	got := e.DstQuery(`SELECT r.id || ' ' || r.updated || ' ' || r.rows_table || ' ' || (to_regclass('rowform.run_rows_' || r.id) IS NOT NULL) FROM rowform.runs r ORDER BY r.id`)
	if want := []string{"3 3 true true", "4 4 true true"}; strings.Join(got, ", ") != strings.Join(want, ", ") {
		t.Errorf("runs kept: %v, want %v", got, want)
	}
	if got := e.DstQuery(`SELECT string_agg(relname, ' ' ORDER BY relname) FROM pg_class WHERE relnamespace = 'rowform'::regnamespace AND relname LIKE 'run_rows_%'`)[0]; got != "run_rows_3 run_rows_4 run_rows_run_id" {
		t.Errorf("tables of the history: %s", got)
	}

	// A session reading run 3's table: the next apply leaves run 3 (its
	// prune does not wait for the lock, nor fail on it); the one after
	// the reader is done prunes it.
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	reader := e.DstConn()
	if _, err := reader.Exec(ctx, "BEGIN"); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Exec(ctx, "SELECT count(*) FROM rowform.run_rows_3"); err != nil {
		t.Fatal(err)
	}
	e.Src(`UPDATE items SET v = 5 WHERE id <= 5`)
	waitLong := opts
	waitLong.LockTimeout = time.Minute
	started := time.Now()
	_, res, _ := planAndApply(t, cfg, waitLong)
	requireApplied(t, res)
	if took := time.Since(started); took > 20*time.Second {
		t.Errorf("the apply took %v: its prune waited for the reader's lock", took)
	}
	if got := e.DstQuery(`SELECT string_agg(id::text, ' ' ORDER BY id) FROM rowform.runs`)[0]; got != "3 4 5" {
		t.Errorf("runs while run 3's table is read: %s, want 3 4 5", got)
	}
	if _, err := reader.Exec(ctx, "COMMIT"); err != nil {
		t.Fatal(err)
	}
	e.Src(`UPDATE items SET v = 6 WHERE id <= 6`)
	_, res, _ = planAndApply(t, cfg, opts)
	requireApplied(t, res)
	if got := e.DstQuery(`SELECT string_agg(id::text, ' ' ORDER BY id) FROM rowform.runs`)[0]; got != "5 6" {
		t.Errorf("runs after the reader: %s, want 5 6", got)
	}
	if got := e.DstQuery(`SELECT string_agg(relname, ' ' ORDER BY relname) FROM pg_class WHERE relnamespace = 'rowform'::regnamespace AND relname LIKE 'run_rows_%'`)[0]; got != "run_rows_5 run_rows_6 run_rows_run_id" {
		t.Errorf("tables of the history after the reader: %s", got)
	}
}

// TestHistoryUpgradesLayout1: a history of layout 1 (before runs kept
// tables of their own) is upgraded by the next apply; its runs are still
// listed and undone from run_rows, the new ones from their tables.
func TestHistoryUpgradesLayout1(t *testing.T) {
	e, cfg := accountsEnv(t, "")
	original := e.DstDigest("accounts")
	requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{Environ: e.Environ}))
	applied := e.DstDigest("accounts")
	old := lastRun(t, e)
	e.Dst(`ALTER TABLE rowform.runs DROP COLUMN rows_table; DELETE FROM rowform.layout; INSERT INTO rowform.layout (version) VALUES (1)`)
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	runs, err := history.List(ctx, e.DstConn(), "rowform", nil, 0)
	if err != nil || len(runs) != 1 || runs[0].ID != old || runs[0].RowsTable {
		t.Fatalf("runs of layout 1: %+v, %v", runs, err)
	}

	// The undo of the old run is itself recorded, in a table of its own:
	// the apply upgrades the layout first.
	requireApplied(t, apply(t, cfg, undoPlan(t, cfg, old, planner.Options{}), executor.WithBulkHistoryRows(executor.Options{Environ: e.Environ}, 1)))
	if e.DstDigest("accounts") != original {
		t.Fatalf("after the undo of the layout-1 run the table is not as before the apply")
	}
	if got := e.DstQuery(`SELECT max(version) FROM rowform.layout`)[0]; got != "2" {
		t.Errorf("layout version %s after the apply", got)
	}
	undoRun := lastRun(t, e)
	if got := e.DstQuery(`SELECT id || ' ' || rows_table FROM rowform.runs ORDER BY id`); strings.Join(got, ", ") != fmt.Sprintf("%d false, %d true", old, undoRun) {
		t.Errorf("runs: %v", got)
	}
	requireApplied(t, apply(t, cfg, undoPlan(t, cfg, undoRun, planner.Options{}), executor.Options{Environ: e.Environ}))
	if e.DstDigest("accounts") != applied {
		t.Errorf("after the undo of the undo the table is not as the apply left it")
	}
	requireConverged(t, cfg)
}

// TestHistoryOff: with history = false an apply writes nothing to the
// destination but the sync's table.
func TestHistoryOff(t *testing.T) {
	e, cfg := accountsEnv(t, "history = false")
	objects := func() string {
		return strings.Join(e.DstQuery(`SELECT n.nspname || '.' || c.relname || ' ' || c.relkind::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') AND n.nspname NOT LIKE 'pg_temp%' AND n.nspname NOT LIKE 'pg_toast_temp%'
UNION ALL SELECT 'schema ' || nspname FROM pg_namespace WHERE nspname NOT LIKE 'pg_temp%' AND nspname NOT LIKE 'pg_toast_temp%' ORDER BY 1`), ", ")
	}
	before := objects()
	p := applyable(t, cfg)
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	e.Src(`UPDATE accounts SET name = 'changed'`)
	e.Dst(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'no'; END $$`)
	e.Dst(`CREATE TRIGGER refuse BEFORE UPDATE ON accounts FOR EACH ROW EXECUTE FUNCTION refuse()`)
	_, res, _ := planAndApply(t, cfg, executor.Options{})
	requireFailed(t, res, "accounts", "no")
	e.Dst(`DROP TRIGGER refuse ON accounts; DROP FUNCTION refuse()`)
	if after := objects(); after != before {
		t.Errorf("with history = false the destination's objects changed:\n  before %s\n  after  %s", before, after)
	}
}

// TestHistoryGrants: a role that cannot create or write the history gets a
// missing_privilege finding whose fix works: the schema missing, the
// schema there without its tables, the tables there, another role's.
func TestHistoryGrants(t *testing.T) {
	for _, c := range []struct {
		name, setup, summary string
	}{
		{"no schema", ``, "cannot create the history schema"},
		{"empty schema", `CREATE SCHEMA rowform`, "cannot create the tables of the history schema"},
		{"tables of another role", `CREATE SCHEMA rowform`, "cannot write the history schema"},
		{"layout 1 of another role", `CREATE SCHEMA rowform`, "cannot upgrade the history schema"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := synctest.New(t)
			e.Src(`CREATE TABLE items (id int, v text); INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 5) g`)
			e.Dst(`CREATE TABLE items (id int PRIMARY KEY, v text)`)
			if c.setup != "" {
				e.Dst(c.setup)
			}
			// Every run keeps its rows in a table of its own where the role
			// may create one.
			opts := executor.WithBulkHistoryRows(executor.Options{}, 1)
			if c.name != "no schema" && c.name != "empty schema" {
				// The superuser applies first, which creates the tables (and
				// the run's own).
				cfg := e.Config(itemsHistorySync)
				requireApplied(t, apply(t, cfg, plan(t, cfg), opts))
				e.Src(`INSERT INTO items VALUES (6, 'v6')`)
			}
			if c.name == "layout 1 of another role" {
				e.Dst(`GRANT USAGE ON SCHEMA rowform TO PUBLIC; GRANT SELECT ON ALL TABLES IN SCHEMA rowform TO PUBLIC;
GRANT INSERT, DELETE ON rowform.runs, rowform.run_rows TO PUBLIC; GRANT USAGE ON SEQUENCE rowform.run_id TO PUBLIC;
UPDATE rowform.runs SET rows_table = false; ALTER TABLE rowform.runs DROP COLUMN rows_table; DELETE FROM rowform.layout; INSERT INTO rowform.layout (version) VALUES (1)`)
			}
			role := e.WithDestinationRole()
			e.Dst(`GRANT SELECT, INSERT, UPDATE, DELETE ON items TO ` + quoteIdent(role))
			cfg := e.Config(itemsHistorySync)
			p := plan(t, cfg)
			sp := p.Syncs[0]
			if len(sp.Findings) != 1 || sp.Findings[0].Code != planner.CodeMissingPrivilege || !strings.Contains(sp.Findings[0].Summary, c.summary) {
				t.Fatalf("findings:\n%s", synctest.FindingsText(sp))
			}
			e.Dst(sp.Findings[0].Fix)
			p = applyable(t, cfg)
			if len(p.Syncs[0].Findings) != 0 {
				t.Fatalf("after the fix:\n%s", synctest.FindingsText(p.Syncs[0]))
			}
			requireApplied(t, apply(t, cfg, p, opts))
			if got := e.DstQuery(`SELECT count(*) FROM rowform.runs WHERE status = 'applied'`)[0]; got == "0" {
				t.Error("no run recorded")
			}
			// A role that may not create in the schema keeps its run's rows
			// in run_rows; one that may, in a table of its own.
			mayCreate := e.DstQuery(`SELECT has_schema_privilege($1, 'rowform', 'CREATE')`, role)[0] == "true"
			if got := e.DstQuery(`SELECT rows_table FROM rowform.runs ORDER BY id DESC LIMIT 1`)[0]; got != fmt.Sprint(mayCreate) {
				t.Errorf("the role's run: rows_table = %s, the role may create in the schema: %v", got, mayCreate)
			}
			if c.name == "tables of another role" {
				// The role undoes the superuser's run, from its own table.
				first := e.DstQuery(`SELECT min(id) FROM rowform.runs`)[0]
				var id int64
				fmt.Sscan(first, &id)
				if got := e.DstQuery(`SELECT rows_table FROM rowform.runs WHERE id = $1`, id)[0]; got != "true" {
					t.Fatalf("the superuser's run: rows_table = %s", got)
				}
				e.Dst(`DELETE FROM items WHERE id = 6`)
				requireApplied(t, apply(t, cfg, undoPlan(t, cfg, id, planner.Options{}), opts))
				if got := e.DstQuery(`SELECT count(*) FROM items`)[0]; got != "0" {
					t.Errorf("after the undo of the first load: %s rows", got)
				}
			}
		})
	}
}

const itemsHistorySync = `
sync "items" {
  source      = source.postgres.src
  query       = "SELECT id, v FROM items"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "mirror"
  key         = "id"
}`

// itemsUpsertSync is itemsHistorySync under update_or_create.
var itemsUpsertSync = strings.Replace(itemsHistorySync, `behavior    = "mirror"`, `behavior    = "update_or_create"`, 1)

// TestHistoryDeletedRowsFromTheDiff: when the sync maps every column of
// the table, the deleted rows' before-images are recorded from the rows
// the diff read (no RETURNING), exactly as the table held them as text, by
// both diff strategies; the undo restores the table from them, and the
// undo of the undo (whose deletes are recorded the same way) gives back
// the table as the apply left it.
func TestHistoryDeletedRowsFromTheDiff(t *testing.T) {
	for _, c := range []struct {
		strategy string
		ownTable bool
	}{{"full_rows", false}, {"server_hash", false}, {"full_rows", true}, {"server_hash", true}} {
		name := c.strategy
		if c.ownTable {
			name += "/own_table"
		}
		t.Run(name, func(t *testing.T) {
			e := synctest.New(t)
			e.Src(accountsSrc)
			e.Dst(accountsDst + `ALTER TABLE accounts DROP COLUMN note;`)
			e.Environ = append(e.Environ, "ROWFORM_ACTOR=tester")
			cfg := historyConfig(t, e, "", strings.Replace(accountsSync, `behavior          = "mirror"`,
				fmt.Sprintf("behavior          = \"mirror\"\n  diff_strategy = %q", c.strategy), 1))
			opts := executor.Options{Environ: e.Environ}
			if c.ownTable {
				opts = executor.WithBulkHistoryRows(opts, 1)
			}
			rowText := `SELECT ARRAY[region::text, id::text, name::text, balance::text, meta::text, tags::text, seen::text, secret::text]::text FROM accounts`
			gone := e.DstQuery(rowText + ` WHERE (region, id) IN (('eu', 7), ('us', 8), ('us', 9)) ORDER BY region, id`)
			original := e.DstDigest("accounts")
			p := applyable(t, cfg)
			if got := p.Syncs[0].Counts; got != accountsCounts {
				t.Fatalf("planned %+v, want %+v", got, accountsCounts)
			}
			requireApplied(t, apply(t, cfg, p, opts))
			run := lastRun(t, e)
			rows := runRowsOf(t, e, run, c.ownTable)
			got := e.DstQuery(`SELECT before::text FROM `+rows+` AS r WHERE run_id = $1 AND kind = '-' ORDER BY key`, run)
			if strings.Join(got, "\n") != strings.Join(gone, "\n") {
				t.Fatalf("deleted rows recorded:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(gone, "\n  "))
			}
			if got := e.DstQuery(`SELECT kind || count(*) FROM `+rows+` AS r WHERE run_id = $1 GROUP BY kind ORDER BY kind`, run); strings.Join(got, " ") != "+3 -3 ~4" {
				t.Errorf("run rows by kind: %v", got)
			}
			applied := e.DstDigest("accounts")
			inserted := e.DstQuery(rowText + ` WHERE region = 'eu' AND id >= 10 ORDER BY region, id`)

			requireApplied(t, apply(t, cfg, undoPlan(t, cfg, run, planner.Options{}), opts))
			if e.DstDigest("accounts") != original {
				t.Fatalf("after the undo the table is not as before the apply:\n%s", strings.Join(e.DstQuery(rowText+` ORDER BY 1`), "\n"))
			}
			undoRun := lastRun(t, e)
			rows = runRowsOf(t, e, undoRun, c.ownTable)
			if got := e.DstQuery(`SELECT before::text FROM `+rows+` AS r WHERE run_id = $1 AND kind = '-' ORDER BY key`, undoRun); strings.Join(got, "\n") != strings.Join(inserted, "\n") {
				t.Fatalf("rows the undo deleted, recorded:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(inserted, "\n  "))
			}
			requireApplied(t, apply(t, cfg, undoPlan(t, cfg, undoRun, planner.Options{}), opts))
			if e.DstDigest("accounts") != applied {
				t.Errorf("after the undo of the undo the table is not as the apply left it")
			}
		})
	}
}

// runRowsOf is the FROM item of run id's rows in the history: run_rows,
// or, when ownTable, the run's own table (and nothing of it in run_rows).
func runRowsOf(t *testing.T, e *synctest.Env, id int64, ownTable bool) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	run, err := history.Get(ctx, e.DstConn(), "rowform", id)
	if err != nil || run == nil {
		t.Fatalf("run %d: %v", id, err)
	}
	if run.RowsTable != ownTable {
		t.Fatalf("run %d: rows_table = %v, want %v", id, run.RowsTable, ownTable)
	}
	if ownTable {
		if n := e.DstQuery(`SELECT count(*) FROM rowform.run_rows WHERE run_id = $1`, id)[0]; n != "0" {
			t.Errorf("run %d has %s rows in run_rows as well as its own table", id, n)
		}
	}
	return history.RowsSource(history.Names{Schema: "rowform"}, *run)
}

// TestUndoOfARunTable: the undo of a large run needs its table: one
// dropped by hand is a missing_table error, one the role may not read a
// missing_privilege error whose fix (run by the table's owner) lets the
// undo go ahead.
func TestUndoOfARunTable(t *testing.T) {
	e, cfg := accountsEnv(t, "")
	original := e.DstDigest("accounts")
	requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.WithBulkHistoryRows(executor.Options{Environ: e.Environ}, 1)))
	run := lastRun(t, e)
	table := fmt.Sprintf("rowform.run_rows_%d", run)

	// The role the undo runs as: it may write the table and the history,
	// but not read the run's table.
	role := e.WithDestinationRole()
	e.Dst(fmt.Sprintf(`GRANT SELECT, INSERT, UPDATE, DELETE ON accounts TO %[1]s;
GRANT USAGE ON SCHEMA rowform TO %[1]s; GRANT SELECT ON rowform.layout, rowform.runs, rowform.run_rows TO %[1]s;
GRANT INSERT, DELETE ON rowform.runs, rowform.run_rows TO %[1]s; GRANT USAGE ON SEQUENCE rowform.run_id TO %[1]s;
REVOKE SELECT ON %[2]s FROM %[1]s`, quoteIdent(role), table))
	cfg = historyConfig(t, e, "", accountsSync)
	p := undoPlan(t, cfg, run, planner.Options{})
	sp := p.Syncs[0]
	if p.Applyable || len(sp.Findings) != 1 || sp.Findings[0].Code != planner.CodeMissingPrivilege || !strings.Contains(sp.Findings[0].Summary, fmt.Sprintf(`"run_rows_%d"`, run)) {
		t.Fatalf("undo plan of a run whose table the role may not read:\n%s", synctest.FindingsText(sp))
	}
	e.Dst(sp.Findings[0].Fix)
	p = undoPlan(t, cfg, run, planner.Options{})
	if !p.Applyable {
		t.Fatalf("after the fix:\n%s", synctest.FindingsText(p.Syncs[0]))
	}

	// The table dropped by hand.
	e.Dst("DROP TABLE " + table)
	p = undoPlan(t, cfg, run, planner.Options{})
	sp = p.Syncs[0]
	if p.Applyable || len(sp.Findings) != 1 || sp.Findings[0].Code != planner.CodeMissingTable || !strings.Contains(sp.Findings[0].Summary, "no longer exists") {
		t.Fatalf("undo plan of a run whose table is gone:\n%s", synctest.FindingsText(sp))
	}
	if e.DstDigest("accounts") == original {
		t.Error("the apply changed nothing")
	}
}

// TestHistorySchemaTaken: a history_schema holding someone else's objects
// of the history's names (a table runs, a view layout, a layout table of
// other columns) is the plan's error history_schema_taken, naming them;
// an apply of a plan made before they appeared fails before writing,
// with the same words, and leaves them and the table as they were.
func TestHistorySchemaTaken(t *testing.T) {
	for _, c := range []struct {
		name, setup, taken string
	}{
		{"a table runs", `CREATE TABLE app.runs (id int PRIMARY KEY, note text); INSERT INTO app.runs VALUES (1, 'mine')`, `an object named "runs"`},
		{"a view layout and a sequence run_id", `CREATE VIEW app.layout AS SELECT 1 AS version; CREATE SEQUENCE app.run_id`, `objects named "layout" and "run_id"`},
		{"a layout table of other columns", `CREATE TABLE app.layout (version text, rowform_version text)`, `an object named "layout"`},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := synctest.New(t)
			e.Src(`CREATE TABLE items (id int, v text); INSERT INTO items SELECT g, 'v' || g FROM generate_series(1, 5) g`)
			e.Dst(`CREATE TABLE items (id int PRIMARY KEY, v text); CREATE SCHEMA app`)
			cfg := historyConfig(t, e, `history_schema = "app"`, itemsHistorySync)
			before := applyable(t, cfg)
			e.Dst(c.setup)
			objects := e.DstQuery(`SELECT string_agg(relname || ':' || relkind::text, ',' ORDER BY relname) FROM pg_class WHERE relnamespace = 'app'::regnamespace`)[0]

			sp := plan(t, cfg).Syncs[0]
			if len(sp.Findings) != 1 || sp.Findings[0].Code != planner.CodeHistorySchemaTaken || sp.Findings[0].Severity != planner.SeverityError ||
				!strings.Contains(sp.Findings[0].Summary, `the history schema "app" already holds `+c.taken) ||
				!strings.Contains(sp.Findings[0].Detail, "history_schema") {
				t.Fatalf("findings:\n%s", synctest.FindingsText(sp))
			}

			res := apply(t, cfg, before, executor.Options{})
			r := syncResult(t, res, "items")
			if r.Err == nil || !strings.Contains(r.Err.Error(), `the history schema "app" already holds `+c.taken) {
				t.Fatalf("apply of the earlier plan: status %s, err %v", r.Status, r.Err)
			}
			if got := e.DstQuery(`SELECT count(*) FROM items`)[0]; got != "0" {
				t.Errorf("the table holds %s rows after the refused apply", got)
			}
			if got := e.DstQuery(`SELECT string_agg(relname || ':' || relkind::text, ',' ORDER BY relname) FROM pg_class WHERE relnamespace = 'app'::regnamespace`)[0]; got != objects {
				t.Errorf("the schema's objects: %s, before the apply %s", got, objects)
			}

			cfg = historyConfig(t, e, `history_schema = "rowform_history"`, itemsHistorySync)
			requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{}))
		})
	}
}

// TestHistoryWithColumnGrants: column-level grants on the mapped columns
// are enough for a sync (docs/connections.md), but a mirror's deletes are
// recorded whole in the history, the unmapped columns too, which needs
// SELECT on those: the plan says so with the GRANT that fixes it instead
// of the apply failing with "permission denied". Then the apply and the
// undo of its run (which must not read a system column, which column
// grants do not cover) work under column grants alone.
func TestHistoryWithColumnGrants(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id bigint, name text)`)
	e.Src(`INSERT INTO items VALUES (1, 'one'), (2, 'two'), (3, 'three')`)
	e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name text, note text)`)
	e.Dst(`INSERT INTO items VALUES (1, 'one', 'n1'), (2, 'old', 'n2'), (9, 'gone', 'n9')`)
	role := e.WithDestinationRole()
	e.Dst(fmt.Sprintf(`GRANT USAGE ON SCHEMA public TO %[1]s;
GRANT SELECT (id, name), INSERT (id, name), UPDATE (name), DELETE ON items TO %[1]s`, quoteIdent(role)))
	e.GrantHistory(role)
	original := e.DstDigest("items")
	cfg := e.Config(`
sync "items" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM items"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "mirror"
  key         = "id"
}`)
	p := plan(t, cfg)
	sp := p.Syncs[0]
	want := fmt.Sprintf(`GRANT SELECT ("note") ON "public"."items" TO %s;`, quoteIdent(role))
	if p.Applyable || len(sp.Findings) != 1 || sp.Findings[0].Code != planner.CodeMissingPrivilege || sp.Findings[0].Fix != want {
		t.Fatalf("plan of a mirror without SELECT on its unmapped column (want the fix %s):\n%s", want, synctest.FindingsText(sp))
	}
	e.Dst(sp.Findings[0].Fix)
	requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{Environ: e.Environ}))
	if e.DstDigest("items") == original {
		t.Fatal("the apply changed nothing")
	}

	// The undo inserts the deleted row again, every column of it (and,
	// as the run also updated rows, may write every column back).
	e.Dst(fmt.Sprintf(`GRANT INSERT (note), UPDATE (note) ON items TO %s`, quoteIdent(role)))
	u := undoPlan(t, cfg, lastRun(t, e), planner.Options{})
	if !u.Applyable || u.Syncs[0].Counts != (planner.Counts{Insert: 1, Update: 1, Delete: 1}) {
		t.Fatalf("undo plan under column grants: %+v\n%s", u.Syncs[0].Counts, synctest.FindingsText(u.Syncs[0]))
	}
	requireApplied(t, apply(t, cfg, u, executor.Options{Environ: e.Environ}))
	if e.DstDigest("items") != original {
		t.Errorf("after the undo the table is not as before:\n%s", strings.Join(e.DstQuery(`SELECT x::text FROM items x ORDER BY 1`), "\n"))
	}
}
