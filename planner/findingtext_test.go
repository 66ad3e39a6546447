package planner

import (
	"strings"
	"testing"
)

// TestWithoutValue: a refusal's reason keeps what PostgreSQL said about the
// value and never the value itself.
func TestWithoutValue(t *testing.T) {
	for msg, want := range map[string]string{
		`value "3000000000" is out of range for type integer`:                     "value is out of range for type integer",
		`value "12345678901234567890" is out of range for type bigint`:            "value is out of range for type bigint",
		`invalid input value for enum mood: "x"`:                                  "invalid input value for enum mood",
		`invalid input syntax for type integer: "abc"`:                            "invalid input syntax for type integer",
		`date/time field value out of range: "2024-13-01"`:                        "date/time field value out of range",
		`value too long for type character varying(20)`:                           "value too long for type character varying(20)",
		`value "a"b" is out of range for type integer`:                            "value",
		`invalid byte sequence for encoding "UTF8": 0xff`:                         `invalid byte sequence for encoding "UTF8"`,
		`invalid byte sequence for encoding "UTF8": 0xe9 0x41`:                    `invalid byte sequence for encoding "UTF8"`,
		`invalid byte sequence for encoding "UTF8": 0x00`:                         `invalid byte sequence for encoding "UTF8": a NUL character, which PostgreSQL text cannot hold`,
		`value for domain posint violates check constraint "posint_check"`:        `value for domain posint violates check constraint "posint_check"`,
		`invalid byte sequence for encoding "UTF8": 0x00 (SQLSTATE 22021)`:        `invalid byte sequence for encoding "UTF8": a NUL character, which PostgreSQL text cannot hold (SQLSTATE 22021)`,
		`value for domain d violates check constraint "d_check" (SQLSTATE 23514)`: `value for domain d violates check constraint "d_check" (SQLSTATE 23514)`,
		`"3.4028236e38" is out of range for type real`:                            "value is out of range for type real",
		`"1e400" is out of range for type double precision`:                       "value is out of range for type double precision",
		`"a" is b" is out of range for type real`:                                 "value is out of range for type real",
	} {
		if got := withoutValue(msg); got != want {
			t.Errorf("withoutValue(%q) = %q, want %q", msg, got, want)
		}
	}
}

// TestAddExampleNaturalOrder: a finding's examples are its smallest keys
// with numbers compared as numbers, whatever order they came in.
func TestAddExampleNaturalOrder(t *testing.T) {
	var ex []string
	for _, k := range []string{"id=10", "id=3", "id=1", "id=9", "id=2", "id=6", "id=5", "id=10"} {
		ex = addExample(ex, k)
	}
	want := []string{"id=1", "id=2", "id=3", "id=5", "id=6"}
	if strings.Join(ex, " ") != strings.Join(want, " ") {
		t.Errorf("examples %q, want %q", ex, want)
	}
}
