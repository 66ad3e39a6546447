package planner

import (
	"fmt"
	"strings"

	"github.com/rowform/rowform/hclconfig"
)

// nullKeyHint says how to get rid of source rows with a NULL key: in the
// query for a postgres source, in the file for a csv source, which has no
// query to filter them in.
func nullKeyHint(s *hclconfig.Sync) string {
	if s.Source != nil && s.Source.Type == hclconfig.SourceCSV {
		return fmt.Sprintf("Fill in the key (%s) in those rows of the CSV file, or remove them: an empty unquoted field is NULL.", strings.Join(s.Key, ", "))
	}
	return "Filter them out in the query (WHERE key IS NOT NULL) or fix the data."
}

// duplicateKeyHint says how to make the source's keys unique, in the terms
// of its kind: rows of a file to remove, or a query to deduplicate.
func duplicateKeyHint(s *hclconfig.Sync) string {
	if s.Source != nil && s.Source.Type == hclconfig.SourceCSV {
		return fmt.Sprintf("A key must identify one row: remove or merge the rows of the CSV file that repeat a key (%s), or choose a key that is unique.", strings.Join(s.Key, ", "))
	}
	return "A key must identify one row: deduplicate the source (e.g. DISTINCT ON) or choose a key that is unique."
}
