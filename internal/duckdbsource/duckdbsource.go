// Package duckdbsource reads the rows of a duckdb source: DuckDB SQL over
// Parquet, CSV and JSON files, or over the tables of a DuckDB database
// file. It is the only package of the rowform binary that imports DuckDB
// (through cgo; outside the binary, duckdbwrite and the bench do too), so the
// rest of rowform needs no C to read.
//
// What a caller may rely on:
//   - a database file is opened read-only (access_mode READ_ONLY); without
//     one the database is in memory and holds nothing but what queries read;
//   - a query is exactly one SELECT statement, refused otherwise before
//     anything runs (ErrNotQuery): INSERT, COPY, CREATE, ATTACH, SET, PRAGMA
//     and several statements in one never execute;
//   - relative file paths in a query resolve against the configuration
//     directory (DuckDB's file_search_path), whatever the working directory
//     and whatever characters the directory's path holds;
//   - a query's rows are those DuckDB gives it with its default settings:
//     insertion order is preserved, so a LIMIT without ORDER BY takes the
//     first matching rows in file order, the same rows on every run;
//   - values are read as text in PostgreSQL's input syntax (Rows), so the
//     destination converts them with its own rules, as it converts a CSV
//     file's fields;
//   - a query never loads or installs an extension: only those built into
//     the binary (parquet, json, icu, core_functions, autocomplete) are
//     there, and nothing is downloaded;
//   - each database instance uses at most MemoryLimit of memory and
//     Threads threads, spilling what does not fit to the system's
//     temporary directory;
//   - a query stops when the context of Query is cancelled, also in the
//     middle of a long operator (a sort, an aggregate).
package duckdbsource

import (
	"context"
	"database/sql/driver"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/duckdb/duckdb-go/v2"
)

// ErrNotQuery is returned for SQL that is not one SELECT statement.
var ErrNotQuery = errors.New("not a query")

// ErrParameters is returned for a query with parameters ($1, ?), which
// a duckdb source has no values for.
var ErrParameters = errors.New("the query has a parameter ($1 or ?): a duckdb source's query takes none, as rowform has no values to bind to it; write the value in the query, or interpolate a variable (${var.name})")

// NotQueryError says what a refused statement is.
type NotQueryError struct {
	// Kind is the statement's kind ("COPY", "INSERT", ...), "several
	// statements", or "" when only its not being a SELECT is known.
	Kind string
}

func (e *NotQueryError) Error() string {
	var what string
	switch {
	case e.Kind == "":
		what = "is not a query (not a SELECT statement)"
	case e.Kind == "several statements":
		what = "holds several statements, not a query"
	case strings.ContainsRune("AEIOU", rune(e.Kind[0])):
		what = "is an " + e.Kind + " statement, not a query"
	default:
		what = "is a " + e.Kind + " statement, not a query"
	}
	return "the SQL " + what + ": a duckdb source is read-only, so its SQL must be one SELECT statement"
}

// Is makes errors.Is(err, ErrNotQuery) true.
func (e *NotQueryError) Is(target error) bool { return target == ErrNotQuery }

// Database is an open DuckDB database with one connection.
type Database struct {
	connector *duckdb.Connector
	conn      *duckdb.Conn
	path, dir string
	// searchPath is dir as DuckDB's file_search_path holds it: dir, or
	// its alias when its path holds a comma.
	searchPath string
	// releases give back the aliases the Database holds.
	releases []func()
}

// Open opens the DuckDB database file at path read-only, or an in-memory
// database when path is "". dir is the directory relative file paths in
// queries resolve against. Either path may hold any character (a comma,
// '?', '#', '%'), except that the database file's own name may not hold
// '?', '#' or '%', which is an error saying to rename it. DuckDB spills
// to the system's temporary directory.
func Open(ctx context.Context, path, dir string) (*Database, error) {
	if path != "" {
		if _, err := os.Stat(path); err != nil {
			var pe *os.PathError
			if errors.As(err, &pe) {
				return nil, fmt.Errorf("the DuckDB database %s: %v", path, pe.Err)
			}
			return nil, err
		}
	}
	db := &Database{path: path, dir: dir}
	if err := db.open(ctx); err != nil {
		db.Close()
		return nil, err
	}
	return db, nil
}

