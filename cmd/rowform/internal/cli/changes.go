package cli

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"sync"

	"github.com/rowform/rowform/internal/linesort"
	"github.com/rowform/rowform/internal/safefile"
	"github.com/rowform/rowform/planner"
)

// changesFile collects `plan -changes=FILE`: every change of every sync as
// one JSON line (planner.Change). The planner plans syncs at once, so each
// sync's lines first go to an unlinked temporary file of its own; finish
// then writes them out in the plan's sync order, only for the syncs that
// were diffed to the end, each sync's sorted by key (entryOrder), and
// replaces FILE atomically.
type changesFile struct {
	path   string
	filter func([]byte) []byte

	mu    sync.Mutex
	parts map[string]*changesPart
	err   error
}

// changesPart holds the lines of one sync.
type changesPart struct {
	f *os.File
	w *bufio.Writer
	n int64
}

func newChangesFile(path string, filter func([]byte) []byte) *changesFile {
	return &changesFile{path: path, filter: filter, parts: map[string]*changesPart{}}
}

// add writes one change; it is planner.Options.Changes.
func (c *changesFile) add(ch *planner.Change) error {
	// Change's own encoding is compact and escapes as json.Marshal does;
	// json.Marshal would copy and check it once more (a wide change is
	// hundreds of MB).
	b, err := ch.MarshalJSON()
	if err != nil {
		return err
	}
	if c.filter != nil {
		b = c.filter(b)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.err != nil {
		return c.err
	}
	part := c.parts[ch.Sync]
	if part == nil {
		f, err := os.CreateTemp(filepath.Dir(c.path), "."+filepath.Base(c.path)+".*.part")
		if err != nil {
			c.err = err
			return err
		}
		_ = os.Remove(f.Name()) // reachable through f only
		part = &changesPart{f: f, w: bufio.NewWriterSize(f, 64<<10)}
		c.parts[ch.Sync] = part
	}
	part.n++
	if _, err := part.w.Write(append(b, '\n')); err != nil {
		c.err = err
		return err
	}
	return nil
}

// finish writes FILE: the lines of each sync of p that was diffed, in p's
// order, each sync's in key order (entryOrder), so that the same changes give the
// same file however the diff's workers found them. One sync at a time is
// sorted, in linesort's bounded memory. The file is replaced atomically
// (safefile.WriteFrom): on failure FILE is left as it was. It returns the
// number of changes written.
func (c *changesFile) finish(p *planner.Plan) (n int64, err error) {
	defer c.close()
	if c.err != nil {
		return 0, c.err
	}
	err = safefile.WriteFrom(c.path, func(w io.Writer) error {
		for _, s := range p.Syncs {
			if s == nil || !s.Diffed || c.parts[s.Name] == nil {
				continue
			}
			part := c.parts[s.Name]
			if err := part.w.Flush(); err != nil {
				return err
			}
			if _, err := part.f.Seek(0, io.SeekStart); err != nil {
				return err
			}
			if err := writeSorted(w, part.f, filepath.Dir(c.path)); err != nil {
				return err
			}
			n += part.n
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// close releases the per-sync temporary files.
func (c *changesFile) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, part := range c.parts {
		_ = part.f.Close()
		delete(c.parts, name)
	}
	if c.err == nil {
		c.err = errors.New("the changes file is closed")
	}
}

// wideChange is the length from which writeSorted sorts a line by
// reference: the sorter holds the line's key and where the line is in its
// sync's file, and the line is copied from there as it is written out.
// Shorter lines are sorted whole.
const wideChange = 4 << 10

// Entries of the sorter in writeSorted: a line sorted whole, or a
// reference (offset and length in the file, 16 hex digits each) followed
// by the line's key object.
const (
	entryLine = 'L'
	entryRef  = 'R'
	refHeader = 1 + 16 + 16
)

// writeSorted writes the lines of f (from its current offset, which must
// be 0) to w in key order (entryOrder), sorting in bounded memory with its runs in
// dir. A wide line (a change of wide rows) is sorted by its key and copied
// from f when it is written, so the sort holds its key, never the line: a
// sorter holding whole lines keeps one line of every run in memory while
// it merges them, and with lines of megabytes every run holds a few lines
// only, so that memory grew with the number of changes.
func writeSorted(w io.Writer, f *os.File, dir string) error {
	s := linesort.New(dir, 0, entryOrder)
	defer s.Close()
	br := bufio.NewReaderSize(f, 64<<10)
	var entry, head []byte
	var off int64
	for {
		start := off
		line, err := br.ReadSlice('\n')
		off += int64(len(line))
		full := err != bufio.ErrBufferFull
		if !full {
			// A line longer than the buffer: its start (where the key
			// is) is kept; the rest is skipped, to be copied from f.
			head = append(head[:0], line...)
			for err == bufio.ErrBufferFull {
				var rest []byte
				rest, err = br.ReadSlice('\n')
				off += int64(len(rest))
			}
			line = head
		}
		n := off - start // the line's length, without its '\n'
		if err == nil {
			n--
			if full {
				line = line[:len(line)-1]
			}
		}
		if n > 0 {
			key, ok := []byte(nil), false
			if n >= wideChange {
				key, ok = keyObjectOf(line)
			}
			switch {
			case ok:
				entry = append(entry[:0], entryRef)
				entry = fmt.Appendf(entry, "%016x%016x", start, n)
				entry = append(entry, key...)
			case full:
				entry = append(append(entry[:0], entryLine), line...)
			default:
				// Its key does not end within the buffer: sort the line
				// whole (read again, as only its start was kept).
				entry = append(entry[:0], entryLine)
				entry = slices.Grow(entry, int(n))[:1+n]
				if _, rerr := f.ReadAt(entry[1:], start); rerr != nil {
					return rerr
				}
			}
			if aerr := s.Add(entry); aerr != nil {
				return aerr
			}
		}
		if err == io.EOF {
			break
		}
		if err != nil {
			return err
		}
	}
	return s.Each(func(e []byte) error {
		if e[0] == entryLine {
			_, err := w.Write(e[1:])
			if err == nil {
				_, err = w.Write([]byte{'\n'})
			}
			return err
		}
		start, err1 := strconv.ParseInt(string(e[1:17]), 16, 64)
		n, err2 := strconv.ParseInt(string(e[17:refHeader]), 16, 64)
		if err := errors.Join(err1, err2); err != nil {
			return err
		}
		if _, err := io.Copy(w, io.NewSectionReader(f, start, n)); err != nil {
			return err
		}
		_, err := w.Write([]byte{'\n'})
		return err
	})
}

// entryOrder orders writeSorted's entries by their changes' "key" objects
// in linesort.NaturalJSON order (column by column; the digits of numeric
// keys compare as numbers: key 9 before key 10), then by the whole entry: a
// total order, as the same key appears at most once in a sync's changes.
func entryOrder(a, b []byte) int {
	if c := linesort.NaturalJSON(entryKey(a), entryKey(b)); c != 0 {
		return c
	}
	return bytes.Compare(a, b)
}

// entryKey is the key object of one of writeSorted's entries.
func entryKey(e []byte) []byte {
	if e[0] == entryRef {
		return e[refHeader:]
	}
	return keyObject(e[1:])
}

// keyObject returns the "key" object of a change's JSON line
// (planner.Change.MarshalJSON): the first `,"key":` is the member itself,
// as a quote inside the sync's name or kind would be escaped; the object
// ends at its closing brace outside any string.
func keyObject(line []byte) []byte {
	obj, _ := keyObjectOf(line)
	return obj
}

// keyObjectOf is keyObject, and whether the object ends within line.
func keyObjectOf(line []byte) ([]byte, bool) {
	const member = `,"key":`
	i := bytes.Index(line, []byte(member))
	if i < 0 {
		return nil, false
	}
	obj := line[i+len(member):]
	depth, inString := 0, false
	for j := 0; j < len(obj); j++ {
		switch c := obj[j]; {
		case inString && c == '\\':
			j++ // the escaped byte
		case c == '"':
			inString = !inString
		case inString:
		case c == '{':
			depth++
		case c == '}':
			depth--
			if depth == 0 {
				return obj[:j+1], true
			}
		}
	}
	return obj, false
}
