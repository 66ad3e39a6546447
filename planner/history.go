package planner

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/history"
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
