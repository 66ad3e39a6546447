package cli

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rowform/rowform/internal/synctest"
)

// TestHistoryCommand: rowform history lists the recorded runs newest
// first, as text and JSON, limited by -sync and -limit; a failed apply is
// listed with its error; no value of a row is ever shown.
func TestHistoryCommand(t *testing.T) {
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id bigint, name text, email text)`)
	e.Src(`INSERT INTO items SELECT g, 'n' || g, 'canary-' || g || '@example.com' FROM generate_series(1, 20) g`)
	e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name text, email text)`)
	e.Dst(`INSERT INTO items SELECT g, 'stale', 'old-canary-' || g FROM generate_series(11, 25) g`)
	e.Src(`CREATE TABLE other (id bigint)`)
	e.Src(`INSERT INTO other VALUES (1)`)
	e.Dst(`CREATE TABLE other (id bigint PRIMARY KEY)`)
	e.WriteFile("main.hcl", e.Servers()+`
sync "items" {
  source            = source.postgres.src
  query             = "SELECT id, name, email FROM items"
  destination       = destination.postgres.dst
  table             = "items"
  behavior          = "mirror"
  key               = "id"
  sensitive_columns = ["email"]
}
sync "other" {
  source      = source.postgres.src
  query       = "SELECT id FROM other"
  destination = destination.postgres.dst
  table       = "other"
  behavior    = "mirror"
  key         = "id"
}
`)
	env := append(e.Environ, "ROWFORM_ACTOR=ada")
	run := func(args ...string) result {
		return runCLIWith(t, env, "", append([]string{"-chdir=" + e.Dir}, args...)...)
	}
	// Nothing recorded yet.
	r := run("history")
	r.expect(t, exitOK)
	if strings.TrimSpace(r.stdout) != "No runs recorded." {
		t.Errorf("history before any apply:\n%s", r.stdout)
	}
	run("apply", "-auto-approve", "-sync=items").expect(t, exitOK)
	run("apply", "-auto-approve", "-sync=other").expect(t, exitOK)
	e.Src(`UPDATE items SET name = 'renamed' WHERE id <= 3`)
	e.Dst(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'refused by a trigger'; END $$`)
	e.Dst(`CREATE TRIGGER refuse BEFORE UPDATE ON items FOR EACH ROW EXECUTE FUNCTION refuse()`)
	run("apply", "-auto-approve", "-sync=items").expect(t, exitError)
	e.Dst(`DROP TRIGGER refuse ON items`)
	run("apply", "-auto-approve", "-sync=items").expect(t, exitOK)

	r = run("history", "-no-color")
	r.expect(t, exitOK)
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if len(lines) < 6 || !strings.HasPrefix(lines[0], "RUN") {
		t.Fatalf("history:\n%s", r.stdout)
	}
	for i, want := range []string{"ada  items  +0 ~3 -0", "ada  items  +0 ~0 -0", "ada  other  +1 ~0 -0", "ada  items  +10 ~10 -5"} {
		if !strings.Contains(lines[i+1], want) {
			t.Errorf("line %d of history is %q, want it to contain %q\n%s", i+1, lines[i+1], want, r.stdout)
		}
	}
	if !strings.HasSuffix(lines[1], "applied") || !strings.HasSuffix(lines[2], "failed") {
		t.Errorf("statuses:\n%s", r.stdout)
	}
	// items has sensitive columns: the trigger's message, which could
	// quote their values, is replaced, its SQLSTATE kept.
	if !strings.Contains(r.stdout, "message is not shown") || strings.Contains(r.stdout, "refused by a trigger") {
		t.Errorf("the failed run's error is not the hidden message:\n%s", r.stdout)
	}
	for _, out := range []string{r.stdout, run("history", "-json").stdout} {
		if strings.Contains(out, "canary") || strings.Contains(out, "stale") || strings.Contains(out, "renamed") {
			t.Errorf("history shows values of rows:\n%s", out)
		}
	}

	r = run("history", "-json", "-sync=items", "-limit=2")
	r.expect(t, exitOK)
	var doc struct {
		Runs []struct {
			ID         int64     `json:"id"`
			Sync       string    `json:"sync"`
			Table      string    `json:"table"`
			StartedAt  time.Time `json:"started_at"`
			FinishedAt time.Time `json:"finished_at"`
			Actor      string    `json:"actor"`
			Status     string    `json:"status"`
			Counts     struct {
				Insert, Update, Delete, Reject int64
			} `json:"counts"`
			Error string `json:"error"`
		} `json:"runs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("history -json: %v\n%s", err, r.stdout)
	}
	if len(doc.Runs) != 2 {
		t.Fatalf("history -json -limit=2 lists %d runs:\n%s", len(doc.Runs), r.stdout)
	}
	first, second := doc.Runs[0], doc.Runs[1]
	if first.Sync != "items" || first.Table != "public.items" || first.Actor != "ada" || first.Status != "applied" ||
		first.Counts.Update != 3 || first.FinishedAt.Before(first.StartedAt) || first.ID <= second.ID {
		t.Errorf("newest run: %+v", first)
	}
	if second.Status != "failed" || !strings.Contains(second.Error, "P0001") || second.Counts.Update != 0 {
		t.Errorf("the failed run: %+v", second)
	}
	if !strings.Contains(r.stdout, `"counts": {`) || !strings.Contains(r.stdout, `"id": `) {
		t.Errorf("history -json:\n%s", r.stdout)
	}

	run("history", "-sync=nope").expect(t, exitError)
	run("history", "-limit=-1").expect(t, exitError)
	// With history off on the destination, history says so rather than
	// that nothing was applied.
	main := readFile(t, filepath.Join(e.Dir, "main.hcl"))
	e.WriteFile("main.hcl", strings.Replace(main, "max_connections = 2\n", "max_connections = 2\n  history = false\n", 1))
	if r := run("history"); r.code != exitOK || !strings.Contains(r.stdout, "no destination of these syncs keeps a history (history = false)") {
		t.Errorf("history with history = false: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	e.WriteFile("main.hcl", main)
	// An unreachable destination fails the command.
	bad := runCLIWith(t, []string{"SRC_PASSWORD=x", "DST_PASSWORD=wrong"}, "", "-chdir="+e.Dir, "history")
	bad.expect(t, exitError)
}

// TestUndoCommands: plan -undo=RUN shows the undo as a plan; plan -undo
// -out=FILE then apply FILE applies it exactly; apply -undo=RUN
// -auto-approve plans and applies it; the undo is itself a run, which can
// be undone; a run that is not there, or an undo with conflicts, fails.
func TestUndoCommands(t *testing.T) {
	e := applyEnv(t)
	run := func(args ...string) result {
		return runCLIWith(t, e.Environ, "", append([]string{"-chdir=" + e.Dir}, args...)...)
	}
	original := e.DstDigest("items")
	run("apply", "-auto-approve").expect(t, exitOK)
	applied := e.DstDigest("items")

	r := run("plan", "-undo=1", "-no-color", "-show-rows=1", "-detailed-exitcode")
	r.expect(t, exitChanges)
	for _, want := range []string{`sync "items"  undo  run 1 -> postgres.dst public.items`, "Plan: 5 to insert, 5 to update, 10 to delete in 1 sync."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan -undo=1 does not show %q:\n%s", want, r.stdout)
		}
	}
	r = run("plan", "-undo=1", "-json")
	r.expect(t, exitOK)
	if !strings.Contains(r.stdout, `"undo": {`) || !strings.Contains(r.stdout, `"run": 1`) {
		t.Errorf("plan -undo=1 -json:\n%s", r.stdout)
	}
	run("plan", "-undo=1", "-out=undo.plan", "-no-color").expect(t, exitOK)
	run("apply", "-undo=1", "undo.plan").expect(t, exitError)
	r = run("apply", "-no-color", "undo.plan")
	r.expect(t, exitOK)
	if !strings.Contains(r.stdout, "Apply complete: 5 inserted, 5 updated, 10 deleted in 1 sync.") {
		t.Errorf("apply of the undo plan:\n%s", r.stdout)
	}
	if got := e.DstDigest("items"); got != original {
		t.Errorf("after the undo the table is not as before the apply")
	}
	// Applied once, the plan is stale.
	run("apply", "undo.plan").expect(t, exitError)
	r = run("history", "-no-color")
	r.expect(t, exitOK)
	if !strings.Contains(r.stdout, "applied (undo of run 1)") {
		t.Errorf("history does not show the undo:\n%s", r.stdout)
	}
	var undoRun string
	for _, l := range strings.Split(r.stdout, "\n") {
		if strings.Contains(l, "(undo of run 1)") {
			undoRun = strings.Fields(l)[0]
		}
	}
	r = run("apply", "-undo="+undoRun, "-auto-approve", "-no-color")
	r.expect(t, exitOK)
	if got := e.DstDigest("items"); got != applied {
		t.Errorf("after the undo of the undo the table is not as the apply left it")
	}
	applyRequireNoChanges(t, e)

	r = run("plan", "-undo=99")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "no run 99") {
		t.Errorf("plan -undo=99:\n%s", r.stderr)
	}
	// A row changed since the undo of the undo inserted it again: its undo
	// conflicts. (The stale apply above was recorded as a failed run.)
	var redo string
	for _, l := range strings.Split(run("history").stdout, "\n") {
		if strings.Contains(l, "(undo of run "+undoRun+")") {
			redo = strings.Fields(l)[0]
		}
	}
	e.Dst(`UPDATE items SET name = 'changed' WHERE id = 3`)
	r = run("plan", "-undo="+redo, "-no-color")
	r.expect(t, exitError)
	if !strings.Contains(r.stdout, "undo_conflict  1 row that run "+redo+" inserted was changed or deleted since") || !strings.Contains(r.stdout, "rows: 1 (id=3)") {
		t.Errorf("plan of an undo with a conflict:\n%s%s", r.stdout, r.stderr)
	}
}

// TestUndoUnknownSync: plan -undo with a -sync that names no sync says so,
// with the syncs and a "did you mean", as plan -sync does; it said that no
// destination of "these syncs" keeps a history, which sent the user to
// look at history = false.
func TestUndoUnknownSync(t *testing.T) {
	t.Parallel()
	e := applyEnv(t)
	runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-auto-approve").expect(t, exitOK)
	for _, args := range [][]string{{"plan", "-undo=1", "-sync=itms"}, {"apply", "-undo=1", "-sync=itms", "-auto-approve"}} {
		r := runCLIWith(t, e.Environ, "", append([]string{"-chdir=" + e.Dir}, args...)...)
		r.expect(t, exitError)
		if want := `there is no sync named "itms"; the syncs are: items. Did you mean "items"?`; !strings.Contains(r.stderr, want) || strings.Contains(r.stderr, "history = false") {
			t.Errorf("%v: stderr %q, want %q", args, r.stderr, want)
		}
	}
}
