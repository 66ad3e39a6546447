package planner_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// fidelityColumn is one column of TestTypeFidelity: its type on each side,
// and for row i the source value, the same logical value spelt differently
// for the destination, and a changed source value.
type fidelityColumn struct {
	name             string
	srcType, dstType string
	src, dst, change func(i int) string
}

// instant is the timestamptz of row i; offset spells it in a time zone that
// differs from row to row (from -04:30 to +04:30).
func instant(i int) time.Time {
	return time.Date(2024, 3, i, 12, 0, 0, 0, time.UTC)
}

func offsetZone(i int) *time.Location {
	return time.FixedZone("", (i%7-3)*90*60)
}

var fidelityColumns = []fidelityColumn{
	{"num", "numeric", "numeric(10,2)",
		// 1.504 rounds to 1.50 in numeric(10,2): equal after conversion.
		func(i int) string {
			if i%2 == 1 {
				return fmt.Sprintf("%d.504", i)
			}
			return fmt.Sprintf("%d.5", i)
		},
		func(i int) string { return fmt.Sprintf("'0%d.500'", i) },
		func(i int) string { return fmt.Sprintf("%d.51", i) }},
	{"tstz", "timestamptz", "timestamptz",
		func(i int) string {
			return "'" + instant(i).In(offsetZone(i)).Format("2006-01-02 15:04:05-07:00") + "'"
		},
		func(i int) string { return "'" + instant(i).Format("2006-01-02T15:04:05.000Z") + "'" },
		func(i int) string {
			return "'" + instant(i).Add(time.Second).In(offsetZone(i)).Format("2006-01-02 15:04:05-07:00") + "'"
		}},
	{"ts", "timestamp", "timestamp",
		func(i int) string { return fmt.Sprintf("'2024-03-%02d 08:30:00'", i) },
		func(i int) string { return fmt.Sprintf("'2024-03-%02dT08:30:00.000000'", i) },
		func(i int) string { return fmt.Sprintf("'2024-03-%02d 08:30:00.000001'", i) }},
	{"js", "json", "jsonb",
		func(i int) string { return fmt.Sprintf(`'{"b": [1, 2],  "a": {"y": 1, "x": "v%d"}}'`, i) },
		func(i int) string { return fmt.Sprintf(`'{"a":{"x":"v%d","y":1},"b":[1,2]}'`, i) },
		func(i int) string { return fmt.Sprintf(`'{"b": [2, 1], "a": {"y": 1, "x": "v%d"}}'`, i) }},
	{"ia", "int[]", "int[]",
		func(i int) string { return fmt.Sprintf("ARRAY[%d, 2, 3]", i) },
		func(i int) string { return fmt.Sprintf("'{ %d,2 , 3}'", i) },
		func(i int) string { return fmt.Sprintf("ARRAY[%d, 2, 3, 4]", i) }},
	{"ta", "text[]", "text[]",
		func(i int) string { return fmt.Sprintf("ARRAY['a%d', 'b c', '']", i) },
		func(i int) string { return fmt.Sprintf(`'{a%d,"b c",""}'`, i) },
		func(i int) string { return fmt.Sprintf("ARRAY['a%d', 'b c', NULL]", i) }},
	{"vc", "text", "varchar(20)",
		func(i int) string { return fmt.Sprintf("'hello %d'", i) },
		func(i int) string { return fmt.Sprintf("'hello %d'::varchar(30)", i) },
		func(i int) string { return fmt.Sprintf("'hello %d '", i) }},
	{"b", "boolean", "boolean",
		func(i int) string { return fmt.Sprint(i%2 == 0) },
		func(i int) string {
			if i%2 == 0 {
				return "'yes'"
			}
			return "'off'"
		},
		func(i int) string { return fmt.Sprint(i%2 != 0) }},
	{"d", "date", "date",
		func(i int) string { return fmt.Sprintf("DATE '2024-01-%02d'", i) },
		func(i int) string { return fmt.Sprintf("'January %d, 2024'", i) },
		func(i int) string { return fmt.Sprintf("DATE '2024-01-%02d' + 1", i) }},
	{"u", "uuid", "uuid",
		func(i int) string { return fmt.Sprintf("'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD3800%02d'", i) },
		func(i int) string { return fmt.Sprintf("'a0eebc999c0b4ef8bb6d6bb9bd3800%02d'", i) },
		func(i int) string { return fmt.Sprintf("'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD3899%02d'", i) }},
	{"dp", "double precision", "double precision",
		func(i int) string { return fmt.Sprintf("(%d + 0.1)::float8", i) },
		func(i int) string { return fmt.Sprintf("'%d.1e0'", i) },
		func(i int) string { return fmt.Sprintf("'%d.1000000000001'::float8", i) }},
}

