package pgconnect

import (
	"bufio"
	"encoding/binary"
	"io"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"
)

// MaskedValue replaces a value in a server message that may be a value of a
// sensitive column.
const MaskedValue = "(sensitive)"

// MaskValues makes every error and notice the server sends on connections
// opened with cfg show no value that may belong to one of the sensitive
// columns (destination column names): each is rewritten as it arrives
// (MaskErrorValues), before the driver decodes it, so that no path of
// rowform can print the value. Nothing changes without sensitive columns.
func MaskValues(cfg *pgx.ConnConfig, sensitive []string) {
	if len(sensitive) == 0 {
		return
	}
	cols := append([]string(nil), sensitive...)
	cfg.BuildFrontend = func(r io.Reader, w io.Writer) *pgproto3.Frontend {
		return pgproto3.NewFrontend(&maskingReader{r: bufio.NewReaderSize(r, readBufferSize), cols: cols}, w)
	}
}

// maskingReader passes the server's messages on, rewriting error and notice
// responses. Every other message passes through without being copied
// twice: only its 5-byte header is looked at.
type maskingReader struct {
	r    *bufio.Reader
	cols []string
	// remaining is how many bytes of the current message are still to pass
	// on as they are; pending is a rewritten message not yet passed on.
	remaining int
	pending   []byte
	// raw: the stream is not made of messages (it cannot be parsed);
	// everything passes through.
	raw bool
}

func (m *maskingReader) Read(p []byte) (int, error) {
	if m.raw {
		return m.r.Read(p)
	}
	n := 0
	for n < len(p) {
		if len(m.pending) > 0 {
			c := copy(p[n:], m.pending)
			m.pending = m.pending[c:]
			n += c
			continue
		}
		if m.remaining > 0 {
			if n > 0 && m.r.Buffered() == 0 {
				break // do not wait for the network with data in hand
			}
			c, err := m.r.Read(p[n : n+min(len(p)-n, m.remaining)])
			n += c
			m.remaining -= c
			if err != nil {
				return n, err
			}
			continue
		}
		if n > 0 && m.r.Buffered() < 5 {
			break
		}
		h, err := m.r.Peek(5)
		if err != nil {
			if len(h) > 0 {
				m.raw = true // a truncated stream: let the driver say so
				c, _ := m.r.Read(p[n:])
				return n + c, nil
			}
			return n, err
		}
		length := int(binary.BigEndian.Uint32(h[1:]))
		if length < 4 {
			m.raw = true
			c, err := m.r.Read(p[n:])
			return n + c, err
		}
		if (h[0] == 'E' || h[0] == 'N') && length < 1<<24 {
			msg := make([]byte, 1+length)
			if _, err := io.ReadFull(m.r, msg); err != nil {
				return n, err
			}
			m.pending = maskMessage(msg, m.cols)
			continue
		}
		m.remaining = 1 + length
	}
	return n, nil
}

// maskMessage rewrites one error or notice response message.
func maskMessage(msg []byte, cols []string) []byte {
	var er pgproto3.ErrorResponse
	if err := er.Decode(msg[5:]); err != nil {
		return msg
	}
	pgErr := &pgconn.PgError{Code: er.Code, Message: er.Message, Detail: er.Detail, Hint: er.Hint, Where: er.Where, InternalQuery: er.InternalQuery,
		Position: er.Position, InternalPosition: er.InternalPosition, File: er.File, Routine: er.Routine}
	MaskErrorValues(pgErr, cols)
	if pgErr.Message == er.Message && pgErr.Detail == er.Detail && pgErr.Hint == er.Hint && pgErr.Where == er.Where && pgErr.InternalQuery == er.InternalQuery {
		return msg
	}
	er.Message, er.Detail, er.Hint, er.Where, er.InternalQuery = pgErr.Message, pgErr.Detail, pgErr.Hint, pgErr.Where, pgErr.InternalQuery
	if er.InternalQuery == "" {
		er.InternalPosition = 0
	}
	out, err := er.Encode(nil)
	if err != nil {
		return msg
	}
	out[0] = msg[0]
	return out
}

