package rftest_test

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rowform/rowform/internal/pgcluster"
	"github.com/rowform/rowform/internal/pgtest"
	"github.com/rowform/rowform/internal/rftest"
	"github.com/rowform/rowform/internal/sshtest"
)

// TestMain removes the package's server (see shared) at the end.
func TestMain(m *testing.M) {
	code := m.Run()
	if sharedServer != nil {
		_ = sharedServer.Close()
	}
	os.Exit(code)
}

// run runs the tests of dir on the shared server.
func run(t *testing.T, dir string, filter ...string) *rftest.Result {
	t.Helper()
	res, err := rftest.Run(context.Background(), rftest.Options{Dir: dir, Filter: filter, Server: shared(t)})
	if err != nil {
		t.Fatalf("rftest.Run: %v", err)
	}
	return res
}

// sharedServer is the package's PostgreSQL server, shared by its tests
// (each test file gets databases of its own on it).
var sharedServer *pgcluster.Cluster

// shared starts the package's server on first use; the test fails (never
// skips) when there is none to be had.
func shared(t *testing.T) *pgcluster.Cluster {
	t.Helper()
	if sharedServer == nil {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		c, err := pgcluster.Start(ctx, pgcluster.Options{})
		if err != nil {
			t.Fatalf("cannot start a throwaway PostgreSQL server: %v\nTo run these tests, %s.", err, pgcluster.InstallHint)
		}
		sharedServer = c
	}
	return sharedServer
}

// writeFiles writes files (name -> content) into a new configuration
// directory.
func writeFiles(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// describe renders a result for failure messages.
func describe(res *rftest.Result) string {
	var b strings.Builder
	for _, f := range res.Files {
		fmt.Fprintf(&b, "%s: err=%v diags=%s\n", f.Path, f.Err, f.Diags.Error())
		for _, r := range f.Runs {
			fmt.Fprintf(&b, "  run %q: %s err=%v\n", r.Name, r.Status, r.Err)
			for _, msg := range r.Failures {
				fmt.Fprintf(&b, "    %s\n", strings.ReplaceAll(msg, "\n", "\n    "))
			}
		}
	}
	return b.String()
}

// TestExamplesPass: the tests the examples ship pass (make test runs them
// through the binary too).
func TestExamplesPass(t *testing.T) {
	for _, ex := range []string{"quickstart", "warehouse-to-crm"} {
		t.Run(ex, func(t *testing.T) {
			res := run(t, filepath.Join("..", "..", "examples", ex))
			passed, failed, skipped, fileErrors := res.Counts()
			if !res.Passed() || passed == 0 || failed+skipped+fileErrors > 0 {
				t.Errorf("the tests of examples/%s do not pass:\n%s", ex, describe(res))
			}
		})
	}
}

// itemsConfig is a configuration with a CSV source and a table destination
// whose connection settings are nowhere to be reached: the tests point it
// at their own databases.
const itemsConfig = `
variable "password" {
  type      = string
  sensitive = true
}

destination "postgres" "shop" {
  host     = "db.invalid"
  database = "shop"
  user     = "rowform"
  password = var.password
}

source "csv" "items" {
  path = "data/items.csv"
}

sync "items" {
  source      = source.csv.items
  destination = destination.postgres.shop
  table       = "public.items"
  behavior    = "update_or_create"
  key         = ["id"]
}
`

const itemsSchema = `CREATE TABLE public.items (id bigint PRIMARY KEY, name text NOT NULL, note text, price numeric(8,2))`

// TestFailuresSayWhatDiffers: a run whose expectations do not hold fails
// with one message per expectation: the count expected and got, the
// finding codes, and the rows that differ (by key, with each value), are
// missing or are unexpected — NULL told apart from an empty string,
// numbers and timestamps compared in the column's type. Of two
// expect_table blocks of one table in a run, each failure says where its
// block is.
func TestFailuresSayWhatDiffers(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.hcl":       itemsConfig,
		"data/items.csv": "id,name,note,price\n1,apple,,1.5\n2,pear,ripe,2\n3,plum,\"\",3\n",
		"tests/items.rftest.hcl": `
destination "postgres" "shop" {
  sql = "` + itemsSchema + `"
  table "public.items" {
    rows = [{ id = 9, name = "old", note = null, price = 9 }]
  }
}

run "wrong" {
  expect_plan "items" {
    insert   = 2
    update   = 0
    findings = ["triggers"]
  }
  expect_table "public.items" {
    rows = [
      { id = 1, name = "apple", note = "", price = 1.50 },
      { id = 2, name = "pear", note = "ripe", price = 2 },
      { id = 4, name = "kiwi", note = null, price = 4 },
      { id = 9, name = "old", note = null, price = 9 },
    ]
  }
  expect_table "public.items" {
    count = 3
  }
}

run "right" {
  command = "plan"
  expect_plan "items" {
    insert    = 0
    unchanged = 3
    findings  = []
  }
  expect_table "public.items" {
    columns = ["id", "price"]
    rows = [
      { id = 1, price = "1.5" },
      { id = 2, price = 2 },
      { id = 3, price = 3.0 },
      { id = 9, price = 9 },
    ]
  }
}
`,
	})
	res := run(t, dir)
	if len(res.Files) != 1 || len(res.Files[0].Runs) != 2 {
		t.Fatalf("result:\n%s", describe(res))
	}
	wrong, right := res.Files[0].Runs[0], res.Files[0].Runs[1]
	if right.Status != rftest.StatusPass {
		t.Errorf("run right:\n%s", describe(res))
	}
	if wrong.Status != rftest.StatusFail {
		t.Fatalf("run wrong is %s:\n%s", wrong.Status, describe(res))
	}
	want := []string{
		`expect_plan "items": insert: expected 2, got 3`,
		`expect_plan "items": findings: expected [triggers], got []`,
		// Two expect_table blocks of one table: each says where it is.
		`expect_table "public.items" at ` + filepath.Join("tests", "items.rftest.hcl") + `:15: the table does not hold the expected rows (4 expected, 4 found):
  ~ id=1: note: expected "", got NULL
  - missing:    id=4 name="kiwi" note=NULL price=4.00
  + unexpected: id=3 name="plum" note="" price=3.00`,
		`expect_table "public.items" at ` + filepath.Join("tests", "items.rftest.hcl") + `:23: count: expected 3 rows, got 4`,
	}
	if !slices.Equal(wrong.Failures, want) {
		t.Errorf("failures:\n%s\n\nwant:\n%s", strings.Join(wrong.Failures, "\n"), strings.Join(want, "\n"))
	}
	if res.Passed() {
		t.Errorf("a result with a failed run passed")
	}
}

