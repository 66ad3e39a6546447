package planner

import (
	"bytes"
	"encoding/binary"

	"github.com/rowform/rowform/internal/linesort"
)

// The children of a foreign key of a table to itself whose parent only the
// change set can write (parentsWritten), matched with the changes that
// write a parent, in bounded memory. What is kept in memory per change is a
// few bits (waitingChildren, and the checker's own seqSets); the hashes go
// through external sorts:
//
//  1. The hash of every change that writes a parent's values and the hash
//     of every waiting child's referenced values go through one sort, by
//     hash, a hash's candidate parents before its children (selfParents).
//  2. Read back a hash at a time, each child's record takes its candidate
//     parents along (parentCand: sequence number and kind) and goes through
//     a second sort, into the order in which the check lists its children.
//  3. The children are decided in that order, pass after pass, until a pass
//     refuses none (settle): the first pass reads the second sort, and
//     keeps the children it does not refuse in a spool that the next
//     passes read again. A change set without refusals costs one pass.
//
// Sort memory, spool memory and the hash group being read are all that is
// in memory: selfParentMemory bytes each at most, and the candidates of one
// hash (one, under the unique index the foreign key's referenced columns
// need, unless two changes write the same values or hashes collide). The
// children refused are rejected by sequence number and their rows read
// back from the change spool once the check is done (checker.rejectLater);
// as for any refused row of such a table, the checker keeps each one's
// reason (reasonOf).

// selfParentMemory is how many bytes of hashes and children each sort, and
// the spool of the passes after the first, keep in memory before they
// spill to a temporary file.
const selfParentMemory = 4 << 20

// A record of the sort by hash: the hash (8 bytes), a tag (parentTag sorts
// before childTag, so that a hash's candidate parents come before its
// children), an order (8 bytes, a sequence number with orderBit) and the
// change's kind (1), all big-endian, so that records compare as bytes.
const (
	parentTag byte = 0
	childTag  byte = 1
	// hashRecordSize is the size of a record of the sort by hash.
	hashRecordSize = 8 + 1 + 8 + 1
	// childRecordHeader is the size of a child's record of the second sort
	// before its candidates: its order (8) and kind (1).
	childRecordHeader = 8 + 1
	// candSize is the size of a candidate in a child's record: its sequence
	// number (8) and kind (1).
	candSize = 8 + 1
)

// orderBit is set, in a parent's order, for a change already refused when
// the check began (those come after the others of their hash); in a
// child's, for a child whose parent row the change set deletes or moves
// (those come after the children that have no parent row at all, as the
// check lists them).
const orderBit = uint64(1) << 63

// parentCand is a change that writes a parent's values: a candidate parent
// of the children whose referenced values hash alike.
type parentCand struct {
	seq  int64
	kind ChangeKind
}

// waitingChildren are the changed rows (of a foreign key of the table to
// itself) whose parent is not in place in the destination: there is no
// such row, or the change set deletes it or moves it to other values. The
// change set must write their parent. One bit a change of the change set
// each, whatever share of it waits.
type waitingChildren struct {
	all, deleted, moved seqSet
}

// add adds the child seq; gone says what becomes of the destination row it
// references now: "" (there is none), "deleted" or "moved".
func (w *waitingChildren) add(seq int64, gone string) {
	w.all.add(seq)
	switch gone {
	case "deleted":
		w.deleted.add(seq)
	case "moved":
		w.moved.add(seq)
	}
}

// gone is what add was told of the child seq.
func (w *waitingChildren) gone(seq int64) string {
	switch {
	case w.deleted.has(seq):
		return "deleted"
	case w.moved.has(seq):
		return "moved"
	}
	return ""
}

// selfParents matches waiting children with the changes that write their
// parents (see above). Add the parents and the children, then settle; close
// releases the temporary files either way.
type selfParents struct {
	// memory is what each sort and the spool keep in memory, in bytes.
	memory int
	byHash *linesort.Sorter
	rec    [hashRecordSize]byte
	// cands are the candidates of the child being decided, reused.
	cands []parentCand
}

func newSelfParents(memory int) *selfParents {
	return &selfParents{memory: memory, byHash: linesort.New("", memory, bytes.Compare)}
}

// parent adds the change seq, of kind, that writes values of hash;
// refused: the change was refused before the check began. Among the
// candidates of a hash, those refused come last, each group in order of
// sequence number.
func (s *selfParents) parent(hash uint64, seq int64, kind ChangeKind, refused bool) error {
	order := uint64(seq)
	if refused {
		order |= orderBit
	}
	return s.add(hash, parentTag, order, kind)
}

// child adds the waiting child seq, of kind, whose referenced values hash
// to hash; gone: its parent row is deleted or moved by the change set.
// settle decides the children in order of sequence number, those that are
// not gone first.
func (s *selfParents) child(hash uint64, seq int64, kind ChangeKind, gone bool) error {
	order := uint64(seq)
	if gone {
		order |= orderBit
	}
	return s.add(hash, childTag, order, kind)
}