// open opens db's instance and connection and configures them.
func (db *Database) open(ctx context.Context) error {
	searchPath, release, err := acquireDir(db.dir)
	if err != nil {
		return err
	}
	db.searchPath, db.releases = searchPath, append(db.releases, release)
	dsn, err := db.dsn()
	if err != nil {
		return err
	}
	connector, err := duckdb.NewConnector(dsn, nil)
	if err != nil {
		return db.openFailed(err)
	}
	db.connector = connector
	dc, err := connector.Connect(ctx)
	if err != nil {
		return db.openFailed(err)
	}
	db.conn = dc.(*duckdb.Conn)
	return db.configure(ctx)
}

// dsn is the driver's DSN of db: its file's path, which the DSN carries
// whatever characters it holds (through an alias of its directory), and
// the options of Open.
func (db *Database) dsn() (string, error) {
	opts := url.Values{}
	path := ""
	if db.path != "" {
		p, release, err := acquireDatabasePath(db.path)
		if err != nil {
			return "", err
		}
		path, db.releases = p, append(db.releases, release)
		opts.Set("access_mode", "READ_ONLY")
	}
	opts.Set("temp_directory", os.TempDir())
	return path + "?" + opts.Encode(), nil
}

// configure applies sessionSettings and locks them. A database file that
// is already open in this process (the diff's reader and the conversion of
// its values, two syncs of one file) is one DuckDB instance, which the
// first Open configured and locked: it is used as it is when it resolves
// relative paths against the same directory, the one setting that differs
// between Opens.
func (db *Database) configure(ctx context.Context) error {
	// One Open at a time reads and sets an instance's settings: two Opens
	// of one file at once would both find it unlocked, and the second's
	// settings would fail once the first locked them.
	configuring.Lock()
	defer configuring.Unlock()
	locked, err := db.setting(ctx, "lock_configuration")
	if err != nil {
		return err
	}
	if locked != "true" {
		for _, s := range sessionSettings(db.searchPath) {
			if _, err := db.conn.ExecContext(ctx, s, nil); err != nil {
				return err
			}
		}
		return nil
	}
	searchPath, err := db.setting(ctx, "file_search_path")
	if err != nil {
		return err
	}
	if searchPath != db.searchPath {
		return fmt.Errorf("the DuckDB database %s is already open for a configuration in %s: one process reads a database file for one configuration directory at a time", db.path, aliasedDir(searchPath))
	}
	return nil
}

// configuring serializes configure across the process.
var configuring sync.Mutex

// setting returns the current value of a DuckDB setting as text.
func (db *Database) setting(ctx context.Context, name string) (string, error) {
	rows, err := db.conn.QueryContext(ctx, "SELECT current_setting($1)::VARCHAR", []driver.NamedValue{{Ordinal: 1, Value: name}})
	if err != nil {
		return "", err
	}
	defer rows.Close()
	vals := make([]driver.Value, 1)
	if err := rows.Next(vals); err != nil {
		return "", err
	}
	v, _ := vals[0].(string)
	return v, nil
}

// MemoryLimit is the memory limit of each DuckDB instance a duckdb source
// opens (DuckDB's own default is 80% of the machine's memory, per
// instance); operators that need more spill to the temporary directory.
// A plan or apply holds at most two instances at a time per sync it reads.
const MemoryLimit = "1GB"

// Threads is the number of threads of a DuckDB instance: the cores
// rowform may use, at most maxThreads (each thread holds buffers of its
// own inside MemoryLimit).
func Threads() int { return min(runtime.GOMAXPROCS(0), maxThreads) }

const maxThreads = 4

// sessionSettings are the statements that set up a session whose
// relative file paths resolve against searchPath, a directory as
// acquireDir gives it (DuckDB would split a path with a comma).
func sessionSettings(searchPath string) []string {
	return []string{
		"SET GLOBAL file_search_path = " + quoteLiteral(searchPath),
		// A function of an extension that is not built in (sqlite_scan,
		// read_xlsx, an https:// path) fails instead of downloading the
		// extension into ~/.duckdb and loading it.
		"SET autoinstall_known_extensions = false",
		"SET autoload_known_extensions = false",
		"SET memory_limit = " + quoteLiteral(MemoryLimit),
		fmt.Sprintf("SET threads = %d", Threads()),
		// Timestamps with a time zone are written with their offset from
		// UTC, which PostgreSQL reads whatever its session's time zone.
		"SET GLOBAL TimeZone = 'UTC'",
		"SET enable_progress_bar = false",
		// The query cannot change any of the above.
		"SET lock_configuration = true",
	}
}

