package planner

import (
	"encoding/binary"
	"fmt"
	"strings"
)

// batchArgs collects the parameters of a check query's FROM item over a
// batch of rows, "unnest($1::int4[], $2::type[], ...) AS b(i, c0, ...)":
// one array parameter per column, of that column's value in each row.
//
// PostgreSQL arrays do not nest: an array of int4[] values is a
// two-dimensional int4 array, which needs every row's array to be of one
// length, and which unnest flattens. So a column whose values are arrays
// travels as their elements — every row's, one after the other, in one
// flat array parameter — with each row's bounds in it (NULL for a NULL
// array), and the FROM item slices each row's array out again. The
// elements go as the diff holds them, in binary, so each row's array is
// rebuilt exactly. Arrays of more than one dimension, or whose lower bound
// is not 1, cannot be sliced back; a batch holding one is an error.
type batchArgs struct {
	// base is how many parameters come before these ($base+1 is the
	// first).
	base        int
	params      [][]byte
	args, names []string
	// sel rebuilds the columns from what unnest returns (u.name, or the
	// slice of an array column); sliced says whether any column needs it.
	sel    []string
	sliced bool
	// err is the first value that cannot be given (uncheckableArrayError).
	err error
}

// addPositions adds the column i: each row's position in the batch, 0 to
// n-1, by which the query's results name their rows.
func (b *batchArgs) addPositions(n int) {
	pos := make([][]byte, n)
	for k := range pos {
		pos[k] = binary.BigEndian.AppendUint32(nil, uint32(k))
	}
	b.add("i", "int4", oidInt4, pos)
}

// addRows adds the layout columns that want selects (every one when want
// is nil), each named alias(i), with the values of the row pick chooses of
// each change of batch.
func (b *batchArgs) addRows(l *layout, batch []change, pick func(*change) *Row, want func(i int) bool) {
	for i := range l.Cols {
		if want != nil && !want(i) {
			continue
		}
		vals := make([][]byte, len(batch))
		for k := range batch {
			vals[k] = pick(&batch[k]).Values[i]
		}
		typ, oid := l.wireType(i)
		b.addAs(alias(i), l.Cols[i].Dest, typ, oid, vals)
	}
}

// addAs is add, with column the table's name for the column that an
// uncheckableArrayError names.
func (b *batchArgs) addAs(name, column, typ string, oid uint32, vals [][]byte) {
	b.add(name, typ, oid, vals)
	if e, ok := b.err.(*uncheckableArrayError); ok && e.column == name {
		e.column = column
	}
}

// uncheckableArrayError is a change whose array value the destination's
// checks cannot be given (batchArgs); the plan reports it as type_mismatch.
type uncheckableArrayError struct{ column string }

func (e *uncheckableArrayError) Error() string {
	return fmt.Sprintf("the column %q holds an array of more than one dimension, or whose lower bound is not 1, which rowform cannot give the destination's checks", e.column)
}

// add adds a column of type typ (OID oid) named name, with one value per
// row.
func (b *batchArgs) add(name, typ string, oid uint32, vals [][]byte) {
	elem, isArray := strings.CutSuffix(typ, "[]")
	if !isArray {
		b.params = append(b.params, arrayParam(oid, vals))
		b.args = append(b.args, fmt.Sprintf("$%d::%s[]", b.base+len(b.params), typ))
		b.names = append(b.names, name)
		b.sel = append(b.sel, "u."+name)
		return
	}
	b.sliced = true
	lo, hi := make([][]byte, len(vals)), make([][]byte, len(vals))
	var flat [][]byte
	var elemOID uint32
	for k, v := range vals {
		if v == nil {
			continue
		}
		oid, elems, ok := arrayElements(v)
		if !ok {
			if b.err == nil {
				b.err = &uncheckableArrayError{column: name}
			}
			return
		}
		elemOID = oid
		lo[k] = binary.BigEndian.AppendUint32(nil, uint32(len(flat)+1))
		flat = append(flat, elems...)
		hi[k] = binary.BigEndian.AppendUint32(nil, uint32(len(flat)))
	}
	b.params = append(b.params, arrayParam(oidInt4, lo), arrayParam(oidInt4, hi))
	n := b.base + len(b.params)
	b.args = append(b.args, fmt.Sprintf("$%d::int4[]", n-1), fmt.Sprintf("$%d::int4[]", n))
	b.names = append(b.names, name+"_lo", name+"_hi")
	if elemOID == 0 {
		// Every row's array is NULL.
		b.sel = append(b.sel, fmt.Sprintf("NULL::%s AS %s", typ, name))
		return
	}
	b.params = append(b.params, arrayParam(elemOID, flat))
	b.sel = append(b.sel, fmt.Sprintf("CASE WHEN u.%[1]s_lo IS NULL THEN NULL ELSE ($%[2]d::%[3]s[])[u.%[1]s_lo:u.%[1]s_hi] END AS %[1]s",
		name, b.base+len(b.params), elem))
}

// from is the FROM item over the batch, aliased alias, with the columns
// added, by name.
func (b *batchArgs) from(alias string) string {
	un := fmt.Sprintf("unnest(%s) AS %%s(%s)", strings.Join(b.args, ", "), strings.Join(b.names, ", "))
	if !b.sliced {
		return fmt.Sprintf(un, alias)
	}
	return fmt.Sprintf("(SELECT %s FROM %s) AS %s", strings.Join(b.sel, ", "), fmt.Sprintf(un, "u"), alias)
}

// arrayElements returns the element type and the elements (nil for a NULL
// one) of a binary array of at most one dimension whose lower bound is 1;
// ok is false for any other array.
func arrayElements(v []byte) (elemOID uint32, elems [][]byte, ok bool) {
	if len(v) < 12 {
		return 0, nil, false
	}
	ndim := int32(binary.BigEndian.Uint32(v))
	elemOID = binary.BigEndian.Uint32(v[8:])
	switch {
	case ndim == 0:
		return elemOID, nil, true
	case ndim != 1 || len(v) < 20 || int32(binary.BigEndian.Uint32(v[16:])) != 1:
		return 0, nil, false
	}
	n := int(int32(binary.BigEndian.Uint32(v[12:])))
	p := 20
	for range n {
		if p+4 > len(v) {
			return 0, nil, false
		}
		size := int(int32(binary.BigEndian.Uint32(v[p:])))
		p += 4
		if size < 0 {
			elems = append(elems, nil)
			continue
		}
		if p+size > len(v) {
			return 0, nil, false
		}
		elems = append(elems, v[p:p+size])
		p += size
	}
	return elemOID, elems, p == len(v)
}
