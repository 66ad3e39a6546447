package planner

import (
	"context"
	"io"

	"github.com/rowform/rowform/hclconfig"
)

// ReadSourceCSVForTest reads every record of r as a csv source with
// settings f reads them (COPY's rules, blank lines included): nil for a
// NULL field.
func ReadSourceCSVForTest(r io.Reader, f *hclconfig.CSVFile) ([][]*string, error) {
	return readAllCSV(newSourceCSVReader(r, f))
}

// WithHashLimitsForTest returns ctx with the hash diff's memory limits
// lowered, so that a small diff under it spills to temporary files.
func WithHashLimitsForTest(ctx context.Context, spill int, partition int64) context.Context {
	return withHashLimits(ctx, hashLimits{spill: spill, partition: partition})
}

// WithSummaryRowsForTest returns ctx under which a server-hash diff starts
// with bucket summaries from tables of rows rows (by the destination's
// estimate).
func WithSummaryRowsForTest(ctx context.Context, rows float64) context.Context {
	return withHashLimits(ctx, hashLimits{summaryRows: rows})
}
