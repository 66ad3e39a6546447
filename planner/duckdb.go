package planner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/duckdbsource"
)

// A duckdb source's query runs in DuckDB, in this process (the package
// internal/duckdbsource). Its values are read as text and converted on the
// destination in batches, exactly as a CSV file's fields are
// (convertRecords), so they follow the destination's input rules and give
// the same findings: type_mismatch, rejected_rows, null_source_key.

// describeDuckDB prepares the sync's query in DuckDB (reading the files'
// schemas, not their rows) and returns its columns.
//
// It also returns what the query reads of the clock or of chance
// (volatile.go), as DuckDB's parser finds it.
func describeDuckDB(ctx context.Context, s *hclconfig.Sync) ([]sourceColumn, map[string]duckdbsource.Column, sourceClock, *Finding) {
	db, err := duckdbsource.Open(ctx, s.Source.DuckDB.Path, s.Source.DuckDB.Dir)
	if err != nil {
		return nil, nil, sourceClock{}, &Finding{Severity: SeverityError, Code: CodeConnectionFailed,
			Summary: fmt.Sprintf("cannot open %s: %s", s.Source.Address(), err)}
	}
	defer db.Close()
	cols, err := db.Describe(trimQuery(s.Query))
	if err != nil {
		return nil, nil, sourceClock{}, duckdbQueryFinding(s, maskDuckDB(s, err, true))
	}
	var clock sourceClock
	// Advice only: a query that prepared parses, and a failure here
	// leaves the clock unread.
	clock.calls, clock.inValues, _ = db.MovingCalls(ctx, trimQuery(s.Query))
	out := make([]sourceColumn, 0, len(cols))
	byName := make(map[string]duckdbsource.Column, len(cols))
	for i, c := range cols {
		if _, dup := byName[c.Name]; dup {
			return nil, nil, sourceClock{}, &Finding{Severity: SeverityError, Code: CodeSourceQueryFailed,
				Summary: fmt.Sprintf("the query of sync %q returns two columns named %q", s.Name, c.Name),
				Detail:  "Give each column a distinct name with AS." + queryAt(s)}
		}
		byName[c.Name] = c
		out = append(out, sourceColumn{Name: c.Name, Type: c.PostgresType, Index: i})
	}
	return out, byName, clock, nil
}

// duckdbQueryFinding is source_query_failed with DuckDB's message: its
// first line in the summary, the rest (DuckDB shows the line of the query
// and a caret) in the detail, with where the query is set.
func duckdbQueryFinding(s *hclconfig.Sync, err error) *Finding {
	msg := strings.TrimSpace(err.Error())
	first, rest, _ := strings.Cut(msg, "\n")
	f := &Finding{Severity: SeverityError, Code: CodeSourceQueryFailed,
		Summary: "the source query failed: " + first}
	if errors.Is(err, duckdbsource.ErrNotQuery) {
		f.Summary = fmt.Sprintf("the query of sync %q %s", s.Name, strings.TrimPrefix(first, "the SQL "))
	}
	var detail []string
	if rest = strings.TrimSpace(rest); rest != "" {
		detail = append(detail, rest)
	}
	if at := strings.TrimSpace(queryAt(s)); at != "" {
		detail = append(detail, at)
	}
	f.Detail = strings.Join(detail, "\n")
	return f
}

// duckdbError is an error DuckDB raised reading a duckdb source's rows
// (or describing its query), as maskDuckDB left it.
type duckdbError struct{ msg string }

func (e *duckdbError) Error() string { return e.msg }

// IsDuckDBError reports whether err is, or wraps, an error DuckDB raised
// while reading the rows of a duckdb source (a file changed or gone, a
// value its query does not convert). Its text is safe to show: for a sync
// with sensitive columns it is DuckDB's error class only.
func IsDuckDBError(err error) bool {
	var de *duckdbError
	return errors.As(err, &de)
}

// maskedDuckDB is what replaces DuckDB's message for a sync with sensitive
// columns, after the message's class ("Conversion Error").
const maskedDuckDB = " (DuckDB's message is not shown: it may hold a value of one of the sync's sensitive_columns)"

