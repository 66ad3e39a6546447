package executor_test

import (
	"context"
	"fmt"
	"os"
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// Undo plans (planner/undo.go, executor/undo.go, docs/history.md).

// undoPlan plans the undo of run id.
func undoPlan(t *testing.T, cfg *hclconfig.Config, id int64, opts planner.Options) *planner.Plan {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testTimeout)
	defer cancel()
	p, err := planner.ComputeUndo(ctx, cfg, id, opts)
	if err != nil {
		t.Fatalf("plan -undo=%d: %v", id, err)
	}
	return p
}

// lastRun is the id of the newest run in the history.
func lastRun(t *testing.T, e *synctest.Env) int64 {
	t.Helper()
	var id int64
	if _, err := fmt.Sscan(e.DstQuery(`SELECT max(id) FROM rowform.runs WHERE status = 'applied'`)[0], &id); err != nil {
		t.Fatal(err)
	}
	return id
}

// TestUndoRestoresTheTable: apply, then undo, gives back the table exactly
// (composite key, NULLs, jsonb, numeric scales, arrays, timestamps, the
// unmapped column of deleted rows); the undo is a run of its own, and its
// undo gives back the table as the apply left it. Samples never show a
// sensitive or unmapped value.
func TestUndoRestoresTheTable(t *testing.T) {
	e, cfg := accountsEnv(t, "")
	original := e.DstDigest("accounts")
	requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{Environ: e.Environ}))
	applied := e.DstDigest("accounts")
	run := lastRun(t, e)

	p := undoPlan(t, cfg, run, planner.Options{ShowRows: 10})
	sp := p.Syncs[0]
	if !p.Applyable || !sp.Diffed || sp.Undo == nil || sp.Undo.Run != run || sp.Behavior != "undo" {
		t.Fatalf("undo plan: applyable=%v diffed=%v undo=%+v behavior=%s\n%s", p.Applyable, sp.Diffed, sp.Undo, sp.Behavior, synctest.FindingsText(sp))
	}
	if want := (planner.Counts{Insert: 3, Update: 4, Delete: 3}); sp.Counts != want {
		t.Errorf("undo counts %+v, want %+v", sp.Counts, want)
	}
	if len(sp.Findings) != 0 {
		t.Errorf("undo findings:\n%s", synctest.FindingsText(sp))
	}
	// The run's 10 rows, 7 of which (inserted or updated) the table holds.
	if sp.SourceRows != 10 || sp.DestinationRows != 7 {
		t.Errorf("undo read %d run rows and %d table rows", sp.SourceRows, sp.DestinationRows)
	}
	samples := fmt.Sprintf("%+v", *sp.Samples)
	for _, leak := range []string{"old secret", "new secret", "note 7", "note 8", "s7"} {
		if strings.Contains(samples, leak) {
			t.Errorf("the undo's samples show %q: %s", leak, samples)
		}
	}
	if !strings.Contains(samples, "Ed!") || !strings.Contains(samples, "(sensitive)") {
		t.Errorf("samples: %s", samples)
	}

	res := apply(t, cfg, p, executor.Options{Environ: e.Environ})
	requireApplied(t, res)
	if got := res.Syncs[0].Applied; got != (planner.Counts{Insert: 3, Update: 4, Delete: 3}) {
		t.Errorf("undo applied %+v", got)
	}
	if got := e.DstDigest("accounts"); got != original {
		t.Fatalf("after the undo the table is not as before the apply:\n%s", strings.Join(e.DstQuery(`SELECT x::text FROM accounts x ORDER BY 1`), "\n"))
	}
	undoRun := lastRun(t, e)
	if got := e.DstQuery(`SELECT undo_of || ' ' || inserted || ' ' || updated || ' ' || deleted FROM rowform.runs WHERE id = $1`, undoRun)[0]; got != fmt.Sprintf("%d 3 4 3", run) {
		t.Errorf("the undo's run: %s", got)
	}

	// The undo of the undo. The undo wrote every column of the rows it
	// inserted again, the unmapped one too; its undo shows that column no
	// more than the first undo did.
	p = undoPlan(t, cfg, undoRun, planner.Options{ShowRows: 10})
	if !p.Applyable || p.Syncs[0].Counts != (planner.Counts{Insert: 3, Update: 4, Delete: 3}) {
		t.Fatalf("undo of the undo: %+v\n%s", p.Syncs[0].Counts, synctest.FindingsText(p.Syncs[0]))
	}
	samples = fmt.Sprintf("%+v", *p.Syncs[0].Samples)
	for _, leak := range []string{"old secret", "new secret", "note 7", "note 8", "s7"} {
		if strings.Contains(samples, leak) {
			t.Errorf("the samples of the undo of the undo show %q: %s", leak, samples)
		}
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := e.DstDigest("accounts"); got != applied {
		t.Errorf("after the undo of the undo the table is not as the apply left it")
	}
	requireConverged(t, cfg)
}

