package planner

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/rowform/rowform/hclconfig"
)

// csvBatch is how many CSV records are converted per round trip, at most:
// a batch also ends at csvBatchBytes of field text, so that wide rows do
// not make the batch (and its parameters and results, in rowform and on the
// server) large.
const csvBatch = 5000

// csvBatchBytes bounds the text of one conversion batch.
const csvBatchBytes = 4 << 20

// maxBadValues stops a CSV conversion after this many values that do not
// convert: the file is clearly not what the sync expects.
const maxBadValues = 100

// csvConversion is the outcome of reading and converting a CSV source.
type csvConversion struct {
	rows     *rowSpool
	findings []Finding
	// badValues counts values that did not convert; their rows are left out.
	badValues int
	// badColumns counts them per destination column, in the order first
	// met, with the first reason (its value left out), for the message
	// that stops the conversion.
	badColumns []badColumn
	stopped    bool
}

// badColumn is one column's values that did not convert.
type badColumn struct {
	name, reason string
	count        int
}

// countBad counts a value of column name that did not convert.
func (c *csvConversion) countBad(name, reason string) {
	c.badValues++
	for i := range c.badColumns {
		if c.badColumns[i].name == name {
			c.badColumns[i].count++
			return
		}
	}
	c.badColumns = append(c.badColumns, badColumn{name: name, reason: reason, count: 1})
}

// stopFinding is the finding that stops a conversion after maxBadValues
// values that did not convert: which columns they were in, why, and what
// to check.
func (p *Prepared) stopFinding(out *csvConversion) Finding {
	var cols []string
	for _, b := range out.badColumns {
		cols = append(cols, fmt.Sprintf("%s: %d (%s)", b.name, b.count, b.reason))
	}
	what := "the file's columns match the mapping"
	if p.Sync.Source.Type != hclconfig.SourceCSV {
		what = "the query's columns match the mapping"
	}
	return Finding{Severity: SeverityError, Code: CodeTypeMismatch,
		Summary: fmt.Sprintf("stopped reading %s after %d values that do not convert; by destination column: %s", p.Sync.Source.Address(), maxBadValues, strings.Join(cols, "; ")),
		Detail:  fmt.Sprintf("Check that %s and the destination's types. on_reject = \"skip\" leaves out rows the destination refuses, not a source that does not fit its table.", what)}
}

// textRecords yields a source's rows as text fields, for conversion on the
// destination: a CSV file's records, or a source query's rows read as text.
type textRecords interface {
	// next returns the next record and where it comes from (a CSV line,
	// 0 for a query), or io.EOF after the last.
	next() (rec []csvField, line int, err error)
	close()
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
	r := newSourceCSVReader(file, f)
	if f.Header {
		if _, err := r.Read(); err != nil {
			_ = file.Close()
			return nil, err
		}
	}
	idx := make([]int, len(p.layout.Cols))
	for i, c := range p.layout.Cols {
		idx[i] = p.csvCols[c.Source]
	}
	return p.convertRecords(ctx, conn, &csvRecords{r: r, file: file, path: f.Path, width: p.csvWidth, header: f.Header}, idx)
}

// convertQuery reads the sync's source query with every mapped column as
// text, and converts the values on conn as convertCSV does.
func (p *Prepared) convertQuery(ctx context.Context, conn, src *pgx.Conn) (*csvConversion, error) {
	l := p.layout
	sel := make([]string, len(l.Cols))
	idx := make([]int, len(l.Cols))
	for i, c := range l.Cols {
		sel[i] = fmt.Sprintf("(q.%s)::text", pgx.Identifier{c.Source}.Sanitize())
		idx[i] = i
	}
	sql := fmt.Sprintf("SELECT %s FROM (\n%s\n) AS q", strings.Join(sel, ", "), trimQuery(p.Sync.Query))
	rr := src.PgConn().ExecParams(ctx, sql, nil, nil, nil, nil)
	return p.convertRecords(ctx, conn, &queryRecords{rr: rr}, idx)
}

// queryRecords reads a text-format query result as records.
type queryRecords struct {
	rr   *pgconn.ResultReader
	done bool
}

