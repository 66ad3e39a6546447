package executor_test

import (
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestPartitionRules: into a partitioned table, the plan checks what the
// partitions check of the rows routed to them — that some leaf partition
// takes the row (at any depth), each partition's own CHECK constraints,
// its own unique indexes — and warns of its own triggers. Each was a clean
// plan whose apply failed. With on_reject = "skip" apply writes the rest
// as planned.
func TestPartitionRules(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE pt (id int, k int, e text);
INSERT INTO pt VALUES (1, 1, 'x'), (2, 50, 'y'), (3, 15, 'bad'), (4, 2, 'x'), (5, 5, 'ok'), (6, 15, 'fine'), (200, 15, 'q'), (7, 16, NULL), (8, 6, NULL)`)
	e.Dst(`CREATE TABLE pt (id int, k int, e text, PRIMARY KEY (id, k)) PARTITION BY RANGE (k);
CREATE TABLE pt0 PARTITION OF pt FOR VALUES FROM (0) TO (10);
CREATE TABLE pt1 PARTITION OF pt FOR VALUES FROM (10) TO (20) PARTITION BY RANGE (id);
CREATE TABLE pt1lo PARTITION OF pt1 FOR VALUES FROM (0) TO (100);
ALTER TABLE pt1lo ADD CONSTRAINT pt1_e_chk CHECK (e <> 'bad');
CREATE UNIQUE INDEX pt0_e ON pt0 (e);
ALTER TABLE pt1lo ALTER COLUMN e SET NOT NULL;
CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS $$BEGIN RETURN NEW; END$$;
CREATE TRIGGER pt0_keep BEFORE INSERT ON pt0 FOR EACH ROW EXECUTE FUNCTION keep();
INSERT INTO pt VALUES (1, 1, 'x')`)
	cfg := e.Config(`
sync "pt" {
  source      = source.postgres.src
  query       = "SELECT id, k, e FROM pt"
  destination = destination.postgres.dst
  table       = "pt"
  behavior    = "update_or_create"
  key         = ["id", "k"]
  on_reject   = "skip"
}`)
	p := plan(t, cfg)
	sp := p.Syncs[0]
	if want := (planner.Counts{Insert: 3, Unchanged: 1, Reject: 5}); sp.Counts != want {
		t.Errorf("counts %+v, want %+v", sp.Counts, want)
	}
	text := synctest.FindingsText(sp)
	for _, want := range []string{
		"fits no partition of pt", "id=2 k=50, id=200 k=15",
		"violates the CHECK constraint (e <> 'bad'::text) of the partition pt1lo", "id=3 k=15",
		"already has the same (e) in the partition pt0 (constraint pt0_e)", "id=4 k=2",
		"pt0_keep (on the partition pt0)",
		`NULL into the NOT NULL column "e" of the partition pt1lo`, "id=7 k=16",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the findings do not say %q:\n%s", want, text)
		}
	}
	res := apply(t, cfg, p, executor.Options{})
	requireApplied(t, res)
	if got := res.Syncs[0].Applied; got.Insert != 3 {
		t.Errorf("applied %+v", got)
	}
	got := strings.Join(e.DstQuery(`SELECT format('%s/%s/%s@%s', id, k, e, tableoid::regclass) FROM pt ORDER BY id`), " ")
	if want := "1/1/x@pt0 5/5/ok@pt0 6/15/fine@pt1lo 8/6/@pt0"; got != want {
		t.Errorf("pt holds %s, want %s", got, want)
	}

	// With a DEFAULT partition at every level every row fits: the rows
	// that fitted none are written there.
	e.Dst(`CREATE TABLE pt_rest PARTITION OF pt DEFAULT; CREATE TABLE pt1_rest PARTITION OF pt1 DEFAULT`)
	p = plan(t, cfg)
	if want := (planner.Counts{Insert: 2, Unchanged: 4, Reject: 3}); p.Syncs[0].Counts != want {
		t.Errorf("with DEFAULT partitions: counts %+v, want %+v\n%s", p.Syncs[0].Counts, want, synctest.FindingsText(p.Syncs[0]))
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	got = strings.Join(e.DstQuery(`SELECT format('%s@%s', id, tableoid::regclass) FROM pt WHERE id IN (2, 200) ORDER BY id`), " ")
	if want := "2@pt_rest 200@pt1_rest"; got != want {
		t.Errorf("the rows that fitted no partition: %s, want %s", got, want)
	}
}