// TestUndoEveryBehavior: for every behavior and key type, apply then undo
// gives back the table exactly, unmapped columns included.
func TestUndoEveryBehavior(t *testing.T) {
	for _, k := range synctest.KeyKinds {
		for _, b := range hclconfig.Behaviors {
			t.Run(k.Name+"/"+string(b), func(t *testing.T) {
				t.Parallel()
				e := synctest.New(t)
				e.Src(fmt.Sprintf(`CREATE TABLE items (%s, name text, price numeric)`, k.SrcCols))
				e.Dst(fmt.Sprintf(`CREATE TABLE items (%s, name text, price numeric(10,2), note text DEFAULT 'new', PRIMARY KEY (%s))`, k.DstCols, k.KeyCols))
				for i := 0; i < 60; i++ {
					if i < 40 {
						e.Src(fmt.Sprintf(`INSERT INTO items VALUES (%s, 'item %d', %d.5)`, k.Key(i), i%7, i))
					}
					if i >= 20 {
						name := fmt.Sprintf("'item %d'", i%7)
						if i%3 == 0 {
							name = "NULL"
						}
						e.Dst(fmt.Sprintf(`INSERT INTO items VALUES (%s, %s, %d.50, 'note %d')`, k.Key(i), name, i+i%2, i))
					}
				}
				cfg := e.Config(fmt.Sprintf(`
sync "items" {
  source      = source.postgres.src
  query       = "SELECT * FROM items"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = %q
  key         = %s
}`, b, k.KeyList))
				before := e.DstDigest("items")
				requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{}))
				if e.DstDigest("items") == before {
					t.Fatal("the apply changed nothing")
				}
				p := undoPlan(t, cfg, lastRun(t, e), planner.Options{})
				if !p.Applyable {
					t.Fatalf("undo plan:\n%s", synctest.FindingsText(p.Syncs[0]))
				}
				requireApplied(t, apply(t, cfg, p, executor.Options{}))
				if got := e.DstDigest("items"); got != before {
					t.Errorf("after the undo the table is not as before")
				}
			})
		}
	}
}

