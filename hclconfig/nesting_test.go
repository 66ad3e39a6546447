package hclconfig

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// deepConstructs are ways to nest n levels deep that the HCL parser,
// evaluator or formatter would recurse on.
func deepConstructs(n int) map[string]string {
	return map[string]string{
		"lists":       "x = " + strings.Repeat("[", n) + strings.Repeat("]", n),
		"parens":      "x = " + strings.Repeat("(", n) + "1" + strings.Repeat(")", n),
		"objects":     "x = " + strings.Repeat("{a=", n) + "1" + strings.Repeat("}", n),
		"calls":       "x = " + strings.Repeat("lower(", n) + `"a"` + strings.Repeat(")", n),
		"templates":   "x = " + strings.Repeat(`"${`, n) + "1" + strings.Repeat(`}"`, n),
		"directives":  `x = "` + strings.Repeat("%{if true}", n/5) + strings.Repeat("%{endif}", n/5) + `"`,
		"for":         "x = " + strings.Repeat("[for a in [1]: ", n/5) + "1" + strings.Repeat("]", n/5),
		"negations":   "x = " + strings.Repeat("!", n) + "true",
		"sums":        "x = " + strings.Repeat("1 + ", n) + "1",
		"conditions":  "x = " + strings.Repeat("true ? 1 : ", n) + "2",
		"blocks":      strings.Repeat("a {\n", n) + strings.Repeat("}\n", n),
		"splats":      "x = [[1]]" + strings.Repeat("[*]", n),
		"attr splats": "x = [{a = 1}]" + strings.Repeat(".*", n),
		// Line breaks inside parentheses do not end the expression.
		"splat lines": "x = ([[1]]" + strings.Repeat("\n[*]", n) + ")",
		"sum lines":   "x = (1" + strings.Repeat(" +\n1", n) + ")",
	}
}

// TestNestingLimit: a configuration nested 100,000 levels deep (a file of a
// few hundred kB) is refused with a diagnostic at the place where it passes
// MaxNestingDepth — it used to overflow the stack — and one within the
// limit is read.
func TestNestingLimit(t *testing.T) {
	for name, src := range deepConstructs(100000) {
		t.Run(name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte("locals {\n"+src+"\n}\n"), 0o644); err != nil {
				t.Fatal(err)
			}
			_, diags := Load(dir, Inputs{AllowUnset: true})
			var found *hcl.Diagnostic
			for _, d := range diags {
				if d.Summary == "Nested too deeply" {
					found = d
				}
			}
			if found == nil || found.Subject == nil || found.Subject.Start.Line > MaxNestingDepth+2 {
				t.Fatalf("want a Nested too deeply diagnostic near the start, got %v", diags)
			}
		})
	}
	for name, src := range deepConstructs(MaxNestingDepth / 2) {
		if name == "blocks" {
			continue // blocks are not allowed in locals
		}
		if d := CheckNesting([]byte(src), "x.hcl", hcl.InitialPos); d.HasErrors() {
			t.Errorf("%s nested %d deep: %v", name, MaxNestingDepth/2, d)
		}
	}
	// Operators in different list elements or lines do not add up.
	flat := "x = [" + strings.Repeat("1 + 1, ", 1000) + "1]\n" + strings.Repeat("y = -1 + 2\n", 1000)
	if d := CheckNesting([]byte(flat), "x.hcl", hcl.InitialPos); d.HasErrors() {
		t.Errorf("a long flat list is refused: %v", d)
	}
}

// TestNestingLimitVariables: -var values and -var-file files nested too
// deeply are refused too, without showing them.
func TestNestingLimitVariables(t *testing.T) {
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte("variable \"v\" {\n  type = list(any)\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	deep := strings.Repeat("[", 100000) + strings.Repeat("]", 100000)
	if err := os.WriteFile(filepath.Join(dir, "deep.vars.hcl"), []byte("v = "+deep+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	_, diags := Load(dir, Inputs{VarFiles: []string{"deep.vars.hcl"}})
	if !strings.Contains(diags.Error(), "Nested too deeply") {
		t.Errorf("a deep -var-file: %v", diags)
	}
	_, diags = Load(dir, Inputs{Vars: []string{"v=" + deep}})
	if !strings.Contains(diags.Error(), "levels deep") {
		t.Errorf("a deep -var: %v", diags)
	}
}
