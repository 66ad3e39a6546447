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
	"io"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/catalog"
	"github.com/rowform/rowform/internal/pgconnect"
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
	Name    string
	Table   string
	Status  Status
	Applied planner.Counts
	// Rejected lists the rows left out because the destination would refuse
	// them (on_reject = "skip"); len(Rejected) == Applied.Reject.
	Rejected []planner.RejectedRow
	// Rewritten lists the columns whose stored values differ from the
	// values written (a trigger changed them): the next plan shows those
	// rows again.
	Rewritten []Rewritten
	// Err says why the sync failed or was skipped.
	Err error
	// OutcomeUnknown is set when the connection was lost during COMMIT:
	// the server may or may not have committed.
	OutcomeUnknown bool
	Duration       time.Duration
}

// Result is the outcome of an apply, one entry per planned sync in plan order.
type Result struct {
	Syncs []*SyncResult
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
// Syncs run in depends_on order; independent syncs run in parallel, never
// more than a destination's max_connections at once. A failed sync does not
// undo syncs that already committed; syncs that depend on it are skipped.
func Apply(ctx context.Context, cfg *hclconfig.Config, p *planner.Plan, opts Options) *Result {
	jobs := make([]syncJob, len(p.Syncs))
	for i, sp := range p.Syncs {
		jobs[i] = syncJob{name: sp.Name, table: sp.Table, planDigest: sp.ChangeDigest, undoOf: undoOf(sp)}
	}
	opts.configDigest = cfg.Digest
	return runSyncs(ctx, cfg, jobs, opts, func(ctx context.Context, connector *pgconnect.Connector, i int, s *hclconfig.Sync, r *SyncResult) {
		applySync(ctx, connector, s, p.Syncs[i], opts, r)
	})
}

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
	limits := planner.NewConnectionLimits()
	connector := pgconnect.NewConnector(opts.Environ)
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
				r.Status, r.Err = StatusFailed, fmt.Errorf("%w: the configuration has no sync %q any more", ErrStale, j.name)
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
		if isRetryable(err) && attempt < opts.MaxAttempts && ctx.Err() == nil {
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

// isRetryable reports serialization failures and deadlocks.
func isRetryable(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (pgErr.Code == "40001" || pgErr.Code == "40P01")
}

// commitError is a failure of COMMIT itself whose outcome is unknown.
type commitError struct{ err error }

func (e *commitError) Error() string {
	return fmt.Sprintf("the connection failed during COMMIT (%s): the outcome is unknown; run 'rowform plan' to see whether the changes were applied", e.err)
}
func (e *commitError) Unwrap() error { return e.err }

// connectDestinationWithin opens the apply's session to the sync's
// destination. The session gives up on a server that sends nothing for
// longer than the statement timeout (which the server enforces itself) and
// a little more; with no statement timeout, after
// pgconnect.DefaultResponseTimeout.
func connectDestinationWithin(ctx context.Context, connector *pgconnect.Connector, s *hclconfig.Sync, statementTimeout time.Duration) (*pgx.Conn, error) {
	dcfg, err := pgconnect.Config(s.Destination, planner.ApplicationName(s.Name))
	if err != nil {
		return nil, err
	}
	pgconnect.MaskValues(dcfg, s.SensitiveColumns)
	pgconnect.SetResponseTimeout(dcfg, pgconnect.StatementResponseTimeout(statementTimeout))
	return connector.Connect(ctx, s.Destination, dcfg)
}

// closeDestination closes the apply's destination session; after an
// interrupt it makes sure the server has stopped the session's query.
func closeDestination(ctx context.Context, connector *pgconnect.Connector, s *hclconfig.Sync, dst *pgx.Conn) {
	pid := dst.PgConn().PID()
	_ = dst.Close(context.WithoutCancel(ctx))
	if ctx.Err() != nil {
		waitBackendGone(connector, s.Destination, pid)
	}
}

// rollback ends the destination transaction of an attempt that did not
// commit.
func rollback(ctx context.Context, dst *pgx.Conn) {
	rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	_, _ = dst.Exec(rctx, "ROLLBACK")
}

// beginDestination begins the destination transaction with the table's
// lock (takeLock), so that its snapshot is taken after any other apply of
// the table has committed, and sets its timeouts and deferred constraints.
func beginDestination(ctx context.Context, connector *pgconnect.Connector, s *hclconfig.Sync, dst *pgx.Conn, opts Options, progress func(string, int64)) error {
	table := s.Table.String()
	waiting := func(holder string) {
		phase := "waiting for the lock on " + table
		if holder != "" {
			phase += " (" + holder + ")"
		}
		progress(phase, -1)
	}
	if err := takeLock(ctx, dst, table, opts.LockTimeout, waiting); err != nil {
		return lostConnection(connector, s, err)
	}
	lockTimeout := opts.LockTimeout
	if lockTimeout <= 0 {
		lockTimeout = 10 * time.Second
	}
	if _, err := dst.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", lockTimeout.Milliseconds())); err != nil {
		return err
	}
	if _, err := dst.Exec(ctx, fmt.Sprintf("SET LOCAL statement_timeout = %d", opts.StatementTimeout.Milliseconds())); err != nil {
		return err
	}
	// Deferrable constraints are checked at COMMIT, against the end state:
	// a swap of unique values, or a child updated to a parent inserted
	// later in the transaction, then applies.
	if _, err := dst.Exec(ctx, "SET CONSTRAINTS ALL DEFERRED"); err != nil {
		return err
	}
	return nil
}

// newMerge is the merge of a prepared sync's changes into its table on dst.
func newMerge(prep *planner.Prepared, dst *pgx.Conn, progress func(string, int64)) *merge {
	cols := prep.Columns()
	nkey := 0
	for _, c := range cols {
		if c.Key {
			nkey++
		}
	}
	return &merge{conn: dst, table: prep.Table, cols: cols, nkey: nkey, progress: progress,
		watchRewrites: len(prep.RewritingTriggers()) > 0, sourceLine: prep.SourceLine}
}

// write merges the changes of res, staged in sink, into the table, finds
// the columns triggers rewrote, and commits.
func (m *merge) write(ctx context.Context, connector *pgconnect.Connector, s *hclconfig.Sync, sink *stagingSink, res *planner.DiffResult) (*attempt, error) {
	if err := m.run(ctx, sink, res.Counts); err != nil {
		return nil, lostConnection(connector, s, err)
	}
	var rewritten []Rewritten
	if m.watchRewrites {
		var err error
		if rewritten, err = m.rewritten(ctx, sink, res.Counts); err != nil {
			return nil, lostConnection(connector, s, err)
		}
	}
	if err := m.finishHistory(ctx, res.Counts, res.Digest, false); err != nil {
		return nil, lostConnection(connector, s, err)
	}
	if err := commit(ctx, m.conn); err != nil {
		return nil, err
	}
	return &attempt{counts: res.Counts, rejected: res.Rejected, rewritten: rewritten}, nil
}

// progressOf reports the progress of sync s to opts.Progress, if set.
func progressOf(s *hclconfig.Sync, opts Options) func(string, int64) {
	return func(phase string, n int64) {
		if opts.Progress != nil {
			opts.Progress(s.Name, phase, n)
		}
	}
}

// attemptSync is one transaction: lock, diff, stale check, stage, merge,
// verify counts, commit.
func attemptSync(ctx context.Context, connector *pgconnect.Connector, s *hclconfig.Sync, sp *planner.SyncPlan, opts Options) (*attempt, error) {
	progress := progressOf(s, opts)
	dst, err := connectDestinationWithin(ctx, connector, s, opts.StatementTimeout)
	if err != nil {
		return nil, err
	}
	defer closeDestination(ctx, connector, s, dst)
	var src *pgx.Conn
	if s.Source.Type == hclconfig.SourcePostgres {
		src, err = planner.ConnectReadOnly(ctx, connector, s.Source.Server, s.Name, s.SensitiveColumns...)
		if err != nil {
			return nil, err
		}
		defer src.Close(context.WithoutCancel(ctx))
		if _, err := src.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
			return nil, fmt.Errorf("starting the source transaction: %w", err)
		}
	}

	if err := ensureHistory(ctx, dst, s, opts); err != nil {
		return nil, lostConnection(connector, s, err)
	}
	committed := false
	defer func() {
		if !committed {
			rollback(ctx, dst)
		}
	}()
	if err := beginDestination(ctx, connector, s, dst, opts, progress); err != nil {
		return nil, err
	}

	prep, findings := planner.Prepare(ctx, s, dst, src)
	if err := findingsError(s, findings); err != nil {
		return nil, err
	}
	if prep == nil || hasErrorFinding(findings) {
		// The plan had no error: the table or its grants changed since
		// (a unique constraint dropped, a column gone).
		return nil, fmt.Errorf("%w: %s", ErrStale, describeFindings(findings))
	}
	m := newMerge(prep, dst, progress)
	m.history = newRecorder(s, prep, dst, opts, 0)
	if s.Source.Type == hclconfig.SourcePostgres && sp.DestinationRows == 0 &&
		sp.Counts == (planner.Counts{Insert: sp.Counts.Insert}) && sp.Counts.Insert > 0 && m.directInsert() && !prep.NeedsServerChecks() {
		counts, err := m.load(ctx, prep, src, sp)
		if err != nil {
			return nil, lostConnection(connector, s, err)
		}
		if err := m.finishHistory(ctx, counts, sp.ChangeDigest, true); err != nil {
			return nil, lostConnection(connector, s, err)
		}
		if err := commit(ctx, dst); err != nil {
			return nil, err
		}
		committed = true
		return &attempt{counts: counts}, nil
	}
	sink, err := newStagingSink(len(m.cols), m.nkey)
	if err != nil {
		return nil, err
	}
	defer sink.close()
	sink.history = m.historySink()
	progress("diffing", 0)
	res, findings, err := prep.Diff(ctx, dst, src, sink, func(n int64) { progress("diffing", n) })
	if err != nil && (s.Source.Type == hclconfig.SourceCSV || s.Source.Type == hclconfig.SourceDuckDB) && isServerError(err) {
		// The plan converted every value; a value the server now refuses
		// means the file changed since.
		return nil, fmt.Errorf("%w: %s no longer converts as it did when planned (%s); nothing was written — run 'rowform plan' again",
			ErrStale, s.Source.Address(), errorSummary(err))
	}
	if err != nil {
		return nil, lostConnection(connector, s, err)
	}
	if err := staleness(sp, res, findings); err != nil {
		return nil, err
	}
	if res.Counts.Changes() == 0 {
		return &attempt{counts: res.Counts, rejected: res.Rejected}, nil // nothing to write; the deferred ROLLBACK ends the transaction
	}
	a, err := m.write(ctx, connector, s, sink, res)
	committed = err == nil
	return a, err
}

