package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const (
	unformattedHCL = `sync "users" {
  source = source.csv.seed
  behavior   = "append"
    key = "id"
}
`
	formattedHCL = `sync "users" {
  source   = source.csv.seed
  behavior = "append"
  key      = "id"
}
`
	unformattedVars = "environment=\"prod\"\n"
	formattedVars   = "environment = \"prod\"\n"
)

// fmtFixture writes a directory with two unformatted files (one a
// *.vars.hcl), one formatted file and a non-HCL file.
func fmtFixture(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "a.hcl"), unformattedHCL)
	writeFile(t, filepath.Join(dir, "b.hcl"), formattedHCL)
	writeFile(t, filepath.Join(dir, "prod.vars.hcl"), unformattedVars)
	writeFile(t, filepath.Join(dir, "notes.txt"), "x   =   1\n")
	writeFile(t, filepath.Join(dir, "sub", "c.hcl"), unformattedHCL)
	return dir
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// listed returns the base names of the files a fmt run printed.
func listed(stdout string) []string {
	var names []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if line != "" {
			names = append(names, filepath.Base(line))
		}
	}
	return names
}

func TestFmtCheckThenFormat(t *testing.T) {
	dir := fmtFixture(t)

	r := runCLI(t, "-chdir="+dir, "fmt", "-check")
	r.expect(t, exitUnformatted)
	if got := strings.Join(listed(r.stdout), " "); got != "a.hcl prod.vars.hcl" {
		t.Errorf("-check listed %q, want a.hcl and prod.vars.hcl", got)
	}
	if readFile(t, filepath.Join(dir, "a.hcl")) != unformattedHCL {
		t.Error("-check wrote a file")
	}

	r = runCLI(t, "-chdir="+dir, "fmt")
	r.expect(t, exitOK)
	if got := strings.Join(listed(r.stdout), " "); got != "a.hcl prod.vars.hcl" {
		t.Errorf("fmt listed %q, want a.hcl and prod.vars.hcl", got)
	}
	if r.stderr != "" {
		t.Errorf("stderr = %q", r.stderr)
	}
	for name, want := range map[string]string{
		"a.hcl":         formattedHCL,
		"b.hcl":         formattedHCL,
		"prod.vars.hcl": formattedVars,
		"notes.txt":     "x   =   1\n",
		"sub/c.hcl":     unformattedHCL, // not recursive
	} {
		if got := readFile(t, filepath.Join(dir, name)); got != want {
			t.Errorf("%s after fmt:\n%s\nwant:\n%s", name, got, want)
		}
	}

	r = runCLI(t, "-chdir="+dir, "fmt", "-check")
	r.expect(t, exitOK)
	if r.stdout != "" {
		t.Errorf("-check after fmt listed %q", r.stdout)
	}
}

func TestFmtKeepsFileMode(t *testing.T) {
	dir := fmtFixture(t)
	path := filepath.Join(dir, "a.hcl")
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	runCLI(t, "-chdir="+dir, "fmt").expect(t, exitOK)
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode after fmt = %v, want 0600", st.Mode().Perm())
	}
}

func TestFmtDiff(t *testing.T) {
	dir := fmtFixture(t)
	r := runCLI(t, "-chdir="+dir, "fmt", "-check", "-diff", "a.hcl")
	r.expect(t, exitUnformatted)
	path := filepath.Join(dir, "a.hcl")
	want := path + "\n" +
		"--- " + path + ".orig\n" +
		"+++ " + path + "\n" +
		"@@ -1,5 +1,5 @@\n" +
		" sync \"users\" {\n" +
		"-  source = source.csv.seed\n" +
		"-  behavior   = \"append\"\n" +
		"-    key = \"id\"\n" +
		"+  source   = source.csv.seed\n" +
		"+  behavior = \"append\"\n" +
		"+  key      = \"id\"\n" +
		" }\n"
	if r.stdout != want {
		t.Errorf("-diff output:\n%s\nwant:\n%s", r.stdout, want)
	}
	if readFile(t, path) != unformattedHCL {
		t.Error("-check -diff wrote the file")
	}

	// -diff without -check writes the file too.
	r = runCLI(t, "-chdir="+dir, "fmt", "-diff")
	r.expect(t, exitOK)
	if !strings.Contains(r.stdout, "+environment = \"prod\"\n") || !strings.Contains(r.stdout, "+  key      = \"id\"\n") {
		t.Errorf("-diff output:\n%s", r.stdout)
	}
	if readFile(t, path) != formattedHCL {
		t.Error("-diff did not write the file")
	}
}

