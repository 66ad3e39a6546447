package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// TestBenchParquetSmoke runs the Parquet case on 10k rows so that it
// cannot rot: the Parquet file must give the mixed case's exact counts,
// and the row must carry its seven figures.
func TestBenchParquetSmoke(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "rowform")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/rowform").CombinedOutput(); err != nil {
		t.Fatalf("building rowform: %v\n%s", err, out)
	}
	var buf bytes.Buffer
	if err := run(context.Background(), options{rowform: bin, rows: []int{10000}, runs: 1, cases: "parquet"}, &buf); err != nil {
		t.Fatalf("bench: %v", err)
	}
	row := regexp.MustCompile(`(?m)^\| Parquet mixed bigint key, 10k, 1%, 1 conn \| \+100 ~100 -100 \|( [0-9.]+ \|){7}$`)
	if !row.MatchString(buf.String()) {
		t.Fatalf("the table lacks the 10k Parquet case with exact counts and seven figures:\n%s", buf.String())
	}
}
