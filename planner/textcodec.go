package planner

import (
	"encoding/binary"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// Text codecs turn a value written as text into the binary value the
// destination's own input function would give — for the forms they know,
// which are the forms DuckDB writes (internal/duckdbsource). A codec
// refuses anything else (ok false), and the batch holding it is converted
// on the destination instead (convertBatch), which stays the reference:
// a codec may only ever answer what the server would, byte for byte, or
// not answer. TestTextCodecsMatchServer holds them to it.
//
// They spare a duckdb source the round trips of converting every batch on
// the destination, which would otherwise dominate its plan.

// textCodec converts one non-NULL text value, appending it to dst.
type textCodec func(dst []byte, s string) (v []byte, ok bool)

// textCodecs returns one codec per column of the layout, or nil when some
// column has none: types that are not built in, char(n) and bit strings,
// keys with a canonical text column, a destination whose encoding is not
// UTF-8 (text would convert differently).
func (l *layout) textCodecs(serverEncoding string) []textCodec {
	if serverEncoding != "UTF8" || l.width() != len(l.Cols) {
		return nil
	}
	out := make([]textCodec, len(l.Cols))
	for i, c := range l.Cols {
		if c.AsText {
			return nil
		}
		switch c.limit.kind {
		case noLimit:
			out[i] = codecForColumn(c.Catalog.TypeOID, c.Catalog.TypeMod)
		case limitVarchar:
			out[i] = textValue
		case limitNumeric:
			if c.limit.scale >= 0 {
				scale := c.limit.scale
				out[i] = func(dst []byte, s string) ([]byte, bool) { return numericValue(dst, s, scale) }
			}
		}
		if out[i] == nil {
			return nil
		}
	}
	return out
}

// codecForColumn is codecFor for a column of type oid with the type
// modifier typmod: a timestamp(p) or timestamptz(p) column rounds a value
// to its p fractional digits as its input function does (an explicit cast
// or a write rounds it so too), so that what the diff compares is what the
// column stores.
func codecForColumn(oid uint32, typmod int32) textCodec {
	switch oid {
	case oidTimestamp, oidTimestamptz:
		if typmod >= 0 && typmod < 6 {
			tz, precision := oid == oidTimestamptz, int(typmod)
			return func(dst []byte, s string) ([]byte, bool) { return timestampRounded(dst, s, tz, precision) }
		}
	}
	return codecFor(oid)
}

func codecFor(oid uint32) textCodec {
	switch oid {
	case oidText, oidVarchar:
		return textValue
	case oidInt2:
		return intValue(16)
	case oidInt4:
		return intValue(32)
	case oidInt8:
		return intValue(64)
	case oidBool:
		return boolValue
	case oidFloat4:
		return floatValue(32)
	case oidFloat8:
		return floatValue(64)
	case oidDate:
		return dateValue
	case oidTimestamp:
		return func(dst []byte, s string) ([]byte, bool) { return timestampValue(dst, s, false) }
	case oidTimestamptz:
		return func(dst []byte, s string) ([]byte, bool) { return timestampValue(dst, s, true) }
	case oidUUID:
		return uuidValue
	case oidNumeric:
		return func(dst []byte, s string) ([]byte, bool) { return numericValue(dst, s, -1) }
	case oidJSONB:
		return jsonbValue
	}
	return nil
}

// textValue: valid UTF-8 without NUL is the value itself.
func textValue(dst []byte, s string) ([]byte, bool) {
	if !utf8.ValidString(s) || strings.IndexByte(s, 0) >= 0 {
		return nil, false
	}
	return append(dst, s...), true
}

// intValue: an optional '-' and decimal digits, no leading zeros (as
// DuckDB writes integers), within the type's range.
func intValue(bits int) textCodec {
	return func(dst []byte, s string) ([]byte, bool) {
		d := strings.TrimPrefix(s, "-")
		if d == "" || len(d) > 19 || (d[0] == '0' && len(d) > 1) || !allDigits(d) {
			return nil, false
		}
		n, err := strconv.ParseInt(s, 10, bits)
		if err != nil {
			return nil, false
		}
		switch bits {
		case 16:
			return binary.BigEndian.AppendUint16(dst, uint16(n)), true
		case 32:
			return binary.BigEndian.AppendUint32(dst, uint32(n)), true
		}
		return binary.BigEndian.AppendUint64(dst, uint64(n)), true
	}
}

func allDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func boolValue(dst []byte, s string) ([]byte, bool) {
	switch s {
	case "true":
		return append(dst, 1), true
	case "false":
		return append(dst, 0), true
	}
	return nil, false
}

// floatValue: a finite decimal number, correctly rounded as PostgreSQL's
// strtod does; infinities, NaN, exponents out of range are left to the
// server.
func floatValue(bits int) textCodec {
	return func(dst []byte, s string) ([]byte, bool) {
		if s == "" || !isPlainNumber(s, true) {
			return nil, false
		}
		f, err := strconv.ParseFloat(s, bits)
		if err != nil || math.IsInf(f, 0) || (f == 0 && strings.ContainsAny(strings.TrimLeft(s, "-0."), "123456789")) {
			// Overflow, and underflow to zero, are errors for PostgreSQL.
			return nil, false
		}
		if bits == 32 {
			return binary.BigEndian.AppendUint32(dst, math.Float32bits(float32(f))), true
		}
		return binary.BigEndian.AppendUint64(dst, math.Float64bits(f)), true
	}
}

// isPlainNumber: [-]digits[.digits][e[+-]digits] (the exponent only when
// exp), nothing else.
func isPlainNumber(s string, exp bool) bool {
	i := 0
	if i < len(s) && s[i] == '-' {
		i++
	}
	start := i
	for i < len(s) && s[i] >= '0' && s[i] <= '9' {
		i++
	}
	if i == start {
		return false
	}
	if i < len(s) && s[i] == '.' {
		i++
		f := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == f {
			return false
		}
	}
	if exp && i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		e := i
		for i < len(s) && s[i] >= '0' && s[i] <= '9' {
			i++
		}
		if i == e {
			return false
		}
	}
	return i == len(s)
}

