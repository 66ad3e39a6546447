package executor_test

import (
	"context"
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
