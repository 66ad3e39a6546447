package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// The unattended apply: `apply -auto-approve` without a plan file plans each
// sync inside its transaction, once (unattended.go).

// countDiffs runs f and returns how many row diffs it started.
func countDiffs(f func()) int64 {
	before := planner.DiffsStarted()
	f()
	return planner.DiffsStarted() - before
}

// TestApplyAutoApproveDiffsOnce: `apply -auto-approve` diffs once and prints
// exactly what `plan` prints (samples included) before its result, and
// writes exactly that plan; with nothing left, it says so, diffing once.
// -json diffs once too. The attended apply on a terminal still diffs twice
// (the plan shown, then the stale check in the transaction), and `apply
// FILE` once (its stale check).
//
// Not parallel: it counts the diffs of the process.
func TestApplyAutoApproveDiffsOnce(t *testing.T) {
	e := applyEnv(t)
	planned := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-no-color", "-show-rows=3")
	planned.expect(t, exitOK)
	var r result
	if n := countDiffs(func() {
		r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-auto-approve", "-no-color", "-show-rows=3")
	}); n != 1 {
		t.Errorf("apply -auto-approve started %d diffs, want 1", n)
	}
	r.expect(t, exitOK)
	if !strings.HasPrefix(r.stdout, planned.stdout) {
		t.Errorf("apply -auto-approve does not print the plan as plan does:\n%s\nplan printed:\n%s", r.stdout, planned.stdout)
	}
	for _, want := range []string{"Plan: 10 to insert, 5 to update, 5 to delete in 1 sync.", `✓ sync "items": 10 inserted, 5 updated, 5 deleted`,
		"Apply complete: 10 inserted, 5 updated, 5 deleted in 1 sync."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("the output lacks %q:\n%s", want, r.stdout)
		}
	}
	applyRequireSynced(t, e)
	if n := countDiffs(func() { r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-auto-approve", "-no-color") }); n != 1 {
		t.Errorf("apply -auto-approve with nothing to do started %d diffs, want 1", n)
	}
	r.expect(t, exitOK)
	if !strings.Contains(r.stdout, "No changes. The destination tables match the sources.") || !strings.HasSuffix(r.stdout, "\nNothing to apply.\n") {
		t.Errorf("apply with nothing to do:\n%s", r.stdout)
	}
	applyRequireNoChanges(t, e)

	t.Run("json", func(t *testing.T) {
		e := applyEnv(t)
		var r result
		if n := countDiffs(func() { r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-json", "-auto-approve") }); n != 1 {
			t.Errorf("apply -json -auto-approve started %d diffs, want 1", n)
		}
		r.expect(t, exitOK)
		doc := decodeApplyJSON(t, r.stdout)
		if doc.Applied == nil || !*doc.Applied || len(doc.Syncs) != 1 || doc.Syncs[0].Status != "applied" ||
			doc.Summary["insert"] != 10 || doc.Summary["update"] != 5 || doc.Summary["delete"] != 5 || doc.Summary["failed"] != 0 {
			t.Errorf("apply -json:\n%s", r.stdout)
		}
		if strings.Contains(r.stdout, `"plan"`) {
			t.Errorf("apply -json of a plan without errors embeds the plan:\n%s", r.stdout)
		}
		applyRequireSynced(t, e)
	})
	t.Run("terminal", func(t *testing.T) {
		e := applyEnv(t)
		var r result
		if n := countDiffs(func() { r = runApplyOnTerminal(t, e, "yes", "-chdir="+e.Dir, "apply", "-no-color") }); n != 2 {
			t.Errorf("the attended apply started %d diffs, want 2 (the plan shown, then its stale check)", n)
		}
		r.expect(t, exitOK)
		applyRequireSynced(t, e)
	})
	t.Run("plan_file", func(t *testing.T) {
		e := applyEnv(t)
		runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-out=saved.plan").expect(t, exitOK)
		var r result
		if n := countDiffs(func() { r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "saved.plan") }); n != 1 {
			t.Errorf("apply FILE started %d diffs, want 1 (its stale check)", n)
		}
		r.expect(t, exitOK)
		applyRequireSynced(t, e)
	})
}

// guardedItemsSync is applyItemsSync with a guard its plan crosses (it
// deletes 5 rows).
var guardedItemsSync = strings.Replace(applyItemsSync, `key         = ["id"]`, "key         = [\"id\"]\n  guard {\n    max_deletes = 2\n  }", 1)

