package executor_test

import (
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestInheritanceChildren: a destination table with inheritance children
// is refused (missing_unique_constraint, its keys are not unique across
// them): the plan of a mirror updated the parent's row and deleted the
// child's of the same key, and apply failed, its DELETE touching more rows
// than planned. After the fix (NO INHERIT) the sync plans and applies.
func TestInheritanceChildren(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id int, v text); INSERT INTO items VALUES (1, 'p2')`)
	e.Dst(`CREATE TABLE items (id int PRIMARY KEY, v text); CREATE TABLE items_child () INHERITS (items);
INSERT INTO items VALUES (1, 'p'); INSERT INTO items_child VALUES (1, 'c'), (2, 'c2')`)
	cfg := historyConfig(t, e, "history = false", itemsHistorySync)
	sp := plan(t, cfg).Syncs[0]
	if len(sp.Findings) != 1 || sp.Findings[0].Code != planner.CodeMissingUniqueConstraint ||
		!strings.Contains(sp.Findings[0].Summary, "public.items has inheritance children (items_child)") || sp.Diffed {
		t.Fatalf("diffed=%v, findings:\n%s", sp.Diffed, synctest.FindingsText(sp))
	}
	e.Dst(sp.Findings[0].Fix)
	p := applyable(t, cfg)
	if want := (planner.Counts{Update: 1}); p.Syncs[0].Counts != want {
		t.Fatalf("after the fix: %+v, want %+v", p.Syncs[0].Counts, want)
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT id || v FROM items ORDER BY id`), " "); got != "1p2" {
		t.Errorf("items holds %s", got)
	}
	if got := strings.Join(e.DstQuery(`SELECT id || v FROM items_child ORDER BY id`), " "); got != "1c 2c2" {
		t.Errorf("items_child holds %s", got)
	}
}

// TestRowLevelSecurity: row-level security that binds the role and limits
// what it may read or write is refused (missing_privilege): the plan was
// clean and apply failed when a policy refused an update. Policies that
// let the role at every row pass, and so does the table's owner.
func TestRowLevelSecurity(t *testing.T) {
	const limited = `ALTER TABLE items ENABLE ROW LEVEL SECURITY;
CREATE POLICY sel ON items FOR SELECT USING (true);
CREATE POLICY ins ON items FOR INSERT WITH CHECK (v <> 'c');
CREATE POLICY upd ON items FOR UPDATE USING (id = 1) WITH CHECK (true);
CREATE POLICY del ON items FOR DELETE USING (true)`
	for _, c := range []struct{ name, policies, limits string }{
		{"limiting policies", limited, "limits the rows role %q may insert, update"},
		{"no policy", `ALTER TABLE items ENABLE ROW LEVEL SECURITY`, "limits the rows role %q may select, insert, update, delete"},
		{"a restrictive policy", `ALTER TABLE items ENABLE ROW LEVEL SECURITY; CREATE POLICY al ON items FOR ALL USING (true) WITH CHECK (true);
CREATE POLICY r ON items AS RESTRICTIVE FOR UPDATE USING (v <> 'x')`, "limits the rows role %q may update"},
		{"policies over every row", `ALTER TABLE items ENABLE ROW LEVEL SECURITY; CREATE POLICY al ON items FOR ALL TO PUBLIC USING (true) WITH CHECK (true)`, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := synctest.New(t)
			e.Src(`CREATE TABLE items (id int, v text); INSERT INTO items VALUES (1, 'a2'), (2, 'b2'), (3, 'c')`)
			e.Dst(`CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items VALUES (1, 'a'), (2, 'b'), (4, 'd')`)
			e.Dst(c.policies)
			role := e.WithDestinationRole()
			e.Dst(`GRANT SELECT, INSERT, UPDATE, DELETE ON items TO ` + quoteIdent(role))
			cfg := historyConfig(t, e, "history = false", itemsHistorySync)
			if c.limits != "" {
				sp := plan(t, cfg).Syncs[0]
				want := strings.Replace(c.limits, "%q", `"`+role+`"`, 1)
				if len(sp.Findings) != 1 || sp.Findings[0].Code != planner.CodeMissingPrivilege || !strings.Contains(sp.Findings[0].Summary, "row-level security on public.items "+want) {
					t.Fatalf("findings:\n%s", synctest.FindingsText(sp))
				}
				e.Dst(sp.Findings[0].Fix)
			}
			p := applyable(t, cfg)
			if want := (planner.Counts{Insert: 1, Update: 2, Delete: 1}); p.Syncs[0].Counts != want {
				t.Fatalf("counts %+v, want %+v", p.Syncs[0].Counts, want)
			}
			requireApplied(t, apply(t, cfg, p, executor.Options{}))
			if got := strings.Join(e.DstQuery(`SELECT id || v FROM items ORDER BY id`), " "); got != "1a2 2b2 3c" {
				t.Errorf("items holds %s", got)
			}
		})
	}
}

// TestRewriteRules: a table with rewrite rules on its writes is refused
// (rewrite_rules): a rule that deleted another row on every update made
// apply delete a row the plan called unchanged, and an insert rule did not
// fire for apply's COPY. After the fix the sync plans and applies.
func TestRewriteRules(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id int, v text); INSERT INTO items VALUES (1, 'a2'), (2, 'b'), (3, 'c'), (4, 'd')`)
	e.Dst(`CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c');
CREATE TABLE audit (id int);
CREATE RULE also_delete AS ON UPDATE TO items DO ALSO DELETE FROM items WHERE id = 3;
CREATE RULE audit_insert AS ON INSERT TO items DO ALSO INSERT INTO audit VALUES (NEW.id)`)
	cfg := historyConfig(t, e, "history = false", itemsUpsertSync)
	sp := plan(t, cfg).Syncs[0]
	if !sp.Diffed || sp.Counts != (planner.Counts{Insert: 1, Update: 1, Unchanged: 2}) || len(sp.Findings) != 1 || sp.Findings[0].Code != planner.CodeRewriteRules ||
		!strings.Contains(sp.Findings[0].Summary, "public.items has rewrite rules (also_delete, audit_insert)") {
		t.Fatalf("findings:\n%s", synctest.FindingsText(sp))
	}
	e.Dst(sp.Findings[0].Fix)
	requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT id || v FROM items ORDER BY id`), " "); got != "1a2 2b 3c 4d" {
		t.Errorf("items holds %s", got)
	}
}
