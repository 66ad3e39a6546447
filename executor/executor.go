// Package executor applies plans: for each sync it re-runs the row diff
// inside one destination transaction, proves the change set is the one the
// plan showed, ships only the changed rows into staging tables with binary
// COPY, and merges them with set-based SQL (docs/design.md, "An apply").
// A sync is all or nothing. PlanAndApply is the unattended apply, which
// has no plan yet: it plans each sync inside that transaction instead, by
// the one diff that then writes it.
package executor

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/pgconnect"
	"github.com/rowform/rowform/internal/redact"
	"github.com/rowform/rowform/internal/sshtunnel"
	"github.com/rowform/rowform/planner"
)

// Options control an apply.
type Options struct {
	// LockTimeout is how long to wait for another apply of the same table;
	// 0 fails at once.
	LockTimeout time.Duration
	// StatementTimeout bounds each statement of the apply; 0 means none.
	StatementTimeout time.Duration
	// MaxAttempts is how many times a sync runs when the server reports a
	// serialization failure or deadlock (40001, 40P01); default 3.
	MaxAttempts int
	// Progress, when set, receives progress of each sync: a phase and the
	// rows it has handled, or -1 for a phase that handles no rows (waiting
	// for another apply's lock). It must be safe for concurrent use.
	Progress func(sync, phase string, rows int64)
	// Environ is the process environment; it supplies SSH_AUTH_SOCK for
	// tunnels that authenticate with ssh-agent.
	Environ []string
	// Tunnel tunes the SSH tunnels (timeouts, keepalives); the zero value
	// is sshtunnel's defaults.
	Tunnel sshtunnel.Options

	// Planned, for PlanAndApply, receives the plan of each sync as soon
	// as it is made, inside the sync's transaction and before anything is
	// written: the caller shows it. It is called at most once per sync,
	// from the sync's goroutine, so it must be safe for concurrent use;
	// the sync waits for it to return. The plan must not be changed.
	Planned func(*planner.SyncPlan)
	// ShowRows is, for PlanAndApply, how many example rows per change
	// type each sync's plan keeps (planner.Options.ShowRows).
	ShowRows int
	// Version is rowform's version, recorded with each run in the
	// destination's history (history.go).
	Version string
	// configDigest is the configuration's digest, for the history.
	configDigest string
	// secrets are the configuration's secrets (planner.Secrets), which a
	// sample value is not cut inside.
	secrets *redact.Redactor
	// bulkHistoryRows overrides defaultBulkHistoryRows (tests).
	bulkHistoryRows int64
}

// Status is the outcome of one sync.
type Status string

// The outcomes of a sync.
const (
	StatusApplied   Status = "applied"
	StatusNoChanges Status = "no_changes"
	StatusFailed    Status = "failed"
	// StatusSkipped: not attempted, because a sync it depends on failed or
	// the apply was interrupted first.
	StatusSkipped Status = "skipped"
)

// SyncResult is what happened to one sync.
type SyncResult struct {
	// Name is the sync's name; Table its destination table ("schema.table",
	// as SyncPlan.Table).
	Name   string
	Table  string
	Status Status
	// Applied are the rows written, by kind, the rows left out
	// (Applied.Reject) and those unchanged or skipped; set when Status is
	// StatusApplied or StatusNoChanges, zero otherwise.
	Applied planner.Counts
	// Rejected lists the rows left out because the destination would refuse
	// them (on_reject = "skip"); Rejected.Len() == Applied.Reject. Its rows
	// may be in a temporary file until Result.Close.
	Rejected planner.RejectedRows
	// Rewritten lists the columns whose stored values differ from the
	// values written (a trigger changed them): the next plan shows those
	// rows again.
	Rewritten []Rewritten
	// Err says why the sync failed or was skipped.
	Err error
	// OutcomeUnknown is set when the connection was lost during COMMIT:
	// the server may or may not have committed.
	OutcomeUnknown bool
	// Duration is how long the sync took, its retries included; zero for
	// a sync that was not started.
	Duration time.Duration
}

// Result is the outcome of an apply, one entry per planned sync in plan order.
type Result struct {
	Syncs []*SyncResult
}

// Close releases what the syncs' results keep on disk (their rejected
// rows, which are gone after).
func (r *Result) Close() {
	for _, s := range r.Syncs {
		s.Rejected.Close()
	}
}

