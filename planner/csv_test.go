package planner_test

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// csvSync renders a csv source named name reading file, and a sync of the
// same name into table. attrs are extra source attributes, extra goes
// into the sync block.
func csvSync(name, file, attrs, table, behavior, extra string) string {
	return fmt.Sprintf(`
source "csv" %q {
  path = %q
%s
}

sync %q {
  source      = source.csv.%s
  destination = destination.postgres.dst
  table       = %q
  behavior    = %q
  key         = ["id"]
%s
}
`, name, file, attrs, name, name, table, behavior, extra)
}

// sampleColumns renders the columns of the sample row with key id of the
// given kind ("insert" or "update") as "name=after" (inserts) or
// "name=before->after" (updates), in order; "" when there is no such row.
func sampleColumns(sp *planner.SyncPlan, kind, id string) string {
	if sp.Samples == nil {
		return ""
	}
	rows := sp.Samples.Insert
	if kind == "update" {
		rows = sp.Samples.Update
	}
	for _, r := range rows {
		if len(r.Key) == 1 && r.Key[0] == id {
			var parts []string
			for _, c := range r.Columns {
				if kind == "update" {
					parts = append(parts, fmt.Sprintf("%s=%q->%q", c.Name, c.Before, c.After))
				} else {
					parts = append(parts, fmt.Sprintf("%s=%q", c.Name, c.After))
				}
			}
			return strings.Join(parts, " ")
		}
	}
	return ""
}

// TestCSVSources checks PostgreSQL's CSV rules, headers, delimiters and the
// findings for values that do not convert and records of the wrong width.
func TestCSVSources(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)

	// PostgreSQL's rules, with CRLF line ends. The destination holds exactly
	// the values the rules give, so rows 1-4 plan as unchanged only if every
	// rule is followed; row 5 is new.
	e.WriteFile("rules.csv", strings.Join([]string{
		`id,name,note`,
		`1,,""`,                // unquoted empty = NULL, "" = empty string
		`2,"a,b","say ""hi"""`, // quoted comma, doubled quotes
		"3,\"line1\nline2\",x", // a newline inside quotes
		`4, spaced ,"x"`,       // spaces are data; quoting is optional
		`5,"",`,                // new row: empty string, NULL at the end of the line
		``}, "\r\n"))
	e.Dst(`CREATE TABLE csv_rules (id bigint PRIMARY KEY, name text, note text)`)
	e.Dst(`INSERT INTO csv_rules VALUES (1, NULL, ''), (2, 'a,b', 'say "hi"'), (3, E'line1\nline2', 'x'), (4, ' spaced ', 'x')`)

	// header = false: the columns are column1..N.
	e.WriteFile("nohdr.csv", "1,x\n2,y\n")
	e.Dst(`CREATE TABLE csv_nohdr (id bigint PRIMARY KEY, name text)`)
	e.Dst(`INSERT INTO csv_nohdr VALUES (1, 'old')`)

	// delimiter = ";": a comma is data.
	e.WriteFile("semi.csv", "id;name\n1;a,b\n2;\"c;d\"\n")
	e.Dst(`CREATE TABLE csv_semi (id bigint PRIMARY KEY, name text)`)

	// A value that does not convert, on line 4 (line 2's quoted field spans
	// two lines); the other rows are still read.
	e.WriteFile("bad.csv", "id,amount,note\n1,10,\"multi\nline\"\n2,abc,x\n3,30,y\n")
	e.Dst(`CREATE TABLE csv_bad (id bigint PRIMARY KEY, amount bigint, note text)`)

	// The same in a sensitive column: the value is never shown.
	e.WriteFile("secret.csv", "id,ssn\n1,123\n2,s3cr3t-value\n")
	e.Dst(`CREATE TABLE csv_secret (id bigint PRIMARY KEY, ssn bigint)`)

	// A record with a field too many.
	e.WriteFile("width.csv", "id,name\n1,a\n2,b,extra\n3,c\n")
	e.Dst(`CREATE TABLE csv_width (id bigint PRIMARY KEY, name text)`)

	cfg := e.Config(
		csvSync("rules", "rules.csv", "", "csv_rules", "update_or_create", "") +
			csvSync("nohdr", "nohdr.csv", "  header = false", "csv_nohdr", "update_or_create",
				`  mapping = { id = "column1", name = "column2" }`) +
			csvSync("semi", "semi.csv", `  delimiter = ";"`, "csv_semi", "update_or_create", "") +
			csvSync("bad", "bad.csv", "", "csv_bad", "update_or_create", "") +
			csvSync("secret", "secret.csv", "", "csv_secret", "update_or_create", `  sensitive_columns = ["ssn"]`) +
			csvSync("width", "width.csv", "", "csv_width", "update_or_create", ""))
	p := plan(t, cfg, planner.Options{ShowRows: 10})

	clean := func(sp *planner.SyncPlan) bool {
		if len(sp.Findings) > 0 || !sp.Diffed {
			t.Errorf("%s: unexpected findings (diffed=%v):\n%s", sp.Name, sp.Diffed, synctest.FindingsText(sp))
			return false
		}
		return true
	}

	if sp := syncNamed(t, p, "rules"); clean(sp) {
		if want := (planner.Counts{Insert: 1, Unchanged: 4}); sp.Counts != want {
			t.Errorf("rules: counts %+v, want %+v", sp.Counts, want)
			logSamples(t, sp)
		}
		if got, want := sampleColumns(sp, "insert", "5"), `name="" note="NULL"`; got != want {
			t.Errorf("rules: insert sample of id=5: %s, want %s", got, want)
		}
	}

	if sp := syncNamed(t, p, "nohdr"); clean(sp) {
		if want := (planner.Counts{Insert: 1, Update: 1}); sp.Counts != want {
			t.Errorf("nohdr: counts %+v, want %+v", sp.Counts, want)
		}
		if got, want := sampleColumns(sp, "update", "1"), `name="old"->"x"`; got != want {
			t.Errorf("nohdr: update sample of id=1: %s, want %s", got, want)
		}
		if got, want := sampleColumns(sp, "insert", "2"), `name="y"`; got != want {
			t.Errorf("nohdr: insert sample of id=2: %s, want %s", got, want)
		}
	}

	if sp := syncNamed(t, p, "semi"); clean(sp) {
		if want := (planner.Counts{Insert: 2}); sp.Counts != want {
			t.Errorf("semi: counts %+v, want %+v", sp.Counts, want)
		}
		if got, want := sampleColumns(sp, "insert", "1"), `name="a,b"`; got != want {
			t.Errorf("semi: insert sample of id=1: %s, want %s", got, want)
		}
		if got, want := sampleColumns(sp, "insert", "2"), `name="c;d"`; got != want {
			t.Errorf("semi: insert sample of id=2: %s, want %s", got, want)
		}
	}

	// A value that does not convert rejects its row (rejected_rows), whose
	// example names its key and line; the value itself is not shown.
	bad := syncNamed(t, p, "bad")
	if got := codes(bad); len(got) != 1 || got[0] != string(planner.CodeRejectedRows) {
		t.Errorf("bad: finding codes %v, want one rejected_rows:\n%s", got, synctest.FindingsText(bad))
	} else {
		f := bad.Findings[0]
		if f.Column != "amount" || f.Rows != 1 || !slices.Equal(f.Examples, []string{"id=2 (line 4)"}) || !strings.Contains(f.Summary, "bigint") {
			t.Errorf("bad: the finding does not name column amount, bigint and id=2 (line 4): %+v", f)
		}
		if strings.Contains(f.Summary+f.Detail, "abc") {
			t.Errorf("bad: the finding shows the value: %s", f.Summary)
		}
	}

	secret := syncNamed(t, p, "secret")
	if got := codes(secret); len(got) != 1 || got[0] != string(planner.CodeRejectedRows) {
		t.Errorf("secret: finding codes %v, want one rejected_rows:\n%s", got, synctest.FindingsText(secret))
	} else {
		f := secret.Findings[0]
		if f.Column != "ssn" || len(f.Examples) != 1 || !strings.HasPrefix(f.Examples[0], "id=2") {
			t.Errorf("secret: the finding does not name the key and column: %+v", f)
		}
		if strings.Contains(f.Summary+f.Detail+f.Fix, "s3cr3t") {
			t.Errorf("secret: the sensitive value is shown:\n%s", synctest.FindingsText(secret))
		}
	}

	width := syncNamed(t, p, "width")
	if len(width.Findings) != 1 {
		t.Errorf("width: %d findings, want 1:\n%s", len(width.Findings), synctest.FindingsText(width))
	} else if f := width.Findings[0]; f.Severity != planner.SeverityError ||
		!strings.Contains(f.Summary, "line 3") || !strings.Contains(f.Summary, "3 fields") || !strings.Contains(f.Summary, "has 2") {
		t.Errorf("width: the finding does not name line 3 with 3 fields of 2: %s %s", f.Code, f.Summary)
	}
	if width.Diffed {
		t.Errorf("width: a file with a malformed record was diffed: %+v", width.Counts)
	}
}