// TestApplyAutoApproveRefusesPlanErrors: when the plan made inside the
// transaction has an error finding (a crossed guard, rows the destination
// would refuse), apply -auto-approve prints that plan exactly as plan does,
// writes nothing, says the plan has errors and exits 1; with -json the
// refusal document embeds the plan, as it always did.
func TestApplyAutoApproveRefusesPlanErrors(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, sync, code string }{
		{"guard", guardedItemsSync, "guard_exceeded"},
		{"rejected_rows", strings.Replace(applyItemsSync, `"SELECT id, name FROM items"`,
			`"SELECT id, CASE WHEN id = 3 THEN NULL ELSE name END AS name FROM items"`, 1), "rejected_rows"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			e := applyEnv(t)
			if tc.code == "rejected_rows" {
				e.Dst(`ALTER TABLE items ALTER COLUMN name SET NOT NULL`)
			}
			e.WriteFile("main.hcl", e.Servers()+tc.sync)
			before := e.DstDigest("items")
			planned := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-no-color")
			planned.expect(t, exitError)
			r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-auto-approve", "-no-color")
			r.expect(t, exitError)
			if r.stdout != planned.stdout {
				t.Errorf("the refused apply printed:\n%s\nplan printed:\n%s", r.stdout, planned.stdout)
			}
			if !strings.Contains(r.stdout, tc.code) || !strings.Contains(r.stderr, "the plan has errors") || !strings.Contains(r.stderr, "nothing was applied") {
				t.Errorf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
			}
			if got := e.DstDigest("items"); got != before {
				t.Errorf("a refused plan wrote to the table")
			}

			r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-json", "-auto-approve")
			r.expect(t, exitError)
			var doc struct {
				Applied *bool             `json:"applied"`
				Error   string            `json:"error"`
				Syncs   []json.RawMessage `json:"syncs"`
				Plan    *planner.Plan     `json:"plan"`
			}
			if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
				t.Fatalf("apply -json: %v\n%s", err, r.stdout)
			}
			if doc.Applied == nil || *doc.Applied || !strings.Contains(doc.Error, "the plan has errors") || doc.Syncs == nil || len(doc.Syncs) != 0 ||
				doc.Plan == nil || doc.Plan.Applyable || len(doc.Plan.Syncs) != 1 || !strings.Contains(r.stdout, `"code": "`+tc.code+`"`) {
				t.Errorf("apply -json refusal:\n%s", r.stdout)
			}
			if got := e.DstDigest("items"); got != before {
				t.Errorf("a refused plan wrote to the table")
			}
		})
	}
}

// TestApplyAutoApproveRefusedSyncOthersApply: of two independent syncs,
// the one whose plan crosses its guard writes nothing and fails, saying
// why; the other is applied. The output has both plans, the summary line
// with the error, and the result of each; -json gives the result and
// embeds the plan.
func TestApplyAutoApproveRefusedSyncOthersApply(t *testing.T) {
	t.Parallel()
	other := strings.NewReplacer(`sync "items"`, `sync "other"`, `table       = "items"`, `table       = "other"`).Replace(guardedItemsSync)
	for _, jsonOut := range []bool{false, true} {
		e := applyEnv(t)
		e.Dst(`CREATE TABLE other (LIKE items INCLUDING ALL)`)
		e.Dst(`INSERT INTO other SELECT * FROM items`)
		before := e.DstDigest("other")
		e.WriteFile("main.hcl", e.Servers()+applyItemsSync+other)
		args := []string{"-chdir=" + e.Dir, "apply", "-auto-approve", "-no-color"}
		if jsonOut {
			args = append(args, "-json")
		}
		r := runCLIWith(t, e.Environ, "", args...)
		r.expect(t, exitError)
		if jsonOut {
			doc := decodeApplyJSON(t, r.stdout)
			status := map[string]string{}
			for _, s := range doc.Syncs {
				status[s.Name] = s.Status
				if s.Name == "other" && !strings.Contains(s.Error, "guard_exceeded") {
					t.Errorf("other's error: %q", s.Error)
				}
			}
			if status["items"] != "applied" || status["other"] != "failed" || !strings.Contains(r.stdout, `"plan": {`) {
				t.Errorf("apply -json:\n%s", r.stdout)
			}
		} else {
			for _, want := range []string{`~ sync "items"`, `! sync "other"`, "guard_exceeded", "Plan: 20 to insert, 10 to update, 10 to delete in 2 syncs; 1 error.",
				`✓ sync "items": 10 inserted, 5 updated, 5 deleted`, `✗ sync "other" failed: the plan of this sync has errors (guard_exceeded`,
				"Apply failed: 1 sync did not apply; 1 sync applied"} {
				if !strings.Contains(r.stdout, want) {
					t.Errorf("the output lacks %q:\n%s", want, r.stdout)
				}
			}
		}
		applyRequireSynced(t, e)
		if got := e.DstDigest("other"); got != before {
			t.Errorf("the refused sync wrote to its table")
		}
	}
}

