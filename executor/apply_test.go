package executor_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

func TestMain(m *testing.M) { synctest.Main(m) }

// testTimeout bounds every plan and apply of these tests, so that a hang
// fails the test instead of the whole run.
const testTimeout = 2 * time.Minute

// plan computes a plan of cfg and fails the test if it cannot.
func plan(t *testing.T, cfg *hclconfig.Config) *planner.Plan {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	p, err := planner.Compute(ctx, cfg, planner.Options{})
	if err != nil {
		t.Fatalf("plan: %v", err)
	}
	return p
}

// applyable plans cfg and fails the test unless every sync was diffed
// without error findings.
func applyable(t *testing.T, cfg *hclconfig.Config) *planner.Plan {
	t.Helper()
	p := plan(t, cfg)
	for _, sp := range p.Syncs {
		if sp.HasErrors() || !sp.Diffed {
			t.Fatalf("sync %q cannot be applied (diffed=%v):\n%s", sp.Name, sp.Diffed, synctest.FindingsText(sp))
		}
	}
	return p
}

// apply applies p with opts under the test timeout.
func apply(t *testing.T, cfg *hclconfig.Config, p *planner.Plan, opts executor.Options) *executor.Result {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	return executor.Apply(ctx, cfg, p, opts)
}

// syncResult returns the result of the sync named name.
func syncResult(t *testing.T, res *executor.Result, name string) *executor.SyncResult {
	t.Helper()
	for _, r := range res.Syncs {
		if r.Name == name {
			return r
		}
	}
	t.Fatalf("the result has no sync %q: %s", name, describeResult(res))
	return nil
}

// rejectedRows reads the rows r left out.
func rejectedRows(t *testing.T, r *executor.SyncResult) []planner.RejectedRow {
	t.Helper()
	var rows []planner.RejectedRow
	if err := r.Rejected.Each(func(row *planner.RejectedRow) error { rows = append(rows, *row); return nil }); err != nil {
		t.Fatalf("reading the rejected rows of %s: %v", r.Name, err)
	}
	return rows
}

func describeResult(res *executor.Result) string {
	var b strings.Builder
	for _, r := range res.Syncs {
		fmt.Fprintf(&b, "\n  %s (%s): %s applied=%+v outcome_unknown=%v err=%v", r.Name, r.Table, r.Status, r.Applied, r.OutcomeUnknown, r.Err)
	}
	return b.String()
}

// requireApplied fails the test unless every sync of res applied (or had
// nothing to do).
func requireApplied(t *testing.T, res *executor.Result) {
	t.Helper()
	if res.Failed() {
		t.Fatalf("apply failed:%s", describeResult(res))
	}
	for _, r := range res.Syncs {
		if r.Err != nil || (r.Status != executor.StatusApplied && r.Status != executor.StatusNoChanges) {
			t.Fatalf("sync %q: status %s, err %v", r.Name, r.Status, r.Err)
		}
	}
}

// requireFailed checks that sync name failed, that its error is set and
// mentions every one of wants (case-insensitively), and that the apply as a
// whole reports failure.
func requireFailed(t *testing.T, res *executor.Result, name string, wants ...string) *executor.SyncResult {
	t.Helper()
	if !res.Failed() {
		t.Errorf("Result.Failed() = false, want true:%s", describeResult(res))
	}
	r := syncResult(t, res, name)
	if r.Status != executor.StatusFailed {
		t.Errorf("sync %q: status %q, want %q (err: %v)", name, r.Status, executor.StatusFailed, r.Err)
	}
	if r.Err == nil {
		t.Fatalf("sync %q failed without an error", name)
	}
	msg := strings.ToLower(r.Err.Error())
	for _, w := range wants {
		if !strings.Contains(msg, strings.ToLower(w)) {
			t.Errorf("sync %q: the error does not mention %q:\n  %v", name, w, r.Err)
		}
	}
	if r.Applied.Changes() != 0 {
		t.Errorf("sync %q failed but reports applied %+v", name, r.Applied)
	}
	for what, secret := range map[string]string{"destination": synctest.Destination.Password, "source": synctest.Source.Password} {
		if secret != "" && strings.Contains(r.Err.Error(), secret) {
			t.Errorf("sync %q: the error shows the %s password", name, what)
		}
	}
	return r
}

