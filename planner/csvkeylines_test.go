package planner_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestKeyFindingsNameTheCSVLines: null_source_key and duplicate_source_key
// findings of a CSV source say on which lines of the file the rows are, as
// the lines are numbered in the file (a quoted line break counts), for a
// key spelled with spaces too, and say so when an equal key is spelled
// differently; a sensitive key's lines are not searched by its masked text.
func TestKeyFindingsNameTheCSVLines(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	var b strings.Builder
	b.WriteString("id,note\n")                   // line 1
	b.WriteString("1,a\n2,b\n,c\n1,d\n")         // lines 2-5
	b.WriteString("3,\"two\nlines\"\n")          // lines 6-7
	b.WriteString(" 2,f\n007,g\n7,h\n,i\n1,j\n") // lines 8-12
	for i := 0; i < 7; i++ {                     // lines 13-19
		fmt.Fprintf(&b, "9,n%d\n", i)
	}
	e.WriteFile("keys.csv", b.String())
	e.WriteFile("secret.csv", "id,note\n5,a\n6,b\n5,c\n")
	e.Dst(`CREATE TABLE csv_keylines (id int PRIMARY KEY, note text)`)
	cfg := e.Config(csvSync("keys", "keys.csv", "", "csv_keylines", "update_or_create", "") +
		csvSync("secret", "secret.csv", "", "csv_keylines", "update_or_create", `sensitive_columns = ["id"]`))
	p := plan(t, cfg, planner.Options{})

	sp := syncNamed(t, p, "keys")
	for code, want := range map[planner.Code]string{
		planner.CodeNullSourceKey: "The key is NULL on lines 4 and 11 of keys.csv. Fill in the key (id)",
		planner.CodeDuplicateSourceKey: "In keys.csv: id=1 is on lines 2, 5 and 12; id=2 is on lines 3 and 8; " +
			"id=7 is on line 10 and on another line that spells it differently; " +
			"id=9 is on lines 13, 14, 15, 16 and 17 (the first 5 of 7). A key must identify one row",
	} {
		if f := findingWith(sp, code, ""); f == nil || !strings.HasPrefix(f.Detail, want) {
			t.Errorf("%s: want a detail starting %q:\n%s", code, want, synctest.FindingsText(sp))
		}
	}

	sp = syncNamed(t, p, "secret")
	f := findingWith(sp, planner.CodeDuplicateSourceKey, "")
	if f == nil {
		t.Fatalf("no duplicate_source_key finding:\n%s", synctest.FindingsText(sp))
	}
	if strings.Contains(f.Detail, "line") || !strings.HasPrefix(f.Detail, "A key must identify one row") {
		t.Errorf("a sensitive key's duplicates were searched by their masked text: %q", f.Detail)
	}
}
