package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestPipesWaitOnlyUntilInterrupted: a -var-file, a plan file or a file()
// that is a FIFO nobody writes blocks in open; the command waits for a
// writer only until it is interrupted (main cancels the context on
// SIGTERM, Ctrl-C, SIGHUP), then exits 1 saying what it waited for. It
// waited on, whatever the signal, before.
func TestPipesWaitOnlyUntilInterrupted(t *testing.T) {
	dir := t.TempDir()
	fifo := filepath.Join(dir, "input.fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	fileDir := t.TempDir()
	if err := os.WriteFile(filepath.Join(fileDir, "main.hcl"), []byte(`destination "postgres" "dst" {
  host     = "localhost"
  user     = "u"
  database = "d"
  password = file("`+fifo+`")
}
`), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte("variable \"x\" {\n  default = 1\n}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name string
		args []string
	}{
		{"-var-file", []string{"-chdir=" + dir, "plan", "-var-file=" + fifo}},
		{"plan file", []string{"-chdir=" + dir, "show", fifo}},
		{"file()", []string{"-chdir=" + fileDir, "validate"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
			defer cancel()
			var stdout, stderr bytes.Buffer
			inv := &invocation{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr}
			done := make(chan int, 1)
			go func() { done <- inv.run(ctx, c.args) }()
			select {
			case code := <-done:
				if code != 1 || !strings.Contains(stderr.String()+stdout.String(), "interrupted while waiting for "+fifo+" to be written") {
					t.Errorf("exit code %d\nstdout:\n%s\nstderr:\n%s", code, stdout.String(), stderr.String())
				}
			case <-time.After(10 * time.Second):
				t.Fatalf("rowform %s still waits for the FIFO 10 s after it was interrupted", strings.Join(c.args, " "))
			}
		})
	}
}
