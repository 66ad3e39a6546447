// Package planner computes rowform plans: for every sync, the exact rows it
// would insert, update and delete, and every problem that would stop it
// (the README's Behaviors and Commands). Planning only reads: source queries run in read-only
// REPEATABLE READ transactions, and destination sessions are read-only.
//
// Rows come from a postgres, csv or duckdb source; how they travel is the
// sync's diff strategy (strategy.go: full rows, or keys and row hashes
// computed by the servers, serverhash.go), and both are matched by the same
// parallel hash join (hashdiff.go), then checked before the sink sees them
// (reject.go). docs/design.md maps the files.
//
// The row diff in this package is shared with the executor, which re-runs it
// inside its write transaction and ships only the changed rows.
package planner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/pgconnect"
	"github.com/rowform/rowform/internal/plural"
	"github.com/rowform/rowform/internal/redact"
	"github.com/rowform/rowform/internal/sshtunnel"
	"github.com/rowform/rowform/internal/suggest"
)

// Options control a plan.
type Options struct {
	// Syncs limits the plan to these sync names; empty plans every sync.
	Syncs []string
	// ShowRows is how many example rows per change type each sync keeps
	// (-show-rows); 0 keeps none.
	ShowRows int
	// Progress, when set, is called from planning goroutines with the number
	// of rows read so far by a sync. It must be safe for concurrent use.
	Progress func(sync string, rows int64)
	// Environ is the process environment; it supplies SSH_AUTH_SOCK for
	// tunnels that authenticate with ssh-agent.
	Environ []string
	// Tunnel tunes the SSH tunnels (timeouts, keepalives); the zero value
	// is sshtunnel's defaults.
	Tunnel sshtunnel.Options
	// Changes, when set, receives every change (insert, update, delete) of
	// every sync as the diff passes it on, rendered with sensitive values
	// masked (plan -changes). The *Change is only valid during the call.
	// Syncs are planned at once, so it must be safe for concurrent use; a
	// sync that is not Diffed in the end may have passed some changes. An
	// error stops that sync's diff.
	Changes func(*Change) error
	// StructureOnly stops each sync after the checks of its connections,
	// table, columns, key and grants, before the row diff: a quick check
	// of what does not depend on the rows. Its syncs are not Diffed.
	StructureOnly bool
	// DestinationTimeouts bound the statements of the plan's destination
	// sessions (apply's -statement-timeout and lock timeout, for the check
	// apply makes before it writes); zero is none.
	DestinationTimeouts pgconnect.Timeouts

	// secrets are the configuration's secrets, which a sample value is
	// never cut inside (sampleValue); Compute and ComputeUndo set them.
	secrets *redact.Redactor
}

// Secrets returns a Redactor of cfg's secrets: what a cut sample value must
// not split (SampleSink).
func Secrets(cfg *hclconfig.Config) *redact.Redactor {
	r := &redact.Redactor{}
	r.Add(cfg.Secrets()...)
	return r
}

// Compute plans the syncs of cfg. Problems of a sync (an unreachable server, a
// missing grant, bad source rows) become findings on that sync; the other
// syncs are still planned. The error is only for a request that cannot be
// planned at all, such as an unknown sync name.
func Compute(ctx context.Context, cfg *hclconfig.Config, opts Options) (*Plan, error) {
	syncs, err := selectSyncs(cfg, opts.Syncs)
	if err != nil {
		return nil, err
	}
	opts.secrets = Secrets(cfg)
	limits := pgconnect.NewConnectionLimits()
	connector := pgconnect.NewConnector(opts.Environ)
	connector.Tunnel = opts.Tunnel
	plan := &Plan{Syncs: make([]*SyncPlan, len(syncs))}
	// A sync is planned after the syncs it depends on, against what they
	// write (crosssync.go); independent syncs are planned at once.
	planned := map[string]bool{}
	done := map[string]chan struct{}{}
	byName := map[string]int{}
	for i, s := range syncs {
		planned[s.Name] = true
		done[s.Name] = make(chan struct{})
		byName[s.Name] = i
	}
	// The syncs others depend on record what they write for them.
	dependedOn := map[string]bool{}
	for _, s := range syncs {
		for _, d := range dependencies(cfg, s, planned) {
			dependedOn[d] = true
		}
	}
	var wg sync.WaitGroup
	for i, s := range syncs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(done[s.Name])
			var external []*writtenRows
			blocked := map[string]string{}
			for _, d := range dependencies(cfg, s, planned) {
				<-done[d]
				dp := plan.Syncs[byName[d]]
				if w := dp.written; w != nil {
					external = append(external, w)
				}
				if dp.HasErrors() || !dp.Diffed {
					blocked[dp.Table] = d
				}
			}
			plan.Syncs[i] = planSync(ctx, s, limits, connector, opts, external, blocked, dependedOn[s.Name])
		}()
	}
	wg.Wait()
	for _, sp := range plan.Syncs {
		sp.written = nil // every sync that depends on it is planned
	}
	connector.Close()
	if err := ctx.Err(); err != nil {
		return nil, interruptedError(err)
	}
	sharedTableFindings(plan.Syncs, syncs)
	plan.finish()
	return plan, nil
}

