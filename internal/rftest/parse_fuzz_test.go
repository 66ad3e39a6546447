package rftest

import (
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
)

// FuzzParseFile: a test file of any bytes parses into a file or into error
// diagnostics, without a panic, in bounded time; every diagnostic's subject
// that points into the file points inside it, and the diagnostics render
// with their snippets. The seeds are the examples' test files and pieces of
// them.
func FuzzParseFile(f *testing.F) {
	seeds, err := filepath.Glob("../../examples/*/tests/*" + FileSuffix)
	if err != nil || len(seeds) == 0 {
		f.Fatalf("no example test files found: %v", err)
	}
	for _, path := range seeds {
		src, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(src)
		f.Add(src[:len(src)/2])
	}
	f.Add([]byte(`run "x" { expect_plan { insert = 1e400 } }`))
	f.Add([]byte(`fixture "table" "t" { rows = [{a = 1}, null, {b = [1]}] }`))
	f.Add([]byte(`variables { x = file("/dev/zero") }`))
	dir := f.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, Dir), 0o755); err != nil {
		f.Fatal(err)
	}
	rel := filepath.Join(Dir, "fuzz"+FileSuffix)
	f.Fuzz(func(t *testing.T, src []byte) {
		if err := os.WriteFile(filepath.Join(dir, rel), src, 0o600); err != nil {
			t.Fatal(err)
		}
		start := time.Now()
		ps := newParser(dir, nil)
		_, diags := ps.parseFile(rel)
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("parsing took %s on an input of %d bytes", d, len(src))
		}
		for _, d := range diags {
			checkRange(t, d.Subject, rel, len(src))
			if strings.TrimSpace(d.Summary) == "" {
				t.Errorf("a diagnostic without a summary: %+v", d)
			}
		}
		if err := hcl.NewDiagnosticTextWriter(io.Discard, ps.Files(), 100, true).WriteDiagnostics(diags); err != nil {
			t.Errorf("writing the diagnostics: %v", err)
		}
	})
}

// checkRange fails t if r points into the file rel past its n bytes.
func checkRange(t *testing.T, r *hcl.Range, rel string, n int) {
	t.Helper()
	if r == nil || r.Filename != rel {
		return
	}
	if r.Start.Byte < 0 || r.End.Byte > n || r.Start.Byte > r.End.Byte {
		t.Errorf("a diagnostic's range %s is outside the file's %d bytes", r, n)
	}
}
