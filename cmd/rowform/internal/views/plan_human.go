package views

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/rowform/rowform/planner"
)

// HumanOptions changes how RenderPlanHuman writes a plan.
type HumanOptions struct {
	// Color adds ANSI escape sequences: green "+", yellow "~" and warnings,
	// red "-", "!" and errors, bold headers. When false the output holds no
	// escape byte at all.
	Color bool
}

// errNilPlan is returned by every renderer given a nil plan.
var errNilPlan = errors.New("views: no plan to render")

// RenderPlanHuman writes p for a person (as the README's Two commands shows it): one block per sync, then
// "No changes. The destination tables match the sources." when nothing would
// change, no sync has an error and every sync was compared, then the summary
// line of PlanSummaryLine. A sync block is
//
//	~ sync "active_users"  update_or_create  postgres.warehouse -> postgres.crm public.users
//	    error  code  summary            one line per finding, in model order,
//	           detail lines                 detail and fix aligned under the code
//	           fix: SQL
//	    + 120 to insert                 the nonzero change counts,
//	        + id=7  email=(sensitive)       each with its sample rows, if any
//	    ~ 34 to update
//	    ! 2 rejected                    rows the destination would refuse
//	      9846 unchanged
//	      3 skipped: they differ, and append does not update rows
//
// A finding's column, constraint, table and rows (with up to 5 example keys)
// follow its detail, one "label: value" line each:
//
//	warning  rejected_rows  2 rows would be refused: value too long for type character varying(20)
//	         column: name
//	         rows: 2 (id=7, id=9)
//
// The header's mark is "!" when the sync has an error finding or was not
// diffed, "~" when it would change rows, and a space otherwise (its counts
// then start with "no changes"). A sync that was not diffed shows a "not
// planned" line instead of counts. Sample values: NULL and (sensitive) as
// they are, numbers bare, anything else Go-quoted ("a@b", ""). Text from the model is printed with control characters
// escaped, so a server message cannot inject terminal sequences. The output is
// written with a single Write.
func RenderPlanHuman(w io.Writer, p *planner.Plan, opts HumanOptions) error {
	if p == nil {
		return errNilPlan
	}
	h := humanPlan{color: opts.Color}
	for _, s := range p.Syncs {
		if s == nil {
			continue
		}
		h.syncBlock(s)
	}
	h.closing(p)
	_, err := w.Write(h.buf.Bytes())
	return err
}

// RenderSyncHuman writes the block of one sync exactly as RenderPlanHuman
// writes it within a plan, followed by its blank line, with a single
// Write: a plan shown one sync at a time (the unattended apply, which
// plans each sync when it applies it) is RenderSyncHuman of each sync and
// then RenderPlanHumanClosing of the plan, the same text as RenderPlanHuman.
func RenderSyncHuman(w io.Writer, s *planner.SyncPlan, opts HumanOptions) error {
	if s == nil {
		return errNilPlan
	}
	h := humanPlan{color: opts.Color}
	h.syncBlock(s)
	_, err := w.Write(h.buf.Bytes())
	return err
}

// RenderPlanHumanClosing writes what RenderPlanHuman writes after the sync
// blocks: "No changes. ..." when it applies, and the summary line.
func RenderPlanHumanClosing(w io.Writer, p *planner.Plan, opts HumanOptions) error {
	if p == nil {
		return errNilPlan
	}
	h := humanPlan{color: opts.Color}
	h.closing(p)
	_, err := w.Write(h.buf.Bytes())
	return err
}

// syncBlock writes a sync's block and the blank line after it.
func (h *humanPlan) syncBlock(s *planner.SyncPlan) {
	h.sync(s)
	h.line("")
}

// closing writes the lines after the sync blocks.
func (h *humanPlan) closing(p *planner.Plan) {
	if planMatches(p) {
		h.line(h.paint(sgrBold+sgrGreen, "No changes.") + " The destination tables match the sources.")
	} else if note := skippedNote(p); note != "" {
		h.line(note)
	}
	h.line(h.paint(sgrBold, "Plan:") + strings.TrimPrefix(PlanSummaryLine(p), "Plan:"))
}

// humanPlan accumulates the text form of a plan.
type humanPlan struct {
	buf   bytes.Buffer
	color bool
}

func (h *humanPlan) line(s string) {
	h.buf.WriteString(strings.TrimRight(s, " "))
	h.buf.WriteByte('\n')
}

// paint wraps s in the ANSI sequence code when colors are on.
func (h *humanPlan) paint(code, s string) string { return paint(h.color, code, s) }

// symbolColor is the color of a change mark.
func symbolColor(sym byte) string {
	switch sym {
	case '+':
		return sgrGreen
	case '~':
		return sgrYellow
	case '-', '!':
		return sgrRed
	}
	return ""
}

func severityColor(s planner.Severity) string {
	if s == planner.SeverityWarning {
		return sgrBold + sgrYellow
	}
	return sgrBold + sgrRed
}