// attempt is what one successful attemptSync did.
type attempt struct {
	counts    planner.Counts
	rejected  []planner.RejectedRow
	rewritten []Rewritten
}

// staleness compares the diff an apply just ran with the plan's. The plan
// is kept only if the same rows would be written from the same starting
// point: the change set (digest) and every count, including the rows the
// sync leaves alone and the rows read on each side, must be what the plan
// saw. It returns an ErrStale error otherwise.
func staleness(sp *planner.SyncPlan, res *planner.DiffResult, findings []planner.Finding) error {
	if res == nil || len(findings) > 0 {
		return fmt.Errorf("%w: the source changed since the plan: %s; nothing was written — run 'rowform plan' again", ErrStale, describeFindings(findings))
	}
	if res.Counts == sp.Counts && res.SourceRows == sp.SourceRows && res.DestinationRows == sp.DestinationRows {
		if res.Digest != sp.ChangeDigest {
			// The same numbers on both sides: showing them twice would say
			// nothing. What moved are values.
			return fmt.Errorf("%w: the rows changed since the plan was made: the counts are the same (%s; %d source and %d destination rows), but values are not — a source or destination row now has other values than when the plan was made, so other values would be written; nothing was written — run 'rowform plan' again",
				ErrStale, describeCounts(sp.Counts), sp.SourceRows, sp.DestinationRows)
		}
		return nil
	}
	return fmt.Errorf("%w: the rows changed since the plan was made (planned %s of %d source and %d destination rows; now %s of %d and %d); nothing was written — run 'rowform plan' again",
		ErrStale, describeCounts(sp.Counts), sp.SourceRows, sp.DestinationRows, describeCounts(res.Counts), res.SourceRows, res.DestinationRows)
}

