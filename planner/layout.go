package planner

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/internal/catalog"
)

// firstUserOID is PostgreSQL's FirstNormalObjectId: types with a lower OID
// are built in and exist with the same OID on every server.
const firstUserOID = 16384

// Built-in type OIDs the diff treats specially.
const (
	oidBool        = 16
	oidInt8        = 20
	oidInt2        = 21
	oidInt4        = 23
	oidText        = 25
	oidUnknown     = 705
	oidBpchar      = 1042
	oidVarchar     = 1043
	oidDate        = 1082
	oidTimestamp   = 1114
	oidTimestamptz = 1184
	oidUUID        = 2950
	oidJSONB       = 3802
	oidBit         = 1560
	oidVarbit      = 1562
)

// keyOrder says how a key column is ordered on both servers and compared in
// Go, so that the merge sees both streams in the same order.
type keyOrder int

const (
	// orderSigned: fixed-width big-endian signed integers (int2/4/8, date,
	// timestamp[tz]) — ORDER BY value, compared with the sign bit flipped.
	orderSigned keyOrder = iota
	// orderBytes: ORDER BY value [COLLATE "C"], compared as bytes (text,
	// varchar, uuid, bool).
	orderBytes
	// orderText: ORDER BY an extra column COLLATE "C", compared as bytes;
	// for every other type, and for every key whose type's equality is not
	// byte equality. The extra column is the value's canonical text form
	// (column.canonicalKey), in which values the destination's unique index
	// holds equal (numeric 1.0 and 1.00, citext 'A' and 'a') have equal
	// bytes; hashing and matching use it instead of the value.
	orderText
)

// column is one mapped column as the diff reads it on both sides.
type column struct {
	Dest   string
	Source string
	// Dest column from the catalog.
	Catalog catalog.Column
	// AsText: the column is compared and shipped as text, because its type
	// is not built in and may not exist on the source server, or ("char")
	// because its binary form is a byte that text cannot always hold.
	AsText bool
	// CastType is the type the source value is cast to before comparing.
	CastType string
	// ResultOID is the type OID of the value as read (for rendering samples).
	ResultOID uint32
	Sensitive bool
	// limit is the column's length or precision limit, checked in Go.
	limit columnLimit
	// viaType is, for a postgres source, the source column's type as a
	// cast names it, when the source's text of a value is to be read as
	// that type before it is converted (convertExpr): "" when the text is
	// converted directly.
	viaType string
	// refusesNow: a postgres source's value is cast to the column's date
	// or time type on the source through its text, where 'now' or
	// 'today' would read from the time of the query (movingtime.go);
	// sourceExpr refuses it.
	refusesNow bool
}

// textFallbackType is the viaType of the column for the postgres source
// column sc. A postgres source's values are converted on the source with
// the explicit cast from their type (sourceExpr); when a value does not
// convert, the source is read as text and converted on the destination
// instead (convertQuery). Text input is not that cast for every pair of
// types: numeric 1.5 casts to integer 2, but '1.5' is no integer; float8
// 0.30000000000000004 casts to numeric 0.3; inet 10.0.0.1/8 casts to cidr
// 10.0.0.0/8, which the text refuses; macaddr8 casts to macaddr. So the
// text is read as the source's type first, on the destination (the type
// is built in: it is the same there), and then cast as the source would:
// each row converts as it does when no other row fails, and a plan does
// not show a row changed, or refuse it, because another row of the
// source does not convert.
func (c column) textFallbackType(sc sourceColumn) string {
	if sc.TypeOID == 0 || sc.TypeOID >= firstUserOID || (c.AsText && !c.normalizedOnSource()) {
		// A type the destination may lack, or a value the source reads as
		// its text (sourceExpr) in the first place.
		return ""
	}
	switch sc.TypeOID {
	case oidText, oidVarchar, oidUnknown:
		return "" // the text itself
	case oidBpchar:
		return "bpchar" // "character" would be character(1)
	case oidBpcharArray:
		return "bpchar[]"
	case oidBit:
		return `"bit"` // bit would be bit(1)
	case oidBitArray:
		return `"bit"[]`
	}
	return sc.Type
}

// layout is how a sync's columns line up on both sides: key columns first,
// in key order, then the other mapped columns in mapping order.
type layout struct {
	Cols []column
	NKey int
	// Orders has one entry per key column.
	Orders []keyOrder
	// TextKeys lists the key columns (indexes into Cols) ordered by an
	// extra text column; their extra columns follow Cols in the result.
	TextKeys []int
	// rematch: a key column is compared under a nondeterministic
	// collation, so unmatched source rows are looked up by the destination
	// (rematch.go).
	rematch bool
}

