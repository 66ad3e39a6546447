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
// copied as invalid UTF-8), and a value with a character the LATIN1
// destination cannot hold is a rejected row of the plan (apply failed on it).
func TestDatabaseEncodings(t *testing.T) {
	sync := itemsUpsertSync
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

	t.Run("WIN1252, with bytes that are no character", func(t *testing.T) {
		t.Parallel()
		e := synctest.NewWithEncodings(t, "", "WIN1252")
		e.Src(`CREATE TABLE items (id int, v text); INSERT INTO items VALUES (1, '€ and Ÿ'), (2, 'ā')`)
		e.Dst(`CREATE TABLE items (id int PRIMARY KEY, v text)`)
		sp := plan(t, e.Config(sync)).Syncs[0]
		if want := (planner.Counts{Insert: 1, Reject: 1}); sp.Counts != want || !strings.Contains(synctest.FindingsText(sp), "WIN1252 has no equivalent for") {
			t.Fatalf("counts %+v, want %+v:\n%s", sp.Counts, want, synctest.FindingsText(sp))
		}
	})

	t.Run("a character LATIN1 lacks", func(t *testing.T) {
		t.Parallel()
		e := synctest.NewWithEncodings(t, "", "LATIN1")
		e.Src(`CREATE TABLE items (id int, v text, j jsonb); INSERT INTO items VALUES (1, 'ok é', '{"a": "é"}'), (2, '€ euro', NULL), (3, 'fine', '{"b": "€"}')`)
		e.Dst(`CREATE TABLE items (id int PRIMARY KEY, v text, j jsonb)`)
		body := strings.Replace(sync, "SELECT id, v FROM items", "SELECT id, v, j FROM items", 1)
		p := plan(t, e.Config(body))
		sp := p.Syncs[0]
		text := synctest.FindingsText(sp)
		if p.Applyable || sp.Counts.Reject != 2 || !strings.Contains(text, `a character the database's encoding LATIN1 has no equivalent for`) ||
			!strings.Contains(text, `column "v"`) || !strings.Contains(text, `column "j"`) {
			t.Fatalf("counts %+v, applyable %v:\n%s", sp.Counts, p.Applyable, text)
		}
		cfg := e.Config(strings.Replace(body, `key         = "id"`, `key         = "id"
  on_reject   = "skip"`, 1))
		requireApplied(t, apply(t, cfg, plan(t, cfg), executor.Options{}))
		if got := strings.Join(e.DstQuery(`SELECT id || ':' || v || ':' || j::text FROM items`), " "); got != `1:ok é:{"a": "é"}` {
			t.Errorf("the table holds %s", got)
		}
	})
}
