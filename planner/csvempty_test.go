package planner_test

import (
	"strings"
	"testing"

	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestCSVEmptyFile: an empty CSV file is reported as empty (it used to say
// only "EOF"), with and without a header.
func TestCSVEmptyFile(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.WriteFile("empty.csv", "")
	e.WriteFile("bom.csv", "\xef\xbb\xbf")
	e.Dst(`CREATE TABLE empty_a (id bigint PRIMARY KEY, name text)`)
	e.Dst(`CREATE TABLE empty_b (id bigint PRIMARY KEY, name text)`)
	e.Dst(`CREATE TABLE empty_c (id bigint PRIMARY KEY, name text)`)
	cfg := e.Config(csvSync("a", "empty.csv", "", "empty_a", "mirror", "") +
		csvSync("b", "empty.csv", "  header = false", "empty_b", "mirror", `  mapping = { id = "column1" }`) +
		csvSync("c", "bom.csv", "", "empty_c", "mirror", ""))
	p := plan(t, cfg, planner.Options{})
	for name, want := range map[string]string{"a": "needs at least its header line", "b": "its first line gives the columns", "c": "needs at least its header line"} {
		sp := syncNamed(t, p, name)
		if len(sp.Findings) != 1 || !strings.Contains(sp.Findings[0].Summary, "is empty") || !strings.Contains(sp.Findings[0].Summary, want) ||
			strings.HasSuffix(sp.Findings[0].Summary, "EOF") {
			t.Errorf("%s: %s", name, synctest.FindingsText(sp))
		}
	}
}
