package cli

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"github.com/rowform/rowform/cmd/rowform/internal/views"
	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/planner"
)

// TestApplyReportsRewrittenColumns: when a trigger stored other values than
// apply wrote, the text output says which column, in how many rows, and
// that the next plan shows them again; -json carries them as "rewritten".
func TestApplyReportsRewrittenColumns(t *testing.T) {
	res := &executor.Result{Syncs: []*executor.SyncResult{{
		Name: "people", Table: "public.people", Status: executor.StatusApplied,
		Applied:   planner.Counts{Insert: 1, Update: 2},
		Rewritten: []executor.Rewritten{{Column: "name\x1b[31m", Rows: 2}},
	}}}
	p := &planner.Plan{Syncs: []*planner.SyncPlan{{Name: "people", Key: []string{"id"}}}}
	var out bytes.Buffer
	_ = views.RenderApplyText(&out, res, p, views.ApplyTextOptions{})
	text := out.String()
	if !strings.Contains(text, "a trigger stored other values in column") || !strings.Contains(text, "in 2 rows: the next plan will show them again") {
		t.Errorf("the output does not report the rewritten column:\n%s", text)
	}
	if strings.Contains(text, "\x1b") {
		t.Errorf("a control character from the server reached the terminal: %q", text)
	}
	b, err := json.Marshal(views.NewApplyDocument(res, p))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"rewritten":[{"column":"name\u001b[31m","rows":2}]`) {
		t.Errorf("JSON: %s", b)
	}
}
