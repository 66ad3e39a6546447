package duckdbsource

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rowform/rowform/internal/duckdbsource/duckdbwrite"
)

// TestOpenDatabaseInAnyDirectory: a database file in a directory whose
// name holds '#', '%', '?' or a comma is opened, read-only (its instance's
// access_mode is READ_ONLY and a write through its connection fails), and
// its tables are read; closing it removes the alias it was opened through.
func TestOpenDatabaseInAnyDirectory(t *testing.T) {
	ctx := context.Background()
	for _, name := range []string{"hash#dir", "pct 100%", "q?dir", "all #%?, of them", "%41 escaped"} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			path := writeLake(t, dir)
			db, err := Open(ctx, path, dir)
			if err != nil {
				t.Fatalf("Open %s: %v", path, err)
			}
			defer db.Close()
			if mode, err := db.setting(ctx, "access_mode"); err != nil || mode != "read_only" {
				t.Errorf("access_mode %q (%v), want read_only", mode, err)
			}
			if _, err := db.conn.ExecContext(ctx, "CREATE TABLE written AS SELECT 1", nil); err == nil || !strings.Contains(err.Error(), "read-only") {
				t.Errorf("a write through the Database: %v, want DuckDB's read-only error", err)
			}
			if got := readIDs(t, db, "SELECT id FROM t ORDER BY id"); got != "1,2" {
				t.Errorf("rows %s, want 1,2", got)
			}
			db.Close()
			if n := len(aliases.byDir); n != 0 {
				t.Errorf("%d aliases left after Close", n)
			}
		})
	}
}

// TestOpenDatabaseNamedWithHash: a database file whose own name holds
// '#' is refused, saying to rename it.
func TestOpenDatabaseNamedWithHash(t *testing.T) {
	dir := t.TempDir()
	path := writeLake(t, dir)
	named := filepath.Join(dir, "lake#1.duckdb")
	if err := os.Rename(path, named); err != nil {
		t.Fatal(err)
	}
	db, err := Open(context.Background(), named, dir)
	if err == nil {
		db.Close()
		t.Fatal("Open succeeded")
	}
	if !strings.Contains(err.Error(), "rename the file") {
		t.Errorf("err %v, want it to say to rename the file", err)
	}
}

// writeLake writes a DuckDB database file lake.duckdb with a table t of
// ids 1 and 2 into dir, made here, and returns its path. It is written
// elsewhere and moved: the writer's driver cannot open such a path.
func writeLake(t *testing.T, dir string) string {
	t.Helper()
	// Not t.TempDir(): a subtest's name, in its path, may hold them too.
	w, err := os.MkdirTemp("", "rowform-lake-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(w) })
	tmp := filepath.Join(w, "lake.duckdb")
	if err := duckdbwrite.Run(context.Background(), tmp, "CREATE TABLE t AS SELECT range AS id FROM range(1, 3)"); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "lake.duckdb")
	if err := os.Rename(tmp, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// readIDs runs sql, one column, on db and joins its values with commas.
func readIDs(t *testing.T, db *Database, sql string) string {
	t.Helper()
	ctx := context.Background()
	cols, err := db.Describe(sql)
	if err != nil {
		t.Fatal(err)
	}
	rows, err := db.Query(ctx, sql, cols)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []string
	vals, null := make([]string, 1), make([]bool, 1)
	for rows.Next(vals, null) == nil {
		ids = append(ids, vals[0])
	}
	return strings.Join(ids, ",")
}
