package executor_test

import (
	"errors"
	"strings"
	"testing"

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
