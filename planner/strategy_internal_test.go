package planner

import (
	"strings"
	"testing"
)

// TestAutoChoosesByCost: the cost model reads full rows over a local link,
// for a small table, and when most rows changed; it hashes in the servers
// over a 100 Mbit/s link; its reason's words do not depend on the numbers.
func TestAutoChoosesByCost(t *testing.T) {
	base := costEstimate{rows: 1e6, width: 130, keyWidth: 8, ncols: 7, nkeys: 1, changed: 0.01, srcRate: 500e6, dstRate: 500e6}
	slow := base
	slow.srcRate, slow.dstRate = 12.5e6, 12.5e6
	oneSlow := base
	oneSlow.dstRate = 12.5e6
	small := slow
	small.rows = 1000
	churn := slow
	churn.changed = 1
	for name, tc := range map[string]struct {
		e    costEstimate
		want string
	}{
		"local":             {base, StrategyFullRows},
		"100 Mbit/s":        {slow, StrategyServerHash},
		"one slow link":     {oneSlow, StrategyServerHash},
		"small table":       {small, StrategyFullRows},
		"every row changed": {churn, StrategyFullRows},
	} {
		st := tc.e.choose()
		if st.name != tc.want {
			t.Errorf("%s: %s (%s; %s), want %s", name, st.name, st.reason, st.estimate, tc.want)
		}
		if !strings.HasPrefix(st.reason, "auto: ") || strings.ContainsAny(st.reason, "0123456789") {
			t.Errorf("%s: the reason %q is not words alone", name, st.reason)
		}
	}
}
