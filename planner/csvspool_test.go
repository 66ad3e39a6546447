package planner

import (
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/rowform/rowform/internal/catalog"
)

// TestRowSpoolSpills keeps more rows than fit in memory: they must come
// back from the temporary file in the order added, NULLs and empty values
// included.
func TestRowSpoolSpills(t *testing.T) {
	defer func(n int) { csvSpoolBytes = n }(csvSpoolBytes)
	csvSpoolBytes = 300 // about 5 rows
	var s rowSpool
	var want []string
	for i := 0; i < 50; i++ {
		var kb [8]byte
		binary.BigEndian.PutUint64(kb[:], uint64(i*7919%50))
		v := []byte(fmt.Sprintf("v%d", i))
		if i%7 == 0 {
			v = []byte{} // empty, not NULL
		}
		if i%5 == 0 {
			v = nil
		}
		r := &Row{}
		r.set([][]byte{kb[:], v})
		want = append(want, fmt.Sprintf("%x/%q/%v", kb, v, v == nil))
		if err := s.add(r); err != nil {
			t.Fatal(err)
		}
	}
	if s.file == nil {
		t.Fatal("no row was spilled: the test does not exercise the file")
	}
	st, err := s.stream()
	if err != nil {
		t.Fatal(err)
	}
	defer st.close()
	for i := 0; ; i++ {
		r, err := st.next()
		if err != nil {
			t.Fatal(err)
		}
		if r == nil {
			if i != len(want) {
				t.Fatalf("%d rows came back, want %d", i, len(want))
			}
			return
		}
		if got := fmt.Sprintf("%x/%q/%v", r.Values[0], r.Values[1], r.Values[1] == nil); got != want[i] {
			t.Fatalf("row %d: %s, want %s", i, got, want[i])
		}
	}
}

func catalogColumn(oid uint32) catalog.Column { return catalog.Column{TypeOID: oid} }

// TestRowSetKeepsEmptyValues: a row whose values are all empty or NULL
// keeps its empty values empty, not NULL (a CSV line `"",` with a text key).
func TestRowSetKeepsEmptyValues(t *testing.T) {
	var r Row
	r.set([][]byte{{}, nil})
	if r.Values[0] == nil || len(r.Values[0]) != 0 || r.Values[1] != nil {
		t.Fatalf("set: values %#v, want an empty value then NULL", r.Values)
	}
	l := newLayout([]column{{Dest: "k", Catalog: catalogColumn(oidText)}, {Dest: "v", Catalog: catalogColumn(oidText)}}, 1)
	var keys Row
	l.setKeys(&keys, &r)
	if keys.Values[0] == nil {
		t.Fatalf("setKeys: the empty key became NULL")
	}
}
