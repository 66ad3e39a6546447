package executor_test

import (
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestExclusionConstraints: a row that would conflict by an exclusion
// constraint with a destination row the sync leaves in place, or with
// another row of the sync, is a rejected row (a clean plan failed at apply
// with 23P01 before); a row that overlaps only a row the sync deletes, or
// moves away by an update, is written. With on_reject = "skip" apply
// writes the rest as planned.
func TestExclusionConstraints(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE slots (id int, r int4range);
INSERT INTO slots VALUES (1, '[1,5)'), (2, '[30,35)'), (4, '[3,7)'), (5, '[12,14)'), (6, '[40,45)'), (7, '[42,48)'), (8, '[21,22)')`)
	e.Dst(`CREATE TABLE slots (id int PRIMARY KEY, r int4range, EXCLUDE USING gist (r WITH &&));
INSERT INTO slots VALUES (1, '[1,5)'), (2, '[10,15)'), (3, '[20,25)')`)
	cfg := e.Config(`
sync "slots" {
  source      = source.postgres.src
  query       = "SELECT id, r FROM slots"
  destination = destination.postgres.dst
  table       = "slots"
  behavior    = "mirror"
  key         = "id"
  on_reject   = "skip"
}`)
	p := plan(t, cfg)
	sp := p.Syncs[0]
	if want := (planner.Counts{Insert: 2, Update: 1, Delete: 1, Unchanged: 1, Reject: 3}); sp.Counts != want {
		t.Errorf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	text := synctest.FindingsText(sp)
	for _, want := range []string{
		"conflicts with a destination row that this sync leaves in place, by the exclusion constraint (r WITH &&) (constraint slots_r_excl)", "id=4",
		"conflicts with another row of this sync by the exclusion constraint (r WITH &&)", "id=6, id=7",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the findings do not say %q:\n%s", want, text)
		}
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT id || ' ' || r FROM slots ORDER BY id`), ", "); got != "1 [1,5), 2 [30,35), 5 [12,14), 8 [21,22)" {
		t.Errorf("slots holds %s", got)
	}
}

// TestExclusionAmongManyChanges: rows of the sync that conflict with each
// other by an exclusion constraint are found among any number of changed
// rows, in any batches. Before, they were compared only when at most 5,000
// rows changed, all in the check's first batch: here 30,000 bookings of
// 300 rooms, 25,000 updates that do not touch the constraint's columns
// first, and two conflicting pairs among the inserts, passed a clean plan
// whose apply failed (23P01). A constraint without an = element over 6,000
// changed rows is not compared, and a warning says so.
func TestExclusionAmongManyChanges(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE b (id int, room int, during int4range, note text);
INSERT INTO b SELECT i, i % 300, int4range(i, i + 1), 'new' FROM generate_series(1, 30000) i;
-- two pairs that overlap: 30001 with 600 (room 0), 30002 with 30003 (room 7)
INSERT INTO b VALUES (30001, 0, '[600,602)', 'x'), (30002, 7, '[1,3)', 'x'), (30003, 7, '[2,4)', 'x'), (30004, NULL, '[1,9)', 'x'), (30005, NULL, '[1,9)', 'x')`)
	e.Dst(`CREATE EXTENSION btree_gist;
CREATE TABLE b (id int PRIMARY KEY, room int, during int4range, note text, EXCLUDE USING gist (room WITH =, during WITH &&));
INSERT INTO b SELECT i, i % 300, int4range(i, i + 1), 'old' FROM generate_series(1, 25000) i`)
	cfg := e.Config(`
sync "b" {
  source      = source.postgres.src
  query       = "SELECT id, room, during, note FROM b"
  destination = destination.postgres.dst
  table       = "b"
  behavior    = "update_or_create"
  key         = "id"
  on_reject   = "skip"
}`)
	p := plan(t, cfg)
	sp := p.Syncs[0]
	// 30001 meets 600, which is updated in note only: the destination
	// row stays, and only 30001 is refused by it; 30002 and 30003 refuse
	// each other.
	if want := (planner.Counts{Insert: 5002, Update: 25000, Reject: 3}); sp.Counts != want {
		t.Errorf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	text := synctest.FindingsText(sp)
	for _, want := range []string{"conflicts with another row of this sync", "id=30002, id=30003", "conflicts with a destination row that this sync leaves in place", "id=30001"} {
		if !strings.Contains(text, want) {
			t.Errorf("the findings do not say %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "unchecked_rows") {
		t.Errorf("rows were left unchecked:\n%s", text)
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	requireConverged(t, cfg)

	// Without an = element every changed row is one group, too large to
	// compare in pairs.
	e.Dst(`ALTER TABLE b DROP CONSTRAINT b_room_during_excl; TRUNCATE b; ALTER TABLE b ADD EXCLUDE USING gist (during WITH &&) WHERE (room < 60)`)
	e.Src(`DELETE FROM b WHERE id > 30000`)
	sp = plan(t, cfg).Syncs[0]
	text = synctest.FindingsText(sp)
	if !strings.Contains(text, "warning unchecked_rows: 6000 rows of public.b were not compared with each other by the exclusion constraint b_during_excl (during WITH &&) among the rows where (room < 60)") {
		t.Errorf("no warning of the rows left unchecked: %+v\n%s", sp.Counts, text)
	}
}
