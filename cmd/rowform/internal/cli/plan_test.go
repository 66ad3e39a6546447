package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rowform/rowform/internal/synctest"
)

// TestMain shares two throwaway PostgreSQL clusters among the package's
// tests that need servers (synctest.New), and removes them at the end.
func TestMain(m *testing.M) { synctest.Main(m) }

// planEnv makes a test environment with one source table and three syncs:
//   - "changes": 2 rows to insert, 1 to update, 2 unchanged;
//   - "same": every row equal;
//   - "broken": the destination table has no unique key on id (an error).
//
// The configuration is written to e.Dir; pass "-chdir="+e.Dir.
func planEnv(t *testing.T) *synctest.Env {
	t.Helper()
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id bigint, name text)`)
	e.Src(`INSERT INTO items SELECT i, 'n' || i FROM generate_series(1, 5) i`)
	e.Dst(`CREATE TABLE items_changes (id bigint PRIMARY KEY, name text)`)
	e.Dst(`INSERT INTO items_changes VALUES (1, 'n1'), (2, 'stale'), (3, 'n3')`)
	e.Dst(`CREATE TABLE items_same (id bigint PRIMARY KEY, name text)`)
	e.Dst(`INSERT INTO items_same SELECT i, 'n' || i FROM generate_series(1, 5) i`)
	e.Dst(`CREATE TABLE items_broken (id bigint, name text)`)
	e.WriteFile("main.hcl", e.Servers()+planSyncs)
	return e
}

const planSyncs = `
sync "changes" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM items"
  destination = destination.postgres.dst
  table       = "items_changes"
  behavior    = "update_or_create"
  key         = ["id"]
}

sync "same" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM items"
  destination = destination.postgres.dst
  table       = "items_same"
  behavior    = "mirror"
  key         = ["id"]
}

