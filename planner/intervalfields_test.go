package planner_test

import (
	"context"
	"fmt"
	"testing"

	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestIntervalFieldsMatchServer holds the check of intervals restricted to
// fields (interval day, interval hour to minute, ...) to the server: a
// value is refused exactly when the server's cast to the column's type
// changes it, which a write would do without a word ('1 day 3 hours' into
// interval day is '1 day').
func TestIntervalFieldsMatchServer(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	specs := []string{"year", "month", "day", "hour", "minute", "second", "year to month", "day to hour", "day to minute",
		"day to second", "hour to minute", "hour to second", "minute to second", "day to second(0)", "second(2)"}
	values := []string{"0", "1 year", "1 year 1 mon", "14 mons", "-13 mons", "1 mon -30 days", "2 days", "1 day 3 hours", "-1 day -3 hours",
		"3 hours", "3 hours 5 min", "-3 hours -5 min", "5 min 30 sec", "30 sec", "0.5 sec", "1 day 24 hours", "25 hours", "-0.000001 sec",
		"1 year 2 mons 3 days 04:05:06.789"}
	ctx := context.Background()
	conn := e.DstConn()
	refused := 0
	for _, spec := range specs {
		e.Dst(fmt.Sprintf(`CREATE TABLE iv (v interval %s)`, spec))
		var typmod int32
		if err := conn.QueryRow(ctx, `SELECT atttypmod FROM pg_attribute WHERE attrelid = 'iv'::regclass AND attname = 'v'`).Scan(&typmod); err != nil {
			t.Fatal(err)
		}
		e.Dst(`DROP TABLE iv`)
		for _, v := range values {
			rr := conn.PgConn().ExecParams(ctx, fmt.Sprintf(`SELECT $1::interval, (($1::interval)::interval %s)::text <> ($1::interval)::text`, spec),
				[][]byte{[]byte(v)}, nil, nil, []int16{1, 0})
			var bin []byte
			var changed bool
			for rr.NextRow() {
				bin = append([]byte(nil), rr.Values()[0]...)
				changed = string(rr.Values()[1]) == "t"
			}
			if _, err := rr.Close(); err != nil {
				t.Fatalf("%s %q: %v", spec, v, err)
			}
			// Rounding to a precision is no cut: only the fields are checked.
			if spec == "second(2)" || spec == "day to second(0)" || spec == "second" || spec == "day to second" || spec == "hour to second" || spec == "minute to second" {
				changed = false
			}
			if got := planner.IntervalCutForTest(typmod, bin); got != changed {
				t.Errorf("interval %s %q: the check refuses it: %v, the server changes it: %v", spec, v, got, changed)
			}
			if changed {
				refused++
			}
		}
	}
	if refused < 20 {
		t.Errorf("only %d values are cut", refused)
	}
}
