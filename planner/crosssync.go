package planner

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
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
// the sync runs the dependency's rows are in the table, and its checker
// records nothing (Prepared.recordWritten).
//
// What the dependency hands on are hashes, not values: once its own checks
// have ended, the destination server hashes the referenced values of each
// row it inserts, deletes or refuses to insert (a batch of rows per query,
// as the checks send them) with the hash functions of the parent columns'
// types, under the columns' collations, so that values the foreign key
// finds equal hash alike (numeric 1.0 and 1.00, citext, a nondeterministic
// collation). They are kept sorted in memory, 8 bytes a row (16 for a
// refused insert, with its reason) whatever the values' width, until every
// sync that depends on it is planned. The dependent sync's check hashes
// each batch of its children the same way, on the same server
// (externalFor requires it), their values cast to the parent columns'
// types as the foreign key compares them (externalProbe), and looks the
// hashes up: a batch costs one query over the batch, whatever the
// dependency writes. The hashes are not compared again: two different
// values of one 64-bit hash (about one chance in 18 million for a million
// children against a million parents) accept a child whose parent is
// missing, which apply's write then refuses, or refuse a child whose
// parent stays.

// writtenRows is what one sync's accepted changes do to the columns of its
// table that foreign keys reference: hashes of those columns' values in the
// rows it inserts and in the rows it deletes, and in the inserts it refuses,
// with why. It is filled by the sync's checker (start, record,
// recordRefused, end) and read only after end, by the syncs that depend on
// it, concurrently.
type writtenRows struct {
	sync string
	// server is the destination's address and table the table it writes
	// ("schema"."name", quoted as catalog.Table.Ident).
	server, table string
	// cols are the referenced columns the sync maps, with the SQL types of
	// their values as the diff holds them (types, oids) and their layout
	// indexes (idx).
	cols  []string
	types []string
	oids  []uint32
	idx   []int
	// stored is each column's type as the table stores its values (the
	// column's type, or a domain's base type, with the modifier), base
	// the same type without the modifier and baseOIDs its oid; colls the
	// column's collation, quoted and qualified, "" for none
	// (catalog.Column.CollationIdent). start reads base.
	stored   []string
	base     []string
	baseOIDs []uint32
	colls    []string
	// keys are the sets of columns that foreign keys reference, each with
	// the hashes of its values.
	keys []*writtenKey
	// refusedBy are the reasons (rejectReason.described) of the refused
	// inserts, in the order first refused; refusedHash.why indexes it.
	refusedBy []string
	reasonIx  map[string]int32
	// rec is the recording under way, from start to end.
	rec *writtenRecording
}

// writtenKey is one set of referenced columns (those of one foreign key or
// more) and the hashes of their values: of the rows inserted, of the rows
// deleted and of the inserts refused. Rows with a NULL among the columns
// are left out: no child references them.
type writtenKey struct {
	// cols index writtenRows.cols, ascending: the order the values are
	// hashed in (each under its own seed).
	cols []int
	// names are the columns, in that order.
	names []string
	// text: the values are hashed by their text forms (a type without a
	// hash function: hashing.text).
	text bool
	// inserted and deleted are sorted, without repeats; refused is sorted
	// by hash, one entry per hash: of the reasons the inserts of that hash
	// are refused for, the one first refused (refusedBy's order).
	inserted, deleted []uint64
	refused           []refusedHash
}

// refusedHash is the hash of a refused insert's values and the index of
// its reason in writtenRows.refusedBy.
type refusedHash struct {
	hash uint64
	why  int32
}

// writtenRecording is what recording needs from start to end: the
// destination connection the hashes are computed on and the rows waiting
// for it, inserted, deleted and refused apart (a refused insert's values
// may not be the column's type's: hashRefused). It holds a batch of rows
// of each at most.
type writtenRecording struct {
	ctx                        context.Context
	conn                       *pgx.Conn
	inserted, deleted, refused writtenBuffer
}

// writtenBuffer holds the referenced values of rows to hash, copied into
// one buffer that is reused batch after batch.
type writtenBuffer struct {
	data []byte
	// spans locate the values of row r at r*len(cols) ...: off and n in
	// data, n < 0 for NULL.
	spans []span
	rows  int
	// whys are the refused inserts' reasons (refusedBy indexes).
	whys []int32
}