// commit commits the apply's transaction. Interrupted before COMMIT was
// sent, it returns the context's error (rolled back); a connection lost
// during COMMIT is a commitError (outcome unknown).
func commit(ctx context.Context, dst *pgx.Conn) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	if _, err := dst.Exec(ctx, "COMMIT"); err != nil {
		if !isServerError(err) && !pgconn.SafeToRetry(err) && ctx.Err() == nil {
			return &commitError{err}
		}
		if ctx.Err() != nil && pgconn.SafeToRetry(err) {
			return ctx.Err()
		}
		if !isServerError(err) {
			return &commitError{err}
		}
		return fmt.Errorf("COMMIT failed: %w", err)
	}
	return nil
}

// load is the apply of an initial load — a plan of inserts only into an
// empty table: the source rows stream through the diff straight into one
// binary COPY, as a plain load would, and the change set is proved equal to
// the plan's at the end, before COMMIT (a stale plan rolls back).
func (m *merge) load(ctx context.Context, prep *planner.Prepared, src *pgx.Conn, sp *planner.SyncPlan) (planner.Counts, error) {
	var zero planner.Counts
	empty, err := prep.DestinationIsEmpty(ctx, m.conn)
	if err != nil {
		return zero, err
	}
	if !empty {
		return zero, fmt.Errorf("%w: the plan was made against an empty %s, which now has rows; nothing was written — run 'rowform plan' again", ErrStale, sp.Table)
	}
	pr, pw := io.Pipe()
	enc := newCopyEncoder(pw, len(m.cols))
	type outcome struct {
		res      *planner.DiffResult
		findings []planner.Finding
		err      error
	}
	done := make(chan outcome, 1)
	m.progress("inserting", 0)
	go func() {
		res, findings, err := prep.DiffIntoEmpty(ctx, src, m.loadSink(enc), func(n int64) { m.progress("inserting", n) })
		if err == nil {
			err = enc.finish()
		}
		if err != nil {
			pw.CloseWithError(err)
		} else {
			_ = pw.Close()
		}
		done <- outcome{res, findings, err}
	}()
	tag, cerr := m.conn.PgConn().CopyFrom(ctx, pr, m.copyIntoTable())
	_ = pr.CloseWithError(errors.New("the insert stopped"))
	o := <-done
	if errors.Is(o.err, planner.ErrRefusedSincePlan) {
		return zero, fmt.Errorf("%w: %v; nothing was written — run 'rowform plan' again", ErrStale, o.err)
	}
	if o.err != nil && (cerr == nil || planner.IsSourceError(o.err)) {
		return zero, o.err
	}
	if cerr != nil {
		return zero, describeWriteError("insert", cerr)
	}
	res := o.res
	if err := staleness(sp, res, o.findings); err != nil {
		return zero, err
	}
	if err := countMismatch("insert", tag.RowsAffected(), res.Counts.Insert); err != nil {
		return zero, err
	}
	return res.Counts, nil
}

