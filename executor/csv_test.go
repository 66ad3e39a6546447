package executor_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestApplyCSV applies a CSV source (PostgreSQL's CSV rules: "" is an empty
// string, an unquoted empty field NULL) and converges; a file changed after
// the plan so that a value no longer converts is refused as stale, with the
// table unchanged.
func TestApplyCSV(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE contacts (id bigint PRIMARY KEY, name text, score int)`)
	e.Dst(`INSERT INTO contacts VALUES (1, 'old', 1)`)
	csv := e.WriteFile("contacts.csv", "id,name,score\n1,Ann,10\n2,\"\",\n3,,30\n")
	cfg := e.Config(`
source "csv" "contacts" {
  path = "contacts.csv"
}

sync "contacts" {
  source      = source.csv.contacts
  destination = destination.postgres.dst
  table       = "contacts"
  behavior    = "mirror"
  key         = "id"
}
`)
	p := applyable(t, cfg)
	requirePlanned(t, p, planner.Counts{Insert: 2, Update: 1})
	res := apply(t, cfg, p, executor.Options{})
	requireApplied(t, res)
	e.Dst(`CREATE TABLE expected (id bigint, name text, score int)`)
	e.Dst(`INSERT INTO expected VALUES (1, 'Ann', 10), (2, '', NULL), (3, NULL, 30)`)
	requireSameRows(t, e, "contacts", "expected")
	requireConverged(t, cfg)

	if err := os.WriteFile(filepath.Join(e.Dir, "contacts.csv"), []byte("id,name,score\n1,Bob,10\n2,\"\",\n3,,30\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p = applyable(t, cfg)
	if err := os.WriteFile(csv, []byte("id,name,score\n1,Bob,ten\n2,\"\",\n3,,30\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := e.DstDigest("contacts")
	res = apply(t, cfg, p, executor.Options{})
	requireFailed(t, res, "contacts", "plan is stale", "nothing was written")
	if got := e.DstDigest("contacts"); got != before {
		t.Errorf("the table changed after a refused apply")
	}
}
