package cli

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
)

func TestValidateValid(t *testing.T) {
	r := runCLI(t, "-chdir=testdata/valid", "validate")
	r.expect(t, exitOK)
	if r.stderr != "" {
		t.Errorf("stderr = %q, want nothing", r.stderr)
	}
	lines := strings.Split(strings.TrimSpace(r.stdout), "\n")
	if lines[0] != "Success! The configuration is valid." {
		t.Errorf("first line = %q", lines[0])
	}
	for _, want := range []*regexp.Regexp{
		regexp.MustCompile(`(?m)^2 syncs:$`),
		regexp.MustCompile(`(?m)^  sync "users" +update_or_create +csv\.seed -> postgres\.local public\.users$`),
		regexp.MustCompile(`(?m)^  sync "archive" +append +csv\.seed -> postgres\.local archive\.users$`),
	} {
		if !want.MatchString(r.stdout) {
			t.Errorf("stdout does not match %s:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, "\x1b[") {
		t.Error("colors written to a buffer")
	}
}

func TestValidateRejectsArguments(t *testing.T) {
	r := runCLI(t, "validate", "testdata/valid")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "-chdir=DIR") {
		t.Errorf("stderr does not point at -chdir:\n%s", r.stderr)
	}
}

// errorMarkers returns the lines of a fixture that carry an
// "# ERROR: <text>" marker, with the text.
func errorMarkers(t *testing.T, path string) map[int]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	markers := map[int]string{}
	sc := bufio.NewScanner(f)
	for line := 1; sc.Scan(); line++ {
		if _, text, ok := strings.Cut(sc.Text(), "# ERROR: "); ok {
			markers[line] = text
		}
	}
	return markers
}

func TestValidateInvalidReportsEveryMistake(t *testing.T) {
	fixture := filepath.Join("testdata", "invalid", "main.hcl")
	markers := errorMarkers(t, fixture)
	if len(markers) != 3 {
		t.Fatalf("fixture has %d ERROR markers, want 3", len(markers))
	}

	r := runCLI(t, "-chdir=testdata/invalid", "validate")
	r.expect(t, exitError)
	if r.stdout != "" {
		t.Errorf("stdout = %q, want nothing", r.stdout)
	}
	locRE := regexp.MustCompile(`(?m)^  on ` + regexp.QuoteMeta(fixture) + `:(\d+):(\d+)`)
	found := map[int]bool{}
	for _, m := range locRE.FindAllStringSubmatch(r.stderr, -1) {
		var line int
		fmt.Sscan(m[1], &line)
		found[line] = true
	}
	for line, text := range markers {
		if !found[line] {
			t.Errorf("no diagnostic at %s:%d:COL (marker %q)", fixture, line, text)
		}
		if !strings.Contains(r.stderr, text) {
			t.Errorf("stderr lacks %q", text)
		}
		if !regexp.MustCompile(fmt.Sprintf(`(?m)^ *%d: `, line)).MatchString(r.stderr) {
			t.Errorf("no snippet of line %d", line)
		}
	}
	if len(found) != len(markers) {
		t.Errorf("diagnostics on lines %v, want exactly the marked lines %v", keys(found), keys(markers))
	}
	if !strings.HasSuffix(r.stderr, "The configuration is invalid: 3 errors.\n") {
		t.Errorf("stderr does not end with the count:\n%s", r.stderr)
	}
	if got := strings.Count(r.stderr, "Error: "); got != 3 {
		t.Errorf("%d diagnostics printed, want 3:\n%s", got, r.stderr)
	}
}

func keys[V any](m map[int]V) []int {
	var out []int
	for k := range m {
		out = append(out, k)
	}
	sort.Ints(out)
	return out
}

// wantKeys fails unless the JSON object m has exactly the given keys.
func wantKeys(t *testing.T, what string, m map[string]any, want ...string) {
	t.Helper()
	var got []string
	for k := range m {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("%s has keys %v, want %v", what, got, want)
	}
}

func asObject(t *testing.T, what string, v any) map[string]any {
	t.Helper()
	m, ok := v.(map[string]any)
	if !ok {
		t.Fatalf("%s is %T, want an object", what, v)
	}
	return m
}

func asNumber(t *testing.T, what string, v any) int {
	t.Helper()
	n, ok := v.(float64)
	if !ok || n != float64(int(n)) {
		t.Fatalf("%s is %#v, want an integer", what, v)
	}
	return int(n)
}

func TestValidateJSONInvalid(t *testing.T) {
	fixture := filepath.Join("testdata", "invalid", "main.hcl")
	src, err := os.ReadFile(fixture)
	if err != nil {
		t.Fatal(err)
	}
	markers := errorMarkers(t, fixture)

	r := runCLI(t, "-chdir=testdata/invalid", "validate", "-json")
	r.expect(t, exitError)
	if r.stderr != "" {
		t.Errorf("stderr = %q, want nothing with -json", r.stderr)
	}
	var doc any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not one JSON document: %v\n%s", err, r.stdout)
	}
	top := asObject(t, "document", doc)
	wantKeys(t, "document", top, "valid", "error_count", "warning_count", "diagnostics")
	if top["valid"] != false {
		t.Errorf("valid = %#v, want false", top["valid"])
	}
	if n := asNumber(t, "error_count", top["error_count"]); n != 3 {
		t.Errorf("error_count = %d, want 3", n)
	}
	if n := asNumber(t, "warning_count", top["warning_count"]); n != 0 {
		t.Errorf("warning_count = %d, want 0", n)
	}
	diags, ok := top["diagnostics"].([]any)
	if !ok || len(diags) != 3 {
		t.Fatalf("diagnostics = %#v, want an array of 3", top["diagnostics"])
	}
	for i, d := range diags {
		what := fmt.Sprintf("diagnostics[%d]", i)
		diag := asObject(t, what, d)
		wantKeys(t, what, diag, "severity", "summary", "detail", "range")
		if diag["severity"] != "error" {
			t.Errorf("%s.severity = %#v", what, diag["severity"])
		}
		if s, _ := diag["summary"].(string); s == "" {
			t.Errorf("%s.summary = %#v", what, diag["summary"])
		}
		if _, ok := diag["detail"].(string); !ok {
			t.Errorf("%s.detail = %#v", what, diag["detail"])
		}
		rng := asObject(t, what+".range", diag["range"])
		wantKeys(t, what+".range", rng, "filename", "start", "end")
		if rng["filename"] != fixture {
			t.Errorf("%s.range.filename = %#v, want %q", what, rng["filename"], fixture)
		}
		var pos [2]struct{ line, column, byte int }
		for j, name := range []string{"start", "end"} {
			p := asObject(t, what+".range."+name, rng[name])
			wantKeys(t, what+".range."+name, p, "line", "column", "byte")
			pos[j].line = asNumber(t, "line", p["line"])
			pos[j].column = asNumber(t, "column", p["column"])
			pos[j].byte = asNumber(t, "byte", p["byte"])
			// byte, line and column must describe the same place.
			if pos[j].byte > len(src) {
				t.Fatalf("%s.%s.byte %d is past the end of the file", what, name, pos[j].byte)
			}
			before := string(src[:pos[j].byte])
			line := strings.Count(before, "\n") + 1
			col := len([]rune(before[strings.LastIndex(before, "\n")+1:])) + 1
			if line != pos[j].line || col != pos[j].column {
				t.Errorf("%s.%s: byte %d is at %d:%d, but the range says %d:%d", what, name, pos[j].byte, line, col, pos[j].line, pos[j].column)
			}
		}
		if _, marked := markers[pos[0].line]; !marked {
			t.Errorf("%s starts on line %d, which has no ERROR marker", what, pos[0].line)
		}
		if pos[1].byte < pos[0].byte {
			t.Errorf("%s ends before it starts", what)
		}
	}
}

