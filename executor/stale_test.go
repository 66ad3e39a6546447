package executor_test

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// staleFixture: source ids 1..30; destination ids 11..40, where 11..15
// differ (updates), 16..30 are equal and 31..40 are only in the
// destination (mirror deletes them).
func staleFixture(t *testing.T, e *synctest.Env) *hclconfig.Config {
	t.Helper()
	e.Src(`CREATE TABLE items (id bigint, name text, qty int)`)
	e.Src(`INSERT INTO items SELECT g, 'item ' || g, g FROM generate_series(1, 30) g`)
	e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int, note text DEFAULT 'new')`)
	e.Dst(`INSERT INTO items SELECT g, CASE WHEN g <= 15 THEN 'old' ELSE 'item ' || g END, g, 'kept' FROM generate_series(11, 40) g`)
	return e.Config(itemsSyncNamed("items", "mirror", "SELECT id, name, qty FROM items"))
}

func itemsSyncNamed(name, behavior, query string) string {
	return `
sync "` + name + `" {
  source      = source.postgres.src
  query       = "` + query + `"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "` + behavior + `"
  key         = "id"
}
`
}

// requireStale applies p and checks that sync "items" is refused as
// stale, with a message saying so and to plan again, and that the
// destination table did not change.
func requireStale(t *testing.T, e *synctest.Env, cfg *hclconfig.Config, p *planner.Plan) {
	t.Helper()
	before := e.DstDigest("items")
	res := apply(t, cfg, p, executor.Options{})
	r := requireFailed(t, res, "items", "plan is stale", "plan")
	if !errors.Is(r.Err, executor.ErrStale) {
		t.Errorf("the error does not wrap ErrStale: %v", r.Err)
	}
	if !strings.Contains(r.Err.Error(), "nothing was written") {
		t.Errorf("the stale refusal does not say that nothing was written: %v", r.Err)
	}
	if got := e.DstDigest("items"); got != before {
		t.Errorf("a stale plan wrote to the table")
	}
}

// TestStaleDestinationEdited: a destination row is changed between plan
// and apply, in each way that matters to the plan.
func TestStaleDestinationEdited(t *testing.T) {
	for _, tc := range []struct{ name, sql string }{
		{"row_to_update_changed", `UPDATE items SET name = 'someone else' WHERE id = 12`},
		{"row_to_update_fixed", `UPDATE items SET name = 'item 12' WHERE id = 12`},
		{"unchanged_row_changed", `UPDATE items SET qty = -1 WHERE id = 20`},
		{"row_to_insert_inserted", `INSERT INTO items VALUES (5, 'item 5', 5, 'other')`},
		{"row_to_insert_inserted_differently", `INSERT INTO items VALUES (5, 'other', 5, 'other')`},
		{"row_to_delete_deleted", `DELETE FROM items WHERE id = 35`},
		{"row_to_delete_changed", `UPDATE items SET name = 'changed' WHERE id = 35`},
		{"unchanged_row_deleted", `DELETE FROM items WHERE id = 20`},
		{"new_row_only_in_destination", `INSERT INTO items VALUES (100, 'x', 1)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := synctest.New(t)
			cfg := staleFixture(t, e)
			p := applyable(t, cfg)
			requirePlanned(t, p, planner.Counts{Insert: 10, Update: 5, Delete: 10, Unchanged: 15})
			e.Dst(tc.sql)
			requireStale(t, e, cfg, p)
			applyAndConverge(t, cfg)
		})
	}
}

// TestStaleUnmappedColumnEditedIsNotStale: a change to a column the sync
// does not map changes nothing the plan would write: the apply proceeds and
// keeps that change.
func TestStaleUnmappedColumnEditedIsNotStale(t *testing.T) {
	e := synctest.New(t)
	cfg := staleFixture(t, e)
	p := applyable(t, cfg)
	e.Dst(`UPDATE items SET note = 'edited' WHERE id IN (12, 20)`)
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := e.DstQuery(`SELECT note || ':' || name FROM items WHERE id IN (12, 20) ORDER BY id`); strings.Join(got, ",") != "edited:item 12,edited:item 20" {
		t.Errorf("rows 12 and 20: %v", got)
	}
	requireConverged(t, cfg)
}

// TestStaleSourceChanged: the source changes between plan and apply.
func TestStaleSourceChanged(t *testing.T) {
	for _, tc := range []struct{ name, sql string }{
		{"value_changed", `UPDATE items SET name = 'renamed' WHERE id = 3`},
		{"row_added", `INSERT INTO items VALUES (31, 'item 31', 31)`},
		{"row_removed", `DELETE FROM items WHERE id = 20`},
		{"updated_row_now_equal", `UPDATE items SET name = 'old' WHERE id = 12`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := synctest.New(t)
			cfg := staleFixture(t, e)
			p := applyable(t, cfg)
			e.Src(tc.sql)
			requireStale(t, e, cfg, p)
			applyAndConverge(t, cfg)
		})
	}
}

