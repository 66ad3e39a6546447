// Package linesort sorts lines of text in bounded memory: up to a limit
// of bytes the lines are sorted in memory; past it, each full batch is
// sorted and written to an unlinked temporary file (a run), and the runs
// are merged when the lines are written out. Runs are merged
// mergeFanIn at a time as they pile up, so that however many lines there
// are, a Sorter holds few files open and few read buffers.
package linesort

import (
	"bufio"
	"bytes"
	"container/heap"
	"encoding/binary"
	"io"
	"os"
	"slices"
)

// DefaultMemory is how many bytes of lines a Sorter holds in memory when
// New is given a limit <= 0.
const DefaultMemory = 32 << 20

// lineOverhead is what a line in memory costs besides its bytes (its
// slice header), counted against the memory limit.
const lineOverhead = 24

// runBuffer is the read buffer of each run while the runs are merged.
const runBuffer = 32 << 10

// mergeFanIn is how many runs of one level a Sorter lets pile up before it
// merges them into one run of the next level (spilled runs are level 0).
// So a Sorter that spilled n times has fewer than mergeFanIn runs of each
// level, about mergeFanIn * log(n)/log(mergeFanIn) at most, and every line
// is written about log(n)/log(mergeFanIn) times.
const mergeFanIn = 16

// Sorter collects lines and writes them in the order of its comparison.
// Lines written out with WriteTo must not contain '\n'; Each gives any
// bytes back as they were added (a line may be a binary record). Lines
// that compare equal keep no particular order, so a comparison that is a
// total order (ends with bytes.Compare) gives the same output for the same
// lines in any order of Add. A Sorter is not safe for concurrent use.
type Sorter struct {
	dir   string
	limit int
	cmp   func(a, b []byte) int
	lines [][]byte
	bytes int
	runs  []*os.File
	// levels[i] is how many merges made runs[i]: mergeFanIn^levels[i]
	// spills' worth of lines.
	levels []int
}

// New returns a Sorter ordering lines by cmp that keeps up to memory
// bytes of lines in memory (DefaultMemory when memory <= 0) and writes its
// runs to unlinked temporary files in dir ("" for the system's).
func New(dir string, memory int, cmp func(a, b []byte) int) *Sorter {
	if memory <= 0 {
		memory = DefaultMemory
	}
	return &Sorter{dir: dir, limit: memory, cmp: cmp}
}

// Add adds a copy of line.
func (s *Sorter) Add(line []byte) error {
	size := len(line) + lineOverhead
	if s.bytes+size > s.limit && len(s.lines) > 0 {
		if err := s.spill(); err != nil {
			return err
		}
	}
	s.lines = append(s.lines, bytes.Clone(line))
	s.bytes += size
	return nil
}

