package redact

import (
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// encodeDepth is how many encodings, one inside another, a spelling of a
// secret may have gone through: a server message quoting the secret, Go-quoted
// in an error, JSON-encoded in -json output is three.
const encodeDepth = 3

// encoders are the ways an output format may spell one character. Every
// format rowform writes escapes character by character, so the spellings of
// a secret are every combination of the spellings of its characters.
var encoders = []func(r rune) string{
	// encoding/json, which escapes <, >, & for HTML by default, also
	// without that, and with every control character as \u00XX (as
	// PostgreSQL's to_json writes some of them).
	func(r rune) string { return jsonRune(r, true, false) },
	func(r rune) string { return jsonRune(r, false, false) },
	func(r rune) string { return jsonRune(r, true, true) },
	// Go quoting: strconv.Quote (%q), QuoteToASCII (%+q), QuoteRune (the
	// terminal's spelling of control characters).
	func(r rune) string { return unquoted(strconv.Quote(string(r))) },
	func(r rune) string { return unquoted(strconv.QuoteToASCII(string(r))) },
	func(r rune) string { return unquoted(strconv.QuoteRune(r)) },
	// Markdown: a backslash before any ASCII punctuation; a line break
	// becomes a space inside a paragraph or a table cell.
	func(r rune) string {
		switch {
		case r < utf8.RuneSelf && unicode.IsPunct(r) || r < utf8.RuneSelf && unicode.IsSymbol(r):
			return `\` + string(r)
		case r == '\n' || r == '\r' || r == '\t':
			return " "
		}
		return string(r)
	},
	// Markdown for a pull request's comment: an @ or a # followed by a
	// zero-width space, so that "@name" mentions no one and "#12" links
	// no issue.
	func(r rune) string {
		if r == '@' || r == '#' {
			return string(r) + "&#8203;"
		}
		return string(r)
	},
	// HTML.
	func(r rune) string { return htmlRune(r, 0) },
	func(r rune) string { return htmlRune(r, 1) },
	func(r rune) string { return htmlRune(r, 2) },
	// SQL: quotes doubled inside a literal or an identifier.
	func(r rune) string {
		if r == '\'' || r == '"' {
			return string(r) + string(r)
		}
		return string(r)
	},
}

func unquoted(q string) string { return q[1 : len(q)-1] }

// jsonRune spells r as encoding/json writes it in a string; allU spells
// every control character as \u00XX.
func jsonRune(r rune, html, allU bool) string {
	switch r {
	case '"':
		return `\"`
	case '\\':
		return `\\`
	case '<', '>', '&':
		if html {
			return fmt.Sprintf(`\u%04x`, r)
		}
	case '\u2028', '\u2029':
		return fmt.Sprintf(`\u%04x`, r)
	}
	if r < 0x20 {
		if !allU {
			switch r {
			case '\b':
				return `\b`
			case '\f':
				return `\f`
			case '\n':
				return `\n`
			case '\r':
				return `\r`
			case '\t':
				return `\t`
			}
		}
		return fmt.Sprintf(`\u%04x`, r)
	}
	return string(r)
}

// htmlRune spells r as HTML escapers do: html.EscapeString (style 0),
// named entities (1) and hexadecimal references (2).
func htmlRune(r rune, style int) string {
	named := map[rune]string{'&': "&amp;", '<': "&lt;", '>': "&gt;", '"': "&quot;", '\'': "&apos;"}
	switch r {
	case '&', '<', '>':
		return named[r]
	case '"', '\'':
		switch style {
		case 0:
			return fmt.Sprintf("&#%d;", r)
		case 1:
			return named[r]
		default:
			return fmt.Sprintf("&#x%x;", r)
		}
	}
	return string(r)
}

// spellingsOf returns every spelling of the character at the start of s
// (of width w bytes) within encodeDepth encodings.
func spellingsOf(s string) (set map[string]bool, w int) {
	r, w := utf8.DecodeRuneInString(s)
	set = map[string]bool{}
	var start []string
	if r == utf8.RuneError && w == 1 {
		// A byte that is not UTF-8: JSON writes U+FFFD, Go quoting \xNN.
		start = []string{"\uFFFD", `\ufffd`, fmt.Sprintf(`\x%02x`, s[0])}
	} else {
		start = []string{string(r)}
	}
	frontier := start
	for _, f := range start {
		set[f] = true
	}
	for range encodeDepth {
		var next []string
		for _, f := range frontier {
			for _, enc := range encoders {
				var b strings.Builder
				for _, c := range f {
					b.WriteString(enc(c))
				}
				if e := b.String(); !set[e] {
					set[e] = true
					next = append(next, e)
				}
			}
		}
		frontier = next
	}
	return set, w
}

// spellings returns a regexp that matches every spelling of needle, and an
// anchor: a piece that every spelling contains. It returns a nil regexp when
// every format writes needle as it is.
func spellings(needle string) (*regexp.Regexp, string) {
	var pat strings.Builder
	plain := true
	for i := 0; i < len(needle); {
		set, w := spellingsOf(needle[i:])
		i += w
		if len(set) == 1 {
			for s := range set {
				pat.WriteString(regexp.QuoteMeta(s))
			}
			continue
		}
		plain = false
		alts := make([]string, 0, len(set))
		for s := range set {
			alts = append(alts, s)
		}
		// Longest first: the whole spelling is masked, not a prefix of it.
		sort.Slice(alts, func(i, j int) bool {
			if len(alts[i]) != len(alts[j]) {
				return len(alts[i]) > len(alts[j])
			}
			return alts[i] < alts[j]
		})
		pat.WriteString("(?i:")
		for j, a := range alts {
			if j > 0 {
				pat.WriteByte('|')
			}
			if a == "\uFFFD" {
				// Also a byte that is not UTF-8, as the regexp reads it.
				pat.WriteString(`\x{FFFD}`)
				continue
			}
			pat.WriteString(regexp.QuoteMeta(a))
		}
		pat.WriteByte(')')
	}
	if plain {
		return nil, ""
	}
	return regexp.MustCompile(pat.String()), anchor(needle)
}

// anchor is the longest run of ASCII letters and digits in needle (no
// format escapes them), or "" when it is shorter than two characters.
func anchor(needle string) string {
	best, start := "", -1
	for i := 0; i <= len(needle); i++ {
		if i < len(needle) && isASCIIAlnum(needle[i]) {
			if start < 0 {
				start = i
			}
			continue
		}
		if start >= 0 && i-start > len(best) {
			best = needle[start:i]
		}
		start = -1
	}
	if len(best) < 2 {
		return ""
	}
	return best
}

func isASCIIAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}
