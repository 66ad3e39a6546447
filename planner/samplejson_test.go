package planner_test

import (
	"encoding/json"
	"testing"

	"github.com/rowform/rowform/planner"
)

// TestSampleJSONNull: in JSON a sample's SQL NULL is null, in keys and
// values, and a text "NULL" stays a string; an insert's before and a
// delete's after stay "". Reading it back (a saved plan) gives the same
// rows, and so does a plan file written when NULL was "NULL".
func TestSampleJSONNull(t *testing.T) {
	rows := []planner.SampleRow{
		{Key: []string{planner.Null}, Columns: []planner.SampleColumn{{Name: "a", Before: planner.Null, After: `"NULL"`}, {Name: "b", After: planner.Null}}},
		{Key: []string{"7"}, Columns: []planner.SampleColumn{{Name: "c", Before: "x", After: ""}}},
	}
	b, err := json.Marshal(rows)
	if err != nil {
		t.Fatal(err)
	}
	want := `[{"key":[null],"columns":[{"name":"a","before":null,"after":"\"NULL\""},{"name":"b","before":"","after":null}]},` +
		`{"key":["7"],"columns":[{"name":"c","before":"x","after":""}]}]`
	if string(b) != want {
		t.Errorf("JSON:\n%s\nwant:\n%s", b, want)
	}
	var back []planner.SampleRow
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	b2, _ := json.Marshal(back)
	if string(b2) != want {
		t.Errorf("read back and written again:\n%s\nwant:\n%s", b2, want)
	}
	var old []planner.SampleRow
	if err := json.Unmarshal([]byte(`[{"key":["NULL"],"columns":[{"name":"a","before":"NULL","after":"1"}]}]`), &old); err != nil {
		t.Fatal(err)
	}
	if old[0].Key[0] != planner.Null || old[0].Columns[0].Before != planner.Null {
		t.Errorf("an old plan file's \"NULL\" reads as %+v", old)
	}
}
