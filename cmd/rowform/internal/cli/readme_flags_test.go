package cli

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// flagNames returns the options a help text lists (its "  -name" lines),
// without -help.
func flagNames(help string) []string {
	var out []string
	for _, m := range regexp.MustCompile(`(?m)^  (-[a-z][a-z-]*)`).FindAllStringSubmatch(help, -1) {
		if m[1] != "-help" {
			out = append(out, m[1])
		}
	}
	return out
}

// TestReadmeListsEveryFlag: the README's options table names every option
// of every command, and the global ones, as `-name`; so a new option
// cannot ship undocumented.
func TestReadmeListsEveryFlag(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(moduleRoot(t), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	readme := string(b)
	start := strings.Index(readme, "### Options")
	if start < 0 {
		t.Fatal("README.md has no ### Options section")
	}
	options := readme[start:]
	if end := strings.Index(options[1:], "\n## "); end >= 0 {
		options = options[:end+1]
	}
	r := runCLI(t, "-help")
	global := flagNames(r.stdout[strings.Index(r.stdout, "Global options"):])
	if len(global) < 2 {
		t.Fatalf("no global options found in:\n%s", r.stdout)
	}
	for _, f := range global {
		if !strings.Contains(options, "`"+f) {
			t.Errorf("README's options do not list the global option %s", f)
		}
	}
	for _, c := range commands() {
		r := runCLI(t, c.name, "-help")
		r.expect(t, exitOK)
		// The row of the command and its continuation rows (an empty
		// first cell) up to the next command.
		row := regexp.MustCompile("(?m)^\\| `" + regexp.QuoteMeta(c.name) + "` \\|.*\\n(^\\| \\|.*\\n)*")
		var section string
		for _, m := range row.FindAllString(options, -1) {
			section += m
		}
		if c.name == "plan" || c.name == "apply" {
			if m := regexp.MustCompile("(?m)^\\| `plan`, `apply` \\|.*\\n(^\\| \\|.*\\n)*").FindString(options); m != "" {
				section += m
			}
		}
		if section == "" {
			t.Errorf("README's options table has no row for %s", c.name)
			continue
		}
		for _, f := range flagNames(r.stdout) {
			if !strings.Contains(section, "`"+f) {
				t.Errorf("README's options do not list %s %s", c.name, f)
			}
		}
	}
	// The wait for row locks that is not an option is said.
	if !strings.Contains(options, "**10 seconds**") {
		t.Errorf("README's options do not say how long apply waits for row locks without -lock-timeout")
	}
}

// TestValidateFormat: validate -format=json is -json; -format=text is the
// default; anything else, or a contradiction, is an error.
func TestValidateFormat(t *testing.T) {
	dir := filepath.Join("testdata", "valid")
	r := runCLI(t, "-chdir="+dir, "validate", "-format=json")
	r.expect(t, exitOK)
	if !strings.HasPrefix(r.stdout, "{") || !strings.Contains(r.stdout, `"valid": true`) {
		t.Errorf("validate -format=json:\n%s", r.stdout)
	}
	r = runCLI(t, "-chdir="+dir, "validate", "-format=text")
	r.expect(t, exitOK)
	if !strings.HasPrefix(r.stdout, "Success!") {
		t.Errorf("validate -format=text:\n%s", r.stdout)
	}
	runCLI(t, "-chdir="+dir, "validate", "-format=markdown").expect(t, exitError)
	runCLI(t, "-chdir="+dir, "validate", "-json", "-format=text").expect(t, exitError)
}
