package views

import (
	"bytes"
	"strings"
	"testing"
	"time"

	"github.com/rowform/rowform/internal/history"
)

// TestHistoryTextNamesUndoneRuns: the text of `rowform history` says which
// run an undo undid, for an undo that failed as for one that applied; a
// failed undo said only "failed", which the JSON's undo_of told apart.
func TestHistoryTextNamesUndoneRuns(t *testing.T) {
	at := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	runs := []history.Run{
		{ID: 3, Sync: "users", Status: history.StatusFailed, UndoOf: 1, Error: "plan is stale", StartedAt: at, FinishedAt: at},
		{ID: 2, Sync: "users", Status: history.StatusApplied, UndoOf: 1, StartedAt: at, FinishedAt: at},
		{ID: 1, Sync: "users", Status: history.StatusApplied, Inserted: 2, StartedAt: at, FinishedAt: at},
	}
	var b bytes.Buffer
	if err := RenderHistoryText(&b, runs, false); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(b.String(), "\n")
	for _, want := range []struct {
		run, status string
	}{{"3 ", "failed (undo of run 1)"}, {"2 ", "applied (undo of run 1)"}} {
		found := false
		for _, l := range lines {
			if strings.HasPrefix(l, want.run) && strings.HasSuffix(strings.TrimSpace(l), want.status) {
				found = true
			}
		}
		if !found {
			t.Errorf("no line of run %s ending %q:\n%s", strings.TrimSpace(want.run), want.status, b.String())
		}
	}
	for _, l := range lines {
		if strings.HasPrefix(l, "1 ") && strings.Contains(l, "undo of") {
			t.Errorf("run 1, no undo, says it is one: %s", l)
		}
	}
}