type span struct{ off, n int }

// newWrittenRows prepares to record the referenced columns of p's table,
// or returns nil when no foreign key references the table's mapped
// columns.
func newWrittenRows(p *Prepared) *writtenRows {
	if p.rules == nil || len(p.rules.Referencing) == 0 {
		return nil
	}
	w := &writtenRows{sync: p.Sync.Name, server: p.Sync.Destination.Address(), table: p.Table.Ident()}
	mapped := p.layout.mappedIndex()
	for _, f := range p.rules.Referencing {
		if slices.ContainsFunc(f.ParentColumns, func(col string) bool { _, ok := mapped[col]; return !ok }) {
			continue // the sync writes only some of them, if any
		}
		var cols []int
		for _, col := range f.ParentColumns {
			j := slices.Index(w.cols, col)
			if j < 0 {
				i := mapped[col]
				j = len(w.cols)
				typ, oid := p.layout.wireType(i)
				stored, baseOID, coll := typ, oid, ""
				if c := p.Table.Column(col); c != nil {
					coll = c.CollationIdent
					if c.BaseType != "" {
						stored, baseOID = c.BaseType, c.BaseTypeOID
					}
				}
				w.cols, w.types, w.oids, w.idx = append(w.cols, col), append(w.types, typ), append(w.oids, oid), append(w.idx, i)
				w.stored, w.baseOIDs, w.colls = append(w.stored, stored), append(w.baseOIDs, baseOID), append(w.colls, coll)
			}
			cols = append(cols, j)
		}
		slices.Sort(cols)
		if slices.ContainsFunc(w.keys, func(k *writtenKey) bool { return slices.Equal(k.cols, cols) }) {
			continue
		}
		k := &writtenKey{cols: cols}
		for _, j := range cols {
			k.names = append(k.names, w.cols[j])
		}
		w.keys = append(w.keys, k)
	}
	if len(w.keys) == 0 {
		return nil
	}
	return w
}

// start begins the recording on conn, the destination: it reads the
// columns' base types and how their values hash.
func (w *writtenRows) start(ctx context.Context, conn *pgx.Conn) error {
	if w == nil {
		return nil
	}
	err := conn.QueryRow(ctx, `SELECT array_agg(format_type(u.base, -1) ORDER BY u.ord) FROM unnest($1::oid[]) WITH ORDINALITY AS u(base, ord)`,
		w.baseOIDs).Scan(&w.base)
	if err != nil {
		return fmt.Errorf("reading the types of the columns of %s that foreign keys reference: %w", w.table, err)
	}
	for _, k := range w.keys {
		h := hashing{}
		for _, j := range k.cols {
			h.exprs = append(h.exprs, w.collated(fmt.Sprintf("NULL::%s", w.base[j]), j))
		}
		k.text = !hashesNatively(ctx, conn, h, "")
	}
	w.rec = &writtenRecording{ctx: ctx, conn: conn}
	return nil
}

// collated is expr under column j's collation.
func (w *writtenRows) collated(expr string, j int) string {
	if w.colls[j] == "" {
		return "(" + expr + ")"
	}
	return fmt.Sprintf("((%s) COLLATE %s)", expr, w.colls[j])
}

// hashing is how key k's values are hashed, value(j) being the SQL of the
// value of column j in the type the column's values hash in.
func (w *writtenRows) hashing(k *writtenKey, value func(j int) string) hashing {
	h := hashing{text: k.text, strict: true}
	for _, j := range k.cols {
		h.exprs = append(h.exprs, w.collated(value(j), j))
	}
	return h
}

// record notes one accepted change (between start and end).
func (w *writtenRows) record(kind ChangeKind, src, dst *Row) error {
	if w == nil {
		return nil
	}
	switch kind {
	case ChangeInsert:
		return w.add(&w.rec.inserted, src)
	case ChangeDelete:
		return w.add(&w.rec.deleted, dst)
	}
	return nil
}