sync "broken" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM items"
  destination = destination.postgres.dst
  table       = "items_broken"
  behavior    = "update_or_create"
  key         = ["id"]
}
`

// jsonPlan is the part of the plan's JSON document (docs/ci.md, JSON) the tests look at.
type jsonPlan struct {
	FormatVersion string `json:"format_version"`
	Applyable     *bool  `json:"applyable"`
	Syncs         []struct {
		Name     string `json:"name"`
		Counts   map[string]int64
		Findings []struct {
			Code string `json:"code"`
			Fix  string `json:"fix"`
		} `json:"findings"`
	} `json:"syncs"`
	Summary     map[string]int64 `json:"summary"`
	Diagnostics []struct {
		Severity string `json:"severity"`
		Summary  string `json:"summary"`
	} `json:"diagnostics"`
}

// decodeOne decodes stdout as exactly one JSON document and nothing else.
func decodeOne(t *testing.T, stdout string) jsonPlan {
	t.Helper()
	dec := json.NewDecoder(strings.NewReader(stdout))
	var p jsonPlan
	if err := dec.Decode(&p); err != nil {
		t.Fatalf("stdout is not a JSON document: %v\n%s", err, stdout)
	}
	var extra json.RawMessage
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		t.Fatalf("stdout holds more than one JSON document (%v):\n%s", err, stdout)
	}
	return p
}

func (p jsonPlan) syncNames() []string {
	var names []string
	for _, s := range p.Syncs {
		names = append(names, s.Name)
	}
	return names
}

// TestPlanExitCodes checks plan's exit codes with and without
// -detailed-exitcode, and that -sync plans only the named syncs.
func TestPlanExitCodes(t *testing.T) {
	t.Parallel()
	e := planEnv(t)
	chdir := "-chdir=" + e.Dir
	for _, c := range []struct {
		syncs        []string
		code         int // without -detailed-exitcode
		detailedCode int
	}{
		{[]string{"same"}, exitOK, exitOK},
		{[]string{"changes"}, exitOK, exitChanges},
		{[]string{"changes", "same"}, exitOK, exitChanges},
		{[]string{"broken"}, exitError, exitError},
		{nil, exitError, exitError}, // every sync: broken is among them
	} {
		var args []string
		for _, s := range c.syncs {
			args = append(args, "-sync="+s)
		}
		want := c.syncs
		if want == nil {
			want = []string{"changes", "same", "broken"}
		}
		for _, detailed := range []bool{false, true} {
			a := append([]string{chdir, "plan", "-json"}, args...)
			code := c.code
			if detailed {
				a = append(a, "-detailed-exitcode")
				code = c.detailedCode
			}
			r := runCLIWith(t, e.Environ, "", a...)
			if r.code != code {
				t.Errorf("%v: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", a[1:], r.code, code, r.stdout, r.stderr)
			}
			p := decodeOne(t, r.stdout)
			if got := p.syncNames(); !slices.Equal(got, want) {
				t.Errorf("%v: planned syncs %v, want %v", a[1:], got, want)
			}
		}
	}

	// The human form of one sync.
	r := runCLIWith(t, e.Environ, "", chdir, "plan", "-no-color", "-sync=changes")
	r.expect(t, exitOK)
	if !strings.Contains(r.stdout, `~ sync "changes"  update_or_create  postgres.src -> postgres.dst public.items_changes`) ||
		strings.Contains(r.stdout, `sync "same"`) || strings.Contains(r.stdout, `sync "broken"`) {
		t.Errorf("plan -sync=changes:\n%s", r.stdout)
	}
	if !strings.HasSuffix(r.stdout, "\nPlan: 2 to insert, 1 to update, 0 to delete in 1 sync.\n") {
		t.Errorf("plan -sync=changes: wrong summary line:\n%s", r.stdout)
	}

	// An unknown sync name fails and lists the syncs.
	r = runCLIWith(t, e.Environ, "", chdir, "plan", "-sync=nope")
	r.expect(t, exitError)
	for _, name := range []string{`"nope"`, "changes", "same", "broken"} {
		if !strings.Contains(r.stderr, name) {
			t.Errorf("plan -sync=nope: stderr does not name %s:\n%s", name, r.stderr)
		}
	}
	if r.stdout != "" {
		t.Errorf("plan -sync=nope: stdout:\n%s", r.stdout)
	}
	// With -json, stdout is a document that plans nothing and says why
	// (it was empty).
	r = runCLIWith(t, e.Environ, "", chdir, "plan", "-json", "-sync=nope")
	r.expect(t, exitError)
	var doc struct {
		Applyable   bool
		Syncs       []any
		Diagnostics []struct{ Severity, Summary string }
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil || doc.Applyable || doc.Syncs == nil || len(doc.Syncs) != 0 ||
		len(doc.Diagnostics) != 1 || doc.Diagnostics[0].Severity != "error" || !strings.Contains(doc.Diagnostics[0].Summary, `there is no sync named "nope"`) {
		t.Errorf("plan -json -sync=nope: %v\n%s", err, r.stdout)
	}
}

// TestPlanJSONAndMarkdown checks that -json writes one JSON document with
// the plan's JSON keys and nothing else, and that -format=markdown writes the
// summary table and each finding's fix in a code block.
func TestPlanJSONAndMarkdown(t *testing.T) {
	t.Parallel()
	e := planEnv(t)
	chdir := "-chdir=" + e.Dir

	for _, a := range [][]string{{"-json"}, {"-format=json"}} {
		r := runCLIWith(t, e.Environ, "", append([]string{chdir, "plan"}, a...)...)
		r.expect(t, exitError)
		p := decodeOne(t, r.stdout)
		if p.FormatVersion != "1" || p.Applyable == nil || *p.Applyable {
			t.Errorf("%v: format_version %q, applyable %v", a, p.FormatVersion, p.Applyable)
		}
		if p.Summary["syncs"] != 3 || p.Summary["insert"] != 7 || p.Summary["update"] != 1 || p.Summary["errors"] != 1 {
			t.Errorf("%v: summary %v, want 3 syncs, 7 inserts (2 + 5 into the broken table), 1 update, 1 error", a, p.Summary)
		}
		for _, s := range p.Syncs {
			if s.Name == "changes" && (s.Counts["insert"] != 2 || s.Counts["update"] != 1 || s.Counts["unchanged"] != 2) {
				t.Errorf("%v: counts of changes: %v", a, s.Counts)
			}
			if s.Name == "broken" && (len(s.Findings) != 1 || s.Findings[0].Code != "missing_unique_constraint" || s.Findings[0].Fix == "") {
				t.Errorf("%v: findings of broken: %+v", a, s.Findings)
			}
		}
		// Every key of the plan's JSON document is there.
		var raw map[string]any
		_ = json.Unmarshal([]byte(r.stdout), &raw)
		for _, k := range []string{"format_version", "applyable", "syncs", "summary"} {
			if _, ok := raw[k]; !ok {
				t.Errorf("%v: no key %q", a, k)
			}
		}
		sync0 := raw["syncs"].([]any)[0].(map[string]any)
		for _, k := range []string{"name", "behavior", "source", "destination", "table", "key", "range", "counts", "findings"} {
			if _, ok := sync0[k]; !ok {
				t.Errorf("%v: a sync has no key %q", a, k)
			}
		}
		// Each sync's range is the line of its `sync "name"` header; the
		// directory is outside the working directory, so named in full.
		src, err := os.ReadFile(filepath.Join(e.Dir, "main.hcl"))
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range raw["syncs"].([]any) {
			s := s.(map[string]any)
			header := fmt.Sprintf("sync %q {", s["name"])
			i := strings.Index(string(src), header)
			if i < 0 {
				t.Fatalf("main.hcl has no %s", header)
			}
			wantLine := float64(strings.Count(string(src[:i]), "\n") + 1)
			rng, _ := s["range"].(map[string]any)
			start, _ := rng["start"].(map[string]any)
			if rng["filename"] != filepath.Join(e.Dir, "main.hcl") || start["line"] != wantLine {
				t.Errorf("%v: sync %v has range %v, want %s line %v", a, s["name"], rng, filepath.Join(e.Dir, "main.hcl"), wantLine)
			}
		}
	}

	r := runCLIWith(t, e.Environ, "", chdir, "plan", "-format=markdown")
	r.expect(t, exitError)
	md := r.stdout
	for _, want := range []string{
		"| sync | behavior | table | insert | update | delete | problems |",
		"| `changes` | `update_or_create` | `public.items_changes` | 2 | 1 | 0 |",
		"| `same` | `mirror` | `public.items_same` | 0 | 0 | 0 |",
		"| `broken` | `update_or_create` | `public.items_broken` |",
		"`missing_unique_constraint`",
		"```sql\n  ALTER TABLE \"public\".\"items_broken\" ADD CONSTRAINT",
		"Plan: 7 to insert, 1 to update, 0 to delete in 3 syncs; 1 error.",
	} {
		if !strings.Contains(md, want) {
			t.Errorf("markdown has no %q:\n%s", want, md)
		}
	}
	if strings.Contains(md, "\x1b[") {
		t.Errorf("markdown holds ANSI escapes:\n%q", md)
	}
}

