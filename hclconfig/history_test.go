package hclconfig

import (
	"fmt"
	"strings"
	"testing"
)

// TestHistoryAttributes: a destination records its applies unless history
// = false; history_schema and history_keep have defaults and limits; a
// source has no history attributes.
func TestHistoryAttributes(t *testing.T) {
	base := `
destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
  %s
}
source "postgres" "wh" {
  host     = "db"
  database = "w"
  user     = "u"
  %s
}
sync "s" {
  source      = source.postgres.wh
  query       = "SELECT 1 AS id"
  destination = destination.postgres.crm
  table       = "t"
  behavior    = "mirror"
  key         = "id"
}
`
	dir := t.TempDir()
	load := func(dst, src string) (*Config, string) {
		t.Helper()
		writeFiles(t, dir, map[string]string{"main.hcl": fmt.Sprintf(base, dst, src)})
		cfg, diags := Load(dir, Inputs{Environ: fixedEnv})
		if diags.HasErrors() {
			return cfg, diags.Error()
		}
		return cfg, ""
	}
	cfg, errs := load(``, ``)
	if errs != "" {
		t.Fatal(errs)
	}
	h := cfg.Destinations["postgres.crm"].History
	if h == nil || !h.Enabled || h.Schema != "rowform" || h.Keep != 50 {
		t.Errorf("defaults: %+v", h)
	}
	if cfg.Sources["postgres.wh"].Server.History != nil || cfg.Sources["postgres.wh"].Server.HistoryEnabled() {
		t.Errorf("a source has a history: %+v", cfg.Sources["postgres.wh"].Server.History)
	}
	withDefault := cfg.Digest

	cfg, errs = load("history = false", ``)
	if errs != "" {
		t.Fatal(errs)
	}
	if cfg.Destinations["postgres.crm"].HistoryEnabled() {
		t.Error("history = false is enabled")
	}
	if cfg.Digest == withDefault {
		t.Error("history = false does not change the configuration's digest")
	}
	cfg, errs = load("history_schema = \"audit\"\n  history_keep = 3", ``)
	if errs != "" {
		t.Fatal(errs)
	}
	if h := cfg.Destinations["postgres.crm"].History; h.Schema != "audit" || h.Keep != 3 {
		t.Errorf("history_schema, history_keep: %+v", h)
	}
	for _, c := range []struct{ dst, src, want string }{
		{"history_keep = 0", "", "history_keep must be between 1 and 100000"},
		{"history_keep = 1.5", "", "whole number"},
		{`history_schema = ""`, "", "history_schema must name a schema"},
		{`history_schema = "information_schema"`, "", "one of PostgreSQL's own schemas"},
		{`history_schema = "pg_audit"`, "", "one of PostgreSQL's own schemas"},
		{`history = "yes"`, "", "history"},
		{"", "history = false", `An argument named "history" is not expected here`},
	} {
		if _, errs := load(c.dst, c.src); !strings.Contains(errs, c.want) {
			t.Errorf("%q / %q: want an error containing %q, got %q", c.dst, c.src, c.want, errs)
		}
	}
}
