// Package redact masks known secret values in text: the last line of
// defence that keeps a password out of output even when a server echoes it
// back in an error message (a secret pasted into a query, say).
package redact

import (
	"bytes"
	"io"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
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
	// encoded matches, for each needle with characters that an output
	// format escapes, every spelling of it (see encodings.go); nil for a
	// needle that every format writes as it is.
	encoded []*regexp.Regexp
	// anchors are, per needle, a piece that every spelling contains
	// (letters and digits, which no format escapes), to skip the regexp
	// on text that cannot hold the needle; "" when there is none.
	anchors []string
}

// Add adds secrets to mask: each as given, in lower case (PostgreSQL folds
// identifiers it echoes), cut to an identifier's 63 bytes (PostgreSQL
// truncates a longer one), and each line of a multi-line secret (a PEM
// key).
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
		// As given, and without white space around it (a line of a PEM key).
		for _, s := range []string{s, strings.TrimSpace(s)} {
			if len(strings.TrimSpace(s)) >= minLength && !seen[s] && !jsonKeyword(s) {
				seen[s] = true
				r.needles = append(r.needles, s)
			}
		}
	}
	for _, s := range secrets {
		add(s)
		add(strings.ToLower(s))
		if len(s) > maxIdentifierBytes {
			// PostgreSQL cuts an identifier to 63 bytes, and echoes it so.
			add(identifierPrefix(s))
			add(identifierPrefix(strings.ToLower(s)))
		}
		if strings.ContainsAny(s, "\r\n") {
			for _, line := range strings.FieldsFunc(s, func(r rune) bool { return r == '\n' || r == '\r' }) {
				add(line)
			}
		}
	}
	// Longest first, so a secret that contains another is masked whole.
	sort.SliceStable(r.needles, func(i, j int) bool { return len(r.needles[i]) > len(r.needles[j]) })
	r.encoded = make([]*regexp.Regexp, len(r.needles))
	r.anchors = make([]string, len(r.needles))
	for i, n := range r.needles {
		r.encoded[i], r.anchors[i] = spellings(n)
	}
}

// Cut returns the largest n' <= n at which cutting s splits no secret r
// masks: a secret that s holds across n would show its first part in
// s[:n], which the filter cannot recognize as a secret, so the cut moves to
// its start. A nil *Redactor returns n.
func (r *Redactor) Cut(s string, n int) int {
	if r == nil {
		return n
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for moved := true; moved; {
		moved = false
		for _, nd := range r.needles {
			// An occurrence within these bytes holds byte n-1 and byte n.
			lo, hi := max(0, n-len(nd)+1), min(len(s), n+len(nd)-1)
			if lo >= hi {
				continue
			}
			if i := strings.Index(s[lo:hi], nd); i >= 0 && lo+i < n {
				n, moved = lo+i, true
			}
		}
	}
	return n
}

// maxIdentifierBytes is the longest identifier PostgreSQL keeps
// (NAMEDATALEN - 1).
const maxIdentifierBytes = 63

// identifierPrefix is s cut to maxIdentifierBytes as PostgreSQL cuts an
// identifier: at the last whole UTF-8 character.
func identifierPrefix(s string) string {
	if len(s) <= maxIdentifierBytes {
		return s // ToLower can shorten a string (the Kelvin sign is 3 bytes, k one)
	}
	n := maxIdentifierBytes
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n]
}

// jsonKeyword reports the words JSON writes bare (true, false, null): one
// of them masked would make every JSON document rowform writes invalid,
// and none is a secret anyone could keep.
func jsonKeyword(s string) bool {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "true", "false", "null":
		return true
	}
	return false
}

// String returns s with every known secret masked.
func (r *Redactor) String(s string) string {
	if r == nil {
		return s
	}
	return string(r.Bytes([]byte(s)))
}

// Bytes returns b with every known secret masked, in every spelling an
// output format gives it: as it is, JSON-escaped (\u003c, \", \t), Go-quoted,
// Markdown-escaped (\<, \_, \|), HTML-escaped (&lt;), doubled quotes as SQL
// writes them, control characters spelled out for a terminal, and up to
// three of these one inside another (a Go-quoted error in JSON, say).
func (r *Redactor) Bytes(b []byte) []byte {
	if r == nil {
		return b
	}
	r.mu.RLock()
	defer r.mu.RUnlock()
	for i, n := range r.needles {
		if re := r.encoded[i]; re != nil {
			b = replaceSpellings(b, re, r.anchors[i])
		}
		// As it is, also across lines (which replaceSpellings does not
		// search).
		if bytes.Contains(b, []byte(n)) {
			b = bytes.ReplaceAll(b, []byte(n), maskLines(n))
		}
	}
	return b
}

// maskLines is what replaces the needle n as it is: Mask, once per line of
// a multi-line secret, so that the text around it (a configuration file's
// lines, numbered in a diagnostic) keeps its lines.
func maskLines(n string) []byte {
	if !strings.ContainsAny(n, "\r\n") {
		return []byte(Mask)
	}
	var out []byte
	inLine := false
	for i := 0; i < len(n); i++ {
		switch c := n[i]; c {
		case '\r', '\n':
			out, inLine = append(out, c), false
		default:
			if !inLine {
				out, inLine = append(out, Mask...), true
			}
		}
	}
	return out
}

// replaceSpellings masks what re matches in b. An escaped spelling never
// spans lines (a line break in it is escaped too), so with an anchor only
// the lines holding the anchor are searched.
func replaceSpellings(b []byte, re *regexp.Regexp, anchor string) []byte {
	if anchor == "" {
		if re.Match(b) {
			b = re.ReplaceAllLiteral(b, []byte(Mask))
		}
		return b
	}
	var out []byte
	last, pos := 0, 0
	for {
		i := bytes.Index(b[pos:], []byte(anchor))
		if i < 0 {
			break
		}
		i += pos
		start := bytes.LastIndexAny(b[:i], "\n\r") + 1
		end := len(b)
		if j := bytes.IndexAny(b[i:], "\n\r"); j >= 0 {
			end = i + j
		}
		if line := b[start:end]; re.Match(line) {
			out = append(out, b[last:start]...)
			out = append(out, re.ReplaceAllLiteral(line, []byte(Mask))...)
			last = end
		}
		pos = end
	}
	if out == nil {
		return b
	}
	return append(out, b[last:]...)
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