// TestExpectedValuesConvertAsWritten: an expected value is converted to
// its column's type as a write converts it, modifier included: one too
// long for a varchar(5) (or an element for a varchar(3)[], bits for a
// bit(3)) does not fit the table, where the explicit cast it went through
// before cut it to the stored value and the expectation passed. A value
// the column pads (char(4)) or rounds (numeric(8,2)) still matches.
func TestExpectedValuesConvertAsWritten(t *testing.T) {
	schema := `CREATE TABLE public.items (id bigint PRIMARY KEY, name varchar(5), code char(4), tags varchar(3)[], bits bit(3), price numeric(8,2))`
	run1 := func(name, value string) string {
		return fmt.Sprintf(`
run %q {
  expect_table "public.items" {
    columns = ["id", %q]
    rows    = [{ id = 1, %s = %s }]
  }
}
`, name, strings.Split(value, "=")[0], strings.Split(value, "=")[0], strings.SplitN(value, "=", 2)[1])
	}
	dir := writeFiles(t, map[string]string{
		"main.hcl":       itemsConfig,
		"data/items.csv": "id,name,code,tags,bits,price\n1,abcde,ab,\"{abc,d}\",101,1.5\n",
		"tests/items.rftest.hcl": `
destination "postgres" "shop" {
  sql = "` + schema + `"
}
` + run1("fits", `name="abcde"`) + run1("padded", `code="ab"`) + run1("rounded", `price=1.499`) + run1("array", `tags="{abc,d}"`) +
			run1("too long", `name="abcdefghij"`) + run1("element too long", `tags="{abcd,d}"`) + run1("bits too long", `bits="1011"`),
	})
	res := run(t, dir)
	if len(res.Files) != 1 || len(res.Files[0].Runs) != 7 {
		t.Fatalf("result:\n%s", describe(res))
	}
	for i, r := range res.Files[0].Runs {
		want := rftest.StatusPass
		if i >= 4 {
			want = rftest.StatusFail
		}
		if r.Status != want {
			t.Errorf("run %q is %s, want %s:\n%s", r.Name, r.Status, want, describe(res))
			continue
		}
		if want == rftest.StatusFail && (len(r.Failures) != 1 || !strings.Contains(r.Failures[0], "does not fit the table")) {
			t.Errorf("run %q: %q", r.Name, r.Failures)
		}
	}
}

