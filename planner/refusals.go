package planner

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"slices"

	"github.com/rowform/rowform/internal/linesort"
)

// What the checker keeps of the changes it rejects. A sync whose every row
// is refused (a column mapping gone wrong) may reject millions, so nothing
// is kept in memory per rejected change but one bit (seqSet): the counts
// and the digest of the rejected changes are summed as they are rejected,
// and each one's key, kind, first reason and CSV line go to an external
// sort (refusals), read once the checks are done into the key-ordered
// list of rows apply reports (RejectedRows), itself kept on disk past
// rejectedRowsMemory bytes.

// refusalSortMemory is how many bytes of rejected changes the sort keeps in
// memory before it spills them to a temporary file.
const refusalSortMemory = 4 << 20

// rejectedRowsMemory is how many bytes of a RejectedRows stay in memory
// before the rows move to a temporary file.
const rejectedRowsMemory = 1 << 20

// seqSet is a set of change sequence numbers, one bit per number up to the
// largest one added: an eighth of a byte per change of the change set,
// whatever share of the changes it holds.
type seqSet struct {
	words []uint64
	n     int64
}

// add adds seq and reports whether it was not in the set yet.
func (s *seqSet) add(seq int64) bool {
	w, bit := seq/64, uint64(1)<<(seq%64)
	if w >= int64(len(s.words)) {
		s.words = append(s.words, make([]uint64, int(w)-len(s.words)+1)...)
	}
	if s.words[w]&bit != 0 {
		return false
	}
	s.words[w] |= bit
	s.n++
	return true
}

// has reports whether seq is in the set.
func (s *seqSet) has(seq int64) bool {
	w := seq / 64
	return w < int64(len(s.words)) && s.words[w]&(uint64(1)<<(seq%64)) != 0
}

// len is the number of sequence numbers in the set.
func (s *seqSet) len() int64 { return s.n }

// refusals are the rejected changes, each added once, at its first
// reason.
type refusals struct {
	// kinds counts the rejected changes by kind.
	kinds map[ChangeKind]int64
	// digest is the rejectDigest of the changes added so far (nil: none).
	digest *changeDigest
	// lastReason is the first reason of the change added last.
	lastReason int
	// sorted holds one record per change (appendRefusal), in the order
	// of rejectedRows; err is the first error adding one.
	sorted *linesort.Sorter
	err    error
	keys   Row    // the key copy of the change being added, reused
	rec    []byte // its record, reused
	// a and b are the keys of the records the sort compares, reused.
	a, b Row
}

// add records the change seq, of kind, whose row (src, or dst for a
// delete) has the key, refused first for the reason reasons[reason],
// read from line of a CSV file (0: none).
func (r *refusals) add(l *layout, seq int64, kind ChangeKind, row *Row, reason, line int) {
	if r.digest == nil {
		r.kinds, r.digest = map[ChangeKind]int64{}, newChangeDigest()
		r.sorted = linesort.New("", refusalSortMemory, func(a, b []byte) int { return r.compare(l, a, b) })
	}
	r.kinds[kind]++
	r.lastReason = reason
	l.setKeys(&r.keys, row)
	r.digest.add(kind, &r.keys, nil)
	if r.err != nil {
		return
	}
	r.rec = l.appendRefusal(r.rec[:0], seq, kind, &r.keys, reason, line)
	r.err = tempFileErr("keeping the rejected rows in a temporary file", r.sorted.Add(r.rec))
}

// A refusal's record: its sequence number (8 bytes, big-endian, so that
// records of equal keys compare by it as bytes), kind (1), reason (4) and
// line (4), then the values of the key columns and of the text keys, as
// appendValues writes them.
const refusalHeader = 8 + 1 + 4 + 4

// appendRefusal appends the record of a refusal to b; keys holds the key
// values (setKeys).
func (l *layout) appendRefusal(b []byte, seq int64, kind ChangeKind, keys *Row, reason, line int) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(seq))
	b = append(b, byte(kind))
	b = binary.BigEndian.AppendUint32(b, uint32(reason))
	b = binary.BigEndian.AppendUint32(b, uint32(line))
	b = appendValues(b, keys.Values[:l.NKey])
	return appendValues(b, keys.Values[len(l.Cols):l.width()])
}

// decodeRefusal reads a record of appendRefusal; keys gets the key values
// at their places in the layout (the other values NULL), pointing into
// rec.
func (l *layout) decodeRefusal(rec []byte, keys *Row) (seq int64, kind ChangeKind, reason, line int) {
	seq = int64(binary.BigEndian.Uint64(rec))
	kind = ChangeKind(rec[8])
	reason = int(binary.BigEndian.Uint32(rec[9:]))
	line = int(binary.BigEndian.Uint32(rec[13:]))
	keys.Values = slices.Grow(keys.Values[:0], l.width())[:l.width()]
	clear(keys.Values)
	body := rec[refusalHeader:]
	for i := range l.NKey + len(l.TextKeys) {
		at := i
		if i >= l.NKey {
			at = len(l.Cols) + i - l.NKey
		}
		size := binary.BigEndian.Uint32(body)
		body = body[4:]
		if size == nullLength {
			continue
		}
		keys.Values[at] = body[:size:size]
		body = body[size:]
	}
	return seq, kind, reason, line
}

