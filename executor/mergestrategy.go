package executor

import (
	"context"
	"fmt"
	"strings"

	"github.com/rowform/rowform/internal/catalog"
)

// The merge strategy: how the staged changes are written into the table
// (mergesql.go, merge.run), chosen from the size of the change set.
//
//   - Deletes and updates are staged (binary COPY into a temporary table,
//     its key analyzed: analyzeStaging) and written with one
//     DELETE ... USING and one UPDATE ... FROM each.
//   - New rows are copied straight into the table with binary COPY when
//     their values are already in the columns' types (directInsert), else
//     staged and written with INSERT ... SELECT and a cast.
//   - From orderedMergeRows staged rows on, the UPDATE reads the staged
//     rows sorted by key (inKeyOrder), and so does the DELETE when they
//     are also a quarter of the table or more (deleteSorted). The diff
//     hands its changes over in the order of its hash partitions, that is
//     in no order of the key; written in that order, every row lands on
//     another page of the table and of its primary-key index. Sorted, the
//     planner joins them to the table by a merge join on the key's index
//     (or a nested loop of index probes, for fewer rows), so the table and
//     its index are written in key order, as the naive upsert writes them
//     (it stages the source, which is read in key order). Measured on 1M
//     rows of (bigint key, int, text, numeric(12,2), timestamptz, jsonb,
//     text), medians of the statements in PostgreSQL's log over five
//     applies on a shared 2-core machine: at 50% changed (500k rows
//     each updated, deleted, inserted) the DELETE 1.29 s unsorted, 0.69 s
//     sorted, the UPDATE 4.04 s and 2.45 s (the sorts included); at 100%
//     updated the UPDATE 6.8 s and 4.8 s; at 10% the UPDATE 0.83 s and
//     0.48 s. Where the planner hashes the staged rows and scans the
//     table instead (a DELETE of up to ~100k keys of 1M rows), the table
//     is written in its own order anyway and the sorted subquery only
//     costs (deleteShare). Below orderedMergeRows the statements read the staging table
//     as it is: their writes are few, and a sort gains nothing (10k
//     rows: the same times either way).
//   - New rows are not sorted: staging them to INSERT ... SELECT ... ORDER
//     BY the key cost as much as the direct COPY in random order (500k
//     new rows: 1.5 s both, the staging COPY included), which the sort
//     would have to win back.
//   - work_mem is left as the session has it: with more of it (256MB) the
//     planner hashes the sorted staged rows instead and probes with the
//     table, losing the order (the UPDATE took 3.2 s instead of 2.4 s);
//     more work_mem with the hash join disabled, for an in-memory sort,
//     gained too little to tell from the noise (2.5 s against 2.9 s,
//     medians of three) to force a plan for it.
const orderedMergeRows = 10000

// deleteShare: the DELETE reads its staged keys sorted only when they are
// at least 1/deleteShare of the table's rows (its estimate). Fewer
// keys, the planner hashes them and scans the table, which is then
// written in its own order whatever the keys' order, and the sorted
// subquery only costs: a DELETE of 100k keys of a 1M-row table (the undo
// of a 10% run) took 0.36 s reading the staging table and 0.78 s reading
// it sorted (EXPLAIN ANALYZE; the subquery's whole-row reference,
// which the DELETE keeps for rechecks, is built a row). At 50% (500k of
// 1M) the planner merge-joins the sorted keys along the key's index and
// the sort wins (1.29 s to 0.69 s).
const deleteShare = 4

// deleteSorted reports whether the DELETE of staged rows is to read them
// in key order: when they are orderedMergeRows or more and at least
// 1/deleteShare of the table's estimated rows.
func (m *merge) deleteSorted(ctx context.Context, staged int64) (bool, error) {
	if staged < orderedMergeRows {
		return false, nil
	}
	rows, err := catalog.EstimateRows(ctx, m.conn, m.table.OID)
	if err != nil {
		return false, fmt.Errorf("reading the table's size: %w", err)
	}
	// Below the share, a hash join scans the table in its own order anyway.
	return float64(staged*deleteShare) >= rows, nil
}

// inKeyOrder is the staged rows of from (a staging table, or a subset of
// one when locate probes) that a DELETE or UPDATE joins to the table:
// sorted by key when sorted, from as it is otherwise.
func (m *merge) inKeyOrder(from string, sorted bool) string {
	if !sorted {
		return from
	}
	keys := make([]string, m.nkey)
	for i := range keys {
		keys[i] = fmt.Sprintf("o.c%d", i)
		if m.cols[i].AsText {
			keys[i] = fmt.Sprintf("o.c%d::%s", i, m.cols[i].Type)
		}
	}
	return fmt.Sprintf("(SELECT * FROM %s AS o ORDER BY %s)", from, strings.Join(keys, ", "))
}

// analyzeStaging is the ANALYZE of staging table name: of its key columns
// only (c0 .. c<nkey-1>). The merge statements join a staging table to the
// destination table by key and read every staged row, so the key's
// statistics (and the row count, which ANALYZE records for the table) are
// all the planner uses to choose the join; analyzing the other columns as
// well (text, jsonb, numeric) cost 3-4x as much on wide change sets for no
// other plan.
func (m *merge) analyzeStaging(name string) string {
	cols := make([]string, m.nkey)
	for i := range cols {
		cols[i] = fmt.Sprintf("c%d", i)
	}
	return fmt.Sprintf("ANALYZE %s (%s)", name, strings.Join(cols, ", "))
}
