package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/hclconfig"
)

// changedSavedVariables is the error of `apply PLANFILE` when a variable
// the plan was made with gets another value from this run's environment
// (ROWFORM_VAR_<name>) or -var-file: apply uses the plan's values, so the
// run's would be ignored without a word — as a different -var is refused
// (the configuration's digest changes), so are they. cfg is the
// configuration loaded with the plan's values; nil when nothing differs.
func (inv *invocation) changedSavedVariables(saved map[string]string, in hclconfig.Inputs, cfg *hclconfig.Config, planFile string) error {
	if len(saved) == 0 {
		return nil
	}
	// What this run's own inputs give, without the plan's values (and
	// without failing on variables that only the plan sets).
	in.AllowUnset = true
	own, _ := hclconfig.Load(inv.dir, in)
	var changed []string
	for name := range saved {
		v := own.Variables[name]
		if v == nil || (!strings.HasPrefix(v.Source, "environment variable ") && !strings.HasPrefix(v.Source, "-var-file=")) {
			continue
		}
		mine, ok1 := own.NonSensitiveValue(name)
		planned, ok2 := cfg.NonSensitiveValue(name)
		if !ok1 || !ok2 || !mine.IsWhollyKnown() || !planned.IsWhollyKnown() || !mine.RawEquals(planned) {
			changed = append(changed, fmt.Sprintf("%s (from the %s)", name, v.Source))
		}
	}
	if len(changed) == 0 {
		return nil
	}
	sort.Strings(changed)
	return fmt.Errorf("%w: the plan was made with other values of the variables %s than this run gives; nothing was written. Apply it without them, or run 'rowform plan -out=%s' again",
		executor.ErrStale, strings.Join(changed, ", "), planFile)
}
