package planner

import (
	"context"
	"encoding/binary"
)

// joinWorker joins partitions one at a time (phase 2 of the hash diff,
// hashdiff.go). Its buffers are reused between partitions; its counts and
// digest are its own, added up when every partition is joined.
type joinWorker struct {
	j      *hashJoin
	res    *diffResult
	digest *changeDigest
	// partLimit is this worker's share of hashLimits.partition.
	partLimit int64
	changed   []int

	// Reused between partitions: the destination's records with their
	// match states, the source-only records kept to catch repeated keys,
	// and the source record being matched.
	dst, kept recordIndex
	state     []byte
	srcRow    Row
	// keyVals and keyBuf are reused by keyRecord.
	keyVals [][]byte
	keyBuf  []byte
	// reader reads partitions back from their files.
	reader partitionReader
}

func (j *hashJoin) newWorker() *joinWorker {
	return &joinWorker{j: j, res: &diffResult{}, digest: newChangeDigest(), partLimit: j.limits.partition}
}

// joinPartition joins partition i of a pair of partition sets: the
// destination's rows are loaded and indexed by key hash, the source's rows
// stream past them, and the destination rows no source row matched are
// left over.
func (w *joinWorker) joinPartition(ctx context.Context, srcParts, dstParts *partitions, i, level int) error {
	if srcParts.size(i)+dstParts.size(i) > w.partLimit && level < hashMaxLevel {
		return w.split(ctx, srcParts, dstParts, i, level)
	}
	var err error
	if w.dst.arena, err = dstParts.load(i, w.dst.arena); err != nil {
		return err
	}
	w.dst.index()
	if cap(w.state) < len(w.dst.offsets) {
		w.state = make([]byte, len(w.dst.offsets))
	}
	w.state = w.state[:len(w.dst.offsets)]
	clear(w.state)
	w.kept.reset(min(srcParts.rows[i], w.j.limits.srcOnlyStart)) // grows as needed
	if err := srcParts.each(i, &w.reader, w.matchSource); err != nil {
		return err
	}
	return w.deleteUnmatched()
}

// Destination row states in a partition.
const (
	dstUnmatched byte = iota
	dstMatched
	dstDupReported
)

// matchSource diffs one source record against the destination's records.
func (w *joinWorker) matchSource(rec []byte) error {
	l := w.j.l
	h := binary.BigEndian.Uint64(rec)
	s := &w.srcRow
	decodeRecord(rec, s)
	if slot, ok := w.dst.find(l, h, s); ok {
		k := w.dst.record(slot)
		switch w.state[k] {
		case dstMatched:
			w.state[k] = dstDupReported
			w.duplicate(s)
			return nil
		case dstDupReported:
			return nil
		}
		w.state[k] = dstMatched
		return w.matched(s, &w.dst.row)
	}
	// In the source only. Its first occurrence is kept, to recognise the
	// next ones; the slot's mark says the key was reported as a duplicate.
	if slot, ok := w.kept.find(l, h, s); ok {
		if !w.kept.marked(slot) {
			w.kept.mark(slot)
			w.duplicate(s)
		}
		return nil
	}
	w.kept.add(w.keyRecord(h, s))
	if !w.j.behavior.Inserts() {
		w.res.Counts.Skipped++
		if l.rematch && w.j.sink != nil {
			return w.toSink(changeUnmatched, s, nil, nil)
		}
		return nil
	}
	w.res.Counts.Insert++
	return w.emit(ChangeInsert, s, nil, nil)
}

// keyRecord encodes the record of s (whose key hash is h) with only what
// keysEqual compares: its other values are NULL, so that the source-only
// records a partition keeps to catch repeated keys cost their keys, not
// their rows (which may be wide).
func (w *joinWorker) keyRecord(h uint64, s *Row) []byte {
	l := w.j.l
	vals := append(w.keyVals[:0], s.Values...)
	for i := l.NKey; i < len(l.Cols); i++ {
		vals[i] = nil
	}
	w.keyVals = vals
	b := binary.BigEndian.AppendUint64(w.keyBuf[:0], h)
	b = binary.BigEndian.AppendUint32(b, uint32(valuesSize(vals)))
	w.keyBuf = appendValues(b, vals)
	return w.keyBuf
}

// deleteUnmatched emits the deletes of a partition: destination rows no
// source row matched.
func (w *joinWorker) deleteUnmatched() error {
	if !w.j.behavior.Deletes() {
		return nil
	}
	for k, off := range w.dst.offsets {
		if w.state[k] != dstUnmatched {
			continue
		}
		decodeRecord(w.dst.arena[off:], &w.dst.row)
		w.res.Counts.Delete++
		if err := w.emit(ChangeDelete, nil, &w.dst.row, nil); err != nil {
			return err
		}
	}
	return nil
}

// matched handles a source row whose key is in the destination.
func (w *joinWorker) matched(s, d *Row) error {
	var update bool
	if w.changed, update = w.j.l.compareMatched(w.j.behavior, s, d, w.changed[:0], &w.res.Counts); update {
		return w.emit(ChangeUpdate, s, d, w.changed)
	}
	return nil
}

// duplicate counts a key seen a second time in the source.
func (w *joinWorker) duplicate(s *Row) {
	w.res.DupKeys++
	w.res.DupKeyExamples = addExample(w.res.DupKeyExamples, w.j.l.renderKey(s))
}

// emit adds a change to the worker's digest and hands it to the sink.
func (w *joinWorker) emit(kind ChangeKind, s, d *Row, changed []int) error {
	w.digest.add(kind, s, d)
	return w.toSink(kind, s, d, changed)
}

// toSink hands a change to the sink, one worker at a time.
func (w *joinWorker) toSink(kind ChangeKind, s, d *Row, changed []int) error {
	if w.j.sink == nil {
		return nil
	}
	w.j.sinkMu.Lock()
	defer w.j.sinkMu.Unlock()
	return w.j.sink.Change(kind, s, d, changed)
}

// split re-partitions partition i of both sides by the next bits of the
// hash and joins the parts.
func (w *joinWorker) split(ctx context.Context, srcParts, dstParts *partitions, i, level int) error {
	w.j.splits.Add(1)
	childSrc, childDst := w.j.newPartitions(srcParts.name+"."), w.j.newPartitions(dstParts.name+".")
	defer childSrc.close()
	defer childDst.close()
	n := 0
	for _, p := range []struct{ from, to *partitions }{{srcParts, childSrc}, {dstParts, childDst}} {
		err := p.from.each(i, &w.reader, func(rec []byte) error {
			if n++; n%65536 == 0 {
				if err := ctx.Err(); err != nil {
					return err
				}
			}
			h := binary.BigEndian.Uint64(rec)
			return p.to.addRecord(partOf(h, level+1), rec)
		})
		if err != nil {
			return err
		}
	}
	if err := releaseAll(childSrc, childDst); err != nil {
		return err
	}
	for k := 0; k < hashFanout; k++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		childLevel := level + 1
		if childSrc.rows[k]+childDst.rows[k] == n {
			// Every row went to one part: one key repeated in the source
			// (or hashes that agree in every bit). Splitting again would
			// not help; join it as it is.
			childLevel = hashMaxLevel
		}
		if err := w.joinPartition(ctx, childSrc, childDst, k, childLevel); err != nil {
			return err
		}
	}
	return nil
}
