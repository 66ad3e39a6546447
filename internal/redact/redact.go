// Package redact masks known secret values in text: the last line of
// defence that keeps a password out of output even when a server echoes it
// back in an error message (a secret pasted into a query, say).
package redact

import (
	"bytes"
	"io"
	"sort"
	"strings"
	"sync"
)

// Mask replaces a secret in redacted text.
const Mask = "(sensitive)"

// minLength is the shortest secret that is masked: shorter strings would
// mask ordinary words and numbers all over the output.
const minLength = 4

// Redactor replaces known secrets. The zero value masks nothing; a nil
// *Redactor is valid and masks nothing. It is safe for concurrent use.
type Redactor struct {
	mu      sync.RWMutex
	needles []string
}

// Add adds secrets to mask: each as given, in lower case (PostgreSQL folds
// identifiers it echoes), and each line of a multi-line secret (a PEM key).
func (r *Redactor) Add(secrets ...string) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	seen := map[string]bool{}
	for _, n := range r.needles {
		seen[n] = true
	}
	add := func(s string) {
		s = strings.TrimSpace(s)
		if len(s) >= minLength && !seen[s] {
			seen[s] = true
			r.needles = append(r.needles, s)
		}
	}
	for _, s := range secrets {
		add(s)
		add(strings.ToLower(s))
		if strings.ContainsAny(s, "\r\n") {
			for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
				add(line)
			}
		}
	}
	// Longest first, so a secret that contains another is masked whole.
	sort.Slice(r.needles, func(i, j int) bool { return len(r.needles[i]) > len(r.needles[j]) })
}

// String returns s with every known secret masked.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, n := range r.needles {
		if strings.Contains(s, n) {
			s = strings.ReplaceAll(s, n, Mask)
		}
	}
	return s
}

// Bytes returns b with every known secret masked.
func (r *Redactor) Bytes(b []byte) []byte {
	if r == nil {
		return b
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for _, n := range r.needles {
		if bytes.Contains(b, []byte(n)) {
			b = bytes.ReplaceAll(b, []byte(n), []byte(Mask))
		}
	}
	return b
}

// Writer masks secrets in what is written through it. It passes text on
// line by line (at '\n' and '\r'), so that a secret is never split between
// two writes; Flush passes on a partial line (a prompt).
type Writer struct {
	r   *Redactor
	w   io.Writer
	mu  sync.Mutex
	buf []byte
}

// NewWriter returns a Writer masking r's secrets on the way to w.
func NewWriter(w io.Writer, r *Redactor) *Writer { return &Writer{r: r, w: w} }

// Write buffers p and writes out every complete line, masked.
func (w *Writer) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	i := bytes.LastIndexAny(w.buf, "\n\r")
	if i < 0 {
		return len(p), nil
	}
	out := w.r.Bytes(append([]byte(nil), w.buf[:i+1]...))
	w.buf = append(w.buf[:0], w.buf[i+1:]...)
	if _, err := w.w.Write(out); err != nil {
		return 0, err
	}
	return len(p), nil
}

// Flush writes out a partial line.
func (w *Writer) Flush() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) == 0 {
		return nil
	}
	out := w.r.Bytes(append([]byte(nil), w.buf...))
	w.buf = w.buf[:0]
	_, err := w.w.Write(out)
	return err
}

// Underlying returns the writer w writes to (for terminal detection).
func (w *Writer) Underlying() io.Writer { return w.w }