func newColumn(dest, source string, c catalog.Column, sensitive bool) column {
	col := column{Dest: dest, Source: source, Catalog: c, Sensitive: sensitive, limit: limitOf(c)}
	switch {
	case c.TypeOID >= firstUserOID, col.limit.kind == limitChar:
		// "char" too: its binary form is a byte, not text (limits.go).
		col.AsText, col.CastType, col.ResultOID = true, "text", oidText
	case col.limit.kind != noLimit:
		// An explicit cast to varchar(n), char(n), bit(n) or numeric(p,s)
		// would cut, pad or fail where a write refuses: the value is read
		// with the limit lifted and the limit is checked in Go (limits.go).
		col.CastType, col.ResultOID = col.limit.castType(), c.TypeOID
	default:
		col.CastType, col.ResultOID = c.Type, c.TypeOID
	}
	return col
}

// convertExpr converts expr, a source's text (a CSV field, DuckDB's
// text, a postgres source's text read as its type first: viaType), on the
// destination to the column's value as the diff compares it:
// castExpr, but for a column carried as text that normalizesText, the
// type's own text of the value, as the table stores it ('05' for a domain
// over int is '5', 'b=>1, a=>2' for hstore '"a"=>"2", "b"=>"1"'), so that
// a value written is no update again on the next plan.
func (c column) convertExpr(expr string) string {
	if c.viaType != "" {
		expr = fmt.Sprintf("(%s)::%s", expr, c.viaType)
	}
	if c.normalizesText() {
		return fmt.Sprintf("((%s)::%s)::text", expr, c.Catalog.Type)
	}
	return c.castExpr(expr)
}

// sourceExpr converts expr, a postgres source's value, on the source to the
// column's value as the diff compares it: castExpr, but for a domain over
// a built-in type that normalizesText, the base type's own text (the
// source server has that type too), as the domain stores it (' 5' for a
// domain over int is '5').
//
// With refusesNow, a text that moves (movesSQL, as movingWord finds it) is
// converted as the empty text instead, which no date or time type reads:
// the data error makes the diff read the source as text and convert it on
// the destination (diff), where movingWord refuses the row as it refuses
// a CSV field.
func (c column) sourceExpr(expr string) string {
	cast := c.castExpr
	if c.normalizedOnSource() {
		cast = func(e string) string { return fmt.Sprintf("((%s)::%s)::text", e, c.Catalog.BaseType) }
	}
	if c.refusesNow {
		// left(..., 0) depends on the row, so the server cannot refuse
		// the empty text when it plans the query, before any row.
		return fmt.Sprintf("CASE WHEN %s THEN %s ELSE %s END",
			c.movesSQL(expr), cast(fmt.Sprintf("left((%s)::text, 0)", expr)), cast(expr))
	}
	return cast(expr)
}

// normalizedOnSource reports whether sourceExpr gives the type's own text
// of a value (a domain over a built-in type): a column carried as text
// that normalizesText but is not normalized on the source is spelled as
// the source spells it until the destination reads it back (respell.go).
func (c column) normalizedOnSource() bool {
	return c.normalizesText() && c.Catalog.IsDomain() && c.Catalog.BaseTypeOID < firstUserOID
}

// normalizesText reports whether the column is carried as text and the
// explicit cast of text to its type converts as a write does: any such
// type but domains over char(n), varchar(n), bit(n) and varbit(n), whose
// explicit casts cut a value a write refuses (checkConversions refuses
// those on their text), and "char".
func (c column) normalizesText() bool {
	if !c.AsText {
		return false
	}
	switch c.Catalog.BaseTypeOID {
	case oidBpchar, oidVarchar, oidBit, oidVarbit:
		return false
	}
	// "char" (and a domain over it) keeps a value's first byte when cast:
	// its values are checked on their text (limits.go).
	return c.limit.kind != limitChar
}

// castExpr converts expr (a source value) to the column's type as the diff
// compares it.
func (c column) castExpr(expr string) string {
	if c.limit.kind != noLimit && !c.AsText {
		return c.limit.castExpr(expr)
	}
	return fmt.Sprintf("(%s)::%s", expr, c.CastType)
}

func orderFor(c column) keyOrder {
	if canonOf(c) != canonNone {
		return orderText
	}
	if c.AsText {
		return orderBytes
	}
	switch c.Catalog.TypeOID {
	case oidInt2, oidInt4, oidInt8, oidDate, oidTimestamp, oidTimestamptz:
		return orderSigned
	case oidText, oidVarchar, oidUUID, oidBool:
		return orderBytes
	}
	return orderText
}

