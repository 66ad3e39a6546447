package views

import (
	"bytes"
	"testing"
)

// TestRenderSyncHumanIsRenderPlanHuman: a plan shown one sync at a time
// (RenderSyncHuman of each sync, then RenderPlanHumanClosing), as the
// unattended apply shows it, is byte for byte the text of RenderPlanHuman,
// in color and without.
func TestRenderSyncHumanIsRenderPlanHuman(t *testing.T) {
	for _, tc := range goldenPlans {
		for _, color := range []bool{false, true} {
			p := tc.plan()
			opts := HumanOptions{Color: color}
			var whole, parts bytes.Buffer
			if err := RenderPlanHuman(&whole, p, opts); err != nil {
				t.Fatal(err)
			}
			for _, s := range p.Syncs {
				if err := RenderSyncHuman(&parts, s, opts); err != nil {
					t.Fatal(err)
				}
			}
			if err := RenderPlanHumanClosing(&parts, p, opts); err != nil {
				t.Fatal(err)
			}
			if whole.String() != parts.String() {
				t.Errorf("%s (color %v): shown sync by sync:\n%s\nwhole:\n%s", tc.name, color, parts.String(), whole.String())
			}
		}
	}
	if RenderSyncHuman(&bytes.Buffer{}, nil, HumanOptions{}) == nil || RenderPlanHumanClosing(&bytes.Buffer{}, nil, HumanOptions{}) == nil {
		t.Error("nil renders without an error")
	}
}
