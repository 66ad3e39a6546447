package planner

import (
	"context"
	"errors"
	"runtime"
	"sync"
	"sync/atomic"

	"github.com/rowform/rowform/hclconfig"
)

// The hash diff matches the rows of two streams read in any order: a Grace
// hash join. Neither server has to sort (sorting a million random keys costs
// a server more than reading its table twice; see docs/performance.md).
//
//  1. Both streams are read once, at once (this file: one goroutine per
//     side). Each row is routed by the hash of its key into one of
//     hashFanout partitions per side (partitions.go). Each partition
//     buffers up to hashLimits.spill/hashFanout bytes, then appends them
//     as a chunk to the side's temporary file: small syncs never touch
//     disk, large ones use a bounded amount of memory. The destination's
//     rows with a NULL key (read by a mirror only, which deletes them: no
//     source row matches a NULL key) are held the same way, in a set of
//     their own. No change reaches the sink in this phase.
//  2. Once both sides have been read to their end, the held NULL-keyed
//     rows are deleted, then the partitions are joined (hashjoin.go),
//     several at once: up to one goroutine per core (joinWorkers), each
//     taking the next partition. A worker loads the destination's records of its
//     partition, indexes them by key hash (recordindex.go), and streams
//     the source's records past them. A partition larger than the
//     worker's share of hashLimits.partition (a huge table) is split again
//     by the next bits of the hash; a part that does not shrink (one key
//     repeated in the source) is joined as it is.
//     Changes reach the sink one at a time (the workers take turns); each
//     worker keeps its own counts and digest, added up at the end, so the
//     result does not depend on which worker joined which partition.
//
// Since nothing is emitted before both sides have been read, a source that
// fails part-way (a value that does not convert, which makes the diff start
// again with the source read as text) fails before the sink has seen any
// change: the checker's pass-through mode relies on it (reject.go).
//
// Memory is bounded by the limits, not by the table: the spill budget of
// each side while reading (the held NULL-keyed rows buffer at most a
// partition's share of it), then the partitions being joined (together at
// most hashLimits.partition), the source-only records kept to catch
// repeated keys, and their tables.

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

// hashLimits bounds the memory of a hash diff, in bytes of row data, and
// its parallelism. The zero value of a field means its default.
type hashLimits struct {
	// spill is how much one side keeps in memory before it writes its
	// partitions to temporary files.
	spill int
	// partition is how much the partitions being joined (both sides) may
	// hold together; each of the workers gets an equal share, and a
	// partition larger than its share is split again.
	partition int64
	// srcOnlyStart is how many source-only keys a partition's table starts
	// with room for; it grows from there.
	srcOnlyStart int
	// workers is how many partitions are joined at once (default
	// GOMAXPROCS).
	workers int
	// summaryRows is the smallest table (by the destination's estimate)
	// whose server-hash diff starts with bucket summaries (summaries.go;
	// default minSummaryRows).
	summaryRows float64
}

// defaultHashLimits keep a diff at a few tens of MB at any table size.
func defaultHashLimits() hashLimits {
	return hashLimits{spill: 4 << 20, partition: 64 << 20, srcOnlyStart: 1 << 16}
}

// withDefaults fills the fields left zero.
func (h hashLimits) withDefaults() hashLimits {
	d := defaultHashLimits()
	if h.spill <= 0 {
		h.spill = d.spill
	}
	if h.partition <= 0 {
		h.partition = d.partition
	}
	if h.srcOnlyStart <= 0 {
		h.srcOnlyStart = d.srcOnlyStart
	}
	if h.summaryRows <= 0 {
		h.summaryRows = minSummaryRows
	}
	if h.workers <= 0 {
		h.workers = runtime.GOMAXPROCS(0)
	}
	h.workers = min(h.workers, hashFanout)
	return h
}

// hashDiff is the diff of mergeDiff for streams in any order: the same
// counts, findings and digest. Changes reach sink grouped by partition,
// one call at a time.
func (l *layout) hashDiff(ctx context.Context, behavior hclconfig.Behavior, src, dst rowStream, sink ChangeSink, progress func(rows int64), limits hashLimits) (*diffResult, error) {
	j := &hashJoin{l: l, behavior: behavior, sink: sink, limits: limits}
	return j.run(ctx, src, dst, progress)
}

