package executor_test

import (
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestDomainsOfTheTable: what a column's domain says binds the plan as the
// column's own NOT NULL and default do. An unmapped column of a NOT NULL
// domain without a default is not_null_unmapped (binary COPY left NULL in
// it, which the domain forbids); a NULL written into one is a rejected
// row (the apply failed on it); an unmapped column takes its domain's
// default, which the table's CHECK is checked on (the plan was clean, the
// apply failed), and a domain default the domain itself refuses is
// not_null_unmapped; a NOT NULL domain with a default applies as planned.
func TestDomainsOfTheTable(t *testing.T) {
	sync := itemsUpsertSync
	for _, c := range []struct {
		name, table, code, summary string
	}{
		{"unmapped NOT NULL domain", `CREATE DOMAIN nntext AS text NOT NULL; CREATE TABLE items (id int PRIMARY KEY, v text, must nntext)`,
			string(planner.CodeNotNullUnmapped), `the column "must" of public.items is of a NOT NULL domain (nntext) without a default and is not mapped`},
		{"NULL into a NOT NULL domain", `CREATE DOMAIN nntext AS text NOT NULL; CREATE TABLE items (id int PRIMARY KEY, v nntext)`,
			string(planner.CodeRejectedRows), `NULL into a NOT NULL column`},
		{"a domain default the CHECK refuses", `CREATE DOMAIN negdef AS int DEFAULT -1; CREATE TABLE items (id int PRIMARY KEY, v text, x negdef CHECK (x > 0))`,
			string(planner.CodeRejectedRows), `items_x_check`},
		{"a default of a domain over a domain", `CREATE DOMAIN negdef AS int DEFAULT -1; CREATE DOMAIN outer_dom AS negdef; CREATE TABLE items (id int PRIMARY KEY, v text, x outer_dom CHECK (x > 0))`,
			string(planner.CodeRejectedRows), `items_x_check`},
		{"a domain default its own CHECK refuses", `CREATE DOMAIN chkdef AS int DEFAULT -1 CHECK (VALUE > 0); CREATE TABLE items (id int PRIMARY KEY, v text, x chkdef)`,
			string(planner.CodeNotNullUnmapped), `its default '-1'::integer is refused by its type chkdef (value for domain chkdef violates check constraint "chkdef_check")`},
		{"a NOT NULL domain with a default", `CREATE DOMAIN nndef AS int NOT NULL DEFAULT 5; CREATE TABLE items (id int PRIMARY KEY, v text, x nndef)`, "", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			e := synctest.New(t)
			e.Src(`CREATE TABLE items (id int, v text); INSERT INTO items VALUES (1, 'a'), (2, NULL)`)
			e.Dst(c.table)
			cfg := e.Config(sync)
			p := plan(t, cfg)
			sp := p.Syncs[0]
			if c.code == "" {
				requireApplied(t, apply(t, cfg, applyable(t, cfg), executor.Options{}))
				if got := strings.Join(e.DstQuery(`SELECT id || ':' || x FROM items ORDER BY id`), " "); got != "1:5 2:5" {
					t.Errorf("the table holds %s", got)
				}
				return
			}
			var found bool
			for _, f := range sp.Findings {
				found = found || (string(f.Code) == c.code && f.Severity == planner.SeverityError && strings.Contains(f.Summary+" "+f.Detail+" "+f.Constraint+" "+f.Column, c.summary))
			}
			if !found || p.Applyable {
				t.Fatalf("want an error %s saying %q (applyable=%v):\n%s", c.code, c.summary, p.Applyable, synctest.FindingsText(sp))
			}
		})
	}
}

// TestCSVIntoDomainsConverges: a CSV value of a domain over a built-in type
// is compared in the domain's own text ('05' for a domain over int is the
// stored '5', '1.5' for one over numeric(10,2) the stored '1.50'), and so
// is one of an extension's type (hstore 'b=>1,a=>2' is the stored
// '"a"=>"2", "b"=>"1"'), so the
// plan after an apply has nothing to change (they were updates on every
// plan); a value the domain's CHECK refuses is still a rejected row.
func TestCSVIntoDomainsConverges(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE EXTENSION hstore; CREATE DOMAIN posint AS int CHECK (VALUE > 0); CREATE DOMAIN amount AS numeric(10,2);
CREATE TABLE d (id int PRIMARY KEY, n posint, a amount, h hstore); INSERT INTO d VALUES (1, 5, 1.50, 'a=>2, b=>1')`)
	e.WriteFile("d.csv", "id,n,a,h\n1,05,1.5,\"b=>1,a=>2\"\n2, 7 ,2,\n3,-1,3,\n")
	cfg := e.Config(`
source "csv" "d" {
  path = "d.csv"
}

sync "d" {
  source      = source.csv.d
  destination = destination.postgres.dst
  table       = "d"
  behavior    = "mirror"
  key         = "id"
  on_reject   = "skip"
}`)
	p := plan(t, cfg)
	sp := p.Syncs[0]
	if want := (planner.Counts{Insert: 1, Unchanged: 1, Reject: 1}); sp.Counts != want || !strings.Contains(synctest.FindingsText(sp), `posint_check`) {
		t.Fatalf("counts %+v, want %+v:\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT format('%s %s %s', id, n, a) FROM d ORDER BY id`), ", "); got != "1 5 1.50, 2 7 2.00" {
		t.Errorf("d holds %s", got)
	}
	if sp := plan(t, cfg).Syncs[0]; sp.Counts != (planner.Counts{Unchanged: 2, Reject: 1}) {
		t.Errorf("the plan after the apply: %+v", sp.Counts)
	}
}

// TestPostgresSourceIntoDomainsConverges: a postgres source's text values
// for domains over built-in types are read as the base type's text on the
// source (' 5' for a domain over int is '5', '1.5' for one over
// numeric(10,2) is '1.50'), so the plan after an apply has nothing to
// change (they were updates on every plan); a value the base type refuses
// is a rejected row.
func TestPostgresSourceIntoDomainsConverges(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE d (id int, n text, a text); INSERT INTO d VALUES (1, ' 5', '1.5'), (2, '07', '2'), (3, 'x', '1')`)
	e.Dst(`CREATE DOMAIN posint AS int CHECK (VALUE > 0); CREATE DOMAIN amount AS numeric(10,2);
CREATE TABLE d (id int PRIMARY KEY, n posint, a amount); INSERT INTO d VALUES (1, 5, 1.50)`)
	cfg := e.Config(`
sync "d" {
  source      = source.postgres.src
  query       = "SELECT id, n, a FROM d"
  destination = destination.postgres.dst
  table       = "d"
  behavior    = "mirror"
  key         = "id"
  on_reject   = "skip"
}`)
	p := plan(t, cfg)
	sp := p.Syncs[0]
	if want := (planner.Counts{Insert: 1, Unchanged: 1, Reject: 1}); sp.Counts != want {
		t.Fatalf("counts %+v, want %+v:\n%s", sp.Counts, want, synctest.FindingsText(sp))
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT format('%s %s %s', id, n, a) FROM d ORDER BY id`), ", "); got != "1 5 1.50, 2 7 2.00" {
		t.Errorf("d holds %s", got)
	}
	if sp := plan(t, cfg).Syncs[0]; sp.Counts != (planner.Counts{Unchanged: 2, Reject: 1}) {
		t.Errorf("the plan after the apply: %+v", sp.Counts)
	}
}
