package planner

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"math"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// The text output of PostgreSQL's built-in types, from their binary form,
// for the types whose text pgx writes otherwise than the server does
// (pgx's text encoders are for sending values, not for showing them):
// under rowform's session settings (SessionSettings: DateStyle ISO,
// IntervalStyle postgres, extra_float_digits 3, TimeZone UTC), each
// function returns what the server's output function prints, or ok false
// for a binary value it does not recognize (the caller falls back).

// Type OIDs of the types rendered here.
const (
	oidJSON           = 114
	oidBox            = 603
	oidTsquery        = 3615
	oidInt2vector     = 22
	oidOidvector      = 30
	oidCIDR           = 650
	oidInet           = 869
	oidMoney          = 790
	oidTime           = 1083
	oidTimetz         = 1266
	oidInterval       = 1186
	oidPgLSN          = 3220
	oidInt4range      = 3904
	oidNumrange       = 3906
	oidTsrange        = 3908
	oidTstzrange      = 3910
	oidDaterange      = 3912
	oidInt8range      = 3926
	oidInt4multirange = 4451
	oidNummultirange  = 4532
	oidTsmultirange   = 4533
	oidTstzmultirange = 4534
	oidDatemultirange = 4535
	oidInt8multirange = 4536
)

// rangeSubtypes are the element types of the built-in ranges and
// multiranges.
var rangeSubtypes = map[uint32]uint32{
	oidInt4range: oidInt4, oidInt8range: oidInt8, oidNumrange: oidNumeric,
	oidTsrange: oidTimestamp, oidTstzrange: oidTimestamptz, oidDaterange: oidDate,
}

var multirangeRanges = map[uint32]uint32{
	oidInt4multirange: oidInt4range, oidInt8multirange: oidInt8range, oidNummultirange: oidNumrange,
	oidTsmultirange: oidTsrange, oidTstzmultirange: oidTstzrange, oidDatemultirange: oidDaterange,
}

// serverText renders v, a binary value of type oid, as the server's text
// output; ok is false for a type it does not know or a value it cannot
// read.
func serverText(oid uint32, v []byte) (string, bool) {
	switch oid {
	case oidJSON:
		return string(v), true // json's binary form is its text
	case oidNumeric:
		return numericText(v)
	case oidFloat8:
		if len(v) != 8 {
			return "", false
		}
		return floatText(math.Float64frombits(binary.BigEndian.Uint64(v)), 64), true
	case oidFloat4:
		if len(v) != 4 {
			return "", false
		}
		return floatText(float64(math.Float32frombits(binary.BigEndian.Uint32(v))), 32), true
	case oidDate:
		return dateText(v)
	case oidTimestamp, oidTimestamptz:
		return timestampText(v, oid == oidTimestamptz)
	case oidTime:
		if len(v) != 8 {
			return "", false
		}
		return clockText(int64(binary.BigEndian.Uint64(v))), true
	case oidTimetz:
		if len(v) != 12 {
			return "", false
		}
		west := int32(binary.BigEndian.Uint32(v[8:]))
		return clockText(int64(binary.BigEndian.Uint64(v))) + zoneText(-int64(west)), true
	case oidInterval:
		return intervalText(v)
	case oidInet, oidCIDR:
		return inetText(v, oid == oidCIDR)
	case oidPgLSN:
		if len(v) != 8 {
			return "", false
		}
		n := binary.BigEndian.Uint64(v)
		return fmt.Sprintf("%X/%X", n>>32, uint32(n)), true
	case oidMoney:
		if len(v) != 8 {
			return "", false
		}
		return moneyText(int64(binary.BigEndian.Uint64(v))), true
	case oidTsquery:
		return tsqueryText(v)
	case oidInt2vector, oidOidvector:
		// An array of one dimension starting at 0, written with spaces
		// between.
		a, ok := arrayText(v)
		if i := strings.Index(a, "]={"); ok && strings.HasPrefix(a, "[0:") && i > 0 {
			a = a[i+2:]
		}
		if !ok || !strings.HasPrefix(a, "{") || strings.Contains(a, "{{") {
			return "", false
		}
		return strings.ReplaceAll(strings.Trim(a, "{}"), ",", " "), true
	}
	if sub, ok := rangeSubtypes[oid]; ok {
		return rangeText(v, sub)
	}
	if r, ok := multirangeRanges[oid]; ok {
		return multirangeText(v, r)
	}
	return "", false
}

