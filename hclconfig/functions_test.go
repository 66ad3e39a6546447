package hclconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// testEvalContext is the context Load uses, with a fixed environment, base
// directory dir and a sensitive var.secret.
func testEvalContext(dir string, env map[string]string, allowUnset bool) *hcl.EvalContext {
	lookup := func(name string) (string, bool) {
		v, ok := env[name]
		return v, ok
	}
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var": cty.ObjectVal(map[string]cty.Value{
				"secret": cty.StringVal("s3cr3t").Mark(SensitiveMark),
			}),
		},
		Functions: Functions(dir, lookup, allowUnset),
	}
}

// evalExpr parses and evaluates one expression.
func evalExpr(t *testing.T, ctx *hcl.EvalContext, src string) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	expr, diags := hclsyntax.ParseExpression([]byte(src), "expr.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", src, diags.Error())
	}
	return expr.Value(ctx)
}

func TestFunctions(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"sql/q.sql":  "select 1\n",
		"latin1.txt": "caf\xe9",
	})
	env := map[string]string{"PGHOST": "db.example.com", "EMPTY": ""}
	ctx := testEvalContext(dir, env, false)

	t.Run("spec functions exist", func(t *testing.T) {
		funcs := Functions(dir, nil, false)
		for _, name := range []string{"env", "file", "lower", "upper", "trimspace", "format", "join", "split", "replace", "coalesce"} {
			if _, ok := funcs[name]; !ok {
				t.Errorf("function %s is missing", name)
			}
		}
	})

	ok := []struct {
		expr string
		want cty.Value
	}{
		{`lower("MiXeD")`, cty.StringVal("mixed")},
		{`upper("MiXeD")`, cty.StringVal("MIXED")},
		{`trimspace("  a b \n")`, cty.StringVal("a b")},
		{`format("%s-%03d", "db", 7)`, cty.StringVal("db-007")},
		{`join(",", ["a", "b", "c"])`, cty.StringVal("a,b,c")},
		{`split(",", "a,b")`, cty.ListVal([]cty.Value{cty.StringVal("a"), cty.StringVal("b")})},
		{`replace("a-b-c", "-", "_")`, cty.StringVal("a_b_c")},
		{`coalesce(null, "x", "y")`, cty.StringVal("x")},
		{`trim("--a--", "-")`, cty.StringVal("a")},
		{`trimprefix("public.users", "public.")`, cty.StringVal("users")},
		{`trimsuffix("users.csv", ".csv")`, cty.StringVal("users")},
		{`substr("abcdef", 1, 3)`, cty.StringVal("bcd")},
		{`tostring(5)`, cty.StringVal("5")},
		{`tonumber("42")`, cty.NumberIntVal(42)},
		{`tobool("true")`, cty.True},
		{`file("sql/q.sql")`, cty.StringVal("select 1\n")},
		{`file("./sql/../sql/q.sql")`, cty.StringVal("select 1\n")},
		{`file("` + filepath.ToSlash(filepath.Join(dir, "sql", "q.sql")) + `")`, cty.StringVal("select 1\n")},
	}
	for _, c := range ok {
		t.Run(c.expr, func(t *testing.T) {
			got, diags := evalExpr(t, ctx, c.expr)
			if diags.HasErrors() {
				t.Fatalf("%s: %s", c.expr, diags.Error())
			}
			if got.IsMarked() {
				t.Errorf("%s is marked %v; only env() results are sensitive", c.expr, got.Marks())
			}
			if !got.RawEquals(c.want) {
				t.Errorf("%s = %#v, want %#v", c.expr, got, c.want)
			}
		})
	}

	t.Run("env is sensitive", func(t *testing.T) {
		for _, src := range []string{`env("PGHOST")`, `upper(env("PGHOST"))`, `"host=${env("PGHOST")}"`} {
			got, diags := evalExpr(t, ctx, src)
			if diags.HasErrors() {
				t.Fatalf("%s: %s", src, diags.Error())
			}
			if !got.HasMark(SensitiveMark) {
				t.Errorf("%s is not marked sensitive", src)
			}
			if !strings.Contains(strings.ToLower(unmarked(got).AsString()), "db.example.com") {
				t.Errorf("%s = %#v", src, got)
			}
		}
		got, diags := evalExpr(t, ctx, `env("EMPTY")`)
		if diags.HasErrors() || !got.HasMark(SensitiveMark) || unmarked(got).AsString() != "" {
			t.Errorf(`env("EMPTY") = %#v, %s; a set but empty variable is ""`, got, diags.Error())
		}
	})

	t.Run("env of an unset variable", func(t *testing.T) {
		_, diags := evalExpr(t, ctx, `env("NOT_SET")`)
		wantError(t, diags, "Invalid function argument", `environment variable "NOT_SET" is not set`)
		_, diags = evalExpr(t, ctx, `env("")`)
		wantError(t, diags, "must not be empty")
	})

	t.Run("env of an unset variable with AllowUnset", func(t *testing.T) {
		got, diags := evalExpr(t, testEvalContext(dir, env, true), `env("NOT_SET")`)
		if diags.HasErrors() {
			t.Fatalf("unexpected error: %s", diags.Error())
		}
		if got.IsKnown() || !got.HasMark(SensitiveMark) {
			t.Errorf(`env("NOT_SET") with AllowUnset = %#v, want an unknown sensitive string`, got)
		}
	})

	t.Run("env reads only the given environment", func(t *testing.T) {
		t.Setenv("ROWFORM_TEST_PROCESS_ONLY", "x")
		_, diags := evalExpr(t, ctx, `env("ROWFORM_TEST_PROCESS_ONLY")`)
		wantError(t, diags, "is not set")
	})

	t.Run("file errors", func(t *testing.T) {
		_, diags := evalExpr(t, ctx, `file("sql/missing.sql")`)
		wantError(t, diags, "Invalid function argument", "no file exists at "+filepath.Join(dir, "sql", "missing.sql"))
		_, diags = evalExpr(t, ctx, `file("sql")`)
		wantError(t, diags, "Invalid function argument", "cannot read")
		_, diags = evalExpr(t, ctx, `file("latin1.txt")`)
		wantError(t, diags, "not valid UTF-8")
		// An endless file is read no further than the limit.
		_, diags = evalExpr(t, ctx, `file("/dev/zero")`)
		wantError(t, diags, "Invalid function argument", "/dev/zero is larger than 16 MB")
	})

	t.Run("file of a sensitive path is sensitive", func(t *testing.T) {
		if err := os.WriteFile(filepath.Join(dir, "s3cr3t"), []byte("content"), 0o644); err != nil {
			t.Fatal(err)
		}
		got, diags := evalExpr(t, ctx, `file(var.secret)`)
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		if !got.HasMark(SensitiveMark) {
			t.Errorf("file(var.secret) = %#v, want it marked sensitive", got)
		}
	})

	t.Run("functions through Load", func(t *testing.T) {
		cfg, diags := loadFiles(t, map[string]string{
			"main.hcl": `
destination "postgres" "d" {
  host     = lower(trimspace("  DB.Example.COM "))
  database = format("%s_%s", "app", upper("x"))
  user     = join("-", split(".", "a.b.c"))
  password = env("PW")
  sslmode  = replace("verify_full", "_", "-")
  port     = tonumber(coalesce(null, "6000"))
}

source "postgres" "s" {
  host     = "h"
  database = "d"
  user     = "u"
}

sync "x" {
  source      = source.postgres.s
  query       = file("q.sql")
  destination = destination.postgres.d
  table       = "t"
  behavior    = "append"
  key         = "id"
}
`,
			"q.sql": "select id from t\n",
		}, Inputs{Environ: []string{"PW=pw"}})
		noErrors(t, cfg, diags)
		d := cfg.Destinations["postgres.d"]
		eq(t, "host", d.Host, "db.example.com")
		eq(t, "database", d.Database, "app_X")
		eq(t, "user", d.User, "a-b-c")
		eq(t, "password", d.Password.Reveal(), "pw")
		eq(t, "sslmode", d.SSLMode, "verify-full")
		eq(t, "port", d.Port, 6000)
		eq(t, "query", cfg.Sync("x").Query, "select id from t\n")
	})

	t.Run("unknown function", func(t *testing.T) {
		_, diags := evalExpr(t, ctx, `lowercase("X")`)
		wantError(t, diags, "Call to unknown function")
	})
}

func unmarked(v cty.Value) cty.Value {
	u, _ := v.Unmark()
	return u
}
