package planner

import (
	"fmt"
	"strconv"

	"github.com/rowform/rowform/hclconfig"
)

// CodeSharedTable: two syncs of one plan write the same table. Each sync's
// plan is made against the table as it is before the apply, and apply
// refuses a sync whose table changed since its plan: once one of the two
// has written the table, the other's plan is stale, every time. A plan that
// cannot apply is never made: the later sync gets this error.
const CodeSharedTable Code = "shared_table"

// sharedTableFindings gives the later of two syncs of the plan that write
// the same table of the same database an error (in plan order, which puts
// a sync after those it depends on) when the earlier one changes the
// table. Syncs that cannot apply anyway (an error finding already) are
// left as they are: the check is about a plan that would otherwise apply.
func sharedTableFindings(plans []*SyncPlan, syncs []*hclconfig.Sync) {
	type target struct{ db, table string }
	first := map[target]*hclconfig.Sync{}
	for i, s := range syncs {
		if s.Destination == nil || plans[i] == nil {
			continue
		}
		db := s.Destination.Address()
		if d := s.Destination; d.Host != "" && d.Database != "" {
			db = d.Host + ":" + strconv.Itoa(d.Port) + "/" + d.Database
		}
		t := target{db, s.Table.String()}
		prev, ok := first[t]
		if !ok {
			first[t] = s
			continue
		}
		pp := planOf(plans, syncs, prev)
		if pp == nil || plans[i].HasErrors() || pp.HasErrors() || pp.Counts.Changes() == 0 {
			// One cannot apply anyway, or the earlier one leaves the
			// table as it is: the later one's plan stays current.
			continue
		}
		where := s.Destination.Address()
		if prev.Destination != s.Destination {
			where = fmt.Sprintf("%s (the database of %s too)", s.Destination.Address(), prev.Destination.Address())
		}
		plans[i].Findings = append(plans[i].Findings, Finding{Severity: SeverityError, Code: CodeSharedTable,
			Summary: fmt.Sprintf("sync %q of this plan changes %s on %s first", prev.Name, s.Table.String(), where),
			Detail: fmt.Sprintf("Each sync is planned against the table as it is now, and apply refuses a sync whose table changed since its plan: once %q has written the table, this plan of %q is stale, whatever the keys and with depends_on too, so this plan could never apply. Apply %q first (rowform apply -sync=%s), then plan again: %q is then planned against what %q wrote. Or make them one sync whose query returns the rows of both.",
				prev.Name, s.Name, prev.Name, prev.Name, s.Name, prev.Name)})
	}
}

// planOf is the plan of sync s.
func planOf(plans []*SyncPlan, syncs []*hclconfig.Sync, s *hclconfig.Sync) *SyncPlan {
	for i, x := range syncs {
		if x == s {
			return plans[i]
		}
	}
	return nil
}
