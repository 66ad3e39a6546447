package views

import (
	"fmt"
	"io"
	"strconv"
	"strings"
	"unicode"

	"github.com/rowform/rowform/internal/plural"
	"github.com/rowform/rowform/planner"
)

// Plan output formats accepted by RenderPlan, as spelled by -format (the README's Commands).
const (
	FormatText     = "text"
	FormatJSON     = "json"
	FormatMarkdown = "markdown"
)

// RenderPlan writes p to w in format: FormatText (RenderPlanHuman, with ANSI
// colors when color is true), FormatJSON (RenderPlanJSON) or FormatMarkdown
// (RenderPlanMarkdown). color only affects the text format. Any other format
// is an error and nothing is written.
func RenderPlan(w io.Writer, p *planner.Plan, format string, color bool) error {
	switch format {
	case FormatText:
		return RenderPlanHuman(w, p, HumanOptions{Color: color})
	case FormatJSON:
		return RenderPlanJSON(w, p)
	case FormatMarkdown:
		return RenderPlanMarkdown(w, p)
	default:
		return fmt.Errorf("unknown plan format %q: want %s, %s or %s", format, FormatText, FormatJSON, FormatMarkdown)
	}
}

// PlanSummaryLine is the closing line of a plan (as the README's Two commands shows it), without color or
// newline, computed from p.Summary alone:
//
//	Plan: 120 to insert, 34 to update, 0 to delete in 2 syncs; 1 error, 2 warnings.
//	Plan: 1 to insert, 0 to update, 0 to delete, 3 rejected in 1 sync; 1 error.
//
// The ", N rejected" part appears only when rows would be rejected, so a
// plan without rejected rows keeps the first form exactly. The "; N errors" part appears only when there are errors, and the warnings
// part only when there are warnings (after "; " when there are no errors).
// Its format is public interface: scripts may parse it.
func PlanSummaryLine(p *planner.Plan) string {
	s := p.Summary
	var b strings.Builder
	fmt.Fprintf(&b, "Plan: %d to insert, %d to update, %d to delete", s.Insert, s.Update, s.Delete)
	if s.Reject > 0 {
		fmt.Fprintf(&b, ", %d rejected", s.Reject)
	}
	fmt.Fprintf(&b, " in %s", plural.Count(int64(s.Syncs), "sync"))
	sep := "; "
	if s.Errors > 0 {
		b.WriteString(sep + plural.Count(int64(s.Errors), "error"))
		sep = ", "
	}
	if s.Warnings > 0 {
		b.WriteString(sep + plural.Count(int64(s.Warnings), "warning"))
	}
	b.WriteString(".")
	return b.String()
}

// syncProblems describes a sync's findings as "2 errors, 1 warning"; "" when
// it has none.
func syncProblems(s *planner.SyncPlan) string {
	var errs, warns int64
	for _, f := range s.Findings {
		switch f.Severity {
		case planner.SeverityError:
			errs++
		case planner.SeverityWarning:
			warns++
		}
	}
	var parts []string
	if errs > 0 {
		parts = append(parts, plural.Count(errs, "error"))
	}
	if warns > 0 {
		parts = append(parts, plural.Count(warns, "warning"))
	}
	return strings.Join(parts, ", ")
}

// planMatches reports whether the plan may say "No changes. The destination
// tables match the sources.": nothing to write, nothing rejected, no error,
// and every sync compared to the end. Warnings (such as insecure_connection)
// do not make the statement false, so they do not prevent it; rejected rows
// (a warning with on_reject = "skip") do: those rows differ.
func planMatches(p *planner.Plan) bool {
	if p.HasChanges() || p.Summary.Reject > 0 || p.Summary.Errors > 0 || skippedRows(p) > 0 {
		return false
	}
	for _, s := range p.Syncs {
		if s == nil || !s.Diffed || s.HasErrors() {
			return false
		}
	}
	return true
}

