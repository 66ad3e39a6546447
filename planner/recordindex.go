package planner

import (
	"bytes"
	"encoding/binary"
)

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
