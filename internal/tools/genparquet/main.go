// Command genparquet writes Parquet (and CSV, JSON) files with DuckDB: it
// runs the DuckDB SQL script given as its argument — COPY (SELECT ...)
// TO 'file.parquet' (FORMAT parquet) statements — in an in-memory
// database, in the working directory. `make demo-parquet` runs it to make
// the files examples/parquet syncs.
//
// Usage:
//
//	genparquet SCRIPT.sql
package main

import (
	"context"
	"fmt"
	"os"

	"github.com/rowform/rowform/internal/duckdbsource/duckdbwrite"
)

func main() {
	if len(os.Args) != 2 {
		fmt.Fprintln(os.Stderr, "usage: genparquet SCRIPT.sql")
		os.Exit(2)
	}
	script, err := os.ReadFile(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "genparquet: %v\n", err)
		os.Exit(1)
	}
	if err := duckdbwrite.Run(context.Background(), "", string(script)); err != nil {
		fmt.Fprintf(os.Stderr, "genparquet: %s: %v\n", os.Args[1], err)
		os.Exit(1)
	}
}
