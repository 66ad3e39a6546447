// Package cli is rowform's command line: global options, the command table
// and one file per command. Run is the whole program; main only calls it,
// so tests run the command line in-process with their own streams.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/rowform/rowform/cmd/rowform/internal/views"
	"github.com/rowform/rowform/internal/environ"
	"github.com/rowform/rowform/internal/redact"
	"github.com/rowform/rowform/internal/sshtunnel"
	"github.com/rowform/rowform/internal/suggest"
)

// Exit codes shared by the commands (the README's Commands).
const (
	exitOK          = 0
	exitError       = 1
	exitUnformatted = 3 // fmt -check: some files are not canonical
)

// Run runs rowform with the command-line arguments args (without the
// program name) and returns the process exit code. Results go to stdout,
// errors and diagnostics to stderr. The process environment is read once,
// here.
func Run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	inv := &invocation{stdin: stdin, stdout: stdout, stderr: stderr, environ: os.Environ()}
	return inv.run(ctx, args)
}

// redactOutput makes everything the invocation prints pass through writers
// that mask the configuration's secrets, as a last line of defence: a
// server may echo a secret back in an error message. The returned function
// writes out what is left.
func (inv *invocation) redactOutput() func() {
	if inv.redactor == nil {
		inv.redactor = &redact.Redactor{}
	}
	out, errw := redact.NewWriter(inv.stdout, inv.redactor), redact.NewWriter(inv.stderr, inv.redactor)
	inv.stdout, inv.stderr = out, errw
	return func() {
		_ = out.Flush()
		_ = errw.Flush()
	}
}

// invocation is what one run of rowform works with: its streams, its
// environment and the configuration directory. Commands get everything from
// it, never from process globals, so tests can run many at once.
type invocation struct {
	stdin          io.Reader
	stdout, stderr io.Writer
	// environ is the environment in os.Environ form.
	environ []string
	// dir is the configuration directory: -chdir=DIR, or "." for the
	// working directory.
	dir string
	// redactor masks the loaded configuration's secrets in all output.
	redactor *redact.Redactor
	// terminal reports whether a writer is a terminal; nil means
	// isTerminal. Tests set it to stand in for a terminal.
	terminal func(io.Writer) bool
	// tunnel tunes the SSH tunnels of every command (zero: the defaults);
	// tests shorten its keepalives.
	tunnel sshtunnel.Options
}

// isTerminal reports whether w is a terminal, by inv.terminal when set.
func (inv *invocation) isTerminal(w io.Writer) bool {
	if inv.terminal != nil {
		return inv.terminal(w)
	}
	return isTerminal(w)
}

// flush writes out partial lines (before a prompt waits for input).
func (inv *invocation) flush() {
	flushWriter(inv.stdout)
	flushWriter(inv.stderr)
}

// flushWriter writes out what w holds back, when it holds back a partial
// line (the masking writers do).
func flushWriter(w io.Writer) {
	if f, ok := w.(interface{ Flush() error }); ok {
		_ = f.Flush()
	}
}

// getenv returns the value of the environment variable name, or "".
func (inv *invocation) getenv(name string) string { return environ.Get(inv.environ, name) }

// path resolves a file named on the command line (a plan file, -out,
// -changes, -rejects-file, fmt's arguments): an absolute name as it is, a
// relative one from the configuration directory (-chdir).
func (inv *invocation) path(name string) string {
	if filepath.IsAbs(name) {
		return name
	}
	return filepath.Join(inv.dir, name)
}

// errorf prints an error to stderr, after "rowform: ", with control
// characters escaped (views.Printable): errors carry servers' messages.
func (inv *invocation) errorf(format string, args ...any) {
	fmt.Fprintln(inv.stderr, "rowform: "+views.Printable(fmt.Sprintf(format, args...)))
}

// globalFlags are the options given before the command.
type globalFlags struct {
	chdir   string
	version bool
}

func (g *globalFlags) bind(fs *flag.FlagSet) {
	fs.StringVar(&g.chdir, "chdir", "", "use `DIR` as the configuration directory instead of the working directory")
	fs.BoolVar(&g.version, "version", false, "print the version (same as the version command)")
}

func (inv *invocation) run(ctx context.Context, args []string) int {
	defer inv.redactOutput()()
	var g globalFlags
	fs := newFlagSet("rowform")
	g.bind(fs)
	err := fs.Parse(args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		inv.writeUsage(inv.stdout, fs)
		return exitOK
	case err != nil:
		inv.errorf("%s", describeFlagError(err, fs))
		fmt.Fprintln(inv.stderr, "Run 'rowform -help' for usage.")
		return exitError
	}
	rest := fs.Args()
	if g.version {
		rest = []string{"version"}
	}
	if len(rest) == 0 {
		inv.writeUsage(inv.stderr, fs)
		return exitError
	}

	name, cmdArgs := rest[0], rest[1:]
	if name == "help" {
		return inv.help(ctx, fs, cmdArgs)
	}
	cmd := lookupCommand(name)
	if cmd == nil {
		msg := fmt.Sprintf("unknown command %q.", name)
		if s := suggest.ClosestOrPrefix(name, commandNames()); s != "" {
			msg += fmt.Sprintf(" Did you mean %q?", s)
		}
		inv.errorf("%s", msg)
		fmt.Fprintln(inv.stderr, "Run 'rowform -help' for the list of commands.")
		return exitError
	}

	inv.dir = "."
	if g.chdir != "" {
		dir, err := checkDir(g.chdir)
		if err != nil {
			inv.errorf("-chdir=%s: %s", g.chdir, err)
			return exitError
		}
		inv.dir = dir
	}
	stop := inv.startProfiles(name)
	defer stop()
	return cmd.run(ctx, inv, cmdArgs)
}

// help serves `rowform help [COMMAND]`.
func (inv *invocation) help(ctx context.Context, global *flag.FlagSet, args []string) int {
	if len(args) == 0 {
		inv.writeUsage(inv.stdout, global)
		return exitOK
	}
	cmd := lookupCommand(args[0])
	if cmd == nil {
		inv.errorf("no help for unknown command %q", args[0])
		return exitError
	}
	return cmd.run(ctx, inv, []string{"-help"})
}

// checkDir returns dir, cleaned, if it names an existing directory.
func checkDir(dir string) (string, error) {
	st, err := os.Stat(dir)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return "", err
	}
	if !st.IsDir() {
		return "", errors.New("not a directory")
	}
	return filepath.Clean(dir), nil
}

func (inv *invocation) writeUsage(w io.Writer, global *flag.FlagSet) {
	fmt.Fprint(w, `Usage: rowform [global options] <command> [options]

rowform syncs rows into PostgreSQL tables from configuration files:
declare destinations, sources and syncs in HCL, then check and apply them.

Commands:
`)
	tw := newTable(w)
	for _, c := range commands() {
		fmt.Fprintf(tw, "  %s\t%s\n", c.name, c.synopsis)
	}
	_ = tw.Flush()
	fmt.Fprint(w, "\nGlobal options (before the command):\n")
	writeFlagHelp(w, global)
	fmt.Fprint(w, "\nRun 'rowform <command> -help' for the options of a command.\n")
}