// TestTypeFidelity loads the destination with the source's values written
// differently (numeric scale, time zone offsets, jsonb key order and
// spacing, array and uuid spellings, ...) and checks that the plan sees no
// change; then changes one value per column on the source and checks that
// each changed row is one update whose sample names exactly that column.
func TestTypeFidelity(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	var srcDefs, dstDefs, names []string
	for _, c := range fidelityColumns {
		srcDefs = append(srcDefs, c.name+" "+c.srcType)
		dstDefs = append(dstDefs, c.name+" "+c.dstType)
		names = append(names, c.name)
	}
	e.Src("CREATE TABLE fid (id bigint, " + strings.Join(srcDefs, ", ") + ")")
	e.Dst("CREATE TABLE fid (id bigint PRIMARY KEY, " + strings.Join(dstDefs, ", ") + ", untouched text)")

	// Rows 1..n: every column set; row j's column j changes later.
	// Row n+1: NULL in every column on both sides, stays so.
	// Row n+2: NULL in every column on both sides; num gets a value later.
	// Row n+3: every column set; js becomes NULL later.
	n := len(fidelityColumns)
	nullRow, nullToValue, valueToNull := n+1, n+2, n+3
	for i := 1; i <= n+3; i++ {
		if i == nullRow || i == nullToValue {
			e.Src(fmt.Sprintf("INSERT INTO fid (id) VALUES (%d)", i))
			e.Dst(fmt.Sprintf("INSERT INTO fid (id, untouched) VALUES (%d, 'x')", i))
			continue
		}
		var sv, dv []string
		for _, c := range fidelityColumns {
			sv = append(sv, c.src(i))
			dv = append(dv, c.dst(i))
		}
		e.Src(fmt.Sprintf("INSERT INTO fid VALUES (%d, %s)", i, strings.Join(sv, ", ")))
		e.Dst(fmt.Sprintf("INSERT INTO fid (id, %s, untouched) VALUES (%d, %s, 'x')",
			strings.Join(names, ", "), i, strings.Join(dv, ", ")))
	}

	cfg := e.Config(`
sync "fidelity" {
  source      = source.postgres.src
  query       = "SELECT * FROM fid"
  destination = destination.postgres.dst
  table       = "fid"
  behavior    = "mirror"
  key         = "id"
}
`)
	sp := syncNamed(t, plan(t, cfg, planner.Options{ShowRows: 100}), "fidelity")
	if len(sp.Findings) > 0 || !sp.Diffed {
		t.Fatalf("unexpected findings (diffed=%v):\n%s", sp.Diffed, synctest.FindingsText(sp))
	}
	if want := (planner.Counts{Unchanged: int64(n + 3)}); sp.Counts != want {
		t.Errorf("equal values plan as changes: counts %+v, want %+v", sp.Counts, want)
		logSamples(t, sp)
	}

	// One changed column per row.
	for j, c := range fidelityColumns {
		e.Src(fmt.Sprintf("UPDATE fid SET %s = %s WHERE id = %d", c.name, c.change(j+1), j+1))
	}
	e.Src(fmt.Sprintf("UPDATE fid SET num = 1.234 WHERE id = %d", nullToValue))
	e.Src(fmt.Sprintf("UPDATE fid SET js = NULL WHERE id = %d", valueToNull))

	sp = syncNamed(t, plan(t, cfg, planner.Options{ShowRows: 100}), "fidelity")
	if len(sp.Findings) > 0 || !sp.Diffed {
		t.Fatalf("unexpected findings (diffed=%v):\n%s", sp.Diffed, synctest.FindingsText(sp))
	}
	if want := (planner.Counts{Update: int64(n + 2), Unchanged: 1}); sp.Counts != want {
		t.Errorf("counts %+v, want %+v", sp.Counts, want)
	}
	if sp.Samples == nil {
		t.Fatal("no samples with ShowRows=100")
	}
	if len(sp.Samples.Insert)+len(sp.Samples.Delete) > 0 {
		t.Errorf("samples of inserts or deletes in a plan of updates: %+v", sp.Samples)
	}
	wantCol := map[string]string{}
	for j, c := range fidelityColumns {
		wantCol[fmt.Sprint(j+1)] = c.name
	}
	wantCol[fmt.Sprint(nullToValue)] = "num"
	wantCol[fmt.Sprint(valueToNull)] = "js"
	seen := map[string]bool{}
	for _, row := range sp.Samples.Update {
		if len(row.Key) != 1 {
			t.Errorf("sample key %v, want one value", row.Key)
			continue
		}
		id := row.Key[0]
		seen[id] = true
		if len(row.Columns) != 1 || row.Columns[0].Name != wantCol[id] {
			t.Errorf("id=%s: sample columns %+v, want only %q", id, row.Columns, wantCol[id])
			continue
		}
		col := row.Columns[0]
		if col.Before == col.After || col.Before == "" || col.After == "" {
			t.Errorf("id=%s %s: before %q, after %q: want two different values", id, col.Name, col.Before, col.After)
		}
	}
	if len(seen) != len(wantCol) {
		t.Errorf("update samples for %d rows, want %d", len(seen), len(wantCol))
	}
	// The values are shown in the destination's type: the source's 1.51
	// as numeric(10,2), a NULL as NULL.
	checkSample(t, sp, "1", "num", "1.50", "1.51")
	checkSample(t, sp, fmt.Sprint(nullToValue), "num", "NULL", "1.23")
	checkSample(t, sp, "7", "vc", "hello 7", "hello 7 ")
	checkSample(t, sp, "8", "b", "t", "f")
	checkSample(t, sp, "6", "ta", `{a6,"b c",""}`, `{a6,"b c",NULL}`)
	// SampleRow promises PostgreSQL's text output format, which is what a
	// user sees in psql (the sessions run with TimeZone UTC).
	checkSample(t, sp, fmt.Sprint(valueToNull), "js", `{"a": {"x": "v14", "y": 1}, "b": [1, 2]}`, "NULL")
	checkSample(t, sp, "2", "tstz", "2024-03-02 12:00:00+00", "2024-03-02 12:00:01+00")
	if t.Failed() {
		logSamples(t, sp)
	}
}

// checkSample checks the before and after values of one column of the
// update sample of the row with key id.
func checkSample(t *testing.T, sp *planner.SyncPlan, id, col, before, after string) {
	t.Helper()
	if sp.Samples == nil {
		return
	}
	for _, row := range sp.Samples.Update {
		if len(row.Key) == 1 && row.Key[0] == id {
			for _, c := range row.Columns {
				if c.Name == col {
					if c.Before != before || c.After != after {
						t.Errorf("id=%s %s: %q -> %q, want %q -> %q", id, col, c.Before, c.After, before, after)
					}
					return
				}
			}
		}
	}
	t.Errorf("no update sample for id=%s column %s", id, col)
}

func logSamples(t *testing.T, sp *planner.SyncPlan) {
	t.Helper()
	if sp.Samples == nil {
		return
	}
	for kind, rows := range map[string][]planner.SampleRow{"insert": sp.Samples.Insert, "update": sp.Samples.Update, "delete": sp.Samples.Delete} {
		for _, r := range rows {
			t.Logf("%s %v %+v", kind, r.Key, r.Columns)
		}
	}
}
