package executor_test

import (
	"fmt"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// keyOrderRows is a change set large enough for the merge to write it in
// key order (mergestrategy.go: orderedMergeRows is 10000).
const keyOrderRows = 12000

// keyOrderFixture is a destination table t of keyOrderRows rows (short
// values, packed pages) and a mirror of the source table s.
func keyOrderFixture(t *testing.T, e *synctest.Env) {
	t.Helper()
	e.Dst(`CREATE TABLE t (k bigint PRIMARY KEY, v text)`)
	e.Dst(fmt.Sprintf(`INSERT INTO t SELECT id, 'r' || id FROM generate_series(1, %d) AS id`, keyOrderRows))
	e.Dst(`VACUUM ANALYZE t`)
	e.Src(`CREATE TABLE s (k bigint, v text)`)
}

const keyOrderSync = `
sync "t" {
  source      = source.postgres.src
  query       = "SELECT k, v FROM s"
  destination = destination.postgres.dst
  table       = "t"
  behavior    = "mirror"
  key         = ["k"]
}
`

// TestLargeMergeWritesInKeyOrder: an update of every row of a table whose
// pages are full writes each row's new version at the table's end, in the
// order the UPDATE reads the staged rows. The diff hands its changes over
// in no order of the key; from orderedMergeRows changes on, the merge
// sorts them, so the rows end up stored in key order (physical order,
// ctid, ascending with the key), and the table as the source says.
func TestLargeMergeWritesInKeyOrder(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	keyOrderFixture(t, e)
	// Longer values than before: no new version fits in its old page.
	e.Src(fmt.Sprintf(`INSERT INTO s SELECT id, 'changed ' || repeat('x', 60) || id FROM generate_series(1, %d) AS id`, keyOrderRows))
	cfg := e.Config(keyOrderSync)
	p := applyable(t, cfg)
	requirePlanned(t, p, planner.Counts{Update: keyOrderRows})
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	requireConverged(t, cfg)
	out := e.DstQuery(`SELECT count(*) FILTER (WHERE prev > k) FROM (SELECT k, lag(k) OVER (ORDER BY ctid) AS prev FROM t) AS x`)
	if out[0] != "0" {
		t.Errorf("%s of %d rows are stored before a row of a smaller key: the UPDATE did not write in key order", out[0], keyOrderRows)
	}
}

// TestLargeMergeErrorNamesTheRow: when the server refuses one row of a
// large change set (here a trigger), the error still names it, for the
// DELETE and the UPDATE that read the staged rows sorted (locate probes
// halves of the sorted set), and nothing is written.
func TestLargeMergeErrorNamesTheRow(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	keyOrderFixture(t, e)
	e.Dst(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF TG_OP = 'DELETE' THEN
    IF OLD.k = 7777 THEN RAISE EXCEPTION 'no deleting 7777' USING ERRCODE = 'P0001'; END IF;
    RETURN OLD;
  END IF;
  IF NEW.k = 5555 THEN RAISE EXCEPTION 'no updating 5555' USING ERRCODE = 'P0001'; END IF;
  RETURN NEW;
END $$`)
	e.Dst(`CREATE TRIGGER refuse BEFORE UPDATE OR DELETE ON t FOR EACH ROW EXECUTE FUNCTION refuse()`)
	before := e.DstDigest("t")
	for _, tc := range []struct {
		name, rows, key, msg string
		counts               planner.Counts
	}{
		// Every row updated.
		{"update", fmt.Sprintf(`SELECT id, 'u' || id FROM generate_series(1, %d) AS id`, keyOrderRows), "k=5555", "no updating 5555", planner.Counts{Update: keyOrderRows}},
		// Every row deleted but one.
		{"delete", `SELECT 1, 'r1'`, "k=7777", "no deleting 7777", planner.Counts{Delete: keyOrderRows - 1, Unchanged: 1}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.Src(`TRUNCATE s`)
			e.Src(`INSERT INTO s ` + tc.rows)
			cfg := e.Config(keyOrderSync)
			p := applyable(t, cfg)
			requirePlanned(t, p, tc.counts)
			requireFailed(t, apply(t, cfg, p, executor.Options{}), "t", "at the row "+tc.key, tc.msg, "nothing was written")
			if got := e.DstDigest("t"); got != before {
				t.Errorf("the table changed although the apply failed: %s, before %s", got, before)
			}
		})
	}
}
