package planner

import (
	"encoding/binary"
	"math/rand"
	"testing"

	"github.com/rowform/rowform/internal/catalog"
)

// TestRowSorterSpillsAndMerges sorts more rows than fit in one run: the
// merged stream must be in key order (signed bigint order, with NULL
// values carried through), hold every row exactly once, and keep duplicate
// keys next to each other for duplicate detection.
func TestRowSorterSpillsAndMerges(t *testing.T) {
	defer func(n int) { csvRunRows = n }(csvRunRows)
	csvRunRows = 7
	l := newLayout([]column{
		{Dest: "id", Catalog: catalogColumn(oidInt8)},
		{Dest: "v", Catalog: catalogColumn(oidText)},
	}, 1)
	rng := rand.New(rand.NewSource(1))
	s := &rowSorter{l: l}
	want := map[int64]int{}
	for i := 0; i < 200; i++ {
		k := rng.Int63n(150) - 75 // negatives, positives and duplicates
		want[k]++
		var kb [8]byte
		binary.BigEndian.PutUint64(kb[:], uint64(k))
		v := []byte("x")
		if i%5 == 0 {
			v = nil
		}
		r := &Row{}
		r.set([][]byte{kb[:], v})
		if err := s.add(r); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.runs) == 0 {
		t.Fatal("no run was spilled: the test does not exercise the merge")
	}
	st, err := s.stream()
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	got := map[int64]int{}
	var prev *int64
	n := 0
	for {
		r, err := st.next()
		if err != nil {
			t.Fatal(err)
		}
		if r == nil {
			break
		}
		n++
		k := int64(binary.BigEndian.Uint64(r.Values[0]))
		if prev != nil && k < *prev {
			t.Fatalf("row %d: key %d after %d: not in order", n, k, *prev)
		}
		kk := k
		prev = &kk
		got[k]++
	}
	if n != 200 {
		t.Fatalf("the merge returned %d rows, want 200", n)
	}
	for k, c := range want {
		if got[k] != c {
			t.Errorf("key %d: %d rows, want %d", k, got[k], c)
		}
	}
}

func catalogColumn(oid uint32) catalog.Column { return catalog.Column{TypeOID: oid} }