// TestUndoConflicts: rows changed since the run are conflicts: undo_conflict
// errors that block the undo, or, with on_reject = "skip", warnings whose
// rows the undo leaves as they are while it undoes every other row.
func TestUndoConflicts(t *testing.T) {
	e, cfg := accountsEnv(t, "")
	requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{}))
	run := lastRun(t, e)
	e.Dst(`UPDATE accounts SET name = 'Bob again' WHERE region = 'eu' AND id = 2`)            // updated by the run
	e.Dst(`DELETE FROM accounts WHERE region = 'eu' AND id = 10`)                             // inserted by the run
	e.Dst(`INSERT INTO accounts (region, id, name) VALUES ('eu', 7, 'back')`)                 // deleted by the run
	e.Dst(`UPDATE accounts SET note = 'touched', name = 'Cy' WHERE region = 'eu' AND id = 3`) // not what the run wrote: no conflict
	p := undoPlan(t, cfg, run, planner.Options{})
	sp := p.Syncs[0]
	if p.Applyable {
		t.Fatalf("an undo with conflicts is applyable:\n%s", synctest.FindingsText(sp))
	}
	var conflicts []string
	for _, f := range sp.Findings {
		if f.Code == planner.CodeUndoConflict {
			if f.Severity != planner.SeverityError {
				t.Errorf("undo_conflict is a %s", f.Severity)
			}
			conflicts = append(conflicts, fmt.Sprintf("%d %v", f.Rows, f.Examples))
		} else {
			t.Errorf("unexpected finding %s: %s", f.Code, f.Summary)
		}
	}
	if got := strings.Join(conflicts, ", "); got != `1 [region="eu" id=10], 1 [region="eu" id=2], 1 [region="eu" id=7]` {
		t.Errorf("conflicts: %s\n%s", got, synctest.FindingsText(sp))
	}
	if sp.Counts != (planner.Counts{Insert: 2, Update: 3, Delete: 2, Reject: 3}) {
		t.Errorf("counts %+v", sp.Counts)
	}
	if res := apply(t, cfg, p, executor.Options{}); !res.Failed() {
		t.Errorf("an undo plan with conflicts applied")
	}

	// With on_reject = "skip" the other rows are undone.
	e.WriteFile("main.hcl", strings.Replace(readFile(t, e.Dir+"/main.hcl"), `sensitive_columns = ["secret"]`, "sensitive_columns = [\"secret\"]\n  on_reject = \"skip\"", 1))
	cfg = loadConfig(t, e)
	p = undoPlan(t, cfg, run, planner.Options{})
	if !p.Applyable || p.Summary.Warnings != 3 {
		t.Fatalf("with skip:\n%s", synctest.FindingsText(p.Syncs[0]))
	}
	res := apply(t, cfg, p, executor.Options{})
	requireApplied(t, res)
	if r := res.Syncs[0]; r.Applied != (planner.Counts{Insert: 2, Update: 3, Delete: 2, Reject: 3}) || len(rejectedRows(t, r)) != 3 {
		t.Errorf("applied %+v, rejected %+v", r.Applied, rejectedRows(t, r))
	}
	got := e.DstQuery(`SELECT concat_ws(' ', region, id, name, balance, note) FROM accounts ORDER BY region, id`)
	want := []string{
		"eu 1 Ada 10.500 n1",
		"eu 2 Bob again 20.000 n2", // conflict: left as it is
		"eu 3 Cy 1.500 touched",    // undone: balance back, the note not the run's
		"eu 4 Di 0.000 n4",
		"eu 7 back default note", // conflict: left
		"us 1 Ed -1.000 n5",      // eu 11 and 12, inserted by the run, are gone
		"us 2",
		"us 8 note 8",
		"us 9 Nine 9.000",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("after the undo with skip:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// TestUndoIsStaleWhenRowsChange: an undo plan is applied exactly or
// refused as stale, like any plan.
func TestUndoIsStaleWhenRowsChange(t *testing.T) {
	e, cfg := accountsEnv(t, "")
	requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{}))
	run := lastRun(t, e)
	p := undoPlan(t, cfg, run, planner.Options{})
	e.Dst(`UPDATE accounts SET name = 'Bob again' WHERE region = 'eu' AND id = 2`)
	before := e.DstDigest("accounts")
	r := apply(t, cfg, p, executor.Options{}).Syncs[0]
	if r.Status != executor.StatusFailed || !strings.Contains(r.Err.Error(), "plan is stale") {
		t.Fatalf("the undo of changed rows applied: %s %v", r.Status, r.Err)
	}
	if e.DstDigest("accounts") != before {
		t.Error("a stale undo wrote")
	}
}

