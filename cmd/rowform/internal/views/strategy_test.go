package views

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rowform/rowform/planner"
)

// TestStrategyLine: with -show-rows (samples kept) the human plan says in
// one line how the rows were read and why; without, it does not; a reason
// from a server cannot paint the terminal.
func TestStrategyLine(t *testing.T) {
	sp := &planner.SyncPlan{Name: "s", Behavior: "mirror", Diffed: true, Counts: planner.Counts{Unchanged: 5},
		Strategy: planner.StrategyServerHash, StrategyReason: "auto: est. 0.10s\x1b[31m"}
	render := func() string {
		var b bytes.Buffer
		if err := RenderPlanHuman(&b, finishPlan(&planner.Plan{Syncs: []*planner.SyncPlan{sp}}), HumanOptions{}); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if out := render(); strings.Contains(out, "diff:") {
		t.Errorf("without samples the plan shows the strategy:\n%s", out)
	}
	sp.Samples = &planner.Samples{}
	out := render()
	if !strings.Contains(out, "      diff: server_hash (auto: est. 0.10s") || strings.Contains(out, "\x1b[31m") {
		t.Errorf("with samples, want one escaped strategy line:\n%q", out)
	}
}
