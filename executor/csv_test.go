package executor_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestApplyCSV applies a CSV source (PostgreSQL's CSV rules: "" is an empty
// string, an unquoted empty field NULL) and converges; a file changed after
// the plan so that a value no longer converts is refused as stale, with the
// table unchanged.
func TestApplyCSV(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE contacts (id bigint PRIMARY KEY, name text, score int)`)
	e.Dst(`INSERT INTO contacts VALUES (1, 'old', 1)`)
	csv := e.WriteFile("contacts.csv", "id,name,score\n1,Ann,10\n2,\"\",\n3,,30\n")
	cfg := e.Config(`
source "csv" "contacts" {
  path = "contacts.csv"
}

sync "contacts" {
  source      = source.csv.contacts
  destination = destination.postgres.dst
  table       = "contacts"
  behavior    = "mirror"
  key         = "id"
}
`)
	p := applyable(t, cfg)
	requirePlanned(t, p, planner.Counts{Insert: 2, Update: 1})
	res := apply(t, cfg, p, executor.Options{})
	requireApplied(t, res)
	e.Dst(`CREATE TABLE expected (id bigint, name text, score int)`)
	e.Dst(`INSERT INTO expected VALUES (1, 'Ann', 10), (2, '', NULL), (3, NULL, 30)`)
	requireSameRows(t, e, "contacts", "expected")
	requireConverged(t, cfg)

	if err := os.WriteFile(filepath.Join(e.Dir, "contacts.csv"), []byte("id,name,score\n1,Bob,10\n2,\"\",\n3,,30\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	p = applyable(t, cfg)
	if err := os.WriteFile(csv, []byte("id,name,score\n1,Bob,ten\n2,\"\",\n3,,30\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	before := e.DstDigest("contacts")
	res = apply(t, cfg, p, executor.Options{})
	requireFailed(t, res, "contacts", "plan is stale", "nothing was written")
	if got := e.DstDigest("contacts"); got != before {
		t.Errorf("the table changed after a refused apply")
	}
}

// TestCSVNowIsRefused: a CSV field 'now' for a date or time column is a
// rejected row. The destination reads it as the moment of the conversion,
// another one in the plan and in the apply: the plan was clean and every
// apply of it failed as stale, so no row of the file could ever be
// written. The other rows are written, and the next plan has nothing
// more to change; a key 'now' is an error of the plan.
func TestCSVNowIsRefused(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE events (id int PRIMARY KEY, at timestamptz, day date, t time)`)
	e.WriteFile("events.csv", "id,at,day,t\n1,now,2024-01-02,10:00\n2,2024-01-01 10:00:00+00,2024-01-02,10:00\n3,2024-01-01 10:00:00+00, NOW ,10:00\n4,2024-01-01 10:00:00+00,2024-01-02,Now\n5,2024-01-01 10:00:00+00,2024-01-02,\n")
	e.WriteFile("keys.csv", "at\nnow\n")
	cfg := e.Config(`
source "csv" "events" {
  path = "events.csv"
}
sync "events" {
  source      = source.csv.events
  destination = destination.postgres.dst
  table       = "events"
  behavior    = "update_or_create"
  key         = "id"
  on_reject   = "skip"
}`)
	p := applyable(t, cfg)
	sp := p.Syncs[0]
	if want := (planner.Counts{Insert: 2, Reject: 3}); sp.Counts != want {
		t.Fatalf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	text := synctest.FindingsText(sp)
	for _, want := range []string{"'now' is read as the time it is converted", `column "at"`, `column "day"`, `column "t"`, "id=1", "id=3", "id=4"} {
		if !strings.Contains(text, want) {
			t.Errorf("the findings do not say %q:\n%s", want, text)
		}
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT id::text FROM events ORDER BY id`), ","); got != "2,5" {
		t.Errorf("events holds ids %s, want 2,5", got)
	}
	requireConverged(t, cfg)

	e.Dst(`CREATE TABLE stamps (at timestamptz PRIMARY KEY)`)
	cfg = e.Config(`
source "csv" "keys" {
  path = "keys.csv"
}
sync "stamps" {
  source      = source.csv.keys
  destination = destination.postgres.dst
  table       = "stamps"
  behavior    = "update_or_create"
  key         = "at"
}`)
	p = plan(t, cfg)
	if text := synctest.FindingsText(p.Syncs[0]); !strings.Contains(text, "type_mismatch") || !strings.Contains(text, "'now' is read as the time it is converted") {
		t.Errorf("a key 'now':\n%s", text)
	}
}

// TestCSVMovingDaysAreRefused: 'today', 'tomorrow' and 'yesterday' are
// read from the date of the conversion, alone or with a time and a zone,
// and 'now' in an array element or a range bound from its time: a plan
// made one day is stale the next. Each such field is a rejected row that
// names its word; 'epoch' and 'infinity', which read the same every
// time, are written, as is a time's 'today', which is no time at all (a
// plain type error).
func TestCSVMovingDaysAreRefused(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE events (id int PRIMARY KEY, at timestamptz, day date, days date[], span tstzrange, t time)`)
	e.WriteFile("events.csv", `id,at,day,days,span,t
1,today 10:00,2024-01-02,{2024-01-01},,
2,epoch,infinity,"{2024-01-01,-infinity}","[2024-01-01,infinity)",allballs
3,2024-01-01 10:00:00+00,Tomorrow,,,
4,2024-01-01 10:00:00+00,2024-01-02,"{2024-01-01,""yesterday""}",,
5,2024-01-01 10:00:00+00,2024-01-02,,"[now,)",
6,2024-01-01 10:00:00+00,2024-01-02,{now},,
7,2024-01-01 10:00:00+00,2024-01-02,,,today
8,10:00 yesterday UTC,2024-01-02,,,
9,2024-01-01 10:00:00+00,2024-01-02,"{2024-01-01}","[2024-01-01,2024-01-02)",10:00
`)
	cfg := e.Config(`
source "csv" "events" {
  path = "events.csv"
}
sync "events" {
  source      = source.csv.events
  destination = destination.postgres.dst
  table       = "events"
  behavior    = "update_or_create"
  key         = "id"
  on_reject   = "skip"
}`)
	p := applyable(t, cfg)
	sp := p.Syncs[0]
	if want := (planner.Counts{Insert: 2, Reject: 7}); sp.Counts != want {
		t.Fatalf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	text := synctest.FindingsText(sp)
	for _, want := range []string{
		"'today' is read from the date it is converted", "'tomorrow' is read from the date", "'yesterday' is read from the date",
		"'now' is read as the time it is converted", `column "at"`, `column "day"`, `column "days"`, `column "span"`,
		"id=1", "id=3", "id=4", "id=5", "id=6", "id=8", `column "t": invalid input syntax for type time`,
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the findings do not say %q:\n%s", want, text)
		}
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT id::text FROM events ORDER BY id`), ","); got != "2,9" {
		t.Errorf("events holds ids %s, want 2,9", got)
	}
	requireConverged(t, cfg)

	e.Dst(`CREATE TABLE days (day date PRIMARY KEY)`)
	e.WriteFile("days.csv", "day\n2024-01-01\ntoday\n")
	cfg = e.Config(`
source "csv" "days" {
  path = "days.csv"
}
sync "days" {
  source      = source.csv.days
  destination = destination.postgres.dst
  table       = "days"
  behavior    = "update_or_create"
  key         = "day"
}`)
	if text := synctest.FindingsText(plan(t, cfg).Syncs[0]); !strings.Contains(text, "type_mismatch") || !strings.Contains(text, "'today' is read from the date it is converted") {
		t.Errorf("a key 'today':\n%s", text)
	}
}
