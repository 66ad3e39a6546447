package views

import (
	"bytes"
	"fmt"
	"strings"
	"testing"

	"github.com/rowform/rowform/planner"
)

// bigPlan has n syncs, each with a long finding and 50 sample rows of
// long values: far more than one comment holds.
func bigPlan(n int) *planner.Plan {
	p := &planner.Plan{}
	for i := range n {
		s := &planner.SyncPlan{
			Name: fmt.Sprintf("sync_%03d", i), Behavior: "mirror",
			Source: "postgres.warehouse", Destination: "postgres.crm", Table: fmt.Sprintf("public.t%03d", i),
			Key: []string{"id"}, Counts: planner.Counts{Insert: 50, Unchanged: 3},
			Diffed: true, Samples: &planner.Samples{},
			Findings: []planner.Finding{{Severity: planner.SeverityWarning, Code: planner.CodeTriggers,
				Summary: "triggers fire", Detail: strings.Repeat("a long explanation ", 40)}},
		}
		for r := range 50 {
			s.Samples.Insert = append(s.Samples.Insert, planner.SampleRow{Key: []string{fmt.Sprint(r)},
				Columns: []planner.SampleColumn{{Name: "name", After: strings.Repeat("x", 200)}}})
		}
		p.Syncs = append(p.Syncs, s)
	}
	return finishPlan(p)
}

// TestMarkdownFitsAComment: a plan too long for a pull-request comment is
// cut to MarkdownLimit bytes, keeping its status, its whole table and its
// summary line, with a note that says what was left out and where the rest
// is. A plan that fits is not touched.
func TestMarkdownFitsAComment(t *testing.T) {
	p := bigPlan(60)
	var buf bytes.Buffer
	if err := RenderPlanMarkdown(&buf, p); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	if len(out) > MarkdownLimit {
		t.Fatalf("the markdown plan has %d bytes, more than MarkdownLimit = %d", len(out), MarkdownLimit)
	}
	if MarkdownLimit >= 65536 {
		t.Fatalf("MarkdownLimit = %d leaves no room under GitHub's 65,536-character comment limit", MarkdownLimit)
	}
	for _, want := range []string{"### rowform plan\n", "📝 **Changes to apply.**", "| `sync_000` |", "| `sync_059` |",
		"**This plan is too long for one comment:**", "`rowform plan` shows all of it", "rowform show PLANFILE",
		"\n" + PlanSummaryLine(p) + "\n"} {
		if !strings.Contains(out, want) {
			t.Errorf("the cut plan lacks %q", want)
		}
	}
	if !strings.HasSuffix(out, PlanSummaryLine(p)+"\n") {
		t.Errorf("the cut plan does not end with the summary line:\n%s", out[len(out)-300:])
	}
	if !strings.Contains(out, "the sample rows of sync `sync_") && !strings.Contains(out, "the details of sync `sync_") {
		t.Errorf("the note does not name what was left out")
	}
	// The first syncs keep their sections.
	if !strings.Contains(out, "#### sync \"sync_000\"") {
		t.Errorf("the first sync's section is missing")
	}

	// A small limit: no section fits, every one is named as left out,
	// the table and the summary stay.
	buf.Reset()
	small := bigPlan(3)
	if err := renderPlanMarkdown(&buf, small, 2000); err != nil {
		t.Fatal(err)
	}
	out = buf.String()
	if len(out) > 2000 {
		t.Errorf("%d bytes with a limit of 2000:\n%s", len(out), out)
	}
	if !strings.Contains(out, "the details of sync `sync_001` and sync `sync_002` are left out, and the sample rows of sync `sync_000` are left out") {
		t.Errorf("the note does not list what was left out:\n%s", out)
	}
	if !strings.Contains(out, "| `sync_002` |") || !strings.HasSuffix(out, PlanSummaryLine(small)+"\n") {
		t.Errorf("the table or the summary line was cut:\n%s", out)
	}

	// A plan that fits is rendered whole, with no note.
	buf.Reset()
	if err := RenderPlanMarkdown(&buf, bigPlan(1)); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "too long") || strings.Count(buf.String(), "| 199 |")+strings.Count(buf.String(), "| 49 |") == 0 {
		t.Errorf("a plan that fits was cut:\n%s", buf.String())
	}
}
