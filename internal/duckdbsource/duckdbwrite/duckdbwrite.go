// Package duckdbwrite runs DuckDB statements that write: COPY ... TO a
// Parquet, CSV or JSON file, CREATE TABLE in a database file. Tests, the
// parquet example's generator and the benchmarks use it to make the files
// a duckdb source reads; rowform's sources never do (they are read by
// internal/duckdbsource, which refuses anything but a query).
package duckdbwrite

import (
	"context"
	"database/sql/driver"
	"fmt"

	"github.com/duckdb/duckdb-go/v2"
)

// Run executes statements in order in the DuckDB database file dbPath
// (created when missing), or in a fresh in-memory database when dbPath is
// "". Relative paths in the statements are relative to the working
// directory. The first statement that fails stops it.
func Run(ctx context.Context, dbPath string, statements ...string) error {
	connector, err := duckdb.NewConnector(dbPath, nil)
	if err != nil {
		return err
	}
	defer connector.Close()
	c, err := connector.Connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	conn := c.(*duckdb.Conn)
	for _, s := range statements {
		if _, err := conn.ExecContext(ctx, s, []driver.NamedValue{}); err != nil {
			return fmt.Errorf("%s: %w", s, err)
		}
	}
	return nil
}
