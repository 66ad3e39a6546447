package planner

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"math/rand"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/rowform/rowform/hclconfig"
)

// recordingSink keeps every change as a string, to compare change sets.
type recordingSink struct {
	l       *layout
	changes []string
}

func (s *recordingSink) Change(kind ChangeKind, src, dst *Row, changed []int) error {
	render := func(r *Row) string {
		if r == nil {
			return "-"
		}
		var out string
		for i, v := range r.Values {
			if v == nil {
				out += "|NULL"
			} else {
				out += fmt.Sprintf("|%d:%x", i, v)
			}
		}
		return out
	}
	s.changes = append(s.changes, fmt.Sprintf("%c %s %s %v", kind, render(src), render(dst), changed))
	return nil
}

// hashTestLayout is the layout of hashTestRows: a two-column key (bigint,
// text) and one text value.
func hashTestLayout() *layout {
	return newLayout([]column{
		{Dest: "k1", Catalog: catalogColumn(oidInt8)},
		{Dest: "k2", Catalog: catalogColumn(oidText)},
		{Dest: "v", Catalog: catalogColumn(oidText)},
	}, 2)
}

// hashTestRows builds random rows over a two-column key (bigint, text) and
// one nullable text value: the destination's keys are unique, the
// source's repeat at times and are sometimes NULL.
func hashTestRows(rng *rand.Rand, n int, source bool) []*Row {
	seen := map[string]bool{}
	var rows []*Row
	for len(rows) < n {
		var k1 [8]byte
		binary.BigEndian.PutUint64(k1[:], uint64(rng.Int63n(int64(n))-int64(n/2)))
		k2 := []byte(fmt.Sprintf("k%d", rng.Intn(3)))
		if !source && seen[string(k1[:])+string(k2)] {
			continue
		}
		seen[string(k1[:])+string(k2)] = true
		v := []byte(fmt.Sprintf("v%d", rng.Intn(4)))
		if rng.Intn(5) == 0 {
			v = nil
		}
		vals := [][]byte{k1[:], k2, v}
		if source && rng.Intn(50) == 0 {
			vals[1] = nil // NULL key
		}
		r := &Row{}
		r.set(vals)
		rows = append(rows, r)
	}
	return rows
}

