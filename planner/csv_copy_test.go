package planner_test

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// csvCase generates a CSV input of k columns: records of random fields,
// each written plain, quoted, partly quoted (a quote in the middle of a
// field) or empty, with random line ends; and now and then what COPY
// refuses or reads in its own way: a stray or unclosed quote, a blank
// line, the end marker \., line ends of another kind, a carriage return,
// bytes that are not UTF-8, a NUL.
func csvCase(rng *rand.Rand, k int, delim byte, latin1 bool) []byte {
	pieces := []string{"a", "b", "Z", "0", "7", " ", ",", ";", "\t", "\"", "\"\"", "\n", "\r", "\r\n", "\\", ".", "\\.", "é", "日"}
	if latin1 {
		pieces = append(pieces, "\xe9", "\xff", "\xa0")
	}
	eols := []string{"\n", "\r\n", "\r"}
	eol := eols[rng.IntN(3)]
	text := func() string {
		var b strings.Builder
		for range rng.IntN(5) {
			b.WriteString(pieces[rng.IntN(len(pieces))])
		}
		return b.String()
	}
	var out bytes.Buffer
	rows := rng.IntN(6)
	for r := 0; r < rows; r++ {
		switch rng.IntN(40) {
		case 0:
			out.WriteString(eol) // a blank line
			continue
		case 1:
			out.WriteString(`\.` + eol) // the end marker
		case 2:
			out.WriteString(eols[rng.IntN(3)]) // a line end of another kind
		}
		for f := 0; f < k; f++ {
			if f > 0 {
				out.WriteByte(delim)
			}
			v := text()
			switch rng.IntN(7) {
			case 0: // plain: special characters are left as they are
				out.WriteString(v)
			case 1, 2: // quoted
				out.WriteString(`"` + strings.ReplaceAll(v, `"`, `""`) + `"`)
			case 3: // partly quoted: ab"c,d"e
				q := strings.ReplaceAll(text(), `"`, `""`)
				out.WriteString(strings.NewReplacer(`"`, "", "\n", "", "\r", "", string(delim), "").Replace(v) + `"` + q + `"` + "x")
			case 4: // empty: NULL
			case 5: // "": an empty string
				out.WriteString(`""`)
			case 6: // plain without special characters
				out.WriteString(strings.NewReplacer(`"`, "", "\n", "", "\r", "", string(delim), "").Replace(v))
			}
		}
		switch rng.IntN(30) {
		case 0:
			out.WriteString(`"`) // an unclosed quote
		case 1:
			out.WriteString("\xff\xfe") // not UTF-8
		case 2:
			out.WriteString("a\x00b") // a NUL
		}
		if r < rows-1 || rng.IntN(2) == 0 {
			out.WriteString(eol)
		}
	}
	return out.Bytes()
}

// TestCSVReaderMatchesCopy is a property test: on generated inputs,
// rowform's CSV reader gives exactly the rows PostgreSQL's COPY ... (FORMAT
// csv) gives on the same bytes — the same fields, NULL where COPY reads
// NULL — and refuses exactly the inputs COPY refuses (a record of the wrong
// width counts as refused: the source reports it).
func TestCSVReaderMatchesCopy(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	conn := e.DstConn()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(7, 11))
	cases := 1500
	if testing.Short() {
		cases = 300
	}
	checked := map[string]int{}
	for i := 0; i < cases; i++ {
		k := 1 + rng.IntN(3)
		delim := []byte{',', ',', ';', '\t'}[rng.IntN(4)]
		latin1 := rng.IntN(8) == 0
		input := csvCase(rng, k, delim, latin1)

		cols := make([]string, k)
		for j := range cols {
			cols[j] = fmt.Sprintf("c%d", j+1)
		}
		if _, err := conn.Exec(ctx, fmt.Sprintf("DROP TABLE IF EXISTS copied; CREATE TABLE copied (ord bigserial, %s text)", strings.Join(cols, " text, "))); err != nil {
			t.Fatal(err)
		}
		encoding := "UTF8"
		if latin1 {
			encoding = "LATIN1"
		}
		_, copyErr := conn.PgConn().CopyFrom(ctx, bytes.NewReader(input),
			fmt.Sprintf("COPY copied (%s) FROM STDIN (FORMAT csv, DELIMITER E'\\x%02x', ENCODING '%s')", strings.Join(cols, ", "), delim, encoding))
		var want [][]*string
		if copyErr == nil {
			rows, err := conn.Query(ctx, fmt.Sprintf("SELECT %s FROM copied ORDER BY ord", strings.Join(cols, ", ")))
			if err != nil {
				t.Fatal(err)
			}
			want, err = pgx.CollectRows(rows, func(r pgx.CollectableRow) ([]*string, error) {
				vals := make([]*string, k)
				ptrs := make([]any, k)
				for j := range vals {
					ptrs[j] = &vals[j]
				}
				return vals, r.Scan(ptrs...)
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		f := &hclconfig.CSVFile{Delimiter: rune(delim)}
		if latin1 {
			f.Encoding = hclconfig.EncodingLatin1
		}
		got, readErr := planner.ReadSourceCSVForTest(bytes.NewReader(input), f)
		refused := readErr != nil
		for _, r := range got {
			if len(r) != k {
				refused = true
			}
		}
		show := func(rows [][]*string) string {
			var b strings.Builder
			for _, r := range rows {
				b.WriteString("[")
				for j, v := range r {
					if j > 0 {
						b.WriteString(" ")
					}
					if v == nil {
						b.WriteString("NULL")
					} else {
						fmt.Fprintf(&b, "%q", *v)
					}
				}
				b.WriteString("] ")
			}
			return b.String()
		}
		switch {
		case copyErr != nil && !refused:
			t.Errorf("case %d: COPY refuses %q (%v); rowform reads %s", i, input, copyErr, show(got))
		case copyErr == nil && refused:
			t.Errorf("case %d: COPY reads %q as %s; rowform: %v %s", i, input, show(want), readErr, show(got))
		case copyErr == nil && show(got) != show(want):
			t.Errorf("case %d: %q:\nCOPY    %s\nrowform %s", i, input, show(want), show(got))
		}
		if copyErr != nil {
			checked["refused"]++
		} else {
			checked["read"]++
		}
		if t.Failed() && i > 20 {
			break
		}
	}
	t.Logf("%d inputs: %v", cases, checked)
}
