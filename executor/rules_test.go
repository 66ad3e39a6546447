package executor_test

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// The checks between rows (other unique keys, foreign keys both ways,
// cascades, triggers): each test plans with on_reject = "fail" (the
// findings, and no apply), then with "skip" (apply writes every other row),
// then makes the source clean and checks that the plan applies and leaves
// the table as planned.

// ruleSync is a sync of table from query keyed on id.
func ruleSync(name, table, query, behavior, onReject string) string {
	return `
sync "` + name + `" {
  source      = source.postgres.src
  query       = "` + query + `"
  destination = destination.postgres.dst
  table       = "` + table + `"
  behavior    = "` + behavior + `"
  key         = ["id"]
  on_reject   = "` + onReject + `"
}
`
}

// rejected is one expected rejected_rows finding: the constraint, a part
// of the reason, and the example keys in order.
type rejected struct {
	constraint string
	reason     string
	keys       []string
	// rows is the finding's row count when it exceeds the examples.
	rows int64
}

// requireRejected fails the test unless sp's rejected_rows findings are
// exactly want (matched by constraint and reason), each with its rows and
// examples.
func requireRejected(t *testing.T, sp *planner.SyncPlan, want []rejected) {
	t.Helper()
	var got []planner.Finding
	for _, f := range sp.Findings {
		if f.Code == planner.CodeRejectedRows {
			got = append(got, f)
		}
	}
	used := make([]bool, len(got))
	for _, w := range want {
		found := false
		for i, f := range got {
			if used[i] || f.Constraint != w.constraint || !strings.Contains(f.Summary, w.reason) {
				continue
			}
			used[i], found = true, true
			ex := append([]string(nil), f.Examples...)
			sort.Strings(ex)
			wk := append([]string(nil), w.keys...)
			sort.Strings(wk)
			rows := w.rows
			if rows == 0 {
				rows = int64(len(w.keys))
			}
			if f.Rows != rows || !slices.Equal(ex, wk) {
				t.Errorf("finding %q: %d rows %v, want %v", f.Summary, f.Rows, f.Examples, w.keys)
			}
			break
		}
		if !found {
			t.Errorf("no rejected_rows finding for constraint %s with %q; findings:\n%s", w.constraint, w.reason, synctest.FindingsText(sp))
		}
	}
	for i, f := range got {
		if !used[i] {
			t.Errorf("unexpected finding %q (constraint %s, examples %v)", f.Summary, f.Constraint, f.Examples)
		}
	}
}

// findingWith returns the first finding of sp with code whose summary
// contains part.
func findingWith(sp *planner.SyncPlan, code planner.Code, part string) *planner.Finding {
	for i, f := range sp.Findings {
		if f.Code == code && strings.Contains(f.Summary, part) {
			return &sp.Findings[i]
		}
	}
	return nil
}

// requireRows fails the test unless query on the destination returns want.
func requireRows(t *testing.T, e *synctest.Env, query string, want ...string) {
	t.Helper()
	if got := e.DstQuery(query); !slices.Equal(got, want) {
		t.Errorf("destination rows:\n  got  %v\n  want %v", got, want)
	}
}

// planSync plans cfg and returns its only sync, which must have been diffed.
func planSync(t *testing.T, cfg *hclconfig.Config) (*planner.Plan, *planner.SyncPlan) {
	t.Helper()
	p := plan(t, cfg)
	sp := p.Syncs[0]
	if !sp.Diffed {
		t.Fatalf("not diffed:\n%s", synctest.FindingsText(sp))
	}
	return p, sp
}