// insertSink writes the inserts of a diff into a COPY stream.
type insertSink struct{ enc *copyEncoder }

func (s insertSink) Change(kind planner.ChangeKind, src, _ *planner.Row, _ []int) error {
	if kind != planner.ChangeInsert {
		return fmt.Errorf("internal error: a %c change while loading an empty table", kind)
	}
	return s.enc.add(src.Values)
}

// errorSummary is the server's message and SQLSTATE, or the error.
func errorSummary(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Sprintf("%s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
	}
	return err.Error()
}

func isServerError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr)
}

func describeCounts(c planner.Counts) string {
	return fmt.Sprintf("%d to insert, %d to update, %d to delete", c.Insert, c.Update, c.Delete)
}

func describeFindings(fs []planner.Finding) string {
	var parts []string
	for _, f := range fs {
		if f.Severity == planner.SeverityError {
			parts = append(parts, fmt.Sprintf("%s: %s", f.Code, f.Summary))
		}
	}
	if len(parts) == 0 {
		return "the destination or source no longer matches the plan"
	}
	return strings.Join(parts, "; ")
}

// merge ships the staged changes and applies them with set-based SQL.
type merge struct {
	conn     *pgx.Conn
	table    *catalog.Table
	cols     []planner.ColumnInfo
	nkey     int
	progress func(string, int64)
	// watchRewrites: BEFORE ROW triggers may change the rows written, so
	// they are compared with the staged rows after the writes.
	watchRewrites bool
	// sourceLine finds the CSV line of a key (as text), 0 when unknown.
	sourceLine func(key []string) int
	// history records the writes in the destination's history; nil when
	// it keeps none (history.go).
	history *recorder
}