var (
	// hexBytes is a byte sequence quoted by an encoding error:
	// invalid byte sequence for encoding "UTF8": 0xe9 0x80.
	hexBytes = regexp.MustCompile(`0x[0-9a-fA-F]{2}( 0x[0-9a-fA-F]{2})*`)
	// jsonContext is the context line of a json error: JSON data, line 1: {"a":...
	jsonContext = regexp.MustCompile(`(?m)^(JSON data, line \d+: ).*$`)
	// copyContext is COPY's context for a text value: COPY t, line 3, column email: "x"
	copyContext = regexp.MustCompile(`(?m)^(COPY .*, line \d+, column [^\n]*?: ).*$`)
)

// MaskErrorValues rewrites pgErr, in place, so that it shows no value that
// may be one of the sensitive columns' (destination column names):
//
//   - a key in the detail of a unique, exclusion or foreign key violation
//     ("Key (email)=(a@b) already exists.") when one of its columns is
//     sensitive;
//   - the row in "Failing row contains (...)" of a NOT NULL or CHECK
//     violation, which holds every column;
//   - the values that data exceptions (SQLSTATE class 22: a value that does
//     not convert, an enum label, json, an out-of-range number, a byte
//     sequence) and the other input errors (inputError: tsvector, tsquery,
//     the reg* types) quote in their message, detail and context, since
//     their column is not named;
//   - everything but the SQLSTATE of any other message that is not known
//     to quote no row (quotesNoRow): a trigger's RAISE, a notice, an
//     assertion, set_config's invalid name, an internal error can say
//     anything, NEW.ssn included. The code and the constraint, table and
//     column names stay.
//
// With no sensitive column it changes nothing.
func MaskErrorValues(pgErr *pgconn.PgError, sensitive []string) {
	if pgErr == nil || len(sensitive) == 0 {
		return
	}
	if fromProcedure(pgErr) || (!quotesNoRow(pgErr.Code) && !strings.HasPrefix(pgErr.Code, "22") && !inputError(pgErr)) {
		pgErr.Message = hiddenMessage
		pgErr.Detail, pgErr.Hint, pgErr.Where, pgErr.InternalQuery = "", "", "", ""
		return
	}
	// The context of any error can quote a statement a function ran
	// (SQL statement "INSERT INTO audit VALUES ('123-45-6789')") or a
	// row COPY read; the internal query is such a statement.
	pgErr.Where = maskContext(pgErr.Where)
	pgErr.InternalQuery = ""
	isSensitive := func(list string) bool {
		for _, c := range strings.Split(list, ",") {
			c = strings.TrimSpace(c)
			if strings.HasPrefix(c, `"`) && strings.HasSuffix(c, `"`) && len(c) >= 2 {
				c = strings.ReplaceAll(c[1:len(c)-1], `""`, `"`)
			}
			for _, s := range sensitive {
				if c == s {
					return true
				}
			}
		}
		return false
	}
	pgErr.Detail = maskDetail(pgErr.Detail, isSensitive)
	if strings.HasPrefix(pgErr.Code, "22") || inputError(pgErr) {
		pgErr.Message = maskQuoted(pgErr.Message, pgErr.Code)
		pgErr.Detail = maskQuoted(pgErr.Detail, pgErr.Code)
		pgErr.Hint = maskQuoted(pgErr.Hint, pgErr.Code)
		pgErr.Where = jsonContext.ReplaceAllString(pgErr.Where, "${1}"+MaskedValue)
		pgErr.Where = copyContext.ReplaceAllString(pgErr.Where, "${1}"+MaskedValue)
		pgErr.InternalQuery = ""
	}
}

// fromProcedure reports an error a procedural language raised on the
// function's own words (RAISE, ASSERT, a PL/Python or PL/Perl exception),
// with any SQLSTATE it chose: RAISE ... USING ERRCODE = 'check_violation'
// is no integrity error of the server's.
func fromProcedure(pgErr *pgconn.PgError) bool {
	switch pgErr.Routine {
	case "exec_stmt_raise", "exec_stmt_assert":
		return true
	}
	switch pgErr.File {
	case "pl_exec.c", "plpy_elog.c", "plpy_plpymodule.c", "plperl.c", "pltcl.c":
		return true
	}
	return false
}

