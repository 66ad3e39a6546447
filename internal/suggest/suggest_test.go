package suggest

import (
	"fmt"
	"strings"
	"testing"
	"time"
)

func TestClosest(t *testing.T) {
	names := []string{"validate", "fmt", "version", "plan", "apply", "show", "destination_columns"}
	for given, want := range map[string]string{
		"valdate":           "validate",
		"VALIDATE":          "validate",
		"fnt":               "fmt",
		"verison":           "version",
		"pla":               "plan",
		"destinaton_colums": "destination_columns", // 2 edits
		"dstination_colmns": "destination_columns", // 2 edits
		"dstinaton_colmns":  "destination_columns", // 3 edits, within a third of 19
		"xyzzy":             "",
		"ap":                "",
		"":                  "",
	} {
		if got := Closest(given, names); got != want {
			t.Errorf("Closest(%q) = %q, want %q", given, got, want)
		}
	}
	if got := ClosestOrPrefix("ap", names); got != "apply" {
		t.Errorf("ClosestOrPrefix(ap) = %q", got)
	}
	if got := ClosestOrPrefix("a", names); got != "" {
		t.Errorf("ClosestOrPrefix(a) = %q, want none (too short)", got)
	}
	if got := DidYouMean("pln", names); got != ` Did you mean "plan"?` {
		t.Errorf("DidYouMean(pln) = %q", got)
	}
	if got := DidYouMean("xyzzy", names); got != "" {
		t.Errorf("DidYouMean(xyzzy) = %q", got)
	}
}

// TestClosestLongNames: a name of megabytes (a CSV header, a line read as
// one field) is compared with the candidates in no time; the comparison
// used to take the product of the lengths, minutes for a plan.
func TestClosestLongNames(t *testing.T) {
	long := strings.Repeat("column_name_", 400_000) // 4.8 MB
	var candidates []string
	for i := range 1600 {
		candidates = append(candidates, fmt.Sprintf("%s%04d", strings.Repeat("c", 58), i))
	}
	done := make(chan string, 1)
	go func() { done <- Closest(long, candidates) + Closest(long[:60], candidates[:1]) }()
	select {
	case got := <-done:
		if got != "" {
			t.Errorf("Closest = %q, want none", got)
		}
	case <-time.After(20 * time.Second):
		t.Fatal("Closest of a 4.8 MB name has not returned after 20 s")
	}
	if got := Closest(strings.Repeat("c", 58)+"0012", candidates); got != candidates[12] {
		t.Errorf("Closest of an exact name = %q", got)
	}
	if got := Closest("destinaton_colums", []string{"destination_columns", "x"}); got != "destination_columns" {
		t.Errorf("Closest of a near name = %q", got)
	}
}
