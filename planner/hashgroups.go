package planner

import (
	"bytes"
	"encoding/binary"
	"slices"

	"github.com/rowform/rowform/internal/linesort"
)

// The changes a unique index or an exclusion constraint compares among
// themselves: the server hashes each one's values, and the changes whose
// hashes meet (candidate equals) are compared again on the server, whole
// groups of equal hashes at a time. The hashes go through an external sort,
// so that at most hashSortMemory bytes of them are in memory, whatever the
// number of changes; the groups are read back from it in order of hash,
// then sequence number, and handed on a batch at a time, so that what is
// held at once is one batch's sequence numbers (a group larger than a
// batch is held whole: it goes to the server in one query).

// hashSortMemory is how many bytes of hashes the sort keeps in memory
// before it spills them to a temporary file.
const hashSortMemory = 4 << 20

// A hash record: the hash, then the change's sequence number, each 8 bytes
// big-endian, so that records compare as bytes by hash, then by sequence
// number.
const hashRecord = 16

// hashGroups collects the hashes of changes, then hands on the groups of
// two or more changes whose hashes are equal (batches). The zero
// hashGroups holds none; close releases its temporary files.
type hashGroups struct {
	sorted *linesort.Sorter
	rec    [hashRecord]byte
}

// add adds the hash of the change seq.
func (g *hashGroups) add(hash uint64, seq int64) error {
	if g.sorted == nil {
		g.sorted = linesort.New("", hashSortMemory, bytes.Compare)
	}
	binary.BigEndian.PutUint64(g.rec[:8], hash)
	binary.BigEndian.PutUint64(g.rec[8:], uint64(seq))
	return tempFileErr("keeping the hashes of the changed rows in a temporary file", g.sorted.Add(g.rec[:]))
}

// close releases the temporary files of the hashes.
func (g *hashGroups) close() {
	if g.sorted != nil {
		g.sorted.Close()
	}
}

// batches calls fn with the changes of the groups, in order of hash, a
// batch of whole groups at a time: the groups go together while they fit
// in checkBatchRows changes and, with maxPairs > 0, in maxPairs pairs (the
// sum of each group's size squared); a group that does not fit with those
// before it starts the next batch, alone when it is larger. The changes of
// a batch are those not refused when it is read (an earlier batch may
// refuse some), in spool order; a batch of fewer than two is skipped. With
// maxGroup > 0, a group of more than maxGroup changes is not handed on,
// and ends the batch before it: dropped counts the changes of such groups.
// batches reads the hashes once, and releases them (close).
func (g *hashGroups) batches(c *checker, maxGroup, maxPairs int, fn func(batch []change) error) (dropped int, err error) {
	return g.seqBatches(maxGroup, maxPairs, func(seqs []int64) error {
		batch, err := c.collect(seqs)
		if err != nil || len(batch) < 2 {
			return err
		}
		return fn(batch)
	})
}

// seqBatches is batches handing on the sequence numbers of each batch (fn
// may reorder them), refused or not.
func (g *hashGroups) seqBatches(maxGroup, maxPairs int, fn func(seqs []int64) error) (dropped int, err error) {
	if g.sorted == nil {
		return 0, nil
	}
	defer g.close()
	b := &groupBatch{maxGroup: maxGroup, maxPairs: maxPairs, fn: fn}
	var ferr error // fn's or collect's, not the sort's
	err = g.sorted.Each(func(rec []byte) error {
		ferr = b.member(binary.BigEndian.Uint64(rec), int64(binary.BigEndian.Uint64(rec[8:])))
		return ferr
	})
	if ferr != nil {
		return b.dropped, ferr
	}
	if err != nil {
		return b.dropped, tempFileErr("reading the hashes of the changed rows", err)
	}
	b.endGroup()
	return b.dropped, b.flush()
}

// groupBatch gathers the groups of one batch as batches reads the hashes,
// and hands on the sequence numbers of each batch to fn.
type groupBatch struct {
	maxGroup, maxPairs int
	fn                 func(seqs []int64) error
	// seqs holds the batch's whole groups up to start (pairs is their
	// sum of sizes squared), then the members of the current group, of
	// hash and size (none past maxGroup).
	seqs               []int64
	start, pairs, size int
	hash               uint64
	dropped            int
}

// member takes the change seq of hash, the hashes coming in order.
func (b *groupBatch) member(hash uint64, seq int64) error {
	if b.size > 0 && hash != b.hash {
		b.endGroup()
	}
	b.hash = hash
	b.size++
	if b.maxGroup > 0 && b.size > b.maxGroup {
		if b.size > b.maxGroup+1 {
			return nil
		}
		err := b.flush() // the batch ends before the group
		b.seqs = b.seqs[:0]
		return err
	}
	b.seqs = append(b.seqs, seq)
	if b.size > 1 && b.start > 0 && (b.start+b.size > checkBatchRows || (b.maxPairs > 0 && b.pairs+b.size*b.size > b.maxPairs)) {
		return b.flush() // the group starts the next batch
	}
	return nil
}

// endGroup ends the current group: it joins the batch when it has two
// members or more, and is counted as dropped when too large.
func (b *groupBatch) endGroup() {
	switch {
	case b.maxGroup > 0 && b.size > b.maxGroup:
		b.dropped += b.size
	case b.size > 1:
		b.start, b.pairs = len(b.seqs), b.pairs+b.size*b.size
	}
	b.seqs, b.size = b.seqs[:b.start], 0
}

// flush hands on the batch's whole groups; the current group's members
// stay, to begin the next batch.
func (b *groupBatch) flush() error {
	if b.start == 0 {
		return nil
	}
	err := b.fn(b.seqs[:b.start])
	b.seqs = append(b.seqs[:0], b.seqs[b.start:]...)
	b.start, b.pairs = 0, 0
	return err
}

// collect reads the changes whose sequence numbers are in seqs (not
// refused), in spool order, all at once; seqs is sorted in place.
func (c *checker) collect(seqs []int64) ([]change, error) {
	slices.Sort(seqs)
	var out []change
	known := func(k ChangeKind) bool { return k == ChangeInsert || k == ChangeUpdate || k == ChangeDelete }
	err := c.batches(known, func(batch []change) error {
		for _, ch := range batch {
			if _, ok := slices.BinarySearch(seqs, ch.seq); ok {
				out = append(out, ch)
			}
		}
		return nil
	})
	return out, err
}
