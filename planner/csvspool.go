package planner

import (
	"bufio"
	"encoding/binary"
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
	buf   []byte // one encoded row, reused
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
			return tempFileErr("creating a temporary file for the CSV rows", err)
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

// write appends a row to the file: the length of its values, then the
// values as appendValues writes them. Errors surface at the flush in stream.
func (s *rowSpool) write(r *Row) {
	s.buf = appendValues(binary.BigEndian.AppendUint32(s.buf[:0], uint32(valuesSize(r.Values))), r.Values)
	s.w.Write(s.buf)
}

// stream returns the rows in the order they were added. Closing it removes
// the file.
func (s *rowSpool) stream() (rowStream, error) {
	if s.file == nil {
		return &sliceStream{rows: s.rows}, nil
	}
	if err := s.w.Flush(); err != nil {
		_ = s.file.Close()
		return nil, tempFileErr("writing the CSV rows to a temporary file", err)
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

// spoolReader reads a spooled file back. Its rows point into its buffer.
type spoolReader struct {
	r    *bufio.Reader
	file *os.File
	row  Row
	buf  []byte
}

func (sr *spoolReader) next() (*Row, error) {
	var n [4]byte
	if _, err := io.ReadFull(sr.r, n[:]); err != nil {
		if err == io.EOF {
			return nil, nil
		}
		return nil, err
	}
	size := int(binary.BigEndian.Uint32(n[:]))
	if cap(sr.buf) < size {
		sr.buf = make([]byte, size)
	}
	sr.buf = sr.buf[:size]
	if _, err := io.ReadFull(sr.r, sr.buf); err != nil {
		return nil, err
	}
	decodeValues(sr.buf, &sr.row)
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
