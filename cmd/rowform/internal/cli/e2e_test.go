package cli

import (
	"bufio"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rowform/rowform/hclconfig"
)

// buildRowform builds the real binary into a temporary directory.
func buildRowform(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "rowform")
	cmd := exec.Command("go", "build", "-o", bin, "github.com/rowform/rowform/cmd/rowform")
	cmd.Dir = moduleRoot(t)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// runBinary runs bin with args in dir and a minimal environment, returning
// the exit code and the two streams.
func runBinary(t *testing.T, bin, dir string, args ...string) result {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	var stdout, stderr strings.Builder
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	code := 0
	var exitErr *exec.ExitError
	switch {
	case errors.As(err, &exitErr):
		code = exitErr.ExitCode()
	case err != nil:
		t.Fatalf("running %s: %v", bin, err)
	}
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func TestBinaryEndToEnd(t *testing.T) {
	bin := buildRowform(t)
	root := moduleRoot(t)
	quickstart := filepath.Join(root, "examples", "quickstart")

	r := runBinary(t, bin, quickstart, "validate")
	r.expect(t, exitOK)
	if !strings.HasPrefix(r.stdout, "Success! The configuration is valid.\n") {
		t.Errorf("stdout:\n%s", r.stdout)
	}

	r = runBinary(t, bin, root, "-chdir=examples/quickstart", "validate")
	r.expect(t, exitOK)

	invalid, err := filepath.Abs(filepath.Join("testdata", "invalid"))
	if err != nil {
		t.Fatal(err)
	}
	r = runBinary(t, bin, invalid, "validate")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "main.hcl:3:3") || !strings.Contains(r.stderr, "3 errors") {
		t.Errorf("stderr:\n%s", r.stderr)
	}

	r = runBinary(t, bin, root, "-chdir=examples/quickstart", "fmt", "-check")
	r.expect(t, exitOK)

	r = runBinary(t, bin, root, "nonsense")
	r.expect(t, exitError)

	r = runBinary(t, bin, root, "version")
	r.expect(t, exitOK)
	if !strings.HasPrefix(r.stdout, "rowform v") {
		t.Errorf("version: %q", r.stdout)
	}
}

// exampleDirs returns every directory under examples/ that holds a
// configuration (a *.hcl file that is not *.vars.hcl).
func exampleDirs(t *testing.T) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(filepath.Join(moduleRoot(t), "examples"), func(path string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		files, err := hclconfig.ConfigFiles(path)
		if err != nil {
			return err
		}
		if len(files) > 0 {
			dirs = append(dirs, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(dirs) < 2 {
		t.Fatalf("found %d example configurations, want at least quickstart and warehouse-to-crm", len(dirs))
	}
	return dirs
}

// onlyMissingHomeKey reports whether warnings is the one warning validate
// gives on a machine without ~/.ssh/id_ed25519, the key warehouse-to-crm's
// tunnel uses by default.
func onlyMissingHomeKey(warnings string) bool {
	home, err := os.UserHomeDir()
	if err != nil {
		return false
	}
	key := filepath.Join(home, ".ssh", "id_ed25519")
	if _, err := os.Stat(key); err == nil {
		return false
	}
	return strings.Count(warnings, "Warning:") == 1 && strings.Contains(warnings, "The private_key_file "+key+" of the ssh_tunnel")
}

// TestExamplesValidate checks that every example configuration is valid
// and canonically formatted, with an empty environment and no server.
func TestExamplesValidate(t *testing.T) {
	root := moduleRoot(t)
	for _, dir := range exampleDirs(t) {
		name, _ := filepath.Rel(root, dir)
		t.Run(name, func(t *testing.T) {
			r := runCLI(t, "-chdir="+dir, "validate")
			r.expect(t, exitOK)
			if r.stderr != "" && !onlyMissingHomeKey(r.stderr) {
				t.Errorf("warnings:\n%s", r.stderr)
			}
			r = runCLI(t, "-chdir="+dir, "fmt", "-check", "-diff")
			r.expect(t, exitOK)

			// Each variable file of the example sets only declared variables.
			varFiles, err := filepath.Glob(filepath.Join(dir, "*"+hclconfig.VarFileSuffix))
			if err != nil {
				t.Fatal(err)
			}
			for _, vf := range varFiles {
				_, diags := hclconfig.Load(dir, hclconfig.Inputs{VarFiles: []string{vf}, AllowUnset: true})
				if len(diags) > 0 {
					t.Errorf("with -var-file=%s: %s", filepath.Base(vf), diags.Error())
				}
			}
		})
	}
}

// TestTestCommandCleansUpWhenOutputCloses: 'rowform test | head -1' closes
// rowform's stdout while its throwaway server runs; rowform still stops the
// server and removes its directory.
func TestTestCommandCleansUpWhenOutputCloses(t *testing.T) {
	bin := buildRowform(t)
	tmp, err := os.MkdirTemp("", "rowform-sigpipe-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(tmp) })
	// The server runs as the postgres user when tests run as root: it must
	// be able to reach its directory under tmp.
	if err := os.Chmod(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	leftovers := func() []string {
		ents, _ := os.ReadDir(tmp)
		var out []string
		for _, e := range ents {
			if strings.HasPrefix(e.Name(), "rowform-pg-") {
				out = append(out, filepath.Join(tmp, e.Name()))
			}
		}
		return out
	}
	t.Cleanup(func() {
		// Stop a server the run left behind, so that a failure of this
		// test leaves nothing running.
		for _, d := range leftovers() {
			if b, err := os.ReadFile(filepath.Join(d, "data", "postmaster.pid")); err == nil {
				if pid, err := strconv.Atoi(strings.SplitN(string(b), "\n", 2)[0]); err == nil {
					_ = syscall.Kill(pid, syscall.SIGQUIT)
				}
			}
		}
	})

	cmd := exec.Command(bin, "test", "-no-color")
	cmd.Dir = filepath.Join(moduleRoot(t), "examples", "quickstart")
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TMPDIR=" + tmp}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	first, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("reading the first line: %v (stderr: %s)", err, stderr.String())
	}
	// Wait until the throwaway server is there, then close the pipe, as
	// head does after its line.
	deadline := time.Now().Add(2 * time.Minute)
	for len(leftovers()) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	if len(leftovers()) == 0 {
		t.Fatalf("no throwaway server under %s after the first line %q (stderr: %s)", tmp, first, stderr.String())
	}
	stdout.Close()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		t.Fatal("rowform test did not end after its output closed")
	}
	if left := leftovers(); len(left) > 0 {
		t.Errorf("rowform test left its server's directory behind after its output closed: %v\nstderr:\n%s", left, stderr.String())
	}
}
