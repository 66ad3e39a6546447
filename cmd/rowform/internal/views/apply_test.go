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

// TestWriteApplyDocumentStreamsTheEncodersBytes: WriteApplyDocument, which
// reads each sync's rejected rows one at a time, writes byte for byte what
// a json.Encoder with a two-space indent writes of the same document: with
// and without rows, with rows whose texts JSON escapes (HTML, control
// characters, bytes that are not UTF-8, quotes that spell a member named
// "rejected") and enough of them to be kept on disk, with an error and a
// plan after the syncs.
func TestWriteApplyDocumentStreamsTheEncodersBytes(t *testing.T) {
	odd := planner.RejectedRow{Sync: `s", "rejected": []`, Kind: "update", Key: map[string]string{"<b>": "a&b\x00\xff", "id": "\u2028"},
		Line: 7, Column: "c\x1b", Constraint: `"rejected": []`, Reason: "too <long>\n"}
	many := make([]planner.RejectedRow, 20000)
	for i := range many {
		many[i] = planner.RejectedRow{Sync: "many", Kind: "insert", Key: map[string]string{"id": strings.Repeat("7", i%50)}, Reason: "r"}
	}
	rows := func(rs ...planner.RejectedRow) planner.RejectedRows {
		t.Helper()
		rr, err := planner.NewRejectedRows(rs)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(rr.Close)
		return rr
	}
	res := &executor.Result{Syncs: []*executor.SyncResult{
		{Name: `odd "rejected": []`, Table: "public.odd", Status: executor.StatusApplied, Applied: planner.Counts{Update: 1, Reject: 2},
			Rejected: rows(odd, planner.RejectedRow{Kind: "delete", Reason: "no key"})},
		{Name: "none", Table: "public.none", Status: executor.StatusNoChanges},
		{Name: "many", Table: "public.many", Status: executor.StatusApplied, Applied: planner.Counts{Reject: int64(len(many))},
			Rejected: rows(many...), Rewritten: []executor.Rewritten{{Column: "x", Rows: 2}}},
		{Name: "failed", Table: "public.failed", Status: executor.StatusFailed, Err: errors.New(`"rejected": [] <no>`), OutcomeUnknown: true},
	}}
	p := &planner.Plan{Syncs: []*planner.SyncPlan{{Name: "none", Table: "public.none", Key: []string{"id"}}}}
	p.Finish()
	for _, doc := range []*ApplyDocument{NewApplyDocument(res, p), NewApplyDocument(&executor.Result{}, p), ApplyRefusal(errors.New("no <"), p)} {
		doc.Plan = p
		var want, got bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetIndent("", "  ")
		if err := enc.Encode(doc); err != nil {
			t.Fatal(err)
		}
		if err := WriteApplyDocument(&got, doc); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) {
			g, w := got.String(), want.String()
			i := 0
			for i < len(g) && i < len(w) && g[i] == w[i] {
				i++
			}
			t.Errorf("the streamed document differs at byte %d of %d:\n got %q\nwant %q", i, len(w), g[max(0, i-200):min(len(g), i+200)], w[max(0, i-200):min(len(w), i+200)])
		}
	}
}
