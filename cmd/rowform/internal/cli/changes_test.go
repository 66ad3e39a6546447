package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/rowform/rowform/internal/heappeak"
	"github.com/rowform/rowform/internal/linesort"
	"github.com/rowform/rowform/internal/synctest"
)

// changesEnv: a mirror of people (3 inserts, one with a NULL name; 2
// updates, one from NULL; 1 delete; 1 unchanged; email sensitive), an
// update_or_create with nothing to do, and a sync that cannot be planned
// (its table does not exist).
func changesEnv(t *testing.T) *synctest.Env {
	t.Helper()
	e := synctest.New(t)
	e.Src(`CREATE TABLE people (id bigint, name text, email text)`)
	e.Src(`INSERT INTO people VALUES (1, 'Ada', 'ada@example.com'), (2, 'Grace', 'grace@example.com'),
		(3, NULL, 'alan@example.com'), (4, 'NULL', 'k@example.com'), (5, 'Edsger', 'e@example.com'), (6, 'Barbara', 'b@example.com')`)
	e.Dst(`CREATE TABLE people (id bigint PRIMARY KEY, name text, email text)`)
	e.Dst(`INSERT INTO people VALUES (1, 'Ada', 'ada@example.com'), (2, NULL, 'grace@example.com'),
		(5, 'Edsger', 'old@example.com'), (9, 'Gone', 'gone@example.com')`)
	e.Dst(`CREATE TABLE same (id bigint PRIMARY KEY, name text)`)
	e.Dst(`INSERT INTO same VALUES (1, 'Ada')`)
	e.WriteFile("main.hcl", e.Servers()+`
sync "people" {
  source            = source.postgres.src
  query             = "SELECT id, name, email FROM people"
  destination       = destination.postgres.dst
  table             = "people"
  behavior          = "mirror"
  key               = ["id"]
  sensitive_columns = ["email"]
}

sync "same" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM people WHERE id = 1"
  destination = destination.postgres.dst
  table       = "same"
  behavior    = "update_or_create"
  key         = ["id"]
}

sync "broken" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM people"
  destination = destination.postgres.dst
  table       = "nosuch"
  behavior    = "update_or_create"
  key         = ["id"]
}
`)
	return e
}

// readChangeLines returns the lines of a changes file, in the file's
// order, and checks that each is a JSON object with exactly the five keys.
func readChangeLines(t *testing.T, path string) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(sc.Bytes(), &obj); err != nil {
			t.Fatalf("a line of %s is not a JSON object: %v\n%s", path, err, sc.Text())
		}
		if len(obj) != 5 || obj["sync"] == nil || obj["kind"] == nil || obj["key"] == nil || obj["before"] == nil || obj["after"] == nil {
			t.Errorf("line %s: want exactly sync, kind, key, before and after", sc.Text())
		}
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return lines
}

