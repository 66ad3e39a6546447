package redact

import (
	"bytes"
	"strings"
	"testing"
)

func TestRedactor(t *testing.T) {
	var r Redactor
	r.Add("Hunter2-Secret", "abc", "-----BEGIN KEY-----\nAAAAline2secret\n-----END KEY-----")
	cases := map[string]string{
		"password Hunter2-Secret failed":      "password (sensitive) failed",
		`column "hunter2-secret" not found`:   `column "(sensitive)" not found`,
		"short abc stays":                     "short abc stays",
		"key line AAAAline2secret in a error": "key line (sensitive) in a error",
	}
	for in, want := range cases {
		if got := r.String(in); got != want {
			t.Errorf("String(%q) = %q, want %q", in, got, want)
		}
	}
	var nilR *Redactor
	if got := nilR.String("Hunter2-Secret"); got != "Hunter2-Secret" {
		t.Errorf("a nil Redactor changed text: %q", got)
	}
}

func TestWriterNeverSplitsASecret(t *testing.T) {
	var r Redactor
	r.Add("Hunter2-Secret")
	var out bytes.Buffer
	w := NewWriter(&out, &r)
	for _, piece := range []string{"one Hun", "ter2-Sec", "ret two\nprompt: ", "Hunter2-Secret"} {
		if _, err := w.Write([]byte(piece)); err != nil {
			t.Fatal(err)
		}
	}
	if strings.Contains(out.String(), "prompt") {
		t.Fatalf("a partial line was written before Flush: %q", out.String())
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	want := "one (sensitive) two\nprompt: (sensitive)"
	if out.String() != want {
		t.Fatalf("got %q, want %q", out.String(), want)
	}
}
