package history

import (
	"fmt"
	"strings"
)

// A run's own table. A run that changes many rows (the executor decides
// how many) keeps them in <schema>.run_rows_<id> instead of run_rows: one
// binary COPY of values the apply already holds, typed as the diff reads
// them, where run_rows would take a row built of text arrays per change
// (docs/history.md, "Large runs"). Pruning the run drops its table.
//
// Its columns, for a run of n columns (Run.Columns) of which the first k
// are the key (Run.KeyCount):
//
//	c0            kind, as run_rows.kind
//	c1 .. ck      the key's values
//	c(k+1)        changed, as run_rows.changed
//	c(k+2)        after_hash, as run_rows.after_hash
//	c(k+3) ..     the values of columns k+1 .. n: for an update the values
//	              before of the columns it changed (NULL for the others),
//	              for a delete the row before, for an insert NULL
//
// A delete's before-image is only there when every one of Run.RowColumns
// is among Run.Columns; otherwise the apply recorded its deletes in
// run_rows, which RowsSource reads as well.

// RunTableChanged is the position (the N of cN) of a run table's changed
// positions, for a run whose key has keyCount columns.
func RunTableChanged(keyCount int) int { return keyCount + 1 }

// RunTableHash is the position (the N of cN) of a run table's after_hash.
func RunTableHash(keyCount int) int { return keyCount + 2 }

// RunTableValue is the position of the value of column i (0-based in
// Run.Columns, i >= the key count): after the kind, the key, changed and
// after_hash.
func RunTableValue(i int) int { return i + 3 }

// RowsSource is a FROM item (to be aliased) with run's rows in run_rows'
// columns (run_id, kind, key, changed, before, after_hash): run_rows
// itself for a run without a table of its own; else the run's table,
// its values as text as run_rows would hold them, and whatever run_rows
// holds of the run. Filter it by run_id all the same.
func RowsSource(n Names, run Run) string {
	if !run.RowsTable {
		return n.Rows()
	}
	k, cols := run.KeyCount, len(run.Columns)
	text := func(i int) string {
		if i < k {
			return fmt.Sprintf("s.c%d::text", 1+i)
		}
		return fmt.Sprintf("s.c%d::text", RunTableValue(i))
	}
	key := make([]string, k)
	for i := range key {
		key[i] = text(i)
	}
	// An update's before-image: NULL for the key, the staged value (NULL
	// where unchanged) for the others.
	upd := make([]string, cols)
	for i := range upd {
		if i < k {
			upd[i] = "NULL::text"
		} else {
			upd[i] = text(i)
		}
	}
	before := fmt.Sprintf("CASE s.c0 WHEN '~' THEN ARRAY[%s]::text[]", strings.Join(upd, ", "))
	pos := make(map[string]int, cols)
	for i, c := range run.Columns {
		pos[c] = i
	}
	row := make([]string, 0, len(run.RowColumns))
	for _, c := range run.RowColumns {
		i, ok := pos[c]
		if !ok {
			row = nil
			break
		}
		row = append(row, text(i))
	}
	if len(row) > 0 {
		before += fmt.Sprintf(" WHEN '-' THEN ARRAY[%s]::text[]", strings.Join(row, ", "))
	}
	before += " END"
	return fmt.Sprintf(`(SELECT %d::bigint AS run_id, s.c0 AS kind, ARRAY[%s]::text[] AS key, s.c%d AS changed, %s AS before, s.c%d AS after_hash FROM %s AS s
UNION ALL SELECT run_id, kind, key, changed, before, after_hash FROM %s WHERE run_id = %d)`,
		run.ID, strings.Join(key, ", "), RunTableChanged(k), before, RunTableHash(k), n.RunTable(run.ID), n.Rows(), run.ID)
}