// TestPostgresSourcesRunFixturesAndVariables: source tables created from
// the types their rows suggest or declare; a run's fixtures replace rows
// and run SQL before it; a run's variables change the configuration; a
// mirror's deletes; expect_table on a source server.
func TestPostgresSourcesRunFixturesAndVariables(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.hcl": `
variable "min_id" {
  type    = number
  default = 0
}

destination "postgres" "dst" {
  host     = "127.0.0.1"
  database = "dst"
  user     = "u"
  password = env("NOT_SET_ANYWHERE")
  ssh_tunnel {
    host     = "bastion.invalid"
    user     = "t"
    host_key = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl"
  }
}

source "postgres" "src" {
  host     = "warehouse.invalid"
  database = "src"
  user     = "u"
}

sync "people" {
  source      = source.postgres.src
  query       = "SELECT id, name, born, active, tags FROM app.people WHERE id > ${var.min_id}"
  destination = destination.postgres.dst
  table       = "people"
  behavior    = "mirror"
  key         = ["id"]
}
`,
		"tests/people.rftest.hcl": `
source "postgres" "src" {
  table "app.people" {
    columns = { born = "date" }
    rows = [
      { id = 1, name = "Ada", born = "1815-12-10", active = true, tags = ["math"] },
      { id = 2, name = "Alan", born = "1912-06-23", active = false, tags = [] },
      { id = 3, name = "Grace", born = null, active = true, tags = null },
    ]
  }
}

destination "postgres" "dst" {
  sql = "CREATE TABLE people (id bigint PRIMARY KEY, name text, born date, active boolean, tags jsonb)"
}

run "load" {
  expect_plan "people" {
    insert = 3
  }
  expect_table "people" {
    rows = [
      { id = 1, name = "Ada", born = "1815-12-10", active = true, tags = ["math"] },
      { id = 2, name = "Alan", born = "1912-06-23", active = false, tags = [] },
      { id = 3, name = "Grace", born = null, active = true, tags = null },
    ]
  }
}

run "changes" {
  source "postgres" "src" {
    sql = "UPDATE app.people SET name = 'Ada Lovelace' WHERE id = 1"
    table "app.people" {
      rows = [
        { id = 1, name = "Ada", born = "1815-12-10", active = true, tags = ["math"] },
        { id = 4, name = "Edsger", born = "1930-05-11", active = true, tags = ["go", "to"] },
      ]
    }
  }
  expect_plan "people" {
    insert    = 1
    delete    = 2
    unchanged = 1
  }
  expect_table "app.people" {
    server = source.postgres.src
    count  = 2
  }
  expect_table "people" {
    columns = ["id"]
    rows    = [{ id = 1 }, { id = 4 }]
  }
}

run "only_above_one" {
  command = "plan"
  variables {
    min_id = 1
  }
  expect_plan "people" {
    delete = 1
  }
}
`,
	})
	res := run(t, dir)
	if !res.Passed() {
		t.Errorf("tests failed:\n%s", describe(res))
	}
}

// TestClockValuesApply: a sync whose query writes now() has the warning
// volatile_source, and every saved plan of it is stale at its apply, so
// an apply run failed every time. Such a run applies as apply
// -auto-approve does, planned in its transaction, and passes.
func TestClockValuesApply(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.hcl": `
destination "postgres" "dst" {
  host     = "127.0.0.1"
  database = "dst"
  user     = "u"
}

source "postgres" "src" {
  host     = "127.0.0.1"
  database = "src"
  user     = "u"
}

sync "people" {
  source      = source.postgres.src
  query       = "SELECT id, name, now() AS synced_at FROM people"
  destination = destination.postgres.dst
  table       = "people"
  behavior    = "mirror"
  key         = ["id"]
}
`,
		"tests/people.rftest.hcl": `
source "postgres" "src" {
  table "people" {
    rows = [{ id = 1, name = "Ada" }, { id = 2, name = "Alan" }]
  }
}

destination "postgres" "dst" {
  sql = "CREATE TABLE people (id bigint PRIMARY KEY, name text, synced_at timestamptz NOT NULL)"
}

run "load" {
  expect_plan "people" {
    insert   = 2
    findings = ["volatile_source"]
  }
  expect_table "people" {
    columns = ["id", "name"]
    rows    = [{ id = 1, name = "Ada" }, { id = 2, name = "Alan" }]
  }
}
`,
	})
	res := run(t, dir)
	if !res.Passed() {
		t.Errorf("tests failed:\n%s", describe(res))
	}
}

// TestErrorsInPlansAndRuns: an error finding the run expects passes (and
// nothing is applied); one it does not expect fails the run; a run whose
// fixtures do not load is an error, and the runs after it are skipped.
func TestErrorsInPlansAndRuns(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.hcl":       itemsConfig,
		"data/items.csv": "id,name\n1,apple\n",
		"tests/errors.rftest.hcl": `
run "expected_error" {
  expect_plan "items" {
    findings = ["missing_table"]
  }
}

run "unexpected_error" {
  command = "plan"
}

run "broken_fixture" {
  destination "postgres" "shop" {
    sql = "CREATE TABLE"
  }
}

run "after" {
  command = "plan"
}
`,
	})
	res := run(t, dir)
	runs := res.Files[0].Runs
	status := func(i int) rftest.Status { return runs[i].Status }
	if len(runs) != 4 || status(0) != rftest.StatusPass || status(1) != rftest.StatusFail || status(2) != rftest.StatusError || status(3) != rftest.StatusSkip {
		t.Fatalf("result:\n%s", describe(res))
	}
	if got := runs[1].Failures; len(got) != 1 || !strings.Contains(got[0], `sync "items": unexpected error missing_table: `) || !strings.Contains(got[0], `list it in expect_plan "items" { findings = [...] }`) {
		t.Errorf("unexpected error: %q", got)
	}
	if err := runs[2].Err; err == nil || !strings.Contains(err.Error(), "syntax error") {
		t.Errorf("broken fixture: %v", err)
	}
	if err := runs[3].Err; err == nil || !strings.Contains(err.Error(), `run "broken_fixture" could not be carried out`) {
		t.Errorf("skipped run: %v", err)
	}
	passed, failed, skipped, _ := res.Counts()
	if passed != 1 || failed != 2 || skipped != 1 {
		t.Errorf("counts %d passed, %d failed, %d skipped; want 1, 2, 1", passed, failed, skipped)
	}

	// JUnit XML: one testsuite per file, one testcase per run.
	var b bytes.Buffer
	if err := res.WriteJUnit(&b, nil); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tests    int `xml:"tests,attr"`
		Failures int `xml:"failures,attr"`
		Errors   int `xml:"errors,attr"`
		Skipped  int `xml:"skipped,attr"`
		Suites   []struct {
			Name  string `xml:"name,attr"`
			Cases []struct {
				Name    string    `xml:"name,attr"`
				Failure *struct{} `xml:"failure"`
				Error   *struct{} `xml:"error"`
				Skipped *struct{} `xml:"skipped"`
			} `xml:"testcase"`
		} `xml:"testsuite"`
	}
	if err := xml.Unmarshal(b.Bytes(), &doc); err != nil {
		t.Fatalf("the JUnit file does not parse: %v\n%s", err, b.String())
	}
	if doc.Tests != 4 || doc.Failures != 1 || doc.Errors != 1 || doc.Skipped != 1 || len(doc.Suites) != 1 ||
		doc.Suites[0].Name != filepath.Join("tests", "errors.rftest.hcl") || len(doc.Suites[0].Cases) != 4 ||
		doc.Suites[0].Cases[1].Failure == nil || doc.Suites[0].Cases[2].Error == nil || doc.Suites[0].Cases[3].Skipped == nil {
		t.Errorf("JUnit:\n%s", b.String())
	}
}

// TestTestFileProblems: mistakes in a test file are diagnostics with the
// place in the file, and no run is carried out: an unknown attribute, a
// fixture for a block the configuration lacks, a variable it does not
// declare (with a did-you-mean). -filter picks files and rejects a name
// that matches none.
func TestTestFileProblems(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.hcl":       itemsConfig,
		"data/items.csv": "id,name\n1,apple\n",
		"tests/typo.rftest.hcl": `
run "x" {
  comand = "plan"
}
`,
		"tests/fixture.rftest.hcl": `
destination "postgres" "shopp" {
  sql = "SELECT 1"
}
run "x" {
  command = "plan"
}
`,
		"tests/variable.rftest.hcl": `
variables {
  pasword = "x"
}
run "x" {
  command = "plan"
}
`,
	})
	res := run(t, dir)
	want := map[string]string{
		"fixture.rftest.hcl":  `The configuration has no destination "postgres" "shopp". Its destinations are: destination.postgres.shop.`,
		"typo.rftest.hcl":     `An argument named "comand" is not expected here. Did you mean "command"?`,
		"variable.rftest.hcl": `sets the variable "pasword", which the configuration does not declare. Did you mean "password"?`,
	}
	if len(res.Files) != 3 {
		t.Fatalf("result:\n%s", describe(res))
	}
	for _, f := range res.Files {
		w := want[filepath.Base(f.Path)]
		if len(f.Runs) != 0 || !f.Failed() || len(f.Diags) != 1 || !strings.Contains(f.Diags[0].Detail, w) {
			t.Errorf("%s: diags %s, want %q", f.Path, f.Diags.Error(), w)
			continue
		}
		if s := f.Diags[0].Subject; s == nil || s.Filename != f.Path || f.Files[f.Path] == nil {
			t.Errorf("%s: the diagnostic does not point into the test file: %+v", f.Path, s)
		}
	}
	_, _, _, fileErrors := res.Counts()
	if fileErrors != 3 {
		t.Errorf("%d files could not be run, want 3", fileErrors)
	}

	res = run(t, dir, "typo", "fixture.rftest.hcl")
	if len(res.Files) != 2 || res.Files[0].Path != filepath.Join("tests", "fixture.rftest.hcl") {
		t.Errorf("-filter=typo -filter=fixture.rftest.hcl ran %v", res.Files)
	}
	if _, err := rftest.Run(context.Background(), rftest.Options{Dir: dir, Filter: []string{"nope"}, Server: shared(t)}); err == nil ||
		!strings.Contains(err.Error(), "-filter=nope matches no test file; the test files are: tests/fixture.rftest.hcl, tests/typo.rftest.hcl, tests/variable.rftest.hcl") {
		t.Errorf("-filter=nope: %v", err)
	}
	if _, err := rftest.Run(context.Background(), rftest.Options{Dir: t.TempDir(), Server: shared(t)}); err == nil || !strings.Contains(err.Error(), "no test files") {
		t.Errorf("no tests directory: %v", err)
	}
}

// TestInterruptedWhileStartingTheServer: Ctrl-C while the throwaway server
// starts says so, without the advice to install PostgreSQL or initdb's log.
func TestInterruptedWhileStartingTheServer(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	time.AfterFunc(500*time.Millisecond, cancel)
	dir := filepath.Join("..", "..", "examples", "quickstart")
	res, err := rftest.Run(ctx, rftest.Options{Dir: dir})
	if err == nil {
		t.Fatalf("Run ended without an error: %+v", res)
	}
	if !strings.Contains(err.Error(), "interrupted while starting the throwaway PostgreSQL server") || strings.Contains(err.Error(), "To fix this") {
		t.Errorf("error: %v", err)
	}
}

// TestDuplicateRunStillChecked: a run whose name repeats another's is
// reported, and so are the problems inside it, in the same pass.
func TestDuplicateRunStillChecked(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.hcl":       itemsConfig,
		"data/items.csv": "id,name\n1,apple\n",
		"tests/dup.rftest.hcl": `
run "x" {
  command = "plan"
}
run "x" {
  command = "plam"
}
`,
	})
	res := run(t, dir)
	if len(res.Files) != 1 {
		t.Fatalf("result:\n%s", describe(res))
	}
	var got string
	for _, d := range res.Files[0].Diags {
		got += d.Summary + "; "
	}
	for _, want := range []string{"Duplicate run name", "Invalid command"} {
		if !strings.Contains(got, want) {
			t.Errorf("diagnostics lack %q: %s", want, got)
		}
	}
}

// TestUnknownSyncNamesSayWhere: a run's syncs or expect_plan naming a sync
// the configuration does not have fails the run with where it is named.
func TestUnknownSyncNamesSayWhere(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.hcl":       itemsConfig,
		"data/items.csv": "id,name\n1,apple\n",
		"tests/a.rftest.hcl": `
run "syncs" {
  command = "plan"
  syncs   = ["itemz"]
}
`,
		"tests/b.rftest.hcl": `
run "expect" {
  command = "plan"
  expect_plan "itemz" {
    insert = 1
  }
}
`,
	})
	res := run(t, dir)
	if len(res.Files) != 2 || len(res.Files[0].Runs) != 1 || len(res.Files[1].Runs) != 1 {
		t.Fatalf("result:\n%s", describe(res))
	}
	for i, want := range []string{
		`syncs at ` + filepath.Join("tests", "a.rftest.hcl") + `:4: there is no sync named "itemz"`,
		`expect_plan "itemz" at ` + filepath.Join("tests", "b.rftest.hcl") + `:4: the run's plan has no sync "itemz"`,
	} {
		r := res.Files[i].Runs[0]
		got := strings.Join(r.Failures, "\n")
		if r.Err != nil {
			got += "\n" + r.Err.Error()
		}
		if !strings.Contains(got, want) {
			t.Errorf("run %q: %q, want %q", r.Name, got, want)
		}
	}
}

