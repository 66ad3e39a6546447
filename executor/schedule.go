package executor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/pgconnect"
	"github.com/rowform/rowform/planner"
)

// Scheduling: the syncs of an apply run in depends_on order, independent
// ones in parallel, each under its servers' connection limits; a sync is
// retried after a serialization failure or deadlock.

// syncJob is one sync an apply runs: its plan's change digest and the run
// it undoes (0: none) are for the history.
type syncJob struct {
	name, table string
	planDigest  string
	undoOf      int64
}

// runSyncs runs run for each job, which records the outcome in r: in
// depends_on order, independent syncs in parallel, each once it holds a
// connection slot of its destination and of its source, so never more
// than a server's max_connections at once. A sync whose dependency failed
// or was skipped is skipped. The result has one entry per job, in order.
func runSyncs(ctx context.Context, cfg *hclconfig.Config, jobs []syncJob, opts Options,
	run func(ctx context.Context, connector *pgconnect.Connector, i int, s *hclconfig.Sync, r *SyncResult)) *Result {
	if opts.MaxAttempts <= 0 {
		opts.MaxAttempts = 3
	}
	res := &Result{Syncs: make([]*SyncResult, len(jobs))}
	done := map[string]chan struct{}{}
	for _, j := range jobs {
		done[j.name] = make(chan struct{})
	}
	byName := map[string]*SyncResult{}
	var mu sync.Mutex
	limits := pgconnect.NewConnectionLimits()
	connector := pgconnect.NewConnector(opts.Environ)
	connector.Tunnel = opts.Tunnel
	defer connector.Close()
	var wg sync.WaitGroup
	for i, j := range jobs {
		r := &SyncResult{Name: j.name, Table: j.table}
		res.Syncs[i] = r
		mu.Lock()
		byName[j.name] = r
		mu.Unlock()
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[j.name])
			s := cfg.Sync(j.name)
			if s == nil {
				r.Status, r.Err = StatusFailed, fmt.Errorf("%w: the configuration has no sync %q any more; nothing was written — run 'rowform plan' again", ErrStale, j.name)
				return
			}
			for _, dep := range s.DependsOn {
				ch, planned := done[dep]
				if !planned {
					continue
				}
				<-ch
				mu.Lock()
				dr := byName[dep]
				mu.Unlock()
				if dr.Status == StatusFailed || dr.Status == StatusSkipped {
					r.Status, r.Err = StatusSkipped, fmt.Errorf("not applied because sync %q, which it depends on, did not apply", dep)
					return
				}
			}
			if err := ctx.Err(); err != nil {
				r.Status, r.Err = StatusSkipped, fmt.Errorf("not started: interrupted")
				return
			}
			// Destination first, then source, as plan does: one order, so
			// syncs waiting for slots cannot deadlock.
			for _, srv := range []*hclconfig.Server{s.Destination, s.Source.Server} {
				if srv == nil {
					continue
				}
				release, err := limits.Acquire(ctx, srv)
				if err != nil {
					r.Status, r.Err = StatusSkipped, fmt.Errorf("not started: interrupted")
					return
				}
				defer release()
			}
			start := time.Now()
			run(ctx, connector, i, s, r)
			r.Duration = time.Since(start)
			recordFailure(ctx, connector, cfg, s, j, r, start, opts)
		}()
	}
	wg.Wait()
	return res
}

// applySync runs one sync of a plan with retries on serialization failures.
func applySync(ctx context.Context, connector *pgconnect.Connector, s *hclconfig.Sync, sp *planner.SyncPlan, opts Options, r *SyncResult) {
	if sp.HasErrors() || !sp.Diffed {
		r.Status, r.Err = StatusFailed, errors.New("the plan of this sync has errors; fix them and plan again")
		return
	}
	if sp.Undo != nil {
		retry(ctx, opts, r, func() (*attempt, error) { return attemptUndo(ctx, connector, s, sp, opts) })
		return
	}
	retry(ctx, opts, r, func() (*attempt, error) { return attemptSync(ctx, connector, s, sp, opts) })
}

// retry runs try, a transaction of one sync, again while the server reports
// a serialization failure or deadlock, up to opts.MaxAttempts times, and
// records the outcome in r.
func retry(ctx context.Context, opts Options, r *SyncResult, try func() (*attempt, error)) {
	for attempt := 1; ; attempt++ {
		a, err := try()
		if err == nil {
			r.Applied, r.Rejected, r.Rewritten = a.counts, a.rejected, a.rewritten
			r.Status = StatusApplied
			if a.counts.Changes() == 0 {
				r.Status = StatusNoChanges
			}
			return
		}
		if pgconnect.IsRetryable(err) && attempt < opts.MaxAttempts && ctx.Err() == nil {
			continue
		}
		if ctx.Err() != nil && !errors.As(err, new(*commitError)) {
			err = fmt.Errorf("interrupted: the transaction was rolled back, nothing was committed for this sync")
		}
		r.Status, r.Err = StatusFailed, err
		var ce *commitError
		if errors.As(err, &ce) {
			r.OutcomeUnknown = true
		}
		return
	}
}

// progressOf reports the progress of sync s to opts.Progress, if set.
func progressOf(s *hclconfig.Sync, opts Options) func(string, int64) {
	return func(phase string, n int64) {
		if opts.Progress != nil {
			opts.Progress(s.Name, phase, n)
		}
	}
}
