package cli

import (
	"bufio"
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rowform/rowform/cmd/rowform/internal/views"
	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/heappeak"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// rejectedResult is an apply result as the executor reports rows left out
// by on_reject = "skip": "contacts" left out 12 rows (more than apply's text
// output lists), "accounts" one, "events" none (rejectedRowsOf).
func rejectedResult() *executor.Result { return rejectedResultOf(rejectedRowsOf()) }

// rejectedRowsOf are the rows each sync of rejectedResult left out.
func rejectedRowsOf() [][]planner.RejectedRow {
	var contacts []planner.RejectedRow
	for i := range 10 {
		contacts = append(contacts, planner.RejectedRow{
			Sync: "contacts", Kind: "insert", Key: map[string]string{"id": string(rune('0' + i))},
			Line: 2 + i, Column: "name", Reason: "value too long for type character varying(20)",
		})
	}
	contacts = append(contacts,
		planner.RejectedRow{Sync: "contacts", Kind: "delete", Key: map[string]string{"id": "30"},
			Constraint: "orders_contact_id_fkey", Reason: "other rows still refer to it"},
		planner.RejectedRow{Sync: "contacts", Kind: "delete", Key: map[string]string{"id": "31"},
			Constraint: "orders_contact_id_fkey", Reason: "other rows still refer to it"},
	)
	accounts := []planner.RejectedRow{{
		Sync: "accounts", Kind: "update", Key: map[string]string{"id": "7", "tenant": "acme"},
		Constraint: "accounts_plan_check",
		Reason:     "new row violates check constraint \"accounts_plan_check\"\x1b[2J",
	}}
	return [][]planner.RejectedRow{contacts, accounts, nil}
}

// rejectedResultOf is rejectedResult with rows as the rows its syncs left
// out.
func rejectedResultOf(rows [][]planner.RejectedRow) *executor.Result {
	res := &executor.Result{Syncs: []*executor.SyncResult{
		{Name: "contacts", Table: "public.contacts", Status: executor.StatusApplied,
			Applied: planner.Counts{Insert: 40, Delete: 2, Reject: 12}},
		{Name: "accounts", Table: "public.accounts", Status: executor.StatusApplied,
			Applied: planner.Counts{Update: 1, Reject: 1}},
		{Name: "events", Table: "public.events", Status: executor.StatusApplied, Applied: planner.Counts{Insert: 3}},
	}}
	for i, r := range res.Syncs {
		var err error
		if r.Rejected, err = planner.NewRejectedRows(rows[i]); err != nil {
			panic(err)
		}
	}
	return res
}

// rejectedPlan is the plan rejectedResult applied: it gives the key order.
func rejectedPlan() *planner.Plan {
	p := &planner.Plan{Syncs: []*planner.SyncPlan{
		{Name: "contacts", Table: "public.contacts", Key: []string{"id"}},
		{Name: "accounts", Table: "public.accounts", Key: []string{"tenant", "id"}},
		{Name: "events", Table: "public.events", Key: []string{"id"}},
	}}
	p.Finish()
	return p
}

// readRejectsFile decodes a rejects file, failing on anything but one
// RejectedRow a line.
func readRejectsFile(t *testing.T, path string) []planner.RejectedRow {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var rows []planner.RejectedRow
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		dec := json.NewDecoder(strings.NewReader(sc.Text()))
		dec.DisallowUnknownFields()
		var r planner.RejectedRow
		if err := dec.Decode(&r); err != nil {
			t.Fatalf("line %q of %s: %v", sc.Text(), path, err)
		}
		if r.Key == nil {
			t.Errorf("line %q of %s: \"key\" is not an object", sc.Text(), path)
		}
		rows = append(rows, r)
	}
	if len(b) > 0 && b[len(b)-1] != '\n' {
		t.Errorf("%s does not end with a newline", path)
	}
	return rows
}

// onlyFile checks that dir holds exactly the file name (no temporary file
// left behind) and that it has mode 0600.
func onlyFile(t *testing.T, dir, name string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	if !reflect.DeepEqual(names, []string{name}) {
		t.Errorf("%s holds %q, want only %q", dir, names, name)
	}
	fi, err := os.Stat(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("%s has mode %v, want 0600", name, fi.Mode().Perm())
	}
}

