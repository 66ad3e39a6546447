package executor_test

import (
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
)

// TestApplyErrorNamesTheRow: a write that the plan's checks cannot foresee
// (here a trigger that raises for one row) fails the sync with an error
// naming that row's key, for inserts (the COPY path and the staged path)
// and updates; nothing is written.
func TestApplyErrorNamesTheRow(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name, extra string
	}{
		{"copy", ""},
		{"staged", ", mood tier"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := synctest.New(t)
			e.Dst(`CREATE TYPE tier AS ENUM ('a', 'b')`)
			e.Dst(`CREATE TABLE t (id int PRIMARY KEY, name text` + tc.extra + `)`)
			e.Dst(`INSERT INTO t (id, name) VALUES (1, 'one'), (2, 'two')`)
			e.Dst(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.name = 'boom' THEN RAISE EXCEPTION 'no booms' USING ERRCODE = 'check_violation', CONSTRAINT = 'no_boom', COLUMN = 'name'; END IF;
  RETURN NEW;
END $$`)
			e.Dst(`CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON t FOR EACH ROW EXECUTE FUNCTION refuse()`)
			cols := "id, name"
			if tc.extra != "" {
				cols += ", 'a' AS mood"
			}
			for _, rows := range []string{
				"(1, 'one'), (2, 'two'), (3, 'x'), (4, 'boom'), (5, 'y')", // an insert refused
				"(1, 'one'), (2, 'boom')",                                 // an update refused
			} {
				e.Src(`DROP TABLE IF EXISTS s`)
				e.Src(`CREATE TABLE s (id int, name text)`)
				e.Src(`INSERT INTO s VALUES ` + rows)
				cfg := e.Config(syncBlockSkip("t", "SELECT "+cols+" FROM s"))
				p := applyable(t, cfg)
				before := e.DstDigest("t")
				r := syncResult(t, apply(t, cfg, p, executor.Options{}), "t")
				if r.Status != executor.StatusFailed || r.Err == nil {
					t.Fatalf("%s: status %s, want failed", rows, r.Status)
				}
				key := "id=4"
				if !strings.Contains(rows, "(4,") {
					key = "id=2"
				}
				msg := r.Err.Error()
				for _, want := range []string{"at the row " + key, "constraint no_boom", "no booms"} {
					if !strings.Contains(msg, want) {
						t.Errorf("%s: the error does not say %q:\n%s", rows, want, msg)
					}
				}
				if after := e.DstDigest("t"); after != before {
					t.Errorf("%s: the table changed: %s -> %s", rows, before, after)
				}
			}
		})
	}
}

// TestTriggersThatRewriteValues: a trigger that changes the values written
// is shown by the plan (finding triggers) and, after apply, reported per
// column, since the next plan will show the same rows again.
func TestTriggersThatRewriteValues(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE t (id int PRIMARY KEY, name text, note text)`)
	e.Dst(`INSERT INTO t VALUES (1, 'ONE', 'a'), (2, 'two', 'b')`)
	e.Dst(`CREATE FUNCTION shout() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW.name := upper(NEW.name); RETURN NEW; END $$`)
	e.Dst(`CREATE TRIGGER shout BEFORE INSERT OR UPDATE ON t FOR EACH ROW EXECUTE FUNCTION shout()`)
	e.Src(`CREATE TABLE s (id int, name text, note text)`)
	e.Src(`INSERT INTO s VALUES (1, 'ONE', 'a'), (2, 'two', 'changed'), (3, 'three', 'c')`)
	cfg := e.Config(syncBlockSkip("t", "SELECT * FROM s"))
	p := applyable(t, cfg)
	r := syncResult(t, apply(t, cfg, p, executor.Options{}), "t")
	requireApplied(t, &executor.Result{Syncs: []*executor.SyncResult{r}})
	if len(r.Rewritten) != 1 || r.Rewritten[0].Column != "name" || r.Rewritten[0].Rows != 2 {
		t.Errorf("rewritten = %+v, want name in 2 rows (the update of 2 and the insert of 3)", r.Rewritten)
	}
}

// TestApplyErrorNamesTheCSVLine: for a CSV source, a row refused at apply is
// named by its key and its line in the file.
func TestApplyErrorNamesTheCSVLine(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE t (id int PRIMARY KEY, name text)`)
	e.Dst(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.name = 'boom' THEN RAISE EXCEPTION 'no booms'; END IF;
  RETURN NEW;
END $$`)
	e.Dst(`CREATE TRIGGER refuse BEFORE INSERT ON t FOR EACH ROW EXECUTE FUNCTION refuse()`)
	e.WriteFile("t.csv", "id,name\n1,\"a\nb\"\n7,boom\n8,c\n") // a quoted line break: id=7 is on line 4
	cfg := e.Config(`
source "csv" "t" {
  path = "t.csv"
}
sync "t" {
  source      = source.csv.t
  destination = destination.postgres.dst
  table       = "t"
  behavior    = "mirror"
  key         = ["id"]
}
`)
	p := applyable(t, cfg)
	r := syncResult(t, apply(t, cfg, p, executor.Options{}), "t")
	if r.Err == nil || !strings.Contains(r.Err.Error(), "at the row id=7 (CSV line 4)") {
		t.Fatalf("the error does not name id=7 at line 4: %v", r.Err)
	}
}
