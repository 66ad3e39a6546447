package planner

import (
	"context"
	"crypto/sha256"
	"fmt"
	"math/rand"
	"slices"
	"testing"

	"github.com/rowform/rowform/hclconfig"
)

// hashRows is what a server sends in the hash pass for rows of l: the
// keys, a hash of the other values, the canonical keys.
func hashRows(l *layout, rows []*Row) []*Row {
	out := make([]*Row, len(rows))
	for i, r := range rows {
		sum := sha256.Sum256(appendValues(nil, r.Values[l.NKey:len(l.Cols)]))
		vals := append(slices.Clone(r.Values[:l.NKey]), sum[:rowHashBytes])
		vals = append(vals, r.Values[len(l.Cols):l.width()]...)
		out[i] = &Row{}
		out[i].set(vals)
	}
	return out
}

// fetchRows is what a fetch returns: the rows whose key values are among
// keys (byte equality: the hash layout's keys are compared as bytes), and
// the rows with a NULL key when nullKeys is set.
func fetchRows(l *layout, rows []*Row, keys *wantedKeys, nullKeys bool) []*Row {
	want := map[string]bool{}
	for i := 0; i < keys.n; i++ {
		var vals [][]byte
		for _, col := range keys.cols {
			vals = append(vals, col[i])
		}
		want[string(appendValues(nil, vals))] = true
	}
	var out []*Row
	for _, r := range rows {
		if (nullKeys && l.hasNullKey(r)) || (!l.hasNullKey(r) && want[string(appendValues(nil, r.Values[:l.NKey]))]) {
			out = append(out, r)
		}
	}
	return out
}

// TestServerHashRandomized is TestHashDiffRandomized for the two passes
// of the server-hash diff: over random rows (NULL keys on both sides,
// NULLs and empty values, wide values) and limits, under every behavior,
// the hash pass and the fetch of what it asks for give the counts,
// examples, digest and change set of the full-row hash diff; a source that
// repeats keys is found by the hash pass (and read in full rows instead).
func TestServerHashRandomized(t *testing.T) {
	t.Parallel()
	l := hashTestLayout()
	for seed := int64(0); seed < 40; seed++ {
		rng := rand.New(rand.NewSource(seed))
		src := hashTestRows(rng, 50+rng.Intn(400), true)
		dst := hashTestRows(rng, 50+rng.Intn(400), false)
		if seed%2 == 0 { // no repeated source keys
			seen := map[string]bool{}
			src = slices.DeleteFunc(src, func(r *Row) bool {
				k := string(appendValues(nil, r.Values[:l.NKey]))
				dup := !l.hasNullKey(r) && seen[k]
				seen[k] = true
				return dup
			})
		}
		for _, rows := range [][]*Row{src, dst} {
			for _, r := range rows {
				switch rng.Intn(20) {
				case 0:
					r.set([][]byte{r.Values[0], r.Values[1], []byte(fmt.Sprintf("%0*d", 5000+rng.Intn(5000), 0))})
				case 1:
					r.set([][]byte{r.Values[0], r.Values[1], {}})
				}
			}
		}
		if seed%3 == 0 { // destination rows with a NULL key (a mirror deletes them)
			for k := 0; k < 3; k++ {
				r := &Row{}
				r.set([][]byte{dst[k].Values[0], nil, []byte("null key")})
				dst = append(dst, r)
			}
		}
		limits := hashLimits{spill: 64 + rng.Intn(5000), partition: int64(100 + rng.Intn(5000)), workers: 1 + int(seed%3)}
		if seed%4 == 0 {
			limits = defaultHashLimits()
		}
		for _, behavior := range hclconfig.Behaviors {
			ctx := context.Background()
			// A non-mirror does not read destination rows with a NULL key.
			dstRead := dst
			if !behavior.Deletes() {
				dstRead = slices.DeleteFunc(slices.Clone(dst), l.hasNullKey)
			}
			fullSink, hashSink := &recordingSink{l: l}, &recordingSink{l: l}
			want, err := l.hashDiff(ctx, behavior, &sliceStream{rows: src}, &sliceStream{rows: dstRead}, fullSink, nil, limits)
			if err != nil {
				t.Fatal(err)
			}
			pass, coll, err := l.hashPass(ctx, behavior, &sliceStream{rows: hashRows(l, src)}, &sliceStream{rows: hashRows(l, dstRead)}, nil, limits)
			if err != nil {
				t.Fatal(err)
			}
			if (pass.DupKeys > 0) != (want.DupKeys > 0) {
				t.Fatalf("seed %d, %s: the hash pass found %d repeated keys, the full rows %d", seed, behavior, pass.DupKeys, want.DupKeys)
			}
			if want.DupKeys > 0 {
				continue // read in full rows
			}
			srcRows := fetchRows(l, src, coll.src, false)
			dstRows := fetchRows(l, dstRead, coll.dst, coll.nullKeyRows)
			if len(srcRows) != coll.src.n {
				t.Fatalf("seed %d, %s: %d source rows fetched for %d keys", seed, behavior, len(srcRows), coll.src.n)
			}
			got, err := l.fetchPass(ctx, behavior, pass, &sliceStream{rows: srcRows}, &sliceStream{rows: dstRows}, hashSink, limits)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(fullSink.changes)
			slices.Sort(hashSink.changes)
			if fmt.Sprint(got) != fmt.Sprint(want) || !slices.Equal(fullSink.changes, hashSink.changes) {
				t.Fatalf("seed %d, %s, limits %+v: server hash %+v (%d changes), full rows %+v (%d changes)",
					seed, behavior, limits, got, len(hashSink.changes), want, len(fullSink.changes))
			}
			if behavior == hclconfig.Mirror && int64(len(srcRows)+len(dstRows)) >= want.SourceRows+want.DestinationRows && want.Counts.Unchanged > 0 {
				t.Errorf("seed %d: the fetch read every row (%d), though %d are unchanged", seed, len(srcRows)+len(dstRows), want.Counts.Unchanged)
			}
		}
	}
}

