package executor

import (
	"context"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/planner"
)

// Rewritten is a column whose stored values differ from the values apply
// wrote, in Rows rows: a BEFORE trigger changed them. The next plan shows
// those rows as updates again.
type Rewritten struct {
	// Column is the destination column; Rows how many of the written rows
	// hold another value in it than the one written.
	Column string
	Rows   int64
}

// rewritten compares the rows just written with the staged rows, column by
// column, and returns the columns a trigger changed. It runs inside the
// apply's transaction, before COMMIT, only when the table has BEFORE ROW
// triggers on INSERT or UPDATE.
func (m *merge) rewritten(ctx context.Context, sink *stagingSink, counts planner.Counts) ([]Rewritten, error) {
	n := len(m.cols) - m.nkey
	if n == 0 {
		return nil, nil
	}
	if counts.Insert > 0 && m.directInsert() {
		// The inserts were copied straight into the table: stage them
		// too, to compare.
		if err := m.stage(ctx, "rowform_insert", sink.inserts, m.cols); err != nil {
			return nil, err
		}
	}
	totals := make([]int64, n)
	for _, st := range []struct {
		table string
		rows  int64
	}{{"rowform_update", counts.Update}, {"rowform_insert", counts.Insert}} {
		if st.rows == 0 {
			continue
		}
		var sel []string
		for i := m.nkey; i < len(m.cols); i++ {
			sel = append(sel, fmt.Sprintf("count(*) FILTER (WHERE t.%s IS DISTINCT FROM %s)", pgx.Identifier{m.cols[i].Name}.Sanitize(), m.value(i)))
		}
		sql := fmt.Sprintf("SELECT %s FROM %s AS s JOIN %s AS t ON %s", strings.Join(sel, ", "), st.table, m.table.Ident(), m.keyMatch())
		got := make([]int64, n)
		dest := make([]any, n)
		for i := range got {
			dest[i] = &got[i]
		}
		if err := m.conn.QueryRow(ctx, sql).Scan(dest...); err != nil {
			return nil, fmt.Errorf("comparing the written rows with the stored ones: %w", err)
		}
		for i, v := range got {
			totals[i] += v
		}
	}
	var out []Rewritten
	for i, v := range totals {
		if v > 0 {
			out = append(out, Rewritten{Column: m.cols[m.nkey+i].Name, Rows: v})
		}
	}
	return out, nil
}
