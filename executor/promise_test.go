package executor_test

import (
	"context"
	"fmt"
	"math/rand"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestPlanIsAPromise is the randomized property behind rejected rows: on
// generated tables with length, CHECK, NOT NULL, second-unique and foreign
// key constraints, and generated source and destination rows,
//
//   - a clean plan applies, and the table then equals the plan's end state
//     (computed here from the rows and the behavior);
//   - with on_reject = "skip", apply refuses no row: it writes everything
//     but the counts.reject rows it reports, which are exactly the rows the
//     plan rejected, each breaking a rule; rows that break a rule rowform
//     checks in the row alone are always among them;
//   - after apply, a new plan shows no change but the rejected rows.
func TestPlanIsAPromise(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	behaviors := []string{"update_or_create", "update_only", "append", "mirror"}
	for seed := int64(1); seed <= 24; seed++ {
		rng := rand.New(rand.NewSource(seed))
		behavior := behaviors[rng.Intn(len(behaviors))]
		onReject := []string{"fail", "skip"}[rng.Intn(2)]
		// Both diff strategies: apply must keep the promise of a plan made
		// by either, re-diffing the same way.
		strategy := []string{planner.StrategyFullRows, planner.StrategyServerHash}[seed%2]
		name := fmt.Sprintf("seed %d (%s, on_reject %s, %s)", seed, behavior, onReject, strategy)
		g := newPromiseCase(rng)
		g.create(e)
		cfg := e.Config(fmt.Sprintf(`
sync "t" {
  source      = source.postgres.src
  query       = "SELECT id, name, code, qty, email, parent, flag FROM t"
  destination = destination.postgres.dst
  table       = "t"
  behavior    = %q
  key         = ["id"]
  on_reject   = %q
  diff_strategy = %q
}
`, behavior, onReject, strategy))
		p := plan(t, cfg)
		sp := p.Syncs[0]
		if !sp.Diffed {
			t.Fatalf("%s: not diffed:\n%s", name, synctest.FindingsText(sp))
		}
		if sp.Strategy != strategy {
			t.Fatalf("%s: the plan's strategy is %q (%s)", name, sp.Strategy, sp.StrategyReason)
		}
		if !p.Applyable {
			if onReject == "skip" || sp.Counts.Reject == 0 {
				t.Fatalf("%s: the plan is not applyable for another reason than rejected rows:\n%s", name, synctest.FindingsText(sp))
			}
			continue
		}
		res := apply(t, cfg, p, executor.Options{})
		r := syncResult(t, res, "t")
		if r.Status == executor.StatusFailed {
			t.Fatalf("%s: a clean plan (%+v) failed at apply: %v\n%s", name, sp.Counts, r.Err, synctest.FindingsText(sp))
		}
		if r.Applied != sp.Counts {
			t.Errorf("%s: applied %+v, planned %+v", name, r.Applied, sp.Counts)
		}
		rows := rejectedRows(t, r)
		if int64(len(rows)) != sp.Counts.Reject || r.Rejected.Len() != sp.Counts.Reject {
			t.Errorf("%s: apply reported %d rejected rows, the plan counted %d", name, len(rows), sp.Counts.Reject)
		}
		rejected := map[int]bool{}
		for _, rr := range rows {
			var id int
			fmt.Sscan(rr.Key["id"], &id)
			rejected[id] = true
			if !g.breaksARule(id, rr.Kind) {
				t.Errorf("%s: row %d (%s) was rejected (%s: %s) but breaks no rule", name, id, rr.Kind, rr.Constraint, rr.Reason)
			}
		}
		for id := range g.src {
			if g.breaksLocalRule(id) && !rejected[id] && g.written(id, behavior) {
				t.Errorf("%s: source row %d breaks a rule of the row alone but was not rejected", name, id)
			}
		}
		want := g.endState(behavior, rejected)
		got := e.DstQuery(`SELECT concat_ws('|', id, name, code::text, qty, email, parent, flag) FROM t ORDER BY id`)
		if !slices.Equal(got, want) {
			t.Errorf("%s: after apply the table is\n  %s\nwant the plan's end state\n  %s", name, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
		}
		// Every row apply wrote is at its end state: a new plan changes
		// only rows the first one rejected (one refused for an order
		// rowform cannot choose may apply now that its peer has).
		again := planWith(t, cfg, planner.Options{ShowRows: 1000}).Syncs[0]
		if again.Samples != nil {
			for _, rows := range [][]planner.SampleRow{again.Samples.Insert, again.Samples.Update, again.Samples.Delete} {
				for _, sr := range rows {
					var id int
					fmt.Sscan(sr.Key[0], &id)
					if !rejected[id] {
						t.Errorf("%s: after apply the next plan changes row %d, which the first apply wrote", name, id)
					}
				}
			}
		}
	}
}

// promiseRow is one generated row; a nil pointer is NULL.
type promiseRow struct {
	name, code, email *string
	qty, parent       *int
	flag              *bool
}

type promiseCase struct {
	src, dst map[int]promiseRow
	parents  []int // ids of the parent table
	children []int // ids of t referenced by a child table (ON DELETE RESTRICT)
}

func newPromiseCase(rng *rand.Rand) *promiseCase {
	g := &promiseCase{src: map[int]promiseRow{}, dst: map[int]promiseRow{}, parents: []int{1, 2, 3}}
	str := func(alphabet string, minLen, maxLen int) *string {
		n := minLen + rng.Intn(maxLen-minLen+1)
		b := make([]byte, n)
		for i := range b {
			b[i] = alphabet[rng.Intn(len(alphabet))]
		}
		s := string(b)
		return &s
	}
	num := func(lo, hi int) *int { v := lo + rng.Intn(hi-lo+1); return &v }
	nullable := func(p float64) bool { return rng.Float64() < p }
	valid := func() promiseRow {
		f := rng.Intn(2) == 0
		r := promiseRow{name: str("abc", 1, 4), code: str("XY", 1, 2), qty: num(0, 9), parent: num(1, 3), flag: &f}
		return r
	}
	emails := map[string]bool{}
	uniqueEmail := func() *string {
		for {
			s := *str("abcdefgh", 3, 3)
			if !emails[s] {
				emails[s] = true
				return &s
			}
		}
	}
	for id := 1; id <= 12; id++ {
		if rng.Intn(4) == 0 {
			continue
		}
		r := valid()
		r.email = uniqueEmail()
		g.dst[id] = r
	}
	for id := 1; id <= 16; id++ {
		if rng.Intn(4) == 0 {
			continue
		}
		r := valid()
		if d, ok := g.dst[id]; ok && rng.Intn(3) == 0 {
			r = d // unchanged
		} else {
			r.email = uniqueEmail()
		}
		switch rng.Intn(12) {
		case 0:
			r.name = str("abc", 5, 6) // varchar(4)
		case 1:
			r.code = str("XY", 3, 3) // char(2)
		case 2:
			r.qty = num(-3, -1) // CHECK (qty >= 0)
		case 3:
			r.flag = nil // NOT NULL
		case 4:
			r.parent = num(4, 6) // no such parent
		case 5:
			// an email another row has: source or destination
			var pool []string
			for e := range emails {
				pool = append(pool, e)
			}
			sort.Strings(pool)
			e := pool[rng.Intn(len(pool))]
			r.email = &e
		case 6:
			if nullable(0.5) {
				r.parent = nil // MATCH SIMPLE: no check
			}
		}
		g.src[id] = r
	}
	for id := range g.dst {
		if rng.Intn(4) == 0 {
			g.children = append(g.children, id)
		}
	}
	sort.Ints(g.children)
	return g
}

func sqlValue[T any](p *T) string {
	if p == nil {
		return "NULL"
	}
	switch v := any(*p).(type) {
	case string:
		return "'" + v + "'"
	default:
		return fmt.Sprint(v)
	}
}

func (r promiseRow) values(id int) string {
	return fmt.Sprintf("(%d, %s, %s, %s, %s, %s, %s)", id, sqlValue(r.name), sqlValue(r.code), sqlValue(r.qty), sqlValue(r.email), sqlValue(r.parent), sqlValue(r.flag))
}

func (g *promiseCase) create(e *synctest.Env) {
	e.Dst(`DROP TABLE IF EXISTS child, t, parent`)
	e.Dst(`CREATE TABLE parent (id int PRIMARY KEY)`)
	e.Dst(`INSERT INTO parent SELECT generate_series(1, 3)`)
	e.Dst(`CREATE TABLE t (id int PRIMARY KEY, name varchar(4), code char(2), qty int CHECK (qty >= 0),
		email text UNIQUE, parent int REFERENCES parent, flag boolean NOT NULL)`)
	e.Dst(`CREATE TABLE child (id serial PRIMARY KEY, t_id int REFERENCES t ON DELETE RESTRICT)`)
	e.Src(`DROP TABLE IF EXISTS t`)
	e.Src(`CREATE TABLE t (id int, name text, code text, qty int, email text, parent int, flag boolean)`)
	var rows []string
	for _, id := range sortedIDs(g.dst) {
		rows = append(rows, g.dst[id].values(id))
	}
	if len(rows) > 0 {
		e.Dst(`INSERT INTO t VALUES ` + strings.Join(rows, ", "))
	}
	for _, id := range g.children {
		e.Dst(fmt.Sprintf(`INSERT INTO child (t_id) VALUES (%d)`, id))
	}
	rows = nil
	for _, id := range sortedIDs(g.src) {
		rows = append(rows, g.src[id].values(id))
	}
	if len(rows) > 0 {
		e.Src(`INSERT INTO t VALUES ` + strings.Join(rows, ", "))
	}
}

func sortedIDs(m map[int]promiseRow) []int {
	var ids []int
	for id := range m {
		ids = append(ids, id)
	}
	sort.Ints(ids)
	return ids
}

// breaksLocalRule: the source row breaks a rule decided by the row alone.
func (g *promiseCase) breaksLocalRule(id int) bool {
	r := g.src[id]
	return (r.name != nil && len(*r.name) > 4) || (r.code != nil && len(*r.code) > 2) ||
		(r.qty != nil && *r.qty < 0) || r.flag == nil || (r.parent != nil && (*r.parent < 1 || *r.parent > 3))
}

// breaksARule: a rejected change breaks some rule: a local one, a unique
// email shared with another row, or (a delete) a referencing child row.
func (g *promiseCase) breaksARule(id int, kind string) bool {
	if kind == "delete" {
		return slices.Contains(g.children, id)
	}
	if g.breaksLocalRule(id) {
		return true
	}
	e := g.src[id].email
	if e == nil {
		return false
	}
	for _, m := range []map[int]promiseRow{g.src, g.dst} {
		for other, r := range m {
			if other != id && r.email != nil && *r.email == *e {
				return true
			}
		}
	}
	return false
}

// written: the behavior would write the source row (insert or update with
// a difference).
func (g *promiseCase) written(id int, behavior string) bool {
	s := g.src[id]
	d, inDst := g.dst[id]
	if !inDst {
		return behavior != "update_only"
	}
	return behavior != "append" && s.values(id) != d.values(id)
}

// endState is the table the plan promises: the behavior applied to every
// row but the rejected ones, rendered as the test's query renders rows.
func (g *promiseCase) endState(behavior string, rejected map[int]bool) []string {
	out := map[int]promiseRow{}
	for id, r := range g.dst {
		out[id] = r
	}
	for id, r := range g.src {
		if rejected[id] {
			continue
		}
		_, inDst := g.dst[id]
		switch {
		case inDst && behavior != "append":
			out[id] = r
		case !inDst && behavior != "update_only":
			out[id] = r
		}
	}
	if behavior == "mirror" {
		for id := range g.dst {
			if _, inSrc := g.src[id]; !inSrc && !rejected[id] {
				delete(out, id)
			}
		}
	}
	var rows []string
	for _, id := range sortedIDs(out) {
		r := out[id]
		parts := []string{fmt.Sprint(id)}
		for _, v := range []string{text(r.name), text(r.code), text(r.qty), text(r.email), text(r.parent), boolText(r.flag)} {
			if v != "" {
				parts = append(parts, v)
			}
		}
		rows = append(rows, strings.Join(parts, "|"))
	}
	return rows
}

// text renders a value as concat_ws does: NULL is left out.
func text[T any](p *T) string {
	if p == nil {
		return ""
	}
	return fmt.Sprint(*p)
}

func boolText(p *bool) string {
	if p == nil {
		return ""
	}
	if *p {
		return "t"
	}
	return "f"
}

// planWith computes a plan of cfg with opts and fails the test if it cannot.
func planWith(t *testing.T, cfg *hclconfig.Config, opts planner.Options) *planner.Plan {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	p, err := planner.Compute(ctx, cfg, opts)
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p
}