// pgEpochDays is 2000-01-01, PostgreSQL's epoch, in days since 1970-01-01.
const pgEpochDays = 10957

// dateValue: YYYY-MM-DD of a year 1..9999.
func dateValue(dst []byte, s string) ([]byte, bool) {
	days, ok := parseDate(s)
	if !ok {
		return nil, false
	}
	return binary.BigEndian.AppendUint32(dst, uint32(int32(days-pgEpochDays))), true
}

// parseDate reads YYYY-MM-DD into days since 1970-01-01.
func parseDate(s string) (int64, bool) {
	if len(s) != 10 || s[4] != '-' || s[7] != '-' || !allDigits(s[:4]) || !allDigits(s[5:7]) || !allDigits(s[8:]) {
		return 0, false
	}
	y, _ := strconv.Atoi(s[:4])
	m, _ := strconv.Atoi(s[5:7])
	d, _ := strconv.Atoi(s[8:])
	if y < 1 || m < 1 || m > 12 || d < 1 || d > daysIn(y, m) {
		return 0, false
	}
	return daysFromCivil(y, m, d), true
}

func daysIn(y, m int) int {
	switch m {
	case 4, 6, 9, 11:
		return 30
	case 2:
		if y%4 == 0 && (y%100 != 0 || y%400 == 0) {
			return 29
		}
		return 28
	}
	return 31
}

// daysFromCivil is days since 1970-01-01 of a proleptic Gregorian date.
func daysFromCivil(y, m, d int) int64 {
	if m <= 2 {
		y--
	}
	era := y / 400
	yoe := y - era*400
	mp := (m + 9) % 12
	doy := (153*mp+2)/5 + d - 1
	doe := yoe*365 + yoe/4 - yoe/100 + doy
	return int64(era*146097 + doe - 719468)
}

// timestampValue: YYYY-MM-DD HH:MM:SS[.f{1,6}], for timestamptz followed
// by +00 (DuckDB writes them at UTC).
func timestampValue(dst []byte, s string, tz bool) ([]byte, bool) {
	t, ok := timestampMicros(s, tz)
	if !ok {
		return nil, false
	}
	return binary.BigEndian.AppendUint64(dst, uint64(t)), true
}

// timestampMicros is the timestamp of s (as timestampValue reads it) in
// microseconds since 2000-01-01, PostgreSQL's binary form.
func timestampMicros(s string, tz bool) (int64, bool) {
	if tz {
		var ok bool
		if s, ok = strings.CutSuffix(s, "+00"); !ok {
			return 0, false
		}
	}
	if len(s) < 19 || s[10] != ' ' || s[13] != ':' || s[16] != ':' {
		return 0, false
	}
	days, ok := parseDate(s[:10])
	if !ok || !allDigits(s[11:13]) || !allDigits(s[14:16]) || !allDigits(s[17:19]) {
		return 0, false
	}
	h, _ := strconv.Atoi(s[11:13])
	mi, _ := strconv.Atoi(s[14:16])
	sec, _ := strconv.Atoi(s[17:19])
	if h > 23 || mi > 59 || sec > 59 {
		return 0, false
	}
	var micros int64
	if frac := s[19:]; frac != "" {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 7 || !allDigits(frac[1:]) {
			return 0, false
		}
		f := frac[1:] + strings.Repeat("0", 7-len(frac))
		micros, _ = strconv.ParseInt(f, 10, 64)
	}
	return ((days-pgEpochDays)*86400+int64(h*3600+mi*60+sec))*1000000 + micros, true
}