// hashJoin is the state of one hash diff shared by its workers.
type hashJoin struct {
	l        *layout
	behavior hclconfig.Behavior
	sink     ChangeSink
	limits   hashLimits
	// res holds the counts of phase 1 (rows read, NULL keys, the deletes
	// of NULL-keyed destination rows); the workers' results are added to
	// it.
	res *diffResult
	// nullKeyed holds the destination's NULL-keyed rows a mirror deletes,
	// in its partition 0, from phase 1 (where only the destination's
	// reader adds to it) until phase 2 emits their deletes.
	nullKeyed *partitions
	digest    *changeDigest
	// sinkMu makes the workers take turns at the sink.
	sinkMu sync.Mutex
	// files counts the temporary files created, splits the partitions
	// split again (for tests).
	files  atomic.Int64
	splits atomic.Int64
}

func (j *hashJoin) run(ctx context.Context, src, dst rowStream, progress func(rows int64)) (*diffResult, error) {
	j.limits = j.limits.withDefaults()
	j.res, j.digest = &diffResult{}, newChangeDigest()
	srcParts, dstParts := j.newPartitions("s"), j.newPartitions("d")
	j.nullKeyed = j.newPartitions("n")
	defer srcParts.close()
	defer dstParts.close()
	defer j.nullKeyed.close()
	sides, err := j.partition(ctx, src, dst, srcParts, dstParts, progress)
	if err != nil {
		return nil, err
	}
	if err := releaseAll(srcParts, dstParts, j.nullKeyed); err != nil {
		return nil, err
	}
	// Both sides have been read: the first changes may reach the sink.
	if err := sides[1].deleteNullKeyed(ctx); err != nil {
		return nil, err
	}
	workers, err := j.joinAll(ctx, srcParts, dstParts)
	if err != nil {
		return nil, err
	}
	for _, w := range append(workers, sides...) {
		j.res.add(w.res)
		j.digest.merge(w.digest)
	}
	if progress != nil {
		progress(j.res.SourceRows + j.res.DestinationRows)
	}
	j.res.Digest = j.digest.String()
	return j.res, nil
}

// joinWorkers is how many workers join the partitions: limits.workers,
// fewer when the largest partition (both sides) is over a worker's equal
// share of limits.partition, so that no partition is split only because
// the bound was shared. Splitting rewrites a partition to disk and reads
// it again, which cost more than the cores gained: 10M rows on 2 cores
// (partitions of ~44 MB against shares of 32 MB) planned in 18.2 s with
// two workers and splits, 16.2 s and 12 MB less RSS with one worker and
// none (medians of three paired runs).
func (j *hashJoin) joinWorkers(srcParts, dstParts *partitions) int {
	var largest int64
	for i := range hashFanout {
		largest = max(largest, srcParts.size(i)+dstParts.size(i))
	}
	n := j.limits.workers
	for n > 1 && largest > j.limits.partition/int64(n) {
		n--
	}
	return n
}

// joinAll is phase 2: limits.workers goroutines join the partitions, each
// taking the next one not yet taken. The first error stops them all.
func (j *hashJoin) joinAll(ctx context.Context, srcParts, dstParts *partitions) ([]*joinWorker, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	n := j.joinWorkers(srcParts, dstParts)
	workers := make([]*joinWorker, n)
	var next atomic.Int64
	errs := make([]error, n)
	var wg sync.WaitGroup
	for k := range workers {
		w := j.newWorker()
		w.partLimit = j.limits.partition / int64(n)
		workers[k] = w
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= hashFanout {
					return
				}
				if err := ctx.Err(); err != nil {
					errs[k] = err
					return
				}
				if err := w.joinPartition(ctx, srcParts, dstParts, i, 0); err != nil {
					errs[k] = err
					cancel()
					return
				}
			}
		}()
	}
	wg.Wait()
	// The error that stopped the others, not their "context canceled".
	var first error
	for _, err := range errs {
		if err != nil && (first == nil || first == context.Canceled) {
			first = err
		}
	}
	if first != nil {
		if err := context.Cause(ctx); first == context.Canceled && err != nil {
			first = err
		}
		return nil, first
	}
	return workers, nil
}

