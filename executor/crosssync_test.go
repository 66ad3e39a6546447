package executor_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestParentsFromADependency: contacts reference accounts, and the
// contacts sync depends on the accounts sync. The plan checks the contacts'
// foreign key against the accounts table as it will be when contacts is
// applied: with the accounts the accounts sync inserts, without the ones it
// deletes. A clean plan applies; a contact whose account nobody writes, or
// whose account the accounts sync deletes, is refused.
func TestParentsFromADependency(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE accounts (id int PRIMARY KEY, name text)`)
	e.Dst(`CREATE TABLE contacts (id int PRIMARY KEY, account_id int REFERENCES accounts, email text)`)
	e.Dst(`INSERT INTO accounts VALUES (1, 'old'), (9, 'gone')`)
	e.Src(`CREATE TABLE accounts (id int, name text)`)
	e.Src(`INSERT INTO accounts VALUES (1, 'old'), (2, 'new'), (3, 'new too')`) // 9 is deleted
	e.Src(`CREATE TABLE contacts (id int, account_id int, email text)`)
	e.Src(`INSERT INTO contacts VALUES (10, 1, 'a'), (11, 2, 'b'), (12, 3, 'c'), (13, 9, 'd'), (14, 4, 'e')`)
	cfg := e.Config(`
sync "accounts" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM accounts"
  destination = destination.postgres.dst
  table       = "accounts"
  behavior    = "mirror"
  key         = ["id"]
}
sync "contacts" {
  source      = source.postgres.src
  query       = "SELECT id, account_id, email FROM contacts"
  destination = destination.postgres.dst
  table       = "contacts"
  behavior    = "update_or_create"
  key         = ["id"]
  on_reject   = "skip"
  depends_on  = [sync.accounts]
}
`)
	p := plan(t, cfg)
	acc, con := p.Syncs[0], p.Syncs[1]
	if acc.Counts != (planner.Counts{Insert: 2, Delete: 1, Unchanged: 1}) {
		t.Fatalf("accounts: %+v\n%s", acc.Counts, synctest.FindingsText(acc))
	}
	if con.Counts != (planner.Counts{Insert: 3, Reject: 2}) {
		t.Fatalf("contacts: %+v, want 3 inserts (accounts 1, 2, 3) and 2 rejected (9 deleted, 4 missing)\n%s", con.Counts, synctest.FindingsText(con))
	}
	text := synctest.FindingsText(con)
	for _, want := range []string{`sync "accounts", which this sync depends on, deletes`, "id=13", "id=14", "does not exist"} {
		if !strings.Contains(text, want) {
			t.Errorf("contacts findings do not say %q:\n%s", want, text)
		}
	}
	res := apply(t, cfg, p, executor.Options{})
	requireApplied(t, res)
	if got := strings.Join(e.DstQuery(`SELECT id::text FROM contacts ORDER BY id`), ","); got != "10,11,12" {
		t.Errorf("contacts after apply: %s", got)
	}
	again := plan(t, cfg)
	if again.Syncs[0].Counts.Changes() != 0 || again.Syncs[1].Counts != (planner.Counts{Unchanged: 3, Reject: 2}) {
		t.Errorf("the next plan: %+v / %+v", again.Syncs[0].Counts, again.Syncs[1].Counts)
	}
}

// TestChildrenOfRefusedParentsSaySo: a row whose parent is in the source
// but refused (a CHECK constraint refuses the parent's insert) is refused
// saying so, and by what: the parent's refusal came in an earlier check
// than the foreign key's, which saw no such parent and said it "does not
// exist", though the source holds it. So for a parent of the same table
// (the same sync) as for one of a sync this one depends on; the other
// rows apply. A grandchild names the same reason as its parent, in the
// same finding, rather than one nested in another per generation.
func TestChildrenOfRefusedParentsSaySo(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE accounts (id int PRIMARY KEY, balance int CONSTRAINT accounts_balance_check CHECK (balance >= 0), parent_id int REFERENCES accounts)`)
	e.Dst(`CREATE TABLE contacts (id int PRIMARY KEY, account_id int REFERENCES accounts)`)
	e.Src(`CREATE TABLE accounts (id int, balance int, parent_id int)`)
	e.Src(`INSERT INTO accounts VALUES (1, 10, NULL), (2, -5, NULL), (3, 0, 2), (4, 0, 7), (5, 0, 3)`)
	e.Src(`CREATE TABLE contacts (id int, account_id int)`)
	e.Src(`INSERT INTO contacts VALUES (10, 1), (11, 2), (12, 9)`)
	cfg := e.Config(`
sync "accounts" {
  source      = source.postgres.src
  query       = "SELECT id, balance, parent_id FROM accounts"
  destination = destination.postgres.dst
  table       = "accounts"
  behavior    = "update_or_create"
  key         = ["id"]
  on_reject   = "skip"
}
sync "contacts" {
  source      = source.postgres.src
  query       = "SELECT id, account_id FROM contacts"
  destination = destination.postgres.dst
  table       = "contacts"
  behavior    = "update_or_create"
  key         = ["id"]
  on_reject   = "skip"
  depends_on  = [sync.accounts]
}
`)
	p := plan(t, cfg)
	acc, con := p.Syncs[0], p.Syncs[1]
	if acc.Counts != (planner.Counts{Insert: 1, Reject: 4}) {
		t.Fatalf("accounts: %+v\n%s", acc.Counts, synctest.FindingsText(acc))
	}
	if con.Counts != (planner.Counts{Insert: 1, Reject: 2}) {
		t.Fatalf("contacts: %+v\n%s", con.Counts, synctest.FindingsText(con))
	}
	const check = `(column "balance": violates the CHECK constraint (balance >= 0), constraint accounts_balance_check)`
	for _, c := range []struct {
		sp   *planner.SyncPlan
		says string
		rows []string // the examples of one finding
	}{
		{acc, `column "parent_id": references a row of public.accounts that this sync would write but refuses ` + check, []string{"id=3", "id=5"}},
		{acc, `column "parent_id": references a row of public.accounts that does not exist`, []string{"id=4"}},
		{con, `column "account_id": references a row of public.accounts that sync "accounts", which this sync depends on, would insert but refuses ` + check, []string{"id=11"}},
		{con, `column "account_id": references a row of public.accounts that does not exist`, []string{"id=12"}},
	} {
		i := slices.IndexFunc(c.sp.Findings, func(f planner.Finding) bool {
			return strings.HasSuffix(f.Summary, c.says+" (constraint "+f.Constraint+")") && slices.Equal(f.Examples, c.rows)
		})
		if i < 0 {
			t.Errorf("%s: no finding says %s of %v:\n%s", c.sp.Name, c.says, c.rows, synctest.FindingsText(c.sp))
		}
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT 'a' || id FROM accounts UNION ALL SELECT 'c' || id FROM contacts ORDER BY 1`), ","); got != "a1,c10" {
		t.Errorf("after apply: %s", got)
	}
}

// TestParentsFromABlockedDependency: when the accounts sync cannot be
// applied (its plan has an error), the contacts that reference the
// accounts it would insert are refused, and the finding says that the
// accounts sync is the cause, not the source rows.
func TestParentsFromABlockedDependency(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE accounts (id int PRIMARY KEY, name text)`)
	e.Dst(`CREATE TABLE contacts (id int PRIMARY KEY, account_id int REFERENCES accounts, email text)`)
	e.Src(`CREATE TABLE accounts (id int, name text)`)
	e.Src(`INSERT INTO accounts VALUES (1, 'one'), (1, 'one again')`) // a duplicate key: the plan has an error
	e.Src(`CREATE TABLE contacts (id int, account_id int, email text)`)
	e.Src(`INSERT INTO contacts VALUES (10, 1, 'a')`)
	cfg := e.Config(`
sync "accounts" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM accounts"
  destination = destination.postgres.dst
  table       = "accounts"
  behavior    = "mirror"
  key         = ["id"]
}
sync "contacts" {
  source      = source.postgres.src
  query       = "SELECT id, account_id, email FROM contacts"
  destination = destination.postgres.dst
  table       = "contacts"
  behavior    = "update_or_create"
  key         = ["id"]
  depends_on  = [sync.accounts]
}
`)
	p := plan(t, cfg)
	if !p.Syncs[0].HasErrors() {
		t.Fatalf("accounts has no error:\n%s", synctest.FindingsText(p.Syncs[0]))
	}
	con := p.Syncs[1]
	var f *planner.Finding
	for i := range con.Findings {
		if con.Findings[i].Code == planner.CodeRejectedRows {
			f = &con.Findings[i]
		}
	}
	if f == nil || !strings.Contains(f.Detail, `The sync "accounts", which this one depends on and which writes public.accounts, cannot be applied as planned`) || strings.Contains(f.Detail, "Fix the source rows") {
		t.Errorf("contacts' rejected_rows finding does not blame the accounts sync:\n%s", synctest.FindingsText(con))
	}
}

