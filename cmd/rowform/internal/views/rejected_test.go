package views

import (
	"testing"

	"github.com/rowform/rowform/planner"
)

func TestRejectedRowText(t *testing.T) {
	tests := []struct {
		row  planner.RejectedRow
		key  []string
		want string
	}{
		{
			planner.RejectedRow{Kind: "insert", Key: map[string]string{"id": "7"}, Line: 12, Column: "name",
				Reason: "value too long for type character varying(20)"},
			[]string{"id"},
			"insert id=7 (CSV line 12): value too long for type character varying(20) (column name)",
		},
		{
			// Key columns in key order, others after them by name; text
			// values quoted as sample keys are.
			planner.RejectedRow{Kind: "update", Key: map[string]string{"id": "7", "tenant": "acme", "extra": "x"},
				Column: "plan", Constraint: "accounts_plan_check", Reason: "check"},
			[]string{"tenant", "id"},
			`update tenant="acme" id=7 extra="x": check (column plan, constraint accounts_plan_check)`,
		},
		{
			// Server text cannot inject terminal sequences or break the line.
			planner.RejectedRow{Kind: "delete", Key: map[string]string{"k\x1b": "a\nb"},
				Constraint: "c\u202e", Reason: "line one\nline two\x1b[2J"},
			nil,
			`delete k\x1b="a\nb": line one\nline two\x1b[2J (constraint c\u202e)`,
		},
		{
			planner.RejectedRow{Kind: "insert", Reason: "no key"},
			[]string{"id"},
			"insert: no key",
		},
	}
	for _, tt := range tests {
		if got := RejectedRowText(tt.row, tt.key); got != tt.want {
			t.Errorf("RejectedRowText(%+v)\n got %s\nwant %s", tt.row, got, tt.want)
		}
	}
}
