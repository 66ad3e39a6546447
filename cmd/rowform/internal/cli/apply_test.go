package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/internal/synctest"
	"golang.org/x/sys/unix"
)

// The tests of `rowform apply` run the command line in-process (the
// pseudo-terminal cases give it the slave side of a pty as standard input),
// and the binary for SIGINT. The package's TestMain (plan_test.go) starts the
// shared clusters.

// applyEnv makes a test environment with one mirror sync "items": source
// ids 1..20; destination ids 11..25, where 11..15 differ. Applying it
// inserts 10 rows, updates 5 and deletes 5. The configuration is in e.Dir.
func applyEnv(t *testing.T) *synctest.Env {
	t.Helper()
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id bigint, name text)`)
	e.Src(`INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 20) g`)
	e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name text, note text DEFAULT 'new')`)
	e.Dst(`INSERT INTO items SELECT g, CASE WHEN g <= 15 THEN 'stale' ELSE 'n' || g END, 'kept' FROM generate_series(11, 25) g`)
	e.WriteFile("main.hcl", e.Servers()+applyItemsSync)
	return e
}

const applyItemsSync = `
sync "items" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM items"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "mirror"
  key         = ["id"]
}
`

// applyRequireSynced checks that items holds exactly the source's rows,
// the updated rows kept their note and the inserted rows got the default.
func applyRequireSynced(t *testing.T, e *synctest.Env) {
	t.Helper()
	got := e.DstQuery(`SELECT string_agg(format('%s=%s/%s', id, name, note), ' ' ORDER BY id) FROM items`)[0]
	var want []string
	for i := 1; i <= 20; i++ {
		note := "kept"
		if i <= 10 {
			note = "new"
		}
		want = append(want, fmt.Sprintf("%d=n%d/%s", i, i, note))
	}
	if got != strings.Join(want, " ") {
		t.Errorf("items after apply:\n  %s\nwant\n  %s", got, strings.Join(want, " "))
	}
}

// applyRequireNoChanges runs plan -detailed-exitcode and expects no
// changes.
func applyRequireNoChanges(t *testing.T, e *synctest.Env) {
	t.Helper()
	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-detailed-exitcode", "-no-color")
	r.expect(t, exitOK)
}

// applyPTY opens a pseudo-terminal and returns its master and slave ends,
// with the master drained in the background (the slave's output and echo
// are discarded, so a writer never blocks). Whatever is written to the
// master is read, line by line, from the slave.
func applyPTY(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, s := applyPTYRaw(t)
	go func() { _, _ = io.Copy(io.Discard, m) }()
	return m, s
}