// interruptedError says that planning was interrupted (Ctrl-C) and that
// nothing was applied, instead of the bare "context canceled"; it wraps
// err, so errors.Is(err, context.Canceled) still holds.
func interruptedError(err error) error {
	if errors.Is(err, context.Canceled) {
		return fmt.Errorf("interrupted while planning, before anything was applied (%w)", err)
	}
	return fmt.Errorf("planning stopped before it ended, before anything was applied (%w)", err)
}

// Finish recomputes Applyable and Summary from the syncs. Call it after
// building or changing a Plan by hand.
func (p *Plan) Finish() { p.finish() }

// selectSyncs returns the syncs a plan limited to only covers: SelectSyncs
// without the list of added syncs.
func selectSyncs(cfg *hclconfig.Config, only []string) ([]*hclconfig.Sync, error) {
	syncs, _, err := SelectSyncs(cfg, only)
	return syncs, err
}

// IncludedSync is a sync that a plan limited by -sync covers although it was
// not named, because a sync of the plan depends on it.
type IncludedSync struct {
	// Name is the included sync's name.
	Name string
	// DependedOnBy is the sync of the plan that depends on it: a named sync,
	// or another included one when the dependency is indirect.
	DependedOnBy string
}

// SelectSyncs returns the syncs a plan limited to the named syncs covers, in
// the order of cfg.OrderedSyncs: the named syncs and, transitively, every
// sync they depend on, as Terraform's -target does; a sync never runs
// without what it depends on. added lists the syncs that were not named, in
// the order they were found (breadth first from the names in the order
// given). An empty only selects every sync and adds none. A name that is not
// a sync is an error.
func SelectSyncs(cfg *hclconfig.Config, only []string) (syncs []*hclconfig.Sync, added []IncludedSync, err error) {
	if len(only) == 0 {
		return cfg.OrderedSyncs(), nil, nil
	}
	want := map[string]bool{}
	var queue []*hclconfig.Sync
	for _, n := range only {
		s := cfg.Sync(n)
		if s == nil {
			return nil, nil, fmt.Errorf("there is no sync named %q; the syncs are: %s.%s", n, joinNames(cfg.SyncNames()), suggest.DidYouMean(n, cfg.SyncNames()))
		}
		if !want[n] {
			want[n] = true
			queue = append(queue, s)
		}
	}
	for len(queue) > 0 {
		s := queue[0]
		queue = queue[1:]
		for _, d := range s.DependsOn {
			dep := cfg.Sync(d)
			if dep == nil || want[d] {
				continue
			}
			want[d] = true
			added = append(added, IncludedSync{Name: d, DependedOnBy: s.Name})
			queue = append(queue, dep)
		}
	}
	for _, s := range cfg.OrderedSyncs() {
		if want[s.Name] {
			syncs = append(syncs, s)
		}
	}
	return syncs, added, nil
}

func joinNames(names []string) string {
	if len(names) == 0 {
		return "(none)"
	}
	return strings.Join(names, ", ")
}

