package cli

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/rowform/rowform/cmd/rowform/internal/views"
	"github.com/rowform/rowform/internal/plural"
	"github.com/rowform/rowform/internal/safefile"
	"github.com/rowform/rowform/planner"
)

// exitChanges is plan's exit code for "changes present" with -detailed-exitcode.
const exitChanges = 2

// planFlags are the options of `rowform plan`.
type planFlags struct {
	runFlags
	out              string
	changes          string
	detailedExitcode bool
	args             []string
}

func (f *planFlags) bind(fs *flag.FlagSet) {
	f.runFlags.bind(fs)
	fs.StringVar(&f.out, "out", "", "save the plan to `FILE` for 'rowform apply FILE'")
	fs.StringVar(&f.changes, "changes", "", "write every planned change to `FILE`, one JSON object a line (sync, kind, key, before, after; sensitive values masked)")
	fs.BoolVar(&f.detailedExitcode, "detailed-exitcode", false, "exit 2 when the plan has changes (0 none, 1 error)")
}

func (f *planFlags) setArgs(args []string) { f.args = args }

func (f *planFlags) check() error {
	if len(f.args) > 0 {
		return fmt.Errorf("unexpected argument %q: plan takes only options; choose the configuration with 'rowform -chdir=DIR plan'", f.args[0])
	}
	return f.runFlags.check()
}

func planCommand() *command {
	return commandSpec[planFlags, *planFlags]{
		name:     "plan",
		synopsis: "Show exactly what apply would change; writes nothing",
		usage: `
Usage: rowform [global options] plan [options]

  Connects to every source and destination, compares the rows, and shows
  per sync how many rows would be inserted, updated and deleted, and every
  problem that would stop the sync with the SQL that fixes it. plan never
  writes to a database: source queries run in read-only transactions.

  With -undo=RUN it plans the undo of a run that apply recorded in the
  destination's history (see 'rowform history'): the rows the run
  inserted are deleted, the rows it deleted inserted again, the columns it
  updated written back; rows changed since are undo_conflict findings.

  Exit status: 0 when the plan succeeded (with -detailed-exitcode: and has
  no changes), 1 on an error or a blocking finding, 2 with
  -detailed-exitcode when changes are present.`,
		run: runPlan,
	}.build()
}

func runPlan(ctx context.Context, inv *invocation, f *planFlags) int {
	// The files the plan is written to are checked before the servers are
	// asked anything: a plan of a large table is not made to be lost.
	for _, out := range []struct{ flag, name string }{{"-out", f.out}, {"-changes", f.changes}} {
		if out.name == "" {
			continue
		}
		if err := safefile.CheckWritable(inv.path(out.name)); err != nil {
			inv.errorf("plan: %s=%s cannot be written (%s); nothing was planned. Name a file in a directory you can write", out.flag, out.name, err)
			return exitError
		}
	}
	in := f.inputs(ctx, inv)
	cfg := inv.loadConfig(&f.runFlags, in, "plan")
	if cfg == nil {
		return exitError
	}
	var changes *changesFile
	if f.changes != "" {
		changes = newChangesFile(inv.path(f.changes), inv.redactor.Bytes)
		defer changes.close()
		f.onChange = changes.add
	}
	p, err := inv.computePlan(ctx, cfg, &f.runFlags)
	if err != nil {
		if f.format == views.FormatJSON {
			// A script reading the JSON gets a document that plans
			// nothing and says why, as for a configuration that does not
			// load.
			writeJSON(inv.stdout, views.NewInvalidConfiguration(hcl.Diagnostics{{Severity: hcl.DiagError, Summary: err.Error()}}))
		}
		inv.errorf("plan: %s", err)
		return exitError
	}
	if err := views.RenderPlan(inv.stdout, p, f.format, inv.useColor(f.noColor, inv.stdout)); err != nil {
		inv.errorf("plan: %s", err)
		return exitError
	}
	if f.out != "" {
		path := inv.path(f.out)
		vars, withheld := savedVariables(cfg)
		saved := &planner.SavedPlan{
			CreatedAt: time.Now().UTC(), ConfigDigest: cfg.Digest,
			Variables: vars, Syncs: f.syncs, Plan: p,
		}
		if err := planner.WritePlanFile(path, saved, inv.redactor.Bytes); err != nil {
			inv.errorf("plan: writing the plan file: %s", err)
			return exitError
		}
		switch {
		case f.format != views.FormatText:
		case !p.Applyable:
			fmt.Fprintf(inv.stdout, "\nSaved the plan to %s, for 'rowform show %s'. It has errors, so apply refuses it: fix them and plan again.\n", f.out, f.out)
		default:
			fmt.Fprintf(inv.stdout, "\nSaved the plan to %s. To apply exactly this plan, run:\n    rowform apply %s\n", f.out, f.out)
		}
		if len(withheld) > 0 && f.format != views.FormatJSON {
			what := "the variables %s hold a secret or a piece of one and are not stored"
			if len(withheld) == 1 {
				what = "the variable %s holds a secret or a piece of one and is not stored"
			}
			fmt.Fprintf(inv.stderr, "rowform: plan: "+what+" in %s: give them to apply again, with the same values.\n",
				quoteNames(withheld), f.out)
		}
	}
	if changes != nil {
		n, err := changes.finish(p)
		if err != nil {
			inv.errorf("plan: writing the changes file: %s", err)
			return exitError
		}
		if f.format == views.FormatText {
			fmt.Fprintf(inv.stdout, "\nWrote %s to %s, one JSON object a line.\n", plural.Count(n, "change"), f.changes)
		}
	}
	switch {
	case !p.Applyable:
		return exitError
	case f.detailedExitcode && p.HasChanges():
		return exitChanges
	}
	return exitOK
}