// skippedRows adds up the syncs' counts.skipped: rows that differ from the
// source but that the behavior leaves alone (append does not update,
// update_only does not insert). A plan with such rows writes nothing, but
// the tables do not match the sources.
func skippedRows(p *planner.Plan) int64 {
	var n int64
	for _, s := range p.Syncs {
		if s != nil {
			n += s.Counts.Skipped
		}
	}
	return n
}

// skippedNote is said of a plan that writes nothing although rows differ,
// because their syncs' behaviors leave them alone; "" for any other plan.
//
//	Nothing to apply, but 3 rows differ from the sources and are left alone by their syncs' behavior (append does not update rows).
func skippedNote(p *planner.Plan) string {
	n := skippedRows(p)
	if n == 0 || p.HasChanges() || p.Summary.Reject > 0 || p.Summary.Errors > 0 {
		return ""
	}
	var why []string
	seen := map[string]bool{}
	for _, s := range p.Syncs {
		if s == nil || s.Counts.Skipped == 0 || seen[s.Behavior] {
			continue
		}
		seen[s.Behavior] = true
		why = append(why, printable(s.Behavior)+" "+behaviorSkips(s.Behavior))
	}
	rows := plural.Count(n, "row")
	verb := "differ"
	if n == 1 {
		verb = "differs"
	}
	return fmt.Sprintf("Nothing to apply, but %s %s from the sources and %s left alone by their syncs' behavior (%s).",
		rows, verb, map[bool]string{true: "is", false: "are"}[n == 1], strings.Join(why, "; "))
}

// behaviorSkips says which rows a behavior leaves alone.
func behaviorSkips(behavior string) string {
	switch behavior {
	case "append":
		return "does not update rows"
	case "update_only":
		return "does not insert rows"
	}
	return "leaves them alone"
}

// skippedLine is a sync's line for its counts.skipped:
//
//	2 skipped: they differ, and append does not update rows
//	7 skipped: only in the source, and update_only does not insert rows
func skippedLine(s *planner.SyncPlan) string {
	what := "they differ"
	if s.Behavior == "update_only" {
		what = "only in the source"
	}
	return fmt.Sprintf("%d skipped: %s, and %s %s", s.Counts.Skipped, what, printable(s.Behavior), behaviorSkips(s.Behavior))
}

// notPlannedReason is shown instead of the counts of a sync that was not
// diffed.
func notPlannedReason(s *planner.SyncPlan) string {
	var errs int
	for _, f := range s.Findings {
		if f.Severity == planner.SeverityError {
			errs++
		}
	}
	switch errs {
	case 0:
		return "not planned: the rows were not compared"
	case 1:
		return "not planned: the error above stopped this sync before its rows were compared"
	default:
		return "not planned: the errors above stopped this sync before its rows were compared"
	}
}

// maxExamples is how many example keys a finding carries at most.
const maxExamples = 5

// findingFact is one "label: value" line of a finding, its text printable
// and on one line.
type findingFact struct{ label, text string }

// findingFacts lists what a finding says beyond its summary, detail and fix:
// the column, constraint and other table it is about, and how many rows,
// with example keys ("rows: 12 (id=7, id=9 and 10 more)"). Each comes only
// when set.
func findingFacts(f planner.Finding) []findingFact {
	var out []findingFact
	for _, kv := range [][2]string{{"column", f.Column}, {"constraint", f.Constraint}, {"table", f.Table}} {
		if kv[1] != "" {
			out = append(out, findingFact{kv[0], oneLine(kv[1])})
		}
	}
	if f.Rows > 0 || len(f.Examples) > 0 {
		examples, more := findingExamples(f)
		var ex []string
		for _, e := range examples {
			ex = append(ex, oneLine(e))
		}
		var text string
		switch {
		case f.Rows <= 0:
			text = strings.Join(ex, ", ")
		case len(ex) == 0:
			text = fmt.Sprint(f.Rows)
		default:
			text = fmt.Sprintf("%d (%s", f.Rows, strings.Join(ex, ", "))
			if more > 0 {
				text += fmt.Sprintf(" and %d more", more)
			}
			text += ")"
		}
		out = append(out, findingFact{"rows", text})
	}
	return out
}

