package planner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"slices"

	"github.com/rowform/rowform/hclconfig"
)

// The hash diff matches the rows of two streams read in any order: a Grace
// hash join. Neither server has to sort (sorting a million random keys costs
// a server more than reading its table twice; see docs/performance.md).
//
//  1. Both streams are read once. Each row is routed by the hash of its key
//     into one of hashFanout partitions per side. Each partition buffers up
//     to hashLimits.spill/hashFanout bytes, then appends them as a chunk to
//     the side's temporary file: small syncs never touch disk, large ones
//     use a bounded amount of memory.
//  2. One partition at a time, the destination's records are loaded and
//     indexed by key hash, and the source's records stream past them.
//     A partition larger than hashLimits.partition (a huge table) is split
//     again by the next bits of the hash; a part that does not shrink (one
//     key repeated in the source) is joined as it is.
//
// Memory is bounded by the limits, not by the table: the spill budget of
// each side while reading, then one partition's destination records, the
// source-only records kept to catch repeated keys, and their tables.

const (
	hashFanoutBits = 6
	hashFanout     = 1 << hashFanoutBits
	// hashMaxLevel is the deepest split: each level uses the next
	// hashFanoutBits bits of the 64-bit hash, from the top.
	hashMaxLevel = 64/hashFanoutBits - 1
	// recordHeader is a partition record's header: the key hash (8 bytes)
	// and the length of the values that follow (4 bytes).
	recordHeader = 12
)

// hashLimits bounds the memory of a hash diff, in bytes of row data.
type hashLimits struct {
	// spill is how much one side keeps in memory before it writes its
	// partitions to temporary files.
	spill int
	// partition is how much one partition (both sides) may hold when it is
	// joined; a larger one is split again.
	partition int64
}

// srcOnlyStart is how many source-only keys a partition's table starts
// with room for; it grows from there. A variable for tests.
var srcOnlyStart = 1 << 16

// defaultHashLimits keep a diff at a few tens of MB at any table size.
// Tests lower them to force spills and splits.
var defaultHashLimits = hashLimits{spill: 4 << 20, partition: 64 << 20}

// hashDiff is the diff of mergeDiff for streams in any order: the same
// counts, findings and digest. Changes reach sink grouped by partition.
func (l *layout) hashDiff(ctx context.Context, behavior hclconfig.Behavior, src, dst rowStream, sink ChangeSink, progress func(rows int64), limits hashLimits) (*diffResult, error) {
	j := &hashJoin{l: l, behavior: behavior, sink: sink, limits: limits}
	return j.run(ctx, src, dst, progress)
}

func (j *hashJoin) run(ctx context.Context, src, dst rowStream, progress func(rows int64)) (*diffResult, error) {
	j.res, j.digest = &diffResult{}, newChangeDigest()
	srcParts, dstParts := j.newPartitions("s"), j.newPartitions("d")
	defer srcParts.close()
	defer dstParts.close()
	if err := j.partition(ctx, src, dst, srcParts, dstParts, progress); err != nil {
		return nil, err
	}
	if err := releaseAll(srcParts, dstParts); err != nil {
		return nil, err
	}
	for i := 0; i < hashFanout; i++ {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := j.joinPartition(ctx, srcParts, dstParts, i, 0); err != nil {
			return nil, err
		}
	}
	if progress != nil {
		progress(j.res.SourceRows + j.res.DestinationRows)
	}
	j.res.Digest = j.digest.String()
	return j.res, nil
}

// hashJoin is the state of one hash diff.
type hashJoin struct {
	l        *layout
	behavior hclconfig.Behavior
	sink     ChangeSink
	limits   hashLimits
	res      *diffResult
	digest   *changeDigest
	// files counts the temporary files created (for tests).
	files   int
	changed []int
	// splits counts partitions split again (for tests).
	splits int

	// Reused between partitions: the destination's records with their
	// match states, the source-only records kept to catch repeated keys,
	// and the source record being matched.
	dst, kept recordIndex
	state     []byte
	srcRow    Row
	// keyVals and keyBuf are reused by keyRecord.
	keyVals [][]byte
	keyBuf  []byte
}

