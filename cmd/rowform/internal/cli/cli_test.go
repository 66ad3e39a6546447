package cli

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/rowform/rowform/internal/suggest"
)

// result is what one in-process run of rowform produced.
type result struct {
	code           int
	stdout, stderr string
}

// runCLI runs rowform in-process with args, an empty environment and empty
// standard input.
func runCLI(t *testing.T, args ...string) result {
	t.Helper()
	return runCLIWith(t, nil, "", args...)
}

// runCLIWith runs rowform in-process with the given environment and
// standard input.
func runCLIWith(t *testing.T, environ []string, stdin string, args ...string) result {
	t.Helper()
	return runInvocation(&invocation{stdin: strings.NewReader(stdin), environ: environ}, args...)
}

// runInvocation runs rowform in-process as inv (its streams, environment
// and tunables), capturing stdout and stderr.
func runInvocation(inv *invocation, args ...string) result {
	var stdout, stderr bytes.Buffer
	inv.stdout, inv.stderr = &stdout, &stderr
	code := inv.run(context.Background(), args)
	return result{code: code, stdout: stdout.String(), stderr: stderr.String()}
}

func (r result) expect(t *testing.T, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", r.code, code, r.stdout, r.stderr)
	}
}

// moduleRoot is the repository root, four levels above this package.
func moduleRoot(t *testing.T) string {
	t.Helper()
	root, err := filepath.Abs(filepath.Join("..", "..", "..", ".."))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(root, "go.mod")); err != nil {
		t.Fatalf("module root not found at %s: %v", root, err)
	}
	return root
}

func TestNoArgumentsPrintsCommandListAndFails(t *testing.T) {
	r := runCLI(t)
	r.expect(t, exitError)
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing", r.stdout)
	}
	for _, name := range commandNames() {
		if !strings.Contains(r.stderr, "  "+name+" ") {
			t.Errorf("command list lacks %q:\n%s", name, r.stderr)
		}
	}
}

func TestGlobalHelp(t *testing.T) {
	for _, args := range [][]string{{"-help"}, {"-h"}, {"--help"}, {"help"}} {
		r := runCLI(t, args...)
		r.expect(t, exitOK)
		if r.stderr != "" {
			t.Errorf("%v: stderr = %q", args, r.stderr)
		}
		for _, want := range []string{"Usage: rowform [global options] <command>", "-chdir=DIR", "validate", "fmt", "version"} {
			if !strings.Contains(r.stdout, want) {
				t.Errorf("%v: help lacks %q:\n%s", args, want, r.stdout)
			}
		}
	}
}

func TestCommandHelp(t *testing.T) {
	for _, name := range commandNames() {
		for _, flag := range []string{"-help", "-h"} {
			t.Run(name+flag, func(t *testing.T) {
				r := runCLI(t, name, flag)
				r.expect(t, exitOK)
				if r.stderr != "" {
					t.Errorf("stderr = %q", r.stderr)
				}
				if !strings.Contains(r.stdout, "Usage: rowform") || !strings.Contains(r.stdout, " "+name) {
					t.Errorf("usage of %s lacks its Usage line:\n%s", name, r.stdout)
				}
				if !strings.Contains(r.stdout, "-help") {
					t.Errorf("usage of %s lacks its options:\n%s", name, r.stdout)
				}
				// A flag's value is named for what it is (FILE, N,
				// DURATION), never by its Go type.
				if m := goTypePlaceholder.FindString(r.stdout); m != "" {
					t.Errorf("usage of %s names a flag's value by its Go type, %q:\n%s", name, m, r.stdout)
				}
			})
		}
	}
	r := runCLI(t, "help", "fmt")
	r.expect(t, exitOK)
	if !strings.Contains(r.stdout, "-check") {
		t.Errorf("rowform help fmt:\n%s", r.stdout)
	}
}

var goTypePlaceholder = regexp.MustCompile(`(?m)^  -[a-z-]+=(string|int|int64|uint|float64|value|duration|format)\b`)

