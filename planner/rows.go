package planner

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"

	"github.com/jackc/pgx/v5/pgconn"
)

// Row is one row as the diff sees it: raw binary values (nil is NULL), the
// mapped columns in layout order followed by the extra text sort keys.
// A Row handed to a ChangeSink is only valid during the call.
type Row struct {
	Values [][]byte
	buf    []byte
}

// set copies vals into r, reusing r's memory.
func (r *Row) set(vals [][]byte) {
	n := 0
	for _, v := range vals {
		n += len(v)
	}
	switch {
	case r.buf == nil:
		// Never nil: an empty value sliced from a nil buffer would be nil,
		// which is NULL. A new Row (a copy) gets exactly its size.
		r.buf = make([]byte, 0, max(n, 16))
	case cap(r.buf) < n:
		// Room to spare for the next rows of a reused Row, but not twice a
		// wide row's size.
		r.buf = make([]byte, 0, max(n+n/4, 16))
	}
	r.buf = r.buf[:0]
	if cap(r.Values) < len(vals) {
		r.Values = make([][]byte, len(vals))
	}
	r.Values = r.Values[:len(vals)]
	for i, v := range vals {
		if v == nil {
			r.Values[i] = nil
			continue
		}
		start := len(r.buf)
		r.buf = append(r.buf, v...)
		r.Values[i] = r.buf[start:len(r.buf):len(r.buf)]
	}
}

// setKeys copies the key values of src (the key columns and the extra text
// sort keys) into r, leaving the other values nil. It is what duplicate
// detection keeps of the previous row.
func (l *layout) setKeys(r, src *Row) {
	if cap(r.Values) < len(src.Values) {
		r.Values = make([][]byte, len(src.Values))
	}
	r.Values = r.Values[:len(src.Values)]
	r.buf = r.buf[:0]
	copyAt := func(i int) {
		v := src.Values[i]
		if v == nil {
			r.Values[i] = nil
			return
		}
		start := len(r.buf)
		r.buf = append(r.buf, v...)
		r.Values[i] = r.buf[start:len(r.buf):len(r.buf)]
	}
	for i := range r.Values {
		r.Values[i] = nil
	}
	// Values first land in buf; slices taken before a reallocation would
	// point at the old array, so size buf for all of them up front.
	n := 0
	for i := 0; i < l.NKey; i++ {
		n += len(src.Values[i])
	}
	for t := range l.TextKeys {
		n += len(src.Values[len(l.Cols)+t])
	}
	if r.buf == nil || cap(r.buf) < n {
		r.buf = make([]byte, 0, max(2*n, 16)) // never nil: see set
	}
	for i := 0; i < l.NKey; i++ {
		copyAt(i)
	}
	for t := range l.TextKeys {
		copyAt(len(l.Cols) + t)
	}
}

// nullLength is the length that marks a NULL value in appendValues' format
// (and in binary COPY).
const nullLength = 0xFFFFFFFF