// TestUndoIncompleteNotes: the undo plan says what it cannot restore:
// triggers the run fired, cascades of its deletes into other tables.
func TestUndoIncompleteNotes(t *testing.T) {
	e := synctest.New(t)
	e.Src(`CREATE TABLE parents (id int, name text); INSERT INTO parents VALUES (1, 'a')`)
	e.Dst(`CREATE TABLE parents (id int PRIMARY KEY, name text); INSERT INTO parents VALUES (1, 'a'), (2, 'b')`)
	e.Dst(`CREATE TABLE children (id int PRIMARY KEY, parent_id int REFERENCES parents ON DELETE CASCADE); INSERT INTO children VALUES (10, 2)`)
	e.Dst(`CREATE TABLE audit (what text)`)
	e.Dst(`CREATE FUNCTION audit() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN INSERT INTO audit VALUES (TG_OP); RETURN NULL; END $$`)
	e.Dst(`CREATE TRIGGER audit AFTER DELETE ON parents FOR EACH ROW EXECUTE FUNCTION audit()`)
	cfg := e.Config(`
sync "parents" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM parents"
  destination = destination.postgres.dst
  table       = "parents"
  behavior    = "mirror"
  key         = "id"
}`)
	requireApplied(t, apply(t, cfg, plan(t, cfg), executor.Options{}))
	p := undoPlan(t, cfg, lastRun(t, e), planner.Options{})
	var notes []string
	for _, f := range p.Syncs[0].Findings {
		if f.Code == planner.CodeUndoIncomplete {
			notes = append(notes, f.Summary)
		}
	}
	if len(notes) != 2 || !strings.Contains(strings.Join(notes, "\n"), `the trigger "audit"`) || !strings.Contains(strings.Join(notes, "\n"), "cascaded into public.children") {
		t.Errorf("undo_incomplete notes:\n%s", synctest.FindingsText(p.Syncs[0]))
	}
	if !p.Applyable {
		t.Fatalf("the notes block the undo:\n%s", synctest.FindingsText(p.Syncs[0]))
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := e.DstQuery(`SELECT count(*)::text || ' ' || (SELECT count(*) FROM children) FROM parents`)[0]; got != "2 0" {
		t.Errorf("parents, children after the undo: %s", got)
	}
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// loadConfig loads the configuration in e.Dir.
func loadConfig(t *testing.T, e *synctest.Env) *hclconfig.Config {
	t.Helper()
	cfg, diags := hclconfig.Load(e.Dir, hclconfig.Inputs{Environ: e.Environ})
	if diags.HasErrors() {
		t.Fatalf("configuration does not load: %s", diags.Error())
	}
	return cfg
}

// TestUndoCSVTypesNotBuiltIn: the undo of a CSV source's apply into
// columns of types that are not built in (an enum, a domain, carried as
// text) gives back the table exactly, and the undo of the undo too.
func TestUndoCSVTypesNotBuiltIn(t *testing.T) {
	t.Parallel()
	// With the unmapped column, the DELETE records the deleted rows;
	// without it, the rows the diff read do.
	for _, mapped := range []bool{false, true} {
		t.Run(fmt.Sprintf("every column mapped=%v", mapped), func(t *testing.T) {
			e := synctest.New(t)
			e.Dst(`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`)
			e.Dst(`CREATE DOMAIN score AS int CHECK (VALUE >= 0)`)
			e.Dst(`CREATE TABLE people (id bigint PRIMARY KEY, feels mood, points score, bio bytea, doc json, extra text DEFAULT 'x')`)
			e.Dst(`INSERT INTO people VALUES (1, 'sad', 1, '\x00ff', '{"a":  1, "a": 2}', 'e1'), (2, 'ok', 2, NULL, '[ 1 ]', 'e2'), (3, NULL, NULL, '\x', 'null', NULL)`)
			if mapped {
				e.Dst(`ALTER TABLE people DROP COLUMN extra`)
			}
			e.WriteFile("people.csv", "id,feels,points,bio,doc\n1,happy,1,\\x00ff,\"{\"\"a\"\":  1, \"\"a\"\": 2}\"\n2,ok,5,,[ 1 ]\n4,sad,0,\\xdead,\"{ }\"\n")
			cfg := e.Config(`
	source "csv" "people" {
	  path = "people.csv"
	}

	sync "people" {
	  source      = source.csv.people
	  destination = destination.postgres.dst
	  table       = "people"
	  behavior    = "mirror"
	  key         = "id"
	}
	`)
			before := e.DstDigest("people")
			p := applyable(t, cfg)
			requirePlanned(t, p, planner.Counts{Insert: 1, Update: 2, Delete: 1})
			requireApplied(t, apply(t, cfg, p, executor.Options{}))
			after := e.DstDigest("people")
			up := undoPlan(t, cfg, lastRun(t, e), planner.Options{})
			if !up.Applyable || up.Syncs[0].Counts != (planner.Counts{Insert: 1, Update: 2, Delete: 1}) {
				t.Fatalf("undo plan %+v:\n%s", up.Syncs[0].Counts, synctest.FindingsText(up.Syncs[0]))
			}
			requireApplied(t, apply(t, cfg, up, executor.Options{}))
			if got := e.DstDigest("people"); got != before {
				t.Fatalf("after the undo:\n%s", strings.Join(e.DstQuery(`SELECT x::text FROM people x ORDER BY id`), "\n"))
			}
			up = undoPlan(t, cfg, lastRun(t, e), planner.Options{})
			requireApplied(t, apply(t, cfg, up, executor.Options{}))
			if got := e.DstDigest("people"); got != after {
				t.Errorf("after the undo of the undo:\n%s", strings.Join(e.DstQuery(`SELECT x::text FROM people x ORDER BY id`), "\n"))
			}

		})
	}
}

// TestUndoGuard: the sync's guard applies to its undo (but
// min_source_rows, which has no source to count there).
func TestUndoGuard(t *testing.T) {
	t.Parallel()
	e, cfg := accountsEnv(t, "")
	requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{}))
	run := lastRun(t, e)
	e.WriteFile("main.hcl", strings.Replace(readFile(t, e.Dir+"/main.hcl"), `sensitive_columns = ["secret"]`,
		"sensitive_columns = [\"secret\"]\n  guard {\n    max_deletes = 2\n    min_source_rows = 1000\n  }", 1))
	cfg = loadConfig(t, e)
	p := undoPlan(t, cfg, run, planner.Options{})
	var guards []string
	for _, f := range p.Syncs[0].Findings {
		guards = append(guards, string(f.Code)+": "+f.Summary)
	}
	if len(guards) != 1 || !strings.Contains(guards[0], "guard max_deletes exceeded: 3 rows would be deleted") {
		t.Errorf("findings of the guarded undo: %q", guards)
	}
	if res := apply(t, cfg, p, executor.Options{}); !res.Failed() {
		t.Error("a guarded undo applied")
	}
}

