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

func findingsText(sp *planner.SyncPlan) string {
	var b strings.Builder
	for _, f := range sp.Findings {
		fmt.Fprintf(&b, "  %s %s: %s\n    %s\n    fix: %s\n", f.Severity, f.Code, f.Summary, f.Detail, f.Fix)
	}
	return b.String()
}

// keyKind describes one key type under test: the column definitions and a
// function giving the key expression for row number i.
type keyKind struct {
	name    string
	srcCols string // key column definitions in the source table
	dstCols string // in the destination table
	keyList string // key attribute value
	keyCols string // column list for the primary key
	key     func(i int) string
}

// trickyText gives keys whose order differs between collations: case,
// punctuation and accents.
var trickyText = []string{"a", "B", "_c", "Ä", "b", "A", "c-d", "cd", "Z", "z", " x", "é", "E", "e", "ß", "ss"}

var keyKinds = []keyKind{
	{"bigint", "id bigint", "id bigint", `["id"]`, "id", func(i int) string { return fmt.Sprint(i * 7919 % 1000) }},
	{"uuid", "id uuid", "id uuid", `"id"`, "id", func(i int) string {
		return fmt.Sprintf("'%08x-0000-4000-8000-%012x'::uuid", (i*2654435761)%(1<<32), i)
	}},
	{"text_icu", `id text COLLATE "C"`, `id text COLLATE "und-x-icu"`, `["id"]`, "id", func(i int) string {
		return "'" + trickyText[i%len(trickyText)] + fmt.Sprint(i/len(trickyText)) + "'"
	}},
	{"composite", "a bigint, b text", "a bigint, b text", `["a", "b"]`, "a, b", func(i int) string {
		return fmt.Sprintf("%d, '%s'", i%3, trickyText[i%len(trickyText)]+fmt.Sprint(i))
	}},
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
	for _, kk := range keyKinds {
		t.Run(kk.name, func(t *testing.T) {
			t.Parallel()
			e := synctest.New(t)
			e.Src(fmt.Sprintf("CREATE TABLE items (%s, name text, price numeric)", kk.srcCols))
			e.Dst(fmt.Sprintf("CREATE TABLE items (%s, name text, price numeric(10,2), note text, PRIMARY KEY (%s))", kk.dstCols, kk.keyCols))
			for i := 1; i <= 10; i++ {
				e.Src(fmt.Sprintf("INSERT INTO items VALUES (%s, 'item %d', %d.5)", kk.key(i), i, i))
			}
			for i := 6; i <= 15; i++ {
				name := fmt.Sprintf("item %d", i)
				if i == 9 || i == 10 {
					name = "stale"
				}
				e.Dst(fmt.Sprintf("INSERT INTO items VALUES (%s, '%s', %d.50, 'keep')", kk.key(i), name, i))
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
`, b, b, kk.keyList, mappingFor(kk.keyCols))
			}
			cfg := e.Config(body.String())
			p := plan(t, cfg, planner.Options{})
			for _, sp := range p.Syncs {
				if len(sp.Findings) > 0 || !sp.Diffed {
					t.Errorf("%s: unexpected findings (diffed=%v):\n%s", sp.Name, sp.Diffed, findingsText(sp))
					continue
				}
				if sp.Counts != want[sp.Name] {
					t.Errorf("%s: counts %+v, want %+v", sp.Name, sp.Counts, want[sp.Name])
				}
			}
		})
	}
}

func mappingFor(keyCols string) string {
	var b strings.Builder
	for _, c := range strings.Split(keyCols, ",") {
		c = strings.TrimSpace(c)
		fmt.Fprintf(&b, "    %s = %q\n", c, c)
	}
	return b.String()
}