// requireConverged plans cfg again and fails the test unless every sync
// has nothing left to change.
func requireConverged(t *testing.T, cfg *hclconfig.Config) {
	t.Helper()
	p := plan(t, cfg)
	for _, sp := range p.Syncs {
		if sp.HasErrors() || !sp.Diffed || sp.Counts.Changes() != 0 {
			t.Errorf("sync %q: after apply the plan still has changes %+v (diffed=%v)\n%s", sp.Name, sp.Counts, sp.Diffed, synctest.FindingsText(sp))
		}
	}
}

// applyAndConverge plans, applies and re-plans cfg: the usual recovery
// after a fault, which must work.
func applyAndConverge(t *testing.T, cfg *hclconfig.Config) *executor.Result {
	t.Helper()
	p := applyable(t, cfg)
	res := apply(t, cfg, p, executor.Options{})
	requireApplied(t, res)
	requireConverged(t, cfg)
	return res
}

// requireSameRows fails the test unless tables a and b hold the same rows
// (as multisets), listing the differences.
func requireSameRows(t *testing.T, e *synctest.Env, got, want string) {
	t.Helper()
	diff := e.DstQuery(fmt.Sprintf(`
SELECT d FROM (
  SELECT 'unexpected ' || x::text AS d FROM (TABLE %[1]s EXCEPT ALL TABLE %[2]s) AS x
  UNION ALL
  SELECT 'missing    ' || x::text AS d FROM (TABLE %[2]s EXCEPT ALL TABLE %[1]s) AS x
) AS q ORDER BY d`, got, want))
	if len(diff) > 0 {
		t.Errorf("%s differs from %s:\n  %s", got, want, strings.Join(diff, "\n  "))
	}
}

// Row layout of TestApplyBehaviorsByKeyType: rows 1..40 are only in the
// source, 41..80 on both sides, 81..120 only in the destination. Of the
// rows on both sides, those with i%4 == 0 differ in name, i%4 == 1 differ
// in price (one side NULL for i%8 == 1), the rest are equal.
const (
	srcFirst, srcLast = 1, 80
	dstFirst, dstLast = 41, 120
)

func srcName(i int) string { return fmt.Sprintf("'item %d'", i) }

func srcPrice(i int) string {
	if i%8 == 1 {
		return "NULL"
	}
	return fmt.Sprintf("%d.5", i) // numeric 1.5 equals numeric(10,2) 1.50
}

func dstName(i int) string {
	if i%4 == 0 && i <= srcLast {
		return fmt.Sprintf("'stale %d'", i)
	}
	return srcName(i)
}

func dstPrice(i int) string {
	switch {
	case i%8 == 1 && i <= srcLast:
		return "9.99"
	case i%4 == 1 && i <= srcLast:
		return fmt.Sprintf("%d.51", i)
	case i%8 == 1:
		return "NULL"
	}
	return fmt.Sprintf("%d.50", i)
}