// findingExamples returns the example keys of f to show (at most
// maxExamples) and how many of its Rows they leave out.
func findingExamples(f planner.Finding) (examples []string, more int64) {
	examples = f.Examples
	if len(examples) > maxExamples {
		examples = examples[:maxExamples]
	}
	return examples, max(0, f.Rows-int64(len(examples)))
}

// oneLine is printable(s) with line breaks spelled out, for text that must
// stay on its line (a name, an example key).
func oneLine(s string) string {
	return strings.ReplaceAll(printable(s), "\n", `\n`)
}

// formatValue renders one sample value: planner.FormatValue.
func formatValue(v string) string { return planner.FormatValue(v) }

// printable is Printable, by the short name the views use.
func printable(s string) string { return Printable(s) }

// Printable makes text that came from outside (a server's error, a value)
// safe to print on a terminal: control characters other than newline and
// tab, and bidirectional controls, are replaced by their \x.. or \u....
// spelling, and a trailing newline is dropped. Every view prints such text
// through it; the CLI prints its error lines through it too.
func Printable(s string) string {
	s = strings.TrimRight(s, "\n")
	if strings.IndexFunc(s, isUnsafeRune) < 0 {
		return s
	}
	var b strings.Builder
	for _, r := range s {
		if isUnsafeRune(r) {
			q := strconv.QuoteRune(r) // e.g. '\x1b'
			b.WriteString(q[1 : len(q)-1])
			continue
		}
		b.WriteRune(r)
	}
	return b.String()
}

func isUnsafeRune(r rune) bool {
	return r != '\n' && r != '\t' && (unicode.IsControl(r) || unicode.Is(unicode.Bidi_Control, r))
}

// sampleKey renders a sample row's key as "id=7" or "tenant=1 id=7".
func sampleKey(s *planner.SyncPlan, row planner.SampleRow) string {
	parts := make([]string, len(row.Key))
	for i, v := range row.Key {
		parts[i] = keyName(s, i) + "=" + formatValue(v)
	}
	return strings.Join(parts, " ")
}

// keyName is the name of the i-th key column, or "key[i]" when the model's
// Key is shorter than a sample row's key.
func keyName(s *planner.SyncPlan, i int) string {
	if i < len(s.Key) {
		return printable(s.Key[i])
	}
	return fmt.Sprintf("key[%d]", i)
}

// isKeyColumn reports whether name is one of s's key columns. Insert and
// delete samples list the key first, so their key columns are not repeated.
func isKeyColumn(s *planner.SyncPlan, name string) bool {
	for _, k := range s.Key {
		if k == name {
			return true
		}
	}
	return false
}

// sampleKinds lists the change types in display order, with their samples
// and counts.
type sampleKind struct {
	symbol byte   // '+', '~', '-'
	title  string // "Insert", "Update", "Delete"
	rows   []planner.SampleRow
	count  int64
}

func sampleKinds(s *planner.SyncPlan) []sampleKind {
	kinds := []sampleKind{
		{symbol: '+', title: "Insert", count: s.Counts.Insert},
		{symbol: '~', title: "Update", count: s.Counts.Update},
		{symbol: '-', title: "Delete", count: s.Counts.Delete},
	}
	if s.Samples != nil {
		kinds[0].rows = s.Samples.Insert
		kinds[1].rows = s.Samples.Update
		kinds[2].rows = s.Samples.Delete
	}
	return kinds
}

// hasSamples reports whether s has at least one sample row to show.
func hasSamples(s *planner.SyncPlan) bool {
	if !s.Diffed || s.Samples == nil {
		return false
	}
	return len(s.Samples.Insert)+len(s.Samples.Update)+len(s.Samples.Delete) > 0
}
