package planner_test

import (
	"bytes"
	"strings"
	"testing"

	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestCSVInvalidUTF8 reads bytes that are not UTF-8: refused with the line
// and column of the first bad byte (never replaced by U+FFFD), as is a NUL;
// with encoding = "LATIN1" the same bytes convert exactly.
func TestCSVInvalidUTF8(t *testing.T) {
	input := "id,name\n1,ok\n2,caf\xe9 \xe0 la\n"
	_, err := planner.ReadSourceCSVForTest(strings.NewReader(input), &hclconfig.CSVFile{Delimiter: ','})
	if err == nil || !strings.Contains(err.Error(), "line 3, column 6") || !strings.Contains(err.Error(), "0xe9") || !strings.Contains(err.Error(), "LATIN1") {
		t.Errorf("invalid UTF-8: %v, want an error at line 3, column 6 naming 0xe9 and encoding LATIN1", err)
	}
	// In a quoted field that spans lines, after a multi-byte character.
	_, err = planner.ReadSourceCSVForTest(strings.NewReader("1,\"a\nbé\xff\"\n"), &hclconfig.CSVFile{Delimiter: ','})
	if err == nil || !strings.Contains(err.Error(), "line 2, column 3") {
		t.Errorf("invalid UTF-8 in a quoted field: %v, want line 2, column 3", err)
	}
	_, err = planner.ReadSourceCSVForTest(strings.NewReader("1,a\x00b\n"), &hclconfig.CSVFile{Delimiter: ','})
	if err == nil || !strings.Contains(err.Error(), "line 1, column 4") || !strings.Contains(err.Error(), "NUL") {
		t.Errorf("a NUL byte: %v, want line 1, column 4", err)
	}
	rows, err := planner.ReadSourceCSVForTest(strings.NewReader(input), &hclconfig.CSVFile{Delimiter: ',', Encoding: hclconfig.EncodingLatin1})
	if err != nil || len(rows) != 3 || *rows[2][1] != "café à la" {
		t.Errorf("LATIN1: %v %v", err, rows)
	}
	// Every Latin-1 byte but NUL is its own character.
	var all bytes.Buffer
	for b := 1; b < 256; b++ {
		if b != '"' && b != ',' && b != '\n' && b != '\r' {
			all.WriteByte(byte(b))
		}
	}
	rows, err = planner.ReadSourceCSVForTest(bytes.NewReader(all.Bytes()), &hclconfig.CSVFile{Delimiter: ',', Encoding: hclconfig.EncodingLatin1})
	if err != nil || len(rows) != 1 {
		t.Fatalf("all Latin-1 bytes: %v", err)
	}
	var want strings.Builder
	for _, b := range all.Bytes() {
		want.WriteRune(rune(b))
	}
	if *rows[0][0] != want.String() {
		t.Errorf("all Latin-1 bytes: got %q", *rows[0][0])
	}
}

// TestCSVEncodingEndToEnd plans a UTF-8 source with a byte that is not
// UTF-8 (an error naming the file, line and column; nothing diffed), a
// LATIN1 source whose values match the destination's exactly, and files
// that COPY refuses: a quote opened in the middle of a field, an empty line.
func TestCSVEncodingEndToEnd(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.WriteFile("bad.csv", "id,name\n1,ok\n2,caf\xe9\n")
	e.WriteFile("latin1.csv", "id,name\n1,caf\xe9\n2,\xc5sa\n")
	e.Dst(`CREATE TABLE enc_bad (id bigint PRIMARY KEY, name text)`)
	e.Dst(`CREATE TABLE enc_latin1 (id bigint PRIMARY KEY, name text)`)
	e.Dst(`INSERT INTO enc_latin1 VALUES (1, 'café'), (2, 'Åsa')`)
	// COPY's rules where they surprise: a quote in the middle of a field
	// opens a quoted part (here never closed: an error, where rowform used
	// to read ab"cd), and an empty line is a record of one NULL field.
	e.WriteFile("midquote.csv", "id,name\n1,ab\"cd,y\n")
	e.WriteFile("blank.csv", "id,name\n1,a\n\n2,b\n")
	e.Dst(`CREATE TABLE enc_midquote (id bigint PRIMARY KEY, name text)`)
	e.Dst(`CREATE TABLE enc_blank (id bigint PRIMARY KEY, name text)`)
	// A UTF-8 file with a byte order mark, read as LATIN1: its first
	// header is "ï»¿id", and the finding says why.
	e.WriteFile("bom.csv", "\xef\xbb\xbfid,name\n1,a\n")
	e.Dst(`CREATE TABLE enc_bom (id bigint PRIMARY KEY, name text)`)
	cfg := e.Config(csvSync("bad", "bad.csv", "", "enc_bad", "mirror", "") +
		csvSync("bom", "bom.csv", `  encoding = "LATIN1"`, "enc_bom", "mirror", "") +
		csvSync("latin1", "latin1.csv", `  encoding = "LATIN1"`, "enc_latin1", "mirror", "") +
		csvSync("midquote", "midquote.csv", "", "enc_midquote", "mirror", "") +
		csvSync("blank", "blank.csv", "", "enc_blank", "mirror", ""))
	p := plan(t, cfg, planner.Options{})
	bad := syncNamed(t, p, "bad")
	if bad.Diffed || len(bad.Findings) != 1 || !strings.Contains(bad.Findings[0].Summary, "line 3, column 6") || !strings.Contains(bad.Findings[0].Summary, "0xe9") {
		t.Errorf("bad: %+v\n%s", bad.Counts, synctest.FindingsText(bad))
	}
	if l := syncNamed(t, p, "latin1"); !l.Diffed || l.Counts != (planner.Counts{Unchanged: 2}) || len(l.Findings) > 0 {
		t.Errorf("latin1: %+v\n%s", l.Counts, synctest.FindingsText(l))
	}
	if m := syncNamed(t, p, "midquote"); m.Diffed || len(m.Findings) != 1 || !strings.Contains(m.Findings[0].Summary, "unterminated CSV quoted field") {
		t.Errorf("midquote: %+v\n%s", m.Counts, synctest.FindingsText(m))
	}
	if b := syncNamed(t, p, "bom"); b.Diffed || !strings.Contains(synctest.FindingsText(b), "The file starts with a UTF-8 byte order mark, which LATIN1 reads as") {
		t.Errorf("bom: %+v\n%s", b.Counts, synctest.FindingsText(b))
	}
	if b := syncNamed(t, p, "blank"); b.Diffed || len(b.Findings) != 1 || !strings.Contains(b.Findings[0].Summary, "line 3 is empty") {
		t.Errorf("blank: %+v\n%s", b.Counts, synctest.FindingsText(b))
	}
}