// TestHashDiffMatchesMerge diffs the same rows with the merge (inputs in
// key order) and the hash diff (inputs shuffled, with limits so small that
// every side spills to disk and partitions are split again): counts, NULL
// and duplicate keys, their examples, the digest and the change set must
// be the same for every behavior.
func TestHashDiffMatchesMerge(t *testing.T) {
	l := hashTestLayout()
	rng := rand.New(rand.NewSource(7))
	src := hashTestRows(rng, 3000, true)
	dst := hashTestRows(rng, 3000, false)
	sorted := func(rows []*Row) []*Row {
		out := slices.Clone(rows)
		sort.SliceStable(out, func(a, b int) bool {
			// NULL keys anywhere: the merge sees them as they pass.
			if l.hasNullKey(out[a]) || l.hasNullKey(out[b]) {
				return false
			}
			return l.compareKeys(out[a], out[b]) < 0
		})
		return out
	}
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	for _, behavior := range hclconfig.Behaviors {
		t.Run(string(behavior), func(t *testing.T) {
			ctx := context.Background()
			nonNull := func(rows []*Row) []*Row {
				var out []*Row
				for _, r := range rows {
					if !l.hasNullKey(r) {
						out = append(out, r)
					}
				}
				return out
			}
			// The merge needs its NULL keys somewhere; give it the same
			// rows, in key order, NULL-keyed ones first.
			var mergeSrc []*Row
			for _, r := range src {
				if l.hasNullKey(r) {
					mergeSrc = append(mergeSrc, r)
				}
			}
			mergeSrc = append(mergeSrc, sorted(nonNull(src))...)
			mergeSink := &recordingSink{l: l}
			want, err := l.mergeDiff(ctx, behavior, &sliceStream{rows: mergeSrc}, &sliceStream{rows: sorted(dst)}, mergeSink, nil)
			if err != nil {
				t.Fatal(err)
			}
			if want.DupKeys == 0 || want.NullKeys == 0 || want.Counts.Unchanged == 0 {
				t.Fatalf("the data has no duplicate, NULL or unchanged keys: %+v", want)
			}
			slices.Sort(mergeSink.changes)
			for _, spills := range []bool{false, true} {
				limits := defaultHashLimits() // everything stays in memory
				if spills {
					limits = hashLimits{spill: 2000, partition: 600}
				}
				limits.srcOnlyStart = 2 // the table of source-only keys grows
				hashSink := &recordingSink{l: l}
				j := &hashJoin{l: l, behavior: behavior, sink: hashSink, limits: limits}
				got, err := j.run(ctx, &sliceStream{rows: src}, &sliceStream{rows: dst}, nil)
				if err != nil {
					t.Fatal(err)
				}
				if spilled := j.files.Load() > 0 && j.splits.Load() > 0; spilled != spills {
					t.Fatalf("spills=%v: %d temporary files, %d splits", spills, j.files.Load(), j.splits.Load())
				}
				if left, _ := os.ReadDir(tmp); len(left) > 0 {
					t.Errorf("%d files left in TMPDIR, e.g. %s", len(left), left[0].Name())
				}
				if d := cmp.Diff(want, got, equateEmpty); d != "" {
					t.Errorf("spills=%v: hash diff differs from the merge (-merge +hash):\n%s", spills, d)
				}
				slices.Sort(hashSink.changes)
				if !slices.Equal(mergeSink.changes, hashSink.changes) {
					t.Errorf("spills=%v: the change sets differ: %d changes from the hash diff, %d from the merge", spills, len(hashSink.changes), len(mergeSink.changes))
				}
			}
		})
	}
}

// TestChangeDigestIgnoresOrder: the same changes in another order give the
// same digest; a different value, kind or a missing change does not.
func TestChangeDigestIgnoresOrder(t *testing.T) {
	row := func(vals ...string) *Row {
		r := &Row{}
		bs := make([][]byte, len(vals))
		for i, v := range vals {
			if v != "NULL" {
				bs[i] = []byte(v)
			}
		}
		r.set(bs)
		return r
	}
	type change struct {
		kind     ChangeKind
		src, dst *Row
	}
	changes := []change{
		{ChangeInsert, row("1", "a"), nil},
		{ChangeUpdate, row("2", "b"), row("2", "B")},
		{ChangeDelete, nil, row("3", "NULL")},
	}
	digest := func(cs []change) string {
		d := newChangeDigest()
		for _, c := range cs {
			d.add(c.kind, c.src, c.dst)
		}
		return d.String()
	}
	base := digest(changes)
	if got := digest([]change{changes[2], changes[0], changes[1]}); got != base {
		t.Errorf("reordered changes: digest %s, want %s", got, base)
	}
	for name, cs := range map[string][]change{
		"missing change": changes[:2],
		"other value":    {changes[0], {ChangeUpdate, row("2", "c"), row("2", "B")}, changes[2]},
		"NULL vs empty":  {changes[0], changes[1], {ChangeDelete, nil, row("3", "")}},
		"other kind":     {{ChangeUpdate, row("1", "a"), nil}, changes[1], changes[2]},
	} {
		if digest(cs) == base {
			t.Errorf("%s: same digest as the original change set", name)
		}
	}
}

