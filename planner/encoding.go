package planner

import (
	"context"
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
)

// The destination's encoding. rowform's sessions speak UTF-8 and the
// server converts what they send into the database's encoding; a
// character that encoding lacks ('€' into LATIN1) fails the write. The
// plan finds such values in Go, against the characters the encoding has:
// for a single-byte encoding (LATIN1..10, WIN125x, KOI8, ISO_8859_x), the
// 128 characters of its upper half, read once from the server. UTF8 and
// SQL_ASCII (which stores bytes as they come) hold any character; the
// multi-byte server encodings (EUC_*, MULE_INTERNAL) are not checked
// (docs/checks.md).

// encodingCheck is the characters beyond ASCII the destination's encoding
// holds; nil when every character is held or the encoding is not checked.
type encodingCheck struct {
	name string
	has  map[rune]bool
}

// Built-in types whose binary form is text in the session's encoding (jsonb
// after its version byte).
const (
	oidName = 19
	oidXML  = 142
	// oidChar is "char", one byte (its binary form is that byte, not text).
	oidChar = 18
)

// loadEncodingCheck takes the destination's encoding from what the server
// said at connection (as the duckdb source's codecs do) and, when it is a
// single-byte one, reads the characters of its upper half. A byte that is
// no character of the encoding fails the conversion to UTF-8 of the
// query's result, so the bytes are asked in halves until each part
// converts.
func loadEncodingCheck(ctx context.Context, dst *pgx.Conn) (*encodingCheck, error) {
	name := dst.PgConn().ParameterStatus("server_encoding")
	if name == "UTF8" || name == "SQL_ASCII" {
		return nil, nil
	}
	var maxLen int
	if err := dst.QueryRow(ctx, `SELECT pg_encoding_max_length(pg_char_to_encoding($1))`, name).Scan(&maxLen); err != nil {
		return nil, fmt.Errorf("reading the database's encoding: %w", err)
	}
	if maxLen != 1 {
		return nil, nil
	}
	ec := &encodingCheck{name: name, has: map[rune]bool{}}
	var ask func(bytes []int32) error
	ask = func(bytes []int32) error {
		var chars string
		err := tryQuery(ctx, dst, func() error {
			return dst.QueryRow(ctx, `SELECT string_agg(chr(b), '' ORDER BY b) FROM unnest($1::int[]) AS b`, bytes).Scan(&chars)
		})
		if err == nil {
			for _, r := range chars {
				ec.has[r] = true
			}
			return nil
		}
		if _, ok := isValueError(err); !ok {
			return fmt.Errorf("reading the characters of the encoding %s: %w", name, err)
		}
		if len(bytes) == 1 {
			return nil // no character of the encoding
		}
		if err := ask(bytes[:len(bytes)/2]); err != nil {
			return err
		}
		return ask(bytes[len(bytes)/2:])
	}
	upper := make([]int32, 0, 128)
	for b := int32(128); b < 256; b++ {
		upper = append(upper, b)
	}
	if err := ask(upper); err != nil {
		return nil, err
	}
	return ec, nil
}

// checked reports whether column c's values are text the server converts
// to its encoding.
func (ec *encodingCheck) checked(c *column) bool {
	if c.AsText {
		return true
	}
	switch c.ResultOID {
	case oidText, oidVarchar, oidBpchar, oidName, oidJSON, oidJSONB, oidXML:
		return true
	}
	return false
}

// holds reports whether the encoding holds every character of v, the
// binary value of column c.
func (ec *encodingCheck) holds(c *column, v []byte) bool {
	if c.ResultOID == oidJSONB && !c.AsText && len(v) > 0 {
		v = v[1:] // the version byte
	}
	ascii := true
	for _, b := range v {
		if b >= utf8.RuneSelf {
			ascii = false
			break
		}
	}
	if ascii {
		return true
	}
	for _, r := range string(v) {
		if r >= utf8.RuneSelf && !ec.has[r] {
			return false
		}
	}
	return true
}

// reason is the rejected_rows reason of a value the encoding cannot hold.
func (ec *encodingCheck) reason() string {
	return fmt.Sprintf("a character the database's encoding %s has no equivalent for", strings.ToUpper(ec.name))
}
