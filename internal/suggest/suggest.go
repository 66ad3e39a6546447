// Package suggest finds the name someone most likely meant, for the "did
// you mean" hints of the configuration, the plan and the command line, so
// that every hint follows the same rule.
package suggest

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/agext/levenshtein"
)

// Closest returns the candidate closest to given, or "" when none is close
// enough to be a likely typo: within an edit distance (in runes, ignoring
// case) of 2, or of a third of the candidate's length for long names. Ties
// go to the earlier candidate.
func Closest(given string, candidates []string) string {
	best, bestDist := "", -1
	g := strings.ToLower(given)
	gLen := utf8.RuneCountInString(g)
	if gLen > maxNameRunes {
		return ""
	}
	for _, c := range candidates {
		lc := strings.ToLower(c)
		limit := max(2, utf8.RuneCountInString(c)/3)
		// The distance is at least the difference of the lengths: a name
		// far longer than the candidate (a CSV header of megabytes) is
		// not compared, which would take the product of the lengths.
		if diff := gLen - utf8.RuneCountInString(lc); diff > limit || -diff > limit {
			continue
		}
		d := levenshtein.Distance(g, lc, nil)
		if d <= limit && (bestDist < 0 || d < bestDist) {
			best, bestDist = c, d
		}
	}
	return best
}

// maxNameRunes is the longest name Closest compares: far longer than any
// name of a configuration, a table or a command, and a bound on the time
// the comparison takes (the product of the two lengths).
const maxNameRunes = 1024

// ClosestOrPrefix is Closest, or else the first candidate that given (two
// characters or more) begins: for command names, which people shorten.
func ClosestOrPrefix(given string, candidates []string) string {
	if best := Closest(given, candidates); best != "" || len(given) < 2 {
		return best
	}
	for _, c := range candidates {
		if strings.HasPrefix(c, given) {
			return c
		}
	}
	return ""
}

// DidYouMean is ` Did you mean "x"?`, with a leading space, for the
// Closest candidate x, or "" when there is none.
func DidYouMean(given string, candidates []string) string {
	if s := Closest(given, candidates); s != "" {
		return fmt.Sprintf(" Did you mean %q?", s)
	}
	return ""
}