// partition is phase 1: it reads both streams to the end, alternating
// between them so that both servers keep sending.
func (j *hashJoin) partition(ctx context.Context, src, dst rowStream, srcParts, dstParts *partitions, progress func(int64)) error {
	l := j.l
	srcDone, dstDone := false, false
	var n int64
	for !srcDone || !dstDone {
		if !srcDone {
			s, err := src.next()
			if err != nil {
				return err
			}
			switch {
			case s == nil:
				srcDone = true
			case l.hasNullKey(s):
				j.res.SourceRows++
				j.res.NullKeys++
				j.res.NullKeyExamples = addExample(j.res.NullKeyExamples, l.renderKey(s))
			default:
				j.res.SourceRows++
				h := l.keyHash(s)
				if err := srcParts.add(partOf(h, 0), h, s.Values); err != nil {
					return err
				}
			}
		}
		if !dstDone {
			d, err := dst.next()
			if err != nil {
				return err
			}
			switch {
			case d == nil:
				dstDone = true
			case l.hasNullKey(d):
				// Only a mirror reads these: no source row can match a
				// NULL key, so the row is in the destination only.
				j.res.DestinationRows++
				if j.behavior.Deletes() {
					j.res.Counts.Delete++
					if err := j.emit(ChangeDelete, nil, d, nil); err != nil {
						return err
					}
				}
			default:
				j.res.DestinationRows++
				h := l.keyHash(d)
				if err := dstParts.add(partOf(h, 0), h, d.Values); err != nil {
					return err
				}
			}
		}
		n++
		if n%(progressEvery/2) == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
			if progress != nil {
				progress(j.res.SourceRows + j.res.DestinationRows)
			}
		}
	}
	return nil
}

// partOf is the partition of a key hash at a split level.
func partOf(h uint64, level int) int {
	return int(h>>(64-hashFanoutBits*(level+1))) & (hashFanout - 1)
}

// joinPartition is phase 2 for partition i of a pair of partition sets:
// the destination's rows are loaded and indexed by key hash, the source's
// rows stream past them, and the destination rows no source row matched
// are left over.
func (j *hashJoin) joinPartition(ctx context.Context, srcParts, dstParts *partitions, i, level int) error {
	if srcParts.size(i)+dstParts.size(i) > j.limits.partition && level < hashMaxLevel {
		return j.split(ctx, srcParts, dstParts, i, level)
	}
	var err error
	if j.dst.arena, err = dstParts.load(i, j.dst.arena); err != nil {
		return err
	}
	j.dst.index()
	if cap(j.state) < len(j.dst.offsets) {
		j.state = make([]byte, len(j.dst.offsets))
	}
	j.state = j.state[:len(j.dst.offsets)]
	clear(j.state)
	j.kept.reset(min(srcParts.rows[i], srcOnlyStart)) // grows as needed
	if err := srcParts.each(i, j.matchSource); err != nil {
		return err
	}
	return j.deleteUnmatched()
}

// Destination row states in a partition.
const (
	dstUnmatched byte = iota
	dstMatched
	dstDupReported
)

// matchSource diffs one source record against the destination's records.
func (j *hashJoin) matchSource(rec []byte) error {
	h := binary.BigEndian.Uint64(rec)
	s := &j.srcRow
	decodeRecord(rec, s)
	if slot, ok := j.dst.find(j.l, h, s); ok {
		k := j.dst.record(slot)
		switch j.state[k] {
		case dstMatched:
			j.state[k] = dstDupReported
			j.duplicate(s)
			return nil
		case dstDupReported:
			return nil
		}
		j.state[k] = dstMatched
		return j.matched(s, &j.dst.row)
	}
	// In the source only. Its first occurrence is kept, to recognise the
	// next ones; the slot's mark says the key was reported as a duplicate.
	if slot, ok := j.kept.find(j.l, h, s); ok {
		if !j.kept.marked(slot) {
			j.kept.mark(slot)
			j.duplicate(s)
		}
		return nil
	}
	j.kept.add(j.keyRecord(h, s))
	if !j.behavior.Inserts() {
		j.res.Counts.Skipped++
		if j.l.rematch && j.sink != nil {
			return j.sink.Change(changeUnmatched, s, nil, nil)
		}
		return nil
	}
	j.res.Counts.Insert++
	return j.emit(ChangeInsert, s, nil, nil)
}