// maskDuckDB makes err, an error DuckDB raised running or describing the
// sync's query, a *duckdbError whose text is safe to show. For a sync
// with sensitive columns only the message's class is kept (the text of
// its first line up to the first colon): DuckDB shows values in many
// forms ('…', "…", a CSV file's "Original Line: 2,s3cr3t"), and any could
// be one of theirs. When described, the error comes from preparing the
// query (Describe): a Parser, Binder, Catalog or Missing Extension Error
// names the query's text, columns, tables and paths, never a row's values,
// and is kept whole.
//
// It leaves alone nil, io.EOF, errNeedsServer, a context's error, a
// refused statement (ErrNotQuery) and an error it already made.
func maskDuckDB(s *hclconfig.Sync, err error, described bool) error {
	var de *duckdbError
	if err == nil || err == io.EOF || errors.Is(err, errNeedsServer) || errors.Is(err, context.Canceled) ||
		errors.Is(err, context.DeadlineExceeded) || errors.Is(err, duckdbsource.ErrNotQuery) || errors.As(err, &de) {
		return err
	}
	msg := strings.TrimSpace(err.Error())
	if s.QuerySensitive {
		msg = withoutExcerpt(msg)
	}
	if len(s.SensitiveColumns) == 0 {
		return &duckdbError{msg}
	}
	first, _, _ := strings.Cut(msg, "\n")
	class, _, found := strings.Cut(first, ":")
	if described && found {
		switch class {
		case "Parser Error", "Binder Error", "Catalog Error", "Missing Extension Error":
			// But the columns a Binder Error offers may be a row's values:
			// a CSV file read without its header gets its first row as
			// column names.
			if i := strings.Index(msg, "Candidate bindings:"); i >= 0 {
				msg = strings.TrimSpace(msg[:i]) + " (the candidate columns are not shown: they may be values of a row of the sync's sensitive_columns)"
			}
			return &duckdbError{msg}
		}
	}
	if !found || strings.ContainsAny(class, "'\"") || !strings.HasSuffix(class, "Error") {
		class = "DuckDB error"
	}
	return &duckdbError{class + maskedDuckDB}
}

// withoutExcerpt drops from a DuckDB message the excerpt of the query it
// quotes ("LINE 1: ...etTOKEN123' AND y = ..." and the caret under it):
// for a query computed from a secret, the excerpt may cut the secret where
// the output filter cannot recognize it.
func withoutExcerpt(msg string) string {
	var keep []string
	for _, line := range strings.Split(msg, "\n") {
		t := strings.TrimSpace(line)
		if strings.HasPrefix(t, "LINE ") || (t != "" && strings.Trim(t, "^") == "") {
			continue
		}
		keep = append(keep, line)
	}
	return strings.TrimSpace(strings.Join(keep, "\n")) + " (the excerpt of the query is not shown: it is computed from a sensitive value)"
}

// queryAt is " The query is set at FILE:LINE,COL." (or "" when unknown),
// naming the model for a sync that reads one.
func queryAt(s *hclconfig.Sync) string {
	if s.QueryRange.Filename == "" {
		return ""
	}
	if s.Model != "" {
		return fmt.Sprintf(" The sync reads the dbt model %q (at %s).", s.Model, formatRange(s.QueryRange))
	}
	return fmt.Sprintf(" The query is set at %s.", formatRange(s.QueryRange))
}

func formatRange(r hcl.Range) string {
	return fmt.Sprintf("%s:%d,%d", r.Filename, r.Start.Line, r.Start.Column)
}

// convertDuckDB runs the sync's query in DuckDB and converts every mapped
// value to the destination column's type on conn, as convertCSV does.
func (p *Prepared) convertDuckDB(ctx context.Context, conn *pgx.Conn) (*csvConversion, error) {
	s := p.Sync
	db, err := duckdbsource.Open(ctx, s.Source.DuckDB.Path, s.Source.DuckDB.Dir)
	if err != nil {
		return nil, err
	}
	cols := make([]duckdbsource.Column, len(p.layout.Cols))
	idx := make([]int, len(p.layout.Cols))
	for i, c := range p.layout.Cols {
		cols[i], idx[i] = p.duckCols[c.Source], i
	}
	qctx, cancel := context.WithCancel(ctx)
	rows, err := db.Query(qctx, trimQuery(s.Query), cols)
	if err != nil {
		cancel()
		db.Close()
		return nil, maskDuckDB(s, err, false)
	}
	return p.convertRecords(ctx, conn, newDuckDBRecords(s, db, rows, cancel, len(cols), nil), idx)
}

