package planner

import (
	"bufio"
	"fmt"
	"io"
	"unicode/utf8"
)

// csvField is one field of a CSV record; Null is set for an unquoted empty
// field, which PostgreSQL's CSV format reads as NULL.
type csvField struct {
	Value string
	Null  bool
}

// csvReader reads CSV with PostgreSQL's rules: fields separated by the
// delimiter, '"' quotes a field, '""' inside quotes is one quote, quoted
// fields may span lines, an unquoted empty field is NULL and a quoted empty
// field ("") is an empty string.
type csvReader struct {
	r     *bufio.Reader
	delim rune
	// Line is the line number where the last record returned started.
	Line int
	next int
	// field holds the field being read; reused, so that a wide field costs
	// its own size once more, not the doublings of a growing string.
	field []byte
}

func newCSVReader(r io.Reader, delim rune) *csvReader {
	br := bufio.NewReaderSize(r, 64<<10)
	// Excel and other Windows programs start a UTF-8 file with a byte
	// order mark. It is not text: without skipping it, the first header
	// would be "\ufeffid" and match no column.
	if b, err := br.Peek(len(utf8BOM)); err == nil && string(b) == utf8BOM {
		_, _ = br.Discard(len(utf8BOM))
	}
	return &csvReader{r: br, delim: delim, next: 1}
}

// utf8BOM is the UTF-8 byte order mark.
const utf8BOM = "\xef\xbb\xbf"

// Read returns the next record, or io.EOF after the last one. Blank lines
// are skipped.
func (c *csvReader) Read() ([]csvField, error) {
	for {
		c.Line = c.next
		rec, err := c.readRecord()
		if err != nil {
			return nil, err
		}
		if len(rec) == 1 && rec[0].Null { // a blank line
			continue
		}
		return rec, nil
	}
}

func (c *csvReader) readRecord() ([]csvField, error) {
	var fields []csvField
	b := c.field[:0]
	quoted, inQuotes, atStart, any := false, false, true, false
	finish := func() {
		v := string(b)
		fields = append(fields, csvField{Value: v, Null: !quoted && v == ""})
		b = b[:0]
		quoted, atStart = false, true
	}
	defer func() { c.field = b }()
	for {
		r, _, err := c.r.ReadRune()
		if err == io.EOF {
			if inQuotes {
				return nil, fmt.Errorf("line %d: a quoted field is not closed before the end of the file", c.Line)
			}
			if !any {
				return nil, io.EOF
			}
			finish()
			return fields, nil
		}
		if err != nil {
			return nil, err
		}
		any = true
		switch {
		case inQuotes:
			if r == '"' {
				if p, err := c.r.Peek(1); err == nil && p[0] == '"' {
					_, _, _ = c.r.ReadRune()
					b = append(b, '"')
				} else {
					inQuotes = false
				}
			} else {
				if r == '\n' {
					c.next++
				}
				b = utf8.AppendRune(b, r)
			}
		case r == '"' && atStart:
			inQuotes, quoted, atStart = true, true, false
		case r == c.delim:
			finish()
		case r == '\r':
			if p, err := c.r.Peek(1); err == nil && p[0] == '\n' {
				continue
			}
			c.next++
			finish()
			return fields, nil
		case r == '\n':
			c.next++
			finish()
			return fields, nil
		default:
			atStart = false
			b = utf8.AppendRune(b, r)
		}
	}
}