func TestValidateJSONValid(t *testing.T) {
	r := runCLI(t, "-chdir=testdata/valid", "validate", "-json")
	r.expect(t, exitOK)
	var doc map[string]any
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("stdout is not JSON: %v\n%s", err, r.stdout)
	}
	wantKeys(t, "document", doc, "valid", "error_count", "warning_count", "diagnostics")
	if doc["valid"] != true || doc["error_count"] != 0.0 || doc["warning_count"] != 0.0 {
		t.Errorf("document = %v", doc)
	}
	if d, ok := doc["diagnostics"].([]any); !ok || len(d) != 0 {
		t.Errorf("diagnostics = %#v, want []", doc["diagnostics"])
	}
}

func TestValidateWarningsDoNotFail(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "users.csv"), "id\n1\n")
	writeFile(t, filepath.Join(dir, "main.hcl"), `destination "postgres" "local" {
  host     = "127.0.0.1"
  database = "app"
  user     = "rowform"
  password = "hunter2-literal"
}

source "csv" "seed" {
  path = "users.csv"
}

sync "users" {
  source      = source.csv.seed
  destination = destination.postgres.local
  table       = "users"
  behavior    = "append"
  key         = "id"
}
`)
	r := runCLI(t, "-chdir="+dir, "validate")
	r.expect(t, exitOK)
	if !strings.Contains(r.stderr, "Warning: ") {
		t.Errorf("the literal password gives no warning:\n%s", r.stderr)
	}
	if !strings.HasPrefix(r.stdout, "Success!") {
		t.Errorf("stdout:\n%s", r.stdout)
	}

	r = runCLI(t, "-chdir="+dir, "validate", "-json")
	r.expect(t, exitOK)
	if strings.Contains(r.stdout, "hunter2") {
		t.Error("the JSON document shows the password")
	}
	var doc struct {
		Valid        bool `json:"valid"`
		WarningCount int  `json:"warning_count"`
		Diagnostics  []struct {
			Severity string `json:"severity"`
		} `json:"diagnostics"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatal(err)
	}
	if !doc.Valid || doc.WarningCount != 1 || len(doc.Diagnostics) != 1 || doc.Diagnostics[0].Severity != "warning" {
		t.Errorf("document: %s", r.stdout)
	}
}

func TestValidateNeedsNoSecrets(t *testing.T) {
	// validate checks the configuration, not one run's inputs: a sensitive
	// variable without a value and env() of an unset variable are fine.
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "main.hcl"), `variable "password" {
  type      = string
  sensitive = true
}

destination "postgres" "a" {
  host     = env("SOME_UNSET_HOST")
  database = "app"
  user     = "rowform"
  password = var.password
}
`)
	r := runCLI(t, "-chdir="+dir, "validate")
	r.expect(t, exitOK)
	if !strings.Contains(r.stdout, "It declares no syncs.") {
		t.Errorf("stdout:\n%s", r.stdout)
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestValidateTunnelFiles: validate warns about a tunnel's known_hosts
// file and private key file that do not exist (as it does about a missing
// CSV file) and refuses a host_key that is not a public key.
func TestValidateTunnelFiles(t *testing.T) {
	dir := t.TempDir()
	write := func(tunnel string) {
		t.Helper()
		src := `destination "postgres" "crm" {
  host     = "10.0.0.5"
  database = "crm"
  user     = "rowform"
  password = env("CRM_PW")
  ssh_tunnel {
    host = "bastion.example.com"
    user = "tunnel"
` + tunnel + `  }
}
`
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(`    private_key_file = "keys/nope"
    known_hosts_file = "nope_known_hosts"
`)
	r := runCLI(t, "-chdir="+dir, "validate", "-no-color")
	r.expect(t, exitOK)
	for _, want := range []string{
		"The private_key_file " + filepath.Join(dir, "keys", "nope") + " of the ssh_tunnel of postgres.crm does not exist",
		"The known_hosts file " + filepath.Join(dir, "nope_known_hosts") + " of the ssh_tunnel of postgres.crm does not exist",
		"ssh-keyscan -p 22 bastion.example.com",
	} {
		if !strings.Contains(r.stderr, want) {
			t.Errorf("validate does not say %q:\n%s", want, r.stderr)
		}
	}
	if err := os.WriteFile(filepath.Join(dir, "known_hosts"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	write(`    known_hosts_file = "known_hosts"
`)
	if r := runCLI(t, "-chdir="+dir, "validate"); r.code != exitOK || strings.Contains(r.stderr, "SSH file not found") {
		t.Errorf("validate with the files there: exit %d\n%s", r.code, r.stderr)
	}
	write(`    host_key = "ssh-ed25519 AAAAnotbase64!!"
`)
	r = runCLI(t, "-chdir="+dir, "validate", "-no-color")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "Invalid host_key") || !strings.Contains(r.stderr, "authorized_keys form") {
		t.Errorf("validate of a bad host_key:\n%s", r.stderr)
	}
}

// TestValidateSnippetsCarryNoEscapes: a configuration file holding escape
// sequences, C1 controls, bidirectional overrides or bytes that are not
// UTF-8 (a pull request's file, shown in a CI log) is shown in snippets
// with each such byte as '?': the output holds none of them.
func TestValidateSnippetsCarryNoEscapes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "main.hcl"), "sync \"a\" {\n  behavior = \"\x1b[31mRED\x1b]0;title\x07\xc2\x9b\u202e\xff\" # \rall good\n}\n")
	r := runCLI(t, "-chdir="+dir, "validate", "-no-color")
	r.expect(t, exitError)
	for _, bad := range []string{"\x1b", "\x07", "\xc2\x9b", "\u202e", "\xff", "\r"} {
		if strings.Contains(r.stderr, bad) {
			t.Errorf("the output holds %q:\n%q", bad, r.stderr)
		}
	}
	if !strings.Contains(r.stderr, `behavior = "?[31mRED?]0;title???`) {
		t.Errorf("the snippet:\n%s", r.stderr)
	}
}