// TestUndoOfADamagedRecord: a run whose record in run_rows was changed by
// hand (a shortened or emptied row before, a shortened key, a changed
// column the run did not write, a kind rowform does not write, rows
// deleted) is not undone: the undo plan's error history_damaged says what is wrong, where
// the undo would otherwise write NULLs for the values the record lacks.
func TestUndoOfADamagedRecord(t *testing.T) {
	for _, c := range []struct {
		name, damage, want string
	}{
		{"a deleted row cut short", `UPDATE rowform.run_rows SET before = before[1:2] WHERE kind = '-'`, "a deleted row holds 2 values instead of 9"},
		{"an update's values before emptied", `UPDATE rowform.run_rows SET before = NULL WHERE kind = '~'`, "an updated row's values before holds NULL instead of 8"},
		{"a key cut short", `UPDATE rowform.run_rows SET key = key[1:1] WHERE kind = '+'`, "a row's key holds 1 value, the run's key has 2"},
		{"a column the run did not write", `UPDATE rowform.run_rows SET changed = '{40}' WHERE kind = '~'`, "an update of column 40, which the run did not write"},
		{"a kind of its own", `UPDATE rowform.run_rows SET kind = 'x' WHERE kind = '-'`, `a row of kind "x"`},
		// Rows deleted to make the history smaller: the undo restored the
		// rest of the run without a word.
		{"the deleted rows gone", `DELETE FROM rowform.run_rows WHERE kind = '-'`, "it holds 0 of the 3 rows the run deleted"},
		{"an inserted row gone", `DELETE FROM rowform.run_rows WHERE kind = '+' AND key = '{eu,10}'`, "it holds 2 of the 3 rows the run inserted"},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e, cfg := accountsEnv(t, "")
			requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{Environ: e.Environ}))
			applied := e.DstDigest("accounts")
			run := lastRun(t, e)
			e.Dst(c.damage)
			p := undoPlan(t, cfg, run, planner.Options{})
			sp := p.Syncs[0]
			if p.Applyable || len(sp.Findings) != 1 || sp.Findings[0].Code != planner.CodeHistoryDamaged || sp.Findings[0].Severity != planner.SeverityError ||
				!strings.Contains(sp.Findings[0].Summary, fmt.Sprintf("the history's record of run %d is not as rowform wrote it (%s", run, c.want)) {
				t.Fatalf("undo plan (applyable=%v):\n%s", p.Applyable, synctest.FindingsText(sp))
			}
			if got := e.DstDigest("accounts"); got != applied {
				t.Error("the table changed")
			}
		})
	}
}

