package executor_test

import (
	"fmt"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestMirrorDeletesNullKeyRows: destination rows with a NULL in a key
// column (a unique constraint allows them) match no source row. A mirror
// plans them as deletes and its apply deletes exactly them, leaving the
// table equal to the source; update_or_create leaves them alone. A
// two-column key with one NULL part counts too.
func TestMirrorDeletesNullKeyRows(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE people (org int NOT NULL, email text NOT NULL, name text)`)
	e.Src(`INSERT INTO people VALUES (1, 'a@x', 'Ann'), (1, 'b@x', 'Bob'), (2, 'a@x', 'Ada')`)
	for _, table := range []string{"mirrored", "upserted"} {
		e.Dst(fmt.Sprintf(`CREATE TABLE %s (org int, email text, name text, UNIQUE (org, email))`, table))
		e.Dst(fmt.Sprintf(`INSERT INTO %s VALUES (1, 'a@x', 'Ann'), (1, NULL, 'no email'), (1, NULL, 'no email either'), (NULL, 'c@x', 'no org'), (3, 'z@x', 'gone')`, table))
	}
	sync := func(name, table, behavior string) string {
		return fmt.Sprintf(`
sync %q {
  source      = source.postgres.src
  query       = "SELECT org, email, name FROM people"
  destination = destination.postgres.dst
  table       = %q
  behavior    = %q
  key         = ["org", "email"]
}
`, name, table, behavior)
	}
	cfg := e.Config(sync("mirror", "mirrored", "mirror") + sync("upsert", "upserted", "update_or_create"))
	p := applyable(t, cfg)
	want := map[string]planner.Counts{
		"mirror": {Insert: 2, Delete: 4, Unchanged: 1},
		"upsert": {Insert: 2, Unchanged: 1},
	}
	for _, sp := range p.Syncs {
		if sp.Counts != want[sp.Name] {
			t.Errorf("%s: planned %+v, want %+v", sp.Name, sp.Counts, want[sp.Name])
		}
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	e.Dst(`CREATE TABLE expected_mirror (org int, email text, name text)`)
	e.Dst(`INSERT INTO expected_mirror VALUES (1, 'a@x', 'Ann'), (1, 'b@x', 'Bob'), (2, 'a@x', 'Ada')`)
	requireSameRows(t, e, "mirrored", "expected_mirror")
	e.Dst(`CREATE TABLE expected_upsert (org int, email text, name text)`)
	e.Dst(`INSERT INTO expected_upsert VALUES (1, 'a@x', 'Ann'), (1, 'b@x', 'Bob'), (2, 'a@x', 'Ada'), (1, NULL, 'no email'), (1, NULL, 'no email either'), (NULL, 'c@x', 'no org'), (3, 'z@x', 'gone')`)
	requireSameRows(t, e, "upserted", "expected_upsert")
	requireConverged(t, cfg)
}
