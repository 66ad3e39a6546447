package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rowform/rowform/internal/synctest"
)

// TestSampleCutKeepsSecretsWhole: a sample value longer than plans show
// is cut; a secret the value holds where the cut falls is left out whole,
// not cut in two with its first part shown (the output filter masks a
// secret, not its first letters) — in text, JSON, Markdown, the plan file
// and apply's plan.
func TestSampleCutKeepsSecretsWhole(t *testing.T) {
	const token = "Tq7-LongApiToken-Xw9"
	e := synctest.New(t)
	e.Dst(`CREATE TABLE docs (id int PRIMARY KEY, body text)`)
	// The token starts 8 bytes before the 4,096 bytes a sample shows.
	body := strings.Repeat("a", 4088) + token + strings.Repeat("z", 100)
	if err := os.WriteFile(filepath.Join(e.Dir, "docs.csv"), []byte("id,body\n1,"+body+"\n2,short\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.WriteFile("main.hcl", e.Servers()+`
variable "token" {
  type      = string
  sensitive = true
}

locals {
  # Only so that the token is a secret of the configuration.
  unused = var.token
}

source "csv" "docs" {
  path = "docs.csv"
}

sync "docs" {
  source      = source.csv.docs
  destination = destination.postgres.dst
  table       = "docs"
  behavior    = "mirror"
  key         = "id"
}
`)
	env := append(e.Environ, "ROWFORM_VAR_token="+token)
	planFile := filepath.Join(t.TempDir(), "p.plan")
	for _, args := range [][]string{
		{"plan", "-show-rows=5", "-out=" + planFile}, {"plan", "-show-rows=5", "-json"}, {"plan", "-show-rows=5", "-format=markdown"},
		{"show", planFile}, {"apply", "-show-rows=5", "-auto-approve"},
	} {
		r := runCLIWith(t, env, "", append([]string{"-chdir=" + e.Dir}, args...)...)
		out := r.stdout + r.stderr
		if r.code != exitOK {
			t.Fatalf("%v: exit %d\n%.3000s", args, r.code, out)
		}
		if i := strings.Index(out, "Tq7"); i >= 0 {
			t.Errorf("%v shows a piece of the token: %q", args, out[max(0, i-20):min(len(out), i+40)])
		}
		if !strings.Contains(out, "more bytes") {
			t.Errorf("%v shows no cut value:\n%.3000s", args, out)
		}
	}
	b, err := os.ReadFile(planFile)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "Tq7") {
		t.Error("the plan file holds a piece of the token")
	}
}