// TestStaleSourceNowHasDuplicates: the source gains a duplicate key after
// planning; the apply refuses and writes nothing.
func TestStaleSourceNowHasDuplicates(t *testing.T) {
	e := synctest.New(t)
	cfg := staleFixture(t, e)
	p := applyable(t, cfg)
	e.Src(`INSERT INTO items VALUES (3, 'again', 3)`)
	requireStale(t, e, cfg, p)
}

// TestStaleEmptyTableFilled: planned against an empty table (everything to
// insert), then the table is filled before the apply.
func TestStaleEmptyTableFilled(t *testing.T) {
	for _, tc := range []struct{ name, sql string }{
		{"with_the_same_rows", `INSERT INTO items (id, name, qty) SELECT g, 'item ' || g, g FROM generate_series(1, 30) g`},
		{"with_other_rows", `INSERT INTO items (id, name, qty) SELECT g, 'x', 0 FROM generate_series(100, 110) g`},
		{"with_one_row", `INSERT INTO items (id, name, qty) VALUES (1, 'item 1', 1)`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := synctest.New(t)
			e.Src(`CREATE TABLE items (id bigint, name text, qty int)`)
			e.Src(`INSERT INTO items SELECT g, 'item ' || g, g FROM generate_series(1, 30) g`)
			e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int, note text DEFAULT 'new')`)
			cfg := e.Config(itemsSyncNamed("items", "update_or_create", "SELECT id, name, qty FROM items"))
			p := applyable(t, cfg)
			requirePlanned(t, p, planner.Counts{Insert: 30})
			e.Dst(tc.sql)
			requireStale(t, e, cfg, p)
		})
	}
}

// TestStaleSamePlanTwice: a plan is applied once; applying it again is
// refused and writes nothing.
func TestStaleSamePlanTwice(t *testing.T) {
	e := synctest.New(t)
	cfg := staleFixture(t, e)
	p := applyable(t, cfg)
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	requireStale(t, e, cfg, p)
	requireConverged(t, cfg)
}

// TestStaleConfigurationChanged: the plan is applied with a configuration
// that no longer matches it: the sync is gone, or it maps other columns,
// has another behavior or another query.
func TestStaleConfigurationChanged(t *testing.T) {
	for _, tc := range []struct{ name, body string }{
		{"sync_removed", itemsSyncNamed("renamed", "mirror", "SELECT id, name, qty FROM items")},
		{"behavior_changed", itemsSyncNamed("items", "update_or_create", "SELECT id, name, qty FROM items")},
		{"query_changed", itemsSyncNamed("items", "mirror", "SELECT id, upper(name) AS name, qty FROM items")},
		{"fewer_columns", itemsSyncNamed("items", "mirror", "SELECT id, name FROM items")},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := synctest.New(t)
			cfg := staleFixture(t, e)
			p := applyable(t, cfg)
			changed := e.Config(tc.body)
			requireStale(t, e, changed, p)
			applyAndConverge(t, cfg)
		})
	}
}

// TestStaleRulesChanged: a trigger created on the table after the plan, or
// a foreign key whose cascade the planned deletes now set off, makes the
// plan stale: its review showed no such warning, and the trigger would
// have changed the rows written (it committed 'A2!' where the plan said
// 'a2'). Nothing is written.
func TestStaleRulesChanged(t *testing.T) {
	for _, tc := range []struct{ name, sql, says string }{
		{"trigger", `CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN NEW.name := upper(NEW.name) || '!'; RETURN NEW; END$$;
CREATE TRIGGER shout BEFORE INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION shout()`, `the trigger "shout"`},
		{"cascade", `CREATE TABLE notes (item bigint REFERENCES items ON DELETE CASCADE); INSERT INTO notes VALUES (35)`, "cascade"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := synctest.New(t)
			cfg := staleFixture(t, e)
			p := applyable(t, cfg)
			before := e.DstDigest("items")
			e.Dst(tc.sql)
			res := apply(t, cfg, p, executor.Options{})
			r := requireFailed(t, res, "items", "stale", "the table changed since the plan", tc.says)
			if !errors.Is(r.Err, executor.ErrStale) {
				t.Errorf("not ErrStale: %v", r.Err)
			}
			if e.DstDigest("items") != before {
				t.Error("the table changed")
			}
		})
	}
}

// TestStaleOtherRowsRejected: between plan and apply a parent table
// changes so that the same changes would be refused the other way round
// (the row the plan wrote is now the rejected one, and the rejected one
// now fits). The counts and the change set are the same; the plan is
// stale all the same, and nothing is written. Before, apply kept the plan,
// printed it as reviewed, and wrote the row the plan had shown as rejected.
func TestStaleOtherRowsRejected(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE accounts (id int PRIMARY KEY);
CREATE TABLE contacts (id int PRIMARY KEY, account_id int REFERENCES accounts);
INSERT INTO accounts VALUES (8)`)
	e.Src(`CREATE TABLE contacts (id int, account_id int); INSERT INTO contacts VALUES (1, 7), (2, 8)`)
	cfg := e.Config(`
sync "contacts" {
  source      = source.postgres.src
  query       = "SELECT id, account_id FROM contacts"
  destination = destination.postgres.dst
  table       = "contacts"
  behavior    = "update_or_create"
  key         = "id"
  on_reject   = "skip"
}`)
	p := plan(t, cfg)
	requirePlanned(t, p, planner.Counts{Insert: 1, Reject: 1})
	e.Dst(`INSERT INTO accounts VALUES (7); DELETE FROM accounts WHERE id = 8`)
	res := apply(t, cfg, p, executor.Options{})
	r := requireFailed(t, res, "contacts", "plan is stale", "would now refuse other rows than the plan showed as rejected", "nothing was written")
	if !errors.Is(r.Err, executor.ErrStale) {
		t.Errorf("not ErrStale: %v", r.Err)
	}
	if got := e.DstQuery(`SELECT count(*)::text FROM contacts`); got[0] != "0" {
		t.Errorf("a stale plan wrote %s rows", got[0])
	}
	// Planned again, it applies as shown.
	p = plan(t, cfg)
	requirePlanned(t, p, planner.Counts{Insert: 1, Reject: 1})
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := e.DstQuery(`SELECT id || '->' || account_id FROM contacts`); len(got) != 1 || got[0] != "1->7" {
		t.Errorf("contacts holds %v", got)
	}
}

