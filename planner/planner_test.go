package planner_test

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

func TestMain(m *testing.M) { synctest.Main(m) }

func plan(t *testing.T, cfg *hclconfig.Config, opts planner.Options) *planner.Plan {
	t.Helper()
	p, err := planner.Compute(context.Background(), cfg, opts)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p
}

// TestBehaviorsByKeyType checks the counts of every behavior for every key
// type. Rows 1..5 are only in the source, 6..8 equal on both sides, 9..10
// differ, 11..15 only in the destination.
func TestBehaviorsByKeyType(t *testing.T) {
	want := map[string]planner.Counts{
		"update_or_create": {Insert: 5, Update: 2, Unchanged: 3},
		"update_only":      {Update: 2, Unchanged: 3, Skipped: 5},
		"append":           {Insert: 5, Unchanged: 3, Skipped: 2},
		"mirror":           {Insert: 5, Update: 2, Delete: 5, Unchanged: 3},
	}
	for _, kk := range synctest.KeyKinds {
		t.Run(kk.Name, func(t *testing.T) {
			t.Parallel()
			e := synctest.New(t)
			e.Src(fmt.Sprintf("CREATE TABLE items (%s, name text, price numeric)", kk.SrcCols))
			e.Dst(fmt.Sprintf("CREATE TABLE items (%s, name text, price numeric(10,2), note text, PRIMARY KEY (%s))", kk.DstCols, kk.KeyCols))
			for i := 1; i <= 10; i++ {
				e.Src(fmt.Sprintf("INSERT INTO items VALUES (%s, 'item %d', %d.5)", kk.Key(i), i, i))
			}
			for i := 6; i <= 15; i++ {
				name := fmt.Sprintf("item %d", i)
				if i == 9 || i == 10 {
					name = "stale"
				}
				e.Dst(fmt.Sprintf("INSERT INTO items VALUES (%s, '%s', %d.50, 'keep')", kk.Key(i), name, i))
			}
			var body strings.Builder
			for _, b := range hclconfig.Behaviors {
				fmt.Fprintf(&body, `
sync "%s" {
  source      = source.postgres.src
  query       = "SELECT * FROM items"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "%s"
  key         = %s
  mapping = {
%s    name  = "name"
    price = "price"
  }
}
`, b, b, kk.KeyList, synctest.MappingFor(kk.KeyCols))
			}
			cfg := e.Config(body.String())
			// One plan per sync: the four write one table, which one plan
			// refuses (shared_table).
			var syncs []*planner.SyncPlan
			for _, b := range hclconfig.Behaviors {
				syncs = append(syncs, plan(t, cfg, planner.Options{Syncs: []string{string(b)}}).Syncs...)
			}
			for _, sp := range syncs {
				if len(sp.Findings) > 0 || !sp.Diffed {
					t.Errorf("%s: unexpected findings (diffed=%v):\n%s", sp.Name, sp.Diffed, synctest.FindingsText(sp))
					continue
				}
				if sp.Counts != want[sp.Name] {
					t.Errorf("%s: counts %+v, want %+v", sp.Name, sp.Counts, want[sp.Name])
				}
			}
		})
	}
}
