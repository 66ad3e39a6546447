package executor_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestTextFallbackConvertsAsTheCast: a postgres source's values are cast
// on the source to the destination's types (numeric 1.5 to integer 2,
// float8 0.30000000000000004 to numeric 0.3, inet 10.0.0.1/8 to cidr
// 10.0.0.0/8, a macaddr8 with FF:FE in its middle to macaddr). When another
// row's value does not convert, the source is read as text and converted
// on the destination: each value must convert there as its cast did. Text
// input refused those texts, so one row that did not convert made the
// plan refuse every such row beside it (and update a stored 0.3 to
// 0.30000000000000004), and the next plan, once the row was fixed, wrote
// them back: plans flip-flopped with the source unchanged.
func TestTextFallbackConvertsAsTheCast(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE m (id int, n numeric, f float8, ip inet, mac macaddr8, b bpchar, bits bit(3));
INSERT INTO m VALUES (1, 1.5, 0.30000000000000004, '10.0.0.1/8', '08:00:2b:ff:fe:01:02:03', 'ab  ', B'101'),
  (2, 2, 1, '10.0.0.2', '08:00:2b:ff:fe:01:02:04', 'c', B'011')`)
	e.Dst(`CREATE TABLE m (id int PRIMARY KEY, n int, f numeric, ip cidr, mac macaddr, b varchar(3), bits varbit(3), r text)`)
	cfg := e.Config(`
sync "m" {
  source      = source.postgres.src
  query       = "SELECT *, ROW(id, b) AS r FROM m"
  destination = destination.postgres.dst
  table       = "m"
  behavior    = "update_or_create"
  key         = "id"
  on_reject   = "skip"
}`)
	const want = `1 2 0.3 10.0.0.0/8 08:00:2b:01:02:03 ab 101 (1,"ab  "), 2 2 1 10.0.0.2/32 08:00:2b:01:02:04 c 011 (2,c)`
	stored := func() string {
		return strings.Join(e.DstQuery(`SELECT format('%s %s %s %s %s %s %s %s', id, n, f, ip, mac, b, bits, r) FROM m ORDER BY id`), ", ")
	}
	p := applyable(t, cfg)
	requirePlanned(t, p, planner.Counts{Insert: 2})
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := stored(); got != want {
		t.Fatalf("m holds %s, want %s", got, want)
	}
	requireConverged(t, cfg)

	// Row 2's n no longer fits an integer: the source is read as text.
	// Row 1 is unchanged, and row 3 is written as the cast gives it.
	e.Src(`UPDATE m SET n = 1e20 WHERE id = 2; INSERT INTO m VALUES (3, 2.5, 0.1, '10.1.2.3/16', '08:00:2b:ff:fe:01:02:05', 'x ', B'001')`)
	p = plan(t, cfg)
	sp := p.Syncs[0]
	if want := (planner.Counts{Insert: 1, Unchanged: 1, Reject: 1}); sp.Counts != want {
		t.Fatalf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	text := synctest.FindingsText(sp)
	for _, want := range []string{`column "n": integer out of range`, "id=2"} {
		if !strings.Contains(text, want) {
			t.Errorf("the findings do not say %q:\n%s", want, text)
		}
	}
	if strings.Contains(text, "id=1") || strings.Contains(text, "id=3") {
		t.Errorf("rows that convert are refused:\n%s", text)
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got, want := stored(), want+`, 3 3 0.1 10.1.0.0/16 08:00:2b:01:02:05 x 001 (3,"x ")`; got != want {
		t.Fatalf("m holds %s, want %s", got, want)
	}

	// Fixed again: nothing but row 2 changes.
	e.Src(`UPDATE m SET n = 7 WHERE id = 2`)
	p = applyable(t, cfg)
	requirePlanned(t, p, planner.Counts{Update: 1, Unchanged: 2})
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	requireConverged(t, cfg)
}

// convCase is one source -> destination type pair of TestConversionMatrix:
// the values a source gives (SQL literals of srcType for a postgres source,
// CSV fields for a csv source, DuckDB literals cast to srcType for a duckdb
// source) and, for each, the text of what the destination stores, or
// "reject" for a value the plan refuses.
type convCase struct {
	source           string // "postgres", "csv" or "duckdb"
	srcType, dstType string
	vals, want       []string
}

func conv(source, srcType, dstType string, pairs ...string) convCase {
	c := convCase{source: source, srcType: srcType, dstType: dstType}
	for i := 0; i < len(pairs); i += 2 {
		c.vals = append(c.vals, pairs[i])
		c.want = append(c.want, pairs[i+1])
	}
	return c
}

const reject = "reject"

var convCases = []convCase{
	// Postgres sources: the source's explicit cast to the destination's
	// type, whose documented roundings and normalizations are no change;
	// what the destination would refuse or cut is refused.
	conv("postgres", "numeric(10,4)", "numeric(6,2)", "1.005", "1.01", "1.004", "1.00", "-1.005", "-1.01", "9999.995", reject, "'NaN'", "NaN"),
	conv("postgres", "float8", "float4", "0.1", "0.1", "'NaN'", "NaN", "'Infinity'", "Infinity", "'-0'", "-0", "1e300", reject),
	conv("postgres", "float8", "numeric(10,2)", "'Infinity'", reject, "2.675", "2.68"),
	conv("postgres", "text", "int", "' 5'", "5", "'+5'", "5", "'007'", "7", "'1.5'", reject),
	conv("postgres", "text", "bool", "'yes'", "true", "'on'", "true", "'t'", "true", "'maybe'", reject),
	conv("postgres", "timestamp(6)", "timestamp(0)", "'2024-01-01 10:00:00.5'", "2024-01-01 10:00:01", "'2024-01-01 10:00:00.4999'", "2024-01-01 10:00:00"),
	conv("postgres", "timestamptz", "timestamptz(2)", "'2024-01-01 10:00:00.125+05'", "2024-01-01 05:00:00.13+00"),
	conv("postgres", "time(6)", "time(0)", "'10:00:00.5'", "10:00:01"),
	conv("postgres", "interval", "interval", "'1 day 24 hours'", "1 day 24:00:00", "'90 minutes'", "01:30:00"),
	// An interval restricted to fields drops the others: refused.
	conv("postgres", "interval", "interval day", "'1 day 3 hours'", reject, "'2 days'", "2 days", "'1 mon 2 days'", "1 mon 2 days"),
	conv("postgres", "interval", "interval hour to minute", "'1 day 3 hours 5 min 30 sec'", reject, "'1 day 03:05'", "1 day 03:05:00"),
	conv("postgres", "interval", "interval year", "'1 year 1 mon'", reject, "'2 years'", "2 years"),
	conv("postgres", "interval", "interval day to second(0)", "'1 day 3 hours 5.5 sec'", "1 day 03:00:06"),
	conv("postgres", "text", "interval hour", "'3'", reject, "'90 minutes'", reject, "'2 hours'", "02:00:00"),
	conv("postgres", "date", "date", "'infinity'", "infinity", "'-infinity'", "-infinity"),
	conv("postgres", "json", "jsonb", `'{"b": 1,  "a": [1.0, 2]}'`, `{"a": [1.0, 2], "b": 1}`),
	conv("postgres", "jsonb", "json", `'{"b": 1, "a": 2}'`, `{"a": 2, "b": 1}`),
	conv("postgres", "text", "uuid", "'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11'", "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11"),
	conv("postgres", "text", "macaddr", "'08-00-2B-01-02-03'", "08:00:2b:01:02:03"),
	conv("postgres", "text", "cidr", "'10.0.0.1/8'", reject, "'10/8'", "10.0.0.0/8"),
	conv("postgres", "text", "bytea", `'\x41'`, `\x41`, "'abc'", `\x616263`),
	conv("postgres", "text", "char(3)", "'ab '", "ab", "'abcd'", reject),
	conv("postgres", "text", "varchar(3)", "'abc  '", reject, "'abc'", "abc"),
	conv("postgres", "text", "bit(3)", "'101'", "101", "'10'", reject),
	conv("postgres", "int4range", "int4range", "'[1,4]'", "[1,5)"),
	conv("postgres", "numeric[]", "numeric(6,2)[]", "'{1.005,2}'", "{1.01,2.00}"),
	conv("postgres", "int8", "int2", "70000", reject, "-5", "-5"),
	// Casts that text input would refuse or read otherwise: the same with
	// the source read as text (the fallback runs of the same cases).
	conv("postgres", "numeric", "int", "1.5", "2", "2.5", "3", "5.00", "5", "1e20", reject),
	conv("postgres", "float8", "numeric", "0.30000000000000004", "0.3"),
	conv("postgres", "float4", "float8", "0.1", "0.10000000149011612"),
	conv("postgres", "inet", "cidr", "'10.0.0.1/8'", "10.0.0.0/8"),
	conv("postgres", "macaddr8", "macaddr", "'08:00:2b:ff:fe:01:02:03'", "08:00:2b:01:02:03", "'08:00:2b:01:02:03:04:05'", reject),
	conv("postgres", "bool", "int", "true", "1"),
	conv("postgres", "char(4)", "text", "'ab'", "ab"),

	// CSV files: the destination's input functions.
	conv("csv", "", "int", " 5", "5", "+5", "5", "007", "7", "1.5", reject, "5.00", reject),
	conv("csv", "", "numeric(6,2)", "1.005", "1.01", "-1.005", "-1.01", "1e2", "100.00", "NaN", "NaN", "Infinity", reject),
	conv("csv", "", "float4", "0.1", "0.1", "-0", "-0", "1e-50", reject),
	conv("csv", "", "timestamp(0)", "2024-01-01 10:00:00.5", "2024-01-01 10:00:01", "infinity", "infinity"),
	conv("csv", "", "timestamptz", "2024-01-01 10:00:00", "2024-01-01 10:00:00+00", "2024-01-01 10:00:00-05", "2024-01-01 15:00:00+00"),
	conv("csv", "", "interval(0)", "1.5 seconds", "00:00:02"),
	conv("csv", "", "interval month", "1 mon 3 days", reject, "14 mons", "1 year 2 mons"),
	// Text is an interval as the explicit cast reads it (a bare number
	// is seconds), then held to the fields: '3' was stored as 00:00:00.
	conv("csv", "", "interval hour", "3", reject, "7200", "02:00:00", "1 day 2 hours", "1 day 02:00:00"),
	conv("csv", "", "jsonb", `"{""b"":1,""a"":2}"`, `{"a": 2, "b": 1}`),
	conv("csv", "", "cidr", "10.0.0.1/8", reject, "10.0.0.0/8", "10.0.0.0/8"),
	conv("csv", "", "char(3)", "ab ", "ab", "abcd", reject),
	conv("csv", "", "varchar(3)", "abc  ", reject),
	conv("csv", "", "bit(3)", "10", reject, "101", "101"),
	conv("csv", "", "int4range", `"[1,4]"`, "[1,5)"),
	conv("csv", "", "int[]", `"{ 1 , 2 }"`, "{1,2}", `"[0:1]={1,2}"`, "[0:1]={1,2}"),
	conv("csv", "", "text", `""`, "", "", "NULL"),

	// DuckDB sources: DuckDB's text, converted on the destination, or in
	// Go by the text codecs (duckdb-go: timestamp(p) rounded as the column
	// rounds it).
	conv("duckdb-go", "TIMESTAMP", "timestamp(0)", "'2024-01-01 10:00:00.5'", "2024-01-01 10:00:01", "'2024-01-01 10:00:00.4'", "2024-01-01 10:00:00", "'1969-12-31 23:59:59.5'", "1969-12-31 23:59:59"),
	conv("duckdb-go", "TIMESTAMPTZ", "timestamptz(1)", "'2024-01-01 10:00:00.55+00'", "2024-01-01 10:00:00.6+00"),
	conv("duckdb-go", "TIMESTAMP", "timestamp(3)", "'2024-01-01 10:00:00.0005'", "2024-01-01 10:00:00.001"),
	conv("duckdb-go", "DOUBLE", "numeric(6,2)", "1.005", "1.01", "2.675", "2.68", "9999.999", reject),
	conv("duckdb-go", "VARCHAR", "jsonb", `'{"a":1.0,"a":2,"b":[1, 2.50]}'`, `{"a": 2, "b": [1, 2.50]}`),
	conv("duckdb", "TIMESTAMP", "timestamp(0)", "'2024-01-01 10:00:00.5'", "2024-01-01 10:00:01"),
	conv("duckdb", "INTERVAL", "interval day", "INTERVAL '1 day 3 hours'", reject, "INTERVAL '3 days'", "3 days"),
	conv("duckdb", "DOUBLE", "float4", "0.1", "0.1", "'-0.0'", "-0", "1e300", reject),
	conv("duckdb", "DOUBLE", "numeric(6,2)", "1.005", "1.01", "2.675", "2.68"),
	conv("duckdb", "DECIMAL(10,4)", "numeric(6,2)", "1.005", "1.01", "-1.005", "-1.01", "9999.995", reject),
	conv("duckdb", "DOUBLE", "int", "2.5", reject),
	conv("duckdb", "DATE", "date", "'infinity'", "infinity"),
	conv("duckdb", "VARCHAR", "varchar(3)", "'abc  '", reject, "'é'", "é"),
	conv("duckdb", "VARCHAR", "jsonb", `'{"a":1.0,"a":2,"b":1e2}'`, `{"a": 2, "b": 100}`),
}

// TestConversionMatrix syncs each case's values into a column of the
// destination's type and holds the plan to three promises: a value is
// stored as the case says, or refused (never cut silently); apply writes
// exactly the rows the plan counts; and the next plan has nothing to
// change. The postgres cases run twice: without the values they refuse,
// so that every value is cast on the source, and with them and one more
// row whose other value does not convert, so that the source is read as
// text and converted on the destination, which must store the same
// values. Each value is a row of its own (key (case+1)*100 + value+1, the
// other cases' columns NULL), so that a refused value refuses no other;
// one sync per source reads them all.
func TestConversionMatrix(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	type run struct {
		table, source string
		extra         int64 // rows refused besides the cases' own
	}
	// pg reads the postgres cases without the values they refuse (the
	// source casts every value), pg_text with them and one more row whose
	// z is no integer (the source is read as text).
	// duck_go's values all have text codecs, so that its diff converts
	// them in Go; one value without (2.5 for an int) has duck's diff
	// convert them all on the destination.
	runs := []run{{"pg", "postgres", 0}, {"pg_text", "postgres", 1}, {"pg_hash", "postgres", 0}, {"csvs", "csv", 0}, {"duck", "duckdb", 0}, {"duck_go", "duckdb-go", 0}}
	var body strings.Builder
	var pgSource string
	for _, r := range runs {
		var cols, dstCols, srcCols []string
		for i, c := range convCases {
			if c.source == r.source {
				cols = append(cols, fmt.Sprintf("v%d", i))
				dstCols = append(dstCols, fmt.Sprintf("v%d %s", i, c.dstType))
				srcCols = append(srcCols, fmt.Sprintf("v%d %s", i, c.srcType))
			}
		}
		// Row 0 is NULL on both sides: no sync is an initial load.
		e.Dst(fmt.Sprintf(`CREATE TABLE %s (id int PRIMARY KEY, z int, %s); INSERT INTO %[1]s (id, z) VALUES (0, 1)`, r.table, strings.Join(dstCols, ", ")))
		var source string
		switch r.table {
		case "pg":
			e.Src(fmt.Sprintf(`CREATE TABLE s (id int, z text, %s); INSERT INTO s (id, z) VALUES (0, '1'), (1, 'x')`, strings.Join(srcCols, ", ")))
			refused := []string{"1"}
			for i, c := range convCases {
				for j, v := range c.vals {
					if c.source == "postgres" {
						e.Src(fmt.Sprintf(`INSERT INTO s (id, z, v%d) VALUES (%d, '1', %s)`, i, (i+1)*100+j+1, v))
						if c.want[j] == reject {
							refused = append(refused, fmt.Sprint((i+1)*100+j+1))
						}
					}
				}
			}
			// Without the values that do not convert, each value is cast
			// on the source.
			source = fmt.Sprintf(`source = source.postgres.src
  query  = "SELECT * FROM s WHERE id NOT IN (%s)"`, strings.Join(refused, ", "))
			pgSource = source
		case "pg_text":
			source = `source = source.postgres.src
  query  = "SELECT * FROM s"`
		case "pg_hash":
			source = pgSource + "\n  diff_strategy = \"server_hash\""
		case "csvs":
			var b strings.Builder
			fmt.Fprintf(&b, "id,z,%s\n0,1%s\n", strings.Join(cols, ","), strings.Repeat(",", len(cols)))
			k := 0
			for i, c := range convCases {
				if c.source != "csv" {
					continue
				}
				for j, v := range c.vals {
					fields := make([]string, len(cols))
					fields[k] = v
					fmt.Fprintf(&b, "%d,1,%s\n", (i+1)*100+j+1, strings.Join(fields, ","))
				}
				k++
			}
			e.WriteFile("m.csv", b.String())
			body.WriteString("source \"csv\" \"m\" {\n  path = \"m.csv\"\n}\n")
			source = "source = source.csv.m"
		case "duck", "duck_go":
			var first []string
			for i, c := range convCases {
				if c.source == r.source {
					first = append(first, fmt.Sprintf("CAST(NULL AS %s) AS v%d", c.srcType, i))
				}
			}
			sel := []string{"SELECT 0 AS id, 1 AS z, " + strings.Join(first, ", ")}
			k := 0
			for i, c := range convCases {
				if c.source != r.source {
					continue
				}
				for j, v := range c.vals {
					fields := make([]string, len(cols))
					for f := range fields {
						fields[f] = "NULL"
					}
					fields[k] = fmt.Sprintf("CAST(%s AS %s)", v, c.srcType)
					sel = append(sel, fmt.Sprintf("SELECT %d, 1, %s", (i+1)*100+j+1, strings.Join(fields, ", ")))
				}
				k++
			}
			if r.table == "duck" {
				body.WriteString("source \"duckdb\" \"lake\" {}\n")
			}
			source = fmt.Sprintf("source = source.duckdb.lake\n  query  = %q", strings.Join(sel, " UNION ALL "))
		}
		fmt.Fprintf(&body, `
sync %q {
  %s
  destination = destination.postgres.dst
  table       = %q
  behavior    = "mirror"
  key         = "id"
  on_reject   = "skip"
}
`, r.table, source, r.table)
	}
	cfg := e.Config(body.String())
	p := plan(t, cfg)
	res := apply(t, cfg, p, executor.Options{})
	requireApplied(t, res)
	for k, r := range runs {
		sp := p.Syncs[k]
		if sp.Name != r.table {
			t.Fatalf("sync %d is %q, want %q", k, sp.Name, r.table)
		}
		want := planner.Counts{Unchanged: 1, Reject: r.extra}
		for i, c := range convCases {
			if c.source != r.source {
				continue
			}
			var stored []string
			for j, w := range c.want {
				if w == reject {
					if r.table != "pg" && r.table != "pg_hash" {
						want.Reject++
					}
					continue
				}
				want.Insert++
				stored = append(stored, fmt.Sprintf("%d %s", (i+1)*100+j+1, w))
			}
			got := e.DstQuery(fmt.Sprintf(`SELECT id || ' ' || coalesce(v%d::text, 'NULL') FROM %s WHERE id / 100 = %d ORDER BY id`, i, r.table, i+1))
			if strings.Join(got, "\n") != strings.Join(stored, "\n") {
				t.Errorf("%s: %s %s -> %s: stored\n%s\nwant\n%s", r.table, c.source, c.srcType, c.dstType, strings.Join(got, "\n"), strings.Join(stored, "\n"))
			}
		}
		if sp.Counts != want {
			t.Errorf("%s: planned %+v, want %+v\n%s", r.table, sp.Counts, want, synctest.FindingsText(sp))
		}
		if r.table == "pg_hash" && sp.Strategy != planner.StrategyServerHash {
			t.Errorf("%s: the diff is %s (%s)", r.table, sp.Strategy, sp.StrategyReason)
		}
		res := syncResult(t, res, sp.Name)
		if res.Applied.Insert != sp.Counts.Insert || res.Applied.Update != sp.Counts.Update || res.Applied.Delete != sp.Counts.Delete {
			t.Errorf("%s: applied %+v, planned %+v", r.table, res.Applied, sp.Counts)
		}
	}
	requireConverged(t, cfg)
}

// TestPostgresSourceNowIsRefused: a postgres source's text 'now' for a
// date or time column is a rejected row, as a CSV field's is. The source
// cast it to the time of its query, another one in the plan and in the
// apply, so every apply of the plan found it stale. It is refused whether
// the source's values are cast on the source or, when another value does
// not convert, read as text and converted on the destination; a key 'now'
// is an error of the plan.
func TestPostgresSourceNowIsRefused(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE events (id int, at text, day varchar, t text, n text);
INSERT INTO events VALUES (1, 'now', '2024-01-02', '10:00', '1'), (2, '2024-01-01 10:00:00+00', '2024-01-02', '10:00', '2'),
  (3, '2024-01-01 10:00:00+00', ' NOW ', '10:00', '3'), (4, '2024-01-01 10:00:00+00', '2024-01-02', 'Now', '4'),
  (5, '2024-01-01 10:00:00+00', '2024-01-02', NULL, '5')`)
	e.Dst(`CREATE TABLE events (id int PRIMARY KEY, at timestamptz, day date, t time, n int)`)
	events := func(strategy string) *hclconfig.Config {
		return e.Config(fmt.Sprintf(`
sync "events" {
  source        = source.postgres.src
  query         = "SELECT * FROM events"
  destination   = destination.postgres.dst
  table         = "events"
  behavior      = "update_or_create"
  key           = "id"
  on_reject     = "skip"
  diff_strategy = %q
}`, strategy))
	}
	cfg := events("full_rows")
	requireRefused := func(p *planner.Plan, want planner.Counts, ids ...string) {
		t.Helper()
		sp := p.Syncs[0]
		if sp.Counts != want {
			t.Fatalf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
		}
		text := synctest.FindingsText(sp)
		for _, want := range append([]string{"'now' is read as the time it is converted", `column "at"`, `column "day"`, `column "t"`}, ids...) {
			if !strings.Contains(text, want) {
				t.Errorf("the findings do not say %q:\n%s", want, text)
			}
		}
	}
	p := applyable(t, cfg)
	requireRefused(p, planner.Counts{Insert: 2, Reject: 3}, "id=1", "id=3", "id=4")
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT id::text FROM events ORDER BY id`), ","); got != "2,5" {
		t.Errorf("events holds ids %s, want 2,5", got)
	}
	requireConverged(t, cfg)
	// The server-side hashes are computed on the source too.
	requireRefused(plan(t, events("server_hash")), planner.Counts{Unchanged: 2, Reject: 3}, "id=1", "id=3", "id=4")

	// Row 6 does not convert: the source is read as text, and 'now' is
	// refused all the same.
	e.Src(`INSERT INTO events VALUES (6, '2024-01-01 10:00:00+00', '2024-01-02', '10:00', 'x')`)
	requireRefused(plan(t, cfg), planner.Counts{Unchanged: 2, Reject: 4}, "id=1", "id=3", "id=4", "id=6")

	e.Src(`CREATE TABLE stamps (at text)`)
	e.Src(`INSERT INTO stamps VALUES ('now')`)
	e.Dst(`CREATE TABLE stamps (at timestamptz PRIMARY KEY)`)
	cfg = e.Config(`
