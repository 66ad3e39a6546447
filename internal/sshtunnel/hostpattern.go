package sshtunnel

// OpenSSH's matching of a known_hosts line's host patterns (match.c:
// match_hostname, match_pattern_list, match_pattern), which
// golang.org/x/crypto/ssh/knownhosts does differently for a port other than
// 22: OpenSSH matches each pattern, as a glob, against the whole string it
// looks up ("[host]:port"), where the knownhosts package splits a pattern
// into host and port and requires the port to be equal.

// maxSubpattern is the length from which OpenSSH gives up on a pattern
// list: a subpattern that does not fit its 1024-byte buffer (with the
// terminating NUL) makes the whole list match nothing.
const maxSubpattern = 1023

// matchHostPatterns matches host against patterns, a comma-separated list
// of globs each of which may be negated with a leading "!", as OpenSSH's
// match_hostname does: 1 if a pattern matches and no negated one does, -1
// if a negated one matches, 0 if none matches. Host and patterns are
// compared with ASCII letters in lowercase. An empty subpattern matches
// only the empty string.
func matchHostPatterns(host, patterns string) int {
	host = asciiLower(host)
	positive := 0
	for i := 0; i < len(patterns); {
		negated := patterns[i] == '!'
		if negated {
			i++
		}
		j := i
		for j < len(patterns) && patterns[j] != ',' {
			j++
		}
		sub := patterns[i:j]
		if len(sub) >= maxSubpattern {
			return 0
		}
		if j < len(patterns) {
			j++ // the comma
		}
		i = j
		if matchGlob(host, asciiLower(sub)) {
			if negated {
				return -1
			}
			positive = 1
		}
	}
	return positive
}

// matchGlob reports whether s matches the glob pattern p, in which '*'
// matches any run of bytes (none included) and '?' any one byte; every other
// byte matches itself. There are no escapes and no character classes: '['
// is a byte like any other. It is OpenSSH's match_pattern, written without
// recursion so that no pattern takes more than len(s)×len(p) steps.
func matchGlob(s, p string) bool {
	si, pi := 0, 0
	star, resume := -1, 0 // the last '*' seen in p, and where in s it resumes
	for si < len(s) {
		switch {
		case pi < len(p) && p[pi] == '*':
			star, resume = pi, si
			pi++
		case pi < len(p) && (p[pi] == '?' || p[pi] == s[si]):
			si++
			pi++
		case star >= 0:
			// Let the last '*' take one more byte, and try again.
			resume++
			si, pi = resume, star+1
		default:
			return false
		}
	}
	for pi < len(p) && p[pi] == '*' {
		pi++
	}
	return pi == len(p)
}

// asciiLower lowercases the ASCII letters of s, as OpenSSH's tolower does in
// the C locale; other bytes are left alone.
func asciiLower(s string) string {
	for i := 0; i < len(s); i++ {
		if 'A' <= s[i] && s[i] <= 'Z' {
			b := []byte(s)
			for j := i; j < len(b); j++ {
				if 'A' <= b[j] && b[j] <= 'Z' {
					b[j] += 'a' - 'A'
				}
			}
			return string(b)
		}
	}
	return s
}