// TestApplyBehaviorsByKeyType applies every behavior for every key type
// and checks the destination against the expected table built by hand:
// synced rows carry the source's values, the unmapped column "note" keeps
// its value on updated rows and gets its DEFAULT on inserted rows, rows the
// behavior leaves alone are untouched, and a plan right after the apply has
// nothing to do.
func TestApplyBehaviorsByKeyType(t *testing.T) {
	type counts = planner.Counts
	want := map[hclconfig.Behavior]counts{
		hclconfig.UpdateOrCreate: {Insert: 40, Update: 20, Unchanged: 20},
		hclconfig.UpdateOnly:     {Update: 20, Unchanged: 20, Skipped: 40},
		hclconfig.Append:         {Insert: 40, Unchanged: 20, Skipped: 20},
		hclconfig.Mirror:         {Insert: 40, Update: 20, Delete: 40, Unchanged: 20},
	}
	for _, kk := range synctest.KeyKinds {
		t.Run(kk.Name, func(t *testing.T) {
			e := synctest.New(t)
			e.Src(fmt.Sprintf("CREATE TABLE items (%s, name text, price numeric)", kk.SrcCols))
			var vals []string
			for i := srcFirst; i <= srcLast; i++ {
				vals = append(vals, fmt.Sprintf("(%s, %s, %s)", kk.Key(i), srcName(i), srcPrice(i)))
			}
			e.Src("INSERT INTO items VALUES " + strings.Join(vals, ", "))

			var body strings.Builder
			for _, b := range hclconfig.Behaviors {
				table := "items_" + string(b)
				e.Dst(fmt.Sprintf(`CREATE TABLE %s (%s, name text, price numeric(10,2), note text DEFAULT 'default note', PRIMARY KEY (%s))`, table, kk.DstCols, kk.KeyCols))
				vals = vals[:0]
				for i := dstFirst; i <= dstLast; i++ {
					vals = append(vals, fmt.Sprintf("(%s, %s, %s, 'note %d')", kk.Key(i), dstName(i), dstPrice(i), i))
				}
				e.Dst(fmt.Sprintf("INSERT INTO %s VALUES %s", table, strings.Join(vals, ", ")))

				// The expected table, row by row, from the README's Behaviors table.
				exp := "expected_" + string(b)
				e.Dst(fmt.Sprintf("CREATE TABLE %s (LIKE %s INCLUDING DEFAULTS)", exp, table))
				vals = vals[:0]
				for i := srcFirst; i <= dstLast; i++ {
					inSrc, inDst := i <= srcLast, i >= dstFirst
					switch {
					case inSrc && !inDst && b.Inserts():
						vals = append(vals, fmt.Sprintf("(%s, %s, %s, 'default note')", kk.Key(i), srcName(i), srcPrice(i)))
					case inSrc && inDst && b.Updates():
						vals = append(vals, fmt.Sprintf("(%s, %s, %s, 'note %d')", kk.Key(i), srcName(i), srcPrice(i), i))
					case inDst && (inSrc || !b.Deletes()):
						vals = append(vals, fmt.Sprintf("(%s, %s, %s, 'note %d')", kk.Key(i), dstName(i), dstPrice(i), i))
					}
				}
				e.Dst(fmt.Sprintf("INSERT INTO %s VALUES %s", exp, strings.Join(vals, ", ")))

				fmt.Fprintf(&body, `
sync "%s" {
  source      = source.postgres.src
  query       = "SELECT * FROM items"
  destination = destination.postgres.dst
  table       = "%s"
  behavior    = "%s"
  key         = %s
  mapping = {
%s    name  = "name"
    price = "price"
  }
}
`, b, table, b, kk.KeyList, synctest.MappingFor(kk.KeyCols))
			}
			cfg := e.Config(body.String())
			p := applyable(t, cfg)
			for _, sp := range p.Syncs {
				if sp.Counts != want[hclconfig.Behavior(sp.Name)] {
					t.Errorf("%s: planned %+v, want %+v", sp.Name, sp.Counts, want[hclconfig.Behavior(sp.Name)])
				}
			}
			res := apply(t, cfg, p, executor.Options{})
			if len(res.Syncs) != len(p.Syncs) {
				t.Fatalf("the result has %d syncs, the plan %d", len(res.Syncs), len(p.Syncs))
			}
			for i, r := range res.Syncs {
				sp := p.Syncs[i]
				if r.Name != sp.Name || r.Table != sp.Table {
					t.Errorf("result %d is %s (%s), want %s (%s): not in plan order", i, r.Name, r.Table, sp.Name, sp.Table)
				}
				wantStatus := executor.StatusApplied
				if sp.Counts.Changes() == 0 {
					wantStatus = executor.StatusNoChanges
				}
				if r.Status != wantStatus || r.Err != nil {
					t.Errorf("%s: status %s, want %s; err: %v", r.Name, r.Status, wantStatus, r.Err)
					continue
				}
				w := sp.Counts
				w.Unchanged, w.Skipped = r.Applied.Unchanged, r.Applied.Skipped
				if r.Applied != w {
					t.Errorf("%s: applied %+v, planned %+v", r.Name, r.Applied, sp.Counts)
				}
			}
			for _, b := range hclconfig.Behaviors {
				requireSameRows(t, e, "items_"+string(b), "expected_"+string(b))
			}
			requireConverged(t, cfg)
			// A second apply has nothing to do and writes nothing.
			before := map[hclconfig.Behavior]string{}
			for _, b := range hclconfig.Behaviors {
				before[b] = e.DstDigest("items_" + string(b))
			}
			res = apply(t, cfg, applyable(t, cfg), executor.Options{})
			requireApplied(t, res)
			for _, r := range res.Syncs {
				if r.Status != executor.StatusNoChanges || r.Applied.Changes() != 0 {
					t.Errorf("%s: second apply: status %s, applied %+v; want no_changes", r.Name, r.Status, r.Applied)
				}
			}
			for _, b := range hclconfig.Behaviors {
				if got := e.DstDigest("items_" + string(b)); got != before[b] {
					t.Errorf("items_%s changed on an apply with nothing to do", b)
				}
			}
		})
	}
}

