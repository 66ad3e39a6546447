package hclconfig

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loadLocals loads a configuration of n locals, each referring to the one
// before, and returns how long Load took.
func loadLocals(t *testing.T, n int) time.Duration {
	t.Helper()
	var b strings.Builder
	b.WriteString("variable \"base\" {\n  default = 1\n}\n\nlocals {\n  l0 = var.base\n")
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "  l%d = local.l%d + 1\n", i, i-1)
	}
	b.WriteString("}\n\ndestination \"postgres\" \"d\" {\n  host     = \"db\"\n  user     = \"u\"\n")
	fmt.Fprintf(&b, "  database = \"db${local.l%d}\"\n}\n", n-1)
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	cfg, diags := Load(dir, Inputs{})
	took := time.Since(start)
	if diags.HasErrors() {
		t.Fatal(diags.Error())
	}
	if got, want := cfg.Destinations["postgres.d"].Database, fmt.Sprintf("db%d", n); got != want {
		t.Errorf("database = %q, want %q", got, want)
	}
	t.Logf("%d locals loaded in %v", n, took)
	return took
}

// TestManyLocalsLoadInLinearTime: 100,000 locals load in a few seconds, ten
// times as many as 10,000 in about ten times as long. The evaluation
// context used to be rebuilt with every local value for each local:
// 10,000 took 18 s, 30,000 more than three minutes.
func TestManyLocalsLoadInLinearTime(t *testing.T) {
	small := loadLocals(t, 10000)
	large := loadLocals(t, 100000)
	if large > 30*small {
		t.Errorf("10x the locals took %.0fx as long (%v, %v): not linear", float64(large)/float64(small), small, large)
	}
	// The absolute bound holds on a machine that is not busy with other
	// work (10,000 locals load in about 0.4 s there); the ratio above is
	// what tells linear from quadratic in any case.
	switch {
	case raceDetector || small > 800*time.Millisecond:
		t.Logf("the machine is slow or busy (10,000 locals took %v): only the ratio is checked", small)
	case large > 10*time.Second:
		t.Errorf("100,000 locals took %v to load, want a few seconds", large)
	}
}
