package cli

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/redact"
	"github.com/rowform/rowform/internal/rftest"

	"github.com/rowform/rowform/cmd/rowform/internal/views"
)

// fmtFlags are the options of `rowform fmt`.
type fmtFlags struct {
	checkOnly bool
	diff      bool
	noColor   bool
	files     []string
}

func (f *fmtFlags) bind(fs *flag.FlagSet) {
	fs.BoolVar(&f.checkOnly, "check", false, "write nothing; list unformatted files and exit 3 if there are any")
	fs.BoolVar(&f.diff, "diff", false, "print a unified diff of the changes")
	fs.BoolVar(&f.noColor, "no-color", false, "print no ANSI colors in diagnostics (also NO_COLOR=1)")
}

func (f *fmtFlags) setArgs(args []string) { f.files = args }

func (f *fmtFlags) check() error {
	stdin := 0
	for _, name := range f.files {
		switch name {
		case "":
			return errors.New("empty file name")
		case "-":
			stdin++
		}
	}
	if stdin > 1 {
		return errors.New(`"-" (standard input) may be given once`)
	}
	return nil
}

func fmtCommand() *command {
	return commandSpec[fmtFlags, *fmtFlags]{
		name:     "fmt",
		synopsis: "Rewrite configuration files in canonical style",
		usage: `
Usage: rowform [global options] fmt [options] [FILE...]

  Rewrites HCL files in canonical style and prints the names of the files
  it changed. Without FILE arguments it formats every *.hcl file directly
  in the configuration directory, *.vars.hcl files included, and the test
  files tests/*.rftest.hcl (see 'rowform test'). A FILE may be
  a directory (its *.hcl files) or "-": standard input, formatted to
  standard output. Relative names are relative to the configuration
  directory.

  Exit status: 0 when done, 1 when a file cannot be read, parsed or
  written, 3 with -check when some file is not formatted.`,
		run: runFmt,
	}.build()
}

// fmtTarget is one file to format.
type fmtTarget struct {
	path    string // "" for standard input
	display string // the name printed to the user
}

func runFmt(_ context.Context, inv *invocation, f *fmtFlags) int {
	targets, failed := inv.fmtTargets(f.files)
	files := map[string]*hcl.File{}
	var diags hcl.Diagnostics
	// Literal passwords in the files are masked in the diagnostics' snippets
	// and in -diff's lines (CI logs show them), never in the formatted
	// files, which are written (or, for "-", printed) as they are.
	// The files are read first, so that a secret one file holds is masked
	// in every file's diff.
	var secrets redact.Redactor
	srcs := make([][]byte, len(targets))
	read := make([]bool, len(targets))
	for i, t := range targets {
		src, err := t.read(inv.stdin)
		if err != nil {
			inv.errorf("fmt: %s", err)
			failed = true
			continue
		}
		srcs[i], read[i] = src, true
		secrets.Add(hclconfig.LiteralSecrets(src)...)
	}
	// A variables file's values of sensitive variables are secrets too,
	// the variables declared in the configuration beside it.
	sensitive := inv.sensitiveVariables(targets)
	for i, t := range targets {
		if read[i] && strings.HasSuffix(t.path, hclconfig.VarFileSuffix) {
			secrets.Add(hclconfig.VarsFileSecrets(srcs[i], sensitive)...)
		}
	}
	unformatted := 0
	for i, t := range targets {
		if !read[i] {
			continue
		}
		src := srcs[i]
		if d := hclconfig.CheckNesting(src, t.display, hcl.InitialPos); d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		parsed, d := hclsyntax.ParseConfig(src, t.display, hcl.InitialPos)
		if parsed != nil {
			files[t.display] = parsed
		}
		if d.HasErrors() {
			diags = append(diags, d...)
			continue
		}
		out := hclwrite.Format(src)
		changed := !bytes.Equal(src, out)
		if changed {
			unformatted++
		}
		if t.path == "" {
			if f.diff {
				_, _ = io.WriteString(inv.stdout, secrets.String(unifiedDiff(t.display+".orig", t.display, src, out)))
			} else if !f.checkOnly {
				_, _ = inv.stdout.Write(out)
			}
			continue
		}
		if !changed {
			continue
		}
		fmt.Fprintln(inv.stdout, t.display)
		if f.diff {
			_, _ = io.WriteString(inv.stdout, secrets.String(unifiedDiff(t.display+".orig", t.display, src, out)))
		}
		if !f.checkOnly {
			// WriteFile keeps the mode of an existing file.
			if err := os.WriteFile(t.path, out, 0o644); err != nil {
				inv.errorf("fmt: %s", err)
				failed = true
			}
		}
	}
	if len(diags) > 0 {
		color := inv.useColor(f.noColor, inv.stderr)
		var buf bytes.Buffer
		if err := views.WriteDiagnostics(&buf, files, diags, terminalWidth(inv.stderr), color, secrets.String); err != nil {
			inv.errorf("fmt: %s", err)
		}
		_, _ = inv.stderr.Write(secrets.Bytes(buf.Bytes()))
		fmt.Fprintf(inv.stderr, "Files with syntax errors were not formatted: %s.\n", views.CountSummary(diags))
		failed = true
	}
	switch {
	case failed:
		return exitError
	case f.checkOnly && unformatted > 0:
		return exitUnformatted
	default:
		return exitOK
	}
}