// TestParentsFromADependencyByArray: the same, with the foreign key over an
// array column (accounts' unique codes): the rows the accounts sync writes
// are given to the contacts' check as their arrays' elements, where an
// array of arrays failed the plan.
func TestParentsFromADependencyByArray(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE accounts (id int PRIMARY KEY, code int[] UNIQUE)`)
	e.Dst(`CREATE TABLE contacts (id int PRIMARY KEY, code int[] REFERENCES accounts (code))`)
	e.Dst(`INSERT INTO accounts VALUES (1, '{1}'), (9, '{9,9}')`)
	e.Src(`CREATE TABLE accounts (id int, code int[])`)
	e.Src(`INSERT INTO accounts VALUES (1, '{1}'), (2, '{2,NULL}'), (3, '{}')`) // 9 is deleted
	e.Src(`CREATE TABLE contacts (id int, code int[])`)
	e.Src(`INSERT INTO contacts VALUES (10, '{1}'), (11, '{2,NULL}'), (12, '{}'), (13, '{9,9}'), (14, '{4}')`)
	cfg := e.Config(`
sync "accounts" {
  source      = source.postgres.src
  query       = "SELECT id, code FROM accounts"
  destination = destination.postgres.dst
  table       = "accounts"
  behavior    = "mirror"
  key         = ["id"]
}
sync "contacts" {
  source      = source.postgres.src
  query       = "SELECT id, code FROM contacts"
  destination = destination.postgres.dst
  table       = "contacts"
  behavior    = "update_or_create"
  key         = ["id"]
  on_reject   = "skip"
  depends_on  = [sync.accounts]
}
`)
	p := plan(t, cfg)
	if con := p.Syncs[1]; con.Counts != (planner.Counts{Insert: 3, Reject: 2}) {
		t.Fatalf("contacts: %+v, want 3 inserts and 2 rejected (13's parent deleted, 14's missing)\n%s", con.Counts, synctest.FindingsText(con))
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT id::text FROM contacts ORDER BY id`), ","); got != "10,11,12" {
		t.Errorf("contacts after apply: %s", got)
	}
}

