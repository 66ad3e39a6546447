package executor_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/duckdbsource/duckdbwrite"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestApplyDuckDBParquet applies a duckdb source reading a Parquet file
// (written by DuckDB here) of every common type into a real table, which
// then holds exactly the expected rows, and converges: the values DuckDB
// writes as text convert to the stored values, so the next plan has no
// change.
func TestApplyDuckDBParquet(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	if err := os.MkdirAll(filepath.Join(e.Dir, "exports"), 0o755); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(e.Dir, "exports", "users.parquet")
	if err := duckdbwrite.Run(context.Background(), "",
		"CREATE TABLE u AS SELECT * FROM (VALUES "+
			"(1::BIGINT, 10::INTEGER, 'Ann', 12.50::DECIMAL(12,2), TIMESTAMPTZ '2024-01-15 09:30:00+02', '{\"b\": 1, \"a\": [1, 2]}'::JSON, NULL::VARCHAR, true, DATE '2024-02-29', '\\xDE\\xAD'::BLOB, [1, 2]::INTEGER[], 1.5::DOUBLE, 'ab4d1e43-6a0c-4e7c-9b9c-4b1cb8f3a0e1'::UUID), "+
			"(2, NULL, 'Bob \"the\" builder', -0.01, TIMESTAMPTZ '2023-12-31 23:59:59.123456+00', 'null'::JSON, 'x', false, NULL, NULL, [], 'inf'::DOUBLE, NULL), "+
			"(3, 30, '', 1234567890.12, NULL, NULL, 'é ü', NULL, DATE '1999-01-01', ''::BLOB, NULL, -0.25, NULL)"+
			") AS t(id, n, name, amount, \"at\", doc, note, flag, day, raw, tags, score, uid)",
		"COPY u TO '"+file+"' (FORMAT parquet)",
	); err != nil {
		t.Fatal(err)
	}
	e.Dst(`CREATE TABLE users (id bigint PRIMARY KEY, n int, name text, amount numeric(12,2), at timestamptz, doc jsonb, note text,
		flag boolean, day date, raw bytea, tags jsonb, score double precision, uid uuid)`)
	e.Dst(`INSERT INTO users (id, name) VALUES (1, 'old'), (4, 'gone')`)
	cfg := e.Config(`
source "duckdb" "lake" {}

sync "users" {
  source      = source.duckdb.lake
  query       = "SELECT * FROM read_parquet('exports/*.parquet')"
  destination = destination.postgres.dst
  table       = "users"
  behavior    = "mirror"
  key         = "id"
}
`)
	p := applyable(t, cfg)
	requirePlanned(t, p, planner.Counts{Insert: 2, Update: 1, Delete: 1})
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	e.Dst(`CREATE TABLE expected (LIKE users)`)
	e.Dst(`INSERT INTO expected VALUES
		(1, 10, 'Ann', 12.50, '2024-01-15 07:30:00+00', '{"a": [1, 2], "b": 1}', NULL, true, '2024-02-29', '\xdead', '[1, 2]', 1.5, 'ab4d1e43-6a0c-4e7c-9b9c-4b1cb8f3a0e1'),
		(2, NULL, 'Bob "the" builder', -0.01, '2023-12-31 23:59:59.123456+00', 'null', 'x', false, NULL, NULL, '[]', 'Infinity', NULL),
		(3, 30, '', 1234567890.12, NULL, NULL, 'é ü', NULL, '1999-01-01', '\x', NULL, -0.25, NULL)`)
	requireSameRows(t, e, "users", "expected")
	requireConverged(t, cfg)
}

// TestApplyDuckDBChangedSensitive: a Parquet file rewritten between plan
// and apply with a value DuckDB's query no longer converts makes the apply
// stale, and its error shows DuckDB's error class, never the value of the
// sensitive column. Nothing is written.
func TestApplyDuckDBChangedSensitive(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	file := filepath.Join(e.Dir, "s.parquet")
	write := func(secret string) {
		t.Helper()
		if err := os.Remove(file); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
		if err := duckdbwrite.Run(context.Background(), "",
			"COPY (SELECT * FROM (VALUES (1, '"+secret+"')) t(id, secret)) TO '"+file+"' (FORMAT parquet)"); err != nil {
			t.Fatal(err)
		}
	}
	write("42")
	e.Dst(`CREATE TABLE s (id bigint PRIMARY KEY, secret int)`)
	cfg := e.Config(`
source "duckdb" "lake" {}

sync "s" {
  source            = source.duckdb.lake
  query             = "SELECT id, CAST(secret AS INTEGER) AS secret FROM 's.parquet'"
  destination       = destination.postgres.dst
  table             = "s"
  behavior          = "mirror"
  key               = "id"
  sensitive_columns = ["secret"]
}
`)
	p := applyable(t, cfg)
	requirePlanned(t, p, planner.Counts{Insert: 1})
	write("s3cr3tpw")
	res := apply(t, cfg, p, executor.Options{})
	r := requireFailed(t, res, "s", "Conversion Error")
	if !errors.Is(r.Err, executor.ErrStale) {
		t.Errorf("the apply failed, but not as a stale plan: %v", r.Err)
	}
	if strings.Contains(r.Err.Error(), "s3cr3tpw") {
		t.Errorf("the apply's error shows the sensitive value: %v", r.Err)
	}
	if n := e.DstQuery(`SELECT count(*) FROM s`); n[0] != "0" {
		t.Errorf("s has %s rows, want 0", n[0])
	}
}