// keyRecord encodes the record of s (whose key hash is h) with only what
// keysEqual compares: its other values are NULL, so that the source-only
// records a partition keeps to catch repeated keys cost their keys, not
// their rows (which may be wide).
func (j *hashJoin) keyRecord(h uint64, s *Row) []byte {
	vals := append(j.keyVals[:0], s.Values...)
	for i := j.l.NKey; i < len(j.l.Cols); i++ {
		vals[i] = nil
	}
	j.keyVals = vals
	b := binary.BigEndian.AppendUint64(j.keyBuf[:0], h)
	b = binary.BigEndian.AppendUint32(b, uint32(valuesSize(vals)))
	j.keyBuf = appendValues(b, vals)
	return j.keyBuf
}

// deleteUnmatched emits the deletes of a partition: destination rows no
// source row matched.
func (j *hashJoin) deleteUnmatched() error {
	if !j.behavior.Deletes() {
		return nil
	}
	for k, off := range j.dst.offsets {
		if j.state[k] != dstUnmatched {
			continue
		}
		decodeRecord(j.dst.arena[off:], &j.dst.row)
		j.res.Counts.Delete++
		if err := j.emit(ChangeDelete, nil, &j.dst.row, nil); err != nil {
			return err
		}
	}
	return nil
}

// matched handles a source row whose key is in the destination.
func (j *hashJoin) matched(s, d *Row) error {
	j.changed = j.l.changedColumns(s, d, j.changed[:0])
	if len(j.changed) == 0 && j.l.mark(s) != nil {
		j.changed = j.l.allColumns(j.changed) // refused: written only if the behavior updates
	}
	switch {
	case len(j.changed) == 0:
		j.res.Counts.Unchanged++
	case j.behavior.Updates():
		j.res.Counts.Update++
		return j.emit(ChangeUpdate, s, d, j.changed)
	default:
		j.res.Counts.Skipped++
	}
	return nil
}

// duplicate counts a key seen a second time in the source.
func (j *hashJoin) duplicate(s *Row) {
	j.res.DupKeys++
	j.res.DupKeyExamples = addExample(j.res.DupKeyExamples, j.l.renderKey(s))
}

func (j *hashJoin) emit(kind ChangeKind, s, d *Row, changed []int) error {
	j.digest.add(kind, s, d)
	if j.sink != nil {
		return j.sink.Change(kind, s, d, changed)
	}
	return nil
}

// recordIndex finds the records of an arena by key: an open-addressing
// table over the low bits of their key hash (the partition used the high
// bits), at a load factor of at most one half. A slot holds its record's
// number + 1 (0 is empty) and, in its high bit, a mark for the caller.
type recordIndex struct {
	arena   []byte
	offsets []int32 // of each record in arena
	slots   []int32
	row     Row // the record find found
}

const slotMark = -0x80000000

// reset empties the index, with room for n records before it grows.
func (x *recordIndex) reset(n int) {
	x.arena, x.offsets = x.arena[:0], x.offsets[:0]
	x.clearSlots(n)
}

// index indexes the records already in arena.
func (x *recordIndex) index() {
	x.offsets = recordOffsets(x.arena, x.offsets[:0])
	x.clearSlots(len(x.offsets))
	for k := range x.offsets {
		x.insert(k)
	}
}

// clearSlots empties the table, sized for n records.
func (x *recordIndex) clearSlots(n int) {
	size := 16
	for size < 2*n {
		size <<= 1
	}
	if cap(x.slots) < size {
		x.slots = make([]int32, size)
	}
	x.slots = x.slots[:size]
	clear(x.slots)
}

// add appends rec to the arena and indexes it.
func (x *recordIndex) add(rec []byte) {
	x.offsets = append(x.offsets, int32(len(x.arena)))
	x.arena = append(x.arena, rec...)
	x.insert(len(x.offsets) - 1)
}

// insert puts record k in the first free slot for its hash, doubling the
// table first if it would be more than half full.
func (x *recordIndex) insert(k int) {
	if 2*len(x.offsets) > len(x.slots) {
		old := x.slots
		x.slots = make([]int32, 2*len(old))
		for _, e := range old {
			if e != 0 {
				x.slots[x.freeSlot(recordHash(x.arena, x.offsets[int(e&^slotMark)-1]))] = e
			}
		}
	}
	x.slots[x.freeSlot(recordHash(x.arena, x.offsets[k]))] = int32(k + 1)
}

func (x *recordIndex) freeSlot(h uint64) uint64 {
	mask := uint64(len(x.slots) - 1)
	slot := h & mask
	for x.slots[slot] != 0 {
		slot = (slot + 1) & mask
	}
	return slot
}

