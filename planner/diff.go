package planner

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"
	"sort"

	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/linesort"
)

// ChangeKind is what a sync does to one row.
type ChangeKind byte

// The changes a row diff produces.
const (
	ChangeInsert ChangeKind = '+'
	ChangeUpdate ChangeKind = '~'
	ChangeDelete ChangeKind = '-'
)

// ChangeSink receives every row a sync would write, in no particular order
// (Diff matches rows by key hash; DiffIntoEmpty passes them in key order).
// src is nil for deletes, dst is nil for inserts; changed lists the columns
// an update changes (indexes into the layout). The rows are only valid
// during the call, and calls are never concurrent.
type ChangeSink interface {
	Change(kind ChangeKind, src, dst *Row, changed []int) error
}

// maxExamples is how many example keys a finding shows.
const maxExamples = 5

// diffResult is what a row diff found.
type diffResult struct {
	Counts          Counts
	SourceRows      int64
	DestinationRows int64
	NullKeys        int64
	NullKeyExamples []string
	DupKeys         int64
	DupKeyExamples  []string
	// Digest identifies the change set whatever order it was found in
	// (see changeDigest).
	Digest string
	// strategyNote adds to the strategy's reason what the diff found
	// (how many buckets the server-hash diff read).
	strategyNote string
}

// addExample keeps the maxExamples smallest examples, sorted, so that a
// finding shows the same examples whatever order the rows were read in.
// Numbers in them compare as numbers ("id=2" before "id=10").
func addExample(examples []string, ex string) []string {
	i := sort.Search(len(examples), func(i int) bool { return linesort.Natural([]byte(examples[i]), []byte(ex)) >= 0 })
	if i >= maxExamples || (i < len(examples) && examples[i] == ex) {
		return examples
	}
	examples = append(examples, "")
	copy(examples[i+1:], examples[i:])
	examples[i] = ex
	if len(examples) > maxExamples {
		examples = examples[:maxExamples]
	}
	return examples
}

// changeDigest is an order-independent digest of a change set: each change
// is hashed with SHA-256 (its kind, then the values it writes and the values
// it replaces, each length-prefixed as appendValues writes them) and the hashes are summed
// lane by lane mod 2^64. The same changes read in any order give the same
// digest, so a plan is checked against an apply that read the rows in
// another order.
type changeDigest struct {
	sum [4]uint64
	h   hash.Hash // one change's hash, reused
	// msg buffers a change's small fields for h, reused; a value that would
	// take it past digestBuffer goes to h directly, so that a wide row is
	// hashed where it is, not copied (twice for an update) into msg.
	msg []byte
	out []byte
}

// digestBuffer is how many bytes of a change changeDigest.add buffers
// before it hands them to the hash.
const digestBuffer = 64 << 10

func newChangeDigest() *changeDigest { return &changeDigest{h: sha256.New()} }

// add adds one change: the SHA-256 of its message (its kind, then each
// row's presence and length-prefixed values), written to the hash in
// pieces.
func (d *changeDigest) add(kind ChangeKind, src, dst *Row) {
	d.h.Reset()
	b := append(d.msg[:0], byte(kind))
	for _, r := range []*Row{src, dst} {
		if r == nil {
			b = append(b, 0)
			continue
		}
		b = append(b, 1)
		for _, v := range r.Values {
			if v == nil {
				b = binary.BigEndian.AppendUint32(b, nullLength)
				continue
			}
			b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
			if len(b)+len(v) > digestBuffer {
				d.h.Write(b)
				d.h.Write(v)
				b = b[:0]
				continue
			}
			b = append(b, v...)
		}
	}
	d.h.Write(b)
	d.msg = b
	d.out = d.h.Sum(d.out[:0])
	for i := range d.sum {
		d.sum[i] += binary.LittleEndian.Uint64(d.out[8*i:])
	}
}

// merge adds the changes of o to d.
func (d *changeDigest) merge(o *changeDigest) {
	for i := range d.sum {
		d.sum[i] += o.sum[i]
	}
}

// String is the hex SHA-256 of the summed lanes.
func (d *changeDigest) String() string {
	var b [32]byte
	for i, v := range d.sum {
		binary.LittleEndian.PutUint64(b[8*i:], v)
	}
	s := sha256.Sum256(b[:])
	return hex.EncodeToString(s[:])
}

// progressEvery is how many rows pass between progress callbacks.
const progressEvery = 50000