func TestCommandHelpListsItsFlags(t *testing.T) {
	for cmd, flags := range map[string][]string{
		"validate": {"-json", "-no-color"},
		"fmt":      {"-check", "-diff"},
	} {
		r := runCLI(t, cmd, "-help")
		for _, f := range flags {
			if !strings.Contains(r.stdout, f) {
				t.Errorf("%s -help lacks %s:\n%s", cmd, f, r.stdout)
			}
		}
	}
}

func TestUnknownCommand(t *testing.T) {
	r := runCLI(t, "valdate")
	r.expect(t, exitError)
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing", r.stdout)
	}
	if !strings.Contains(r.stderr, `unknown command "valdate"`) || !strings.Contains(r.stderr, `Did you mean "validate"?`) {
		t.Errorf("stderr:\n%s", r.stderr)
	}

	r = runCLI(t, "frobnicate")
	r.expect(t, exitError)
	if strings.Contains(r.stderr, "Did you mean") {
		t.Errorf("no command is close to frobnicate, yet:\n%s", r.stderr)
	}
}

func TestUnknownFlag(t *testing.T) {
	r := runCLI(t, "validate", "-jsn")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "-jsn") || !strings.Contains(r.stderr, "Did you mean -json?") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	r = runCLI(t, "-bogus", "validate")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "-bogus") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

// TestBadFlagValue: a value a flag cannot parse is answered with what the
// flag takes, not the flag package's "parse error".
func TestBadFlagValue(t *testing.T) {
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"apply", "-lock-timeout=5"}, `invalid value "5" for -lock-timeout: it takes a duration such as 30s`},
		{[]string{"plan", "-show-rows=abc"}, `invalid value "abc" for -show-rows: it takes a whole number`},
		{[]string{"plan", "-undo=x1"}, `invalid value "x1" for -undo: it takes a whole number`},
		// 0 is no run, as an empty or unset run id in a script would give:
		// refused, never a plan (or apply) of the syncs instead.
		{[]string{"plan", "-undo=0"}, `-undo takes a run's id, a whole number from 1 (see 'rowform history'), not 0`},
		{[]string{"apply", "-auto-approve", "-undo=0"}, `-undo takes a run's id`},
		{[]string{"plan", "-undo=-5"}, `-undo takes a run's id, a whole number from 1 (see 'rowform history'), not -5`},
		{[]string{"validate", "-json=maybe"}, `invalid value "maybe" for -json: it takes true or false`},
		// Kept in memory in key order, each insert of a sample moves the
		// ones after it: 300,000 samples took minutes. Every change is
		// what -changes writes.
		{[]string{"plan", "-show-rows=1001"}, `-show-rows shows at most 1000 rows per change type and sync`},
		{[]string{"apply", "-auto-approve", "-show-rows=100000000"}, `for every change, use -changes=FILE`},
	} {
		r := runCLI(t, c.args...)
		r.expect(t, exitError)
		if !strings.Contains(r.stderr, c.want) || strings.Contains(r.stderr, "parse error") {
			t.Errorf("%s: stderr:\n%s\nwant %q", strings.Join(c.args, " "), r.stderr, c.want)
		}
	}
}

func TestGlobalFlagAfterCommandIsExplained(t *testing.T) {
	r := runCLI(t, "validate", "-chdir=testdata/valid")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "global option") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

func TestChdir(t *testing.T) {
	r := runCLI(t, "-chdir=testdata/valid", "validate")
	r.expect(t, exitOK)

	r = runCLI(t, "-chdir", "testdata/invalid", "validate")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, filepath.Join("testdata", "invalid", "main.hcl")+":") {
		t.Errorf("diagnostics do not name the file under -chdir:\n%s", r.stderr)
	}

	r = runCLI(t, "-chdir=testdata/no-such-dir", "validate")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "-chdir=testdata/no-such-dir") {
		t.Errorf("stderr:\n%s", r.stderr)
	}

	r = runCLI(t, "-chdir=testdata/valid/main.hcl", "validate")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "not a directory") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

