package executor_test

import (
	"fmt"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestApplyKeyEquality: keys equal under the destination key type's
// equality but not in bytes — a source numeric 1.0 against a stored 1.00, a
// citext 'Foo' against a stored 'foo', an interval '1 mon' against a stored
// '30 days', a numeric[] '{1.0,2}' against a stored '{1.00,2.0}', from a
// query and from a CSV file —
// are matched as the unique index matches them. The plan updates or keeps
// those rows instead of inserting them (which the index would refuse) or,
// under a mirror, deleting and inserting them; apply succeeds, leaves the
// stored keys as they were, and a plan right after has nothing to change.
// An initial load of such keys into an empty table converges too.
func TestApplyKeyEquality(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE EXTENSION citext`)
	e.Src(`CREATE TABLE nums (id numeric, name text)`)
	e.Src(`INSERT INTO nums VALUES (1.0, 'a'), (2.5, 'new'), (4, 'd')`)
	e.Src(`CREATE TABLE names (id text, name text)`)
	e.Src(`INSERT INTO names VALUES ('Foo', 'a'), ('BAR', 'new'), ('new', 'n')`)
	for _, table := range []string{"num_upsert", "num_mirror", "num_csv"} {
		e.Dst(fmt.Sprintf(`CREATE TABLE %s (id numeric PRIMARY KEY, name text)`, table))
		e.Dst(fmt.Sprintf(`INSERT INTO %s VALUES (1.00, 'a'), (2.50, 'old'), (9.90, 'gone')`, table))
	}
	for _, table := range []string{"ci_upsert", "ci_mirror"} {
		e.Dst(fmt.Sprintf(`CREATE TABLE %s (id citext PRIMARY KEY, name text)`, table))
		e.Dst(fmt.Sprintf(`INSERT INTO %s VALUES ('foo', 'a'), ('bar', 'old'), ('gone', 'g')`, table))
	}
	e.Dst(`CREATE TABLE num_load (id numeric PRIMARY KEY, name text)`)
	e.Src(`CREATE TABLE ivals (id interval, name text); INSERT INTO ivals VALUES ('1 mon', 'a'), ('1 day', 'new'), ('1 year', 'n')`)
	e.Dst(`CREATE TABLE ival_mirror (id interval PRIMARY KEY, name text); INSERT INTO ival_mirror VALUES ('30 days', 'a'), ('24:00:00', 'old'), ('5 days', 'gone')`)
	e.Src(`CREATE TABLE arrs (id numeric[], name text); INSERT INTO arrs VALUES ('{1.0,2}', 'a'), ('{3}', 'new'), ('{4}', 'd')`)
	e.Dst(`CREATE TABLE arr_mirror (id numeric[] PRIMARY KEY, name text); INSERT INTO arr_mirror VALUES ('{1.00,2.0}', 'a'), ('{3.000}', 'old'), ('{9}', 'gone')`)
	e.WriteFile("nums.csv", "id,name\n1.0,a\n2.5,new\n4,d\n")

	sync := func(name, behavior, query string) string {
		return fmt.Sprintf(`
sync %q {
  source      = source.postgres.src
  query       = %q
  destination = destination.postgres.dst
  table       = %q
  behavior    = %q
  key         = "id"
}
`, name, query, name, behavior)
	}
	const nums, names = "SELECT id, name FROM nums", "SELECT id, name FROM names"
	cfg := e.Config(sync("num_upsert", "update_or_create", nums) +
		sync("num_mirror", "mirror", nums) +
		sync("ci_upsert", "update_or_create", names) +
		sync("ci_mirror", "mirror", names) +
		sync("num_load", "mirror", nums) +
		sync("ival_mirror", "mirror", "SELECT id, name FROM ivals") +
		sync("arr_mirror", "mirror", "SELECT id, name FROM arrs") + `
source "csv" "nums" {
  path = "nums.csv"
}

sync "num_csv" {
  source      = source.csv.nums
  destination = destination.postgres.dst
  table       = "num_csv"
  behavior    = "update_or_create"
  key         = "id"
}
`)
	p := applyable(t, cfg)
	want := map[string]planner.Counts{
		"num_upsert":  {Insert: 1, Update: 1, Unchanged: 1},
		"num_mirror":  {Insert: 1, Update: 1, Delete: 1, Unchanged: 1},
		"ci_upsert":   {Insert: 1, Update: 1, Unchanged: 1},
		"ci_mirror":   {Insert: 1, Update: 1, Delete: 1, Unchanged: 1},
		"num_load":    {Insert: 3},
		"num_csv":     {Insert: 1, Update: 1, Unchanged: 1},
		"ival_mirror": {Insert: 1, Update: 1, Delete: 1, Unchanged: 1},
		"arr_mirror":  {Insert: 1, Update: 1, Delete: 1, Unchanged: 1},
	}
	for _, sp := range p.Syncs {
		if sp.Counts != want[sp.Name] {
			t.Errorf("%s: planned %+v, want %+v", sp.Name, sp.Counts, want[sp.Name])
		}
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	// The stored keys keep their bytes: a matched row is updated in its
	// other columns or left alone.
	for table, rows := range map[string]string{
		"num_upsert":  "1.00=a 2.50=new 4=d 9.90=gone",
		"num_mirror":  "1.00=a 2.50=new 4=d",
		"num_csv":     "1.00=a 2.50=new 4=d 9.90=gone",
		"num_load":    "1.0=a 2.5=new 4=d",
		"ci_upsert":   "bar=new foo=a gone=g new=n",
		"ci_mirror":   "bar=new foo=a new=n",
		"ival_mirror": "1 year=n 24:00:00=new 30 days=a",
		"arr_mirror":  "{1.00,2.0}=a {3.000}=new {4}=d",
	} {
		got := e.DstQuery(fmt.Sprintf(`SELECT coalesce(string_agg(id::text || '=' || name, ' ' ORDER BY id::text COLLATE "C"), '') FROM %s`, table))[0]
		if got != rows {
			t.Errorf("%s after apply: %q, want %q", table, got, rows)
		}
	}
	requireConverged(t, cfg)
}
