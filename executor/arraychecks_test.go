package executor_test

import (
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestArrayColumnsChecked: a table with server-side checks (CHECK
// constraints, a unique index) and mapped array columns is planned and
// checked on its arrays' values — NULL, empty, with NULL elements, text
// and numbers. Before, the checks sent each array column as an array of
// arrays, which PostgreSQL does not have, and every such plan failed
// (connection_failed: binary data has array element type 1007 instead of
// 23). An array of two dimensions cannot be sent so, and says which column.
func TestArrayColumnsChecked(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE m (id int, nums int[], tags text[], n int);
INSERT INTO m VALUES (1, '{1,2}', '{a,b}', 5), (2, '{3,NULL}', '{}', -1), (3, NULL, '{x,y,z,w}', 7), (4, '{}', NULL, 8), (5, '{9}', '{"q r",NULL}', 9), (6, '{1,2}', '{k}', 10)`)
	e.Dst(`CREATE TABLE m (id int PRIMARY KEY, nums int[], tags text[], n int CHECK (n > 0),
  CHECK (cardinality(tags) < 4), CHECK (nums IS NULL OR 9 <> ALL (nums)));
CREATE UNIQUE INDEX m_nums ON m (nums) WHERE n < 100;
INSERT INTO m VALUES (1, '{1}', '{a}', 5), (4, '{0}', '{b}', 8)`)
	cfg := e.Config(`
sync "m" {
  source      = source.postgres.src
  query       = "SELECT id, nums, tags, n FROM m"
  destination = destination.postgres.dst
  table       = "m"
  behavior    = "update_or_create"
  key         = "id"
  on_reject   = "skip"
}`)
	p := plan(t, cfg)
	sp := p.Syncs[0]
	// 2: n > 0; 3: four tags; 5: a 9; 1 and 6: the same nums.
	if want := (planner.Counts{Update: 1, Reject: 5}); sp.Counts != want {
		t.Errorf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	text := synctest.FindingsText(sp)
	for _, want := range []string{"m_n_check", "id=2", "m_tags_check", "id=3", "m_nums_check", "id=5", "m_nums", "id=1, id=6"} {
		if !strings.Contains(text, want) {
			t.Errorf("the findings do not say %q:\n%s", want, text)
		}
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT format('%s %s %s %s', id, nums, tags, n) FROM m ORDER BY id`), ", "); got != `1 {1} {a} 5, 4 {}  8` {
		t.Errorf("m holds %s", got)
	}

	e.Src(`INSERT INTO m VALUES (7, '{{1,2},{3,4}}', '{a}', 1)`)
	sp = plan(t, cfg).Syncs[0]
	if text := synctest.FindingsText(sp); !strings.Contains(text, `error type_mismatch: the column "nums" holds an array of more than one dimension`) {
		t.Errorf("a two-dimensional array: %+v\n%s", sp.Counts, text)
	}
}

// TestChecksSendOnlyWhatTheyRead: a CHECK reads n, a unique index code, and
// the key is under a nondeterministic collation (its new rows are looked up
// again by key); none reads grid, whose arrays have two dimensions or a
// lower bound other than 1 and cannot be given to the checks. Before, the
// CHECK constraints' and the key lookup's queries sent every mapped column,
// and such a value stopped the plan (type_mismatch) though no rule reads
// it. The checks still refuse what they read, and apply stores the arrays
// as they are.
func TestChecksSendOnlyWhatTheyRead(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE m (id text, grid int[], n int, code text);
INSERT INTO m VALUES ('a', '{{1,2},{3,4}}', 1, 'x'), ('B', '[0:1]={5,6}', 2, 'y'), ('c', '{{7}}', -1, 'z'), ('d', NULL, 3, 'x')`)
	e.Dst(`CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false);
CREATE TABLE m (id text COLLATE ci PRIMARY KEY, grid int[], n int CHECK (n > 0), code text UNIQUE);
INSERT INTO m VALUES ('b', '{0}', 2, 'w')`)
	cfg := e.Config(`
sync "m" {
  source      = source.postgres.src
  query       = "SELECT id, grid, n, code FROM m"
  destination = destination.postgres.dst
  table       = "m"
  behavior    = "update_or_create"
  key         = "id"
  on_reject   = "skip"
}`)
	p := plan(t, cfg)
	sp := p.Syncs[0]
	// 'B' is 'b' under ci: an update (of every column but the key); 'c'
	// fails n > 0; 'a' and 'd' share code x.
	if want := (planner.Counts{Update: 1, Reject: 3}); sp.Counts != want {
		t.Errorf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	text := synctest.FindingsText(sp)
	for _, want := range []string{"m_n_check", `id="c"`, "m_code_key", `id="a", id="d"`} {
		if !strings.Contains(text, want) {
			t.Errorf("the findings do not say %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "type_mismatch") {
		t.Errorf("a column no check reads stopped the plan:\n%s", text)
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT format('%s %s %s %s', id, grid, n, code) FROM m ORDER BY id`), ", "); got != `b [0:1]={5,6} 2 y` {
		t.Errorf("m holds %s", got)
	}
	requireConverged(t, cfg)
}