// TestValidateMessagesCarryNoEscapes: what a diagnostic quotes from the
// configuration — a file's name, a path, a table — reaches the terminal
// without control characters, as the snippets do.
func TestValidateMessagesCarryNoEscapes(t *testing.T) {
	dir := t.TempDir()
	writeFile(t, filepath.Join(dir, "main.hcl"), `destination "postgres" "d" {
  host     = "h"
  database = "d"
  user     = "u"
}
source "csv" "c" {
  path = "da\u001b]0;title\u0007ta.csv"
}
sync "s" {
  source      = source.csv.c
  destination = destination.postgres.d
  table       = "public.t\u001b[41m\u202e"
  behavior    = "mirror"
  key         = "id"
}
`)
	r := runCLI(t, "-chdir="+dir, "validate", "-no-color")
	r.expect(t, exitOK)
	writeFile(t, filepath.Join(dir, "e\x1b[31mvil.hcl"), "locals {\n  x = 1 +\n}\n")
	bad := runCLI(t, "-chdir="+dir, "validate", "-no-color")
	bad.expect(t, exitError)
	for _, out := range []string{r.stdout + r.stderr, bad.stdout + bad.stderr} {
		for _, c := range []string{"\x1b", "\x07", "\u202e"} {
			if strings.Contains(out, c) {
				t.Errorf("the output holds %q:\n%q", c, out)
			}
		}
	}
	for _, want := range []string{`da\x1b]0;title\ata.csv`, `public.t\x1b[41m\u202e`} {
		if !strings.Contains(r.stdout+r.stderr, want) {
			t.Errorf("no %s in\n%s%s", want, r.stdout, r.stderr)
		}
	}
	if !strings.Contains(bad.stderr, `e\x1b[31mvil.hcl:2:`) || !strings.Contains(bad.stderr, "x = 1 +") {
		t.Errorf("the diagnostic of the file:\n%s", bad.stderr)
	}
}