// TestPlanChangesFile: plan -changes=FILE writes every planned change, not
// only samples, as JSON lines (sync, kind, key, before, after) with
// sensitive values masked and SQL NULL as null (a text "NULL" stays
// distinguishable); only syncs diffed to the end; mode 0600; no temporary
// file left behind; the lines in key order. The plan's own output is
// unchanged by it.
func TestPlanChangesFile(t *testing.T) {
	t.Parallel()
	e := changesEnv(t)
	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-changes=changes.jsonl")
	r.expect(t, exitError) // "broken" has an error finding
	if !strings.Contains(r.stdout, "Wrote 6 changes to changes.jsonl, one JSON object a line.") {
		t.Errorf("plan does not say where the changes went:\n%s", r.stdout)
	}
	path := filepath.Join(e.Dir, "changes.jsonl")
	got := readChangeLines(t, path)
	want := []string{
		`{"sync":"people","kind":"update","key":{"id":"2"},"before":{"name":null},"after":{"name":"Grace"}}`,
		`{"sync":"people","kind":"insert","key":{"id":"3"},"before":null,"after":{"name":null,"email":"(sensitive)"}}`,
		`{"sync":"people","kind":"insert","key":{"id":"4"},"before":null,"after":{"name":"\"NULL\"","email":"(sensitive)"}}`,
		`{"sync":"people","kind":"update","key":{"id":"5"},"before":{"email":"(sensitive)"},"after":{"email":"(sensitive)"}}`,
		`{"sync":"people","kind":"insert","key":{"id":"6"},"before":null,"after":{"name":"Barbara","email":"(sensitive)"}}`,
		`{"sync":"people","kind":"delete","key":{"id":"9"},"before":{"name":"Gone","email":"(sensitive)"},"after":null}`,
	}
	if !slices.Equal(got, want) {
		t.Errorf("changes file:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for _, secret := range []string{"example.com"} {
		b, _ := os.ReadFile(path)
		if strings.Contains(string(b), secret) {
			t.Errorf("the changes file shows a sensitive value (%s)", secret)
		}
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(e.Dir)
	for _, ent := range entries {
		if strings.HasPrefix(ent.Name(), ".") {
			t.Errorf("temporary file left behind: %s", ent.Name())
		}
	}

	// -json output stays one document; the samples carry NULL as null too.
	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-json", "-show-rows=10", "-changes="+path, "-sync=people")
	r.expect(t, exitOK)
	var doc struct {
		Syncs []struct {
			Samples struct {
				Insert []struct {
					Key     []*string `json:"key"`
					Columns []struct {
						Name  string  `json:"name"`
						After *string `json:"after"`
					} `json:"columns"`
				} `json:"insert"`
			} `json:"samples"`
		} `json:"syncs"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("plan -json with -changes is not one JSON document: %v\n%s", err, r.stdout)
	}
	nulls, texts := 0, 0
	for _, row := range doc.Syncs[0].Samples.Insert {
		for _, c := range row.Columns {
			switch {
			case c.Name == "name" && c.After == nil:
				nulls++
			case c.Name == "name" && *c.After == `"NULL"`:
				texts++
			}
		}
	}
	if nulls != 1 || texts != 1 {
		t.Errorf("insert samples: %d NULL names as null (want 1), %d text \"NULL\" names (want 1):\n%s", nulls, texts, r.stdout)
	}
	if got := readChangeLines(t, path); len(got) != 6 {
		t.Errorf("-changes with -sync=people: %d lines, want 6", len(got))
	}

	// A file that cannot be written fails the plan and leaves nothing.
	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-changes="+filepath.Join(e.Dir, "missing", "c.jsonl"), "-sync=people")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "-changes="+filepath.Join(e.Dir, "missing", "c.jsonl")+" cannot be written") {
		t.Errorf("stderr does not name the changes file:\n%s", r.stderr)
	}
}

// TestPlanChangesFileInKeyOrder: thousands of changes, found by the hash
// join in its own order, come out in key order (numbers as numbers, then
// the second key column), and two plans of the same rows write the same
// bytes: a changes file can be compared with diff.
func TestPlanChangesFileInKeyOrder(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (region text, id bigint, v text)`)
	e.Src(`INSERT INTO items SELECT r, i, 'new ' || i FROM generate_series(1, 1500) i, unnest(ARRAY['eu', 'us']) r ORDER BY md5(r || i)`)
	e.Dst(`CREATE TABLE items (region text, id bigint, v text, PRIMARY KEY (id, region))`)
	e.Dst(`INSERT INTO items SELECT r, i, CASE WHEN i % 3 = 0 THEN 'old' ELSE 'new ' || i END FROM generate_series(500, 2000) i, unnest(ARRAY['eu', 'us']) r ORDER BY md5(i || r)`)
	e.WriteFile("main.hcl", e.Servers()+`
sync "items" {
  source      = source.postgres.src
  query       = "SELECT region, id, v FROM items"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "mirror"
  key         = ["id", "region"]
}
`)
	var files [2][]byte
	for i := range files {
		r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-changes=changes.jsonl")
		r.expect(t, exitOK)
		b, err := os.ReadFile(filepath.Join(e.Dir, "changes.jsonl"))
		if err != nil {
			t.Fatal(err)
		}
		files[i] = b
	}
	if !bytes.Equal(files[0], files[1]) {
		t.Error("two plans of the same rows wrote different changes files")
	}
	lines := readChangeLines(t, filepath.Join(e.Dir, "changes.jsonl"))
	// inserts 1..499, updates of the multiples of 3 in 500..1500, deletes 1501..2000; two regions each
	wantN := 2 * (499 + (1500/3 - 499/3) + 500)
	if len(lines) != wantN {
		t.Fatalf("%d changes, want %d", len(lines), wantN)
	}
	var prevID int64
	prevRegion := ""
	for i, line := range lines {
		var ch struct {
			Key struct {
				ID     string `json:"id"`
				Region string `json:"region"`
			} `json:"key"`
		}
		if err := json.Unmarshal([]byte(line), &ch); err != nil {
			t.Fatal(err)
		}
		id, err := strconv.ParseInt(ch.Key.ID, 10, 64)
		if err != nil {
			t.Fatal(err)
		}
		if i > 0 && (id < prevID || id == prevID && ch.Key.Region <= prevRegion) {
			t.Fatalf("line %d (%s) comes after key (%d, %s): not in key order", i+1, line, prevID, prevRegion)
		}
		prevID, prevRegion = id, ch.Key.Region
	}
}

// TestPlanOutputFilesCheckedFirst: a -changes or -out file that cannot be
// written is refused before the plan is made (which would connect and read
// both tables only to lose the result), naming the directory, not a
// temporary file, and not reported as a finding of a sync.
func TestPlanOutputFilesCheckedFirst(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-dir")
	for _, flag := range []string{"-changes", "-out"} {
		r := runCLI(t, "-chdir=testdata/valid", "plan", flag+"="+filepath.Join(missing, "x"))
		r.expect(t, exitError)
		want := fmt.Sprintf("plan: %s=%s cannot be written (directory %s: no such file or directory); nothing was planned", flag, filepath.Join(missing, "x"), missing)
		if !strings.Contains(r.stderr, want) || strings.Contains(r.stdout+r.stderr, "connection_failed") || strings.Contains(r.stderr, ".tmp") {
			t.Errorf("%s: stderr:\n%s\nwant %q", flag, r.stderr, want)
		}
	}
}

// TestWriteSortedWideLines: writeSorted puts lines of every width in
// changeOrder — narrow ones, lines wider than wideChange, lines wider than
// its read buffer, a line whose key ends past that buffer, a last line
// without its '\n' — and sorting lines of 8 MB takes no memory for them
// (wide lines are sorted by their keys and copied from the file as they
// are written). Holding them, its merge kept one line of every run (a run
// held three lines of 8 MB), which grew with the number of such changes.
func TestWriteSortedWideLines(t *testing.T) {
	dir := t.TempDir()
	line := func(key string, width int) string {
		return fmt.Sprintf(`{"sync":"s","kind":"update","key":{"id":%s},"before":null,"after":{"v":"%s"}}`, key, strings.Repeat("x", width))
	}
	var lines []string
	for i := range 40 {
		width := []int{0, 10, wideChange, 70 << 10, 300 << 10}[i%5]
		lines = append(lines, line(strconv.Itoa(40-i), width))
	}
	lines = append(lines, fmt.Sprintf(`{"sync":"s","kind":"insert","key":{"id":"%s"},"before":null,"after":null}`, strings.Repeat("k", 100<<10)))
	check := func(name string, in []string, noNewline bool) {
		t.Helper()
		f, err := os.CreateTemp(dir, "part")
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		content := strings.Join(in, "\n")
		if !noNewline {
			content += "\n"
		}
		if _, err := f.WriteString(content); err != nil {
			t.Fatal(err)
		}
		if _, err := f.Seek(0, 0); err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		if err := writeSorted(&out, f, dir); err != nil {
			t.Fatal(err)
		}
		want := slices.Clone(in)
		slices.SortFunc(want, func(a, b string) int { return changeOrder([]byte(a), []byte(b)) })
		if got := out.String(); got != strings.Join(want, "\n")+"\n" {
			t.Errorf("%s: the lines are not those given in changeOrder (%d bytes, want %d)", name, len(got), len(strings.Join(want, "\n"))+1)
		}
	}
	check("mixed widths", lines, false)
	check("no final newline", lines, true)
	check("one wide line without its newline", []string{line("1", 100<<10)}, true)

	// 16 lines of 8 MB (128 MB), written to a file as they come out.
	f, err := os.CreateTemp(dir, "wide")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	bw := bufio.NewWriter(f)
	for i := range 16 {
		fmt.Fprintln(bw, line(strconv.Itoa((i*7)%16), 8<<20))
	}
	if err := bw.Flush(); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(filepath.Join(dir, "out"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	ow := bufio.NewWriterSize(out, 256<<10)
	grew := heappeak.Of(func() { err = writeSorted(ow, f, dir) })
	if err != nil {
		t.Fatal(err)
	}
	if err := ow.Flush(); err != nil {
		t.Fatal(err)
	}
	if grew > 16<<20 {
		t.Errorf("sorting 16 lines of 8 MB took %d MB of heap, want at most 16 MB", grew>>20)
	}
	st, err := out.Stat()
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := f.Stat(); st.Size() != fi.Size() {
		t.Errorf("wrote %d bytes, want %d", st.Size(), fi.Size())
	}
	if _, err := out.Seek(0, 0); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReaderSize(out, 1<<20)
	for i := range 16 {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if want := fmt.Sprintf(`{"id":%d}`, i); string(keyObject([]byte(l))) != want {
			t.Fatalf("line %d has the key %.40s, want %s", i+1, keyObject([]byte(l)), want)
		}
	}
}

// changeOrder is the order writeSorted gives the lines of one sync, on the
// lines themselves: by their "key" objects in linesort.NaturalJSON order,
// then by the whole line.
func changeOrder(a, b []byte) int {
	if c := linesort.NaturalJSON(keyObject(a), keyObject(b)); c != 0 {
		return c
	}
	return bytes.Compare(a, b)
}