// numericText is numeric_out: every digit of the value's scale, NaN and
// the infinities by name.
func numericText(v []byte) (string, bool) {
	if len(v) < 8 {
		return "", false
	}
	ndigits := int(binary.BigEndian.Uint16(v))
	weight := int(int16(binary.BigEndian.Uint16(v[2:])))
	sign := binary.BigEndian.Uint16(v[4:])
	dscale := int(binary.BigEndian.Uint16(v[6:]))
	switch sign {
	case 0xC000:
		return "NaN", true
	case 0xD000:
		return "Infinity", true
	case 0xF000:
		return "-Infinity", true
	case 0, 0x4000:
	default:
		return "", false
	}
	if len(v) != 8+2*ndigits {
		return "", false
	}
	digit := func(i int) int { // base-10000 digit i, weight - i
		if i < 0 || i >= ndigits {
			return 0
		}
		return int(binary.BigEndian.Uint16(v[8+2*i:]))
	}
	var b strings.Builder
	if sign == 0x4000 {
		b.WriteByte('-')
	}
	if weight < 0 {
		b.WriteByte('0')
	} else {
		for i := 0; i <= weight; i++ {
			if i == 0 {
				b.WriteString(strconv.Itoa(digit(i)))
			} else {
				fmt.Fprintf(&b, "%04d", digit(i))
			}
		}
	}
	if dscale > 0 {
		b.WriteByte('.')
		var frac strings.Builder
		for i := weight + 1; frac.Len() < dscale; i++ {
			fmt.Fprintf(&frac, "%04d", digit(i))
		}
		b.WriteString(frac.String()[:dscale])
	}
	return b.String(), true
}

// floatText is float8out and float4out with extra_float_digits above 0:
// the shortest text that reads back as the same value, in exponent form
// when the decimal exponent is below -4 or at least the type's digits
// (15, 6).
func floatText(f float64, bits int) string {
	switch {
	case math.IsNaN(f):
		return "NaN"
	case math.IsInf(f, 1):
		return "Infinity"
	case math.IsInf(f, -1):
		return "-Infinity"
	case f == 0:
		if math.Signbit(f) {
			return "-0"
		}
		return "0"
	}
	e := strconv.FormatFloat(f, 'e', -1, bits)
	exp, _ := strconv.Atoi(e[strings.IndexByte(e, 'e')+1:])
	digits := 15
	if bits == 32 {
		digits = 6
	}
	if exp < -4 || exp >= digits {
		return e
	}
	return strconv.FormatFloat(f, 'f', -1, bits)
}

// pgEpochJulian is the Julian day of 2000-01-01, PostgreSQL's zero date.
const pgEpochJulian = 2451545

// civil is a date from a Julian day number (PostgreSQL's j2date): the
// proleptic Gregorian calendar, year 0 being 1 BC.
func civil(jd int64) (year, month, day int64) {
	julian := jd + 32044
	quad := julian / 146097
	extra := (julian-quad*146097)*4 + 3
	julian += 60 + quad*3 + extra/146097
	quad = julian / 1461
	julian -= quad * 1461
	y := julian * 4 / 1461
	if y != 0 {
		julian = (julian+305)%365 + 123
	} else {
		julian = (julian+306)%366 + 123
	}
	y += quad * 4
	year = y - 4800
	quad = julian * 2141 / 65536
	day = julian - 7834*quad/256
	month = (quad+10)%12 + 1
	return year, month, day
}

