package cli

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestTestCommand: `rowform test` runs the example's tests on a throwaway
// PostgreSQL server it starts itself, prints each run and a summary, exits
// 0 when all pass and 1 when one fails, and -junit=FILE writes JUnit XML.
// The failing run says what was expected and what it got.
func TestTestCommand(t *testing.T) {
	dir := t.TempDir()
	root := moduleRoot(t)
	quickstart := filepath.Join(dir, "quickstart")
	if err := os.CopyFS(quickstart, os.DirFS(filepath.Join(root, "examples", "quickstart"))); err != nil {
		t.Fatal(err)
	}
	// A second test file whose expectation is wrong.
	if err := os.WriteFile(filepath.Join(quickstart, "tests", "wrong.rftest.hcl"), []byte(`
destination "postgres" "local" {
  sql = file("schema.sql")
}

run "counts" {
  command = "plan"
  expect_plan "users" {
    insert = 9
  }
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	junit := filepath.Join(dir, "results.xml")
	r := runCLIWith(t, []string{"PATH=" + os.Getenv("PATH")}, "", "-chdir="+quickstart, "test", "-junit="+junit)
	r.expect(t, exitError)
	for _, want := range []string{
		"tests/users.rftest.hcl...\n",
		`  run "initial_load"... pass`,
		`  run "counts"... fail`,
		`    expect_plan "users": insert: expected 9, got 8`,
		"tests/wrong.rftest.hcl... fail\n",
		"Failure! 4 passed, 1 failed.\n",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout lacks %q:\n%s", want, r.stdout)
		}
	}
	if !strings.Contains(r.stderr, "Testing on a throwaway PostgreSQL server") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	b, err := os.ReadFile(junit)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
	}
	if err := xml.Unmarshal(b, &doc); err != nil || doc.Tests != 5 || doc.Failures != 1 {
		t.Errorf("JUnit (%v): %+v\n%s", err, doc, b)
	}

	// The JUnit path as a link planted in the checkout: the link is
	// replaced, the file it points to left alone.
	victim, planted := filepath.Join(dir, "victim"), filepath.Join(dir, "planted.xml")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(victim, planted); err != nil {
		t.Fatal(err)
	}
	r = runCLIWith(t, []string{"PATH=" + os.Getenv("PATH")}, "", "-chdir="+quickstart, "test", "-filter=users", "-junit="+planted)
	r.expect(t, exitOK)
	if !strings.Contains(r.stdout, "Success! 4 passed, 0 failed.\n") || strings.Contains(r.stdout, "wrong.rftest.hcl") {
		t.Errorf("-filter=users:\n%s", r.stdout)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("-junit wrote through a link into %s: %q", victim, b)
	}
	if b, _ := os.ReadFile(planted); !bytes.Contains(b, []byte("<testsuites")) {
		t.Errorf("-junit at a link's path: %q", b)
	}

	// A JUnit file that cannot be written fails the command before any
	// test runs.
	r = runCLIWith(t, []string{"PATH=" + os.Getenv("PATH")}, "", "-chdir="+quickstart, "test", "-filter=users", "-junit="+filepath.Join(dir, "missing", "r.xml"))
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "-junit cannot be written") || !strings.Contains(r.stderr, "no test was run") || strings.Contains(r.stdout, "run \"") {
		t.Errorf("unwritable -junit:\nstdout:\n%s\nstderr:\n%s", r.stdout, r.stderr)
	}

	r = runCLI(t, "-chdir="+t.TempDir(), "test")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "no test files") {
		t.Errorf("without tests: %s", r.stderr)
	}
}

// TestTestCommandBadServerURL: with ROWFORM_TEST_PG_URL naming a server
// that cannot be reached, rowform test says to correct the URL, not to
// install PostgreSQL, and -junit still writes a report that says why no
// test ran (as it does for a -filter that matches no file).
func TestTestCommandBadServerURL(t *testing.T) {
	dir := t.TempDir()
	quickstart := filepath.Join(dir, "quickstart")
	if err := os.CopyFS(quickstart, os.DirFS(filepath.Join(moduleRoot(t), "examples", "quickstart"))); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	t.Setenv("ROWFORM_TEST_PG_URL", fmt.Sprintf("postgres://u:Closed-Port-Secret@127.0.0.1:%d/db", port))
	junit := filepath.Join(dir, "results.xml")
	r := runCLIWith(t, []string{"PATH=" + os.Getenv("PATH")}, "", "-chdir="+quickstart, "test", "-junit="+junit)
	r.expect(t, exitError)
	if !strings.Contains(r.outputs(), "correct ROWFORM_TEST_PG_URL") || strings.Contains(r.outputs(), "apt-get") || strings.Contains(r.outputs(), "Closed-Port-Secret") {
		t.Errorf("rowform test with an unreachable ROWFORM_TEST_PG_URL:\n%s", r.outputs())
	}
	// The JUnit report says so too, for the CI page that shows it (no
	// file was written, and the report step failed or showed nothing).
	b, err := os.ReadFile(junit)
	if err != nil || !strings.Contains(string(b), `<testcase name="(stopped)"`) || !strings.Contains(string(b), "correct ROWFORM_TEST_PG_URL") ||
		!strings.Contains(string(b), `errors="1"`) || strings.Contains(string(b), "Closed-Port-Secret") {
		t.Errorf("the JUnit file of tests that could not start (%v):\n%s", err, b)
	}
	r = runCLIWith(t, []string{"PATH=" + os.Getenv("PATH")}, "", "-chdir="+quickstart, "test", "-filter=nosuch", "-junit="+junit)
	r.expect(t, exitError)
	if b, err := os.ReadFile(junit); err != nil || !strings.Contains(string(b), "-filter=nosuch matches no test file") {
		t.Errorf("the JUnit file of a -filter that matches nothing (%v):\n%s", err, b)
	}
}
