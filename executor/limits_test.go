package executor_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestLimitsOfDomainsAndArrays: a value too long for a domain over char(n)
// or varchar(n), or an element too long for varchar(n)[] or char(n)[] or
// of another length than bit(n)[]'s or longer than varbit(n)[]'s, is a
// rejected row, as a write of it is refused: the plan was clean and the
// apply stored the value cut ('GBR' as 'GB', '{abcd}' as '{abc}', '{101}'
// as '{10}', '{1}' into bit(2)[] as '{10}'). Values
// that fit are written padded as the column pads them, and the next plan
// has nothing to change.
func TestLimitsOfDomainsAndArrays(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE m (id int, code text, name text, tags text, ctags text, bits varbit[], vbits varbit[]);
INSERT INTO m VALUES (1, 'GBR', 'ok', '{ab}', '{ab}', '{10}', '{1}'), (2, 'GB', 'abc', '{abc,xy}', '{ab,c}', '{10,01}', '{1,01}'),
  (3, 'FR', 'abcd', '{ab}', '{ab}', '{10}', '{1}'), (4, 'DE', 'x', '{x}', '{"ab "}', NULL, '{}'),
  (5, 'NL', 'x', '{abcd,xy}', '{a}', '{10}', '{1}'), (6, 'BE', 'x', '{x}', '{abc}', '{10}', '{1}'),
  (7, 'LU', 'x', '{x}', '{a}', '{10,101}', '{1}'), (8, 'IT', 'x', '{x}', '{a}', '{1}', '{1}'), (9, 'ES', 'x', '{x}', '{a}', '{10}', '{1,111}')`)
	e.Dst(`CREATE DOMAIN country2 AS char(2); CREATE DOMAIN short AS varchar(3);
CREATE TABLE m (id int PRIMARY KEY, code country2, name short, tags varchar(3)[], ctags char(2)[], bits bit(2)[], vbits varbit(2)[])`)
	cfg := e.Config(`
sync "m" {
  source      = source.postgres.src
  query       = "SELECT id, code, name, tags::varchar[] AS tags, ctags::text[] AS ctags, bits, vbits FROM m"
  destination = destination.postgres.dst
  table       = "m"
  behavior    = "update_or_create"
  key         = "id"
  on_reject   = "skip"
}`)
	p := plan(t, cfg)
	sp := p.Syncs[0]
	if want := (planner.Counts{Insert: 2, Reject: 7}); sp.Counts != want {
		t.Errorf("counts %+v, want %+v", sp.Counts, want)
	}
	text := synctest.FindingsText(sp)
	for _, want := range []string{
		`column "code": value too long for type character(2)`, "id=1",
		`column "name": value too long for type character varying(3)`, "id=3",
		`column "tags": value too long for type character varying(3)[]`, "id=5",
		`column "ctags": value too long for type character(2)[]`, "id=6",
		`column "bits": bit string length does not match type bit(2)[]`, "id=7", "id=8",
		`column "vbits": bit string too long for type bit varying(2)[]`, "id=9",
	} {
		if !strings.Contains(text, want) {
			t.Errorf("the findings do not say %q:\n%s", want, text)
		}
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT format('%s %s %s %s %s %s %s', id, code, name, tags, ctags, bits, vbits) FROM m ORDER BY id`), ", "); got != `2 GB abc {abc,xy} {ab,"c "} {10,01} {1,01}, 4 DE x {x} {ab}  {}` {
		t.Errorf("m holds %s", got)
	}
	requireConverged(t, cfg)

}

// TestNameIsNotCut: a value longer than a name column's 63 bytes is a
// rejected row, as one too long for varchar(n) is: its write cuts it
// silently, which the plan had shown as the whole value, under either diff
// strategy and from a postgres source or a CSV file. Values that fit are
// written whole, and the next plan has nothing to change.
func TestNameIsNotCut(t *testing.T) {
	t.Parallel()
	for _, strategy := range []string{"full_rows", "server_hash"} {
		t.Run(strategy, func(t *testing.T) {
			t.Parallel()
			e := synctest.New(t)
			long := strings.Repeat("é", 32) // 64 bytes
			e.Src(`CREATE TABLE m (id int, n text)`)
			e.Src(`INSERT INTO m VALUES (1, $1), (2, $2), (3, 'ok'), (4, NULL), (5, $3)`, long, long[:62], strings.Repeat("x", 63))
			e.Dst(`CREATE TABLE m (id int PRIMARY KEY, n name)`)
			e.WriteFile("m.csv", "id,n\n1,"+long+"\n2,"+long[:62]+"\n3,ok\n4,\n5,"+strings.Repeat("x", 63)+"\n")
			for _, src := range []string{`source = source.postgres.src
  query  = "SELECT id, n FROM m"`, `source = source.csv.m`} {
				e.Dst(`TRUNCATE m`)
				cfg := e.Config(fmt.Sprintf(`
source "csv" "m" {
  path = "m.csv"
}
sync "m" {
  %s
  destination   = destination.postgres.dst
  table         = "m"
  behavior      = "update_or_create"
  key           = "id"
  on_reject     = "skip"
  diff_strategy = %q
}`, src, strategy))
				p := plan(t, cfg)
				sp := p.Syncs[0]
				if want := (planner.Counts{Insert: 4, Reject: 1}); sp.Counts != want {
					t.Errorf("%s: counts %+v, want %+v\n%s", src, sp.Counts, want, synctest.FindingsText(sp))
				}
				text := synctest.FindingsText(sp)
				for _, want := range []string{
					`column "n": value too long for type name: it holds at most 63 bytes, and a write would cut the rest off`, "id=1",
				} {
					if !strings.Contains(text, want) {
						t.Errorf("%s: the findings do not say %q:\n%s", src, want, text)
					}
				}
				requireApplied(t, apply(t, cfg, p, executor.Options{}))
				if got := strings.Join(e.DstQuery(`SELECT format('%s %s', id, octet_length(n)) FROM m ORDER BY id`), ", "); got != "2 62, 3 2, 4 , 5 63" {
					t.Errorf("%s: m holds %s", src, got)
				}
				requireConverged(t, cfg)
			}
		})
	}
}

