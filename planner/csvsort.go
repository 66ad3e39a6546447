package planner

import (
	"bufio"
	"container/heap"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"sort"
)

// csvRunRows is how many converted CSV rows are sorted in memory at once.
// A larger file is sorted in runs written to temporary files and merged, so
// memory stays bounded whatever the file's size. A variable for tests.
var csvRunRows = 200000

// rowSorter sorts rows in key order with bounded memory: an external merge
// sort over runs of csvRunRows rows.
type rowSorter struct {
	l    *layout
	rows []*Row
	runs []*os.File
}

func (s *rowSorter) add(r *Row) error {
	s.rows = append(s.rows, r)
	if len(s.rows) >= csvRunRows {
		return s.spill()
	}
	return nil
}

func (s *rowSorter) sortRows() {
	sort.SliceStable(s.rows, func(i, j int) bool { return s.l.compareKeys(s.rows[i], s.rows[j]) < 0 })
}

// spill writes the rows in memory, sorted, as one run.
func (s *rowSorter) spill() error {
	s.sortRows()
	f, err := os.CreateTemp("", "rowform-sort-*")
	if err != nil {
		return fmt.Errorf("creating a sort file: %w", err)
	}
	_ = os.Remove(f.Name()) // reachable through f only
	w := bufio.NewWriterSize(f, 256<<10)
	var b [4]byte
	for _, r := range s.rows {
		binary.BigEndian.PutUint16(b[:2], uint16(len(r.Values)))
		w.Write(b[:2])
		for _, v := range r.Values {
			if v == nil {
				binary.BigEndian.PutUint32(b[:], 0xFFFFFFFF)
				w.Write(b[:])
				continue
			}
			binary.BigEndian.PutUint32(b[:], uint32(len(v)))
			w.Write(b[:])
			w.Write(v)
		}
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return fmt.Errorf("writing a sort file: %w", err)
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		_ = f.Close()
		return err
	}
	s.runs = append(s.runs, f)
	s.rows = s.rows[:0]
	return nil
}

// stream returns the rows in key order. close removes the runs.
func (s *rowSorter) stream() (rowStream, error) {
	if len(s.runs) == 0 {
		s.sortRows()
		return &sliceStream{rows: s.rows}, nil
	}
	if len(s.rows) > 0 {
		if err := s.spill(); err != nil {
			return nil, err
		}
	}
	m := &runMerge{h: runHeap{l: s.l}, files: s.runs}
	for _, f := range s.runs {
		rr := &runReader{r: bufio.NewReaderSize(f, 64<<10)}
		ok, err := rr.advance()
		if err != nil {
			return nil, err
		}
		if ok {
			m.h.items = append(m.h.items, rr)
		}
	}
	heap.Init(&m.h)
	return m, nil
}

// runReader reads one sorted run.
type runReader struct {
	r   *bufio.Reader
	row Row
	buf [][]byte
}

// advance reads the next row of the run; false at its end.
func (rr *runReader) advance() (bool, error) {
	var b [4]byte
	if _, err := io.ReadFull(rr.r, b[:2]); err != nil {
		if err == io.EOF {
			return false, nil
		}
		return false, err
	}
	n := int(binary.BigEndian.Uint16(b[:2]))
	rr.buf = rr.buf[:0]
	for i := 0; i < n; i++ {
		if _, err := io.ReadFull(rr.r, b[:]); err != nil {
			return false, err
		}
		l := binary.BigEndian.Uint32(b[:])
		if l == 0xFFFFFFFF {
			rr.buf = append(rr.buf, nil)
			continue
		}
		v := make([]byte, l)
		if _, err := io.ReadFull(rr.r, v); err != nil {
			return false, err
		}
		rr.buf = append(rr.buf, v)
	}
	rr.row.set(rr.buf)
	return true, nil
}

// runHeap orders run readers by their current row's key.
type runHeap struct {
	items []*runReader
	l     *layout
}

func (h runHeap) Len() int           { return len(h.items) }
func (h runHeap) Less(i, j int) bool { return h.l.compareKeys(&h.items[i].row, &h.items[j].row) < 0 }
func (h runHeap) Swap(i, j int)      { h.items[i], h.items[j] = h.items[j], h.items[i] }
func (h *runHeap) Push(x any)        { h.items = append(h.items, x.(*runReader)) }
func (h *runHeap) Pop() any {
	old := h.items
	x := old[len(old)-1]
	h.items = old[:len(old)-1]
	return x
}

// runMerge merges sorted runs into one key-ordered stream.
type runMerge struct {
	h     runHeap
	files []*os.File
	last  *runReader // whose row was returned last; advanced on the next call
}

func (m *runMerge) next() (*Row, error) {
	if m.last != nil {
		ok, err := m.last.advance()
		if err != nil {
			return nil, err
		}
		if ok {
			heap.Fix(&m.h, 0)
		} else {
			heap.Pop(&m.h)
		}
		m.last = nil
	}
	if m.h.Len() == 0 {
		return nil, nil
	}
	top := m.h.items[0]
	m.last = top
	return &top.row, nil
}

func (m *runMerge) close() error {
	for _, f := range m.files {
		_ = f.Close()
	}
	m.files = nil
	return nil
}
