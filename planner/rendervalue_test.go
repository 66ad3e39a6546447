package planner_test

import (
	"context"
	"encoding/binary"
	"math/rand/v2"
	"testing"

	"github.com/rowform/rowform/internal/pgconnect"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestRenderValueIsServerText: a value read in binary (as the diff reads
// every value) renders as the server's own text output of it under
// rowform's session settings, which is what samples, the changes file and
// the rejects file promise. Each value is asked of the server both ways.
func TestRenderValueIsServerText(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	ctx := context.Background()
	conn := e.DstConn().PgConn()
	for k, v := range pgconnect.SessionSettings() {
		if err := conn.Exec(ctx, "SET "+k+" = '"+v+"'").Close(); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		typ    string
		values []string
	}{
		{"int4", []string{"0", "-2147483648", "42"}},
		{"int8", []string{"9223372036854775807", "-1"}},
		{"int2", []string{"-32768"}},
		{"numeric", []string{"0", "12.340", "-0.0001", "1e20", "123456789.000000001", "NaN", "Infinity", "-Infinity", "0.00"}},
		{"float8", []string{"0", "-0", "1", "0.1", "1e100", "1e15", "1e16", "123456789012345", "1234567890123456", "1e-4", "1e-5", "-2.5e-300", "NaN", "Infinity", "-Infinity", "3.141592653589793", "100000", "1e6"}},
		{"float4", []string{"0", "1.5", "0.1", "1e6", "100000", "123456", "1234567", "1e-5", "3.4e38", "NaN", "-Infinity"}},
		{"bool", []string{"true", "false"}},
		{"text", []string{"", "a b", "ünï"}},
		{"bytea", []string{"\\x", "\\x00ff"}},
		{"uuid", []string{"a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"}},
		{"date", []string{"2024-02-29", "0001-01-01", "4713-01-01 BC", "infinity", "-infinity", "294276-12-31"}},
		{"timestamp", []string{"2024-02-29 10:00:00", "2024-02-29 10:00:00.5", "infinity", "1999-12-31 23:59:59.999999", "0044-03-15 12:00:00 BC", "1700-01-01 00:00:00", "2400-06-30 12:00:00.000001", "294276-12-31 23:59:59"}},
		{"timestamptz", []string{"2024-02-29 10:00:00+02", "-infinity", "1900-01-01 00:00:00.000001+00", "0001-01-01 00:00:00+00 BC", "1066-10-14 09:00:00+00"}},
		{"date[]", []string{"{2024-01-01,infinity}"}},
		{"numeric[]", []string{"{1.50,NaN}"}},
		{"timestamp[]", []string{`{"2024-01-01 10:00:00",NULL}`}},
		{"int4[]", []string{"[0:1]={7,8}", "[2:3][1:1]={{1},{2}}"}},
		{"float8[]", []string{"{1e100,0.5}"}},
		{"bytea[]", []string{`{"\\x00"}`}},
		{"interval[]", []string{`{"1 day","-00:00:01"}`}},
		{"int4range[]", []string{`{"[1,2)",empty}`}},
		{"box", []string{"(1,2),(3,4)"}},
		{"box[]", []string{"{(3,4),(1,2);(5,6),(0,0)}"}},
		{"circle", []string{"<(1,2),3>"}},
		{"macaddr8", []string{"08:00:2b:01:02:03:04:05"}},
		{"int2vector", []string{"1 2"}},
		{"oidvector", []string{"1 2"}},
		{"time", []string{"00:00:00", "10:00:00", "10:00:01.5", "23:59:59.999999", "24:00:00"}},
		{"timetz", []string{"10:00:00+05:30", "10:00:00.25-08", "00:00:00+00", "12:34:56+05:30:15"}},
		{"interval", []string{"0", "1 day", "P1D", "1 year 2 months 3 days 04:05:06.789", "-1 day +02:00:00", "-1 year -2 mons", "1 mon -1 day", "-00:00:01.5", "100 hours", "1 year -1 second", "-1 day -00:00:01", "2 days 00:00:00.000001"}},
		{"inet", []string{"10.0.0.1", "10.0.0.1/32", "10.0.0.0/8", "::1", "2001:db8::/32", "::ffff:1.2.3.4", "fe80::1/128", "::1.2.3.4", "::0.0.1.2", "::"}},
		{"cidr", []string{"10.0.0.0/8", "10.0.0.1/32", "2001:db8::/32"}},
		{"pg_lsn", []string{"0/16B3748", "FFFFFFFF/FFFFFFFF", "0/0"}},
		{"money", []string{"12.345", "0", "-1234567.89", "1000", "-92233720368547758.08"}},
		{"int4range", []string{"[1,5)", "empty", "(,5)", "[1,)", "(,)", "[3,3]"}},
		{"int8range", []string{"[1,5)"}},
		{"numrange", []string{"[1.5,2.25]", "(,0.0)"}},
		{"daterange", []string{"[2024-01-01,2024-02-01)"}},
		{"tsrange", []string{"[2024-01-01 00:00,2024-01-02 00:00)"}},
		{"tstzrange", []string{"[2024-01-01 00:00+00,infinity)"}},
		{"int4multirange", []string{"{}", "{[1,3)}", "{[1,3), [5,7)}"}},
		{"datemultirange", []string{"{[2024-01-01,2024-01-05)}"}},
		{"json", []string{`{"a": 1}`}},
		{"jsonb", []string{`{"b": [1, 2], "a": null}`}},
		{"int4[]", []string{"{1,2,NULL}", "{}", "{{1,2},{3,4}}"}},
		{"text[]", []string{`{"a b",c,"",NULL,"NULL","x\"y"}`}},
		{"bpchar", []string{"ab"}},
		{"varchar", []string{"x"}},
		{"oid", []string{"4294967295"}},
		{"macaddr", []string{"08:00:2b:01:02:03"}},
		{"bit(4)", []string{"1010"}},
		{"varbit", []string{"10101"}},
		{"xml", []string{"<a>b</a>"}},
		{"point", []string{"(1.5,-2)"}},
		{"tsvector", []string{"a fat cat"}},
		{"tsquery", []string{"a & b", "!x | (y <-> z)", "(a | b) & c", "!(a & b)", "a <2> (b <-> c)", "(a <-> b) <-> c", "'it''s' & 'back\\slash'", "ab:*A & cd:BC", "!!a", "a & (b | (c & !d))"}},
		{"name", []string{"abc"}},
		{"char", []string{"x"}},
	} {
		for _, v := range tc.values {
			q := "SELECT $1::" + tc.typ
			bin := conn.ExecParams(ctx, q, [][]byte{[]byte(v)}, nil, nil, []int16{1}).Read()
			txt := conn.ExecParams(ctx, q, [][]byte{[]byte(v)}, nil, nil, []int16{0}).Read()
			if bin.Err != nil || txt.Err != nil {
				t.Errorf("%s %q: %v %v", tc.typ, v, bin.Err, txt.Err)
				continue
			}
			oid := bin.FieldDescriptions[0].DataTypeOID
			if got, want := planner.RenderValue(oid, bin.Rows[0][0]), string(txt.Rows[0][0]); got != want {
				t.Errorf("%s %q renders as %q, the server's text is %q", tc.typ, v, got, want)
			}
		}
	}
}

// TestRenderValueNeverPanics: any bytes, as a server that is not
// PostgreSQL (or a damaged one) could send, render as something, for every
// type with its own renderer and for arrays of them.
func TestRenderValueNeverPanics(t *testing.T) {
	oids := []uint32{114, 650, 869, 790, 1083, 1266, 1186, 3220, 1700, 700, 701, 1082, 1114, 1184, 22, 30,
		3904, 3906, 3908, 3910, 3912, 3926, 4451, 4532, 4533, 4534, 4535, 4536, 1007, 1231, 1187, 3905, 1000, 3615, 1020}
	// An array header whose dimensions multiply past any length (and
	// past int64): six of 1500, and elements to spare.
	huge := binary.BigEndian.AppendUint32(nil, 6)
	huge = binary.BigEndian.AppendUint32(huge, 0)
	huge = binary.BigEndian.AppendUint32(huge, 23)
	for range 6 {
		huge = binary.BigEndian.AppendUint32(huge, 1500)
		huge = binary.BigEndian.AppendUint32(huge, 1)
	}
	huge = append(huge, make([]byte, 2000)...)
	_ = planner.RenderValue(1007, huge)
	rng := rand.New(rand.NewPCG(1, 2))
	for _, oid := range oids {
		for range 3000 {
			n := rng.IntN(64)
			v := make([]byte, n)
			for i := range v {
				v[i] = byte(rng.IntN(256))
				if rng.IntN(3) == 0 {
					v[i] = 0 // small lengths and counts are more likely to be read on
				}
			}
			_ = planner.RenderValue(oid, v)
		}
	}
}
