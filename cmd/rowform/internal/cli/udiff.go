package cli

// Why a hand-written diff: `fmt -diff` needs a line diff printed as
// `diff -u` prints it. The Go team's, golang.org/x/tools/internal/diff,
// is internal; github.com/pmezard/go-difflib and github.com/hexops/
// gotextdiff are archived; github.com/sergi/go-diff diffs characters. The
// kept copy of the x/tools code, github.com/aymanbagabas/go-udiff, would
// do, but it bounds its search (on large inputs its script is not always
// the shortest) and prints some hunks differently, so output that users
// and tests hold to would change, for a dependency in place of about 150
// lines. This file is Myers' algorithm and the hunk format, held to
// `patch` by TestUnifiedDiffApplies and to a shortest edit script by
// TestDiffLinesIsMinimal. Revisit if x/tools exports its diff package.

import (
	"fmt"
	"strings"
)

// diffContext is the number of unchanged lines shown around a change.
const diffContext = 3

// editKind is what a line of a diff does.
type editKind byte

const (
	editEqual  editKind = ' '
	editDelete editKind = '-'
	editInsert editKind = '+'
)

// lineEdit is one line of an edit script. a and b are the positions in
// the old and new lines before this edit is applied.
type lineEdit struct {
	kind editKind
	a, b int
}

// unifiedDiff returns the differences between old and new as a unified
// diff (as `diff -u` and `patch` know it) with 3 lines of context, under
// the file names oldName and newName. It returns "" when they are equal.
func unifiedDiff(oldName, newName string, old, new []byte) string {
	a, b := splitLines(string(old)), splitLines(string(new))
	edits := diffLines(a, b)

	var out strings.Builder
	for i := 0; i < len(edits); {
		if edits[i].kind == editEqual {
			i++
			continue
		}
		// A hunk starts diffContext lines before the change and runs until a
		// stretch of more than 2*diffContext unchanged lines (or the end).
		start := max(i-diffContext, 0)
		end := i
		for end < len(edits) {
			if edits[end].kind != editEqual {
				end++
				continue
			}
			run := end
			for run < len(edits) && edits[run].kind == editEqual {
				run++
			}
			if run == len(edits) || run-end > 2*diffContext {
				break
			}
			end = run
		}
		stop := min(end+diffContext, len(edits))
		if out.Len() == 0 {
			fmt.Fprintf(&out, "--- %s\n+++ %s\n", oldName, newName)
		}
		writeHunk(&out, a, b, edits[start:stop])
		i = stop
	}
	return out.String()
}

func writeHunk(out *strings.Builder, a, b []string, hunk []lineEdit) {
	var aCount, bCount int
	for _, e := range hunk {
		if e.kind != editInsert {
			aCount++
		}
		if e.kind != editDelete {
			bCount++
		}
	}
	fmt.Fprintf(out, "@@ -%s +%s @@\n", hunkRange(hunk[0].a, aCount), hunkRange(hunk[0].b, bCount))
	for _, e := range hunk {
		line := ""
		switch e.kind {
		case editEqual, editDelete:
			line = a[e.a]
		case editInsert:
			line = b[e.b]
		}
		out.WriteByte(byte(e.kind))
		out.WriteString(line)
		if !strings.HasSuffix(line, "\n") {
			out.WriteString("\n\\ No newline at end of file\n")
		}
	}
}

// hunkRange formats the range of a hunk side: start is the 0-based index
// of its first line.
func hunkRange(start, count int) string {
	switch count {
	case 0:
		return fmt.Sprintf("%d,0", start) // the line before an empty range
	case 1:
		return fmt.Sprintf("%d", start+1)
	default:
		return fmt.Sprintf("%d,%d", start+1, count)
	}
}

// splitLines splits s after each "\n"; a last line without one is kept.
func splitLines(s string) []string {
	if s == "" {
		return nil
	}
	lines := strings.SplitAfter(s, "\n")
	if lines[len(lines)-1] == "" {
		lines = lines[:len(lines)-1]
	}
	return lines
}

// diffLines returns a shortest edit script from a to b (Myers' algorithm,
// O((N+M)·D) time and space, fine for configuration files).
func diffLines(a, b []string) []lineEdit {
	n, m := len(a), len(b)
	offset := n + m + 1
	v := make([]int, 2*offset+1)
	var trace [][]int
	found := false
	for d := 0; d <= n+m && !found; d++ {
		trace = append(trace, append([]int(nil), v...))
		for k := -d; k <= d; k += 2 {
			var x int
			if k == -d || (k != d && v[offset+k-1] < v[offset+k+1]) {
				x = v[offset+k+1] // down: an insertion
			} else {
				x = v[offset+k-1] + 1 // right: a deletion
			}
			y := x - k
			for x < n && y < m && a[x] == b[y] {
				x++
				y++
			}
			v[offset+k] = x
			if x >= n && y >= m {
				found = true
				break
			}
		}
	}

	// Walk back from (n, m) through the saved frontiers.
	var rev []lineEdit
	x, y := n, m
	for d := len(trace) - 1; d >= 0; d-- {
		v := trace[d]
		k := x - y
		var prevK int
		if k == -d || (k != d && v[offset+k-1] < v[offset+k+1]) {
			prevK = k + 1
		} else {
			prevK = k - 1
		}
		prevX := v[offset+prevK]
		prevY := prevX - prevK
		for x > prevX && y > prevY {
			x--
			y--
			rev = append(rev, lineEdit{kind: editEqual, a: x, b: y})
		}
		if d > 0 {
			if x == prevX {
				y--
				rev = append(rev, lineEdit{kind: editInsert, a: x, b: y})
			} else {
				x--
				rev = append(rev, lineEdit{kind: editDelete, a: x, b: y})
			}
		}
		x, y = prevX, prevY
	}
	edits := make([]lineEdit, len(rev))
	for i, e := range rev {
		edits[len(rev)-1-i] = e
	}
	return edits
}
