package sshtunnel

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rowform/rowform/internal/sshtest"
	"golang.org/x/crypto/ssh/knownhosts"
)

// hostPatternCases: a lookup string as OpenSSH searches known_hosts for it
// ("[host]:port" on a port other than 22), a line's host patterns, and
// matchHostPatterns' answer.
var hostPatternCases = []struct {
	lookup, patterns string
	want             int
}{
	{"[bastion.example.com]:2222", "*", 1},
	{"[bastion.example.com]:2222", "[*.example.com]:*", 1},
	{"[bastion.example.com]:2222", "[bastion.example.com]:2222", 1},
	{"[bastion.example.com]:2222", "[bastion.example.com]:22*", 1},
	{"[bastion.example.com]:2222", "[bastion.example.com]:222?", 1},
	{"[bastion.example.com]:2222", "*:2222", 1},
	{"[bastion.example.com]:2222", "*example.com*", 1},
	// The whole string is matched: a pattern without brackets is a host
	// on port 22, and one without the port does not match.
	{"[bastion.example.com]:2222", "*.example.com", 0},
	{"[bastion.example.com]:2222", "bastion.example.com", 0},
	{"[bastion.example.com]:2222", "bastion.example.com:2222", 0},
	{"[bastion.example.com]:2222", "[bastion.example.com]", 0},
	{"[bastion.example.com]:2222", "[bastion.example.com]:22", 0},
	{"[bastion.example.com]:2222", "[bastion.example.com]:2222?", 0},
	{"[bastion.example.com]:2222", "[bastion.example.com]:222", 0},
	{"[bastion.example.com]:2222", "[*.example.org]:*", 0},
	{"[bastion.example.com]:2222", "?bastion.example.com]:2222", 1},
	{"[bastion.example.com]:2222", "??bastion.example.com]:2222", 0},
	// Comma lists and negation: a negated pattern that matches excludes
	// the line, whatever else matches; one that does not match (a host
	// on port 22) excludes nothing.
	{"[bastion.example.com]:2222", "other.example.com,[bastion.example.com]:2222", 1},
	{"[bastion.example.com]:2222", "other.example.com,,*", 1},
	{"[bastion.example.com]:2222", "*,![bastion.example.com]:*", -1},
	{"[bastion.example.com]:2222", "![*.example.com]:*,*", -1},
	{"[bastion.example.com]:2222", "*,!bastion.example.com", 1},
	{"[bastion.example.com]:2222", "![other.example.com]:*", 0},
	{"[bastion.example.com]:2222", "!,*", 1},
	{"[bastion.example.com]:2222", "!!*", 0},
	// Case: host names compare in lowercase.
	{"[bastion.example.com]:2222", "[BASTION.Example.COM]:2222", 1},
	{"[bastion.example.com]:2222", "*,![Bastion.example.com]:*", -1},
	{"[BASTION.example.com]:2222", "[bastion.example.com]:2222", 1},
	// Nothing is special but * and ?.
	{"[bastion.example.com]:2222", `[bastion\.example.com]:2222`, 0},
	{"[fe80::1]:2222", "[fe80::*]:*", 1},
	{"[10.0.0.7]:2222", "[10.0.0.?]:2222", 1},
	{"[10.0.0.17]:2222", "[10.0.0.?]:2222", 0},
	{"[10.0.0.17]:2222", "[10.0.0.*]:2222,10.0.0.17", 1},
	// Port 22: the host alone.
	{"bastion.example.com", "*.example.com", 1},
	{"bastion.example.com", "[bastion.example.com]:22", 0},
	{"bastion.example.com", "*,!*.example.com", -1},
	// A subpattern too long for OpenSSH's buffer: nothing matches.
	{"[bastion.example.com]:2222", "*," + strings.Repeat("x", 1023), 0},
	{"[bastion.example.com]:2222", "*," + strings.Repeat("x", 1022), 1},
	{"[bastion.example.com]:2222", "!*" + strings.Repeat("x", 1022), 0},
	{"[bastion.example.com]:2222", "", 0},
}

func TestMatchHostPatterns(t *testing.T) {
	for _, tc := range hostPatternCases {
		if got := matchHostPatterns(tc.lookup, tc.patterns); got != tc.want {
			t.Errorf("matchHostPatterns(%q, %q) = %d, want %d", tc.lookup, short(tc.patterns), got, tc.want)
		}
	}
}