func (q *queryRecords) next() ([]csvField, int, error) {
	if q.done {
		return nil, 0, io.EOF
	}
	if !q.rr.NextRow() {
		q.done = true
		if _, err := q.rr.Close(); err != nil {
			return nil, 0, &sourceError{err}
		}
		return nil, 0, io.EOF
	}
	vals := q.rr.Values()
	rec := make([]csvField, len(vals))
	for i, v := range vals {
		if v == nil {
			rec[i].Null = true
		} else {
			rec[i].Value = string(v)
		}
	}
	return rec, 0, nil
}

func (q *queryRecords) close() {
	if !q.done {
		q.done = true
		_, _ = q.rr.Close()
	}
}

// csvRecords reads a CSV file's records.
type csvRecords struct {
	r      *csvReader
	file   *os.File
	path   string
	width  int
	header bool
}

func (c *csvRecords) next() ([]csvField, int, error) {
	// A line far longer than the header is refused as it is read, before
	// its fields take memory; one a little longer is counted exactly.
	c.r.MaxFields = 2*c.width + 16
	rec, err := c.r.Read()
	if err == io.EOF {
		return nil, 0, err
	}
	var many *TooManyFields
	if errors.As(err, &many) {
		return nil, 0, fmt.Errorf("%s: line %d has more than %d fields, the %s has %d", c.path, many.Line, many.Max, headerWord(c.header), c.width)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("%s: %w", c.path, err)
	}
	if len(rec) != c.width {
		if len(rec) == 1 && rec[0].Null && rec[0].Value == "" {
			return nil, 0, fmt.Errorf("%s: line %d is empty, which PostgreSQL's CSV format reads as one NULL field, and the %s has %d: remove the line", c.path, c.r.Line, headerWord(c.header), c.width)
		}
		return nil, 0, fmt.Errorf("%s: line %d has %d fields, the %s has %d", c.path, c.r.Line, len(rec), headerWord(c.header), c.width)
	}
	return rec, c.r.Line, nil
}

func (c *csvRecords) close() { _ = c.file.Close() }

