package planner

import (
	"context"
	"fmt"
	"strconv"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/catalog"
)

// CodeSharedTable: two syncs of one plan write the same table, or one
// writes a partition of the table the other writes. Each sync's plan is
// made against the table as it is before the apply, and apply refuses a
// sync whose table changed since its plan: once one of the two has written
// the table, the other's plan is stale, every time. A plan that cannot
// apply is never made: the later sync gets this error.
const CodeSharedTable Code = "shared_table"

// writeTarget is the table a sync writes, for telling whether two syncs
// write one table.
type writeTarget struct {
	// server is the table as the server names it; its Database is "" when
	// the server could not say (pg_control_system() not granted).
	server catalog.TableIdentity
	// spelled is the database and table as the configuration spells them,
	// compared when the server could not say for one of the two syncs.
	spelled spelledTable
}

// spelledTable is a destination table as the configuration spells it: the
// database ("host:port/database", or the destination's address when its
// block leaves the host or database to the environment) and the table
// ("schema.name").
type spelledTable struct{ db, table string }

// readTarget reads the identity of table, the one sync s writes, on its
// destination session (outside any transaction, so that a server that
// refuses the query leaves the session usable). It never fails: without
// the server's word, the target is the configuration's spelling.
func readTarget(ctx context.Context, s *hclconfig.Sync, dst *pgx.Conn, table *catalog.Table) *writeTarget {
	t := &writeTarget{spelled: spelledTarget(s)}
	if id, err := catalog.LoadTableIdentity(ctx, dst, table.OID); err == nil {
		t.server = id
	}
	return t
}

// spelledTarget is the table s writes as its configuration spells it.
func spelledTarget(s *hclconfig.Sync) spelledTable {
	db := s.Destination.Address()
	if d := s.Destination; d.Host != "" && d.Database != "" {
		db = d.Host + ":" + strconv.Itoa(d.Port) + "/" + d.Database
	}
	return spelledTable{db, s.Table.String()}
}

// overlaps reports whether writing one of the two targets can change the
// rows of the other (catalog.TableIdentity.Overlaps).
func (t *writeTarget) overlaps(other *writeTarget) bool {
	if t.server.Database == "" || other.server.Database == "" {
		return t.spelled == other.spelled
	}
	return t.server.Overlaps(other.server)
}

// relation is how t stands to other, a target it overlaps: "partition"
// when t is a partition of other, "parent" when other is a partition of
// t, "" when they are one table.
func (t *writeTarget) relation(other *writeTarget) string {
	switch {
	case t.server.PartitionOf(other.server):
		return "partition"
	case other.server.PartitionOf(t.server):
		return "parent"
	}
	return ""
}

// sharedTableFindings gives a sync of the plan an error when an earlier
// one (in plan order, which puts a sync after those it depends on) changes
// the same table of the same database, as the servers identify them, or a
// table of its partition tree that is the other's partition or partitioned
// table. Syncs that cannot apply anyway (an error finding already) are
// left as they are: the check is about a plan that would otherwise apply.
// plans[i] is the plan of syncs[i].
func sharedTableFindings(plans []*SyncPlan, syncs []*hclconfig.Sync) {
	for i, s := range syncs {
		sp := plans[i]
		if sp == nil || sp.target == nil || sp.HasErrors() {
			continue
		}
		for j, prev := range plans[:i] {
			if prev == nil || prev.target == nil || prev.HasErrors() || prev.Counts.Changes() == 0 {
				// One cannot apply anyway, or the earlier one leaves the
				// table as it is: the later one's plan stays current.
				continue
			}
			if prev.target.overlaps(sp.target) {
				sp.Findings = append(sp.Findings, sharedTableFinding(syncs[j], s, prev, sp))
				break
			}
			if c := cascadeInto(prev, sp); c != nil {
				sp.Findings = append(sp.Findings, cascadeIntoFinding(syncs[j], s, c))
				break
			}
		}
	}
}

// cascadeInto is the cascade warning of pp whose foreign key actions
// reach rows of the table sp writes, in the same database; nil if none
// does. The earlier sync's deletes and key updates then change the later
// one's table before it runs, as a write of it would.
func cascadeInto(pp, sp *SyncPlan) *Finding {
	if !pp.target.sameDatabase(sp.target) {
		return nil
	}
	for k := range pp.Findings {
		f := &pp.Findings[k]
		if f.Code == CodeCascade && f.Rows > 0 && f.Table == sp.Table {
			return f
		}
	}
	return nil
}

// sameDatabase reports whether the two targets are in one database, as
// the servers say (or, when one could not say, as spelled).
func (t *writeTarget) sameDatabase(other *writeTarget) bool {
	if t.server.Database == "" || other.server.Database == "" {
		return t.spelled.db == other.spelled.db
	}
	return t.server.Database == other.server.Database
}

// cascadeIntoFinding is the error of sync s whose table the earlier sync
// prev changes first through a foreign key's action (its cascade warning
// c).
func cascadeIntoFinding(prev, s *hclconfig.Sync, c *Finding) Finding {
	return Finding{Severity: SeverityError, Code: CodeSharedTable, Table: c.Table, Constraint: c.Constraint,
		Summary: fmt.Sprintf("sync %q of this plan changes %s first, through the foreign key %s: %s", prev.Name, c.Table, c.Constraint, c.Summary),
		Detail: fmt.Sprintf("This sync is planned against %s as it is now, and apply refuses a sync whose table changed since its plan: once %q has applied, its deletes or key updates have deleted or changed those rows of %s, so this plan of %q is stale and could never apply. "+
			"Apply %q first (rowform apply -sync=%s), then plan again: %q is then planned against the table the cascade left. Or apply both with rowform apply -auto-approve, which plans each sync when it runs.",
			c.Table, prev.Name, c.Table, s.Name, prev.Name, prev.Name, s.Name)}
}

// sharedTableFinding is the error of sync s, planned as sp, whose table
// the earlier sync prev, planned as pp, changes first.
func sharedTableFinding(prev, s *hclconfig.Sync, pp, sp *SyncPlan) Finding {
	where := s.Destination.Address()
	if prev.Destination != s.Destination {
		where = fmt.Sprintf("%s (the database of %s too)", s.Destination.Address(), prev.Destination.Address())
	}
	table, why := sp.Table, ""
	switch pp.target.relation(sp.target) {
	case "partition":
		table = fmt.Sprintf("%s, a partition of %s,", pp.Table, sp.Table)
		why = fmt.Sprintf(" A partition's rows are rows of its partitioned table: what %q writes into %s changes what this sync reads from %s.", prev.Name, pp.Table, sp.Table)
	case "parent":
		table = fmt.Sprintf("%s, of which %s is a partition,", pp.Table, sp.Table)
		why = fmt.Sprintf(" A partition's rows are rows of its partitioned table: what %q writes into %s may land in %s.", prev.Name, pp.Table, sp.Table)
	}
	return Finding{Severity: SeverityError, Code: CodeSharedTable,
		Summary: fmt.Sprintf("sync %q of this plan changes %s on %s first", prev.Name, table, where),
		Detail: fmt.Sprintf("Each sync is planned against the table as it is now, and apply refuses a sync whose table changed since its plan: once %q has written the table, this plan of %q is stale, whatever the keys and with depends_on too, so this plan could never apply.%s Apply %q first (rowform apply -sync=%s), then plan again: %q is then planned against what %q wrote. Or make them one sync whose query returns the rows of both.",
			prev.Name, s.Name, why, prev.Name, prev.Name, s.Name, prev.Name)}
}