// timestampRounded is timestampValue rounded to precision fractional
// digits (0..5) as PostgreSQL's AdjustTimestampForTypmod does: half away
// from zero, on the microseconds since 2000-01-01.
func timestampRounded(dst []byte, s string, tz bool, precision int) ([]byte, bool) {
	t, ok := timestampMicros(s, tz)
	if !ok {
		return nil, false
	}
	scale := int64(1)
	for i := precision; i < 6; i++ {
		scale *= 10
	}
	if t >= 0 {
		t = (t + scale/2) / scale * scale
	} else {
		t = -((-t + scale/2) / scale * scale)
	}
	return binary.BigEndian.AppendUint64(dst, uint64(t)), true
}

// uuidValue: the canonical lower-case form.
func uuidValue(dst []byte, s string) ([]byte, bool) {
	if len(s) != 36 || s[8] != '-' || s[13] != '-' || s[18] != '-' || s[23] != '-' {
		return nil, false
	}
	out := dst
	for i := 0; i < 36; i++ {
		if i == 8 || i == 13 || i == 18 || i == 23 {
			continue
		}
		hi, ok1 := hexNibble(s[i])
		lo, ok2 := hexNibble(s[i+1])
		if !ok1 || !ok2 {
			return nil, false
		}
		out = append(out, hi<<4|lo)
		i++
	}
	return out, true
}

func hexNibble(c byte) (byte, bool) {
	switch {
	case c >= '0' && c <= '9':
		return c - '0', true
	case c >= 'a' && c <= 'f':
		return c - 'a' + 10, true
	}
	return 0, false
}

// numericValue: [-]digits[.digits] as numeric's binary form, rounded half
// away from zero to scale digits as round(x, scale) does (scale < 0: as
// written).
func numericValue(dst []byte, s string, scale int) ([]byte, bool) {
	if len(s) > 100 || !isPlainNumber(s, false) {
		return nil, false
	}
	neg := s[0] == '-'
	s = strings.TrimPrefix(s, "-")
	intPart, frac, _ := strings.Cut(s, ".")
	if scale >= 0 {
		if len(frac) > scale {
			up := frac[scale] >= '5'
			frac = frac[:scale]
			if up {
				// Add one unit in the last place.
				digits := []byte(intPart + frac)
				i := len(digits) - 1
				for ; i >= 0; i-- {
					if digits[i] == '9' {
						digits[i] = '0'
						continue
					}
					digits[i]++
					break
				}
				all := string(digits)
				if i < 0 {
					all = "1" + all
				}
				intPart, frac = all[:len(all)-scale], all[len(all)-scale:]
			}
		}
		frac += strings.Repeat("0", scale-len(frac))
	}
	dscale := len(frac)
	intPart = strings.TrimLeft(intPart, "0")
	// Base-10000 groups aligned on the decimal point.
	ip := strings.Repeat("0", (4-len(intPart)%4)%4) + intPart
	fp := frac + strings.Repeat("0", (4-len(frac)%4)%4)
	var groups []uint16
	for i := 0; i < len(ip); i += 4 {
		n, _ := strconv.Atoi(ip[i : i+4])
		groups = append(groups, uint16(n))
	}
	weight := len(groups) - 1
	for i := 0; i < len(fp); i += 4 {
		n, _ := strconv.Atoi(fp[i : i+4])
		groups = append(groups, uint16(n))
	}
	// Strip leading and trailing zero groups, as PostgreSQL stores it.
	for len(groups) > 0 && groups[0] == 0 {
		groups = groups[1:]
		weight--
	}
	for len(groups) > 0 && groups[len(groups)-1] == 0 {
		groups = groups[:len(groups)-1]
	}
	sign := uint16(0)
	if len(groups) == 0 {
		weight = 0
	} else if neg {
		sign = 0x4000
	}
	b := dst
	b = binary.BigEndian.AppendUint16(b, uint16(len(groups)))
	b = binary.BigEndian.AppendUint16(b, uint16(int16(weight)))
	b = binary.BigEndian.AppendUint16(b, sign)
	b = binary.BigEndian.AppendUint16(b, uint16(dscale))
	for _, g := range groups {
		b = binary.BigEndian.AppendUint16(b, g)
	}
	return b, true
}

