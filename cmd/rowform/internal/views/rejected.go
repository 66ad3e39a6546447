package views

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rowform/rowform/internal/plural"
	"github.com/rowform/rowform/planner"
)

// RejectedRowText describes a row that apply left out (on_reject = "skip")
// on one line, for apply's output:
//
//	insert id=7: value too long for type character varying(20) (column name)
//	update tenant=1 id="a-7" (CSV line 12): new row violates check constraint "c" (constraint c)
//	delete id=3: ... (column contact_id, constraint orders_contact_id_fkey)
//
// The key columns come in the order of key (the sync's key), then any
// others in name order; values as sample keys show them. Column, constraint
// and reason come from the server: like every such text they are printed
// with control characters and line breaks escaped.
func RejectedRowText(r planner.RejectedRow, key []string) string {
	var b strings.Builder
	b.WriteString(oneLine(r.Kind))
	if k := rejectedKey(r.Key, key); k != "" {
		b.WriteString(" " + k)
	}
	if r.Line > 0 {
		fmt.Fprintf(&b, " (CSV line %d)", r.Line)
	}
	b.WriteString(": " + oneLine(r.Reason))
	var where []string
	if r.Column != "" {
		where = append(where, "column "+oneLine(r.Column))
	}
	if r.Constraint != "" {
		where = append(where, "constraint "+oneLine(r.Constraint))
	}
	if len(where) > 0 {
		b.WriteString(" (" + strings.Join(where, ", ") + ")")
	}
	return b.String()
}

// rejectedKey renders a rejected row's key as "tenant=1 id=7": the columns
// of order first, in that order, then the others sorted.
func rejectedKey(values map[string]string, order []string) string {
	var names []string
	seen := map[string]bool{}
	for _, k := range order {
		if _, ok := values[k]; ok && !seen[k] {
			names = append(names, k)
			seen[k] = true
		}
	}
	var rest []string
	for k := range values {
		if !seen[k] {
			rest = append(rest, k)
		}
	}
	sort.Strings(rest)
	names = append(names, rest...)
	parts := make([]string, len(names))
	for i, k := range names {
		parts[i] = oneLine(k) + "=" + formatValue(values[k])
	}
	return strings.Join(parts, " ")
}

// RewrittenText says, for apply's output, that a trigger stored other
// values in column than apply wrote, in rows rows, and what follows.
func RewrittenText(column string, rows int64) string {
	them := "them"
	if rows == 1 {
		them = "it"
	}
	return fmt.Sprintf("a trigger stored other values in column %s than were written, in %d row%s: the next plan will show %s again",
		oneLine(column), rows, plural.S(rows), them)
}