// TestWriteRejectsFile: every rejected row, one JSON line each in sync order,
// replacing what the file held, mode 0600, through the redactor.
func TestWriteRejectsFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "rejects.jsonl")
	// A longer file with other permissions is replaced, not overwritten in
	// place.
	if err := os.WriteFile(path, bytes.Repeat([]byte("stale line\n"), 1000), 0o644); err != nil {
		t.Fatal(err)
	}
	rows := rejectedRowsOf()
	// The executor should always set Sync and Key; the file has them anyway.
	rows[1][0].Sync = ""
	rows[0][11].Key = nil
	res := rejectedResultOf(rows)
	redact := func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("acme"), []byte("(sensitive)")) }
	if err := writeRejectsFile(path, res, redact); err != nil {
		t.Fatal(err)
	}
	onlyFile(t, dir, "rejects.jsonl")
	got := readRejectsFile(t, path)

	var want []planner.RejectedRow
	for _, r := range rejectedRowsOf() {
		want = append(want, r...)
	}
	want[11].Key = map[string]string{}
	want[12].Key["tenant"] = "(sensitive)"
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("the file differs from the rejected rows (-want +got):\n%s", d)
	}
	raw, _ := os.ReadFile(path)
	if first := strings.SplitN(string(raw), "\n", 2)[0]; first != `{"sync":"contacts","kind":"insert","key":{"id":"0"},"line":2,"column":"name","reason":"value too long for type character varying(20)"}` {
		t.Errorf("first line: %s", first)
	}

	// An apply that left nothing out leaves an empty file.
	if err := writeRejectsFile(path, &executor.Result{Syncs: []*executor.SyncResult{{Name: "s", Status: executor.StatusApplied}}}, nil); err != nil {
		t.Fatal(err)
	}
	onlyFile(t, dir, "rejects.jsonl")
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Errorf("no rejected row, but the file holds %q", b)
	}
}

