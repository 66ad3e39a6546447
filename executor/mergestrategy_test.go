package executor_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestChangesPassThroughAsSpooled is the differential test of the two
// ways a diff hands its changes to the apply's staging: straight through
// (a table whose only rule is its key) and through the change spool (the
// same table with a CHECK constraint, which the server checks first). At
// 0%, 1%, 10%, 50% and 100% of the rows changed, both tables end exactly
// as the source says, with the planned counts, the same run history, and
// an undo that gives back the table as it was.
func TestChangesPassThroughAsSpooled(t *testing.T) {
	const n = 2000
	for _, pct := range []int{0, 1, 10, 50, 100} {
		t.Run(fmt.Sprintf("%d%%", pct), func(t *testing.T) {
			e := synctest.New(t)
			// pct% of the rows updated, pct% more inserted and pct% deleted;
			// at 100% every row is updated (nothing inserted or deleted).
			changed := fmt.Sprintf("id %% 100 < %d", pct)
			deleted := fmt.Sprintf("(id + 50) %% 100 < %d", pct)
			inserts := n * pct / 100
			if pct == 100 {
				deleted, inserts = "false", 0
			}
			cols := "k bigint, a int, b text, c numeric(12,2), d timestamptz, j jsonb, f text"
			row := func(changed string) string {
				return fmt.Sprintf(`id, (id * 13) %% 1000, CASE WHEN %s THEN 'changed ' ELSE 'row ' END || id, (id %% 1000) * 1.25,
  timestamptz '2024-01-01 00:00:00+00' + id * interval '1 second', jsonb_build_object('id', id, 'tag', 't' || (id %% 7)),
  CASE WHEN id %% 10 = 0 THEN NULL ELSE 'note ' || (id %% 100) END`, changed)
			}
			e.Src(fmt.Sprintf("CREATE TABLE items (%s)", cols))
			e.Src(fmt.Sprintf("INSERT INTO items SELECT %s FROM generate_series(1, %d) AS id WHERE id > %d OR NOT (%s)", row(changed), n+inserts, n, deleted))
			for _, table := range []string{"fast", "checked"} {
				e.Dst(fmt.Sprintf("CREATE TABLE %s (%s, PRIMARY KEY (k))", table, cols))
				e.Dst(fmt.Sprintf("INSERT INTO %s SELECT %s FROM generate_series(1, %d) AS id", table, row("false"), n))
			}
			e.Dst("ALTER TABLE checked ADD CHECK (a >= 0)")
			original := e.DstDigest("fast")
			if e.DstDigest("checked") != original {
				t.Fatal("the two destination tables differ before the apply")
			}
			cfg := e.Config(`
sync "fast" {
  source      = source.postgres.src
  query       = "SELECT * FROM items"
  destination = destination.postgres.dst
  table       = "fast"
  behavior    = "mirror"
  key         = ["k"]
}
sync "checked" {
  source      = source.postgres.src
  query       = "SELECT * FROM items"
  destination = destination.postgres.dst
  table       = "checked"
  behavior    = "mirror"
  key         = ["k"]
}
`)
			// The strategy each sync gets.
			// (Prepare runs in the transactions apply holds on both sides.)
			ctx := context.Background()
			for name, want := range map[string]bool{"fast": true, "checked": false} {
				for _, c := range []*pgx.Conn{e.DstConn(), e.SrcConn()} {
					if _, err := c.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ"); err != nil {
						t.Fatal(err)
					}
				}
				prep, findings := planner.Prepare(ctx, cfg.Sync(name), e.DstConn(), e.SrcConn())
				for _, c := range []*pgx.Conn{e.DstConn(), e.SrcConn()} {
					if _, err := c.Exec(ctx, "ROLLBACK"); err != nil {
						t.Fatal(err)
					}
				}
				if prep == nil {
					t.Fatalf("prepare %s: %v", name, findings)
				}
				if got := prep.PassesChangesThrough(); got != want {
					t.Fatalf("sync %s: PassesChangesThrough() = %v, want %v", name, got, want)
				}
			}
			p := applyable(t, cfg)
			want := planner.Counts{Insert: int64(inserts), Update: int64(n * pct / 100), Delete: int64(n * pct / 100)}
			if pct == 100 {
				want.Delete = 0
			}
			want.Unchanged = int64(n) - want.Update - want.Delete
			for _, sp := range p.Syncs {
				if sp.Counts != want {
					t.Fatalf("sync %s plans %+v, want %+v", sp.Name, sp.Counts, want)
				}
			}
			res := apply(t, cfg, p, executor.Options{Environ: e.Environ})
			requireApplied(t, res)
			for _, name := range []string{"fast", "checked"} {
				if got := syncResult(t, res, name).Applied; got.Changes() != want.Changes() || got.Insert != want.Insert || got.Update != want.Update || got.Delete != want.Delete {
					t.Errorf("sync %s applied %+v, want %+v", name, got, want)
				}
			}
			fast, checked := e.DstDigest("fast"), e.DstDigest("checked")
			if fast != checked {
				t.Fatalf("the table written through the pass-through differs from the one written through the spool")
			}
			if src := strings.Join(e.DstQuery(`SELECT count(*)::text FROM fast`), ""); src != fmt.Sprint(n+inserts-int(want.Delete)) {
				t.Errorf("fast has %s rows, want %d", src, n+inserts-int(want.Delete))
			}
			requireConverged(t, cfg)
			if pct == 0 {
				return
			}
			// The history recorded the same for both, and each undo gives
			// the table back.
			hist := e.DstQuery(`SELECT count(*)::text || ' ' || md5(string_agg(concat_ws('|', x.kind::text, x.key::text, x.changed::text, x.before::text, x.after_hash::text), ',' ORDER BY x.kind, x.key::text))
FROM rowform.runs r JOIN rowform.run_rows x ON x.run_id = r.id GROUP BY r.sync ORDER BY r.sync`)
			if len(hist) != 2 || hist[0] != hist[1] {
				t.Errorf("the two syncs' runs recorded different rows (count and digest): %q", hist)
			}
			for _, name := range []string{"fast", "checked"} {
				var id int64
				if _, err := fmt.Sscan(e.DstQuery(`SELECT max(id) FROM rowform.runs WHERE sync = $1 AND status = 'applied'`, name)[0], &id); err != nil {
					t.Fatal(err)
				}
				requireApplied(t, apply(t, cfg, undoPlan(t, cfg, id, planner.Options{}), executor.Options{Environ: e.Environ}))
				if e.DstDigest(name) != original {
					t.Errorf("after the undo, %s is not as before the apply", name)
				}
			}
		})
	}
}
