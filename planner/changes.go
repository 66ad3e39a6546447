package planner

import (
	"bytes"
	"encoding/json"
)

// Change is one row a sync would write, as `plan -changes=FILE` lists it:
// every insert, update and delete of the plan, not only the samples. Rows
// the destination would refuse are not changes (see rejected_rows).
//
// Values are rendered as sample values are: text in PostgreSQL's output
// format, a sensitive column's value "(sensitive)", SQL NULL as Null (null
// in JSON).
type Change struct {
	// Sync is the name of the sync that would write the change.
	Sync string
	// Kind is "insert", "update" or "delete".
	Kind string
	// Key holds the key columns, in key order.
	Key []ColumnValue
	// Before holds the values the change replaces: nil for an insert,
	// the changed columns for an update, every mapped non-key column for a
	// delete.
	Before []ColumnValue
	// After holds the values the change writes: every mapped non-key
	// column for an insert, the changed columns for an update, nil for a
	// delete.
	After []ColumnValue
}

// ColumnValue is one column of a Change.
type ColumnValue struct {
	// Column is the destination column's name; Value its rendered value.
	Column string
	Value  string
}

// MarshalJSON writes the change as one JSON object, its keys in this order:
//
//	{"sync":"users","kind":"update","key":{"id":"7"},"before":{"name":"Al"},"after":{"name":"Alan"}}
//
// "key", "before" and "after" are objects of column → value (a string, or
// null for a NULL) in column order; "before" is null for an insert and
// "after" null for a delete.
func (c Change) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteString(`{"sync":`)
	writeJSONString(&b, c.Sync)
	b.WriteString(`,"kind":`)
	writeJSONString(&b, c.Kind)
	b.WriteString(`,"key":`)
	writeColumns(&b, c.Key, true)
	b.WriteString(`,"before":`)
	writeColumns(&b, c.Before, c.Kind != "insert")
	b.WriteString(`,"after":`)
	writeColumns(&b, c.After, c.Kind != "delete")
	b.WriteByte('}')
	return b.Bytes(), nil
}

// writeColumns writes cols as a JSON object in order, or null when present
// is false.
func writeColumns(b *bytes.Buffer, cols []ColumnValue, present bool) {
	if !present {
		b.WriteString("null")
		return
	}
	b.WriteByte('{')
	for i, c := range cols {
		if i > 0 {
			b.WriteByte(',')
		}
		writeJSONString(b, c.Column)
		b.WriteByte(':')
		if c.Value == Null {
			b.WriteString("null")
		} else {
			writeJSONString(b, c.Value)
		}
	}
	b.WriteByte('}')
}

func writeJSONString(b *bytes.Buffer, s string) {
	q, _ := json.Marshal(s) // a string always encodes
	b.Write(q)
}

// changeSink renders every change of a sync for Options.Changes, then
// passes it on to down.
type changeSink struct {
	l    *layout
	sync string
	fn   func(*Change) error
	down ChangeSink
	c    Change // reused
}

// withChanges returns down, or, when fn is set, a sink that first hands
// every change to fn.
func withChanges(down ChangeSink, p *Prepared, fn func(*Change) error) ChangeSink {
	if fn == nil {
		return down
	}
	return &changeSink{l: p.layout, sync: p.Sync.Name, fn: fn, down: down}
}

func (s *changeSink) Change(kind ChangeKind, src, dst *Row, changed []int) error {
	l := s.l
	c := &s.c
	*c = Change{Sync: s.sync, Kind: kindName(kind), Key: c.Key[:0], Before: c.Before[:0], After: c.After[:0]}
	row := src
	if kind == ChangeDelete {
		row = dst
	}
	for i := 0; i < l.NKey; i++ {
		c.Key = append(c.Key, ColumnValue{l.Cols[i].Dest, l.renderColumn(i, row.Values[i])})
	}
	switch kind {
	case ChangeInsert:
		for i := l.NKey; i < len(l.Cols); i++ {
			c.After = append(c.After, ColumnValue{l.Cols[i].Dest, l.renderColumn(i, src.Values[i])})
		}
	case ChangeUpdate:
		for _, i := range changed {
			c.Before = append(c.Before, ColumnValue{l.Cols[i].Dest, l.renderColumn(i, dst.Values[i])})
			c.After = append(c.After, ColumnValue{l.Cols[i].Dest, l.renderColumn(i, src.Values[i])})
		}
	case ChangeDelete:
		for i := l.NKey; i < len(l.Cols); i++ {
			c.Before = append(c.Before, ColumnValue{l.Cols[i].Dest, l.renderColumn(i, dst.Values[i])})
		}
	}
	if err := s.fn(c); err != nil {
		return err
	}
	if s.down != nil {
		return s.down.Change(kind, src, dst, changed)
	}
	return nil
}
