package views

import (
	"fmt"
	"io"
	"regexp"
	"strings"

	"github.com/rowform/rowform/internal/plural"
	"github.com/rowform/rowform/planner"
)

// MarkdownLimit is the most bytes RenderPlanMarkdown writes: a plan
// comment must fit GitHub's 65,536-character limit on comments, with room
// to spare for a header or footer a workflow adds (a link to the full
// plan). Bytes are never fewer than characters, so the limit holds
// whatever the text.
const MarkdownLimit = 60000

// RenderPlanMarkdown writes p as GitHub-flavored Markdown for a pull-request
// comment:
//
//   - a "### rowform plan" heading;
//   - a one-line status: ❌ when there are errors, 📝 when rows would change,
//     ✅ otherwise;
//   - a table with one row per sync: sync, behavior, table, insert, update,
//     delete, rejected (only when some sync has rejected rows) and problems
//     ("2 errors, 1 warning", or "—" for none); the counts of a sync that was
//     not diffed are "—";
//   - for each sync with findings or sample rows, a `#### sync "name"`
//     section listing each finding as "- **error** `code`: summary", its
//     Detail in a block quote, its column, constraint, table and rows (with
//     example keys) in one line, and its Fix in a ```sql block, then the sample
//     rows in a collapsed <details> block with one table per change type;
//   - the summary line of PlanSummaryLine, as plain text.
//
// The document is at most MarkdownLimit bytes. A longer plan keeps its
// heading, status, table and summary line; the sync sections that do not
// fit lose their sample rows, then their findings, in the order of the
// syncs, and a note before the summary line says which were shortened and
// that `rowform plan` or `rowform show PLANFILE` shows everything.
//
// Text from the model is escaped, so "|", backticks and other Markdown
// syntax in names, messages and values show as written and cannot break the
// tables or the layout.
func RenderPlanMarkdown(w io.Writer, p *planner.Plan) error {
	return renderPlanMarkdown(w, p, MarkdownLimit)
}

func renderPlanMarkdown(w io.Writer, p *planner.Plan, limit int) error {
	if p == nil {
		return errNilPlan
	}
	var head strings.Builder
	head.WriteString("### rowform plan\n\n")
	head.WriteString(markdownStatus(p) + "\n\n")

	var syncs []*planner.SyncPlan
	for _, s := range p.Syncs {
		if s != nil {
			syncs = append(syncs, s)
		}
	}
	var table []string // the sync table's lines, header included
	if len(syncs) == 0 {
		head.WriteString("No syncs were planned.\n\n")
	} else {
		rejects := false
		for _, s := range syncs {
			rejects = rejects || s.Counts.Reject > 0
		}
		if rejects {
			table = append(table, "| sync | behavior | table | insert | update | delete | rejected | problems |\n",
				"| --- | --- | --- | ---: | ---: | ---: | ---: | --- |\n")
		} else {
			table = append(table, "| sync | behavior | table | insert | update | delete | problems |\n",
				"| --- | --- | --- | ---: | ---: | ---: | --- |\n")
		}
		for _, s := range syncs {
			counts := []string{"—", "—", "—"}
			if s.Diffed {
				counts = []string{fmt.Sprint(s.Counts.Insert), fmt.Sprint(s.Counts.Update), fmt.Sprint(s.Counts.Delete)}
			}
			if rejects {
				counts = append(counts, "—")
				if s.Diffed {
					counts[3] = fmt.Sprint(s.Counts.Reject)
				}
			}
			problems := syncProblems(s)
			if problems == "" {
				problems = "—"
			}
			name := mdCodeCell(s.Name)
			if s.Model != "" {
				name += " (model " + mdCodeCell(s.Model) + ")"
			}
			table = append(table, fmt.Sprintf("| %s | %s | %s | %s | %s |\n",
				name, mdCodeCell(s.Behavior), mdCodeCell(s.Table), strings.Join(counts, " | "), problems))
		}
	}
	summary := PlanSummaryLine(p) + "\n"

	// What is left out for length, and the note that says so.
	var shortened, leftOut []string
	note := func() string {
		if len(shortened)+len(leftOut) == 0 {
			return ""
		}
		var parts []string
		if len(leftOut) > 0 {
			parts = append(parts, "the details of "+mdNameList(leftOut)+" are left out")
		}
		if len(shortened) > 0 {
			parts = append(parts, "the sample rows of "+mdNameList(shortened)+" are left out")
		}
		return "> [!NOTE]\n> **This plan is too long for one comment:** " + strings.Join(parts, ", and ") +
			". `rowform plan` shows all of it, and so does `rowform show PLANFILE` for a plan saved with `-out=PLANFILE`.\n\n"
	}
	// The longest note, so that what is kept leaves room for it.
	var allNames []string
	for _, s := range syncs {
		allNames = append(allNames, s.Name)
	}
	noteRoom := len(note()) + 2*len(mdNameList(allNames)) + 400

	var b strings.Builder
	b.WriteString(head.String())
	budget := limit - len(summary) - noteRoom - head.Len()
	for i, line := range table {
		if len(line) > budget && i > 1 {
			fmt.Fprintf(&b, "| … | %d more syncs: see the summary line |\n", len(table)-i)
			break
		}
		b.WriteString(line)
		budget -= len(line)
	}
	if len(table) > 0 {
		b.WriteString("\n")
		budget--
	}

	for _, s := range syncs {
		if len(s.Findings) == 0 && !hasSamples(s) {
			continue
		}
		sec := markdownSection(s, true)
		if len(sec) > budget && hasSamples(s) {
			sec = markdownSection(s, false)
			if len(sec) <= budget {
				shortened = append(shortened, s.Name)
			}
		}
		if len(sec) > budget {
			leftOut = append(leftOut, s.Name)
			continue
		}
		b.WriteString(sec)
		budget -= len(sec)
	}
	b.WriteString(note())
	b.WriteString(summary)
	_, err := io.WriteString(w, b.String())
	return err
}

