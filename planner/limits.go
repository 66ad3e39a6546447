package planner

import (
	"encoding/binary"
	"fmt"
	"unicode/utf8"

	"github.com/rowform/rowform/internal/catalog"
	"github.com/rowform/rowform/internal/plural"
)

// Length and precision limits of a destination column, checked in Go on the
// values a change writes. The source value is read with the limit lifted
// (varchar, bpchar, varbit, unlimited bit, or numeric rounded to the
// column's scale but not to its precision), because an explicit cast to the limited type would
// cut or pad the value silently — 'GBR'::char(2) is 'GB' — while a write
// refuses it. What the write would refuse, the check refuses first. name
// is read as text too: its write cuts a value longer than 63 bytes
// silently, which the check refuses as a value the write would change.
// "char" (and a domain over it) keeps a value's first byte; it is carried
// as text on both sides (its binary form is not its text's bytes) and
// refuses what is not one character of its own text form.

// limitKind is what a column's type modifier limits.
type limitKind byte

const (
	noLimit      limitKind = iota
	limitVarchar           // varchar(n): at most n characters
	limitBpchar            // char(n): at most n characters after trailing blanks
	limitBit               // bit(n): exactly n bits
	limitVarbit            // varbit(n): at most n bits
	limitNumeric           // numeric(p,s): |value| < 10^(p-s), finite
	// limitVarcharArray, limitBpcharArray: varchar(n)[], char(n)[]: each
	// element as varchar(n), char(n) (an explicit cast cuts each too).
	limitVarcharArray
	limitBpcharArray
	// limitBitArray, limitVarbitArray: bit(n)[], varbit(n)[]: each element
	// as bit(n), varbit(n) ('{101}'::bit(2)[] is '{10}').
	limitBitArray
	limitVarbitArray
	// limitBytes: name, whose input function cuts a longer value
	// silently (to 63 bytes): at most n bytes.
	limitBytes
	// limitChar: "char", whose input function keeps the first byte of a
	// value: as its output function writes it, a value of at most one
	// byte, or \ooo for a byte above 127.
	limitChar
	// limitIntervalFields: an interval restricted to fields without
	// SECOND (interval day, interval year to month, interval hour to
	// minute, ...), whose input function and casts drop what the fields
	// do not hold ('1 day 3 hours' into interval day is '1 day') without a
	// word: nothing beyond the fields (n, the typmod's range mask).
	limitIntervalFields
)

// Array types whose elements' limits are checked.
const (
	oidBpcharArray  = 1014
	oidVarcharArray = 1015
	oidBitArray     = 1561
	oidVarbitArray  = 1563
	// nameBytes is the most a name holds (NAMEDATALEN - 1).
	nameBytes = 63
	// An interval typmod's range: PostgreSQL's INTERVAL_MASK of each
	// field, and of all of them.
	intervalYear      = 1 << 2
	intervalMonth     = 1 << 1
	intervalDay       = 1 << 3
	intervalHour      = 1 << 10
	intervalMinute    = 1 << 11
	intervalSecond    = 1 << 12
	intervalFullRange = 0x7fff
)

// columnLimit is a column's length or precision limit.
type columnLimit struct {
	kind limitKind
	// n is the length limit; for numeric, precision and scale.
	n, precision, scale int
	// typ is the column's type as the catalog writes it, for messages.
	typ string
}

// limitOf reads the limit of a built-in column type from its modifier.
func limitOf(c catalog.Column) columnLimit {
	l := columnLimit{typ: c.Type}
	switch c.TypeOID {
	case oidName:
		l.kind, l.n = limitBytes, nameBytes
		return l
	case oidInterval:
		// The typmod is the range mask << 16 | the precision; a range
		// with SECOND only rounds to the precision (a change PostgreSQL
		// documents, as a timestamp's), and holds every other field.
		if rng := (int(c.TypeMod) >> 16) & intervalFullRange; c.TypeMod >= 0 && rng != intervalFullRange && rng&intervalSecond == 0 {
			l.kind, l.n = limitIntervalFields, rng
		}
		return l
	}
	if c.TypeOID == oidChar || (c.IsDomain() && c.BaseTypeOID == oidChar) {
		l.kind = limitChar
		return l
	}
	if c.TypeMod < 0 || c.TypeOID >= firstUserOID {
		return l
	}
	switch c.TypeOID {
	case oidVarchar:
		l.kind, l.n = limitVarchar, int(c.TypeMod)-4
	case oidBpchar:
		l.kind, l.n = limitBpchar, int(c.TypeMod)-4
	case oidBit:
		l.kind, l.n = limitBit, int(c.TypeMod)
	case oidVarbit:
		l.kind, l.n = limitVarbit, int(c.TypeMod)
	case oidVarcharArray:
		l.kind, l.n = limitVarcharArray, int(c.TypeMod)-4
	case oidBpcharArray:
		l.kind, l.n = limitBpcharArray, int(c.TypeMod)-4
	case oidBitArray:
		l.kind, l.n = limitBitArray, int(c.TypeMod)
	case oidVarbitArray:
		l.kind, l.n = limitVarbitArray, int(c.TypeMod)
	case oidNumeric:
		m := int(c.TypeMod) - 4
		l.kind, l.precision = limitNumeric, (m>>16)&0xffff
		// The scale is an 11-bit two's complement number (PostgreSQL 15
		// allows negative scales).
		l.scale = ((m & 0x7ff) ^ 1024) - 1024
	}
	return l
}