// diffDuckDB diffs a duckdb source: read directly, its values converted by
// the text codecs (duckdbRows), when every mapped column has one; else, or
// when a value has none, in batches converted on the destination where the
// codecs cannot (convertDuckDB), as a CSV file's.
func (p *Prepared) diffDuckDB(ctx context.Context, dst *pgx.Conn, sink ChangeSink, progress func(int64)) (*DiffResult, []Finding, error) {
	p.codecs = p.layout.textCodecs(dst.PgConn().ParameterStatus("server_encoding"))
	if p.codecs != nil {
		p.duckdbDirect = true
		res, findings, err := p.diffOnce(ctx, dst, nil, false, false, strategy{name: StrategyFullRows, reason: p.serverHashUnsupported()}, sink, progress)
		p.duckdbDirect = false
		if !errors.Is(err, errNeedsServer) {
			return res, findings, err
		}
	}
	return p.diffOnce(ctx, dst, nil, false, false, strategy{name: StrategyFullRows, reason: p.serverHashUnsupported()}, sink, progress)
}

// errNeedsServer stops a direct read of a duckdb source (duckdbRows) at a
// value no text codec converts: the diff starts again with the values
// converted on the destination.
var errNeedsServer = errors.New("a value needs the destination to convert it")

// duckdbRows is the sync's rows read straight from DuckDB and converted by
// the text codecs as they are read, in the reader's goroutine: nothing is
// spooled, and the diff reads the destination at the same time. It fails
// with errNeedsServer at the first value without a codec, and diffDuckDB
// then starts the diff again. That restart is sound only while the diff
// has handed no change on to the sink: with the checks all in Go the
// checker passes each change on as it comes (passThrough), so it relies on
// the hash diff emitting no change, the deletes of NULL-keyed destination
// rows included, before it has read both sides to their end. Were one
// handed on, noRestart makes the error final and the plan fails on it
// instead of falling back.
func (p *Prepared) duckdbRows(ctx context.Context) (rowStream, error) {
	s := p.Sync
	db, err := duckdbsource.Open(ctx, s.Source.DuckDB.Path, s.Source.DuckDB.Dir)
	if err != nil {
		return nil, err
	}
	cols := make([]duckdbsource.Column, len(p.layout.Cols))
	for i, c := range p.layout.Cols {
		cols[i] = p.duckCols[c.Source]
	}
	qctx, cancel := context.WithCancel(ctx)
	rows, err := db.Query(qctx, trimQuery(s.Query), cols)
	if err != nil {
		cancel()
		db.Close()
		return nil, maskDuckDB(s, err, false)
	}
	return &duckdbRowStream{recs: newDuckDBRecords(s, db, rows, cancel, len(cols), p.codecs)}, nil
}

// duckdbRowStream hands on the rows the reader converted.
type duckdbRowStream struct {
	recs   *duckdbRecords
	chunk  duckdbChunk
	at     int
	closed bool
}

func (d *duckdbRowStream) next() (*Row, error) {
	for d.at >= len(d.chunk.rows) {
		if err := d.chunk.err; err != nil {
			if err == io.EOF {
				return nil, nil
			}
			return nil, err
		}
		d.chunk, d.at = <-d.recs.chunks, 0
	}
	r := d.chunk.rows[d.at]
	d.at++
	return r, nil
}

func (d *duckdbRowStream) close() error {
	if !d.closed {
		d.closed = true
		d.recs.close()
	}
	return nil
}

// duckdbRecords reads a DuckDB query's rows as text records. A goroutine
// reads them from DuckDB ahead of the conversion, a few chunks at most,
// so that DuckDB's side and rowform's run at the same time. The errors it
// hands on are DuckDB's masked for the sync (maskDuckDB), so that no caller
// (plan's findings, apply's errors) shows a sensitive value.
type duckdbRecords struct {
	sync *hclconfig.Sync
	db   *duckdbsource.Database
	rows *duckdbsource.Rows
	// cancel interrupts the query (close: a diff that ends early must not
	// wait for DuckDB to finish a long operator).
	cancel context.CancelFunc
	chunks chan duckdbChunk
	stop   chan struct{}
	done   chan struct{}
	chunk  duckdbChunk
	at     int
}

// duckdbChunk is a run of records (or of rows, when the reader converts
// them), or the error that ended the read (io.EOF after the last record).
type duckdbChunk struct {
	recs [][]csvField
	rows []*Row
	err  error
}

// A chunk the reader hands on holds up to duckdbChunkRows records, and
// ends after the record that takes its values to duckdbChunkBytes: the
// chunks read ahead are bounded by bytes, so that wide rows (a chunk of
// 1,024 rows of 400 kB is 400 MB, and a few are read ahead) do not take
// memory in proportion to their width.
const (
	duckdbChunkRows  = 1024
	duckdbChunkBytes = 4 << 20
)

