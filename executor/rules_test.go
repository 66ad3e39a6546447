package executor_test

import (
	"fmt"
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
	if int64(len(rejectedRows(t, r))) != sp.Counts.Reject {
		t.Errorf("apply reported %d rejected rows, the plan %d", r.Rejected.Len(), sp.Counts.Reject)
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
	// varbit has no hash function: its values are hashed as text. The
	// index on nick compares under a case-insensitive collation that the
	// column does not have.
	e.Dst(`CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`)
	e.Dst(`CREATE TABLE people (id int PRIMARY KEY, email text UNIQUE, n numeric UNIQUE, flags varbit UNIQUE, nick text)`)
	e.Dst(`CREATE UNIQUE INDEX people_nick_ci ON people (nick COLLATE ci)`)
	e.Dst(`INSERT INTO people VALUES (100000, 'kept', 100000, B'1', 'Kept')`)
	e.Src(`CREATE TABLE people (id int, email text, n numeric, flags varbit, nick text)`)
	// Rows i and i+29990 (i = 1..10) have the same email; row 30001 the
	// email of a destination row the sync leaves alone; 1.0 and 1.00 are
	// the same numeric for rows 30002 and 30003; rows 30004 and 30005
	// have the same flags; rows 30006 and 30007 the same nick under the
	// index's collation, and row 30008 that of the destination row.
	e.Src(`INSERT INTO people SELECT g, 'e' || (g % 29990), g FROM generate_series(1, 30000) g`)
	e.Src(`INSERT INTO people VALUES (30001, 'kept', 30001, NULL, NULL), (30002, 'a', 1.0, NULL, NULL), (30003, 'b', 1.00, NULL, NULL),
		(30004, 'c', 30004, B'101', NULL), (30005, 'd', 30005, B'101', NULL),
		(30006, 'f', 30006, NULL, 'Zed'), (30007, 'g', 30007, NULL, 'zED'), (30008, 'h', 30008, NULL, 'KEPT')`)
	cfg := e.Config(ruleSync("people", "people", "SELECT id, email, n, flags, nick FROM people", "update_or_create", "skip"))
	p, sp := planSync(t, cfg)
	var dups []string
	for i := 1; i <= 10; i++ {
		dups = append(dups, "id="+itoa(i), "id="+itoa(i+29990))
	}
	if sp.Counts != (planner.Counts{Insert: 30008 - 28, Reject: 28}) {
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
		{"people_nick_ci", "another row of this sync has the same (nick)", []string{"id=30006", "id=30007"}, 0},
		{"people_nick_ci", "a destination row that this sync leaves in place already has the same (nick)", []string{"id=30008"}, 0},
	})
	applySkip(t, cfg, p)
	requireRows(t, e, `SELECT count(*) FROM people`, itoa(30008-28+1))
}

func itoa(i int) string { return strconv.Itoa(i) }

const ordersQuery = "SELECT id, customer_id, country, region, parent_order FROM orders"