// convertRecords converts every record of recs to the destination's types
// on conn; idx gives, per mapped column, its field in a record.
func (p *Prepared) convertRecords(ctx context.Context, conn *pgx.Conn, recs textRecords, idx []int) (*csvConversion, error) {
	defer recs.close()
	l := p.layout
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
	batchBytes := 0
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := p.convertBatch(ctx, conn, sqlText, idx, batch, lines, out)
		clear(batch) // let the records' text go
		batch, lines, batchBytes = batch[:0], lines[:0], 0
		return err
	}
	for {
		rec, line, err := recs.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		batch = append(batch, rec)
		lines = append(lines, line)
		for _, f := range rec {
			batchBytes += len(f.Value)
		}
		if len(batch) == csvBatch || batchBytes >= csvBatchBytes {
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
	if p.hasMovingValue(batch, idx) {
		// Refused in Go: each such record goes to reportBadRow, and
		// the others are converted as a batch of their own.
		var kept [][]csvField
		var keptLines []int
		for k, rec := range batch {
			if p.movingColumn(rec, idx) < 0 {
				kept, keptLines = append(kept, rec), append(keptLines, lines[k])
				continue
			}
			if err := p.badRecord(ctx, conn, sqlText, idx, rec, lines[k], nil, out); err != nil || out.stopped {
				return err
			}
		}
		if len(kept) == 0 {
			return nil
		}
		batch, lines = kept, keptLines
	}
	if p.codecs != nil {
		if rows, ok := p.convertInGo(batch, idx); ok {
			return out.addAll(rows)
		}
	}
	rows, err := p.tryConvert(ctx, conn, sqlText, idx, batch)
	if err == nil {
		return out.addAll(rows)
	}
	if !isDataError(err) {
		return err
	}
	for i, rec := range batch {
		rows, err := p.tryConvert(ctx, conn, sqlText, idx, batch[i:i+1])
		if err == nil {
			if err := out.addAll(rows); err != nil {
				return err
			}
			continue
		}
		if !isDataError(err) {
			return err
		}
		if err := p.badRecord(ctx, conn, sqlText, idx, rec, lines[i], err, out); err != nil || out.stopped {
			return err
		}
	}
	return nil
}

// badRecord reports a record that does not convert (reportBadRow), and
// stops the conversion (out.stopped, with its finding) once maxBadValues
// values did not.
func (p *Prepared) badRecord(ctx context.Context, conn *pgx.Conn, sqlText string, idx []int, rec []csvField, line int, rowErr error, out *csvConversion) error {
	if err := p.reportBadRow(ctx, conn, sqlText, idx, rec, line, rowErr, out); err != nil {
		return err
	}
	if out.badValues >= maxBadValues {
		out.stopped = true
		out.findings = append(out.findings, p.stopFinding(out))
	}
	return nil
}

// tryConvert is runConvert undone by a savepoint when it fails inside
// apply's transaction, which then goes on.
func (p *Prepared) tryConvert(ctx context.Context, conn *pgx.Conn, sqlText string, idx []int, batch [][]csvField) ([]*Row, error) {
	var rows []*Row
	err := tryQuery(ctx, conn, func() error {
		var err error
		rows, err = p.runConvert(ctx, conn, sqlText, idx, batch)
		return err
	})
	return rows, err
}

// runConvert sends one batch as one text[] parameter per column.
func (p *Prepared) runConvert(ctx context.Context, conn *pgx.Conn, sqlText string, idx []int, batch [][]csvField) ([]*Row, error) {
	l := p.layout
	params := make([][]byte, len(l.Cols))
	oids := make([]uint32, len(l.Cols))
	for c := range l.Cols {
		params[c], oids[c] = textArrayParam(batch, idx[c]), pgtype.TextArrayOID
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

// textArrayParam encodes field i of every record of batch as a binary
// text[] of exactly its size (as arrayParam does for binary values).
func textArrayParam(batch [][]csvField, i int) []byte {
	n, hasNull := 20, uint32(0)
	for _, rec := range batch {
		n += 4 + len(rec[i].Value)
		if rec[i].Null {
			hasNull = 1
		}
	}
	b := make([]byte, 0, n)
	b = binary.BigEndian.AppendUint32(b, 1) // dimensions
	b = binary.BigEndian.AppendUint32(b, hasNull)
	b = binary.BigEndian.AppendUint32(b, oidText)
	b = binary.BigEndian.AppendUint32(b, uint32(len(batch)))
	b = binary.BigEndian.AppendUint32(b, 1) // lower bound
	for _, rec := range batch {
		if f := rec[i]; f.Null {
			b = binary.BigEndian.AppendUint32(b, nullLength)
		} else {
			b = binary.BigEndian.AppendUint32(b, uint32(len(f.Value)))
			b = append(b, f.Value...)
		}
	}
	return b
}

// reportBadRow handles a record with values that do not convert. When
// they are all outside the key, the row still takes part in the diff, with
// NULL for those values and a rejection mark (markRejected), so that the
// checker refuses it if the behavior would write it — and a mirror does
// not delete the destination row of the same key. A key that does not
// convert cannot be matched: the record is left out and reported as a
// type_mismatch finding (an error) naming its line.
func (p *Prepared) reportBadRow(ctx context.Context, conn *pgx.Conn, sqlText string, idx []int, rec []csvField, line int, rowErr error, out *csvConversion) error {
	l := p.layout
	badCol, badKey := -1, false
	var badReason error
	fixed := append([]csvField(nil), rec...)
	for i, c := range l.Cols {
		fld := rec[idx[i]]
		if fld.Null {
			continue
		}
		if word := c.movingWord(fld.Value); word != "" {
			why := movingReason(word)
			out.countBad(c.Dest, why)
			fixed[idx[i]] = csvField{Null: true}
			if i < l.NKey {
				badKey = true
			}
			if badCol < 0 || (i < l.NKey && badCol >= l.NKey) {
				badCol, badReason = i, errors.New(why)
			}
			continue
		}
		probeErr := tryQuery(ctx, conn, func() error {
			rr := conn.PgConn().ExecParams(ctx, fmt.Sprintf("SELECT %s", c.convertExpr("$1::text")), [][]byte{[]byte(fld.Value)}, []uint32{pgtype.TextOID}, nil, nil)
			_, err := rr.Close()
			return err
		})
		if probeErr == nil {
			continue
		}
		if !isDataError(probeErr) {
			return probeErr
		}
		out.countBad(c.Dest, withoutValue(describeError(probeErr)))
		fixed[idx[i]] = csvField{Null: true}
		if i < l.NKey {
			badKey = true
		}
		if badCol < 0 || (i < l.NKey && badCol >= l.NKey) {
			badCol, badReason = i, probeErr
		}
	}
	if badCol < 0 {
		// Every value converts alone, the record does not: never drop it
		// without a word (a mirror would delete its row).
		return fmt.Errorf("%s: the record does not convert, though each of its values does alone: %s", p.recordPlace(line), describeError(rowErr))
	}
	if !badKey {
		rows, err := p.tryConvert(ctx, conn, sqlText, idx, [][]csvField{fixed})
		if err == nil && len(rows) == 1 {
			marked := &Row{}
			marked.set(append(append([][]byte(nil), rows[0].Values...), markRejected(line, badCol, withoutValue(describeError(badReason)))))
			return out.rows.add(marked)
		}
	}
	if out.badValues > maxExamples {
		return nil
	}
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
	c := l.Cols[badCol]
	value := fmt.Sprintf("%q", rec[idx[badCol]].Value)
	reason := describeError(badReason)
	if c.Sensitive {
		value, reason = Sensitive, "the value is not a valid "+c.Catalog.Type
	}
	where := p.recordPlace(line)
	out.findings = append(out.findings, Finding{Severity: SeverityError, Code: CodeTypeMismatch,
		Summary: fmt.Sprintf("%s (%s): the value %s of the key column %q does not convert to %s", where, strings.Join(keyParts, " "), value, c.Source, c.Catalog.Type),
		Detail:  reason})
	return nil
}

// movingColumn is the first column of rec whose value moves (movingWord),
// or -1.
func (p *Prepared) movingColumn(rec []csvField, idx []int) int {
	for i, c := range p.layout.Cols {
		if f := rec[idx[i]]; !f.Null && c.movingWord(f.Value) != "" {
			return i
		}
	}
	return -1
}

// hasMovingValue reports whether a record of batch has a value that moves
// (movingWord).
func (p *Prepared) hasMovingValue(batch [][]csvField, idx []int) bool {
	for _, rec := range batch {
		if p.movingColumn(rec, idx) >= 0 {
			return true
		}
	}
	return false
}

// isDataError reports whether err is the server refusing a value (SQLSTATE
// class 22, data exception; a domain's NOT NULL or CHECK, 23502, 23514),
// as opposed to a broken connection.
func isDataError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr) && (strings.HasPrefix(pgErr.Code, "22") || pgErr.Code == "23502" || pgErr.Code == "23514" || pgErr.Code == "42804")
}

func (c *csvConversion) addAll(rows []*Row) error {
	for _, r := range rows {
		if err := c.rows.add(r); err != nil {
			return err
		}
	}
	return nil
}

// SourceLine returns the line of the sync's CSV file whose key fields read
// exactly key (the key columns' values as text, in key order), or 0 when
// the source is no CSV file or no record matches as written. It is for
// naming a row in an error, after the fact.
func (p *Prepared) SourceLine(key []string) int {
	if p.Sync.Source.CSV == nil || len(key) != p.layout.NKey {
		return 0
	}
	found := 0
	p.eachCSVRecord(func(rec []csvField, line int) bool {
		match := true
		for i := 0; i < p.layout.NKey && match; i++ {
			ix := p.csvCols[p.layout.Cols[i].Source]
			match = ix < len(rec) && !rec[ix].Null && strings.TrimSpace(rec[ix].Value) == key[i]
		}
		if match {
			found = line
		}
		return !match
	})
	return found
}

// eachCSVRecord reads the sync's CSV file again from its start, past the
// header, and calls fn with each record and the line it starts on while fn
// returns true. It is for naming rows after the fact: it returns false when
// the file or its header can no longer be read, and a record that no longer
// parses ends the reading as the file's end does.
func (p *Prepared) eachCSVRecord(fn func(rec []csvField, line int) bool) bool {
	f := p.Sync.Source.CSV
	file, err := os.Open(f.Path)
	if err != nil {
		return false
	}
	defer file.Close()
	r := newSourceCSVReader(file, f)
	if f.Header {
		if _, err := r.Read(); err != nil {
			return false
		}
	}
	for {
		rec, err := r.Read()
		if err != nil || !fn(rec, r.Line) {
			return true
		}
	}
}

// recordPlace names a source record: the source and, for a file, its line
// (0 when unknown).
func (p *Prepared) recordPlace(line int) string {
	where := p.Sync.Source.Address()
	if line > 0 {
		where += fmt.Sprintf(" line %d", line)
	}
	return where
}
