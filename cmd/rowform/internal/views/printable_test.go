package views

import (
	"bytes"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/history"
	"github.com/rowform/rowform/internal/redact"
)

// sgrPattern matches the color sequences rowform writes itself.
var sgrPattern = regexp.MustCompile("\x1b\\[[0-9;]*m")

// hasTerminalControl reports an escape byte, another C0 or C1 control but
// tab and newline, or a bidirectional control in s.
func hasTerminalControl(s string) bool {
	return strings.IndexFunc(s, isUnsafeRune) >= 0
}

// TestDiagnosticsPrintable: a diagnostic's summary, detail and file name
// can quote what a configuration holds (a path, a table, a file's own
// name, in a pull request's CI log): none reaches the terminal as control
// characters, and the snippet of a file whose name has them is still shown.
func TestDiagnosticsPrintable(t *testing.T) {
	name := "e\x1b[31mvil\u202e.hcl"
	src := []byte("locals {\n  x = 1 +\n}\n")
	rng := hcl.Range{Filename: name, Start: hcl.Pos{Line: 2, Column: 9, Byte: 17}, End: hcl.Pos{Line: 2, Column: 10, Byte: 18}}
	files := map[string]*hcl.File{name: {Bytes: src}}
	diags := hcl.Diagnostics{
		{Severity: hcl.DiagWarning, Summary: "CSV file not found", Detail: "The file da\x1b]0;title\x07ta.csv does not exist."},
		{Severity: hcl.DiagError, Summary: "Invalid \x1b[2Jexpression", Detail: "Expected an expression.", Subject: &rng, Context: &rng},
	}
	for _, color := range []bool{false, true} {
		var buf bytes.Buffer
		if err := WriteDiagnostics(&buf, files, diags, 0, color, nil); err != nil {
			t.Fatal(err)
		}
		out := buf.String()
		if color {
			// Colors are rowform's own escape sequences: take them out.
			out = sgrPattern.ReplaceAllString(out, "")
		}
		if hasTerminalControl(out) {
			t.Errorf("color=%v: the output has a control character:\n%q", color, out)
		}
		for _, want := range []string{`da\x1b]0;title\ata.csv`, `on e\x1b[31mvil\u202e.hcl:2:9`, "x = 1 +", `Invalid \x1b[2Jexpression`} {
			if !strings.Contains(out, want) {
				t.Errorf("color=%v: no %q in\n%s", color, want, out)
			}
		}
	}
	if diags[0].Detail != "The file da\x1b]0;title\x07ta.csv does not exist." || diags[1].Subject.Filename != name {
		t.Error("WriteDiagnostics changed the diagnostics it was given")
	}
}

// TestValidSummaryPrintable: the table of a sync, which a variable or the
// environment may give, is printed by validate without control characters.
func TestValidSummaryPrintable(t *testing.T) {
	srv := &hclconfig.Server{Kind: "destination", Type: "postgres", Name: "d"}
	cfg := &hclconfig.Config{Syncs: []*hclconfig.Sync{{
		Name: "s", Behavior: hclconfig.Mirror,
		Source:      &hclconfig.Source{Type: hclconfig.SourceCSV, Name: "c"},
		Destination: srv,
		Table:       hclconfig.TableName{Schema: "public", Name: "t\x1b[41mx\u202e"},
	}}}
	var buf bytes.Buffer
	if err := RenderValidSummary(&buf, cfg, false); err != nil {
		t.Fatal(err)
	}
	if hasTerminalControl(buf.String()) || !strings.Contains(buf.String(), `public.t\x1b[41mx\u202e`) {
		t.Errorf("validate's summary:\n%q", buf.String())
	}
}

// TestHistoryStatusPrintable: a run's status is read from the history
// table like its other texts, and printed without control characters.
func TestHistoryStatusPrintable(t *testing.T) {
	now := time.Now()
	runs := []history.Run{{ID: 1, Sync: "s", Actor: "a", Status: "applied\x1b]0;title\x07", StartedAt: now, FinishedAt: now}}
	var buf bytes.Buffer
	if err := RenderHistoryText(&buf, runs, false); err != nil {
		t.Fatal(err)
	}
	if hasTerminalControl(buf.String()) || !strings.Contains(buf.String(), `applied\x1b]0;title\a`) {
		t.Errorf("history:\n%q", buf.String())
	}
}

// TestMaskedDiagnosticsWrap: a diagnostic wrapped at the terminal's width
// can break a secret with spaces (a path read with env()) onto two lines,
// where the output filter no longer finds it; masked first, it is not
// shown at any width.
func TestMaskedDiagnosticsWrap(t *testing.T) {
	secret := "/data/My Exports/users file for the quarter.csv"
	var r redact.Redactor
	r.Add(secret)
	diags := hcl.Diagnostics{{Severity: hcl.DiagWarning, Summary: "CSV file not found",
		Detail: "The file " + secret + ` of source "csv" "c" does not exist. validate only warns, since the file may be written before the plan runs.`}}
	for _, width := range []uint{0, 30, 40, 60, 80} {
		var out bytes.Buffer
		w := redact.NewWriter(&out, &r)
		if err := WriteDiagnostics(w, nil, diags, width, false, r.String); err != nil {
			t.Fatal(err)
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if strings.Contains(out.String(), "Exports") || strings.Contains(out.String(), "quarter") || !strings.Contains(out.String(), redact.Mask) {
			t.Errorf("width %d:\n%s", width, out.String())
		}
	}
	if diags[0].Detail == redact.Mask {
		t.Error("WriteDiagnostics changed the diagnostics it was given")
	}
}

// TestDiagnosticLongValuesNotShown: a diagnostic shows the values its
// expression reads ("with local.n as ...") when they are short, and leaves
// them out when one is a string longer than 256 bytes: HCL printed it
// whole (a local read by file() printed the whole file, and
// /proc/self/environ the whole environment of a CI job).
func TestDiagnosticLongValuesNotShown(t *testing.T) {
	src := []byte("x = local.n + local.big\n")
	f, diags := hclsyntax.ParseConfig(src, "main.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatal(diags)
	}
	attrs, _ := f.Body.JustAttributes()
	expr := attrs["x"].Expr
	write := func(big string) string {
		ctx := &hcl.EvalContext{Variables: map[string]cty.Value{"local": cty.ObjectVal(map[string]cty.Value{
			"n": cty.StringVal("abc"), "big": cty.StringVal(big)})}}
		rng := expr.Range()
		d := &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unsuitable value type", Detail: "A number is required.",
			Subject: &rng, Expression: expr, EvalContext: ctx}
		var b bytes.Buffer
		if err := WriteDiagnostics(&b, map[string]*hcl.File{"main.hcl": f}, hcl.Diagnostics{d}, 0, false, nil); err != nil {
			t.Fatal(err)
		}
		return b.String()
	}
	if out := write("short"); !strings.Contains(out, `with local.big as "short"`) || !strings.Contains(out, `local.n as "abc"`) {
		t.Errorf("short values are not shown:\n%s", out)
	}
	long := strings.Repeat("AWS_SECRET=x ", 30)
	if out := write(long); strings.Contains(out, "AWS_SECRET") || strings.Contains(out, "with ") || !strings.Contains(out, "A number is required.") {
		t.Errorf("a long value is shown, or the diagnostic lost its text:\n%s", out)
	}
}
