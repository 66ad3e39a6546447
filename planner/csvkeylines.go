package planner

import (
	"fmt"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/rowform/rowform/internal/plural"
)

// maxKeyLines is how many lines a null_source_key or duplicate_source_key
// finding names, per key and for the NULL keys.
const maxKeyLines = 5

// csvKeyLines are the lines of a CSV source that its key findings are
// about: the first lines whose key has a NULL, and the lines of each example
// key of the duplicates.
type csvKeyLines struct {
	file string // the file's base name
	null []int
	// nulls counts every line with a NULL key, named or not.
	nulls int
	dup   map[string][]int
	dups  map[string]int
}

// findKeyLines reads the sync's CSV file once more, after a diff that found
// NULL or duplicate keys, for the lines to name in those findings. A
// duplicate is found by the text of its key as the finding shows it
// (`id=7`), so a line that spells an equal key differently ("007", " 7") is
// not named; nor are the lines of keys with sensitive columns, whose text is
// masked. It returns nil when the source is no CSV file or the file cannot
// be read again: the findings then go without lines.
func (p *Prepared) findKeyLines(nulls bool, dupExamples []string) *csvKeyLines {
	f := p.Sync.Source.CSV
	if f == nil || (!nulls && len(dupExamples) == 0) {
		return nil
	}
	idx := make([]int, p.layout.NKey)
	for i := range idx {
		ix, ok := p.csvCols[p.layout.Cols[i].Source]
		if !ok {
			return nil
		}
		idx[i] = ix
		if p.layout.Cols[i].Sensitive {
			dupExamples = nil
		}
	}
	want := map[string]bool{}
	for _, ex := range dupExamples {
		want[ex] = true
	}
	out := &csvKeyLines{file: filepath.Base(f.Path), dup: map[string][]int{}, dups: map[string]int{}}
	if !p.eachCSVRecord(func(rec []csvField, line int) bool {
		if hasNullKey(rec, idx) {
			if nulls {
				out.nulls++
				if len(out.null) < maxKeyLines {
					out.null = append(out.null, line)
				}
			}
			return true
		}
		if len(want) == 0 {
			return true
		}
		for _, trim := range []bool{false, true} {
			if k := p.layout.renderTextKey(rec, idx, trim); want[k] {
				out.dups[k]++
				if len(out.dup[k]) < maxKeyLines {
					out.dup[k] = append(out.dup[k], line)
				}
				break
			}
		}
		return true
	}) {
		return nil
	}
	return out
}

// hasNullKey reports whether a key field of rec (idx: the key's fields) is
// NULL, or missing from a short record.
func hasNullKey(rec []csvField, idx []int) bool {
	for _, ix := range idx {
		if ix >= len(rec) || rec[ix].Null {
			return true
		}
	}
	return false
}

// renderTextKey renders the key fields of a CSV record as renderKey renders
// a row's key, taking each field's text as the value's (trimmed of spaces
// when trim is set, as the server reads a number).
func (l *layout) renderTextKey(rec []csvField, idx []int, trim bool) string {
	parts := make([]string, len(idx))
	for i, ix := range idx {
		s := rec[ix].Value
		if trim {
			s = strings.TrimSpace(s)
		}
		parts[i] = l.Cols[i].Dest + "=" + FormatValue(quoteReserved(s))
	}
	return strings.Join(parts, " ")
}

// nullSentence names the lines with a NULL key, "" when there are none.
func (k *csvKeyLines) nullSentence() string {
	if k == nil || len(k.null) == 0 {
		return ""
	}
	s := fmt.Sprintf("The key is NULL on %s of %s", lineList(k.null), k.file)
	if k.nulls > len(k.null) {
		s += fmt.Sprintf(" (the first %d of %d lines)", len(k.null), k.nulls)
	}
	return s + "."
}

// dupSentence names the lines of each example key, in the examples' order,
// "" when none was found.
func (k *csvKeyLines) dupSentence(examples []string) string {
	if k == nil {
		return ""
	}
	var parts []string
	for _, ex := range examples {
		lines := k.dup[ex]
		if len(lines) == 0 {
			continue
		}
		part := ex + " is on " + lineList(lines)
		switch n := k.dups[ex]; {
		case n > len(lines):
			part += fmt.Sprintf(" (the first %d of %d)", len(lines), n)
		case n == 1:
			part += " and on another line that spells it differently"
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return ""
	}
	return "In " + k.file + ": " + strings.Join(parts, "; ") + "."
}

// lineList is "line 4", "lines 3 and 9", "lines 3, 9 and 12".
func lineList(lines []int) string {
	texts := make([]string, len(lines))
	for i, n := range lines {
		texts[i] = strconv.Itoa(n)
	}
	word := "line" + plural.S(len(lines))
	if len(texts) == 1 {
		return word + " " + texts[0]
	}
	return word + " " + strings.Join(texts[:len(texts)-1], ", ") + " and " + texts[len(texts)-1]
}
