package cli

import (
	"strings"
	"testing"
)

// TestSavedPlanKeyConstraintGone: a saved plan is refused as stale when,
// by the time it is applied, the key's unique constraint is gone (apply's
// own check finds missing_unique_constraint); it used to apply anyway.
func TestSavedPlanKeyConstraintGone(t *testing.T) {
	t.Parallel()
	e := applyEnv(t)
	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-out=p.plan")
	r.expect(t, exitOK)
	e.Dst(`ALTER TABLE items DROP CONSTRAINT items_pkey`)
	before := e.DstDigest("items")
	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "p.plan")
	if r.code != exitError || !strings.Contains(r.stdout+r.stderr, "plan is stale") || !strings.Contains(r.stdout+r.stderr, "missing_unique_constraint") {
		t.Errorf("apply of the saved plan: exit %d\n%s%s", r.code, r.stdout, r.stderr)
	}
	if got := e.DstDigest("items"); got != before {
		t.Error("the table changed")
	}
}
