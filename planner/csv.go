package planner

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"unicode/utf8"

	"github.com/rowform/rowform/hclconfig"
)

// csvField is one field of a CSV record; Null is set for an unquoted empty
// field, which PostgreSQL's CSV format reads as NULL.
type csvField struct {
	Value string
	Null  bool
}

// csvReader reads CSV exactly as PostgreSQL's COPY ... (FORMAT csv) does
// (with its defaults: quote and escape '"', NULL the unquoted empty
// string), so that a file means the same to rowform as to the server:
//
//   - fields are separated by the delimiter; a record ends at a line break
//     outside quotes;
//   - a '"' anywhere in a field starts a quoted part, which ends at the next
//     lone '"': "a""b" is a"b, ab"c,d"e is abc,de, and a quoted part may
//     hold delimiters and line breaks; the quotes are not part of the value;
//   - a field with no quote that is empty is NULL; "" is an empty string;
//   - the first line break outside quotes fixes the file's line ends (\n,
//     \r\n or \r); another kind outside quotes is an error, as in COPY;
//   - a line that is exactly \. ends the data;
//   - a quoted part still open at the end of the file is an error;
//   - the text must be valid in the file's encoding (UTF-8 unless the source
//     says LATIN1, whose bytes convert one to one), and hold no NUL byte:
//     an invalid byte is an error naming its line and column, never
//     replaced.
//
// Where rowform differs from COPY on purpose: a leading UTF-8 byte order
// mark is skipped, and the delimiter may be any one character.
type csvReader struct {
	r     *bufio.Reader
	delim []byte // the delimiter's UTF-8 bytes
	// Line is the line number where the last record returned started.
	Line int
	next int
	// field holds the field being read; reused, so that a wide field costs
	// its own size once more, not the doublings of a growing string.
	field []byte
	// eol is the file's kind of line end, fixed by the first one.
	eol eolKind
	// exact: a blank line is a record of one NULL field, as in COPY (else
	// blank lines are skipped).
	exact bool
	// ended: the end-of-data marker was read.
	ended bool
	// latin1: the bytes are LATIN1 (converted to UTF-8 as they are read).
	latin1 bool
	// MaxFields is the most fields a record may have (0: csvMaxFields);
	// the reader stops at the first field past it, so that a line of
	// millions of delimiters costs no memory. Callers that know the
	// header's width set it to that.
	MaxFields int
}

// csvMaxFields is the most fields a CSV record may have: PostgreSQL's
// limit of columns in a table.
const csvMaxFields = 1600

// csvMaxRecordBytes is the most bytes of values one CSV record may hold.
// A quote left open can make the rest of a file one field; a row this
// large would be held several times on its way (read, converted, sent).
const csvMaxRecordBytes = 64 << 20

// TooManyFields is the error for a record with more fields than a CSV
// reader's MaxFields: the record's Line (from 1) and that Max.
type TooManyFields struct{ Line, Max int }

func (e *TooManyFields) Error() string {
	return fmt.Sprintf("line %d has more than %d fields", e.Line, e.Max)
}

type eolKind int

const (
	eolUnknown eolKind = iota
	eolNL
	eolCR
	eolCRNL
)

// newCSVReader reads r as UTF-8 CSV with the given delimiter, skipping
// blank lines.
func newCSVReader(r io.Reader, delim rune) *csvReader {
	br := bufio.NewReaderSize(r, 64<<10)
	// Excel and other Windows programs start a UTF-8 file with a byte
	// order mark. It is not text: without skipping it, the first header
	// would be "\ufeffid" and match no column.
	if b, err := br.Peek(len(utf8BOM)); err == nil && string(b) == utf8BOM {
		_, _ = br.Discard(len(utf8BOM))
	}
	return &csvReader{r: br, delim: utf8.AppendRune(nil, delim), next: 1}
}

// newSourceCSVReader reads a csv source's file r with the source's
// settings, exactly as COPY would (blank lines included).
func newSourceCSVReader(r io.Reader, f *hclconfig.CSVFile) *csvReader {
	if strings.EqualFold(f.Encoding, hclconfig.EncodingLatin1) {
		c := &csvReader{r: bufio.NewReaderSize(r, 64<<10), delim: utf8.AppendRune(nil, f.Delimiter), next: 1, latin1: true, exact: true}
		return c
	}
	c := newCSVReader(r, f.Delimiter)
	c.exact = true
	return c
}

// utf8BOM is the UTF-8 byte order mark.
const utf8BOM = "\xef\xbb\xbf"

// CSVError is a malformed CSV file: what is wrong and where.
type CSVError struct {
	Line, Column int // from 1; Column 0 when not known
	Msg          string
}

func (e *CSVError) Error() string {
	if e.Column > 0 {
		return fmt.Sprintf("line %d, column %d: %s", e.Line, e.Column, e.Msg)
	}
	return fmt.Sprintf("line %d: %s", e.Line, e.Msg)
}