// castType is the type a source value is cast to before it is compared
// with the column's: the column's type with the limit lifted.
func (l columnLimit) castType() string {
	switch l.kind {
	case limitVarchar:
		return "character varying"
	case limitBpchar:
		return "bpchar"
	case limitBit, limitVarbit:
		return "bit varying"
	case limitNumeric:
		return "numeric"
	case limitVarcharArray:
		return "character varying[]"
	case limitBpcharArray:
		return "bpchar[]"
	case limitBitArray:
		// "bit" quoted is the type without a length (unquoted, bit is
		// bit(1)); its elements keep bit's type OID, as the column's do.
		return `"bit"[]`
	case limitVarbitArray:
		return "bit varying[]"
	case limitBytes:
		return "text"
	case limitIntervalFields:
		return "interval"
	}
	return ""
}

// castExpr casts expr to the column's type as the source side of the diff
// reads it. A char(n) value that fits is padded as the column stores it; a
// numeric value is rounded to the column's scale as the column would.
func (l columnLimit) castExpr(expr string) string {
	switch l.kind {
	case limitBpchar:
		return fmt.Sprintf("(CASE WHEN length((%s)::bpchar) <= %d THEN (%s)::character(%d) ELSE (%s)::bpchar END)", expr, l.n, expr, l.n, expr)
	case limitNumeric:
		return fmt.Sprintf("round((%s)::numeric, %d)", expr, l.scale)
	case limitBpcharArray:
		return fmt.Sprintf("(CASE WHEN NOT EXISTS (SELECT 1 FROM unnest((%s)::bpchar[]) AS e WHERE length(e) > %d) THEN (%s)::character(%d)[] ELSE (%s)::bpchar[] END)", expr, l.n, expr, l.n, expr)
	}
	return fmt.Sprintf("(%s)::%s", expr, l.castType())
}

// check returns why the destination would refuse v (a binary value of the
// cast type), or "".
func (l columnLimit) check(v []byte) string {
	switch l.kind {
	case limitVarchar:
		if utf8.RuneCount(v) > l.n {
			return fmt.Sprintf("value too long for type %s", l.typ)
		}
	case limitBpchar:
		end := len(v)
		for end > 0 && v[end-1] == ' ' {
			end--
		}
		if utf8.RuneCount(v[:end]) > l.n {
			return fmt.Sprintf("value too long for type %s", l.typ)
		}
	case limitBit, limitVarbit:
		if len(v) < 4 {
			return ""
		}
		bits := int(int32(binary.BigEndian.Uint32(v)))
		if l.kind == limitBit && bits != l.n {
			return fmt.Sprintf("bit string length does not match type %s", l.typ)
		}
		if l.kind == limitVarbit && bits > l.n {
			return fmt.Sprintf("bit string too long for type %s", l.typ)
		}
	case limitNumeric:
		return l.checkNumeric(v)
	case limitBytes:
		if len(v) > l.n {
			return fmt.Sprintf("value too long for type %s: it holds at most %s, and a write would cut the rest off", l.typ, plural.Count(l.n, "byte"))
		}
	case limitChar:
		if !isCharText(v) {
			return fmt.Sprintf(`value too long for type %s: it holds one byte (an ASCII character, or \ooo for a byte above 127), and a write would keep only the first`, l.typ)
		}
	case limitIntervalFields:
		if len(v) == 16 && intervalCut(l.n, int64(binary.BigEndian.Uint64(v)), int32(binary.BigEndian.Uint32(v[8:])), int32(binary.BigEndian.Uint32(v[12:]))) {
			return fmt.Sprintf("value does not fit type %s: it holds only those fields, and a write would drop the rest", l.typ)
		}
	case limitVarcharArray, limitBpcharArray, limitBitArray, limitVarbitArray:
		elem := columnLimit{kind: l.elementKind(), n: l.n, typ: l.typ}
		why := ""
		eachArrayElement(v, func(e []byte) bool {
			why = elem.check(e)
			return why == ""
		})
		return why
	}
	return ""
}

