package planner

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/rowform/rowform/hclconfig"
)

// The hash diff matches the rows of two streams read in any order: a Grace
// hash join. Neither server has to sort (sorting a million random keys costs
// a server more than reading its table twice; see docs/performance.md).
//
//  1. Both streams are read once. Each row is routed by the hash of its key
//     into one of hashFanout partitions per side. A side keeps its
//     partitions in memory until they hold more than hashLimits.spill bytes,
//     then appends them to temporary files: small syncs never touch disk,
//     large ones use a bounded amount of memory.
//  2. One partition at a time, both sides' rows are loaded, the destination
//     rows go into a hash table and the source rows are matched against it.
//     A partition larger than hashLimits.partition (a skewed key or a huge
//     table) is split again by the next bits of the hash.
//
// Memory is bounded by the limits, not by the table: about two spill
// budgets plus one partition.

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

// defaultHashLimits keep a diff at a few tens of MB at any table size.
// Tests lower them to force spills and splits.
var defaultHashLimits = hashLimits{spill: 4 << 20, partition: 32 << 20}

// hashDiff is the diff of mergeDiff for streams in any order: the same
// counts, findings and digest. Changes reach sink grouped by partition.
func (l *layout) hashDiff(ctx context.Context, behavior hclconfig.Behavior, src, dst rowStream, sink ChangeSink, progress func(rows int64), limits hashLimits) (*diffResult, error) {
	j := &hashJoin{l: l, behavior: behavior, sink: sink, limits: limits}
	return j.run(ctx, src, dst, progress)
}

