package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/rowform/rowform/cmd/rowform/internal/views"
	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/plural"
	"github.com/rowform/rowform/internal/safefile"
	"github.com/rowform/rowform/planner"
	"golang.org/x/term"
)

// applyFlags are the options of `rowform apply`.
type applyFlags struct {
	runFlags
	autoApprove      bool
	lockTimeout      time.Duration
	statementTimeout time.Duration
	rejectsFile      string
	planFile         string
	args             []string
}

func (f *applyFlags) bind(fs *flag.FlagSet) {
	f.runFlags.bind(fs)
	fs.BoolVar(&f.autoApprove, "auto-approve", false, "apply without asking for confirmation")
	fs.DurationVar(&f.lockTimeout, "lock-timeout", 0, "wait up to `DURATION` (such as 30s or 5m) for another apply of the same table (default: fail at once)")
	fs.DurationVar(&f.statementTimeout, "statement-timeout", 0, "cancel any statement of the apply that runs longer than `DURATION` (default: none)")
	fs.StringVar(&f.rejectsFile, "rejects-file", "", "write every row left out by on_reject = \"skip\" to `FILE`, one JSON object a line")
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
		if f.undo != 0 {
			return fmt.Errorf("-undo cannot be combined with a plan file: the plan file already is the plan to apply (plan -undo=RUN -out=FILE makes one)")
		}
	default:
		return fmt.Errorf("apply takes at most one argument, a plan file; got %d. Options go before the plan file: rowform apply [options] PLANFILE", len(f.args))
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

  With -auto-approve (and no PLANFILE) no one needs to see the plan before
  the transaction: each sync is planned inside its own transaction, after
  taking the table's lock, by the one diff that then writes it. Its plan is
  printed before anything of it is written, as plan prints it. A sync
  whose plan has an error (a crossed guard, say) writes nothing and the
  syncs that depend on it are skipped; the others are applied. Errors
  found without reading rows (connections, tables, columns, keys, grants)
  still stop every sync, as they do without -auto-approve.

  Each sync is applied in one transaction: all of its rows or none. Two
  applies of one table never run at once. Every apply is recorded in the
  destination's history (docs/history.md); -undo=RUN plans the undo of a
  recorded run, shows it and applies it as any plan.

  A sync with on_reject = "skip" writes every row but those the
  destination would refuse, and lists the ones it left out;
  -rejects-file=FILE writes all of them to FILE, one JSON object a line
  (the file is replaced, and left empty when no row was left out).

  Exit status: 0 when everything was applied (or there was nothing to do),
  1 when anything failed or was refused.`,
		run: runApply,
	}.build()
}

// runApply is apply in three stages: the plan to apply, from a plan file
// (savedPlan) or made now (newPlan, which hands -auto-approve to the
// unattended apply), then applyPlan.
func runApply(ctx context.Context, inv *invocation, f *applyFlags) int {
	var (
		cfg  *hclconfig.Config
		p    *planner.Plan
		code int
		ok   bool
	)
	// -rejects-file is written after the apply: one that cannot be
	// written is refused before anything is.
	if f.rejectsFile != "" {
		if err := safefile.CheckWritable(inv.path(f.rejectsFile)); err != nil {
			inv.errorf("apply: -rejects-file cannot be written (%s); nothing was applied. Name a file in a directory you can write", err)
			return exitError
		}
	}
	if f.planFile != "" {
		cfg, p, code, ok = inv.savedPlan(ctx, f)
	} else {
		cfg, p, code, ok = inv.newPlan(ctx, f)
	}
	if !ok {
		return code
	}
	return inv.applyPlan(ctx, cfg, p, f)
}

// savedPlan reads the plan file and loads the configuration with the
// plan's variables; the plan must have been made from this configuration.
// It prints the plan (but for -json). ok is false when apply ends with
// code.
func (inv *invocation) savedPlan(ctx context.Context, f *applyFlags) (cfg *hclconfig.Config, p *planner.Plan, code int, ok bool) {
	jsonOut := f.format == views.FormatJSON
	saved, err := planner.ReadPlanFile(ctx, inv.path(f.planFile))
	if err != nil {
		return nil, nil, inv.applyFailed(jsonOut, err), false
	}
	// The plan's variables must fit this configuration and this run before
	// they are given to it (an undeclared one would read as a bad -var).
	if err := inv.changedSavedVariables(saved.Variables, f.inputs(ctx, inv), f.planFile); err != nil {
		return nil, nil, inv.applyFailed(jsonOut, err), false
	}
	in := f.inputs(ctx, inv)
	in.Vars = append(savedVarArgs(saved.Variables), in.Vars...)
	cfg = inv.loadConfig(&f.runFlags, in, "apply")
	if cfg == nil {
		return nil, nil, exitError, false
	}
	if cfg.Digest != saved.ConfigDigest {
		if given := unsavedVariables(cfg, saved.Variables); len(given) > 0 {
			return nil, nil, inv.applyFailed(jsonOut, fmt.Errorf("%w: the plan was made without a value for the variables %s, which this run gives: the plan used their defaults; nothing was written. Apply it without them, or run 'rowform plan -out=%s' with them",
				executor.ErrStale, strings.Join(given, ", "), f.planFile)), false
		}
		return nil, nil, inv.applyFailed(jsonOut, fmt.Errorf("%w: the configuration is not the one the plan was made from (it changed since, or the plan is of another configuration); nothing was written. Run 'rowform plan -out=%s' again", executor.ErrStale, f.planFile)), false
	}
	p = saved.Plan
	for _, sp := range p.Syncs {
		if s := cfg.Sync(sp.Name); s != nil {
			if why := sp.Mismatch(s); why != "" {
				return nil, nil, inv.applyFailed(jsonOut, fmt.Errorf("%s is not a plan rowform wrote: %s, and apply writes what the configuration says; nothing was written. Run 'rowform plan -out=%s' again", f.planFile, fmt.Sprintf("sync %q: %s", sp.Name, why), f.planFile)), false
			}
		}
	}
	if !jsonOut {
		_ = views.RenderPlan(inv.stdout, p, f.format, inv.useColor(f.noColor, inv.stdout))
	}
	return cfg, p, 0, true
}

// newPlan loads the configuration and plans it, after checking that
// someone can approve (or -auto-approve); it prints the plan (but for
// -json). With -auto-approve the unattended apply takes over and ok is
// false with its code.
func (inv *invocation) newPlan(ctx context.Context, f *applyFlags) (cfg *hclconfig.Config, p *planner.Plan, code int, ok bool) {
	jsonOut := f.format == views.FormatJSON
	if !f.autoApprove && (jsonOut || !inv.stdinIsTerminal()) {
		why := "there is no terminal to ask for confirmation on"
		if jsonOut {
			why = "-json output cannot be mixed with a confirmation prompt"
		}
		return nil, nil, inv.applyFailed(jsonOut, fmt.Errorf("confirmation is needed, but %s: review the plan and run 'rowform apply -auto-approve', or save it with 'rowform plan -out=FILE' and run 'rowform apply FILE'", why)), false
	}
	cfg = inv.loadConfig(&f.runFlags, f.inputs(ctx, inv), "apply")
	if cfg == nil {
		return nil, nil, exitError, false
	}
	// No one approves: each sync is planned inside its transaction
	// (unattended.go), unless a sync is broken before any row is read.
	if f.autoApprove && f.format != views.FormatMarkdown && f.undo == 0 {
		if code, done := inv.applyUnattended(ctx, cfg, f); done {
			return nil, nil, code, false
		}
	}
	p, err := inv.computePlan(ctx, cfg, &f.runFlags)
	if err != nil {
		return nil, nil, inv.applyFailed(jsonOut, err), false
	}
	if !jsonOut {
		if err := views.RenderPlan(inv.stdout, p, f.format, inv.useColor(f.noColor, inv.stdout)); err != nil {
			return nil, nil, inv.applyFailed(jsonOut, err), false
		}
	}
	return cfg, p, 0, true
}

// applyPlan applies p, once it is applyable and has something to do and
// (without a plan file or -auto-approve) the user said yes, and prints the
// result; -rejects-file is written after.
func (inv *invocation) applyPlan(ctx context.Context, cfg *hclconfig.Config, p *planner.Plan, f *applyFlags) int {
	jsonOut := f.format == views.FormatJSON
	if !p.Applyable {
		executor.RecordRefused(ctx, cfg, p, executor.Options{Environ: inv.environ, Tunnel: inv.tunnel, Version: Version})
		return inv.planRefused(jsonOut, p)
	}
	// A plan that only rejects rows still goes to the executor, which
	// writes nothing but lists the rows, so that they are reported every
	// time they are left out.
	if !p.HasChanges() && p.Summary.Reject == 0 {
		if jsonOut {
			writeJSON(inv.stdout, views.NewApplyDocument(&executor.Result{}, p))
		} else {
			fmt.Fprintln(inv.stdout, "\nNothing to apply.")
		}
		return inv.finishRejectsFile(f, &executor.Result{}, exitOK)
	}
	if f.planFile == "" && !f.autoApprove {
		if yes, interrupted := inv.confirm(ctx); !yes {
			if interrupted {
				fmt.Fprintln(inv.stdout, "\n\nApply cancelled (interrupted); nothing was written.")
			} else {
				fmt.Fprintln(inv.stdout, "\nApply cancelled; nothing was written.")
			}
			return exitError
		}
	}
	show, done := inv.statusLine(!jsonOut, f.noColor)
	opts := executor.Options{LockTimeout: f.lockTimeout, StatementTimeout: f.statementTimeout, Environ: inv.environ, Tunnel: inv.tunnel, Version: Version}
	if show != nil {
		opts.Progress = func(sync, phase string, rows int64) {
			if rows < 0 {
				show("%s: %s", sync, phase)
				return
			}
			show("%s: %s %s", sync, phase, plural.Count(rows, "row"))
		}
	}
	res := executor.Apply(ctx, cfg, p, opts)
	defer res.Close()
	done()
	code := exitOK
	if res.Failed() {
		code = exitError
	}
	if jsonOut {
		code = inv.writeApplyDocument(views.NewApplyDocument(res, p), code)
	} else {
		_ = views.RenderApplyText(inv.stdout, res, p, views.ApplyTextOptions{RejectsFile: f.rejectsFile, Color: inv.useColor(f.noColor, inv.stdout)})
	}
	return inv.finishRejectsFile(f, res, code)
}

// writeApplyDocument prints doc (apply -json) and returns code, or
// exitError when the rejected rows it lists cannot be read.
func (inv *invocation) writeApplyDocument(doc *views.ApplyDocument, code int) int {
	if err := views.WriteApplyDocument(inv.stdout, doc); err != nil {
		inv.errorf("apply: writing the result: %s", err)
		return exitError
	}
	return code
}

// finishRejectsFile writes -rejects-file, when given, after an apply that
// got as far as applying (or found nothing to apply), and returns code, or
// exitError when the file cannot be written.
func (inv *invocation) finishRejectsFile(f *applyFlags, res *executor.Result, code int) int {
	if f.rejectsFile == "" {
		return code
	}
	path := inv.path(f.rejectsFile)
	if err := writeRejectsFile(path, res, inv.redactor.Bytes); err != nil {
		inv.errorf("apply: writing the rejects file: %s", err)
		return exitError
	}
	return code
}

// writeRejectsFile writes every rejected row of res (SyncResult.Rejected, in
// sync order) to path as JSON lines: one planner.RejectedRow a line, "key"
// always an object. The content passes through filter (the secret
// redactor) when it is not nil, whole lines at a time, as output does. The
// file is replaced atomically: the rows go to a new temporary file in the
// same directory (created exclusively, mode 0600), which is then renamed
// over path, so path ends up with mode 0600 and holds either its old
// content or all the rows, never part of them. With no rejected row the
// file is empty. On failure the temporary file is removed. The rows are
// read one at a time: memory does not grow with their number.
func writeRejectsFile(path string, res *executor.Result, filter func([]byte) []byte) (err error) {
	return safefile.WriteFrom(path, func(w io.Writer) error {
		var lines []byte
		flush := func() error {
			out := lines
			if filter != nil {
				out = filter(out)
			}
			lines = lines[:0]
			_, err := w.Write(out)
			return err
		}
		for _, r := range res.Syncs {
			err := r.Rejected.Each(func(row *planner.RejectedRow) error {
				if row.Sync == "" {
					row.Sync = r.Name
				}
				b, err := json.Marshal(row)
				if err != nil {
					return err
				}
				lines = append(append(lines, b...), '\n')
				if len(lines) < rejectsChunk {
					return nil
				}
				return flush()
			})
			if err != nil {
				return err
			}
		}
		return flush()
	})
}

// rejectsChunk is about how many bytes of whole lines writeRejectsFile
// passes through its filter at a time.
const rejectsChunk = 256 << 10

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
		writeJSON(inv.stdout, views.ApplyRefusal(err, nil))
	} else {
		inv.errorf("apply: %s", err)
	}
	return exitError
}

// planRefused reports an apply that wrote nothing because p has errors;
// -json carries the plan. skipped are the syncs not attempted because a
// sync they depend on was refused: listed in the text, and in the JSON's
// syncs.
func (inv *invocation) planRefused(jsonOut bool, p *planner.Plan, skipped ...views.ApplySync) int {
	if jsonOut {
		doc := views.ApplyRefusal(errors.New("the plan has errors (see plan.syncs[].findings); nothing was applied"), p)
		doc.Syncs = append(doc.Syncs, skipped...)
		writeJSON(inv.stdout, doc)
		return exitError
	}
	for _, s := range skipped {
		fmt.Fprintf(inv.stdout, "\n- sync %q: skipped: %s\n", s.Name, s.Error)
	}
	return inv.applyFailed(jsonOut, errors.New("the plan has errors (see above); nothing was applied. Fix them and run apply again"))
}

func (inv *invocation) stdinIsTerminal() bool {
	f, ok := inv.stdin.(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// confirm asks for "yes" on the terminal. yes is whether the answer was
// "yes"; interrupted is true when ctx ended first (Ctrl-C, SIGTERM at the
// prompt), which is never a yes: the read of the terminal is abandoned
// rather than waited for, so the signal stops apply at once.
func (inv *invocation) confirm(ctx context.Context) (yes, interrupted bool) {
	fmt.Fprint(inv.stdout, "\nDo you want to apply these changes?\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ")
	inv.flush()
	answer := make(chan string, 1)
	go func() {
		line, err := bufio.NewReader(inv.stdin).ReadString('\n')
		if err != nil && err != io.EOF {
			line = ""
		}
		answer <- line
	}()
	select {
	case line := <-answer:
		if ctx.Err() != nil {
			return false, true
		}
		return strings.TrimSpace(line) == "yes", false
	case <-ctx.Done():
		return false, true
	}
}