func (m *merge) run(ctx context.Context, sink *stagingSink, want planner.Counts) error {
	t := m.table.Ident()
	if n := sink.nullKeyDeletes; n > 0 {
		// Rows whose key has a NULL match no source row; the diff read
		// every one of them in this transaction's snapshot.
		var isNull []string
		for i := 0; i < m.nkey; i++ {
			isNull = append(isNull, pgx.Identifier{m.cols[i].Name}.Sanitize()+" IS NULL")
		}
		if err := m.recordNullKeyDeletes(ctx); err != nil {
			return err
		}
		m.progress("deleting", n)
		sql := fmt.Sprintf("DELETE FROM %s WHERE %s", t, strings.Join(isNull, " OR "))
		if err := m.exec(ctx, sql, "delete", n); err != nil {
			return err
		}
	}
	if staged := want.Delete - sink.nullKeyDeletes; staged > 0 {
		if err := m.stage(ctx, "rowform_delete", sink.dels, m.cols[:m.nkey]); err != nil {
			return err
		}
		if err := m.record(ctx, planner.ChangeDelete); err != nil {
			return err
		}
		m.progress("deleting", staged)
		stmt := func(from string) string {
			return m.withDeleteCapture(fmt.Sprintf("DELETE FROM %s AS t USING %s AS s WHERE %s", t, from, m.keyMatch()))
		}
		if err := m.execLocated(ctx, stmt, "rowform_delete", "delete", staged); err != nil {
			return err
		}
	}
	if want.Update > 0 {
		if err := m.stage(ctx, "rowform_update", sink.updates, m.cols); err != nil {
			return err
		}
		if err := m.record(ctx, planner.ChangeUpdate); err != nil {
			return err
		}
		m.progress("updating", want.Update)
		var set []string
		for i := m.nkey; i < len(m.cols); i++ {
			set = append(set, fmt.Sprintf("%s = %s", pgx.Identifier{m.cols[i].Name}.Sanitize(), m.value(i)))
		}
		stmt := func(from string) string {
			return fmt.Sprintf("UPDATE %s AS t SET %s FROM %s AS s WHERE %s", t, strings.Join(set, ", "), from, m.keyMatch())
		}
		if err := m.execLocated(ctx, stmt, "rowform_update", "update", want.Update); err != nil {
			return err
		}
	}
	if want.Insert > 0 && m.directInsert() {
		// New rows go straight into the table with binary COPY: their
		// values are already in the columns' types, and COPY runs the same
		// defaults, constraints and triggers as INSERT. An initial load is
		// then one COPY, like a plain load.
		if err := m.record(ctx, planner.ChangeInsert); err != nil {
			return err
		}
		r, err := sink.inserts.reader()
		if err != nil {
			return err
		}
		m.progress("inserting", want.Insert)
		if _, err := m.conn.Exec(ctx, "SAVEPOINT rowform_write"); err != nil {
			return err
		}
		tag, err := m.conn.PgConn().CopyFrom(ctx, r, m.copyIntoTable())
		if err != nil {
			werr := describeWriteError("insert", err)
			if !isServerError(err) {
				return werr
			}
			// Stage the rows to find the one the table refuses.
			if _, rerr := m.conn.Exec(ctx, "ROLLBACK TO SAVEPOINT rowform_write"); rerr != nil {
				return werr
			}
			if serr := m.stage(ctx, "rowform_insert", sink.inserts, m.cols); serr != nil {
				return werr
			}
			return m.locate(ctx, m.insertStatement, "rowform_insert", "insert", werr)
		}
		if _, err := m.conn.Exec(ctx, "RELEASE SAVEPOINT rowform_write"); err != nil {
			return err
		}
		return countMismatch("insert", tag.RowsAffected(), want.Insert)
	}
	if want.Insert > 0 {
		if err := m.stage(ctx, "rowform_insert", sink.inserts, m.cols); err != nil {
			return err
		}
		if err := m.record(ctx, planner.ChangeInsert); err != nil {
			return err
		}
		m.progress("inserting", want.Insert)
		if err := m.execLocated(ctx, m.insertStatement, "rowform_insert", "insert", want.Insert); err != nil {
			return err
		}
	}
	return nil
}

// insertStatement inserts the staged rows of from (aliased s).
func (m *merge) insertStatement(from string) string {
	var names, vals []string
	for i, c := range m.cols {
		names = append(names, pgx.Identifier{c.Name}.Sanitize())
		vals = append(vals, m.value(i))
	}
	return fmt.Sprintf("INSERT INTO %s (%s) SELECT %s FROM %s AS s", m.table.Ident(), strings.Join(names, ", "), strings.Join(vals, ", "), from)
}

