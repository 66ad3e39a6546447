package rftest

import (
	"bytes"
	"fmt"
	"os"
	"strings"

	"github.com/rowform/rowform/planner"
	"github.com/zclconf/go-cty/cty"
	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// valueText renders a value of a test file as the text PostgreSQL reads
// for a column: a string as it is, a number in decimal, a bool as true or
// false, a list or object as JSON (for json and jsonb columns); nil for
// null.
func valueText(v cty.Value) (*string, error) {
	v, _ = v.UnmarkDeep()
	if v.IsNull() {
		return nil, nil
	}
	if !v.IsWhollyKnown() {
		return nil, fmt.Errorf("the value is not known")
	}
	var s string
	switch t := v.Type(); {
	case t == cty.String:
		s = v.AsString()
	case t == cty.Number:
		s = v.AsBigFloat().Text('f', -1)
	case t == cty.Bool:
		s = "false"
		if v.True() {
			s = "true"
		}
	default:
		b, err := ctyjson.Marshal(v, t)
		if err != nil {
			return nil, err
		}
		s = string(b)
	}
	return &s, nil
}

// readCSVRows reads a CSV file of rows: a header line naming the columns,
// then one line per row, with the rules of a csv source (an unquoted empty
// field is NULL, "" an empty string).
func readCSVRows(path string) (*Rows, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	recs, err := planner.ReadCSV(bytes.NewReader(b), ',')
	if err != nil {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, fmt.Errorf("%s is empty: its first line must name the columns", path)
	}
	r := &Rows{}
	for i, h := range recs[0] {
		if h == nil || *h == "" {
			return nil, fmt.Errorf("%s: column %d of the header has no name", path, i+1)
		}
		r.Columns = append(r.Columns, *h)
		r.Types = append(r.Types, "text")
	}
	for i, rec := range recs[1:] {
		if len(rec) != len(r.Columns) {
			return nil, fmt.Errorf("%s: record %d has %d fields, the header names %d columns", path, i+2, len(rec), len(r.Columns))
		}
		r.Values = append(r.Values, rec)
	}
	return r, nil
}

// csvText writes rows as a CSV file with a header, in PostgreSQL's CSV
// format: NULL as an unquoted empty field, every other value quoted.
func csvText(r *Rows, delimiter rune) string {
	var b strings.Builder
	d := string(delimiter)
	for i, c := range r.Columns {
		if i > 0 {
			b.WriteString(d)
		}
		b.WriteString(csvQuote(c))
	}
	b.WriteString("\n")
	for _, row := range r.Values {
		for i, v := range row {
			if i > 0 {
				b.WriteString(d)
			}
			if v != nil {
				b.WriteString(csvQuote(*v))
			}
		}
		b.WriteString("\n")
	}
	return b.String()
}

func csvQuote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// showValue renders a value in a failure message: NULL, numbers bare,
// other text quoted, as plans show values.
func showValue(v *string) string {
	if v == nil {
		return "NULL"
	}
	if *v == "NULL" {
		return `"NULL"`
	}
	return planner.FormatValue(*v)
}
