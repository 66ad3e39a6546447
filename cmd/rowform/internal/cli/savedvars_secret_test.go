package cli

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/rowform/rowform/hclconfig"
)

// TestSavedVariablesHoldNoSecret: a plan file stores the variables given at
// plan time, but not one that holds a piece of a secret (a password put
// together from two variables) or a secret inside an object; the others
// are stored as -var takes them.
func TestSavedVariablesHoldNoSecret(t *testing.T) {
	dir := t.TempDir()
	src := `
variable "a" { type = string }
variable "b" { type = string }
variable "db" { type = object({ user = string, password = string }) }
variable "environment" { type = string }
variable "schema" { type = string }
destination "postgres" "one" {
  host     = "db1"
  database = "crm"
  user     = var.db.user
  password = var.db.password
}
destination "postgres" "two" {
  host     = "db2"
  database = "crm"
  user     = "rowform"
  password = "${var.a}${var.b}"
}
`
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := hclconfig.Load(dir, hclconfig.Inputs{Vars: []string{
		"a=first-half", "b=second-half", `db={user = "crm_app", password = "object-crm-secret-9"}`, "environment=prod", "schema=crm",
	}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	got, withheld := savedVariables(cfg)
	if want := []string{"a", "b", "db"}; !slices.Equal(withheld, want) {
		t.Errorf("withheld %q, want %q", withheld, want)
	}
	for _, name := range []string{"a", "b", "db"} {
		if v, ok := got[name]; ok {
			t.Errorf("variable %s, which holds a secret or a piece of one, is stored: %q", name, v)
		}
	}
	// A value shorter than four characters inside a secret (crm in the
	// password) is stored: such pieces are not secrets the output filter
	// would mask, and they are in every other word.
	if got["environment"] != "prod" || got["schema"] != "crm" {
		t.Errorf("environment, schema: %q, %q, want prod, crm (all stored: %q)", got["environment"], got["schema"], got)
	}
}
