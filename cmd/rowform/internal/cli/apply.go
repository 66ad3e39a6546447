package cli

import (
	"bufio"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/rowform/rowform/cmd/rowform/internal/views"
	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/planner"
	"golang.org/x/term"
)

// applyFlags are the options of `rowform apply`.
type applyFlags struct {
	runFlags
	autoApprove      bool
	lockTimeout      time.Duration
	statementTimeout time.Duration
	planFile         string
	args             []string
}

func (f *applyFlags) bind(fs *flag.FlagSet) {
	f.runFlags.bind(fs)
	fs.BoolVar(&f.autoApprove, "auto-approve", false, "apply without asking for confirmation")
	fs.DurationVar(&f.lockTimeout, "lock-timeout", 0, "wait up to DURATION for another apply of the same table (default: fail at once)")
	fs.DurationVar(&f.statementTimeout, "statement-timeout", 0, "cancel any statement of the apply that runs longer than DURATION (default: none)")
}

func (f *applyFlags) setArgs(args []string) { f.args = args }

func (f *applyFlags) check() error {
	switch len(f.args) {
	case 0:
	case 1:
		f.planFile = f.args[0]
		if len(f.syncs) > 0 {
			return fmt.Errorf("-sync cannot be combined with a plan file: the plan file already says which syncs it covers")
		}
		if f.showRows > 0 {
			return fmt.Errorf("-show-rows cannot be combined with a plan file")
		}
	default:
		return fmt.Errorf("apply takes at most one argument, a plan file; got %d", len(f.args))
	}
	if f.lockTimeout < 0 || f.statementTimeout < 0 {
		return fmt.Errorf("timeouts must not be negative")
	}
	return f.runFlags.check()
}

func applyCommand() *command {
	return commandSpec[applyFlags, *applyFlags]{
		name:     "apply",
		synopsis: "Apply the changes of a plan, one transaction per sync",
		usage: `
Usage: rowform [global options] apply [options] [PLANFILE]

  Without PLANFILE: plans, shows the plan, asks for "yes" on a terminal
  (or needs -auto-approve), then applies it. With PLANFILE (written by
  'rowform plan -out=PLANFILE'): applies exactly that plan, without asking,
  and refuses with "plan is stale" if the configuration, the source rows or
  the destination rows changed since.

  Each sync is applied in one transaction: all of its rows or none. Two
  applies of one table never run at once.

  Exit status: 0 when everything was applied (or there was nothing to do),
  1 when anything failed or was refused.`,
		run: runApply,
	}.build()
}