// appendValues appends vals as binary COPY fields: each a 4-byte big-endian
// length (nullLength for NULL) followed by its bytes.
func appendValues(b []byte, vals [][]byte) []byte {
	for _, v := range vals {
		if v == nil {
			b = binary.BigEndian.AppendUint32(b, nullLength)
			continue
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	return b
}

// valuesSize is the length appendValues adds for vals.
func valuesSize(vals [][]byte) int {
	n := 0
	for _, v := range vals {
		n += 4 + len(v)
	}
	return n
}

// decodeValues points into's values at the fields appendValues wrote into
// body, without copying. An empty value stays non-nil (not NULL).
func decodeValues(body []byte, into *Row) {
	into.Values = into.Values[:0]
	for len(body) > 0 {
		size := binary.BigEndian.Uint32(body)
		body = body[4:]
		if size == nullLength {
			into.Values = append(into.Values, nil)
			continue
		}
		into.Values = append(into.Values, body[:size:size])
		body = body[size:]
	}
}

// clone returns a copy of r that owns its memory.
func (r *Row) clone() *Row {
	c := &Row{}
	c.set(r.Values)
	return c
}

// rowStream yields rows: in key order for mergeDiff, in any order for
// hashDiff.
type rowStream interface {
	// next returns the next row, or nil at the end. The returned row is
	// only valid until the next call: it may point into the driver's
	// receive buffer.
	next() (*Row, error)
	// close ends the stream early or after the end, and reports an error the
	// server sent at the end of the result.
	close() error
}

// resultStream reads a binary-format query result from one connection. Its
// rows point into pgx's receive buffer: no value is copied.
type resultStream struct {
	rr    *pgconn.ResultReader
	row   Row
	width int
	done  bool
	count int64
}

// queryStream starts sql on conn with every result column in binary format.
func queryStream(ctx context.Context, conn *pgconn.PgConn, sql string, width int) *resultStream {
	rr := conn.ExecParams(ctx, sql, nil, nil, nil, []int16{1})
	return &resultStream{rr: rr, width: width}
}

// queryStreamParams is queryStream with binary parameters (typed by the
// query's casts).
func queryStreamParams(ctx context.Context, conn *pgconn.PgConn, sql string, params [][]byte, width int) *resultStream {
	formats := make([]int16, len(params))
	for i := range formats {
		formats[i] = 1
	}
	rr := conn.ExecParams(ctx, sql, params, nil, formats, []int16{1})
	return &resultStream{rr: rr, width: width}
}

func (s *resultStream) next() (*Row, error) {
	if s.done {
		return nil, nil
	}
	if !s.rr.NextRow() {
		s.done = true
		_, err := s.rr.Close()
		return nil, err
	}
	vals := s.rr.Values()
	if len(vals) != s.width {
		return nil, fmt.Errorf("internal error: a row has %d values, expected %d", len(vals), s.width)
	}
	s.row.Values = vals
	s.count++
	return &s.row, nil
}

func (s *resultStream) close() error {
	if s.done {
		return nil
	}
	s.done = true
	_, err := s.rr.Close()
	return err
}

// sliceStream yields rows already in memory, in slice order.
type sliceStream struct {
	rows []*Row
	i    int
}

func (s *sliceStream) next() (*Row, error) {
	if s.i >= len(s.rows) {
		return nil, nil
	}
	r := s.rows[s.i]
	s.i++
	return r, nil
}

func (s *sliceStream) close() error { return nil }

// compareKeys orders two rows by their key columns the way both servers
// order them (see keyOrder).
func (l *layout) compareKeys(a, b *Row) int {
	t := len(l.Cols)
	for i := 0; i < l.NKey; i++ {
		var c int
		switch l.Orders[i] {
		case orderSigned:
			c = compareSigned(a.Values[i], b.Values[i])
		case orderBytes:
			c = bytes.Compare(a.Values[i], b.Values[i])
		case orderText:
			c = bytes.Compare(a.Values[t], b.Values[t])
			t++
		}
		if c != 0 {
			return c
		}
	}
	return 0
}

// compareSigned compares big-endian two's complement integers of equal width.
func compareSigned(a, b []byte) int {
	if len(a) == 0 || len(b) == 0 || len(a) != len(b) {
		return bytes.Compare(a, b)
	}
	if a[0] != b[0] {
		if a[0]^0x80 < b[0]^0x80 {
			return -1
		}
		return 1
	}
	return bytes.Compare(a[1:], b[1:])
}

// hasNullKey reports whether any key column of r is NULL.
func (l *layout) hasNullKey(r *Row) bool {
	for i := 0; i < l.NKey; i++ {
		if r.Values[i] == nil {
			return true
		}
	}
	return false
}

// changedColumns appends the indexes of the mapped non-key columns whose
// values differ between src and dst.
func (l *layout) changedColumns(src, dst *Row, into []int) []int {
	for i := l.NKey; i < len(l.Cols); i++ {
		a, b := src.Values[i], dst.Values[i]
		if (a == nil) != (b == nil) || !bytes.Equal(a, b) {
			into = append(into, i)
		}
	}
	return into
}

// allColumns appends the indexes of every mapped non-key column.
func (l *layout) allColumns(into []int) []int {
	for i := l.NKey; i < len(l.Cols); i++ {
		into = append(into, i)
	}
	return into
}
