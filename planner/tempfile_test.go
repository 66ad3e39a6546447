package planner_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestTempDirUnusable: when rowform's temporary files fail (TMPDIR full,
// missing or not writable), the plan says so — temp_files_failed naming
// TMPDIR — instead of connection_failed, which sent people to the database.
func TestTempDirUnusable(t *testing.T) {
	e := synctest.New(t)
	e.Src(`CREATE TABLE big (id bigint, v text)`)
	e.Src(`INSERT INTO big SELECT g, repeat('x', 100) FROM generate_series(1, 20000) g`)
	e.Dst(`CREATE TABLE big (id bigint PRIMARY KEY, v text)`)
	e.Dst(`INSERT INTO big SELECT g, 'old' FROM generate_series(1, 20000) g`)
	cfg := e.Config(`
sync "big" {
  source      = source.postgres.src
  query       = "SELECT id, v FROM big"
  destination = destination.postgres.dst
  table       = "big"
  behavior    = "mirror"
  key         = ["id"]
}
`)
	missing := filepath.Join(t.TempDir(), "missing")
	t.Setenv("TMPDIR", missing)
	p, err := planner.Compute(planner.WithHashLimitsForTest(context.Background(), 64<<10, 1<<20), cfg, planner.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sp := syncNamed(t, p, "big")
	if got := codes(sp); len(got) != 1 || got[0] != string(planner.CodeTempFiles) {
		t.Fatalf("codes %v, want temp_files_failed:\n%s", got, synctest.FindingsText(sp))
	}
	f := sp.Findings[0]
	if !strings.Contains(f.Summary, "temporary files") || !strings.Contains(f.Detail, missing) || !strings.Contains(f.Detail, "TMPDIR") {
		t.Errorf("the finding does not say that TMPDIR (%s) failed:\n%s", missing, synctest.FindingsText(sp))
	}
}
