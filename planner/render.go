package planner

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgtype"
	"github.com/rowform/rowform/internal/redact"
)

// typeMaps hold the pgtype.Maps that decode binary values for display. A
// Map caches its encode plans as it goes, so one Map must not be used by two
// goroutines at once (the hash join's workers and parallel syncs render
// values concurrently): each call takes its own from the pool.
var typeMaps = sync.Pool{New: func() any { return pgtype.NewMap() }}

// RenderValue renders a binary value of type oid in PostgreSQL's text
// output format, "NULL" for nil. Values of unknown types are shown as hex.
func RenderValue(oid uint32, v []byte) string {
	if v == nil {
		return "NULL"
	}
	switch oid {
	case oidText, oidVarchar, oidBpchar:
		return string(v)
	case oidJSONB:
		// jsonb's binary form is a version byte and then PostgreSQL's
		// own text output.
		if len(v) > 0 && v[0] == 1 {
			return string(v[1:])
		}
	}
	if s, ok := serverText(oid, v); ok {
		return s
	}
	typeMap := typeMaps.Get().(*pgtype.Map)
	defer typeMaps.Put(typeMap)
	t, ok := typeMap.TypeForOID(oid)
	if !ok {
		return fmt.Sprintf("\\x%x", v)
	}
	if _, isArray := t.Codec.(*pgtype.ArrayCodec); isArray {
		if s, ok := arrayText(v); ok {
			return s
		}
	}
	val, err := t.Codec.DecodeValue(typeMap, oid, pgtype.BinaryFormatCode, v)
	if err != nil {
		return fmt.Sprintf("\\x%x", v)
	}
	text, err := typeMap.Encode(oid, pgtype.TextFormatCode, val, nil)
	if err != nil || text == nil {
		return fmt.Sprint(val)
	}
	return string(text)
}

// renderColumn renders the value of layout column i, masking sensitive ones.
// A value whose text is exactly "NULL" or "(sensitive)" is quoted, so that
// it cannot be mistaken for a NULL or a masked value.
func (l *layout) renderColumn(i int, v []byte) string {
	if l.Cols[i].Sensitive {
		return Sensitive
	}
	if v == nil {
		return "NULL"
	}
	return quoteReserved(RenderValue(l.Cols[i].ResultOID, v))
}

// quoteReserved quotes a value's text that reads "NULL" or "(sensitive)",
// so that it cannot be mistaken for a NULL or a masked value.
func quoteReserved(s string) string {
	if s == "NULL" || s == Sensitive {
		return strconv.Quote(s)
	}
	return s
}

// maxSampleValueBytes is how much of one value a sample row shows: a
// sample is for reading, and a 60 MB value printed on one line (and kept in
// the plan file) is not read. The -changes file has every value whole.
const maxSampleValueBytes = 4096

// sampleValue renders the value of layout column i for a sample row, as
// renderColumn does, cut after maxSampleValueBytes (at a character's end,
// and before a secret of secrets the cut would split: the output filter
// masks a secret whole, not its first half) with how many bytes were left
// out: "abc… (59995904 more bytes)".
func (l *layout) sampleValue(i int, v []byte, secrets *redact.Redactor) string {
	s := l.renderColumn(i, v)
	if len(s) <= maxSampleValueBytes {
		return s
	}
	cut := maxSampleValueBytes
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	cut = secrets.Cut(s, cut)
	return fmt.Sprintf("%s… (%d more bytes)", s[:cut], len(s)-cut)
}

// renderKey renders a row's key for findings the way plans show the keys
// of sample rows: `id=7`, `email="a@x"`, `org=1 email="a@x"`.
func (l *layout) renderKey(r *Row) string {
	parts := make([]string, l.NKey)
	for i := 0; i < l.NKey; i++ {
		parts[i] = l.Cols[i].Dest + "=" + FormatValue(l.renderColumn(i, r.Values[i]))
	}
	return strings.Join(parts, " ")
}

// keyStrings renders the key columns of a row, for samples.
func (l *layout) keyStrings(r *Row) []string {
	out := make([]string, l.NKey)
	for i := 0; i < l.NKey; i++ {
		out[i] = l.renderColumn(i, r.Values[i])
	}
	return out
}

// numberRE matches the values shown without quotes: PostgreSQL's text output
// of integers and of finite numeric, real and double precision values.
var numberRE = regexp.MustCompile(`^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$`)

// FormatValue renders one value as plans and findings show it (the text
// renderColumn and SampleColumn hold), the same way in every human format:
//
//   - NULL and (sensitive) (Sensitive) pass through as they are;
//   - a value that looks like a number (42, -1.50, 1e+06) is shown bare;
//   - anything else, including the empty string, is Go-quoted ("a@b", "",
//     "line\nbreak"), so spaces, empty strings and control characters stay
//     visible and a text value can never be mistaken for NULL.
//
// Without the column's type, a text column holding "7" is shown as 7.
func FormatValue(v string) string {
	switch {
	case v == "NULL" || v == Sensitive:
		return v
	case numberRE.MatchString(v):
		return v
	default:
		return strconv.Quote(v)
	}
}