sync "stamps" {
  source      = source.postgres.src
  query       = "SELECT at FROM stamps"
  destination = destination.postgres.dst
  table       = "stamps"
  behavior    = "update_or_create"
  key         = "at"
}`)
	if text := synctest.FindingsText(plan(t, cfg).Syncs[0]); !strings.Contains(text, "type_mismatch") || !strings.Contains(text, "'now' is read as the time it is converted") {
		t.Errorf("a key 'now':\n%s", text)
	}
}

// TestPostgresSourceMovingDaysAreRefused: a postgres source's text
// 'today', 'tomorrow' or 'yesterday' for a date or timestamp (alone or
// with a time), and 'now' in the text of an array or a range of one, is
// cast on the source from the date or time of its query, another one the
// next day: each is a rejected row naming its word, whether the values
// are cast on the source (both diff strategies) or, when another value
// does not convert, read as text and converted on the destination.
func TestPostgresSourceMovingDaysAreRefused(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE events (id int, at text, day varchar, days text[], span text, n text);
INSERT INTO events VALUES
  (1, 'Today 10:00', '2024-01-02', NULL, NULL, '1'),
  (2, 'epoch', 'infinity', '{2024-01-01,-infinity}', '[2024-01-01,infinity)', '2'),
  (3, '2024-01-01 10:00:00+00', ' tomorrow', NULL, NULL, '3'),
  (4, '2024-01-01 10:00:00+00', '2024-01-02', '{2024-01-01,yesterday}', NULL, '4'),
  (5, '2024-01-01 10:00:00+00', '2024-01-02', NULL, '[now,)', '5'),
  (6, '2024-01-01 10:00:00+00', '2024-01-02', '{2024-01-01}', '[2024-01-01,2024-01-02)', '6')`)
	e.Dst(`CREATE TABLE events (id int PRIMARY KEY, at timestamptz, day date, days date[], span tstzrange, n int)`)
	events := func(strategy string) *hclconfig.Config {
		return e.Config(fmt.Sprintf(`
sync "events" {
  source        = source.postgres.src
  query         = "SELECT * FROM events"
  destination   = destination.postgres.dst
  table         = "events"
  behavior      = "update_or_create"
  key           = "id"
  on_reject     = "skip"
  diff_strategy = %q
}`, strategy))
	}
	requireRefused := func(p *planner.Plan, want planner.Counts, ids ...string) {
		t.Helper()
		sp := p.Syncs[0]
		if sp.Counts != want {
			t.Fatalf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
		}
		text := synctest.FindingsText(sp)
		for _, want := range append([]string{"'today' is read from the date it is converted", "'tomorrow' is read from the date", "'yesterday' is read from the date",
			"'now' is read as the time it is converted", `column "at"`, `column "day"`, `column "days"`, `column "span"`}, ids...) {
			if !strings.Contains(text, want) {
				t.Errorf("the findings do not say %q:\n%s", want, text)
			}
		}
	}
	cfg := events("full_rows")
	p := applyable(t, cfg)
	requireRefused(p, planner.Counts{Insert: 2, Reject: 4}, "id=1", "id=3", "id=4", "id=5")
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT id::text FROM events ORDER BY id`), ","); got != "2,6" {
		t.Errorf("events holds ids %s, want 2,6", got)
	}
	requireConverged(t, cfg)
	requireRefused(plan(t, events("server_hash")), planner.Counts{Unchanged: 2, Reject: 4}, "id=1", "id=3", "id=4", "id=5")

	// Row 7 does not convert: the source is read as text, and the moving
	// values are refused all the same.
	e.Src(`INSERT INTO events VALUES (7, '2024-01-01 10:00:00+00', '2024-01-02', NULL, NULL, 'x')`)
	requireRefused(plan(t, cfg), planner.Counts{Unchanged: 2, Reject: 5}, "id=1", "id=3", "id=4", "id=5", "id=7")
}
