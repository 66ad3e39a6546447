package planner

import (
	"context"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
)

// Keys under a nondeterministic collation.
//
// Under a nondeterministic collation (CREATE COLLATION ... deterministic =
// false) values with different bytes can be equal: 'abc' = 'ABC' for a
// case-insensitive ICU collation. No SQL function gives such a value a
// canonical form, and the source server may not even have the collation,
// so the diff cannot match these keys by bytes alone. It matches what it
// can by bytes, then asks the destination, with its own equality, which of
// the rest are the same key: every source row left unmatched (a would-be
// insert, or a row the behavior skips as new) is looked up in the
// destination table by key, under the column's collation. A source row
// found there is matched with that row — an update, unchanged, or skipped,
// as the behavior says — and a mirror no longer deletes it. Source rows
// that are equal among themselves are duplicate keys, as the unique index
// would have them.
//
// The lookup carries the unmatched source rows only, in one query, so its
// cost follows the change set, and only syncs with such keys pay it.

// changeUnmatched is a source row with no destination row of the same key
// bytes that the behavior does not insert. The diff hands it to the checker
// only for layouts that rematch; it is never written.
const changeUnmatched ChangeKind = '?'

// rematchColumns are the key columns (layout indexes) compared under a
// nondeterministic collation, with that collation's quoted name.
func (l *layout) rematchColumns() map[int]string {
	out := map[int]string{}
	for i := 0; i < l.NKey; i++ {
		c := l.Cols[i]
		if c.Catalog.NondeterministicCollation && c.Catalog.Collation != "" {
			out[i] = pgx.Identifier{c.Catalog.Collation}.Sanitize()
		}
	}
	return out
}

// override replaces a spooled change after the rematch: a would-be insert
// that is an update of a destination row (kind ChangeUpdate, dst that row),
// or a change that is dropped (kind 0).
type override struct {
	kind ChangeKind
	dst  *Row
}

// each calls fn for every spooled change as it stands after the rematch, in
// spool order, with its sequence number; dropped changes and unmatched rows
// are left out.
func (c *checker) each(fn func(seq int64, kind ChangeKind, src, dst *Row) error) error {
	var seq int64 = -1
	return c.spool.each(func(kind ChangeKind, src, dst *Row) error {
		seq++
		if o, ok := c.overrides[seq]; ok {
			if o.kind == 0 {
				return nil
			}
			kind, dst = o.kind, o.dst
		}
		if kind == changeUnmatched {
			return nil
		}
		return fn(seq, kind, src, dst)
	})
}

