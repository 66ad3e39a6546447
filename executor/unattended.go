package executor

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/pgconnect"
	"github.com/rowform/rowform/planner"
)

// PlanAndApply is the unattended apply (`apply -auto-approve` without a
// plan file): there is no one to show a plan to before the transaction, so
// each sync is planned inside its own write transaction, by the one diff
// that then writes it. Per sync it takes the table's lock, checks the
// structure, diffs the rows into staging and builds the sync's plan from
// exactly what planner.Compute builds it from (the same findings, the
// checks of rejected rows, the guard, -show-rows samples); hands that plan
// to opts.Planned; and then either refuses — any error finding (a crossed
// guard, bad source keys, rejected rows with on_reject = "fail", a missing
// grant...) rolls the transaction back, nothing is written, and the
// sync's result is failed — or merges the changes and commits.
//
// only limits the syncs as planner.Options.Syncs does (with the syncs they
// depend on); the error is only for a sync name that does not exist.
// Syncs run as Apply runs them: in depends_on order, independent syncs in
// parallel, within every server's max_connections; a sync whose
// dependency failed (or was refused) is skipped without being planned. A
// sync that cannot take its table's lock is not planned either: it has
// read nothing.
//
// The returned plan holds, in plan order, the plan of every sync that was
// planned (each as handed to Planned), with its summary; the result has
// one entry per selected sync. A retry after a serialization failure, once
// the plan was handed over, must write exactly that plan: it refuses as
// stale otherwise.
func PlanAndApply(ctx context.Context, cfg *hclconfig.Config, only []string, opts Options) (*planner.Plan, *Result, error) {
	syncs, _, err := planner.SelectSyncs(cfg, only)
	if err != nil {
		return nil, nil, err
	}
	jobs := make([]syncJob, len(syncs))
	for i, s := range syncs {
		jobs[i] = syncJob{name: s.Name, table: s.Table.String()}
	}
	opts.configDigest = cfg.Digest
	opts.secrets = planner.Secrets(cfg)
	plans := make([]*planner.SyncPlan, len(syncs))
	res := runSyncs(ctx, cfg, jobs, opts, func(ctx context.Context, connector *pgconnect.Connector, i int, s *hclconfig.Sync, r *SyncResult) {
		plans[i] = planAndApplySync(ctx, connector, s, opts, r)
	})
	p := &planner.Plan{Syncs: []*planner.SyncPlan{}}
	for _, sp := range plans {
		if sp != nil {
			p.Syncs = append(p.Syncs, sp)
		}
	}
	p.Finish()
	return p, res, nil
}

// planAndApplySync plans and applies one sync, with retries on
// serialization failures, and returns the plan it handed to opts.Planned
// (nil when it made none).
func planAndApplySync(ctx context.Context, connector *pgconnect.Connector, s *hclconfig.Sync, opts Options, r *SyncResult) *planner.SyncPlan {
	var shown *planner.SyncPlan
	retry(ctx, opts, r, func() (*attempt, error) {
		if shown != nil {
			// The plan was shown: a retry writes it or nothing.
			return attemptSync(ctx, connector, s, shown, opts)
		}
		a, sp, err := attemptPlanned(ctx, connector, s, opts)
		shown = sp
		return a, err
	})
	return shown
}

// refusedError is the failure of a sync whose plan has error findings.
type refusedError struct{ findings []planner.Finding }

func (e *refusedError) Error() string {
	return fmt.Sprintf("the plan of this sync has errors (%s); nothing was written", describeFindings(e.findings))
}

