package planner

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
)

// Parents written by another sync of the same apply.
//
// A sync whose rows reference a table that a sync it depends on writes
// (contacts referencing accounts, with depends_on = [sync.accounts]) is
// applied after that sync has committed. Its plan therefore checks its
// foreign keys against the parent table as it will be then: the rows there
// now, less the rows the dependency deletes, plus the rows it inserts.
// Compute plans such a sync after its dependencies and hands it what they
// write (writtenRows); apply needs nothing of the kind, since by the time
// the sync runs the dependency's rows are in the table.

// writtenRows is what one sync's accepted changes do to the columns of its
// table that foreign keys reference: the values of those columns in the
// rows it inserts and in the rows it deletes.
type writtenRows struct {
	sync string
	// server is the destination's address and table the table it writes
	// ("schema"."name", quoted as catalog.Table.Ident).
	server, table string
	// cols are the referenced columns the sync maps, with the SQL types
	// of their values as the diff holds them.
	cols  []string
	types []string
	oids  []uint32
	// layout indexes of cols.
	idx               []int
	inserted, deleted [][][]byte
	// refused holds the values of the inserts the sync refuses, by why
	// (rejectReason.described), in the order first refused.
	refused   map[string][][][]byte
	refusedBy []string
}

// newWrittenRows prepares to record the referenced columns of p's table,
// or returns nil when no foreign key references the table.
func newWrittenRows(p *Prepared) *writtenRows {
	if p.rules == nil || len(p.rules.Referencing) == 0 {
		return nil
	}
	w := &writtenRows{sync: p.Sync.Name, server: p.Sync.Destination.Address(), table: p.Table.Ident()}
	mapped := p.layout.mappedIndex()
	seen := map[string]bool{}
	for _, f := range p.rules.Referencing {
		for _, col := range f.ParentColumns {
			i, ok := mapped[col]
			if !ok || seen[col] {
				continue
			}
			seen[col] = true
			typ, oid := p.layout.wireType(i)
			w.cols, w.types, w.oids, w.idx = append(w.cols, col), append(w.types, typ), append(w.oids, oid), append(w.idx, i)
		}
	}
	if len(w.cols) == 0 {
		return nil
	}
	return w
}

// record notes one accepted change.
func (w *writtenRows) record(kind ChangeKind, src, dst *Row) {
	if w == nil {
		return
	}
	var from *Row
	switch kind {
	case ChangeInsert:
		from = src
	case ChangeDelete:
		from = dst
	default:
		return
	}
	vals := w.values(from)
	if kind == ChangeInsert {
		w.inserted = append(w.inserted, vals)
	} else {
		w.deleted = append(w.deleted, vals)
	}
}

// recordRefused notes one refused change: an insert's values, with why it
// is refused, so that a row of another sync that references it says so.
func (w *writtenRows) recordRefused(kind ChangeKind, src *Row, why rejectReason) {
	if w == nil || kind != ChangeInsert {
		return
	}
	if w.refused == nil {
		w.refused = map[string][][][]byte{}
	}
	d := why.described()
	if _, seen := w.refused[d]; !seen {
		w.refusedBy = append(w.refusedBy, d)
	}
	w.refused[d] = append(w.refused[d], w.values(src))
}

// values copies the recorded columns of row.
func (w *writtenRows) values(row *Row) [][]byte {
	vals := make([][]byte, len(w.idx))
	for k, i := range w.idx {
		if v := row.Values[i]; v != nil {
			vals[k] = append([]byte{}, v...)
		}
	}
	return vals
}

// covers reports whether w holds every one of cols.
func (w *writtenRows) covers(cols []string) bool {
	for _, c := range cols {
		if !containsString(w.cols, c) {
			return false
		}
	}
	return true
}

func containsString(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}

// externalFor returns what the syncs p depends on write into the parent
// table of f, when they write all its referenced columns; nil otherwise.
func (p *Prepared) externalFor(f *foreignKey) *writtenRows {
	for _, w := range p.external {
		if w.table == f.Parent && w.server == p.Sync.Destination.Address() && w.covers(f.ParentColumns) {
			return w
		}
	}
	return nil
}

// rowsParam renders rows (values of w's cols) as array parameters starting
// at $first for the referenced columns of f, and the FROM item
// "unnest(...) AS alias(x0, x1, ...)" in f.ParentColumns order.
func (w *writtenRows) rowsParam(f *foreignKey, rows [][][]byte, first int, alias string) ([][]byte, string, error) {
	b := batchArgs{base: first - 1}
	for k, col := range f.ParentColumns {
		j := 0
		for j < len(w.cols) && w.cols[j] != col {
			j++
		}
		vals := make([][]byte, len(rows))
		for r, row := range rows {
			vals[r] = row[j]
		}
		b.addAs(fmt.Sprintf("x%d", k), col, w.types[j], w.oids[j], vals)
	}
	return b.params, b.from(alias), b.err
}

