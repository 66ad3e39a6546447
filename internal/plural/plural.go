// Package plural words counts in English for messages: "1 sync", "2
// syncs". Every package that prints a count uses it, so that counts read
// the same everywhere.
package plural

import "strconv"

// Count is n followed by noun, with an "s" unless n is 1: "1 row", "0
// rows", "3 rows". noun must take a plain "s" in the plural.
func Count[N ~int | ~int32 | ~int64](n N, noun string) string {
	return strconv.FormatInt(int64(n), 10) + " " + noun + S(n)
}

// S is the plural ending of a noun counted n times: "" when n is 1, "s"
// otherwise.
func S[N ~int | ~int32 | ~int64](n N) string {
	if n == 1 {
		return ""
	}
	return "s"
}

// VerbS is the ending of a verb in the present whose subject is counted n
// times: "s" when n is 1 ("1 key appears"), "" otherwise ("2 keys appear").
func VerbS[N ~int | ~int32 | ~int64](n N) string {
	if n == 1 {
		return "s"
	}
	return ""
}