// rematch matches the source rows the diff left unmatched with destination
// rows equal to them under the key's collation (see above), and records
// the changed counts in c.adj and the duplicate keys in c.dup*.
func (c *checker) rematch(ctx context.Context, conn *pgx.Conn) error {
	l := c.l
	colls := l.rematchColumns()
	if len(colls) == 0 {
		return nil
	}
	var cands []change
	deletes := map[string]int64{} // destination key bytes -> delete's seq
	var seq int64 = -1
	err := c.spool.each(func(kind ChangeKind, src, dst *Row) error {
		seq++
		switch kind {
		case ChangeInsert, changeUnmatched:
			cands = append(cands, change{seq: seq, kind: kind, src: src.clone()})
		case ChangeDelete:
			deletes[string(appendValues(nil, dst.Values[:l.NKey]))] = seq
		}
		return nil
	})
	if err != nil || len(cands) == 0 {
		return err
	}
	// The candidates are looked up by key: only the key columns travel.
	bp := l.batchParams(cands, (*change).row, func(i int) bool { return i < l.NKey })
	if bp.err != nil {
		return bp.err
	}
	var on []string
	for i := 0; i < l.NKey; i++ {
		v := l.value(i)
		if coll, ok := colls[i]; ok {
			v += " COLLATE " + coll
		}
		on = append(on, fmt.Sprintf("d.%s = %s", pgx.Identifier{l.Cols[i].Dest}.Sanitize(), v))
	}
	var sel []string
	for i, col := range l.Cols {
		e := "d." + pgx.Identifier{col.Dest}.Sanitize()
		if col.AsText {
			e += "::text"
		}
		sel = append(sel, e+" AS "+alias(i))
	}
	dexpr := func(i int) string {
		e := "d." + pgx.Identifier{l.Cols[i].Dest}.Sanitize()
		if l.Cols[i].AsText {
			e += "::text"
		}
		return e
	}
	sql := fmt.Sprintf("SELECT b.i, %s%s FROM %s JOIN %s AS d ON %s",
		strings.Join(sel, ", "), l.textKeySelect(dexpr), bp.from, c.p.Table.Ident(), strings.Join(on, " AND "))
	matches := map[int]*Row{}    // candidate -> destination row
	byDest := map[string][]int{} // destination key bytes -> candidates
	formats := make([]int16, len(bp.values))
	for i := range formats {
		formats[i] = 1
	}
	results := make([]int16, 1+l.width())
	for i := 1; i < len(results); i++ {
		results[i] = 1
	}
	rr := conn.PgConn().ExecParams(ctx, sql, bp.values, nil, formats, results)
	for rr.NextRow() {
		vals := rr.Values()
		k, err := strconv.Atoi(string(vals[0]))
		if err != nil {
			_, _ = rr.Close()
			return fmt.Errorf("internal error: the key lookup returned %q as a position", vals[0])
		}
		d := &Row{}
		d.set(vals[1:])
		matches[k] = d
		dk := string(appendValues(nil, d.Values[:l.NKey]))
		byDest[dk] = append(byDest[dk], k)
	}
	if _, err := rr.Close(); err != nil {
		return fmt.Errorf("looking up the new keys of %s under their collation: %w", c.p.Sync.Table, err)
	}

	// Source rows equal to each other under the collation, none of them in
	// the destination.
	var group []string
	for i := 0; i < l.NKey; i++ {
		v := "b." + alias(i)
		if coll, ok := colls[i]; ok {
			v += " COLLATE " + coll
		}
		group = append(group, v)
	}
	dupSQL := fmt.Sprintf("SELECT array_agg(b.i ORDER BY b.i)::text FROM %s GROUP BY %s HAVING count(*) > 1", bp.from, strings.Join(group, ", "))
	var groups [][]int
	err = execBinary(ctx, conn, dupSQL, bp.values, func(vals [][]byte) error {
		var g []int
		for _, f := range strings.Split(strings.Trim(string(vals[0]), "{}"), ",") {
			n, err := strconv.Atoi(f)
			if err != nil {
				return err
			}
			g = append(g, n)
		}
		groups = append(groups, g)
		return nil
	})
	if err != nil {
		return fmt.Errorf("looking for equal new keys of %s under their collation: %w", c.p.Sync.Table, err)
	}

	drop := func(k int) { c.overrides[cands[k].seq] = override{} }
	undo := func(k int) { // the candidate no longer counts as what the diff counted
		if cands[k].kind == ChangeInsert {
			c.adj.Insert--
		} else {
			c.adj.Skipped--
		}
	}
	for _, g := range groups {
		if _, inDest := matches[g[0]]; inDest {
			continue // counted below, with the destination row they share
		}
		c.duplicate(cands[g[1]].src)
		for _, k := range g[1:] {
			undo(k)
			drop(k)
		}
	}
	for _, ks := range byDest {
		// The first in spool order is the match; the rest repeat its key.
		slices.Sort(ks)
		first := ks[0]
		if len(ks) > 1 {
			c.duplicate(cands[ks[1]].src)
		}
		for _, k := range ks[1:] {
			undo(k)
			drop(k)
		}
		src, d := cands[first].src, matches[first]
		undo(first)
		if del, ok := deletes[string(appendValues(nil, d.Values[:l.NKey]))]; ok {
			c.overrides[del] = override{}
			c.adj.Delete--
		}
		changed := l.changedColumns(src, d, nil)
		switch {
		case len(changed) == 0:
			c.adj.Unchanged++
			drop(first)
		case c.p.Sync.Behavior.Updates():
			c.adj.Update++
			c.overrides[cands[first].seq] = override{kind: ChangeUpdate, dst: d}
		default:
			c.adj.Skipped++
			drop(first)
		}
	}
	return nil
}

// duplicate counts a key that more than one source row has.
func (c *checker) duplicate(r *Row) {
	c.dupKeys++
	c.dupExamples = addExample(c.dupExamples, c.l.renderKey(r))
}