// attemptPlanned is one transaction of the unattended apply: lock, plan
// (structure, diff into staging, checks, guard), hand the plan over, then
// refuse or stage, merge, verify counts and commit. The plan it returns is
// the one handed to opts.Planned, or nil when it made none (the lock was
// not taken, or the apply was interrupted before the plan was complete).
func attemptPlanned(ctx context.Context, connector *pgconnect.Connector, s *hclconfig.Sync, opts Options) (*attempt, *planner.SyncPlan, error) {
	start := time.Now()
	progress := progressOf(s, opts)
	sp := planner.NewSyncPlan(s)
	planned := func() *planner.SyncPlan {
		sp.Duration = time.Since(start)
		if opts.Planned != nil {
			opts.Planned(sp)
		}
		return sp
	}
	connectionFailed := func(err error) {
		sp.AddFinding(planner.Finding{Severity: planner.SeverityError, Code: planner.CodeConnectionFailed, Summary: err.Error()})
	}

	// The connections, as plan opens them: a failure is the plan's
	// connection_failed finding.
	dst, derr := connectDestinationWithin(ctx, connector, s, opts.StatementTimeout)
	if derr != nil {
		connectionFailed(derr)
	} else {
		defer closeDestination(ctx, connector, s, dst)
		sp.CheckEncryption(dst, s.Destination)
	}
	var src *pgx.Conn
	var serr error
	if s.Source.Type == hclconfig.SourcePostgres {
		src, serr = connector.ConnectReadOnly(ctx, s.Source.Server, s.Name, s.SensitiveColumns...)
		if serr != nil {
			connectionFailed(serr)
		} else {
			defer pgconnect.Close(context.WithoutCancel(ctx), src)
			sp.CheckEncryption(src, s.Source.Server)
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if derr != nil {
		return nil, planned(), derr
	}
	if serr != nil {
		return nil, planned(), serr
	}
	if src != nil {
		if _, err := src.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
			if ctx.Err() != nil {
				return nil, nil, err
			}
			connectionFailed(err)
			return nil, planned(), fmt.Errorf("starting the source transaction: %w", err)
		}
	}

	if err := ensureHistory(ctx, dst, s, opts); err != nil {
		connectionFailed(err)
		return nil, planned(), err
	}
	committed := false
	defer func() {
		if !committed {
			rollback(ctx, dst)
		}
	}()
	// Nothing is read before the lock is held.
	if err := beginDestination(ctx, connector, s, dst, opts, progress); err != nil {
		return nil, nil, err
	}

	prep, findings := planner.Prepare(ctx, s, dst, src)
	for _, f := range findings {
		sp.AddFinding(f)
	}
	if err := ctx.Err(); err != nil {
		return nil, nil, err
	}
	if prep == nil {
		return nil, planned(), &refusedError{sp.Findings}
	}
	m := newMerge(prep, dst, progress)
	m.history = newRecorder(s, prep, dst, opts, 0)
	sink, err := newStagingSink(len(m.cols), m.nkey)
	if err != nil {
		return nil, nil, err
	}
	defer sink.close()
	sink.history = m.historySink()
	samples := prep.NewSampleSink(opts.ShowRows, opts.secrets)
	var diffSink planner.ChangeSink = sink
	if opts.ShowRows > 0 {
		diffSink = teeSink{sink, samples}
	}
	progress("diffing", 0)
	res, findings, err := prep.Diff(ctx, dst, src, diffSink, func(n int64) { progress("diffing", n) })
	if ctx.Err() != nil {
		if err == nil {
			err = ctx.Err()
		}
		return nil, nil, err
	}
	sp.RecordDiff(s, res, findings, err, samples.Samples())
	planned()
	if err != nil {
		return nil, sp, lostConnection(connector, s, err)
	}
	if sp.HasErrors() || !sp.Diffed {
		return nil, sp, &refusedError{sp.Findings}
	}
	if res.Counts.Changes() == 0 {
		return &attempt{counts: res.Counts, rejected: res.Rejected}, sp, nil // nothing to write; the deferred ROLLBACK ends the transaction
	}
	a, err := m.write(ctx, connector, s, sink, res)
	committed = err == nil
	if err != nil {
		res.Rejected.Close()
	}
	return a, sp, err
}

// teeSink passes every change to both of its sinks.
type teeSink [2]planner.ChangeSink

func (t teeSink) Change(kind planner.ChangeKind, src, dst *planner.Row, changed []int) error {
	if err := t[0].Change(kind, src, dst, changed); err != nil {
		return err
	}
	return t[1].Change(kind, src, dst, changed)
}