// TestUndoIntoANarrowedColumn: a column narrowed since the run (varchar(10)
// to varchar(3)) refuses a value before that no longer fits: the undo plan
// rejects the row, where its explicit cast cut 'gone' to 'gon' and the
// apply restored it so.
func TestUndoIntoANarrowedColumn(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id int, v text); INSERT INTO items VALUES (1, 'a'), (2, 'b')`)
	e.Dst(`CREATE TABLE items (id int PRIMARY KEY, v varchar(10)); INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'gone')`)
	cfg := historyConfig(t, e, "", strings.Replace(itemsHistorySync, `key         = "id"`, `key         = "id"
  on_reject   = "skip"`, 1))
	requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{}))
	run := lastRun(t, e)
	e.Dst(`ALTER TABLE items ALTER COLUMN v TYPE varchar(3)`)
	p := undoPlan(t, cfg, run, planner.Options{})
	sp := p.Syncs[0]
	if sp.Counts.Reject != 1 || !strings.Contains(synctest.FindingsText(sp), `column "v": value too long for type character varying(3)`) {
		t.Fatalf("undo plan %+v:\n%s", sp.Counts, synctest.FindingsText(sp))
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT id || v FROM items ORDER BY id`), " "); got != "1a 2b" {
		t.Errorf("items holds %s", got)
	}
}

// TestUndoIntoANewNotNullColumn: a NOT NULL column without a default added
// since a run that deleted rows is not_null_unmapped in the undo plan,
// which was clean while its apply failed on the NULL.
func TestUndoIntoANewNotNullColumn(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id int, v text); INSERT INTO items VALUES (1, 'a')`)
	e.Dst(`CREATE TABLE items (id int PRIMARY KEY, v text); INSERT INTO items VALUES (1, 'a'), (2, 'b')`)
	cfg := historyConfig(t, e, "", itemsHistorySync)
	requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{}))
	run := lastRun(t, e)
	e.Dst(`ALTER TABLE items ADD COLUMN z int NOT NULL DEFAULT 0; ALTER TABLE items ALTER COLUMN z DROP DEFAULT`)
	p := undoPlan(t, cfg, run, planner.Options{})
	sp := p.Syncs[0]
	if p.Applyable || len(sp.Findings) != 1 || sp.Findings[0].Code != planner.CodeNotNullUnmapped || !strings.Contains(sp.Findings[0].Summary, `the column "z" of public.items is NOT NULL without a default`) {
		t.Fatalf("undo plan (applyable=%v):\n%s", p.Applyable, synctest.FindingsText(sp))
	}
	e.Dst(sp.Findings[0].Fix)
	requireApplied(t, apply(t, cfg, undoPlan(t, cfg, run, planner.Options{}), executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT id || v FROM items ORDER BY id`), " "); got != "1a 2b" {
		t.Errorf("items holds %s", got)
	}
}

// TestUndoOfInsertsWrittenSince: a row the run inserted that was written
// since in a column the run did not write (the sync does not map it) is a
// conflict, when undo can tell what the insert gave the column: NULL
// without a default, or a constant default. The undo deleted such rows,
// and the values written since with them, without a word. A column the
// table filled otherwise (now(), or any under a BEFORE INSERT trigger)
// undo cannot compare: its plan says that their values go with the rows.
func TestUndoOfInsertsWrittenSince(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id int, v text); INSERT INTO items VALUES (1, 'a'), (2, 'b'), (3, 'c'), (4, 'd')`)
	e.Dst(`CREATE TABLE items (id int PRIMARY KEY, v text, note text, tag text DEFAULT 't', n numeric(6,2) DEFAULT 0, made timestamptz DEFAULT now());