// Read returns the next record, or io.EOF after the last one.
func (c *csvReader) Read() ([]csvField, error) {
	for {
		c.Line = c.next
		rec, blank, err := c.readRecord()
		if err != nil {
			return nil, err
		}
		if blank && !c.exact {
			continue
		}
		return rec, nil
	}
}

// peek returns the buffered bytes, reading more when none are (nil at the
// end of the input).
func (c *csvReader) peek() ([]byte, error) {
	if c.r.Buffered() == 0 {
		if _, err := c.r.Peek(1); err != nil {
			if errors.Is(err, io.EOF) {
				return nil, nil
			}
			return nil, err
		}
	}
	b, _ := c.r.Peek(c.r.Buffered())
	return b, nil
}

// peekByte returns the next byte without reading it; ok is false at the
// end of the input.
func (c *csvReader) peekByte() (byte, bool, error) {
	b, err := c.peek()
	if err != nil || len(b) == 0 {
		return 0, false, err
	}
	return b[0], true, nil
}

// readRecord reads one record. blank is set for an empty line.
func (c *csvReader) readRecord() (rec []csvField, blank bool, err error) {
	if c.ended {
		return nil, false, io.EOF
	}
	if b, err := c.peek(); err != nil || len(b) == 0 {
		if err == nil {
			err = io.EOF
		}
		return nil, false, err
	}
	if end, err := c.endMarker(); err != nil || end {
		if end {
			c.ended = true
			return nil, false, io.EOF
		}
		return nil, false, err
	}
	fld := c.field[:0]
	defer func() {
		if cap(fld) > 1<<20 {
			fld = nil // a huge field's buffer is not kept for the next record
		}
		c.field = fld[:0]
	}()
	maxFields := c.MaxFields
	if maxFields <= 0 {
		maxFields = csvMaxFields
	}
	col := 1 // the column (in characters) of the next byte on its line
	quoted, inQuotes, empty := false, false, true
	held := 0 // bytes of the record's finished fields
	finish := func() error {
		if len(rec) == maxFields {
			return &TooManyFields{Line: c.Line, Max: maxFields}
		}
		v := string(fld)
		rec = append(rec, csvField{Value: v, Null: !quoted && v == ""})
		held += len(v)
		fld = fld[:0]
		quoted = false
		return nil
	}
	for {
		if held+len(fld) > csvMaxRecordBytes {
			msg := fmt.Sprintf("the record holds more than %d MB of values, more than rowform reads in one row", csvMaxRecordBytes>>20)
			if inQuotes {
				msg += ": a quoted field may not be closed (a stray \" makes the rest of the file one field)"
			}
			return nil, false, &CSVError{Line: c.Line, Msg: msg}
		}
		b, err := c.peek()
		if err != nil {
			return nil, false, err
		}
		if len(b) == 0 { // the end of the input
			if inQuotes {
				return nil, false, &CSVError{Line: c.Line, Msg: "unterminated CSV quoted field: a quoted field is not closed before the end of the file"}
			}
			if err := finish(); err != nil {
				return nil, false, err
			}
			return rec, empty && len(rec) == 1 && rec[0].Null, nil
		}
		// The run of ordinary bytes at the start of b.
		n := 0
		for n < len(b) {
			x := b[n]
			if x == '"' || x == c.delim[0] || x == '\n' || x == '\r' || x == 0 || (x >= utf8.RuneSelf && !c.latin1) {
				break
			}
			n++
		}
		if n > 0 {
			empty = false
			if c.latin1 {
				for _, x := range b[:n] {
					fld = utf8.AppendRune(fld, rune(x))
				}
			} else {
				fld = append(fld, b[:n]...)
			}
			col += n
			_, _ = c.r.Discard(n)
			continue
		}
		x := b[0]
		switch {
		case x == 0:
			return nil, false, c.badByte(x, col)
		case x >= utf8.RuneSelf && !c.latin1 && x != c.delim[0]:
			// A multi-byte character, read whole (it may straddle the
			// buffer's end).
			p, _ := c.r.Peek(utf8.UTFMax)
			r, size := utf8.DecodeRune(p)
			if r == utf8.RuneError && size <= 1 {
				return nil, false, c.badByte(x, col)
			}
			fld = append(fld, p[:size]...)
			_, _ = c.r.Discard(size)
			col++
			empty = false
		case inQuotes && x == '"':
			_, _ = c.r.Discard(1)
			col++
			if nx, ok, err := c.peekByte(); err != nil {
				return nil, false, err
			} else if ok && nx == '"' {
				_, _ = c.r.Discard(1)
				col++
				fld = append(fld, '"')
			} else {
				inQuotes = false
			}
		case inQuotes && (x == '\n' || x == '\r'):
			// A line break inside quotes is data.
			_, _ = c.r.Discard(1)
			fld = append(fld, x)
			col++
			if x == '\n' {
				c.next++
				col = 1
			} else if nx, ok, err := c.peekByte(); err != nil {
				return nil, false, err
			} else if !ok || nx != '\n' {
				c.next++ // a lone \r ends a line (\r\n counts at its \n)
				col = 1
			}
		case x == '"':
			// A quote anywhere in a field starts a quoted part.
			_, _ = c.r.Discard(1)
			col++
			empty = false
			quoted, inQuotes = true, true
		case x == c.delim[0] && c.isDelim():
			_, _ = c.r.Discard(len(c.delim))
			col++
			empty = false
			if inQuotes {
				fld = append(fld, c.delim...)
				continue
			}
			if err := finish(); err != nil {
				return nil, false, err
			}
		case x == '\n' || x == '\r':
			if err := c.lineEnd(x); err != nil {
				return nil, false, err
			}
			c.next++
			if err := finish(); err != nil {
				return nil, false, err
			}
			return rec, empty && len(rec) == 1 && rec[0].Null, nil
		default: // the first byte of a multi-byte delimiter, but not it
			if x >= utf8.RuneSelf && !c.latin1 {
				p, _ := c.r.Peek(utf8.UTFMax)
				r, size := utf8.DecodeRune(p)
				if r == utf8.RuneError && size <= 1 {
					return nil, false, c.badByte(x, col)
				}
				fld = append(fld, p[:size]...)
				_, _ = c.r.Discard(size)
			} else if c.latin1 {
				fld = utf8.AppendRune(fld, rune(x))
				_, _ = c.r.Discard(1)
			} else {
				fld = append(fld, x)
				_, _ = c.r.Discard(1)
			}
			col++
			empty = false
		}
	}
}

