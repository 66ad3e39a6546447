package hclconfig

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/rowform/rowform/internal/redact"
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

// TestLiteralPasswordWarningPointsAtIt: the warning about a password
// written in the file has the attribute's range (for CI annotations), and
// its snippet, rendered through the output filter, masks the password; a
// password too short to be masked gets no snippet.
func TestLiteralPasswordWarningPointsAtIt(t *testing.T) {
	for _, c := range []struct {
		password string
		subject  bool
	}{{"hunter2-literal", true}, {"abc", false}} {
		cfg, diags := loadFiles(t, map[string]string{"main.hcl": `destination "postgres" "crm" {
  host     = "db"
  database = "crm"
  user     = "rowform"
  password = "` + c.password + `"
}
`}, Inputs{})
		var d *hcl.Diagnostic
		for _, x := range diags {
			if x.Summary == "Secret written in the configuration" {
				d = x
			}
		}
		if d == nil {
			t.Fatalf("%s: no warning:\n%s", c.password, diagsText(diags))
		}
		if got := d.Subject != nil; got != c.subject {
			t.Fatalf("%s: subject %v, want %v", c.password, got, c.subject)
		}
		if !c.subject {
			continue
		}
		if d.Subject.Start.Line != 5 {
			t.Errorf("the warning points at line %d, want 5", d.Subject.Start.Line)
		}
		r := &redact.Redactor{}
		r.Add(cfg.Secrets()...)
		if out := r.String(renderDiags(cfg, hcl.Diagnostics{d})); strings.Contains(out, c.password) || !strings.Contains(out, `password = "(sensitive)"`) {
			t.Errorf("the snippet through the filter:\n%s", out)
		}
	}
}

// TestUnquotedValuesAreSecrets: a password, key or sensitive variable's
// value written without its quotes (password = hunter2) is a secret: the
// error about it ("no variable named ...") and its snippet, and a diff of
// a variables file, show it. References, calls and true/false/null are not.
func TestUnquotedValuesAreSecrets(t *testing.T) {
	src := `
variable "pw" {
  sensitive = true
  default   = Unquoted-Default
}

destination "postgres" "crm" {
  password = UnquotedPassword1
  ssh_tunnel {
    private_key_passphrase = UnquotedPassphrase2 + 1
    private_key            = var.key
  }
}

destination "postgres" "other" {
  password = env("PW")
  history  = false
}

destination "postgres" "third" {
  password = local.pw
}
`
	got := LiteralSecrets([]byte(src))
	want := []string{"Unquoted-Default", "UnquotedPassword1", "UnquotedPassphrase2", "1"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("LiteralSecrets:\n got %q\nwant %q", got, want)
	}

	vars := "pw = VarsUnquoted3\nregion = eu_west_1\nobj = { user = UserUnquoted4 }\nflag = true\npw2 = x.y\n"
	got = VarsFileSecrets([]byte(vars), map[string]bool{"pw": true, "obj": true, "flag": true, "pw2": true})
	want = []string{"VarsUnquoted3", "UserUnquoted4"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("VarsFileSecrets:\n got %q\nwant %q", got, want)
	}
}
