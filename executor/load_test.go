package executor_test

import (
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// loadFixture is an empty destination table and 3000 source rows: a plan of
// inserts only, which apply streams straight into one COPY.
func loadFixture(t *testing.T, e *synctest.Env) string {
	t.Helper()
	e.Src(`CREATE TABLE people (id bigint, name text, score numeric, born date)`)
	e.Src(`INSERT INTO people SELECT g, 'p' || g, g * 1.5, date '2000-01-01' + g FROM generate_series(1, 3000) g`)
	e.Dst(`CREATE TABLE people (id bigint PRIMARY KEY, name text NOT NULL, score numeric(10,2), born date,
  note text DEFAULT 'new', CONSTRAINT score_limit CHECK (score < 100000))`)
	return `
sync "people" {
  source      = source.postgres.src
  query       = "SELECT id, name, score, born FROM people"
  destination = destination.postgres.dst
  table       = "people"
  behavior    = "mirror"
  key         = "id"
}
`
}

// TestInitialLoad: an empty table gets exactly the source's rows (converted
// to its types, unmapped columns from their defaults) and plans as
// converged afterwards.
func TestInitialLoad(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	cfg := e.Config(loadFixture(t, e))
	p := applyable(t, cfg)
	requirePlanned(t, p, planner.Counts{Insert: 3000})
	res := apply(t, cfg, p, executor.Options{})
	requireApplied(t, res)
	if got := syncResult(t, res, "people").Applied; got != (planner.Counts{Insert: 3000}) {
		t.Errorf("applied %+v, want 3000 inserts", got)
	}
	e.Dst(`CREATE TABLE expected AS SELECT g::bigint AS id, 'p' || g AS name, round(g * 1.5, 2)::numeric(10,2) AS score,
  date '2000-01-01' + g AS born, 'new'::text AS note FROM generate_series(1, 3000) g`)
	requireSameRows(t, e, "people", "expected")
	requireConverged(t, cfg)
}

// TestInitialLoadStaleSourceRollsBack: the source changes after the plan;
// the load streams the new rows, sees that the change set is not the
// planned one, and rolls back: the table stays empty.
func TestInitialLoadStaleSourceRollsBack(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	cfg := e.Config(loadFixture(t, e))
	p := applyable(t, cfg)
	e.Src(`UPDATE people SET name = 'changed' WHERE id = 1500`)
	res := apply(t, cfg, p, executor.Options{})
	requireFailed(t, res, "people", "plan is stale", "nothing was written")
	if got := e.DstDigest("people"); got != "0:-" {
		t.Errorf("the table is not empty after a refused load: %s", got)
	}
}

// TestInitialLoadConstraintFailure: a row in the middle violates a CHECK
// constraint: the plan refuses it (rejected_rows). A row the plan cannot
// foresee failing (a trigger raises for it) makes the load's COPY fail:
// the table stays empty, and the error names the constraint.
func TestInitialLoadConstraintFailure(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	cfg := e.Config(loadFixture(t, e))
	e.Src(`UPDATE people SET score = 200000 WHERE id = 1500`)
	p := plan(t, cfg)
	if sp := p.Syncs[0]; p.Applyable || sp.Counts.Reject != 1 || rejectFindings(sp)["score"].Constraint != "score_limit" {
		t.Fatalf("the plan does not refuse the row that breaks score_limit:\n%s", synctest.FindingsText(sp))
	}
	e.Src(`UPDATE people SET score = 1 WHERE id = 1500`)
	e.Dst(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.id = 1500 THEN RAISE EXCEPTION 'refused' USING ERRCODE = 'check_violation', CONSTRAINT = 'no_1500'; END IF;
  RETURN NEW;
END $$`)
	e.Dst(`CREATE TRIGGER refuse AFTER INSERT ON people FOR EACH ROW EXECUTE FUNCTION refuse()`)
	p = applyable(t, cfg)
	res := apply(t, cfg, p, executor.Options{})
	requireFailed(t, res, "people", "insert failed", "no_1500")
	if got := e.DstDigest("people"); got != "0:-" {
		t.Errorf("the table is not empty after a failed load: %s", got)
	}
	e.Dst(`DROP TRIGGER refuse ON people`)
	applyAndConverge(t, cfg)
}