INSERT INTO items (id, v, note) VALUES (1, 'a', 'kept')`)
	cfg := historyConfig(t, e, "", strings.Replace(itemsUpsertSync, `key         = "id"`, `key         = "id"
  on_reject   = "skip"`, 1))
	requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{}))
	run := lastRun(t, e)
	e.Dst(`UPDATE items SET note = 'written since' WHERE id = 2; UPDATE items SET tag = 'u' WHERE id = 3; UPDATE items SET made = now() - interval '1 day' WHERE id = 4`)

	p := undoPlan(t, cfg, run, planner.Options{})
	sp := p.Syncs[0]
	var got []string
	for _, f := range sp.Findings {
		got = append(got, fmt.Sprintf("%s %s: %s %v", f.Severity, f.Code, f.Summary, f.Examples))
	}
	want := []string{
		fmt.Sprintf(`warning undo_incomplete: the rows run %d inserted are deleted with their values of "made", which the run did not write: undo cannot tell whether they were written since []`, run),
		fmt.Sprintf(`warning undo_conflict: 2 rows that run %d inserted were changed or deleted since: undoing them would overwrite that change [id=2 id=3]`, run),
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("undo plan findings:\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
	if sp.Counts != (planner.Counts{Delete: 1, Reject: 2}) {
		t.Errorf("undo counts %+v", sp.Counts)
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT concat_ws(' ', id, v, note, tag, n) FROM items ORDER BY id`), ", "); got != "1 a kept t 0.00, 2 b written since t 0.00, 3 c u 0.00" {
		t.Errorf("after the undo items holds %s", got)
	}

	// Under a BEFORE INSERT trigger, which may have set any column, no
	// column the run did not write is compared: each is named instead.
	e.Dst(`DELETE FROM items WHERE id > 1; CREATE FUNCTION keep() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RETURN NEW; END $$;
CREATE TRIGGER keep BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION keep()`)
	requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{}))
	run = lastRun(t, e)
	e.Dst(`UPDATE items SET note = 'written since' WHERE id = 2`)
	sp = undoPlan(t, cfg, run, planner.Options{}).Syncs[0]
	if text := synctest.FindingsText(sp); sp.Counts != (planner.Counts{Delete: 3}) || !strings.Contains(text, `deleted with their values of "note", "tag", "n", "made"`) {
		t.Errorf("undo plan under a BEFORE INSERT trigger %+v:\n%s", sp.Counts, text)
	}
}

// TestUndoIntoARetypedColumn: a value the run recorded that no longer
// converts to its column's type, changed since the run, is the undo plan's
// type_mismatch, which says so and quotes no value of a column the undo
// does not show (the sync did not map it), where the plan said
// connection_failed, "reading public.items failed", with the value.
func TestUndoIntoARetypedColumn(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id int, v text); INSERT INTO items VALUES (1, 'a')`)
	e.Dst(`CREATE TABLE items (id int PRIMARY KEY, v text, extra text); INSERT INTO items VALUES (1, 'a', 'x'), (2, 'b', 'unmapped value')`)
	cfg := historyConfig(t, e, "", itemsHistorySync)
	requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{}))
	run := lastRun(t, e)
	e.Dst(`ALTER TABLE items ALTER COLUMN extra TYPE int USING length(extra)`)
	p := undoPlan(t, cfg, run, planner.Options{})
	sp := p.Syncs[0]
	if p.Applyable || len(sp.Findings) != 1 || sp.Findings[0].Code != planner.CodeTypeMismatch ||
		!strings.Contains(sp.Findings[0].Summary, fmt.Sprintf("a value run %d recorded does not convert to the type its column of the table has now", run)) {
		t.Fatalf("undo plan (applyable=%v):\n%s", p.Applyable, synctest.FindingsText(sp))
	}
	if text := synctest.FindingsText(sp); strings.Contains(text, "unmapped value") {
		t.Errorf("the undo plan shows a value of the unmapped column:\n%s", text)
	}
}

// TestUndoOfInsertsWithoutSelect: a role that may not read a column the
// run did not write gets the undo plan's missing_privilege for it, and
// nothing else: undo compares that column (TestUndoOfInsertsWrittenSince)
// only when it may read it.
func TestUndoOfInsertsWithoutSelect(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id int, v text); INSERT INTO items VALUES (1, 'a'), (2, 'b')`)
	e.Dst(`CREATE TABLE items (id int PRIMARY KEY, v text, note text)`)
	role := e.WithDestinationRole()
	e.Dst(fmt.Sprintf(`GRANT USAGE ON SCHEMA public TO %[1]s; GRANT SELECT (id, v), INSERT (id, v), UPDATE (v), DELETE ON items TO %[1]s`, quoteIdent(role)))
	e.GrantHistory(role)
	cfg := historyConfig(t, e, "", itemsUpsertSync)
	requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{Environ: e.Environ}))
	sp := undoPlan(t, cfg, lastRun(t, e), planner.Options{}).Syncs[0]
	if len(sp.Findings) != 1 || sp.Findings[0].Code != planner.CodeMissingPrivilege || !strings.Contains(sp.Findings[0].Fix, `GRANT SELECT ("note")`) {
		t.Fatalf("undo plan of a role that may not read note:\n%s", synctest.FindingsText(sp))
	}
}