// TestWriteRejectsFileFailure: a file that cannot be written is an error and
// leaves no temporary file behind.
func TestWriteRejectsFileFailure(t *testing.T) {
	dir := t.TempDir()
	// The path is a directory: the rename fails after the rows were written.
	if err := os.Mkdir(filepath.Join(dir, "taken"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := writeRejectsFile(filepath.Join(dir, "taken"), rejectedResult(), nil); err == nil {
		t.Error("writing over a directory: no error")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 || entries[0].Name() != "taken" {
		var names []string
		for _, e := range entries {
			names = append(names, e.Name())
		}
		t.Errorf("after the failure %s holds %q, want only \"taken\"", dir, names)
	}
	// The directory does not exist.
	if err := writeRejectsFile(filepath.Join(dir, "missing", "rejects.jsonl"), rejectedResult(), nil); err == nil {
		t.Error("writing into a missing directory: no error")
	}
}

// TestApplyRejectsFileFlag: apply has -rejects-file=FILE; plan does not.
func TestApplyRejectsFileFlag(t *testing.T) {
	var f applyFlags
	fs := newFlagSet("apply")
	f.bind(fs)
	if err := fs.Parse([]string{"-auto-approve", "-rejects-file=out/rejects.jsonl"}); err != nil {
		t.Fatal(err)
	}
	f.setArgs(fs.Args())
	if err := f.check(); err != nil {
		t.Fatal(err)
	}
	if f.rejectsFile != "out/rejects.jsonl" {
		t.Errorf("rejectsFile = %q", f.rejectsFile)
	}
	// It combines with a saved plan.
	f = applyFlags{}
	fs = newFlagSet("apply")
	f.bind(fs)
	if err := fs.Parse([]string{"-rejects-file", "r.jsonl", "saved.plan"}); err != nil {
		t.Fatal(err)
	}
	f.setArgs(fs.Args())
	if err := f.check(); err != nil || f.rejectsFile != "r.jsonl" || f.planFile != "saved.plan" {
		t.Errorf("with a plan file: rejectsFile %q, planFile %q, %v", f.rejectsFile, f.planFile, err)
	}

	r := runCLI(t, "apply", "-help")
	r.expect(t, exitOK)
	if !strings.Contains(r.stdout, "-rejects-file=FILE") {
		t.Errorf("apply -help lacks -rejects-file=FILE:\n%s", r.stdout)
	}
	r = runCLI(t, "plan", "-rejects-file=x")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "-rejects-file") {
		t.Errorf("plan -rejects-file: %s", r.stderr)
	}
}

// TestApplyResultRejectedRows: apply's text output lists up to 10 rejected
// rows per sync, keys in key order, server text escaped, and says where the
// others are.
func TestApplyResultRejectedRows(t *testing.T) {
	for _, rejectsFile := range []string{"", "rejects.jsonl"} {
		var out bytes.Buffer
		_ = views.RenderApplyText(&out, rejectedResult(), rejectedPlan(), views.ApplyTextOptions{RejectsFile: rejectsFile})
		text := out.String()
		for _, want := range []string{
			"✓ sync \"contacts\": 40 inserted, 0 updated, 2 deleted, 12 rejected (0s)\n    ! 12 rejected:\n" +
				"        insert id=0 (CSV line 2): value too long for type character varying(20) (column name)\n",
			"        insert id=9 (CSV line 11): value too long for type character varying(20) (column name)\n        ... and 2 more (",
			"✓ sync \"accounts\": 0 inserted, 1 updated, 0 deleted, 1 rejected (0s)\n    ! 1 rejected:\n" +
				`        update tenant="acme" id=7: new row violates check constraint "accounts_plan_check"\x1b[2J (constraint accounts_plan_check)` + "\n",
			"✓ sync \"events\": 3 inserted, 0 updated, 0 deleted (0s)\n",
			"Apply complete: 43 inserted, 1 updated, 2 deleted, 13 rejected in 3 syncs.",
		} {
			if !strings.Contains(text, want) {
				t.Errorf("-rejects-file=%q: output lacks\n%s\nin\n%s", rejectsFile, want, text)
			}
		}
		more := "... and 2 more (-rejects-file=FILE writes them all)\n"
		if rejectsFile != "" {
			more = "... and 2 more (all in rejects.jsonl)\n"
		}
		if !strings.Contains(text, more) {
			t.Errorf("output lacks %q:\n%s", more, text)
		}
		if strings.Contains(text, "id=30") || strings.ContainsRune(text, 0x1b) {
			t.Errorf("output lists an 11th row or has a raw escape:\n%q", text)
		}
	}

	// Without rejected rows the output keeps its form.
	var out bytes.Buffer
	_ = views.RenderApplyText(&out, &executor.Result{Syncs: []*executor.SyncResult{{Name: "s", Status: executor.StatusApplied,
		Applied: planner.Counts{Insert: 8}}}}, rejectedPlan(), views.ApplyTextOptions{})
	if want := "\n✓ sync \"s\": 8 inserted, 0 updated, 0 deleted (0s)\n\nApply complete: 8 inserted, 0 updated, 0 deleted in 1 sync.\n"; out.String() != want {
		t.Errorf("output\n%q\nwant\n%q", out.String(), want)
	}
}

// TestApplyDocumentRejected: apply -json has, per sync, "rejected" (always
// an array) and "reject" in its "applied" counts, and "reject" in the
// summary.
func TestApplyDocumentRejected(t *testing.T) {
	b, err := json.Marshal(views.NewApplyDocument(rejectedResult(), rejectedPlan()))
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Syncs []struct {
			Name     string                `json:"name"`
			Applied  map[string]int64      `json:"applied"`
			Rejected []planner.RejectedRow `json:"rejected"`
		} `json:"syncs"`
		Summary map[string]int64 `json:"summary"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		t.Fatal(err)
	}
	res := rejectedResult()
	for i, s := range doc.Syncs {
		want := rejectedRowsOf()[i]
		if want == nil {
			want = []planner.RejectedRow{}
		}
		if d := cmp.Diff(want, s.Rejected); d != "" {
			t.Errorf("%s: rejected differs (-want +got):\n%s", s.Name, d)
		}
		if s.Applied["reject"] != res.Syncs[i].Applied.Reject {
			t.Errorf("%s: applied.reject = %d", s.Name, s.Applied["reject"])
		}
	}
	if doc.Summary["reject"] != 13 || doc.Summary["insert"] != 43 {
		t.Errorf("summary %v", doc.Summary)
	}
	if !bytes.Contains(b, []byte(`"name":"events","table":"public.events","status":"applied","applied":{"insert":3,"update":0,"delete":0,"unchanged":0,"skipped":0,"reject":0},"rejected":[]`)) {
		t.Errorf("a sync without rejected rows has no empty \"rejected\" array:\n%s", b)
	}
	// Nothing to apply: every sync still has its array.
	b, _ = json.Marshal(views.NewApplyDocument(&executor.Result{}, rejectedPlan()))
	if got := bytes.Count(b, []byte(`"rejected":[]`)); got != 3 {
		t.Errorf("nothing to apply: %d empty \"rejected\" arrays, want 3:\n%s", got, b)
	}
}

// TestApplyRejectsFileEndToEnd runs apply -rejects-file against real
// servers: the file, relative to the configuration directory, is replaced
// after every apply that gets as far as applying (empty when no row was
// left out), also when there is nothing to apply, and a file that cannot be
// written fails the command.
// TestApplyRejectsFileSkip covers the file with rows in it.
func TestApplyRejectsFileEndToEnd(t *testing.T) {
	t.Parallel()
	e := applyEnv(t)
	out := filepath.Join(e.Dir, "out")
	if err := os.Mkdir(out, 0o755); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(out, "rejects.jsonl")
	if err := os.WriteFile(path, []byte("{\"stale\":true}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A file that cannot be written is refused before anything is
	// applied: the apply after it still has its changes to make.
	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-auto-approve", "-json", "-rejects-file=missing/rejects.jsonl")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "-rejects-file cannot be written") || !strings.Contains(r.stderr, "nothing was applied") || r.stdout != "" {
		t.Errorf("an unwritable rejects file: stdout %q, stderr:\n%s", r.stdout, r.stderr)
	}
	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-auto-approve", "-no-color", "-rejects-file=out/rejects.jsonl")
	r.expect(t, exitOK)
	if !strings.Contains(r.stdout, "Apply complete") {
		t.Errorf("the apply after the refused one had nothing to apply:\n%s", r.stdout)
	}
	applyRequireSynced(t, e)
	onlyFile(t, out, "rejects.jsonl")
	if rows := readRejectsFile(t, path); len(rows) != 0 {
		t.Errorf("nothing was rejected, but the file holds %+v", rows)
	}
	if strings.Contains(r.stdout, "rejected") {
		t.Errorf("apply without rejected rows mentions them:\n%s", r.stdout)
	}

	// Nothing to apply: the file is still rewritten, here with -json.
	if err := os.WriteFile(path, []byte("{\"stale\":true}\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-auto-approve", "-json", "-rejects-file="+path)
	r.expect(t, exitOK)
	doc := decodeApplyJSON(t, r.stdout)
	if len(doc.Syncs) != 1 || doc.Syncs[0].Status != "no_changes" {
		t.Errorf("second apply: %s", r.stdout)
	}
	onlyFile(t, out, "rejects.jsonl")
	if b, _ := os.ReadFile(path); len(b) != 0 {
		t.Errorf("the file still holds %q", b)
	}

	// A directory cannot be the file: refused, and said why.
	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-auto-approve", "-no-color", "-rejects-file=out")
	r.expect(t, exitError)
	if !strings.Contains(r.stderr, "is a directory") {
		t.Errorf("stderr:\n%s", r.stderr)
	}
	onlyFile(t, out, "rejects.jsonl")
}

// TestSyncFlagTakesDependencies: plan and apply -sync=NAME also cover the
// syncs NAME depends on, transitively, and say so on stderr (not with -json).
func TestSyncFlagTakesDependencies(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id bigint, name text)`)
	e.Src(`INSERT INTO items SELECT i, 'n' || i FROM generate_series(1, 3) i`)
	var syncs string
	for _, s := range []struct{ name, deps string }{
		{"child", "[sync.parent]"}, {"parent", "[sync.grandparent]"}, {"grandparent", "[]"}, {"other", "[]"},
	} {
		e.Dst(`CREATE TABLE ` + s.name + ` (id bigint PRIMARY KEY, name text)`)
		syncs += `
sync "` + s.name + `" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM items"
  destination = destination.postgres.dst
  table       = "` + s.name + `"
  behavior    = "mirror"
  key         = ["id"]
  depends_on  = ` + s.deps + `
}
`
	}
	e.WriteFile("main.hcl", e.Servers()+syncs)
	including := "Including sync \"parent\" (sync \"child\" depends on it).\n" +
		"Including sync \"grandparent\" (sync \"parent\" depends on it).\n"

	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-no-color", "-sync=child")
	r.expect(t, exitOK)
	if r.stderr != including {
		t.Errorf("stderr:\n%s\nwant\n%s", r.stderr, including)
	}
	for _, want := range []string{`sync "grandparent"`, `sync "parent"`, `sync "child"`, "Plan: 9 to insert, 0 to update, 0 to delete in 3 syncs."} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("plan -sync=child lacks %q:\n%s", want, r.stdout)
		}
	}
	if strings.Contains(r.stdout, `sync "other"`) {
		t.Errorf("plan -sync=child plans other:\n%s", r.stdout)
	}

	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-json", "-sync=child")
	r.expect(t, exitOK)
	if r.stderr != "" {
		t.Errorf("plan -json: stderr %q", r.stderr)
	}
	if got := decodeOne(t, r.stdout).syncNames(); !reflect.DeepEqual(got, []string{"grandparent", "parent", "child"}) {
		t.Errorf("plan -json -sync=child plans %q", got)
	}

	// Naming a sync and what it depends on adds nothing.
	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "plan", "-no-color", "-sync=parent", "-sync=grandparent")
	r.expect(t, exitOK)
	if r.stderr != "" {
		t.Errorf("plan -sync=parent -sync=grandparent: stderr %q", r.stderr)
	}

	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-auto-approve", "-no-color", "-sync=parent")
	r.expect(t, exitOK)
	if want := "Including sync \"grandparent\" (sync \"parent\" depends on it).\n"; r.stderr != want {
		t.Errorf("apply stderr:\n%s\nwant\n%s", r.stderr, want)
	}
	for table, want := range map[string]string{"grandparent": "3", "parent": "3", "child": "0", "other": "0"} {
		if got := e.DstQuery(`SELECT count(*) FROM ` + table)[0]; got != want {
			t.Errorf("after apply -sync=parent, %s has %s rows, want %s", table, got, want)
		}
	}
}

