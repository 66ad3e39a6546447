package views

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rowform/rowform/planner"
)

// TestSkippedRowsAreNotNoChanges: a plan that writes nothing because
// append and update_only leave differing rows alone does not say "No
// changes" nor that the tables match: it says how many rows differ and that
// the behavior leaves them alone, in text and in markdown, and each sync
// says which rows it skips.
func TestSkippedRowsAreNotNoChanges(t *testing.T) {
	p := finishPlan(&planner.Plan{Syncs: []*planner.SyncPlan{
		{Name: "events", Behavior: "append", Source: "csv.e", Destination: "postgres.d", Table: "public.events",
			Key: []string{"id"}, Counts: planner.Counts{Unchanged: 5, Skipped: 2}, Diffed: true},
		{Name: "scores", Behavior: "update_only", Source: "csv.s", Destination: "postgres.d", Table: "public.scores",
			Key: []string{"id"}, Counts: planner.Counts{Unchanged: 3, Skipped: 1}, Diffed: true},
	}})
	var text bytes.Buffer
	if err := RenderPlanHuman(&text, p, HumanOptions{}); err != nil {
		t.Fatal(err)
	}
	out := text.String()
	for _, bad := range []string{"No changes", "no changes", "match the sources"} {
		if strings.Contains(out, bad) {
			t.Errorf("the plan says %q although 3 rows differ:\n%s", bad, out)
		}
	}
	for _, want := range []string{
		"      nothing to write\n",
		"      2 skipped: they differ, and append does not update rows\n",
		"      1 skipped: only in the source, and update_only does not insert rows\n",
		"Nothing to apply, but 3 rows differ from the sources and are left alone by their syncs' behavior (append does not update rows; update_only does not insert rows).\n",
		"Plan: 0 to insert, 0 to update, 0 to delete in 2 syncs.\n",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("text plan lacks %q:\n%s", want, out)
		}
	}
	var md bytes.Buffer
	if err := RenderPlanMarkdown(&md, p); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(md.String(), "No changes") || !strings.Contains(md.String(), "ℹ️ **Nothing to apply,** but 3 rows differ from the sources and are left alone by their syncs' behavior (append does not update rows; update_only does not insert rows).") {
		t.Errorf("markdown status:\n%s", md.String())
	}

	// One row: singular.
	p.Syncs = p.Syncs[1:]
	p.Finish()
	text.Reset()
	_ = RenderPlanHuman(&text, p, HumanOptions{})
	if !strings.Contains(text.String(), "Nothing to apply, but 1 row differs from the sources and is left alone by their syncs' behavior (update_only does not insert rows).") {
		t.Errorf("one skipped row:\n%s", text.String())
	}
}