// planSync plans one sync; it never fails, it reports.
// blocked maps the tables of the syncs s depends on that cannot be applied
// ("schema.table") to their names; dependedOn says that a sync of the plan
// depends on s, so that its plan keeps what it writes (SyncPlan.written).
func planSync(ctx context.Context, s *hclconfig.Sync, limits *pgconnect.ConnectionLimits, connector *pgconnect.Connector, opts Options, external []*writtenRows, blocked map[string]string, dependedOn bool) *SyncPlan {
	start := time.Now()
	sp := NewSyncPlan(s)
	defer func() { sp.Duration = time.Since(start) }()
	add := sp.AddFinding

	// Destination first, then source: one fixed order, so syncs waiting for
	// connection slots cannot deadlock.
	release, err := limits.Acquire(ctx, s.Destination)
	if err != nil {
		add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: err.Error()})
		return sp
	}
	defer release()
	dst, err := connector.ConnectReadOnlyWithin(ctx, s.Destination, s.Name, opts.DestinationTimeouts, s.SensitiveColumns...)
	if err != nil {
		add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: err.Error()})
	} else {
		defer pgconnect.Close(context.WithoutCancel(ctx), dst)
		checkEncryption(dst, s.Destination, add)
	}
	var src *pgx.Conn
	if s.Source.Type == hclconfig.SourcePostgres {
		srelease, err := limits.Acquire(ctx, s.Source.Server)
		if err != nil {
			add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: err.Error()})
			return sp
		}
		defer srelease()
		src, err = connector.ConnectReadOnly(ctx, s.Source.Server, s.Name, s.SensitiveColumns...)
		if err != nil {
			add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: err.Error()})
		} else {
			defer pgconnect.Close(context.WithoutCancel(ctx), src)
			checkEncryption(src, s.Source.Server, add)
		}
	}
	if dst == nil || (s.Source.Type == hclconfig.SourcePostgres && src == nil) {
		return sp
	}

	if src != nil {
		if _, err := src.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
			add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: describeError(err)})
			return sp
		}
		defer func() { _, _ = src.Exec(context.WithoutCancel(ctx), "ROLLBACK") }()
	}
	p := prepare(ctx, s, dst, src, add)
	if p == nil || opts.StructureOnly {
		return sp
	}
	sp.clock = p.clock
	sp.target = readTarget(ctx, s, dst, p.Table)
	sink := p.NewSampleSink(opts.ShowRows, opts.secrets)
	var progress func(int64)
	if opts.Progress != nil {
		progress = func(n int64) { opts.Progress(s.Name, n) }
	}
	p.external, p.blocked, p.recordWritten = external, blocked, dependedOn
	res, findings, err := p.Diff(ctx, dst, src, withChanges(sink, p, opts.Changes), progress)
	sp.RecordDiff(s, res, findings, lostSession(connector, s, err), sink.Samples())
	if err == nil && res != nil {
		res.Rejected.Close() // a plan lists no rejected row, only the findings
		if !sp.HasErrors() {
			sp.written = res.written
		}
	}
	return sp
}

// checkEncryption warns when a connection to a remote host is unencrypted.
func checkEncryption(conn *pgx.Conn, srv *hclconfig.Server, add func(Finding)) {
	if pgconnect.IsLoopback(srv.Host) || pgconnect.Encrypted(conn) {
		return
	}
	add(Finding{Severity: SeverityWarning, Code: CodeInsecureConnection,
		Summary: fmt.Sprintf("the connection to %s (%s:%d) is not encrypted", srv.Address(), srv.Host, srv.Port),
		Detail:  fmt.Sprintf("sslmode is %q and the server did not use TLS, so the password and rows cross the network in plain text. Enable TLS on the server and set sslmode = \"verify-full\".", pgconnect.SSLMode(srv))})
}

// DiffResult is what Diff found.
type DiffResult struct {
	// Counts are the changes by kind, the rows unchanged, skipped and
	// rejected; SourceRows and DestinationRows the rows read on each side.
	Counts          Counts
	SourceRows      int64
	DestinationRows int64
	// Digest is the hex SHA-256 of the change set, equal to the plan's
	// ChangeDigest when the data has not changed since.
	Digest string
	// Rejected lists the changes the destination would refuse (counted in
	// Counts.Reject, not written), by key; its rows may be in a temporary
	// file until Rejected.Close. CheckFindings are what the checks found:
	// one rejected_rows finding per reason, and the side effects of the
	// writes (cascade, triggers).
	Rejected      RejectedRows
	CheckFindings []Finding
	// RejectDigest identifies which changes are refused (the kind and key
	// of each), "" when none is: with Digest, what apply compares to keep
	// a plan.
	RejectDigest string
	// Strategy is how the rows were read: StrategyServerHash or
	// StrategyFullRows; StrategyReason says why it was chosen or fell
	// back, StrategyEstimate what auto estimated and the diff found.
	Strategy         string
	StrategyReason   string
	StrategyEstimate string
	// written is what the accepted changes write into columns that foreign
	// keys reference, for the syncs that depend on this one.
	written *writtenRows
	// rejectedDeletes counts the deletes among the rejected rows (in
	// Counts.Reject, not in Counts.Delete).
	rejectedDeletes int64
}

