package planner

import (
	"fmt"
	"strings"

	"github.com/rowform/rowform/internal/catalog"
)

// The table's exclusion constraints (EXCLUDE USING gist (room WITH =,
// during WITH &&)): two rows conflict when every element's operator holds
// between their values, NULLs never conflicting. Checked against the table
// as the writes leave it, like the unique keys (rules_unique.go):
//
//   - a changed row (an insert, or an update that changes a column the
//     constraint reads) that conflicts with a destination row the change
//     set neither deletes nor updates in those columns is refused; one that
//     conflicts with a row another update changes is refused when it is
//     itself an update and the constraint is not deferrable (checked row by
//     row during the UPDATE, so the order of the rows would decide);
//   - two changed rows that conflict refuse each other, when the changed
//     rows number at most exclusionPairRows: the server compares them in
//     pairs, which no index helps with, so beyond that they are not
//     compared (docs/checks.md), and apply fails on a conflict among them.
//
// The destination rows a changed row meets are found through the
// constraint's own index, with the constraint's operators.

// exclusionPairRows bounds the changed rows compared in pairs.
const exclusionPairRows = 5000

// exclusion is an exclusion constraint to check.
type exclusion struct {
	catalog.ExclusionConstraint
	// cols are the table columns it reads; moving the mapped ones.
	cols   []string
	moving []int
}

func (r *relations) prepareExclusions() {
	for _, x := range r.c.p.rules.Exclusions {
		e := &exclusion{ExclusionConstraint: x}
		for _, col := range x.Reads {
			if r.c.p.Table.Column(col) != nil {
				e.cols = append(e.cols, col)
			}
		}
		e.moving = r.c.movingOf(e.cols)
		r.exclusions = append(r.exclusions, e)
	}
}

// what describes the constraint for reasons: "(room WITH =, during WITH &&)".
func (x *exclusion) what() string {
	var parts []string
	for k, e := range x.Exprs {
		op := strings.TrimSuffix(strings.TrimPrefix(x.Operators[k], "OPERATOR("), ")")
		if i := strings.LastIndex(op, "."); i >= 0 {
			op = op[i+1:]
		}
		parts = append(parts, e+" WITH "+op)
	}
	s := "(" + strings.Join(parts, ", ") + ")"
	if x.Predicate != "" {
		s += " among the rows where " + x.Predicate
	}
	return s
}

// values selects the elements' values of the rows of alias s as x0, x1...
func (x *exclusion) values() string {
	var sel []string
	for k, e := range x.Exprs {
		sel = append(sel, fmt.Sprintf("(%s) AS x%d", e, k))
	}
	return strings.Join(sel, ", ")
}

// conflict is the condition under which a row with the elements' values
// a.x0.. conflicts with one with b.x0..; with a = "" the first row's
// values are its own expressions (a table row in scope).
func (x *exclusion) conflict(a, b string) string {
	var parts []string
	for k, e := range x.Exprs {
		left := fmt.Sprintf("%s.x%d", a, k)
		if a == "" {
			left = "(" + e + ")"
		}
		parts = append(parts, fmt.Sprintf("%s %s %s.x%d", left, x.Operators[k], b, k))
	}
	return strings.Join(parts, " AND ")
}

func (r *relations) checkExclusions() error {
	for _, x := range r.exclusions {
		if err := r.checkExclusion(x); err != nil {
			return fmt.Errorf("exclusion constraint %s: %w", x.Name, err)
		}
	}
	return nil
}

func (r *relations) checkExclusion(x *exclusion) error {
	c := r.c
	sel := func(ch *change) bool { return ch.kind == ChangeInsert || c.l.touches(ch, x.moving) }
	where, dwhere := "", ""
	if x.Predicate != "" {
		where = " WHERE (" + x.Predicate + ")"
		dwhere = " AND (" + x.Predicate + ")"
	}
	var meetings []meeting
	selected := 0
	var first []change
	err := c.batches(isWrite, func(all []change) error {
		batch := selectChanges(all, sel)
		if len(batch) == 0 {
			return nil
		}
		if selected == 0 {
			first = append([]change(nil), batch...)
		}
		selected += len(batch)
		sr := c.stateRows(batch, x.cols)
		if sr.err != nil {
			return sr.err
		}
		sql := fmt.Sprintf(`SELECT t.pos, k.* FROM (SELECT s.%s AS pos, %s FROM %s AS s%s) AS t
JOIN LATERAL (SELECT %s FROM %s AS d WHERE %s%s) AS k ON true`,
			posColumn, x.values(), sr.from, where, c.l.keySelect("d"), c.p.Table.Ident(), x.conflict("", "t"), dwhere)
		return queryRows(r.ctx, r.conn, sql, sr.params, func(vals [][]byte) error {
			k, err := int4At(vals[0])
			if err != nil {
				return err
			}
			ch := &batch[k]
			if m, ok := r.meetingOf(ch, vals[1:]); ok {
				meetings = append(meetings, m)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	if selected > 1 && selected <= exclusionPairRows && len(first) == selected {
		if err := r.exclusionAmongChanges(x, first, where); err != nil {
			return err
		}
	}
	return r.settle(meetings, x.moving, x.Deferrable, func(ch *change) { r.rejectExcluded(x, ch) }, func(ch *change) {
		c.reject(ch.seq, ch.kind, ch.row(), rejectReason{Constraint: x.Name,
			Reason: fmt.Sprintf("conflicts by the exclusion constraint %s with a row another update of the same sync moves away; PostgreSQL checks a constraint that is not DEFERRABLE row by row during the UPDATE, so the write would fail or not depending on the order of the rows, which rowform cannot choose", x.what())})
	})
}

func (r *relations) rejectExcluded(x *exclusion, ch *change) {
	r.c.reject(ch.seq, ch.kind, ch.row(), rejectReason{Constraint: x.Name,
		Reason: fmt.Sprintf("conflicts with a destination row that this sync leaves in place, by the exclusion constraint %s", x.what())})
}

// exclusionAmongChanges compares the changed rows of batch in pairs and
// refuses both rows of every pair that conflicts.
func (r *relations) exclusionAmongChanges(x *exclusion, batch []change, where string) error {
	c := r.c
	sr := c.stateRows(batch, x.cols)
	if sr.err != nil {
		return sr.err
	}
	sql := fmt.Sprintf(`WITH t AS (SELECT s.%s AS pos, %s FROM %s AS s%s)
SELECT a.pos, b.pos FROM t AS a JOIN t AS b ON a.pos < b.pos AND %s`,
		posColumn, x.values(), sr.from, where, x.conflict("a", "b"))
	return queryRows(r.ctx, r.conn, sql, sr.params, func(vals [][]byte) error {
		for _, v := range vals {
			k, err := int4At(v)
			if err != nil {
				return err
			}
			ch := &batch[k]
			c.reject(ch.seq, ch.kind, ch.row(), rejectReason{Constraint: x.Name,
				Reason: fmt.Sprintf("conflicts with another row of this sync by the exclusion constraint %s", x.what())})
		}
		return nil
	})
}
