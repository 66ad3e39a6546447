package planner

import (
	"context"
	"errors"
	"io"

	"github.com/rowform/rowform/hclconfig"
)

// ReadSourceCSVForTest reads every record of r as a csv source with
// settings f reads them (COPY's rules, blank lines included): nil for a
// NULL field.
func ReadSourceCSVForTest(r io.Reader, f *hclconfig.CSVFile) ([][]*string, error) {
	cr := newSourceCSVReader(r, f)
	var out [][]*string
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return out, err
		}
		row := make([]*string, len(rec))
		for i, fld := range rec {
			if !fld.Null {
				v := fld.Value
				row[i] = &v
			}
		}
		out = append(out, row)
	}
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