// TestSensitiveColumnsAreNotShown: the values of a sync's sensitive_columns
// are compared like any other but never shown in a failure (nor so in the
// JUnit file, which holds the same messages): a run over a real CSV file
// must not print its secrets.
func TestSensitiveColumnsAreNotShown(t *testing.T) {
	config := strings.Replace(itemsConfig, `key         = ["id"]`, `key         = ["id"]
  sensitive_columns = ["note"]`, 1)
	dir := writeFiles(t, map[string]string{
		"main.hcl":       config,
		"data/items.csv": "id,name,note,price\n1,apple,TOPSECRETVALUE1,1.5\n2,pear,SECONDSECRET22,2\n",
		"tests/items.rftest.hcl": `
destination "postgres" "shop" {
  sql = "` + itemsSchema + `"
}

run "wrong" {
  expect_table "public.items" {
    rows = [
      { id = 1, name = "apple", note = "OTHERSECRETVAL", price = 1.5 },
      { id = 3, name = "plum", note = "THIRDSECRET44", price = 3 },
    ]
  }
}

run "unfit" {
  command = "plan"
  expect_table "public.items" {
    columns = ["id", "price"]
    rows = [{ id = 1, price = "NOTANUMBER55" }]
  }
}
`,
	})
	res := run(t, dir)
	if len(res.Files) != 1 || len(res.Files[0].Runs) != 2 {
		t.Fatalf("result:\n%s", describe(res))
	}
	wrong := res.Files[0].Runs[0]
	want := []string{`expect_table "public.items": the table does not hold the expected rows (2 expected, 2 found):
  ~ id=1: note: expected (sensitive), got (sensitive) (they differ)
  - missing:    id=3 name="plum" note=(sensitive) price=3.00
  + unexpected: id=2 name="pear" note=(sensitive) price=2.00`}
	if !slices.Equal(wrong.Failures, want) {
		t.Errorf("failures:\n%s\n\nwant:\n%s", strings.Join(wrong.Failures, "\n"), strings.Join(want, "\n"))
	}
	all := describe(res)
	for _, secret := range []string{"TOPSECRETVALUE1", "SECONDSECRET22", "OTHERSECRETVAL", "THIRDSECRET44"} {
		if strings.Contains(all, secret) {
			t.Errorf("a sensitive column's value %s is shown:\n%s", secret, all)
		}
	}
	// A column that is not sensitive keeps the server's message.
	if unfit := res.Files[0].Runs[1]; len(unfit.Failures) != 1 || !strings.Contains(unfit.Failures[0], `NOTANUMBER55`) {
		t.Errorf("run unfit: %q", unfit.Failures)
	}
}

