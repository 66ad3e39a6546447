package main

import (
	"fmt"
	"strings"
)

// The change ratios: apply beside the naive upsert at 0%, 1%, 10%, 50%
// and 100% of the rows changed (BENCH_CASES=ratios, and in main). A ratio
// r below 100% updates r of the rows, inserts r more and deletes r; 100%
// updates every row (the naive upsert's own best case: it writes every row
// anyway), with nothing inserted or deleted. The initial load of an empty
// destination is its own case (ratio 1 without updateAll).

// ratioCases are the change-ratio cases of n mixed rows with bigint keys.
func ratioCases(n int) []benchCase {
	var out []benchCase
	for _, r := range []float64{0, 0.01, 0.10, 0.50} {
		out = append(out, benchCase{"mixed", "bigint", n, r, "mirror", 1, false})
	}
	return append(out, benchCase{"mixed", "bigint", n, 1, "mirror", 1, true})
}

// allUpdated is the case of every row updated.
func (c benchCase) allUpdated() bool { return c.updateAll && c.ratio >= 1 }

// ratioCase reports whether r is one of the change-ratio cases.
func ratioCase(c benchCase) bool {
	return c.shape == "mixed" && c.key == "bigint" && c.behavior == "mirror" && c.conns == 1 &&
		(c.ratio < 1 || c.allUpdated())
}

// ratioNote is the note on apply against the naive upsert at the change
// ratios of rs: the slower of the two applies, per ratio.
func ratioNote(rs []result) string {
	var parts []string
	for _, r := range rs {
		if !ratioCase(r.c) {
			continue
		}
		part := fmt.Sprintf("%s %.2f/%.2f", ratioLabel(r.c), r.naive/r.apply, r.naive/r.auto)
		if r.applyNoHistory > 0 {
			part += fmt.Sprintf(" (apply FILE with history = false: %.2f)", r.naive/r.applyNoHistory)
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return ""
	}
	return "- naive/apply FILE and naive/apply -auto-approve by change ratio (above 1: apply faster than the naive upsert): " + strings.Join(parts, ", ")
}

func ratioLabel(c benchCase) string {
	if c.allUpdated() {
		return fmt.Sprintf("%s 100%%", humanRows(c.rows))
	}
	return fmt.Sprintf("%s %g%%", humanRows(c.rows), c.ratio*100)
}
