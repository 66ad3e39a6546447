package planner

import (
	"context"
	"io"
	"testing"

	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/duckdbsource"
)

// TestDuckDBChunksBoundedByBytes: the chunks the DuckDB reader reads ahead
// of the diff end at duckdbChunkBytes of values, not only at
// duckdbChunkRows rows. A chunk was 1,024 rows whatever their width, and
// up to six were held at once (four waiting, one being filled, one being
// read): 2.4 GB for rows of 400 kB.
func TestDuckDBChunksBoundedByBytes(t *testing.T) {
	const rows, width = 300, 100 << 10
	ctx := context.Background()
	db, err := duckdbsource.Open(ctx, "", t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	query := "SELECT i AS id, repeat('x', 102400) AS v FROM range(0, 300) t(i)"
	cols, err := db.Describe(query)
	if err != nil {
		db.Close()
		t.Fatal(err)
	}
	qctx, cancel := context.WithCancel(ctx)
	res, err := db.Query(qctx, query, cols)
	if err != nil {
		cancel()
		db.Close()
		t.Fatal(err)
	}
	d := newDuckDBRecords(&hclconfig.Sync{Name: "wide"}, db, res, cancel, len(cols), nil)
	defer d.close()
	n := 0
	for {
		chunk := <-d.chunks
		if chunk.err == io.EOF {
			break
		}
		if chunk.err != nil {
			t.Fatal(chunk.err)
		}
		size := 0
		for _, rec := range chunk.recs {
			for _, f := range rec {
				size += len(f.Value)
			}
		}
		if size > duckdbChunkBytes+width+16 {
			t.Fatalf("a chunk of %d rows holds %d kB of values, want at most %d kB and one row", len(chunk.recs), size>>10, duckdbChunkBytes>>10)
		}
		n += len(chunk.recs)
	}
	if n != rows {
		t.Errorf("read %d rows, want %d", n, rows)
	}
}