// newDuckDBRecords starts reading rows; with codecs, the reader converts
// each chunk's records into rows (the record's field i is column i).
func newDuckDBRecords(s *hclconfig.Sync, db *duckdbsource.Database, rows *duckdbsource.Rows, cancel context.CancelFunc, width int, codecs []textCodec) *duckdbRecords {
	d := &duckdbRecords{sync: s, db: db, rows: rows, cancel: cancel, chunks: make(chan duckdbChunk, 4), stop: make(chan struct{}), done: make(chan struct{})}
	go d.read(width, codecs)
	return d
}

func (d *duckdbRecords) read(width int, codecs []textCodec) {
	var idx []int
	if codecs != nil {
		idx = make([]int, width)
		for i := range idx {
			idx[i] = i
		}
	}
	defer close(d.done)
	vals, null := make([]string, width), make([]bool, width)
	for {
		recs := make([][]csvField, 0, duckdbChunkRows)
		fields := make([]csvField, duckdbChunkRows*width)
		var err error
		size := 0
		for len(recs) < duckdbChunkRows && size < duckdbChunkBytes {
			if err = d.rows.Next(vals, null); err != nil {
				err = maskDuckDB(d.sync, err, false)
				break
			}
			rec := fields[len(recs)*width : (len(recs)+1)*width : (len(recs)+1)*width]
			for i, v := range vals {
				rec[i] = csvField{Value: v, Null: null[i]}
				size += len(v)
			}
			recs = append(recs, rec)
		}
		chunk := duckdbChunk{recs: recs}
		if codecs != nil && len(recs) > 0 {
			chunk = duckdbChunk{rows: make([]*Row, len(recs))}
			if !convertWith(codecs, recs, idx, chunk.rows) {
				chunk, err = duckdbChunk{}, errNeedsServer
			}
		}
		if len(chunk.recs)+len(chunk.rows) > 0 {
			select {
			case d.chunks <- chunk:
			case <-d.stop:
				return
			}
		}
		if err != nil {
			select {
			case d.chunks <- duckdbChunk{err: err}:
			case <-d.stop:
			}
			return
		}
	}
}

func (d *duckdbRecords) next() ([]csvField, int, error) {
	for d.at >= len(d.chunk.recs) {
		if d.chunk.err != nil {
			return nil, 0, d.chunk.err
		}
		d.chunk, d.at = <-d.chunks, 0
	}
	rec := d.chunk.recs[d.at]
	d.at++
	return rec, 0, nil
}

func (d *duckdbRecords) close() {
	close(d.stop)
	d.cancel()
	<-d.done
	d.rows.Close()
	d.db.Close()
}

// CheckDuckDBQueries parses the query of every sync on a duckdb source,
// without reading a file, and reports SQL that is not one SELECT
// statement, or does not parse, as an error at the sync's query. validate
// runs it: it needs no data.
//
// It also warns about a duckdb source whose database file does not exist,
// as validate does for a CSV file: it may be written before plan runs.
func CheckDuckDBQueries(ctx context.Context, cfg *hclconfig.Config) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, addr := range slices.Sorted(maps.Keys(cfg.Sources)) {
		src := cfg.Sources[addr]
		if src.DuckDB == nil || src.DuckDB.Path == "" {
			continue
		}
		if _, err := os.Stat(src.DuckDB.Path); err != nil {
			d := &hcl.Diagnostic{Severity: hcl.DiagWarning, Summary: "DuckDB database not found",
				Detail: fmt.Sprintf("The database file of source %s, %s, does not exist. plan fails on it if it is still missing then.", addr, src.DuckDB.Path)}
			if src.DuckDB.PathRange.Filename != "" {
				d.Subject = src.DuckDB.PathRange.Ptr()
			}
			diags = append(diags, d)
		}
	}
	for _, s := range cfg.Syncs {
		if s.Source == nil || s.Source.Type != hclconfig.SourceDuckDB || s.Query == "" {
			continue
		}
		err := duckdbsource.CheckQuery(ctx, trimQuery(s.Query))
		if err == nil {
			continue
		}
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Invalid DuckDB query",
			Detail: fmt.Sprintf("The query of sync %q: %s.", s.Name, strings.TrimSpace(err.Error()))}
		if errors.Is(err, duckdbsource.ErrNotQuery) {
			d.Summary = "Not a query"
			d.Detail = fmt.Sprintf("The query of sync %q: %s, e.g. SELECT * FROM read_parquet('exports/*.parquet').",
				s.Name, err.Error())
		}
		if s.QueryRange.Filename != "" {
			d.Subject = s.QueryRange.Ptr()
		}
		diags = append(diags, d)
	}
	return diags
}