// openFailed is the error of an Open that DuckDB refused with err: that
// the file is not a DuckDB database when it is not one (a Parquet or CSV
// file, whose DuckDB message is about something else), else DuckDB's.
func (db *Database) openFailed(err error) error {
	if db.path != "" && !isDatabaseFile(db.path) {
		return fmt.Errorf("%s is not a DuckDB database file: a duckdb source's path names a DuckDB database; read Parquet, CSV and JSON files in the query instead (read_parquet('...'), read_csv('...'), read_json('...')) and omit path", db.path)
	}
	return openError(db.path, err)
}

// isDatabaseFile reports whether the file at path starts as a DuckDB
// database file does: a checksum, then the magic bytes "DUCK".
func isDatabaseFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return true // not known: DuckDB's error says what it found
	}
	defer f.Close()
	head := make([]byte, 12)
	if _, err := io.ReadFull(f, head); err != nil {
		return false
	}
	return string(head[8:]) == "DUCK"
}

func openError(path string, err error) error {
	if path == "" {
		return fmt.Errorf("cannot start DuckDB: %w", err)
	}
	return fmt.Errorf("cannot open the DuckDB database %s: %w", path, err)
}

// Close closes the database and removes the aliases only it held.
func (db *Database) Close() {
	if db.conn != nil {
		_ = db.conn.Close()
	}
	if db.connector != nil {
		_ = db.connector.Close()
	}
	for _, release := range db.releases {
		release()
	}
	db.releases = nil
}

// Column is a result column of a query.
type Column struct {
	Name string
	// Type is DuckDB's name of the column's type (BIGINT, DECIMAL(12,2),
	// TIMESTAMP WITH TIME ZONE, ...).
	Type string
	// PostgresType is the PostgreSQL type that holds its values, for
	// suggesting a destination table ("text" when there is none closer).
	PostgresType string
	kind         duckdb.Type
	json         bool
}

// prepare prepares one SELECT statement.
func (db *Database) prepare(query string) (*duckdb.Stmt, error) {
	st, err := db.conn.Prepare(query)
	if err != nil {
		if strings.Contains(err.Error(), "multi-statement") {
			return nil, &NotQueryError{Kind: "several statements"}
		}
		return nil, err
	}
	stmt := st.(*duckdb.Stmt)
	typ, err := stmt.StatementType()
	if err != nil {
		_ = stmt.Close()
		return nil, err
	}
	if typ != duckdb.STATEMENT_TYPE_SELECT {
		_ = stmt.Close()
		return nil, &NotQueryError{Kind: statementKind(typ)}
	}
	// DuckDB prepares some statements that are not SELECTs as SELECTs
	// (PRAGMA version, PRAGMA show_tables); the parser, which validate
	// asks too (CheckQuery), refuses them.
	if err := db.checkParsed(context.Background(), query); errors.Is(err, ErrNotQuery) {
		_ = stmt.Close()
		return nil, err
	}
	if n := stmt.NumInput(); n != 0 {
		_ = stmt.Close()
		return nil, ErrParameters
	}
	return stmt, nil
}

// Describe prepares query without running it and returns its columns.
// Errors are DuckDB's (a missing file, an unknown column, a syntax error),
// or a *NotQueryError.
func (db *Database) Describe(query string) ([]Column, error) {
	stmt, err := db.prepare(query)
	if err != nil {
		return nil, withoutExtensionAdvice(err)
	}
	defer stmt.Close()
	n, err := stmt.ColumnCount()
	if err != nil {
		return nil, err
	}
	cols := make([]Column, n)
	for i := range n {
		name, err := stmt.ColumnName(i)
		if err != nil {
			return nil, err
		}
		info, err := stmt.ColumnTypeInfo(i)
		if err != nil {
			return nil, err
		}
		cols[i] = Column{Name: name, kind: info.InternalType(), json: info.Alias() == "JSON"}
		cols[i].Type, cols[i].PostgresType = typeNames(info)
	}
	return cols, nil
}