func newLayout(cols []column, nkey int) *layout {
	l := &layout{Cols: cols, NKey: nkey}
	l.rematch = len(l.rematchColumns()) > 0
	for i := 0; i < nkey; i++ {
		o := orderFor(cols[i])
		l.Orders = append(l.Orders, o)
		if o == orderText {
			l.TextKeys = append(l.TextKeys, i)
		}
	}
	return l
}

// width is the number of values in a result row.
func (l *layout) width() int { return len(l.Cols) + len(l.TextKeys) }

func alias(i int) string { return fmt.Sprintf("c%d", i) }

// orderBy renders the ORDER BY list over the aliases of the inner select.
func (l *layout) orderBy() string {
	var parts []string
	t := 0
	for i := 0; i < l.NKey; i++ {
		switch l.Orders[i] {
		case orderSigned:
			parts = append(parts, "s."+alias(i))
		case orderBytes:
			if isCollatable(l.Cols[i]) {
				parts = append(parts, "s."+alias(i)+` COLLATE "C"`)
			} else {
				parts = append(parts, "s."+alias(i))
			}
		case orderText:
			parts = append(parts, fmt.Sprintf(`s.k%d COLLATE "C"`, t))
			t++
		}
	}
	return strings.Join(parts, ", ")
}

func isCollatable(c column) bool {
	return c.AsText || c.Catalog.TypeOID == oidText || c.Catalog.TypeOID == oidVarchar
}

// textKeySelect renders the extra text sort columns: the canonical text
// form of each orderText key (expr(i) is the value of column i).
func (l *layout) textKeySelect(expr func(i int) string) string {
	var b strings.Builder
	for t, i := range l.TextKeys {
		fmt.Fprintf(&b, ", %s AS k%d", l.Cols[i].canonicalKey(expr(i)), t)
	}
	return b.String()
}

// SourceSQL wraps a source query so that it returns the mapped columns in the
// destination's types; in key order when ordered is set (the merge of an
// initial load needs it, the hash diff does not).
func (l *layout) SourceSQL(query string, ordered bool) string {
	query = trimQuery(query)
	cast := func(i int) string {
		c := l.Cols[i]
		return c.sourceExpr("q." + pgx.Identifier{c.Source}.Sanitize())
	}
	var sel []string
	for i := range l.Cols {
		sel = append(sel, cast(i)+" AS "+alias(i))
	}
	return fmt.Sprintf("SELECT * FROM (SELECT %s%s FROM (\n%s\n) AS q) AS s%s",
		strings.Join(sel, ", "), l.textKeySelect(cast), query, l.orderClause(ordered))
}

// orderClause is " ORDER BY ..." when ordered is set, else "".
func (l *layout) orderClause(ordered bool) string {
	if !ordered {
		return ""
	}
	return " ORDER BY " + l.orderBy()
}

// DestinationSQL reads the mapped columns of the destination table, in no
// particular order. Rows with a NULL in a key column cannot be matched: they
// are read only when nullKeys is set (a mirror deletes them), else left out.
func (l *layout) DestinationSQL(table string, nullKeys bool) string {
	expr := func(i int) string {
		c := l.Cols[i]
		e := "t." + pgx.Identifier{c.Dest}.Sanitize()
		if c.AsText {
			e += "::text"
		}
		return e
	}
	var sel, notNull []string
	for i := range l.Cols {
		sel = append(sel, expr(i)+" AS "+alias(i))
	}
	for i := 0; i < l.NKey; i++ {
		notNull = append(notNull, "s."+alias(i)+" IS NOT NULL")
	}
	where := " WHERE " + strings.Join(notNull, " AND ")
	if nullKeys {
		where = ""
	}
	return fmt.Sprintf("SELECT * FROM (SELECT %s%s FROM %s AS t) AS s%s",
		strings.Join(sel, ", "), l.textKeySelect(expr), table, where)
}

// ConvertSQL converts text values (one text[] parameter per column, as read
// from a CSV file) into the destination's types with PostgreSQL's input
// rules. The result is not ordered; the caller sorts.
func (l *layout) ConvertSQL() string {
	var params, names []string
	for i := range l.Cols {
		params = append(params, fmt.Sprintf("$%d::text[]", i+1))
		names = append(names, fmt.Sprintf("v%d", i))
	}
	cast := func(i int) string { return l.Cols[i].convertExpr(fmt.Sprintf("u.v%d", i)) }
	var sel []string
	for i := range l.Cols {
		sel = append(sel, cast(i)+" AS "+alias(i))
	}
	return fmt.Sprintf("SELECT %s%s FROM unnest(%s) AS u(%s)",
		strings.Join(sel, ", "), l.textKeySelect(cast), strings.Join(params, ", "), strings.Join(names, ", "))
}