// runApplyOnTerminal runs rowform in-process with a pseudo-terminal as
// standard input, typing answer (and Enter) into it.
func runApplyOnTerminal(t *testing.T, e *synctest.Env, answer string, args ...string) result {
	t.Helper()
	master, slave := applyPTY(t)
	if _, err := master.Write([]byte(answer + "\n")); err != nil {
		t.Fatalf("typing into the pty: %v", err)
	}
	var stdout, stderr bytes.Buffer
	inv := &invocation{stdin: slave, stdout: &stdout, stderr: &stderr, environ: e.Environ}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	code := inv.run(ctx, args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

// TestApplyWithoutTerminalNeedsAutoApprove: without a terminal and without
// -auto-approve, apply writes nothing and says how to proceed, even when
// standard input says "yes".
func TestApplyWithoutTerminalNeedsAutoApprove(t *testing.T) {
	t.Parallel()
	e := applyEnv(t)
	before := e.DstDigest("items")
	devNull, err := os.Open(os.DevNull)
	if err != nil {
		t.Fatal(err)
	}
	defer devNull.Close()
	for name, stdin := range map[string]io.Reader{"pipe saying yes": strings.NewReader("yes\n"), "/dev/null": devNull} {
		var stdout, stderr bytes.Buffer
		inv := &invocation{stdin: stdin, stdout: &stdout, stderr: &stderr, environ: e.Environ}
		code := inv.run(context.Background(), []string{"-chdir=" + e.Dir, "apply", "-no-color"})
		if code != exitError {
			t.Errorf("%s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", name, code, exitError, stdout.String(), stderr.String())
		}
		for _, want := range []string{"-auto-approve", "terminal"} {
			if !strings.Contains(stderr.String(), want) {
				t.Errorf("%s: stderr does not mention %q:\n%s", name, want, stderr.String())
			}
		}
		if strings.Contains(stdout.String(), "Do you want to apply") {
			t.Errorf("%s: asked for confirmation without a terminal:\n%s", name, stdout.String())
		}
		if got := e.DstDigest("items"); got != before {
			t.Fatalf("%s: apply without approval wrote to the table", name)
		}
	}
}

// TestApplyTerminalApproval: on a terminal, apply shows the plan and asks;
// only "yes" applies, anything else cancels with exit 1 and writes nothing.
func TestApplyTerminalApproval(t *testing.T) {
	t.Parallel()
	e := applyEnv(t)
	before := e.DstDigest("items")
	for _, answer := range []string{"no", "", "y", "YES", "yes please", " no yes"} {
		r := runApplyOnTerminal(t, e, answer, "-chdir="+e.Dir, "apply", "-no-color")
		if r.code != exitError {
			t.Errorf("answer %q: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", answer, r.code, exitError, r.stdout, r.stderr)
		}
		for _, want := range []string{"10 to insert, 5 to update, 5 to delete", "Do you want to apply these changes?", "Only 'yes' will be accepted", "cancelled", "nothing was written"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("answer %q: stdout lacks %q:\n%s", answer, want, r.stdout)
			}
		}
		if got := e.DstDigest("items"); got != before {
			t.Fatalf("answer %q: the table changed although the apply was cancelled", answer)
		}
	}

	r := runApplyOnTerminal(t, e, "yes", "-chdir="+e.Dir, "apply", "-no-color")
	r.expect(t, exitOK)
	for _, want := range []string{"Do you want to apply these changes?", `sync "items": 10 inserted, 5 updated, 5 deleted`, "Apply complete: 10 inserted, 5 updated, 5 deleted in 1 sync."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	applyRequireSynced(t, e)
	applyRequireNoChanges(t, e)

	// Nothing to do: no question, exit 0.
	r = runApplyOnTerminal(t, e, "no", "-chdir="+e.Dir, "apply", "-no-color")
	r.expect(t, exitOK)
	if strings.Contains(r.stdout, "Do you want to apply") || !strings.Contains(r.stdout, "Nothing to apply") {
		t.Errorf("apply with nothing to do:\n%s", r.stdout)
	}
}

// TestApplyTerminalHangUp: the terminal goes away while apply asks: that
// is not a "yes".
func TestApplyTerminalHangUp(t *testing.T) {
	t.Parallel()
	e := applyEnv(t)
	before := e.DstDigest("items")
	master, slave := applyPTY(t)
	var stdout, stderr bytes.Buffer
	inv := &invocation{stdin: slave, stdout: &stdout, stderr: &stderr, environ: e.Environ}
	// End of input (Ctrl-D), then the terminal goes away: either must
	// cancel. The ^D makes the outcome independent of when the kernel
	// reports the hang-up to a reader.
	_, _ = master.Write([]byte{4})
	master.Close()
	code := inv.run(context.Background(), []string{"-chdir=" + e.Dir, "apply", "-no-color"})
	if code != exitError {
		t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, exitError, stdout.String(), stderr.String())
	}
	if got := e.DstDigest("items"); got != before {
		t.Errorf("the table changed")
	}
}

// TestApplyTerminalInterrupt: Ctrl-C (the context canceled, as main's
// signal handler does) while apply waits for an answer stops it at once,
// writing nothing: the read of the terminal is not waited for.
func TestApplyTerminalInterrupt(t *testing.T) {
	t.Parallel()
	e := applyEnv(t)
	before := e.DstDigest("items")
	_, slave := applyPTY(t)
	stdout := &lockedBuffer{}
	var stderr bytes.Buffer
	inv := &invocation{stdin: slave, stdout: stdout, stderr: &stderr, environ: e.Environ}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	go func() { done <- inv.run(ctx, []string{"-chdir=" + e.Dir, "apply", "-no-color"}) }()
	for deadline := time.Now().Add(2 * time.Minute); !strings.Contains(stdout.String(), "Enter a value:"); {
		select {
		case code := <-done:
			t.Fatalf("apply ended (exit code %d) before asking\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("apply did not ask within 2 minutes\nstdout:\n%s", stdout.String())
		}
	}
	cancel() // Ctrl-C at the prompt; nothing is typed
	select {
	case code := <-done:
		if code != exitError {
			t.Errorf("exit code %d, want %d", code, exitError)
		}
	case <-time.After(10 * time.Second):
		t.Fatalf("apply still waits for an answer 10 s after Ctrl-C\nstdout:\n%s", stdout.String())
	}
	if want := "Apply cancelled (interrupted); nothing was written."; !strings.Contains(stdout.String(), want) {
		t.Errorf("stdout lacks %q:\n%s", want, stdout.String())
	}
	if got := e.DstDigest("items"); got != before {
		t.Errorf("the table changed although the apply was interrupted")
	}
}

// applyDocument as the tests read it: apply's -json result (the README's Commands).
type applyJSON struct {
	FormatVersion string `json:"format_version"`
	Applied       *bool  `json:"applied"`
	Error         string `json:"error"`
	Syncs         []struct {
		Name    string            `json:"name"`
		Table   string            `json:"table"`
		Status  string            `json:"status"`
		Applied *map[string]int64 `json:"applied"`
		Error   string            `json:"error"`
	} `json:"syncs"`
	Summary map[string]int64 `json:"summary"`
}

// decodeApplyJSON decodes stdout as exactly one JSON document.
func decodeApplyJSON(t *testing.T, stdout string) applyJSON {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	var doc applyJSON
	if err := dec.Decode(&doc); err != nil {
		t.Fatalf("stdout is not one apply JSON document: %v\n%s", err, stdout)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		t.Fatalf("stdout holds more than one JSON document (%v):\n%s", err, stdout)
	}
	return doc
}

// TestJSONOfAConfigurationThatDoesNotLoad: when the configuration does not
// load, apply -json prints an apply document (applied false, the error,
// the diagnostics), not a plan's, whether it plans or applies a plan file;
// history -json, whose document lists runs, prints nothing on stdout and
// the diagnostics on stderr, as for its other errors.
func TestJSONOfAConfigurationThatDoesNotLoad(t *testing.T) {
	t.Parallel()
	e := applyEnv(t)
	runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-out=p.plan").expect(t, exitOK)
	before := e.DstDigest("items")
	e.WriteFile("typo.hcl", "sync \"typo\" {\n  behaviour = \"mirror\"\n}\n")
	for _, args := range [][]string{{"apply", "-json", "-auto-approve"}, {"apply", "-json", "p.plan"}} {
		r := runCLIWith(t, e.Environ, "", append([]string{"-chdir=" + e.Dir}, args...)...)
		r.expect(t, exitError)
		doc := decodeApplyJSON(t, r.stdout)
		if doc.Applied == nil || *doc.Applied || doc.FormatVersion != "1" || doc.Syncs == nil || !strings.Contains(doc.Error, "the configuration could not be loaded: ") {
			t.Errorf("%v: not an apply refusal (applied %v, error %q, syncs %v):\n%s", args, doc.Applied, doc.Error, doc.Syncs, r.stdout)
		}
		var raw struct {
			Applyable   *bool `json:"applyable"`
			Diagnostics []struct {
				Severity string `json:"severity"`
				Summary  string `json:"summary"`
			} `json:"diagnostics"`
		}
		if err := json.Unmarshal([]byte(r.stdout), &raw); err != nil {
			t.Fatal(err)
		}
		if raw.Applyable != nil {
			t.Errorf("%v: the apply document has a plan's \"applyable\":\n%s", args, r.stdout)
		}
		if len(raw.Diagnostics) == 0 || !strings.Contains(r.stdout, `An argument named \"behaviour\" is not expected here`) {
			t.Errorf("%v: the diagnostics are not in the document:\n%s", args, r.stdout)
		}
	}
	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "history", "-json")
	r.expect(t, exitError)
	if r.stdout != "" {
		t.Errorf("history -json printed a document of another command:\n%s", r.stdout)
	}
	if !strings.Contains(r.stderr, `An argument named "behaviour" is not expected here`) || !strings.Contains(r.stderr, "history: the configuration could not be loaded") {
		t.Errorf("history -json: stderr lacks the diagnostics:\n%s", r.stderr)
	}
	if got := e.DstDigest("items"); got != before {
		t.Errorf("the table changed")
	}
}

// TestApplyJSON: apply -json -auto-approve prints one JSON document and
// nothing else: per sync its name, status, applied counts and error.
func TestApplyJSON(t *testing.T) {
	t.Parallel()
	e := applyEnv(t)
	e.Dst(`CREATE TABLE other (id bigint PRIMARY KEY, name text)`)
	e.Dst(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF NEW.id = 7 THEN RAISE EXCEPTION 'row % is refused', NEW.id; END IF; RETURN NEW; END $$`)
	e.Dst(`CREATE TRIGGER refuse BEFORE INSERT ON other FOR EACH ROW EXECUTE FUNCTION refuse()`)
	e.WriteFile("main.hcl", e.Servers()+applyItemsSync+`
sync "other" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM items"
  destination = destination.postgres.dst
  table       = "other"
  behavior    = "append"
  key         = "id"
}
`)
	otherBefore := e.DstDigest("other")
	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-json", "-auto-approve")
	r.expect(t, exitError)
	doc := decodeApplyJSON(t, r.stdout)
	if doc.FormatVersion != "1" || doc.Applied == nil || *doc.Applied {
		t.Errorf("format_version %q, applied %v; want \"1\" and false", doc.FormatVersion, doc.Applied)
	}
	if len(doc.Syncs) != 2 {
		t.Fatalf("%d syncs in the result, want 2:\n%s", len(doc.Syncs), r.stdout)
	}
	for _, s := range doc.Syncs {
		if s.Applied == nil {
			t.Errorf("sync %q has no \"applied\" counts", s.Name)
			continue
		}
		a := *s.Applied
		switch s.Name {
		case "items":
			if s.Status != "applied" || s.Error != "" || a["insert"] != 10 || a["update"] != 5 || a["delete"] != 5 || s.Table != "public.items" {
				t.Errorf("items: %+v, applied %v", s, a)
			}
		case "other":
			if s.Status != "failed" || !strings.Contains(s.Error, "row 7 is refused") || a["insert"] != 0 {
				t.Errorf("other: %+v, applied %v", s, a)
			}
		default:
			t.Errorf("unexpected sync %q", s.Name)
		}
	}
	if doc.Summary["syncs"] != 2 || doc.Summary["failed"] != 1 || doc.Summary["insert"] != 10 || doc.Summary["update"] != 5 || doc.Summary["delete"] != 5 {
		t.Errorf("summary %v", doc.Summary)
	}
	applyRequireSynced(t, e)
	if got := e.DstDigest("other"); got != otherBefore {
		t.Errorf("the failed sync wrote to its table")
	}

	// Once fixed, everything applies; nothing left, and -json again says so.
	e.Dst(`DROP TRIGGER refuse ON other`)
	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-json", "-auto-approve")
	r.expect(t, exitOK)
	doc = decodeApplyJSON(t, r.stdout)
	if doc.Applied == nil || !*doc.Applied || len(doc.Syncs) != 2 {
		t.Fatalf("second apply:\n%s", r.stdout)
	}
	for _, s := range doc.Syncs {
		want := map[string]string{"items": "no_changes", "other": "applied"}[s.Name]
		if s.Status != want || s.Error != "" {
			t.Errorf("second apply, %s: status %q (error %q), want %q", s.Name, s.Status, s.Error, want)
		}
	}
	// With nothing to do, each sync's applied counts still say how many
	// rows are unchanged, as the plan does.
	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-json")
	r.expect(t, exitOK)
	var planned struct {
		Syncs []struct {
			Name   string           `json:"name"`
			Counts map[string]int64 `json:"counts"`
		} `json:"syncs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &planned); err != nil {
		t.Fatal(err)
	}
	unchanged := map[string]int64{}
	for _, s := range planned.Syncs {
		unchanged[s.Name] = s.Counts["unchanged"]
	}
	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-json", "-auto-approve")
	r.expect(t, exitOK)
	doc = decodeApplyJSON(t, r.stdout)
	if doc.Applied == nil || !*doc.Applied || len(doc.Syncs) != 2 {
		t.Fatalf("apply with nothing to do:\n%s", r.stdout)
	}
	for _, s := range doc.Syncs {
		if s.Status != "no_changes" {
			t.Errorf("apply with nothing to do, %s: status %q", s.Name, s.Status)
		}
		if s.Applied == nil || (*s.Applied)["unchanged"] != unchanged[s.Name] || unchanged[s.Name] == 0 {
			t.Errorf("apply with nothing to do, %s: applied %v, want unchanged %d as planned", s.Name, s.Applied, unchanged[s.Name])
		}
	}
}