// TestMergeSummaries compares packs of bucket summaries as they stream:
// equal buckets are unchanged; a bucket that differs, that one side lacks
// (in a pack both have, or in a pack only one has) or that holds the NULL
// keys (-1) is set in the bitmap; every row is counted on its side.
func TestMergeSummaries(t *testing.T) {
	const buckets = 3 << summaryPackBits
	pack := func(p int32, sums map[int32]bucketSummary) *summaryPack {
		k := &summaryPack{p: p}
		for b, s := range sums {
			i := int(b & (1<<summaryPackBits - 1))
			k.has[i], k.sums[i] = true, s
		}
		return k
	}
	feed := func(packs ...*summaryPack) <-chan *summaryPack {
		ch := make(chan *summaryPack, len(packs))
		for _, k := range packs {
			ch <- k
		}
		close(ch)
		return ch
	}
	same, other := bucketSummary{rows: 3, x1: 1, x2: 2}, bucketSummary{rows: 3, x1: 1, x2: 3}
	hi := int32(2<<summaryPackBits + 5)
	src := feed(pack(-1, map[int32]bucketSummary{-1: same}),
		pack(0, map[int32]bucketSummary{0: same, 1: same, 7: same}),
		pack(1, map[int32]bucketSummary{1<<summaryPackBits + 1: same}))
	dst := feed(pack(-1, map[int32]bucketSummary{-1: same}),
		pack(0, map[int32]bucketSummary{0: same, 1: other, 9: {rows: 1}}),
		pack(2, map[int32]bucketSummary{hi: {rows: 2}}))
	res := mergeSummaries(src, dst, buckets)
	var got []int32
	for b := int32(-1); b < buckets; b++ {
		if n := int(b) + 1; res.bitmap[n/8]&(1<<(n%8)) != 0 {
			got = append(got, b)
		}
	}
	want := []int32{-1, 1, 7, 9, 1<<summaryPackBits + 1, hi}
	if !slices.Equal(got, want) || res.ndiffer != len(want) {
		t.Errorf("differing buckets %v (%d), want %v", got, res.ndiffer, want)
	}
	if res.unchanged != 3 || res.srcRows != 15 || res.dstRows != 3+3+3+1+2 {
		t.Errorf("unchanged %d, source rows %d, destination rows %d; want 3, 15, 12", res.unchanged, res.srcRows, res.dstRows)
	}
}

// TestJoinWorkers: the partitions are joined on every worker while the
// largest fits a worker's share of the bound, on fewer when it does not
// (rather than splitting it), and on one when only the whole bound holds it.
func TestJoinWorkers(t *testing.T) {
	for _, tc := range []struct {
		largest, partition int64
		workers, want      int
	}{
		{largest: 10, partition: 100, workers: 4, want: 4},
		{largest: 30, partition: 100, workers: 4, want: 3},
		{largest: 45, partition: 100, workers: 2, want: 2},
		{largest: 60, partition: 100, workers: 2, want: 1},
		{largest: 500, partition: 100, workers: 8, want: 1},
	} {
		src, dst := &partitions{}, &partitions{}
		src.onDisk[3], dst.onDisk[3] = tc.largest/2, tc.largest-tc.largest/2
		src.onDisk[7] = 1
		j := &hashJoin{limits: hashLimits{partition: tc.partition, workers: tc.workers}}
		if got := j.joinWorkers(src, dst); got != tc.want {
			t.Errorf("largest %d of %d, %d workers: %d workers, want %d", tc.largest, tc.partition, tc.workers, got, tc.want)
		}
	}
}