// Diff runs the row diff of a prepared sync, calling sink for every change.
// dst reads the destination table (inside whatever transaction the caller
// opened on it); src reads the source query (nil for csv sources). Bad
// source rows (NULL or duplicate keys, CSV values that do not convert) are
// findings; a nil result with findings means the diff could not finish.
func (p *Prepared) Diff(ctx context.Context, dst, src *pgx.Conn, sink ChangeSink, progress func(int64)) (*DiffResult, []Finding, error) {
	return p.diff(ctx, dst, src, false, sink, progress)
}

// DiffIntoEmpty runs the row diff of a sync with a postgres source against
// a destination the caller has proved empty (DestinationIsEmpty) in its
// transaction, without reading it: dst's connection stays free to take the
// new rows while they are read. Its result equals Diff's on that table.
func (p *Prepared) DiffIntoEmpty(ctx context.Context, src *pgx.Conn, sink ChangeSink, progress func(int64)) (*DiffResult, []Finding, error) {
	if p.Sync.Source.Type != hclconfig.SourcePostgres {
		return nil, nil, fmt.Errorf("internal error: DiffIntoEmpty needs a postgres source")
	}
	return p.diff(ctx, nil, src, true, sink, progress)
}

// DestinationIsEmpty reports whether the destination table has no row the
// diff would read (rows with a NULL key are read only by a mirror, which
// deletes them).
func (p *Prepared) DestinationIsEmpty(ctx context.Context, dst *pgx.Conn) (bool, error) {
	var found bool
	err := dst.QueryRow(ctx, fmt.Sprintf("SELECT EXISTS (%s LIMIT 1)", p.destinationSQL())).Scan(&found)
	return !found, err
}

// destinationSQL reads the destination table for the diff.
func (p *Prepared) destinationSQL() string {
	return p.layout.DestinationSQL(p.Table.Ident(), p.Sync.Behavior.Deletes())
}

func (p *Prepared) diff(ctx context.Context, dst, src *pgx.Conn, emptyDestination bool, sink ChangeSink, progress func(int64)) (*DiffResult, []Finding, error) {
	diffsStarted.Add(1)
	if p.Sync.Source.Type == hclconfig.SourceDuckDB {
		return p.diffDuckDB(ctx, dst, sink, progress)
	}
	if p.Sync.Source.Type != hclconfig.SourcePostgres || emptyDestination {
		st := strategy{name: StrategyFullRows, reason: p.serverHashUnsupported()}
		if emptyDestination {
			st.reason = "an initial load into an empty table"
		}
		return p.diffOnce(ctx, dst, src, emptyDestination, false, st, sink, progress)
	}
	st := p.chooseStrategy(ctx, dst, src)
	if st.name == StrategyServerHash && !inTransaction(dst) {
		// Plan reads the destination twice (hashes, then rows): in one
		// snapshot, as apply's transaction does.
		if _, err := dst.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
			return nil, nil, err
		}
		defer func() { _, _ = dst.Exec(context.WithoutCancel(ctx), "ROLLBACK") }()
	}
	// A source value that does not convert to the destination's type stops
	// the source query. The diff then starts again with the source read as
	// text and converted on the destination, where each value that does not
	// convert rejects its row instead (see markRejected).
	if _, err := src.Exec(ctx, "SAVEPOINT rowform_source"); err != nil {
		return nil, nil, &sourceError{err}
	}
	res, findings, err := p.diffOnce(ctx, dst, src, false, false, st, sink, progress)
	var se *sourceError
	if err == nil || !errors.As(err, &se) || !isDataError(se.err) {
		return res, findings, err
	}
	if _, rerr := src.Exec(ctx, "ROLLBACK TO SAVEPOINT rowform_source"); rerr != nil {
		return nil, nil, err
	}
	st = strategy{name: StrategyFullRows, reason: "a source value does not convert to its destination type: the source is read as text and converted on the destination"}
	return p.diffOnce(ctx, dst, src, false, true, st, sink, progress)
}