// maskContext masks, in each line of an error's context, what it quotes.
func maskContext(where string) string {
	if !strings.Contains(where, `"`) {
		return where
	}
	lines := strings.Split(where, "\n")
	for i, l := range lines {
		lines[i] = maskQuoted(l, "")
	}
	return strings.Join(lines, "\n")
}

// hiddenMessage replaces the message of an error that could quote a value
// of a sensitive column in words no one can foresee.
const hiddenMessage = "the server's message is not shown: on a sync with sensitive_columns it could quote one of their values (see the SQLSTATE, and the server's log)"

// quotesNoRow reports the SQLSTATEs whose messages name objects, never a
// row's values (or whose values MaskErrorValues masks: the key and row
// details of class 23): connection, feature, cardinality, integrity,
// transaction, authorization, catalog, rollback, syntax and access (but
// 42602, an invalid name, which may be a value), resources, limits,
// object state and operator intervention.
func quotesNoRow(code string) bool {
	if code == "42602" {
		return false
	}
	switch code[:min(2, len(code))] {
	case "08", "0A", "21", "23", "24", "25", "26", "28", "2B", "2D", "34", "3B", "3D", "3F", "40", "42", "44", "53", "54", "55", "57":
		return true
	}
	return false
}

// inputError reports an error outside class 22 that a value's input
// function raises: a tsvector or tsquery that does not parse (42601), a
// regproc, regclass, regtype, regrole or regnamespace that names nothing
// (42883, 42P01, 42704, 3F000). They quote the value like data exceptions
// do. The same codes raised by the query's own text (a syntax error, a
// table that does not exist) carry the position in the query, and are
// left as they are: they quote the query, not a row.
func inputError(pgErr *pgconn.PgError) bool {
	switch pgErr.Code {
	case "42601", "42883", "42P01", "42704", "3F000":
		return pgErr.Position == 0 && pgErr.InternalPosition == 0
	}
	return false
}

// keySuffixes end the key of a key violation's detail.
var keySuffixes = []string{") already exists", ") is not present in table", ") is still referenced from table", ") conflicts with existing key", ") is duplicated"}

// maskDetail masks the values of a key or failing-row detail.
func maskDetail(d string, isSensitive func(cols string) bool) string {
	if strings.HasPrefix(d, "Key (") {
		i := strings.Index(d, ")=(")
		if i < 0 || !isSensitive(d[len("Key ("):i]) {
			return d
		}
		end := -1
		for _, suf := range keySuffixes {
			if j := strings.LastIndex(d, suf); j > i {
				end = j
				break
			}
		}
		if end < 0 {
			end = strings.LastIndexByte(d, ')')
		}
		rest := d[end+1:]
		if j := strings.Index(rest, ")=("); j >= 0 && strings.HasPrefix(rest, " conflicts with existing key") {
			// The other key: " conflicts with existing key (email)=(x)."
			rest = rest[:j+2] + MaskedValue + "."
		}
		return d[:i+2] + MaskedValue + rest
	}
	if i := strings.Index(d, "Failing row contains ("); i >= 0 {
		return d[:i] + "Failing row contains " + MaskedValue + "."
	}
	return d
}

// maskQuoted masks what a data exception's text quotes: the byte sequence
// of an encoding error (22021, 22P05: its message quotes only encoding
// names), or else everything from the first double quote to the last (a
// value may hold quotes, or 0x41 as text).
func maskQuoted(s, code string) string {
	if (code == "22021" || code == "22P05") && hexBytes.MatchString(s) {
		return hexBytes.ReplaceAllString(s, MaskedValue)
	}
	if i, j := strings.IndexByte(s, '"'), strings.LastIndexByte(s, '"'); i >= 0 && j > i {
		s = s[:i] + `"` + MaskedValue + `"` + s[j+1:]
	}
	return s
}