// sourceLabel is the sync's source address, with the dbt model it reads:
// "postgres.warehouse (model active_users)".
func sourceLabel(s *planner.SyncPlan) string {
	if s.Model == "" {
		return printable(s.Source)
	}
	return printable(s.Source) + " (model " + printable(s.Model) + ")"
}

func (h *humanPlan) sync(s *planner.SyncPlan) {
	var mark byte = ' '
	switch {
	case s.HasErrors() || !s.Diffed:
		mark = '!'
	case s.Counts.Changes() > 0:
		mark = '~'
	}
	header := fmt.Sprintf("sync %s  %s  %s -> %s %s", strconv.Quote(s.Name),
		printable(s.Behavior), sourceLabel(s), printable(s.Destination), printable(s.Table))
	h.line(h.paint(symbolColor(mark), string(mark)) + " " + h.paint(sgrBold, header))

	for _, f := range s.Findings {
		h.finding(f)
	}

	if !s.Diffed {
		h.line("    " + notPlannedReason(s))
		return
	}
	switch {
	case s.Counts.Changes() == 0 && s.Counts.Skipped > 0:
		h.line("      nothing to write")
	case s.Counts.Changes() == 0:
		h.line("      no changes")
	}
	for _, k := range sampleKinds(s) {
		if k.count == 0 {
			continue
		}
		sym := string(k.symbol)
		h.line(fmt.Sprintf("    %s %d to %s", h.paint(symbolColor(k.symbol), sym), k.count, strings.ToLower(k.title)))
		for _, row := range k.rows {
			h.line("        " + h.paint(symbolColor(k.symbol), sym) + " " + sampleText(s, k.symbol, row))
		}
		if n := k.count - int64(len(k.rows)); len(k.rows) > 0 && n > 0 {
			h.line(fmt.Sprintf("          and %d more", n))
		}
	}
	if s.Counts.Reject > 0 {
		h.line(fmt.Sprintf("    %s %d rejected", h.paint(symbolColor('!'), "!"), s.Counts.Reject))
	}
	if s.Counts.Unchanged > 0 {
		h.line(fmt.Sprintf("      %d unchanged", s.Counts.Unchanged))
	}
	if s.Counts.Skipped > 0 {
		h.line("      " + skippedLine(s))
	}
	if s.Samples != nil && s.Strategy != "" {
		// With -show-rows: how the rows were read, in one line.
		h.line("      " + strategyLine(s))
	}
}

// strategyLine says how a sync's rows were read (diff_strategy) and why.
func strategyLine(s *planner.SyncPlan) string {
	line := "diff: " + printable(s.Strategy)
	if s.StrategyReason != "" {
		line += " (" + printable(s.StrategyReason) + ")"
	}
	return line
}

// finding writes one finding: severity, code and summary on the first line,
// then the detail and the fix aligned under the code.
func (h *humanPlan) finding(f planner.Finding) {
	sev := printable(string(f.Severity))
	indent := strings.Repeat(" ", 4+len(sev)+2)

	summary := strings.Split(printable(f.Summary), "\n")
	h.line("    " + h.paint(severityColor(f.Severity), sev) + "  " + printable(string(f.Code)) + "  " + summary[0])
	for _, l := range summary[1:] {
		h.line(indent + l)
	}
	if f.Detail != "" {
		for _, l := range strings.Split(printable(f.Detail), "\n") {
			h.line(indent + l)
		}
	}
	for _, l := range findingFacts(f) {
		h.line(indent + h.paint(sgrBold, l.label+":") + " " + l.text)
	}
	if f.Fix != "" {
		fix := strings.Split(printable(f.Fix), "\n")
		h.line(indent + h.paint(sgrBold, "fix:") + " " + fix[0])
		for _, l := range fix[1:] {
			h.line(indent + "     " + l)
		}
	}
}

// sampleText renders one sample row after its mark:
//
//	id=7  email=(sensitive)  name=NULL        insert (after values)
//	id=3  email: "old" -> "new"               update (changed columns)
//	id=9  email="x@y"  name="Ann"             delete (before values)
func sampleText(s *planner.SyncPlan, kind byte, row planner.SampleRow) string {
	var parts []string
	if k := sampleKey(s, row); k != "" {
		parts = append(parts, k)
	}
	for _, c := range row.Columns {
		name := printable(c.Name)
		switch kind {
		case '~':
			parts = append(parts, name+": "+formatValue(c.Before)+" -> "+formatValue(c.After))
		case '+':
			if !isKeyColumn(s, c.Name) {
				parts = append(parts, name+"="+formatValue(c.After))
			}
		case '-':
			if !isKeyColumn(s, c.Name) {
				parts = append(parts, name+"="+formatValue(c.Before))
			}
		}
	}
	return strings.Join(parts, "  ")
}
