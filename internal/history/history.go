// Package history is the record of applies that rowform keeps in each
// destination database (docs/history.md): its schema's layout, created and
// upgraded by rowform itself; whether a role may use it; the runs it
// lists; and who applied.
//
// The executor writes the record inside each apply's transaction; the
// planner reads it to build undo plans; `rowform history` lists it.
package history

import (
	"context"
	"crypto/md5"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/user"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rowform/rowform/internal/environ"
)

// Layout is the version of the history schema's layout this rowform
// writes. A schema of an older layout is upgraded by the first apply
// that records into it; one of a newer layout is refused.
//
// Layout 2 added runs.rows_table: a run with many rows keeps them in a
// table of its own (RunTable) instead of run_rows.
const Layout = 2

// Querier is the part of *pgx.Conn that reading the history needs.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Names are the quoted names of the history's objects in one schema.
type Names struct {
	// Schema is the schema's name, unquoted.
	Schema string
}

func (n Names) q(obj string) string { return pgx.Identifier{n.Schema, obj}.Sanitize() }

// SchemaIdent is the quoted schema name.
func (n Names) SchemaIdent() string { return pgx.Identifier{n.Schema}.Sanitize() }

// LayoutTable holds the layout version.
func (n Names) LayoutTable() string { return n.q("layout") }

// Runs is the table of runs, one row per recorded apply of a sync.
func (n Names) Runs() string { return n.q("runs") }

// Rows is the table of what each run changed: keys of inserted rows,
// before-images of updated and deleted ones.
func (n Names) Rows() string { return n.q("run_rows") }

// Sequence gives run ids.
func (n Names) Sequence() string { return n.q("run_id") }

// RunTableName is the unquoted name of the table of run id's rows, when the
// run keeps them in a table of its own (Run.RowsTable).
func RunTableName(id int64) string { return fmt.Sprintf("run_rows_%d", id) }

// RunTable is the quoted name of the table of run id's rows (RunTableName).
func (n Names) RunTable(id int64) string { return n.q(RunTableName(id)) }

// layoutSQL creates layout 1 in an existing schema (%[1]s is the quoted
// schema). docs/history.md documents every column.
const layoutSQL = `
CREATE TABLE %[1]s.layout (
  version         int NOT NULL,
  installed_at    timestamptz NOT NULL DEFAULT now(),
  rowform_version text
);
CREATE SEQUENCE %[1]s.run_id;
CREATE TABLE %[1]s.runs (
  id              bigint PRIMARY KEY,
  sync            text NOT NULL,
  table_name      text NOT NULL,
  destination     text NOT NULL,
  started_at      timestamptz NOT NULL,
  finished_at     timestamptz NOT NULL,
  status          text NOT NULL,
  inserted        bigint NOT NULL DEFAULT 0,
  updated         bigint NOT NULL DEFAULT 0,
  deleted         bigint NOT NULL DEFAULT 0,
  rejected        bigint NOT NULL DEFAULT 0,
  plan_digest     text,
  config_digest   text,
  rowform_version text,
  actor           text NOT NULL,
  error           text,
  undo_of         bigint,
  key_count       int NOT NULL DEFAULT 0,
  columns         text[],
  row_columns     text[]
);
CREATE INDEX runs_sync_id ON %[1]s.runs (sync, id);
CREATE TABLE %[1]s.run_rows (
  run_id     bigint NOT NULL,
  kind       "char" NOT NULL,
  key        text[] NOT NULL,
  changed    int2[],
  before     text[],
  after_hash uuid
);
CREATE INDEX run_rows_run_id ON %[1]s.run_rows (run_id);
`

// upgrade2SQL upgrades layout 1 to 2 (%[1]s is the quoted schema).
const upgrade2SQL = `ALTER TABLE %[1]s.runs ADD COLUMN IF NOT EXISTS rows_table boolean NOT NULL DEFAULT false;`

// lockSQL serializes the creation and upgrades of one history schema
// (another key space than the tables' apply locks).
const lockSQL = `SELECT pg_advisory_xact_lock(hashtext('rowform/history'), hashtext($1))`

// ErrNewerLayout is wrapped by the error for a history schema that a
// newer rowform upgraded.
var ErrNewerLayout = errors.New("the history schema has a newer layout")