// semver is the form of a release's version: v1.2.3 or v1.2.3-rc.1.
var semver = regexp.MustCompile(`^v(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)\.(0|[1-9][0-9]*)(-[0-9A-Za-z.-]+)?$`)

func TestVersion(t *testing.T) {
	for _, args := range [][]string{{"version"}, {"-version"}} {
		r := runCLI(t, args...)
		r.expect(t, exitOK)
		want := "rowform " + Version + "\n" + runtime.Version()
		if !strings.HasPrefix(r.stdout, want) {
			t.Errorf("%v: stdout = %q, want prefix %q", args, r.stdout, want)
		}
		if r.stderr != "" {
			t.Errorf("stderr = %q", r.stderr)
		}
	}
	// Version is the one source of the version (release builds set it with
	// -ldflags -X); the test only holds it to its form, so that a release
	// does not have to edit a test.
	if !semver.MatchString(Version) {
		t.Errorf("Version = %q, want a semantic version vMAJOR.MINOR.PATCH[-PRERELEASE]", Version)
	}
	runCLI(t, "version", "extra").expect(t, exitError)
}

func TestSuggest(t *testing.T) {
	names := []string{"validate", "fmt", "version", "plan", "apply", "show"}
	for given, want := range map[string]string{
		"valdate":  "validate",
		"VALIDATE": "validate",
		"fnt":      "fmt",
		"verison":  "version",
		"pla":      "plan",
		"ap":       "apply",
		"xyzzy":    "",
		"":         "",
	} {
		if got := suggest.ClosestOrPrefix(given, names); got != want {
			t.Errorf("suggest.ClosestOrPrefix(%q) = %q, want %q", given, got, want)
		}
	}
}

func TestUseColor(t *testing.T) {
	var buf bytes.Buffer
	inv := &invocation{environ: []string{"TERM=xterm"}}
	if inv.useColor(false, &buf) || isTerminal(&buf) {
		t.Error("a buffer is not a terminal")
	}
	f, err := os.CreateTemp(t.TempDir(), "out")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if inv.useColor(false, f) || isTerminal(f) || terminalWidth(f) != 0 {
		t.Error("a regular file is not a terminal")
	}

	// A stand-in terminal: only buf is one.
	var other bytes.Buffer
	onBuf := func(w io.Writer) bool { return w == &buf }
	for _, tc := range []struct {
		name    string
		environ []string
		noColor bool
		w       io.Writer
		want    bool
	}{
		{"terminal", []string{"TERM=xterm"}, false, &buf, true},
		{"terminal_no_TERM", nil, false, &buf, true},
		{"not_a_terminal", []string{"TERM=xterm"}, false, &other, false},
		{"no_color_flag", []string{"TERM=xterm"}, true, &buf, false},
		{"NO_COLOR", []string{"TERM=xterm", "NO_COLOR=1"}, false, &buf, false},
		{"NO_COLOR_empty", []string{"TERM=xterm", "NO_COLOR="}, false, &buf, true},
		{"TERM_dumb", []string{"TERM=dumb"}, false, &buf, false},
		{"TERM_dumb_last_wins", []string{"TERM=dumb", "TERM=xterm"}, false, &buf, true},
	} {
		inv := &invocation{environ: tc.environ, terminal: onBuf}
		if got := inv.useColor(tc.noColor, tc.w); got != tc.want {
			t.Errorf("%s: useColor = %v, want %v", tc.name, got, tc.want)
		}
	}
}

func TestGetenvLastWins(t *testing.T) {
	inv := &invocation{environ: []string{"A=1", "B=2", "A=3"}}
	if got := inv.getenv("A"); got != "3" {
		t.Errorf("getenv(A) = %q", got)
	}
	if got := inv.getenv("C"); got != "" {
		t.Errorf("getenv(C) = %q", got)
	}
}
