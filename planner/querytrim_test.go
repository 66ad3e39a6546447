package planner_test

import (
	"strings"
	"testing"

	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestQueryFileEndingInComment: a query file ending in "; -- comment"
// plans (rowform wraps the query as a subquery, where the semicolon used
// to be a syntax error reported a line off), and an error of the query as
// a subquery names the query's own line and column.
func TestQueryFileEndingInComment(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id bigint, name text)`)
	e.Src(`INSERT INTO items VALUES (1, 'a')`)
	e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name text)`)
	e.WriteFile("ok.sql", "SELECT id, name\nFROM items\nWHERE id > 0; -- every row\n")
	e.WriteFile("typo.sql", "SELECT id, name\nFROM items\nWHER id > 0; -- every row\n")
	e.WriteFile("dml.sql", "\nWITH d AS (\n  DELETE FROM items RETURNING *\n)\nSELECT id, name FROM d; -- moved\n")
	sync := func(name, file string) string {
		return `
sync "` + name + `" {
  source      = source.postgres.src
  query       = file("` + file + `")
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "update_or_create"
  key         = ["id"]
}
`
	}
	for _, c := range []struct{ name, file, want string }{
		{"ok", "ok.sql", ""},
		{"typo", "typo.sql", "At line 3, column 6 of the query."},
		{"dml", "dml.sql", "At line 2, column 6 of the query."},
	} {
		cfg := e.Config(sync(c.name, c.file))
		p := plan(t, cfg, planner.Options{})
		sp := syncNamed(t, p, c.name)
		if c.want == "" {
			if len(sp.Findings) > 0 || sp.Counts.Insert != 1 {
				t.Errorf("%s: %+v\n%s", c.name, sp.Counts, synctest.FindingsText(sp))
			}
			continue
		}
		if len(sp.Findings) != 1 || sp.Findings[0].Code != planner.CodeSourceQueryFailed || !strings.Contains(sp.Findings[0].Detail, c.want) {
			t.Errorf("%s: want source_query_failed with %q:\n%s", c.name, c.want, synctest.FindingsText(sp))
		}
	}
}
