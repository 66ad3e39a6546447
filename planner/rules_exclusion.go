package planner

import (
	"fmt"
	"strings"

	"github.com/rowform/rowform/internal/catalog"
	"github.com/rowform/rowform/internal/plural"
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
//   - two changed rows that conflict refuse each other. Only rows whose
//     elements under = (the constraint's equality elements, room above)
//     are equal can conflict: the server hashes those elements of every
//     changed row, and the rows whose hashes meet — from any batch — are
//     compared in pairs, a group of equal hashes at a time. A constraint
//     without such an element puts every changed row in one group. A
//     group of more than exclusionPairRows rows is not compared (the pairs
//     grow as its square, and no index helps): a warning says so, and
//     apply fails on a conflict among them (docs/checks.md).
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
	// hash groups the changed rows that can conflict (grouping); chosen
	// once, on the first round.
	hash *hashing
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

// equalityElements are the indexes of the elements compared with
// PostgreSQL's own = (OPERATOR(pg_catalog.=)), whose values the types'
// hash functions hash alike when they are equal.
func (x *exclusion) equalityElements() []int {
	var out []int
	for k, op := range x.Operators {
		if op == "OPERATOR(pg_catalog.=)" {
			out = append(out, k)
		}
	}
	return out
}

func (r *relations) checkExclusion(x *exclusion) error {
	c := r.c
	sel := func(ch *change) bool { return ch.kind == ChangeInsert || c.l.touches(ch, x.moving) }
	where, dwhere := "", ""
	if x.Predicate != "" {
		where = " WHERE (" + x.Predicate + ")"
		dwhere = " AND (" + x.Predicate + ")"
	}
	if x.hash == nil {
		h := x.grouping(r)
		x.hash = &h
	}
	var meetings []meeting
	var hashes hashGroups
	defer hashes.close()
	err := c.batches(isWrite, func(all []change) error {
		batch := selectChanges(all, sel)
		if len(batch) == 0 {
			return nil
		}
		sr := c.stateRows(batch, x.cols)
		if sr.err != nil {
			return sr.err
		}
		sql := fmt.Sprintf(`SELECT t.pos, t.h, k.* FROM (SELECT s.%s AS pos, %s AS h, %s FROM %s AS s%s) AS t
LEFT JOIN LATERAL (SELECT true AS hit, %s FROM %s AS d WHERE %s%s) AS k ON true`,
			posColumn, x.hash.sql(), x.values(), sr.from, where, c.l.keySelect("d"), c.p.Table.Ident(), x.conflict("", "t"), dwhere)
		hashed := make([]bool, len(batch))
		return queryRows(r.ctx, r.conn, sql, sr.params, func(vals [][]byte) error {
			k, err := int4At(vals[0])
			if err != nil {
				return err
			}
			ch := &batch[k]
			if !hashed[k] && vals[1] != nil {
				// A row with a NULL equality element conflicts with none.
				hashed[k] = true
				h, err := hashAt(vals[1])
				if err != nil {
					return err
				}
				if err := hashes.add(h, ch.seq); err != nil {
					return err
				}
			}
			if vals[2] == nil {
				return nil
			}
			if m, ok := r.meetingOf(ch, vals[3:]); ok {
				meetings = append(meetings, m)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	if err := r.exclusionAmongChanges(x, &hashes, where); err != nil {
		return err
	}
	return r.settle(meetings, x.moving, x.Deferrable, func(ch *change) { r.rejectExcluded(x, ch) }, func(ch *change) {
		c.reject(ch.seq, ch.kind, ch.row(), rejectReason{Constraint: x.Name,
			Reason: fmt.Sprintf("conflicts by the exclusion constraint %s with a row another update of the same sync moves away; PostgreSQL checks a constraint that is not DEFERRABLE row by row during the UPDATE, so the write would fail or not depending on the order of the rows, which rowform cannot choose", x.what())})
	})
}

// grouping is how the changed rows are hashed into the groups compared in
// pairs: by the equality elements' values (NULL, so in no group, when one
// is NULL); with none, every row hashes to 0.
func (x *exclusion) grouping(r *relations) hashing {
	var exprs []string
	for _, k := range x.equalityElements() {
		exprs = append(exprs, x.Exprs[k])
	}
	if len(exprs) == 0 {
		return hashing{constant: true}
	}
	h := r.chooseHashing(exprs, x.cols)
	h.strict = true
	return h
}

func (r *relations) rejectExcluded(x *exclusion, ch *change) {
	r.c.reject(ch.seq, ch.kind, ch.row(), rejectReason{Constraint: x.Name,
		Reason: fmt.Sprintf("conflicts with a destination row that this sync leaves in place, by the exclusion constraint %s", x.what())})
}

// exclusionAmongChanges compares the changed rows of each group in pairs
// and refuses both rows of every pair that conflicts. Groups of at most
// exclusionPairRows rows go together, the server finding each group's
// pairs by a join on its hash; a larger group is not compared, and a
// warning says how many rows were left so.
func (r *relations) exclusionAmongChanges(x *exclusion, hashes *hashGroups, where string) error {
	c := r.c
	// Groups go together up to a batch of rows, and as many pairs as one
	// group of exclusionPairRows has (so a larger group after them ends
	// the batch).
	unchecked, err := hashes.batches(c, exclusionPairRows, exclusionPairRows*exclusionPairRows, func(batch []change) error {
		sr := c.stateRows(batch, x.cols)
		if sr.err != nil {
			return sr.err
		}
		sql := fmt.Sprintf(`WITH t AS MATERIALIZED (SELECT s.%s AS pos, %s AS h, %s FROM %s AS s%s)
SELECT a.pos, b.pos FROM t AS a JOIN t AS b ON a.h = b.h AND a.pos < b.pos AND %s`,
			posColumn, x.hash.sql(), x.values(), sr.from, where, x.conflict("a", "b"))
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
	})
	if err != nil {
		return err
	}
	if unchecked > 0 {
		r.uncheckedExclusion(x, unchecked)
	}
	return nil
}

// uncheckedExclusion warns that n changed rows, in groups too large to
// compare in pairs, were not compared with each other by x.
func (r *relations) uncheckedExclusion(x *exclusion, n int) {
	r.c.notes = append(r.c.notes, Finding{Severity: SeverityWarning, Code: CodeUncheckedRows, Rows: int64(n),
		Summary: fmt.Sprintf("%s of %s were not compared with each other by the exclusion constraint %s %s", plural.Count(n, "row"), r.c.p.Sync.Table, x.Name, x.what()),
		Detail: fmt.Sprintf("More than %d of the rows this sync writes have equal values in the constraint's = elements (or it has none), and rowform compares at most that many rows in pairs. They were checked against the rest of the table; if two of them conflict, apply fails and writes nothing. ", exclusionPairRows) +
			"An = element over a column that sets them apart (EXCLUDE USING gist (room WITH =, during WITH &&)) lets the plan compare them."})
}