// fmtTargets resolves the FILE arguments; none means every *.hcl file of
// the configuration directory. Problems are printed; failed reports them.
func (inv *invocation) fmtTargets(args []string) (targets []fmtTarget, failed bool) {
	if len(args) == 0 {
		paths, err := hclFiles(inv.dir)
		if err != nil {
			inv.errorf("fmt: %s", err)
			return nil, true
		}
		// The test files of rowform test, too.
		if tests, err := rftest.FindFiles(inv.dir); err == nil {
			for _, t := range tests {
				paths = append(paths, filepath.Join(inv.dir, t))
			}
		}
		for _, p := range paths {
			targets = append(targets, fmtTarget{path: p, display: displayPath(p)})
		}
		return targets, false
	}
	// A file named twice (itself and in its directory: fmt . x.vars.hcl)
	// is a target once, where it is first named.
	seen := map[string]bool{}
	add := func(p string) {
		key := filepath.Clean(p)
		if abs, err := filepath.Abs(p); err == nil {
			key = abs
		}
		if !seen[key] {
			seen[key] = true
			targets = append(targets, fmtTarget{path: p, display: displayPath(p)})
		}
	}
	for _, arg := range args {
		if arg == "-" {
			targets = append(targets, fmtTarget{display: "<stdin>"})
			continue
		}
		p := inv.path(arg)
		st, err := os.Stat(p)
		if err != nil {
			inv.errorf("fmt: %s", err)
			failed = true
			continue
		}
		if !st.IsDir() {
			add(p)
			continue
		}
		paths, err := hclFiles(p)
		if err != nil {
			inv.errorf("fmt: %s", err)
			failed = true
			continue
		}
		for _, p := range paths {
			add(p)
		}
	}
	return targets, failed
}

func (t fmtTarget) read(stdin io.Reader) ([]byte, error) {
	if t.path == "" {
		return io.ReadAll(stdin)
	}
	return os.ReadFile(t.path)
}

// sensitiveVariables returns the names of the variables declared
// sensitive in the configuration files (not *.vars.hcl) of the
// configuration directory and of the directories of the targets.
func (inv *invocation) sensitiveVariables(targets []fmtTarget) map[string]bool {
	dirs := map[string]bool{inv.dir: true}
	for _, t := range targets {
		if t.path != "" {
			dirs[filepath.Dir(t.path)] = true
		}
	}
	names := map[string]bool{}
	for dir := range dirs {
		paths, _ := hclFiles(dir)
		for _, p := range paths {
			if strings.HasSuffix(p, hclconfig.VarFileSuffix) {
				continue
			}
			src, err := os.ReadFile(p)
			if err != nil {
				continue // fmt says so for its targets; others are context only
			}
			maps.Copy(names, hclconfig.SensitiveVariables(src))
		}
	}
	return names
}

// hclFiles lists the *.hcl files directly in dir, *.vars.hcl included, sorted.
func hclFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), ".hcl") {
			paths = append(paths, filepath.Join(dir, e.Name()))
		}
	}
	sort.Strings(paths)
	return paths, nil
}

// displayPath names p for the user as the configuration loader does:
// relative to the working directory when p is inside it, else absolute.
func displayPath(p string) string {
	abs, err := filepath.Abs(p)
	if err != nil {
		return p
	}
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, abs); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return abs
}
