package cli

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rowform/rowform/internal/synctest"
)

// frozenApply starts the rowform binary applying applyEnv's sync with
// 300 inserts that each take 10 ms, waits until the server runs its insert
// and freezes that backend (SIGSTOP: its socket stays up, nothing comes
// back). It returns the running command, a channel that receives its exit,
// its output and the table's digest before. The backend is let go at the
// end of the test.
func frozenApply(t *testing.T, args ...string) (cmd *exec.Cmd, exited chan error, out *bytes.Buffer, e *synctest.Env, before string) {
	t.Helper()
	bin := buildRowform(t)
	e = applyEnv(t)
	e.Src(`INSERT INTO items SELECT g, 'n' || g FROM generate_series(21, 320) g`)
	e.Dst(`CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.01); RETURN NEW; END $$`)
	e.Dst(`CREATE TRIGGER slow BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION slow()`)
	before = e.DstDigest("items")

	cmd = exec.Command(bin, append([]string{"-chdir=" + e.Dir, "apply", "-auto-approve", "-no-color"}, args...)...)
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}, e.Environ...)
	out = &bytes.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited = make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	t.Cleanup(func() { _ = cmd.Process.Kill() })
	deadline := time.Now().Add(time.Minute)
	var pid int
	for pid == 0 {
		err := e.DstConn().QueryRow(context.Background(), `SELECT pid FROM pg_stat_activity
WHERE datname = $1 AND application_name = 'rowform/items' AND state = 'active' AND (query LIKE 'INSERT INTO "public"."items"%' OR query LIKE 'COPY "public"."items"%')`, e.DstDB).Scan(&pid)
		if err != nil && !strings.Contains(err.Error(), "no rows") {
			t.Fatal(err)
		}
		select {
		case err := <-exited:
			t.Fatalf("rowform exited (%v) before its insert was seen:\n%s", err, out)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("the insert never showed up")
		}
		time.Sleep(5 * time.Millisecond)
	}
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatalf("stopping the backend %d: %v", pid, err)
	}
	t.Cleanup(func() {
		_ = syscall.Kill(pid, syscall.SIGCONT)
		// The backend, once it runs again, ends: its client is gone.
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			var n int
			_ = e.DstConn().QueryRow(context.Background(), `SELECT count(*) FROM pg_stat_activity WHERE pid = $1`, pid).Scan(&n)
			if n == 0 {
				return
			}
			time.Sleep(20 * time.Millisecond)
		}
	})
	return cmd, exited, out, e, before
}

// waitExit waits up to within for the command to exit with exit code 1.
func waitExit(t *testing.T, cmd *exec.Cmd, exited chan error, out *bytes.Buffer, within time.Duration) time.Duration {
	t.Helper()
	start := time.Now()
	select {
	case err := <-exited:
		var exitErr *exec.ExitError
		if !errors.As(err, &exitErr) || exitErr.ExitCode() != exitError {
			t.Errorf("exit: %v, want exit code %d\n%s", err, exitError, out)
		}
	case <-time.After(within):
		_ = cmd.Process.Kill()
		t.Fatalf("rowform did not exit within %s:\n%s", within, out)
	}
	return time.Since(start)
}

// TestApplyFrozenDestinationStatementTimeout: a destination backend that
// freezes mid-apply (SIGSTOP: the connection stays up, nothing comes back)
// fails the apply soon after -statement-timeout — the server cannot enforce
// it, rowform does — and the table is left as it was.
func TestApplyFrozenDestinationStatementTimeout(t *testing.T) {
	t.Parallel()
	cmd, exited, out, e, before := frozenApply(t, "-statement-timeout=5s")
	took := waitExit(t, cmd, exited, out, 30*time.Second)
	t.Logf("apply failed %s after the backend froze:\n%s", took.Round(time.Millisecond), out)
	if took > 5*time.Second+5*time.Second {
		t.Errorf("apply failed %s after the backend froze, want soon after the 5s statement timeout", took)
	}
	if !strings.Contains(out.String(), "stopped responding") || !strings.Contains(out.String(), "nothing was") {
		t.Errorf("the error does not say the server stopped responding and nothing was written:\n%s", out)
	}
	if got := e.DstDigest("items"); got != before {
		t.Error("the table changed")
	}
}

// TestApplyFrozenDestinationInterrupt: Ctrl-C (SIGINT) ends an apply whose
// destination backend froze within 2 s, and the table is left as it was.
func TestApplyFrozenDestinationInterrupt(t *testing.T) {
	t.Parallel()
	cmd, exited, out, e, before := frozenApply(t)
	time.Sleep(200 * time.Millisecond)
	if err := cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	took := waitExit(t, cmd, exited, out, 30*time.Second)
	t.Logf("apply exited %s after SIGINT:\n%s", took.Round(time.Millisecond), out)
	if took > 2*time.Second {
		t.Errorf("apply exited %s after SIGINT, want within 2s", took)
	}
	if !strings.Contains(out.String(), "interrupted") {
		t.Errorf("the output does not say the apply was interrupted:\n%s", out)
	}
	if got := e.DstDigest("items"); got != before {
		t.Error("the table changed")
	}
}
