package planner_test

import (
	"strings"
	"testing"

	"github.com/rowform/rowform/planner"
)

// TestReadCSVByteOrderMark: a file that starts with a UTF-8 byte order
// mark, as Excel writes "CSV UTF-8", reads its first header without it; a
// mark anywhere else is text. Unquoted empty fields are NULL (nil).
func TestReadCSVByteOrderMark(t *testing.T) {
	recs, err := planner.ReadCSV(strings.NewReader("\ufeffid,name\r\n1,\r\n2,\"\ufeff\"\r\n"), ',')
	if err != nil {
		t.Fatal(err)
	}
	if len(recs) != 3 || *recs[0][0] != "id" || *recs[0][1] != "name" {
		t.Fatalf("records %v", recs)
	}
	if recs[1][1] != nil {
		t.Errorf("an unquoted empty field is %q, want NULL", *recs[1][1])
	}
	if *recs[2][1] != "\ufeff" {
		t.Errorf("a byte order mark inside the file is %q, want it kept", *recs[2][1])
	}
}
