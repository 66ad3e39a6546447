package executor

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/catalog"
	"github.com/rowform/rowform/internal/history"
	"github.com/rowform/rowform/internal/pgconnect"
	"github.com/rowform/rowform/internal/redact"
	"github.com/rowform/rowform/planner"
)

// The run history (docs/history.md). Every apply of a sync to a
// destination with history = true records, in the same transaction as its
// changes, one row of <schema>.runs and, in <schema>.run_rows, what undoing
// it needs: the key and a hash of the values written for each inserted
// row, the key, the changed columns and their values before for each
// updated row, and the whole row before for each deleted row. The change
// set is already staged in temporary tables when the merge runs, so each
// kind of change is recorded with one INSERT ... SELECT, before the merge
// statement that writes it. Values are recorded as text, which every type
// reads back exactly (the sessions' date, time and float settings are
// fixed: pgconnect.SessionSettings). A failed apply records a failed run
// afterwards, in a transaction of its own, and nothing of its changes.

// ensureHistory creates or upgrades the history schema of s's destination
// before the apply's transaction begins (history.Ensure); nothing when
// history is off.
func ensureHistory(ctx context.Context, dst *pgx.Conn, s *hclconfig.Sync, opts Options) error {
	if !s.Destination.HistoryEnabled() {
		return nil
	}
	role, err := catalog.CurrentRole(ctx, dst)
	if err != nil {
		return err
	}
	return history.Ensure(ctx, dst, s.Destination.History.Schema, role, opts.Version)
}

// recorder records one apply of a sync into the history, inside the
// apply's transaction.
type recorder struct {
	conn        *pgx.Conn
	names       history.Names
	keep        int
	sync, table string
	destination string
	started     time.Time
	undoOf      int64
	planDigest  string
	opts        Options
	cols        []planner.ColumnInfo
	nkey        int
	// rowCols are the columns a deleted row's before-image holds: every
	// column of the table but generated ones.
	rowCols []string
	runID   int64
}

// newRecorder returns the recorder of an apply of s prepared as prep, or
// nil when s's destination keeps no history. undoOf is the run the apply
// undoes (0: none).
func newRecorder(s *hclconfig.Sync, prep *planner.Prepared, conn *pgx.Conn, opts Options, undoOf int64) *recorder {
	if !s.Destination.HistoryEnabled() {
		return nil
	}
	r := &recorder{conn: conn, names: history.Names{Schema: s.Destination.History.Schema}, keep: s.Destination.History.Keep,
		sync: s.Name, table: s.Table.String(), destination: s.Destination.Address(), started: time.Now(), undoOf: undoOf,
		opts: opts, cols: prep.Columns()}
	for _, c := range r.cols {
		if c.Key {
			r.nkey++
		}
	}
	for _, c := range prep.Table.Columns {
		if c.Generated == "" {
			r.rowCols = append(r.rowCols, c.Name)
		}
	}
	return r
}

// id returns the run's id, taken from the history's sequence the first
// time it is needed.
func (r *recorder) id(ctx context.Context) (int64, error) {
	if r.runID == 0 {
		if err := r.conn.QueryRow(ctx, fmt.Sprintf("SELECT nextval('%s')", strings.ReplaceAll(r.names.Sequence(), "'", "''"))).Scan(&r.runID); err != nil {
			return 0, fmt.Errorf("recording the run in the history: %w", err)
		}
	}
	return r.runID, nil
}

func ident(name string) string { return pgx.Identifier{name}.Sanitize() }

// stagedText is staged column i (of the staging table aliased s) as text
// in the destination column's type: what the table stores, as text.
func (r *recorder) stagedText(i int) string {
	return fmt.Sprintf("(s.c%d::%s)::text", i, r.cols[i].Type)
}

// tableText is the destination table's (aliased t) column as text.
func tableText(name string) string { return "t." + ident(name) + "::text" }

// keyFromTable is the key of the table's row as a text array.
func (r *recorder) keyFromTable() string {
	var parts []string
	for i := 0; i < r.nkey; i++ {
		parts = append(parts, tableText(r.cols[i].Name))
	}
	return "ARRAY[" + strings.Join(parts, ", ") + "]::text[]"
}

// rowFromTable is the whole row (rowCols) of the table as a text array.
func (r *recorder) rowFromTable() string {
	parts := make([]string, len(r.rowCols))
	for i, c := range r.rowCols {
		parts[i] = tableText(c)
	}
	return "ARRAY[" + strings.Join(parts, ", ") + "]::text[]"
}

// writtenHash is the md5 of the values a run wrote, as undo compares them
// with the row's values then (planner's undo reads it the same way):
// a text array as wide as the run's columns, NULL for the key, for
// columns not written, and for NULL values, hashed as its text form.
func writtenHash(values []string) string {
	return "md5(ARRAY[" + strings.Join(values, ", ") + "]::text[]::text)::uuid"
}