func (j *hashJoin) run(ctx context.Context, src, dst rowStream, progress func(rows int64)) (*diffResult, error) {
	j.res, j.digest = &diffResult{}, newChangeDigest()
	defer j.removeTemp()
	srcParts, dstParts := j.newPartitions("s"), j.newPartitions("d")
	defer srcParts.close()
	defer dstParts.close()
	if err := j.partition(ctx, src, dst, srcParts, dstParts, progress); err != nil {
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
	tempDir  string
	changed  []int
	// splits counts partitions split again (for tests).
	splits int

	// Reused between partitions.
	srcArena, dstArena []byte
	srcSide, dstSide   decodedRows
	table              []int32
	state              []byte
	srcOnly            []int32
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
			if d == nil {
				dstDone = true
			} else {
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

// joinPartition is phase 2 for partition i of a pair of partition sets.
func (j *hashJoin) joinPartition(ctx context.Context, srcParts, dstParts *partitions, i, level int) error {
	if srcParts.size(i)+dstParts.size(i) > j.limits.partition && level < hashMaxLevel {
		return j.split(ctx, srcParts, dstParts, i, level)
	}
	var err error
	if j.srcArena, err = srcParts.load(i, j.srcArena); err != nil {
		return err
	}
	if j.dstArena, err = dstParts.load(i, j.dstArena); err != nil {
		return err
	}
	width := j.l.width()
	if err := j.srcSide.decode(j.srcArena, width); err != nil {
		return err
	}
	if err := j.dstSide.decode(j.dstArena, width); err != nil {
		return err
	}
	return j.match()
}

// Destination row states in a partition.
const (
	dstUnmatched byte = iota
	dstMatched
	dstDupReported
)

// match diffs the decoded rows of one partition.
func (j *hashJoin) match() error {
	l, res := j.l, j.res
	src, dst := &j.srcSide, &j.dstSide
	// Open addressing over the destination rows, indexed by the low bits
	// of the hash (the partition used the high bits).
	j.table = resetTable(j.table, len(dst.rows))
	mask := uint64(len(j.table) - 1)
	for k := range dst.rows {
		slot := dst.hashes[k] & mask
		for j.table[slot] != 0 {
			slot = (slot + 1) & mask
		}
		j.table[slot] = int32(k + 1)
	}
	if cap(j.state) < len(dst.rows) {
		j.state = make([]byte, len(dst.rows))
	}
	j.state = j.state[:len(dst.rows)]
	clear(j.state)
	// Source keys missing from the destination, for duplicate detection;
	// the high bit marks a key already reported as a duplicate.
	j.srcOnly = resetTable(j.srcOnly, len(src.rows))
	srcMask := uint64(len(j.srcOnly) - 1)

	for k := range src.rows {
		s, h := &src.rows[k], src.hashes[k]
		found := -1
		for slot := h & mask; j.table[slot] != 0; slot = (slot + 1) & mask {
			d := int(j.table[slot] - 1)
			if dst.hashes[d] == h && l.keysEqual(s, &dst.rows[d]) {
				found = d
				break
			}
		}
		if found >= 0 {
			switch j.state[found] {
			case dstMatched:
				j.state[found] = dstDupReported
				j.duplicate(s)
				continue
			case dstDupReported:
				continue
			}
			j.state[found] = dstMatched
			if err := j.matched(s, &dst.rows[found]); err != nil {
				return err
			}
			continue
		}
		dup := false
		slot := h & srcMask
		for ; j.srcOnly[slot] != 0; slot = (slot + 1) & srcMask {
			first := int(j.srcOnly[slot]&0x7fffffff) - 1
			if src.hashes[first] == h && l.keysEqual(s, &src.rows[first]) {
				dup = true
				if j.srcOnly[slot] > 0 {
					j.srcOnly[slot] |= -0x80000000
					j.duplicate(s)
				}
				break
			}
		}
		if dup {
			continue
		}
		j.srcOnly[slot] = int32(k + 1)
		if behavior := j.behavior; behavior.Inserts() {
			res.Counts.Insert++
			if err := j.emit(ChangeInsert, s, nil, nil); err != nil {
				return err
			}
		} else {
			res.Counts.Skipped++
		}
	}
	if j.behavior.Deletes() {
		for k := range dst.rows {
			if j.state[k] == dstUnmatched {
				res.Counts.Delete++
				if err := j.emit(ChangeDelete, nil, &dst.rows[k], nil); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// matched handles a source row whose key is in the destination.
func (j *hashJoin) matched(s, d *Row) error {
	j.changed = j.l.changedColumns(s, d, j.changed[:0])
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

// resetTable returns a zeroed power-of-two table with room for n entries
// at a load factor of at most one half.
func resetTable(t []int32, n int) []int32 {
	size := 16
	for size < 2*n {
		size <<= 1
	}
	if cap(t) < size {
		return make([]int32, size)
	}
	t = t[:size]
	clear(t)
	return t
}

// split re-partitions partition i of both sides by the next bits of the
// hash and joins the parts.
func (j *hashJoin) split(ctx context.Context, srcParts, dstParts *partitions, i, level int) error {
	j.splits++
	childSrc, childDst := j.newPartitions(srcParts.name+"."), j.newPartitions(dstParts.name+".")
	defer childSrc.close()
	defer childDst.close()
	for _, p := range []struct{ from, to *partitions }{{srcParts, childSrc}, {dstParts, childDst}} {
		err := p.from.each(i, func(rec []byte) error {
			h := binary.BigEndian.Uint64(rec)
			return p.to.addRecord(partOf(h, level+1), rec)
		})
		if err != nil {
			return err
		}
	}
	for k := 0; k < hashFanout; k++ {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := j.joinPartition(ctx, childSrc, childDst, k, level+1); err != nil {
			return err
		}
	}
	return nil
}

// newPartitions starts an empty set of partitions for one side.
func (j *hashJoin) newPartitions(name string) *partitions {
	return &partitions{name: name, spill: j.limits.spill, tempDir: j.dir}
}

// dir creates, once, the temporary directory that spilled partitions go to.
func (j *hashJoin) dir() (string, error) {
	if j.tempDir == "" {
		d, err := os.MkdirTemp("", "rowform-diff-")
		if err != nil {
			return "", fmt.Errorf("creating a temporary directory for the row diff: %w", err)
		}
		j.tempDir = d
	}
	return j.tempDir, nil
}

func (j *hashJoin) removeTemp() {
	if j.tempDir != "" {
		_ = os.RemoveAll(j.tempDir)
	}
}

// partitions are one side's rows routed by key hash: each partition is a
// file (once the side has spilled) followed by what is still in memory.
// A record is the key hash, the length of the rest, then each value as a
// 4-byte length (0xFFFFFFFF for NULL) and its bytes.
type partitions struct {
	name     string
	spill    int
	tempDir  func() (string, error)
	bufs     [hashFanout][]byte
	files    [hashFanout]*os.File
	fileSize [hashFanout]int64
	buffered int
}

// add appends a row to partition part.
func (p *partitions) add(part int, h uint64, vals [][]byte) error {
	b := p.bufs[part]
	start := len(b)
	b = binary.BigEndian.AppendUint64(b, h)
	b = append(b, 0, 0, 0, 0)
	for _, v := range vals {
		if v == nil {
			b = binary.BigEndian.AppendUint32(b, 0xFFFFFFFF)
			continue
		}
		b = binary.BigEndian.AppendUint32(b, uint32(len(v)))
		b = append(b, v...)
	}
	binary.BigEndian.PutUint32(b[start+8:], uint32(len(b)-start-recordHeader))
	p.bufs[part] = b
	p.buffered += len(b) - start
	if p.buffered > p.spill {
		return p.flush()
	}
	return nil
}

// addRecord appends an encoded record to partition part.
func (p *partitions) addRecord(part int, rec []byte) error {
	p.bufs[part] = append(p.bufs[part], rec...)
	p.buffered += len(rec)
	if p.buffered > p.spill {
		return p.flush()
	}
	return nil
}

// flush appends every partition's buffered records to its file.
func (p *partitions) flush() error {
	for i, b := range p.bufs {
		if len(b) == 0 {
			continue
		}
		if p.files[i] == nil {
			dir, err := p.tempDir()
			if err != nil {
				return err
			}
			f, err := os.CreateTemp(dir, fmt.Sprintf("%s%02d-", p.name, i))
			if err != nil {
				return fmt.Errorf("spilling the row diff to disk: %w", err)
			}
			p.files[i] = f
		}
		if _, err := p.files[i].Write(b); err != nil {
			return fmt.Errorf("spilling the row diff to disk: %w", err)
		}
		p.fileSize[i] += int64(len(b))
		p.bufs[i] = b[:0]
	}
	p.buffered = 0
	return nil
}

// size is the bytes partition i holds.
func (p *partitions) size(i int) int64 { return p.fileSize[i] + int64(len(p.bufs[i])) }

// reader reads partition i from the start.
func (p *partitions) reader(i int) io.Reader {
	if p.files[i] == nil {
		return bytes.NewReader(p.bufs[i])
	}
	return io.MultiReader(io.NewSectionReader(p.files[i], 0, p.fileSize[i]), bytes.NewReader(p.bufs[i]))
}

// load reads partition i into arena (reusing its memory).
func (p *partitions) load(i int, arena []byte) ([]byte, error) {
	n := int(p.size(i))
	if cap(arena) < n {
		arena = make([]byte, n, n+n/4)
	}
	arena = arena[:n]
	if _, err := io.ReadFull(p.reader(i), arena); err != nil {
		return nil, fmt.Errorf("reading back the row diff's temporary file: %w", err)
	}
	return arena, nil
}

// each calls fn with every record of partition i; rec is valid during the
// call only.
func (p *partitions) each(i int, fn func(rec []byte) error) error {
	r := bufio.NewReaderSize(p.reader(i), 256<<10)
	var rec []byte
	for {
		if cap(rec) < recordHeader {
			rec = make([]byte, recordHeader, 4096)
		}
		rec = rec[:recordHeader]
		if _, err := io.ReadFull(r, rec); err == io.EOF {
			return nil
		} else if err != nil {
			return fmt.Errorf("reading back the row diff's temporary file: %w", err)
		}
		n := int(binary.BigEndian.Uint32(rec[8:]))
		if cap(rec) < recordHeader+n {
			grown := make([]byte, recordHeader, 2*(recordHeader+n))
			copy(grown, rec)
			rec = grown
		}
		rec = rec[:recordHeader+n]
		if _, err := io.ReadFull(r, rec[recordHeader:]); err != nil {
			return fmt.Errorf("reading back the row diff's temporary file: %w", err)
		}
		if err := fn(rec); err != nil {
			return err
		}
	}
}

// close removes the partitions' files.
func (p *partitions) close() {
	for i, f := range p.files {
		if f != nil {
			_ = f.Close()
			_ = os.Remove(f.Name())
			p.files[i] = nil
		}
		p.bufs[i] = nil
	}
}

// decodedRows are the rows of one partition, their values pointing into
// the partition's arena.
type decodedRows struct {
	rows   []Row
	hashes []uint64
	values [][]byte // backing store of every row's Values
}

func (d *decodedRows) decode(arena []byte, width int) error {
	d.rows, d.hashes, d.values = d.rows[:0], d.hashes[:0], d.values[:0]
	for off := 0; off < len(arena); {
		if len(arena)-off < recordHeader {
			return fmt.Errorf("internal error: a truncated row in the row diff's partition")
		}
		h := binary.BigEndian.Uint64(arena[off:])
		n := int(binary.BigEndian.Uint32(arena[off+8:]))
		body := arena[off+recordHeader : off+recordHeader+n]
		off += recordHeader + n
		start := len(d.values)
		for c := 0; c < width; c++ {
			size := binary.BigEndian.Uint32(body)
			body = body[4:]
			if size == 0xFFFFFFFF {
				d.values = append(d.values, nil)
				continue
			}
			d.values = append(d.values, body[:size:size])
			body = body[size:]
		}
		d.hashes = append(d.hashes, h)
		d.rows = append(d.rows, Row{Values: d.values[start:len(d.values):len(d.values)]})
	}
	// values may have moved while growing: point the rows at the final array.
	for k := range d.rows {
		d.rows[k].Values = d.values[k*width : (k+1)*width : (k+1)*width]
	}
	return nil
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
