package hclconfig

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// TestVarFileUndeclaredShowsSnippet: a -var-file that sets an undeclared
// variable gets a warning whose snippet shows the line that sets it, not
// "(source code not available)", and never the value, which may be a
// secret (here, a misspelled password).
func TestVarFileUndeclaredShowsSnippet(t *testing.T) {
	dir := t.TempDir()
	write := func(name, content string) {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("main.hcl", `
variable "crm_password" {
  type      = string
  sensitive = true
}
`)
	write("prod.vars.hcl", "# production\ncrm_pasword = \"hunter2-very-secret\"\nother = <<EOT\nline one\nEOT\n")
	cfg, diags := Load(dir, Inputs{VarFiles: []string{"prod.vars.hcl"}, AllowUnset: true})
	if diags.HasErrors() {
		t.Fatalf("errors: %s", diags.Error())
	}
	var buf bytes.Buffer
	for _, d := range diags {
		if err := hcl.NewDiagnosticTextWriter(&buf, cfg.Files, 0, false).WriteDiagnostic(d); err != nil {
			t.Fatal(err)
		}
	}
	out := buf.String()
	for _, want := range []string{
		`The file prod.vars.hcl sets "crm_pasword", which is not declared. Did you mean "crm_password"?`,
		"on prod.vars.hcl line 2:\n   2: crm_pasword =",
		"on prod.vars.hcl line 3:\n   3: other =",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("diagnostics lack %q:\n%s", want, out)
		}
	}
	for _, bad := range []string{"source code not available", "hunter2", "line one"} {
		if strings.Contains(out, bad) {
			t.Errorf("diagnostics show %q:\n%s", bad, out)
		}
	}
}

// TestVariableValuesInAConfigurationFile: a file of variable values named
// like configuration (prod.hcl, not prod.vars.hcl) is one error that says
// how to name it, not an "Unsupported argument" per line, and it shows none
// of the values.
func TestVariableValuesInAConfigurationFile(t *testing.T) {
	_, diags := loadFiles(t, map[string]string{
		"main.hcl": "variable \"crm_password\" {\n  type      = string\n  sensitive = true\n}\n",
		"prod.hcl": "# production\ncrm_password = \"hunter2-very-secret\"\nregion = \"eu\"\n",
	}, Inputs{AllowUnset: true})
	if len(diags) != 1 {
		t.Fatalf("want one diagnostic, got:\n%s", diagsText(diags))
	}
	d := diags[0]
	if d.Severity != hcl.DiagError || d.Summary != "Variable values in a configuration file" || d.Subject != nil {
		t.Errorf("diagnostic: %s", diagText(d))
	}
	for _, want := range []string{`prod.hcl sets "crm_password", "region" with name = value lines (from line 2)`, "Rename it prod.vars.hcl and pass it with -var-file=prod.vars.hcl"} {
		if !strings.Contains(d.Detail, want) {
			t.Errorf("detail lacks %q: %s", want, d.Detail)
		}
	}
	if strings.Contains(d.Detail, "hunter2") {
		t.Errorf("detail shows a value: %s", d.Detail)
	}
}
