package planner

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
	"testing"

	"github.com/rowform/rowform/internal/linesort"
)

// TestHashGroupBatches: the groups of equal hashes read back from the
// external sort go to the server in the batches that sorting every hash in
// memory gave (sameGroupBatches, the checks' former way): the same groups,
// together in the same batches, in the same order, and the same groups
// dropped, whatever the sizes of the groups and however the sort spills.
func TestHashGroupBatches(t *testing.T) {
	for seed := range uint64(6) {
		for _, mode := range []struct {
			name               string
			maxGroup, maxPairs int
		}{
			{"unique index", 0, 0},
			{"exclusion", exclusionPairRows, exclusionPairRows * exclusionPairRows},
		} {
			t.Run(fmt.Sprintf("%s/seed %d", mode.name, seed), func(t *testing.T) {
				rng := rand.New(rand.NewPCG(seed, 7))
				var hs []rowHash
				var seq int64
				for len(hs) < 120000 {
					size := 1 + rng.IntN(3)
					switch rng.IntN(40) {
					case 0:
						size = 1 + rng.IntN(30000)
					case 1:
						size = exclusionPairRows - 2 + rng.IntN(4)
					case 2, 3:
						size = 1 + rng.IntN(3000)
					}
					h := rng.Uint64() >> rng.IntN(64) // small hashes too
					for range size {
						hs = append(hs, rowHash{hash: h, seq: seq})
						seq += 1 + int64(rng.IntN(3))
					}
				}
				rng.Shuffle(len(hs), func(i, j int) { hs[i], hs[j] = hs[j], hs[i] })
				g := &hashGroups{sorted: linesort.New("", 64<<10, bytes.Compare)} // spills
				defer g.close()
				for _, h := range hs {
					if err := g.add(h.hash, h.seq); err != nil {
						t.Fatal(err)
					}
				}
				var got [][]int64
				dropped, err := g.seqBatches(mode.maxGroup, mode.maxPairs, func(seqs []int64) error {
					got = append(got, slices.Sorted(slices.Values(seqs)))
					return nil
				})
				if err != nil {
					t.Fatal(err)
				}
				want, wantDropped := sameGroupBatches(hs, mode.maxGroup, mode.maxPairs)
				if dropped != wantDropped {
					t.Errorf("%d changes dropped, want %d", dropped, wantDropped)
				}
				if len(got) != len(want) {
					t.Fatalf("%d batches, want %d", len(got), len(want))
				}
				for i := range want {
					if !slices.Equal(got[i], want[i]) {
						t.Fatalf("batch %d has %d changes (%v...), want %d (%v...)", i, len(got[i]), got[i][:2], len(want[i]), want[i][:2])
					}
				}
			})
		}
	}
}

// sameGroupBatches batches the groups as the checks did with every hash in
// memory: sorted by hash, then seq; the groups of two or more, taken whole
// while they fit in a batch; with maxGroup > 0, a group larger than it
// skipped when it comes first.
func sameGroupBatches(hs []rowHash, maxGroup, maxPairs int) (batches [][]int64, dropped int) {
	hs = slices.Clone(hs)
	sort.Slice(hs, func(i, j int) bool {
		if hs[i].hash != hs[j].hash {
			return hs[i].hash < hs[j].hash
		}
		return hs[i].seq < hs[j].seq
	})
	var groups [][]rowHash
	for i := 0; i < len(hs); {
		j := i + 1
		for j < len(hs) && hs[j].hash == hs[i].hash {
			j++
		}
		if j-i > 1 {
			groups = append(groups, hs[i:j])
		}
		i = j
	}
	for len(groups) > 0 {
		if g := len(groups[0]); maxGroup > 0 && g > maxGroup {
			dropped += g
			groups = groups[1:]
			continue
		}
		var seqs []int64
		n, pairs := 0, 0
		for len(groups) > 0 {
			g := len(groups[0])
			if n > 0 && (n+g > checkBatchRows || (maxPairs > 0 && pairs+g*g > maxPairs)) {
				break
			}
			for _, h := range groups[0] {
				seqs = append(seqs, h.seq)
			}
			n, pairs = n+g, pairs+g*g
			groups = groups[1:]
		}
		batches = append(batches, slices.Sorted(slices.Values(seqs)))
	}
	return batches, dropped
}
