package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// newUserConfig writes main.hcl (a CSV source into a destination whose
// password comes from env("CRM_PW")) and users.csv into a new directory,
// and returns it. Nothing in it needs a server until a plan connects.
func newUserConfig(t *testing.T, syncExtra string) string {
	t.Helper()
	dir := t.TempDir()
	files := map[string]string{
		"main.hcl": `destination "postgres" "crm" {
  host     = "127.0.0.1"
  database = "crm"
  user     = "rowform"
  password = env("CRM_PW")
}

source "csv" "users" {
  path = "users.csv"
}

sync "users" {
  source      = source.csv.users
  destination = destination.postgres.crm
  table       = "users"
  behavior    = "update_or_create"
  key         = ["id"]
` + syncExtra + `}
`,
		"users.csv": "id,email\n1,ada@example.com\n",
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestUnsetEnvNamesTheVariable: the name passed to env() in a password is
// not a secret, so the error for an unset variable names it, in the text
// and in the JSON, and the snippet shows the call as written.
func TestUnsetEnvNamesTheVariable(t *testing.T) {
	dir := newUserConfig(t, "")
	for _, args := range [][]string{{"plan"}, {"plan", "-json"}} {
		r := runCLI(t, append([]string{"-chdir=" + dir}, args...)...)
		r.expect(t, exitError)
		out := r.stdout + r.stderr
		if strings.Contains(out, "(sensitive)") {
			t.Errorf("%s masks the variable's name:\n%s", strings.Join(args, " "), out)
		}
		want := `environment variable "CRM_PW" is not set`
		if args[len(args)-1] == "-json" {
			want = `environment variable \"CRM_PW\" is not set`
		} else if !strings.Contains(out, `password = env("CRM_PW")`) {
			t.Errorf("plan's snippet does not show the env call:\n%s", out)
		}
		if !strings.Contains(out, want) {
			t.Errorf("%s does not say %s:\n%s", strings.Join(args, " "), want, out)
		}
	}
}
