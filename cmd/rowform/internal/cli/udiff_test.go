package cli

import (
	"fmt"
	"math/rand"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

func TestUnifiedDiff(t *testing.T) {
	for _, tc := range []struct {
		name, a, b, want string
	}{
		{name: "equal", a: "x\ny\n", b: "x\ny\n", want: ""},
		{name: "both empty", a: "", b: "", want: ""},
		{
			name: "from empty",
			a:    "", b: "x\ny\n",
			want: "@@ -0,0 +1,2 @@\n+x\n+y\n",
		},
		{
			name: "to empty",
			a:    "x\n", b: "",
			want: "@@ -1 +0,0 @@\n-x\n",
		},
		{
			name: "middle change with context",
			a:    "1\n2\n3\n4\n5\n6\n7\n8\n9\n",
			b:    "1\n2\n3\n4\nfive\n6\n7\n8\n9\n",
			want: "@@ -2,7 +2,7 @@\n 2\n 3\n 4\n-5\n+five\n 6\n 7\n 8\n",
		},
		{
			name: "two hunks far apart",
			a:    "a\n1\n2\n3\n4\n5\n6\n7\n8\nb\n",
			b:    "A\n1\n2\n3\n4\n5\n6\n7\n8\nB\n",
			want: "@@ -1,4 +1,4 @@\n-a\n+A\n 1\n 2\n 3\n@@ -7,4 +7,4 @@\n 6\n 7\n 8\n-b\n+B\n",
		},
		{
			name: "close changes share a hunk",
			a:    "a\n1\n2\n3\n4\n5\n6\nb\n",
			b:    "A\n1\n2\n3\n4\n5\n6\nB\n",
			want: "@@ -1,8 +1,8 @@\n-a\n+A\n 1\n 2\n 3\n 4\n 5\n 6\n-b\n+B\n",
		},
		{
			name: "missing final newline",
			a:    "x\ny", b: "x\ny\n",
			want: "@@ -1,2 +1,2 @@\n x\n-y\n\\ No newline at end of file\n+y\n",
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := unifiedDiff("old", "new", []byte(tc.a), []byte(tc.b))
			want := tc.want
			if want != "" {
				want = "--- old\n+++ new\n" + want
			}
			if got != want {
				t.Errorf("diff:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

var hunkHeader = regexp.MustCompile(`^@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@\n$`)

// applyUnified applies a unified diff made by unifiedDiff to a, checking
// every context and deleted line: a strict `patch -F0`, in the test so that
// the test runs where GNU patch is not installed.
func applyUnified(a, diff string) (string, error) {
	if diff == "" {
		return a, nil
	}
	lines := splitLines(a)
	dl := strings.SplitAfter(diff, "\n")
	var out []string
	pos := 0 // next line of a to copy
	for i := 2; i < len(dl) && dl[i] != ""; {
		m := hunkHeader.FindStringSubmatch(dl[i])
		if m == nil {
			return "", fmt.Errorf("bad hunk header %q", dl[i])
		}
		aStart, _ := strconv.Atoi(m[1])
		aCount := 1
		if m[2] != "" {
			aCount, _ = strconv.Atoi(m[2])
		}
		first := aStart - 1
		if aCount == 0 {
			first = aStart
		}
		out = append(out, lines[pos:first]...)
		pos = first
		i++
		for i < len(dl) && dl[i] != "" && !strings.HasPrefix(dl[i], "@@") {
			kind, text := dl[i][0], dl[i][1:]
			i++
			if i < len(dl) && strings.HasPrefix(dl[i], `\ No newline`) {
				text = strings.TrimSuffix(text, "\n")
				i++
			}
			switch kind {
			case ' ', '-':
				if pos >= len(lines) || lines[pos] != text {
					return "", fmt.Errorf("line %d of a is %q, the diff says %q", pos+1, at(lines, pos), text)
				}
				if kind == ' ' {
					out = append(out, text)
				}
				pos++
			case '+':
				out = append(out, text)
			default:
				return "", fmt.Errorf("bad diff line %q", dl[i-1])
			}
		}
	}
	out = append(out, lines[pos:]...)
	return strings.Join(out, ""), nil
}

func at(lines []string, i int) string {
	if i < len(lines) {
		return lines[i]
	}
	return "<end>"
}

func TestUnifiedDiffApplies(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	words := []string{"a\n", "b\n", "c\n", "d\n", "e"}
	gen := func() string {
		var sb strings.Builder
		n := rng.Intn(30)
		for i := 0; i < n; i++ {
			w := words[rng.Intn(4)]
			if i == n-1 && rng.Intn(4) == 0 {
				w = words[4] // sometimes no final newline
			}
			sb.WriteString(w)
		}
		return sb.String()
	}
	for i := 0; i < 2000; i++ {
		a, b := gen(), gen()
		d := unifiedDiff("a", "b", []byte(a), []byte(b))
		if (d == "") != (a == b) {
			t.Fatalf("diff of %q and %q is %q", a, b, d)
		}
		got, err := applyUnified(a, d)
		if err != nil || got != b {
			t.Fatalf("applying the diff of\n%q\nto\n%q\ngave %q (%v); diff:\n%s", a, b, got, err, d)
		}
	}
}

func TestDiffLinesIsMinimal(t *testing.T) {
	a := splitLines("a\nb\nc\na\nb\nb\na\n")
	b := splitLines("c\nb\na\nb\na\nc\n")
	changes := 0
	for _, e := range diffLines(a, b) {
		if e.kind != editEqual {
			changes++
		}
	}
	if changes != 5 { // Myers' paper example: D = 5
		t.Errorf("%d changes, want 5", changes)
	}
}
