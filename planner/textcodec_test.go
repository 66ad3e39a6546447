package planner_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestTextCodecsMatchServer holds the Go conversions of duckdb sources'
// text values to the destination's own: every value a codec converts must
// be exactly the binary value the server's input function gives (and the
// server must accept it), on hand-picked edge cases and random values.
func TestTextCodecsMatchServer(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	conn := e.DstConn().PgConn()
	rng := rand.New(rand.NewPCG(15, 15))
	type typ struct {
		oid   uint32
		scale int
		cast  string
	}
	cases := map[typ][]string{
		{20, -1, "bigint"}:   {"0", "-1", "9223372036854775807", "-9223372036854775808", "9223372036854775808", "01", "+1", " 1", "1.0", ""},
		{23, -1, "integer"}:  {"2147483647", "2147483648", "-2147483648", "-0", "12"},
		{21, -1, "smallint"}: {"32767", "32768", "-32768"},
		{16, -1, "boolean"}:  {"true", "false", "t", "TRUE", "yes"},
		{701, -1, "double precision"}: {"0", "-0", "1.5", "0.1", "1e308", "1e309", "1e-400", "inf", "nan", "-inf", "3.141592653589793", "1.7976931348623157e308",
			"4.9e-324", "2.2250738585072014e-308", "123456789012345678901234567890", "-0.0", "1E5", "1.", ".5"},
		{700, -1, "real"}:  {"0.1", "3.4028235e38", "3.5e38", "1e-46", "16777217", "-2.5"},
		{1082, -1, "date"}: {"2024-02-29", "2023-02-29", "0001-01-01", "9999-12-31", "2000-01-01", "1970-01-01", "1999-12-31", "infinity", "2024-1-01"},
		{1114, -1, "timestamp"}: {"2024-01-15 09:30:00", "2024-01-15 09:30:00.5", "2000-01-01 00:00:00", "1969-12-31 23:59:59.999999", "0001-01-01 00:00:00",
			"2024-01-15 24:00:00", "2024-01-15 09:30:00.1234567", "2024-01-15T09:30:00"},
		{1184, -1, "timestamptz"}: {"2024-01-15 09:30:00+00", "2024-01-15 09:30:00.123456+00", "1900-06-30 12:00:00+00", "2024-01-15 09:30:00+02", "2024-01-15 09:30:00"},
		{2950, -1, "uuid"}:        {"ab4d1e43-6a0c-4e7c-9b9c-4b1cb8f3a0e1", "AB4D1E43-6A0C-4E7C-9B9C-4B1CB8F3A0E1", "00000000-0000-0000-0000-000000000000", "ab4d1e436a0c4e7c9b9c4b1cb8f3a0e1"},
		{25, -1, "text"}:          {"", "abc", "é ü 日本", "a\tb\nc", "\x7f"},
		{1700, -1, "numeric"}: {"0", "-0", "0.00", "-0.00", "1.50", "12345678.9", "-0.0001", "10000", "100000000", "0.00010000", "99999999999999999999.999999999",
			"1e5", "NaN", "007", "-1", "1.", ""},
		{1700, 2, "numeric(12,2)"}: {"1.005", "1.004", "-1.005", "9.995", "99.999", "0", "12.5", "12", "-0.004", "0.005", "1234567890.12", "999999.995"},
		{1700, 0, "numeric(10,0)"}: {"1.5", "2.5", "-2.5", "0.4", "9999.5"},
		// timestamp(p), timestamptz(p): rounded to p digits, half away
		// from zero on either side of 2000-01-01.
		{1114, 0, "timestamp(0)"}: {"2024-01-15 09:30:00.5", "2024-01-15 09:30:00.499999", "1999-12-31 23:59:59.5", "1999-12-31 23:59:59.4", "2024-12-31 23:59:59.5",
			"9999-12-31 23:59:59.6", "0001-01-01 00:00:00.5", "2000-01-01 00:00:00"},
		{1114, 3, "timestamp(3)"}:   {"2024-01-15 09:30:00.0005", "2024-01-15 09:30:00.0004", "1969-12-31 23:59:59.9995", "2024-01-15 09:30:00.123456"},
		{1184, 2, "timestamptz(2)"}: {"2024-01-15 09:30:00.125+00", "2024-01-15 09:30:00.995+00", "1900-06-30 12:00:00.005+00", "2024-01-15 09:30:00.5+02"},
		{1184, 6, "timestamptz(6)"}: {"2024-01-15 09:30:00.123456+00"},
		{3802, -1, "jsonb"}: {`{}`, `[]`, `{"b": 1, "a": [1, 2]}`, `{"aa":1,"b":2,"a":3}`, `{"a":1,"a":2}`, `"x"`, `1.50`, `-0`, `-0.0`, `0.0`, `1e5`, `true`, `null`,
			`{"k": "é\u00e9\n\"\\\/\b\f\r\t\u0001\u001f"}`, `"\ud83d\ude00"`, `"\ud83d"`, `"\u0000"`, ` [ 1 , {"x" : null} ] `, `[1,]`, `{"a":1}{}`, `01`, `"\x01"`,
			`{"long key": 1, "k": 2, "":3}`, `[1.0, 100, -12.3400]`, "\"a\u007fb\""},
	}
	// Random values.
	for i := 0; i < 300; i++ {
		cases[typ{1700, -1, "numeric"}] = append(cases[typ{1700, -1, "numeric"}], randNumber(rng))
		cases[typ{1700, 3, "numeric(20,3)"}] = append(cases[typ{1700, 3, "numeric(20,3)"}], randNumber(rng))
		cases[typ{701, -1, "double precision"}] = append(cases[typ{701, -1, "double precision"}], randNumber(rng))
		cases[typ{3802, -1, "jsonb"}] = append(cases[typ{3802, -1, "jsonb"}], randJSON(rng, 0))
		cases[typ{1184, -1, "timestamptz"}] = append(cases[typ{1184, -1, "timestamptz"}], fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d.%06d+00",
			1+rng.IntN(9999), 1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.IntN(1000000)))
		p := rng.IntN(6)
		ty := typ{1184, p, fmt.Sprintf("timestamptz(%d)", p)}
		cases[ty] = append(cases[ty], fmt.Sprintf("%04d-%02d-%02d %02d:%02d:%02d.%06d+00",
			1+rng.IntN(9999), 1+rng.IntN(12), 1+rng.IntN(28), rng.IntN(24), rng.IntN(60), rng.IntN(60), rng.IntN(1000000)))
	}
	converted := 0
	for ty, values := range cases {
		for _, v := range values {
			got, ok := planner.ConvertTextForTest(ty.oid, ty.scale, v)
			if !ok {
				continue
			}
			converted++
			expr := "($1::text)::" + ty.cast
			if ty.oid == 1700 && ty.scale >= 0 {
				expr = fmt.Sprintf("round(($1::text)::numeric, %d)", ty.scale)
			}
			rr := conn.ExecParams(context.Background(), "SELECT "+expr, [][]byte{[]byte(v)}, nil, nil, []int16{1})
			var want []byte
			for rr.NextRow() {
				want = append([]byte(nil), rr.Values()[0]...)
			}
			if _, err := rr.Close(); err != nil {
				var pgErr *pgconn.PgError
				_ = pgErr
				t.Errorf("%s %q: Go converts it, the server refuses it: %v", ty.cast, v, err)
				continue
			}
			if !bytes.Equal(got, want) {
				t.Errorf("%s %q: Go gives %x, the server %x", ty.cast, v, got, want)
			}
		}
	}
	if converted < 1000 {
		t.Errorf("only %d values were converted in Go; the codecs refuse what they should convert", converted)
	}
}