// TestHashDiffTempDirError: a temporary file that cannot be created stops
// the diff with an error that names the directory and what to do.
func TestHashDiffTempDirError(t *testing.T) {
	t.Setenv("TMPDIR", "/nonexistent/rowform-tmp")
	l := hashTestLayout()
	rng := rand.New(rand.NewSource(1))
	j := &hashJoin{l: l, behavior: hclconfig.Mirror, limits: hashLimits{spill: 2000, partition: 600}}
	_, err := j.run(context.Background(), &sliceStream{rows: hashTestRows(rng, 500, true)}, &sliceStream{rows: hashTestRows(rng, 500, false)}, nil)
	if err == nil || !strings.Contains(err.Error(), "set TMPDIR") || !strings.Contains(err.Error(), "/nonexistent/rowform-tmp") {
		t.Fatalf("err = %v, want one naming the temporary directory", err)
	}
}

// TestHashDiffRepeatedKey: a source with one key repeated hundreds of times
// cannot be split by hash; the diff stops splitting that part instead of
// rewriting it at every level, and still equals the merge.
func TestHashDiffRepeatedKey(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	l := hashTestLayout()
	rng := rand.New(rand.NewSource(3))
	dst := hashTestRows(rng, 300, false)
	var src []*Row
	for i := 0; i < 600; i++ {
		r := &Row{}
		r.set([][]byte{dst[0].Values[0], dst[0].Values[1], []byte(fmt.Sprint(i))})
		src = append(src, r)
	}
	want, err := l.mergeDiff(context.Background(), hclconfig.Mirror, &sliceStream{rows: src}, &sliceStream{rows: slices.SortedFunc(slices.Values(dst), func(a, b *Row) int { return l.compareKeys(a, b) })}, nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	// One worker: the whole partition limit is its own, as the count of
	// splits below assumes.
	j := &hashJoin{l: l, behavior: hclconfig.Mirror, limits: hashLimits{spill: 2000, partition: 600, workers: 1}}
	got, err := j.run(context.Background(), &sliceStream{rows: src}, &sliceStream{rows: dst}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got, equateEmpty); d != "" {
		t.Errorf("hash diff differs from the merge (-merge +hash):\n%s", d)
	}
	if got.DupKeys != 1 {
		t.Errorf("%d duplicate keys, want 1", got.DupKeys)
	}
	if j.splits.Load() > 4 {
		t.Errorf("%d splits for one repeated key: splitting did not stop", j.splits.Load())
	}
}

// TestHashDiffRandomized compares the hash diff with the merge over many
// random inputs and limits: duplicate and NULL source keys, empty strings
// and NULLs, values larger than a partition's buffer, tiny and default
// spill and split limits, and a source-only key table that starts small.
func TestHashDiffRandomized(t *testing.T) {
	tmp := t.TempDir()
	t.Setenv("TMPDIR", tmp)
	l := hashTestLayout()
	for seed := int64(0); seed < 40; seed++ {
		rng := rand.New(rand.NewSource(seed))
		src := hashTestRows(rng, 50+rng.Intn(400), true)
		dst := hashTestRows(rng, 50+rng.Intn(400), false)
		for _, rows := range [][]*Row{src, dst} {
			for _, r := range rows {
				switch rng.Intn(20) {
				case 0: // larger than any tiny buffer
					r.set([][]byte{r.Values[0], r.Values[1], bytes.Repeat([]byte("x"), 10000+rng.Intn(20000))})
				case 1:
					r.set([][]byte{r.Values[0], r.Values[1], {}})
				}
			}
		}
		// Keys repeated many times: one from the data (maybe also in the
		// destination) and one only in the source, among other new keys.
		var only [8]byte
		binary.BigEndian.PutUint64(only[:], 1<<40+uint64(seed))
		for i := 0; i < rng.Intn(200); i++ {
			for _, key := range [][][]byte{{src[5].Values[0], src[5].Values[1]}, {only[:], []byte("dup")}} {
				r := &Row{}
				r.set([][]byte{key[0], key[1], []byte(fmt.Sprint(i))})
				src = append(src, r)
			}
			for k := 0; k < 20; k++ { // so that the source-only table grows
				var fresh [8]byte
				binary.BigEndian.PutUint64(fresh[:], 1<<41+uint64(i*20+k))
				r := &Row{}
				r.set([][]byte{fresh[:], []byte("new"), nil})
				src = append(src, r)
			}
		}
		limits := defaultHashLimits()
		if seed%4 != 0 {
			limits = hashLimits{spill: 64 + rng.Intn(5000), partition: int64(100 + rng.Intn(5000))}
		}
		limits.srcOnlyStart = []int{1, 2, 16, 1 << 16}[seed%4]
		limits.workers = 1 + int(seed%3) // one worker, or several
		for _, behavior := range hclconfig.Behaviors {
			var mergeSrc, keyed []*Row
			for _, r := range src {
				if l.hasNullKey(r) {
					mergeSrc = append(mergeSrc, r)
				} else {
					keyed = append(keyed, r)
				}
			}
			sort.SliceStable(keyed, func(a, b int) bool { return l.compareKeys(keyed[a], keyed[b]) < 0 })
			sortedDst := slices.Clone(dst)
			sort.SliceStable(sortedDst, func(a, b int) bool { return l.compareKeys(sortedDst[a], sortedDst[b]) < 0 })
			mergeSink, hashSink := &recordingSink{l: l}, &recordingSink{l: l}
			want, err := l.mergeDiff(context.Background(), behavior, &sliceStream{rows: append(mergeSrc, keyed...)}, &sliceStream{rows: sortedDst}, mergeSink, nil)
			if err != nil {
				t.Fatal(err)
			}
			rng.Shuffle(len(dst), func(a, b int) { dst[a], dst[b] = dst[b], dst[a] })
			j := &hashJoin{l: l, behavior: behavior, sink: hashSink, limits: limits}
			got, err := j.run(context.Background(), &sliceStream{rows: src}, &sliceStream{rows: dst}, nil)
			if err != nil {
				t.Fatal(err)
			}
			slices.Sort(mergeSink.changes)
			slices.Sort(hashSink.changes)
			if d := cmp.Diff(want, got, equateEmpty); d != "" || !slices.Equal(mergeSink.changes, hashSink.changes) {
				t.Fatalf("seed %d, %s, limits %+v: %d changes from the hash diff, %d from the merge; results (-merge +hash):\n%s",
					seed, behavior, limits, len(hashSink.changes), len(mergeSink.changes), d)
			}
		}
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("%d files left in TMPDIR", len(left))
	}
}

// equateEmpty makes a nil slice equal an empty one (the two diffs may leave
// an example list either way) and compares diffResult's unexported fields
// too.
var equateEmpty = cmp.Options{cmpopts.EquateEmpty(), cmp.AllowUnexported(diffResult{})}

// BenchmarkHashJoinWorkers times the hash diff of 500,000 rows a side (1%
// changed) with one worker and with one per core: phase 1 (partitioning)
// is the same; phase 2 (the join) is what the workers share.
func BenchmarkHashJoinWorkers(b *testing.B) {
	l := hashTestLayout()
	const n = 500000
	src, dst := make([]*Row, n), make([]*Row, n)
	for i := range src {
		var k [8]byte
		binary.BigEndian.PutUint64(k[:], uint64(i))
		v := []byte(fmt.Sprintf("value %d %s", i, strings.Repeat("x", 100)))
		src[i], dst[i] = &Row{}, &Row{}
		src[i].set([][]byte{k[:], []byte("k"), v})
		if i%100 == 0 {
			v = []byte("changed")
		}
		dst[i].set([][]byte{k[:], []byte("k"), v})
	}
	for _, workers := range []int{1, 0} {
		name := fmt.Sprintf("workers=%d", workers)
		if workers == 0 {
			name = "workers=GOMAXPROCS"
		}
		b.Run(name, func(b *testing.B) {
			for range b.N {
				j := &hashJoin{l: l, behavior: hclconfig.Mirror, limits: hashLimits{workers: workers}}
				if _, err := j.run(context.Background(), &sliceStream{rows: src}, &sliceStream{rows: dst}, nil); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
