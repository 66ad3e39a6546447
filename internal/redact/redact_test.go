package redact

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"sort"
	"strconv"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"
)

func TestRedactor(t *testing.T) {
	var r Redactor
	long := strings.Repeat("Ab", 31) + "éTAIL-of-a-long-secret" // the é spans bytes 62 and 63: cut before it
	// 66 bytes whose lower case is 22: Add must not cut it at 63.
	r.Add(strings.Repeat("\u212a", 22))
	r.Add("Hunter2-Secret", "abc", "-----BEGIN KEY-----\nAAAAline2secret\n-----END KEY-----", "true", " NULL ", long)
	cases := map[string]string{
		"password Hunter2-Secret failed": "password (sensitive) failed",
		// JSON's bare words are never masked: that would break every
		// JSON document (and hide nothing).
		`{"applyable": true, "x": null}`:      `{"applyable": true, "x": null}`,
		`column "hunter2-secret" not found`:   `column "(sensitive)" not found`,
		"short abc stays":                     "short abc stays",
		"key line AAAAline2secret in a error": "key line (sensitive) in a error",
		// A multi-line secret keeps its lines (a diagnostic numbers them).
		"key = <<EOT\n-----BEGIN KEY-----\nAAAAline2secret\n-----END KEY-----\nEOT\n": "key = <<EOT\n(sensitive)\n(sensitive)\n(sensitive)\nEOT\n",
		// An identifier of more than 63 bytes, as PostgreSQL truncates
		// and echoes it (folded too).
		`relation "` + long[:62] + `" does not exist`:                  `relation "(sensitive)" does not exist`,
		`relation "` + strings.ToLower(long)[:62] + `" does not exist`: `relation "(sensitive)" does not exist`,
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

// specials are characters that some output format spells otherwise: JSON
// (quotes, backslash, control characters, <, >, &, U+2028), Markdown (ASCII
// punctuation), HTML, terminals (escape sequences, bidi controls) and a byte
// that is not UTF-8.
const specials = "<>&\"'\\\t\n\r\x00\x07\b\f\x1b\x7f\u2028\u2029\u202e\u200f`*_[]|~#+-.!(){}=$%^/:;?@,\xff é€"

// textEncoders are independent implementations of how output formats write
// text: each is applied to a whole text, one inside another in the test.
var textEncoders = map[string]func(string) string{
	"json": func(s string) string { b, _ := json.Marshal(s); return string(b) },
	"json-nohtml": func(s string) string {
		var buf bytes.Buffer
		e := json.NewEncoder(&buf)
		e.SetEscapeHTML(false)
		_ = e.Encode(s)
		return strings.TrimSuffix(buf.String(), "\n")
	},
	"%q":   func(s string) string { return fmt.Sprintf("%q", s) },
	"%+q":  func(s string) string { return fmt.Sprintf("%+q", s) },
	"html": html.EscapeString,
	"markdown": func(s string) string {
		var b strings.Builder
		for _, r := range s {
			switch {
			case r < 0x80 && (unicode.IsPunct(r) || unicode.IsSymbol(r)):
				b.WriteByte('\\')
			case r == '\n':
				r = ' '
			}
			b.WriteRune(r)
		}
		return b.String()
	},
	"terminal": func(s string) string {
		var b strings.Builder
		for _, r := range s {
			if r != '\n' && r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r)) {
				q := strconv.QuoteRune(r)
				b.WriteString(q[1 : len(q)-1])
				continue
			}
			b.WriteRune(r)
		}
		return b.String()
	},
	"sql": func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" },
}

// TestRedactorEverySpelling: a secret made of any special character is
// masked whole in every format's spelling of it, and in every spelling of
// up to three formats one inside another (a Go-quoted error in a JSON plan);
// one written with its line breaks is masked whole line by line.
func TestRedactorEverySpelling(t *testing.T) {
	names := make([]string, 0, len(textEncoders))
	for n := range textEncoders {
		names = append(names, n)
	}
	sort.Strings(names)
	var chains [][]string
	for _, a := range names {
		chains = append(chains, []string{a})
		for _, b := range names {
			chains = append(chains, []string{a, b})
			for _, c := range names {
				chains = append(chains, []string{a, b, c})
			}
		}
	}
	for i := 0; i < len(specials); {
		_, w := utf8.DecodeRuneInString(specials[i:])
		c := specials[i : i+w]
		i += w
		for _, secret := range []string{
			"Qz" + c + "Xw" + c + c + "Jk", // letters around: masked whole or not at all
			c + "Pwxy" + c + c,             // starting and ending with the character
		} {
			var r Redactor
			r.Add(secret)
			for _, chain := range chains {
				enc := func(s string) string {
					for _, n := range chain {
						s = textEncoders[n](s)
					}
					return s
				}
				got := r.String(enc("Ab " + secret + " Yb"))
				mask := Mask
				if strings.ContainsAny(secret, "\r\n") && strings.Contains(enc("Ab "+secret+" Yb"), secret) {
					// Written as it is, line breaks and all: masked line
					// by line.
					mask = string(maskLines(secret))
				}
				want := strings.Replace(enc("Ab MARKER Yb"), "MARKER", mask, 1)
				if got != want {
					t.Errorf("secret %q through %v:\n got %q\nwant %q", secret, chain, got, want)
				}
			}
		}
	}
}

// TestCut: a cut that would split a secret (as given, in lower case, or a
// line of a multi-line one) moves to the secret's start, also when that
// splits another; a cut that splits none stays.
func TestCut(t *testing.T) {
	var r Redactor
	r.Add("Hunter2Secret", "line-one\nline-two", "zz99")
	for _, tc := range []struct {
		s       string
		n, want int
	}{
		{"aaaaHunter2Secretbbb", 8, 4},
		{"aaaahunter2secretbbb", 8, 4},
		{"aaaaHunter2Secretbbb", 4, 4},
		{"aaaaHunter2Secretbbb", 17, 17},
		{"xxline-twoyy", 5, 2},
		{"aazz99Hunter2Secret", 8, 6},
		{"az99Hunter2Secretzz99", 7, 4},
		{"Hunter2Secret", 5, 0},
		{"short", 3, 3},
	} {
		if got := r.Cut(tc.s, tc.n); got != tc.want {
			t.Errorf("Cut(%q, %d) = %d, want %d", tc.s, tc.n, got, tc.want)
		}
	}
	var none *Redactor
	if got := none.Cut("Hunter2Secret", 5); got != 5 {
		t.Errorf("a nil Redactor cuts at %d", got)
	}
}