// TestRulesForeignKeys: inserts and updates must reference rows that exist
// after the sync — in another table now, or in the table itself: left in
// place, or written by the same sync (an update may reference a row only
// an insert writes when the foreign key is deferrable).
func TestRulesForeignKeys(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE customers (id int PRIMARY KEY)`)
	e.Dst(`INSERT INTO customers VALUES (1), (2)`)
	e.Dst(`CREATE TABLE regions (country text, code text, PRIMARY KEY (country, code))`)
	e.Dst(`INSERT INTO regions VALUES ('FR', 'P'), ('DE', 'B')`)
	e.Dst(`CREATE TABLE orders (
		id int PRIMARY KEY,
		customer_id int CONSTRAINT orders_customer_fk REFERENCES customers,
		country text,
		region text,
		parent_order int CONSTRAINT orders_parent_fk REFERENCES orders,
		CONSTRAINT orders_region_fk FOREIGN KEY (country, region) REFERENCES regions MATCH FULL)`)
	e.Dst(`INSERT INTO orders VALUES (10, 1, 'FR', 'P', NULL), (11, 2, NULL, NULL, NULL), (12, 1, NULL, NULL, NULL), (13, 1, NULL, NULL, NULL)`)
	e.Src(`CREATE TABLE orders (id int, customer_id int, country text, region text, parent_order int)`)
	e.Src(`INSERT INTO orders VALUES
		(10, 1, 'FR', 'P', NULL),    -- unchanged
		(11, 3, NULL, NULL, NULL),   -- update: customer 3 does not exist
		(13, 1, NULL, NULL, 25),     -- update: references 25, which only an insert writes (not deferrable)
		(20, 1, 'FR', NULL, NULL),   -- insert: MATCH FULL, partly NULL
		(21, NULL, NULL, NULL, NULL),-- insert: NULL references nothing
		(22, 1, 'DE', 'B', 23),      -- insert: references 23, inserted with it
		(23, 2, NULL, NULL, 10),     -- insert
		(24, 1, NULL, NULL, 12),     -- insert: references 12, which the mirror deletes
		(25, 1, NULL, NULL, 26),     -- insert: references 26, which is refused
		(26, 1, NULL, NULL, 99),     -- insert: 99 does not exist
		(27, 1, NULL, NULL, 27)      -- insert: references itself`)
	want := planner.Counts{Insert: 4, Delete: 1, Unchanged: 1, Reject: 6}
	wantRejected := []rejected{
		{"orders_customer_fk", "references a row of public.customers that does not exist", []string{"id=11"}, 0},
		{"orders_region_fk", "some but not all of the columns (country, region) of a MATCH FULL foreign key are NULL", []string{"id=20"}, 0},
		{"orders_parent_fk", "references a row of public.orders that this sync deletes", []string{"id=24"}, 0},
		{"orders_parent_fk", "references a row of public.orders that this sync inserts, but rowform updates before it inserts", []string{"id=13"}, 0},
		{"orders_parent_fk", "references a row of public.orders that does not exist", []string{"id=26"}, 0},
		{"orders_parent_fk", "references a row of public.orders that this sync would write but refuses", []string{"id=25"}, 0},
	}
	_, sp := planSync(t, e.Config(ruleSync("orders", "orders", ordersQuery, "mirror", "fail")))
	if sp.Counts != want {
		t.Fatalf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	requireRejected(t, sp, wantRejected)
	order := findingWith(sp, planner.CodeRejectedRows, "rowform updates before it inserts")
	if order == nil || order.Fix != `ALTER TABLE "public"."orders" ALTER CONSTRAINT "orders_parent_fk" DEFERRABLE;` {
		t.Fatalf("the update that needs a deferred check has no fix: %+v", order)
	}

	cfg := e.Config(ruleSync("orders", "orders", ordersQuery, "mirror", "skip"))
	p, sp := planSync(t, cfg)
	if sp.Counts != want {
		t.Fatalf("skip: counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	applySkip(t, cfg, p)
	const rowsQuery = `SELECT concat_ws(':', id, coalesce(customer_id::text, '-'), coalesce(country, '-'), coalesce(region, '-'), coalesce(parent_order::text, '-')) FROM orders ORDER BY id`
	requireRows(t, e, rowsQuery,
		"10:1:FR:P:-", "11:2:-:-:-", "13:1:-:-:-", "21:-:-:-:-", "22:1:DE:B:23", "23:2:-:-:10", "27:1:-:-:27")

	// Clean: the source fixed, and the self reference deferrable (the
	// finding's fix): 13 is updated to reference 25, inserted after it, and
	// 25 references 26, inserted with it.
	e.Src(`UPDATE orders SET customer_id = 2 WHERE id = 11`)
	e.Src(`UPDATE orders SET region = 'P' WHERE id = 20`)
	e.Src(`DELETE FROM orders WHERE id = 24`)
	e.Src(`UPDATE orders SET parent_order = NULL WHERE id = 26`)
	e.Dst(order.Fix)
	applyClean(t, cfg, planner.Counts{Insert: 3, Update: 1, Unchanged: 6})
	requireRows(t, e, rowsQuery,
		"10:1:FR:P:-", "11:2:-:-:-", "13:1:-:-:25", "20:1:FR:P:-", "21:-:-:-:-", "22:1:DE:B:23", "23:2:-:-:10",
		"25:1:-:-:26", "26:1:-:-:-", "27:1:-:-:27")
}

const customersQuery = "SELECT id, code, manager FROM customers"

// TestRulesReferenced: deletes, and updates of referenced columns, that
// rows of other tables (or of the table itself) still reference are
// refused under NO ACTION and RESTRICT; under CASCADE and SET NULL the plan
// says how many rows of the other table they reach.
func TestRulesReferenced(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE customers (id int PRIMARY KEY, code text UNIQUE,
		manager int CONSTRAINT customers_manager_fk REFERENCES customers)`)
	e.Dst(`INSERT INTO customers VALUES (1, 'c1', NULL), (2, 'c2', NULL), (3, 'c3', NULL), (4, 'c4', 3), (5, 'c5', NULL),
		(6, 'c6', NULL), (7, 'c7', NULL), (8, 'c8', NULL), (9, 'c9', 8), (10, 'c10', NULL), (11, 'c11', 10)`)
	e.Dst(`CREATE TABLE orders (id int PRIMARY KEY, customer_id int CONSTRAINT orders_customer_fk REFERENCES customers ON DELETE RESTRICT)`)
	e.Dst(`CREATE INDEX ON orders (customer_id)`)
	e.Dst(`CREATE TABLE invoices (id int PRIMARY KEY,
		customer_code text CONSTRAINT invoices_customer_fk REFERENCES customers (code) ON DELETE CASCADE ON UPDATE NO ACTION)`)
	e.Dst(`CREATE TABLE notes (id int PRIMARY KEY, customer_id int CONSTRAINT notes_customer_fk REFERENCES customers ON DELETE SET NULL)`)
	e.Dst(`CREATE INDEX ON notes (customer_id)`)
	e.Dst(`CREATE TABLE tags (id int PRIMARY KEY, customer_code text CONSTRAINT tags_customer_fk REFERENCES customers (code) ON UPDATE CASCADE)`)
	e.Dst(`INSERT INTO orders VALUES (100, 1)`)
	e.Dst(`INSERT INTO invoices VALUES (200, 'c5'), (201, 'c5'), (202, 'c6')`)
	e.Dst(`INSERT INTO notes VALUES (300, 7), (301, 9)`)
	e.Dst(`INSERT INTO tags VALUES (400, 'c2')`)
	e.Src(`CREATE TABLE customers (id int, code text, manager int)`)
	// Deleted: 1 (an order references it: RESTRICT), 3 and 4 (4 references
	// 3 and goes with it), 5 (two invoices go with it), 7 (a note loses
	// it), 8 (9 references it and stays), 10 (11 references it until it is
	// updated, after the deletes). Updated: 2's code (a tag follows), 6's
	// code (an invoice references it: NO ACTION), 11's manager.
	e.Src(`INSERT INTO customers VALUES (2, 'c2x', NULL), (6, 'c6x', NULL), (9, 'c9', 8), (11, 'c11', NULL)`)
	want := planner.Counts{Delete: 4, Update: 2, Unchanged: 1, Reject: 4}
	wantRejected := []rejected{
		{"orders_customer_fk", "rows of public.orders still reference it (ON DELETE RESTRICT)", []string{"id=1"}, 0},
		{"invoices_customer_fk", "rows of public.invoices still reference its old value of (code) (ON UPDATE NO ACTION)", []string{"id=6"}, 0},
		{"customers_manager_fk", "rows of this table still reference it (ON DELETE NO ACTION)", []string{"id=8"}, 0},
		{"customers_manager_fk", "rows of this table that this sync updates to reference another row still reference it when it is deleted", []string{"id=10"}, 0},
	}
	cascades := map[string]struct {
		table, constraint, summary string
		rows                       int64
	}{
		"invoices": {"public.invoices", "invoices_customer_fk", "deleting 1 row of public.customers deletes 2 rows of public.invoices with them (ON DELETE CASCADE)", 2},
		"notes":    {"public.notes", "notes_customer_fk", "deleting 1 row of public.customers sets (customer_id) to NULL in 1 row of public.notes (ON DELETE SET NULL)", 1},
		"tags":     {"public.tags", "tags_customer_fk", "updating (code) in 1 row of public.customers changes (customer_code) in 1 row of public.tags with them (ON UPDATE CASCADE)", 1},
	}
	requireCascades := func(sp *planner.SyncPlan) {
		t.Helper()
		n := 0
		for _, f := range sp.Findings {
			if f.Code != planner.CodeCascade {
				continue
			}
			n++
			w, ok := cascades[strings.TrimPrefix(f.Table, "public.")]
			if !ok || f.Table != w.table || f.Constraint != w.constraint || f.Summary != w.summary || f.Rows != w.rows || f.Severity != planner.SeverityWarning {
				t.Errorf("cascade finding %+v, want %+v", f, w)
			}
		}
		if n != len(cascades) {
			t.Errorf("%d cascade findings, want %d:\n%s", n, len(cascades), synctest.FindingsText(sp))
		}
	}
	_, sp := planSync(t, e.Config(ruleSync("customers", "customers", customersQuery, "mirror", "fail")))
	if sp.Counts != want {
		t.Fatalf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	requireRejected(t, sp, wantRejected)
	requireCascades(sp)
	repoint := findingWith(sp, planner.CodeRejectedRows, "still reference it when it is deleted")
	if repoint == nil || repoint.Fix != `ALTER TABLE "public"."customers" ALTER CONSTRAINT "customers_manager_fk" DEFERRABLE;` {
		t.Fatalf("the delete that needs a deferred check has no fix: %+v", repoint)
	}

	cfg := e.Config(ruleSync("customers", "customers", customersQuery, "mirror", "skip"))
	p, sp := planSync(t, cfg)
	if sp.Counts != want {
		t.Fatalf("skip: counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	requireCascades(sp)
	applySkip(t, cfg, p)
	const rowsQuery = `SELECT concat_ws(':', id, code, coalesce(manager::text, '-')) FROM customers ORDER BY id`
	requireRows(t, e, rowsQuery, "1:c1:-", "2:c2x:-", "6:c6:-", "8:c8:-", "9:c9:8", "10:c10:-", "11:c11:-")
	requireRows(t, e, `SELECT id || ':' || customer_code FROM invoices ORDER BY id`, "202:c6")
	requireRows(t, e, `SELECT id || ':' || coalesce(customer_id::text, '-') FROM notes ORDER BY id`, "300:-", "301:9")
	requireRows(t, e, `SELECT id || ':' || customer_code FROM tags ORDER BY id`, "400:c2x")

	// Clean: the order and the invoice go, 9 leaves the source (it is
	// deleted with 8, which it references), and the manager reference is
	// deferrable (the finding's fix), so 10 can be deleted while 11, which
	// references it, is updated after.
	e.Dst(`DELETE FROM orders`)
	e.Dst(`DELETE FROM invoices`)
	e.Dst(`UPDATE customers SET manager = 10 WHERE id = 11`)
	e.Dst(repoint.Fix)
	e.Src(`DELETE FROM customers WHERE id = 9`)
	applyClean(t, cfg, planner.Counts{Delete: 4, Update: 2, Unchanged: 1})
	requireRows(t, e, rowsQuery, "2:c2x:-", "6:c6x:-", "11:c11:-")
	requireRows(t, e, `SELECT id || ':' || coalesce(customer_id::text, '-') FROM notes ORDER BY id`, "300:-", "301:-")
}

// TestRulesSelfReferenceRestrict: rows of a table that reference each
// other under ON DELETE RESTRICT can be deleted together (in one DELETE);
// a delete is held back by a row that stays, and in turn holds back the
// deletes of the rows it references. RESTRICT cannot be deferred, so a row
// updated to reference another row holds its old parent's delete back.
func TestRulesSelfReferenceRestrict(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE cats (id int PRIMARY KEY, parent int CONSTRAINT cats_parent_fk REFERENCES cats ON DELETE RESTRICT)`)
	e.Dst(`INSERT INTO cats VALUES (1, NULL), (2, 1), (3, 2), (4, 1), (5, 3)`)
	e.Src(`CREATE TABLE cats (id int, parent int)`)
	e.Src(`INSERT INTO cats VALUES (4, NULL), (5, 3)`)
	want := planner.Counts{Update: 1, Unchanged: 1, Reject: 3}
	wantRejected := []rejected{
		{"cats_parent_fk", "rows of this table still reference it (ON DELETE RESTRICT)", []string{"id=2", "id=3"}, 0},
		{"cats_parent_fk", "rows of this table that this sync updates to reference another row still reference it when it is deleted", []string{"id=1"}, 0},
	}
	_, sp := planSync(t, e.Config(ruleSync("cats", "cats", "SELECT id, parent FROM cats", "mirror", "fail")))
	if sp.Counts != want {
		t.Fatalf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	requireRejected(t, sp, wantRejected)
	if f := findingWith(sp, planner.CodeRejectedRows, "when it is deleted"); f == nil || f.Fix != "" {
		t.Errorf("RESTRICT cannot be made deferrable, yet the finding has a fix: %+v", f)
	}
	cfg := e.Config(ruleSync("cats", "cats", "SELECT id, parent FROM cats", "mirror", "skip"))
	p, sp := planSync(t, cfg)
	if sp.Counts != want {
		t.Fatalf("skip: counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	applySkip(t, cfg, p)
	const rowsQuery = `SELECT id || ':' || coalesce(parent::text, '-') FROM cats ORDER BY id`
	requireRows(t, e, rowsQuery, "1:-", "2:1", "3:2", "4:-", "5:3")
	// Clean: 5 leaves the source, and the chain 1 <- 2 <- 3 <- 5 goes in
	// one DELETE.
	e.Src(`DELETE FROM cats WHERE id = 5`)
	applyClean(t, cfg, planner.Counts{Delete: 4, Unchanged: 1})
	requireRows(t, e, rowsQuery, "4:-")
}

// TestRulesTriggers: a triggers finding per user trigger that fires for the
// planned writes, counted after the rejections: a trigger on updates does
// not show when every update is refused, nor one on TRUNCATE.
func TestRulesTriggers(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE items (id int PRIMARY KEY, name text CONSTRAINT items_name_check CHECK (name <> 'bad'))`)
	e.Dst(`CREATE TABLE audit (op text, id int)`)
	e.Dst(`CREATE FUNCTION log_item() RETURNS trigger LANGUAGE plpgsql AS $$
		BEGIN
			IF TG_LEVEL = 'ROW' THEN
				INSERT INTO audit VALUES (TG_OP, CASE WHEN TG_OP = 'DELETE' THEN OLD.id ELSE NEW.id END);
			ELSE
				INSERT INTO audit VALUES (TG_OP || ' statement', NULL);
			END IF;
			RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
		END $$`)
	e.Dst(`CREATE TRIGGER items_audit AFTER INSERT OR DELETE ON items FOR EACH ROW EXECUTE FUNCTION log_item()`)
	e.Dst(`CREATE TRIGGER items_insert_statement AFTER INSERT ON items FOR EACH STATEMENT EXECUTE FUNCTION log_item()`)
	e.Dst(`CREATE TRIGGER items_before_update BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION log_item()`)
	e.Dst(`CREATE TRIGGER items_truncate AFTER TRUNCATE ON items FOR EACH STATEMENT EXECUTE FUNCTION log_item()`)
	e.Dst(`INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c')`)
	e.Dst(`DELETE FROM audit`)
	e.Src(`CREATE TABLE items (id int, name text)`)
	e.Src(`INSERT INTO items VALUES (1, 'a'), (2, 'bad'), (4, 'd'), (5, 'bad')`)
	want := planner.Counts{Insert: 1, Delete: 1, Unchanged: 1, Reject: 2}
	type trig struct {
		summary string
		rows    int64
	}
	requireTriggers := func(sp *planner.SyncPlan, want ...trig) {
		t.Helper()
		var got []trig
		for _, f := range sp.Findings {
			if f.Code == planner.CodeTriggers {
				if f.Severity != planner.SeverityWarning {
					t.Errorf("triggers finding %q: severity %s", f.Summary, f.Severity)
				}
				got = append(got, trig{f.Summary, f.Rows})
			}
		}
		if !slices.Equal(got, want) {
			t.Errorf("triggers findings:\n  got  %+v\n  want %+v", got, want)
		}
	}
	cfg := e.Config(ruleSync("items", "items", "SELECT id, name FROM items", "mirror", "skip"))
	p, sp := planSync(t, cfg)
	if sp.Counts != want {
		t.Fatalf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	requireTriggers(sp,
		trig{`the trigger "items_audit" (AFTER INSERT OR DELETE FOR EACH ROW) on public.items fires for the planned 1 insert and 1 delete`, 2},
		trig{`the trigger "items_insert_statement" (AFTER INSERT FOR EACH STATEMENT) on public.items fires for the planned 1 insert`, 0})
	applySkip(t, cfg, p)
	requireRows(t, e, `SELECT id || ':' || name FROM items ORDER BY id`, "1:a", "2:b", "4:d")
	requireRows(t, e, `SELECT op || ':' || coalesce(id::text, '-') FROM audit ORDER BY op COLLATE "C", id`, "DELETE:3", "INSERT:4", "INSERT statement:-")

	// Clean: an update and an insert.
	e.Src(`UPDATE items SET name = 'b2' WHERE id = 2`)
	e.Src(`UPDATE items SET name = 'e' WHERE id = 5`)
	_, sp = planSync(t, cfg)
	requireTriggers(sp,
		trig{`the trigger "items_audit" (AFTER INSERT OR DELETE FOR EACH ROW) on public.items fires for the planned 1 insert`, 1},
		trig{`the trigger "items_before_update" (BEFORE UPDATE FOR EACH ROW) on public.items fires for the planned 1 update`, 1},
		trig{`the trigger "items_insert_statement" (AFTER INSERT FOR EACH STATEMENT) on public.items fires for the planned 1 insert`, 0})
	applyClean(t, cfg, planner.Counts{Insert: 1, Update: 1, Unchanged: 2})
	requireRows(t, e, `SELECT id || ':' || name FROM items ORDER BY id`, "1:a", "2:b2", "4:d", "5:e")
}

// TestRulesForeignKeyUnreadable: a foreign key into a table the
// destination role may not read cannot be checked by the plan: a warning
// says so, with the grant, and apply still enforces it.
func TestRulesForeignKeyUnreadable(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE customers (id int PRIMARY KEY)`)
	e.Dst(`INSERT INTO customers VALUES (1)`)
	e.Dst(`CREATE TABLE orders (id int PRIMARY KEY, customer_id int CONSTRAINT orders_customer_fk REFERENCES customers)`)
	role := e.WithDestinationRole()
	e.Dst(`GRANT USAGE ON SCHEMA public TO ` + quoteIdent(role))
	e.Dst(`GRANT SELECT, INSERT, UPDATE, DELETE ON orders TO ` + quoteIdent(role))
	e.GrantHistory(role)
	e.Src(`CREATE TABLE orders (id int, customer_id int)`)
	e.Src(`INSERT INTO orders VALUES (1, 1), (2, 5)`)
	cfg := e.Config(ruleSync("orders", "orders", "SELECT id, customer_id FROM orders", "update_or_create", "skip"))
	p, sp := planSync(t, cfg)
	if sp.Counts != (planner.Counts{Insert: 2}) {
		t.Fatalf("counts %+v\n%s", sp.Counts, synctest.FindingsText(sp))
	}
	f := findingWith(sp, planner.CodeMissingPrivilege, "the plan cannot check the foreign keys between public.orders and public.customers")
	if f == nil || f.Severity != planner.SeverityWarning || f.Fix != `GRANT SELECT ON "public"."customers" TO `+quoteIdent(role)+`;` {
		t.Fatalf("no warning about the foreign key the plan cannot check: %+v\n%s", f, synctest.FindingsText(sp))
	}
	requireFailed(t, apply(t, cfg, p, executor.Options{}), "orders", "orders_customer_fk")
	e.Dst(f.Fix)
	p, sp = planSync(t, cfg)
	if sp.Counts != (planner.Counts{Insert: 1, Reject: 1}) || findingWith(sp, planner.CodeMissingPrivilege, "foreign keys") != nil {
		t.Fatalf("after the grant: counts %+v\n%s", sp.Counts, synctest.FindingsText(sp))
	}
	requireRejected(t, sp, []rejected{{"orders_customer_fk", "references a row of public.customers that does not exist", []string{"id=2"}, 0}})
	applySkip(t, cfg, p)
	requireRows(t, e, `SELECT id || ':' || customer_id FROM orders ORDER BY id`, "1:1")
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// TestRulesKeyNeverChanges: updates never write the key, so a key whose
// bytes differ between the sides while it matches (numeric 1.5 and 1.50)
// is no change of a referenced column.
func TestRulesKeyNeverChanges(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE n (id numeric PRIMARY KEY, parent numeric CONSTRAINT n_parent_fk REFERENCES n ON UPDATE RESTRICT, name text)`)
	e.Dst(`INSERT INTO n VALUES (1.50, NULL, 'a'), (2.00, 1.50, 'b')`)
	e.Src(`CREATE TABLE n (id numeric, parent numeric, name text)`)
	e.Src(`INSERT INTO n VALUES (1.5, NULL, 'a2'), (2.00, 1.50, 'b')`)
	cfg := e.Config(ruleSync("n", "n", "SELECT id, parent, name FROM n", "mirror", "fail"))
	applyClean(t, cfg, planner.Counts{Update: 1, Unchanged: 1})
	requireRows(t, e, `SELECT id || ':' || coalesce(parent::text, '-') || ':' || name FROM n ORDER BY id`, "1.50:-:a2", "2.00:1.50:b")
}

// TestChecksCutShortWarn: a chain of refusals, each unsettling the next
// (an update refused by a CHECK keeps its old unique value, which an
// insert then cannot take, whose child insert is then refused, which an
// update references, which keeps its own unique value...), longer than the
// checks' rounds: the plan says, in an unchecked_rows warning, that its
// checks were cut short (it was clean, and the apply failed whole). A
// chain that settles within the rounds has no such warning.
func TestChecksCutShortWarn(t *testing.T) {
	t.Parallel()
	for _, links := range []int{2, 8} {
		t.Run(fmt.Sprint(links), func(t *testing.T) {
			t.Parallel()
			e := synctest.New(t)
			e.Dst(`CREATE TABLE t (id int PRIMARY KEY, u int UNIQUE, parent int REFERENCES t(id) DEFERRABLE, v int CHECK (v > 0))`)
			e.Src(`CREATE TABLE t (id int, u int, parent int, v int)`)
			for k := 1; k <= links; k++ {
				e.Dst(fmt.Sprintf(`INSERT INTO t VALUES (%d, %d, NULL, 1)`, 10*k, k))
			}
			// The first update is refused by the CHECK and keeps u = 1.
			e.Src(`INSERT INTO t VALUES (10, 1001, NULL, -1)`)
			for k := 1; k <= links; k++ {
				// An insert takes u = k; its child references it; the
				// next update moves its parent to the child and gives up
				// its own u = k+1.
				e.Src(fmt.Sprintf(`INSERT INTO t VALUES (%d, %d, NULL, 1), (%d, NULL, %d, 1)`, 10*k+1, k, 10*k+2, 10*k+1))
				if k < links {
					e.Src(fmt.Sprintf(`INSERT INTO t VALUES (%d, %d, %d, 1)`, 10*(k+1), 1000+k+1, 10*k+2))
				}
			}
			cfg := e.Config(`
sync "t" {
  source      = source.postgres.src
  query       = "SELECT id, u, parent, v FROM t"
  destination = destination.postgres.dst
  table       = "t"
  behavior    = "update_or_create"
  key         = "id"
  on_reject   = "skip"
}`)
			sp := plan(t, cfg).Syncs[0]
			text := synctest.FindingsText(sp)
			warned := strings.Contains(text, "warning unchecked_rows: the checks of public.t between the rows of this sync were cut short after 5 rounds")
			if warned != (links == 8) {
				t.Errorf("%d links: warned %v:\n%s", links, warned, text)
			}
		})
	}
}

// TestRulesSetNullIntoNotNull: a delete whose ON DELETE SET NULL (or SET
// DEFAULT, into a column without a default) would leave NULL in a NOT NULL
// column of the referencing table is a rejected row, as under RESTRICT: the
// plan had only a cascade warning, and the apply failed whole. A SET NULL
// that lists other columns (PostgreSQL 15), and a SET DEFAULT to a
// default, still cascade.
func TestRulesSetNullIntoNotNull(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE p (id int PRIMARY KEY, tenant int NOT NULL DEFAULT 0, v text, UNIQUE (tenant, id));
CREATE TABLE c_null (id int PRIMARY KEY, p_id int NOT NULL REFERENCES p ON DELETE SET NULL);
CREATE TABLE c_default (id int PRIMARY KEY, p_id int NOT NULL REFERENCES p ON DELETE SET DEFAULT);
CREATE TABLE c_listed (id int PRIMARY KEY, tenant int NOT NULL, p_id int, FOREIGN KEY (tenant, p_id) REFERENCES p (tenant, id) ON DELETE SET NULL (p_id));
CREATE TABLE c_ok (id int PRIMARY KEY, p_id int DEFAULT 1 NOT NULL REFERENCES p ON DELETE SET DEFAULT);
INSERT INTO p VALUES (1, 0, 'keep'), (2, 0, 'b'), (3, 0, 'c'), (4, 0, 'd'), (5, 0, 'e');
INSERT INTO c_null VALUES (10, 2); INSERT INTO c_default VALUES (11, 3); INSERT INTO c_listed VALUES (12, 0, 4); INSERT INTO c_ok VALUES (13, 5)`)
	e.Src(`CREATE TABLE p (id int, v text); INSERT INTO p VALUES (1, 'keep')`)
	cfg := e.Config(`
sync "p" {
  source      = source.postgres.src
  query       = "SELECT id, v FROM p"
  destination = destination.postgres.dst
  table       = "p"
  behavior    = "mirror"
  key         = "id"
  on_reject   = "skip"
}`)
	p := plan(t, cfg)
	sp := p.Syncs[0]
	if want := (planner.Counts{Delete: 2, Unchanged: 1, Reject: 2}); sp.Counts != want {
		t.Errorf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	text := synctest.FindingsText(sp)
	for _, want := range []string{
		"rows of public.c_null still reference it (ON DELETE SET NULL), which would set p_id (NOT NULL) to NULL in them", "id=2",
		"rows of public.c_default still reference it (ON DELETE SET DEFAULT), which would set p_id (NOT NULL) to NULL in them", "id=3",
		"cascade",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the findings do not say %q:\n%s", want, text)
		}
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT id::text FROM p ORDER BY id`), " "); got != "1 2 3" {
		t.Errorf("p holds %s", got)
	}
	if got := strings.Join(e.DstQuery(`SELECT format('%s %s', id, p_id) FROM c_listed UNION ALL SELECT format('%s %s', id, p_id) FROM c_ok`), ", "); got != "12 , 13 1" {
		t.Errorf("the cascades left %s", got)
	}
}
