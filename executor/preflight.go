package executor

import (
	"context"
	"errors"
	"fmt"

	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/pgconnect"
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
// enough), and neither does an undo, whose single sync is checked so. The
// sync p.Syncs[first] is not checked here (Apply applies it first and
// alone, so its own check comes first); first < 0 checks every sync.
func preflight(ctx context.Context, cfg *hclconfig.Config, p *planner.Plan, first int, opts Options) *Result {
	if len(p.Syncs) < 2 {
		return nil
	}
	var names []string
	for i, sp := range p.Syncs {
		if sp.Undo != nil {
			return nil
		}
		if i != first {
			names = append(names, sp.Name)
		}
	}
	popts := planner.Options{Syncs: names, Environ: opts.Environ, Tunnel: opts.Tunnel,
		DestinationTimeouts: pgconnect.Timeouts{Statement: opts.StatementTimeout, Lock: tableLockTimeout(opts)}}
	if opts.Progress != nil {
		popts.Progress = func(sync string, rows int64) { opts.Progress(sync, "checking the plan", rows) }
	}
	now, err := planner.Compute(ctx, cfg, popts)
	switch {
	case ctx.Err() != nil:
		return skipAll(p, errors.New("not started: interrupted while checking the plan; nothing was written"))
	case err != nil:
		return refuseAll(p, "", fmt.Errorf("could not check the plan: %w; nothing was written", err))
	}
	byName := map[string]*planner.SyncPlan{}
	for _, sp := range now.Syncs {
		byName[sp.Name] = sp
	}
	for i, sp := range p.Syncs {
		if i == first {
			continue
		}
		if err := planStaleness(sp, byName[sp.Name]); err != nil {
			if now := byName[sp.Name]; now != nil {
				err = withClockHint(err, now)
			}
			return refuseAll(p, sp.Name, err)
		}
	}
	return nil
}

// planStaleness is staleness for a sync planned again: the plan is kept
// only if the new plan of the sync diffed to the end without an error
// finding and found the same rows and change set. A server that could not
// be reached or a source query that failed is said as such, not as a stale
// plan (the plan may still hold); a structure that no longer passes the
// checks is stale, worded as the transaction's own check words it.
func planStaleness(sp, now *planner.SyncPlan) error {
	if now == nil {
		return fmt.Errorf("%w: the configuration has no sync %q any more; nothing was written — run 'rowform plan' again", ErrStale, sp.Name)
	}
	for _, f := range now.Findings {
		if f.Severity != planner.SeverityError {
			continue
		}
		switch f.Code {
		case planner.CodeConnectionFailed:
			return fmt.Errorf("could not check the plan: %s; nothing was written", f.Summary)
		case planner.CodeSourceQueryFailed:
			return fmt.Errorf("the source query failed: %s; nothing was written", f.Summary)
		}
	}
	if !now.Diffed {
		return fmt.Errorf("%w: %s; nothing was written — run 'rowform plan' again", ErrStale, describeFindings(now.Findings))
	}
	if now.HasErrors() {
		return staleness(sp, nil, now.Findings)
	}
	return staleness(sp, &planner.DiffResult{Counts: now.Counts, SourceRows: now.SourceRows, DestinationRows: now.DestinationRows, Digest: now.ChangeDigest, RejectDigest: now.RejectDigest}, nil)
}

// skipAll is the result of an apply that started no sync: each is skipped
// with err.
func skipAll(p *planner.Plan, err error) *Result {
	res := &Result{}
	for _, sp := range p.Syncs {
		res.Syncs = append(res.Syncs, &SyncResult{Name: sp.Name, Table: sp.Table, Status: StatusSkipped, Err: err})
	}
	return res
}

// refuseAll is the result of an apply that wrote nothing: sync stale fails
// with err (every sync does when stale is ""), and the others are skipped.
func refuseAll(p *planner.Plan, stale string, err error) *Result {
	res := &Result{}
	for _, sp := range p.Syncs {
		r := &SyncResult{Name: sp.Name, Table: sp.Table}
		switch {
		case stale == "" || sp.Name == stale:
			r.Status, r.Err = StatusFailed, err
		case errors.Is(err, ErrStale):
			r.Status, r.Err = StatusSkipped, staleSkip(stale)
		default:
			r.Status, r.Err = StatusSkipped, fmt.Errorf("not applied: sync %q could not be checked against its plan, and a reviewed plan is applied whole or not at all", stale)
		}
		res.Syncs = append(res.Syncs, r)
	}
	return res
}

// staleSkip is why a sync of a reviewed plan is skipped when the plan of
// sync stale is stale.
func staleSkip(stale string) error {
	return fmt.Errorf("not applied: the plan of sync %q is stale, and a reviewed plan is applied whole or not at all", stale)
}
