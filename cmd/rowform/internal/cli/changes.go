package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/rowform/rowform/internal/linesort"
	"github.com/rowform/rowform/internal/safefile"
	"github.com/rowform/rowform/planner"
)

// changesFile collects `plan -changes=FILE`: every change of every sync as
// one JSON line (planner.Change). The planner plans syncs at once, so each
// sync's lines first go to an unlinked temporary file of its own; finish
// then writes them out in the plan's sync order, only for the syncs that
// were diffed to the end, each sync's sorted by key (changeOrder), and
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
	b, err := json.Marshal(ch)
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
// order, each sync's in changeOrder, so that the same changes give the
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

// writeSorted writes the lines of r to w in changeOrder, sorting in
// bounded memory with its runs in dir.
func writeSorted(w io.Writer, r io.Reader, dir string) error {
	s := linesort.New(dir, 0, changeOrder)
	defer s.Close()
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		line, err := br.ReadSlice('\n')
		if err == bufio.ErrBufferFull {
			// A line longer than the buffer: read the rest of it.
			long := append([]byte(nil), line...)
			for err == bufio.ErrBufferFull {
				line, err = br.ReadSlice('\n')
				long = append(long, line...)
			}
			line = long
		}
		if len(line) > 0 && line[len(line)-1] == '\n' {
			line = line[:len(line)-1]
		}
		if len(line) > 0 {
			if aerr := s.Add(line); aerr != nil {
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
	_, err := s.WriteTo(w)
	return err
}

// changeOrder orders the lines of one sync by their "key" objects in
// linesort.NaturalJSON order (column by column; the digits of numeric keys
// compare as numbers: key 9 before key 10), then by the whole line: a
// total order, as the same key appears at most once in a sync's changes.
func changeOrder(a, b []byte) int {
	if c := linesort.NaturalJSON(keyObject(a), keyObject(b)); c != 0 {
		return c
	}
	return bytes.Compare(a, b)
}

// keyObject returns the "key" object of a change's JSON line
// (planner.Change.MarshalJSON): the first `,"key":` is the member itself,
// as a quote inside the sync's name or kind would be escaped; the object
// ends at its closing brace outside any string.
func keyObject(line []byte) []byte {
	const member = `,"key":`
	i := bytes.Index(line, []byte(member))
	if i < 0 {
		return nil
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
				return obj[:j+1]
			}
		}
	}
	return obj
}
