package planner

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"sort"

	"github.com/rowform/rowform/hclconfig"
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
func addExample(examples []string, ex string) []string {
	i := sort.SearchStrings(examples, ex)
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
// it replaces, each length-prefixed) and the hashes are summed lane by lane
// mod 2^64. The same changes read in any order give the same digest, so a
// plan is checked against an apply that read the rows in another order.
type changeDigest struct {
	sum [4]uint64
	msg []byte // one change's message, reused
}

func newChangeDigest() *changeDigest { return &changeDigest{} }

func (d *changeDigest) add(kind ChangeKind, src, dst *Row) {
	d.msg = appendChange(d.msg[:0], kind, src, dst)
	sum := sha256.Sum256(d.msg)
	for i := range d.sum {
		d.sum[i] += binary.LittleEndian.Uint64(sum[8*i:])
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
func (l *layout) mergeDiff(ctx context.Context, behavior hclconfig.Behavior, src, dst rowStream, sink ChangeSink, progress func(rows int64)) (*diffResult, error) {
	res := &diffResult{}
	digest := newChangeDigest()
	var changed []int
	var prev *Row // copy of the previous valid source row, for duplicate detection
	var prevBuf Row
	var lastDupReported *Row

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
	emit := func(kind ChangeKind, sr, dr *Row, ch []int) error {
		digest.add(kind, sr, dr)
		if sink != nil {
			return sink.Change(kind, sr, dr, ch)
		}
		return nil
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
			res.SourceRows++
			res.NullKeys++
			res.NullKeyExamples = addExample(res.NullKeyExamples, l.renderKey(s))
			advanceSrc = true
		case s != nil && prev != nil && l.compareKeys(prev, s) == 0:
			res.SourceRows++
			if lastDupReported == nil || l.compareKeys(lastDupReported, s) != 0 {
				res.DupKeys++
				res.DupKeyExamples = addExample(res.DupKeyExamples, l.renderKey(s))
				lastDupReported = s.clone()
			}
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
			case c < 0: // in source only
				res.SourceRows++
				if behavior.Inserts() {
					res.Counts.Insert++
					if err := emit(ChangeInsert, s, nil, nil); err != nil {
						return nil, err
					}
				} else {
					res.Counts.Skipped++
				}
				advanceSrc = true
			case c > 0: // in destination only
				if behavior.Deletes() {
					res.Counts.Delete++
					if err := emit(ChangeDelete, nil, d, nil); err != nil {
						return nil, err
					}
				}
				advanceDst = true
			default:
				res.SourceRows++
				changed = l.changedColumns(s, d, changed[:0])
				if len(changed) == 0 && l.mark(s) != nil {
					changed = l.allColumns(changed) // refused: written only if the behavior updates
				}
				switch {
				case len(changed) == 0:
					res.Counts.Unchanged++
				case behavior.Updates():
					res.Counts.Update++
					if err := emit(ChangeUpdate, s, d, changed); err != nil {
						return nil, err
					}
				default:
					res.Counts.Skipped++
				}
				advanceSrc, advanceDst = true, true
			}
		}
		if advanceSrc {
			if !l.hasNullKey(s) {
				l.setKeys(&prevBuf, s)
				prev = &prevBuf
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
	res.Digest = digest.String()
	return res, nil
}

// appendChange appends the message that identifies one change: its kind,
// then the values it writes and the values it replaces, each
// length-prefixed (appendValues).
func appendChange(b []byte, kind ChangeKind, src, dst *Row) []byte {
	b = append(b, byte(kind))
	for _, r := range []*Row{src, dst} {
		if r == nil {
			b = append(b, 0)
			continue
		}
		b = appendValues(append(b, 1), r.Values)
	}
	return b
}
