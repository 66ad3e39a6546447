package planner

import (
	"context"
	"fmt"
	"slices"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/catalog"
	"github.com/rowform/rowform/internal/history"
	"github.com/rowform/rowform/internal/plural"
)

// CodeHistorySchemaTaken: the history schema holds tables (or a sequence,
// or indexes) of the history's names that are not rowform's.
const CodeHistorySchemaTaken Code = "history_schema_taken"

// historyFindings reports what keeps role from recording the applies of s
// in its destination's history (docs/history.md): as missing_privilege,
// that the history schema cannot be created, or its tables cannot be
// created or written; as history_schema_taken, that the schema holds
// someone else's objects of the history's names. Nothing when the
// destination keeps no history.
func historyFindings(ctx context.Context, s *hclconfig.Sync, dst *pgx.Conn, role string) []Finding {
	if !s.Destination.HistoryEnabled() {
		return nil
	}
	p, err := history.Check(ctx, dst, s.Destination.History.Schema, role)
	if err != nil {
		return []Finding{{Severity: SeverityError, Code: CodeConnectionFailed, Summary: "reading the history schema: " + describeError(err)}}
	}
	if p == nil {
		return nil
	}
	code := CodeMissingPrivilege
	if p.Taken {
		code = CodeHistorySchemaTaken
	}
	return []Finding{{Severity: SeverityError, Code: code, Summary: p.Summary,
		Detail: p.Detail + " (" + s.Destination.Address() + ")", Fix: p.Fix}}
}

// historyRowSelect is the missing_privilege finding, or nil, for the
// columns of t that recording deleted rows in the history reads beyond
// the written ones: a deleted row is recorded whole, every column but
// generated ones (docs/history.md), and when the sync does not write them
// all the DELETE returns them into the history, which needs SELECT on
// them. Nothing when the destination keeps no history or the sync writes
// every such column.
func historyRowSelect(ctx context.Context, s *hclconfig.Sync, dst *pgx.Conn, t *catalog.Table, role string, written []string) []Finding {
	if !s.Destination.HistoryEnabled() {
		return nil
	}
	var extra []string
	for _, c := range t.Columns {
		if c.Generated == "" && !slices.Contains(written, c.Name) {
			extra = append(extra, c.Name)
		}
	}
	if len(extra) == 0 {
		return nil
	}
	missing, err := catalog.MissingPrivileges(ctx, dst, t, role, catalog.Need{Select: extra})
	if err != nil {
		return []Finding{{Severity: SeverityError, Code: CodeConnectionFailed, Summary: describeError(err)}}
	}
	var out []Finding
	for _, m := range missing {
		if m.Privilege != "SELECT" {
			continue
		}
		cols := m.Columns
		if cols == nil {
			cols = extra
		}
		out = append(out, Finding{Severity: SeverityError, Code: CodeMissingPrivilege,
			Summary: fmt.Sprintf("role %q lacks SELECT on column%s %s of %s", role, plural.S(len(cols)), catalog.IdentList(cols), m.Object),
			Detail: fmt.Sprintf("Every row a delete removes is recorded whole in the history of %s, the columns the sync does not map too, so that undo can insert it again; or set history = false.",
				s.Destination.Address()),
			Fix: fmt.Sprintf("GRANT SELECT (%s) ON %s TO %s;", catalog.IdentList(cols), t.Ident(), pgx.Identifier{role}.Sanitize())})
	}
	return out
}
