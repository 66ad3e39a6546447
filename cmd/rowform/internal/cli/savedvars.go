package cli

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/hclconfig"
)

// changedSavedVariables is the error of `apply PLANFILE` when the plan's
// variables do not fit this run: a variable the plan was made with that
// this configuration does not declare (the plan is of another
// configuration, or the variable was removed), or one this run gives
// another value (-var, ROWFORM_VAR_<name>, -var-file). apply uses the
// plan's values, so the run's would be ignored without a word; each is
// named. nil when nothing differs.
func (inv *invocation) changedSavedVariables(saved map[string]string, in hclconfig.Inputs, planFile string) error {
	if len(saved) == 0 {
		return nil
	}
	// What this run's own inputs give, without the plan's values (and
	// without failing on variables that only the plan sets).
	in.AllowUnset = true
	own, diags := hclconfig.Load(inv.dir, in)
	if diags.HasErrors() {
		return nil // the load that follows reports them
	}
	var undeclared, changed []string
	for name, value := range saved {
		v := own.Variables[name]
		if v == nil {
			undeclared = append(undeclared, name)
			continue
		}
		if !strings.HasPrefix(v.Source, "environment variable ") && !strings.HasPrefix(v.Source, "-var") {
			continue
		}
		mine, ok := own.NonSensitiveValue(name)
		if !ok || !mine.IsWhollyKnown() || mine.IsNull() || renderVariable(mine) != value {
			changed = append(changed, fmt.Sprintf("%s (from the %s)", name, v.Source))
		}
	}
	sort.Strings(undeclared)
	sort.Strings(changed)
	switch {
	case len(undeclared) > 0:
		return fmt.Errorf("%w: the plan was made with the variables %s, which this configuration does not declare: the plan is of another configuration, or the configuration changed since; nothing was written. Run 'rowform plan -out=%s' again",
			executor.ErrStale, quoteNames(undeclared), planFile)
	case len(changed) > 0:
		return fmt.Errorf("%w: the plan was made with other values of the variables %s than this run gives; nothing was written. Apply it without them, or run 'rowform plan -out=%s' again",
			executor.ErrStale, strings.Join(changed, ", "), planFile)
	}
	return nil
}

func quoteNames(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// unsavedVariables names the variables, not sensitive, that this run gives
// a value (-var, ROWFORM_VAR_<name>, -var-file) and the saved plan has
// none for: the plan took their defaults, so a configuration digest that
// differs may be theirs. Each is named with where its value came from.
func unsavedVariables(cfg *hclconfig.Config, saved map[string]string) []string {
	var given []string
	for name, v := range cfg.Variables {
		if _, ok := saved[name]; ok || v.Sensitive || v.Source == "" || v.Source == "default" {
			continue
		}
		given = append(given, fmt.Sprintf("%s (from the %s)", name, v.Source))
	}
	sort.Strings(given)
	return given
}
