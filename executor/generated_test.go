package executor_test

import (
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestGeneratedColumnsChecked: the CHECK constraints, NOT NULL and unique
// indexes of stored generated columns are checked on the values the write
// computes from the row it leaves. Before, the plan took an insert's
// generated value as NULL and an update's as the destination's old one, so
// a clean plan's apply failed on each of these rows.
func TestGeneratedColumnsChecked(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE g (id int, v int, code text);
INSERT INTO g VALUES (1, 60, 'A'), (2, 5, 'a'), (3, NULL, 'C'), (4, 1, 'A'), (5, 2, 'E'), (6, 4, 'F')`)
	e.Dst(`CREATE TABLE g (id int PRIMARY KEY, v int, w int DEFAULT 1, code text,
  total int GENERATED ALWAYS AS (v * 2 + w) STORED NOT NULL CHECK (total < 100),
  tag text GENERATED ALWAYS AS (lower(code)) STORED UNIQUE);
INSERT INTO g (id, v, code) VALUES (1, 10, 'A'), (2, 5, 'B'), (6, 3, 'F')`)
	cfg := e.Config(`
sync "g" {
  source      = source.postgres.src
  query       = "SELECT id, v, code FROM g"
  destination = destination.postgres.dst
  table       = "g"
  behavior    = "update_or_create"
  key         = "id"
  on_reject   = "skip"
}`)
	p := plan(t, cfg)
	sp := p.Syncs[0]
	if want := (planner.Counts{Insert: 1, Update: 1, Reject: 4}); sp.Counts != want {
		t.Errorf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	text := synctest.FindingsText(sp)
	for _, want := range []string{
		"(total < 100)", "id=1", // an update: 60 * 2 + 1
		`null value in column "total"`, "id=3", // an insert: NULL * 2 + 1
		"g_tag_key", "id=2", "id=4", // lower('a') and lower('A') are id 1's 'a'
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the findings do not say %q:\n%s", want, text)
		}
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT format('%s %s %s %s %s', id, v, code, total, tag) FROM g ORDER BY id`), ", "); got != `1 10 A 21 a, 2 5 B 11 b, 5 2 E 5 e, 6 4 F 9 f` {
		t.Errorf("g holds %s", got)
	}
}