// capture records the changes of one kind staged in the table from
// (aliased s), before the merge writes them: '-' the whole rows of the
// table it deletes, '~' the changed columns of the rows it updates, '+'
// the keys and a hash of the rows it inserts.
func (r *recorder) capture(ctx context.Context, m *merge, kind planner.ChangeKind, from string) error {
	id, err := r.id(ctx)
	if err != nil {
		return err
	}
	t := m.table.Ident()
	var sql string
	switch kind {
	case planner.ChangeDelete:
		sql = fmt.Sprintf("INSERT INTO %s (run_id, kind, key, before) SELECT $1, '-', %s, %s FROM %s AS s JOIN %s AS t ON %s",
			r.names.Rows(), r.keyFromTable(), r.rowFromTable(), from, t, m.keyMatch())
	case planner.ChangeUpdate:
		var inner, changed, before, after []string
		inner = append(inner, r.keyFromTable()+" AS key")
		for i := range r.cols {
			if i < r.nkey {
				before = append(before, "NULL::text")
				after = append(after, "NULL::text")
				continue
			}
			inner = append(inner, fmt.Sprintf("%s AS b%d, %s AS a%d", tableText(r.cols[i].Name), i, r.stagedText(i), i))
			differs := fmt.Sprintf("y.b%d IS DISTINCT FROM y.a%d", i, i)
			changed = append(changed, fmt.Sprintf("CASE WHEN %s THEN %d::int2 END", differs, i+1))
			before = append(before, fmt.Sprintf("CASE WHEN %s THEN y.b%d END", differs, i))
			after = append(after, fmt.Sprintf("CASE WHEN %s THEN y.a%d END", differs, i))
		}
		if len(changed) == 0 {
			return nil // only key columns: nothing to update
		}
		sql = fmt.Sprintf(`INSERT INTO %s (run_id, kind, key, changed, before, after_hash)
SELECT $1, '~', y.key, array_remove(ARRAY[%s], NULL), ARRAY[%s]::text[], %s
FROM (SELECT %s FROM %s AS s JOIN %s AS t ON %s OFFSET 0) AS y`,
			r.names.Rows(), strings.Join(changed, ", "), strings.Join(before, ", "), writtenHash(after),
			strings.Join(inner, ", "), from, t, m.keyMatch())
	case planner.ChangeInsert:
		var key, after []string
		for i := range r.cols {
			if i < r.nkey {
				key = append(key, r.stagedText(i))
				after = append(after, "NULL::text")
			} else {
				after = append(after, r.stagedText(i))
			}
		}
		sql = fmt.Sprintf("INSERT INTO %s (run_id, kind, key, after_hash) SELECT $1, '+', ARRAY[%s]::text[], %s FROM %s AS s",
			r.names.Rows(), strings.Join(key, ", "), writtenHash(after), from)
	}
	if _, err := r.conn.Exec(ctx, sql, id); err != nil {
		return fmt.Errorf("recording the run in the history: %w", err)
	}
	return nil
}

// captureNullKeyDeletes records the rows with a NULL in the key that a
// mirror deletes (they match no staged row).
func (r *recorder) captureNullKeyDeletes(ctx context.Context, m *merge) error {
	id, err := r.id(ctx)
	if err != nil {
		return err
	}
	var isNull []string
	for i := 0; i < r.nkey; i++ {
		isNull = append(isNull, "t."+ident(r.cols[i].Name)+" IS NULL")
	}
	sql := fmt.Sprintf("INSERT INTO %s (run_id, kind, key, before) SELECT $1, '-', %s, %s FROM %s AS t WHERE %s",
		r.names.Rows(), r.keyFromTable(), r.rowFromTable(), m.table.Ident(), strings.Join(isNull, " OR "))
	if _, err := r.conn.Exec(ctx, sql, id); err != nil {
		return fmt.Errorf("recording the run in the history: %w", err)
	}
	return nil
}

// captureLoad records the rows an initial load inserted: the table was
// empty, so its rows are the run's.
func (r *recorder) captureLoad(ctx context.Context, m *merge) error {
	id, err := r.id(ctx)
	if err != nil {
		return err
	}
	var after []string
	for i := range r.cols {
		if i < r.nkey {
			after = append(after, "NULL::text")
		} else {
			after = append(after, tableText(r.cols[i].Name))
		}
	}
	sql := fmt.Sprintf("INSERT INTO %s (run_id, kind, key, after_hash) SELECT $1, '+', %s, %s FROM %s AS t",
		r.names.Rows(), r.keyFromTable(), writtenHash(after), m.table.Ident())
	if _, err := r.conn.Exec(ctx, sql, id); err != nil {
		return fmt.Errorf("recording the run in the history: %w", err)
	}
	return nil
}