// dateParts writes year-month-day as DateStyle ISO does, and whether the
// year is BC.
func dateParts(days int64) (string, bool) {
	y, m, d := civil(days + pgEpochJulian)
	bc := y <= 0
	if bc {
		y = 1 - y
	}
	return fmt.Sprintf("%04d-%02d-%02d", y, m, d), bc
}

func bcSuffix(bc bool) string {
	if bc {
		return " BC"
	}
	return ""
}

// dateText is date_out.
func dateText(v []byte) (string, bool) {
	if len(v) != 4 {
		return "", false
	}
	days := int32(binary.BigEndian.Uint32(v))
	switch days {
	case math.MaxInt32:
		return "infinity", true
	case math.MinInt32:
		return "-infinity", true
	}
	s, bc := dateParts(int64(days))
	return s + bcSuffix(bc), true
}

// timestampText is timestamp_out and timestamptz_out (in UTC: "+00").
func timestampText(v []byte, tz bool) (string, bool) {
	if len(v) != 8 {
		return "", false
	}
	us := int64(binary.BigEndian.Uint64(v))
	switch us {
	case math.MaxInt64:
		return "infinity", true
	case math.MinInt64:
		return "-infinity", true
	}
	const day = int64(24 * time.Hour / time.Microsecond)
	days, rem := us/day, us%day
	if rem < 0 {
		days, rem = days-1, rem+day
	}
	date, bc := dateParts(days)
	s := date + " " + clockText(rem)
	if tz {
		s += "+00"
	}
	return s + bcSuffix(bc), true
}

// clockText writes microseconds since midnight as hh:mm:ss with the
// fraction's trailing zeros left out (24:00:00 is a time too).
func clockText(us int64) string {
	const sec = int64(time.Second / time.Microsecond)
	h, m, s, frac := us/(3600*sec), us/(60*sec)%60, us/sec%60, us%sec
	return fmt.Sprintf("%02d:%02d:%02d", h, m, s) + fractionText(frac)
}

// fractionText writes microseconds as ".5", ".000001", or "" for none.
func fractionText(us int64) string {
	if us == 0 {
		return ""
	}
	return "." + strings.TrimRight(fmt.Sprintf("%06d", us), "0")
}

// zoneText writes a UTC offset in seconds east as timetz does: "+05:30",
// "-08", "+05:30:15".
func zoneText(east int64) string {
	sign := "+"
	if east < 0 {
		sign, east = "-", -east
	}
	s := fmt.Sprintf("%s%02d", sign, east/3600)
	if m, sec := east/60%60, east%60; m != 0 || sec != 0 {
		s += fmt.Sprintf(":%02d", m)
		if sec != 0 {
			s += fmt.Sprintf(":%02d", sec)
		}
	}
	return s
}

// intervalText is interval_out with IntervalStyle postgres: "1 year 2 mons
// 3 days 04:05:06.789", "-1 days +02:00:00", "00:00:00" for zero.
func intervalText(v []byte) (string, bool) {
	if len(v) != 16 {
		return "", false
	}
	us := int64(binary.BigEndian.Uint64(v))
	days := int64(int32(binary.BigEndian.Uint32(v[8:])))
	months := int64(int32(binary.BigEndian.Uint32(v[12:])))
	switch {
	case us == math.MaxInt64 && days == math.MaxInt32 && months == math.MaxInt32:
		return "infinity", true // PostgreSQL 17's infinite intervals
	case us == math.MinInt64 && days == math.MinInt32 && months == math.MinInt32:
		return "-infinity", true
	case us == math.MinInt64:
		return "", false // no finite interval's time is this; its absolute value overflows
	}
	var b strings.Builder
	zero, before := true, false
	part := func(n int64, unit string) {
		if n == 0 {
			return
		}
		if !zero {
			b.WriteByte(' ')
		}
		if before && n > 0 {
			b.WriteByte('+')
		}
		b.WriteString(strconv.FormatInt(n, 10) + " " + unit)
		if n != 1 {
			b.WriteByte('s')
		}
		before, zero = n < 0, false
	}
	part(months/12, "year")
	part(months%12, "mon")
	part(days, "day")
	if zero || us != 0 {
		if !zero {
			b.WriteByte(' ')
		}
		switch {
		case us < 0:
			b.WriteByte('-')
		case before:
			b.WriteByte('+')
		}
		abs := us
		if abs < 0 {
			abs = -abs // an interval's time is at most 178,000,000 years: no overflow
		}
		const sec = int64(time.Second / time.Microsecond)
		fmt.Fprintf(&b, "%02d:%02d:%02d", abs/(3600*sec), abs/(60*sec)%60, abs/sec%60)
		b.WriteString(fractionText(abs % sec))
	}
	return b.String(), true
}

