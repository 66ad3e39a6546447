package executor_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// rejectFindings returns the rejected_rows findings of sp by column (or by
// constraint when the finding names no column).
func rejectFindings(sp *planner.SyncPlan) map[string]planner.Finding {
	out := map[string]planner.Finding{}
	for _, f := range sp.Findings {
		if f.Code != planner.CodeRejectedRows {
			continue
		}
		k := f.Column
		if k == "" {
			k = f.Constraint
		}
		out[k] = f
	}
	return out
}

// crmTables creates, on the destination, a customers table with the rules a
// realistic CRM schema has, and the source rows of the tests below.
func crmTables(e *synctest.Env) {
	e.Dst(`CREATE TYPE tier AS ENUM ('free', 'pro')`)
	e.Dst(`CREATE DOMAIN percent AS int CHECK (VALUE BETWEEN 0 AND 100)`)
	e.Dst(`CREATE TABLE customers (
		id bigint PRIMARY KEY,
		name varchar(5),
		country char(2),
		active boolean NOT NULL DEFAULT true,
		price numeric(5,2) CHECK (price > 0),
		plan tier,
		discount percent,
		flags bit(3))`)
	e.Dst(`INSERT INTO customers VALUES (1, 'ann', 'GB', true, 1.00, 'free', 0, B'000'), (2, 'bob', 'FR', true, 2.00, 'pro', 5, B'001')`)
	e.Src(`CREATE TABLE customers (id bigint, name text, country text, active boolean, price numeric, plan text, discount int, flags text)`)
}

