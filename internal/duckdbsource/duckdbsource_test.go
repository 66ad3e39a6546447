package duckdbsource_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rowform/rowform/internal/duckdbsource"
	"github.com/rowform/rowform/internal/duckdbsource/duckdbwrite"
)

// query runs sql on an in-memory database in dir and returns its rows.
func query(t *testing.T, ctx context.Context, dir, sql string) ([][]string, error) {
	t.Helper()
	db, err := duckdbsource.Open(ctx, "", dir)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	cols, err := db.Describe(sql)
	if err != nil {
		return nil, err
	}
	rows, err := db.Query(ctx, sql, cols)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out [][]string
	for {
		vals, null := make([]string, len(cols)), make([]bool, len(cols))
		if err := rows.Next(vals, null); err == io.EOF {
			return out, nil
		} else if err != nil {
			return out, err
		}
		out = append(out, vals)
	}
}

// TestSessionLimits: the instance a query runs on loads and installs no
// extension and has bounded memory and threads, and the query cannot
// change that.
func TestSessionLimits(t *testing.T) {
	home := t.TempDir()
	t.Setenv("HOME", home)
	ctx := context.Background()
	rows, err := query(t, ctx, t.TempDir(), `SELECT current_setting('autoinstall_known_extensions')::VARCHAR AS install,
		current_setting('autoload_known_extensions')::VARCHAR AS load,
		current_setting('memory_limit')::VARCHAR AS mem,
		current_setting('threads')::VARCHAR AS threads`)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"false", "false", "953.6 MiB", fmt.Sprint(duckdbsource.Threads())}
	if len(rows) != 1 || strings.Join(rows[0], ",") != strings.Join(want, ",") {
		t.Errorf("settings %v, want %v", rows, want)
	}
	if n := duckdbsource.Threads(); n < 1 || n > 4 {
		t.Errorf("Threads() = %d, want 1 to 4", n)
	}

	// A function of an extension that is not built in fails without
	// downloading it (nothing is written under ~/.duckdb).
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "x.db"), nil, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = query(t, ctx, dir, "SELECT * FROM sqlite_scan('x.db', 't')")
	if err == nil || !strings.Contains(err.Error(), "sqlite") {
		t.Errorf("sqlite_scan: err %v, want an error naming the extension", err)
	}
	if _, serr := os.Stat(filepath.Join(home, ".duckdb")); serr == nil {
		t.Errorf("a query wrote %s/.duckdb (an extension was installed); its error: %v", home, err)
	}
}

// TestMissingExtensionAdvice: a path or a function of an extension that is
// not built in fails with DuckDB's message naming the extension, but with
// what rowform allows instead of DuckDB's advice (INSTALL, LOAD, SET
// autoinstall_known_extensions), none of which rowform lets a query do.
func TestMissingExtensionAdvice(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	ctx := context.Background()
	for q, ext := range map[string]string{
		"SELECT * FROM read_parquet('https://example.com/x.parquet')": "httpfs",
		"SELECT * FROM 's3://bucket/x.csv'":                           "httpfs",
		"SELECT * FROM sqlite_scan('x.db', 't')":                      "sqlite",
	} {
		_, err := query(t, ctx, t.TempDir(), q)
		if err == nil {
			t.Errorf("%s: no error", q)
			continue
		}
		msg := err.Error()
		if !strings.Contains(msg, ext) || !strings.Contains(msg, duckdbsource.NoExtensionAdvice) {
			t.Errorf("%s: the error does not name %s and say what rowform allows: %s", q, ext, msg)
		}
		for _, advice := range []string{"INSTALL", "LOAD ", "autoinstall_known_extensions", "autoload_known_extensions", "Please try"} {
			if strings.Contains(msg, advice) {
				t.Errorf("%s: the error gives DuckDB's advice %q, which rowform refuses: %s", q, advice, msg)
			}
		}
	}
}

