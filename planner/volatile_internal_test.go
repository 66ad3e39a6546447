package planner

import (
	"slices"
	"testing"
)

// TestClockIn: the moving calls of an EXPLAIN VERBOSE plan, read as the
// server deparses it: calls among a node's Output are values, others
// (filters, conditions) choose rows; constants, quoted names and columns
// that share a function's name are not calls.
func TestClockIn(t *testing.T) {
	for _, c := range []struct {
		name     string
		lines    []string
		calls    []string
		inValues bool
	}{
		{"a value", []string{"Seq Scan on public.nq", "  Output: id, name, now()"}, []string{"now()"}, true},
		{"a view's SQL value function", []string{"Seq Scan on public.nq", "  Output: nq.id, CURRENT_TIMESTAMP, LOCALTIMESTAMP(2)"}, []string{"CURRENT_TIMESTAMP", "LOCALTIMESTAMP"}, true},
		{"a CTE's value", []string{"CTE Scan on x", "  Output: x.id, x.c", "  CTE x", "    ->  Seq Scan on public.nq", "          Output: nq.id, clock_timestamp()"}, []string{"clock_timestamp()"}, true},
		{"a filter", []string{"Seq Scan on public.events", "  Output: id, at", "  Filter: (events.at > (now() - '30 days'::interval))"}, []string{"now()"}, false},
		{"qualified, any case", []string{"  Output: public.UUID_GENERATE_V4(), pg_catalog.random()"}, []string{"uuid_generate_v4()", "random()"}, true},
		{"not calls", []string{"  Output: id, now, \"now\"(x), 'now()'::text, 'it''s now()'::text, current_date_x, \"CURRENT_DATE\", nowish(1), my_now()"}, nil, false},
		{"each call once", []string{"  Filter: (random() > 0.5)", "  Output: random(), now()"}, []string{"random()", "now()"}, true},
	} {
		got := clockIn(c.lines)
		if !slices.Equal(got.calls, c.calls) || got.inValues != c.inValues {
			t.Errorf("%s: clockIn = %q in values %v, want %q in values %v", c.name, got.calls, got.inValues, c.calls, c.inValues)
		}
	}
}