// lockedBuffer is a bytes.Buffer safe for concurrent use.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// TestApplyAutoApproveLocksBeforeReading: while another apply holds the
// table's lock (and has changed rows it has not committed), apply
// -auto-approve -lock-timeout waits without reading: no diff starts and no
// plan is printed. Once the other commits, the plan printed and applied is
// of the rows as it left them.
//
// Not parallel: it counts the diffs of the process, and (as
// TestApplyLockedTable) waits for a session by application name.
func TestApplyAutoApproveLocksBeforeReading(t *testing.T) {
	e := applyEnv(t)
	cfg, err := pgx.ParseConfig(synctest.Destination.ConnString(e.DstDB))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "rowform/holder"
	ctx := context.Background()
	holder, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(ctx)
	for _, sql := range []string{`BEGIN`, `SELECT pg_advisory_xact_lock(hashtext('rowform'), hashtext('public.items'))`,
		`UPDATE items SET name = 'n' || id WHERE id <= 15`, `DELETE FROM items WHERE id > 20`} {
		if _, err := holder.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}

	diffs := planner.DiffsStarted()
	var stdout, stderr lockedBuffer
	done := make(chan int, 1)
	go func() {
		inv := &invocation{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, environ: e.Environ}
		done <- inv.run(ctx, []string{"-chdir=" + e.Dir, "apply", "-auto-approve", "-no-color", "-lock-timeout=1m"})
	}()
	deadline := time.Now().Add(time.Minute)
	var firstSeen time.Time
	for firstSeen.IsZero() || time.Since(firstSeen) < 300*time.Millisecond {
		var n int
		if err := e.DstConn().QueryRow(ctx, `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'rowform/items'
  AND (query LIKE '%pg_try_advisory_xact_lock%' OR query = 'ROLLBACK')`, e.DstDB).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 && firstSeen.IsZero() {
			firstSeen = time.Now()
		}
		select {
		case code := <-done:
			t.Fatalf("the apply ended (%d) while the lock was held:\n%s\n%s", code, stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the waiting apply never showed up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if n := planner.DiffsStarted() - diffs; n != 0 {
		t.Errorf("%d diffs started while another apply held the lock", n)
	}
	if out := stdout.String(); out != "" {
		t.Errorf("apply printed before it had the lock:\n%s", out)
	}
	if _, err := holder.Exec(ctx, `COMMIT`); err != nil {
		t.Fatal(err)
	}
	select {
	case code := <-done:
		if code != exitOK {
			t.Fatalf("exit code %d\n%s\n%s", code, stdout.String(), stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("the waiting apply did not finish")
	}
	if n := planner.DiffsStarted() - diffs; n != 1 {
		t.Errorf("the apply started %d diffs, want 1", n)
	}
	out := stdout.String()
	for _, want := range []string{"+ 10 to insert", "Plan: 10 to insert, 0 to update, 0 to delete in 1 sync.", "Apply complete: 10 inserted, 0 updated, 0 deleted in 1 sync."} {
		if !strings.Contains(out, want) {
			t.Errorf("the output lacks %q:\n%s", want, out)
		}
	}
	applyRequireSynced(t, e)
}

// TestApplyAutoApproveNamesSkippedDependents: apply -auto-approve
// -sync=other, where other depends on a sync whose plan crosses its guard,
// writes nothing and says that other was skipped and why, in the text and
// in the JSON refusal (status "skipped"), instead of leaving it out.
func TestApplyAutoApproveNamesSkippedDependents(t *testing.T) {
	t.Parallel()
	other := strings.NewReplacer(`sync "items"`, `sync "other"`, `table       = "items"`, `table       = "other"`,
		`key         = ["id"]`, "key         = [\"id\"]\n  depends_on  = [sync.items]").Replace(applyItemsSync)
	e := applyEnv(t)
	e.Dst(`CREATE TABLE other (LIKE items INCLUDING ALL)`)
	e.WriteFile("main.hcl", e.Servers()+guardedItemsSync+other)
	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-auto-approve", "-no-color", "-sync=other")
	r.expect(t, exitError)
	if !strings.Contains(r.stdout, `- sync "other": skipped: not applied because sync "items", which it depends on, did not apply`) ||
		!strings.Contains(r.stderr, "nothing was applied") {
		t.Errorf("apply -sync=other:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-auto-approve", "-json", "-sync=other")
	r.expect(t, exitError)
	doc := decodeApplyJSON(t, r.stdout)
	if len(doc.Syncs) != 1 || doc.Syncs[0].Name != "other" || doc.Syncs[0].Status != "skipped" || !strings.Contains(doc.Syncs[0].Error, `sync "items"`) {
		t.Errorf("apply -json -sync=other:\n%s", r.stdout)
	}
	if n := e.DstQuery(`SELECT count(*)::text FROM other`)[0]; n != "0" {
		t.Errorf("other has %s rows, want 0: the skipped sync wrote", n)
	}
}
