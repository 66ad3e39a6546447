package cli

import (
	"bufio"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"

	"github.com/rowform/rowform/internal/safefile"
	"github.com/rowform/rowform/planner"
)

// changesFile collects `plan -changes=FILE`: every change of every sync as
// one JSON line (planner.Change). The planner plans syncs at once, so each
// sync's lines first go to an unlinked temporary file of its own; finish
// then writes them out in the plan's sync order, only for the syncs that
// were diffed to the end, and replaces FILE atomically.
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
// order. The file is replaced atomically (safefile.WriteFrom): on failure
// FILE is left as it was. It returns the number of changes written.
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
			if _, err := io.Copy(w, part.f); err != nil {
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
