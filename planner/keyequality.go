package planner

import (
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/catalog"
)

// Key equality. The diff matches keys by bytes (keyHash, keysEqual,
// compareKeys), but the destination's unique index matches them with the
// key type's equality, under which values with different bytes may be equal:
// numeric 1.0 and 1.00, citext 'Foo' and 'foo', char(3) 'a' and 'a  ',
// float8 0 and -0. A key column of such a type is ordered by an extra text
// column (orderText) holding a canonical form of its value, computed by the
// server in SQL, in which equal values have equal bytes; the raw value still
// travels in the row, to be written and shown. Both sides compute the same
// expression: the source server on the value already cast to the
// destination's type (or on its text, for types carried as text), the
// destination server on the stored value, and for CSV sources on the
// converted value (ConvertSQL).
//
// Keys under a nondeterministic collation have no canonical form in SQL;
// keyEqualityFindings refuses them.

// keyCanon says how a key column's value is brought to its canonical form.
type keyCanon int

const (
	// canonNone: the value's bytes (or its text form, for orderText) are
	// already canonical.
	canonNone keyCanon = iota
	// canonNumeric: trim_scale drops the trailing zeros of the scale, so
	// 1.0 and 1.00 both read 1 (NaN and ±Infinity stay as they are).
	// trim_scale exists from PostgreSQL 13 on, on both servers.
	canonNumeric
	// canonFloat4, canonFloat8: adding zero turns -0 into 0 (NaN = NaN
	// already has one text form).
	canonFloat4
	canonFloat8
	// canonCitext: citext compares lower() of both values under the
	// database's default collation (whatever the column's collation, see
	// citextcmp in contrib/citext), so the canonical form is
	// lower(value COLLATE "default"). The source server computes it under
	// its own default collation, on the text it sends (the source may not
	// have citext installed): this assumes both servers lower-case alike,
	// which holds for ASCII under any locale and for the rest when their
	// LC_CTYPE agree.
	canonCitext
	// canonBpchar: char(n) compares without trailing blanks. Its text form
	// drops them, so only a domain over char(n), carried as text from
	// whatever text the source sends, needs them trimmed.
	canonBpchar
	// canonInterval: intervals compare by their span, a month counted as
	// 30 days and a day as 24 hours ('1 mon' = '30 days' = '720:00:00',
	// interval_cmp_value), so the canonical form is that span in
	// microseconds, from the fields extract reads (each truncated toward
	// zero, so they add back up exactly).
	canonInterval
	// canonNumrange: a numrange compares its bounds as numerics: the
	// canonical form is its flags and trim_scale'd bounds.
	canonNumrange
	// canonNumericArray, canonFloat4Array, canonFloat8Array,
	// canonIntervalArray: arrays compare their dimensions, then their
	// elements with the element type's equality: the canonical form is
	// array_dims and the array of the elements' canonical forms.
	canonNumericArray
	canonFloat4Array
	canonFloat8Array
	canonIntervalArray
	// canonJSONB: jsonb compares the numbers in it as numerics ({"a": 1.0}
	// = {"a": 1.00}), and everything else as its text output has it (keys
	// sorted and deduplicated, strings by bytes): the canonical form is
	// that text with the trailing zeros of every number's fraction cut,
	// outside strings (jsonbCanon). canonJSONBArray: arrays of it.
	canonJSONB
	canonJSONBArray
)

// Type OIDs whose equality is not byte equality.
const (
	oidFloat4        = 700
	oidFloat8        = 701
	oidNumeric       = 1700
	oidFloat4Array   = 1021
	oidFloat8Array   = 1022
	oidIntervalArray = 1187
	oidNumericArray  = 1231
	oidJSONBArray    = 3807
)

// canonOf is how column c's key values are made canonical: by the base type
// (through domains) of the destination column.
func canonOf(c column) keyCanon {
	base := c.Catalog.BaseTypeOID
	if base == 0 {
		base = c.Catalog.TypeOID
	}
	switch base {
	case oidNumeric:
		return canonNumeric
	case oidFloat4:
		return canonFloat4
	case oidFloat8:
		return canonFloat8
	case oidBpchar:
		if c.AsText {
			return canonBpchar
		}
		return canonNone // its text form is already trimmed
	case oidInterval:
		return canonInterval
	case oidNumrange:
		return canonNumrange
	case oidNumericArray:
		return canonNumericArray
	case oidFloat4Array:
		return canonFloat4Array
	case oidFloat8Array:
		return canonFloat8Array
	case oidIntervalArray:
		return canonIntervalArray
	case oidJSONB:
		return canonJSONB
	case oidJSONBArray:
		return canonJSONBArray
	}
	if base >= firstUserOID && c.Catalog.BaseTypeName == "citext" {
		return canonCitext
	}
	return canonNone
}