// TestPlanOutAndShow saves plans with -out and checks that show renders
// them exactly as plan printed them, and that no secret is in the file.
func TestPlanOutAndShow(t *testing.T) {
	t.Parallel()
	e := planEnv(t)
	// The destination password comes from a sensitive variable given with
	// -var, the source password from env().
	servers := strings.Replace(e.Servers(), `password = env("DST_PASSWORD")`, `password = var.dst_password`, 1)
	if servers == e.Servers() {
		t.Fatal("the destination block has no env(\"DST_PASSWORD\") to replace")
	}
	e.WriteFile("main.hcl", `
variable "dst_password" {
  type      = string
  sensitive = true
}
`+servers+planSyncs)
	chdir := "-chdir=" + e.Dir
	varArg := "-var=dst_password=" + e.DstPassword
	environ := []string{"SRC_PASSWORD=" + synctest.Source.Password}

	// Text, as plan shows it, then as show shows it.
	r := runCLIWith(t, environ, "", chdir, "plan", varArg, "-no-color", "-show-rows=5", "-out=saved.plan")
	r.expect(t, exitError) // the broken sync; the plan is saved anyway
	// It has errors: the note does not tell the user to apply it.
	trailer := "\nSaved the plan to saved.plan, for 'rowform show saved.plan'. It has errors, so apply refuses it: fix them and plan again.\n"
	planned, ok := strings.CutSuffix(r.stdout, trailer)
	if !ok {
		t.Fatalf("plan -out does not end with the saved-plan note:\n%s", r.stdout)
	}
	if !strings.Contains(planned, `~ id=2  name: "stale" -> "n2"`) {
		t.Errorf("plan -show-rows=5 shows no update sample:\n%s", planned)
	}
	shown := runCLIWith(t, nil, "", chdir, "show", "-no-color", "saved.plan")
	shown.expect(t, exitOK)
	if shown.stdout != planned {
		t.Errorf("show renders the plan differently.\nplan:\n%s\nshow:\n%s", planned, shown.stdout)
	}

	// JSON, as plan shows it, then as show shows it.
	r = runCLIWith(t, environ, "", chdir, "plan", varArg, "-json", "-show-rows=5", "-out=saved.json.plan")
	r.expect(t, exitError)
	decodeOne(t, r.stdout)
	shown = runCLIWith(t, nil, "", chdir, "show", "-json", "saved.json.plan")
	shown.expect(t, exitOK)
	if shown.stdout != r.stdout {
		t.Errorf("show -json differs from plan -json.\nplan:\n%s\nshow:\n%s", r.stdout, shown.stdout)
	}

	// No secret in the files or in any output.
	for _, name := range []string{"saved.plan", "saved.json.plan"} {
		b, err := os.ReadFile(filepath.Join(e.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		for what, secret := range map[string]string{"the destination password (sensitive -var)": e.DstPassword, "the source password (env)": synctest.Source.Password} {
			if bytes.Contains(b, []byte(secret)) {
				t.Errorf("%s holds %s", name, what)
			}
			if strings.Contains(r.stdout+r.stderr, secret) {
				t.Errorf("plan output holds %s", what)
			}
		}
		if st, err := os.Stat(filepath.Join(e.Dir, name)); err == nil && st.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s is readable by others: %v", name, st.Mode())
		}
	}
}

// TestPlanJSONConfigError: with -json, a configuration that does not load
// gives a JSON document with "diagnostics" on stdout, and exit code 1.
func TestPlanJSONConfigError(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(`
destination "postgres" "dst" {
  hots     = "127.0.0.1"
  database = "x"
  user     = "u"
}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	r := runCLIWith(t, nil, "", "-chdir="+dir, "plan", "-json")
	r.expect(t, exitError)
	p := decodeOne(t, r.stdout)
	if len(p.Diagnostics) == 0 {
		t.Fatalf("no diagnostics in:\n%s", r.stdout)
	}
	var found bool
	for _, d := range p.Diagnostics {
		found = found || (d.Severity == "error" && strings.Contains(d.Summary, "Unsupported argument"))
	}
	if !found {
		t.Errorf("no error diagnostic for the unknown attribute \"hots\":\n%s", r.stdout)
	}
	if p.Applyable == nil || *p.Applyable {
		t.Errorf("applyable is not false:\n%s", r.stdout)
	}
}

// Run is the entry point main uses; it must behave like the invocation the
// tests above drive (same streams, exit code).
func TestRunPlanHelp(t *testing.T) {
	t.Parallel()
	var stdout, stderr bytes.Buffer
	if code := Run(context.Background(), []string{"plan", "-help"}, strings.NewReader(""), &stdout, &stderr); code != exitOK {
		t.Fatalf("plan -help: exit %d\n%s", code, stderr.String())
	}
	for _, flag := range []string{"-detailed-exitcode", "-out", "-sync", "-json", "-format", "-show-rows", "-no-color", "-var"} {
		if !strings.Contains(stdout.String(), flag) {
			t.Errorf("plan -help does not list %s", flag)
		}
	}
}