func runApply(ctx context.Context, inv *invocation, f *applyFlags) int {
	jsonOut := f.format == views.FormatJSON
	var (
		cfg *hclconfig.Config
		p   *planner.Plan
	)
	if f.planFile != "" {
		path := f.planFile
		if !filepath.IsAbs(path) {
			path = filepath.Join(inv.dir, path)
		}
		saved, err := planner.ReadPlanFile(path)
		if err != nil {
			return inv.applyFailed(jsonOut, err)
		}
		in := f.inputs(inv)
		in.Vars = append(savedVarArgs(saved.Variables), in.Vars...)
		cfg = inv.loadConfig(&f.runFlags, in, "apply")
		if cfg == nil {
			return exitError
		}
		if cfg.Digest != saved.ConfigDigest {
			return inv.applyFailed(jsonOut, fmt.Errorf("%w: the configuration changed since the plan was made; nothing was written. Run 'rowform plan -out=%s' again", executor.ErrStale, f.planFile))
		}
		p = saved.Plan
		if !jsonOut {
			_ = views.RenderPlan(inv.stdout, p, f.format, inv.useColor(f.noColor, inv.stdout))
		}
	} else {
		if !f.autoApprove && (jsonOut || !inv.stdinIsTerminal()) {
			why := "there is no terminal to ask for confirmation on"
			if jsonOut {
				why = "-json output cannot be mixed with a confirmation prompt"
			}
			return inv.applyFailed(jsonOut, fmt.Errorf("apply needs confirmation, but %s: review the plan and run 'rowform apply -auto-approve', or save it with 'rowform plan -out=FILE' and run 'rowform apply FILE'", why))
		}
		cfg = inv.loadConfig(&f.runFlags, f.inputs(inv), "apply")
		if cfg == nil {
			return exitError
		}
		var err error
		if p, err = inv.computePlan(ctx, cfg, &f.runFlags); err != nil {
			return inv.applyFailed(jsonOut, err)
		}
		if !jsonOut {
			if err := views.RenderPlan(inv.stdout, p, f.format, inv.useColor(f.noColor, inv.stdout)); err != nil {
				return inv.applyFailed(jsonOut, err)
			}
		}
	}
	if !p.Applyable {
		if jsonOut {
			writeJSON(inv.stdout, map[string]any{"format_version": planner.FormatVersion, "applied": false,
				"error": "the plan has errors (see plan.syncs[].findings); nothing was applied", "syncs": []any{}, "plan": p})
			return exitError
		}
		return inv.applyFailed(jsonOut, errors.New("the plan has errors (see above); nothing was applied. Fix them and run apply again"))
	}
	if !p.HasChanges() {
		if jsonOut {
			writeJSON(inv.stdout, newApplyDocument(&executor.Result{}, p))
		} else {
			fmt.Fprintln(inv.stdout, "\nNothing to apply.")
		}
		return exitOK
	}
	if f.planFile == "" && !f.autoApprove {
		if !inv.confirm() {
			fmt.Fprintln(inv.stdout, "\nApply cancelled; nothing was written.")
			return exitError
		}
	}
	show, done := inv.statusLine(!jsonOut)
	opts := executor.Options{LockTimeout: f.lockTimeout, StatementTimeout: f.statementTimeout, Environ: inv.environ}
	if show != nil {
		opts.Progress = func(sync, phase string, rows int64) {
			if rows < 0 {
				show("%s: %s", sync, phase)
				return
			}
			show("%s: %s %d rows", sync, phase, rows)
		}
	}
	res := executor.Apply(ctx, cfg, p, opts)
	done()
	if jsonOut {
		writeJSON(inv.stdout, newApplyDocument(res, p))
	} else {
		inv.writeApplyResult(res, inv.useColor(f.noColor, inv.stdout))
	}
	if res.Failed() {
		return exitError
	}
	return exitOK
}

// savedVarArgs turns a saved plan's variables into -var arguments.
func savedVarArgs(vars map[string]string) []string {
	var out []string
	for name, v := range vars {
		out = append(out, name+"="+v)
	}
	return out
}

// applyFailed reports an apply that wrote nothing.
func (inv *invocation) applyFailed(jsonOut bool, err error) int {
	if jsonOut {
		writeJSON(inv.stdout, map[string]any{"format_version": planner.FormatVersion, "applied": false, "error": err.Error(), "syncs": []any{}})
	} else {
		inv.errorf("apply: %s", err)
	}
	return exitError
}

