package planner_test

import (
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rowform/rowform/internal/duckdbsource/duckdbwrite"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// duckWrite runs writing DuckDB statements (COPY ... TO files of the test's
// configuration directory) with {dir} replaced by that directory.
func duckWrite(t *testing.T, e *synctest.Env, dbPath string, statements ...string) {
	t.Helper()
	for i, s := range statements {
		statements[i] = strings.ReplaceAll(s, "{dir}", e.Dir)
	}
	if err := duckdbwrite.Run(context.Background(), dbPath, statements...); err != nil {
		t.Fatal(err)
	}
}

// duckSync renders a sync named name on the duckdb source source.
func duckSync(name, source, query, table, extra string) string {
	return fmt.Sprintf(`
sync %q {
  source      = source.duckdb.%s
  query       = %q
  destination = destination.postgres.dst
  table       = %q
  behavior    = "mirror"
  key         = ["id"]
%s
}
`, name, source, query, table, extra)
}

// TestDuckDBSources plans duckdb sources over Parquet, CSV and JSON files
// written by DuckDB, joined in one query and read from a database file,
// with paths relative to the configuration directory; values that do not
// convert are rejected rows or type mismatches as for a CSV file, NULL
// keys are findings, and a sensitive column's values are never shown.
func TestDuckDBSources(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	if err := os.MkdirAll(filepath.Join(e.Dir, "data"), 0o755); err != nil {
		t.Fatal(err)
	}
	duckWrite(t, e, "",
		"COPY (SELECT i AS id, 'name ' || i AS name, i * 1.5 AS score FROM range(1, 6) r(i)) TO '{dir}/data/people.parquet' (FORMAT parquet)",
		"COPY (SELECT i AS id, CASE WHEN i = 2 THEN 'gold' ELSE 'basic' END AS plan FROM range(1, 6) r(i)) TO '{dir}/data/plans.csv' (HEADER)",
		"COPY (SELECT i AS id, i % 2 = 0 AS active FROM range(1, 6) r(i)) TO '{dir}/data/flags.json' (FORMAT json)",
		// Values that do not convert: "abc" into bigint (not a key), a
		// key "x" into bigint, a NULL key, a secret that is no bigint.
		"COPY (SELECT * FROM (VALUES ('1', '10'), ('2', 'abc'), ('x', '30'), (NULL, '40'), ('5', '50')) t(id, amount)) TO '{dir}/data/bad.parquet' (FORMAT parquet)",
		"COPY (SELECT * FROM (VALUES (1, '123'), (2, 's3cr3t-value')) t(id, ssn)) TO '{dir}/data/secret.parquet' (FORMAT parquet)",
	)
	lake := filepath.Join(e.Dir, "lake.duckdb")
	duckWrite(t, e, lake, "CREATE TABLE accounts AS SELECT i AS id, 'acct ' || i AS name FROM range(1, 4) r(i)")
	lakeSum := fileSum(t, lake)

	e.Dst(`CREATE TABLE people (id bigint PRIMARY KEY, name text, score numeric(6,2), plan text, active boolean)`)
	e.Dst(`INSERT INTO people VALUES (1, 'name 1', 1.50, 'basic', false), (2, 'old', 3.00, 'gold', true), (9, 'gone', 0, 'basic', false)`)
	e.Dst(`CREATE TABLE bad (id bigint PRIMARY KEY, amount bigint)`)
	e.Dst(`CREATE TABLE secret (id bigint PRIMARY KEY, ssn bigint)`)
	e.Dst(`CREATE TABLE secret_cast (id bigint PRIMARY KEY, ssn bigint)`)
	e.Dst(`CREATE TABLE accounts (id bigint PRIMARY KEY, name text)`)
	e.Dst(`INSERT INTO accounts VALUES (1, 'acct 1')`)
	e.Dst(`CREATE TABLE accounts_copy (id bigint PRIMARY KEY, name text)`)

	cfg := e.Config(`
source "duckdb" "files" {}

source "duckdb" "lake" {
  path = "lake.duckdb"
}
` + duckSync("people", "files", `SELECT p.id, p.name, p.score, c.plan, f.active
FROM read_parquet('data/people.parquet') p
JOIN read_csv('data/plans.csv') c USING (id)
JOIN read_json('data/flags.json') f USING (id)
WHERE p.id <= 4`, "people", "") +
		duckSync("bad", "files", "SELECT * FROM 'data/bad.parquet'", "bad", "") +
		duckSync("secret", "files", "SELECT * FROM read_parquet('data/secret.parquet')", "secret", `  sensitive_columns = ["ssn"]`) +
		// DuckDB itself fails on the value: its message must not show it.
		duckSync("secret_cast", "files", "SELECT id, CAST(ssn AS INTEGER) AS ssn FROM read_parquet('data/secret.parquet')", "secret_cast", `  sensitive_columns = ["ssn"]`) +
		duckSync("accounts", "lake", "SELECT id, name FROM accounts", "accounts", "") +
		// A second sync on the same database file, planned at the same time.
		duckSync("accounts_copy", "lake", "SELECT id, name FROM lake.accounts", "accounts_copy", ""))
	p := plan(t, cfg, planner.Options{ShowRows: 10})

	people := syncNamed(t, p, "people")
	if len(people.Findings) > 0 || !people.Diffed {
		t.Errorf("people: findings (diffed=%v):\n%s", people.Diffed, synctest.FindingsText(people))
	}
	if want := (planner.Counts{Insert: 2, Update: 1, Delete: 1, Unchanged: 1}); people.Counts != want {
		t.Errorf("people: counts %+v, want %+v", people.Counts, want)
		logSamples(t, people)
	}
	if got, want := sampleColumns(people, "update", "2"), `name="old"->"name 2"`; got != want {
		t.Errorf("people: update of id=2: %s, want %s", got, want)
	}
	if got, want := sampleColumns(people, "insert", "4"), `name="name 4" score="6.00" plan="basic" active="t"`; got != want {
		t.Errorf("people: insert of id=4: %s, want %s", got, want)
	}

	// As for a CSV file: the value that does not convert rejects its row,
	// the key that does not convert is a type_mismatch, the NULL key a
	// null_source_key.
	bad := syncNamed(t, p, "bad")
	if got, want := codes(bad), []string{"null_source_key", "rejected_rows", "type_mismatch"}; !slices.Equal(got, want) {
		t.Errorf("bad: codes %v, want %v:\n%s", got, want, synctest.FindingsText(bad))
	}
	for _, f := range bad.Findings {
		switch f.Code {
		case planner.CodeRejectedRows:
			if f.Column != "amount" || f.Rows != 1 || !slices.Equal(f.Examples, []string{"id=2"}) {
				t.Errorf("bad: rejected_rows does not name amount and id=2: %+v", f)
			}
		case planner.CodeTypeMismatch:
			if !strings.Contains(f.Summary, `"x"`) || !strings.Contains(f.Summary, "bigint") {
				t.Errorf("bad: type_mismatch does not name the key value and type: %s", f.Summary)
			}
		}
	}

	secret := syncNamed(t, p, "secret")
	if got := codes(secret); !slices.Equal(got, []string{"rejected_rows"}) {
		t.Errorf("secret: codes %v, want rejected_rows:\n%s", got, synctest.FindingsText(secret))
	}
	if text := synctest.FindingsText(secret) + fmt.Sprint(secret.Samples); strings.Contains(text, "s3cr3t") || strings.Contains(text, "123") {
		t.Errorf("secret: a sensitive value is shown:\n%s", text)
	}

	secretCast := syncNamed(t, p, "secret_cast")
	if got := codes(secretCast); !slices.Equal(got, []string{"source_query_failed"}) || !strings.Contains(secretCast.Findings[0].Summary, "Conversion Error") {
		t.Errorf("secret_cast: want source_query_failed with DuckDB's conversion error:\n%s", synctest.FindingsText(secretCast))
	}
	if text := synctest.FindingsText(secretCast); strings.Contains(text, "s3cr3t") {
		t.Errorf("secret_cast: DuckDB's error shows the sensitive value:\n%s", text)
	}

	accounts := syncNamed(t, p, "accounts")
	if want := (planner.Counts{Insert: 2, Unchanged: 1}); accounts.Counts != want || len(accounts.Findings) > 0 {
		t.Errorf("accounts: counts %+v, want %+v:\n%s", accounts.Counts, want, synctest.FindingsText(accounts))
	}
	if c := syncNamed(t, p, "accounts_copy"); c.Counts != (planner.Counts{Insert: 3}) || len(c.Findings) > 0 {
		t.Errorf("accounts_copy: counts %+v, want 3 inserts:\n%s", c.Counts, synctest.FindingsText(c))
	}
	if got := fileSum(t, lake); got != lakeSum {
		t.Errorf("the plan changed the DuckDB database file")
	}
}

// TestDuckDBReadOnly refuses SQL that is not one query before it runs
// (no file is written), and reports a query DuckDB cannot run with
// DuckDB's message and where the query is set.
func TestDuckDBReadOnly(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	duckWrite(t, e, "", "COPY (SELECT 1 AS id) TO '{dir}/one.parquet' (FORMAT parquet)")
	lake := filepath.Join(e.Dir, "lake.duckdb")
	duckWrite(t, e, lake, "CREATE TABLE t AS SELECT 1 AS id")
	e.Dst(`CREATE TABLE t (id bigint PRIMARY KEY)`)
	cfg := e.Config(`
source "duckdb" "files" {}

source "duckdb" "lake" {
  path = "lake.duckdb"
}
` + duckSync("copy", "files", "COPY (SELECT 1 AS id) TO 'written.csv'", "t", "") +
		duckSync("two", "files", "SELECT 1 AS id; COPY (SELECT 1 AS id) TO 'written2.csv'", "t", "") +
		duckSync("insert", "lake", "INSERT INTO t VALUES (2)", "t", "") +
		duckSync("missing", "files", "SELECT idd AS id FROM read_parquet('one.parquet')", "t", "") +
		duckSync("nofile", "files", "SELECT * FROM read_parquet('none.parquet')", "t", ""))
	p := plan(t, cfg, planner.Options{})
	for _, name := range []string{"copy", "two", "insert"} {
		sp := syncNamed(t, p, name)
		if len(sp.Findings) != 1 || sp.Findings[0].Code != planner.CodeSourceQueryFailed || !strings.Contains(sp.Findings[0].Summary, "not a query") {
			t.Errorf("%s: want one source_query_failed saying it is not a query:\n%s", name, synctest.FindingsText(sp))
		}
	}
	for _, f := range []string{"written.csv", "written2.csv"} {
		if _, err := os.Stat(filepath.Join(e.Dir, f)); err == nil {
			t.Errorf("a refused statement wrote %s", f)
		}
	}
	missing := syncNamed(t, p, "missing")
	if len(missing.Findings) != 1 || missing.Findings[0].Code != planner.CodeSourceQueryFailed {
		t.Fatalf("missing: want source_query_failed:\n%s", synctest.FindingsText(missing))
	}
	f := missing.Findings[0]
	if !strings.Contains(f.Summary, "Binder Error") || !strings.Contains(f.Summary, `"idd"`) || !strings.Contains(f.Detail, "main.hcl:") {
		t.Errorf("missing: the finding lacks DuckDB's message or where the query is:\n%s", synctest.FindingsText(missing))
	}
	nofile := syncNamed(t, p, "nofile")
	if len(nofile.Findings) != 1 || !strings.Contains(nofile.Findings[0].Summary, "none.parquet") {
		t.Errorf("nofile: want a finding naming the missing file:\n%s", synctest.FindingsText(nofile))
	}
}

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}

