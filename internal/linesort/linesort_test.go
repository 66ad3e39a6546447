package linesort

import (
	"bytes"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"
)

// sortAll adds lines to a Sorter keeping memory bytes and returns what it
// writes, and how many runs it spilled.
func sortAll(t *testing.T, lines []string, memory int) (string, int) {
	t.Helper()
	s := New(t.TempDir(), memory, bytes.Compare)
	defer s.Close()
	for _, l := range lines {
		if err := s.Add([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	runs := len(s.runs)
	var out bytes.Buffer
	n, err := s.WriteTo(&out)
	if err != nil {
		t.Fatal(err)
	}
	if n != int64(out.Len()) {
		t.Errorf("WriteTo returned %d bytes, wrote %d", n, out.Len())
	}
	return out.String(), runs
}

// TestSorterInMemoryAndInRuns: the same lines, added in different orders,
// come out sorted and identical whether they stay in memory or spill into
// runs that are merged (including duplicate and empty-run edge cases).
func TestSorterInMemoryAndInRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	var lines []string
	for i := range 5000 {
		lines = append(lines, fmt.Sprintf("line %d %x", r.IntN(1000), i%7))
	}
	want := slices.Clone(lines)
	slices.Sort(want)
	wantText := strings.Join(want, "\n") + "\n"

	for _, memory := range []int{0, 1 << 10, 4 << 10, 64 << 10} {
		shuffled := slices.Clone(lines)
		r.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
		got, runs := sortAll(t, shuffled, memory)
		if got != wantText {
			t.Errorf("memory %d: the lines did not come out sorted", memory)
		}
		if memory > 0 && memory < 64<<10 && runs < 2 {
			t.Errorf("memory %d: %d runs, want the lines spilled into several", memory, runs)
		}
		if memory == 0 && runs != 0 {
			t.Errorf("default memory: %d runs for %d lines, want none", runs, len(lines))
		}
	}
	if got, _ := sortAll(t, nil, 1); got != "" {
		t.Errorf("no lines wrote %q", got)
	}
}

// TestSorterLeavesNoFiles: the runs are unlinked temporary files.
func TestSorterLeavesNoFiles(t *testing.T) {
	dir := t.TempDir()
	s := New(dir, 10, bytes.Compare)
	for _, l := range []string{"c", "b", "a", "d"} {
		if err := s.Add([]byte(l)); err != nil {
			t.Fatal(err)
		}
	}
	if len(s.runs) == 0 {
		t.Fatal("no runs with a 10-byte limit")
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("files left in the directory: %v", entries)
	}
	var out bytes.Buffer
	if _, err := s.WriteTo(&out); err != nil {
		t.Fatal(err)
	}
	s.Close()
	if out.String() != "a\nb\nc\nd\n" {
		t.Errorf("got %q", out.String())
	}
}

// checkOrder checks that cmp orders each pair of ordered as listed.
func checkOrder(t *testing.T, name string, cmp func(a, b []byte) int, ordered []string) {
	t.Helper()
	for i, a := range ordered {
		for j, b := range ordered {
			got := cmp([]byte(a), []byte(b))
			want := 0
			if i < j {
				want = -1
			} else if i > j {
				want = 1
			}
			if got != want {
				t.Errorf("%s(%s, %s) = %d, want %d", name, a, b, got, want)
			}
		}
	}
}

func TestNatural(t *testing.T) {
	checkOrder(t, "Natural", Natural, []string{
		``, `-10`, `-9`, `-1`, `a b`, `a"`, `id 2`, `id 9`, `id 10`, `id 010`, `id 11`, `id10x`, `id10y`, `ida`,
	})
	checkOrder(t, "NaturalJSON", NaturalJSON, []string{
		``, `{"id":"-10"}`, `{"id":"-9"}`, `{"id":"-1"}`, `{"id":"2"}`, `{"id":"9"}`, `{"id":"10"}`, `{"id":"010"}`, `{"id":"11"}`,
		`{"id":"100","n":"-10.5"}`, `{"id":"100","n":"-9.75"}`, `{"id":"100","n":"-9.7"}`, `{"id":"100","n":"1"}`,
		`{"id":"100","n":"1.05"}`, `{"id":"100","n":"1.10"}`, `{"id":"100","n":"01.10"}`, `{"id":"100","n":"1.100"}`, `{"id":"100","n":"1.9"}`,
		`{"id":"100","n":"2"}`, `{"id":"100","n":"2.0"}`, `{"id":"100","n":"10"}`, `{"id":"100","n":"10.25"}`,
		`{"id":"a"}`, `{"id":"a b"}`, `{"id":"a!"}`, `{"id":"a-9"}`, `{"id":"a-10"}`, `{"id":"a2"}`, `{"id":"a10"}`, `{"id":"ab"}`,
		`{"id":"v1.9"}`, `{"id":"v1.10"}`,
	})
	// Transitive where a decimal begins a longer string: 1.10 < 1.9 <
	// 1.9-beta, and 1.10 < 1.9-beta.
	checkOrder(t, "NaturalJSON", NaturalJSON, []string{
		`{"v":"1.10"}`, `{"v":"1.10-rc"}`, `{"v":"1.9"}`, `{"v":"1.9-beta"}`, `{"v":"1.9.1"}`, `{"v":"10"}`,
	})
}

// TestSorterBinaryLinesAndBoundedRuns: Each gives back lines of any bytes
// ('\n' and NUL included) as they were added, and a Sorter that spills
// many times merges its runs as they pile up, so that it never holds
// mergeFanIn runs of one level.
func TestSorterBinaryLinesAndBoundedRuns(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	var lines [][]byte
	for i := range 3000 {
		l := make([]byte, r.IntN(12))
		for k := range l {
			l[k] = byte(r.IntN(4)) + '\n' - 1 // '\t', '\n', '\v', '\f'
		}
		lines = append(lines, append(l, byte(i), byte(i>>8)))
	}
	lines = append(lines, []byte{})
	s := New(t.TempDir(), 256, bytes.Compare)
	defer s.Close()
	spills := 0
	for _, l := range lines {
		before := len(s.runs)
		if err := s.Add(l); err != nil {
			t.Fatal(err)
		}
		if len(s.runs) != before {
			spills++
		}
		perLevel := map[int]int{}
		for _, lv := range s.levels {
			if perLevel[lv]++; perLevel[lv] >= mergeFanIn {
				t.Fatalf("%d runs of level %d after %d spills", perLevel[lv], lv, spills)
			}
		}
	}
	if spills < 2*mergeFanIn || slices.Max(s.levels) < 1 {
		t.Fatalf("%d spills, levels %v: want runs merged while lines are added", spills, s.levels)
	}
	want := slices.Clone(lines)
	slices.SortFunc(want, bytes.Compare)
	var got [][]byte
	if err := s.Each(func(l []byte) error { got = append(got, bytes.Clone(l)); return nil }); err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("%d lines out, %d in", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("line %d is %q, want %q", i, got[i], want[i])
		}
	}
}