// externalParents decides the children (changes of the batch at the
// positions pending) whose parent is not in f's parent table now: those
// whose parent the dependency inserts are accepted, the others refused,
// saying why the dependency refuses the parent when it does.
func (r *relations) externalParents(f *foreignKey, w *writtenRows, batch []change, pending []int) error {
	sub := make([]change, len(pending))
	for n, k := range pending {
		sub[n] = batch[k]
	}
	found, err := r.externalMatches(f, w, w.inserted, sub)
	if err != nil {
		return err
	}
	refusedFor := map[int]string{}
	for _, why := range w.refusedBy {
		matched, err := r.externalMatches(f, w, w.refused[why], sub)
		if err != nil {
			return err
		}
		for n := range matched {
			if _, seen := refusedFor[n]; !seen {
				refusedFor[n] = why
			}
		}
	}
	for n := range sub {
		switch why, refused := refusedFor[n]; {
		case found[n]:
		case refused:
			ch := sub[n]
			r.c.reject(ch.seq, ch.kind, ch.row(), rejectReason{Column: singleColumn(f.ChildColumns), Constraint: f.Name, Table: f.parent,
				Reason: fmt.Sprintf("references a row of %s that sync %q, which this sync depends on, would insert but refuses (%s)", f.parent, w.sync, why)})
		default:
			r.rejectMissing(f, &sub[n], "")
		}
	}
	return nil
}

// externalMatches returns the positions in sub of the changes whose
// values of f's child columns are those of one of rows (values of w's
// cols).
func (r *relations) externalMatches(f *foreignKey, w *writtenRows, rows [][][]byte, sub []change) (map[int]bool, error) {
	found := map[int]bool{}
	if len(rows) == 0 {
		return found, nil
	}
	sr := r.c.stateRows(sub, f.ChildColumns)
	if sr.err != nil {
		return nil, sr.err
	}
	params, from, err := w.rowsParam(f, rows, len(sr.params)+1, "i")
	if err != nil {
		return nil, err
	}
	var fields, on []string
	for k, col := range f.ChildColumns {
		fields = append(fields, fmt.Sprintf("s.%s AS f%d", pgx.Identifier{col}.Sanitize(), k))
		on = append(on, fmt.Sprintf("i.x%d = t.f%d", k, k))
	}
	sql := fmt.Sprintf("SELECT DISTINCT t.pos FROM (SELECT s.%s AS pos, %s FROM %s AS s) AS t JOIN %s ON %s",
		posColumn, strings.Join(fields, ", "), sr.from, from, strings.Join(on, " AND "))
	err = queryRows(r.ctx, r.conn, sql, append(sr.params, params...), func(vals [][]byte) error {
		k, err := int4At(vals[0])
		found[k] = true
		return err
	})
	return found, err
}

// externalDeletes refuses the children of the batch (selected by sel)
// whose parent the dependency deletes.
func (r *relations) externalDeletes(f *foreignKey, w *writtenRows, batch []change) error {
	if len(w.deleted) == 0 || len(batch) == 0 {
		return nil
	}
	c := r.c
	sr := c.stateRows(batch, f.ChildColumns)
	if sr.err != nil {
		return sr.err
	}
	params, from, err := w.rowsParam(f, w.deleted, len(sr.params)+1, "d")
	if err != nil {
		return err
	}
	var fields, on []string
	for k, col := range f.ChildColumns {
		fields = append(fields, fmt.Sprintf("s.%s AS f%d", pgx.Identifier{col}.Sanitize(), k))
		on = append(on, fmt.Sprintf("d.x%d = t.f%d", k, k))
	}
	sql := fmt.Sprintf("SELECT DISTINCT t.pos FROM (SELECT s.%s AS pos, %s FROM %s AS s) AS t JOIN %s ON %s",
		posColumn, strings.Join(fields, ", "), sr.from, from, strings.Join(on, " AND "))
	return queryRows(r.ctx, r.conn, sql, append(sr.params, params...), func(vals [][]byte) error {
		k, err := int4At(vals[0])
		if err != nil {
			return err
		}
		ch := batch[k]
		r.c.reject(ch.seq, ch.kind, ch.row(), rejectReason{Column: singleColumn(f.ChildColumns), Constraint: f.Name, Table: f.parent,
			Reason: fmt.Sprintf("references a row of %s that sync %q, which this sync depends on, deletes", f.parent, w.sync)})
		return nil
	})
}

// dependencies returns the names of the syncs s depends on, directly or
// not, that are among planned.
func dependencies(cfg *hclconfig.Config, s *hclconfig.Sync, planned map[string]bool) []string {
	var out []string
	seen := map[string]bool{}
	var walk func(*hclconfig.Sync)
	walk = func(x *hclconfig.Sync) {
		for _, d := range x.DependsOn {
			if seen[d] {
				continue
			}
			seen[d] = true
			if dep := cfg.Sync(d); dep != nil {
				if planned[d] {
					out = append(out, d)
				}
				walk(dep)
			}
		}
	}
	walk(s)
	return out
}
