package hclconfig

import (
	"fmt"

	"github.com/agext/levenshtein"
)

// NameSuggestion returns the candidate closest to given, or "" when none is
// close enough (an edit distance under 3) to be a likely typo. Every "did
// you mean" hint of rowform's configuration and plan uses it.
func NameSuggestion(given string, candidates []string) string {
	best, bestDist := "", 0
	for _, c := range candidates {
		d := levenshtein.Distance(given, c, nil)
		if d < 3 && (best == "" || d < bestDist) {
			best, bestDist = c, d
		}
	}
	return best
}

// didYouMean returns ` Did you mean "x"?` (with a leading space) or "".
func didYouMean(given string, candidates []string) string {
	if s := NameSuggestion(given, candidates); s != "" {
		return fmt.Sprintf(" Did you mean %q?", s)
	}
	return ""
}