// TestApplyJSONWithoutAutoApprove: -json cannot prompt, so it needs
// -auto-approve; the refusal is a JSON document too.
func TestApplyJSONWithoutAutoApprove(t *testing.T) {
	t.Parallel()
	e := applyEnv(t)
	before := e.DstDigest("items")
	r := runCLIWith(t, e.Environ, "yes\n", "-chdir="+e.Dir, "apply", "-json")
	r.expect(t, exitError)
	doc := decodeApplyJSON(t, r.stdout)
	if doc.Applied == nil || *doc.Applied || !strings.Contains(doc.Error, "-auto-approve") {
		t.Errorf("refusal document:\n%s", r.stdout)
	}
	if got := e.DstDigest("items"); got != before {
		t.Errorf("the table changed")
	}
}

// TestApplyPlanWithErrorsWritesNothing: a plan with an error finding is
// never applied, not even the syncs without errors.
func TestApplyPlanWithErrorsWritesNothing(t *testing.T) {
	t.Parallel()
	e := applyEnv(t)
	e.Dst(`CREATE TABLE nokey (id bigint, name text)`)
	e.WriteFile("main.hcl", e.Servers()+applyItemsSync+`
sync "nokey" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM items"
  destination = destination.postgres.dst
  table       = "nokey"
  behavior    = "update_or_create"
  key         = "id"
}
`)
	before := e.DstDigest("items")
	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-auto-approve", "-no-color")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "errors") || !strings.Contains(r.stdout, "missing_unique_constraint") {
		t.Errorf("stdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}
	if got := e.DstDigest("items"); got != before {
		t.Errorf("a plan with errors was partly applied")
	}
	if n := e.DstQuery(`SELECT count(*) FROM nokey`)[0]; n != "0" {
		t.Errorf("nokey has %s rows", n)
	}
}

// TestApplySavedPlanStale: `apply FILE` refuses, with "plan is stale" and
// exit 1, when the configuration, the destination rows or the source rows
// changed since `plan -out=FILE`, and when the plan was applied already; it
// writes nothing then. An unchanged saved plan applies without a question.
func TestApplySavedPlanStale(t *testing.T) {
	t.Parallel()
	chdirOf := func(e *synctest.Env) string { return "-chdir=" + e.Dir }
	planOut := func(t *testing.T, e *synctest.Env) {
		t.Helper()
		r := runCLIWith(t, e.Environ, "", chdirOf(e), "plan", "-no-color", "-out=saved.plan")
		r.expect(t, exitOK)
	}
	requireStale := func(t *testing.T, e *synctest.Env, what string) {
		t.Helper()
		before := e.DstDigest("items")
		r := runCLIWith(t, e.Environ, "", chdirOf(e), "apply", "-no-color", "saved.plan")
		if r.code != exitError {
			t.Fatalf("%s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", what, r.code, exitError, r.stdout, r.stderr)
		}
		if !strings.Contains(r.stdout+r.stderr, "plan is stale") {
			t.Errorf("%s: the output does not say \"plan is stale\":\nstdout:\n%s\nstderr:\n%s", what, r.stdout, r.stderr)
		}
		if got := e.DstDigest("items"); got != before {
			t.Errorf("%s: a stale plan wrote to the table", what)
		}
	}

	t.Run("configuration_changed", func(t *testing.T) {
		t.Parallel()
		e := applyEnv(t)
		planOut(t, e)
		e.WriteFile("main.hcl", e.Servers()+strings.Replace(applyItemsSync, "SELECT id, name FROM items", "SELECT id, name FROM items WHERE id > 1", 1))
		requireStale(t, e, "query changed")
		e.WriteFile("main.hcl", e.Servers()+strings.Replace(applyItemsSync, `"mirror"`, `"update_or_create"`, 1))
		requireStale(t, e, "behavior changed")
	})
	t.Run("destination_row_edited", func(t *testing.T) {
		t.Parallel()
		e := applyEnv(t)
		planOut(t, e)
		e.Dst(`UPDATE items SET name = 'edited' WHERE id = 12`)
		requireStale(t, e, "destination row edited")
	})
	t.Run("source_changed", func(t *testing.T) {
		t.Parallel()
		e := applyEnv(t)
		planOut(t, e)
		e.Src(`UPDATE items SET name = 'edited' WHERE id = 3`)
		requireStale(t, e, "source row edited")
	})
	t.Run("applied_twice", func(t *testing.T) {
		t.Parallel()
		e := applyEnv(t)
		planOut(t, e)
		// A saved plan needs no terminal and asks nothing.
		r := runCLIWith(t, e.Environ, "", chdirOf(e), "apply", "-no-color", "saved.plan")
		r.expect(t, exitOK)
		if strings.Contains(r.stdout, "Do you want to apply") {
			t.Errorf("apply FILE asked for confirmation:\n%s", r.stdout)
		}
		applyRequireSynced(t, e)
		requireStale(t, e, "the same plan applied again")
		applyRequireNoChanges(t, e)
	})
	t.Run("empty_table_filled", func(t *testing.T) {
		t.Parallel()
		e := applyEnv(t)
		e.Dst(`DELETE FROM items`)
		planOut(t, e)
		e.Dst(`INSERT INTO items (id, name) SELECT g, 'n' || g FROM generate_series(1, 20) g`)
		requireStale(t, e, "empty table filled")
	})
}

// TestApplyLockedTable: while another session holds the table's apply lock,
// apply fails at once with exit 1 naming the holder, or waits up to
// -lock-timeout; once the lock is free it applies.
//
// Not parallel: other tests apply tables named public.items in their own
// databases, and the holder lookup does not filter by database (see
// executor's TestLockHolderIsInTheSameDatabase).
func TestApplyLockedTable(t *testing.T) {
	e := applyEnv(t)
	before := e.DstDigest("items")
	cfg, err := pgx.ParseConfig(synctest.Destination.ConnString(e.DstDB))
	if err != nil {
		t.Fatal(err)
	}
	cfg.RuntimeParams["application_name"] = "rowform/holder"
	holder, err := pgx.ConnectConfig(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer holder.Close(context.Background())
	var pid int32
	if err := holder.QueryRow(context.Background(), `SELECT pg_backend_pid()`).Scan(&pid); err != nil {
		t.Fatal(err)
	}
	if _, err := holder.Exec(context.Background(), `BEGIN`); err != nil {
		t.Fatal(err)
	}
	// The lock apply takes (executor/lock.go), held by another transaction.
	if _, err := holder.Exec(context.Background(), `SELECT pg_advisory_xact_lock(hashtext('rowform'), hashtext('public.items'))`); err != nil {
		t.Fatal(err)
	}

	start := time.Now()
	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-auto-approve", "-no-color")
	took := time.Since(start)
	r.expect(t, exitError)
	for _, want := range []string{`sync "items"`, "public.items is being applied by another rowform", "rowform/holder", fmt.Sprintf("pid %d", pid), "-lock-timeout"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("output lacks %q:\n%s\nstderr:\n%s", want, r.stdout, r.stderr)
		}
	}
	t.Logf("failed after %s", took)

	start = time.Now()
	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-auto-approve", "-no-color", "-lock-timeout=700ms")
	took = time.Since(start)
	r.expect(t, exitError)
	if !strings.Contains(r.stdout, "rowform/holder") {
		t.Errorf("output lacks the holder:\n%s", r.stdout)
	}
	if took < 700*time.Millisecond {
		t.Errorf("with -lock-timeout=700ms apply gave up after %s", took)
	}
	if got := e.DstDigest("items"); got != before {
		t.Errorf("the table changed while locked")
	}

	// Released while a waiting apply waits: it goes on.
	done := make(chan result, 1)
	go func() {
		var stdout, stderr bytes.Buffer
		inv := &invocation{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, environ: e.Environ}
		code := inv.run(context.Background(), []string{"-chdir=" + e.Dir, "apply", "-auto-approve", "-no-color", "-lock-timeout=1m"})
		done <- result{code: code, stdout: stdout.String(), stderr: stderr.String()}
	}()
	// Wait until the waiting apply is seen on the server, then release. It
	// spends its wait between attempts outside a transaction, so its last
	// statement is the try or the ROLLBACK after it. It must still be there
	// 300ms after first seen (a closing connection of the plan would not).
	deadline := time.Now().Add(time.Minute)
	var firstSeen time.Time
	for {
		var n int
		if err := e.DstConn().QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name = 'rowform/items'
  AND (query LIKE '%pg_try_advisory_xact_lock%' OR query = 'ROLLBACK')`, e.DstDB).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			firstSeen = time.Time{}
		} else if firstSeen.IsZero() {
			firstSeen = time.Now()
		}
		if !firstSeen.IsZero() && time.Since(firstSeen) >= 300*time.Millisecond {
			break // seen waiting: release
		}
		if time.Now().After(deadline) {
			select {
			case r := <-done:
				t.Fatalf("the waiting apply never showed up; it ended with %d:\n%s\n%s", r.code, r.stdout, r.stderr)
			default:
			}
			t.Fatal("the waiting apply never showed up")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := holder.Exec(context.Background(), `COMMIT`); err != nil {
		t.Fatal(err)
	}
	select {
	case r = <-done:
	case <-time.After(time.Minute):
		t.Fatal("the waiting apply did not finish")
	}
	r.expect(t, exitOK)
	applyRequireSynced(t, e)
}

// TestApplySIGINT sends SIGINT to the rowform binary while the server runs
// its insert (a COPY into the table): it exits 1 saying nothing was
// committed, the table is as it was, and no query of ours is left on the
// server.
func TestApplySIGINT(t *testing.T) {
	t.Parallel()
	bin := buildRowform(t)
	e := applyEnv(t)
	e.Src(`INSERT INTO items SELECT g, 'n' || g FROM generate_series(21, 2000) g`)
	e.Dst(`CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.01); RETURN NEW; END $$`)
	e.Dst(`CREATE TRIGGER slow BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION slow()`)
	before := e.DstDigest("items")

	cmd := exec.Command(bin, "-chdir="+e.Dir, "apply", "-auto-approve", "-no-color")
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, e.Environ...)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(time.Minute)
	for {
		var n int
		if err := e.DstConn().QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity
WHERE datname = $1 AND application_name = 'rowform/items' AND state = 'active' AND (query LIKE 'INSERT INTO "public"."items"%' OR query LIKE 'COPY "public"."items"%')`, e.DstDB).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n > 0 {
			break
		}
		select {
		case err := <-exited:
			t.Fatalf("rowform exited (%v) before its INSERT was seen\nstdout:\n%s\nstderr:\n%s", err, stdout.String(), stderr.String())
		default:
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			t.Fatal("the INSERT never showed up")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	var err error
	select {
	case err = <-exited:
	case <-time.After(time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("rowform did not exit within a minute of SIGINT")
	}
	var exitErr *exec.ExitError
	if !errors.As(err, &exitErr) || exitErr.ExitCode() != exitError {
		t.Errorf("exit: %v, want exit code %d\nstdout:\n%s\nstderr:\n%s", err, exitError, stdout.String(), stderr.String())
	}
	// When the process has exited, the server runs no query of ours.
	var active []string
	rows, qerr := e.DstConn().Query(context.Background(), `SELECT format('%s %s %s', pid, state, left(query, 50)) FROM pg_stat_activity
WHERE datname = $1 AND application_name LIKE 'rowform/%' AND state = 'active'`, e.DstDB)
	if qerr == nil {
		active, qerr = pgx.CollectRows(rows, pgx.RowTo[string])
	}
	if qerr != nil {
		t.Fatal(qerr)
	}
	if len(active) > 0 {
		t.Errorf("queries of rowform still run after it exited: %v", active)
	}
	out := stdout.String() + stderr.String()
	t.Logf("rowform's output after SIGINT:\n%s", out)
	for _, want := range []string{`sync "items"`, "interrupted", "nothing was committed"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\nstdout:\n%s\nstderr:\n%s", want, stdout.String(), stderr.String())
		}
	}
	if got := e.DstDigest("items"); got != before {
		t.Errorf("the table changed although the apply was interrupted")
	}
	// 5 s later at the latest, no session of ours at all.
	deadline = time.Now().Add(5 * time.Second)
	for {
		var n int
		if err := e.DstConn().QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'rowform/%'`, e.DstDB).Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d rowform sessions remain 5 s after the interrupted apply exited", n)
		}
		time.Sleep(20 * time.Millisecond)
	}
	e.Dst(`DROP TRIGGER slow ON items`)
	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-auto-approve", "-no-color")
	r.expect(t, exitOK)
	applyRequireNoChanges(t, e)
}

// TestApplyProgressOnTerminal: with a terminal on stderr, apply shows the
// progress of each sync there, rewriting its line with an escape sequence
// but with none under -no-color; with -json it shows none, and stdout never
// carries it.
func TestApplyProgressOnTerminal(t *testing.T) {
	t.Parallel()
	e := applyEnv(t)
	for _, args := range [][]string{{"-no-color"}, {"-json"}, {"-lock-timeout=10s"}} {
		master, slave := applyPTYRaw(t)
		var terminal bytes.Buffer
		drained := make(chan struct{})
		go func() { defer close(drained); _, _ = io.Copy(&terminal, master) }() // ends with EIO once the slave is closed
		var stdout bytes.Buffer
		inv := &invocation{stdin: strings.NewReader(""), stdout: &stdout, stderr: slave, environ: e.Environ}
		code := inv.run(context.Background(), append([]string{"-chdir=" + e.Dir, "apply", "-auto-approve"}, args...))
		slave.Close()
		<-drained
		if code != exitOK {
			t.Fatalf("%v: exit code %d\nstdout:\n%s\nterminal:\n%q", args, code, stdout.String(), terminal.String())
		}
		shown := strings.Contains(terminal.String(), "items: ")
		if json := args[0] == "-json"; shown == json {
			t.Errorf("%v: progress on the terminal: %v, want %v\n%q", args, shown, !json, terminal.String())
		}
		if strings.Contains(stdout.String(), "\x1b[K") {
			t.Errorf("%v: progress on stdout:\n%q", args, stdout.String())
		}
		if escapes, want := strings.Contains(terminal.String(), "\x1b"), args[0] == "-lock-timeout=10s"; escapes != want {
			t.Errorf("%v: escape sequences on the terminal: %v, want %v\n%q", args, escapes, want, terminal.String())
		}
		// Make the next run have work again.
		e.Dst(`UPDATE items SET name = 'stale' WHERE id = 12`)
	}
}

// applyPTYRaw is applyPTY without the goroutine draining the master: the
// caller reads (and must drain) what is written to the terminal.
func applyPTYRaw(t *testing.T) (master, slave *os.File) {
	t.Helper()
	m, err := os.OpenFile("/dev/ptmx", os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening /dev/ptmx: %v", err)
	}
	t.Cleanup(func() { m.Close() })
	if err := unix.IoctlSetPointerInt(int(m.Fd()), unix.TIOCSPTLCK, 0); err != nil {
		t.Fatalf("unlocking the pty: %v", err)
	}
	n, err := unix.IoctlGetInt(int(m.Fd()), unix.TIOCGPTN)
	if err != nil {
		t.Fatalf("reading the pty number: %v", err)
	}
	s, err := os.OpenFile(fmt.Sprintf("/dev/pts/%d", n), os.O_RDWR|syscall.O_NOCTTY, 0)
	if err != nil {
		t.Fatalf("opening the pty slave: %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return m, s
}