// State is what the destination has of a history schema.
type State struct {
	// SchemaExists: the schema is there.
	SchemaExists bool
	// LayoutExists: the schema has rowform's layout table.
	LayoutExists bool
	// Version is the layout's version; 0 when the schema has no layout
	// yet (or does not exist), or when the role may not read it.
	Version int
	// Taken names the objects of the schema, when it has no layout of
	// rowform's, that bear the names of the history's own tables,
	// sequence or indexes (historyObjects): someone else's, which
	// rowform neither creates over nor writes into.
	Taken []string
}

// historyObjects are the names layoutSQL creates in the schema.
var historyObjects = []string{"layout", "run_id", "runs", "runs_sync_id", "run_rows", "run_rows_run_id"}

// ReadState reads what the destination has of the history schema. It
// needs no privilege but SELECT on the layout table, when it exists. A
// layout table is rowform's when it is a table with the columns version
// (integer) and rowform_version (text).
func ReadState(ctx context.Context, q Querier, schema string) (State, error) {
	var st State
	var hasLayout bool
	var names []string
	err := q.QueryRow(ctx, `
SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1),
       EXISTS (SELECT 1 FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
               WHERE n.nspname = $1 AND c.relname = 'layout' AND c.relkind = 'r'
                 AND (SELECT count(*) FROM pg_attribute a
                      WHERE a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
                        AND ((a.attname = 'version' AND a.atttypid = 'int4'::regtype)
                          OR (a.attname = 'rowform_version' AND a.atttypid = 'text'::regtype))) = 2),
       ARRAY(SELECT c.relname::text FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE n.nspname = $1 AND c.relname = ANY($2::text[]) ORDER BY array_position($2::text[], c.relname::text))`,
		schema, historyObjects).Scan(&st.SchemaExists, &hasLayout, &names)
	if err != nil {
		return st, err
	}
	if !hasLayout {
		st.Taken = names
		return st, nil
	}
	st.LayoutExists = true
	var readable bool
	if err := q.QueryRow(ctx, `SELECT has_schema_privilege($1, 'USAGE') AND has_table_privilege(format('%I.layout', $1), 'SELECT')`, schema).Scan(&readable); err != nil || !readable {
		return st, err
	}
	var v *int32
	if err := q.QueryRow(ctx, fmt.Sprintf("SELECT max(version) FROM %s", Names{schema}.LayoutTable())).Scan(&v); err != nil {
		return st, err
	}
	if v != nil {
		st.Version = int(*v)
	}
	return st, nil
}

// takenProblem is the Problem of a schema whose objects of the history's
// names are someone else's (State.Taken).
func takenProblem(schema string, taken []string) *Problem {
	quoted := make([]string, len(taken))
	for i, name := range taken {
		quoted[i] = strconv.Quote(name)
	}
	what := "an object named " + quoted[0]
	if len(taken) > 1 {
		what = "objects named " + strings.Join(quoted[:len(quoted)-1], ", ") + " and " + quoted[len(quoted)-1]
	}
	return &Problem{
		Taken:   true,
		Summary: fmt.Sprintf("the history schema %q already holds %s, which is not rowform's history", schema, what),
		Detail: "rowform keeps its history in tables of its own (layout, runs, run_rows and the sequence run_id, docs/history.md) and neither replaces nor writes into tables it did not create. " +
			"Set history_schema on the destination to a schema for rowform alone (the default is \"rowform\"), or history = false.",
	}
}

// Problem is why the connected role cannot record into the history
// schema, with the SQL that fixes it (run by a superuser or the
// database's owner).
type Problem struct {
	// Taken: the schema's objects of the history's names are someone
	// else's (State.Taken); no grant fixes that, and Fix is empty.
	Taken bool
	// Summary and Detail say what is missing, as a finding's do; Fix is
	// the SQL that grants it.
	Summary string
	Detail  string
	Fix     string
}