// diffOnce runs the diff; asText reads a postgres source as text and
// converts it on the destination, as a CSV file is. st is the strategy
// (server_hash only for a postgres source not read as text); the result
// says the one used.
func (p *Prepared) diffOnce(ctx context.Context, dst, src *pgx.Conn, emptyDestination, asText bool, st strategy, sink ChangeSink, progress func(int64)) (*DiffResult, []Finding, error) {
	l := p.layout
	var findings []Finding
	if st.name == StrategyServerHash {
		chk := newChecker(p, sink, false)
		res, fallback, err := p.serverHashDiff(ctx, dst, src, chk, progress)
		if err != nil {
			return nil, nil, err
		}
		if fallback == "" {
			return p.finishDiff(ctx, dst, chk, res, st, nil)
		}
		st = strategy{name: StrategyFullRows, reason: fallback, estimate: st.estimate}
	}
	var srcStream rowStream
	switch {
	case p.Sync.Source.Type == hclconfig.SourceDuckDB && p.duckdbDirect:
		var err error
		if srcStream, err = p.duckdbRows(ctx); err != nil {
			return nil, nil, &sourceError{err}
		}
	case p.Sync.Source.Type == hclconfig.SourceCSV || p.Sync.Source.Type == hclconfig.SourceDuckDB || asText:
		var conv *csvConversion
		var err error
		switch {
		case asText:
			conv, err = p.convertQuery(ctx, dst, src)
		case p.Sync.Source.Type == hclconfig.SourceDuckDB:
			conv, err = p.convertDuckDB(ctx, dst)
		default:
			conv, err = p.convertCSV(ctx, dst)
		}
		if err != nil {
			return nil, nil, &sourceError{err}
		}
		findings = append(findings, conv.findings...)
		if conv.stopped {
			return nil, findings, nil
		}
		if srcStream, err = conv.rows.stream(); err != nil {
			return nil, findings, &sourceError{err}
		}
	default:
		// Only the merge into an empty table needs the source in key order.
		srcStream = queryStream(ctx, src.PgConn(), l.SourceSQL(p.Sync.Query, emptyDestination), l.width())
	}
	defer srcStream.close()
	// The checker passes on to sink only the changes the destination would
	// accept; an initial load streams (its plan proved none is refused).
	chk := newChecker(p, sink, emptyDestination)
	var res *diffResult
	var err error
	if emptyDestination {
		res, err = l.mergeDiff(ctx, p.Sync.Behavior, &tagged{srcStream, true}, &sliceStream{}, chk, progress)
	} else {
		dstStream := queryStream(ctx, dst.PgConn(), p.destinationSQL(), l.width())
		defer dstStream.close()
		res, err = l.hashDiff(ctx, p.Sync.Behavior, &tagged{srcStream, true}, dstStream, chk, progress, hashLimitsFrom(ctx))
		if err == nil {
			err = dstStream.close()
		}
	}
	if err != nil {
		return nil, findings, chk.noRestart(err)
	}
	if err := srcStream.close(); err != nil {
		return nil, findings, chk.noRestart(&sourceError{err})
	}
	return p.finishDiff(ctx, dst, chk, res, st, findings)
}