// canonicalKey renders the SQL of the canonical text form of column c's
// value expr: expr is of the column's type, or text when the column is
// carried as text (AsText). It is what the extra key column (k0, k1, ...)
// holds.
func (c column) canonicalKey(expr string) string {
	typed := func(typ string) string {
		if c.AsText {
			return fmt.Sprintf("(%s)::%s", expr, typ)
		}
		return "(" + expr + ")"
	}
	switch canonOf(c) {
	case canonNumeric:
		return fmt.Sprintf("trim_scale(%s)::text", typed("numeric"))
	case canonFloat4:
		return fmt.Sprintf("(%s + 0::float4)::text", typed("float4"))
	case canonFloat8:
		return fmt.Sprintf("(%s + 0::float8)::text", typed("float8"))
	case canonCitext:
		return fmt.Sprintf(`lower(((%s)::text) COLLATE "default")`, expr)
	case canonBpchar:
		return fmt.Sprintf("rtrim((%s)::text, ' ')", expr)
	case canonInterval:
		return intervalSpan(typed("interval"))
	case canonNumrange:
		r := typed("numrange")
		return fmt.Sprintf("CASE WHEN %[1]s IS NULL THEN NULL WHEN isempty(%[1]s) THEN 'empty' ELSE concat(lower_inc(%[1]s)::int, lower_inf(%[1]s)::int, ':', trim_scale(lower(%[1]s)), ':', trim_scale(upper(%[1]s)), ':', upper_inc(%[1]s)::int, upper_inf(%[1]s)::int) END", r)
	case canonNumericArray:
		return arrayCanon(typed("numeric[]"), "trim_scale(u.e)::text")
	case canonFloat4Array:
		return arrayCanon(typed("float4[]"), "(u.e + 0::float4)::text")
	case canonFloat8Array:
		return arrayCanon(typed("float8[]"), "(u.e + 0::float8)::text")
	case canonIntervalArray:
		return arrayCanon(typed("interval[]"), intervalSpan("u.e"))
	case canonJSONB:
		return jsonbCanon(typed("jsonb"))
	case canonJSONBArray:
		return arrayCanon(typed("jsonb[]"), jsonbCanon("u.e"))
	}
	return fmt.Sprintf("(%s)::text", expr)
}

// jsonbCanon is the SQL of jsonb x's canonical text (canonJSONB). Each
// pattern's first branch takes a whole string, which the replacement puts
// back as it was; the second cuts a number's trailing fractional zeros:
// first those after its last nonzero digit (1.50 to 1.5), then a fraction
// of zeros whole (1.00 to 1). jsonb's text output writes numbers without
// exponents.
func jsonbCanon(x string) string {
	const str = `("(?:[^"\\]|\\.)*")`
	return fmt.Sprintf(`regexp_replace(regexp_replace((%s)::text, '%s|(\.[0-9]*[1-9])0+(?![0-9])', '\1\2', 'g'), '%s|\.0+(?![0-9])', '\1', 'g')`, x, str, str)
}

// intervalSpan is the SQL of interval x's span in microseconds, as text
// (canonInterval).
func intervalSpan(x string) string {
	f := func(field string) string { return fmt.Sprintf("extract(%s from %s)::numeric", field, x) }
	return fmt.Sprintf("(((%s * 12 + %s) * 30 + %s) * 86400000000 + %s * 3600000000 + %s * 60000000 + %s)::text",
		f("year"), f("month"), f("day"), f("hour"), f("minute"), f("microseconds"))
}

// arrayCanon is the SQL of array a's canonical form: its dimensions and the
// text array of elem, the canonical form of each element u.e.
func arrayCanon(a, elem string) string {
	return fmt.Sprintf("CASE WHEN %[1]s IS NULL THEN NULL ELSE coalesce(array_dims(%[1]s), '') || ARRAY(SELECT %[2]s FROM unnest(%[1]s) WITH ORDINALITY AS u(e, n) ORDER BY u.n)::text END", a, elem)
}

// keyEqualityFindings refuses keys the diff cannot match as the
// destination does: a key that only its unique index compares under a
// nondeterministic collation (CREATE UNIQUE INDEX ... (id COLLATE ci)),
// where 'abc' may equal 'ABC' though the column's own collation tells them
// apart. (A key column whose own collation is nondeterministic is matched
// through the destination: rematch.go.)
func keyEqualityFindings(s *hclconfig.Sync, t *catalog.Table) []Finding {
	var out []Finding
	for _, k := range s.Key {
		dc := t.Column(k)
		if dc == nil || dc.NondeterministicCollation {
			continue
		}
		for _, uk := range t.UniqueKeys {
			if !sameKeyColumns(uk.Columns, s.Key) || !slices.Contains(uk.NondeterministicColumns, k) {
				continue
			}
			name := pgx.Identifier{uk.Name}.Sanitize()
			fix := fmt.Sprintf("DROP INDEX %s;\nCREATE UNIQUE INDEX %s ON %s (%s);", pgx.Identifier{t.Schema, uk.Name}.Sanitize(), name, t.Ident(), catalog.IdentList(uk.Columns))
			if uk.Kind != "unique index" {
				fix = fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s, ADD CONSTRAINT %s UNIQUE (%s);", t.Ident(), name, name, catalog.IdentList(uk.Columns))
			}
			out = append(out, Finding{Severity: SeverityError, Code: CodeTypeMismatch,
				Summary: fmt.Sprintf("the key column %q of %s is compared by the %s %s under a nondeterministic collation other than the column's: keys with nondeterministic collations are not supported yet unless the column itself has the collation", k, s.Table, uk.Kind, name),
				Detail: "Under a nondeterministic collation values with different bytes can be equal ('abc' = 'ABC' for a case-insensitive one). rowform matches such keys through the destination when the key column itself has the collation " +
					"(ALTER TABLE ... ALTER COLUMN ... TYPE text COLLATE <collation>); with the collation only on the index it cannot. Give the column the collation, or index the key with the column's own collation (the fix below).",
				Fix: fix})
			break
		}
	}
	return out
}

// sameKeyColumns reports whether a and b hold the same names, in any order.
func sameKeyColumns(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}
