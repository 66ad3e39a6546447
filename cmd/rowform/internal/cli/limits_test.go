package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestDeeplyNestedConfiguration: validate and fmt report a file nested
// 100,000 levels deep (200 kB) with a diagnostic, where they used to crash
// with a Go stack overflow.
func TestDeeplyNestedConfiguration(t *testing.T) {
	dir := t.TempDir()
	deep := "locals {\n  x = " + strings.Repeat("[", 100000) + strings.Repeat("]", 100000) + "\n}\n"
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(deep), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"validate"}, {"validate", "-json"}, {"fmt", "-check"}, {"plan"}} {
		r := runCLI(t, append([]string{"-chdir=" + dir}, args...)...)
		if r.code != exitError || !strings.Contains(r.stdout+r.stderr, "Nested too deeply") {
			t.Errorf("%v: exit %d\n%.2000s\n%.2000s", args, r.code, r.stdout, r.stderr)
		}
	}
	r := runCLIWith(t, nil, deep, "fmt", "-")
	if r.code != exitError || !strings.Contains(r.stderr, "Nested too deeply") {
		t.Errorf("fmt -: exit %d\n%.2000s", r.code, r.stderr)
	}
}
