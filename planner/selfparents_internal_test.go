package planner

import (
	"fmt"
	"maps"
	"math/rand/v2"
	"slices"
	"testing"
)

// TestSelfParentsSettle: the children of a foreign key of a table to
// itself, matched with their candidate parents through the external sorts
// and decided pass after pass (selfParents), are refused as the check
// refused them with everything in memory (settleInMemory, the check's
// former loop): the same children, for the same reasons, in the same
// order, pass after pass, whatever the sort's spills, the order the hashes
// come in, and however the hashes meet: chains of children that are each
// other's parents (refused deep down, or only after several passes),
// values written twice, hashes that collide, parents refused before the
// check (by a CHECK), updates that reference an insert (not DEFERRABLE).
func TestSelfParentsSettle(t *testing.T) {
	for seed := range uint64(12) {
		t.Run(fmt.Sprintf("seed %d", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 11))
			in := randomSelfParents(rng, 3000)
			want := settleInMemory(in)
			got := in.settleExternally(t, rng, 1<<10) // spills every few dozen records
			if !slices.Equal(got, want) {
				t.Fatalf("refused %d children, want %d:\n  got  %.300v\n  want %.300v", len(got), len(want), got, want)
			}
			if len(want) == 0 || len(want) == len(in.children) {
				t.Fatalf("refused %d of %d children: the case proves little", len(want), len(in.children))
			}
			if got := in.settleExternally(t, rng, selfParentMemory); !slices.Equal(got, want) { // in memory
				t.Fatalf("without spills: refused %d children, want %d", len(got), len(want))
			}
		})
	}
	t.Run("none", func(t *testing.T) {
		s := newSelfParents(1 << 10)
		if err := s.parent(1, 0, ChangeInsert, false); err != nil {
			t.Fatal(err)
		}
		err := s.settle(func(int64) bool { return false }, func(int64, ChangeKind, []parentCand) bool {
			t.Fatal("decide called without children")
			return false
		})
		if err != nil {
			t.Fatal(err)
		}
	})
}

// selfParentsCase is what parentsWritten checks: the changes that write a
// parent's values, the children, and what is refused before.
type selfParentsCase struct {
	deferrable bool
	// parents and refused are the candidates not refused and refused when
	// the check begins, in spool order, as the check read them.
	parents, refused []rowHash
	// children are the waiting children, in spool order, with their
	// referenced values' hash.
	children []rowHash
	gone     map[int64]string
	// reasons are the reasons of the changes refused before.
	reasons map[int64]string
}

// randomSelfParents is a change set of n changes, each an insert or an
// update that writes one value (some write another's: the same value,
// or a hash that collides), and children that reference the values of
// others, or values nobody writes.
func randomSelfParents(rng *rand.Rand, n int) selfParentsCase {
	in := selfParentsCase{deferrable: rng.IntN(2) == 0, gone: map[int64]string{}, reasons: map[int64]string{}}
	kinds := make([]ChangeKind, n)
	written := make([]uint64, n)
	for i := range n {
		kinds[i] = ChangeInsert
		if rng.IntN(3) == 0 {
			kinds[i] = ChangeUpdate
		}
		written[i] = uint64(i)*2654435761 + 1
		switch rng.IntN(30) {
		case 0: // writes another change's value
			written[i] = written[rng.IntN(i+1)]
		case 1: // a small hash, which values nobody writes may meet
			written[i] = uint64(rng.IntN(64))
		}
		if rng.IntN(25) == 0 {
			in.reasons[int64(i)] = fmt.Sprintf("check %d", i)
		}
	}
	for i := range n {
		seq := int64(i)
		_, refused := in.reasons[seq]
		if rng.IntN(10) < 9 { // writes a parent's values
			h := rowHash{hash: written[i], seq: seq, kind: kinds[i]}
			if refused {
				in.refused = append(in.refused, h)
			} else {
				in.parents = append(in.parents, h)
			}
		}
		if refused || rng.IntN(10) == 0 {
			continue
		}
		// A child of another change, often a neighbour, so that chains
		// form in both directions of the spool's order; or of a value
		// nobody writes.
		var ref uint64
		switch rng.IntN(20) {
		case 0:
			ref = uint64(rng.IntN(64))
		case 1:
			ref = rng.Uint64()
		default:
			j := i + rng.IntN(7) - 3
			if rng.IntN(4) == 0 {
				j = rng.IntN(n)
			}
			ref = written[min(max(j, 0), n-1)]
		}
		in.children = append(in.children, rowHash{hash: ref, seq: seq, kind: kinds[i]})
		switch rng.IntN(8) {
		case 0:
			in.gone[seq] = "deleted"
		case 1:
			in.gone[seq] = "moved"
		}
	}
	return in
}

