package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/hashicorp/hcl/v2/hclwrite"
)

// TestDocsHCLIsFormatted: every HCL example of the README and docs/ that
// parses is as rowform fmt writes it, so that a user who copies one into
// a repository whose CI runs 'rowform fmt -check' does not fail it.
func TestDocsHCLIsFormatted(t *testing.T) {
	root := moduleRoot(t)
	files, err := filepath.Glob(filepath.Join(root, "docs", "*.md"))
	if err != nil {
		t.Fatal(err)
	}
	files = append(files, filepath.Join(root, "README.md"))
	// A fence indented in a list item indents its lines as much.
	block := regexp.MustCompile("(?ms)^( *)```hcl\n(.*?)^ *```")
	checked := 0
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range block.FindAllSubmatchIndex(b, -1) {
			indent := string(b[m[2]:m[3]])
			src := []byte(strings.ReplaceAll("\n"+string(b[m[4]:m[5]]), "\n"+indent, "\n")[1:])
			if _, d := hclsyntax.ParseConfig(src, "x.hcl", hcl.InitialPos); d.HasErrors() {
				continue // a fragment ("...") is not a file
			}
			checked++
			if got := hclwrite.Format(src); string(got) != string(src) {
				line := strings.Count(string(b[:m[4]]), "\n") + 1
				t.Errorf("%s:%d: the example is not formatted as rowform fmt writes it:\n%s", filepath.Base(f), line, unifiedDiff("doc", "fmt", src, got))
			}
		}
	}
	if checked < 20 {
		t.Errorf("only %d HCL examples checked", checked)
	}
}
