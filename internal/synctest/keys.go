package synctest

import (
	"fmt"
	"strings"

	"github.com/rowform/rowform/planner"
)

// KeyKind is one key type the behavior tests run with: the key column
// definitions on both sides and the key expression of row number i.
type KeyKind struct {
	Name    string
	SrcCols string // key column definitions in the source table
	DstCols string // in the destination table
	KeyList string // the sync's key attribute
	KeyCols string // column list of the destination's primary key
	Key     func(i int) string
}

// TrickyText gives text keys whose order differs between collations: case,
// punctuation and accents.
var TrickyText = []string{"a", "B", "_c", "Ä", "b", "A", "c-d", "cd", "Z", "z", " x", "é", "E", "e", "ß", "ss"}

// KeyKinds are the key types every behavior is tested with.
var KeyKinds = []KeyKind{
	{"bigint", "id bigint", "id bigint", `["id"]`, "id", func(i int) string { return fmt.Sprint(i * 7919 % 1000) }},
	{"uuid", "id uuid", "id uuid", `"id"`, "id", func(i int) string {
		return fmt.Sprintf("'%08x-0000-4000-8000-%012x'::uuid", (i*2654435761)%(1<<32), i)
	}},
	// The destination orders by an ICU collation, the source by "C".
	{"text_icu", `id text COLLATE "C"`, `id text COLLATE "und-x-icu"`, `["id"]`, "id", func(i int) string {
		return "'" + TrickyText[i%len(TrickyText)] + fmt.Sprint(i/len(TrickyText)) + "'"
	}},
	{"composite", "a bigint, b text", "a bigint, b text", `["a", "b"]`, "a, b", func(i int) string {
		return fmt.Sprintf("%d, '%s'", i%3, TrickyText[i%len(TrickyText)]+fmt.Sprint(i))
	}},
	// A key compared by its text form; the source's 1.5 is the
	// destination's 1.50.
	{"numeric", "id numeric", "id numeric(10,2)", `"id"`, "id", func(i int) string { return fmt.Sprintf("%d.5", i*37%1000) }},
}

// MappingFor is the mapping lines of an HCL sync for the key columns in
// keyCols ("a, b").
func MappingFor(keyCols string) string {
	var b strings.Builder
	for _, c := range strings.Split(keyCols, ",") {
		c = strings.TrimSpace(c)
		fmt.Fprintf(&b, "    %s = %q\n", c, c)
	}
	return b.String()
}

// FindingsText renders a sync's findings for a test's failure message.
func FindingsText(sp *planner.SyncPlan) string {
	var b strings.Builder
	for _, f := range sp.Findings {
		fmt.Fprintf(&b, "  %s %s: %s\n    %s\n", f.Severity, f.Code, f.Summary, f.Detail)
		if len(f.Examples) > 0 {
			fmt.Fprintf(&b, "    examples: %s\n", strings.Join(f.Examples, ", "))
		}
		if f.Fix != "" {
			fmt.Fprintf(&b, "    fix: %s\n", f.Fix)
		}
	}
	return b.String()
}
