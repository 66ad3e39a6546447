package planner

import (
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"hash"

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

// ChangeSink receives every row a sync would write, in key order. src is nil
// for deletes, dst is nil for inserts; changed lists the columns an update
// changes (indexes into the layout). The rows are only valid during the call.
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
	// Digest is the hex SHA-256 of the change set.
	Digest string
}

// progressEvery is how many rows pass between progress callbacks.
const progressEvery = 50000

// diff merges two key-ordered streams (SPEC §2 and DESIGN.md "Row diff"). It
// reads each stream once, holds two rows per side, and detects NULL and
// duplicate source keys as they pass.
func (l *layout) diff(ctx context.Context, behavior hclconfig.Behavior, src, dst rowStream, sink ChangeSink, progress func(rows int64)) (*diffResult, error) {
	res := &diffResult{}
	h := sha256.New()
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
		writeDigest(h, kind, sr, dr)
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
			if len(res.NullKeyExamples) < maxExamples {
				res.NullKeyExamples = append(res.NullKeyExamples, l.renderKey(s))
			}
			advanceSrc = true
		case s != nil && prev != nil && l.compareKeys(prev, s) == 0:
			res.SourceRows++
			if lastDupReported == nil || l.compareKeys(lastDupReported, s) != 0 {
				res.DupKeys++
				if len(res.DupKeyExamples) < maxExamples {
					res.DupKeyExamples = append(res.DupKeyExamples, l.renderKey(s))
				}
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
	res.Digest = hex.EncodeToString(h.Sum(nil))
	return res, nil
}

// writeDigest adds one change to the change-set digest: its kind, then the
// values it writes and the values it replaces, each length-prefixed.
func writeDigest(h hash.Hash, kind ChangeKind, src, dst *Row) {
	var lenBuf [4]byte
	h.Write([]byte{byte(kind)})
	for _, r := range []*Row{src, dst} {
		if r == nil {
			h.Write([]byte{0})
			continue
		}
		h.Write([]byte{1})
		for _, v := range r.Values {
			if v == nil {
				binary.BigEndian.PutUint32(lenBuf[:], 0xFFFFFFFF)
				h.Write(lenBuf[:])
				continue
			}
			binary.BigEndian.PutUint32(lenBuf[:], uint32(len(v)))
			h.Write(lenBuf[:])
			h.Write(v)
		}
	}
}