// TestFmtDiffMasksSecrets: -diff, whose lines CI logs show, masks literal
// passwords and sensitive variables' defaults; the file is formatted with
// them as they are.
func TestFmtDiffMasksSecrets(t *testing.T) {
	dir := t.TempDir()
	src := "variable \"pw\" {\n  sensitive = true\n    default = \"DefaultSecret_456\"\n}\n" +
		"destination \"postgres\" \"crm\" {\n  host = \"db\"\n      password = \"LiteralSecret_123\"\n}\n"
	path := filepath.Join(dir, "main.hcl")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	// A file formatted before main.hcl whose diff shows a secret that only
	// main.hcl declares as one.
	if err := os.WriteFile(filepath.Join(dir, "a.hcl"), []byte("locals {\n  note    =  \"LiteralSecret_123\"\n}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLI(t, "-chdir="+dir, "fmt", "-diff")
	r.expect(t, exitOK)
	for _, secret := range []string{"DefaultSecret_456", "LiteralSecret_123"} {
		if strings.Contains(r.stdout+r.stderr, secret) {
			t.Errorf("-diff shows %s:\n%s", secret, r.stdout)
		}
		if !strings.Contains(readFile(t, path), secret) {
			t.Errorf("the formatted file lost %s:\n%s", secret, readFile(t, path))
		}
		if !strings.Contains(r.stdout, "a.hcl") {
			t.Errorf("a.hcl was not formatted:\n%s", r.stdout)
		}
	}
	if !strings.Contains(r.stdout, "+  password = \"(sensitive)\"") {
		t.Errorf("-diff output:\n%s", r.stdout)
	}

	// A variables file's value of a sensitive variable (declared in
	// main.hcl), named alone or with the directory; another variable's
	// value is shown.
	vars := filepath.Join(dir, "prod.vars.hcl")
	if err := os.WriteFile(vars, []byte("# the production values\npw=\"Vars8Secret_789\" # rotated monthly\nregion=\"eu-west-1\"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"fmt", "-check", "-diff"}, {"fmt", "-check", "-diff", "prod.vars.hcl"}} {
		r = runCLI(t, append([]string{"-chdir=" + dir}, args...)...)
		if strings.Contains(r.stdout+r.stderr, "Vars8Secret_789") || !strings.Contains(r.stdout, `+pw     = "(sensitive)"`) || !strings.Contains(r.stdout, "eu-west-1") {
			t.Errorf("%v: the diff of the variables file:\n%s", args, r.stdout)
		}
	}
}

func TestFmtFileArguments(t *testing.T) {
	dir := fmtFixture(t)
	r := runCLI(t, "-chdir="+dir, "fmt", "prod.vars.hcl", "sub")
	r.expect(t, exitOK)
	if got := strings.Join(listed(r.stdout), " "); got != "prod.vars.hcl c.hcl" {
		t.Errorf("listed %q", got)
	}
	if readFile(t, filepath.Join(dir, "a.hcl")) != unformattedHCL {
		t.Error("a.hcl was not named but was formatted")
	}
	if readFile(t, filepath.Join(dir, "sub", "c.hcl")) != formattedHCL {
		t.Error("sub/c.hcl was not formatted")
	}

	// A file named itself and through its directory is one target, in
	// the order first named: -check lists it once.
	dir = fmtFixture(t)
	r = runCLI(t, "-chdir="+dir, "fmt", "-check", "prod.vars.hcl", ".", "./a.hcl")
	r.expect(t, exitUnformatted)
	if got := strings.Join(listed(r.stdout), " "); got != "prod.vars.hcl a.hcl" {
		t.Errorf("fmt -check prod.vars.hcl . ./a.hcl listed %q, want each unformatted file once", got)
	}

	r = runCLI(t, "-chdir="+dir, "fmt", "missing.hcl")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "missing.hcl") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
}

func TestFmtSyntaxError(t *testing.T) {
	dir := fmtFixture(t)
	writeFile(t, filepath.Join(dir, "broken.hcl"), "sync \"x\" {\n  key = \n")
	r := runCLI(t, "-chdir="+dir, "fmt")
	r.expect(t, exitError)
	broken := filepath.Join(dir, "broken.hcl")
	if !strings.Contains(r.stderr, "Error: ") || !strings.Contains(r.stderr, broken+":") {
		t.Errorf("stderr lacks a diagnostic with file:line:col:\n%s", r.stderr)
	}
	if readFile(t, broken) != "sync \"x\" {\n  key = \n" {
		t.Error("the broken file was rewritten")
	}
	// The other files are still formatted.
	if readFile(t, filepath.Join(dir, "a.hcl")) != formattedHCL {
		t.Error("a syntax error elsewhere stopped a.hcl from being formatted")
	}

	// An error wins over -check's exit 3.
	writeFile(t, filepath.Join(dir, "a.hcl"), unformattedHCL)
	runCLI(t, "-chdir="+dir, "fmt", "-check").expect(t, exitError)
}

func TestFmtStdin(t *testing.T) {
	r := runCLIWith(t, nil, unformattedHCL, "fmt", "-")
	r.expect(t, exitOK)
	if r.stdout != formattedHCL {
		t.Errorf("stdout:\n%s", r.stdout)
	}
	r = runCLIWith(t, nil, unformattedHCL, "fmt", "-check", "-")
	r.expect(t, exitUnformatted)
	if r.stdout != "" {
		t.Errorf("stdout = %q", r.stdout)
	}
	r = runCLIWith(t, nil, formattedHCL, "fmt", "-check", "-")
	r.expect(t, exitOK)
	runCLI(t, "fmt", "-", "-").expect(t, exitError)
}

func TestFmtEmptyDirectory(t *testing.T) {
	r := runCLI(t, "-chdir="+t.TempDir(), "fmt", "-check")
	r.expect(t, exitOK)
	if r.stdout != "" || r.stderr != "" {
		t.Errorf("stdout %q, stderr %q", r.stdout, r.stderr)
	}
}