// Check reports what keeps role from recording applies in schema: the
// schema cannot be created, its layout cannot be created or upgraded, or
// its tables cannot be written. nil when nothing does.
func Check(ctx context.Context, q Querier, schema, role string) (*Problem, error) {
	n := Names{schema}
	roleIdent := pgx.Identifier{role}.Sanitize()
	st, err := ReadState(ctx, q, schema)
	if err != nil {
		return nil, err
	}
	if len(st.Taken) > 0 {
		return takenProblem(schema, st.Taken), nil
	}
	if !st.SchemaExists {
		var ok bool
		var db string
		if err := q.QueryRow(ctx, `SELECT has_database_privilege(current_database(), 'CREATE'), current_database()::text`).Scan(&ok, &db); err != nil {
			return nil, err
		}
		if ok {
			return nil, nil
		}
		return &Problem{
			Summary: fmt.Sprintf("role %q cannot create the history schema %q in database %q", role, schema, db),
			Detail:  "rowform records every apply, and what undoing it needs, in this schema of the destination, in the apply's transaction (docs/history.md). Create the schema for the role (the fix), grant it CREATE on the database, or set history = false on the destination.",
			Fix:     fmt.Sprintf("CREATE SCHEMA IF NOT EXISTS %s AUTHORIZATION %s;", n.SchemaIdent(), roleIdent),
		}, nil
	}
	if st.LayoutExists && st.Version > 0 && st.Version < Layout {
		var ok bool
		if err := q.QueryRow(ctx, `SELECT pg_has_role(c.relowner, 'USAGE') FROM pg_class c WHERE c.oid = to_regclass(format('%I.runs', $1::text))`, schema).Scan(&ok); err != nil {
			return nil, err
		}
		if ok {
			return nil, nil
		}
		return &Problem{
			Summary: fmt.Sprintf("role %q cannot upgrade the history schema %q from layout %d to %d", role, schema, st.Version, Layout),
			Detail:  "This rowform records runs in a newer layout of the history's tables (docs/history.md), and only the owner of its tables may upgrade them. Run the fix as their owner (or apply once as that role), or set history = false on the destination.",
			Fix:     fmt.Sprintf(upgrade2SQL+"\nINSERT INTO %s (version) VALUES (%d);", n.SchemaIdent(), n.LayoutTable(), Layout),
		}, nil
	}
	if !st.LayoutExists {
		var ok bool
		if err := q.QueryRow(ctx, `SELECT has_schema_privilege($1, 'USAGE,CREATE')`, schema).Scan(&ok); err != nil {
			return nil, err
		}
		if ok {
			return nil, nil
		}
		return &Problem{
			Summary: fmt.Sprintf("role %q cannot create the tables of the history schema %q", role, schema),
			Detail:  "rowform creates the history's tables in this schema the first time it records an apply (docs/history.md). Grant the role USAGE and CREATE on it (the fix), or set history = false on the destination.",
			Fix:     fmt.Sprintf("GRANT USAGE, CREATE ON SCHEMA %s TO %s;", n.SchemaIdent(), roleIdent),
		}, nil
	}
	var ok bool
	err = q.QueryRow(ctx, `
SELECT has_schema_privilege($1, 'USAGE')
   AND has_table_privilege(format('%I.layout', $1), 'SELECT')
   AND has_table_privilege(format('%I.runs', $1), 'SELECT,INSERT,DELETE')
   AND has_table_privilege(format('%I.run_rows', $1), 'SELECT,INSERT,DELETE')
   AND has_sequence_privilege(format('%I.run_id', $1), 'USAGE')`, schema).Scan(&ok)
	if err != nil {
		return nil, err
	}
	if ok {
		return nil, nil
	}
	return &Problem{
		Summary: fmt.Sprintf("role %q cannot write the history schema %q", role, schema),
		Detail:  "rowform records every apply in this schema, in the apply's transaction, and prunes old runs (docs/history.md). Grant the role what the fix lists, or set history = false on the destination.",
		// SELECT on every table: the runs' own tables (RunTable) too.
		Fix: fmt.Sprintf("GRANT USAGE ON SCHEMA %[1]s TO %[2]s;\nGRANT SELECT ON ALL TABLES IN SCHEMA %[1]s TO %[2]s;\nGRANT INSERT, DELETE ON %[3]s, %[4]s TO %[2]s;\nGRANT USAGE ON SEQUENCE %[5]s TO %[2]s;",
			n.SchemaIdent(), roleIdent, n.Runs(), n.Rows(), n.Sequence()),
	}, nil
}