// finishDiff runs the checks on the diff's changes and returns the
// sync's result with the diff's findings.
func (p *Prepared) finishDiff(ctx context.Context, dst *pgx.Conn, chk *checker, res *diffResult, st strategy, findings []Finding) (*DiffResult, []Finding, error) {
	if err := chk.finish(ctx, dst); err != nil {
		return nil, findings, err
	}
	rejectedDeletes := chk.adjust(&res.Counts)
	if chk.dupKeys > 0 {
		res.DupKeys += chk.dupKeys
		for _, ex := range chk.dupExamples {
			res.DupKeyExamples = addExample(res.DupKeyExamples, ex)
		}
	}
	var lines *csvKeyLines
	if res.NullKeys > 0 || res.DupKeys > 0 {
		lines = p.findKeyLines(res.NullKeys > 0, res.DupKeyExamples)
	}
	if res.NullKeys > 0 {
		findings = append(findings, Finding{Severity: SeverityError, Code: CodeNullSourceKey,
			Summary: fmt.Sprintf("%d source row%s ha%s a NULL key", res.NullKeys, plural.S(res.NullKeys), hasHave(res.NullKeys)),
			Detail:  joinSentences(lines.nullSentence(), nullKeyHint(p.Sync)),
			Rows:    res.NullKeys, Examples: append([]string(nil), res.NullKeyExamples...)})
	}
	if res.DupKeys > 0 {
		findings = append(findings, Finding{Severity: SeverityError, Code: CodeDuplicateSourceKey,
			Summary: fmt.Sprintf("%d key%s appear%s more than once in the source", res.DupKeys, plural.S(res.DupKeys), plural.VerbS(res.DupKeys)),
			Detail:  joinSentences(lines.dupSentence(res.DupKeyExamples), duplicateKeyHint(p.Sync)),
			Rows:    res.DupKeys, Examples: append([]string(nil), res.DupKeyExamples...)})
	}
	rejected, err := chk.rejectedRows()
	if err != nil {
		return nil, findings, err
	}
	return &DiffResult{Counts: res.Counts, SourceRows: res.SourceRows, DestinationRows: res.DestinationRows, Digest: res.Digest,
		RejectDigest: chk.rejectDigest(), Rejected: rejected, CheckFindings: chk.findings(p.Sync.OnReject), written: chk.written, rejectedDeletes: rejectedDeletes,
		Strategy: st.name, StrategyReason: st.reason, StrategyEstimate: joinNonEmpty(st.estimate, res.strategyNote)}, findings, nil
}

func hasHave(n int64) string {
	if n == 1 {
		return "s"
	}
	return "ve"
}

// sourceError marks an error that came from reading the source.
type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }
func (e *sourceError) Unwrap() error { return e.err }

// tagged marks which side a stream error came from.
type tagged struct {
	rowStream
	source bool
}

func (t *tagged) next() (*Row, error) {
	r, err := t.rowStream.next()
	if err != nil && t.source {
		return nil, &sourceError{err}
	}
	return r, err
}

// IsSourceError reports whether err came from reading the source: whether
// it is, or wraps, the error of a source's row stream.
func IsSourceError(err error) bool {
	var se *sourceError
	return errors.As(err, &se)
}

// sessionLostError is a diff cut short because a connection it read
// through was lost: the server went away or stopped answering, or the SSH
// bastion it was reached through did. It wraps the diff's error.
type sessionLostError struct {
	msg string
	err error
}

func (e *sessionLostError) Error() string { return e.msg }

func (e *sessionLostError) Unwrap() error { return e.err }

// lostSession rewords err, a diff's error, as a *sessionLostError when it
// means that the session it came from (the destination's, or a postgres
// source's) is gone rather than that a query or a value failed: the SSH
// tunnel it went through failed, or the connection was lost or stopped
// answering. Any other error is returned as it is.
func lostSession(connector *pgconnect.Connector, s *hclconfig.Sync, err error) error {
	side, what := s.Destination, "the destination "
	if IsSourceError(err) {
		if s.Source.Type != hclconfig.SourcePostgres {
			return err
		}
		side, what = s.Source.Server, "the source "
	}
	loss, ok := connector.LostSession(err, side)
	switch {
	case !ok:
		return err
	case loss.Tunnel != nil:
		return &sessionLostError{fmt.Sprintf("lost the connection to %s%s, reached through an SSH bastion: %v", what, side.Address(), loss.Tunnel), err}
	case loss.NoResponse:
		return &sessionLostError{fmt.Sprintf("gave up on %s%s: %s", what, side.Address(), describeError(err)), err}
	}
	return &sessionLostError{fmt.Sprintf("lost the connection to %s%s: %s", what, side.Address(), describeError(err)), err}
}

