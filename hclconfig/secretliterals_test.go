package hclconfig

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

func TestLiteralSecrets(t *testing.T) {
	src := `
variable "pw" {
  default   = "Default-Secret-1" + 1
  sensitive = true
}

variable "plain" {
  default = "not-a-secret"
}

destination "postgres" "one_line" { password = "OneLine-Secret-2" }

destination "postgres" "crm" {
  host     = "db.internal" # password = "comment"
  password = "Literal-${var.x}-Secret-3" + 1
  ssh_tunnel {
    private_key_passphrase = [12345678, { a = "Nested-Secret-4" }]
    private_key = <<EOT
-----BEGIN KEY-----
Heredoc-Secret-5
EOT
    user = "tunnel-user"
  }
}

destination "postgres" "named" {
  password = env("CRM_PASSWORD")
  ssh_tunnel {
    private_key = file("keys/id_ed25519")
    private_key_passphrase = env("KEY_${var.n}")
  }
}

destination "postgres" "computed" { password = coalesce(env("PW"), "Fallback-Secret-7") }

source "postgres" "broken" {
  password = "Unparsed-Secret-6" +
`
	got := LiteralSecrets([]byte(src))
	want := []string{"Default-Secret-1", "1", "OneLine-Secret-2", "Literal-", "-Secret-3", "1", "12345678", "Nested-Secret-4",
		"-----BEGIN KEY-----\n", "Heredoc-Secret-5\n", "KEY_", "Fallback-Secret-7", "Unparsed-Secret-6"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LiteralSecrets:\n got %q\nwant %q", got, want)
	}
}

// TestLiteralPasswordNotInSnippet: a literal password or a sensitive
// variable's default whose own line has an error is a secret of the loaded
// configuration, so the snippet that shows the line is masked.
func TestLiteralPasswordNotInSnippet(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(`
variable "pw" {
  type      = string
  sensitive = true
  default   = "Default-Secret-1" + 1
}

destination "postgres" "crm" {
  host     = "db.internal"
  database = "crm"
  user     = "rowform"
  password = "Literal-Secret-2" + 1
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := Load(dir, Inputs{AllowUnset: true})
	if !diags.HasErrors() {
		t.Fatal("want errors")
	}
	secrets := strings.Join(cfg.Secrets(), "\n")
	for _, s := range []string{"Default-Secret-1", "Literal-Secret-2"} {
		if !strings.Contains(secrets, s) {
			t.Errorf("%s is not among the secrets: %q", s, cfg.Secrets())
		}
	}
}
