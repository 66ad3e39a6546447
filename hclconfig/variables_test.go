package hclconfig

import (
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// precedenceBody uses the variables "name" (string), "port" (number) and
// "keys" (list(string)) so that their final values can be read back from
// the decoded configuration.
const precedenceBody = `
destination "postgres" "d" {
  host     = var.name
  port     = var.port
  database = "db"
  user     = "u"
}

source "csv" "s" {
  path = "s.csv"
}

sync "x" {
  source      = source.csv.s
  destination = destination.postgres.d
  table       = "t"
  behavior    = "append"
  key         = var.keys
}
`

const precedenceDecls = `
variable "name" {
  type    = string
  default = "from-default"
}

variable "port" {
  type    = number
  default = 1111
}

variable "keys" {
  type    = list(string)
  default = ["id"]
}
`

func TestVariablePrecedence(t *testing.T) {
	type want struct {
		name    string
		port    int
		keys    []string
		sources map[string]string // variable -> Config.Variables[v].Source
	}
	cases := []struct {
		name     string
		decls    string            // replaces precedenceDecls when set
		varFiles map[string]string // variable files written into the config directory
		order    []string          // the -var-file options, in order
		env      []string
		vars     []string
		unset    bool
		want     *want      // nil when errors are expected
		errors   [][]string // each: texts that one error diagnostic must all contain
		warnings [][]string
		noFile   bool // the errors have no Subject
	}{
		{
			name: "default only",
			want: &want{name: "from-default", port: 1111, keys: []string{"id"},
				sources: map[string]string{"name": "default", "port": "default", "keys": "default"}},
		},
		{
			name:     "var file overrides default",
			varFiles: map[string]string{"a.vars.hcl": `name = "from-file"` + "\n" + `port = 2222` + "\n"},
			order:    []string{"a.vars.hcl"},
			want: &want{name: "from-file", port: 2222, keys: []string{"id"},
				sources: map[string]string{"name": "-var-file=a.vars.hcl", "port": "-var-file=a.vars.hcl", "keys": "default"}},
		},
		{
			name:     "environment overrides var file",
			varFiles: map[string]string{"a.vars.hcl": `name = "from-file"` + "\n"},
			order:    []string{"a.vars.hcl"},
			env:      []string{"ROWFORM_VAR_name=from-env", "ROWFORM_VAR_port=5", "ROWFORM_VAR_keys=[\"k1\", \"k2\"]"},
			want: &want{name: "from-env", port: 5, keys: []string{"k1", "k2"},
				sources: map[string]string{
					"name": "environment variable ROWFORM_VAR_name",
					"port": "environment variable ROWFORM_VAR_port",
					"keys": "environment variable ROWFORM_VAR_keys",
				}},
		},
		{
			name: "-var overrides environment",
			env:  []string{"ROWFORM_VAR_name=from-env", "ROWFORM_VAR_port=5"},
			vars: []string{"name=from-var", "port=6", `keys=["a","b"]`},
			want: &want{name: "from-var", port: 6, keys: []string{"a", "b"},
				sources: map[string]string{"name": "-var option", "port": "-var option", "keys": "-var option"}},
		},
		{
			name: "two var files, later wins",
			varFiles: map[string]string{
				"a.vars.hcl": `name = "from-a"` + "\n" + `port = 3333` + "\n",
				"b.vars.hcl": `name = "from-b"` + "\n",
			},
			order: []string{"a.vars.hcl", "b.vars.hcl"},
			want: &want{name: "from-b", port: 3333, keys: []string{"id"},
				sources: map[string]string{"name": "-var-file=b.vars.hcl", "port": "-var-file=a.vars.hcl", "keys": "default"}},
		},
		{
			name: "two -var, later wins",
			vars: []string{"name=first", "port=7", "name=second"},
			want: &want{name: "second", port: 7, keys: []string{"id"},
				sources: map[string]string{"name": "-var option", "port": "-var option", "keys": "default"}},
		},
		{
			name: "string -var is taken literally, with = in the value",
			vars: []string{`name=a=b "c"`},
			want: &want{name: `a=b "c"`, port: 1111, keys: []string{"id"},
				sources: map[string]string{"name": "-var option"}},
		},
		{
			name:     "list from a var file",
			varFiles: map[string]string{"l.vars.hcl": `keys = ["x", "y"]` + "\n"},
			order:    []string{"l.vars.hcl"},
			want: &want{name: "from-default", port: 1111, keys: []string{"x", "y"},
				sources: map[string]string{"keys": "-var-file=l.vars.hcl"}},
		},
		{
			name:   "wrong type from the default",
			decls:  strings.Replace(precedenceDecls, "default = 1111", `default = "abc"`, 1),
			errors: [][]string{{"Invalid default value for variable", `"port"`, "default"}},
		},
		{
			name:     "wrong type from a var file",
			varFiles: map[string]string{"bad.vars.hcl": `port = "abc"` + "\n"},
			order:    []string{"bad.vars.hcl"},
			errors:   [][]string{{"Invalid value for variable", `"port"`, "-var-file=bad.vars.hcl"}},
		},
		{
			name:   "wrong type from the environment",
			env:    []string{"ROWFORM_VAR_port=abc"},
			errors: [][]string{{"Invalid value for variable", `"port"`, "environment variable ROWFORM_VAR_port"}},
			noFile: true,
		},
		{
			name:   "wrong type from -var",
			vars:   []string{`port="abc"`},
			errors: [][]string{{"Invalid value for variable", `"port"`, "-var option"}},
			noFile: true,
		},
		{
			// One error, not also "no value": a value was given.
			name:   "a word for a number without a default",
			decls:  strings.Replace(precedenceDecls, "default = 1111", "", 1),
			vars:   []string{"port=abc123secret"},
			errors: [][]string{{"Invalid value for variable", `"port"`, "-var option", "is not a valid number."}},
			noFile: true,
		},
		{
			name:  "a number in the environment for a number without a default",
			decls: strings.Replace(precedenceDecls, "default = 1111", "", 1),
			env:   []string{"ROWFORM_VAR_port= 6543"},
			want: &want{name: "from-default", port: 6543, keys: []string{"id"},
				sources: map[string]string{"port": "environment variable ROWFORM_VAR_port"}},
		},
		{
			name:   "unparsable list from -var",
			vars:   []string{`keys=["a",`},
			errors: [][]string{{"Invalid value for variable", `"keys"`, "-var option"}},
			noFile: true,
		},
		{
			name:   "undeclared -var",
			vars:   []string{"nmae=x"},
			errors: [][]string{{"Value for undeclared variable", `"nmae"`, `Did you mean "name"?`}},
			noFile: true,
		},
		{
			name:   "malformed -var",
			vars:   []string{"name"},
			errors: [][]string{{"Invalid -var option", "name=value"}},
			noFile: true,
		},
		{
			name:     "undeclared var-file entry is a warning",
			varFiles: map[string]string{"a.vars.hcl": `nmae = "x"` + "\n"},
			order:    []string{"a.vars.hcl"},
			want: &want{name: "from-default", port: 1111, keys: []string{"id"},
				sources: map[string]string{"name": "default"}},
			warnings: [][]string{{"Value for undeclared variable", `"nmae"`, `Did you mean "name"?`, "a.vars.hcl"}},
		},
		{
			// An endless file is refused after 16 MB, not read to the end.
			name:   "endless var file",
			order:  []string{"/dev/zero"},
			errors: [][]string{{"Variables file too large", "/dev/zero", "16 MB"}},
			noFile: true,
		},
		{
			name:   "missing var file",
			order:  []string{"nope.vars.hcl"},
			errors: [][]string{{"Cannot read variables file", "nope.vars.hcl"}},
			noFile: true,
		},
		{
			name:   "variable without a value",
			decls:  strings.Replace(precedenceDecls, `default = "from-default"`, "", 1),
			errors: [][]string{{"No value for required variable", `"name"`, "ROWFORM_VAR_name"}},
		},
		{
			name:  "AllowUnset: variable without a value and env() of an unset variable",
			decls: strings.Replace(precedenceDecls, `default = "from-default"`, "", 1) + "\nlocals {\n  x = env(\"NOT_SET_ANYWHERE\")\n}\n",
			unset: true,
			want: &want{name: "", port: 1111, keys: []string{"id"},
				sources: map[string]string{"name": "", "port": "default"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			decls := precedenceDecls
			if c.decls != "" {
				decls = c.decls
			}
			files := map[string]string{"vars.hcl": decls, "main.hcl": precedenceBody}
			for n, content := range c.varFiles {
				files[n] = content
			}
			cfg, diags := loadFiles(t, files, Inputs{
				VarFiles:   c.order,
				Vars:       c.vars,
				Environ:    c.env,
				AllowUnset: c.unset,
			})
			for _, texts := range c.errors {
				d := wantError(t, diags, texts...)
				if d != nil && c.noFile && d.Subject != nil {
					t.Errorf("error %q has a Subject %s; command-line problems have none", d.Summary, d.Subject)
				}
				if d != nil && !c.noFile && d.Subject == nil {
					t.Errorf("error %q has no Subject", d.Summary)
				}
			}
			if n := countSeverity(diags, hcl.DiagError); n != len(c.errors) {
				t.Errorf("got %d errors, want %d:\n%s", n, len(c.errors), diagsText(diags))
			}
			for _, texts := range c.warnings {
				wantWarning(t, diags, texts...)
			}
			if n := countSeverity(diags, hcl.DiagWarning); n != len(c.warnings) {
				t.Errorf("got %d warnings, want %d:\n%s", n, len(c.warnings), diagsText(diags))
			}
			if c.want == nil || diags.HasErrors() {
				return
			}
			d := cfg.Destinations["postgres.d"]
			if d == nil {
				t.Fatal("destination postgres.d missing")
			}
			if d.Host != c.want.name {
				t.Errorf("var.name = %q, want %q", d.Host, c.want.name)
			}
			if d.Port != c.want.port {
				t.Errorf("var.port = %d, want %d", d.Port, c.want.port)
			}
			if s := cfg.Sync("x"); s == nil || !reflect.DeepEqual(s.Key, c.want.keys) {
				t.Errorf("var.keys: sync = %+v, want key %q", s, c.want.keys)
			}
			for v, src := range c.want.sources {
				got := cfg.Variables[v]
				if got == nil {
					t.Errorf("Config.Variables[%q] missing", v)
					continue
				}
				if got.Source != src {
					t.Errorf("Config.Variables[%q].Source = %q, want %q", v, got.Source, src)
				}
			}
		})
	}
}
