package planner_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestSamples checks -show-rows: at most N rows per change type, the first
// ones in key order, updates showing only the changed columns, and
// sensitive columns masked everywhere, keys included.
func TestSamples(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE people (id bigint, name text, email text)`)
	e.Src(`INSERT INTO people SELECT i, 'n' || i, 'secret' || i || '@example.com' FROM generate_series(1, 10) i`)
	e.Src(`INSERT INTO people VALUES (11, 'dup', 'secret3@example.com')`)
	e.Dst(`CREATE TABLE people (id bigint PRIMARY KEY, name text, email text)`)
	// 1..5 only in the source; 6..10 on both: 6 and 7 with another name, 8
	// with another email, 9 with both; 12..16 only in the destination.
	e.Dst(`INSERT INTO people SELECT i, 'n' || i, 'secret' || i || '@example.com' FROM generate_series(6, 10) i`)
	e.Dst(`UPDATE people SET name = 'old' WHERE id IN (6, 7, 9)`)
	e.Dst(`UPDATE people SET email = 'oldsecret@example.com' WHERE id IN (8, 9)`)
	e.Dst(`INSERT INTO people SELECT i, 'n' || i, 'secret' || i || '@example.com' FROM generate_series(12, 16) i`)
	e.Dst(`CREATE TABLE by_email (email text PRIMARY KEY, name text)`)

	cfg := e.Config(`
sync "people" {
  source      = source.postgres.src
  query       = "SELECT id, name, email FROM people WHERE id <= 10"
  destination = destination.postgres.dst
  table       = "people"
  behavior    = "mirror"
  key         = "id"
  sensitive_columns = ["email"]
}

sync "by_email" {
  source      = source.postgres.src
  query       = "SELECT email, name FROM people"
  destination = destination.postgres.dst
  table       = "by_email"
  behavior    = "update_or_create"
  key         = "email"
  sensitive_columns = ["email"]
}
`)
	p := plan(t, cfg, planner.Options{ShowRows: 2})
	sp := syncNamed(t, p, "people")
	if len(sp.Findings) > 0 || !sp.Diffed {
		t.Fatalf("people: unexpected findings (diffed=%v):\n%s", sp.Diffed, synctest.FindingsText(sp))
	}
	if want := (planner.Counts{Insert: 5, Update: 4, Delete: 5, Unchanged: 1}); sp.Counts != want {
		t.Errorf("people: counts %+v, want %+v", sp.Counts, want)
	}
	if sp.Samples == nil {
		t.Fatal("people: no samples with ShowRows=2")
	}
	s := sp.Samples
	if len(s.Insert) != 2 || len(s.Update) != 2 || len(s.Delete) != 2 {
		t.Fatalf("people: %d/%d/%d insert/update/delete samples, want 2 of each", len(s.Insert), len(s.Update), len(s.Delete))
	}
	// The first rows in key order.
	for i, want := range []struct{ kind, id string }{
		{"insert", "1"}, {"insert", "2"}, {"update", "6"}, {"update", "7"}, {"delete", "12"}, {"delete", "13"},
	} {
		rows := map[string][]planner.SampleRow{"insert": s.Insert, "update": s.Update, "delete": s.Delete}[want.kind]
		if got := rows[i%2].Key; len(got) != 1 || got[0] != want.id {
			t.Errorf("people: %s sample %d has key %v, want [%s]", want.kind, i%2, got, want.id)
		}
	}
	if got, want := sampleColumns(sp, "insert", "1"), `name="n1" email="(sensitive)"`; got != want {
		t.Errorf("people: insert sample: %s, want %s", got, want)
	}
	if got, want := sampleColumns(sp, "update", "6"), `name="old"->"n6"`; got != want {
		t.Errorf("people: update sample shows more than the changed column: %s, want %s", got, want)
	}
	for _, c := range s.Delete[0].Columns {
		if c.Name == "email" && c.Before != planner.Sensitive {
			t.Errorf("people: delete sample shows email %q", c.Before)
		}
	}

	// Only the sensitive column changed on rows 8 and 9: with -show-rows=4
	// they show as (sensitive) -> (sensitive).
	sp = syncNamed(t, plan(t, cfg, planner.Options{ShowRows: 4}), "people")
	if got, want := sampleColumns(sp, "update", "8"), `email="(sensitive)"->"(sensitive)"`; got != want {
		t.Errorf("people: update of a sensitive column: %s, want %s", got, want)
	}
	if got, want := sampleColumns(sp, "update", "9"), `name="old"->"n9" email="(sensitive)"->"(sensitive)"`; got != want {
		t.Errorf("people: update sample of id=9: %s, want %s", got, want)
	}

	// A sensitive key is masked in samples and in duplicate-key examples.
	be := syncNamed(t, p, "by_email")
	if f := findingWith(be, planner.CodeDuplicateSourceKey, ""); f == nil || strings.Join(f.Examples, " ") != "email=(sensitive)" {
		t.Errorf("by_email: no duplicate_source_key finding with a masked example:\n%s", synctest.FindingsText(be))
	}
	if be.Samples != nil {
		for _, r := range be.Samples.Insert {
			if len(r.Key) != 1 || r.Key[0] != planner.Sensitive {
				t.Errorf("by_email: insert sample key %v, want [(sensitive)]", r.Key)
			}
		}
	}

	// No rendering of the plan holds a sensitive value.
	b, err := json.Marshal(p)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "example.com") {
		t.Errorf("the plan's JSON holds a sensitive value:\n%s", b)
	}

	// Without -show-rows there are no samples.
	if sp := syncNamed(t, plan(t, cfg, planner.Options{}), "people"); sp.Samples != nil {
		t.Errorf("samples without ShowRows: %+v", sp.Samples)
	}
}

// TestSampleTextNULLIsNotNULL: a text value "NULL" replacing a NULL is an
// update, and its sample must let a reader tell the two apart.
func TestSampleTextNULLIsNotNULL(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE t (id bigint, name text)`)
	e.Src(`INSERT INTO t VALUES (1, 'NULL')`)
	e.Dst(`CREATE TABLE t (id bigint PRIMARY KEY, name text)`)
	e.Dst(`INSERT INTO t VALUES (1, NULL)`)
	cfg := e.Config(`
sync "t" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM t"
  destination = destination.postgres.dst
  table       = "t"
  behavior    = "update_or_create"
  key         = "id"
}
`)
	sp := syncNamed(t, plan(t, cfg, planner.Options{ShowRows: 1}), "t")
	if sp.Counts != (planner.Counts{Update: 1}) {
		t.Fatalf("counts %+v, want 1 update", sp.Counts)
	}
	if sp.Samples == nil || len(sp.Samples.Update) != 1 || len(sp.Samples.Update[0].Columns) != 1 {
		t.Fatalf("samples %+v, want one update of name", sp.Samples)
	}
	if c := sp.Samples.Update[0].Columns[0]; c.Before == c.After {
		t.Errorf("the update NULL -> 'NULL' is shown as %q -> %q: a reader cannot tell what changes", c.Before, c.After)
	}
}

