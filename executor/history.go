package executor

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
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
// row, the key, the changed columns, their values before and a hash of
// the values written for each updated row, and the whole row before for
// each deleted row.
//
// Recording reads nothing the apply does not read anyway. The diff's
// changes pass through historySink, which keeps, for inserts and updates,
// the key, the hash (of the values as the diff holds them: the undo
// compares the row then, read the same way) and, for updates, which
// columns changed and their values before, and, for deletes, the whole
// row (the destination row the diff read, when the sync maps every column
// the before-image holds). Before the merge's first write, they are staged
// in one temporary table and recorded with one INSERT ... SELECT; when the
// diff's rows lack columns of the before-image, the DELETE returns the
// rows it deletes into the history itself (withDeleteCapture). Values are recorded
// as text in the column's type, which every type reads back exactly (the
// sessions' date, time and float settings are fixed:
// pgconnect.SessionSettings). A failed apply records a failed run
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
	opts        Options
	cols        []planner.ColumnInfo
	nkey        int
	// rowCols are the columns a deleted row's before-image holds: every
	// column of the table but generated ones.
	rowCols []string
	// rowIdx are the positions in cols of rowCols, when the sync maps
	// every one of them (the sink then keeps deleted rows from the diff);
	// nil when it does not (the DELETE returns them: withDeleteCapture).
	rowIdx []int
	runID  int64
	// sink keeps what the diff's changes need recorded.
	sink *historySink
	// staged: the sink's rows are recorded (captureStaged).
	staged bool
	// rowsTable: they are, in the run's own table (recordRunTable).
	rowsTable bool
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
	pos := make(map[string]int, len(r.cols))
	for i, c := range r.cols {
		pos[c.Name] = i
	}
	mapped := true
	for _, c := range prep.Table.Columns {
		if c.Generated == "" {
			r.rowCols = append(r.rowCols, c.Name)
			i, ok := pos[c.Name]
			mapped = mapped && ok
			r.rowIdx = append(r.rowIdx, i)
		}
	}
	if !mapped {
		r.rowIdx = nil
	}
	r.sink = &historySink{n: len(r.cols), nkey: r.nkey, deletes: r.rowIdx != nil}
	return r
}

// historySink is the ChangeSink that keeps, of the changes a merge writes,
// what recording them needs, in one binary COPY file whose rows are: the
// kind ('+', '~' or '-'), the key, the positions of the columns an update
// changes, the hash of the values written (inserts and updates), and the
// values of the non-key columns — for an update the values before of the
// columns it changes (NULL for the others), for a delete the whole row
// before, for an insert none. Deletes are kept only when deletes is set
// (every column of the before-image is among the diff's), and not those
// with a NULL in the key (captureNullKeyDeletes records them).
type historySink struct {
	n, nkey int
	deletes bool
	f       *stagingFile
	vals    [][]byte
	pos     []int
}

var (
	kindInsert = []byte{byte(planner.ChangeInsert)}
	kindUpdate = []byte{byte(planner.ChangeUpdate)}
	kindDelete = []byte{byte(planner.ChangeDelete)}
)

func (h *historySink) Change(kind planner.ChangeKind, src, dst *planner.Row, changed []int) error {
	if kind == planner.ChangeDelete {
		if !h.deletes {
			return nil
		}
		for _, v := range dst.Values[:h.nkey] {
			if v == nil {
				return nil
			}
		}
	}
	if kind != planner.ChangeInsert && kind != planner.ChangeUpdate && kind != planner.ChangeDelete {
		return nil
	}
	if h.f == nil {
		var err error
		if h.f, err = newStagingFile(1 + h.nkey + 2 + h.n - h.nkey); err != nil {
			return err
		}
	}
	switch kind {
	case planner.ChangeInsert:
		h.pos = h.pos[:0]
		for i := h.nkey; i < h.n; i++ {
			h.pos = append(h.pos, i)
		}
		sum := history.WrittenHash(src.Values, h.pos)
		h.vals = append(append(append(h.vals[:0], kindInsert), src.Values[:h.nkey]...), nil, sum[:])
		for i := h.nkey; i < h.n; i++ {
			h.vals = append(h.vals, nil)
		}
	case planner.ChangeUpdate:
		sum := history.WrittenHash(src.Values, changed)
		h.vals = append(append(append(h.vals[:0], kindUpdate), src.Values[:h.nkey]...), history.Int2Array(changed), sum[:])
		// The values before of the changed columns; NULL for the others,
		// which are not recorded.
		next := 0
		for i := h.nkey; i < h.n; i++ {
			var v []byte
			if next < len(changed) && changed[next] == i {
				v = dst.Values[i]
				next++
			}
			h.vals = append(h.vals, v)
		}
	case planner.ChangeDelete:
		// The row as the diff read it, in the transaction's REPEATABLE
		// READ snapshot: what the DELETE deletes (a row changed since
		// fails it with a serialization error).
		h.vals = append(append(append(h.vals[:0], kindDelete), dst.Values[:h.nkey]...), nil, nil)
		h.vals = append(h.vals, dst.Values[h.nkey:h.n]...)
	}
	return h.f.add(h.vals)
}