// applyClean plans cfg, requires a plan without rejected rows or errors with
// the given counts, applies it and requires the next plan to be empty.
func applyClean(t *testing.T, cfg *hclconfig.Config, want planner.Counts) *executor.SyncResult {
	t.Helper()
	p, sp := planSync(t, cfg)
	if sp.Counts != want || sp.HasErrors() || !p.Applyable {
		t.Fatalf("clean plan: counts %+v (want %+v), applyable %v:\n%s", sp.Counts, want, p.Applyable, synctest.FindingsText(sp))
	}
	res := apply(t, cfg, p, executor.Options{})
	requireApplied(t, res)
	r := syncResult(t, res, sp.Name)
	if r.Applied != want {
		t.Errorf("applied %+v, want %+v", r.Applied, want)
	}
	requireConverged(t, cfg)
	return r
}

// applySkip applies p (on_reject = "skip") and requires it to write the
// planned counts and report every rejected row.
func applySkip(t *testing.T, cfg *hclconfig.Config, p *planner.Plan) *executor.SyncResult {
	t.Helper()
	sp := p.Syncs[0]
	if !p.Applyable {
		t.Fatalf("a plan with on_reject = skip is not applyable:\n%s", synctest.FindingsText(sp))
	}
	res := apply(t, cfg, p, executor.Options{})
	requireApplied(t, res)
	r := syncResult(t, res, sp.Name)
	if r.Applied != sp.Counts {
		t.Errorf("applied %+v, want the plan's %+v", r.Applied, sp.Counts)
	}
	if int64(len(r.Rejected)) != sp.Counts.Reject {
		t.Errorf("apply reported %d rejected rows, the plan %d", len(r.Rejected), sp.Counts.Reject)
	}
	return r
}

const accountsQuery = "SELECT id, email, handle, code, active, region FROM accounts"