// TestPragmaIsNotAQuery: DuckDB prepares PRAGMA version and PRAGMA
// show_tables as SELECTs; Describe refuses them as CheckQuery (validate)
// does, and names the kind of the statements it refuses with the right
// article ("a CREATE", "an INSTALL or LOAD").
func TestPragmaIsNotAQuery(t *testing.T) {
	ctx := context.Background()
	for q, want := range map[string]string{
		"PRAGMA version":             "is not a query",
		"PRAGMA show_tables":         "is not a query",
		"CREATE TABLE t (id int)":    "is a CREATE statement",
		"EXPLAIN SELECT 1":           "is an EXPLAIN statement",
		"INSTALL httpfs":             "is an INSTALL or LOAD statement",
		"COPY (SELECT 1) TO 'x.csv'": "is a COPY statement",
	} {
		if err := duckdbsource.CheckQuery(ctx, q); !errors.Is(err, duckdbsource.ErrNotQuery) {
			t.Errorf("CheckQuery(%s): %v, want a refusal", q, err)
		}
		_, err := query(t, ctx, t.TempDir(), q)
		if !errors.Is(err, duckdbsource.ErrNotQuery) || !strings.Contains(err.Error(), want) {
			t.Errorf("Describe(%s): %v, want a refusal that %s", q, err, want)
		}
	}
}

