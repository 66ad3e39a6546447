package planner

import (
	"fmt"
	"strings"

	"github.com/rowform/rowform/internal/plural"
)

// Triggers. The plan cannot foresee what a trigger does, so it only says
// which user triggers of the table fire for the planned writes: one
// triggers finding per trigger that fires on an operation the plan has
// rows for (after rejections). Apply writes with DELETE, UPDATE and INSERT
// or COPY, which fire the same triggers.

// triggerNotes adds a triggers finding per user trigger that the planned
// writes fire.
func (c *checker) triggerNotes() error {
	if len(c.p.rules.Triggers) == 0 {
		return nil
	}
	// The changes that go ahead, by kind (want sees each change that is not
	// refused once; nothing is copied).
	n := map[ChangeKind]int64{}
	count := func(k ChangeKind) bool {
		n[k]++
		return false
	}
	if err := c.batches(count, func([]change) error { return nil }); err != nil {
		return err
	}
	for _, t := range c.p.rules.Triggers {
		var events, fires []string
		var rows int64
		for _, e := range []struct {
			on   bool
			kind ChangeKind
			name string
			noun string
		}{{t.Insert, ChangeInsert, "INSERT", "insert"}, {t.Update, ChangeUpdate, "UPDATE", "update"}, {t.Delete, ChangeDelete, "DELETE", "delete"}} {
			if !e.on {
				continue
			}
			events = append(events, e.name)
			if k := n[e.kind]; k > 0 {
				fires = append(fires, fmt.Sprintf("%d %s%s", k, e.noun, plural.S(k)))
				rows += k
			}
		}
		if len(fires) == 0 {
			continue
		}
		when := "AFTER"
		if t.Before {
			when = "BEFORE"
		}
		level := "FOR EACH STATEMENT"
		if t.Row {
			level = "FOR EACH ROW"
		} else {
			rows = 0
		}
		f := Finding{Severity: SeverityWarning, Code: CodeTriggers,
			Summary: fmt.Sprintf("the trigger %q (%s %s %s) on %s fires for the planned %s",
				t.Name, when, strings.Join(events, " OR "), level, c.p.Sync.Table, joinAnd(fires)),
			Detail: "rowform cannot foresee what a trigger does: it may refuse rows, write other tables, or (BEFORE ROW) change or skip the rows written, which the plan does not show.",
			Rows:   rows,
		}
		if !t.Row {
			f.Detail = "It fires once per statement that writes these rows. " + f.Detail
		}
		c.notes = append(c.notes, f)
	}
	return nil
}

// joinAnd joins parts as "a", "a and b", "a, b and c".
func joinAnd(parts []string) string {
	if len(parts) < 2 {
		return strings.Join(parts, "")
	}
	return strings.Join(parts[:len(parts)-1], ", ") + " and " + parts[len(parts)-1]
}
