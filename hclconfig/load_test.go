package hclconfig

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

func TestLoadDirectoryProblems(t *testing.T) {
	t.Run("missing directory", func(t *testing.T) {
		cfg, diags := Load(filepath.Join(t.TempDir(), "nope"), Inputs{})
		if cfg == nil || cfg.Files == nil {
			t.Fatalf("Load returned %+v; the Config and its Files are never nil", cfg)
		}
		d := wantError(t, diags, "Cannot read the configuration directory")
		if d != nil && d.Subject != nil {
			t.Errorf("Subject = %s, want none", d.Subject)
		}
	})
	t.Run("no configuration files", func(t *testing.T) {
		dir := writeFiles(t, t.TempDir(), map[string]string{
			"prod.vars.hcl": "x = 1\n",
			"notes.txt":     "not hcl\n",
			"sub/main.hcl":  "garbage {{{\n",
		})
		_, diags := Load(dir, Inputs{})
		wantError(t, diags, "No configuration files", dir)
		if n := len(diags); n != 1 {
			t.Errorf("got %d diagnostics, want 1:\n%s", n, diagsText(diags))
		}
	})
	t.Run("ConfigFiles", func(t *testing.T) {
		dir := writeFiles(t, t.TempDir(), map[string]string{
			"b.hcl":         "",
			"a.hcl":         "",
			"x.vars.hcl":    "",
			"c.hcl.bak":     "",
			"sub/d.hcl":     "",
			"dir.hcl/e.hcl": "",
		})
		got, err := ConfigFiles(dir)
		if err != nil {
			t.Fatal(err)
		}
		eq(t, "ConfigFiles", got, []string{filepath.Join(dir, "a.hcl"), filepath.Join(dir, "b.hcl")})
	})
	t.Run("parse errors keep the files for snippets", func(t *testing.T) {
		cfg, diags := loadFiles(t, map[string]string{
			"a.hcl": "destination \"postgres\" \"x\" {\n  host = \n}\n",
			"b.hcl": "source \"csv\" \"s\" {\n  path = 5 +\n}\n",
		}, Inputs{})
		if countSeverity(diags, hcl.DiagError) < 2 {
			t.Errorf("want a parse error from each file:\n%s", diagsText(diags))
		}
		if len(cfg.Files) != 2 {
			t.Errorf("cfg.Files = %v, want both files", fileNames(cfg))
		}
	})
	t.Run("an empty file is a valid, empty configuration", func(t *testing.T) {
		cfg, diags := loadFiles(t, map[string]string{"main.hcl": "# nothing yet\n"}, Inputs{})
		noErrors(t, cfg, diags)
		if len(cfg.Syncs) != 0 || len(cfg.Destinations) != 0 {
			t.Errorf("cfg = %+v", cfg)
		}
	})
	t.Run("diagnostics are sorted by file and position", func(t *testing.T) {
		_, diags := loadFiles(t, map[string]string{
			"b.hcl": "sync \"s\" {\n}\nbogus {}\n",
			"a.hcl": "destination \"postgres\" \"x\" {\n  port = 0\n}\nbogus2 {}\n",
		}, Inputs{Vars: []string{"undeclared=1"}})
		var last *hcl.Range
		for i, d := range diags {
			if d.Subject == nil {
				if last != nil {
					t.Errorf("diagnostic %d has no Subject but comes after one that has: %s", i, diagText(d))
				}
				continue
			}
			if last != nil && (last.Filename > d.Subject.Filename ||
				last.Filename == d.Subject.Filename && last.Start.Byte > d.Subject.Start.Byte) {
				t.Errorf("diagnostics out of order:\n%s", diagsText(diags))
				break
			}
			last = d.Subject
		}
	})
}