// TestQueryInterrupted: cancelling the context stops a query in the middle
// of a long operator, at once, with the context's error: an aggregate and
// a filter that streams its rows (both run until their first chunk before
// Query returns; later chunks run in Next, which the same interrupt stops).
func TestQueryInterrupted(t *testing.T) {
	// Ten billion rows aggregated, or filtered to almost none: minutes of
	// work before a row.
	for name, sql := range map[string]string{
		"aggregate": "SELECT max(hash(a.range, b.range)) AS s FROM range(100000) a, range(100000) b",
		"streaming": "SELECT a.range AS s FROM range(100000) a, range(100000) b WHERE hash(a.range, b.range) = 0",
	} {
		t.Run(name, func(t *testing.T) {
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			db, err := duckdbsource.Open(ctx, "", t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			defer db.Close()
			cols, err := db.Describe(sql)
			if err != nil {
				t.Fatal(err)
			}
			done := make(chan error, 1)
			go func() {
				rows, err := db.Query(ctx, sql, cols)
				if err != nil {
					done <- fmt.Errorf("query: %w", err)
					return
				}
				defer rows.Close()
				done <- rows.Next(make([]string, 1), make([]bool, 1))
			}()
			time.Sleep(300 * time.Millisecond)
			start := time.Now()
			cancel()
			select {
			case err := <-done:
				if !errors.Is(err, context.Canceled) {
					t.Errorf("err %v, want context.Canceled", err)
				}
				t.Logf("stopped in %v: %v", time.Since(start), err)
				if d := time.Since(start); d > 2*time.Second {
					t.Errorf("the query took %v to stop", d)
				}
			case <-time.After(10 * time.Second):
				t.Fatal("the query did not stop within 10s of the cancel")
			}
		})
	}
}

// TestQueryCancelledBefore: a context done before Query runs the query not
// at all (an interrupt before the query starts is not lost).
func TestQueryCancelledBefore(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	db, err := duckdbsource.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	sql := "SELECT max(hash(a.range, b.range)) AS s FROM range(100000) a, range(100000) b"
	cols, err := db.Describe(sql)
	if err != nil {
		t.Fatal(err)
	}
	cancel()
	start := time.Now()
	rows, err := db.Query(ctx, sql, cols)
	if err == nil {
		err = rows.Next(make([]string, 1), make([]bool, 1))
		rows.Close()
	}
	if !errors.Is(err, context.Canceled) || time.Since(start) > 2*time.Second {
		t.Errorf("err %v after %v, want context.Canceled at once", err, time.Since(start))
	}
}

// openLake writes a DuckDB database file with one table t in a new
// directory and opens it there; the test closes it.
func openLake(t *testing.T) (path, dir string, db *duckdbsource.Database) {
	t.Helper()
	ctx := context.Background()
	dir = t.TempDir()
	path = filepath.Join(dir, "lake.duckdb")
	if err := duckdbwrite.Run(ctx, path, "CREATE TABLE t AS SELECT 1 AS id"); err != nil {
		t.Fatal(err)
	}
	db, err := duckdbsource.Open(ctx, path, dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(db.Close)
	return path, dir, db
}

// TestOpenSameFileTwice: a database file open in two Databases at once (the
// diff's reader and the conversion of its values, two syncs reading one
// file) shares one DuckDB instance, whose configuration the first Open
// locked; the second Open finds it configured as it would have configured
// it and goes on, and both read the file.
func TestOpenSameFileTwice(t *testing.T) {
	ctx := context.Background()
	path, dir, first := openLake(t)
	second, err := duckdbsource.Open(ctx, path, dir)
	if err != nil {
		t.Fatalf("the second Open of %s: %v", path, err)
	}
	defer second.Close()
	for _, db := range []*duckdbsource.Database{first, second} {
		if _, err := db.Describe("SELECT id FROM t"); err != nil {
			t.Errorf("Describe: %v", err)
		}
	}
	// Another configuration directory would resolve the query's relative
	// paths elsewhere: that Open is refused, saying why.
	if third, err := duckdbsource.Open(ctx, path, t.TempDir()); err == nil {
		third.Close()
		t.Errorf("a third Open with another directory succeeded")
	} else if !strings.Contains(err.Error(), "already open") {
		t.Errorf("a third Open with another directory: %v, want it to say the file is already open", err)
	}
}

// TestSecondOpenHasTheSettings: the second Database of a file open twice
// runs its queries under the same settings as the first (they are the
// instance's, set globally before it was locked).
func TestSecondOpenHasTheSettings(t *testing.T) {
	ctx := context.Background()
	path, dir, first := openLake(t)
	second, err := duckdbsource.Open(ctx, path, dir)
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	const sql = `SELECT current_setting('file_search_path')::VARCHAR AS p, current_setting('TimeZone')::VARCHAR AS tz,
		current_setting('autoload_known_extensions')::VARCHAR AS load, current_setting('memory_limit')::VARCHAR AS mem`
	var got []string
	for _, db := range []*duckdbsource.Database{first, second} {
		cols, err := db.Describe(sql)
		if err != nil {
			t.Fatal(err)
		}
		rows, err := db.Query(ctx, sql, cols)
		if err != nil {
			t.Fatal(err)
		}
		vals, null := make([]string, len(cols)), make([]bool, len(cols))
		if err := rows.Next(vals, null); err != nil {
			t.Fatal(err)
		}
		rows.Close()
		got = append(got, strings.Join(vals, ","))
	}
	want := dir + ",UTC,false,953.6 MiB"
	if got[0] != want || got[1] != want {
		t.Errorf("settings of the two Databases %q, want both %q", got, want)
	}
}

// TestOpenSameFileAtOnce: Opens of one file at the same time (two syncs
// planned in parallel) all succeed: configuring the shared instance is
// serialized, so none finds its settings locked halfway.
func TestOpenSameFileAtOnce(t *testing.T) {
	ctx := context.Background()
	for round := range 5 {
		dir := t.TempDir()
		path := filepath.Join(dir, "lake.duckdb")
		if err := duckdbwrite.Run(ctx, path, "CREATE TABLE t AS SELECT 1 AS id"); err != nil {
			t.Fatal(err)
		}
		const n = 8
		errs := make(chan error, n)
		dbs := make(chan *duckdbsource.Database, n)
		for range n {
			go func() {
				db, err := duckdbsource.Open(ctx, path, dir)
				if err == nil {
					dbs <- db
				}
				errs <- err
			}()
		}
		for range n {
			if err := <-errs; err != nil {
				t.Errorf("round %d: an Open failed: %v", round, err)
			}
		}
		close(dbs)
		for db := range dbs {
			db.Close()
		}
	}
}

// TestLimitTakesRowsInFileOrder: a query with LIMIT and no ORDER BY
// returns the first matching rows in file order, as DuckDB itself does,
// every time it runs, also when several threads scan the file's row
// groups at once; a plan of it is the same plan each time.
func TestLimitTakesRowsInFileOrder(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	// Row groups of 2,048 rows, two matches in each: the five rows asked
	// for span three row groups, which the threads read in parallel.
	if err := duckdbwrite.Run(ctx, "", fmt.Sprintf(
		"COPY (SELECT range AS id FROM range(400000)) TO %s (FORMAT parquet, ROW_GROUP_SIZE 2048)",
		quote(filepath.Join(dir, "ids.parquet")))); err != nil {
		t.Fatal(err)
	}
	const sql = "SELECT id FROM 'ids.parquet' WHERE id % 1000 = 7 LIMIT 5"
	want := "7,1007,2007,3007,4007"
	for run := range 20 {
		rows, err := query(t, ctx, dir, sql)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, r := range rows {
			ids = append(ids, r[0])
		}
		if got := strings.Join(ids, ","); got != want {
			t.Fatalf("run %d: rows %s, want %s (the first matches in file order)", run+1, got, want)
		}
	}
}

// quote is s as a DuckDB string literal.
func quote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// TestRelativePathsInDirectoryWithComma: relative file paths in a query
// resolve against a configuration directory whose path holds a comma
// (which DuckDB's file_search_path would take as two directories).
func TestRelativePathsInDirectoryWithComma(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "configs, v2")
	if err := os.MkdirAll(filepath.Join(dir, "exports"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := duckdbwrite.Run(ctx, "", "COPY (SELECT 42 AS id) TO "+quote(filepath.Join(dir, "exports", "a.parquet"))+" (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	rows, err := query(t, ctx, dir, "SELECT id FROM read_parquet('exports/*.parquet')")
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 1 || rows[0][0] != "42" {
		t.Errorf("rows %v, want [[42]]", rows)
	}
}

// TestQueryWithParameters: a query with a parameter is refused by Describe
// saying that a duckdb source's query takes none (it was DuckDB's
// "unsupported data type: INVALID").
func TestQueryWithParameters(t *testing.T) {
	db, err := duckdbsource.Open(context.Background(), "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, sql := range []string{"SELECT $1 AS id", "SELECT range AS id FROM range(10) WHERE range > ?"} {
		_, err := db.Describe(sql)
		if !errors.Is(err, duckdbsource.ErrParameters) || !strings.Contains(err.Error(), "takes none") {
			t.Errorf("%s: err %v, want ErrParameters", sql, err)
		}
	}
}

// TestOpenFileNotADatabase: a path naming a Parquet or CSV file instead of
// a DuckDB database is refused saying so, and that such files are read in
// the query (DuckDB's own message is about an in-memory database).
func TestOpenFileNotADatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	parquet, csv := filepath.Join(dir, "users.parquet"), filepath.Join(dir, "users.csv")
	if err := duckdbwrite.Run(ctx, "", "COPY (SELECT 1 AS id) TO "+quote(parquet)+" (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(csv, []byte("id\n1\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{parquet, csv} {
		db, err := duckdbsource.Open(ctx, path, dir)
		if err == nil {
			db.Close()
			t.Errorf("Open %s succeeded", path)
			continue
		}
		if msg := err.Error(); !strings.Contains(msg, "is not a DuckDB database file") || !strings.Contains(msg, "read_parquet(") {
			t.Errorf("Open %s: %v", path, err)
		}
	}
}
