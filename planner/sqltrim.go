package planner

import (
	"strings"
	"unicode/utf8"
)

// trimQuery returns a sync's query ready to be wrapped as a subquery: without
// what follows its last token — white space, comments — and without
// trailing semicolons (a query file often ends "...; -- comment"). The
// start is kept as it is, so that a line and column of the result are
// those of the query as written.
func trimQuery(q string) string {
	for {
		end := lastTokenEnd(q)
		q = q[:end]
		if !strings.HasSuffix(q, ";") {
			return q
		}
		q = q[:len(q)-1]
	}
}

// lastTokenEnd is the byte offset just after the last character of q that
// is neither white space nor part of a comment, reading q as PostgreSQL
// does: '...' and E'...' strings, "..." identifiers, $tag$...$tag$
// strings, -- comments to the end of the line and /* */ comments, which
// nest.
func lastTokenEnd(q string) int {
	end := 0
	for i := 0; i < len(q); {
		c := q[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v':
			i++
		case c == '-' && strings.HasPrefix(q[i:], "--"):
			if j := strings.IndexAny(q[i:], "\n\r"); j >= 0 {
				i += j
			} else {
				i = len(q)
			}
		case c == '/' && strings.HasPrefix(q[i:], "/*"):
			depth := 0
			for i < len(q) {
				switch {
				case strings.HasPrefix(q[i:], "/*"):
					depth++
					i += 2
				case strings.HasPrefix(q[i:], "*/"):
					depth--
					i += 2
				default:
					i++
				}
				if depth == 0 {
					break
				}
			}
		case c == '\'' || c == '"':
			escapes := c == '\'' && i > 0 && (q[i-1] == 'E' || q[i-1] == 'e') && (i < 2 || !isIdentChar(q[i-2]))
			i = quotedEnd(q, i, c, escapes)
			end = i
		case c == '$':
			if tag, ok := dollarTag(q[i:]); ok {
				if j := strings.Index(q[i+len(tag):], tag); j >= 0 {
					i += len(tag) + j + len(tag)
				} else {
					i = len(q)
				}
				end = i
				continue
			}
			i++
			end = i
		default:
			_, size := utf8.DecodeRuneInString(q[i:])
			i += size
			end = i
		}
	}
	return end
}

// quotedEnd is the offset after the quoted string or identifier that
// starts at q[i] with quote c (doubled quotes inside it; backslash escapes
// too in an E” string).
func quotedEnd(q string, i int, c byte, escapes bool) int {
	for i++; i < len(q); i++ {
		switch {
		case escapes && q[i] == '\\':
			i++
		case q[i] == c:
			if i+1 < len(q) && q[i+1] == c {
				i++
				continue
			}
			return i + 1
		}
	}
	return len(q)
}

// dollarTag returns the opening $tag$ of a dollar-quoted string at the
// start of s.
func dollarTag(s string) (string, bool) {
	for j := 1; j < len(s); j++ {
		switch {
		case s[j] == '$':
			return s[:j+1], true
		case !isIdentChar(s[j]) || (j == 1 && s[j] >= '0' && s[j] <= '9'):
			return "", false
		}
	}
	return "", false
}

func isIdentChar(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c >= 0x80
}
