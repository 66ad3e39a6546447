// Package suggest finds the name someone most likely meant, for the "did
// you mean" hints of the configuration, the plan and the command line, so
// that every hint follows the same rule.
package suggest

import (
	"fmt"
	"strings"

	"github.com/agext/levenshtein"
)

// Closest returns the candidate closest to given, or "" when none is close
// enough to be a likely typo: within an edit distance (in runes, ignoring
// case) of 2, or of a third of the candidate's length for long names. Ties
// go to the earlier candidate.
func Closest(given string, candidates []string) string {
	best, bestDist := "", -1
	g := strings.ToLower(given)
	for _, c := range candidates {
		d := levenshtein.Distance(g, strings.ToLower(c), nil)
		if d <= max(2, len([]rune(c))/3) && (bestDist < 0 || d < bestDist) {
			best, bestDist = c, d
		}
	}
	return best
}

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
