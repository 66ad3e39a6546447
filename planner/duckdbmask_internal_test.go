package planner

import (
	"errors"
	"strings"
	"testing"

	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/duckdbsource"
)

// TestMaskDuckDBExcerptAndCandidates: DuckDB's excerpt of a query computed
// from a secret is dropped (it cuts the secret where the output filter
// cannot recognize it), and for a sync with sensitive columns a Binder
// Error's candidate columns are (a CSV file read without its header gets a
// row as column names); other messages keep both. A Missing Extension
// Error (of a path or function in the query's text) is kept whole.
func TestMaskDuckDBExcerptAndCandidates(t *testing.T) {
	parser := errors.New("Parser Error: syntax error at or near \"AND\"\n\nLINE 1: ...etTOKEN123' AND y = 'ppp' AND AND x\n                                                   ^")
	binder := errors.New(`Binder Error: Referenced column "email" not found in FROM clause!` + "\nCandidate bindings: \"SEKRITmail@x.io\", \"alpha\"")
	extension := errors.New("Missing Extension Error: File https://example.com/x.parquet requires the extension httpfs to be loaded\n" + duckdbsource.NoExtensionAdvice)
	for _, c := range []struct {
		name      string
		s         *hclconfig.Sync
		err       error
		want, not []string
	}{
		{"secret query", &hclconfig.Sync{QuerySensitive: true}, parser,
			[]string{`Parser Error: syntax error at or near "AND"`, "the excerpt of the query is not shown"}, []string{"etTOKEN123", "LINE 1", "^"}},
		{"plain query", &hclconfig.Sync{}, parser, []string{"LINE 1: ...etTOKEN123"}, nil},
		{"sensitive columns", &hclconfig.Sync{SensitiveColumns: []string{"email"}}, binder,
			[]string{`Referenced column "email" not found`, "the candidate columns are not shown"}, []string{"SEKRIT", "alpha"}},
		{"no sensitive columns", &hclconfig.Sync{}, binder, []string{`Candidate bindings: "SEKRITmail@x.io"`}, nil},
		// Raised binding the query, about its text: kept whole, so that
		// a sync with sensitive columns still says what rowform allows.
		{"missing extension", &hclconfig.Sync{SensitiveColumns: []string{"email"}}, extension,
			[]string{"https://example.com/x.parquet", "httpfs", duckdbsource.NoExtensionAdvice}, []string{"is not shown"}},
	} {
		got := maskDuckDB(c.s, c.err, true).Error()
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: %q lacks %q", c.name, got, w)
			}
		}
		for _, n := range c.not {
			if strings.Contains(got, n) {
				t.Errorf("%s: %q shows %q", c.name, got, n)
			}
		}
	}
}
