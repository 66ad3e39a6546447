package executor

import (
	"errors"
	"strings"
	"testing"

	"github.com/rowform/rowform/planner"
)

// TestStaleMessageSaysWhatChanged: a stale plan whose counts are what the
// plan said (values moved, not counts) is refused with a message that says
// so, instead of the same figures twice; with other counts, the message
// shows both.
func TestStaleMessageSaysWhatChanged(t *testing.T) {
	sp := &planner.SyncPlan{Counts: planner.Counts{Update: 1, Unchanged: 2}, SourceRows: 3, DestinationRows: 3, ChangeDigest: "aaaa"}

	err := staleness(sp, &planner.DiffResult{Counts: sp.Counts, SourceRows: 3, DestinationRows: 3, Digest: "bbbb"}, nil)
	if !errors.Is(err, ErrStale) {
		t.Fatalf("err = %v, want ErrStale", err)
	}
	msg := err.Error()
	for _, want := range []string{"the counts are the same (0 to insert, 1 to update, 0 to delete; 3 source and 3 destination rows)", "values", "nothing was written", "run 'rowform plan' again"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	if strings.Contains(msg, "now 0 to insert") {
		t.Errorf("message repeats the same counts:\n%s", msg)
	}

	err = staleness(sp, &planner.DiffResult{Counts: planner.Counts{Update: 2, Unchanged: 1}, SourceRows: 3, DestinationRows: 3, Digest: "cccc"}, nil)
	if err == nil || !strings.Contains(err.Error(), "planned 0 to insert, 1 to update, 0 to delete of 3 source and 3 destination rows; now 0 to insert, 2 to update, 0 to delete of 3 and 3") {
		t.Errorf("other counts: %v", err)
	}

	if err := staleness(sp, &planner.DiffResult{Counts: sp.Counts, SourceRows: 3, DestinationRows: 3, Digest: "aaaa"}, nil); err != nil {
		t.Errorf("an unchanged plan is stale: %v", err)
	}
}
