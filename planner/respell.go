package planner

import (
	"bytes"
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
)

// Values a postgres source spells otherwise than the destination stores
// them.
//
// The diff carries a column of a type that is not built in (an enum,
// hstore, a composite, an extension's type) as text: on the destination's
// side the type's own text of the stored value, on a postgres source's the
// text of the source's value, which the source server cannot normalize
// when it lacks the type — 'b=>1,a=>2' for hstore's '"a"=>"2", "b"=>"1"',
// '(1, x)' for a composite's '(1," x")'. The write converts it and stores
// the value the destination already holds, so the update would be planned
// again on every run and a plan would never come out clean. After the
// conversions are checked, the updates whose changed values are all of
// such columns are read back through the destination's type (each value
// converted and turned to text again); an update whose values all come
// back as the destination's text is no change: it counts as unchanged and
// is not written. A CSV or DuckDB source's values are normalized so
// already (convertExpr), and a domain over a built-in type on the source
// (sourceExpr).

// respelledColumns are the non-key columns whose source text may spell a
// value otherwise than the destination's text of it (layout indexes).
func (c *checker) respelledColumns() []int {
	if c.p.Sync.Source.Type != hclconfig.SourcePostgres {
		return nil
	}
	var out []int
	for i := c.l.NKey; i < len(c.l.Cols); i++ {
		if col := c.l.Cols[i]; col.AsText && col.normalizesText() && !col.normalizedOnSource() {
			out = append(out, i)
		}
	}
	return out
}

// dropRespellings turns into unchanged rows the updates that change
// nothing but the spelling of values of respelledColumns (see above).
func (c *checker) dropRespellings(ctx context.Context, conn *pgx.Conn) error {
	cols := c.respelledColumns()
	if len(cols) == 0 {
		return nil
	}
	l := c.l
	onlyRespelled := func(ch *change) bool {
		changed := l.changedColumns(ch.src, ch.dst, nil)
		for _, i := range changed {
			if !slices.Contains(cols, i) {
				return false
			}
		}
		return len(changed) > 0
	}
	var sel []string
	for _, i := range cols {
		sel = append(sel, fmt.Sprintf("(%s)::text", l.value(i)))
	}
	return c.batches(isUpdate, func(batch []change) error {
		var cands []change
		for k := range batch {
			if onlyRespelled(&batch[k]) {
				cands = append(cands, batch[k])
			}
		}
		if len(cands) == 0 {
			return nil
		}
		// The positions and those columns' values only (all are text).
		var b batchArgs
		b.addPositions(len(cands))
		b.addRows(l, cands, func(ch *change) *Row { return ch.src }, func(i int) bool { return slices.Contains(cols, i) })
		sql := fmt.Sprintf("SELECT b.i, %s FROM %s", strings.Join(sel, ", "), b.from("b"))
		err := execBinary(ctx, conn, sql, b.params, func(vals [][]byte) error {
			k, err := strconv.Atoi(string(vals[0]))
			if err != nil || k < 0 || k >= len(cands) {
				return fmt.Errorf("internal error: the spelling check returned %q as a position", vals[0])
			}
			ch := &cands[k]
			for j, i := range cols {
				v, d := vals[1+j], ch.dst.Values[i]
				if (v == nil) != (d == nil) || !bytes.Equal(v, d) {
					return nil // a change indeed
				}
			}
			c.overrides[ch.seq] = override{}
			c.adj.Update--
			c.adj.Unchanged++
			return nil
		})
		if err != nil {
			return fmt.Errorf("reading values of %s back through their types: %w", c.p.Sync.Table, err)
		}
		return nil
	})
}