// Failed reports whether any sync failed or was skipped.
func (r *Result) Failed() bool {
	for _, s := range r.Syncs {
		if s.Status == StatusFailed || s.Status == StatusSkipped {
			return true
		}
	}
	return false
}

// ErrStale is wrapped by errors that refuse a plan whose data or
// configuration changed since it was made.
var ErrStale = errors.New("plan is stale")

// Apply applies p, a plan of cfg. It refuses syncs with error findings.
// A plan of several syncs is first checked whole (preflight): if one sync's
// rows no longer match the plan, nothing is written. Syncs run in
// depends_on order; independent syncs run in parallel, never more than a
// destination's max_connections at once. A sync that fails in its own
// transaction (a write refused, a change made after the preflight) does not
// undo syncs that already committed; syncs that depend on it are skipped.
//
// One sync may be left out of the preflight and applied first, alone
// (firstSync): its own transaction's check comes before anything else is
// written, so when it fails — stale or otherwise — the others are skipped
// and the plan is still all or nothing, for one diff less.
func Apply(ctx context.Context, cfg *hclconfig.Config, p *planner.Plan, opts Options) *Result {
	jobs := make([]syncJob, len(p.Syncs))
	for i, sp := range p.Syncs {
		jobs[i] = syncJob{name: sp.Name, table: sp.Table, planDigest: sp.ChangeDigest, undoOf: undoOf(sp)}
	}
	opts.configDigest = cfg.Digest
	started := time.Now()
	first := firstSync(cfg, p)
	if res := preflight(ctx, cfg, p, first, opts); res != nil {
		recordRefusal(ctx, cfg, jobs, res, started, opts)
		return res
	}
	apply := func(idx []int) *Result {
		part := make([]syncJob, len(idx))
		for k, i := range idx {
			part[k] = jobs[i]
		}
		return runSyncs(ctx, cfg, part, opts, func(ctx context.Context, connector *pgconnect.Connector, k int, s *hclconfig.Sync, r *SyncResult) {
			applySync(ctx, connector, s, p.Syncs[idx[k]], opts, r)
		})
	}
	if first < 0 {
		return apply(allIndexes(len(jobs)))
	}
	head := apply([]int{first}).Syncs[0]
	if head.Status == StatusFailed {
		res := skipAll(p, firstFailed(ctx, head))
		res.Syncs[first] = head
		return res
	}
	res := &Result{Syncs: make([]*SyncResult, len(jobs))}
	var rest []int
	for i := range jobs {
		if i != first {
			rest = append(rest, i)
		}
	}
	for k, r := range apply(rest).Syncs {
		res.Syncs[rest[k]] = r
	}
	res.Syncs[first] = head
	return res
}

// firstSync picks the sync of p that Apply leaves out of the preflight and
// applies first, or -1 for none. It must be free to run before all others:
// no depends_on between it and another sync of the plan. And running it
// alone must cost no parallelism: every sync of the plan writes to one
// destination that allows one connection, so they run one after the other
// anyway. Of those, the one that reads the most rows saves the most.
func firstSync(cfg *hclconfig.Config, p *planner.Plan) int {
	if len(p.Syncs) < 2 {
		return -1
	}
	related := map[string]bool{}
	var dst *hclconfig.Server
	for _, sp := range p.Syncs {
		s := cfg.Sync(sp.Name)
		if s == nil || sp.Undo != nil || s.Destination.MaxConnections != 1 || (dst != nil && s.Destination.Address() != dst.Address()) {
			return -1
		}
		dst = s.Destination
		for _, d := range s.DependsOn {
			related[d], related[s.Name] = true, true
		}
	}
	best := -1
	for i, sp := range p.Syncs {
		if related[sp.Name] {
			continue
		}
		if best < 0 || sp.SourceRows+sp.DestinationRows > p.Syncs[best].SourceRows+p.Syncs[best].DestinationRows {
			best = i
		}
	}
	return best
}

// firstFailed is why the other syncs of a plan are skipped when the sync
// applied first failed (head).
func firstFailed(ctx context.Context, head *SyncResult) error {
	if ctx.Err() != nil {
		return errors.New("not started: interrupted")
	}
	if errors.Is(head.Err, ErrStale) {
		return staleSkip(head.Name)
	}
	return fmt.Errorf("not applied: sync %q, applied first, failed, and a reviewed plan is applied whole or not at all", head.Name)
}

func allIndexes(n int) []int {
	idx := make([]int, n)
	for i := range idx {
		idx[i] = i
	}
	return idx
}
