package suggest

import "testing"

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