// Rows reads the result of a query as text, streamed: DuckDB holds a few
// chunks of rows at a time, not the result.
type Rows struct {
	ctx  context.Context
	s    *stream
	done bool
}

// Query runs query and returns the columns named cols (columns of
// Describe's result, in any order) as text in PostgreSQL's input syntax:
// numbers, booleans, dates and times as DuckDB writes them (timestamps
// with a time zone at UTC, "+00"), BLOBs as bytea's hex form (\x...),
// lists, structs, maps and unions as JSON. It runs on a database instance
// of its own, opened as Open opened db. When ctx is done the query stops,
// also in the middle of a chunk, and Next returns ctx's error.
func (db *Database) Query(ctx context.Context, query string, cols []Column) (*Rows, error) {
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = textExpr("q."+quoteIdent(c.Name), c.kind, c.json)
	}
	wrapped := fmt.Sprintf("SELECT %s FROM (\n%s\n) AS q", strings.Join(sel, ", "), query)
	s, err := openStream(ctx, db.path, db.dir, wrapped)
	if err != nil {
		return nil, withoutExtensionAdvice(err)
	}
	return &Rows{ctx: ctx, s: s}, nil
}

// NoExtensionAdvice is what replaces DuckDB's advice for a function or a
// path of an extension that is not built in (INSTALL, LOAD, SET
// autoinstall_known_extensions, none of which a query may do).
const NoExtensionAdvice = "rowform's DuckDB has only its built-in extensions (parquet, json, icu, core_functions, autocomplete) " +
	"and never installs or loads another: read local Parquet, CSV or JSON files instead (copy remote ones next to the configuration first)."

// withoutExtensionAdvice replaces, in an error of DuckDB's, the lines that
// advise installing and loading an extension ("Please try installing and
// loading the httpfs extension by running: INSTALL httpfs; ...
// SET autoload_known_extensions=1;") with NoExtensionAdvice: rowform
// refuses all of them. Other errors are returned as they are.
func withoutExtensionAdvice(err error) error {
	if err == nil || !strings.Contains(err.Error(), "_known_extensions=1;") {
		return err
	}
	lines := strings.Split(err.Error(), "\n")
	var out []string
	for i := 0; i < len(lines); i++ {
		t := strings.TrimSpace(lines[i])
		if !strings.HasPrefix(t, "Please try ") || !strings.Contains(t, " extension") {
			out = append(out, lines[i])
			continue
		}
		// The advice: its INSTALL and LOAD statements, then the
		// "Alternatively, consider enabling ..." paragraph.
		j := i + 1
		for ; j < len(lines); j++ {
			t := strings.TrimSpace(lines[j])
			if t == "" && j+1 < len(lines) && strings.HasPrefix(strings.TrimSpace(lines[j+1]), "Alternatively, consider enabling") {
				continue
			}
			if !strings.HasPrefix(t, "INSTALL ") && !strings.HasPrefix(t, "LOAD ") && !strings.HasPrefix(t, "FORCE INSTALL ") &&
				!strings.HasPrefix(t, "Alternatively, consider enabling") && !strings.HasPrefix(t, "SET autoinstall_known_extensions") &&
				!strings.HasPrefix(t, "SET autoload_known_extensions") {
				break
			}
		}
		out = append(out, NoExtensionAdvice)
		i = j - 1
	}
	return errors.New(strings.Join(out, "\n"))
}

// Next reads the next row into dst (one entry per column; null is set
// for SQL NULL), returning io.EOF after the last.
func (r *Rows) Next(dst []string, null []bool) error {
	if r.done {
		return io.EOF
	}
	if err := r.s.next(r.ctx, dst, null); err != nil {
		r.Close()
		return err
	}
	return nil
}

// Close releases the result; Next returns io.EOF after it.
func (r *Rows) Close() {
	if r.done {
		return
	}
	r.done = true
	r.s.close()
}

