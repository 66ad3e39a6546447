package planner

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"math/rand"
	"os"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
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

// TestChangeDigestOfWideValues: the digest of a change is the SHA-256 of
// appendChange's message whatever the widths of its values (those written
// to the hash in pieces included), and digesting an update of two 4 MB
// values does not copy them: a wide row's change costs no memory of its
// own (it cost 2-3 times the row, the message of src and dst together).
func TestChangeDigestOfWideValues(t *testing.T) {
	wide := func(n int, c byte) []byte { return bytes.Repeat([]byte{c}, n) }
	rows := []*Row{
		{Values: [][]byte{[]byte("1"), nil, {}}},
		{Values: [][]byte{[]byte("2"), wide(digestBuffer-20, 'a'), []byte("x")}},
		{Values: [][]byte{[]byte("3"), wide(digestBuffer, 'b'), wide(digestBuffer+1, 'c'), nil}},
		{Values: [][]byte{[]byte("4"), wide(3<<20, 'd'), []byte("y"), wide(100, 'e')}},
	}
	d := newChangeDigest()
	var want changeDigest
	for _, src := range rows {
		for _, dst := range rows {
			for _, kind := range []ChangeKind{ChangeInsert, ChangeUpdate, ChangeDelete} {
				s, ds := src, dst
				switch kind {
				case ChangeInsert:
					ds = nil
				case ChangeDelete:
					s = nil
				}
				d.add(kind, s, ds)
				sum := sha256.Sum256(appendChange(nil, kind, s, ds))
				for i := range want.sum {
					want.sum[i] += binary.LittleEndian.Uint64(sum[8*i:])
				}
			}
		}
	}
	if got, w := d.String(), want.String(); got != w {
		t.Errorf("digest %s, want %s (the SHA-256 of each change's message)", got, w)
	}

	src := &Row{Values: [][]byte{[]byte("5"), wide(4<<20, 'f')}}
	dst := &Row{Values: [][]byte{[]byte("5"), wide(4<<20, 'g')}}
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	newChangeDigest().add(ChangeUpdate, src, dst)
	runtime.ReadMemStats(&after)
	if n := after.TotalAlloc - before.TotalAlloc; n > 1<<20 {
		t.Errorf("digesting an update of two 4 MB values allocated %d kB, want at most 1024 kB", n>>10)
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

// gatedStream is a source whose rows follow the destination's end: it
// returns its rows, then waits until the destination stream has been read
// to its end (dstEnded closed) before it returns err, or its end. ended is
// set once it has returned its last result.
type gatedStream struct {
	sliceStream
	dstEnded <-chan struct{}
	err      error
	ended    atomic.Bool
}

func (s *gatedStream) next() (*Row, error) {
	if r, _ := s.sliceStream.next(); r != nil {
		return r, nil
	}
	<-s.dstEnded
	s.ended.Store(true)
	return nil, s.err
}

// endSignalStream closes ended when its rows have been read to the end.
type endSignalStream struct {
	sliceStream
	ended chan struct{}
	once  sync.Once
}

func (s *endSignalStream) next() (*Row, error) {
	r, err := s.sliceStream.next()
	if r == nil && err == nil {
		s.once.Do(func() { close(s.ended) })
	}
	return r, err
}

// orderSink fails the test when a change arrives before the source has
// been read to its end.
type orderSink struct {
	recordingSink
	src   *gatedStream
	early atomic.Int64
}

func (s *orderSink) Change(kind ChangeKind, src, dst *Row, changed []int) error {
	if !s.src.ended.Load() {
		s.early.Add(1)
	}
	return s.recordingSink.Change(kind, src, dst, changed)
}

// TestHashDiffHoldsNullKeyedDeletes: a mirror's deletes of NULL-keyed
// destination rows reach the sink only after both sides have been read, so
// a source that fails after the destination's end has handed no change on
// (the checker's pass-through and the diff's restart with the source read
// as text rely on it). The source here waits for the destination's end, so
// the order does not depend on timing. When the source ends without error,
// every held row is deleted, also when they spill to disk.
func TestHashDiffHoldsNullKeyedDeletes(t *testing.T) {
	t.Setenv("TMPDIR", t.TempDir())
	l := hashTestLayout()
	row := func(k1 int64, k2, v string, nullK2 bool) *Row {
		var b [8]byte
		binary.BigEndian.PutUint64(b[:], uint64(k1))
		vals := [][]byte{b[:], []byte(k2), []byte(v)}
		if nullK2 {
			vals[1] = nil
		}
		r := &Row{}
		r.set(vals)
		return r
	}
	// The destination: 1000 rows with a NULL key (they spill with the
	// small limits below, not with the default ones) among 100 with one.
	var dstRows []*Row
	for i := range 1100 {
		dstRows = append(dstRows, row(int64(i), "k", fmt.Sprintf("value %d", i), i%11 != 0))
	}
	srcRows := []*Row{row(0, "k", "changed", false), row(5000, "k", "new", false)}
	for _, tc := range []struct {
		name   string
		err    error
		limits hashLimits
	}{
		{"source fails", errors.New("a value does not convert"), defaultHashLimits()},
		{"source fails, spilled", errors.New("a value does not convert"), hashLimits{spill: 2000, partition: 600}},
		{"source ends", nil, defaultHashLimits()},
		{"source ends, spilled", nil, hashLimits{spill: 2000, partition: 600}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dst := &endSignalStream{sliceStream: sliceStream{rows: dstRows}, ended: make(chan struct{})}
			src := &gatedStream{sliceStream: sliceStream{rows: srcRows}, dstEnded: dst.ended, err: tc.err}
			sink := &orderSink{recordingSink: recordingSink{l: l}, src: src}
			j := &hashJoin{l: l, behavior: hclconfig.Mirror, sink: sink, limits: tc.limits}
			res, err := j.run(context.Background(), &tagged{src, true}, dst, nil)
			if n := sink.early.Load(); n > 0 {
				t.Fatalf("%d changes reached the sink before the source was read to its end", n)
			}
			if tc.err != nil {
				if !IsSourceError(err) || !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want the source's error", err)
				}
				if len(sink.changes) > 0 {
					t.Fatalf("the sink got %d changes from a diff whose source failed", len(sink.changes))
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			spilled := tc.limits.spill < defaultHashLimits().spill
			if (j.files.Load() > 0) != spilled {
				t.Errorf("%d temporary files, want spilling %v", j.files.Load(), spilled)
			}
			// 1000 NULL-keyed and 99 unmatched rows deleted, one updated,
			// one inserted.
			want := Counts{Insert: 1, Update: 1, Delete: 1099}
			if res.Counts != want {
				t.Errorf("counts %+v, want %+v", res.Counts, want)
			}
			deletes := 0
			for _, c := range sink.changes {
				if c[0] == byte(ChangeDelete) {
					deletes++
				}
			}
			if deletes != 1099 || len(sink.changes) != 1101 {
				t.Errorf("the sink got %d changes, %d deletes; want 1101, 1099", len(sink.changes), deletes)
			}
			// Each NULL-keyed row once, with its values.
			nullDeletes := map[string]bool{}
			for _, r := range dstRows {
				if l.hasNullKey(r) {
					d := &recordingSink{l: l}
					_ = d.Change(ChangeDelete, nil, r, nil)
					nullDeletes[d.changes[0]] = true
				}
			}
			for _, c := range sink.changes {
				delete(nullDeletes, c)
			}
			if len(nullDeletes) > 0 {
				t.Errorf("%d NULL-keyed destination rows not deleted", len(nullDeletes))
			}
		})
	}
}

// appendChange appends, in one piece, the message changeDigest.add hashes
// for one change: its kind, then the values it writes and the values it
// replaces, each length-prefixed (appendValues). It is the format the
// digest of a saved plan was made with, which add must keep.
func appendChange(b []byte, kind ChangeKind, src, dst *Row) []byte {
	b = append(b, byte(kind))
	for _, r := range []*Row{src, dst} {
		if r == nil {
			b = append(b, 0)
			continue
		}
		b = appendValues(append(b, 1), r.Values)
	}
	return b
}
