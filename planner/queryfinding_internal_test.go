package planner

import (
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rowform/rowform/hclconfig"
)

// TestQueryFindingOfSensitiveQuery: an error in the text of a query
// computed from a secret (a passphrase pasted unquoted), or raised as it
// runs, does not quote the piece it is about; the same error of any other
// query does.
func TestQueryFindingOfSensitiveQuery(t *testing.T) {
	err := &pgconn.PgError{Severity: "ERROR", Code: "42601", Message: `syntax error at or near "horse"`, Position: 38,
		Detail: `Token "horse" is invalid.`, Hint: `Quote "horse".`}
	s := &hclconfig.Sync{Name: "s", Query: "SELECT 1 AS id WHERE correct horse battery staple"}
	if f := queryFinding(s, err); !strings.Contains(f.Summary, `near "horse"`) {
		t.Errorf("a query that is no secret: %q", f.Summary)
	}
	s.QuerySensitive = true
	f := queryFinding(s, err)
	if strings.Contains(f.Summary+f.Detail, "horse") || !strings.Contains(f.Summary, `syntax error at or near "(sensitive)"`) || !strings.Contains(f.Detail, "At line 1, column") {
		t.Errorf("a sensitive query: %q %q", f.Summary, f.Detail)
	}
	// An error raised as the query runs has no position, and may quote a
	// piece of the secret the output filter does not know: a secret
	// "Hunter2.Secret" cast to regclass is schema "hunter2".
	err = &pgconn.PgError{Severity: "ERROR", Code: "3F000", Message: `schema "hunter2" does not exist`}
	if f := queryFinding(s, err); strings.Contains(f.Summary, "hunter2") || !strings.Contains(f.Summary, `schema "(sensitive)" does not exist`) {
		t.Errorf("a sensitive query's run-time error: %q", f.Summary)
	}
}

// TestGuardFindingsCountInWords: a crossed guard names its rows with the
// noun in the number's form (1 row, 2 rows).
func TestGuardFindingsCountInWords(t *testing.T) {
	zero := int64(0)
	s := &hclconfig.Sync{Name: "s", Guard: &hclconfig.Guard{MaxUpdates: &zero, MaxDeletes: &zero}}
	for n, want := range map[int64][]string{
		1: {"1 row would be updated", "1 row would be deleted"},
		2: {"2 rows would be updated", "2 rows would be deleted"},
	} {
		var got []string
		for _, f := range guardFindings(s, &DiffResult{Counts: Counts{Update: n, Delete: n}, DestinationRows: 10}) {
			got = append(got, f.Summary)
		}
		all := strings.Join(got, "\n")
		for _, w := range want {
			if !strings.Contains(all, w) {
				t.Errorf("%d changes: %q, want %q", n, all, w)
			}
		}
	}
}