// CheckQuery parses query without running it, without opening a file,
// and reports a *NotQueryError for SQL that is not one SELECT statement,
// or DuckDB's parser error. validate uses it: it reads no data.
func CheckQuery(ctx context.Context, query string) error {
	db, err := Open(ctx, "", os.TempDir())
	if err != nil {
		return err
	}
	defer db.Close()
	return db.checkParsed(ctx, query)
}

// checkParsed is CheckQuery on db's connection.
func (db *Database) checkParsed(ctx context.Context, query string) error {
	// json_serialize_sql parses without binding (no table or file is
	// looked up) and serializes SELECT statements only.
	rows, err := db.conn.QueryContext(ctx, "SELECT json_serialize_sql($1::VARCHAR)::VARCHAR", []driver.NamedValue{{Ordinal: 1, Value: query}})
	if err != nil {
		return err
	}
	defer rows.Close()
	vals := make([]driver.Value, 1)
	if err := rows.Next(vals); err != nil {
		return err
	}
	s, _ := vals[0].(string)
	return serializedError(s)
}

func quoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

func quoteLiteral(s string) string { return `'` + strings.ReplaceAll(s, `'`, `''`) + `'` }

// movingFunctions are DuckDB's functions whose value differs from one run
// of a query to the next: the clock and chance.
var movingFunctions = map[string]bool{
	"now": true, "today": true, "current_timestamp": true, "current_date": true, "current_time": true,
	"get_current_timestamp": true, "get_current_time": true, "current_localtimestamp": true, "current_localtime": true,
	"transaction_timestamp": true, "localtimestamp": true, "localtime": true,
	"random": true, "uuid": true, "gen_random_uuid": true, "uuidv4": true, "uuidv7": true,
}

// MovingCalls returns the calls of query (one SELECT) that give another
// value each time it runs — now(), current_timestamp, random(), uuid() —
// sorted, each once, as DuckDB's parser reads the query
// (json_serialize_sql: a 'now()' constant or a quoted "now" column is no
// call; the clock's keywords, which the parser leaves for the binder, are
// column references of those names). inValues says whether one is in a
// select list, not only in a condition. Views of a database file are not
// looked into.
func (db *Database) MovingCalls(ctx context.Context, query string) (calls []string, inValues bool, err error) {
	rows, err := db.conn.QueryContext(ctx, "SELECT json_serialize_sql($1::VARCHAR)::VARCHAR", []driver.NamedValue{{Ordinal: 1, Value: query}})
	if err != nil {
		return nil, false, err
	}
	defer rows.Close()
	vals := make([]driver.Value, 1)
	if err := rows.Next(vals); err != nil {
		return nil, false, err
	}
	s, _ := vals[0].(string)
	dec := json.NewDecoder(strings.NewReader(s))
	dec.UseNumber()
	var tree any
	if err := dec.Decode(&tree); err != nil {
		return nil, false, err
	}
	seen := map[string]bool{}
	var walk func(v any, inSelect bool)
	walk = func(v any, inSelect bool) {
		switch v := v.(type) {
		case map[string]any:
			var name string
			switch v["class"] {
			case "FUNCTION":
				name, _ = v["function_name"].(string)
				name = strings.ToLower(name)
				if !movingFunctions[name] {
					name = ""
				} else {
					name += "()"
				}
			case "COLUMN_REF":
				if parts, _ := v["column_names"].([]any); len(parts) == 1 {
					if n, _ := parts[0].(string); movingKeywords[strings.ToLower(n)] {
						name = strings.ToLower(n)
					}
				}
			}
			if name != "" {
				if !seen[name] {
					seen[name] = true
					calls = append(calls, name)
				}
				inValues = inValues || inSelect
			}
			for k, child := range v {
				walk(child, inSelect || k == "select_list")
			}
		case []any:
			for _, child := range v {
				walk(child, inSelect)
			}
		}
	}
	walk(tree, false)
	slices.Sort(calls)
	return calls, inValues, nil
}

// movingKeywords are the clock's SQL keywords, which DuckDB's parser
// reads as column references.
var movingKeywords = map[string]bool{
	"current_timestamp": true, "current_date": true, "current_time": true, "localtimestamp": true, "localtime": true,
}