// TestCascadeIntoAnotherSyncsTable: the deletes of one sync cascade into
// the table a later sync of the plan writes. Once the first applies, the
// second's plan is stale: the plan gives the second a shared_table error
// (it was applyable, and apply wrote the first and refused the second,
// half done). apply -auto-approve, which plans each sync when it runs,
// applies both.
func TestCascadeIntoAnotherSyncsTable(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE accounts (id int PRIMARY KEY, name text);
CREATE TABLE contacts (id int PRIMARY KEY, account_id int REFERENCES accounts ON DELETE CASCADE, email text);
INSERT INTO accounts VALUES (1, 'a'), (9, 'gone');
INSERT INTO contacts VALUES (10, 1, 'x'), (13, 9, 'y')`)
	e.Src(`CREATE TABLE accounts (id int, name text); INSERT INTO accounts VALUES (1, 'a');
CREATE TABLE contacts (id int, account_id int, email text); INSERT INTO contacts VALUES (10, 1, 'x2')`)
	cfg := e.Config(`
sync "accounts" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM accounts"
  destination = destination.postgres.dst
  table       = "accounts"
  behavior    = "mirror"
  key         = "id"
}
sync "contacts" {
  source      = source.postgres.src
  query       = "SELECT id, account_id, email FROM contacts"
  destination = destination.postgres.dst
  table       = "contacts"
  behavior    = "mirror"
  key         = "id"
  depends_on  = [sync.accounts]
}`)
	p := plan(t, cfg)
	if p.Applyable {
		t.Fatalf("the plan is applyable:\n%s\n%s", synctest.FindingsText(p.Syncs[0]), synctest.FindingsText(p.Syncs[1]))
	}
	text := synctest.FindingsText(p.Syncs[1])
	for _, want := range []string{`error shared_table: sync "accounts" of this plan changes public.contacts first, through the foreign key contacts_account_id_fkey`, "rowform apply -sync=accounts", "apply -auto-approve"} {
		if !strings.Contains(text, want) {
			t.Errorf("the findings of contacts do not say %q:\n%s", want, text)
		}
	}
	if synctest.FindingsText(p.Syncs[0]) == "" || p.Syncs[0].HasErrors() {
		t.Errorf("accounts: %s", synctest.FindingsText(p.Syncs[0]))
	}
	before := e.DstDigest("accounts") + e.DstDigest("contacts")
	res := apply(t, cfg, p, executor.Options{})
	for _, r := range res.Syncs {
		if r.Status == executor.StatusApplied {
			t.Errorf("sync %q was applied from a plan with errors", r.Name)
		}
	}
	if e.DstDigest("accounts")+e.DstDigest("contacts") != before {
		t.Error("a plan with errors wrote to the tables")
	}
	_, res, err := executor.PlanAndApply(context.Background(), cfg, nil, executor.Options{})
	if err != nil {
		t.Fatal(err)
	}
	requireApplied(t, res)
	if got := strings.Join(e.DstQuery(`SELECT format('%s %s %s', id, account_id, email) FROM contacts ORDER BY id`), ", "); got != "10 1 x2" {
		t.Errorf("contacts holds %s", got)
	}
}

// requireRefusedAs checks that sp has a finding of constraint whose
// summary ends in says and whose examples are rows, in that order.
func requireRefusedAs(t *testing.T, sp *planner.SyncPlan, constraint, says string, rows ...string) {
	t.Helper()
	i := slices.IndexFunc(sp.Findings, func(f planner.Finding) bool {
		return f.Constraint == constraint && strings.HasSuffix(f.Summary, says+" (constraint "+constraint+")") && slices.Equal(f.Examples, rows)
	})
	if i < 0 {
		t.Errorf("%s: no finding of %s says %s of %v:\n%s", sp.Name, constraint, says, rows, synctest.FindingsText(sp))
	}
}

// TestParentsFromADependencyByEquality: a child matches the parent a sync
// it depends on inserts or deletes when the foreign key finds the two
// equal, not when their bytes are: numeric 1.00 is the parent 1.0, 'ALPHA'
// the parent 'Alpha' under a case-insensitive collation ('gone' the
// deleted 'Gone'), citext 'a@X.ORG' the parent 'A@x.org'. A bigint child is
// compared with an int parent as a bigint (5000000000 references nothing,
// and fails no cast). A child with NULL there references nothing. Apply
// agrees with the plan.
func TestParentsFromADependencyByEquality(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE EXTENSION citext`)
	e.Dst(`CREATE COLLATION ci (provider = icu, locale = 'und-u-ks-level2', deterministic = false)`)
	e.Dst(`CREATE TABLE accounts (id int PRIMARY KEY, amount numeric(6,2) UNIQUE, code text COLLATE ci UNIQUE, email citext UNIQUE)`)
	e.Dst(`CREATE TABLE contacts (id int PRIMARY KEY, account_id bigint REFERENCES accounts (id),
  amount numeric REFERENCES accounts (amount), code text COLLATE ci REFERENCES accounts (code),
  email citext REFERENCES accounts (email))`)
	e.Dst(`INSERT INTO accounts VALUES (9, 9.90, 'Gone', NULL)`)
	e.Src(`CREATE TABLE accounts (id int, amount numeric, code text, email text)`)
	e.Src(`INSERT INTO accounts VALUES (1, 1.0, 'Alpha', 'A@x.org'), (2, 2.5, 'beta', NULL), (3, 3.005, 'Gamma', NULL)`) // 9 is deleted
	e.Src(`CREATE TABLE contacts (id int, account_id bigint, amount numeric, code text, email text)`)
	e.Src(`INSERT INTO contacts (id, account_id, amount, code, email) VALUES
  (10, 1, NULL, NULL, NULL), (11, 5000000000, NULL, NULL, NULL), (12, 9, NULL, NULL, NULL),
  (20, NULL, 1.00, NULL, NULL), (21, NULL, 2.50, NULL, NULL), (22, NULL, 3.01, NULL, NULL),
  (23, NULL, 9.9, NULL, NULL), (24, NULL, 3.005, NULL, NULL),
  (30, NULL, NULL, 'ALPHA', NULL), (31, NULL, NULL, 'Beta', NULL), (32, NULL, NULL, 'gone', NULL),
  (33, NULL, NULL, 'delta', NULL),
  (40, NULL, NULL, NULL, NULL),
  (50, NULL, NULL, NULL, 'a@X.ORG'), (51, NULL, NULL, NULL, 'b@x.org')`)
	cfg := e.Config(`
sync "accounts" {
  source      = source.postgres.src
  query       = "SELECT id, amount, code, email FROM accounts"
  destination = destination.postgres.dst
  table       = "accounts"
  behavior    = "mirror"
  key         = ["id"]
}
sync "contacts" {
  source      = source.postgres.src
  query       = "SELECT id, account_id, amount, code, email FROM contacts"
  destination = destination.postgres.dst
  table       = "contacts"
  behavior    = "update_or_create"
  key         = ["id"]
  on_reject   = "skip"
  depends_on  = [sync.accounts]
}
`)
	p := plan(t, cfg)
	acc, con := p.Syncs[0], p.Syncs[1]
	if acc.Counts != (planner.Counts{Insert: 3, Delete: 1}) {
		t.Fatalf("accounts: %+v\n%s", acc.Counts, synctest.FindingsText(acc))
	}
	if con.Counts != (planner.Counts{Insert: 8, Reject: 7}) {
		t.Fatalf("contacts: %+v, want 8 inserts and 7 rejected\n%s", con.Counts, synctest.FindingsText(con))
	}
	const deletes, missing = `references a row of public.accounts that sync "accounts", which this sync depends on, deletes`, "references a row of public.accounts that does not exist"
	for _, c := range []struct{ column, says, row string }{
		{"account_id", missing, "id=11"},
		{"account_id", deletes, "id=12"},
		{"amount", deletes, "id=23"},
		{"amount", missing, "id=24"},
		{"code", deletes, "id=32"},
		{"code", missing, "id=33"},
		{"email", missing, "id=51"},
	} {
		requireRefusedAs(t, con, "contacts_"+c.column+"_fkey", fmt.Sprintf("column %q: %s", c.column, c.says), c.row)
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT id::text FROM contacts ORDER BY id`), ","); got != "10,20,21,22,30,31,40,50" {
		t.Errorf("contacts after apply: %s", got)
	}
}

// TestParentsFromADependencyByTwoColumns: foreign keys of two columns, one
// of them naming the parent's columns in the other order and MATCH FULL.
// A child with a NULL among them needs no parent (MATCH SIMPLE), or is
// refused for it (MATCH FULL, some but not all NULL); one whose parent the
// accounts sync refuses says why, whether a CHECK refuses the parent or
// its value is too long for the column (which a child of the longer value
// references, and one of the value cut to the column's length does not).
func TestParentsFromADependencyByTwoColumns(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE accounts (id int PRIMARY KEY, region varchar(2), num int CONSTRAINT accounts_num_check CHECK (num >= 0), UNIQUE (region, num))`)
	e.Dst(`CREATE TABLE contacts (id int PRIMARY KEY, region text, num int, r2 text, n2 int,
  CONSTRAINT contacts_home_fkey FOREIGN KEY (region, num) REFERENCES accounts (region, num),
  CONSTRAINT contacts_work_fkey FOREIGN KEY (n2, r2) REFERENCES accounts (num, region) MATCH FULL)`)
	e.Dst(`INSERT INTO accounts VALUES (9, 'eu', 9)`)
	e.Src(`CREATE TABLE accounts (id int, region text, num int)`)
	e.Src(`INSERT INTO accounts VALUES (1, 'eu', 1), (2, 'us', 1), (3, 'eu', NULL), (4, 'eu', -1), (5, 'eur', 2)`) // 9 is deleted
	e.Src(`CREATE TABLE contacts (id int, region text, num int, r2 text, n2 int)`)
	e.Src(`INSERT INTO contacts VALUES
  (10, 'eu', 1, 'us', 1), (11, 'us', 1, NULL, NULL), (12, NULL, 5, NULL, NULL), (13, 'eu', NULL, NULL, NULL),
  (14, 'eu', 9, NULL, NULL), (15, 'us', 2, NULL, NULL), (16, 'eu', 1, 'us', NULL), (17, NULL, NULL, 'eu', 9),
  (18, 'eu', -1, NULL, NULL), (19, NULL, NULL, 'eur', 2), (20, NULL, NULL, 'eu', 1), (21, 'eu', 2, NULL, NULL)`)
	cfg := e.Config(`
sync "accounts" {
  source      = source.postgres.src
  query       = "SELECT id, region, num FROM accounts"
  destination = destination.postgres.dst
  table       = "accounts"
  behavior    = "mirror"
  key         = ["id"]
  on_reject   = "skip"
}
sync "contacts" {
  source      = source.postgres.src
  query       = "SELECT id, region, num, r2, n2 FROM contacts"
  destination = destination.postgres.dst
  table       = "contacts"
  behavior    = "update_or_create"
  key         = ["id"]
  on_reject   = "skip"
  depends_on  = [sync.accounts]
}
`)
	p := plan(t, cfg)
	acc, con := p.Syncs[0], p.Syncs[1]
	if acc.Counts != (planner.Counts{Insert: 3, Delete: 1, Reject: 2}) {
		t.Fatalf("accounts: %+v\n%s", acc.Counts, synctest.FindingsText(acc))
	}
	if con.Counts != (planner.Counts{Insert: 5, Reject: 7}) {
		t.Fatalf("contacts: %+v, want 5 inserts and 7 rejected\n%s", con.Counts, synctest.FindingsText(con))
	}
	const refuses = `references a row of public.accounts that sync "accounts", which this sync depends on, would insert but refuses `
	for _, c := range []struct {
		constraint, says string
		rows             []string
	}{
		{"contacts_home_fkey", `references a row of public.accounts that sync "accounts", which this sync depends on, deletes`, []string{"id=14"}},
		{"contacts_home_fkey", "references a row of public.accounts that does not exist", []string{"id=15", "id=21"}},
		{"contacts_home_fkey", refuses + `(column "num": violates the CHECK constraint (num >= 0), constraint accounts_num_check)`, []string{"id=18"}},
		{"contacts_work_fkey", "some but not all of the columns (n2, r2) of a MATCH FULL foreign key are NULL", []string{"id=16"}},
		{"contacts_work_fkey", `references a row of public.accounts that sync "accounts", which this sync depends on, deletes`, []string{"id=17"}},
		{"contacts_work_fkey", refuses + `(column "region": value too long for type character varying(2))`, []string{"id=19"}},
	} {
		requireRefusedAs(t, con, c.constraint, c.says, c.rows...)
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT id::text FROM contacts ORDER BY id`), ","); got != "10,11,12,13,20" {
		t.Errorf("contacts after apply: %s", got)
	}
}

// TestParentsFromADependencyThatDoNotConvert: the values of an enum column,
// or of a domain, travel as text and are compared as the enum's labels or
// the domain's base type, parents and children alike (a contact's -5 is
// no account of a domain over int that refuses it, and fails no cast to
// the domain). An insert the accounts sync refuses because its value is no
// label (or an array of two dimensions, which the checks cannot be given,
// in a row refused for another column) references nothing, and the plan
// of the contacts still checks the others: a contact of a value that the
// accounts sync inserts goes ahead, one of a value it does not insert is
// refused.
func TestParentsFromADependencyThatDoNotConvert(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TYPE mood AS ENUM ('happy', 'sad', 'calm')`)
	e.Dst(`CREATE DOMAIN posint AS int CHECK (VALUE > 0)`)
	e.Dst(`CREATE TABLE accounts (id int PRIMARY KEY, mood mood UNIQUE, n posint UNIQUE)`)
	e.Dst(`CREATE TABLE contacts (id int PRIMARY KEY, mood mood REFERENCES accounts (mood), n int REFERENCES accounts (n))`)
	e.Dst(`CREATE TABLE groups (id int PRIMARY KEY, codes int[] UNIQUE, name text NOT NULL)`)
	e.Dst(`CREATE TABLE members (id int PRIMARY KEY, codes int[] REFERENCES groups (codes))`)
	e.Src(`CREATE TABLE accounts (id int, mood text, n int)`)
	e.Src(`INSERT INTO accounts VALUES (1, 'happy', 7), (2, 'bogus', NULL), (3, 'calm', NULL)`)
	e.Src(`CREATE TABLE contacts (id int, mood text, n int)`)
	e.Src(`INSERT INTO contacts VALUES (10, 'happy', NULL), (11, 'sad', NULL), (12, 'calm', 7), (13, NULL, -5)`)
	e.Src(`CREATE TABLE groups (id int, codes int[], name text)`)
	e.Src(`INSERT INTO groups VALUES (1, '{1}', 'one'), (2, '{{1,2},{3,4}}', NULL)`)
	e.Src(`CREATE TABLE members (id int, codes int[])`)
	e.Src(`INSERT INTO members VALUES (10, '{1}'), (11, '{5}')`)
	cfg := e.Config(`
sync "accounts" {
  source      = source.postgres.src
  query       = "SELECT id, mood, n FROM accounts"
  destination = destination.postgres.dst
  table       = "accounts"
  behavior    = "mirror"
  key         = ["id"]
  on_reject   = "skip"
}
sync "contacts" {
  source      = source.postgres.src
  query       = "SELECT id, mood, n FROM contacts"
  destination = destination.postgres.dst
  table       = "contacts"
  behavior    = "update_or_create"
  key         = ["id"]
  on_reject   = "skip"
  depends_on  = [sync.accounts]
}
sync "groups" {
  source      = source.postgres.src
  query       = "SELECT id, codes, name FROM groups"
  destination = destination.postgres.dst
  table       = "groups"
  behavior    = "mirror"
  key         = ["id"]
  on_reject   = "skip"
}
sync "members" {
  source      = source.postgres.src
  query       = "SELECT id, codes FROM members"
  destination = destination.postgres.dst
  table       = "members"
  behavior    = "update_or_create"
  key         = ["id"]
  on_reject   = "skip"
  depends_on  = [sync.groups]
}
`)
	p := plan(t, cfg)
	for _, sp := range p.Syncs {
		want := map[string]planner.Counts{"accounts": {Insert: 2, Reject: 1}, "contacts": {Insert: 2, Reject: 2}, "groups": {Insert: 1, Reject: 1}, "members": {Insert: 1, Reject: 1}}[sp.Name]
		if sp.Counts != want {
			t.Fatalf("%s: %+v, want %+v\n%s", sp.Name, sp.Counts, want, synctest.FindingsText(sp))
		}
	}
	requireRefusedAs(t, p.Syncs[1], "contacts_mood_fkey", `column "mood": references a row of public.accounts that does not exist`, "id=11")
	requireRefusedAs(t, p.Syncs[1], "contacts_n_fkey", `column "n": references a row of public.accounts that does not exist`, "id=13")
	requireRefusedAs(t, p.Syncs[3], "members_codes_fkey", `column "codes": references a row of public.groups that does not exist`, "id=11")
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	if got := strings.Join(e.DstQuery(`SELECT id::text FROM contacts UNION ALL SELECT 'm' || id FROM members ORDER BY 1`), ","); got != "10,12,m10" {
		t.Errorf("contacts and members after apply: %s", got)
	}
}