// recordRefused notes one refused change: an insert's values, with why it
// is refused, so that a row of another sync that references it says so.
func (w *writtenRows) recordRefused(kind ChangeKind, src *Row, why rejectReason) error {
	if w == nil || kind != ChangeInsert {
		return nil
	}
	d := why.described()
	ix, seen := w.reasonIx[d]
	if !seen {
		if w.reasonIx == nil {
			w.reasonIx = map[string]int32{}
		}
		ix = int32(len(w.refusedBy))
		w.refusedBy = append(w.refusedBy, d)
		w.reasonIx[d] = ix
	}
	b := &w.rec.refused
	if !w.copyValues(b, src) {
		return nil
	}
	b.whys = append(b.whys, ix)
	return w.flushFull(b)
}

// add copies row's recorded values into b, and hashes b's rows once it
// holds a batch.
func (w *writtenRows) add(b *writtenBuffer, row *Row) error {
	if !w.copyValues(b, row) {
		return nil
	}
	return w.flushFull(b)
}

// copyValues copies row's recorded values into b, unless all are NULL (no
// foreign key references such a row).
func (w *writtenRows) copyValues(b *writtenBuffer, row *Row) bool {
	if !slices.ContainsFunc(w.idx, func(i int) bool { return row.Values[i] != nil }) {
		return false
	}
	for _, i := range w.idx {
		v := row.Values[i]
		if v == nil {
			b.spans = append(b.spans, span{n: -1})
			continue
		}
		b.spans = append(b.spans, span{off: len(b.data), n: len(v)})
		b.data = append(b.data, v...)
	}
	b.rows++
	return true
}

// flushFull hashes b's rows once b holds a batch.
func (w *writtenRows) flushFull(b *writtenBuffer) error {
	if b.rows < checkBatchRows && len(b.data) < checkBatchBytes {
		return nil
	}
	return w.flush(b)
}

// end hashes the rows still waiting and sorts the hashes: the recording is
// over, and w may be read.
func (w *writtenRows) end() error {
	if w == nil {
		return nil
	}
	for _, b := range []*writtenBuffer{&w.rec.inserted, &w.rec.deleted, &w.rec.refused} {
		if err := w.flush(b); err != nil {
			return err
		}
	}
	w.rec = nil
	for _, k := range w.keys {
		slices.Sort(k.inserted)
		k.inserted = slices.Clip(slices.Compact(k.inserted))
		slices.Sort(k.deleted)
		k.deleted = slices.Clip(slices.Compact(k.deleted))
		slices.SortFunc(k.refused, func(a, b refusedHash) int {
			return cmp.Or(cmp.Compare(a.hash, b.hash), cmp.Compare(a.why, b.why))
		})
		k.refused = slices.Clip(slices.CompactFunc(k.refused, func(a, b refusedHash) bool { return a.hash == b.hash }))
	}
	return nil
}

// flush hashes the rows of b and empties it.
func (w *writtenRows) flush(b *writtenBuffer) error {
	if b.rows == 0 {
		return nil
	}
	var err error
	if b == &w.rec.refused {
		err = w.hashRefused(b, 0, b.rows)
	} else {
		err = w.hashRows(b, 0, b.rows)
	}
	b.data, b.spans, b.whys, b.rows = b.data[:0], b.spans[:0], b.whys[:0], 0
	return err
}

// hashRefused hashes the refused inserts lo to hi of b. A refused insert
// may hold a value its column's type does not take (text that does not
// convert, an enum label that does not exist) or that the checks cannot be
// given (an array of two dimensions): a batch the server refuses so is
// hashed again in halves, down to the rows that fail alone, which are left
// out. Such a value equals no child's that the checks accept, which the
// foreign key compares in the parent's type.
func (w *writtenRows) hashRefused(b *writtenBuffer, lo, hi int) error {
	rec := w.rec
	err := tryQuery(rec.ctx, rec.conn, func() error { return w.hashRows(b, lo, hi) })
	var arr *uncheckableArrayError
	if _, isValue := isValueError(err); err == nil || !isValue && !errors.As(err, &arr) {
		return err
	}
	if hi-lo == 1 {
		return nil
	}
	mid := lo + (hi-lo)/2
	if err := w.hashRefused(b, lo, mid); err != nil {
		return err
	}
	return w.hashRefused(b, mid, hi)
}

