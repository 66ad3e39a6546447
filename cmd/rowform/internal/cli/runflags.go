package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/rowform/rowform/cmd/rowform/internal/views"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/planner"
	"github.com/zclconf/go-cty/cty"
)

// repeated is a flag that may be given several times.
type repeated []string

func (r *repeated) String() string     { return strings.Join(*r, ",") }
func (r *repeated) Set(v string) error { *r = append(*r, v); return nil }

// runFlags are the options plan and apply share (the README's Commands).
// maxShowRows is the most -show-rows takes: the samples of a sync are kept
// in memory in key order (each value up to 4,096 bytes), for a person to
// read; every change is what -changes writes.
const maxShowRows = 1000

type runFlags struct {
	vars     repeated
	varFiles repeated
	syncs    repeated
	json     bool
	format   string
	noColor  bool
	showRows int
	// undo is -undo=RUN: plan the undo of a run of the history instead
	// of the syncs (docs/history.md).
	undo int64
	// onChange, when set, receives every change of the plan
	// (planner.Options.Changes); plan sets it for -changes.
	onChange func(*planner.Change) error
	// flags is the flag set bind bound to, for given.
	flags *flag.FlagSet
}

func (f *runFlags) bind(fs *flag.FlagSet) {
	fs.Var(&f.vars, "var", "set the variable `NAME=VALUE` (repeatable)")
	fs.Var(&f.varFiles, "var-file", "read variable values from `FILE` (repeatable)")
	fs.Var(&f.syncs, "sync", "only the sync `NAME` and the syncs it depends on (repeatable)")
	fs.BoolVar(&f.json, "json", false, "machine-readable output on stdout; same as -format=json")
	fs.StringVar(&f.format, "format", "", "output `FORMAT`: text, json or markdown (default text)")
	fs.BoolVar(&f.noColor, "no-color", false, "print no ANSI colors (also NO_COLOR=1)")
	fs.IntVar(&f.showRows, "show-rows", 0, "show up to `N` example rows (those with the smallest keys) per change type and sync")
	fs.Int64Var(&f.undo, "undo", 0, "plan the undo of the run `RUN` of the history (see 'rowform history') instead of the syncs")
	f.flags = fs
}

// given reports whether the flag name was on the command line.
func (f *runFlags) given(name string) bool {
	found := false
	if f.flags != nil {
		f.flags.Visit(func(fl *flag.Flag) { found = found || fl.Name == name })
	}
	return found
}

func (f *runFlags) check() error {
	switch {
	case f.json && f.format != "" && f.format != views.FormatJSON:
		return fmt.Errorf("-json and -format=%s contradict each other", f.format)
	case f.json:
		f.format = views.FormatJSON
	case f.format == "":
		f.format = views.FormatText
	}
	switch f.format {
	case views.FormatText, views.FormatJSON, views.FormatMarkdown:
	default:
		return fmt.Errorf("-format must be text, json or markdown, not %q", f.format)
	}
	if f.showRows < 0 {
		return fmt.Errorf("-show-rows must be 0 or more")
	}
	if f.showRows > maxShowRows {
		return fmt.Errorf("-show-rows shows at most %d rows per change type and sync (the samples are kept in memory, in key order); for every change, use -changes=FILE", maxShowRows)
	}
	if f.undo < 0 || (f.undo == 0 && f.given("undo")) {
		// 0 is no run: a script's empty or unset run id must not plan the
		// syncs instead of an undo.
		return fmt.Errorf("-undo takes a run's id, a whole number from 1 (see 'rowform history'), not %d", f.undo)
	}
	return nil
}

// inputs are the variable inputs of the command line and environment.
// ctx bounds the wait for a -var-file or file() that is a pipe.
func (f *runFlags) inputs(ctx context.Context, inv *invocation) hclconfig.Inputs {
	return hclconfig.Inputs{VarFiles: f.varFiles, Vars: f.vars, Environ: inv.environ, Context: ctx}
}

// loadConfig loads the configuration; on errors it reports the diagnostics
// and returns nil. For -format=json they are the command's own document on
// stdout: plan's (views.InvalidConfiguration), apply's (an ApplyDocument
// refusal); history -json, whose document lists runs, reports them as text
// on stderr, as it does its other errors.
func (inv *invocation) loadConfig(f *runFlags, in hclconfig.Inputs, command string) *hclconfig.Config {
	cfg, diags := hclconfig.Load(inv.dir, in)
	inv.redactor.Add(cfg.Secrets()...)
	if diags.HasErrors() {
		if f.format == views.FormatJSON && command == "apply" {
			writeJSON(inv.stdout, views.ApplyInvalidConfiguration(diags))
		} else if f.format == views.FormatJSON && command != "history" {
			writeJSON(inv.stdout, views.NewInvalidConfiguration(diags))
		} else {
			_ = views.WriteDiagnostics(inv.stderr, cfg.Files, diags, terminalWidth(inv.stderr), inv.useColor(f.noColor, inv.stderr), inv.redactor.String)
			fmt.Fprintf(inv.stderr, "rowform: %s: the configuration could not be loaded: %s.\n", command, views.CountSummary(diags))
		}
		return nil
	}
	if len(diags) > 0 && f.format != views.FormatJSON {
		_ = views.WriteDiagnostics(inv.stderr, cfg.Files, diags, terminalWidth(inv.stderr), inv.useColor(f.noColor, inv.stderr), inv.redactor.String)
	}
	return cfg
}