// Ensure creates the history schema and its layout on conn, or upgrades
// an older layout, in a transaction of its own (conn must not be in one),
// serialized with every other rowform doing the same. A schema that is
// already current costs one catalog query. When the role may not create
// or upgrade it, Ensure does nothing: the plan's missing_privilege
// finding says so (Check).
func Ensure(ctx context.Context, conn *pgx.Conn, schema, role, version string) error {
	st, err := ReadState(ctx, conn, schema)
	if err != nil {
		return fmt.Errorf("reading the history schema %q: %w", schema, err)
	}
	if st.Version == Layout || (st.LayoutExists && st.Version == 0) {
		// Current, or not readable by the role: plan says so (Check).
		return nil
	}
	if len(st.Taken) > 0 {
		p := takenProblem(schema, st.Taken)
		return errors.New(p.Summary + ". " + p.Detail)
	}
	if st.Version > Layout {
		return fmt.Errorf("%w: %q is of layout %d, this rowform writes layout %d; upgrade rowform, or set history = false on the destination", ErrNewerLayout, schema, st.Version, Layout)
	}
	if p, err := Check(ctx, conn, schema, role); err != nil || p != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "BEGIN"); err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			_, _ = conn.Exec(context.WithoutCancel(ctx), "ROLLBACK")
		}
	}()
	if _, err := conn.Exec(ctx, lockSQL, schema); err != nil {
		return err
	}
	// Another rowform may have done it while this one waited.
	if st, err = ReadState(ctx, conn, schema); err != nil {
		return err
	}
	n := Names{schema}
	if !st.SchemaExists {
		if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+n.SchemaIdent()); err != nil {
			return fmt.Errorf("creating the history schema %q: %w", schema, err)
		}
	}
	if st.Version < 1 {
		if _, err := conn.Exec(ctx, fmt.Sprintf(layoutSQL, n.SchemaIdent())); err != nil {
			return fmt.Errorf("creating the tables of the history schema %q: %w", schema, err)
		}
	}
	// Upgrades of later layouts, each from the version before.
	if st.Version < 2 {
		if _, err := conn.Exec(ctx, fmt.Sprintf(upgrade2SQL, n.SchemaIdent())); err != nil {
			return fmt.Errorf("upgrading the history schema %q to layout 2: %w", schema, err)
		}
	}
	if _, err := conn.Exec(ctx, fmt.Sprintf("INSERT INTO %s (version, rowform_version) VALUES ($1, $2)", n.LayoutTable()), Layout, version); err != nil {
		return err
	}
	if _, err := conn.Exec(ctx, "COMMIT"); err != nil {
		return err
	}
	done = true
	return nil
}

// errUnreadable is the error for a history the role may not read.
func errUnreadable(schema string) error {
	return fmt.Errorf("the role may not read the history schema %q: it needs USAGE on the schema and SELECT on its tables (GRANT USAGE ON SCHEMA %s TO ...; GRANT SELECT ON ALL TABLES IN SCHEMA %[2]s TO ...)",
		schema, Names{schema}.SchemaIdent())
}

// Run is one recorded apply of a sync.
type Run struct {
	// ID is the run's number, from the history's sequence (run_id): the
	// RUN of plan -undo=RUN.
	ID int64
	// Sync is the sync's name; Table its table ("schema.table") and
	// Destination the destination's address ("postgres.<name>"), as the
	// configuration named them at the apply.
	Sync        string
	Table       string
	Destination string
	// StartedAt is when the sync's apply started (for an applied run, the
	// attempt that applied it), FinishedAt when the run was recorded.
	StartedAt  time.Time
	FinishedAt time.Time
	// Status is "applied" or "failed".
	Status string
	// Inserted, Updated, Deleted and Rejected are the rows written, by
	// kind, and the rows left out (on_reject = "skip").
	Inserted int64
	Updated  int64
	Deleted  int64
	Rejected int64
	// Actor is who applied (Actor).
	Actor string
	// Error is why a failed run failed, secrets redacted.
	Error string
	// UndoOf is the run this run undid; 0 when it is no undo.
	UndoOf int64
	// PlanDigest is the change digest of the plan applied, ConfigDigest
	// the configuration's digest, Version rowform's version.
	PlanDigest   string
	ConfigDigest string
	Version      string
	// KeyCount is how many of Columns are the key, which comes first.
	KeyCount int
	// Columns are the columns the run wrote (the mapped ones), key first.
	Columns []string
	// RowColumns are the table's columns a deleted row's before-image
	// holds, in that order.
	RowColumns []string
	// RowsTable: the run keeps the rows it changed in a table of its own
	// (RunTable), typed, as well as any in run_rows; read them with
	// RowsSource.
	RowsTable bool
}

// The run statuses.
const (
	StatusApplied = "applied"
	StatusFailed  = "failed"
)

