package executor_test

import (
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestNondeterministicCollationKeys: keys in a column with a case-insensitive
// ICU collation match as the destination's unique index has them ('ABC' is
// the stored 'abc'): the plan updates instead of inserting (which the index
// would refuse) and a mirror does not delete and re-insert; source keys
// equal under the collation are duplicates. Apply writes what the plan
// said, and the next plan has no changes.
func TestNondeterministicCollationKeys(t *testing.T) {
	t.Parallel()
	for _, behavior := range []string{"mirror", "update_or_create", "update_only", "append"} {
		t.Run(behavior, func(t *testing.T) {
			t.Parallel()
			e := synctest.New(t)
			e.Dst(`CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`)
			e.Dst(`CREATE TABLE t (id text COLLATE ci PRIMARY KEY, name text)`)
			e.Dst(`INSERT INTO t VALUES ('abc', 'old'), ('same', 'x'), ('gone', 'g')`)
			e.Src(`CREATE TABLE s (id text, name text)`)
			e.Src(`INSERT INTO s VALUES ('ABC', 'new'), ('SAME', 'x'), ('fresh', 'f')`)
			cfg := e.Config(`
sync "t" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM s"
  destination = destination.postgres.dst
  table       = "t"
  behavior    = "` + behavior + `"
  key         = ["id"]
}
`)
			want := map[string]planner.Counts{
				"mirror":           {Insert: 1, Update: 1, Delete: 1, Unchanged: 1},
				"update_or_create": {Insert: 1, Update: 1, Unchanged: 1},
				"update_only":      {Update: 1, Unchanged: 1, Skipped: 1},
				"append":           {Insert: 1, Unchanged: 1, Skipped: 1},
			}[behavior]
			p := applyable(t, cfg)
			if got := p.Syncs[0].Counts; got != want {
				t.Fatalf("planned %+v, want %+v", got, want)
			}
			r := syncResult(t, apply(t, cfg, p, executor.Options{}), "t")
			requireApplied(t, &executor.Result{Syncs: []*executor.SyncResult{r}})
			got := strings.Join(e.DstQuery(`SELECT id || '=' || name FROM t ORDER BY id COLLATE "C"`), ",")
			wantRows := map[string]string{
				"mirror":           "abc=new,fresh=f,same=x",
				"update_or_create": "abc=new,fresh=f,gone=g,same=x",
				"update_only":      "abc=new,gone=g,same=x",
				"append":           "abc=old,fresh=f,gone=g,same=x",
			}[behavior]
			if got != wantRows {
				t.Errorf("table %s, want %s", got, wantRows)
			}
			again := plan(t, cfg).Syncs[0]
			if again.Counts.Changes() != 0 {
				t.Errorf("the next plan has changes: %+v", again.Counts)
			}
		})
	}
	t.Run("duplicates", func(t *testing.T) {
		t.Parallel()
		e := synctest.New(t)
		e.Dst(`CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`)
		e.Dst(`CREATE TABLE t (id text COLLATE ci PRIMARY KEY, name text)`)
		e.Dst(`INSERT INTO t VALUES ('abc', 'old')`)
		e.Src(`CREATE TABLE s (id text, name text)`)
		e.Src(`INSERT INTO s VALUES ('ABC', '1'), ('aBc', '2'), ('Xy', '3'), ('xY', '4'), ('z', '5')`)
		cfg := e.Config(syncBlockSkip("t", "SELECT id, name FROM s"))
		sp := plan(t, cfg).Syncs[0]
		found := false
		for _, f := range sp.Findings {
			if f.Code == planner.CodeDuplicateSourceKey && strings.Contains(f.Summary, "2 keys") {
				found = true
			}
		}
		if !found {
			t.Errorf("no duplicate_source_key finding for the 2 keys equal under the collation:\n%s", synctest.FindingsText(sp))
		}
	})
}
