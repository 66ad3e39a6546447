package executor

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/catalog"
	"github.com/rowform/rowform/internal/pgconnect"
	"github.com/rowform/rowform/planner"
)

// The merge: staged changes written into the table with set-based SQL
// (DELETE ... USING, UPDATE ... FROM, INSERT ... SELECT or binary COPY),
// each statement checked against the planned row count; and the initial
// load, one COPY straight from the diff.

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
		watchRewrites: len(prep.RewritingTriggers()) > 0, sourceLine: prep.SourceLine, rowSecurity: prep.RowSecurity()}
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
	if err := m.finishHistory(ctx, res.Counts, res.Digest); err != nil {
		return nil, lostConnection(connector, s, err)
	}
	if err := commit(ctx, m.conn); err != nil {
		return nil, err
	}
	return &attempt{counts: res.Counts, rejected: res.Rejected, rewritten: rewritten}, nil
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
		return zero, alreadyApplied(ctx, m.conn, prep.Sync, sp,
			fmt.Errorf("%w: the plan was made against an empty %s, which now has rows; nothing was written — run 'rowform plan' again", ErrStale, sp.Table))
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
	if err := confirmDiff(prep.Sync, sp, res, o.findings); err != nil {
		return zero, alreadyApplied(ctx, m.conn, prep.Sync, sp, withClockHint(err, prep))
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
	// rowSecurity: the table's row-level security binds the role, and
	// PostgreSQL refuses COPY into it (inserts are staged instead).
	rowSecurity bool
}

// run writes the staged changes: deletes, then updates, then inserts, each
// kind with one statement checked against the planned count. Which
// statements, and when they read the staged rows in key order, is the
// merge strategy (mergestrategy.go).
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
		if err := m.record(ctx); err != nil {
			return err
		}
		m.progress("deleting", staged)
		sorted, err := m.deleteSorted(ctx, staged)
		if err != nil {
			return err
		}
		stmt := func(from string) string {
			return m.withDeleteCapture(fmt.Sprintf("DELETE FROM %s AS t USING %s AS s WHERE %s", t, m.inKeyOrder(from, sorted), m.keyMatch()))
		}
		if err := m.execLocated(ctx, stmt, "rowform_delete", "delete", staged); err != nil {
			return err
		}
	}
	if want.Update > 0 {
		if err := m.stage(ctx, "rowform_update", sink.updates, m.cols); err != nil {
			return err
		}
		if err := m.record(ctx); err != nil {
			return err
		}
		m.progress("updating", want.Update)
		var set []string
		for i := m.nkey; i < len(m.cols); i++ {
			set = append(set, fmt.Sprintf("%s = %s", pgx.Identifier{m.cols[i].Name}.Sanitize(), m.value(i)))
		}
		stmt := func(from string) string {
			return fmt.Sprintf("UPDATE %s AS t SET %s FROM %s AS s WHERE %s", t, strings.Join(set, ", "), m.inKeyOrder(from, want.Update >= orderedMergeRows), m.keyMatch())
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
		if err := m.record(ctx); err != nil {
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
			if !pgconnect.IsServerError(err) {
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
		if err := m.record(ctx); err != nil {
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
	if m.rowSecurity {
		return false
	}
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
// analyzes its key columns (analyzeStaging).
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
	if _, err := m.conn.Exec(ctx, m.analyzeStaging(name)); err != nil {
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