// TestUndoOfAnUndoneRun: the undo of a run undone already finds every row
// it changed a conflict, and says why: the run was undone, by which run
// (whose undo applies the run again), where it advised to undo "the
// later run" as if another writer had changed the rows. Once that undo
// is undone in turn, the run is undone again as any.
func TestUndoOfAnUndoneRun(t *testing.T) {
	t.Parallel()
	e, cfg := accountsEnv(t, "")
	requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{}))
	run := lastRun(t, e)
	requireApplied(t, apply(t, cfg, undoPlan(t, cfg, run, planner.Options{}), executor.Options{}))
	undoRun := lastRun(t, e)
	p := undoPlan(t, cfg, run, planner.Options{})
	want := fmt.Sprintf("Run %d was undone already, by run %d, which put these rows back as they were before it (unless a writer changed them after): nothing of run %d is left to undo in them. Undoing run %d applies run %d's changes again.", run, undoRun, run, undoRun, run)
	var conflicts int
	for _, f := range p.Syncs[0].Findings {
		if f.Code == planner.CodeUndoConflict {
			conflicts++
			if f.Detail != want {
				t.Errorf("undo_conflict %q: detail %q", f.Summary, f.Detail)
			}
		}
	}
	if p.Applyable || conflicts != 3 {
		t.Fatalf("the undo of an undone run (applyable=%v):\n%s", p.Applyable, synctest.FindingsText(p.Syncs[0]))
	}
	requireApplied(t, apply(t, cfg, undoPlan(t, cfg, undoRun, planner.Options{}), executor.Options{}))
	if p := undoPlan(t, cfg, run, planner.Options{}); !p.Applyable {
		t.Errorf("the undo of a run redone:\n%s", synctest.FindingsText(p.Syncs[0]))
	}
}

// TestUndoReadsOnlyTheRunsRows: an undo reads the rows its run changed,
// not the table. It counted every row of the table (count(*)) for each
// plan and apply, minutes on a large table, though only a
// max_delete_percent guard, a share of the table's rows, needs the count;
// destination_rows now counts the run's rows the table holds, and the
// table's rows only under that guard, whose finding names them.
func TestUndoReadsOnlyTheRunsRows(t *testing.T) {
	t.Parallel()
	e, cfg := accountsEnv(t, "")
	requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{}))
	run := lastRun(t, e)
	e.Dst(`INSERT INTO accounts (region, id, name) SELECT 'xx', g, 'other' FROM generate_series(1, 50) g`)
	var total int64
	if _, err := fmt.Sscan(e.DstQuery(`SELECT count(*) FROM accounts`)[0], &total); err != nil {
		t.Fatal(err)
	}
	p := undoPlan(t, cfg, run, planner.Options{})
	c := accountsCounts
	if got, want := p.Syncs[0].DestinationRows, c.Insert+c.Update; got != want {
		t.Errorf("destination_rows of the undo %d, want %d (the run's rows the table holds, of %d)", got, want, total)
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))

	requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{}))
	run = lastRun(t, e)
	e.WriteFile("main.hcl", strings.Replace(readFile(t, e.Dir+"/main.hcl"), `sensitive_columns = ["secret"]`,
		"sensitive_columns = [\"secret\"]\n  guard {\n    max_delete_percent = 1\n  }", 1))
	cfg = loadConfig(t, e)
	p = undoPlan(t, cfg, run, planner.Options{})
	if _, err := fmt.Sscan(e.DstQuery(`SELECT count(*) FROM accounts`)[0], &total); err != nil {
		t.Fatal(err)
	}
	if got := p.Syncs[0].DestinationRows; got != total {
		t.Errorf("destination_rows of the undo under max_delete_percent %d, want the table's %d", got, total)
	}
	if text := synctest.FindingsText(p.Syncs[0]); !strings.Contains(text, fmt.Sprintf("of the table's %d rows would be deleted", total)) {
		t.Errorf("the guard's finding does not name the table's rows:\n%s", text)
	}
}