const runColumns = `id, sync, table_name, destination, started_at, finished_at, status, inserted, updated, deleted, rejected,
  actor, coalesce(error, ''), coalesce(undo_of, 0), coalesce(plan_digest, ''), coalesce(config_digest, ''), coalesce(rowform_version, ''),
  key_count, coalesce(columns, '{}'), coalesce(row_columns, '{}')`

// runColumnsOf is runColumns for a schema of the given layout version.
func runColumnsOf(version int) string {
	if version < 2 {
		return runColumns + ", false"
	}
	return runColumns + ", rows_table"
}

func scanRun(rows pgx.Rows) (Run, error) {
	var r Run
	err := rows.Scan(&r.ID, &r.Sync, &r.Table, &r.Destination, &r.StartedAt, &r.FinishedAt, &r.Status, &r.Inserted, &r.Updated, &r.Deleted, &r.Rejected,
		&r.Actor, &r.Error, &r.UndoOf, &r.PlanDigest, &r.ConfigDigest, &r.Version, &r.KeyCount, &r.Columns, &r.RowColumns, &r.RowsTable)
	return r, err
}

// List returns the newest runs recorded in schema, newest first: of the
// syncs named (every sync when syncs is empty), at most limit (no limit
// when limit <= 0). A schema without a layout has none.
func List(ctx context.Context, q Querier, schema string, syncs []string, limit int) ([]Run, error) {
	st, err := ReadState(ctx, q, schema)
	if err != nil || !st.LayoutExists {
		return nil, err
	}
	if st.Version == 0 {
		return nil, errUnreadable(schema)
	}
	var filter any
	if len(syncs) > 0 {
		filter = syncs
	}
	var lim any
	if limit > 0 {
		lim = limit
	}
	rows, err := q.Query(ctx, fmt.Sprintf(`SELECT %s FROM %s WHERE $1::text[] IS NULL OR sync = ANY($1::text[]) ORDER BY id DESC LIMIT $2::bigint`,
		runColumnsOf(st.Version), Names{schema}.Runs()), filter, lim)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []Run
	for rows.Next() {
		r, err := scanRun(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, r)
	}
	return out, rows.Err()
}

// Get returns run id of schema, or nil when there is none.
func Get(ctx context.Context, q Querier, schema string, id int64) (*Run, error) {
	return oneRun(ctx, q, schema, "id = $1", id)
}

// LastApplied returns the newest run of sync in schema that applied (not
// one that failed), or nil when there is none, or no history there yet.
func LastApplied(ctx context.Context, q Querier, schema, sync string) (*Run, error) {
	return oneRun(ctx, q, schema, "sync = $1 AND status = 'applied' ORDER BY id DESC LIMIT 1", sync)
}

// oneRun returns the first run of schema that where (SQL over the runs
// table, its conditions and any order, taking arg as $1) selects, or nil
// when there is none, or no history there yet.
func oneRun(ctx context.Context, q Querier, schema, where string, arg any) (*Run, error) {
	st, err := ReadState(ctx, q, schema)
	if err != nil || !st.LayoutExists {
		return nil, err
	}
	if st.Version == 0 {
		return nil, errUnreadable(schema)
	}
	rows, err := q.Query(ctx, fmt.Sprintf(`SELECT %s FROM %s WHERE %s`, runColumnsOf(st.Version), Names{schema}.Runs(), where), arg)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	if !rows.Next() {
		return nil, rows.Err()
	}
	r, err := scanRun(rows)
	if err != nil {
		return nil, err
	}
	return &r, nil
}

// UndoneBy returns the newest applied run of schema that undid run id and
// was not undone in turn (redoing the run), or 0 when there is none.
func UndoneBy(ctx context.Context, q Querier, schema string, id int64) (int64, error) {
	var by int64
	err := q.QueryRow(ctx, fmt.Sprintf(`SELECT coalesce(max(u.id), 0) FROM %[1]s AS u
WHERE u.undo_of = $1 AND u.status = 'applied'
  AND NOT EXISTS (SELECT FROM %[1]s AS v WHERE v.undo_of = u.id AND v.status = 'applied')`, Names{schema}.Runs()), id).Scan(&by)
	return by, err
}