// inetText is inet_out and cidr_out: an inet holding one host is written
// without its prefix length, a cidr always with it.
func inetText(v []byte, cidr bool) (string, bool) {
	if len(v) < 4 {
		return "", false
	}
	family, bits, n := v[0], int(v[1]), int(v[3])
	if len(v) != 4+n {
		return "", false
	}
	var addr netip.Addr
	switch {
	case family == 2 && n == 4: // PGSQL_AF_INET
		addr = netip.AddrFrom4([4]byte(v[4:8]))
	case family == 3 && n == 16: // PGSQL_AF_INET6
		addr = netip.AddrFrom16([16]byte(v[4:20]))
	default:
		return "", false
	}
	s := addr.String()
	if a := addr.As16(); family == 3 && [12]byte(a[:12]) == [12]byte{} && (a[12] != 0 || a[13] != 0) {
		// An IPv4-compatible address, written as PostgreSQL writes it.
		s = "::" + netip.AddrFrom4([4]byte(a[12:])).String()
	}
	if cidr || bits != addr.BitLen() {
		s += "/" + strconv.Itoa(bits)
	}
	return s, true
}

// moneyText is cash_out in the C locale (lc_monetary, a session
// setting): "$1,234.56", "-$0.05".
func moneyText(cents int64) string {
	neg := cents < 0
	u := uint64(cents)
	if neg {
		u = -u
	}
	whole := strconv.FormatUint(u/100, 10)
	var b strings.Builder
	if neg {
		b.WriteByte('-')
	}
	b.WriteByte('$')
	for i, c := range whole {
		if i > 0 && (len(whole)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	fmt.Fprintf(&b, ".%02d", u%100)
	return b.String()
}

// Range flags of the binary form (rangetypes.h).
const (
	rangeEmpty = 0x01
	rangeLBInc = 0x02
	rangeUBInc = 0x04
	rangeLBInf = 0x08
	rangeUBInf = 0x10
)

// rangeText is range_out: "[1,5)", "empty", "(,5)", each bound as its
// type writes it and quoted when it holds a character that would be read
// as part of the range ("[\"2024-01-01 00:00:00\",infinity)").
func rangeText(v []byte, sub uint32) (string, bool) {
	if len(v) < 1 {
		return "", false
	}
	flags := v[0]
	if flags&rangeEmpty != 0 {
		return "empty", len(v) == 1
	}
	rest := v[1:]
	bound := func(inf byte) (string, bool) {
		if flags&inf != 0 {
			return "", true
		}
		if len(rest) < 4 {
			return "", false
		}
		n := int(int32(binary.BigEndian.Uint32(rest)))
		if n < 0 || len(rest) < 4+n {
			return "", false
		}
		s := RenderValue(sub, rest[4:4+n])
		rest = rest[4+n:]
		return rangeBoundText(s), true
	}
	lo, ok1 := bound(rangeLBInf)
	hi, ok2 := bound(rangeUBInf)
	if !ok1 || !ok2 || len(rest) != 0 {
		return "", false
	}
	open, close := "(", ")"
	if flags&rangeLBInc != 0 {
		open = "["
	}
	if flags&rangeUBInc != 0 {
		close = "]"
	}
	return open + lo + "," + hi + close, true
}

// rangeBoundText quotes a bound as range_bound_escape does: in double
// quotes when it is empty or holds a quote, backslash, parenthesis,
// bracket, comma or space, with quotes and backslashes doubled.
func rangeBoundText(s string) string {
	if s != "" && !strings.ContainsAny(s, "\"\\()[], \t\n\r\v\f") {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range []byte(s) {
		if c == '"' || c == '\\' {
			b.WriteByte(c)
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

// multirangeText is multirange_out: "{[1,3),[5,7)}", "{}".
func multirangeText(v []byte, rangeOID uint32) (string, bool) {
	if len(v) < 4 {
		return "", false
	}
	count := int(binary.BigEndian.Uint32(v))
	rest := v[4:]
	parts := make([]string, 0, min(count, 1024))
	for range count {
		if len(rest) < 4 {
			return "", false
		}
		n := int(int32(binary.BigEndian.Uint32(rest)))
		if n < 0 || len(rest) < 4+n {
			return "", false
		}
		s, ok := rangeText(rest[4:4+n], rangeSubtypes[rangeOID])
		if !ok {
			return "", false
		}
		parts = append(parts, s)
		rest = rest[4+n:]
	}
	if len(rest) != 0 {
		return "", false
	}
	return "{" + strings.Join(parts, ",") + "}", true
}

// arrayText is array_out for a binary array of any element type: nested
// braces per dimension, elements as their type writes them, quoted when
// array_in would read them otherwise, and "[2:3]=" in front when a
// dimension does not start at 1. ok is false when v is not an array's
// binary form.
func arrayText(v []byte) (string, bool) {
	if len(v) < 12 {
		return "", false
	}
	ndim := int(int32(binary.BigEndian.Uint32(v)))
	elem := binary.BigEndian.Uint32(v[8:])
	delim := byte(',')
	if elem == oidBox {
		delim = ';' // box's text holds commas: its arrays use semicolons
	}
	if ndim < 0 || ndim > 6 || len(v) < 12+8*ndim {
		return "", false
	}
	if ndim == 0 {
		return "{}", len(v) == 12
	}
	dims, lbounds := make([]int, ndim), make([]int, ndim)
	rest := v[12+8*ndim:]
	total := 1
	decorate := false
	for i := range ndim {
		dims[i] = int(int32(binary.BigEndian.Uint32(v[12+8*i:])))
		lbounds[i] = int(int32(binary.BigEndian.Uint32(v[16+8*i:])))
		if dims[i] < 0 || dims[i] > len(rest)/4+1 {
			return "", false
		}
		total *= dims[i]
		if total > len(rest)/4 { // each element takes at least its 4-byte length
			return "", false
		}
		decorate = decorate || lbounds[i] != 1
	}
	elems := make([]string, 0, min(total, len(rest)/4))
	for range total {
		if len(rest) < 4 {
			return "", false
		}
		n := int(int32(binary.BigEndian.Uint32(rest)))
		if n == -1 {
			elems = append(elems, "NULL")
			rest = rest[4:]
			continue
		}
		if n < 0 || len(rest) < 4+n {
			return "", false
		}
		elems = append(elems, arrayElementText(RenderValue(elem, rest[4:4+n]), delim))
		rest = rest[4+n:]
	}
	if len(rest) != 0 {
		return "", false
	}
	var b strings.Builder
	if decorate {
		for i := range ndim {
			fmt.Fprintf(&b, "[%d:%d]", lbounds[i], lbounds[i]+dims[i]-1)
		}
		b.WriteByte('=')
	}
	var write func(d int)
	write = func(d int) {
		b.WriteByte('{')
		for i := range dims[d] {
			if i > 0 {
				b.WriteByte(delim)
			}
			if d == ndim-1 {
				b.WriteString(elems[0])
				elems = elems[1:]
			} else {
				write(d + 1)
			}
		}
		b.WriteByte('}')
	}
	write(0)
	return b.String(), true
}

// arrayElementText quotes an element as array_out does: in double quotes
// when it is empty, is NULL in any case, or holds a brace, the delimiter,
// a quote, backslash or white space, with quotes and backslashes escaped.
func arrayElementText(s string, delim byte) string {
	if s != "" && !strings.EqualFold(s, "NULL") && !strings.ContainsAny(s, "{}\"\\ \t\n\r\v\f") && strings.IndexByte(s, delim) < 0 {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for _, c := range []byte(s) {
		if c == '"' || c == '\\' {
			b.WriteByte('\\')
		}
		b.WriteByte(c)
	}
	b.WriteByte('"')
	return b.String()
}

// tsqueryText is tsqueryout: the binary form's items, in prefix order
// (an operator, its right operand, then its left), written infix with
// parentheses where the operators' priorities need them, each operand
// quoted with its weights and prefix mark: "!'x' | 'y' <-> 'z'".
func tsqueryText(v []byte) (string, bool) {
	if len(v) < 4 {
		return "", false
	}
	n := int(int32(binary.BigEndian.Uint32(v)))
	if n < 0 || n > len(v) || n > 1<<16 {
		return "", false
	}
	type item struct {
		operand  string
		weight   byte
		prefix   bool
		oper     byte // 0 for an operand; 1 NOT, 2 AND, 3 OR, 4 PHRASE
		distance int
	}
	items := make([]item, 0, n)
	rest := v[4:]
	for range n {
		if len(rest) < 2 {
			return "", false
		}
		switch rest[0] {
		case 1: // QI_VAL: weight, prefix, a NUL-terminated string
			if len(rest) < 3 {
				return "", false
			}
			end := bytes.IndexByte(rest[3:], 0)
			if end < 0 {
				return "", false
			}
			items = append(items, item{weight: rest[1], prefix: rest[2] != 0, operand: string(rest[3 : 3+end])})
			rest = rest[3+end+1:]
		case 2: // QI_OPR: the operator, and a phrase's distance
			it := item{oper: rest[1]}
			rest = rest[2:]
			if it.oper < 1 || it.oper > 4 {
				return "", false
			}
			if it.oper == 4 {
				if len(rest) < 2 {
					return "", false
				}
				it.distance = int(int16(binary.BigEndian.Uint16(rest)))
				rest = rest[2:]
			}
			items = append(items, it)
		default:
			return "", false
		}
	}
	if len(rest) != 0 {
		return "", false
	}
	if n == 0 {
		return "", true
	}
	priority := [5]int{0, 4, 2, 1, 3}
	next := 0
	var infix func(parent int, rightPhrase bool) (string, bool)
	infix = func(parent int, rightPhrase bool) (string, bool) {
		if next >= len(items) {
			return "", false
		}
		it := items[next]
		next++
		if it.oper == 0 {
			var b strings.Builder
			b.WriteByte('\'')
			for _, c := range []byte(it.operand) {
				if c == '\'' || c == '\\' {
					b.WriteByte(c)
				}
				b.WriteByte(c)
			}
			b.WriteByte('\'')
			if it.weight != 0 || it.prefix {
				b.WriteByte(':')
				if it.prefix {
					b.WriteByte('*')
				}
				for i, w := range "ABCD" {
					if it.weight&(1<<(3-i)) != 0 {
						b.WriteRune(w)
					}
				}
			}
			return b.String(), true
		}
		p := priority[it.oper]
		if it.oper == 1 {
			operand, ok := infix(p, false)
			s := "!" + operand
			if p < parent {
				s = "( " + s + " )"
			}
			return s, ok
		}
		right, ok1 := infix(p, it.oper == 4)
		left, ok2 := infix(p, false)
		op := map[byte]string{2: " & ", 3: " | ", 4: " <-> "}[it.oper]
		if it.oper == 4 && it.distance != 1 {
			op = fmt.Sprintf(" <%d> ", it.distance)
		}
		s := left + op + right
		if p < parent || (it.oper == 4 && rightPhrase) {
			s = "( " + s + " )"
		}
		return s, ok1 && ok2
	}
	s, ok := infix(-1, false)
	return s, ok && next == len(items)
}