func (h *historySink) close() {
	if h.f != nil {
		h.f.close()
	}
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

// stagedText is column c%d of the staging table aliased s, holding a value
// of column i, as text in the destination column's type: what the table
// stores, as text.
func (r *recorder) stagedText(staged, i int) string {
	return fmt.Sprintf("(s.c%d::%s)::text", staged, r.cols[i].Type)
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

// stage copies one of the sink's files into a table of the given column
// types (c0, c1, ...), created for it: temporary (dropped at COMMIT) when
// temp, else in the history's schema. It is read once, whole: no ANALYZE.
func (r *recorder) stage(ctx context.Context, name string, temp bool, f *stagingFile, types []string) error {
	defs := make([]string, len(types))
	for i, t := range types {
		defs[i] = fmt.Sprintf("c%d %s", i, t)
	}
	create := fmt.Sprintf("CREATE TABLE %s (%s)", name, strings.Join(defs, ", "))
	if temp {
		create = fmt.Sprintf("CREATE TEMP TABLE %s (%s) ON COMMIT DROP", name, strings.Join(defs, ", "))
	}
	if _, err := r.conn.Exec(ctx, create); err != nil {
		return fmt.Errorf("recording the run in the history: %w", err)
	}
	rd, err := f.reader()
	if err != nil {
		return err
	}
	tag, err := r.conn.PgConn().CopyFrom(ctx, rd, fmt.Sprintf("COPY %s FROM STDIN (FORMAT binary)", name))
	if err != nil {
		return fmt.Errorf("recording the run in the history: %w", err)
	}
	if tag.RowsAffected() != f.rows {
		return fmt.Errorf("recording the run in the history: staged %d rows of %d", tag.RowsAffected(), f.rows)
	}
	return nil
}

// captureStaged records what the sink kept, once, with one temporary
// table, its COPY and one INSERT ... SELECT: for inserts the key and hash;
// for updates the key, changed positions, hash and the changed columns'
// values before; for deletes the key and the whole row before; values as
// text in the column's type.
//
// Measured at 50% of 1M mixed rows changed (1.5M history rows), none of
// these made it cheaper, so it stays one unsorted INSERT ... SELECT: the
// INSERT (about 3 s) is mostly the writing of run_rows — the same rows
// without their before-images take 2.9 s, while the text conversions of
// 500k deleted rows' numeric, timestamptz and jsonb values take about
// 0.2 s, and the cast to the column's type before them (numeric(12,2))
// adds nothing measurable; sorting the rows by key (run_rows is indexed on
// run_id only) made it slower (a sort of 1.5M wide rows); COPY (SELECT ...)
// TO the client and back into run_rows, for COPY's batched inserts, took
// 3.7-4.5 s against 3.1-3.4 s; recording the deletes with the DELETE's
// RETURNING (withDeleteCapture) instead of from the diff took as long
// (DELETE and record 2.2 s against 0.7 s and ~1.6 s); a larger
// temp_buffers for the staging gained nothing.
func (r *recorder) captureStaged(ctx context.Context) error {
	if r.staged || r.sink.f == nil {
		return nil
	}
	id, err := r.id(ctx)
	if err != nil {
		return err
	}
	// Staged columns: c0 the kind, c1.. the key, then the changed
	// positions, the hash and the non-key values.
	const kindCols = 1
	types := []string{`"char"`}
	key := make([]string, r.nkey)
	for i := 0; i < r.nkey; i++ {
		types = append(types, r.cols[i].StagingType)
		key[i] = r.stagedText(kindCols+i, i)
	}
	types = append(types, "int2[]", "uuid")
	changedCol, hashCol := kindCols+r.nkey, kindCols+r.nkey+1
	value := func(i int) string {
		if i < r.nkey {
			return key[i]
		}
		return r.stagedText(hashCol+1+i-r.nkey, i)
	}
	before := make([]string, len(r.cols))
	for i := range r.cols {
		if i < r.nkey {
			before[i] = "NULL::text"
			continue
		}
		types = append(types, r.cols[i].StagingType)
		// The sink staged NULL for every column an update leaves alone,
		// so the value as it is is the value before, or NULL: no test of
		// the changed positions per column and row.
		before[i] = value(i)
	}
	beforeExpr := "ARRAY[" + strings.Join(before, ", ") + "]::text[]"
	if r.rowIdx != nil {
		row := make([]string, len(r.rowIdx))
		for j, i := range r.rowIdx {
			row[j] = value(i)
		}
		beforeExpr = fmt.Sprintf("CASE s.c0 WHEN '~' THEN %s WHEN '-' THEN ARRAY[%s]::text[] END", beforeExpr, strings.Join(row, ", "))
	} else {
		beforeExpr = fmt.Sprintf("CASE s.c0 WHEN '~' THEN %s END", beforeExpr)
	}
	bulk := int64(defaultBulkHistoryRows)
	if r.opts.bulkHistoryRows > 0 {
		bulk = r.opts.bulkHistoryRows
	}
	if r.sink.f.rows >= bulk {
		own, err := r.mayCreateRunTable(ctx)
		if err != nil {
			return err
		}
		if own {
			return r.recordRunTable(ctx, id, types)
		}
	}
	if err := r.stage(ctx, "rowform_history", true, r.sink.f, types); err != nil {
		return err
	}
	_, err = r.conn.Exec(ctx, fmt.Sprintf(`INSERT INTO %s (run_id, kind, key, changed, before, after_hash)
SELECT $1, s.c0, ARRAY[%s]::text[], s.c%d, %s, s.c%d FROM rowform_history AS s`,
		r.names.Rows(), strings.Join(key, ", "), changedCol, beforeExpr, hashCol), id)
	if err != nil {
		return fmt.Errorf("recording the run in the history: %w", err)
	}
	r.staged = true
	return nil
}

// defaultBulkHistoryRows is the number of recorded rows from which a run keeps
// them in a table of its own (history.RunTableName) rather than in
// run_rows: one binary COPY of the sink's file as it is, typed, instead of
// the COPY into a temporary table and an INSERT ... SELECT of a row of
// text arrays per change into run_rows (and its index). Measured at 50%
// of 1M mixed rows changed (1.5M recorded rows, PostgreSQL's log): 1.7-1.9
// s against 1.45 s of staging COPY plus 4.2-5.5 s of INSERT. Below it a
// run's rows are few, and a table per run would only add to the catalog
// (a create and, when pruned, a drop per apply).
const defaultBulkHistoryRows = 10000

// mayCreateRunTable reports whether the role may create a run's own table
// in the history's schema (a role granted only the use of its tables may
// not: its runs keep their rows in run_rows).
func (r *recorder) mayCreateRunTable(ctx context.Context) (bool, error) {
	var ok bool
	if err := r.conn.QueryRow(ctx, "SELECT has_schema_privilege($1, 'CREATE')", r.names.Schema).Scan(&ok); err != nil {
		return false, fmt.Errorf("recording the run in the history: %w", err)
	}
	return ok, nil
}

// recordRunTable records what the sink kept into run id's own table,
// whose columns are the sink's file's (internal/history/runtable.go
// documents them), and grants SELECT on it to the roles that may read run_rows, so
// that whoever may undo the run from run_rows may from its table too.
func (r *recorder) recordRunTable(ctx context.Context, id int64, types []string) error {
	table := r.names.RunTable(id)
	if err := r.stage(ctx, table, false, r.sink.f, types); err != nil {
		return err
	}
	var readers []string
	err := r.conn.QueryRow(ctx, `
SELECT coalesce(array_agg(DISTINCT CASE g WHEN 0 THEN 'PUBLIC' ELSE g::regrole::text END), '{}')
FROM pg_class c, LATERAL (SELECT c.relowner AS g UNION SELECT a.grantee FROM aclexplode(c.relacl) AS a WHERE a.privilege_type = 'SELECT') AS r
WHERE c.oid = to_regclass($1) AND g <> (SELECT oid FROM pg_roles WHERE rolname = current_user)`, r.names.Rows()).Scan(&readers)
	if err != nil {
		return fmt.Errorf("recording the run in the history: %w", err)
	}
	if len(readers) > 0 {
		// regrole's text is the role's name, quoted where it needs to be.
		if _, err := r.conn.Exec(ctx, fmt.Sprintf("GRANT SELECT ON %s TO %s", table, strings.Join(readers, ", "))); err != nil {
			return fmt.Errorf("recording the run in the history: %w", err)
		}
	}
	r.rowsTable = true
	r.staged = true
	return nil
}

// withDeleteCapture makes the merge's DELETE statement del (of the table
// aliased t) record the rows it deletes, whole, as it deletes them, when
// the diff's rows lack columns of the before-image: the rows come back
// with RETURNING, so recording reads nothing more. Its row count is still
// the number of rows deleted. del is returned as it is when the apply
// keeps no history or the sink kept the deleted rows. The run's id must
// be taken.
func (m *merge) withDeleteCapture(del string) string {
	r := m.history
	if r == nil || r.rowIdx != nil {
		return del
	}
	return fmt.Sprintf("WITH gone AS (%s RETURNING %s AS key, %s AS row) INSERT INTO %s (run_id, kind, key, before) SELECT %d, '-', key, row FROM gone",
		del, r.keyFromTable(), r.rowFromTable(), r.names.Rows(), r.runID)
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

// finish records the run itself, with its counts, and prunes the sync's
// runs beyond history_keep, in the apply's transaction.
func (r *recorder) finish(ctx context.Context, counts planner.Counts, planDigest string) error {
	defer r.sink.close()
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
  inserted, updated, deleted, rejected, plan_digest, config_digest, rowform_version, actor, undo_of, key_count, columns, row_columns, rows_table)
VALUES ($1, $2, $3, $4, $5, $6, 'applied', $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19)`, r.names.Runs()),
		id, r.sync, r.table, r.destination, r.started, time.Now(),
		counts.Insert, counts.Update, counts.Delete, counts.Reject, planDigest, r.opts.configDigest, r.opts.Version,
		history.Actor(r.opts.Environ), undoOf, r.nkey, names, r.rowCols, r.rowsTable)
	if err != nil {
		return fmt.Errorf("recording the run in the history: %w", err)
	}
	if err := prune(ctx, r.conn, r.names, r.sync, r.keep, id); err != nil {
		return fmt.Errorf("pruning the history: %w", err)
	}
	return nil
}

// prune deletes the runs of sync beyond the newest keep, and their rows,
// dropping the tables of those that have their own: the runs are found
// first, so that a history with nothing to prune costs one index scan of
// runs and nothing of run_rows, however large it is. A run whose table the
// role may not drop (another role's, which only its owner or a member of
// it may), or which another session has locked (dropIfFree), is left for
// a later prune. The run current, just recorded, is always one of those
// kept, whatever ids the table holds (a row written into it by hand with a
// higher id would otherwise outrank it).
func prune(ctx context.Context, conn *pgx.Conn, n history.Names, sync string, keep int, current int64) error {
	rows, err := conn.Query(ctx, fmt.Sprintf(`SELECT r.id, r.rows_table AND c.oid IS NOT NULL, coalesce(pg_has_role(c.relowner, 'USAGE'), true)
FROM (SELECT id, rows_table FROM %s WHERE sync = $1 AND id <> $4 ORDER BY id DESC OFFSET $2) AS r
LEFT JOIN pg_class c ON c.relnamespace = to_regnamespace($3) AND c.relname = 'run_rows_' || r.id`, n.Runs()), sync, keep-1, n.SchemaIdent(), current)
	if err != nil {
		return err
	}
	type run struct {
		id       int64
		hasTable bool
	}
	var runs []run
	for rows.Next() {
		var r run
		var mayDrop bool
		if err := rows.Scan(&r.id, &r.hasTable, &mayDrop); err != nil {
			rows.Close()
			return err
		}
		if mayDrop {
			runs = append(runs, r)
		}
	}
	if err := rows.Err(); err != nil {
		return err
	}
	var ids []int64
	for _, r := range runs {
		if r.hasTable {
			dropped, err := dropIfFree(ctx, conn, n.RunTable(r.id))
			if err != nil {
				return err
			}
			if !dropped {
				continue
			}
		}
		ids = append(ids, r.id)
	}
	if len(ids) == 0 {
		return nil
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE run_id = ANY($1)`, n.Rows()), ids); err != nil {
		return err
	}
	_, err = conn.Exec(ctx, fmt.Sprintf(`DELETE FROM %s WHERE id = ANY($1)`, n.Runs()), ids)
	return err
}