// Actor says who applies, from the environment (os.Environ form):
// ROWFORM_ACTOR when set; else the user a CI system says started the job
// (GitHub Actions, GitLab CI, Buildkite, CircleCI, Azure Pipelines,
// Bitbucket Pipelines, Jenkins), with the system's name; else the
// operating system's user and host, "user@host".
func Actor(env []string) string {
	get := func(name string) string { return environ.Get(env, name) }
	if a := strings.TrimSpace(get("ROWFORM_ACTOR")); a != "" {
		return a
	}
	for _, ci := range []struct{ flag, value, actor, name string }{
		{"GITHUB_ACTIONS", "true", "GITHUB_ACTOR", "GitHub Actions"},
		{"GITLAB_CI", "true", "GITLAB_USER_LOGIN", "GitLab CI"},
		{"BUILDKITE", "true", "BUILDKITE_BUILD_CREATOR", "Buildkite"},
		{"CIRCLECI", "true", "CIRCLE_USERNAME", "CircleCI"},
		{"TF_BUILD", "True", "BUILD_REQUESTEDFOR", "Azure Pipelines"},
		{"BITBUCKET_BUILD_NUMBER", "", "BITBUCKET_STEP_TRIGGERER_UUID", "Bitbucket Pipelines"},
		{"JENKINS_URL", "", "BUILD_USER_ID", "Jenkins"},
	} {
		v := get(ci.flag)
		if v == "" || (ci.value != "" && !strings.EqualFold(v, ci.value)) {
			continue
		}
		if a := get(ci.actor); a != "" {
			return a + " (" + ci.name + ")"
		}
		return ci.name
	}
	name := get("USER")
	if name == "" {
		name = get("LOGNAME")
	}
	if name == "" {
		if u, err := user.Current(); err == nil {
			name = u.Username
		}
	}
	if name == "" {
		name = "unknown"
	}
	if host, err := os.Hostname(); err == nil && host != "" {
		return name + "@" + host
	}
	return name
}

// WrittenHash identifies the values a run wrote into one row, for undo to
// tell whether the row changed since: the md5 of, for each position
// written (an index of the run's columns, ascending), the position (2
// bytes) and the value as rowform reads it in binary (a 4-byte length,
// 0xFFFFFFFF for NULL, then the bytes). For an insert the positions are
// every column but the key; for an update, the columns it changed.
func WrittenHash(values [][]byte, positions []int) [16]byte {
	h := md5.New()
	var b [6]byte
	for _, p := range positions {
		v := values[p]
		binary.BigEndian.PutUint16(b[:2], uint16(p))
		if v == nil {
			binary.BigEndian.PutUint32(b[2:], 0xFFFFFFFF)
		} else {
			binary.BigEndian.PutUint32(b[2:], uint32(len(v)))
		}
		h.Write(b[:])
		h.Write(v)
	}
	var out [16]byte
	h.Sum(out[:0])
	return out
}

// Int2Array encodes positions (0-based) as a binary int2[] of 1-based
// positions, as run_rows.changed holds them.
func Int2Array(positions []int) []byte {
	if len(positions) == 0 {
		return binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(binary.BigEndian.AppendUint32(nil, 0), 0), 21)
	}
	b := make([]byte, 0, 20+6*len(positions))
	b = binary.BigEndian.AppendUint32(b, 1)  // dimensions
	b = binary.BigEndian.AppendUint32(b, 0)  // no NULLs
	b = binary.BigEndian.AppendUint32(b, 21) // int2
	b = binary.BigEndian.AppendUint32(b, uint32(len(positions)))
	b = binary.BigEndian.AppendUint32(b, 1) // lower bound
	for _, p := range positions {
		b = binary.BigEndian.AppendUint32(b, 2)
		b = binary.BigEndian.AppendUint16(b, uint16(p+1))
	}
	return b
}

// DecodeInt2Array decodes a binary int2[] of 1-based positions into
// 0-based ones.
func DecodeInt2Array(b []byte) ([]int, error) {
	if len(b) < 12 {
		return nil, fmt.Errorf("a binary array of %d bytes", len(b))
	}
	if binary.BigEndian.Uint32(b) == 0 {
		return nil, nil
	}
	if len(b) < 20 {
		return nil, fmt.Errorf("a binary array of %d bytes", len(b))
	}
	n := int(binary.BigEndian.Uint32(b[12:]))
	b = b[20:]
	out := make([]int, 0, n)
	for i := 0; i < n; i++ {
		if len(b) < 6 || binary.BigEndian.Uint32(b) != 2 {
			return nil, fmt.Errorf("a malformed int2 array")
		}
		out = append(out, int(int16(binary.BigEndian.Uint16(b[4:])))-1)
		b = b[6:]
	}
	return out, nil
}