func diffErrorFinding(s *hclconfig.Sync, err error) Finding {
	if f, ok := tempFileFinding(s.Table.String(), err); ok {
		return f
	}
	var lost *sessionLostError
	if errors.As(err, &lost) {
		return Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: lost.Error(),
			Detail: "The plan of this sync was cut short and says nothing about its rows. Plan again once the server and the network are reachable."}
	}
	var damaged *damagedRunError
	if errors.As(err, &damaged) {
		return Finding{Severity: SeverityError, Code: CodeHistoryDamaged, Summary: damaged.Error(),
			Detail: "Undo restores rows from what the apply recorded in the history's run_rows (or the run's own table); a record changed by hand no longer says what the rows held. Restore the history from a backup, or fix the rows by hand."}
	}
	var unconverted *unconvertedRunError
	if errors.As(err, &unconverted) {
		return Finding{Severity: SeverityError, Code: CodeTypeMismatch, Summary: unconverted.Error(),
			Detail: "Undo writes back the keys and values the run recorded, as text, in the type each column has now: a column whose type was changed since the run (ALTER COLUMN ... TYPE) may no longer take them. Change the column's type back to undo the run, or undo it by hand."}
	}
	var arr *uncheckableArrayError
	if errors.As(err, &arr) {
		return Finding{Severity: SeverityError, Code: CodeTypeMismatch, Column: arr.column,
			Summary: fmt.Sprintf("%s: a changed row of %s", arr.Error(), s.Table),
			Detail:  "The plan checks the table's CHECK constraints, unique indexes, exclusion constraints and foreign keys on the rows it writes, and passes them one-dimensional arrays only. Make the query give such values as one-dimensional arrays (or leave the column out), or drop the rule the plan cannot check."}
	}
	var se *sourceError
	if errors.As(err, &se) {
		f := queryFinding(s, se.err)
		var pgErr *pgconn.PgError
		if s.Source.Type == hclconfig.SourceDuckDB && !errors.As(se.err, &pgErr) {
			f = duckdbQueryFinding(s, maskDuckDB(s, se.err, false))
		}
		if s.Source.Type == hclconfig.SourceCSV {
			f.Summary = fmt.Sprintf("cannot read %s: %s", s.Source.Address(), describeError(se.err))
			f.Detail = ""
		}
		return *f
	}
	return Finding{Severity: SeverityError, Code: CodeConnectionFailed,
		Summary: fmt.Sprintf("reading %s failed: %s", s.Table, describeError(err))}
}

// GuardFindings are the guard_exceeded findings of a sync's diff, as its
// plan has them: apply checks its own diff again with them, so that a plan
// file edited to drop them does not carry a crossed guard through.
func GuardFindings(s *hclconfig.Sync, r *DiffResult) []Finding { return guardFindings(s, r) }

// guardFindings checks the sync's guard against the diff (docs/language.md).
func guardFindings(s *hclconfig.Sync, r *DiffResult) []Finding {
	g := s.Guard
	if g == nil {
		return nil
	}
	var out []Finding
	// Under on_reject = "fail" the rejected deletes block apply until they
	// are fixed, and then they are deleted: the delete guards count them,
	// so that the plan shows a crossed guard together with the rejections.
	deletes := r.Counts.Delete
	if s.OnReject != hclconfig.RejectSkip {
		deletes += r.rejectedDeletes
	}
	crossed := func(summary, detail string) {
		out = append(out, Finding{Severity: SeverityError, Code: CodeGuardExceeded, Summary: summary, Detail: detail})
	}
	exceeded := func(limit, summary string) {
		crossed(summary, fmt.Sprintf("The guard's %s protects this table. If the change is intended, raise the limit in the configuration, or plan with a source that is complete.", limit))
	}
	if g.MaxDeletes != nil && deletes > *g.MaxDeletes {
		exceeded("max_deletes", fmt.Sprintf("guard max_deletes exceeded: %s would be deleted, the limit is %d", plural.Count(deletes, "row"), *g.MaxDeletes))
	}
	if g.MaxDeletePercent != nil && deletes > 0 {
		pct := 100.0
		if r.DestinationRows > 0 {
			pct = float64(deletes) * 100 / float64(r.DestinationRows)
		}
		if pct > *g.MaxDeletePercent {
			exceeded("max_delete_percent", fmt.Sprintf("guard max_delete_percent exceeded: %.2f%% of the table's %d rows would be deleted (%d), the limit is %g%%", pct, r.DestinationRows, deletes, *g.MaxDeletePercent))
		}
	}
	if g.MaxUpdates != nil && r.Counts.Update > *g.MaxUpdates {
		exceeded("max_updates", fmt.Sprintf("guard max_updates exceeded: %s would be updated, the limit is %d", plural.Count(r.Counts.Update, "row"), *g.MaxUpdates))
	}
	if g.MaxRejectPercent != nil && r.Counts.Reject > 0 {
		pct := float64(r.Counts.Reject) * 100 / float64(r.Counts.Changes()+r.Counts.Reject)
		if pct > *g.MaxRejectPercent {
			exceeded("max_reject_percent", fmt.Sprintf("guard max_reject_percent exceeded: %.2f%% of the rows the sync would write are refused by the destination (%d of %d), the limit is %g%%", pct, r.Counts.Reject, r.Counts.Changes()+r.Counts.Reject, *g.MaxRejectPercent))
		}
	}
	if g.MinSourceRows != nil && r.SourceRows < *g.MinSourceRows {
		crossed(fmt.Sprintf("guard min_source_rows not met: the source has %d rows, the minimum is %d", r.SourceRows, *g.MinSourceRows),
			"The guard's min_source_rows protects this table from a source that came back short (an export that failed, a query that matched nothing). "+
				"Check the source; if it is meant to have fewer rows, lower min_source_rows in the configuration.")
	}
	return out
}