// TestApplicationName: the sessions of a sync show as rowform/<sync> in
// pg_stat_activity; the source query sees its own session's name.
func TestApplicationName(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE app (id bigint PRIMARY KEY, name text)`)
	cfg := e.Config(`
sync "who_am_i" {
  source      = source.postgres.src
  query       = "SELECT 1::bigint AS id, current_setting('application_name') AS name"
  destination = destination.postgres.dst
  table       = "app"
  behavior    = "append"
  key         = "id"
}
`)
	sp := syncNamed(t, plan(t, cfg, planner.Options{ShowRows: 1}), "who_am_i")
	if got, want := sampleColumns(sp, "insert", "1"), `name="rowform/who_am_i"`; got != want {
		t.Errorf("insert sample %s, want %s\n%s", got, want, synctest.FindingsText(sp))
	}
}

// TestSampleValuesAreCut: a sample shows the first 4096 bytes of a long
// value, cut at a character's end, and how many bytes it leaves out; a
// short value is shown whole.
func TestSampleValuesAreCut(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE t (id bigint, body text, note text)`)
	// 'é' is two bytes: byte 4096 falls inside one.
	e.Src(`INSERT INTO t VALUES (1, 'a' || repeat('é', 50000), 'short')`)
	e.Dst(`CREATE TABLE t (id bigint PRIMARY KEY, body text, note text)`)
	cfg := e.Config(`
sync "t" {
  source      = source.postgres.src
  query       = "SELECT id, body, note FROM t"
  destination = destination.postgres.dst
  table       = "t"
  behavior    = "update_or_create"
  key         = "id"
}
`)
	sp := syncNamed(t, plan(t, cfg, planner.Options{ShowRows: 1}), "t")
	if sp.Samples == nil || len(sp.Samples.Insert) != 1 || len(sp.Samples.Insert[0].Columns) != 2 {
		t.Fatalf("samples %+v, want one insert", sp.Samples)
	}
	body, note := sp.Samples.Insert[0].Columns[0].After, sp.Samples.Insert[0].Columns[1].After
	want := "a" + strings.Repeat("é", 2047) + "… (95906 more bytes)"
	if body != want {
		t.Errorf("a 100001-byte value shows as %d bytes ending %q, want %d ending %q", len(body), body[len(body)-30:], len(want), want[len(want)-30:])
	}
	if note != "short" {
		t.Errorf("a short value shows as %q", note)
	}
}