// TestCharIsNotCut: a value of more than one character into a "char"
// column is a rejected row, as its write keeps only the first byte; the
// plan had shown the value cut. A value "char" writes back unchanged (one
// ASCII character, empty, or \ooo for a byte above 127, as "char" writes
// it) is written and the next plan has nothing to change, from a postgres
// source or a CSV file, under either diff strategy.
func TestCharIsNotCut(t *testing.T) {
	t.Parallel()
	for _, strategy := range []string{"full_rows", "server_hash"} {
		t.Run(strategy, func(t *testing.T) {
			t.Parallel()
			e := synctest.New(t)
			e.Src(`CREATE TABLE m (id int, c text)`)
			e.Src(`INSERT INTO m VALUES (1, 'a'), (2, 'ab'), (3, ''), (4, 'é'), (5, ('\351'::"char")::text), (6, NULL), (7, '\101')`)
			e.Dst(`CREATE TABLE m (id int PRIMARY KEY, c "char")`)
			e.WriteFile("m.csv", "id,c\n1,a\n2,ab\n3,\"\"\n4,é\n5,\\351\n6,\n7,\\101\n")
			for _, src := range []string{`source = source.postgres.src
  query  = "SELECT id, c FROM m"`, `source = source.csv.m`} {
				e.Dst(`TRUNCATE m`)
				cfg := e.Config(fmt.Sprintf(`
source "csv" "m" {
  path = "m.csv"
}
sync "m" {
  %s
  destination   = destination.postgres.dst
  table         = "m"
  behavior      = "update_or_create"
  key           = "id"
  on_reject     = "skip"
  diff_strategy = %q
}`, src, strategy))
				p := plan(t, cfg)
				sp := p.Syncs[0]
				if want := (planner.Counts{Insert: 4, Reject: 3}); sp.Counts != want {
					t.Errorf("%s: counts %+v, want %+v\n%s", src, sp.Counts, want, synctest.FindingsText(sp))
				}
				text := synctest.FindingsText(sp)
				for _, want := range []string{`column "c": value too long for type "char"`, "a write would keep only the first", "id=2", "id=4", "id=7"} {
					if !strings.Contains(text, want) {
						t.Errorf("%s: the findings do not say %q:\n%s", src, want, text)
					}
				}
				requireApplied(t, apply(t, cfg, p, executor.Options{}))
				if got := strings.Join(e.DstQuery(`SELECT format('%s %s', id, coalesce(c::text, 'NULL')) FROM m ORDER BY id`), ", "); got != `1 a, 3 , 5 \351, 6 NULL` {
					t.Errorf("%s: m holds %s", src, got)
				}
				requireConverged(t, cfg)
			}
		})
	}
}

// TestNameKeys: a name key column, read as text (limits.go), is matched,
// fetched by key and written under either diff strategy (the fetch by key
// of server_hash sent the keys as name and failed).
func TestNameKeys(t *testing.T) {
	t.Parallel()
	for _, strategy := range []string{"full_rows", "server_hash"} {
		t.Run(strategy, func(t *testing.T) {
			t.Parallel()
			e := synctest.New(t)
			e.Src(`CREATE TABLE m (n text, v int); INSERT INTO m SELECT 'k' || i, i FROM generate_series(1, 2000) i`)
			e.Dst(`CREATE TABLE m (n name PRIMARY KEY, v int); INSERT INTO m SELECT 'k' || i, i + (i % 2) FROM generate_series(1, 1900) i`)
			cfg := e.Config(fmt.Sprintf(`
sync "m" {
  source        = source.postgres.src
  query         = "SELECT n, v FROM m"
  destination   = destination.postgres.dst
  table         = "m"
  behavior      = "mirror"
  key           = "n"
  diff_strategy = %q
}`, strategy))
			p := plan(t, cfg)
			if want := (planner.Counts{Insert: 100, Update: 950, Unchanged: 950}); p.Syncs[0].Counts != want {
				t.Errorf("counts %+v, want %+v\n%s", p.Syncs[0].Counts, want, synctest.FindingsText(p.Syncs[0]))
			}
			requireApplied(t, apply(t, cfg, p, executor.Options{}))
			requireConverged(t, cfg)
		})
	}
}