// TestCSVStopsAfterTooManyBadValues: a file whose column does not fit its
// destination column at all is read no further after 100 values that do
// not convert, and the finding says which column and why (it used to name
// neither).
func TestCSVStopsAfterTooManyBadValues(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	var b strings.Builder
	b.WriteString("id,amount\n")
	for i := 1; i <= 300; i++ {
		fmt.Fprintf(&b, "%d,n/a\n", i)
	}
	e.WriteFile("nofit.csv", b.String())
	e.Dst(`CREATE TABLE csv_nofit (id bigint PRIMARY KEY, amount int)`)
	cfg := e.Config(csvSync("nofit", "nofit.csv", "", "csv_nofit", "update_or_create", ""))
	sp := syncNamed(t, plan(t, cfg, planner.Options{}), "nofit")
	want := `stopped reading csv.nofit after 100 values that do not convert; by destination column: amount: 100 (invalid input syntax for type integer)`
	if f := findingWith(sp, planner.CodeTypeMismatch, want); f == nil || !strings.Contains(f.Detail, "the file's columns match the mapping") {
		t.Errorf("no type_mismatch finding saying %q:\n%s", want, synctest.FindingsText(sp))
	}
	if sp.Diffed {
		t.Error("a stopped conversion was diffed")
	}
}

// TestOutOfRangeFloatReasons: a CSV value out of range for real or double
// precision is a rejected row whose reason says so; it was empty (the
// server's message starts with the value, which was cut with all after it).
func TestOutOfRangeFloatReasons(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE fr (id int PRIMARY KEY, r real, d float8)`)
	e.WriteFile("fr.csv", "id,r,d\n1,3.5e38,1\n2,1,1e400\n3,1,1\n")
	p := plan(t, e.Config(csvSync("fr", "fr.csv", "", "fr", "mirror", `  on_reject = "skip"`)), planner.Options{})
	text := synctest.FindingsText(p.Syncs[0])
	for _, want := range []string{`column "r": value is out of range for type real`, `column "d": value is out of range for type double precision`} {
		if !strings.Contains(text, want) {
			t.Errorf("the findings do not say %q:\n%s", want, text)
		}
	}
}