func randNumber(rng *rand.Rand) string {
	var b strings.Builder
	if rng.IntN(3) == 0 {
		b.WriteByte('-')
	}
	n := rng.IntN(25)
	if n == 0 || rng.IntN(4) == 0 {
		b.WriteByte('0')
	} else {
		b.WriteByte(byte('1' + rng.IntN(9)))
		for i := 1; i < n; i++ {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
	}
	if rng.IntN(2) == 0 {
		b.WriteByte('.')
		for i := 0; i <= rng.IntN(12); i++ {
			b.WriteByte(byte('0' + rng.IntN(10)))
		}
	}
	return b.String()
}

func randJSON(rng *rand.Rand, depth int) string {
	ws := func() string { return []string{"", "", " ", "\n ", "\t"}[rng.IntN(5)] }
	k := rng.IntN(8)
	if depth > 3 {
		k = 3 + rng.IntN(5)
	}
	switch k {
	case 0, 1:
		n := rng.IntN(5)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = ws() + randJSONString(rng) + ws() + ":" + ws() + randJSON(rng, depth+1) + ws()
		}
		return "{" + strings.Join(parts, ",") + "}"
	case 2:
		n := rng.IntN(5)
		parts := make([]string, n)
		for i := range parts {
			parts[i] = ws() + randJSON(rng, depth+1) + ws()
		}
		return "[" + strings.Join(parts, ",") + "]"
	case 3, 4:
		return randJSONString(rng)
	case 5:
		return randNumber(rng)
	}
	return []string{"true", "false", "null"}[rng.IntN(3)]
}

func randJSONString(rng *rand.Rand) string {
	pieces := []string{"a", "b", "key", "é", "日", `\"`, `\\`, `\n`, `\u00e9`, `\u0007`, `\/`, "\x7f", `\ud83d\ude00`, "😀", " ", "aa", "ab"}
	var b strings.Builder
	b.WriteByte('"')
	for i := rng.IntN(4); i > 0; i-- {
		b.WriteString(pieces[rng.IntN(len(pieces))])
	}
	b.WriteByte('"')
	return b.String()
}
