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