// refusal is a child refused, and why, as the test names reasons: "order"
// (an update references an insert), "missing ..." (no parent), a parent's
// reason, or "parent (...)" around it.
type refusal struct {
	seq int64
	why string
}

// settleInMemory is the check's former loop over pending children held in
// memory, with the candidates of each hash in a map.
func settleInMemory(in selfParentsCase) []refusal {
	reasons := maps.Clone(in.reasons)
	refusedParent := map[string]bool{}
	byHash := map[uint64][]rowHash{}
	for _, p := range append(slices.Clone(in.parents), in.refused...) {
		byHash[p.hash] = append(byHash[p.hash], p)
	}
	// The children without a parent row first, then those whose parent
	// row goes, each in spool order.
	var pending []rowHash
	for _, gone := range []bool{false, true} {
		for _, ch := range in.children {
			if (in.gone[ch.seq] != "") == gone {
				pending = append(pending, ch)
			}
		}
	}
	var out []refusal
	reject := func(seq int64, why string) {
		reasons[seq] = why
		out = append(out, refusal{seq, why})
	}
	for {
		refused := false
		for _, p := range pending {
			if _, ok := reasons[p.seq]; ok {
				continue
			}
			any, live, usable := false, false, false
			var refusedFor string
			for _, cand := range byHash[p.hash] {
				if _, ok := reasons[cand.seq]; ok {
					if !any {
						refusedFor = reasons[cand.seq]
					}
					any = true
					continue
				}
				any = true
				live = true
				if p.kind == ChangeUpdate && cand.kind == ChangeInsert && !in.deferrable {
					continue
				}
				usable = true
				break
			}
			switch {
			case usable:
				continue
			case live:
				reject(p.seq, "order")
			case any:
				why := "parent (" + refusedFor + ")"
				if refusedParent[refusedFor] {
					why = refusedFor
				}
				refusedParent[why] = true
				reject(p.seq, why)
			default:
				reject(p.seq, "missing "+in.gone[p.seq])
			}
			refused = true
		}
		if !refused {
			return out
		}
	}
}

// settleExternally is parentsWritten's way: the hashes, in any order,
// through selfParents keeping memory bytes in memory, the children decided
// by childOutcome.
func (in selfParentsCase) settleExternally(t *testing.T, rng *rand.Rand, memory int) []refusal {
	t.Helper()
	s := newSelfParents(memory)
	defer s.close()
	type add struct {
		h              rowHash
		child, refused bool
	}
	var adds []add
	for _, h := range in.parents {
		adds = append(adds, add{h: h})
	}
	for _, h := range in.refused {
		adds = append(adds, add{h: h, refused: true})
	}
	for _, h := range in.children {
		adds = append(adds, add{h: h, child: true})
	}
	rng.Shuffle(len(adds), func(i, j int) { adds[i], adds[j] = adds[j], adds[i] })
	for _, a := range adds {
		var err error
		if a.child {
			err = s.child(a.h.hash, a.h.seq, a.h.kind, in.gone[a.h.seq] != "")
		} else {
			err = s.parent(a.h.hash, a.h.seq, a.h.kind, a.refused)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	reasons := maps.Clone(in.reasons)
	refusedParent := map[string]bool{}
	has := func(seq int64) bool { _, ok := reasons[seq]; return ok }
	var out []refusal
	err := s.settle(has, func(seq int64, kind ChangeKind, cands []parentCand) bool {
		var why string
		switch childOutcome(kind, in.deferrable, cands, has) {
		case parentWritten:
			return false
		case parentTooLate:
			why = "order"
		case parentRefused:
			refusedFor := reasons[cands[0].seq]
			why = "parent (" + refusedFor + ")"
			if refusedParent[refusedFor] {
				why = refusedFor
			}
			refusedParent[why] = true
		default:
			why = "missing " + in.gone[seq]
		}
		reasons[seq] = why
		out = append(out, refusal{seq, why})
		return true
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}
