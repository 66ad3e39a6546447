package rftest

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/pgconnect"
)

// connect connects to a test database with the session settings of every
// connection rowform opens (TimeZone UTC, DateStyle ISO, MDY, ...): a
// fixture's "2024-01-15 09:30:00" or "01/02/2024" is then written, and an
// expected value read, as a sync's connection reads the same text,
// whatever the server's defaults (initdb takes its time zone from the
// machine, a server of ROWFORM_TEST_PG_URL has its own).
func connect(ctx context.Context, connString string) (*pgx.Conn, error) {
	cfg, err := pgx.ParseConfig(connString)
	if err != nil {
		return nil, err
	}
	for k, v := range pgconnect.SessionSettings() {
		cfg.RuntimeParams[k] = v
	}
	return pgx.ConnectConfig(ctx, cfg)
}

// loadFixtures loads fixtures in order. In a run (replace), a table's rows
// replace what it holds; before the first run the tables are new.
func (f *fileRun) loadFixtures(ctx context.Context, fixtures []*Fixture, replace bool) error {
	for _, fx := range fixtures {
		var err error
		if fx.CSV != nil {
			err = f.loadCSV(fx)
		} else {
			err = f.loadServer(ctx, fx, replace)
		}
		if err != nil {
			return fmt.Errorf("%s %q %q: %w", fx.Kind, fx.Type, fx.Name, err)
		}
	}
	return nil
}

// loadCSV writes a csv source's content to a file of its own; the
// configuration is pointed at it.
func (f *fileRun) loadCSV(fx *Fixture) error {
	src := f.cfg.Sources[fx.Type+"."+fx.Name]
	var text string
	switch {
	case fx.CSV.Content != nil:
		text = *fx.CSV.Content
	case fx.CSV.Rows != nil:
		if src.CSV != nil && !src.CSV.Header {
			return fmt.Errorf("rows needs a CSV source with header = true, to name the columns; give its content instead")
		}
		delim := ','
		if src.CSV != nil {
			delim = src.CSV.Delimiter
		}
		text = csvText(fx.CSV.Rows, delim)
	}
	if src.CSV != nil && strings.EqualFold(src.CSV.Encoding, hclconfig.EncodingLatin1) && !fx.CSV.FromPath {
		// The test file's text is UTF-8; the source reads its file as
		// LATIN1, so its é must be the byte 0xE9.
		b, err := latin1(text)
		if err != nil {
			return err
		}
		text = string(b)
	}
	path := filepath.Join(f.tmp, fx.Name+".csv")
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		return err
	}
	f.csvPaths[fx.Address()] = path
	return nil
}