// markdownSection renders the section of one sync: its findings and, with
// samples, its sample rows.
func markdownSection(s *planner.SyncPlan, samples bool) string {
	var b strings.Builder
	fmt.Fprintf(&b, "#### sync \"%s\"\n\n", mdText(s.Name))
	for _, f := range s.Findings {
		markdownFinding(&b, f)
	}
	if !s.Diffed {
		reason := notPlannedReason(s)
		b.WriteString("_" + mdText(strings.ToUpper(reason[:1])+reason[1:]) + "._\n\n")
	}
	if samples && hasSamples(s) {
		markdownSamples(&b, s)
	}
	return b.String()
}

// mdNameList is `a`, `b` and `c` (at most 10 names, then "and N more
// syncs").
func mdNameList(names []string) string {
	var q []string
	for i, n := range names {
		if i == 10 {
			q = append(q, fmt.Sprintf("%d more syncs", len(names)-10))
			break
		}
		q = append(q, "sync "+mdCode(n))
	}
	switch len(q) {
	case 0:
		return ""
	case 1:
		return q[0]
	}
	return strings.Join(q[:len(q)-1], ", ") + " and " + q[len(q)-1]
}

// markdownStatus is the line under the heading.
func markdownStatus(p *planner.Plan) string {
	switch {
	case p.Summary.Errors == 1:
		return "❌ **1 error blocks apply.**"
	case p.Summary.Errors > 1:
		return fmt.Sprintf("❌ **%d errors block apply.**", p.Summary.Errors)
	case p.HasChanges():
		return "📝 **Changes to apply.**"
	case p.Summary.Reject > 0:
		return fmt.Sprintf("⚠️ **No changes to apply; %s would be rejected.**", plural.Count(p.Summary.Reject, "row"))
	case planMatches(p):
		return "✅ **No changes.** The destination tables match the sources."
	case skippedNote(p) != "":
		rest := strings.TrimPrefix(skippedNote(p), "Nothing to apply, but ")
		return "ℹ️ **Nothing to apply,** but " + mdText(rest)
	default:
		return "✅ **No changes.**"
	}
}