// jsonbValue: jsonb's binary form, version 1 and the text jsonb_out
// writes: keys of an object ordered by length, then bytes, the last of
// duplicate keys kept, ", " and ": " between items, strings escaped as
// escape_json does, numbers as numeric writes them. Numbers with an
// exponent, \u0000, lone surrogates and anything that is not JSON are
// left to the server.
func jsonbValue(dst []byte, s string) ([]byte, bool) {
	if !utf8.ValidString(s) {
		return nil, false
	}
	p := jsonNorm{s: s}
	out, ok := p.value(append(dst, 1))
	p.space()
	if !ok || p.i != len(s) {
		return nil, false
	}
	return out, true
}

// jsonNorm parses JSON text and writes it as jsonb_out does.
type jsonNorm struct {
	s     string
	i     int
	depth int
}

func (p *jsonNorm) space() {
	for p.i < len(p.s) {
		switch p.s[p.i] {
		case ' ', '\t', '\n', '\r':
			p.i++
		default:
			return
		}
	}
}

// jsonPair is one member of an object, its value already written.
type jsonPair struct {
	key string
	val []byte
}

// next reads what follows a member of an object or an element of an
// array: a comma (more follows) or the closing bracket (the end). ok is
// false for anything else.
func (p *jsonNorm) next(closing byte) (more, ok bool) {
	p.space()
	if p.i >= len(p.s) {
		return false, false
	}
	switch p.s[p.i] {
	case ',':
		p.i++
		return true, true
	case closing:
		p.i++
		return false, true
	}
	return false, false
}

func (p *jsonNorm) value(b []byte) ([]byte, bool) {
	p.space()
	if p.i >= len(p.s) || p.depth > 100 {
		return nil, false
	}
	switch c := p.s[p.i]; {
	case c == '{':
		p.i++
		p.depth++
		defer func() { p.depth-- }()
		var pairs []jsonPair
		p.space()
		if p.i < len(p.s) && p.s[p.i] == '}' {
			p.i++
			return append(b, "{}"...), true
		}
		for {
			p.space()
			key, ok := p.str()
			if !ok {
				return nil, false
			}
			p.space()
			if p.i >= len(p.s) || p.s[p.i] != ':' {
				return nil, false
			}
			p.i++
			val, ok := p.value(nil)
			if !ok {
				return nil, false
			}
			pairs = append(pairs, jsonPair{key, val})
			more, ok := p.next('}')
			if !ok {
				return nil, false
			}
			if !more {
				break
			}
		}
		slices.SortStableFunc(pairs, func(a, b jsonPair) int {
			if len(a.key) != len(b.key) {
				return len(a.key) - len(b.key)
			}
			return strings.Compare(a.key, b.key)
		})
		b = append(b, '{')
		first := true
		for i, pr := range pairs {
			if i+1 < len(pairs) && pairs[i+1].key == pr.key {
				continue // the last of duplicate keys is kept
			}
			if !first {
				b = append(b, ", "...)
			}
			first = false
			b = appendJSONString(b, pr.key)
			b = append(b, ": "...)
			b = append(b, pr.val...)
		}
		return append(b, '}'), true
	case c == '[':
		p.i++
		p.depth++
		defer func() { p.depth-- }()
		b = append(b, '[')
		p.space()
		if p.i < len(p.s) && p.s[p.i] == ']' {
			p.i++
			return append(b, ']'), true
		}
		for n := 0; ; n++ {
			if n > 0 {
				b = append(b, ", "...)
			}
			var ok bool
			if b, ok = p.value(b); !ok {
				return nil, false
			}
			more, ok := p.next(']')
			if !ok {
				return nil, false
			}
			if !more {
				return append(b, ']'), true
			}
		}
	case c == '"':
		str, ok := p.str()
		if !ok {
			return nil, false
		}
		return appendJSONString(b, str), true
	case c == '-' || (c >= '0' && c <= '9'):
		return p.number(b)
	}
	for _, lit := range []string{"true", "false", "null"} {
		if strings.HasPrefix(p.s[p.i:], lit) {
			p.i += len(lit)
			return append(b, lit...), true
		}
	}
	return nil, false
}

