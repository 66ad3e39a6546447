package hclconfig

import "github.com/rowform/rowform/internal/suggest"

// didYouMean is ` Did you mean "x"?` (with a leading space) or "":
// suggest.DidYouMean, the one rule of every "did you mean" hint.
func didYouMean(given string, candidates []string) string {
	return suggest.DidYouMean(given, candidates)
}
