package planner

import (
	"errors"
	"strings"
	"testing"
)

// TestCSVReaderBoundsARecord: a line of millions of delimiters stops at the
// reader's field limit, and a quote left open stops at the record's byte
// limit, each with the line, before the record takes unbounded memory.
func TestCSVReaderBoundsARecord(t *testing.T) {
	wide := "id,name\n1," + strings.Repeat(",", 5_000_000) + "\n"
	r := newCSVReader(strings.NewReader(wide), ',')
	r.MaxFields = 20
	if _, err := r.Read(); err != nil {
		t.Fatal(err)
	}
	_, err := r.Read()
	var many *TooManyFields
	if !errors.As(err, &many) || many.Line != 2 || many.Max != 20 {
		t.Errorf("a line of 5,000,000 delimiters: %v", err)
	}

	r = newCSVReader(strings.NewReader(wide), ',') // the default limit
	_, _ = r.Read()
	if _, err := r.Read(); !errors.As(err, &many) || many.Max != csvMaxFields {
		t.Errorf("without MaxFields: %v, want more than %d fields", err, csvMaxFields)
	}

	open := "id,name\n1,\"" + strings.Repeat("x", csvMaxRecordBytes+1) + "\n2,b\n"
	r = newCSVReader(strings.NewReader(open), ',')
	_, _ = r.Read()
	_, err = r.Read()
	var ce *CSVError
	if !errors.As(err, &ce) || ce.Line != 2 || !strings.Contains(ce.Msg, "more than 64 MB") || !strings.Contains(ce.Msg, "a quoted field may not be closed") {
		t.Errorf("a quote left open before 64 MB: %v", err)
	}
}