// find looks for the record with s's key (whose hash is h). When found, it
// returns its slot and leaves the record decoded in x.row.
func (x *recordIndex) find(l *layout, h uint64, s *Row) (slot uint64, found bool) {
	mask := uint64(len(x.slots) - 1)
	for slot = h & mask; x.slots[slot] != 0; slot = (slot + 1) & mask {
		off := x.offsets[x.record(slot)]
		if recordHash(x.arena, off) != h {
			continue
		}
		decodeRecord(x.arena[off:], &x.row)
		if l.keysEqual(s, &x.row) {
			return slot, true
		}
	}
	return 0, false
}

// record is the number of the record in a used slot.
func (x *recordIndex) record(slot uint64) int { return int(x.slots[slot]&^slotMark) - 1 }

func (x *recordIndex) marked(slot uint64) bool { return x.slots[slot]&slotMark != 0 }

func (x *recordIndex) mark(slot uint64) { x.slots[slot] |= slotMark }

// split re-partitions partition i of both sides by the next bits of the
// hash and joins the parts.
func (j *hashJoin) split(ctx context.Context, srcParts, dstParts *partitions, i, level int) error {
	j.splits++
	childSrc, childDst := j.newPartitions(srcParts.name+"."), j.newPartitions(dstParts.name+".")
	defer childSrc.close()
	defer childDst.close()
	n := 0
	for _, p := range []struct{ from, to *partitions }{{srcParts, childSrc}, {dstParts, childDst}} {
		err := p.from.each(i, func(rec []byte) error {
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
		if err := j.joinPartition(ctx, childSrc, childDst, k, childLevel); err != nil {
			return err
		}
	}
	return nil
}

// createFile creates a temporary file for a partition and unlinks it at
// once: it lives as long as its descriptor, so nothing is left behind
// however the process ends.
func (j *hashJoin) createFile() (*os.File, error) {
	f, err := os.CreateTemp("", "rowform-diff-*")
	if err != nil {
		return nil, tempFileErr("spilling the row diff to disk", err)
	}
	_ = os.Remove(f.Name())
	j.files++
	return f, nil
}

// partitions are one side's rows routed by key hash. Each partition buffers
// up to bufCap bytes in memory; a full buffer is appended, as one chunk, to
// the side's temporary file (one file per side, so that a spill costs one
// file, not one per partition). A partition is its chunks in order followed
// by what is still in memory. A record is the key hash, the length of the
// rest, then the values as appendValues writes them.
type partitions struct {
	name   string
	bufCap int
	create func() (*os.File, error)
	file   *os.File
	end    int64 // bytes written to file
	bufs   [hashFanout][]byte
	chunks [hashFanout][]chunk
	onDisk [hashFanout]int64 // bytes of each partition's chunks
	rows   [hashFanout]int
	gather []byte        // the small values of an oversized record
	rd     *bufio.Reader // reused by each
}

// chunk is a run of a partition's records in the side's file.
type chunk struct{ off, n int64 }

// newPartitions starts an empty set of partitions for one side.
func (j *hashJoin) newPartitions(name string) *partitions {
	return &partitions{name: name, bufCap: max(j.limits.spill/hashFanout, 1), create: j.createFile}
}

// add appends a row to partition part.
func (p *partitions) add(part int, h uint64, vals [][]byte) error {
	n := recordHeader + valuesSize(vals)
	if n > p.bufCap {
		// Past the buffer's cap: after what is buffered, straight to disk,
		// value by value (a wide row is not copied once more).
		if err := p.flush(part); err != nil {
			return err
		}
		p.rows[part]++
		return p.writeOversized(part, h, vals, n)
	}
	if err := p.makeRoom(part, n); err != nil {
		return err
	}
	b := p.bufs[part]
	start := len(b)
	b = binary.BigEndian.AppendUint64(b, h)
	b = binary.BigEndian.AppendUint32(b, uint32(n-recordHeader))
	b = appendValues(b, vals)
	if len(b)-start != n {
		return fmt.Errorf("internal error: a row diff record of %d bytes, expected %d", len(b)-start, n)
	}
	p.rows[part]++
	p.bufs[part] = b
	return nil
}

// writeOversized appends the record of a row larger than a partition's
// buffer to the file as one chunk of partition part. Small values are
// gathered in a buffer of bufCap bytes; large ones are written where they
// are (a wide row is not copied once more).
func (p *partitions) writeOversized(part int, h uint64, vals [][]byte, n int) error {
	if p.file == nil {
		f, err := p.create()
		if err != nil {
			return err
		}
		p.file = f
	}
	written := 0
	write := func(b []byte) error {
		if _, err := p.file.Write(b); err != nil {
			return tempFileErr("spilling the row diff to disk", err)
		}
		written += len(b)
		return nil
	}
	buf := p.gather[:0]
	buf = binary.BigEndian.AppendUint64(buf, h)
	buf = binary.BigEndian.AppendUint32(buf, uint32(n-recordHeader))
	for _, v := range vals {
		if v == nil {
			buf = binary.BigEndian.AppendUint32(buf, nullLength)
			continue
		}
		buf = binary.BigEndian.AppendUint32(buf, uint32(len(v)))
		if len(buf)+len(v) <= p.bufCap {
			buf = append(buf, v...)
			continue
		}
		if err := write(buf); err != nil {
			return err
		}
		buf = buf[:0]
		if err := write(v); err != nil {
			return err
		}
	}
	if err := write(buf); err != nil {
		return err
	}
	p.gather = buf[:0]
	if written != n {
		return fmt.Errorf("internal error: a row diff record of %d bytes, expected %d", written, n)
	}
	p.chunks[part] = append(p.chunks[part], chunk{p.end, int64(n)})
	p.end += int64(n)
	p.onDisk[part] += int64(n)
	return nil
}

// addRecord appends an encoded record to partition part.
func (p *partitions) addRecord(part int, rec []byte) error {
	p.rows[part]++
	if len(rec) > p.bufCap {
		if err := p.flush(part); err != nil {
			return err
		}
		return p.writeChunk(part, rec)
	}
	if err := p.makeRoom(part, len(rec)); err != nil {
		return err
	}
	p.bufs[part] = append(p.bufs[part], rec...)
	return nil
}

// makeRoom makes room for n more bytes (n <= bufCap) in partition part's
// buffer: it writes the buffer to disk when full, else grows it by
// doubling up to bufCap, so that a small sync holds only its rows.
func (p *partitions) makeRoom(part, n int) error {
	b := p.bufs[part]
	if len(b)+n > p.bufCap {
		return p.flush(part)
	}
	if cap(b)-len(b) < n {
		grown := make([]byte, len(b), min(max(2*cap(b), 4096, len(b)+n), p.bufCap))
		copy(grown, b)
		p.bufs[part] = grown
	}
	return nil
}

// flush appends partition i's buffered records to the file.
func (p *partitions) flush(i int) error {
	if len(p.bufs[i]) == 0 {
		return nil
	}
	if err := p.writeChunk(i, p.bufs[i]); err != nil {
		return err
	}
	p.bufs[i] = p.bufs[i][:0]
	return nil
}

// writeChunk appends b to the file as a chunk of partition i.
func (p *partitions) writeChunk(i int, b []byte) error {
	if p.file == nil {
		f, err := p.create()
		if err != nil {
			return err
		}
		p.file = f
	}
	if _, err := p.file.Write(b); err != nil {
		return tempFileErr("spilling the row diff to disk", err)
	}
	p.chunks[i] = append(p.chunks[i], chunk{p.end, int64(len(b))})
	p.end += int64(len(b))
	p.onDisk[i] += int64(len(b))
	return nil
}

// release gives back the buffers of partitions that went to disk, once the
// side has been read: their rows are all in the file then.
func (p *partitions) release() error {
	for i := range p.bufs {
		if len(p.chunks[i]) == 0 {
			continue
		}
		if err := p.flush(i); err != nil {
			return err
		}
		p.bufs[i] = nil
	}
	p.gather = nil
	return nil
}

func releaseAll(sets ...*partitions) error {
	for _, p := range sets {
		if err := p.release(); err != nil {
			return err
		}
	}
	return nil
}

// size is the bytes partition i holds.
func (p *partitions) size(i int) int64 { return p.onDisk[i] + int64(len(p.bufs[i])) }

// reader reads partition i from the start.
func (p *partitions) reader(i int) io.Reader {
	if len(p.chunks[i]) == 0 {
		return bytes.NewReader(p.bufs[i])
	}
	rs := make([]io.Reader, 0, len(p.chunks[i])+1)
	for _, c := range p.chunks[i] {
		rs = append(rs, io.NewSectionReader(p.file, c.off, c.n))
	}
	return io.MultiReader(append(rs, bytes.NewReader(p.bufs[i]))...)
}

// load reads partition i into arena (reusing its memory).
func (p *partitions) load(i int, arena []byte) ([]byte, error) {
	n := int(p.size(i))
	if cap(arena) < n {
		arena = make([]byte, n, n+n/4)
	}
	arena = arena[:n]
	pos := 0
	for _, c := range p.chunks[i] {
		if _, err := p.file.ReadAt(arena[pos:pos+int(c.n)], c.off); err != nil {
			return nil, tempFileErr("reading back the row diff's temporary file", err)
		}
		pos += int(c.n)
	}
	copy(arena[pos:], p.bufs[i])
	return arena, nil
}

// each calls fn with every record of partition i; rec is valid during the
// call only.
func (p *partitions) each(i int, fn func(rec []byte) error) error {
	if len(p.chunks[i]) == 0 { // all in memory
		b := p.bufs[i]
		for off := 0; off < len(b); {
			n := recordHeader + int(binary.BigEndian.Uint32(b[off+8:]))
			if err := fn(b[off : off+n]); err != nil {
				return err
			}
			off += n
		}
		return nil
	}
	if p.rd == nil {
		p.rd = bufio.NewReaderSize(nil, 64<<10)
	}
	r := p.rd
	r.Reset(p.reader(i))
	rec := make([]byte, recordHeader, 4096)
	for {
		rec = rec[:recordHeader]
		if _, err := io.ReadFull(r, rec); err == io.EOF {
			return nil
		} else if err != nil {
			return tempFileErr("reading back the row diff's temporary file", err)
		}
		n := recordHeader + int(binary.BigEndian.Uint32(rec[8:]))
		rec = slices.Grow(rec, n-len(rec))[:n]
		if _, err := io.ReadFull(r, rec[recordHeader:]); err != nil {
			return tempFileErr("reading back the row diff's temporary file", err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// close closes the side's (already unlinked) file.
func (p *partitions) close() {
	if p.file != nil {
		_ = p.file.Close()
		p.file = nil
	}
	for i := range p.bufs {
		p.bufs[i], p.chunks[i] = nil, nil
	}
}

// recordOffsets appends the offset of every record in arena to offsets.
func recordOffsets(arena []byte, offsets []int32) []int32 {
	for off := 0; off < len(arena); {
		offsets = append(offsets, int32(off))
		off += recordHeader + int(binary.BigEndian.Uint32(arena[off+8:]))
	}
	return offsets
}

// recordHash is the key hash of the record at off.
func recordHash(arena []byte, off int32) uint64 { return binary.BigEndian.Uint64(arena[off:]) }

// decodeRecord points into's values at the values of the record at the
// start of rec (which may run on past the record).
func decodeRecord(rec []byte, into *Row) {
	n := int(binary.BigEndian.Uint32(rec[8:]))
	decodeValues(rec[recordHeader:recordHeader+n], into)
}

// keyHash hashes the values compareKeys compares (FNV-1a with each value's
// length, then a 64-bit finalizer so that the high bits, which choose the
// partition, are well mixed).
func (l *layout) keyHash(r *Row) uint64 {
	const prime = 1099511628211
	h := uint64(14695981039346656037)
	t := len(l.Cols)
	for i := 0; i < l.NKey; i++ {
		v := r.Values[i]
		if l.Orders[i] == orderText {
			v = r.Values[t]
			t++
		}
		h = (h ^ uint64(len(v))) * prime
		for _, b := range v {
			h = (h ^ uint64(b)) * prime
		}
	}
	h ^= h >> 30
	h *= 0xbf58476d1ce4e5b9
	h ^= h >> 27
	h *= 0x94d049bb133111eb
	h ^= h >> 31
	return h
}

// keysEqual reports whether two rows have the same key (compareKeys == 0).
func (l *layout) keysEqual(a, b *Row) bool {
	t := len(l.Cols)
	for i := 0; i < l.NKey; i++ {
		if l.Orders[i] == orderText {
			if !bytes.Equal(a.Values[t], b.Values[t]) {
				return false
			}
			t++
			continue
		}
		if !bytes.Equal(a.Values[i], b.Values[i]) {
			return false
		}
	}
	return true
}
