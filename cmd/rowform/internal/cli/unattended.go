package cli

import (
	"context"
	"fmt"
	"sync"

	"github.com/rowform/rowform/cmd/rowform/internal/views"
	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/plural"
	"github.com/rowform/rowform/planner"
)

// applyUnattended is `apply -auto-approve` without a plan file, in text or
// JSON: with no one to approve, nothing needs showing before the
// transactions, so each sync is planned inside its own transaction by the
// diff that then writes it (executor.PlanAndApply) — one diff instead of a
// plan's and then apply's. Each sync's block is printed as it is planned,
// before anything of it is written; then the plan's summary line and the
// apply's result, as the attended apply prints them. A sync whose plan has
// an error finding writes nothing and fails; syncs that depend on it are
// skipped.
//
// With several syncs it first checks every sync's structure (connections,
// table, columns, key, grants; no rows read): when one is broken, nothing
// is applied, as before — done is false and the caller plans and refuses
// the usual way. Only errors that the rows reveal (a guard, bad source
// keys, rejected rows) then stop a sync after others may have committed.
func (inv *invocation) applyUnattended(ctx context.Context, cfg *hclconfig.Config, f *applyFlags) (code int, done bool) {
	jsonOut := f.format == views.FormatJSON
	syncs, added, err := planner.SelectSyncs(cfg, f.syncs)
	if err != nil {
		return inv.applyFailed(jsonOut, err), true
	}
	if len(syncs) > 1 {
		pre, err := planner.Compute(ctx, cfg, planner.Options{Syncs: f.syncs, Environ: inv.environ, Tunnel: inv.tunnel, StructureOnly: true})
		if err != nil {
			return inv.applyFailed(jsonOut, err), true
		}
		if !pre.Applyable {
			return 0, false
		}
	}
	if !jsonOut {
		inv.writeIncludedSyncs(added)
	}

	color := inv.useColor(f.noColor, inv.stdout)
	show, clearStatus := inv.statusLine(!jsonOut, f.noColor)
	// mu keeps the status line off the lines of a plan block.
	var mu sync.Mutex
	opts := executor.Options{LockTimeout: f.lockTimeout, StatementTimeout: f.statementTimeout, Environ: inv.environ, Tunnel: inv.tunnel, ShowRows: f.showRows, Version: Version}
	if show != nil {
		opts.Progress = func(sync, phase string, rows int64) {
			mu.Lock()
			defer mu.Unlock()
			if rows < 0 {
				show("%s: %s", sync, phase)
				return
			}
			show("%s: %s %s", sync, phase, plural.Count(rows, "row"))
		}
	}
	if !jsonOut {
		opts.Planned = func(sp *planner.SyncPlan) {
			mu.Lock()
			defer mu.Unlock()
			clearStatus()
			_ = views.RenderSyncHuman(inv.stdout, sp, views.HumanOptions{Color: color})
		}
	}
	p, res, err := executor.PlanAndApply(ctx, cfg, f.syncs, opts)
	mu.Lock()
	clearStatus()
	mu.Unlock()
	if err != nil {
		return inv.applyFailed(jsonOut, err), true
	}
	defer res.Close()
	if !jsonOut && len(p.Syncs) > 0 {
		_ = views.RenderPlanHumanClosing(inv.stdout, p, views.HumanOptions{Color: color})
	}

	if refusedOnly(p, res) {
		// Every sync that did not apply was refused for its plan, and
		// nothing was written: the plan has errors, as ever. The syncs
		// skipped for a refused dependency are named, not left out.
		return inv.planRefused(jsonOut, p, skippedSyncs(res)...), true
	}
	if !res.Failed() && !p.HasChanges() && p.Summary.Reject == 0 {
		if jsonOut {
			writeJSON(inv.stdout, views.NewApplyDocument(&executor.Result{}, p))
		} else {
			fmt.Fprintln(inv.stdout, "\nNothing to apply.")
		}
		return inv.finishRejectsFile(f, &executor.Result{}, exitOK), true
	}
	code = exitOK
	if res.Failed() {
		code = exitError
	}
	if jsonOut {
		doc := views.NewApplyDocument(res, p)
		if !p.Applyable {
			doc.Plan = p
		}
		code = inv.writeApplyDocument(doc, code)
	} else {
		_ = views.RenderApplyText(inv.stdout, res, p, views.ApplyTextOptions{RejectsFile: f.rejectsFile, Color: color})
	}
	return inv.finishRejectsFile(f, res, code), true
}

// refusedOnly reports whether the plan has errors and no sync was written:
// each sync either has nothing to write, was skipped, or failed because
// its plan has errors.
func refusedOnly(p *planner.Plan, res *executor.Result) bool {
	if p.Applyable {
		return false
	}
	plans := map[string]*planner.SyncPlan{}
	for _, sp := range p.Syncs {
		plans[sp.Name] = sp
	}
	for _, r := range res.Syncs {
		switch r.Status {
		case executor.StatusApplied:
			return false
		case executor.StatusFailed:
			if sp := plans[r.Name]; sp == nil || !sp.HasErrors() {
				return false
			}
		}
	}
	return true
}

// skippedSyncs lists the syncs of res that were not attempted, with why,
// as apply's JSON document lists them.
func skippedSyncs(res *executor.Result) []views.ApplySync {
	var out []views.ApplySync
	for _, r := range res.Syncs {
		if r.Status != executor.StatusSkipped {
			continue
		}
		s := views.ApplySync{Name: r.Name, Table: r.Table, Status: string(r.Status)}
		if r.Err != nil {
			s.Error = r.Err.Error()
		}
		out = append(out, s)
	}
	return out
}