// directInsert reports whether staged rows have exactly the destination's
// binary formats, so that inserts can be copied into the table as they are.
// Columns carried as text (types that are not built in) need a cast.
func (m *merge) directInsert() bool {
	for _, c := range m.cols {
		if c.AsText {
			return false
		}
	}
	return true
}

// value is the staged value of column i in the destination column's type.
func (m *merge) value(i int) string {
	v := fmt.Sprintf("s.c%d", i)
	if m.cols[i].AsText {
		return fmt.Sprintf("%s::%s", v, m.cols[i].Type)
	}
	return v
}

// keyMatch matches a staged row to its destination row by key.
func (m *merge) keyMatch() string {
	var parts []string
	for i := 0; i < m.nkey; i++ {
		parts = append(parts, fmt.Sprintf("t.%s = %s", pgx.Identifier{m.cols[i].Name}.Sanitize(), m.value(i)))
	}
	return strings.Join(parts, " AND ")
}

// stage creates a temporary staging table, fills it with binary COPY and
// analyzes it.
func (m *merge) stage(ctx context.Context, name string, f *stagingFile, cols []planner.ColumnInfo) error {
	var defs []string
	for i, c := range cols {
		defs = append(defs, fmt.Sprintf("c%d %s", i, c.StagingType))
	}
	if _, err := m.conn.Exec(ctx, fmt.Sprintf("CREATE TEMP TABLE %s (%s) ON COMMIT DROP", name, strings.Join(defs, ", "))); err != nil {
		return fmt.Errorf("creating the staging table: %w", err)
	}
	r, err := f.reader()
	if err != nil {
		return err
	}
	m.progress("staging", f.rows)
	tag, err := m.conn.PgConn().CopyFrom(ctx, r, fmt.Sprintf("COPY %s FROM STDIN (FORMAT binary)", name))
	if err != nil {
		return fmt.Errorf("staging the changed rows: %w", err)
	}
	if tag.RowsAffected() != f.rows {
		return fmt.Errorf("staging copied %d rows, expected %d", tag.RowsAffected(), f.rows)
	}
	if _, err := m.conn.Exec(ctx, "ANALYZE "+name); err != nil {
		return fmt.Errorf("analyzing the staging table: %w", err)
	}
	return nil
}

// exec runs one merge statement and checks its row count against the diff.
func (m *merge) exec(ctx context.Context, sql, what string, want int64) error {
	tag, err := m.conn.Exec(ctx, sql)
	if err != nil {
		return describeWriteError(what, err)
	}
	return countMismatch(what, tag.RowsAffected(), want)
}

// countMismatch is the error for a write statement that touched another
// number of rows than the plan has; nil when they agree.
func countMismatch(what string, got, want int64) error {
	if got == want {
		return nil
	}
	return fmt.Errorf("the %s touched %d rows but the plan has %d, so it was rolled back and nothing was written: "+
		"a trigger or rule on the table changes what the statement does (a BEFORE trigger returning NULL, say); rowform cannot apply exactly the plan to it",
		what, got, want)
}

// copyIntoTable is the binary COPY of new rows into the destination table.
func (m *merge) copyIntoTable() string {
	names := make([]string, len(m.cols))
	for i, c := range m.cols {
		names[i] = pgx.Identifier{c.Name}.Sanitize()
	}
	return fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", m.table.Ident(), strings.Join(names, ", "))
}

// hasErrorFinding reports whether any of fs is an error.
func hasErrorFinding(fs []planner.Finding) bool {
	for _, f := range fs {
		if f.Severity == planner.SeverityError {
			return true
		}
	}
	return false
}

// findingsError turns findings that are not about the data — an unreachable
// server, a failing source query — into a plain error; nil otherwise.
func findingsError(s *hclconfig.Sync, fs []planner.Finding) error {
	for _, f := range fs {
		if f.Severity != planner.SeverityError {
			continue
		}
		switch f.Code {
		case planner.CodeConnectionFailed:
			return fmt.Errorf("lost the connection to %s while reading the catalog: %s; the transaction was rolled back, nothing was written", s.Destination.Address(), f.Summary)
		case planner.CodeSourceQueryFailed:
			return fmt.Errorf("the source query failed: %s; nothing was written", f.Summary)
		}
	}
	return nil
}