// finish records the run itself, with its counts, and prunes the sync's
// runs beyond history_keep, in the apply's transaction.
func (r *recorder) finish(ctx context.Context, counts planner.Counts, planDigest string) error {
	id, err := r.id(ctx)
	if err != nil {
		return err
	}
	names := make([]string, len(r.cols))
	for i, c := range r.cols {
		names[i] = c.Name
	}
	var undoOf any
	if r.undoOf != 0 {
		undoOf = r.undoOf
	}
	_, err = r.conn.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (id, sync, table_name, destination, started_at, finished_at, status,
  inserted, updated, deleted, rejected, plan_digest, config_digest, rowform_version, actor, undo_of, key_count, columns, row_columns)
VALUES ($1, $2, $3, $4, $5, $6, 'applied', $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)`, r.names.Runs()),
		id, r.sync, r.table, r.destination, r.started, time.Now(),
		counts.Insert, counts.Update, counts.Delete, counts.Reject, planDigest, r.opts.configDigest, r.opts.Version,
		history.Actor(r.opts.Environ), undoOf, r.nkey, names, r.rowCols)
	if err != nil {
		return fmt.Errorf("recording the run in the history: %w", err)
	}
	if err := prune(ctx, r.conn, r.names, r.sync, r.keep); err != nil {
		return fmt.Errorf("pruning the history: %w", err)
	}
	return nil
}

// prune deletes the runs of sync beyond the newest keep, and their rows.
func prune(ctx context.Context, conn *pgx.Conn, n history.Names, sync string, keep int) error {
	_, err := conn.Exec(ctx, fmt.Sprintf(`WITH gone AS (
  DELETE FROM %[1]s WHERE sync = $1 AND id IN (SELECT id FROM %[1]s WHERE sync = $1 ORDER BY id DESC OFFSET $2) RETURNING id)
DELETE FROM %[2]s WHERE run_id IN (SELECT id FROM gone)`, n.Runs(), n.Rows()), sync, keep)
	return err
}

// record captures the changes of one kind before the merge writes them,
// when the apply keeps a history.
func (m *merge) record(ctx context.Context, kind planner.ChangeKind, from string) error {
	if m.history == nil {
		return nil
	}
	return m.history.capture(ctx, m, kind, from)
}

// recordDirectInserts stages the inserts that go straight into the table
// with COPY once more, for the history to record them.
func (m *merge) recordDirectInserts(ctx context.Context, sink *stagingSink) error {
	if m.history == nil {
		return nil
	}
	if err := m.stage(ctx, "rowform_history_insert", sink.inserts, m.cols); err != nil {
		return err
	}
	return m.history.capture(ctx, m, planner.ChangeInsert, "rowform_history_insert")
}

// recordNullKeyDeletes captures the rows with a NULL key a mirror deletes.
func (m *merge) recordNullKeyDeletes(ctx context.Context) error {
	if m.history == nil {
		return nil
	}
	return m.history.captureNullKeyDeletes(ctx, m)
}

// finishHistory records the run after its writes, before COMMIT; load
// says the run was an initial load, whose rows are read from the table.
func (m *merge) finishHistory(ctx context.Context, counts planner.Counts, planDigest string, load bool) error {
	if m.history == nil {
		return nil
	}
	if load {
		if err := m.history.captureLoad(ctx, m); err != nil {
			return err
		}
	}
	return m.history.finish(ctx, counts, planDigest)
}

// recordFailure records, in a transaction of its own, that the apply of
// sync s failed: a failed run with the error (secrets redacted), and none
// of its changes, which were rolled back. Nothing is recorded for a sync
// that was not attempted, or whose COMMIT may have succeeded (the
// outcome is unknown). It is best effort: a destination that cannot be
// reached keeps no record.
func recordFailure(ctx context.Context, connector *pgconnect.Connector, cfg *hclconfig.Config, s *hclconfig.Sync, job syncJob, r *SyncResult, started time.Time, opts Options) {
	if r.Status != StatusFailed || r.OutcomeUnknown || r.Err == nil || !s.Destination.HistoryEnabled() {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	dcfg, err := pgconnect.Config(s.Destination, planner.ApplicationName(s.Name))
	if err != nil {
		return
	}
	pgconnect.MaskValues(dcfg, s.SensitiveColumns)
	dst, err := connector.Connect(ctx, s.Destination, dcfg)
	if err != nil {
		return
	}
	defer dst.Close(ctx)
	if err := ensureHistory(ctx, dst, s, opts); err != nil {
		return
	}
	red := &redact.Redactor{}
	red.Add(cfg.Secrets()...)
	n := history.Names{Schema: s.Destination.History.Schema}
	var undoOf any
	if job.undoOf != 0 {
		undoOf = job.undoOf
	}
	_, _ = dst.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (id, sync, table_name, destination, started_at, finished_at, status,
  plan_digest, config_digest, rowform_version, actor, error, undo_of)
VALUES (nextval('%s'), $1, $2, $3, $4, $5, 'failed', $6, $7, $8, $9, $10, $11)`, n.Runs(), strings.ReplaceAll(n.Sequence(), "'", "''")),
		s.Name, s.Table.String(), s.Destination.Address(), started, time.Now(),
		job.planDigest, opts.configDigest, opts.Version, history.Actor(opts.Environ), red.String(r.Err.Error()), undoOf)
}

// undoOf is the run a sync's plan undoes, 0 when it is no undo.
func undoOf(sp *planner.SyncPlan) int64 {
	if sp.Undo == nil {
		return 0
	}
	return sp.Undo.Run
}