// loadServer runs a server fixture's SQL, then fills its tables.
func (f *fileRun) loadServer(ctx context.Context, fx *Fixture, replace bool) error {
	conn, err := connect(ctx, f.t.cluster.ConnString(f.dbs[fx.Address()]))
	if err != nil {
		return err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	if strings.TrimSpace(fx.SQL) != "" {
		if _, err := conn.Exec(ctx, fx.SQL, pgx.QueryExecModeSimpleProtocol); err != nil {
			return fmt.Errorf("sql: %w", err)
		}
	}
	for _, t := range fx.Tables {
		if err := fillTable(ctx, conn, t, replace); err != nil {
			return fmt.Errorf("table %q: %w", t.Table.String(), err)
		}
	}
	return nil
}

// ident quotes a table name for SQL.
func ident(t hclconfig.TableName) string { return pgx.Identifier{t.Schema, t.Name}.Sanitize() }

// columnTypes returns the types of a table's columns (name -> SQL type as
// format_type writes it); nil when the table does not exist.
func columnTypes(ctx context.Context, conn *pgx.Conn, t hclconfig.TableName) (map[string]string, error) {
	if exists, err := tableExists(ctx, conn, t); err != nil || !exists {
		return nil, err
	}
	rows, err := conn.Query(ctx, `SELECT attname, format_type(atttypid, atttypmod) FROM pg_attribute
WHERE attrelid = to_regclass($1) AND attnum > 0 AND NOT attisdropped`, ident(t))
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for rows.Next() {
		var name, typ string
		if err := rows.Scan(&name, &typ); err != nil {
			return nil, err
		}
		out[name] = typ
	}
	return out, rows.Err()
}

// tableExists reports whether table t exists.
func tableExists(ctx context.Context, conn *pgx.Conn, t hclconfig.TableName) (bool, error) {
	var exists bool
	err := conn.QueryRow(ctx, "SELECT to_regclass($1) IS NOT NULL", ident(t)).Scan(&exists)
	return exists, err
}

// fillTable creates the table if it does not exist (from its columns, or
// the types its rows suggest), empties it when replace, and inserts the
// rows, each value converted to its column's type by PostgreSQL.
func fillTable(ctx context.Context, conn *pgx.Conn, t *TableFixture, replace bool) error {
	types, err := columnTypes(ctx, conn, t.Table)
	if err != nil {
		return err
	}
	if types == nil {
		if err := createTable(ctx, conn, t); err != nil {
			return err
		}
		if types, err = columnTypes(ctx, conn, t.Table); err != nil {
			return err
		}
	} else if replace {
		if _, err := conn.Exec(ctx, "DELETE FROM "+ident(t.Table)); err != nil {
			return err
		}
	}
	if t.Rows == nil || len(t.Rows.Values) == 0 {
		return nil
	}
	cols := make([]string, len(t.Rows.Columns))
	vals := make([]string, len(t.Rows.Columns))
	for i, c := range t.Rows.Columns {
		if _, ok := types[c]; !ok {
			return fmt.Errorf("the table has no column %q (its columns: %s)", c, strings.Join(slices.Sorted(maps.Keys(types)), ", "))
		}
		cols[i] = pgx.Identifier{c}.Sanitize()
		vals[i] = fmt.Sprintf("$%d", i+1)
	}
	// Each value is a text parameter of no type, which the server reads
	// with its column's input function and then assigns to the column
	// (modifier included), as a write of that text: a value too long for
	// a varchar(5) or a bit(3) is refused. An explicit cast would cut it
	// to fit, and the table would hold another row than the test file
	// gives.
	sql := fmt.Sprintf("INSERT INTO %s (%s) VALUES (%s)", ident(t.Table), strings.Join(cols, ", "), strings.Join(vals, ", "))
	for n, row := range t.Rows.Values {
		params := make([][]byte, len(row))
		for i, v := range row {
			if v != nil {
				params[i] = []byte(*v)
			}
		}
		if _, err := conn.PgConn().ExecParams(ctx, sql, params, nil, nil, nil).Close(); err != nil {
			return fmt.Errorf("row %d of %s: %w", n+1, t.Rows.From, err)
		}
	}
	return nil
}

// createTable creates a table that does not exist, with the columns the
// fixture declares (columns = { name = "type" }) and those its rows name,
// of the type their values suggest (bigint, numeric, boolean, jsonb,
// text) unless columns declares it.
func createTable(ctx context.Context, conn *pgx.Conn, t *TableFixture) error {
	if t.Columns == nil && (t.Rows == nil || len(t.Rows.Columns) == 0) {
		return fmt.Errorf("the table does not exist: create it in the block's sql, or declare its columns (columns = { id = \"bigint\", ... })")
	}
	var defs []string
	seen := map[string]bool{}
	add := func(name, typ string) {
		if !seen[name] {
			seen[name] = true
			defs = append(defs, pgx.Identifier{name}.Sanitize()+" "+typ)
		}
	}
	if t.Rows != nil {
		for i, c := range t.Rows.Columns {
			if typ, ok := t.Columns[c]; ok {
				add(c, typ)
			} else {
				add(c, t.Rows.Types[i])
			}
		}
	}
	for _, c := range slices.Sorted(maps.Keys(t.Columns)) {
		add(c, t.Columns[c])
	}
	if t.Table.Schema != "public" {
		if _, err := conn.Exec(ctx, "CREATE SCHEMA IF NOT EXISTS "+pgx.Identifier{t.Table.Schema}.Sanitize()); err != nil {
			return err
		}
	}
	_, err := conn.Exec(ctx, fmt.Sprintf("CREATE TABLE %s (%s)", ident(t.Table), strings.Join(defs, ", ")))
	return err
}

// latin1 encodes text in LATIN1 (ISO 8859-1), whose bytes are the first 256
// Unicode characters.
func latin1(text string) ([]byte, error) {
	out := make([]byte, 0, len(text))
	for _, r := range text {
		if r > 0xFF {
			return nil, fmt.Errorf("the character %q is not in LATIN1, the source's encoding", r)
		}
		out = append(out, byte(r))
	}
	return out, nil
}