// lostConnection rewords errors that mean the destination connection is
// gone, so the user reads what happened rather than a socket error.
func lostConnection(connector *pgconnect.Connector, s *hclconfig.Sync, err error) error {
	if err == nil || errors.Is(err, ErrStale) || isServerError(err) || errors.Is(err, context.Canceled) {
		return err
	}
	for _, srv := range []*hclconfig.Server{s.Destination, s.Source.Server} {
		if srv == nil {
			continue
		}
		if terr := connector.TunnelError(srv); terr != nil {
			return fmt.Errorf("%s (reached through the SSH bastion of %s): %v; the transaction was rolled back, nothing was written", terr, srv.Address(), err)
		}
	}
	var le *LockedError
	if errors.As(err, &le) {
		return err
	}
	msg := err.Error()
	if errors.Is(err, pgconnect.ErrNoResponse) {
		// A frozen server: the connection is closed, so the transaction
		// cannot commit; the server rolls it back when it runs again.
		side := "the destination " + s.Destination.Address()
		if planner.IsSourceError(err) {
			side = "the source " + s.Source.Address()
		}
		return fmt.Errorf("gave up on %s (%s): the transaction cannot commit and is rolled back by the server, nothing was written", side, msg)
	}
	for _, sign := range []string{"conn closed", "connection reset", "broken pipe", "unexpected EOF", "EOF", "use of closed network connection", "i/o timeout", "connection refused"} {
		if strings.Contains(msg, sign) {
			side := "the destination " + s.Destination.Address()
			if planner.IsSourceError(err) {
				side = "the source " + s.Source.Address()
			}
			return fmt.Errorf("lost the connection to %s (%s): the transaction was rolled back by the server, nothing was written", side, msg)
		}
	}
	return err
}

// describeWriteError names what failed, with the server's message, table,
// column, constraint, detail and hint.
func describeWriteError(what string, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return fmt.Errorf("the %s failed: %w", what, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the %s failed: %s (SQLSTATE %s)", what, pgErr.Message, pgErr.Code)
	if pgErr.ColumnName != "" {
		fmt.Fprintf(&b, "; column %s", pgErr.ColumnName)
	}
	if pgErr.ConstraintName != "" {
		fmt.Fprintf(&b, "; constraint %s", pgErr.ConstraintName)
	}
	if pgErr.Where != "" {
		fmt.Fprintf(&b, "; %s", strings.ReplaceAll(pgErr.Where, "\n", "; "))
	}
	if pgErr.Hint != "" {
		fmt.Fprintf(&b, "; hint: %s", pgErr.Hint)
	}
	return &writeError{msg: b.String(), err: err}
}

type writeError struct {
	msg string
	err error
}

func (e *writeError) Error() string { return e.msg }
func (e *writeError) Unwrap() error { return e.err }

// interruptCleanup bounds waitBackendGone.
const interruptCleanup = 700 * time.Millisecond

// waitBackendGone makes sure that, after an interrupted apply, the server
// has really stopped the backend's query: it waits for the backend to end,
// and terminates it if it lingers.
//
// It gives up after interruptCleanup: Ctrl-C must end rowform at once, also
// when the server does not answer (a frozen backend dies once it runs
// again: the terminate signal waits for it, and its transaction is rolled
// back).
func waitBackendGone(connector *pgconnect.Connector, srv *hclconfig.Server, pid uint32) {
	ctx, cancel := context.WithTimeout(context.Background(), interruptCleanup)
	defer cancel()
	cfg, err := pgconnect.Config(srv, "rowform/cleanup")
	if err != nil {
		return
	}
	conn, err := connector.Connect(ctx, srv, cfg)
	if err != nil {
		return
	}
	defer conn.Close(ctx)
	for i := 0; ; i++ {
		var alive bool
		if err := conn.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE pid = $1)", int32(pid)).Scan(&alive); err != nil || !alive {
			return
		}
		if i == 1 {
			_, _ = conn.Exec(ctx, "SELECT pg_cancel_backend($1)", int32(pid))
		}
		if i == 4 {
			_, _ = conn.Exec(ctx, "SELECT pg_terminate_backend($1)", int32(pid))
		}
		select {
		case <-ctx.Done():
			return
		case <-time.After(50 * time.Millisecond):
		}
	}
}
