package executor_test

import (
	"fmt"
	"strings"
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

// TestMirrorNullKeyRowsAndValuesThatDoNotConvert: a mirror whose
// destination has a NULL-keyed row and whose postgres source has a value
// that does not convert (read under the full-row strategy, where no check
// needs the destination server, so the checker hands changes on as they
// come). The source query stops at the value and the diff starts again
// with the source read as text, which rejects the row: that restart must
// not be lost to the NULL-keyed row's delete, which the diff may hand on
// only once both sides have been read. The source sleeps before its first
// row so that, were the delete handed on while the source is read, it
// would reliably come first.
func TestMirrorNullKeyRowsAndValuesThatDoNotConvert(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE users (id int, v int)`)
	e.Dst(`CREATE UNIQUE INDEX ON users (id)`)
	e.Dst(`INSERT INTO users VALUES (NULL, 5), (1, 1), (2, 2)`)
	e.Src(`CREATE TABLE s (id int, v text)`)
	e.Src(`INSERT INTO s VALUES (1, '1'), (2, 'x'), (3, '3')`)
	cfg := e.Config(`
sync "users" {
  source        = source.postgres.src
  query         = "SELECT id, v FROM s, pg_sleep(0.5)"
  destination   = destination.postgres.dst
  table         = "users"
  behavior      = "mirror"
  key           = ["id"]
  diff_strategy = "full_rows"
  on_reject     = "skip"
}
`)
	p := plan(t, cfg)
	sp := p.Syncs[0]
	want := planner.Counts{Insert: 1, Delete: 1, Unchanged: 1, Reject: 1}
	if !sp.Diffed || sp.Counts != want {
		t.Fatalf("diffed=%v counts %+v, want %+v\n%s", sp.Diffed, sp.Counts, want, synctest.FindingsText(sp))
	}
	if f := rejectFindings(sp)["v"]; f.Rows != 1 || len(f.Examples) != 1 || !strings.HasPrefix(f.Examples[0], "id=2") {
		t.Fatalf("findings:\n%s", synctest.FindingsText(sp))
	}
	r := syncResult(t, apply(t, cfg, p, executor.Options{}), "users")
	requireApplied(t, &executor.Result{Syncs: []*executor.SyncResult{r}})
	if rejected := rejectedRows(t, r); len(rejected) != 1 || rejected[0].Key["id"] != "2" {
		t.Fatalf("rejected %+v", rejected)
	}
	if got := e.DstQuery(`SELECT coalesce(id::text, 'NULL') || ':' || v FROM users ORDER BY id`); strings.Join(got, ",") != "1:1,2:2,3:3" {
		t.Errorf("table holds %v, want rows 1, 2 (kept), 3 (inserted), the NULL-keyed row deleted", got)
	}
}