func (s *selfParents) add(hash uint64, tag byte, order uint64, kind ChangeKind) error {
	binary.BigEndian.PutUint64(s.rec[:8], hash)
	s.rec[8] = tag
	binary.BigEndian.PutUint64(s.rec[9:], order)
	s.rec[17] = byte(kind)
	return tempFileErr("keeping the hashes of the rows a foreign key of the table to itself checks in a temporary file", s.byHash.Add(s.rec[:]))
}

// close releases the temporary files of the hashes.
func (s *selfParents) close() {
	if s.byHash != nil {
		s.byHash.Close()
	}
}

// settle decides the children, in their order (child), pass after pass
// until a pass refuses none. Each pass calls decide with every child that
// refused does not report, and its candidates: the changes not refused
// when the check began that write values of the child's hash, in order of
// sequence number, or, when there are none, the first of those already
// refused (only the first refused candidate can name a reason, and only
// when no other candidate is there); none when no change writes them.
// cands are valid during the call only. decide reports whether it refused
// the child (refused then reports it). settle reads the hashes once, and
// releases them.
func (s *selfParents) settle(refused func(seq int64) bool, decide func(seq int64, kind ChangeKind, cands []parentCand) bool) error {
	defer s.close()
	byOrder := linesort.New("", s.memory, bytes.Compare)
	defer byOrder.Close()
	if err := s.match(byOrder); err != nil {
		return err
	}
	s.close()
	// The children not refused in the first pass, for the next ones.
	again := newChangeSpool(s.memory)
	defer again.close()
	var keep Row
	more := false
	var ferr error // the spool's, not the sort's
	err := byOrder.Each(func(rec []byte) error {
		switch seq, kind, cands := s.decodeChild(rec); {
		case refused(seq):
		case decide(seq, kind, cands):
			more = true
		default:
			keep.Values = append(keep.Values[:0], rec)
			ferr = again.add(ChangeInsert, &keep, nil)
		}
		return ferr
	})
	if ferr != nil {
		return tempFileErr("keeping the children of a foreign key of the table to itself in a temporary file", ferr)
	}
	if err != nil {
		return tempFileErr("sorting the children of a foreign key of the table to itself", err)
	}
	for more {
		more = false
		err := again.each(func(_ ChangeKind, src, _ *Row) error {
			seq, kind, cands := s.decodeChild(src.Values[0])
			if !refused(seq) && decide(seq, kind, cands) {
				more = true
			}
			return nil
		})
		if err != nil {
			return tempFileErr("reading the children of a foreign key of the table to itself from a temporary file", err)
		}
	}
	return nil
}

// match reads the sort by hash a hash at a time and adds each child's
// record, with its candidates, to byOrder: its order, its kind, then each
// candidate's sequence number and kind.
func (s *selfParents) match(byOrder *linesort.Sorter) error {
	var (
		hash       uint64
		started    bool
		live       []byte // the candidates not refused of hash, as in a record
		first      [candSize]byte
		hasRefused bool // first is hash's first refused candidate
		out        []byte
		ferr       error // the second sort's, not the first's
	)
	err := s.byHash.Each(func(rec []byte) error {
		if h := binary.BigEndian.Uint64(rec); !started || h != hash {
			hash, started = h, true
			live, hasRefused = live[:0], false
		}
		order := binary.BigEndian.Uint64(rec[9:])
		if rec[8] == parentTag {
			switch {
			case order&orderBit == 0:
				live = binary.BigEndian.AppendUint64(live, order)
				live = append(live, rec[17])
			case !hasRefused:
				hasRefused = true
				binary.BigEndian.PutUint64(first[:], order&^orderBit)
				first[8] = rec[17]
			}
			return nil
		}
		out = append(out[:0], rec[9:]...) // order, kind
		switch {
		case len(live) > 0:
			out = append(out, live...)
		case hasRefused:
			out = append(out, first[:]...)
		}
		ferr = byOrder.Add(out)
		return ferr
	})
	if ferr != nil {
		return tempFileErr("sorting the children of a foreign key of the table to itself", ferr)
	}
	return tempFileErr("reading the hashes of the rows a foreign key of the table to itself checks", err)
}

// decodeChild reads a child's record of match: its sequence number, kind
// and candidates (into s.cands, reused).
func (s *selfParents) decodeChild(rec []byte) (seq int64, kind ChangeKind, cands []parentCand) {
	seq = int64(binary.BigEndian.Uint64(rec) &^ orderBit)
	kind = ChangeKind(rec[8])
	s.cands = s.cands[:0]
	for b := rec[childRecordHeader:]; len(b) >= candSize; b = b[candSize:] {
		s.cands = append(s.cands, parentCand{seq: int64(binary.BigEndian.Uint64(b)), kind: ChangeKind(b[8])})
	}
	return seq, kind, s.cands
}
