package planner

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"
)

// csvSpoolBytes is how many bytes of converted CSV values are kept in
// memory; past it the rows go to a temporary file, so memory stays bounded
// whatever the file's size. A variable for tests.
var csvSpoolBytes = 16 << 20

// rowSpool holds the converted rows of a CSV source until the diff reads
// them (the hash diff takes its source in any order): in memory up to
// csvSpoolBytes of values, then all of them in one temporary file.
type rowSpool struct {
	rows  []*Row
	bytes int
	file  *os.File
	w     *bufio.Writer
}

func (s *rowSpool) add(r *Row) error {
	if s.file == nil {
		for _, v := range r.Values {
			s.bytes += len(v) + 24 // the value and its slice header
		}
		if s.bytes <= csvSpoolBytes {
			s.rows = append(s.rows, r)
			return nil
		}
		f, err := os.CreateTemp("", "rowform-csv-*")
		if err != nil {
			return fmt.Errorf("creating a temporary file for the CSV rows: %w", err)
		}
		_ = os.Remove(f.Name()) // reachable through f only
		s.file, s.w = f, bufio.NewWriterSize(f, 256<<10)
		for _, r := range s.rows {
			s.write(r)
		}
		s.rows = nil
	}
	s.write(r)
	return nil
}

// write appends a row to the file: the number of values, then each value as
// a 4-byte length (0xFFFFFFFF for NULL) and its bytes. Errors surface at the
// flush in stream.
func (s *rowSpool) write(r *Row) {
	var b [4]byte
	binary.BigEndian.PutUint16(b[:2], uint16(len(r.Values)))
	s.w.Write(b[:2])
	for _, v := range r.Values {
		if v == nil {
			binary.BigEndian.PutUint32(b[:], 0xFFFFFFFF)
			s.w.Write(b[:])
			continue
		}
		binary.BigEndian.PutUint32(b[:], uint32(len(v)))
		s.w.Write(b[:])
		s.w.Write(v)
	}
}

// stream returns the rows in the order they were added. Closing it removes
// the file.
func (s *rowSpool) stream() (rowStream, error) {
	if s.file == nil {
		return &sliceStream{rows: s.rows}, nil
	}
	if err := s.w.Flush(); err != nil {
		_ = s.file.Close()
		return nil, fmt.Errorf("writing the CSV rows to a temporary file: %w", err)
	}
	if _, err := s.file.Seek(0, io.SeekStart); err != nil {
		_ = s.file.Close()
		return nil, err
	}
	return &spoolReader{r: bufio.NewReaderSize(s.file, 64<<10), file: s.file}, nil
}

// discard closes the file of rows that will not be read.
func (s *rowSpool) discard() {
	if s.file != nil {
		_ = s.file.Close()
		s.file = nil
	}
	s.rows = nil
}

// spoolReader reads a spooled file back.
type spoolReader struct {
	r    *bufio.Reader
	file *os.File
	row  Row
	buf  [][]byte
}

func (sr *spoolReader) next() (*Row, error) {
	var b [4]byte
	if _, err := io.ReadFull(sr.r, b[:2]); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		return nil, err
	}
	n := int(binary.BigEndian.Uint16(b[:2]))
	sr.buf = sr.buf[:0]
	for i := 0; i < n; i++ {
		if _, err := io.ReadFull(sr.r, b[:]); err != nil {
			return nil, err
		}
		l := binary.BigEndian.Uint32(b[:])
		if l == 0xFFFFFFFF {
			sr.buf = append(sr.buf, nil)
			continue
		}
		v := make([]byte, l)
		if _, err := io.ReadFull(sr.r, v); err != nil {
			return nil, err
		}
		sr.buf = append(sr.buf, v)
	}
	sr.row.set(sr.buf)
	return &sr.row, nil
}

func (sr *spoolReader) close() error {
	if sr.file == nil {
		return nil
	}
	err := sr.file.Close()
	sr.file = nil
	return err
}
