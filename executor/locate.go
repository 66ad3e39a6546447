package executor

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rowform/rowform/internal/pgconnect"
	"github.com/rowform/rowform/planner"
)

// When a write the plan's checks passed still fails at apply (a concurrent
// writer took a unique value, a trigger raised an error), the error names
// the row: the staged rows are halved, each half tried under a savepoint
// and rolled back, until one row alone fails. The search runs only after a
// failure, inside the transaction that is about to be rolled back.

// execLocated runs the write statement stmt(staging) under a savepoint and
// checks its row count. When the server refuses it, the error names the
// staged row that fails.
func (m *merge) execLocated(ctx context.Context, stmt func(from string) string, staging, what string, want int64) error {
	if _, err := m.conn.Exec(ctx, "SAVEPOINT rowform_write"); err != nil {
		return err
	}
	tag, err := m.conn.Exec(ctx, stmt(staging))
	if err != nil {
		werr := describeWriteError(what, err)
		if !pgconnect.IsServerError(err) || !rowSpecific(err) {
			return werr
		}
		if _, rerr := m.conn.Exec(ctx, "ROLLBACK TO SAVEPOINT rowform_write"); rerr != nil {
			return werr
		}
		return m.locate(ctx, stmt, staging, what, werr)
	}
	if _, err := m.conn.Exec(ctx, "RELEASE SAVEPOINT rowform_write"); err != nil {
		return err
	}
	return countMismatch(what, tag.RowsAffected(), want)
}

// rowSpecific reports whether a write's error may come from one row, so
// that the search for that row is worth running: a value refused, or a row
// another writer changed (40001, which a probe meets at once). A lock wait
// that timed out, a statement timeout or cancel, a deadlock, a server out
// of resources or shutting down are not: each probe of the search would
// meet them again (a lock timeout would be waited out once per probe,
// while the table's lock is held).
func rowSpecific(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || len(pgErr.Code) < 2 || pgErr.Code == "40P01" {
		return false
	}
	switch pgErr.Code[:2] {
	case "08", "25", "53", "54", "55", "57", "58", "XX":
		return false
	}
	return true
}

// locate finds the staged row of staging that stmt fails on, and returns
// werr reworded to name it (its key, column and constraint). It returns
// werr as it is when no single row fails alone (two rows that conflict
// with each other) or the search itself fails.
func (m *merge) locate(ctx context.Context, stmt func(from string) string, staging, what string, werr error) error {
	var tids []string
	rows, err := m.conn.Query(ctx, fmt.Sprintf("SELECT ctid::text FROM %s ORDER BY ctid", staging))
	if err != nil {
		return werr
	}
	for rows.Next() {
		var tid string
		if err := rows.Scan(&tid); err != nil {
			rows.Close()
			return werr
		}
		tids = append(tids, tid)
	}
	if rows.Err() != nil {
		return werr
	}
	probe := func(part []string) (*pgconn.PgError, error) {
		if _, err := m.conn.Exec(ctx, "SAVEPOINT rowform_probe"); err != nil {
			return nil, err
		}
		from := fmt.Sprintf("(SELECT * FROM %s WHERE ctid = ANY($1::text[]::tid[]))", staging)
		_, perr := m.conn.Exec(ctx, stmt(from), part)
		if _, err := m.conn.Exec(ctx, "ROLLBACK TO SAVEPOINT rowform_probe"); err != nil {
			return nil, err
		}
		var pgErr *pgconn.PgError
		if errors.As(perr, &pgErr) {
			return pgErr, nil
		}
		return nil, perr
	}
	lo, hi := 0, len(tids)
	var last *pgconn.PgError
	for hi-lo > 1 {
		mid := (lo + hi) / 2
		pgErr, err := probe(tids[lo:mid])
		if err != nil {
			return werr
		}
		if pgErr != nil {
			hi, last = mid, pgErr
			continue
		}
		if pgErr, err = probe(tids[mid:hi]); err != nil || pgErr == nil {
			return werr // only rows of both halves together fail
		}
		lo, last = mid, pgErr
	}
	if hi-lo != 1 {
		return werr
	}
	if last == nil {
		pgErr, err := probe(tids[lo:hi])
		if err != nil || pgErr == nil {
			return werr
		}
		last = pgErr
	}
	key, texts, err := m.stagedKey(ctx, staging, tids[lo])
	if err != nil {
		return werr
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the %s failed at the row %s", what, key)
	if m.sourceLine != nil {
		if line := m.sourceLine(texts); line > 0 {
			fmt.Fprintf(&b, " (CSV line %d)", line)
		}
	}
	if last.ColumnName != "" {
		fmt.Fprintf(&b, ", column %s", last.ColumnName)
	}
	if last.ConstraintName != "" {
		fmt.Fprintf(&b, ", constraint %s", last.ConstraintName)
	}
	fmt.Fprintf(&b, ": %s (SQLSTATE %s)", last.Message, last.Code)
	if last.Detail != "" {
		fmt.Fprintf(&b, "; %s", last.Detail)
	}
	if last.Where != "" {
		fmt.Fprintf(&b, "; %s", strings.ReplaceAll(last.Where, "\n", "; "))
	}
	if last.Hint != "" {
		fmt.Fprintf(&b, "; hint: %s", last.Hint)
	}
	b.WriteString(". The plan's checks passed this row, so the table changed since (another writer) or a table it references did, a trigger refused it, or a rule the checks do not cover refused it (a CHECK or NOT NULL of another table that a cascade writes, a chain of rejections the checks cut short: docs/checks.md, \"What no plan can foresee\"); nothing was written")
	return &writeError{msg: b.String(), err: werr}
}

// stagedKey renders the key of the staged row at tid as plans show keys
// (`id=7`), sensitive values masked, and returns the key values as text.
func (m *merge) stagedKey(ctx context.Context, staging, tid string) (string, []string, error) {
	var sel []string
	for i := 0; i < m.nkey; i++ {
		sel = append(sel, fmt.Sprintf("s.c%d::text", i))
	}
	vals := make([]*string, m.nkey)
	dest := make([]any, m.nkey)
	for i := range vals {
		dest[i] = &vals[i]
	}
	err := m.conn.QueryRow(ctx, fmt.Sprintf("SELECT %s FROM %s AS s WHERE s.ctid = $1::text::tid", strings.Join(sel, ", "), staging), tid).Scan(dest...)
	if err != nil {
		return "", nil, err
	}
	parts := make([]string, m.nkey)
	texts := make([]string, m.nkey)
	for i, v := range vals {
		if v != nil {
			texts[i] = *v
		}
		shown := "NULL"
		switch {
		case m.cols[i].Sensitive:
			shown = planner.Sensitive
		case v != nil:
			shown = planner.FormatValue(*v)
		}
		parts[i] = m.cols[i].Name + "=" + shown
	}
	return strings.Join(parts, " "), texts, nil
}