// partition is phase 1: it reads both streams to the end at once, one
// goroutine per side (each side has its own partitions, counts and
// digest), so that both servers keep sending and a core each routes
// their rows.
func (j *hashJoin) partition(ctx context.Context, src, dst rowStream, srcParts, dstParts *partitions, progress func(int64)) ([]*joinWorker, error) {
	sides := []*joinWorker{j.newWorker(), j.newWorker()}
	var read atomic.Int64 // rows read by both sides
	var progressMu sync.Mutex
	var failed atomic.Bool
	report := func() error {
		if err := ctx.Err(); err != nil {
			return err
		}
		if failed.Load() {
			return errOtherSide
		}
		if progress != nil {
			progressMu.Lock()
			progress(read.Load())
			progressMu.Unlock()
		}
		return nil
	}
	errs := make([]error, 2)
	var wg sync.WaitGroup
	for k, side := range []struct {
		rows  rowStream
		parts *partitions
		src   bool
	}{{src, srcParts, true}, {dst, dstParts, false}} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if errs[k] = sides[k].partitionSide(side.rows, side.parts, side.src, &read, report); errs[k] != nil {
				failed.Store(true)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil && err != errOtherSide {
			return nil, err
		}
	}
	return sides, nil
}

// errOtherSide stops one side's reading when the other failed.
var errOtherSide = errors.New("the other side of the diff failed")

// partitionSide reads one side's stream to the end into parts, counting
// into w's result; report is called every progressEvery/2 rows.
func (w *joinWorker) partitionSide(rows rowStream, parts *partitions, source bool, read *atomic.Int64, report func() error) error {
	l := w.j.l
	res := w.res
	for n := 1; ; n++ {
		r, err := rows.next()
		if err != nil {
			return err
		}
		if r == nil {
			return nil
		}
		read.Add(1)
		switch {
		case source && l.hasNullKey(r):
			res.SourceRows++
			res.NullKeys++
			res.NullKeyExamples = addExample(res.NullKeyExamples, l.renderKey(r))
		case source:
			res.SourceRows++
			h := l.keyHash(r)
			if err := parts.add(partOf(h, 0), h, r.Values); err != nil {
				return err
			}
		case l.hasNullKey(r):
			// Only a mirror reads these: no source row can match a
			// NULL key, so the row is in the destination only. Its
			// delete waits for phase 2 (deleteNullKeyed): the source
			// may still fail.
			res.DestinationRows++
			if w.j.behavior.Deletes() {
				res.Counts.Delete++
				if err := w.j.nullKeyed.add(0, 0, r.Values); err != nil {
					return err
				}
			}
		default:
			res.DestinationRows++
			h := l.keyHash(r)
			if err := parts.add(partOf(h, 0), h, r.Values); err != nil {
				return err
			}
		}
		if n%(progressEvery/2) == 0 {
			if err := report(); err != nil {
				return err
			}
		}
	}
}

// deleteNullKeyed emits the deletes of the destination's NULL-keyed rows
// that phase 1 held (and counted), once both sides have been read.
func (w *joinWorker) deleteNullKeyed(ctx context.Context) error {
	n := 0
	return w.j.nullKeyed.each(0, &w.reader, func(rec []byte) error {
		if n++; n%65536 == 0 {
			if err := ctx.Err(); err != nil {
				return err
			}
		}
		decodeRecord(rec, &w.dst.row)
		return w.emit(ChangeDelete, nil, &w.dst.row, nil)
	})
}

// partOf is the partition of a key hash at a split level.
func partOf(h uint64, level int) int {
	return int(h>>(64-hashFanoutBits*(level+1))) & (hashFanout - 1)
}

// add adds the counts, rows and examples of o to r (not the digest).
func (r *diffResult) add(o *diffResult) {
	r.Counts.Insert += o.Counts.Insert
	r.Counts.Update += o.Counts.Update
	r.Counts.Delete += o.Counts.Delete
	r.Counts.Unchanged += o.Counts.Unchanged
	r.Counts.Skipped += o.Counts.Skipped
	r.Counts.Reject += o.Counts.Reject
	r.SourceRows += o.SourceRows
	r.DestinationRows += o.DestinationRows
	r.NullKeys += o.NullKeys
	r.DupKeys += o.DupKeys
	for _, ex := range o.NullKeyExamples {
		r.NullKeyExamples = addExample(r.NullKeyExamples, ex)
	}
	for _, ex := range o.DupKeyExamples {
		r.DupKeyExamples = addExample(r.DupKeyExamples, ex)
	}
}
