package executor_test

import (
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestDatabaseEncodings: rowform's sessions speak UTF-8 whatever the
// databases' encodings, so a LATIN1 destination gets characters, not
// bytes (é stayed é, not Ã©; its stored é was no update to make), a LATIN1
// source's text reaches a UTF-8 destination as characters (its bytes were
// copied as invalid UTF-8), and a character the LATIN1 destination cannot
// hold is refused, not stored as something else.
func TestDatabaseEncodings(t *testing.T) {
	const sync = `
sync "items" {
  source      = source.postgres.src
  query       = "SELECT id, v FROM items"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "update_or_create"
  key         = "id"
}`
	for _, c := range []struct{ name, src, dst string }{
		{"UTF8 into LATIN1", "", "LATIN1"},
		{"LATIN1 into UTF8", "LATIN1", ""},
		{"LATIN1 into LATIN1", "LATIN1", "LATIN1"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := synctest.NewWithEncodings(t, c.src, c.dst)
			e.Src(`CREATE TABLE items (id int, v text); INSERT INTO items VALUES (1, 'café'), (2, 'naïve Ø'), (3, 'plain')`)
			e.Dst(`CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items VALUES (1, 'café'), (3, 'old')`)
			for _, strategy := range []string{"full_rows", "server_hash"} {
				cfg := e.Config(strings.Replace(sync, `key         = "id"`, `key         = "id"
  diff_strategy = "`+strategy+`"`, 1))
				sp := applyable(t, cfg).Syncs[0]
				if want := (planner.Counts{Insert: 1, Update: 1, Unchanged: 1}); sp.Counts != want {
					t.Fatalf("%s: counts %+v, want %+v", strategy, sp.Counts, want)
				}
			}
			cfg := e.Config(sync)
			requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{}))
			if got := strings.Join(e.DstQuery(`SELECT v || ':' || length(v) FROM items ORDER BY id`), " "); got != "café:4 naïve Ø:7 plain:5" {
				t.Errorf("the table holds %s", got)
			}
			requireConverged(t, cfg)
		})
	}

	t.Run("a character LATIN1 lacks", func(t *testing.T) {
		t.Parallel()
		e := synctest.NewWithEncodings(t, "", "LATIN1")
		e.Src(`CREATE TABLE items (id int, v text); INSERT INTO items VALUES (1, 'ok'), (2, '€ euro')`)
		e.Dst(`CREATE TABLE items (id int PRIMARY KEY, v text)`)
		cfg := e.Config(sync)
		p := plan(t, cfg)
		res := apply(t, cfg, p, executor.Options{})
		requireFailed(t, res, "items", `character with byte sequence 0xe2 0x82 0xac in encoding "UTF8" has no equivalent in encoding "LATIN1"`)
		if got := e.DstQuery(`SELECT count(*) FROM items`)[0]; got != "0" {
			t.Errorf("the table holds %s rows", got)
		}
	})
}