// dropIfFree drops table, a pruned run's own, unless another session
// holds a lock on it (someone reading the run, a plan -undo of it): the
// prune leaves that run for a later one rather than wait for the lock,
// or fail the apply on its lock_timeout. The attempt is in a savepoint,
// so a lock not had leaves the apply's transaction as it was.
func dropIfFree(ctx context.Context, conn *pgx.Conn, table string) (bool, error) {
	if _, err := conn.Exec(ctx, "SAVEPOINT rowform_prune"); err != nil {
		return false, err
	}
	_, err := conn.Exec(ctx, "LOCK TABLE "+table+" IN ACCESS EXCLUSIVE MODE NOWAIT")
	if err == nil {
		_, err = conn.Exec(ctx, "DROP TABLE "+table)
	}
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Code == "55P03" { // lock_not_available
		_, rerr := conn.Exec(ctx, "ROLLBACK TO SAVEPOINT rowform_prune")
		return false, rerr
	}
	if err != nil {
		return false, err
	}
	_, err = conn.Exec(ctx, "RELEASE SAVEPOINT rowform_prune")
	return err == nil, err
}

// historySink is what the diff's changes must also pass through for the
// history to record them (nil when the apply keeps none).
func (m *merge) historySink() *historySink {
	if m.history == nil {
		return nil
	}
	return m.history.sink
}

