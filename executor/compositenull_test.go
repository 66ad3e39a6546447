package executor_test

import (
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestCompositeValuesWithNullFields: a composite value with NULL fields,
// '(7,)' or '(,)', is no NULL to a unique index or a foreign key, which go
// by the value itself, while SQL's IS NULL on a composite tests its fields
// ('(7,)' IS NOT NULL is false). The checks took such values for NULL: a
// clean plan's apply failed on the unique index or the foreign key, a row
// referencing a parent the sync inserts was refused, and one was refused
// under NULLS NOT DISTINCT as a duplicate of a NULL.
func TestCompositeValuesWithNullFields(t *testing.T) {
	t.Parallel()
	cases := []struct {
		name, src, dst, query string
		want                  planner.Counts
		says                  []string
		holds                 string
	}{
		{
			name:  "unique index",
			src:   `CREATE TABLE s (id int, v comp); INSERT INTO s VALUES (1, '(1,)'), (2, '(1,)'), (3, '(7,)'), (4, '(8,)')`,
			dst:   `CREATE TABLE d (id int PRIMARY KEY, v comp); CREATE UNIQUE INDEX d_v ON d (v); INSERT INTO d VALUES (9, '(7,)')`,
			query: "SELECT id, v FROM s",
			want:  planner.Counts{Insert: 1, Reject: 3},
			says:  []string{"another row of this sync has the same (v)", "id=1, id=2", "a destination row that this sync leaves in place already has the same (v)", "id=3"},
			holds: "4 (8,), 9 (7,)",
		},
		{
			name:  "foreign key",
			src:   `CREATE TABLE s (id int, v comp); INSERT INTO s VALUES (1, '(1,a)'), (3, '(,)')`,
			dst:   `CREATE TABLE p (v comp PRIMARY KEY); INSERT INTO p VALUES ('(1,a)'); CREATE TABLE d (id int PRIMARY KEY, v comp REFERENCES p (v))`,
			query: "SELECT id, v FROM s",
			want:  planner.Counts{Insert: 1, Reject: 1},
			says:  []string{"d_v_fkey", "id=3"},
			holds: "1 (1,a)",
		},
		{
			name:  "parent written by the sync",
			src:   `CREATE TABLE s (id int, v comp, pv comp); INSERT INTO s VALUES (1, '(7,)', NULL), (2, '(8,)', '(7,)')`,
			dst:   `CREATE TABLE d (id int PRIMARY KEY, v comp UNIQUE, pv comp REFERENCES d (v))`,
			query: "SELECT id, v, pv FROM s",
			want:  planner.Counts{Insert: 2},
			holds: "1 (7,), 2 (8,)",
		},
		{
			name:  "nulls not distinct",
			src:   `CREATE TABLE s (id int, v comp); INSERT INTO s VALUES (2, '(,)'), (3, NULL)`,
			dst:   `CREATE TABLE d (id int PRIMARY KEY, v comp); CREATE UNIQUE INDEX d_v ON d (v) NULLS NOT DISTINCT; INSERT INTO d VALUES (1, NULL)`,
			query: "SELECT id, v FROM s",
			want:  planner.Counts{Insert: 1, Reject: 1},
			says:  []string{"id=3"},
			holds: "1 , 2 (,)",
		},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := synctest.New(t)
			e.Src(`CREATE TYPE comp AS (x int, y text); ` + tc.src)
			e.Dst(`CREATE TYPE comp AS (x int, y text); ` + tc.dst)
			cfg := e.Config(`
sync "d" {
  source      = source.postgres.src
  query       = "` + tc.query + `"
  destination = destination.postgres.dst
  table       = "d"
  behavior    = "update_or_create"
  key         = "id"
  on_reject   = "skip"
}`)
			p := plan(t, cfg)
			sp := p.Syncs[0]
			text := synctest.FindingsText(sp)
			if sp.Counts != tc.want {
				t.Errorf("counts %+v, want %+v\n%s", sp.Counts, tc.want, text)
			}
			for _, want := range tc.says {
				if !strings.Contains(text, want) {
					t.Errorf("the findings do not say %q:\n%s", want, text)
				}
			}
			requireApplied(t, apply(t, cfg, p, executor.Options{}))
			if got := strings.Join(e.DstQuery(`SELECT format('%s %s', id, v) FROM d ORDER BY id`), ", "); got != tc.holds {
				t.Errorf("d holds %s, want %s", got, tc.holds)
			}
		})
	}
}