// TestFixturesAndExpectationsReadAsASyncDoes: fixture rows and expected
// values are read with the session settings of a sync's connection
// (TimeZone UTC, DateStyle ISO, MDY), not the server's: on a server whose
// time zone is America/New_York and whose DateStyle reads dates day first
// (initdb takes them from the machine; a server of ROWFORM_TEST_PG_URL has
// its own), a fixture row equal to the CSV's is unchanged, and the expected
// values are the stored ones. The same test passed on one machine and
// failed on another.
func TestFixturesAndExpectationsReadAsASyncDoes(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.hcl":       itemsConfig,
		"data/items.csv": "id,name,at,d\n1,apple,2024-01-15 09:30:00,01/02/2024\n2,pear,2024-01-15 10:00:00,01/03/2024\n",
		"tests/items.rftest.hcl": `
destination "postgres" "shop" {
  sql = <<-SQL
    CREATE TABLE public.items (id bigint PRIMARY KEY, name text NOT NULL, at timestamptz, d date);
    DO $$ BEGIN
      EXECUTE format('ALTER DATABASE %I SET timezone = %L', current_database(), 'America/New_York');
      EXECUTE format('ALTER DATABASE %I SET datestyle = %L', current_database(), 'ISO, DMY');
    END $$;
  SQL
}

run "fixture" {
  command = "plan"
  destination "postgres" "shop" {
    table "public.items" {
      rows = [{ id = 1, name = "apple", at = "2024-01-15 09:30:00", d = "01/02/2024" }]
    }
  }
  expect_plan "items" {
    insert    = 1
    update    = 0
    unchanged = 1
  }
}

run "expected" {
  expect_table "public.items" {
    rows = [
      { id = 1, name = "apple", at = "2024-01-15 09:30:00", d = "01/02/2024" },
      { id = 2, name = "pear", at = "2024-01-15T10:00:00Z", d = "2024-01-03" },
    ]
  }
}
`,
	})
	res := run(t, dir)
	if !res.Passed() {
		t.Errorf("tests failed:\n%s", describe(res))
	}
}

// TestEnumColumnsCompare: an enum's input function takes the type but no
// modifier (enum_in(cstring, oid)); an expected value of an enum column
// is compared like any other, not refused as not fitting the table
// ("function enum_in(cstring) does not exist").
func TestEnumColumnsCompare(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.hcl":       itemsConfig,
		"data/items.csv": "id,name,state\n1,apple,open\n",
		"tests/items.rftest.hcl": `
destination "postgres" "shop" {
  sql = "CREATE TYPE state AS ENUM ('open', 'closed'); CREATE TABLE public.items (id bigint PRIMARY KEY, name text, state state, states state[])"
}

run "same" {
  expect_table "public.items" {
    rows = [{ id = 1, name = "apple", state = "open", states = null }]
  }
}

run "other" {
  command = "plan"
  expect_table "public.items" {
    columns = ["id", "state"]
    rows    = [{ id = 1, state = "closed" }]
  }
}

run "unknown" {
  command = "plan"
  expect_table "public.items" {
    columns = ["id", "state"]
    rows    = [{ id = 1, state = "opne" }]
  }
}
`,
	})
	res := run(t, dir)
	if len(res.Files) != 1 || len(res.Files[0].Runs) != 3 {
		t.Fatalf("result:\n%s", describe(res))
	}
	same, other, unknown := res.Files[0].Runs[0], res.Files[0].Runs[1], res.Files[0].Runs[2]
	if same.Status != rftest.StatusPass {
		t.Errorf("run same:\n%s", describe(res))
	}
	if other.Status != rftest.StatusFail || len(other.Failures) != 1 || !strings.Contains(other.Failures[0], `~ id=1: state: expected "closed", got "open"`) {
		t.Errorf("run other:\n%s", describe(res))
	}
	if unknown.Status != rftest.StatusFail || len(unknown.Failures) != 1 || !strings.Contains(unknown.Failures[0], `does not fit the table: ERROR: invalid input value for enum state: "opne"`) {
		t.Errorf("run unknown:\n%s", describe(res))
	}
}