// hashRows has the server hash the rows lo to hi of b, for every key, and
// adds the hashes to the keys once all are read. The values of accepted
// rows are cast to the columns' types as stored (a modifier rounds a
// numeric, pads a char(n), as the write does); those of refused inserts to
// the types without modifiers. The server returns the hashes of a key as
// one array (with, for refused inserts, the rows' positions).
func (w *writtenRows) hashRows(b *writtenBuffer, lo, hi int) error {
	rec := w.rec
	refused := b == &rec.refused
	n := len(w.cols)
	args := batchArgs{}
	inner := []string{}
	if refused {
		args.addPositions(hi - lo)
		inner = append(inner, "b.i")
	}
	for j := range w.cols {
		vals := make([][]byte, hi-lo)
		for r := lo; r < hi; r++ {
			if s := b.spans[r*n+j]; s.n >= 0 {
				vals[r-lo] = b.data[s.off : s.off+s.n : s.off+s.n]
			}
		}
		args.addAs(fmt.Sprintf("x%d", j), w.cols[j], w.types[j], w.oids[j], vals)
	}
	if args.err != nil {
		return args.err
	}
	types := w.stored
	if refused {
		types = w.base
	}
	var outer []string
	for k, key := range w.keys {
		h := w.hashing(key, func(j int) string { return fmt.Sprintf("(b.x%d)::%s", j, types[j]) })
		inner = append(inner, fmt.Sprintf("%s AS h%d", h.sql(), k))
		// A row with a NULL among the key's values has no hash.
		outer = append(outer, fmt.Sprintf("array_agg(s.h%d) FILTER (WHERE s.h%[1]d IS NOT NULL)", k))
		if refused {
			outer = append(outer, fmt.Sprintf("array_agg(s.i) FILTER (WHERE s.h%d IS NOT NULL)", k))
		}
	}
	sql := fmt.Sprintf("SELECT %s FROM (SELECT %s FROM %s) AS s", strings.Join(outer, ", "), strings.Join(inner, ", "), args.from("b"))
	var got [][][]byte // per key, its hashes (and positions)
	err := queryRows(rec.ctx, rec.conn, sql, args.params, func(vals [][]byte) error {
		for _, v := range vals {
			_, elems, ok := arrayElements(v)
			if v != nil && !ok {
				return fmt.Errorf("internal error: a check returned an array it cannot read")
			}
			got = append(got, elems)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if len(got) != len(outer) {
		return fmt.Errorf("internal error: a check returned %d arrays, expected %d", len(got), len(outer))
	}
	for k, key := range w.keys {
		hashes := got[k]
		if refused {
			hashes = got[2*k]
		}
		for e, v := range hashes {
			h, err := hashAt(v)
			if err != nil {
				return err
			}
			switch {
			case b == &rec.inserted:
				key.inserted = append(key.inserted, h)
			case b == &rec.deleted:
				key.deleted = append(key.deleted, h)
			default:
				pos := got[2*k+1]
				if len(pos) != len(hashes) {
					return fmt.Errorf("internal error: a check returned %d positions for %d hashes", len(pos), len(hashes))
				}
				r, err := int4At(pos[e])
				if err != nil {
					return err
				}
				key.refused = append(key.refused, refusedHash{hash: h, why: b.whys[lo+r]})
			}
		}
	}
	return nil
}

// inserts reports whether the sync inserts a row of hash h.
func (k *writtenKey) inserts(h uint64) bool {
	_, ok := slices.BinarySearch(k.inserted, h)
	return ok
}

// deletes reports whether the sync deletes a row of hash h.
func (k *writtenKey) deletes(h uint64) bool {
	_, ok := slices.BinarySearch(k.deleted, h)
	return ok
}

// refusal returns the index of the reason (writtenRows.refusedBy) the sync
// refuses an insert of hash h for, the first refused among several.
func (k *writtenKey) refusal(h uint64) (int32, bool) {
	i := sort.Search(len(k.refused), func(i int) bool { return k.refused[i].hash >= h })
	if i < len(k.refused) && k.refused[i].hash == h {
		return k.refused[i].why, true
	}
	return 0, false
}

// externalFor returns what the syncs p depends on write into the parent
// table of f, when they write all its referenced columns, and the key of
// those columns; nil otherwise.
func (p *Prepared) externalFor(f *foreignKey) (*writtenRows, *writtenKey) {
	for _, w := range p.external {
		if w.table != f.Parent || w.server != p.Sync.Destination.Address() {
			continue
		}
		for _, k := range w.keys {
			if sameColumns(k.names, f.ParentColumns) {
				return w, k
			}
		}
	}
	return nil, nil
}

// externalProbe is how the children of f are hashed to be looked up among
// w's hashes of key k: each child value in the type keyProbe gives (the
// parent column's base type, or the child's own where the foreign key's
// equality hashes alike across the types), under the parent column's
// collation, as the foreign key compares them. A child whose cast value
// the foreign key does not find equal to its own (childProbe.guard) hashes
// to NULL: no parent equals it. It is computed once per foreign key.
func (r *relations) externalProbe(f *foreignKey, w *writtenRows, k *writtenKey) (hashing, error) {
	if f.externalHash != nil {
		return *f.externalHash, nil
	}
	col := make([]int, len(f.ParentColumns)) // w.cols index of each
	base := make([]uint32, len(f.ParentColumns))
	for p, name := range f.ParentColumns {
		col[p] = slices.Index(w.cols, name)
		base[p] = w.baseOIDs[col[p]]
	}
	kp, err := r.keyProbe(f, base)
	if err != nil {
		return hashing{}, err
	}
	child := func(p int) string { return "s." + pgx.Identifier{f.ChildColumns[p]}.Sanitize() }
	h := w.hashing(k, func(j int) string { return kp.value(slices.Index(col, j), child(slices.Index(col, j))) })
	h.guard = kp.guard(child)
	f.externalHash = &h
	return h, nil
}

// externalParents decides the children of the batch against what the
// dependency w writes into f's parent table (k: its hashes of f's
// referenced columns). The children at the positions missing, whose parent
// is not in the table now, are accepted when w inserts it, refused saying
// why when w refuses to, refused as missing otherwise; the other children
// not refused yet are refused when w deletes their parent. It costs one
// query over those children, whatever w writes.
func (r *relations) externalParents(f *foreignKey, w *writtenRows, k *writtenKey, batch []change, missing []int) error {
	c := r.c
	sub := make([]change, 0, len(missing))
	for _, n := range missing {
		sub = append(sub, batch[n])
	}
	if len(k.deleted) > 0 {
		skip := make([]bool, len(batch))
		for _, n := range missing {
			skip[n] = true
		}
		for n := range batch {
			if !skip[n] && !c.rejected.has(batch[n].seq) {
				sub = append(sub, batch[n])
			}
		}
	}
	if len(sub) == 0 {
		return nil
	}
	hashes := make([]uint64, len(sub))
	hashed := make([]bool, len(sub))
	if len(k.inserted) > 0 || len(k.refused) > 0 || len(sub) > len(missing) {
		probe, err := r.externalProbe(f, w, k)
		if err != nil {
			return err
		}
		sr := c.stateRows(sub, f.ChildColumns)
		if sr.err != nil {
			return sr.err
		}
		sql := fmt.Sprintf("SELECT s.%s, %s FROM %s AS s", posColumn, probe.sql(), sr.from)
		err = queryRows(r.ctx, r.conn, sql, sr.params, func(vals [][]byte) error {
			n, err := int4At(vals[0])
			if err != nil || vals[1] == nil {
				return err // a NULL among the values: no parent needed
			}
			hashes[n], err = hashAt(vals[1])
			hashed[n] = err == nil
			return err
		})
		if err != nil {
			return err
		}
	}
	for n := range sub {
		ch, h := &sub[n], hashes[n]
		if n >= len(missing) {
			if hashed[n] && k.deletes(h) {
				c.reject(ch.seq, ch.kind, ch.row(), rejectReason{Column: singleColumn(f.ChildColumns), Constraint: f.Name, Table: f.parent,
					Reason: fmt.Sprintf("references a row of %s that sync %q, which this sync depends on, deletes", f.parent, w.sync)})
			}
			continue
		}
		why, refused := k.refusal(h)
		switch {
		case hashed[n] && k.inserts(h):
		case hashed[n] && refused:
			c.reject(ch.seq, ch.kind, ch.row(), rejectReason{Column: singleColumn(f.ChildColumns), Constraint: f.Name, Table: f.parent,
				Reason: fmt.Sprintf("references a row of %s that sync %q, which this sync depends on, would insert but refuses (%s)", f.parent, w.sync, w.refusedBy[why])})
		default:
			r.rejectMissing(f, ch, "")
		}
	}
	return nil
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
