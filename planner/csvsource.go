package planner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
)

// csvBatch is how many CSV records are converted per round trip.
const csvBatch = 5000

// maxBadValues stops a CSV conversion after this many values that do not
// convert: the file is clearly not what the sync expects.
const maxBadValues = 100

// csvConversion is the outcome of reading and converting a CSV source.
type csvConversion struct {
	rows     *rowSpool
	findings []Finding
	// badValues counts values that did not convert; their rows are left out.
	badValues int
	stopped   bool
}

// convertCSV reads the sync's CSV file and converts every mapped value to
// the destination column's type on conn, with PostgreSQL's input rules. The
// converted rows are kept in a rowSpool (bounded memory), in file order.
func (p *Prepared) convertCSV(ctx context.Context, conn *pgx.Conn) (*csvConversion, error) {
	f := p.Sync.Source.CSV
	file, err := os.Open(f.Path)
	if err != nil {
		return nil, err
	}
	defer file.Close()
	r := newCSVReader(file, f.Delimiter)
	if f.Header {
		if _, err := r.Read(); err != nil {
			return nil, err
		}
	}
	l := p.layout
	idx := make([]int, len(l.Cols))
	for i, c := range l.Cols {
		idx[i] = p.csvCols[c.Source]
	}
	out := &csvConversion{rows: &rowSpool{}}
	ok := false
	defer func() {
		if !ok || out.stopped {
			out.rows.discard()
		}
	}()
	sqlText := l.ConvertSQL()
	batch := make([][]csvField, 0, csvBatch)
	lines := make([]int, 0, csvBatch)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := p.convertBatch(ctx, conn, sqlText, idx, batch, lines, out)
		batch, lines = batch[:0], lines[:0]
		return err
	}
	for {
		rec, err := r.Read()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", f.Path, err)
		}
		if len(rec) != p.csvWidth {
			return nil, fmt.Errorf("%s: line %d has %d fields, the %s has %d", f.Path, r.Line, len(rec), headerWord(f.Header), p.csvWidth)
		}
		batch = append(batch, rec)
		lines = append(lines, r.Line)
		if len(batch) == csvBatch {
			if err := flush(); err != nil {
				return nil, err
			}
			if out.stopped {
				return out, nil
			}
		}
	}
	if err := flush(); err != nil {
		return nil, err
	}
	ok = true
	return out, nil
}

func headerWord(header bool) string {
	if header {
		return "header"
	}
	return "first line"
}

// convertBatch converts one batch; when the server refuses it, it converts
// row by row to find and report the values that do not convert.
func (p *Prepared) convertBatch(ctx context.Context, conn *pgx.Conn, sqlText string, idx []int, batch [][]csvField, lines []int, out *csvConversion) error {
	rows, err := p.runConvert(ctx, conn, sqlText, idx, batch)
	if err == nil {
		return out.addAll(rows)
	}
	if !isDataError(err) {
		return err
	}
	for i, rec := range batch {
		rows, err := p.runConvert(ctx, conn, sqlText, idx, batch[i:i+1])
		if err == nil {
			if err := out.addAll(rows); err != nil {
				return err
			}
			continue
		}
		if !isDataError(err) {
			return err
		}
		if err := p.reportBadRow(ctx, conn, idx, rec, lines[i], out); err != nil {
			return err
		}
		if out.badValues >= maxBadValues {
			out.stopped = true
			out.findings = append(out.findings, Finding{Severity: SeverityError, Code: CodeTypeMismatch,
				Summary: fmt.Sprintf("stopped reading %s after %d values that do not convert", p.Sync.Source.Address(), maxBadValues),
				Detail:  "Check that the file's columns match the mapping and the destination's types."})
			return nil
		}
	}
	return nil
}

// runConvert sends one batch as one text[] parameter per column.
func (p *Prepared) runConvert(ctx context.Context, conn *pgx.Conn, sqlText string, idx []int, batch [][]csvField) ([]*Row, error) {
	l := p.layout
	params := make([][]byte, len(l.Cols))
	oids := make([]uint32, len(l.Cols))
	for c := range l.Cols {
		vals := make([]*string, len(batch))
		for r, rec := range batch {
			fld := rec[idx[c]]
			if !fld.Null {
				v := fld.Value
				vals[r] = &v
			}
		}
		buf, err := typeMap.Encode(pgtype.TextArrayOID, pgtype.BinaryFormatCode, vals, nil)
		if err != nil {
			return nil, err
		}
		params[c], oids[c] = buf, pgtype.TextArrayOID
	}
	formats := []int16{pgtype.BinaryFormatCode}
	rr := conn.PgConn().ExecParams(ctx, sqlText, params, oids, formats, formats)
	var rows []*Row
	for rr.NextRow() {
		r := &Row{}
		r.set(rr.Values())
		rows = append(rows, r)
	}
	if _, err := rr.Close(); err != nil {
		return nil, err
	}
	return rows, nil
}

// reportBadRow finds which values of a record do not convert and records a
// finding naming the line, key, column and (unless sensitive) value.
func (p *Prepared) reportBadRow(ctx context.Context, conn *pgx.Conn, idx []int, rec []csvField, line int, out *csvConversion) error {
	l := p.layout
	var keyParts []string
	for i := 0; i < l.NKey; i++ {
		v := rec[idx[i]]
		shown := v.Value
		switch {
		case l.Cols[i].Sensitive:
			shown = Sensitive
		case v.Null:
			shown = "NULL"
		case shown == "NULL" || shown == Sensitive:
			shown = strconv.Quote(shown) // as renderColumn does
		}
		keyParts = append(keyParts, l.Cols[i].Dest+"="+FormatValue(shown))
	}
	for i, c := range l.Cols {
		fld := rec[idx[i]]
		if fld.Null {
			continue
		}
		var probeErr error
		rr := conn.PgConn().ExecParams(ctx, fmt.Sprintf("SELECT ($1::text)::%s", c.CastType), [][]byte{[]byte(fld.Value)}, []uint32{pgtype.TextOID}, nil, nil)
		_, probeErr = rr.Close()
		if probeErr == nil {
			continue
		}
		if !isDataError(probeErr) {
			return probeErr
		}
		out.badValues++
		if out.badValues > maxExamples {
			continue
		}
		value := fmt.Sprintf("%q", fld.Value)
		reason := describeError(probeErr)
		if c.Sensitive {
			value, reason = Sensitive, "the value is not a valid "+c.Catalog.Type
		}
		out.findings = append(out.findings, Finding{Severity: SeverityError, Code: CodeTypeMismatch,
			Summary: fmt.Sprintf("%s line %d (%s): the value %s of column %q does not convert to %s", p.Sync.Source.Address(), line, strings.Join(keyParts, " "), value, c.Source, c.Catalog.Type),
			Detail:  reason})
	}
	return nil
}

// isDataError reports whether err is the server refusing a value (SQLSTATE
// class 22, data exception), as opposed to a broken connection.
func isDataError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "22") || pgErr.Code == "23502" || pgErr.Code == "42804")
}

func (c *csvConversion) addAll(rows []*Row) error {
	for _, r := range rows {
		if err := c.rows.add(r); err != nil {
			return err
		}
	}
	return nil
}