// markdownFinding writes one finding as a list item.
func markdownFinding(b *strings.Builder, f planner.Finding) {
	fmt.Fprintf(b, "- **%s** %s: %s\n\n", mdText(string(f.Severity)), mdCode(string(f.Code)), mdText(f.Summary))
	if f.Detail != "" {
		lines := strings.Split(printable(f.Detail), "\n")
		for i, l := range lines {
			l = mdQuoteLine(l)
			if l != "" && i+1 < len(lines) && strings.TrimSpace(lines[i+1]) != "" {
				l += `\` // hard line break: keep the detail's lines
			}
			b.WriteString(strings.TrimRight("  > "+l, " ") + "\n")
		}
		b.WriteString("\n")
	}
	if line := markdownFacts(f); line != "" {
		b.WriteString("  " + line + "\n\n")
	}
	if f.Fix != "" {
		fix := printable(f.Fix)
		fence := strings.Repeat("`", max(3, longestRun(fix, '`')+1))
		b.WriteString("  " + fence + "sql\n")
		for _, l := range strings.Split(fix, "\n") {
			b.WriteString(strings.TrimRight("  "+l, " ") + "\n")
		}
		b.WriteString("  " + fence + "\n\n")
	}
}

// markdownFacts renders a finding's column, constraint, table and rows as
// one paragraph ("column `name`, constraint `users_name_check`; 12 rows:
// `id=7`, `id=9` and 10 more"); "" when it has none of them.
func markdownFacts(f planner.Finding) string {
	var parts []string
	for _, kv := range [][2]string{{"column", f.Column}, {"constraint", f.Constraint}, {"table", f.Table}} {
		if kv[1] != "" {
			parts = append(parts, kv[0]+" "+mdCode(kv[1]))
		}
	}
	line := strings.Join(parts, ", ")
	if f.Rows <= 0 && len(f.Examples) == 0 {
		return line
	}
	examples, more := findingExamples(f)
	var ex []string
	for _, e := range examples {
		ex = append(ex, mdCode(e))
	}
	var rows string
	switch {
	case f.Rows <= 0:
		rows = "rows: " + strings.Join(ex, ", ")
	case len(ex) == 0:
		rows = plural.Count(f.Rows, "row")
	default:
		rows = plural.Count(f.Rows, "row") + ": " + strings.Join(ex, ", ")
		if more > 0 {
			rows += fmt.Sprintf(" and %d more", more)
		}
	}
	if line == "" {
		return rows
	}
	return line + "; " + rows
}

// markdownSamples writes the sample rows of s in a collapsed block, one
// table per change type that has rows.
func markdownSamples(b *strings.Builder, s *planner.SyncPlan) {
	b.WriteString("<details><summary>Sample rows</summary>\n\n")
	for _, k := range sampleKinds(s) {
		if len(k.rows) == 0 {
			continue
		}
		fmt.Fprintf(b, "**To %s** (%d of %d)\n\n", strings.ToLower(k.title), len(k.rows), max(k.count, int64(len(k.rows))))

		nkey := len(s.Key)
		for _, r := range k.rows {
			nkey = max(nkey, len(r.Key))
		}
		var header []string
		for i := range nkey {
			header = append(header, mdText(keyName(s, i)))
		}
		var rows [][]string
		if k.symbol == '~' {
			header = append(header, "column", "before", "after")
			for _, r := range k.rows {
				for _, c := range r.Columns {
					row := keyCells(r, nkey)
					row = append(row, mdText(c.Name), mdText(formatValue(c.Before)), mdText(formatValue(c.After)))
					rows = append(rows, row)
				}
			}
		} else {
			// One column per mapped non-key column, in order of first
			// appearance.
			var names []string
			index := map[string]int{}
			for _, r := range k.rows {
				for _, c := range r.Columns {
					if _, ok := index[c.Name]; !ok && !isKeyColumn(s, c.Name) {
						index[c.Name] = len(names)
						names = append(names, c.Name)
					}
				}
			}
			for _, n := range names {
				header = append(header, mdText(n))
			}
			for _, r := range k.rows {
				row := keyCells(r, nkey)
				vals := make([]string, len(names))
				for _, c := range r.Columns {
					i, ok := index[c.Name]
					if !ok {
						continue
					}
					v := c.After
					if k.symbol == '-' {
						v = c.Before
					}
					vals[i] = mdText(formatValue(v))
				}
				rows = append(rows, append(row, vals...))
			}
		}
		writeMarkdownTable(b, header, rows)
	}
	b.WriteString("</details>\n\n")
}

func keyCells(r planner.SampleRow, n int) []string {
	cells := make([]string, n)
	for i := range n {
		if i < len(r.Key) {
			cells[i] = mdText(formatValue(r.Key[i]))
		}
	}
	return cells
}

func writeMarkdownTable(b *strings.Builder, header []string, rows [][]string) {
	b.WriteString("| " + strings.Join(header, " | ") + " |\n")
	b.WriteString("|" + strings.Repeat(" --- |", len(header)) + "\n")
	for _, r := range rows {
		b.WriteString(strings.TrimRight("| "+strings.Join(r, " | "), " ") + " |\n")
	}
	b.WriteString("\n")
}

// mdEscape backslash-escapes the ASCII punctuation that means something
// inline in GitHub-flavored Markdown, "|" included so that text can sit in a
// table cell. An underscore between two letters or digits is left alone:
// GFM never reads it as emphasis, and snake_case names stay readable. An @
// before a letter or digit, and a # before a digit, are followed by a
// zero-width space (&#8203;), so that a value such as "@octocat",
// "@org/team" or "#123" in a pull request's comment mentions, and
// notifies, no one and links no issue; a backslash stops neither.
func mdEscape(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c == '@' && i+1 < len(s) && mdAlnum(s[i+1]) || c == '#' && i+1 < len(s) && '0' <= s[i+1] && s[i+1] <= '9' {
			b.WriteByte(c)
			b.WriteString("&#8203;")
			continue
		}
		switch c {
		case '\\', '`', '*', '[', ']', '<', '>', '|', '~', '&':
			b.WriteByte('\\')
		case '_':
			if i == 0 || i == len(s)-1 || !mdAlnum(s[i-1]) || !mdAlnum(s[i+1]) {
				b.WriteByte('\\')
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

func mdAlnum(c byte) bool {
	return 'a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9'
}

// mdText renders s as inline Markdown text that shows exactly s: control
// characters spelled out, line breaks turned into spaces, syntax escaped.
func mdText(s string) string {
	return mdEscape(strings.ReplaceAll(printable(s), "\n", " "))
}

// mdBlockStart matches line beginnings that would start a block (heading,
// list, quote, setext underline) inside a block quote.
var mdBlockStart = regexp.MustCompile(`^([#+=>-]|[0-9]+[.)])`)

// mdQuoteLine renders one line of a block quote: inline syntax escaped,
// leading spaces dropped (they would start a code block) and a leading block
// marker escaped.
func mdQuoteLine(l string) string {
	l = mdEscape(strings.TrimLeft(l, " \t"))
	if m := mdBlockStart.FindString(l); m != "" {
		// Escape the marker's last character: "#" -> "\#", "1." -> "1\.".
		l = m[:len(m)-1] + `\` + l[len(m)-1:]
	}
	return l
}

// mdCode renders s as a code span, with a fence longer than any run of
// backticks in s; "" for an empty s.
func mdCode(s string) string {
	s = strings.ReplaceAll(printable(s), "\n", " ")
	if s == "" {
		return ""
	}
	fence := strings.Repeat("`", longestRun(s, '`')+1)
	if s[0] == '`' || s[len(s)-1] == '`' || s[0] == ' ' || s[len(s)-1] == ' ' {
		s = " " + s + " "
	}
	return fence + s + fence
}

// mdCodeCell is mdCode for a table cell: "|" is escaped, which GFM undoes
// inside the code span.
func mdCodeCell(s string) string {
	return strings.ReplaceAll(mdCode(s), "|", `\|`)
}

// longestRun is the length of the longest run of c in s.
func longestRun(s string, c byte) int {
	best, n := 0, 0
	for i := 0; i < len(s); i++ {
		if s[i] == c {
			n++
			best = max(best, n)
		} else {
			n = 0
		}
	}
	return best
}