// spill sorts the lines in memory and writes them to a new run, then
// merges the last mergeFanIn runs into one while they are of one level.
func (s *Sorter) spill() error {
	slices.SortFunc(s.lines, s.cmp)
	err := s.newRun(0, func(w *runWriter) error {
		for _, l := range s.lines {
			if err := w.write(l); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		return err
	}
	clear(s.lines) // the written lines are garbage now, not held by the array
	s.lines, s.bytes = s.lines[:0], 0
	for n := len(s.runs); n >= mergeFanIn && s.levels[n-mergeFanIn] == s.levels[n-1]; n = len(s.runs) {
		if err := s.mergeLast(mergeFanIn); err != nil {
			return err
		}
	}
	return nil
}

// mergeLast merges the last n runs into one run of the next level.
func (s *Sorter) mergeLast(n int) error {
	first := len(s.runs) - n
	merged, level := s.runs[first:], s.levels[first]+1
	s.runs, s.levels = s.runs[:first:first], s.levels[:first:first]
	defer func() {
		for _, f := range merged {
			_ = f.Close()
		}
	}()
	return s.newRun(level, func(w *runWriter) error { return s.merge(merged, w.write) })
}

// newRun adds a run of level to the Sorter, written by fill.
func (s *Sorter) newRun(level int, fill func(w *runWriter) error) error {
	f, err := os.CreateTemp(s.dir, ".rowform-sort-*")
	if err != nil {
		return err
	}
	_ = os.Remove(f.Name()) // reachable through f only
	s.runs, s.levels = append(s.runs, f), append(s.levels, level)
	w := &runWriter{w: bufio.NewWriterSize(f, 64<<10)}
	if err := fill(w); err != nil {
		return err
	}
	return w.w.Flush()
}

// runWriter writes the lines of a run, each after its length (a uvarint),
// so that a line may hold any bytes.
type runWriter struct {
	w   *bufio.Writer
	hdr [binary.MaxVarintLen64]byte
}

func (w *runWriter) write(line []byte) error {
	if _, err := w.w.Write(w.hdr[:binary.PutUvarint(w.hdr[:], uint64(len(line)))]); err != nil {
		return err
	}
	_, err := w.w.Write(line)
	return err
}

// WriteTo writes every line added, in order, each ending in '\n'. It (or
// Each) may be called once; Close releases the runs either way.
func (s *Sorter) WriteTo(w io.Writer) (int64, error) {
	cw := &countingWriter{w: w}
	bw := bufio.NewWriterSize(cw, 64<<10)
	err := s.Each(func(line []byte) error {
		if _, err := bw.Write(line); err != nil {
			return err
		}
		return bw.WriteByte('\n')
	})
	if ferr := bw.Flush(); err == nil {
		err = ferr
	}
	return cw.n, err
}

// Each calls fn with every line added, in order; the line is valid during
// the call only. It (or WriteTo) may be called once; Close releases the
// runs either way.
func (s *Sorter) Each(fn func(line []byte) error) error {
	if len(s.runs) == 0 {
		slices.SortFunc(s.lines, s.cmp)
		for _, l := range s.lines {
			if err := fn(l); err != nil {
				return err
			}
		}
		return nil
	}
	if len(s.lines) > 0 {
		if err := s.spill(); err != nil {
			return err
		}
	}
	return s.merge(s.runs, fn)
}

// merge calls fn with the lines of runs, in order.
func (s *Sorter) merge(runs []*os.File, fn func(line []byte) error) error {
	m := &merge{cmp: s.cmp}
	for _, f := range runs {
		if _, err := f.Seek(0, io.SeekStart); err != nil {
			return err
		}
		r := &run{r: bufio.NewReaderSize(f, runBuffer)}
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			m.runs = append(m.runs, r)
		}
	}
	heap.Init(m)
	for m.Len() > 0 {
		r := m.runs[0]
		if err := fn(r.line); err != nil {
			return err
		}
		ok, err := r.next()
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(m, 0)
		} else {
			heap.Pop(m)
		}
	}
	return nil
}

// Close releases the Sorter's runs and lines.
func (s *Sorter) Close() {
	for _, f := range s.runs {
		_ = f.Close()
	}
	s.runs, s.levels, s.lines = nil, nil, nil
}

// run is one sorted temporary file being merged; line is its current
// line.
type run struct {
	r    *bufio.Reader
	line []byte
}

// next reads the run's next line; false at its end.
func (r *run) next() (bool, error) {
	n, err := binary.ReadUvarint(r.r)
	if err == io.EOF {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if uint64(cap(r.line)) < n {
		r.line = make([]byte, n)
	}
	r.line = r.line[:n]
	if _, err := io.ReadFull(r.r, r.line); err != nil {
		return false, err
	}
	return true, nil
}

// merge is a heap of runs by their current lines.
type merge struct {
	cmp  func(a, b []byte) int
	runs []*run
}

func (m *merge) Len() int { return len(m.runs) }
func (m *merge) Less(i, j int) bool {
	return m.cmp(m.runs[i].line, m.runs[j].line) < 0
}
func (m *merge) Swap(i, j int) { m.runs[i], m.runs[j] = m.runs[j], m.runs[i] }
func (m *merge) Push(x any)    { m.runs = append(m.runs, x.(*run)) }
func (m *merge) Pop() any {
	r := m.runs[len(m.runs)-1]
	m.runs = m.runs[:len(m.runs)-1]
	return r
}

type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	return n, err
}

// Natural compares a and b byte by byte, except that runs of ASCII digits
// compare as the numbers they spell ("9" before "10"; with equal values,
// fewer leading zeros first), negative ones too where the minus sign
// begins the text or a JSON string ("-10" before "-9" before "3"). Digits
// after a decimal point compare as any run of digits ("1.9" before "1.10").
// It is a total order: strings that differ never compare equal.
func Natural(a, b []byte) int { return natural(a, b, false) }

// NaturalJSON is Natural for JSON text whose strings are compared where
// they begin at the same place, as in two objects of the same members: a
// double quote ranks below every other byte, so that a string comes
// before the strings it begins ("a" before "a b", as text sorts). Two
// strings that each begin with a decimal number ("1.10", "-2.5") compare
// by it ("1.10" before "1.9"), as a numeric key's values do; other digits
// after a point compare as Natural's ("v1.9" before "v1.10").
func NaturalJSON(a, b []byte) int { return natural(a, b, true) }

