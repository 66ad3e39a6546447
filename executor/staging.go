package executor

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
	"os"

	"github.com/rowform/rowform/planner"
)

// copySignature starts every binary COPY stream.
var copySignature = []byte("PGCOPY\n\xff\r\n\x00")

// copyEncoder writes rows in PostgreSQL's binary COPY format.
type copyEncoder struct {
	w     *bufio.Writer
	width int
	rows  int64
}

func newCopyEncoder(w io.Writer, width int) *copyEncoder {
	e := &copyEncoder{w: bufio.NewWriterSize(w, 256<<10), width: width}
	e.w.Write(copySignature)
	e.w.Write(make([]byte, 8)) // flags and header extension length
	return e
}

// add appends a row of the first width values.
func (e *copyEncoder) add(values [][]byte) error {
	var b [4]byte
	binary.BigEndian.PutUint16(b[:2], uint16(e.width))
	e.w.Write(b[:2])
	for _, v := range values[:e.width] {
		if v == nil {
			binary.BigEndian.PutUint32(b[:], 0xFFFFFFFF)
			e.w.Write(b[:])
			continue
		}
		binary.BigEndian.PutUint32(b[:], uint32(len(v)))
		e.w.Write(b[:])
		if _, err := e.w.Write(v); err != nil {
			return err
		}
	}
	e.rows++
	return nil
}

// finish writes the trailer and flushes.
func (e *copyEncoder) finish() error {
	e.w.Write([]byte{0xFF, 0xFF})
	return e.w.Flush()
}

// stagingFile collects rows in binary COPY format on disk, so that the
// change set of a sync of any size is held in constant memory until it is
// shipped with COPY FROM STDIN (FORMAT binary).
type stagingFile struct {
	f *os.File
	*copyEncoder
	finished bool
}

func newStagingFile(width int) (*stagingFile, error) {
	f, err := os.CreateTemp("", "rowform-stage-*")
	if err != nil {
		return nil, fmt.Errorf("creating a staging file: %w", err)
	}
	// The file is only reachable through f from here on.
	_ = os.Remove(f.Name())
	return &stagingFile{f: f, copyEncoder: newCopyEncoder(f, width)}, nil
}

// reader finishes the file and returns it from the start.
func (s *stagingFile) reader() (io.Reader, error) {
	if !s.finished {
		if err := s.finish(); err != nil {
			return nil, fmt.Errorf("writing the staging file: %w", err)
		}
		s.finished = true
	}
	if _, err := s.f.Seek(0, io.SeekStart); err != nil {
		return nil, err
	}
	return bufio.NewReaderSize(s.f, 256<<10), nil
}

func (s *stagingFile) close() { _ = s.f.Close() }

// stagingSink writes a diff's changes into three staging files. Deletes of
// rows with a NULL in the key (only a mirror has them) cannot be matched by
// key: they are counted, and deleted by a NULL test instead.
type stagingSink struct {
	width                  int
	nkey                   int
	inserts, updates, dels *stagingFile
	nullKeyDeletes         int64
	// history, when set, sees every insert and update too, for the run
	// history (history.go).
	history *historySink
}

func newStagingSink(width, nkey int) (*stagingSink, error) {
	s := &stagingSink{width: width, nkey: nkey}
	var err error
	if s.inserts, err = newStagingFile(width); err != nil {
		return nil, err
	}
	if s.updates, err = newStagingFile(width); err != nil {
		s.inserts.close()
		return nil, err
	}
	if s.dels, err = newStagingFile(nkey); err != nil {
		s.inserts.close()
		s.updates.close()
		return nil, err
	}
	return s, nil
}

func (s *stagingSink) Change(kind planner.ChangeKind, src, dst *planner.Row, changed []int) error {
	if s.history != nil {
		if err := s.history.Change(kind, src, dst, changed); err != nil {
			return err
		}
	}
	switch kind {
	case planner.ChangeInsert:
		return s.inserts.add(src.Values)
	case planner.ChangeUpdate:
		return s.updates.add(src.Values)
	case planner.ChangeDelete:
		for _, v := range dst.Values[:s.nkey] {
			if v == nil {
				s.nullKeyDeletes++
				return nil
			}
		}
		return s.dels.add(dst.Values)
	}
	return nil
}

func (s *stagingSink) close() {
	s.inserts.close()
	s.updates.close()
	s.dels.close()
}
