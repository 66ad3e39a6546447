package planner

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/history"
)

// historyFindings reports, as missing_privilege, what keeps role from
// recording the applies of s in its destination's history (docs/history.md):
// the history schema cannot be created, or its tables cannot be created or
// written. Nothing when the destination keeps no history.
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
	return []Finding{{Severity: SeverityError, Code: CodeMissingPrivilege, Summary: p.Summary,
		Detail: p.Detail + " (" + s.Destination.Address() + ")", Fix: p.Fix}}
}