// sampleSink keeps, of each kind of change, the n with the smallest keys (in
// the order compareKeys defines), so that a plan shows the same samples
// whatever order the diff found the rows in.
type sampleSink struct {
	l       *layout
	n       int
	samples *Samples
	keys    map[ChangeKind][]*Row // key-only copies, parallel to the samples
	secrets *redact.Redactor      // what a long value is not cut inside
}

func newSampleSink(l *layout, n int, secrets *redact.Redactor) *sampleSink {
	return &sampleSink{l: l, n: n, samples: &Samples{}, keys: map[ChangeKind][]*Row{}, secrets: secrets}
}

func (s *sampleSink) Change(kind ChangeKind, src, dst *Row, changed []int) error {
	if s.n <= 0 {
		return nil
	}
	l := s.l
	row := src
	if kind == ChangeDelete {
		row = dst
	}
	keys := s.keys[kind]
	// Position among the kept samples; past the end of a full list means
	// the row is not among the n smallest.
	at := sort.Search(len(keys), func(i int) bool { return l.compareKeys(row, keys[i]) < 0 })
	if at >= s.n {
		return nil
	}
	sr := SampleRow{Key: l.keyStrings(row)}
	switch kind {
	case ChangeInsert:
		for i := l.NKey; i < len(l.Cols); i++ {
			sr.Columns = append(sr.Columns, SampleColumn{Name: l.Cols[i].Dest, After: l.sampleValue(i, src.Values[i], s.secrets)})
		}
	case ChangeUpdate:
		for _, i := range changed {
			sr.Columns = append(sr.Columns, SampleColumn{Name: l.Cols[i].Dest,
				Before: l.sampleValue(i, dst.Values[i], s.secrets), After: l.sampleValue(i, src.Values[i], s.secrets)})
		}
	case ChangeDelete:
		for i := l.NKey; i < len(l.Cols); i++ {
			sr.Columns = append(sr.Columns, SampleColumn{Name: l.Cols[i].Dest, Before: l.sampleValue(i, dst.Values[i], s.secrets)})
		}
	}
	key := &Row{}
	l.setKeys(key, row)
	list := s.list(kind)
	*list = insertAt(*list, at, sr, s.n)
	s.keys[kind] = insertAt(keys, at, key, s.n)
	return nil
}

// list is the sample list of a kind of change.
func (s *sampleSink) list(kind ChangeKind) *[]SampleRow {
	switch kind {
	case ChangeInsert:
		return &s.samples.Insert
	case ChangeUpdate:
		return &s.samples.Update
	}
	return &s.samples.Delete
}

// insertAt inserts v at index i of xs, keeping at most n elements.
func insertAt[T any](xs []T, i int, v T, n int) []T {
	xs = slices.Insert(xs, i, v)
	if len(xs) > n {
		xs = xs[:n]
	}
	return xs
}

// joinNonEmpty joins the non-empty strings with "; ".
func joinNonEmpty(parts ...string) string { return joinSkippingEmpty("; ", parts) }

// joinSentences joins the non-empty sentences with a space.
func joinSentences(sentences ...string) string { return joinSkippingEmpty(" ", sentences) }

func joinSkippingEmpty(sep string, parts []string) string {
	var out []string
	for _, p := range parts {
		if p != "" {
			out = append(out, p)
		}
	}
	return strings.Join(out, sep)
}