// isCharText reports whether v is a value of "char" as its output function
// writes it, which its input function reads back unchanged: empty, one
// ASCII byte, or a backslash and three octal digits of a byte above 127.
func isCharText(v []byte) bool {
	if len(v) <= 1 {
		return len(v) == 0 || v[0] < utf8.RuneSelf
	}
	return len(v) == 4 && v[0] == '\\' && (v[1] == '2' || v[1] == '3') &&
		v[2] >= '0' && v[2] <= '7' && v[3] >= '0' && v[3] <= '7'
}

// elementKind is the limit of each element of an array limit.
func (l columnLimit) elementKind() limitKind {
	switch l.kind {
	case limitVarcharArray:
		return limitVarchar
	case limitBpcharArray:
		return limitBpchar
	case limitBitArray:
		return limitBit
	case limitVarbitArray:
		return limitVarbit
	}
	return noLimit
}

// eachArrayElement calls fn with each non-NULL element of a binary array
// (ndim, has-null flag, element type, ndim (size, lower bound) pairs, then
// each element's length, -1 for NULL, and bytes), until fn returns false.
// A malformed array ends the walk.
func eachArrayElement(v []byte, fn func(e []byte) bool) {
	if len(v) < 12 {
		return
	}
	ndim := int(int32(binary.BigEndian.Uint32(v)))
	if ndim <= 0 || ndim > 6 || len(v) < 12+8*ndim {
		return
	}
	p := 12 + 8*ndim
	for p+4 <= len(v) {
		n := int(int32(binary.BigEndian.Uint32(v[p:])))
		p += 4
		if n < 0 {
			continue
		}
		if p+n > len(v) || !fn(v[p:p+n]) {
			return
		}
		p += n
	}
}

// Numeric binary format: ndigits, weight, sign, dscale (int16 each), then
// ndigits base-10000 digits.
const (
	numericPosInf = 0xD000
	numericNegInf = 0xF000
)

// checkNumeric refuses infinities and values of p-s or more integer digits
// (the value was already rounded to the scale).
func (l columnLimit) checkNumeric(v []byte) string {
	if len(v) < 8 {
		return ""
	}
	ndigits := int(int16(binary.BigEndian.Uint16(v)))
	weight := int(int16(binary.BigEndian.Uint16(v[2:])))
	sign := binary.BigEndian.Uint16(v[4:])
	if sign == numericPosInf || sign == numericNegInf {
		return fmt.Sprintf("infinity does not fit %s", l.typ)
	}
	if ndigits == 0 || len(v) < 10 {
		return ""
	}
	// The first digit is non-zero: 10^(e-1) <= |value| < 10^e.
	d0 := int(binary.BigEndian.Uint16(v[8:]))
	e := weight * 4
	for d := d0; d > 0; d /= 10 {
		e++
	}
	if e > l.precision-l.scale {
		return fmt.Sprintf("numeric field overflow: %s holds less than 10^%d", l.typ, l.precision-l.scale)
	}
	return ""
}

// intervalCut reports whether PostgreSQL's AdjustIntervalForTypmod changes
// the interval (time in microseconds, days, months) for the range mask
// rng (one without SECOND): it zeroes or truncates toward zero what the
// fields do not hold.
func intervalCut(rng int, time int64, days, months int32) bool {
	const hour, minute = 3600 * 1000000, 60 * 1000000
	switch rng {
	case intervalYear:
		return months%12 != 0 || days != 0 || time != 0
	case intervalMonth, intervalYear | intervalMonth:
		return days != 0 || time != 0
	case intervalDay:
		return time != 0
	case intervalHour, intervalDay | intervalHour:
		return time%hour != 0
	case intervalMinute, intervalHour | intervalMinute, intervalDay | intervalHour | intervalMinute:
		return time%minute != 0
	}
	return false
}