// badByte is the error for byte x, which is not valid text, at column col
// of the line being read.
func (c *csvReader) badByte(x byte, col int) error {
	if x == 0 {
		return &CSVError{Line: c.next, Column: col, Msg: "a NUL byte (0x00), which text cannot hold"}
	}
	return &CSVError{Line: c.next, Column: col, Msg: fmt.Sprintf("invalid byte sequence for encoding UTF8: 0x%02x (the file is not UTF-8; if it is Latin-1, set encoding = \"LATIN1\" on the source)", x)}
}

// isDelim reports whether the input continues with the delimiter.
func (c *csvReader) isDelim() bool {
	if len(c.delim) == 1 {
		return true
	}
	p, err := c.r.Peek(len(c.delim))
	return err == nil && bytes.Equal(p, c.delim)
}

// lineEnd reads a line end outside quotes that starts with x, checking it
// against the file's kind of line end as COPY does.
func (c *csvReader) lineEnd(x byte) error {
	_, _ = c.r.Discard(1)
	switch x {
	case '\r':
		switch c.eol {
		case eolUnknown, eolCRNL:
			nx, ok, err := c.peekByte()
			if err != nil {
				return err
			}
			if ok && nx == '\n' {
				_, _ = c.r.Discard(1)
				c.eol = eolCRNL
				return nil
			}
			if c.eol == eolCRNL {
				return &CSVError{Line: c.next, Msg: "unquoted carriage return found in data: the file's lines end with \\r\\n, this one with \\r alone (quote a field that holds a carriage return)"}
			}
			c.eol = eolCR
		case eolNL:
			return &CSVError{Line: c.next, Msg: "unquoted carriage return found in data: the file's lines end with \\n (quote a field that holds a carriage return)"}
		}
	case '\n':
		if c.eol == eolCR || c.eol == eolCRNL {
			return &CSVError{Line: c.next, Msg: "unquoted newline found in data: the file's lines end with \\r or \\r\\n (quote a field that holds a newline)"}
		}
		c.eol = eolNL
	}
	return nil
}

// endMarker reports whether the record starts with the end-of-data marker,
// a line that is exactly \., as COPY reads it: the line end after \. must be
// of the file's kind (the wrong kind is an error); anything else after \. is
// data.
func (c *csvReader) endMarker() (bool, error) {
	p, _ := c.r.Peek(4)
	if len(p) < 3 || p[0] != '\\' || p[1] != '.' {
		return false, nil
	}
	mismatch := &CSVError{Line: c.next, Msg: "end-of-copy marker does not match previous newline style"}
	next := p[2]
	if c.eol == eolCRNL {
		switch {
		case next != '\r':
			return false, nil // \.\n is data in a \r\n file
		case len(p) < 4 || (p[3] != '\r' && p[3] != '\n'):
			return false, nil
		case p[3] == '\r':
			return false, mismatch
		}
		return true, nil
	}
	if next != '\r' && next != '\n' {
		return false, nil
	}
	if (c.eol == eolNL && next != '\n') || (c.eol == eolCR && next != '\r') {
		return false, mismatch
	}
	return true, nil
}