// TestRulesUnique: the other unique keys of the table, against the table
// as the writes leave it — a citext unique constraint, an expression index
// that is partial, a deferrable constraint and a NULLS NOT DISTINCT one.
func TestRulesUnique(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE EXTENSION citext`)
	e.Dst(`CREATE TABLE accounts (
		id int PRIMARY KEY,
		email citext CONSTRAINT accounts_email_key UNIQUE,
		handle text,
		code text,
		active boolean NOT NULL DEFAULT true,
		region text,
		CONSTRAINT accounts_code_key UNIQUE (code) DEFERRABLE INITIALLY IMMEDIATE,
		CONSTRAINT accounts_region_key UNIQUE NULLS NOT DISTINCT (region))`)
	e.Dst(`CREATE UNIQUE INDEX accounts_handle_idx ON accounts (lower(handle)) WHERE active`)
	e.Dst(`INSERT INTO accounts VALUES
		(1, 'ann@x', 'ann', 'c1', true, 'r1'),
		(2, 'bob@x', 'bob', 'c2', true, 'r2'),
		(3, 'carol@x', 'Carol', 'c3', true, 'r3'),
		(10, 'ten@x', 'ten', 'c10', true, 'r10'),
		(11, 'eleven@x', 'eleven', 'c11', true, 'r11'),
		(12, 'free@x', 'twelve', 'c12', true, 'r12'),
		(14, 'move@x', 'fourteen', 'c14', true, 'r14')`)
	e.Src(`CREATE TABLE accounts (id int, email text, handle text, code text, active boolean, region text)`)
	e.Src(`INSERT INTO accounts VALUES
		(1, 'ann@x', 'ann', 'c2', true, 'r1'),          -- update: swaps code with 2 (deferrable)
		(2, 'bob@x', 'bob', 'c1', true, 'r2'),          -- update: swaps code with 1
		(3, 'carol@x', 'Carol', 'c3', true, 'r3'),      -- unchanged
		(4, 'CAROL@x', 'four', 'c4', true, 'r4'),       -- insert: email held by 3 (citext)
		(5, 'dup@x', 'five', 'c5', true, 'r5'),         -- insert: email equal to 6's
		(6, 'DUP@x', 'six', 'c6', true, 'r6'),          -- insert: email equal to 5's
		(7, 'seven@x', 'ANN', 'c7', true, 'r7'),        -- insert: lower(handle) held by 1
		(8, 'eight@x', 'ann', 'c8', false, 'r8'),       -- insert: outside the partial index
		(9, NULL, 'nine', NULL, true, 'r9'),            -- insert: NULLs are distinct
		(16, NULL, 'sixteen', NULL, true, 'r16'),       -- insert: NULLs are distinct
		(10, 'eleven@x', 'ten', 'c10', true, 'r10'),    -- update: swaps email with 11 (not deferrable)
		(11, 'ten@x', 'eleven', 'c11', true, 'r11'),    -- update: swaps email with 10
		(13, 'free@x', 'thirteen', 'c13', true, 'r13'), -- insert: the email of 12, deleted
		(14, 'moved@x', 'fourteen', 'c14', true, 'r14'),-- update: gives up its email
		(15, 'move@x', 'fifteen', 'c15', true, 'r15'),  -- insert: takes 14's old email
		(17, 'a17@x', 'a17', 'c17', true, NULL),        -- insert: NULL region, NULLS NOT DISTINCT
		(18, 'a18@x', 'a18', 'c18', true, NULL)         -- insert: NULL region, NULLS NOT DISTINCT`)
	wantRejected := []rejected{
		{"accounts_email_key", "a destination row that this sync leaves in place already has the same (email)", []string{"id=4"}, 0},
		{"accounts_email_key", "another row of this sync has the same (email)", []string{"id=5", "id=6"}, 0},
		{"accounts_email_key", "takes the (email) that another updated row gives up", []string{"id=10", "id=11"}, 0},
		{"accounts_handle_idx", "a destination row that this sync leaves in place already has the same (lower(handle)) among the rows where active", []string{"id=7"}, 0},
		{"accounts_region_key", "another row of this sync has the same (region)", []string{"id=17", "id=18"}, 0},
	}
	want := planner.Counts{Insert: 5, Update: 3, Delete: 1, Unchanged: 1, Reject: 8}

	_, sp := planSync(t, e.Config(ruleSync("accounts", "accounts", accountsQuery, "mirror", "fail")))
	if sp.Counts != want {
		t.Fatalf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	requireRejected(t, sp, wantRejected)
	swap := findingWith(sp, planner.CodeRejectedRows, "gives up")
	if swap == nil || swap.Fix != `ALTER TABLE "public"."accounts" DROP CONSTRAINT "accounts_email_key", ADD CONSTRAINT "accounts_email_key" UNIQUE ("email") DEFERRABLE INITIALLY IMMEDIATE;` {
		t.Fatalf("the swap's finding has no fix that makes the constraint deferrable: %+v", swap)
	}
	for _, f := range sp.Findings {
		if f.Code == planner.CodeRejectedRows && (strings.Contains(f.Summary, "@x") || strings.Contains(f.Summary, "ANN")) {
			t.Errorf("a finding shows a value: %s", f.Summary)
		}
	}

	cfg := e.Config(ruleSync("accounts", "accounts", accountsQuery, "mirror", "skip"))
	p, sp := planSync(t, cfg)
	if sp.Counts != want {
		t.Fatalf("skip: counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	applySkip(t, cfg, p)
	const rowsQuery = `SELECT id || ':' || coalesce(email::text, '-') || ':' || handle || ':' || coalesce(code, '-') || ':' || active || ':' || coalesce(region, '-') FROM accounts ORDER BY id`
	requireRows(t, e, rowsQuery,
		"1:ann@x:ann:c2:true:r1", "2:bob@x:bob:c1:true:r2", "3:carol@x:Carol:c3:true:r3",
		"8:eight@x:ann:c8:false:r8", "9:-:nine:-:true:r9",
		"10:ten@x:ten:c10:true:r10", "11:eleven@x:eleven:c11:true:r11",
		"13:free@x:thirteen:c13:true:r13", "14:moved@x:fourteen:c14:true:r14", "15:move@x:fifteen:c15:true:r15",
		"16:-:sixteen:-:true:r16")

	// Clean: the duplicates leave the source, and the email constraint
	// becomes deferrable (the finding's fix): the swap plans clean and
	// applies.
	e.Src(`DELETE FROM accounts WHERE id IN (4, 5, 7, 17)`)
	e.Dst(swap.Fix)
	applyClean(t, cfg, planner.Counts{Insert: 2, Update: 2, Unchanged: 9})
	requireRows(t, e, rowsQuery,
		"1:ann@x:ann:c2:true:r1", "2:bob@x:bob:c1:true:r2", "3:carol@x:Carol:c3:true:r3",
		"6:DUP@x:six:c6:true:r6",
		"8:eight@x:ann:c8:false:r8", "9:-:nine:-:true:r9",
		"10:eleven@x:ten:c10:true:r10", "11:ten@x:eleven:c11:true:r11",
		"13:free@x:thirteen:c13:true:r13", "14:moved@x:fourteen:c14:true:r14", "15:move@x:fifteen:c15:true:r15",
		"16:-:sixteen:-:true:r16", "18:a18@x:a18:c18:true:-")
}

// TestRulesUniqueAcrossBatches: equal values are found whatever batch of
// the check they travel in (the change set is larger than one).
func TestRulesUniqueAcrossBatches(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	// varbit has no hash function: its values are hashed as text.
	e.Dst(`CREATE TABLE people (id int PRIMARY KEY, email text UNIQUE, n numeric UNIQUE, flags varbit UNIQUE)`)
	e.Dst(`INSERT INTO people VALUES (100000, 'kept', 100000, B'1')`)
	e.Src(`CREATE TABLE people (id int, email text, n numeric, flags varbit)`)
	// Rows i and i+29990 (i = 1..10) have the same email; row 30001 the
	// email of a destination row the sync leaves alone; 1.0 and 1.00 are
	// the same numeric for rows 30002 and 30003; rows 30004 and 30005
	// have the same flags.
	e.Src(`INSERT INTO people SELECT g, 'e' || (g % 29990), g FROM generate_series(1, 30000) g`)
	e.Src(`INSERT INTO people VALUES (30001, 'kept', 30001, NULL), (30002, 'a', 1.0, NULL), (30003, 'b', 1.00, NULL),
		(30004, 'c', 30004, B'101'), (30005, 'd', 30005, B'101')`)
	cfg := e.Config(ruleSync("people", "people", "SELECT id, email, n, flags FROM people", "update_or_create", "skip"))
	p, sp := planSync(t, cfg)
	var dups []string
	for i := 1; i <= 10; i++ {
		dups = append(dups, "id="+itoa(i), "id="+itoa(i+29990))
	}
	if sp.Counts != (planner.Counts{Insert: 30005 - 25, Reject: 25}) {
		t.Fatalf("counts %+v\n%s", sp.Counts, synctest.FindingsText(sp))
	}
	f := findingWith(sp, planner.CodeRejectedRows, "another row of this sync has the same (email)")
	if f == nil || f.Rows != 20 {
		t.Fatalf("the duplicates across batches: %+v\n%s", f, synctest.FindingsText(sp))
	}
	for _, ex := range f.Examples {
		if !slices.Contains(dups, ex) {
			t.Errorf("example %s is no duplicate", ex)
		}
	}
	requireRejected(t, sp, []rejected{
		{"people_email_key", "another row of this sync has the same (email)", f.Examples, 20},
		{"people_email_key", "a destination row that this sync leaves in place", []string{"id=30001"}, 0},
		{"people_n_key", "another row of this sync has the same (n)", []string{"id=30002", "id=30003"}, 0},
		{"people_flags_key", "another row of this sync has the same (flags)", []string{"id=30004", "id=30005"}, 0},
	})
	applySkip(t, cfg, p)
	requireRows(t, e, `SELECT count(*) FROM people`, itoa(30005-25+1))
}

func itoa(i int) string { return strconv.Itoa(i) }