// compare orders two records of appendRefusal by key (compareKeys), then
// by sequence number.
func (r *refusals) compare(l *layout, a, b []byte) int {
	l.decodeRefusal(a, &r.a)
	l.decodeRefusal(b, &r.b)
	if c := l.compareKeys(&r.a, &r.b); c != 0 {
		return c
	}
	return bytes.Compare(a[:8], b[:8])
}

// rejectDigest is the order-independent digest (changeDigest) of which
// changes are refused: each one's kind and key. "" when none is, so that
// a plan without rejected rows has none to compare.
func (c *checker) rejectDigest() string {
	if c.refused.digest == nil {
		return ""
	}
	return c.refused.digest.String()
}

// rejectedRows lists every rejected change with its first reason, ordered
// by key, then by sequence number. It reads the refusals once: the checker
// has no rows to list after.
func (c *checker) rejectedRows() (RejectedRows, error) {
	r := &c.refused
	if r.sorted == nil {
		return RejectedRows{}, nil
	}
	defer r.sorted.Close()
	if r.err != nil {
		return RejectedRows{}, r.err
	}
	out := newRejectedRows()
	var keys Row
	err := r.sorted.Each(func(rec []byte) error {
		_, kind, ix, line := c.l.decodeRefusal(rec, &keys)
		reason := c.reasons[ix]
		key := make(map[string]string, c.l.NKey)
		for i := 0; i < c.l.NKey; i++ {
			key[c.l.Cols[i].Dest] = c.l.renderColumn(i, keys.Values[i])
		}
		return out.add(&RejectedRow{Sync: c.p.Sync.Name, Kind: kindName(kind), Key: key, Line: line,
			Column: reason.Column, Constraint: reason.Constraint, Reason: reason.Reason})
	})
	if err != nil {
		out.Close()
		return RejectedRows{}, tempFileErr("sorting the rejected rows", err)
	}
	return out, nil
}

// RejectedRows lists the rows of one sync that the destination would refuse
// (DiffResult.Rejected, executor.SyncResult.Rejected), in the order apply
// reports them: by key, then in the order the diff found them. Up to about
// a megabyte of them stays in memory; the others are kept in an unlinked
// temporary file, so that any number of rejected rows costs the same
// memory. The zero RejectedRows lists none. A RejectedRows may be read any
// number of times, not concurrently; Close releases its file.
type RejectedRows struct{ s *changeSpool }

// NewRejectedRows lists rows, in their order (a result built by hand).
func NewRejectedRows(rows []RejectedRow) (RejectedRows, error) {
	out := newRejectedRows()
	for i := range rows {
		if err := out.add(&rows[i]); err != nil {
			out.Close()
			return RejectedRows{}, err
		}
	}
	return out, nil
}

func newRejectedRows() RejectedRows { return RejectedRows{s: newChangeSpool(rejectedRowsMemory)} }

// A row of RejectedRows is spooled as the values sync, kind, line (8
// bytes), column, constraint and reason, then the key's column names and
// values in turn, sorted by name.
const rejectedRowFields = 6

// add appends row.
func (r RejectedRows) add(row *RejectedRow) error {
	vals := [][]byte{[]byte(row.Sync), []byte(row.Kind), binary.BigEndian.AppendUint64(nil, uint64(row.Line)),
		[]byte(row.Column), []byte(row.Constraint), []byte(row.Reason)}
	names := make([]string, 0, len(row.Key))
	for k := range row.Key {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, k := range names {
		vals = append(vals, []byte(k), []byte(row.Key[k]))
	}
	return r.s.add(ChangeInsert, &Row{Values: vals}, nil)
}

// Len is the number of rows.
func (r RejectedRows) Len() int64 {
	if r.s == nil {
		return 0
	}
	return r.s.len()
}

// Each calls fn with every row, in order, until fn returns an error, which
// Each returns. The row is fn's to keep; its Key is never nil.
func (r RejectedRows) Each(fn func(row *RejectedRow) error) error {
	if r.s == nil {
		return nil
	}
	return r.s.each(func(_ ChangeKind, src, _ *Row) error {
		v := src.Values
		row := &RejectedRow{Sync: string(v[0]), Kind: string(v[1]), Line: int(binary.BigEndian.Uint64(v[2])),
			Column: string(v[3]), Constraint: string(v[4]), Reason: string(v[5]),
			Key: make(map[string]string, (len(v)-rejectedRowFields)/2)}
		for i := rejectedRowFields; i+1 < len(v); i += 2 {
			row.Key[string(v[i])] = string(v[i+1])
		}
		return fn(row)
	})
}

// MarshalJSON renders the rows as a JSON array (empty when there are
// none), each row as json.Marshal renders a RejectedRow.
func (r RejectedRows) MarshalJSON() ([]byte, error) {
	b := []byte{'['}
	err := r.Each(func(row *RejectedRow) error {
		if len(b) > 1 {
			b = append(b, ',')
		}
		j, err := json.Marshal(row)
		b = append(b, j...)
		return err
	})
	return append(b, ']'), err
}

// Close releases the temporary file, if any; the rows are gone after.
func (r RejectedRows) Close() {
	if r.s != nil {
		r.s.close()
		r.s.n = 0
	}
}