// TestApplyTypeFidelity syncs values whose source type differs from the
// destination's (numeric into numeric(10,2), text into varchar(n) and
// into a user-defined enum, timestamps with offsets, jsonb written
// differently, arrays, NULLs everywhere) and checks that they are stored as
// the destination's types store them and that the next plan has no
// changes: the comparison happens in the destination's types.
func TestApplyTypeFidelity(t *testing.T) {
	e := synctest.New(t)
	e.Src(`CREATE TABLE src (
  id int, amount numeric, at timestamptz, local_at text, doc json, tags text[],
  code text, mood text, moods text[], nums numeric[], flag text, day text, span text, big text)`)
	e.Src(`INSERT INTO src VALUES
  (1, 1.5, '2024-01-02 03:04:05.123456+02', '2024-01-02 03:04:05', '{"b": 2, "a": [1, 2.50]}',
   ARRAY['x', NULL, 'a b', '"q"'], 'abc', 'happy', ARRAY['sad', 'happy'], ARRAY[1.5, 2], 'true', '2024-02-29', '1 day 02:00', '12345678901234'),
  (2, 0.005, 'infinity', '2024-12-31 23:59:59.999999', '{}', ARRAY[]::text[], '', 'sad', ARRAY[]::text[], ARRAY[]::numeric[], 'f', '1999-01-08', '-3 hours', '-1'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL),
  (4, -99999999.99, '1970-01-01 00:00:00+00', '0001-01-01 00:00:00', '[1, "two", null, {"k": "é"}]',
   ARRAY['ünï', 'ß'], 'éèêëēėę', 'ok', ARRAY['ok', NULL], ARRAY[NULL, 3.333]::numeric[], 'yes', '2000-01-01', '0', '9223372036854775807')`)
	e.Dst(`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`)
	e.Dst(`CREATE TABLE typed (
  id int PRIMARY KEY, amount numeric(10,2), at timestamptz, local_at timestamp(3), doc jsonb, tags text[],
  code varchar(8), mood mood, moods mood[], nums numeric(6,1)[], flag boolean, day date, span interval, big bigint,
  untouched text DEFAULT 'dflt')`)
	e.Dst(`INSERT INTO typed (id, amount, untouched) VALUES (2, 7, 'kept'), (3, 1, 'kept too'), (5, 5, 'not in source')`)
	cfg := e.Config(`
sync "typed" {
  source      = source.postgres.src
  query       = "SELECT * FROM src"
  destination = destination.postgres.dst
  table       = "typed"
  behavior    = "update_or_create"
  key         = "id"
}
`)
	p := applyable(t, cfg)
	if got, want := p.Syncs[0].Counts, (planner.Counts{Insert: 2, Update: 2}); got != want {
		t.Errorf("planned %+v, want %+v", got, want)
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	requireConverged(t, cfg)

	e.Dst(`CREATE TABLE expected (LIKE typed)`)
	e.Dst(`INSERT INTO expected VALUES
  (1, 1.50, '2024-01-02 01:04:05.123456+00', '2024-01-02 03:04:05', '{"a": [1, 2.50], "b": 2}',
   '{x,NULL,"a b","\"q\""}', 'abc', 'happy', '{sad,happy}', '{1.5,2.0}', true, '2024-02-29', '1 day 02:00:00', 12345678901234, 'dflt'),
  (2, 0.01, 'infinity', '2025-01-01 00:00:00', '{}', '{}', '', 'sad', '{}', '{}', false, '1999-01-08', '-03:00:00', -1, 'kept'),
  (3, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'kept too'),
  (4, -99999999.99, '1970-01-01 00:00:00+00', '0001-01-01 00:00:00', '[1, "two", null, {"k": "é"}]',
   '{ünï,ß}', 'éèêëēėę', 'ok', '{ok,NULL}', '{NULL,3.3}', true, '2000-01-01', '00:00:00', 9223372036854775807, 'dflt'),
  (5, 5, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL, 'not in source')`)
	requireSameRows(t, e, "typed", "expected")
}

// TestApplyTooLongValueIsRejectedByPlan: a value too long for its column
// used to plan clean and fail at apply; the plan now refuses the row
// (rejected_rows naming the key), apply writes nothing, and once the
// source is fixed the sync converges.
func TestApplyTooLongValueIsRejectedByPlan(t *testing.T) {
	e := synctest.New(t)
	e.Src(`CREATE TABLE src (id int, code text)`)
	e.Src(`INSERT INTO src SELECT g, 'c' || g FROM generate_series(1, 20) g`)
	e.Src(`UPDATE src SET code = 'much too long for eight' WHERE id = 11`)
	e.Dst(`CREATE TABLE codes (id int PRIMARY KEY, code varchar(8))`)
	e.Dst(`INSERT INTO codes SELECT g, 'old' || g FROM generate_series(1, 15) g`)
	cfg := e.Config(`
sync "codes" {
  source      = source.postgres.src
  query       = "SELECT id, code FROM src"
  destination = destination.postgres.dst
  table       = "codes"
  behavior    = "mirror"
  key         = "id"
}
`)
	before := e.DstDigest("codes")
	p := plan(t, cfg)
	sp := p.Syncs[0]
	if p.Applyable || sp.Counts.Reject != 1 {
		t.Fatalf("the plan does not refuse the too-long value: applyable=%v %+v\n%s", p.Applyable, sp.Counts, synctest.FindingsText(sp))
	}
	f := rejectFindings(sp)["code"]
	if f.Rows != 1 || len(f.Examples) != 1 || f.Examples[0] != "id=11" || !strings.Contains(f.Summary, "character varying(8)") {
		t.Errorf("finding %+v", f)
	}
	res := apply(t, cfg, p, executor.Options{})
	requireFailed(t, res, "codes", "errors")
	if got := e.DstDigest("codes"); got != before {
		t.Errorf("the table changed although the sync failed")
	}
	e.Src(`UPDATE src SET code = 'fits' WHERE id = 11`)
	applyAndConverge(t, cfg)
}

// TestApplyRefusesPlanWithErrors: a sync whose plan has an error finding
// is never applied, even when handed to Apply.
func TestApplyRefusesPlanWithErrors(t *testing.T) {
	e := synctest.New(t)
	e.Src(`CREATE TABLE src (id int, name text)`)
	e.Src(`INSERT INTO src VALUES (1, 'a'), (1, 'b'), (2, 'c')`)
	e.Dst(`CREATE TABLE people (id int PRIMARY KEY, name text)`)
	cfg := e.Config(`
sync "people" {
  source      = source.postgres.src
  query       = "SELECT * FROM src"
  destination = destination.postgres.dst
  table       = "people"
  behavior    = "update_or_create"
  key         = "id"
}
`)
	p := plan(t, cfg)
	if p.Applyable {
		t.Fatalf("a plan with duplicate source keys is applyable")
	}
	res := apply(t, cfg, p, executor.Options{})
	requireFailed(t, res, "people", "errors")
	if n := e.DstQuery(`SELECT count(*) FROM people`); n[0] != "0" {
		t.Errorf("people has %s rows, want 0", n[0])
	}
	// The findings are the plan's business; a hand-made plan that hides
	// them is still caught by the diff inside the apply.
	p.Syncs[0].Findings = nil
	p.Syncs[0].Diffed = true
	res = apply(t, cfg, p, executor.Options{})
	r := requireFailed(t, res, "people", "duplicate")
	if !errors.Is(r.Err, executor.ErrStale) {
		t.Errorf("the apply failed, but not as a stale plan: %v", r.Err)
	}
	if n := e.DstQuery(`SELECT count(*) FROM people`); n[0] != "0" {
		t.Errorf("people has %s rows, want 0", n[0])
	}
}
