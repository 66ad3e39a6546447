package planner

import (
	"bufio"
	"encoding/binary"
	"io"
	"os"
)

// changeSpoolBytes is how much of a change set the checker keeps in memory
// before it moves it to a temporary file, by default.
const changeSpoolBytes = 16 << 20

// changeSpool keeps the changes of a diff, in the order they were found,
// for the checks that need the whole change set: in memory up to
// memLimit bytes, then in an unlinked temporary file. It can be read any
// number of times.
type changeSpool struct {
	// memLimit is how many bytes stay in memory (newChangeSpool).
	memLimit int
	mem      []byte
	file     *os.File
	w        *bufio.Writer
	n        int64
	rec      []byte // one encoded change, reused
	// reading
	row [2]Row
}

// newChangeSpool returns an empty spool that keeps up to memLimit bytes
// in memory (changeSpoolBytes when memLimit <= 0).
func newChangeSpool(memLimit int) *changeSpool {
	if memLimit <= 0 {
		memLimit = changeSpoolBytes
	}
	return &changeSpool{memLimit: memLimit}
}

// add appends a change: its kind, then its source and destination rows (a
// nil row is marked absent).
func (s *changeSpool) add(kind ChangeKind, src, dst *Row) error {
	rec := append(s.rec[:0], 0, 0, 0, 0, byte(kind))
	for _, r := range []*Row{src, dst} {
		if r == nil {
			rec = binary.BigEndian.AppendUint32(rec, nullLength)
			continue
		}
		rec = binary.BigEndian.AppendUint32(rec, uint32(valuesSize(r.Values)))
		rec = appendValues(rec, r.Values)
	}
	binary.BigEndian.PutUint32(rec, uint32(len(rec)-4))
	s.rec = rec
	s.n++
	if s.file == nil && len(s.mem)+len(rec) <= s.memLimit {
		s.mem = append(s.mem, rec...)
		return nil
	}
	if s.file == nil {
		f, err := os.CreateTemp("", "rowform-changes-*")
		if err != nil {
			return tempFileErr("creating a temporary file for the change set", err)
		}
		_ = os.Remove(f.Name()) // reachable through f only
		s.file, s.w = f, bufio.NewWriterSize(f, 256<<10)
		if _, err := s.w.Write(s.mem); err != nil {
			return tempFileErr("writing the change set to a temporary file", err)
		}
		s.mem = nil
	}
	_, err := s.w.Write(rec)
	return tempFileErr("writing the change set to a temporary file", err)
}

// len is the number of changes added.
func (s *changeSpool) len() int64 { return s.n }

// each calls fn for every change in the order they were added. The rows
// are only valid during the call.
func (s *changeSpool) each(fn func(kind ChangeKind, src, dst *Row) error) error {
	var r io.Reader
	if s.file == nil {
		r = &byteReader{b: s.mem}
	} else {
		if err := s.w.Flush(); err != nil {
			return tempFileErr("writing the change set to a temporary file", err)
		}
		if _, err := s.file.Seek(0, io.SeekStart); err != nil {
			return err
		}
		r = bufio.NewReaderSize(s.file, 256<<10)
	}
	var hdr [4]byte
	var buf []byte
	for {
		if _, err := io.ReadFull(r, hdr[:]); err != nil {
			if err == io.EOF {
				break
			}
			return err
		}
		size := int(binary.BigEndian.Uint32(hdr[:]))
		if cap(buf) < size {
			buf = make([]byte, size)
		}
		buf = buf[:size]
		if _, err := io.ReadFull(r, buf); err != nil {
			return err
		}
		kind := ChangeKind(buf[0])
		body := buf[1:]
		var rows [2]*Row
		for i := range rows {
			n := binary.BigEndian.Uint32(body)
			body = body[4:]
			if n == nullLength {
				continue
			}
			decodeValues(body[:n], &s.row[i])
			rows[i] = &s.row[i]
			body = body[n:]
		}
		if err := fn(kind, rows[0], rows[1]); err != nil {
			return err
		}
	}
	if s.file != nil {
		_, err := s.file.Seek(0, io.SeekEnd)
		return err
	}
	return nil
}

// close removes the temporary file, if any.
func (s *changeSpool) close() {
	if s.file != nil {
		_ = s.file.Close()
		s.file = nil
	}
	s.mem = nil
}

// byteReader reads a byte slice (bytes.Reader without the seek state).
type byteReader struct{ b []byte }

func (r *byteReader) Read(p []byte) (int, error) {
	if len(r.b) == 0 {
		return 0, io.EOF
	}
	n := copy(p, r.b)
	r.b = r.b[n:]
	return n, nil
}
