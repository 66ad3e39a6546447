package hclconfig

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// fixedEnv is the whole environment given to Load by the fixture tests:
// nothing from the real process environment leaks in.
var fixedEnv = []string{
	"WAREHOUSE_PASSWORD=canary-secret-123",
	"PGHOST=db.example.com",
}

// writeFiles creates dir/name for each entry (creating parent directories)
// and returns dir.
func writeFiles(t testing.TB, dir string, files map[string]string) string {
	t.Helper()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// loadFiles writes files into a fresh temporary directory and loads it.
func loadFiles(t testing.TB, files map[string]string, in Inputs) (*Config, hcl.Diagnostics) {
	t.Helper()
	dir := writeFiles(t, t.TempDir(), files)
	return Load(dir, in)
}

// renderDiags renders diags the way the CLI does, with source snippets.
func renderDiags(cfg *Config, diags hcl.Diagnostics) string {
	var buf bytes.Buffer
	var files map[string]*hcl.File
	if cfg != nil {
		files = cfg.Files
	}
	wr := hcl.NewDiagnosticTextWriter(&buf, files, 120, false)
	if err := wr.WriteDiagnostics(diags); err != nil {
		buf.WriteString("(rendering failed: " + err.Error() + ")")
	}
	return buf.String()
}

// diagText is a one-line description of a diagnostic for failure messages.
func diagText(d *hcl.Diagnostic) string {
	sev := "error"
	if d.Severity == hcl.DiagWarning {
		sev = "warning"
	}
	where := "(no subject)"
	if d.Subject != nil {
		where = d.Subject.String()
	}
	return sev + " at " + where + ": " + d.Summary + "; " + d.Detail
}

// diagsText lists diags one per line.
func diagsText(diags hcl.Diagnostics) string {
	if len(diags) == 0 {
		return "  (none)\n"
	}
	var b strings.Builder
	for _, d := range diags {
		b.WriteString("  " + diagText(d) + "\n")
	}
	return b.String()
}

// diagMatches reports whether d has the severity and text in its Summary or Detail.
func diagMatches(d *hcl.Diagnostic, sev hcl.DiagnosticSeverity, text string) bool {
	return d.Severity == sev && (strings.Contains(d.Summary, text) || strings.Contains(d.Detail, text))
}

// wantError fails the test unless an error diagnostic contains every text
// (each may be in the Summary or the Detail, all in the same diagnostic).
func wantError(t testing.TB, diags hcl.Diagnostics, texts ...string) *hcl.Diagnostic {
	t.Helper()
	return wantDiag(t, diags, hcl.DiagError, texts...)
}

// wantWarning is wantError for warnings.
func wantWarning(t testing.TB, diags hcl.Diagnostics, texts ...string) *hcl.Diagnostic {
	t.Helper()
	return wantDiag(t, diags, hcl.DiagWarning, texts...)
}

func wantDiag(t testing.TB, diags hcl.Diagnostics, sev hcl.DiagnosticSeverity, texts ...string) *hcl.Diagnostic {
	t.Helper()
	for _, d := range diags {
		all := true
		for _, text := range texts {
			if !diagMatches(d, sev, text) {
				all = false
				break
			}
		}
		if all {
			return d
		}
	}
	kind := "error"
	if sev == hcl.DiagWarning {
		kind = "warning"
	}
	t.Errorf("no %s diagnostic containing all of %q; got:\n%s", kind, texts, diagsText(diags))
	return nil
}

// noErrors fails the test when diags has an error.
func noErrors(t testing.TB, cfg *Config, diags hcl.Diagnostics) {
	t.Helper()
	if diags.HasErrors() {
		t.Fatalf("unexpected errors:\n%s", renderDiags(cfg, diags))
	}
}

// countSeverity counts diagnostics of one severity.
func countSeverity(diags hcl.Diagnostics, sev hcl.DiagnosticSeverity) int {
	n := 0
	for _, d := range diags {
		if d.Severity == sev {
			n++
		}
	}
	return n
}
