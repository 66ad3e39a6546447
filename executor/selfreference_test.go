package executor_test

import (
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// The children of a foreign key of a table to itself whose parent only the
// sync writes are matched with their parents by hash, through external
// sorts, and decided pass after pass until no more are refused
// (planner/selfparents.go). These tests plan and apply what that can get
// wrong: chains of refusals, the order of the writes, several columns,
// NULLs.

// TestSelfReferenceRefusalChains: a refused row refuses its descendants,
// however deep, each naming the root's reason in one finding, whether the
// descendants come before their parents in the change set or after (then
// each generation takes a pass of the check: more than the checks have
// rounds, which are not needed for it); a row
// refused for a parent that does not exist does the same with its own
// reason; a chain of rows that are all written stays whole.
func TestSelfReferenceRefusalChains(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE nodes (id int PRIMARY KEY, parent int CONSTRAINT nodes_parent_fk REFERENCES nodes, v int CONSTRAINT nodes_v_check CHECK (v > 0))`)
	e.Src(`CREATE TABLE nodes (id int, parent int, v int)`)
	e.Src(`INSERT INTO nodes VALUES
		(100, NULL, -1),                               -- refused by the CHECK
		-- its descendants, each before its parent, more generations than
		-- the checks have rounds
		(90, 100, 1), (80, 90, 1), (70, 80, 1), (60, 70, 1), (50, 60, 1), (40, 50, 1), (30, 40, 1), (20, 30, 1),
		(200, 100, 1), (300, 200, 1), (400, 300, 1),   -- and after
		(1000, 999, 1),                                -- 999 does not exist
		(1001, 1000, 1), (900, 1001, 1), (1100, 900, 1),
		(7, NULL, 1), (8, 7, 1), (9, 8, 1), (6, 9, 1)  -- all written`)
	cfg := e.Config(ruleSync("nodes", "nodes", "SELECT id, parent, v FROM nodes", "mirror", "skip"))
	p, sp := planSync(t, cfg)
	if want := (planner.Counts{Insert: 4, Reject: 16}); sp.Counts != want {
		t.Fatalf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	requireRejected(t, sp, []rejected{
		{"nodes_v_check", "violates the CHECK constraint (v > 0)", []string{"id=100"}, 0},
		{"nodes_parent_fk", `public.nodes: column "parent": references a row of public.nodes that this sync would write but refuses (column "v": violates the CHECK constraint (v > 0), constraint nodes_v_check) (constraint nodes_parent_fk)`,
			[]string{"id=20", "id=30", "id=40", "id=50", "id=60"}, 11},
		{"nodes_parent_fk", `public.nodes: column "parent": references a row of public.nodes that does not exist (constraint nodes_parent_fk)`, []string{"id=1000"}, 0},
		{"nodes_parent_fk", `public.nodes: column "parent": references a row of public.nodes that this sync would write but refuses (column "parent": references a row of public.nodes that does not exist, constraint nodes_parent_fk) (constraint nodes_parent_fk)`,
			[]string{"id=900", "id=1001", "id=1100"}, 0},
	})
	if f := findingWith(sp, planner.CodeUncheckedRows, ""); f != nil {
		t.Errorf("the checks were cut short: %s", f.Summary)
	}
	r := applySkip(t, cfg, p)
	want := map[string]bool{}
	for _, id := range []string{"20", "30", "40", "50", "60", "70", "80", "90", "100", "200", "300", "400", "900", "1000", "1001", "1100"} {
		want[id] = true
	}
	for _, row := range rejectedRows(t, r) {
		if !want[row.Key["id"]] {
			t.Errorf("apply reported id=%s rejected", row.Key["id"])
		}
	}
	requireRows(t, e, `SELECT id || ':' || coalesce(parent::text, '-') FROM nodes ORDER BY id`, "6:9", "7:-", "8:7", "9:8")
}

// TestSelfReferenceByUniqueColumn: a foreign key of a table to itself over
// a unique column that updates write. An update that references a row only
// an insert writes is refused when the foreign key is not DEFERRABLE
// (rowform updates before it inserts), and so are the rows that reference
// the values that update would have written, naming its reason; an update
// or an insert may reference a value another update writes; a parent
// inserted but refused by a CHECK refuses the update that references it
// for the CHECK; a row that references a value the sync updates away, or a
// row it deletes, is refused, and its children name that reason. Once the
// foreign key is DEFERRABLE, the update and the rows that reference it go
// ahead.
func TestSelfReferenceByUniqueColumn(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE nodes (id int PRIMARY KEY, code text CONSTRAINT nodes_code_key UNIQUE,
		parent_code text CONSTRAINT nodes_parent_fk REFERENCES nodes (code), v int CONSTRAINT nodes_v_check CHECK (v > 0))`)
	e.Dst(`INSERT INTO nodes VALUES (1, 'a', NULL, 1), (2, 'b', 'a', 1), (3, 'c', NULL, 1), (4, 'd', NULL, 1), (5, 'e', NULL, 1),
		(6, 'f', NULL, 1), (8, 'h', NULL, 1)`)
	e.Src(`CREATE TABLE nodes (id int, code text, parent_code text, v int)`)
	e.Src(`INSERT INTO nodes VALUES
		(1, 'a', NULL, 1),   -- unchanged
		(2, 'b2', 'i', 1),   -- update: references 'i', which only the insert of 10 writes
		(10, 'i', 'a', 1),
		(3, 'c2', NULL, 1),  -- update: writes 'c2'
		(4, 'd', 'c2', 1),   -- update: references 'c2', which the update of 3 writes
		(11, 'j', 'c2', 1),
		(5, 'e', 'k', 1),    -- update: references 'k', inserted but refused by the CHECK
		(12, 'k', NULL, -1),
		(13, 'm', 'b2', 1),  -- references 'b2', which only the refused update of 2 writes
		(14, 'n', 'm', 1),
		(6, 'f2', NULL, 1),  -- update: moves 'f' away
		(15, 'o', 'f', 1),   -- references 'f'
		(16, 'q', 'o', 1),
		(17, 'p', 'h', 1)    -- references 8, which the mirror deletes`)
	cfg := e.Config(ruleSync("nodes", "nodes", "SELECT id, code, parent_code, v FROM nodes", "mirror", "skip"))
	_, sp := planSync(t, cfg)
	if want := (planner.Counts{Insert: 2, Update: 3, Delete: 1, Unchanged: 1, Reject: 8}); sp.Counts != want {
		t.Fatalf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	const (
		order = `references a row of public.nodes that this sync inserts, but rowform updates before it inserts and the foreign key is not DEFERRABLE, so it cannot order the writes`
		away  = `references values of (code) in public.nodes that this sync updates away`
	)
	requireRejected(t, sp, []rejected{
		{"nodes_v_check", "violates the CHECK constraint (v > 0)", []string{"id=12"}, 0},
		{"nodes_parent_fk", `public.nodes: column "parent_code": ` + order + ` (constraint nodes_parent_fk)`, []string{"id=2"}, 0},
		{"nodes_parent_fk", `public.nodes: column "parent_code": references a row of public.nodes that this sync would write but refuses (column "v": violates the CHECK constraint (v > 0), constraint nodes_v_check) (constraint nodes_parent_fk)`,
			[]string{"id=5"}, 0},
		{"nodes_parent_fk", `public.nodes: column "parent_code": references a row of public.nodes that this sync would write but refuses (column "parent_code": ` + order + `, constraint nodes_parent_fk) (constraint nodes_parent_fk)`,
			[]string{"id=13", "id=14"}, 0},
		{"nodes_parent_fk", `public.nodes: column "parent_code": ` + away + ` (constraint nodes_parent_fk)`, []string{"id=15"}, 0},
		{"nodes_parent_fk", `public.nodes: column "parent_code": references a row of public.nodes that this sync would write but refuses (column "parent_code": ` + away + `, constraint nodes_parent_fk) (constraint nodes_parent_fk)`,
			[]string{"id=16"}, 0},
		{"nodes_parent_fk", `public.nodes: column "parent_code": references a row of public.nodes that this sync deletes (constraint nodes_parent_fk)`, []string{"id=17"}, 0},
	})
	fix := findingWith(sp, planner.CodeRejectedRows, "by public.nodes: column \"parent_code\": "+order)
	if fix == nil || fix.Fix != `ALTER TABLE "public"."nodes" ALTER CONSTRAINT "nodes_parent_fk" DEFERRABLE;` {
		t.Fatalf("the update that needs a deferred check has no fix: %+v", fix)
	}

	e.Dst(fix.Fix)
	p, sp := planSync(t, cfg)
	if want := (planner.Counts{Insert: 4, Update: 4, Delete: 1, Unchanged: 1, Reject: 5}); sp.Counts != want {
		t.Fatalf("deferrable: counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	applySkip(t, cfg, p)
	requireRows(t, e, `SELECT concat_ws(':', id, code, coalesce(parent_code, '-')) FROM nodes ORDER BY id`,
		"1:a:-", "2:b2:i", "3:c2:-", "4:d:c2", "5:e:-", "6:f2:-", "10:i:a", "11:j:c2", "13:m:b2", "14:n:m")
}

// TestSelfReferenceMultiColumnAndNulls: a foreign key of two columns of a
// table to itself finds its parents by both values, in their places (a
// row that references (2, 1) is no child of the row (1, 2)), among the
// destination's rows and the sync's own (a row may reference itself);
// MATCH SIMPLE skips a row with a NULL in the key; MATCH FULL refuses one
// where some but not all are NULL, and skips one where all are; a row
// with a NULL among the referenced values is no parent. Refused parents
// refuse their children.
func TestSelfReferenceMultiColumnAndNulls(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE org (tenant int, id int, parent int, v int CONSTRAINT org_v_check CHECK (v > 0), PRIMARY KEY (tenant, id),
		CONSTRAINT org_parent_fk FOREIGN KEY (tenant, parent) REFERENCES org (tenant, id))`)
	e.Dst(`INSERT INTO org VALUES (1, 1, NULL, 1), (2, 5, NULL, 1)`)
	e.Dst(`CREATE TABLE pairs (id int PRIMARY KEY, a int, b int, pa int, pb int, CONSTRAINT pairs_ab_key UNIQUE (a, b),
		CONSTRAINT pairs_parent_fk FOREIGN KEY (pa, pb) REFERENCES pairs (a, b) MATCH FULL)`)
	e.Src(`CREATE TABLE org (tenant int, id int, parent int, v int)`)
	e.Src(`INSERT INTO org VALUES
		(1, 1, NULL, 1), (2, 5, NULL, 1), -- unchanged
		(1, 2, 1, 1),    -- references (1, 1), in the destination
		(1, 3, 2, 1),    -- references (1, 2), inserted
		(2, 7, 1, 1),    -- references (2, 1): nobody writes it
		(3, 1, 1, 1),    -- references itself
		(1, 4, NULL, 1), -- MATCH SIMPLE: NULL references nothing
		(1, 5, 9, 1),    -- (1, 9) does not exist
		(1, 6, 5, 1),    -- references (1, 5), refused
		(2, 6, 5, 1),    -- references (2, 5), in the destination
		(3, 2, 3, -1),   -- refused by the CHECK
		(3, 4, 2, 1)     -- references (3, 2)`)
	e.Src(`CREATE TABLE pairs (id int, a int, b int, pa int, pb int)`)
	e.Src(`INSERT INTO pairs VALUES
		(1, 1, 1, NULL, NULL), -- all NULL: references nothing
		(2, 1, 2, 1, NULL),    -- some NULL: refused
		(3, 2, 1, 1, 1),       -- references 1
		(4, 2, 2, 1, 2),       -- references 2, refused
		(5, NULL, NULL, 2, 1), -- references 3
		(6, 5, NULL, 2, 2),    -- references 4
		(7, 7, 7, 5, 5)        -- (5, 5): 6 holds (5, NULL), which is no parent`)
	cfg := e.Config(`
sync "org" {
  source      = source.postgres.src
  query       = "SELECT tenant, id, parent, v FROM org"
  destination = destination.postgres.dst
  table       = "org"
  behavior    = "update_or_create"
  key         = ["tenant", "id"]
  on_reject   = "skip"
}
` + ruleSync("pairs", "pairs", "SELECT id, a, b, pa, pb FROM pairs", "update_or_create", "skip"))
	p := plan(t, cfg)
	org, pairs := p.Syncs[0], p.Syncs[1]
	if want := (planner.Counts{Insert: 5, Unchanged: 2, Reject: 5}); org.Counts != want {
		t.Fatalf("org: counts %+v, want %+v\n%s", org.Counts, want, synctest.FindingsText(org))
	}
	requireRejected(t, org, []rejected{
		{"org_parent_fk", "public.org: references a row of public.org that does not exist (constraint org_parent_fk)", []string{"tenant=1 id=5", "tenant=2 id=7"}, 0},
		{"org_parent_fk", "public.org: references a row of public.org that this sync would write but refuses (references a row of public.org that does not exist, constraint org_parent_fk) (constraint org_parent_fk)",
			[]string{"tenant=1 id=6"}, 0},
		{"org_v_check", "violates the CHECK constraint (v > 0)", []string{"tenant=3 id=2"}, 0},
		{"org_parent_fk", `public.org: references a row of public.org that this sync would write but refuses (column "v": violates the CHECK constraint (v > 0), constraint org_v_check) (constraint org_parent_fk)`,
			[]string{"tenant=3 id=4"}, 0},
	})
	if want := (planner.Counts{Insert: 3, Reject: 4}); pairs.Counts != want {
		t.Fatalf("pairs: counts %+v, want %+v\n%s", pairs.Counts, want, synctest.FindingsText(pairs))
	}
	const partial = "some but not all of the columns (pa, pb) of a MATCH FULL foreign key are NULL"
	requireRejected(t, pairs, []rejected{
		{"pairs_parent_fk", "public.pairs: " + partial + " (constraint pairs_parent_fk)", []string{"id=2"}, 0},
		{"pairs_parent_fk", "public.pairs: references a row of public.pairs that this sync would write but refuses (" + partial + ", constraint pairs_parent_fk) (constraint pairs_parent_fk)",
			[]string{"id=4", "id=6"}, 0},
		{"pairs_parent_fk", "public.pairs: references a row of public.pairs that does not exist (constraint pairs_parent_fk)", []string{"id=7"}, 0},
	})
	res := apply(t, cfg, p, executor.Options{})
	requireApplied(t, res)
	requireRows(t, e, `SELECT concat_ws(':', tenant, id, coalesce(parent::text, '-')) FROM org ORDER BY tenant, id`,
		"1:1:-", "1:2:1", "1:3:2", "1:4:-", "2:5:-", "2:6:5", "3:1:1")
	requireRows(t, e, `SELECT id::text FROM pairs ORDER BY id`, "1", "3", "5")
}

// TestSelfReferenceUnderACollation: a foreign key of a table to itself on
// a column of a nondeterministic collation compares as that collation
// does: a child 'ALPHA' references the parent 'Alpha' that the same sync
// inserts, under a case-insensitive collation. The check hashed both under
// the default collation and refused the child as referencing a row that
// does not exist, which apply would have written.
func TestSelfReferenceUnderACollation(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`)
	e.Dst(`CREATE TABLE nodes (id int PRIMARY KEY, code text COLLATE ci UNIQUE, parent text COLLATE ci CONSTRAINT nodes_parent_fk REFERENCES nodes (code), v int CHECK (v > 0))`)
	e.Src(`CREATE TABLE nodes (id int, code text, parent text, v int)`)
	e.Src(`INSERT INTO nodes VALUES (1, 'Alpha', NULL, 1), (2, 'beta', 'ALPHA', 1), (3, 'gamma', 'BETA', 1), (4, 'delta', 'omega', 1)`)
	cfg := e.Config(ruleSync("nodes", "nodes", "SELECT id, code, parent, v FROM nodes", "update_or_create", "skip"))
	p := plan(t, cfg)
	sp := p.Syncs[0]
	if want := (planner.Counts{Insert: 3, Reject: 1}); sp.Counts != want {
		t.Fatalf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	requireConverged(t, cfg)
}

// TestSelfReferenceWiderChild: a foreign key of a table to itself from a
// bigint column to an int one. The check cast each child to the parent's
// type to hash it: a child of 5000000000, which no int equals, failed the
// cast and with it the plan. The foreign key compares int4 with int8, whose
// hashes agree: the child is hashed as it is and refused as referencing a
// row that does not exist, as apply's write would refuse it, and so is its
// own child; the other rows are inserted.
func TestSelfReferenceWiderChild(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE employees (id int PRIMARY KEY, manager_id bigint CONSTRAINT employees_manager_fk REFERENCES employees, v int)`)
	e.Dst(`INSERT INTO employees VALUES (1, NULL, 1)`)
	e.Src(`CREATE TABLE employees (id int, manager_id bigint, v int)`)
	e.Src(`INSERT INTO employees VALUES (1, NULL, 1), (2, 1, 1), (3, 5000000000, 1), (4, 2, 1), (5, 3, 1), (6, 4, 1)`)
	cfg := e.Config(ruleSync("employees", "employees", "SELECT id, manager_id, v FROM employees", "update_or_create", "skip"))
	p := plan(t, cfg)
	sp := p.Syncs[0]
	if want := (planner.Counts{Insert: 3, Unchanged: 1, Reject: 2}); sp.Counts != want {
		t.Fatalf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	requireRejected(t, sp, []rejected{
		{"employees_manager_fk", `public.employees: column "manager_id": references a row of public.employees that does not exist (constraint employees_manager_fk)`, []string{"id=3"}, 0},
		{"employees_manager_fk", `public.employees: column "manager_id": references a row of public.employees that this sync would write but refuses (column "manager_id": references a row of public.employees that does not exist, constraint employees_manager_fk) (constraint employees_manager_fk)`,
			[]string{"id=5"}, 0},
	})
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	requireRows(t, e, `SELECT id || ':' || coalesce(manager_id::text, '-') FROM employees ORDER BY id`, "1:-", "2:1", "4:2", "6:4")
	requireConverged(t, cfg)
}

// TestSelfReferenceCastsThatRound: foreign keys of a table to itself whose
// child columns' types a cast to the parent column's type would round or
// truncate: numeric(10,2) to numeric(10,0) (1.50 to 2), text to
// varchar(3) ('abcd' to 'abc'), timestamp to date (noon to the day). The
// check cast each child so and found it the parent the sync inserts, which
// the foreign key, comparing the values as they are, does not: apply's
// write failed. Each such child is refused as referencing a row that does
// not exist; a child equal to its parent (1.00, midnight) is inserted.
func TestSelfReferenceCastsThatRound(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE accounts (id numeric(10,0) PRIMARY KEY, parent numeric(10,2) CONSTRAINT accounts_parent_fk REFERENCES accounts)`)
	e.Dst(`CREATE TABLE codes (id int PRIMARY KEY, code varchar(3) CONSTRAINT codes_code_key UNIQUE, parent text CONSTRAINT codes_parent_fk REFERENCES codes (code))`)
	e.Dst(`CREATE TABLE days (id date PRIMARY KEY, parent timestamp CONSTRAINT days_parent_fk REFERENCES days)`)
	e.Src(`CREATE TABLE accounts (id numeric(10,0), parent numeric(10,2))`)
	e.Src(`INSERT INTO accounts VALUES (1, NULL), (2, 1.00), (3, 1.50)`)
	e.Src(`CREATE TABLE codes (id int, code varchar(3), parent text)`)
	e.Src(`INSERT INTO codes VALUES (1, 'abc', NULL), (2, 'abd', 'abc'), (3, 'abe', 'abcd')`)
	e.Src(`CREATE TABLE days (id date, parent timestamp)`)
	e.Src(`INSERT INTO days VALUES ('2024-01-01', NULL), ('2024-01-02', '2024-01-01 00:00'), ('2024-01-03', '2024-01-01 12:00')`)
	cfg := e.Config(ruleSync("accounts", "accounts", "SELECT id, parent FROM accounts", "update_or_create", "skip") +
		ruleSync("codes", "codes", "SELECT id, code, parent FROM codes", "update_or_create", "skip") +
		ruleSync("days", "days", "SELECT id, parent FROM days", "update_or_create", "skip"))
	p := plan(t, cfg)
	for k, table := range []string{"accounts", "codes", "days"} {
		sp := p.Syncs[k]
		if want := (planner.Counts{Insert: 2, Reject: 1}); sp.Counts != want {
			t.Errorf("%s: counts %+v, want %+v\n%s", table, sp.Counts, want, synctest.FindingsText(sp))
			continue
		}
		requireRejected(t, sp, []rejected{
			{table + "_parent_fk", `public.` + table + `: column "parent": references a row of public.` + table + ` that does not exist (constraint ` + table + `_parent_fk)`,
				[]string{map[string]string{"accounts": "id=3", "codes": "id=3", "days": `id="2024-01-03"`}[table]}, 0},
		})
	}
	if t.Failed() {
		t.FailNow()
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	requireRows(t, e, `SELECT id || ':' || coalesce(parent::text, '-') FROM accounts ORDER BY id`, "1:-", "2:1.00")
	requireRows(t, e, `SELECT code || ':' || coalesce(parent, '-') FROM codes ORDER BY id`, "abc:-", "abd:abc")
	requireRows(t, e, `SELECT id || ':' || coalesce(parent::text, '-') FROM days ORDER BY id`, "2024-01-01:-", "2024-01-02:2024-01-01 00:00:00")
	requireConverged(t, cfg)
}