// TestDuckDBSensitiveErrors: an error DuckDB raises reading the rows of a
// sync with sensitive columns shows DuckDB's error class and where the
// query is, never the value, in any of the forms DuckDB quotes it: its CSV
// reader's "Original Line: 3,s3cr3tpw" and "…string \"s3cr3tpw\"…", a
// cast's 's3cr3tpw'. Without sensitive columns the message is whole.
func TestDuckDBSensitiveErrors(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	if err := os.WriteFile(filepath.Join(e.Dir, "s.csv"), []byte("id,secret\n1,42\n2,s3cr3tpw\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	duckWrite(t, e, "", "COPY (SELECT * FROM (VALUES (1, '42'), (2, 's3cr3tpw')) t(id, secret)) TO '{dir}/s.parquet' (FORMAT parquet)")
	for _, table := range []string{"csv_reader", "casted", "open"} {
		e.Dst(fmt.Sprintf(`CREATE TABLE %s (id bigint PRIMARY KEY, secret int)`, table))
	}
	csvQuery := "SELECT * FROM read_csv('s.csv', header = true, columns = {'id': 'INTEGER', 'secret': 'INTEGER'})"
	castQuery := "SELECT id, CAST(secret AS INTEGER) AS secret FROM 's.parquet'"
	sensitive := `  sensitive_columns = ["secret"]`
	cfg := e.Config(`
source "duckdb" "files" {}
` + duckSync("csv_reader", "files", csvQuery, "csv_reader", sensitive) +
		duckSync("cast", "files", castQuery, "casted", sensitive) +
		duckSync("open", "files", csvQuery, "open", ""))
	p := plan(t, cfg, planner.Options{})
	for _, name := range []string{"csv_reader", "cast"} {
		sp := syncNamed(t, p, name)
		text := synctest.FindingsText(sp)
		if len(sp.Findings) != 1 || sp.Findings[0].Code != planner.CodeSourceQueryFailed {
			t.Errorf("%s: want one source_query_failed:\n%s", name, text)
			continue
		}
		if strings.Contains(text, "s3cr3tpw") || strings.Contains(text, "Original Line") {
			t.Errorf("%s: DuckDB's error shows the sensitive value:\n%s", name, text)
		}
		if f := sp.Findings[0]; !strings.Contains(f.Summary, "Conversion Error") || !strings.Contains(f.Detail, "main.hcl:") {
			t.Errorf("%s: the finding lacks DuckDB's error class or where the query is:\n%s", name, text)
		}
	}
	open := syncNamed(t, p, "open")
	if text := synctest.FindingsText(open); !strings.Contains(text, "s3cr3tpw") {
		t.Errorf("open: without sensitive columns DuckDB's message should be whole:\n%s", text)
	}
}

// TestDuckDBPlanInterrupted: cancelling a plan (Ctrl-C) stops a DuckDB
// query that is in the middle of a long operator, read directly by the
// text codecs or converted on the destination (char(n) has no codec): the
// plan returns at once instead of when DuckDB is done, minutes later.
func TestDuckDBPlanInterrupted(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE direct (id bigint PRIMARY KEY)`)
	e.Dst(`CREATE TABLE converted (id bigint PRIMARY KEY, c char(3))`)
	// Ten billion rows filtered to almost none.
	slow := "SELECT a.range AS id, 'abc' AS c FROM range(100000) a, range(100000) b WHERE hash(a.range, b.range) = 0"
	for _, table := range []string{"direct", "converted"} {
		t.Run(table, func(t *testing.T) {
			query := slow
			if table == "direct" {
				query = strings.Replace(slow, ", 'abc' AS c", "", 1)
			}
			cfg := e.Config(`
source "duckdb" "files" {}
` + duckSync(table, "files", query, table, ""))
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() {
				_, err := planner.Compute(ctx, cfg, planner.Options{})
				done <- err
			}()
			time.Sleep(time.Second)
			start := time.Now()
			cancel()
			select {
			case <-done:
				if d := time.Since(start); d > 3*time.Second {
					t.Errorf("the plan took %v to stop after the cancel", d)
				}
			case <-time.After(15 * time.Second):
				t.Fatal("the plan did not stop within 15s of the cancel")
			}
		})
	}
}
