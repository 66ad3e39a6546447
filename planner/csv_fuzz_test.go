package planner

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/rowform/rowform/hclconfig"
)

// FuzzCSVReader: whatever the bytes, the reader of csv sources never
// panics and ends (with io.EOF or an error); every record it returns is
// valid UTF-8 without NUL, within its field and byte limits, starts on a
// line at or after the previous one's, and the lines it counts are no
// more than the line breaks of the input, plus one.
func FuzzCSVReader(f *testing.F) {
	for _, s := range []string{
		"id,name\n1,a\n", "\ufeffid,name\r\n1,\"x\r\ny\"\r\n", "a;b\r1;\"\"\r", "id\n\\.\nrest\n",
		"a,\"b\n", "a,b\n1,\xff\n", "a\x00,b\n", "x\"y\"z,\"\"\"\"\n", "a,b\r\n1,2\n", "a\tb\n1\t2\n",
		"é,ü\n\xe9,\xfc\n", "a€b€c\n1€2€3\n", "\n\n\n", "\"",
	} {
		for _, d := range []string{",", ";", "\t", "€", "|"} {
			f.Add([]byte(s), d, false, 0)
			f.Add([]byte(s), d, true, 3)
		}
	}
	f.Fuzz(func(t *testing.T, in []byte, delim string, latin1 bool, maxFields int) {
		d, size := utf8.DecodeRuneInString(delim)
		if size == 0 || d == utf8.RuneError || d == '"' || d == '\n' || d == '\r' || d == 0 {
			return
		}
		file := &hclconfig.CSVFile{Delimiter: d}
		if latin1 {
			file.Encoding = hclconfig.EncodingLatin1
		}
		r := newSourceCSVReader(bytes.NewReader(in), file)
		if maxFields > 0 {
			r.MaxFields = maxFields%50 + 1
		}
		lines := bytes.Count(in, []byte("\n")) + bytes.Count(in, []byte("\r")) + 1
		last := 0
		for range len(in) + 2 {
			rec, err := r.Read()
			if errors.Is(err, io.EOF) {
				return
			}
			if err != nil {
				var ce *CSVError
				var many *TooManyFields
				if !errors.As(err, &ce) && !errors.As(err, &many) {
					t.Fatalf("an error of type %T: %v", err, err)
				}
				if ce != nil && (ce.Line < 1 || ce.Line > lines) {
					t.Fatalf("an error on line %d of an input of %d lines: %v", ce.Line, lines, err)
				}
				return
			}
			if len(rec) == 0 || (r.MaxFields > 0 && len(rec) > r.MaxFields) {
				t.Fatalf("a record of %d fields (at most %d)", len(rec), r.MaxFields)
			}
			held := 0
			for _, fld := range rec {
				held += len(fld.Value)
				if !utf8.ValidString(fld.Value) || strings.IndexByte(fld.Value, 0) >= 0 {
					t.Fatalf("a field that is not text: %q", fld.Value)
				}
				if fld.Null && fld.Value != "" {
					t.Fatalf("a NULL field with a value: %q", fld.Value)
				}
			}
			if held > csvMaxRecordBytes {
				t.Fatalf("a record of %d bytes", held)
			}
			if r.Line < last || r.Line < 1 || r.Line > lines {
				t.Fatalf("a record on line %d after line %d, of %d lines", r.Line, last, lines)
			}
			last = r.Line
		}
		t.Fatalf("no end after %d reads of %d bytes", len(in)+2, len(in))
	})
}
