package executor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/history"
	"github.com/rowform/rowform/internal/pgconnect"
	"github.com/rowform/rowform/internal/plural"
	"github.com/rowform/rowform/planner"
)

// One sync's attempt: its sessions, its destination transaction (lock,
// timeouts, deferred constraints), the diff again inside it, the stale
// check against the plan, and COMMIT.

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
	dcfg, err := pgconnect.Config(s.Destination, pgconnect.ApplicationName(s.Name))
	if err != nil {
		return nil, err
	}
	pgconnect.MaskValues(dcfg, s.SensitiveColumns)
	pgconnect.SetResponseTimeout(dcfg, pgconnect.StatementResponseTimeout(statementTimeout))
	return connector.Connect(ctx, s.Destination, dcfg)
}

// tableLockTimeout is how long an apply's statement waits for a lock on a
// table that another session holds: the lock timeout, or 10 s without one.
func tableLockTimeout(opts Options) time.Duration {
	if opts.LockTimeout <= 0 {
		return 10 * time.Second
	}
	return opts.LockTimeout
}

// closeDestination closes the apply's destination session; after an
// interrupt it makes sure the server has stopped the session's query.
func closeDestination(ctx context.Context, connector *pgconnect.Connector, s *hclconfig.Sync, dst *pgx.Conn) {
	pid := dst.PgConn().PID()
	_ = pgconnect.Close(context.WithoutCancel(ctx), dst)
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
	if _, err := dst.Exec(ctx, fmt.Sprintf("SET LOCAL lock_timeout = %d", tableLockTimeout(opts).Milliseconds())); err != nil {
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

// attemptSync is one transaction: lock, diff, stale check, stage, merge,
// verify counts, commit. Its stages: openSessions, beginApply (the
// history schema, then the lock and timeouts), prepareAgain, then either
// loadInitial (an initial load streams into one COPY) or stageAndWrite:
// diffAgain into the staging sink and m.write.
func attemptSync(ctx context.Context, connector *pgconnect.Connector, s *hclconfig.Sync, sp *planner.SyncPlan, opts Options) (*attempt, error) {
	progress := progressOf(s, opts)
	dst, src, closeSessions, err := openSessions(ctx, connector, s, opts)
	if err != nil {
		return nil, err
	}
	defer closeSessions()

	tx, err := beginApply(ctx, connector, s, dst, opts, progress)
	if err != nil {
		return nil, err
	}
	defer tx.end()

	prep, err := prepareAgain(ctx, s, dst, src)
	if err != nil {
		return nil, err
	}
	prep.UseStrategy(sp.Strategy) // read the rows as the plan did
	m := newMerge(prep, dst, progress)
	m.history = newRecorder(s, prep, dst, opts, 0)
	if s.Source.Type == hclconfig.SourcePostgres && sp.DestinationRows == 0 &&
		sp.Counts == (planner.Counts{Insert: sp.Counts.Insert}) && sp.Counts.Insert > 0 && m.directInsert() && !prep.NeedsServerChecks() {
		counts, err := loadInitial(ctx, connector, s, sp, m, prep, dst, src)
		if err != nil {
			return nil, err
		}
		tx.committed = true
		return &attempt{counts: counts}, nil
	}
	return tx.stageAndWrite(connector, s, m, func(sink *stagingSink) (*planner.DiffResult, error) {
		return diffAgain(ctx, connector, s, sp, prep, dst, src, sink, progress)
	})
}

// applyTx is an apply's transaction on the destination, from beginApply
// to the merge's COMMIT (committed), or else to end's ROLLBACK.
type applyTx struct {
	ctx       context.Context
	dst       *pgx.Conn
	committed bool
}

// beginApply makes the history schema current (ensureHistory, in a
// transaction of its own), then begins the apply's transaction with the
// table's lock and timeouts (beginDestination). The caller defers end.
func beginApply(ctx context.Context, connector *pgconnect.Connector, s *hclconfig.Sync, dst *pgx.Conn, opts Options, progress func(string, int64)) (*applyTx, error) {
	if err := ensureHistory(ctx, dst, s, opts); err != nil {
		return nil, lostConnection(connector, s, err)
	}
	tx := &applyTx{ctx: ctx, dst: dst}
	if err := beginDestination(ctx, connector, s, dst, opts, progress); err != nil {
		tx.end()
		return nil, err
	}
	return tx, nil
}

// end rolls the transaction back unless it committed.
func (tx *applyTx) end() {
	if !tx.committed {
		rollback(tx.ctx, tx.dst)
	}
}

// stageAndWrite stages the changes diff hands its sink (and the history's
// record of them) and, when there are any, writes them with m, which
// commits. With none there is nothing to write, and end's ROLLBACK ends
// the transaction.
func (tx *applyTx) stageAndWrite(connector *pgconnect.Connector, s *hclconfig.Sync, m *merge, diff func(*stagingSink) (*planner.DiffResult, error)) (*attempt, error) {
	sink, err := newStagingSink(len(m.cols), m.nkey)
	if err != nil {
		return nil, err
	}
	defer sink.close()
	sink.history = m.historySink()
	res, err := diff(sink)
	if err != nil {
		return nil, err
	}
	if res.Counts.Changes() == 0 {
		return &attempt{counts: res.Counts, rejected: res.Rejected}, nil
	}
	a, err := m.write(tx.ctx, connector, s, sink, res)
	tx.committed = err == nil
	if err != nil {
		res.Rejected.Close()
	}
	return a, err
}

// openSessions opens the apply's destination session and, for a postgres
// source, a read-only source session in a REPEATABLE READ transaction.
// closeSessions closes both (the source first); on error nothing stays
// open.
func openSessions(ctx context.Context, connector *pgconnect.Connector, s *hclconfig.Sync, opts Options) (dst, src *pgx.Conn, closeSessions func(), err error) {
	dst, err = connectDestinationWithin(ctx, connector, s, opts.StatementTimeout)
	if err != nil {
		return nil, nil, nil, err
	}
	closeDst := func() { closeDestination(ctx, connector, s, dst) }
	if s.Source.Type != hclconfig.SourcePostgres {
		return dst, nil, closeDst, nil
	}
	src, err = connector.ConnectReadOnly(ctx, s.Source.Server, s.Name, s.SensitiveColumns...)
	if err != nil {
		closeDst()
		return nil, nil, nil, err
	}
	closeBoth := func() {
		_ = pgconnect.Close(context.WithoutCancel(ctx), src)
		closeDst()
	}
	if _, err := src.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		closeBoth()
		return nil, nil, nil, fmt.Errorf("starting the source transaction: %w", err)
	}
	return dst, src, closeBoth, nil
}

// prepareAgain checks the sync's structure inside the apply's transaction.
// The plan had no error, so any error now means the table or its grants
// changed since (a unique constraint dropped, a column gone): stale.
func prepareAgain(ctx context.Context, s *hclconfig.Sync, dst, src *pgx.Conn) (*planner.Prepared, error) {
	prep, findings := planner.Prepare(ctx, s, dst, src)
	if err := findingsError(s, findings); err != nil {
		return nil, err
	}
	if prep == nil || hasErrorFinding(findings) {
		return nil, fmt.Errorf("%w: %s", ErrStale, describeFindings(findings))
	}
	return prep, nil
}

// loadInitial applies an initial load (m.load), records it and commits.
func loadInitial(ctx context.Context, connector *pgconnect.Connector, s *hclconfig.Sync, sp *planner.SyncPlan, m *merge, prep *planner.Prepared, dst, src *pgx.Conn) (planner.Counts, error) {
	counts, err := m.load(ctx, prep, src, sp)
	if err != nil {
		return planner.Counts{}, lostConnection(connector, s, err)
	}
	if err := m.finishHistory(ctx, counts, sp.ChangeDigest); err != nil {
		return planner.Counts{}, lostConnection(connector, s, err)
	}
	if err := commit(ctx, dst); err != nil {
		return planner.Counts{}, err
	}
	return counts, nil
}

// diffAgain diffs the sync inside the apply's transaction into sink and
// checks that the result is the plan's (staleness).
func diffAgain(ctx context.Context, connector *pgconnect.Connector, s *hclconfig.Sync, sp *planner.SyncPlan, prep *planner.Prepared, dst, src *pgx.Conn, sink *stagingSink, progress func(string, int64)) (*planner.DiffResult, error) {
	progress("diffing", 0)
	res, findings, err := prep.Diff(ctx, dst, src, sink, func(n int64) { progress("diffing", n) })
	if err != nil && (s.Source.Type == hclconfig.SourceCSV || s.Source.Type == hclconfig.SourceDuckDB) && pgconnect.IsServerError(err) {
		// The plan converted every value; a value the server now refuses
		// means the file changed since.
		return nil, fmt.Errorf("%w: %s no longer converts as it did when planned (%s); nothing was written — run 'rowform plan' again",
			ErrStale, s.Source.Address(), pgconnect.ErrorSummary(err))
	}
	if err != nil && s.Source.Type == hclconfig.SourceDuckDB && planner.IsDuckDBError(err) {
		// DuckDB read the files without error when planned: a file changed
		// or went away since. The error's text is masked by the planner
		// for a sync with sensitive columns.
		first, _, _ := strings.Cut(err.Error(), "\n")
		return nil, fmt.Errorf("%w: %s no longer reads as it did when planned (%s); nothing was written — run 'rowform plan' again",
			ErrStale, s.Source.Address(), first)
	}
	if err != nil {
		return nil, lostConnection(connector, s, err)
	}
	if err := confirmDiff(s, sp, res, findings); err != nil {
		res.Rejected.Close()
		return nil, alreadyApplied(ctx, dst, s, sp, withClockHint(err, prep))
	}
	return res, nil
}

// alreadyApplied rewords a stale plan's error when the newest run of the
// sync that applied, in the destination's history, applied this very plan
// (the same change digest): the plan was most likely applied already, and
// the error says so, and by which run, instead of "the rows changed". It
// reads the history on dst, in the apply's transaction, under a savepoint:
// a history it cannot read leaves err as it is and the transaction usable.
func alreadyApplied(ctx context.Context, dst *pgx.Conn, s *hclconfig.Sync, sp *planner.SyncPlan, err error) error {
	if !errors.Is(err, ErrStale) || !s.Destination.HistoryEnabled() || sp.ChangeDigest == "" || ctx.Err() != nil {
		return err
	}
	if _, serr := dst.Exec(ctx, "SAVEPOINT rowform_last_run"); serr != nil {
		return err
	}
	run, herr := history.LastApplied(ctx, dst, s.Destination.History.Schema, s.Name)
	if herr != nil {
		_, _ = dst.Exec(ctx, "ROLLBACK TO SAVEPOINT rowform_last_run")
	}
	_, _ = dst.Exec(ctx, "RELEASE SAVEPOINT rowform_last_run")
	if herr != nil || run == nil || run.PlanDigest != sp.ChangeDigest {
		return err
	}
	return withAdvice(err, fmt.Sprintf("run %d of this sync (finished %s, by %s) applied this same plan: it was most likely applied already; run 'rowform plan' to see what is left to change",
		run.ID, run.FinishedAt.UTC().Format("2006-01-02 15:04:05 UTC"), run.Actor))
}

// clockSource is what can say what a sync's source query reads of the
// clock: its planner.Prepared, or its plan made again.
type clockSource interface {
	SourceClock() (calls string, inValues bool)
}

// withClockHint rewords a stale plan's error when the source query reads
// the clock or chance (planner.Prepared.SourceClock): planning again does
// not help then, or not for long, so the error says what does instead of
// "run 'rowform plan' again".
func withClockHint(err error, src clockSource) error {
	calls, inValues := src.SourceClock()
	if calls == "" || !errors.Is(err, ErrStale) {
		return err
	}
	hint := fmt.Sprintf("the source query calls %s in a condition that chooses its rows, so the rows it returns move with the clock, and a new plan is stale by its apply whenever a row crosses that line in between: 'rowform apply -auto-approve' plans and applies in one transaction", calls)
	if inValues {
		hint = fmt.Sprintf("the source query calls %s among the values it returns, which differ each time it runs, so every saved plan of this sync is stale by its apply: run 'rowform apply -auto-approve', which plans and applies in one transaction, or compute the value on the destination (a column DEFAULT or a trigger)", calls)
	}
	return withAdvice(err, hint)
}

// withAdvice is err, a stale plan's error, with advice in place of the
// closing "run 'rowform plan' again" (after what err says, when it has no
// such close).
func withAdvice(err error, advice string) error {
	msg := strings.TrimSuffix(err.Error(), " — run 'rowform plan' again")
	return &rewordedError{msg: msg + " — " + advice, err: err}
}

// rewordedError is err said otherwise; errors.Is and As see err.
type rewordedError struct {
	msg string
	err error
}

func (e *rewordedError) Error() string { return e.msg }
func (e *rewordedError) Unwrap() error { return e.err }

// confirmDiff is what an apply checks of the diff it ran in its
// transaction before it writes: that the plan still holds (staleness), and
// that the diff breaks none of the sync's rules (rulesHold).
func confirmDiff(s *hclconfig.Sync, sp *planner.SyncPlan, res *planner.DiffResult, findings []planner.Finding) error {
	if err := staleness(sp, res, findings); err != nil {
		return err
	}
	if err := sameWarnings(sp, res); err != nil {
		return err
	}
	return rulesHold(s, res)
}

// sameWarnings refuses, as stale, an apply whose own diff warns of what
// the plan did not: a trigger that fires for the writes or a cascade into
// another table (a trigger created since the plan would change the rows
// written, with nothing in the reviewed plan to say so).
func sameWarnings(sp *planner.SyncPlan, res *planner.DiffResult) error {
	planned := map[string]bool{}
	for _, f := range sp.Findings {
		planned[string(f.Code)+"\x00"+f.Summary] = true
	}
	for _, f := range res.CheckFindings {
		if f.Code != planner.CodeTriggers && f.Code != planner.CodeCascade {
			continue
		}
		if !planned[string(f.Code)+"\x00"+f.Summary] {
			return fmt.Errorf("%w: the table changed since the plan: %s, which the plan does not say; nothing was written — run 'rowform plan' again", ErrStale, f.Summary)
		}
	}
	return nil
}

// rulesHold refuses an apply whose own diff crosses the sync's guard, or
// has rows the destination would refuse (an undo's conflicts among them)
// under on_reject = "fail". Its plan would have said so, and been refused:
// only a plan file edited by hand (its guard_exceeded, rejected_rows or
// undo_conflict error taken out) gets here with one.
func rulesHold(s *hclconfig.Sync, res *planner.DiffResult) error {
	edited := "which the plan does not say (its file was edited); nothing was written — run 'rowform plan' again"
	if fs := planner.GuardFindings(s, res); len(fs) > 0 {
		return fmt.Errorf("refused: %s, %s", fs[0].Summary, edited)
	}
	if res.Counts.Reject > 0 && s.OnReject != hclconfig.RejectSkip {
		return fmt.Errorf("refused: %s would be refused by the destination (or, undone, conflict with later changes) and on_reject is \"fail\", %s",
			plural.Count(res.Counts.Reject, "row"), edited)
	}
	return nil
}

// attempt is what one successful attemptSync did.
type attempt struct {
	counts    planner.Counts
	rejected  planner.RejectedRows
	rewritten []Rewritten
}

// staleness compares the diff an apply just ran with the plan's. The plan
// is kept only if the same rows would be written from the same starting
// point: the change set (digest), which of its changes the destination
// refuses (reject digest), and every count, including the rows the sync
// leaves alone and the rows read on each side, must be what the plan saw.
// It returns an ErrStale error otherwise.
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
		if res.RejectDigest != sp.RejectDigest {
			// The same changes, but the destination's rules now refuse
			// others of them: another table (a parent, say) changed.
			return fmt.Errorf("%w: the destination changed since the plan was made: the changes and counts are the same (%s), but the destination would now refuse other rows than the plan showed as rejected, so other rows would be written and left out; nothing was written — run 'rowform plan' again",
				ErrStale, describeCounts(sp.Counts))
		}
		return nil
	}
	return fmt.Errorf("%w: the rows changed since the plan was made (planned %s of %d source and %d destination rows; now %s of %d and %d); nothing was written — run 'rowform plan' again",
		ErrStale, describeCounts(sp.Counts), sp.SourceRows, sp.DestinationRows, describeCounts(res.Counts), res.SourceRows, res.DestinationRows)
}

// commit commits the apply's transaction. A COMMIT the server refused is
// an error that wraps the server's (rolled back); interrupted before COMMIT
// was sent, it returns the context's error (rolled back); any other failure
// — the connection lost while COMMIT was on its way or its answer was — is
// a commitError (outcome unknown).
func commit(ctx context.Context, dst *pgx.Conn) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := dst.Exec(ctx, "COMMIT")
	switch {
	case err == nil:
		return nil
	case pgconnect.IsServerError(err):
		// The server refused to commit: it rolled back.
		return fmt.Errorf("COMMIT failed: %w", err)
	case ctx.Err() != nil && pgconn.SafeToRetry(err):
		// Interrupted before COMMIT was sent: rolled back.
		return ctx.Err()
	default:
		// Sent, and no answer came back: either may have happened.
		return &commitError{err}
	}
}

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
	defer pgconnect.Close(ctx, conn)
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