// The same cases, asked of OpenSSH itself: ssh-keygen -F finds the lines of
// a known_hosts file that match a host ("[host]:port" for another port)
// with the code ssh uses (hostfile.c, match.c).
func TestMatchHostPatternsAsOpenSSH(t *testing.T) {
	keygen, err := exec.LookPath("ssh-keygen")
	if err != nil {
		t.Fatalf("ssh-keygen not found: %s", sshtest.InstallHint)
	}
	key := sshtest.NewKey(t, "ed25519").AuthorizedKey()
	dir := t.TempDir()
	for i, tc := range hostPatternCases {
		if tc.patterns == "" {
			continue // not a line
		}
		for _, marker := range []string{"", "@cert-authority "} {
			file := filepath.Join(dir, fmt.Sprintf("known_hosts_%d", i))
			if err := os.WriteFile(file, []byte(marker+tc.patterns+" "+key+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			out, err := exec.Command(keygen, "-F", tc.lookup, "-f", file).CombinedOutput()
			var exit *exec.ExitError
			found := err == nil
			if err != nil && (!errors.As(err, &exit) || exit.ExitCode() != 1) {
				t.Fatalf("ssh-keygen -F %q: %v\n%s", tc.lookup, err, out)
			}
			if ours := matchHostPatterns(tc.lookup, tc.patterns) == 1; ours != found {
				t.Errorf("%s%q for %q: OpenSSH finds the line: %v, matchHostPatterns: %v", marker, short(tc.patterns), tc.lookup, found, ours)
			}
		}
	}
}

func short(s string) string {
	if len(s) > 40 {
		return fmt.Sprintf("%s...(%d bytes)", s[:30], len(s))
	}
	return s
}

// matchPatternOpenSSH is OpenSSH's match_pattern (match.c) as written
// there, recursion and all: the reference for matchGlob.
func matchPatternOpenSSH(s, p string) bool {
	for {
		if p == "" {
			return s == ""
		}
		if p[0] == '*' {
			for p != "" && p[0] == '*' {
				p = p[1:]
			}
			if p == "" {
				return true
			}
			if p[0] != '?' && p[0] != '*' {
				for ; s != ""; s = s[1:] {
					if s[0] == p[0] && matchPatternOpenSSH(s[1:], p[1:]) {
						return true
					}
				}
				return false
			}
			for ; s != ""; s = s[1:] {
				if matchPatternOpenSSH(s, p) {
					return true
				}
			}
			return false
		}
		if s == "" {
			return false
		}
		if p[0] != '?' && p[0] != s[0] {
			return false
		}
		s, p = s[1:], p[1:]
	}
}

// matchGlob agrees with OpenSSH's match_pattern on every pattern of up to
// 6 bytes from "ab*?" and every string of up to 6 bytes from "ab".
func TestMatchGlobAsOpenSSH(t *testing.T) {
	all := func(alphabet string, max int) []string {
		out := []string{""}
		for prev := out; max > 0; max-- {
			var next []string
			for _, s := range prev {
				for i := range alphabet {
					next = append(next, s+alphabet[i:i+1])
				}
			}
			out, prev = append(out, next...), next
		}
		return out
	}
	strs := all("ab", 6)
	n := 0
	for _, p := range all("ab*?", 6) {
		for _, s := range strs {
			if got, want := matchGlob(s, p), matchPatternOpenSSH(s, p); got != want {
				t.Errorf("matchGlob(%q, %q) = %v, OpenSSH's match_pattern says %v", s, p, got, want)
				if n++; n > 20 {
					t.FailNow()
				}
			}
		}
	}
}

// matchGlob takes at most len(s)×len(p) steps: a pattern of many stars
// that does not match, which makes OpenSSH's recursion take exponential
// time, is answered at once.
func TestMatchGlobManyStars(t *testing.T) {
	s := "[" + strings.Repeat("a", 200) + "]:2222"
	if matchGlob(s, strings.Repeat("*a", 100)+"*b") {
		t.Fatal("matched")
	}
	if !matchGlob(s, strings.Repeat("*a", 100)+"*") {
		t.Fatal("did not match")
	}
}

func FuzzMatchGlob(f *testing.F) {
	f.Add("[bastion.example.com]:2222", "[*.example.com]:*")
	f.Add("aab", "*a?")
	f.Fuzz(func(t *testing.T, s, p string) {
		if len(s) > 24 || strings.Count(p, "*") > 6 {
			return // the reference's time is exponential in the stars
		}
		if got, want := matchGlob(s, p), matchPatternOpenSSH(s, p); got != want {
			t.Fatalf("matchGlob(%q, %q) = %v, OpenSSH's match_pattern says %v", s, p, got, want)
		}
	})
}

// hostPatternsParse accepts a host patterns field exactly when the
// knownhosts package parses a line with it.
func TestHostPatternsParseAsKnownhostsDoes(t *testing.T) {
	key := sshtest.NewKey(t, "ed25519").AuthorizedKey()
	dir := t.TempDir()
	for i, patterns := range []string{
		"*", "bastion.example.com", "[bastion.example.com]:2222", "[::1]:2222", "::1", "a,,b", ",", "!a", "!", "a,!",
		"!!a", "[a]", "[a", "a]", "[a]:", "[a]:b:c", "a:2222", "[a]:2222,[b", "@x", "a@b", "[*]:*", "[]:1", "[a]x:1", "*,!*",
	} {
		file := filepath.Join(dir, fmt.Sprintf("known_hosts_%d", i))
		if err := os.WriteFile(file, []byte(patterns+" "+key+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := knownhosts.New(file)
		if got, want := hostPatternsParse(patterns), err == nil; got != want {
			t.Errorf("hostPatternsParse(%q) = %v; knownhosts.New: %v", patterns, got, err)
		}
	}
}