// TestFixtureValuesConvertAsWritten: a fixture's value is written as a
// write of its text would be, modifier included: one too long for a
// varchar(5), or bits for a bit(3), is refused, where the explicit cast it
// went through cut it to fit and the table held another row than the test
// file gave (the plan found it unchanged against a CSV a real write would
// have refused).
func TestFixtureValuesConvertAsWritten(t *testing.T) {
	schema := `CREATE TABLE public.items (id bigint PRIMARY KEY, name varchar(5), bits bit(3), price numeric(8,2))`
	dir := writeFiles(t, map[string]string{
		"main.hcl":       itemsConfig,
		"data/items.csv": "id,name,bits,price\n1,abcde,101,1.5\n",
		"tests/a_fits.rftest.hcl": `
destination "postgres" "shop" {
  sql = "` + schema + `"
  table "public.items" {
    rows = [{ id = 1, name = "abcde", bits = "101", price = 1.499 }]
  }
}
run "unchanged" {
  command = "plan"
  expect_plan "items" {
    unchanged = 1
  }
}
`,
		"tests/b_too_long.rftest.hcl": `
destination "postgres" "shop" {
  sql = "` + schema + `"
  table "public.items" {
    rows = [{ id = 1, name = "abcdefghij", bits = "101", price = 1.5 }]
  }
}
run "unchanged" {
  command = "plan"
}
`,
		"tests/c_bits.rftest.hcl": `
destination "postgres" "shop" {
  sql = "` + schema + `"
}
run "bits" {
  destination "postgres" "shop" {
    table "public.items" {
      rows = [{ id = 1, name = "abcde", bits = "1011", price = 1.5 }]
    }
  }
  command = "plan"
}
`,
	})
	res := run(t, dir)
	if len(res.Files) != 3 {
		t.Fatalf("result:\n%s", describe(res))
	}
	if f := res.Files[0]; f.Failed() {
		t.Errorf("a value that fits:\n%s", describe(res))
	}
	if f := res.Files[1]; f.Err == nil || !strings.Contains(f.Err.Error(), "value too long for type character varying(5)") || len(f.Runs) != 0 {
		t.Errorf("a value too long for its column:\n%s", describe(res))
	}
	if f := res.Files[2]; len(f.Runs) != 1 || f.Runs[0].Status != rftest.StatusError ||
		!strings.Contains(f.Runs[0].Err.Error(), "bit string length 4 does not match type bit(3)") {
		t.Errorf("bits too many for their column:\n%s", describe(res))
	}
}

// TestCSVFixtureInTheSourceEncoding: a csv source with encoding = "LATIN1"
// reads its fixture's content and rows (text of the UTF-8 test file) as
// the test file gives them: they are written in LATIN1. A path fixture's
// bytes are written as they are.
func TestCSVFixtureInTheSourceEncoding(t *testing.T) {
	config := strings.Replace(itemsConfig, `path = "data/items.csv"`, `path     = "data/items.csv"
  encoding = "LATIN1"`, 1)
	dir := writeFiles(t, map[string]string{
		"main.hcl":         config,
		"data/items.csv":   "id,name\n1,x\n",
		"tests/latin1.csv": "id,name\n3,cr\xe8me\n",
		"tests/items.rftest.hcl": `
destination "postgres" "shop" {
  sql = "CREATE TABLE public.items (id bigint PRIMARY KEY, name text)"
}

run "rows" {
  source "csv" "items" {
    rows = [{ id = 1, name = "café" }]
  }
  expect_table "public.items" {
    rows = [{ id = 1, name = "café" }]
  }
}

run "content" {
  source "csv" "items" {
    content = "id,name\n2,naïve\n"
  }
  expect_table "public.items" {
    rows = [{ id = 1, name = "café" }, { id = 2, name = "naïve" }]
  }
}

run "path" {
  source "csv" "items" {
    path = "tests/latin1.csv"
  }
  expect_table "public.items" {
    count = 3
  }
  expect_table "public.items" {
    columns = ["name"]
    rows    = [{ name = "café" }, { name = "naïve" }, { name = "crème" }]
  }
}

run "not_latin1" {
  source "csv" "items" {
    content = "id,name\n4,€\n"
  }
}
`,
	})
	res := run(t, dir)
	if len(res.Files) != 1 || len(res.Files[0].Runs) != 4 {
		t.Fatalf("result:\n%s", describe(res))
	}
	for _, r := range res.Files[0].Runs[:3] {
		if r.Status != rftest.StatusPass {
			t.Errorf("run %q:\n%s", r.Name, describe(res))
		}
	}
	if r := res.Files[0].Runs[3]; r.Status != rftest.StatusError || !strings.Contains(r.Err.Error(), `the character '€' is not in LATIN1`) {
		t.Errorf("run not_latin1:\n%s", describe(res))
	}
}

// TestVariableValuesShownInTheTestFile: a value the configuration refuses
// for a variable (a string for a number) is shown where the test file
// sets it, in the file's variables block or a run's, not at a line of a
// temporary file that is gone.
func TestVariableValuesShownInTheTestFile(t *testing.T) {
	config := itemsConfig + `
variable "batch" {
  type    = number
  default = 1
}
`
	dir := writeFiles(t, map[string]string{
		"main.hcl":       config,
		"data/items.csv": "id,name\n1,apple\n",
		"tests/a.rftest.hcl": `
variables {
  batch = "many"
}
run "x" {
  command = "plan"
}
`,
		"tests/b.rftest.hcl": `
variables {
  batch = 2
}
run "x" {
  command = "plan"
  variables {
    batch = "lots"
  }
}
`,
	})
	res := run(t, dir)
	if len(res.Files) != 2 {
		t.Fatalf("result:\n%s", describe(res))
	}
	a, b := res.Files[0], res.Files[1]
	tmp := os.TempDir()
	if len(a.Diags) != 1 || a.Diags[0].Subject == nil || a.Diags[0].Subject.Filename != filepath.Join("tests", "a.rftest.hcl") ||
		a.Diags[0].Subject.Start.Line != 3 || strings.Contains(a.Diags[0].Detail, tmp) ||
		!strings.Contains(a.Diags[0].Detail, `The value for variable "batch" from the test file tests/a.rftest.hcl is not a valid number`) {
		t.Errorf("the file's variables: %s (subject %+v)", a.Diags.Error(), a.Diags[0].Subject)
	}
	if len(b.Runs) != 1 || b.Runs[0].Err == nil {
		t.Fatalf("result:\n%s", describe(res))
	}
	if msg := b.Runs[0].Err.Error(); strings.Contains(msg, tmp) || !strings.Contains(msg, filepath.Join("tests", "b.rftest.hcl")+":8,") {
		t.Errorf("the run's variables: %s", msg)
	}
}

