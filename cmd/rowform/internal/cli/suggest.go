package cli

import (
	"strings"

	"github.com/agext/levenshtein"
)

// suggest returns the candidate closest to given, for a "did you mean" hint:
// one within an edit distance of 2 (or a third of its length, for long
// names), or one that given is a prefix of. It returns "" when nothing is
// close.
func suggest(given string, candidates []string) string {
	best, bestDist := "", -1
	for _, c := range candidates {
		d := editDistance(strings.ToLower(given), strings.ToLower(c))
		if d <= max(2, len(c)/3) && (bestDist < 0 || d < bestDist) {
			best, bestDist = c, d
		}
	}
	if best != "" || len(given) < 2 {
		return best
	}
	for _, c := range candidates {
		if strings.HasPrefix(c, given) {
			return c
		}
	}
	return ""
}

// editDistance is the Levenshtein distance between a and b, in runes.
func editDistance(a, b string) int { return levenshtein.Distance(a, b, nil) }
