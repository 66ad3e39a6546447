package planner

import "testing"

// TestWithoutValue: a refusal's reason keeps what PostgreSQL said about the
// value and never the value itself.
func TestWithoutValue(t *testing.T) {
	for msg, want := range map[string]string{
		`value "3000000000" is out of range for type integer`:          "value is out of range for type integer",
		`value "12345678901234567890" is out of range for type bigint`: "value is out of range for type bigint",
		`invalid input value for enum mood: "x"`:                       "invalid input value for enum mood",
		`invalid input syntax for type integer: "abc"`:                 "invalid input syntax for type integer",
		`date/time field value out of range: "2024-13-01"`:             "date/time field value out of range",
		`value too long for type character varying(20)`:                "value too long for type character varying(20)",
		`value "a"b" is out of range for type integer`:                 "value",
		`invalid byte sequence for encoding "UTF8": 0xff`:              "invalid byte sequence for encoding",
	} {
		if got := withoutValue(msg); got != want {
			t.Errorf("withoutValue(%q) = %q, want %q", msg, got, want)
		}
	}
}