// TestProblemsFoundBeforeTheRuns: a null in a list of names (syncs,
// findings, columns) is a problem of the test file, not a crash; an
// expect_table's server that the configuration does not have, a second
// expect_plan for one sync in a run (the checks of unexpected errors took
// only the last one's findings) and a run's variable the configuration does
// not declare (found only when the run came, after the runs before it) and
// an expect_table's rows naming a column its columns leave out (whose
// values were never compared) are problems shown at their place before
// any run.
func TestProblemsFoundBeforeTheRuns(t *testing.T) {
	dir := writeFiles(t, map[string]string{
		"main.hcl":       itemsConfig,
		"data/items.csv": "id,name\n1,apple\n",
		"tests/a_syncs.rftest.hcl": `
run "x" {
  syncs = ["items", null]
}
`,
		"tests/b_findings.rftest.hcl": `
run "x" {
  expect_plan "items" {
    findings = [null]
  }
}
`,
		"tests/c_columns.rftest.hcl": `
run "x" {
  expect_table "public.items" {
    columns = ["id", null]
    rows    = [{ id = 1 }]
  }
}
`,
		"tests/d_server.rftest.hcl": `
run "x" {
  expect_table "public.items" {
    count  = 1
    server = destination.postgres.shopp
  }
}
`,
		"tests/e_twice.rftest.hcl": `
run "x" {
  expect_plan "items" {
    findings = ["missing_table"]
  }
  expect_plan "items" {
    insert = 0
  }
}
`,
		"tests/g_uncompared.rftest.hcl": `
run "x" {
  expect_table "public.items" {
    columns = ["id"]
    rows    = [{ id = 1, name = "pear" }]
  }
}
`,
		"tests/f_run_variable.rftest.hcl": `
run "first" {
  command = "plan"
}
run "x" {
  variables {
    pasword = "x"
  }
}
`,
	})
	res := run(t, dir)
	want := map[string][2]string{
		"a_syncs.rftest.hcl":    {"3", `Inappropriate value for attribute "syncs": a list of strings, with no null in it.`},
		"b_findings.rftest.hcl": {"4", `Inappropriate value for attribute "findings": a list of strings, with no null in it.`},
		"c_columns.rftest.hcl":  {"4", `Inappropriate value for attribute "columns": a list of strings, with no null in it.`},
		"d_server.rftest.hcl":   {"5", `The configuration has no destination.postgres.shopp. Its PostgreSQL servers are: destination.postgres.shop.`},
		"e_twice.rftest.hcl":    {"6", `The run already has an expect_plan "items", at tests/e_twice.rftest.hcl:3`},
		// Found before the run "first", as the file's variables are.
		"f_run_variable.rftest.hcl": {"7", `sets the variable "pasword", which the configuration does not declare. Did you mean "password"?`},
		// A value that would never be compared: the row passes whatever
		// the table's name is.
		"g_uncompared.rftest.hcl": {"5", `The rows give "name", which columns leaves out, so its values would not be checked.`},
	}
	if len(res.Files) != len(want) {
		t.Fatalf("result:\n%s", describe(res))
	}
	for _, f := range res.Files {
		w := want[filepath.Base(f.Path)]
		if len(f.Runs) != 0 || len(f.Diags) != 1 || !strings.Contains(f.Diags[0].Detail, w[1]) ||
			f.Diags[0].Subject == nil || fmt.Sprint(f.Diags[0].Subject.Start.Line) != w[0] || f.Diags[0].Subject.Filename != f.Path {
			t.Errorf("%s: %s, want line %s: %q", f.Path, f.Diags.Error(), w[0], w[1])
		}
	}
}

// TestURLServerOverVerifiedTLS: with ROWFORM_TEST_PG_URL naming a server
// reached with sslmode=verify-full and the sslrootcert of its certificate
// authority, the syncs' connections verify the server with that
// certificate too, as the fixtures' and expectations' connections do:
// they were given the URL's sslmode without its sslrootcert, and every
// plan failed with connection_failed (certificate signed by unknown
// authority).
func TestURLServerOverVerifiedTLS(t *testing.T) {
	c, files := sshtest.StartTLSCluster(t)
	t.Setenv(pgcluster.EnvURL, fmt.Sprintf("postgres://%s:%s@127.0.0.1:%d/postgres?sslmode=verify-full&sslrootcert=%s",
		c.User, c.Password, c.Port, files.CAFile))
	dir := writeFiles(t, map[string]string{
		"main.hcl":       itemsConfig,
		"data/items.csv": "id,name\n1,apple\n",
		"tests/items.rftest.hcl": `
destination "postgres" "shop" {
  sql = "` + itemsSchema + `"
}
run "load" {
  expect_plan "items" {
    insert   = 1
    findings = []
  }
  expect_table "public.items" {
    columns = ["id", "name"]
    rows    = [{ id = 1, name = "apple" }]
  }
}
`,
	})
	res, err := rftest.Run(context.Background(), rftest.Options{Dir: dir})
	if err != nil {
		t.Fatalf("rftest.Run: %v", err)
	}
	if !res.Passed() {
		t.Errorf("tests failed:\n%s", describe(res))
	}
}