// loadSink is the sink of an initial load's rows, which stream into enc:
// through the history's sink too when the apply keeps one.
func (m *merge) loadSink(enc *copyEncoder) planner.ChangeSink {
	if m.history == nil {
		return insertSink{enc}
	}
	return teeSink{insertSink{enc}, m.history.sink}
}

// record records what the sink kept before the merge's first write of
// changes, when the apply keeps a history (captureStaged, once), and
// takes the run's id, for a DELETE that records its rows itself.
func (m *merge) record(ctx context.Context) error {
	if m.history == nil {
		return nil
	}
	if err := m.history.captureStaged(ctx); err != nil {
		return err
	}
	_, err := m.history.id(ctx)
	return err
}

// recordNullKeyDeletes captures the rows with a NULL key a mirror deletes.
func (m *merge) recordNullKeyDeletes(ctx context.Context) error {
	if m.history == nil {
		return nil
	}
	return m.history.captureNullKeyDeletes(ctx, m)
}

// finishHistory records the run after its writes, before COMMIT, and
// what the sink kept if the writes did not record it (an initial load,
// whose inserts the sink kept as they streamed).
func (m *merge) finishHistory(ctx context.Context, counts planner.Counts, planDigest string) error {
	if m.history == nil {
		return nil
	}
	m.progress("recording the run", -1)
	if err := m.history.captureStaged(ctx); err != nil {
		return err
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
	// An interrupted apply exits at once, and a destination that was lost
	// (its SSH bastion gone, say) cannot take the record: neither waits for
	// a new session.
	if ctx.Err() != nil || connector.TunnelError(s.Destination) != nil || unreachable(r.Err) {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 3*time.Second)
	defer cancel()
	dcfg, err := pgconnect.Config(s.Destination, pgconnect.ApplicationName(s.Name))
	if err != nil {
		return
	}
	pgconnect.MaskValues(dcfg, s.SensitiveColumns)
	dst, err := connector.Connect(ctx, s.Destination, dcfg)
	if err != nil {
		return
	}
	defer pgconnect.Close(ctx, dst)
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
	// The record, then the prune of the runs beyond history_keep (failed
	// ones count among them, so that a sync that keeps failing does not
	// grow the history): a prune that fails leaves the record.
	if _, err := dst.Exec(ctx, "BEGIN"); err != nil {
		return
	}
	defer func() { _, _ = dst.Exec(ctx, "COMMIT") }()
	var id int64
	err = dst.QueryRow(ctx, fmt.Sprintf(`INSERT INTO %s (id, sync, table_name, destination, started_at, finished_at, status,
  plan_digest, config_digest, rowform_version, actor, error, undo_of)
VALUES (nextval('%s'), $1, $2, $3, $4, $5, 'failed', $6, $7, $8, $9, $10, $11) RETURNING id`, n.Runs(), strings.ReplaceAll(n.Sequence(), "'", "''")),
		s.Name, s.Table.String(), s.Destination.Address(), started, time.Now(),
		job.planDigest, opts.configDigest, opts.Version, history.Actor(opts.Environ), red.String(r.Err.Error()), undoOf).Scan(&id)
	if err != nil {
		return
	}
	if _, err := dst.Exec(ctx, "SAVEPOINT rowform_prune"); err != nil {
		return
	}
	if err := prune(ctx, dst, n, s.Name, s.Destination.History.Keep, id); err != nil {
		_, _ = dst.Exec(ctx, "ROLLBACK TO SAVEPOINT rowform_prune")
	}
}

// recordRefusal records, as recordFailure does, the syncs that failed the
// preflight of a plan of several syncs (res, one entry per job): the
// history tells the same of a stale plan whether it had one sync or many.
// The syncs skipped for it are not recorded, as no skipped sync is.
func recordRefusal(ctx context.Context, cfg *hclconfig.Config, jobs []syncJob, res *Result, started time.Time, opts Options) {
	connector := pgconnect.NewConnector(opts.Environ)
	connector.Tunnel = opts.Tunnel
	defer connector.Close()
	for i, r := range res.Syncs {
		if s := cfg.Sync(r.Name); s != nil && r.Status == StatusFailed {
			recordFailure(ctx, connector, cfg, s, jobs[i], r, started, opts)
		}
	}
}

// RecordRefused records a failed run for each sync of p whose plan has
// errors, as an unattended apply records one: the apply of such a plan (a
// plan file, or a plan the user was asked to approve) refuses it whole,
// before anything is written, and the history says so whichever way the
// apply ran. A sync whose plan could not reach a server is not recorded,
// as an apply that cannot reach its destination records nothing.
func RecordRefused(ctx context.Context, cfg *hclconfig.Config, p *planner.Plan, opts Options) {
	opts.configDigest = cfg.Digest
	connector := pgconnect.NewConnector(opts.Environ)
	connector.Tunnel = opts.Tunnel
	defer connector.Close()
	started := time.Now()
	for _, sp := range p.Syncs {
		s := cfg.Sync(sp.Name)
		if s == nil || !sp.HasErrors() || slices.ContainsFunc(sp.Findings, func(f planner.Finding) bool { return f.Code == planner.CodeConnectionFailed }) {
			continue
		}
		r := &SyncResult{Name: sp.Name, Status: StatusFailed, Err: &refusedError{sp.Findings}}
		job := syncJob{name: sp.Name, table: sp.Table, planDigest: sp.ChangeDigest, undoOf: undoOf(sp)}
		recordFailure(ctx, connector, cfg, s, job, r, started, opts)
	}
}

// unreachable reports an apply that failed because its destination could
// not be reached, was lost or stopped answering: a new session would wait
// for nothing.
func unreachable(err error) bool {
	var ce *pgconnect.ConnectError
	var lost *lostError
	return errors.As(err, &lost) || errors.As(err, &ce) || pgconnect.IsConnectionLost(err)
}

// undoOf is the run a sync's plan undoes, 0 when it is no undo.
func undoOf(sp *planner.SyncPlan) int64 {
	if sp.Undo == nil {
		return 0
	}
	return sp.Undo.Run
}
