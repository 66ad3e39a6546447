package hclconfig

import (
	"strings"
	"testing"
)

// TestGuessableSecrets: a password that a printed word or a name of the
// configuration contains is a warning naming the server, never the
// password; a password that is not a word is not.
func TestGuessableSecrets(t *testing.T) {
	dir := writeFiles(t, t.TempDir(), map[string]string{"main.hcl": `
destination "postgres" "crm" {
  host     = "db.internal"
  database = "crm"
  user     = "rowform"
  password = env("CRM_PW")
}
`})
	for pw, want := range map[string]bool{"postgres": true, "Public": true, "internal": true, "rowf": true, "k3#vQ9!zL2": false, "abc": false} {
		_, diags := Load(dir, Inputs{Environ: []string{"CRM_PW=" + pw}})
		var got []string
		for _, d := range diags {
			if d.Summary == "Guessable secret" {
				got = append(got, d.Detail)
			}
		}
		if want != (len(got) == 1) || len(got) > 1 {
			t.Errorf("password %q: %d warnings, want %v: %q", pw, len(got), want, got)
			continue
		}
		if want && (!strings.Contains(got[0], "The password of postgres.crm") || strings.Contains(strings.ToLower(got[0]), "\""+strings.ToLower(pw)+"\"")) {
			t.Errorf("password %q: %q", pw, got[0])
		}
	}
}
