package views

import (
	"bytes"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/planner"
)

// TestRenderApplyTextEscapesServerText: a failed sync's error comes from the
// server and may carry escape sequences; apply's text output prints them
// escaped, with and without color, and its closing line counts the syncs.
func TestRenderApplyTextEscapesServerText(t *testing.T) {
	res := &executor.Result{Syncs: []*executor.SyncResult{
		{Name: "a", Status: executor.StatusApplied, Applied: planner.Counts{Insert: 2}},
		{Name: "b", Status: executor.StatusFailed, Err: errors.New("ERROR: \x1b[2Jgone\u202e (SQLSTATE 42P01)")},
	}}
	p := &planner.Plan{Syncs: []*planner.SyncPlan{{Name: "a"}, {Name: "b"}}}
	for _, color := range []bool{false, true} {
		var buf bytes.Buffer
		if err := RenderApplyText(&buf, res, p, ApplyTextOptions{Color: color}); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if strings.Contains(out, "\x1b[2J") || strings.Contains(out, "\u202e") {
			t.Errorf("color=%v: the server's escape sequence reached the output: %q", color, out)
		}
		if !strings.Contains(out, ` sync "b" failed: ERROR: \x1b[2Jgone\u202e (SQLSTATE 42P01)`) {
			t.Errorf("color=%v: the failed sync's line is missing or unescaped: %q", color, out)
		}
		if !strings.Contains(out, "Apply failed: 1 sync did not apply; 1 sync applied (2 inserted, 0 updated, 0 deleted) and stays committed.") {
			t.Errorf("color=%v: closing line: %q", color, out)
		}
		if got := strings.Contains(out, sgrReset); got != color {
			t.Errorf("color=%v: output has color sequences: %v", color, got)
		}
	}
}

// TestApplyRefusalShape: a refusal is the same document type as a result,
// with applied false, the error, an empty syncs array, no summary, and the
// plan only when given.
func TestApplyRefusalShape(t *testing.T) {
	b, err := json.Marshal(ApplyRefusal(errors.New("no terminal"), nil))
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"format_version":"` + planner.FormatVersion + `","applied":false,"error":"no terminal","syncs":[]}`; string(b) != want {
		t.Errorf("refusal:\n%s\nwant\n%s", b, want)
	}
	b, _ = json.Marshal(ApplyRefusal(errors.New("the plan has errors"), &planner.Plan{}))
	if !bytes.Contains(b, []byte(`"plan":{`)) {
		t.Errorf("a refusal for the plan's errors carries no plan: %s", b)
	}
	b, _ = json.Marshal(NewApplyDocument(&executor.Result{}, &planner.Plan{}))
	if !bytes.Contains(b, []byte(`"summary":{"syncs":0,"failed":0`)) || bytes.Contains(b, []byte(`"error"`)) {
		t.Errorf("result: %s", b)
	}
}