// TestApplyRejectsFileSkip: with on_reject = "skip", apply writes the rows
// the destination accepts, lists the first 10 it left out, and
// -rejects-file has all of them; an apply with nothing else to do still
// reports them; once the table accepts them they are applied and the file
// is empty.
func TestApplyRejectsFileSkip(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	// Names n1..n9 fit varchar(2); n10..n25 are too long.
	e.Src(`CREATE TABLE items (id bigint, name text)`)
	e.Src(`INSERT INTO items SELECT g, 'n' || g FROM generate_series(1, 25) g`)
	e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name varchar(2))`)
	e.WriteFile("main.hcl", e.Servers()+`
sync "items" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM items"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "update_or_create"
  key         = ["id"]
  on_reject   = "skip"
}
`)
	path := filepath.Join(e.Dir, "rejects.jsonl")
	requireRejects := func(when string) {
		t.Helper()
		rows := readRejectsFile(t, path)
		if len(rows) != 16 {
			t.Fatalf("%s: the file holds %d rows, want 16: %+v", when, len(rows), rows)
		}
		ids := map[string]bool{}
		for _, r := range rows {
			if r.Sync != "items" || r.Kind != "insert" || r.Reason == "" {
				t.Errorf("%s: rejected row %+v", when, r)
			}
			ids[r.Key["id"]] = true
		}
		for id := 10; id <= 25; id++ {
			if !ids[strconv.Itoa(id)] {
				t.Errorf("%s: id %d is not in the file: %+v", when, id, rows)
			}
		}
	}

	r := runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-auto-approve", "-no-color", "-rejects-file=rejects.jsonl")
	r.expect(t, exitOK)
	for _, want := range []string{
		"Plan: 9 to insert, 0 to update, 0 to delete, 16 rejected in 1 sync; 1 warning.",
		`✓ sync "items": 9 inserted, 0 updated, 0 deleted, 16 rejected (`,
		"    ! 16 rejected:\n        insert id=",
		"        ... and 6 more (all in rejects.jsonl)\n",
		"Apply complete: 9 inserted, 0 updated, 0 deleted, 16 rejected in 1 sync.",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("apply output lacks %q:\n%s", want, r.stdout)
		}
	}
	if got := e.DstQuery(`SELECT count(*) FROM items`)[0]; got != "9" {
		t.Errorf("the table has %s rows, want 9", got)
	}
	requireRejects("first apply")
	fi, err := os.Stat(path)
	if err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("the rejects file: %v, %v", fi, err)
	}

	// Nothing else to do: the rows are still reported, in -json too.
	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-auto-approve", "-json", "-rejects-file=rejects.jsonl")
	r.expect(t, exitOK)
	var doc struct {
		Syncs []struct {
			Status   string                `json:"status"`
			Applied  map[string]int64      `json:"applied"`
			Rejected []planner.RejectedRow `json:"rejected"`
		} `json:"syncs"`
		Summary map[string]int64 `json:"summary"`
	}
	if err := json.Unmarshal([]byte(r.stdout), &doc); err != nil {
		t.Fatalf("%v:\n%s", err, r.stdout)
	}
	if len(doc.Syncs) != 1 || doc.Syncs[0].Status != "no_changes" || len(doc.Syncs[0].Rejected) != 16 ||
		doc.Syncs[0].Applied["reject"] != 16 || doc.Summary["reject"] != 16 {
		t.Errorf("second apply -json:\n%s", r.stdout)
	}
	requireRejects("second apply")

	// Once the table takes the long names, they are applied and nothing is
	// rejected.
	e.Dst(`ALTER TABLE items ALTER COLUMN name TYPE text`)
	r = runCLIWith(t, e.Environ, "", "-chdir="+e.Dir, "apply", "-auto-approve", "-no-color", "-rejects-file=rejects.jsonl")
	r.expect(t, exitOK)
	if !strings.Contains(r.stdout, "Apply complete: 16 inserted, 0 updated, 0 deleted in 1 sync.") {
		t.Errorf("third apply:\n%s", r.stdout)
	}
	if rows := readRejectsFile(t, path); len(rows) != 0 {
		t.Errorf("nothing was rejected, but the file holds %+v", rows)
	}
}

// TestRejectedRowsOutputMemory: apply -json and -rejects-file read the
// rejected rows one at a time from where the executor keeps them (on disk
// past a few): writing 300,000 of them, some 80 MB of JSON, takes a few
// MB of heap, not the document's size.
func TestRejectedRowsOutputMemory(t *testing.T) {
	if raceDetector {
		t.Skip("the race detector's allocations are not the code's")
	}
	const n = 300000
	rows := make([]planner.RejectedRow, n)
	for i := range rows {
		rows[i] = planner.RejectedRow{Sync: "big", Kind: "insert", Key: map[string]string{"id": strconv.Itoa(i), "tenant": "acme"},
			Line: i + 2, Column: "name", Reason: "value too long for type character varying(20)"}
	}
	rejected, err := planner.NewRejectedRows(rows)
	if err != nil {
		t.Fatal(err)
	}
	defer rejected.Close()
	rows = nil
	res := &executor.Result{Syncs: []*executor.SyncResult{{Name: "big", Table: "public.big", Status: executor.StatusApplied,
		Applied: planner.Counts{Reject: n}, Rejected: rejected}}}
	p := &planner.Plan{Syncs: []*planner.SyncPlan{{Name: "big", Table: "public.big", Key: []string{"id"}}}}
	p.Finish()
	path := filepath.Join(t.TempDir(), "rejects.jsonl")
	var written int64
	doc := countingWriter{n: &written}

	var docErr, fileErr error
	grew := heappeak.Of(func() {
		docErr = views.WriteApplyDocument(doc, views.NewApplyDocument(res, p))
		fileErr = writeRejectsFile(path, res, func(b []byte) []byte { return bytes.ReplaceAll(b, []byte("acme"), []byte("(sensitive)")) })
	})
	if docErr != nil || fileErr != nil {
		t.Fatal(docErr, fileErr)
	}
	t.Logf("writing %d rejected rows (a %d MB document, and the file) took %d MB of heap at most", n, written>>20, grew>>20)
	if grew > 16<<20 {
		t.Errorf("writing %d rejected rows (a %d MB document) took %d MB of heap, want at most 16 MB", n, written>>20, grew>>20)
	}
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	lines := 0
	for ; sc.Scan(); lines++ {
		if want := `{"sync":"big","kind":"insert","key":{"id":"` + strconv.Itoa(lines) + `","tenant":"(sensitive)"},"line":` + strconv.Itoa(lines+2); !strings.HasPrefix(sc.Text(), want) {
			t.Fatalf("line %d is %s, want it to begin %s", lines+1, sc.Text(), want)
		}
	}
	if lines != n || written < 64<<20 {
		t.Errorf("the file has %d lines, the document %d bytes", lines, written)
	}
}

// countingWriter counts the bytes written to it, and drops them.
type countingWriter struct{ n *int64 }

func (w countingWriter) Write(b []byte) (int, error) {
	*w.n += int64(len(b))
	return len(b), nil
}