// TestRejectedRowsPlanAndSkip: every row the destination would refuse is
// found by the plan, one finding per reason with its count and examples;
// with on_reject = "skip" apply writes every other row, reports each
// refused one, and a new plan shows the refused rows again and nothing else.
func TestRejectedRowsPlanAndSkip(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	crmTables(e)
	e.Src(`INSERT INTO customers VALUES
		(1, 'ann', 'GB', true, 1.00, 'free', 0, '000'),       -- unchanged
		(2, 'bob', 'FRA', true, 2.00, 'pro', 5, '001'),       -- update: country too long (char(2) would cut it)
		(3, 'carol', 'DE', true, 3.00, 'free', 1, '010'),     -- insert, fine
		(4, 'dave-too-long', 'DE', true, 4, 'free', 1, '010'), -- insert: name too long
		(5, 'eve', 'ES', NULL, 5, 'free', 1, '010'),          -- insert: NULL into NOT NULL
		(6, 'fay', 'IT', true, -1, 'free', 1, '010'),         -- insert: CHECK price > 0
		(7, 'gus', 'IT', true, 1000, 'free', 1, '010'),       -- insert: numeric(5,2) overflow
		(8, 'hal', 'IT', true, 8, 'gold', 1, '010'),          -- insert: enum label
		(9, 'ida', 'IT', true, 9, 'pro', 101, '010'),         -- insert: domain CHECK
		(10, 'jo', 'IT', true, 9.999, 'pro', 1, '0101')       -- insert: bit(3) length`)
	for _, onReject := range []string{"fail", "skip"} {
		t.Run(onReject, func(t *testing.T) {
			cfg := e.Config(`
sync "customers" {
  source      = source.postgres.src
  query       = "SELECT id, name, country, active, price, plan, discount, flags::bit varying AS flags FROM customers"
  destination = destination.postgres.dst
  table       = "customers"
  behavior    = "mirror"
  key         = ["id"]
  on_reject   = "` + onReject + `"
}
`)
			p := plan(t, cfg)
			sp := p.Syncs[0]
			if !sp.Diffed {
				t.Fatalf("not diffed:\n%s", synctest.FindingsText(sp))
			}
			want := planner.Counts{Insert: 1, Unchanged: 1, Reject: 8}
			if sp.Counts != want {
				t.Fatalf("counts = %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
			}
			got := rejectFindings(sp)
			expect := map[string]string{
				"country": "id=2", "name": "id=4", "active": "id=5", "price": "id=6",
				"plan": "id=8", "discount": "id=9", "flags": "id=10",
			}
			for col, ex := range expect {
				f, ok := got[col]
				if !ok {
					t.Errorf("no rejected_rows finding for column %s; findings:\n%s", col, synctest.FindingsText(sp))
					continue
				}
				if !slices.Contains(f.Examples, ex) {
					t.Errorf("column %s: examples %v, want %s", col, f.Examples, ex)
				}
				wantSev := planner.SeverityError
				if onReject == "skip" {
					wantSev = planner.SeverityWarning
				}
				if f.Severity != wantSev {
					t.Errorf("column %s: severity %s, want %s", col, f.Severity, wantSev)
				}
			}
			// A length limit's reason is worded as the server words it.
			for col, want := range map[string]string{"country": "value too long for type character(2)", "name": "value too long for type character varying("} {
				if f, ok := got[col]; ok && !strings.Contains(f.Summary, want) {
					t.Errorf("column %s: %q, want it to say %q", col, f.Summary, want)
				}
			}
			// price has two reasons: the CHECK (id 6) and the overflow (id 7).
			var priceRows int64
			for _, f := range sp.Findings {
				if f.Code == planner.CodeRejectedRows && f.Column == "price" {
					priceRows += f.Rows
				}
			}
			if priceRows != 2 {
				t.Errorf("price findings cover %d rows, want 2:\n%s", priceRows, synctest.FindingsText(sp))
			}
			if onReject == "fail" {
				if p.Applyable {
					t.Fatal("a plan with rejected rows and on_reject = fail is applyable")
				}
				return
			}
			before := e.DstDigest("customers")
			res := apply(t, cfg, p, executor.Options{})
			requireApplied(t, res)
			r := syncResult(t, res, "customers")
			if r.Applied != want {
				t.Errorf("applied %+v, want %+v", r.Applied, want)
			}
			rejected := rejectedRows(t, r)
			if len(rejected) != 8 {
				t.Fatalf("apply reported %d rejected rows, want 8: %+v", len(rejected), rejected)
			}
			if rejected[0].Key["id"] != "2" || rejected[0].Kind != "update" || rejected[0].Column != "country" {
				t.Errorf("first rejected row = %+v, want the update of id 2 on country", rejected[0])
			}
			if got := e.DstQuery(`SELECT id || ':' || name || ':' || country FROM customers ORDER BY id`); strings.Join(got, ",") != "1:ann:GB,2:bob:FR,3:carol:DE" {
				t.Errorf("after apply the table holds %v (before: %s)", got, before)
			}
			again := plan(t, cfg).Syncs[0]
			if again.Counts != (planner.Counts{Unchanged: 2, Reject: 8}) {
				t.Errorf("the plan after apply: %+v, want the 8 rejected rows and nothing else", again.Counts)
			}
		})
	}
}

// TestCharNeverCut: a value longer than a char(n) column is refused, never
// written cut (it was written as 'GB' for 'GBR', and the next plan said the
// tables matched). A value that fits is padded as the column stores it, so
// an immediate plan shows no change.
func TestCharNeverCut(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE c (id int PRIMARY KEY, code char(3), v varchar(3), b bit(2))`)
	e.Src(`CREATE TABLE c (id int, code text, v text, b varbit)`)
	e.Src(`INSERT INTO c VALUES (1, 'GB', 'ab', B'10'), (2, 'GBRX', 'ab', B'10'), (3, 'G  ', 'abc  ', B'10'), (4, 'GB', 'x', B'101')`)
	cfg := e.Config(syncBlockSkip("c", "SELECT * FROM c"))
	p := plan(t, cfg)
	sp := p.Syncs[0]
	if sp.Counts != (planner.Counts{Insert: 1, Reject: 3}) {
		t.Fatalf("counts = %+v, want 1 insert and 3 rejected:\n%s", sp.Counts, synctest.FindingsText(sp))
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := e.DstQuery(`SELECT id || ':' || code || ':' || v FROM c ORDER BY id`); strings.Join(got, ",") != "1:GB:ab" {
		t.Errorf("table holds %v, want only row 1", got)
	}
	again := plan(t, cfg).Syncs[0]
	if again.Counts != (planner.Counts{Unchanged: 1, Reject: 3}) {
		t.Errorf("the next plan: %+v, want row 1 unchanged and 3 rejected", again.Counts)
	}
}

// syncBlockSkip is an update_or_create sync of table from query with
// on_reject = "skip".
func syncBlockSkip(table, query string) string {
	return `
sync "` + table + `" {
  source      = source.postgres.src
  query       = "` + query + `"
  destination = destination.postgres.dst
  table       = "` + table + `"
  behavior    = "update_or_create"
  key         = ["id"]
  on_reject   = "skip"
}
`
}

// TestValuesThatDoNotConvert: a source value that does not convert to the
// destination column's type rejects its row (from a postgres source, whose
// query would otherwise stop at the first such value, and from a CSV file,
// with its line); the row's key still counts as present, so a mirror does
// not delete the destination row of the same key.
func TestValuesThatDoNotConvert(t *testing.T) {
	t.Parallel()
	for _, source := range []string{"postgres", "csv"} {
		t.Run(source, func(t *testing.T) {
			t.Parallel()
			e := synctest.New(t)
			e.Dst(`CREATE TABLE t (id int PRIMARY KEY, qty int, day date)`)
			e.Dst(`INSERT INTO t VALUES (1, 1, '2024-01-01'), (2, 2, '2024-01-02'), (9, 9, '2024-01-09')`)
			from := `source = source.postgres.src
  query  = "SELECT id, qty, day FROM s"`
			if source == "csv" {
				e.WriteFile("s.csv", "id,qty,day\n1,1,2024-01-01\n2,two,2024-01-02\n3,3,not a date\n4,4,2024-01-04\n")
				from = `source = source.csv.s`
			} else {
				e.Src(`CREATE TABLE s (id int, qty text, day text)`)
				e.Src(`INSERT INTO s VALUES (1, '1', '2024-01-01'), (2, 'two', '2024-01-02'), (3, '3', 'not a date'), (4, '4', '2024-01-04')`)
			}
			cfg := e.Config(`
source "csv" "s" {
  path = "s.csv"
}
sync "t" {
  ` + from + `
  destination = destination.postgres.dst
  table       = "t"
  behavior    = "mirror"
  key         = ["id"]
  on_reject   = "skip"
}
`)
			p := plan(t, cfg)
			sp := p.Syncs[0]
			want := planner.Counts{Insert: 1, Delete: 1, Unchanged: 1, Reject: 2}
			if sp.Counts != want {
				t.Fatalf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
			}
			f := rejectFindings(sp)
			if f["qty"].Rows != 1 || len(f["qty"].Examples) != 1 || !strings.HasPrefix(f["qty"].Examples[0], "id=2") ||
				f["day"].Rows != 1 || len(f["day"].Examples) != 1 || !strings.HasPrefix(f["day"].Examples[0], "id=3") {
				t.Fatalf("findings:\n%s", synctest.FindingsText(sp))
			}
			if strings.Contains(synctest.FindingsText(sp), "two") {
				t.Errorf("a finding shows the value:\n%s", synctest.FindingsText(sp))
			}
			r := syncResult(t, apply(t, cfg, p, executor.Options{}), "t")
			requireApplied(t, &executor.Result{Syncs: []*executor.SyncResult{r}})
			rejected := rejectedRows(t, r)
			if len(rejected) != 2 || rejected[0].Key["id"] != "2" || rejected[0].Kind != "update" {
				t.Fatalf("rejected %+v", rejected)
			}
			if source == "csv" && (rejected[0].Line != 3 || rejected[1].Line != 4) {
				t.Errorf("CSV lines %d, %d, want 3, 4", rejected[0].Line, rejected[1].Line)
			}
			if got := e.DstQuery(`SELECT id || ':' || qty FROM t ORDER BY id`); strings.Join(got, ",") != "1:1,2:2,4:4" {
				t.Errorf("table holds %v, want rows 1, 2 (kept), 4 (inserted)", got)
			}
		})
	}
}

// TestMaxRejectPercent: guard max_reject_percent bounds the rejected rows as
// a share of the rows the sync would write; crossing it blocks apply even
// with on_reject = "skip".
func TestMaxRejectPercent(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE t (id int PRIMARY KEY, code varchar(2))`)
	e.Src(`CREATE TABLE s (id int, code text)`)
	e.Src(`INSERT INTO s SELECT g, CASE WHEN g <= 2 THEN 'long' ELSE 'ok' END FROM generate_series(1, 8) g`)
	for _, tc := range []struct {
		limit string
		ok    bool
	}{{"30", true}, {"20", false}} { // 2 of 8 rows: 25%
		cfg := e.Config(`
sync "t" {
  source      = source.postgres.src
  query       = "SELECT id, code FROM s"
  destination = destination.postgres.dst
  table       = "t"
  behavior    = "update_or_create"
  key         = ["id"]
  on_reject   = "skip"
  guard {
    max_reject_percent = ` + tc.limit + `
  }
}
`)
		p := plan(t, cfg)
		sp := p.Syncs[0]
		var crossed bool
		for _, f := range sp.Findings {
			if f.Code == planner.CodeGuardExceeded && strings.Contains(f.Summary, "max_reject_percent") && strings.Contains(f.Summary, "25.00%") {
				crossed = true
			}
		}
		if crossed == tc.ok || p.Applyable != tc.ok {
			t.Errorf("limit %s%%: guard crossed=%v applyable=%v, want crossed=%v:\n%s", tc.limit, crossed, p.Applyable, !tc.ok, synctest.FindingsText(sp))
		}
	}
}