// TestApplyDuckDBUnusualDirectory: a configuration directory whose name
// holds a comma, '#', '%' and '?', with its DuckDB database file in it
// (path = "lake.duckdb"), is planned, applied and converges: the file is
// opened read-only, and the query's relative Parquet glob resolves
// against the directory.
func TestApplyDuckDBUnusualDirectory(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dir = filepath.Join(e.Dir, "sales, #1 at 100% (why?)")
	if err := os.MkdirAll(filepath.Join(e.Dir, "exports"), 0o755); err != nil {
		t.Fatal(err)
	}
	// The writer's driver cannot open such a path: written elsewhere, moved.
	tmp := t.TempDir()
	ctx := context.Background()
	if err := duckdbwrite.Run(ctx, filepath.Join(tmp, "lake.duckdb"),
		"CREATE TABLE names AS SELECT * FROM (VALUES (1, 'Ann'), (2, 'Bob')) AS t(id, name)",
		"COPY (SELECT * FROM (VALUES (1, 10), (2, 20)) AS t(id, score)) TO '"+filepath.Join(tmp, "scores.parquet")+"' (FORMAT parquet)",
	); err != nil {
		t.Fatal(err)
	}
	for from, to := range map[string]string{"lake.duckdb": "lake.duckdb", "scores.parquet": "exports/scores.parquet"} {
		if err := os.Rename(filepath.Join(tmp, from), filepath.Join(e.Dir, to)); err != nil {
			t.Fatal(err)
		}
	}
	e.Dst(`CREATE TABLE people (id int PRIMARY KEY, name text, score int)`)
	cfg := e.Config(`
source "duckdb" "lake" {
  path = "lake.duckdb"
}

sync "people" {
  source      = source.duckdb.lake
  query       = "SELECT n.id, n.name, s.score FROM names n JOIN read_parquet('exports/*.parquet') s USING (id)"
  destination = destination.postgres.dst
  table       = "people"
  behavior    = "mirror"
  key         = "id"
}
`)
	p := applyable(t, cfg)
	requirePlanned(t, p, planner.Counts{Insert: 2})
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT people::text FROM people ORDER BY id`), " "); got != "(1,Ann,10) (2,Bob,20)" {
		t.Errorf("people %s", got)
	}
	requireConverged(t, cfg)
}

// TestDuckDBVolatileSourceIsNamed: a duckdb source's query that calls
// now() or current_timestamp among its values reads other values in the
// apply than in the plan, as a postgres source's does: the plan warns
// (volatile_source, as DuckDB's parser finds the calls) and the stale
// apply says what works. A 'now()' constant and a column named now are
// no calls; a filter on the clock is no warning.
func TestDuckDBVolatileSourceIsNamed(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE stamps (id int PRIMARY KEY, note text, at timestamptz)`)
	cfg := func(query string) *hclconfig.Config {
		return e.Config(fmt.Sprintf(`
source "duckdb" "lake" {}

sync "stamps" {
  source      = source.duckdb.lake
  query       = %q
  destination = destination.postgres.dst
  table       = "stamps"
  behavior    = "mirror"
  key         = "id"
}`, query))
	}
	c := cfg("SELECT i AS id, 'x' AS note, current_timestamp AS at FROM range(3) t(i) WHERE now() > TIMESTAMP '2020-01-01'")
	p := applyable(t, c)
	text := synctest.FindingsText(p.Syncs[0])
	if !strings.Contains(text, "volatile_source") || !strings.Contains(text, "calls current_timestamp, now(), which gives other values") {
		t.Errorf("no volatile_source warning naming current_timestamp and now():\n%s", text)
	}
	r := requireFailed(t, apply(t, c, p, executor.Options{}), "stamps", "plan is stale", "among the values it returns", "apply -auto-approve")
	if strings.Contains(r.Err.Error(), "run 'rowform plan' again") {
		t.Errorf("the stale error still says to plan again: %v", r.Err)
	}
	for _, q := range []string{
		`SELECT i AS id, 'now()' AS note, NULL::TIMESTAMPTZ AS at FROM range(3) t(i)`,
		`SELECT id, "now" AS note, NULL::TIMESTAMPTZ AS at FROM (SELECT 1 AS id, 'x' AS "now")`,
		`SELECT i AS id, 'x' AS note, NULL::TIMESTAMPTZ AS at FROM range(3) t(i) WHERE now() > TIMESTAMP '2020-01-01'`,
	} {
		if text := synctest.FindingsText(applyable(t, cfg(q)).Syncs[0]); strings.Contains(text, "volatile_source") {
			t.Errorf("%s: a warning:\n%s", q, text)
		}
	}
}