// mergeDiff merges two key-ordered streams (the README's Behaviors;
// docs/design.md, "A plan"). It reads each stream once, holds two rows per side, and detects
// NULL and duplicate source keys as they pass; dst must hold no row with a
// NULL key (it is only used with an empty destination, for initial loads,
// and in tests). hashDiff gives the same result for streams in any order.
//
// Each step takes the smaller key of the two current rows to one of the
// merger's stages: a source row with a NULL key (nullKey), a repeated
// source key (duplicateKey), a key in the source only (sourceOnly), in the
// destination only (destinationOnly), or on both sides (matched).
func (l *layout) mergeDiff(ctx context.Context, behavior hclconfig.Behavior, src, dst rowStream, sink ChangeSink, progress func(rows int64)) (*diffResult, error) {
	m := &merger{l: l, behavior: behavior, sink: sink, res: &diffResult{}, digest: newChangeDigest()}
	res := m.res
	s, err := src.next()
	if err != nil {
		return nil, err
	}
	d, err := dst.next()
	if err != nil {
		return nil, err
	}
	if d != nil {
		res.DestinationRows++
	}
	var n int64
	for s != nil || d != nil {
		n++
		if n%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if progress != nil {
				progress(res.SourceRows + res.DestinationRows)
			}
		}
		advanceSrc, advanceDst := false, false
		switch {
		case s != nil && l.hasNullKey(s):
			m.nullKey(s)
			advanceSrc = true
		case s != nil && m.prev != nil && l.compareKeys(m.prev, s) == 0:
			m.duplicateKey(s)
			advanceSrc = true
		default:
			c := 0
			switch {
			case s == nil:
				c = 1
			case d == nil:
				c = -1
			default:
				c = l.compareKeys(s, d)
			}
			switch {
			case c < 0:
				err = m.sourceOnly(s)
				advanceSrc = true
			case c > 0:
				err = m.destinationOnly(d)
				advanceDst = true
			default:
				err = m.matched(s, d)
				advanceSrc, advanceDst = true, true
			}
			if err != nil {
				return nil, err
			}
		}
		if advanceSrc {
			if !l.hasNullKey(s) {
				l.setKeys(&m.prevBuf, s)
				m.prev = &m.prevBuf
			}
			if s, err = src.next(); err != nil {
				return nil, err
			}
		}
		if advanceDst {
			if d, err = dst.next(); err != nil {
				return nil, err
			}
			if d != nil {
				res.DestinationRows++
			}
		}
	}
	if progress != nil {
		progress(res.SourceRows + res.DestinationRows)
	}
	res.Digest = m.digest.String()
	return res, nil
}

// merger is the state of one mergeDiff.
type merger struct {
	l        *layout
	behavior hclconfig.Behavior
	sink     ChangeSink
	res      *diffResult
	digest   *changeDigest
	changed  []int
	// prev is a copy of the previous valid source row's keys (in
	// prevBuf), for duplicate detection; lastDupReported the last key
	// counted as a duplicate.
	prev            *Row
	prevBuf         Row
	lastDupReported *Row
}

// emit adds a change to the digest and hands it to the sink.
func (m *merger) emit(kind ChangeKind, sr, dr *Row, ch []int) error {
	m.digest.add(kind, sr, dr)
	if m.sink != nil {
		return m.sink.Change(kind, sr, dr, ch)
	}
	return nil
}

// nullKey counts a source row with a NULL key.
func (m *merger) nullKey(s *Row) {
	m.res.SourceRows++
	m.res.NullKeys++
	m.res.NullKeyExamples = addExample(m.res.NullKeyExamples, m.l.renderKey(s))
}

// duplicateKey counts a source row whose key the previous row had; each
// repeated key counts once.
func (m *merger) duplicateKey(s *Row) {
	m.res.SourceRows++
	if m.lastDupReported == nil || m.l.compareKeys(m.lastDupReported, s) != 0 {
		m.res.DupKeys++
		m.res.DupKeyExamples = addExample(m.res.DupKeyExamples, m.l.renderKey(s))
		m.lastDupReported = s.clone()
	}
}

// sourceOnly is a key only in the source: an insert, or skipped.
func (m *merger) sourceOnly(s *Row) error {
	m.res.SourceRows++
	if !m.behavior.Inserts() {
		m.res.Counts.Skipped++
		return nil
	}
	m.res.Counts.Insert++
	return m.emit(ChangeInsert, s, nil, nil)
}

// destinationOnly is a key only in the destination: a delete, or nothing.
func (m *merger) destinationOnly(d *Row) error {
	if !m.behavior.Deletes() {
		return nil
	}
	m.res.Counts.Delete++
	return m.emit(ChangeDelete, nil, d, nil)
}

// matched is a key on both sides: unchanged, an update, or skipped. A
// refused source row (a mark) counts as changed in every column.
func (m *merger) matched(s, d *Row) error {
	m.res.SourceRows++
	var update bool
	if m.changed, update = m.l.compareMatched(m.behavior, s, d, m.changed[:0], &m.res.Counts); update {
		return m.emit(ChangeUpdate, s, d, m.changed)
	}
	return nil
}

// compareMatched compares a source row s with the destination row d of its
// key, appending the changed columns to changed (every column when s has a
// value the destination refused: written only if the behavior updates), and
// counts the pair in counts as unchanged, an update or skipped. It returns
// the columns and whether the pair is an update to emit. Both diffs (the
// merge and the hash join) judge a matched pair with it.
func (l *layout) compareMatched(behavior hclconfig.Behavior, s, d *Row, changed []int, counts *Counts) ([]int, bool) {
	changed = l.changedColumns(s, d, changed)
	if len(changed) == 0 && l.mark(s) != nil {
		changed = l.allColumns(changed)
	}
	switch {
	case len(changed) == 0:
		counts.Unchanged++
	case behavior.Updates():
		counts.Update++
		return changed, true
	default:
		counts.Skipped++
	}
	return changed, false
}