// TestVolatileSourceIsNamed: a source query that calls now() among the
// values it returns gives other values each time it runs, so every saved
// plan of it was stale at its apply, and the stale error told the user to
// plan again, which never helped. The plan now warns (volatile_source,
// for a view's CURRENT_TIMESTAMP too), and the stale error names the call
// and says what works; apply -auto-approve applies it. A call that only
// chooses the rows (a filter on now()) is no warning, but a plan it made
// stale says so. A 'now()' constant or a column named now is no call.
func TestVolatileSourceIsNamed(t *testing.T) {
	syncPlan := func(t *testing.T, p *planner.Plan, name string) *planner.SyncPlan {
		t.Helper()
		for _, sp := range p.Syncs {
			if sp.Name == name {
				return sp
			}
		}
		t.Fatalf("the plan has no sync %q", name)
		return nil
	}
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id bigint, name text, "now" text);
INSERT INTO items SELECT g, 'item ' || g, 'now()' FROM generate_series(1, 5) g;
CREATE VIEW stamped_items AS SELECT id, name, CURRENT_TIMESTAMP AS synced_at FROM items`)
	e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name text, synced_at timestamptz)`)
	e.Dst(`INSERT INTO items VALUES (1, 'old', NULL)`)
	e.Dst(`CREATE TABLE stamped (id bigint PRIMARY KEY, name text, synced_at timestamptz)`)
	sync := func(name, table, query string) string {
		return fmt.Sprintf(`
sync %q {
  source      = source.postgres.src
  query       = %q
  destination = destination.postgres.dst
  table       = %q
  behavior    = "update_or_create"
  key         = "id"
}`, name, query, table)
	}
	requireWarning := func(p *planner.Plan, name, call string) {
		t.Helper()
		text := synctest.FindingsText(syncPlan(t, p, name))
		if !strings.Contains(text, "volatile_source") || !strings.Contains(text, "calls "+call+", which gives other values each time it runs") {
			t.Errorf("sync %s: no volatile_source warning naming %s:\n%s", name, call, text)
		}
	}
	requireHint := func(res *executor.Result, name, want string) {
		t.Helper()
		r := requireFailed(t, res, name, "plan is stale", want, "apply -auto-approve")
		if strings.Contains(r.Err.Error(), "run 'rowform plan' again") {
			t.Errorf("sync %s: the stale error still says to plan again: %v", name, r.Err)
		}
	}
	// One sync updating rows, one loading an empty table (the insert
	// path), each planned and applied alone.
	for _, c := range []struct{ name, table, query, call string }{
		{"items", "items", "SELECT id, name, now() AS synced_at FROM items", "now()"},
		{"stamped", "stamped", "SELECT * FROM stamped_items", "CURRENT_TIMESTAMP"},
	} {
		cfg := e.Config(sync(c.name, c.table, c.query))
		p := applyable(t, cfg)
		requireWarning(p, c.name, c.call)
		requireHint(apply(t, cfg, p, executor.Options{}), c.name, "calls "+c.call+" among the values it returns")
		if _, res, _ := planAndApply(t, cfg, executor.Options{}); res.Failed() {
			t.Errorf("apply -auto-approve of %s failed:%s", c.name, describeResult(res))
		}
	}
	// Two syncs in one plan: the one checked before the first is applied
	// says it too.
	cfg := e.Config(sync("items", "items", "SELECT id, name, now() AS synced_at FROM items") + sync("stamped", "stamped", "SELECT * FROM stamped_items"))
	p := applyable(t, cfg)
	res := apply(t, cfg, p, executor.Options{})
	if !strings.Contains(describeResult(res), "among the values it returns") {
		t.Errorf("a plan of two such syncs:%s", describeResult(res))
	}

	// A 'now()' constant and a column named now are no calls.
	cfg = e.Config(sync("items", "items", `SELECT id, name || 'now()' AS name, NULL::timestamptz AS synced_at FROM items WHERE "now" = 'now()'`))
	if text := synctest.FindingsText(syncPlan(t, applyable(t, cfg), "items")); strings.Contains(text, "volatile_source") {
		t.Errorf("a constant 'now()' is a warning:\n%s", text)
	}

	// A filter on the clock: no warning, but a row that crosses its line
	// between plan and apply makes the plan stale, and the error says why.
	e.Src(`CREATE TABLE events (id bigint, at timestamptz);
INSERT INTO events VALUES (1, now() - interval '1 hour'), (2, clock_timestamp() + interval '1500 milliseconds')`)
	e.Dst(`CREATE TABLE events (id bigint PRIMARY KEY, at timestamptz)`)
	cfg = e.Config(`
sync "events" {
  source      = source.postgres.src
  query       = "SELECT id, at FROM events WHERE at <= now()"
  destination = destination.postgres.dst
  table       = "events"
  behavior    = "mirror"
  key         = "id"
}`)
	p = applyable(t, cfg)
	if text := synctest.FindingsText(syncPlan(t, p, "events")); strings.Contains(text, "volatile_source") || p.Syncs[0].Counts.Insert != 1 {
		t.Fatalf("a filter on now(): %+v\n%s", p.Syncs[0].Counts, text)
	}
	time.Sleep(2 * time.Second)
	requireHint(apply(t, cfg, p, executor.Options{}), "events", "calls now() in a condition that chooses its rows")
}

