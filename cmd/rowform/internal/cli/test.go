package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/rowform/rowform/cmd/rowform/internal/views"
	"github.com/rowform/rowform/internal/plural"
	"github.com/rowform/rowform/internal/rftest"
	"github.com/rowform/rowform/internal/safefile"
)

// testFlags are the options of `rowform test`.
type testFlags struct {
	junit   string
	filter  repeated
	verbose bool
	noColor bool
	args    []string
}

func (f *testFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&f.junit, "junit", "", "also write the results to `FILE` as JUnit XML, for CI")
	fs.Var(&f.filter, "filter", "run only the test file `NAME`: tests/NAME.rftest.hcl, NAME.rftest.hcl or NAME (repeatable)")
	fs.BoolVar(&f.verbose, "verbose", false, "print the plan of every run")
	fs.BoolVar(&f.noColor, "no-color", false, "print no ANSI colors (also NO_COLOR=1)")
}

func (f *testFlags) setArgs(args []string) { f.args = args }

func (f *testFlags) check() error {
	if len(f.args) > 0 {
		return fmt.Errorf("unexpected argument %q: choose test files with -filter=NAME, and the configuration with 'rowform -chdir=DIR test'", f.args[0])
	}
	return nil
}

func testCommand() *command {
	return commandSpec[testFlags, *testFlags]{
		name:     "test",
		synopsis: "Run the tests in tests/*.rftest.hcl on a throwaway PostgreSQL",
		usage: `
Usage: rowform [global options] test [options]

  Runs the test files of the configuration: every *.rftest.hcl file in its
  tests/ directory (see docs/testing.md). A test file loads fixture rows
  into the tables of the configuration's servers and the contents of its
  CSV sources, then runs plans and applies of its syncs and checks what
  they planned (counts, finding codes) and what the tables hold after.

  The tests run on a throwaway PostgreSQL server that rowform starts
  (initdb and pg_ctl from ROWFORM_PG_BIN, else from PATH, else from
  /usr/lib/postgresql/*/bin or /usr/pgsql-*/bin) and removes afterwards,
  or on the server of ROWFORM_TEST_PG_URL=postgres://user:pass@host/db
  (a role that may create databases). Every test file gets fresh databases, one per server
  block of the configuration; no configured server is ever contacted.

  Exit status: 0 when every run of every test file passed, 1 otherwise.`,
		run: runTest,
	}.build()
}

func runTest(ctx context.Context, inv *invocation, f *testFlags) int {
	out := inv.stdout
	// The JUnit file is written after every test ran: one that cannot be
	// written is refused before any runs.
	if f.junit != "" {
		if err := safefile.CheckWritable(inv.path(f.junit)); err != nil {
			inv.errorf("test: -junit cannot be written (%s); no test was run. Name a file in a directory you can write", err)
			return exitError
		}
	}
	color := inv.useColor(f.noColor, inv.stdout)
	c := views.Colors{On: color}
	status := func(s rftest.Status) string {
		switch s {
		case rftest.StatusPass:
			return c.Green("pass")
		case rftest.StatusSkip:
			return c.Yellow("skip")
		case rftest.StatusError:
			return c.Red("error")
		}
		return c.Red("fail")
	}
	diagText := func(fr *rftest.FileResult, color bool) string {
		var b bytes.Buffer
		_ = views.WriteDiagnostics(&b, fr.Files, fr.Diags, terminalWidth(inv.stderr), color, inv.redactor.String)
		return b.String()
	}
	opts := rftest.Options{
		Dir: inv.dir, Filter: f.filter, Environ: inv.environ, Log: inv.stderr,
		AddSecrets: func(s ...string) { inv.redactor.Add(s...) },
		OnFile:     func(path string) { fmt.Fprintf(out, "%s...\n", path) },
		OnRun: func(path string, r *rftest.RunResult) {
			fmt.Fprintf(out, "  run %q... %s (%s)\n", r.Name, status(r.Status), r.Duration.Round(10*time.Millisecond))
			for _, msg := range r.Failures {
				for _, l := range strings.Split(views.Printable(msg), "\n") {
					fmt.Fprintf(out, "    %s\n", l)
				}
			}
			if r.Err != nil {
				fmt.Fprintf(out, "    %s\n", strings.ReplaceAll(views.Printable(r.Err.Error()), "\n", "\n    "))
			}
			if f.verbose && r.Plan != nil {
				var b bytes.Buffer
				_ = views.RenderPlanHuman(&b, r.Plan, views.HumanOptions{Color: color})
				for _, l := range strings.Split(strings.TrimRight(b.String(), "\n"), "\n") {
					fmt.Fprintf(out, "    | %s\n", l)
				}
			}
		},
		OnFileDone: func(fr *rftest.FileResult) {
			if len(fr.Diags) > 0 {
				fmt.Fprint(inv.stderr, diagText(fr, inv.useColor(f.noColor, inv.stderr)))
			}
			if fr.Err != nil {
				fmt.Fprintf(out, "  %s\n", strings.ReplaceAll(views.Printable(fr.Err.Error()), "\n", "\n  "))
			}
			result := status(rftest.StatusPass)
			if fr.Failed() {
				result = status(rftest.StatusFail)
			}
			fmt.Fprintf(out, "%s... %s\n\n", fr.Path, result)
		},
	}
	res, err := rftest.Run(ctx, opts)
	if err != nil {
		inv.errorf("test: %s", err)
		if f.junit != "" {
			// The report says why, with the files that ran before.
			writeJUnit(inv, f.junit, res, diagText)
		}
		return exitError
	}
	passed, failed, skipped, fileErrors := res.Counts()
	summary := fmt.Sprintf("%d passed, %d failed", passed, failed)
	if skipped > 0 {
		summary += fmt.Sprintf(", %d skipped", skipped)
	}
	if fileErrors > 0 {
		summary += fmt.Sprintf("; %s could not be run", plural.Count(fileErrors, "test file"))
	}
	if res.Passed() {
		fmt.Fprintln(out, c.BoldGreen("Success!")+" "+summary+".")
	} else {
		fmt.Fprintln(out, c.BoldRed("Failure!")+" "+summary+".")
	}
	if f.junit != "" && !writeJUnit(inv, f.junit, res, diagText) {
		return exitError
	}
	if !res.Passed() {
		return exitError
	}
	return exitOK
}

// writeJUnit writes res to path as JUnit XML, secrets masked, and reports
// whether it could; it says why not.
func writeJUnit(inv *invocation, path string, res *rftest.Result, diagText func(*rftest.FileResult, bool) string) bool {
	var b bytes.Buffer
	err := res.WriteJUnit(&b, func(fr *rftest.FileResult) string { return diagText(fr, false) })
	if err == nil {
		// Replaced, never written through: a pull request can commit
		// the report's path as a link to a file of the runner.
		err = safefile.Write(inv.path(path), inv.redactor.Bytes(b.Bytes()))
	}
	if err != nil {
		inv.errorf("test: writing the JUnit file: %s", err)
		return false
	}
	return true
}