// number writes a JSON number as numeric_out does: 0 without a sign.
func (p *jsonNorm) number(b []byte) ([]byte, bool) {
	start := p.i
	neg := p.s[p.i] == '-'
	if neg {
		p.i++
	}
	ip := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	intPart := p.s[ip:p.i]
	if intPart == "" || (len(intPart) > 1 && intPart[0] == '0') {
		return nil, false
	}
	frac := ""
	if p.i < len(p.s) && p.s[p.i] == '.' {
		p.i++
		fp := p.i
		for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
			p.i++
		}
		if p.i == fp {
			return nil, false
		}
		frac = p.s[fp:p.i]
	}
	if p.i < len(p.s) && (p.s[p.i] == 'e' || p.s[p.i] == 'E') || p.i-start > 1000 {
		return nil, false
	}
	if neg && (intPart != "0" || strings.Trim(frac, "0") != "") {
		b = append(b, '-')
	}
	b = append(b, intPart...)
	if frac != "" {
		b = append(append(b, '.'), frac...)
	}
	return b, true
}

// str reads a JSON string, decoding its escapes.
func (p *jsonNorm) str() (string, bool) {
	if p.i >= len(p.s) || p.s[p.i] != '"' {
		return "", false
	}
	p.i++
	start := p.i
	// The common case: no escape.
	for p.i < len(p.s) {
		c := p.s[p.i]
		if c == '"' {
			v := p.s[start:p.i]
			p.i++
			return v, true
		}
		if c == '\\' || c < 0x20 {
			break
		}
		p.i++
	}
	var sb strings.Builder
	sb.WriteString(p.s[start:p.i])
	for p.i < len(p.s) {
		c := p.s[p.i]
		switch {
		case c == '"':
			p.i++
			return sb.String(), true
		case c < 0x20:
			return "", false
		case c != '\\':
			sb.WriteByte(c)
			p.i++
			continue
		}
		if p.i+1 >= len(p.s) {
			return "", false
		}
		e := p.s[p.i+1]
		p.i += 2
		switch e {
		case '"', '\\', '/':
			sb.WriteByte(e)
		case 'b':
			sb.WriteByte('\b')
		case 'f':
			sb.WriteByte('\f')
		case 'n':
			sb.WriteByte('\n')
		case 'r':
			sb.WriteByte('\r')
		case 't':
			sb.WriteByte('\t')
		case 'u':
			r, ok := p.hex4()
			if !ok || r == 0 {
				return "", false
			}
			if utf16.IsSurrogate(r) {
				if r >= 0xdc00 || !strings.HasPrefix(p.s[p.i:], "\\u") {
					return "", false
				}
				p.i += 2
				r2, ok := p.hex4()
				if !ok {
					return "", false
				}
				if r = utf16.DecodeRune(r, r2); r == utf8.RuneError {
					return "", false
				}
			}
			sb.WriteRune(r)
		default:
			return "", false
		}
	}
	return "", false
}

func (p *jsonNorm) hex4() (rune, bool) {
	if p.i+4 > len(p.s) {
		return 0, false
	}
	n, err := strconv.ParseUint(p.s[p.i:p.i+4], 16, 32)
	if err != nil {
		return 0, false
	}
	p.i += 4
	return rune(n), true
}

// appendJSONString quotes s as PostgreSQL's escape_json does.
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch c {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\b':
			b = append(b, `\b`...)
		case '\f':
			b = append(b, `\f`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			if c < 0x20 {
				b = append(b, `\u00`...)
				b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&15])
			} else {
				b = append(b, c)
			}
		}
	}
	return append(b, '"')
}

// convertInGo converts a batch with the layout's codecs; ok is false when
// a value has none, and the batch is then the server's to convert.
func (p *Prepared) convertInGo(batch [][]csvField, idx []int) ([]*Row, bool) {
	rows := make([]*Row, len(batch))
	return rows, convertWith(p.codecs, batch, idx, rows)
}

// convertWith converts batch into rows with codecs; false when a value has
// no codec. Each row's values share one buffer.
func convertWith(codecs []textCodec, batch [][]csvField, idx []int, rows []*Row) bool {
	ends := make([]int, len(codecs))
	for r, rec := range batch {
		n := 0
		for c := range codecs {
			n += len(rec[idx[c]].Value) + 8
		}
		buf := make([]byte, 0, n)
		for c, codec := range codecs {
			f := rec[idx[c]]
			if f.Null {
				ends[c] = -1
				continue
			}
			var ok bool
			if buf, ok = codec(buf, f.Value); !ok {
				return false
			}
			ends[c] = len(buf)
		}
		vals := make([][]byte, len(codecs))
		start := 0
		for c, end := range ends {
			if end < 0 {
				continue // NULL
			}
			vals[c] = buf[start:end:end] // never nil: buf is not
			start = end
		}
		rows[r] = &Row{Values: vals, buf: buf}
	}
	return true
}