// TestStaleAlreadyApplied: a plan file applied a second time is stale, and
// the error said the rows changed since the plan, as if someone else had
// written them. When the sync's last applied run in the history applied
// this very plan, the error now says so and names the run, for an initial
// load and for a plan of updates; a plan made stale by another writer says
// nothing of the kind.
func TestStaleAlreadyApplied(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id bigint, name text, qty int)`)
	e.Src(`INSERT INTO items SELECT g, 'item ' || g, g FROM generate_series(1, 30) g`)
	e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int)`)
	cfg := e.Config(itemsSyncNamed("items", "mirror", "SELECT id, name, qty FROM items"))
	again := func(p *planner.Plan) string {
		t.Helper()
		r := requireFailed(t, apply(t, cfg, p, executor.Options{}), "items", "plan is stale", "nothing was written")
		return r.Err.Error()
	}
	load := applyable(t, cfg)
	requireApplied(t, apply(t, cfg, load, executor.Options{}))
	if msg := again(load); !strings.Contains(msg, "applied this same plan: it was most likely applied already") || !strings.Contains(msg, "run 1 of this sync") {
		t.Errorf("an initial load applied twice: %s", msg)
	}

	e.Src(`UPDATE items SET qty = qty + 1 WHERE id <= 3`)
	updates := applyable(t, cfg)
	requireApplied(t, apply(t, cfg, updates, executor.Options{}))
	// Run 2 is the failed second apply of the load.
	if msg := again(updates); !strings.Contains(msg, "applied this same plan") || !strings.Contains(msg, "run 3 of this sync") || strings.Contains(msg, "run 'rowform plan' again") {
		t.Errorf("a plan of updates applied twice: %s", msg)
	}

	e.Src(`UPDATE items SET qty = qty + 1 WHERE id <= 3`)
	stale := applyable(t, cfg)
	e.Dst(`UPDATE items SET name = 'edited' WHERE id = 10`)
	if msg := again(stale); strings.Contains(msg, "applied this same plan") {
		t.Errorf("a plan another writer made stale: %s", msg)
	}
}
