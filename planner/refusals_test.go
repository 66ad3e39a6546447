package planner

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/catalog"
)

// TestRejectedChangesAsKeptInMemoryBefore: what the checker keeps of its
// rejected changes on disk gives what it gave when it kept a map entry per
// change — the counts, the reject digest (which a plan file keeps, so a
// plan made before is applied after), and the rows apply lists, with their
// first reason and CSV line, ordered by key (a signed integer, and text by
// its extra sort column), then by sequence number, a sensitive key masked —
// for changes rejected in any order, some for several reasons, enough of
// them for the sort to spill.
func TestRejectedChangesAsKeptInMemoryBefore(t *testing.T) {
	l := &layout{
		Cols: []column{
			newColumn("id", "id", catalog.Column{Name: "id", Type: "bigint", TypeOID: oidInt8}, false),
			newColumn("code", "code", catalog.Column{Name: "code", Type: "text", TypeOID: oidText}, true),
			newColumn("note", "note", catalog.Column{Name: "note", Type: "text", TypeOID: oidText}, false),
		},
		NKey: 2, Orders: []keyOrder{orderSigned, orderText}, TextKeys: []int{1},
	}
	c := newChecker(&Prepared{Sync: &hclconfig.Sync{Name: "s"}, layout: l}, nil, false)
	reasons := []rejectReason{{Column: "note", Reason: "too long"}, {Constraint: "t_check", Reason: "violates the CHECK constraint"}, {Reason: "conflict"}}
	kinds := []ChangeKind{ChangeInsert, ChangeUpdate, ChangeDelete}

	// The checker as it was: the first reason, kind, key copy and line of
	// each rejected change in maps.
	type was struct {
		reason int
		kind   ChangeKind
		key    Row
		line   int
	}
	before := map[int64]*was{}
	r := rand.New(rand.NewPCG(5, 6))
	const changes = 120000
	for _, seq := range r.Perm(changes) {
		seq := int64(seq)
		if r.IntN(10) == 0 {
			continue // accepted
		}
		id := binary.BigEndian.AppendUint64(nil, uint64(int64(r.IntN(2000)-1000)))
		code := fmt.Appendf(nil, "c%d", r.IntN(30))
		row := &Row{Values: [][]byte{id, code, []byte("note"), append([]byte("sort:"), code...)}}
		if r.IntN(3) == 0 {
			row.Values = append(row.Values, []byte("a mark")) // a value that did not convert
		}
		kind := kinds[r.IntN(len(kinds))]
		for n := 1 + r.IntN(2); n > 0; n-- {
			ix, line := r.IntN(len(reasons)), 0
			if _, seen := before[seq]; !seen && r.IntN(2) == 0 {
				line = 2 + int(seq)
			}
			c.rejectAt(seq, kind, row, reasons[ix], line)
			if _, seen := before[seq]; !seen {
				w := &was{reason: c.reasonIx[reasons[ix]], kind: kind, line: line}
				l.setKeys(&w.key, row)
				before[seq] = w
			}
		}
	}

	d := newChangeDigest()
	var counts Counts
	seqs := make([]int64, 0, len(before))
	for s, w := range before {
		d.add(w.kind, &w.key, nil)
		seqs = append(seqs, s)
		switch w.kind {
		case ChangeInsert:
			counts.Insert--
		case ChangeUpdate:
			counts.Update--
		case ChangeDelete:
			counts.Delete--
		}
		counts.Reject++
	}
	if got := c.rejectDigest(); got != d.String() {
		t.Errorf("reject digest %s, want %s", got, d.String())
	}
	var got Counts
	if deletes := c.adjust(&got); got != counts || deletes != -counts.Delete {
		t.Errorf("counts %+v (%d deletes), want %+v", got, deletes, counts)
	}
	sort.Slice(seqs, func(i, j int) bool {
		a, b := before[seqs[i]], before[seqs[j]]
		if k := l.compareKeys(&a.key, &b.key); k != 0 {
			return k < 0
		}
		return seqs[i] < seqs[j]
	})
	var want []RejectedRow
	for _, s := range seqs {
		w := before[s]
		rs := c.reasons[w.reason]
		want = append(want, RejectedRow{Sync: "s", Kind: kindName(w.kind), Line: w.line,
			Key:    map[string]string{"id": l.renderColumn(0, w.key.Values[0]), "code": l.renderColumn(1, w.key.Values[1])},
			Column: rs.Column, Constraint: rs.Constraint, Reason: rs.Reason})
	}
	rows, err := c.rejectedRows()
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var listed []RejectedRow
	if err := rows.Each(func(row *RejectedRow) error { listed = append(listed, *row); return nil }); err != nil {
		t.Fatal(err)
	}
	if rows.Len() != int64(len(want)) {
		t.Errorf("Len() = %d, want %d", rows.Len(), len(want))
	}
	if len(listed) != len(want) {
		t.Fatalf("%d rows listed, want %d", len(listed), len(want))
	}
	for i := range want {
		if d := cmp.Diff(want[i], listed[i]); d != "" {
			t.Fatalf("rejected row %d differs (-want +got):\n%s", i, d)
		}
	}
	if listed[0].Key["code"] != Sensitive {
		t.Errorf("a sensitive key reads %q", listed[0].Key["code"])
	}
}
