package planner

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// posColumn names the batch position in a check query's rows; a space
// keeps it apart from any column name a table could have.
const posColumn = `"rowform pos"`

func init() {
	serverCheckList = append(serverCheckList, (*checker).checkConstraints)
}

// isWrite selects inserts and updates; isInsert and isUpdate one of them.
func isInsert(k ChangeKind) bool { return k == ChangeInsert }
func isUpdate(k ChangeKind) bool { return k == ChangeUpdate }

// endStateRows renders a FROM item over a batch that has, for each change,
// the row as it will be after the write: one column per name in cols, named
// as the table's column, and the batch position as posColumn. A mapped
// column comes from the batch; an unmapped one keeps, for an update, the
// destination row's value, and takes, for an insert, its default (NULL
// when the default cannot be computed read-only: a sequence); a generated
// one is computed (endState). The batch must hold only inserts (inserts =
// true) or only updates, and bp at least the columns endStateInputs(cols)
// selects.
func (c *checker) endStateRows(bp batchParams, cols []string, inserts bool) string {
	l := c.l
	mapped := l.mappedIndex()
	sel := []string{"b.i AS " + posColumn}
	for _, name := range c.storedColumns(cols) {
		q := pgx.Identifier{name}.Sanitize()
		if i, ok := mapped[name]; ok {
			sel = append(sel, l.value(i)+" AS "+q)
			continue
		}
		if inserts {
			sel = append(sel, c.insertDefault(name)+" AS "+q)
			continue
		}
		sel = append(sel, fmt.Sprintf("(SELECT d.%s FROM %s AS d WHERE %s) AS %s", q, c.p.Table.Ident(), c.keyMatch("d"), q))
	}
	return c.endState(sel, bp.from, cols) + " AS t"
}

// movingOf lists the mapped columns whose change can change a row's
// values of cols: those among cols, and those their generated columns
// read (layout indexes).
func (c *checker) movingOf(cols []string) []int {
	return c.l.mappedOf(c.p.rules.ExpandGenerated(cols))
}

// storedColumns are the columns of cols that are not generated, then those
// the generated ones read: the values an end-state row is computed from.
func (c *checker) storedColumns(cols []string) []string {
	var out []string
	for _, name := range c.p.rules.ExpandGenerated(cols) {
		if _, gen := c.p.rules.Generated[name]; !gen {
			out = append(out, name)
		}
	}
	return out
}

// endState is "(SELECT sel FROM from)", whose SELECT list sel has
// posColumn and storedColumns(cols), with cols' generated columns computed
// from the others by their own expressions, as the write computes them,
// and only posColumn and cols kept.
func (c *checker) endState(sel []string, from string, cols []string) string {
	inner := fmt.Sprintf("(SELECT %s FROM %s)", strings.Join(sel, ", "), from)
	generated := false
	outer := []string{"s." + posColumn}
	for _, name := range cols {
		q := pgx.Identifier{name}.Sanitize()
		g, gen := c.p.rules.Generated[name]
		if !gen {
			outer = append(outer, "s."+q)
			continue
		}
		generated = true
		typ := "text"
		if col := c.p.Table.Column(name); col != nil {
			typ = col.Type
		}
		outer = append(outer, fmt.Sprintf("(%s)::%s AS %s", g.Expr, typ, q))
	}
	if !generated {
		return inner
	}
	// The expressions name the columns unqualified: s is the only FROM
	// item, and has them all.
	return fmt.Sprintf("(SELECT %s FROM %s AS s)", strings.Join(outer, ", "), inner)
}

// keyMatch matches rows of the table (as alias) to the batch row b by key,
// with the key type's own equality.
func (c *checker) keyMatch(alias string) string {
	var parts []string
	for i := 0; i < c.l.NKey; i++ {
		parts = append(parts, fmt.Sprintf("%s.%s = %s", alias, pgx.Identifier{c.l.Cols[i].Dest}.Sanitize(), c.l.value(i)))
	}
	return strings.Join(parts, " AND ")
}

// checkConstraints evaluates the table's CHECK constraints on the rows the
// inserts and updates leave, with the server's own expressions. A CHECK
// passes when its expression is true or NULL, as PostgreSQL has it.
func (c *checker) checkConstraints(ctx context.Context, conn *pgx.Conn) error {
	checks := c.p.rules.Checks
	if len(checks) == 0 {
		return nil
	}
	var cols []string
	seen := map[string]bool{}
	var values []string
	for k, chk := range checks {
		for _, col := range chk.Columns {
			if !seen[col] {
				seen[col] = true
				cols = append(cols, col)
			}
		}
		values = append(values, fmt.Sprintf("(%d, (%s))", k, chk.Expr))
	}
	send := c.endStateInputs(cols)
	for _, inserts := range []bool{true, false} {
		want := isUpdate
		if inserts {
			want = isInsert
		}
		err := c.batches(want, func(batch []change) error {
			bp := c.l.batchParams(batch, (*change).row, send)
			if bp.err != nil {
				return bp.err
			}
			sql := fmt.Sprintf("SELECT t.%s, x.n FROM %s CROSS JOIN LATERAL (VALUES %s) AS x(n, ok) WHERE x.ok IS FALSE",
				posColumn, c.endStateRows(bp, cols, inserts), strings.Join(values, ", "))
			return execBinary(ctx, conn, sql, bp.values, func(vals [][]byte) error {
				var k, n int
				if _, err := fmt.Sscan(string(vals[0]), &k); err != nil {
					return err
				}
				if _, err := fmt.Sscan(string(vals[1]), &n); err != nil {
					return err
				}
				ch := &batch[k]
				chk := checks[n]
				reason := "violates the CHECK constraint " + chk.Expr
				if chk.Reason != "" {
					reason = chk.Reason
				}
				c.reject(ch.seq, ch.kind, ch.row(), rejectReason{Column: singleColumn(chk.Columns),
					Constraint: chk.Name, Reason: reason})
				return nil
			})
		})
		if err != nil {
			return fmt.Errorf("checking the CHECK constraints of %s: %w", c.p.Sync.Table, err)
		}
	}
	return nil
}

// singleColumn is the one column of a constraint, or "".
func singleColumn(cols []string) string {
	if len(cols) == 1 {
		return cols[0]
	}
	return ""
}

// RewritingTriggers names the enabled user triggers of the destination
// table that run BEFORE each inserted or updated row, and so may store
// other values than the ones written.
func (p *Prepared) RewritingTriggers() []string {
	if p.rules == nil {
		return nil
	}
	var out []string
	for _, t := range p.rules.Triggers {
		if t.Before && t.Row && (t.Insert || t.Update) {
			out = append(out, t.Name)
		}
	}
	return out
}
