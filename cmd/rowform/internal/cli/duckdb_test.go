package cli

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rowform/rowform/internal/duckdbsource/duckdbwrite"
	"github.com/rowform/rowform/internal/synctest"
)

// duckdbEnv is a configuration with a duckdb source over a Parquet file
// written by DuckDB (a sensitive email column among its columns), and two
// dbt models of the fixture project hclconfig/testdata/dbt/analytics:
// active_users on a postgres source and orders (alias fct_orders) in a
// DuckDB database file. The manifest is the fixture's, with the postgres
// database renamed to the test's.
func duckdbEnv(t *testing.T) *synctest.Env {
	t.Helper()
	e := synctest.New(t)
	project := filepath.Join(moduleRoot(t), "hclconfig", "testdata", "dbt", "analytics")
	manifest, err := os.ReadFile(filepath.Join(project, "target", "manifest.json"))
	if err != nil {
		t.Fatal(err)
	}
	e.WriteFile("dbt/target/manifest.json", strings.ReplaceAll(string(manifest), `\"analytics\".\"public\".`, `\"`+e.SrcDB+`\".\"public\".`))
	if err := os.MkdirAll(filepath.Join(e.Dir, "exports"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := duckdbwrite.Run(context.Background(), "",
		"COPY (SELECT i AS id, 'user' || i || '@example.com' AS email, i * 10 AS points FROM range(1, 4) r(i)) TO '"+filepath.Join(e.Dir, "exports", "users.parquet")+"' (FORMAT parquet)"); err != nil {
		t.Fatal(err)
	}
	if err := duckdbwrite.Run(context.Background(), filepath.Join(e.Dir, "analytics.duckdb"),
		"CREATE SCHEMA public_marts",
		"CREATE TABLE public_marts.fct_orders AS SELECT i AS id, i % 2 AS account_id, i * 2.5 AS total FROM range(1, 5) r(i)"); err != nil {
		t.Fatal(err)
	}
	e.Src(`CREATE TABLE active_users (id bigint, email text, name text, plan text)`)
	e.Src(`INSERT INTO active_users VALUES (1, 'a@x', 'Ann', 'pro'), (2, 'b@x', 'Bob', 'free')`)
	e.Dst(`CREATE TABLE points (id bigint PRIMARY KEY, email text, points int)`)
	e.Dst(`CREATE TABLE users (id bigint PRIMARY KEY, email text, name text, plan text)`)
	e.Dst(`CREATE TABLE orders (id bigint PRIMARY KEY, account_id int, total numeric(10,2))`)
	e.WriteFile("main.hcl", strings.Replace(e.Servers(), `password = env("SRC_PASSWORD")`, `password = env("SRC_PASSWORD")
  dbt_project = "dbt"`, 1)+`
source "duckdb" "files" {}

source "duckdb" "lake" {
  path        = "analytics.duckdb"
  dbt_project = "dbt"
}

sync "points" {
  source      = source.duckdb.files
  query       = "SELECT * FROM read_parquet('exports/*.parquet')"
  destination = destination.postgres.dst
  table       = "points"
  behavior    = "mirror"
  key         = "id"
  sensitive_columns = ["email"]
}

sync "users" {
  source      = source.postgres.src
  model       = "active_users"
  destination = destination.postgres.dst
  table       = "users"
  behavior    = "mirror"
  key         = "id"
}

sync "orders" {
  source      = source.duckdb.lake
  model       = "orders"
  destination = destination.postgres.dst
  table       = "orders"
  behavior    = "mirror"
  key         = "id"
}
`)
	return e
}

// TestDuckDBAndDBTModels validates, plans (text, JSON, markdown), applies
// and plans again a configuration of duckdb sources and dbt models, run
// with -chdir from another directory: relative paths in the DuckDB SQL
// and the dbt_project resolve against the configuration directory, plans
// name the model, and a sensitive column read from Parquet is never shown.
func TestDuckDBAndDBTModels(t *testing.T) {
	t.Parallel()
	e := duckdbEnv(t)
	chdir := "-chdir=" + e.Dir
	runCLIWith(t, e.Environ, "", chdir, "validate").expect(t, exitOK)

	r := runCLIWith(t, e.Environ, "", chdir, "plan", "-show-rows=5", "-no-color")
	r.expect(t, exitOK)
	for _, want := range []string{
		`sync "points"  mirror  duckdb.files -> postgres.dst public.points`,
		`sync "users"  mirror  postgres.src (model active_users) -> postgres.dst public.users`,
		`sync "orders"  mirror  duckdb.lake (model orders) -> postgres.dst public.orders`,
		"+ 3 to insert", "+ 2 to insert", "+ 4 to insert", "total=7.50", "points=30",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan does not show %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout+r.stderr, "@example.com") {
		t.Errorf("plan shows a sensitive value:\n%s", r.stdout)
	}

	r = runCLIWith(t, e.Environ, "", chdir, "plan", "-json")
	r.expect(t, exitOK)
	var doc struct {
		Syncs []struct {
			Name  string `json:"name"`
			Model string `json:"model"`
		} `json:"syncs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	models := map[string]string{}
	for _, s := range doc.Syncs {
		models[s.Name] = s.Model
	}
	if models["users"] != "active_users" || models["orders"] != "orders" || models["points"] != "" {
		t.Errorf("JSON models: %v", models)
	}
	r = runCLIWith(t, e.Environ, "", chdir, "plan", "-format=markdown")
	r.expect(t, exitOK)
	if !strings.Contains(r.stdout, "`users` (model `active_users`)") {
		t.Errorf("markdown does not name the model:\n%s", r.stdout)
	}

	runCLIWith(t, e.Environ, "", chdir, "apply", "-auto-approve", "-no-color").expect(t, exitOK)
	if got := strings.Join(e.DstQuery(`SELECT id || ':' || email || ':' || points FROM points ORDER BY id`), " "); got != "1:user1@example.com:10 2:user2@example.com:20 3:user3@example.com:30" {
		t.Errorf("points after apply: %s", got)
	}
	r = runCLIWith(t, e.Environ, "", chdir, "plan", "-detailed-exitcode", "-no-color")
	r.expect(t, exitOK)
}

// TestValidateDuckDBAndModels: validate reads the dbt manifest (no
// connection, no dbt) and parses DuckDB queries without reading a file,
// reporting a statement that is not a query and an unknown model at their
// attributes.
func TestValidateDuckDBAndModels(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	project := filepath.Join(moduleRoot(t), "hclconfig", "testdata", "dbt", "analytics")
	cfg := `
destination "postgres" "dst" {
  host     = "db"
  database = "d"
  user     = "u"
}

source "duckdb" "files" {
  dbt_project = "` + project + `"
}

source "duckdb" "lake" {
  path = "not/yet/lake.duckdb"
}

sync "copy" {
  source      = source.duckdb.files
  query       = "COPY (SELECT 1 AS id) TO 'x.csv'"
  destination = destination.postgres.dst
  table       = "a"
  behavior    = "append"
  key         = "id"
}

sync "model" {
  source      = source.duckdb.files
  model       = "acounts"
  destination = destination.postgres.dst
  table       = "b"
  behavior    = "append"
  key         = "id"
}

sync "missing_file" {
  source      = source.duckdb.files
  query       = "SELECT * FROM read_parquet('not/yet/written.parquet')"
  destination = destination.postgres.dst
  table       = "c"
  behavior    = "append"
  key         = "id"
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "-chdir="+dir, "validate", "-no-color")
	r.expect(t, exitError)
	for _, want := range []string{"Unknown dbt model", `Did you mean "accounts"?`, "main.hcl:27"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("validate does not say %q:\n%s", want, r.stderr)
		}
	}
	// The query check runs once the configuration loads.
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(strings.Replace(cfg, `"acounts"`, `"accounts"`, 1)), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runCLI(t, "-chdir="+dir, "validate", "-no-color")
	r.expect(t, exitError)
	for _, want := range []string{"Not a query", "main.hcl:18", "one SELECT statement", "1 error", "DuckDB database not found", "main.hcl:13"} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("validate does not say %q:\n%s", want, r.stderr)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "x.csv")); err == nil {
		t.Errorf("validate ran the COPY")
	}
}