func natural(a, b []byte, quoteFirst bool) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if quoteFirst {
			if ea, eb := decimalString(a, i), decimalString(b, j); ea > 0 && eb > 0 {
				if c := compareDecimals(a[i:ea], b[j:eb]); c != 0 {
					return c
				}
				i, j = ea, eb
				continue
			}
		}
		if isDigit(a[i]) && isDigit(b[j]) {
			ei, ej := digitsEnd(a, i), digitsEnd(b, j)
			if c := compareNumbers(a[i:ei], b[j:ej]); c != 0 {
				if negative(a, i) && negative(b, j) {
					return -c // -10 before -9
				}
				return c
			}
			i, j = ei, ej
			continue
		}
		if ca, cb := a[i], b[j]; ca != cb {
			switch {
			case quoteFirst && ca == '"':
				return -1
			case quoteFirst && cb == '"':
				return 1
			case ca < cb:
				return -1
			}
			return 1
		}
		i++
		j++
	}
	switch {
	case i < len(a):
		return 1
	case j < len(b):
		return -1
	}
	return 0
}

// negative reports whether the digits at s[i] follow a minus sign that
// begins the text or a JSON string ("-12", "\"-12"): a negative number,
// where a larger run of digits is the smaller number. A minus sign inside a
// word ("item-12") is a hyphen.
func negative(s []byte, i int) bool {
	return i > 0 && s[i-1] == '-' && (i == 1 || s[i-2] == '"')
}

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// decimalString returns the end of the decimal number with a fraction that
// a JSON string beginning at s[i] begins with ("-12.50" in "\"-12.50\"",
// "1.9" in "\"1.9-beta\""), or 0 when the string there begins with none.
// A string begins after a double quote that is not a closing one: in
// JSON, a closing quote is followed by ',', ':', '}' or ']', never by a
// digit or '-'. Every string that begins with a decimal compares by it
// first, so that the order stays transitive ("1.10" < "1.9" < "1.9-beta",
// and "1.10" < "1.9-beta").
func decimalString(s []byte, i int) int {
	if i == 0 || s[i-1] != '"' {
		return 0
	}
	k := i
	if k < len(s) && s[k] == '-' {
		k++
	}
	e := digitsEnd(s, k)
	if e == k || e >= len(s) || s[e] != '.' {
		return 0
	}
	f := digitsEnd(s, e+1)
	if f == e+1 {
		return 0
	}
	return f
}

// compareDecimals compares two decimal numbers as decimalString finds
// them by value, then as text (so that "1.5" and "1.50" still differ:
// the shorter first).
func compareDecimals(a, b []byte) int {
	na, nb := len(a) > 0 && a[0] == '-', len(b) > 0 && b[0] == '-'
	if na != nb {
		if na {
			return -1
		}
		return 1
	}
	ia, fa, _ := bytes.Cut(bytes.TrimPrefix(a, []byte("-")), []byte("."))
	ib, fb, _ := bytes.Cut(bytes.TrimPrefix(b, []byte("-")), []byte("."))
	c := cmpInt(len(bytes.TrimLeft(ia, "0")), len(bytes.TrimLeft(ib, "0")))
	if c == 0 {
		c = bytes.Compare(bytes.TrimLeft(ia, "0"), bytes.TrimLeft(ib, "0"))
	}
	if c == 0 {
		// Fractions compare digit by digit, the shorter padded with zeros.
		c = bytes.Compare(bytes.TrimRight(fa, "0"), bytes.TrimRight(fb, "0"))
	}
	if na {
		c = -c // -2.5 before -1.5
	}
	if c == 0 {
		c = cmpInt(len(a), len(b))
		if c == 0 {
			c = bytes.Compare(a, b)
		}
	}
	return c
}

func digitsEnd(s []byte, i int) int {
	for i < len(s) && isDigit(s[i]) {
		i++
	}
	return i
}

// compareNumbers compares two runs of digits by value, then by length
// (fewer leading zeros first).
func compareNumbers(a, b []byte) int {
	ta, tb := bytes.TrimLeft(a, "0"), bytes.TrimLeft(b, "0")
	if len(ta) != len(tb) {
		return cmpInt(len(ta), len(tb))
	}
	if c := bytes.Compare(ta, tb); c != 0 {
		return c
	}
	return cmpInt(len(a), len(b))
}

func cmpInt(a, b int) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}