// TestURLSettingsReachTheSyncs: ROWFORM_TEST_PG_URL's connection settings
// reach the syncs' sessions as they reach the tests' own. The server
// admits the role over TLS by its client certificate only (its key
// encrypted, with the URL's sslpassword): the syncs had the URL's sslmode
// and sslrootcert alone, and every plan failed with connection_failed.
// The URL's options set a setting in the sessions of the source and of the
// destination alike; the sessions keep rowform's own application_name.
// The key's passphrase is a secret for the output to mask.
func TestURLSettingsReachTheSyncs(t *testing.T) {
	files := sshtest.NewTLS(t, "127.0.0.1")
	c := pgtest.Start(t, func(o *pgcluster.Options) {
		o.ExtraConf = append(files.ServerConf(), "ssl_ca_file = '"+files.CAFile+"'")
	})
	ctx := context.Background()
	admin := pgtest.Connect(t, c, "")
	var hba string
	if err := admin.QueryRow(ctx, "SHOW hba_file").Scan(&hba); err != nil {
		t.Fatal(err)
	}
	lines, err := os.ReadFile(hba)
	if err != nil {
		t.Fatal(err)
	}
	// The first line that matches decides: a TLS connection needs the
	// role's certificate (connections without TLS keep their password).
	if err := os.WriteFile(hba, append([]byte("hostssl all all 127.0.0.1/32 cert\n"), lines...), 0); err != nil {
		t.Fatal(err)
	}
	if _, err := admin.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	const passphrase = "correct-horse-battery"
	cert, key := files.ClientCert(t, c.User, passphrase)
	t.Setenv(pgcluster.EnvURL, fmt.Sprintf("postgres://%s@127.0.0.1:%d/postgres?sslmode=verify-full&sslrootcert=%s&sslcert=%s&sslkey=%s&sslpassword=%s&options=%s&application_name=ci",
		c.User, c.Port, files.CAFile, cert, key, passphrase, strings.ReplaceAll(url.QueryEscape("-c rowform_test.tag=from-url"), "+", "%20")))
	dir := writeFiles(t, map[string]string{
		"main.hcl": `
destination "postgres" "dst" {
  host     = "db.invalid"
  database = "dst"
  user     = "u"
}

source "postgres" "src" {
  host     = "warehouse.invalid"
  database = "src"
  user     = "u"
}

sync "tags" {
  source      = source.postgres.src
  query       = "SELECT 1 AS id, current_setting('rowform_test.tag') AS src_tag"
  destination = destination.postgres.dst
  table       = "tags"
  behavior    = "update_or_create"
  key         = ["id"]
}
`,
		"tests/tags.rftest.hcl": `
destination "postgres" "dst" {
  sql = "CREATE TABLE tags (id int PRIMARY KEY, src_tag text, dst_tag text DEFAULT current_setting('rowform_test.tag', true), app text DEFAULT current_setting('application_name'))"
}

run "load" {
  expect_plan "tags" {
    insert   = 1
    findings = []
  }
  expect_table "tags" {
    rows = [{ id = 1, src_tag = "from-url", dst_tag = "from-url", app = "rowform/tags" }]
  }
}
`,
	})
	var secrets []string
	res, err := rftest.Run(ctx, rftest.Options{Dir: dir, AddSecrets: func(s ...string) { secrets = append(secrets, s...) }})
	if err != nil {
		t.Fatalf("rftest.Run: %v", err)
	}
	if !res.Passed() {
		t.Errorf("tests failed:\n%s", describe(res))
	}
	if !slices.Contains(secrets, passphrase) {
		t.Errorf("the key's passphrase is not among the secrets to mask")
	}
}

// TestRunVariablesGiveWhatASyncNeeds: a variable that a sync's table needs
// may be set by each run rather than by the file: the file runs (it was
// refused as a whole before any run, the runs' variables unseen). A run
// that does not give it is in error, saying so.
func TestRunVariablesGiveWhatASyncNeeds(t *testing.T) {
	config := strings.Replace(itemsConfig, `table       = "public.items"`, `table       = var.table`, 1) + `
variable "table" {
  type = string
}
`
	dir := writeFiles(t, map[string]string{
		"main.hcl":       config,
		"data/items.csv": "id,name\n1,apple\n",
		"tests/items.rftest.hcl": `
destination "postgres" "shop" {
  sql = "` + itemsSchema + `"
}

run "given" {
  variables {
    table = "public.items"
  }
  expect_plan "items" {
    insert = 1
  }
}

run "not_given" {
  command = "plan"
}
`,
	})
	res := run(t, dir)
	if len(res.Files) != 1 || len(res.Files[0].Runs) != 2 {
		t.Fatalf("result:\n%s", describe(res))
	}
	given, notGiven := res.Files[0].Runs[0], res.Files[0].Runs[1]
	if given.Status != rftest.StatusPass {
		t.Errorf("run given:\n%s", describe(res))
	}
	if notGiven.Status != rftest.StatusError || !strings.Contains(notGiven.Err.Error(), `The table, key, query or CSV path of sync "items" comes from a variable or env() without a value`) {
		t.Errorf("run not_given:\n%s", describe(res))
	}
}

// TestJUnitTeardownError: a file whose databases could not be dropped
// after its runs passed has a "(teardown)" testcase in error, beside its
// runs; it was reported as "(setup)", as if no run had been carried out.
func TestJUnitTeardownError(t *testing.T) {
	res := &rftest.Result{Files: []*rftest.FileResult{{
		Path: "tests/a.rftest.hcl",
		Err:  errors.New(`dropping database "rowform_test_1": connection refused`),
		Runs: []*rftest.RunResult{{Name: "first", Status: rftest.StatusPass}},
	}}}
	var b strings.Builder
	if err := res.WriteJUnit(&b, nil); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	if !strings.Contains(out, `<testcase name="first"`) || !strings.Contains(out, `<testcase name="(teardown)"`) ||
		strings.Contains(out, "(setup)") || !strings.Contains(out, `tests="2" failures="0" errors="1"`) {
		t.Errorf("JUnit of a failed teardown:\n%s", out)
	}
}
