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
// together from two variables, one transformed by functions and locals) or
// a secret inside an object; the others are stored as -var takes them.
func TestSavedVariablesHoldNoSecret(t *testing.T) {
	dir := t.TempDir()
	src := `
variable "a" { type = string }
variable "b" { type = string }
variable "db" { type = object({ user = string, password = string }) }
variable "environment" { type = string }
variable "schema" { type = string }
variable "pwraw" { type = string }
variable "tunnel_pw" { type = string }
locals {
  pw = replace(lower(var.pwraw), "x", "y")
}
destination "postgres" "three" {
  host     = "db3-${var.environment}"
  database = "crm"
  user     = "rowform"
  password = local.pw
  ssh_tunnel {
    host                   = "bastion"
    user                   = "ops"
    private_key            = "-----BEGIN OPENSSH PRIVATE KEY-----"
    private_key_passphrase = upper(var.tunnel_pw)
  }
}
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
		"pwraw=ZEBRAHORSE", "tunnel_pw=quietriver",
	}})
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	got, withheld := savedVariables(cfg)
	if want := []string{"a", "b", "db", "pwraw", "tunnel_pw"}; !slices.Equal(withheld, want) {
		t.Errorf("withheld %q, want %q", withheld, want)
	}
	// A variable that reaches a secret through a function and a local
	// (lower, replace, upper) holds it in another form: its value is a
	// secret too, masked in every output.
	for _, secret := range []string{"ZEBRAHORSE", "quietriver"} {
		if !slices.Contains(cfg.Secrets(), secret) {
			t.Errorf("%q, a variable's value that a password or passphrase is made of, is not among the secrets", secret)
		}
	}
	if _, ok := cfg.NonSensitiveValue("pwraw"); ok {
		t.Error("NonSensitiveValue gives the value of a variable a password is made of")
	}
	for _, name := range []string{"a", "b", "db", "pwraw", "tunnel_pw"} {
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