func (inv *invocation) stdinIsTerminal() bool {
	f, ok := inv.stdin.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// confirm asks for "yes" on the terminal.
func (inv *invocation) confirm() bool {
	fmt.Fprint(inv.stdout, "\nDo you want to apply these changes?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
	inv.flush()
	line, err := bufio.NewReader(inv.stdin).ReadString('\n')
	if err != nil && err != io.EOF {
		return false
	}
	return strings.TrimSpace(line) == "yes"
}

// writeApplyResult prints what was applied per sync and the closing line.
func (inv *invocation) writeApplyResult(res *executor.Result, color bool) {
	w := inv.stdout
	paint := func(code, s string) string {
		if !color {
			return s
		}
		return "\x1b[" + code + "m" + s + "\x1b[0m"
	}
	fmt.Fprintln(w)
	var total planner.Counts
	applied, failed := 0, 0
	for _, r := range res.Syncs {
		switch r.Status {
		case executor.StatusApplied, executor.StatusNoChanges:
			applied++
			total.Insert += r.Applied.Insert
			total.Update += r.Applied.Update
			total.Delete += r.Applied.Delete
			fmt.Fprintf(w, "%s sync %q: %d inserted, %d updated, %d deleted (%s)\n", paint("32", "✓"), r.Name,
				r.Applied.Insert, r.Applied.Update, r.Applied.Delete, r.Duration.Round(time.Millisecond))
		default:
			failed++
			fmt.Fprintf(w, "%s sync %q %s: %s\n", paint("31", "✗"), r.Name, r.Status, r.Err)
			if r.OutcomeUnknown {
				fmt.Fprintf(w, "    the outcome of this sync is unknown: run 'rowform plan' to see whether it was applied\n")
			}
		}
	}
	fmt.Fprintln(w)
	if failed == 0 {
		fmt.Fprintln(w, paint("1;32", fmt.Sprintf("Apply complete: %d inserted, %d updated, %d deleted in %s.",
			total.Insert, total.Update, total.Delete, countSyncs(applied))))
		return
	}
	if applied == 0 {
		fmt.Fprintln(w, paint("1;31", fmt.Sprintf("Apply failed: %s did not apply; nothing was written.", countSyncs(failed))))
		return
	}
	fmt.Fprintln(w, paint("1;31", fmt.Sprintf("Apply failed: %s did not apply; %s applied (%d inserted, %d updated, %d deleted) and stay%s committed.",
		countSyncs(failed), countSyncs(applied), total.Insert, total.Update, total.Delete, verbS(applied))))
}

func countSyncs(n int) string {
	if n == 1 {
		return "1 sync"
	}
	return fmt.Sprintf("%d syncs", n)
}

func verbS(n int) string {
	if n == 1 {
		return "s"
	}
	return ""
}

// applyDocument is apply's -json output.
type applyDocument struct {
	FormatVersion string            `json:"format_version"`
	Applied       bool              `json:"applied"`
	Syncs         []applySyncResult `json:"syncs"`
	Summary       applySummary      `json:"summary"`
}

type applySyncResult struct {
	Name           string         `json:"name"`
	Table          string         `json:"table"`
	Status         string         `json:"status"`
	Applied        planner.Counts `json:"applied"`
	Error          string         `json:"error,omitempty"`
	OutcomeUnknown bool           `json:"outcome_unknown,omitempty"`
}

type applySummary struct {
	Syncs  int   `json:"syncs"`
	Failed int   `json:"failed"`
	Insert int64 `json:"insert"`
	Update int64 `json:"update"`
	Delete int64 `json:"delete"`
}

func newApplyDocument(res *executor.Result, p *planner.Plan) applyDocument {
	doc := applyDocument{FormatVersion: planner.FormatVersion, Applied: !res.Failed(), Syncs: []applySyncResult{}}
	if len(res.Syncs) == 0 {
		for _, sp := range p.Syncs {
			doc.Syncs = append(doc.Syncs, applySyncResult{Name: sp.Name, Table: sp.Table, Status: string(executor.StatusNoChanges)})
		}
	}
	for _, r := range res.Syncs {
		sr := applySyncResult{Name: r.Name, Table: r.Table, Status: string(r.Status), Applied: r.Applied, OutcomeUnknown: r.OutcomeUnknown}
		if r.Err != nil {
			sr.Error = r.Err.Error()
			doc.Summary.Failed++
		}
		doc.Summary.Insert += r.Applied.Insert
		doc.Summary.Update += r.Applied.Update
		doc.Summary.Delete += r.Applied.Delete
		doc.Syncs = append(doc.Syncs, sr)
	}
	doc.Summary.Syncs = len(doc.Syncs)
	return doc
}