func writeJSON(w io.Writer, v any) {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(v)
}

// savedVariables returns the non-sensitive variables that were given a value
// at plan time (not defaults), as -var would take them, for apply to reuse.
// A variable that holds a secret or a piece of one (a password put together
// from two variables, an object with a password member) is not stored: a
// plan file never holds a secret, and a masked one would be applied as
// "(sensitive)". withheld names those, for the user to give them again.
func savedVariables(cfg *hclconfig.Config) (saved map[string]string, withheld []string) {
	secrets := cfg.Secrets()
	saved = map[string]string{}
	for name, v := range cfg.Variables {
		if v.Sensitive || v.Source == "default" || v.Source == "" {
			continue
		}
		if cfg.FeedsSecret(name) {
			withheld = append(withheld, name)
			continue
		}
		val, ok := cfg.NonSensitiveValue(name)
		if !ok || !val.IsWhollyKnown() || val.IsNull() {
			continue
		}
		if holdsSecret(val, secrets) {
			withheld = append(withheld, name)
			continue
		}
		saved[name] = renderVariable(val)
	}
	sort.Strings(withheld)
	if len(saved) == 0 {
		saved = nil
	}
	return saved, withheld
}

// renderVariable is a variable's value as -var takes it: a string as it
// is, anything else in HCL syntax.
func renderVariable(val cty.Value) string {
	if val.Type() == cty.String {
		return val.AsString()
	}
	return strings.TrimSpace(string(hclwrite.TokensForValue(val).Bytes()))
}

// holdsSecret reports whether a string or number in v contains one of
// secrets, or is a piece of one, both of four characters or more (as the
// output filter masks them): shorter pieces (a schema name "crm" inside a
// user name "crm_app") would withhold ordinary values and hide nothing.
func holdsSecret(v cty.Value, secrets []string) bool {
	const minPiece = 4
	found := false
	_ = cty.Walk(v, func(_ cty.Path, e cty.Value) (bool, error) {
		if found || e.IsNull() || !e.IsKnown() {
			return !found, nil
		}
		var text string
		switch e.Type() {
		case cty.String:
			text = e.AsString()
		case cty.Number:
			text = e.AsBigFloat().Text('f', -1)
		default:
			return true, nil
		}
		for _, s := range secrets {
			if len(s) >= minPiece && strings.Contains(text, s) || len(text) >= minPiece && strings.Contains(s, text) {
				found = true
			}
		}
		return !found, nil
	})
	return found
}

// statusLine shows progress on one rewritten line of stderr, only when it is
// a terminal and enabled. show is safe for concurrent use; clear erases the
// line at the end. Each call reaches the terminal at once (stderr's masking
// writer otherwise holds a line until its end). With -no-color (noColor),
// NO_COLOR or TERM=dumb it writes no escape sequence: the line is rewritten
// after a carriage return and padded with spaces over the longer line it
// replaces.
func (inv *invocation) statusLine(enabled, noColor bool) (show func(format string, args ...any), clear func()) {
	if !enabled || !inv.isTerminal(inv.stderr) {
		return nil, func() {}
	}
	escapes := inv.useColor(noColor, inv.stderr)
	var mu sync.Mutex
	width := 0 // in runes, of the line on the terminal now
	write := func(s string) {
		fmt.Fprint(inv.stderr, s)
		flushWriter(inv.stderr)
	}
	return func(format string, args ...any) {
			mu.Lock()
			defer mu.Unlock()
			line := "  " + fmt.Sprintf(format, args...)
			if escapes {
				write("\r\x1b[K" + line)
				return
			}
			n := utf8.RuneCountInString(line)
			write("\r" + line + strings.Repeat(" ", max(width-n, 0)))
			width = n
		}, func() {
			mu.Lock()
			defer mu.Unlock()
			switch {
			case escapes:
				write("\r\x1b[K")
			case width > 0:
				write("\r" + strings.Repeat(" ", width) + "\r")
				width = 0
			}
		}
}

// computePlan runs the planner with the run flags. Except with -json, it
// first says on stderr which syncs -sync takes along because the named ones
// depend on them.
func (inv *invocation) computePlan(ctx context.Context, cfg *hclconfig.Config, f *runFlags) (*planner.Plan, error) {
	if f.undo != 0 {
		return inv.computeUndo(ctx, cfg, f)
	}
	if f.format != views.FormatJSON {
		_, added, err := planner.SelectSyncs(cfg, f.syncs)
		if err != nil {
			return nil, err
		}
		inv.writeIncludedSyncs(added)
	}
	show, done := inv.statusLine(f.format == views.FormatText, f.noColor)
	defer done()
	opts := planner.Options{Syncs: f.syncs, ShowRows: f.showRows, Environ: inv.environ, Tunnel: inv.tunnel, Changes: f.onChange}
	if show != nil {
		opts.Progress = func(sync string, rows int64) { show("%s: %d rows read", sync, rows) }
	}
	return planner.Compute(ctx, cfg, opts)
}

// writeIncludedSyncs says, one line each on stderr, which syncs a plan
// limited by -sync covers because a sync of the plan depends on them.
func (inv *invocation) writeIncludedSyncs(added []planner.IncludedSync) {
	for _, a := range added {
		fmt.Fprintf(inv.stderr, "Including sync %q (sync %q depends on it).\n", a.Name, a.DependedOnBy)
	}
}