// TestAllowUnset is what validate does: variables without values and env()
// of unset variables are unknown, and a configuration that is only waiting
// for its inputs is valid.
func TestAllowUnset(t *testing.T) {
	files := map[string]string{
		"main.hcl": `
variable "col" {
  type = string
}

variable "n" {
  type = number
}

variable "keys" {
  type = list(string)
}

destination "postgres" "d" {
  host            = env("PGHOST")
  port            = var.n
  database        = var.col
  user            = env("PGUSER")
  password        = env("PGPASSWORD")
  max_connections = var.n
  sslmode         = var.col
}

source "postgres" "p" {
  host     = "h"
  database = "d"
  user     = "u"
}

source "csv" "c" {
  path      = env("CSV_PATH")
  delimiter = var.col
  header    = env("HEADER")
}

sync "from_postgres" {
  source      = source.postgres.p
  query       = env("QUERY")
  destination = destination.postgres.d
  table       = "${var.col}.t"
  behavior    = var.col
  key         = var.keys
}
`,
	}
	cfg, diags := loadFiles(t, files, Inputs{AllowUnset: true, Environ: []string{"PGHOST=db"}})
	noErrors(t, cfg, diags)
	eq(t, "host", cfg.Destinations["postgres.d"].Host, "db")
	eq(t, "col.Source", cfg.Variables["col"].Source, "")

	// A mapping whose columns come from inputs is not empty and does not
	// leave the key unmapped: it is unknown until the inputs are given.
	mapping := map[string]string{"main.hcl": files["main.hcl"], "mapping.hcl": `
sync "values_unknown" {
  source      = source.csv.c
  destination = destination.postgres.d
  table       = "t"
  behavior    = "append"
  key         = "id"
  mapping = {
    id   = var.col
    name = env("NAME_COLUMN")
  }
  sensitive_columns = [var.col]
}

sync "keys_unknown" {
  source      = source.csv.c
  destination = destination.postgres.d
  table       = "t2"
  behavior    = "append"
  key         = "id"
  mapping = {
    id         = "id"
    (var.col)  = "x"
  }

  guard {
    max_deletes        = var.n
    max_delete_percent = var.n
  }
}
`}
	t.Run("mapping from inputs", func(t *testing.T) {
		cfg, diags := loadFiles(t, mapping, Inputs{AllowUnset: true, Environ: []string{"PGHOST=db"}})
		noErrors(t, cfg, diags)
	})

	// The same configuration without AllowUnset names every missing input.
	_, diags = loadFiles(t, files, Inputs{Environ: []string{"PGHOST=db"}})
	for _, text := range []string{`"col" has no default`, `"n" has no default`, `"keys" has no default`, `"PGUSER" is not set`, `"QUERY" is not set`} {
		wantError(t, diags, text)
	}
}

func TestLoadIgnoresProcessEnvironment(t *testing.T) {
	t.Setenv("ROWFORM_VAR_name", "from-process")
	t.Setenv("ROWFORM_TEST_ENV", "from-process")
	_, diags := loadFiles(t, map[string]string{"main.hcl": `
variable "name" {
}

locals {
  x = env("ROWFORM_TEST_ENV")
}
`}, Inputs{Environ: []string{}})
	wantError(t, diags, `"name" has no default`)
	wantError(t, diags, `"ROWFORM_TEST_ENV" is not set`)
	if _, ok := os.LookupEnv("ROWFORM_TEST_ENV"); !ok {
		t.Fatal("t.Setenv did not set the variable")
	}
}

// TestDiagnosticsStayReadable: a function error that quotes a value built
// up to megabytes is cut to a readable length.
func TestDiagnosticsStayReadable(t *testing.T) {
	var locals strings.Builder
	locals.WriteString("locals {\n  a0 = \"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\"\n")
	for i := 1; i <= 14; i++ {
		fmt.Fprintf(&locals, "  a%d = \"${local.a%d}${local.a%d}\"\n", i, i-1, i-1)
	}
	locals.WriteString("  bad = tonumber(local.a14)\n}\n")
	_, diags := loadFiles(t, map[string]string{"main.hcl": locals.String()}, Inputs{AllowUnset: true})
	if !diags.HasErrors() {
		t.Fatal("no error for tonumber of a long word")
	}
	for _, d := range diags {
		if n := len([]rune(d.Detail)); n > maxDetail+100 {
			t.Errorf("a detail of %d characters: %.200s", n, d.Detail)
		}
	}
}
