package executor

import (
	"context"
	"fmt"

	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/planner"
)

// preflight keeps a reviewed plan of several syncs all or nothing: before
// any sync is written, every sync is diffed again read-only, as plan does,
// and compared with the plan (staleness). When one no longer matches,
// nothing is applied: that sync fails with why, and every other is
// skipped. It returns nil when the apply may go on. Each sync still checks
// again in its own transaction, which catches a change made after this
// pass; only a change in that window can leave some syncs applied.
//
// A plan of one sync needs no preflight (its transaction's check is
// enough), and neither does an undo, whose single sync is checked so.
func preflight(ctx context.Context, cfg *hclconfig.Config, p *planner.Plan, opts Options) *Result {
	if len(p.Syncs) < 2 {
		return nil
	}
	names := make([]string, len(p.Syncs))
	for i, sp := range p.Syncs {
		if sp.Undo != nil {
			return nil
		}
		names[i] = sp.Name
	}
	popts := planner.Options{Syncs: names, Environ: opts.Environ, Tunnel: opts.Tunnel}
	if opts.Progress != nil {
		popts.Progress = func(sync string, rows int64) { opts.Progress(sync, "checking the plan", rows) }
	}
	now, err := planner.Compute(ctx, cfg, popts)
	if err != nil {
		return refuseAll(p, "", fmt.Errorf("%w: %s; nothing was written — run 'rowform plan' again", ErrStale, err))
	}
	byName := map[string]*planner.SyncPlan{}
	for _, sp := range now.Syncs {
		byName[sp.Name] = sp
	}
	for _, sp := range p.Syncs {
		if err := ctx.Err(); err != nil {
			return refuseAll(p, "", fmt.Errorf("interrupted while checking the plan: nothing was written"))
		}
		if err := planStaleness(sp, byName[sp.Name]); err != nil {
			return refuseAll(p, sp.Name, err)
		}
	}
	return nil
}

// planStaleness is staleness for a sync planned again: the plan is kept
// only if the new plan of the sync diffed to the end without an error
// finding and found the same rows and change set.
func planStaleness(sp, now *planner.SyncPlan) error {
	if now == nil || !now.Diffed || now.HasErrors() {
		var findings []planner.Finding
		if now != nil {
			findings = now.Findings
		}
		return staleness(sp, nil, findings)
	}
	return staleness(sp, &planner.DiffResult{Counts: now.Counts, SourceRows: now.SourceRows, DestinationRows: now.DestinationRows, Digest: now.ChangeDigest}, nil)
}

// refuseAll is the result of an apply that wrote nothing: stale fails with
// err (every sync does when stale is ""), and the others are skipped.
func refuseAll(p *planner.Plan, stale string, err error) *Result {
	res := &Result{}
	for _, sp := range p.Syncs {
		r := &SyncResult{Name: sp.Name, Table: sp.Table}
		switch {
		case stale == "" || sp.Name == stale:
			r.Status, r.Err = StatusFailed, err
		default:
			r.Status, r.Err = StatusSkipped, fmt.Errorf("not applied: the plan of sync %q is stale, and a reviewed plan is applied whole or not at all", stale)
		}
		res.Syncs = append(res.Syncs, r)
	}
	return res
}