// TestParentsFromADependencyPastMidnight: a timestamp child of a date
// parent that a sync it depends on inserts. The foreign key compares the
// date as the timestamp of its midnight, by an operator whose hashes do not
// agree across the types: the child is cast to date to be hashed, and one
// past midnight, which the cast would make the parent, is refused as
// referencing a row that does not exist, as apply's write would refuse it.
func TestParentsFromADependencyPastMidnight(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TABLE days (id date PRIMARY KEY)`)
	e.Dst(`CREATE TABLE events (id int PRIMARY KEY, at timestamp CONSTRAINT events_at_fkey REFERENCES days)`)
	e.Src(`CREATE TABLE days (id date)`)
	e.Src(`INSERT INTO days VALUES ('2024-01-01')`)
	e.Src(`CREATE TABLE events (id int, at timestamp)`)
	e.Src(`INSERT INTO events VALUES (1, '2024-01-01 00:00'), (2, '2024-01-01 12:00')`)
	cfg := e.Config(`
sync "days" {
  source      = source.postgres.src
  query       = "SELECT id FROM days"
  destination = destination.postgres.dst
  table       = "days"
  behavior    = "update_or_create"
  key         = ["id"]
}
sync "events" {
  source      = source.postgres.src
  query       = "SELECT id, at FROM events"
  destination = destination.postgres.dst
  table       = "events"
  behavior    = "update_or_create"
  key         = ["id"]
  on_reject   = "skip"
  depends_on  = [sync.days]
}
`)
	p := plan(t, cfg)
	if ev := p.Syncs[1]; ev.Counts != (planner.Counts{Insert: 1, Reject: 1}) {
		t.Fatalf("events: %+v, want 1 insert and 1 rejected\n%s", ev.Counts, synctest.FindingsText(ev))
	}
	requireRefusedAs(t, p.Syncs[1], "events_at_fkey", `column "at": references a row of public.days that does not exist`, "id=2")
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	requireRows(t, e, `SELECT id::text FROM events ORDER BY id`, "1")
	requireConverged(t, cfg)
}
