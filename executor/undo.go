package executor

import (
	"context"
	"fmt"

	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/history"
	"github.com/rowform/rowform/internal/pgconnect"
	"github.com/rowform/rowform/planner"
)

// attemptUndo is one transaction of the apply of an undo plan (planner's
// undo.go): lock, read the run's record and the rows it changed as they
// are now, stale check, stage, merge, record the undo as a run of its own
// (which can be undone in turn), commit. As attemptSync, but the changes
// come from the history instead of a source; the two share beginApply
// and stageAndWrite.
func attemptUndo(ctx context.Context, connector *pgconnect.Connector, s *hclconfig.Sync, sp *planner.SyncPlan, opts Options) (*attempt, error) {
	progress := progressOf(s, opts)
	if !s.Destination.HistoryEnabled() {
		return nil, fmt.Errorf("%w: %s keeps no history any more (history = false); nothing was written", ErrStale, s.Destination.Address())
	}
	dst, err := connectDestinationWithin(ctx, connector, s, opts.StatementTimeout)
	if err != nil {
		return nil, err
	}
	defer closeDestination(ctx, connector, s, dst)
	tx, err := beginApply(ctx, connector, s, dst, opts, progress)
	if err != nil {
		return nil, err
	}
	defer tx.end()
	run, err := history.Get(ctx, dst, s.Destination.History.Schema, sp.Undo.Run)
	if err != nil {
		return nil, lostConnection(connector, s, err)
	}
	if run == nil {
		return nil, fmt.Errorf("%w: run %d is no longer in the history of %s (pruned since the plan); nothing was written", ErrStale, sp.Undo.Run, s.Destination.Address())
	}
	u, findings := planner.PrepareUndo(ctx, s, dst, run)
	if err := findingsError(s, findings); err != nil {
		return nil, err
	}
	if u == nil {
		return nil, fmt.Errorf("%w: %s", ErrStale, describeFindings(findings))
	}
	m := newMerge(u.Prepared, dst, progress)
	m.history = newRecorder(s, u.Prepared, dst, opts, run.ID)
	return tx.stageAndWrite(connector, s, m, func(sink *stagingSink) (*planner.DiffResult, error) {
		progress("reading the run", 0)
		res, findings, err := u.DiffUndo(ctx, dst, sink, func(n int64) { progress("reading the run", n) })
		if err != nil {
			return nil, lostConnection(connector, s, err)
		}
		if err := confirmDiff(u.Sync, sp, res, findings); err != nil {
			res.Rejected.Close()
			return nil, err
		}
		return res, nil
	})
}
