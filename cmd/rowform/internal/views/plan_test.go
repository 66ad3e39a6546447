package views

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rowform/rowform/planner"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata/")

// finishPlan completes a hand-built plan the way the planner does.
func finishPlan(p *planner.Plan) *planner.Plan {
	p.Finish()
	return p
}

// changesPlan: two syncs with changes (one with a warning) and one stopped by
// errors, one of which has a multi-line fix.
func changesPlan() *planner.Plan {
	return finishPlan(&planner.Plan{Syncs: []*planner.SyncPlan{
		{
			Name: "active_users", Behavior: "update_or_create",
			Source: "postgres.warehouse", Destination: "postgres.crm", Table: "public.users",
			Key:    []string{"id"},
			Counts: planner.Counts{Insert: 120, Update: 34, Unchanged: 9846},
			Findings: []planner.Finding{{
				Severity: planner.SeverityWarning, Code: planner.CodeInsecureConnection,
				Summary: "the connection to postgres.crm is not encrypted",
				Detail:  "sslmode = \"disable\" sends the password and the rows in plaintext to db.internal.",
			}},
			Diffed: true, ChangeDigest: "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08",
			DestinationRows: 9880, SourceRows: 10000,
		},
		{
			Name: "seed_accounts", Behavior: "append",
			Source: "csv.seed", Destination: "postgres.crm", Table: "public.accounts",
			Key:    []string{"tenant_id", "account_id"},
			Counts: planner.Counts{Insert: 3, Unchanged: 10, Skipped: 2},
			Diffed: true, ChangeDigest: "60303ae22b998861bce3b28f33eec1be758a213c86c93c076dbe9f558c11c752",
			DestinationRows: 12, SourceRows: 15,
		},
		{
			Name: "orders", Behavior: "mirror",
			Source: "postgres.warehouse", Destination: "postgres.crm", Table: "public.orders",
			Key: []string{"id"},
			Findings: []planner.Finding{
				{
					Severity: planner.SeverityError, Code: planner.CodeMissingPrivilege,
					Summary: `role "rowform" lacks DELETE on public.orders`,
					Fix:     "GRANT DELETE ON public.orders TO rowform;",
				},
				{
					Severity: planner.SeverityError, Code: planner.CodeMissingUniqueConstraint,
					Summary: `public.orders has no primary key, unique constraint or unique index on (id)`,
					Detail:  "rowform matches rows by key: the key columns must be unique in the destination.\nPartial indexes and indexes on expressions do not count.",
					Fix:     "CREATE UNIQUE INDEX CONCURRENTLY orders_id_key\n    ON public.orders (id);",
				},
			},
		},
	}})
}

// noChangesPlan: every sync compared, nothing to write.
func noChangesPlan() *planner.Plan {
	return finishPlan(&planner.Plan{Syncs: []*planner.SyncPlan{
		{
			Name: "active_users", Behavior: "update_or_create",
			Source: "postgres.warehouse", Destination: "postgres.crm", Table: "public.users",
			Key: []string{"id"}, Counts: planner.Counts{Unchanged: 9846},
			Diffed: true, DestinationRows: 9846, SourceRows: 9846,
		},
		{
			Name: "empty", Behavior: "mirror",
			Source: "csv.empty", Destination: "postgres.crm", Table: "public.empty",
			Key: []string{"id"}, Diffed: true,
		},
	}})
}

// samplesPlan: -show-rows=2, with a sensitive column, NULLs and an empty
// string.
func samplesPlan() *planner.Plan {
	return finishPlan(&planner.Plan{Syncs: []*planner.SyncPlan{{
		Name: "active_users", Behavior: "mirror",
		Source: "postgres.warehouse", Destination: "postgres.crm", Table: "public.users",
		Key:    []string{"id"},
		Counts: planner.Counts{Insert: 3, Update: 1, Delete: 1, Unchanged: 95},
		Samples: &planner.Samples{
			Insert: []planner.SampleRow{
				{Key: []string{"7"}, Columns: []planner.SampleColumn{
					{Name: "id", After: "7"},
					{Name: "email", After: planner.Sensitive},
					{Name: "name", After: "NULL"},
					{Name: "nickname", After: ""},
					{Name: "score", After: "1.50"},
				}},
				{Key: []string{"8"}, Columns: []planner.SampleColumn{
					{Name: "id", After: "8"},
					{Name: "email", After: planner.Sensitive},
					{Name: "name", After: "Ada Lovelace"},
					{Name: "nickname", After: "ada"},
					{Name: "score", After: "-2"},
				}},
			},
			Update: []planner.SampleRow{
				{Key: []string{"3"}, Columns: []planner.SampleColumn{
					{Name: "email", Before: planner.Sensitive, After: planner.Sensitive},
					{Name: "name", Before: "Al", After: "Alan Turing"},
					{Name: "nickname", Before: "NULL", After: "a|b"},
				}},
			},
			Delete: []planner.SampleRow{
				{Key: []string{"9"}, Columns: []planner.SampleColumn{
					{Name: "id", Before: "9"},
					{Name: "email", Before: planner.Sensitive},
					{Name: "name", Before: "Grace"},
					{Name: "nickname", Before: "NULL"},
					{Name: "score", Before: "0"},
				}},
			},
		},
		Diffed: true, ChangeDigest: "2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae",
		DestinationRows: 97, SourceRows: 99,
	}}})
}

// notDiffedPlan: one sync could not connect; the other still planned.
func notDiffedPlan() *planner.Plan {
	return finishPlan(&planner.Plan{Syncs: []*planner.SyncPlan{
		{
			Name: "crm_users", Behavior: "update_or_create",
			Source: "postgres.warehouse", Destination: "postgres.crm", Table: "public.users",
			Key: []string{"id"},
			Findings: []planner.Finding{{
				Severity: planner.SeverityError, Code: planner.CodeConnectionFailed,
				Summary: "cannot connect to postgres.crm (db.internal:5432)",
				Detail:  "dial tcp 10.0.0.5:5432: connect: connection refused\nIs the server running on that host and accepting TCP/IP connections?",
			}},
		},
		{
			Name: "billing", Behavior: "update_only",
			Source: "csv.seed", Destination: "postgres.billing", Table: "billing.customers",
			Key:    []string{"customer_id"},
			Counts: planner.Counts{Update: 5, Unchanged: 40, Skipped: 7},
			Diffed: true, ChangeDigest: "fcde2b2edba56bf408601fb721fe9b5c338d10ee429ea04fae5511b68fbf8fb9",
			DestinationRows: 45, SourceRows: 52,
		},
	}})
}

// rejectsPlan: rejected rows, skipped by one sync (warnings, with a cascade
// and triggers) and blocking another (an error); more example keys than
// are shown.
func rejectsPlan() *planner.Plan {
	return finishPlan(&planner.Plan{Syncs: []*planner.SyncPlan{
		{
			Name: "contacts", Behavior: "mirror",
			Source: "csv.contacts", Destination: "postgres.crm", Table: "public.contacts",
			Key:    []string{"id"},
			Counts: planner.Counts{Insert: 40, Delete: 2, Unchanged: 950, Reject: 12},
			Findings: []planner.Finding{
				{
					Severity: planner.SeverityWarning, Code: planner.CodeRejectedRows,
					Summary: "10 rows would be refused: value too long for type character varying(20)",
					Column:  "name", Rows: 10,
					Examples: []string{"id=7", "id=9", "id=12", "id=15", "id=20", "id=21"},
				},
				{
					Severity: planner.SeverityWarning, Code: planner.CodeRejectedRows,
					Summary:    "2 deletes would be refused: other rows still refer to them",
					Constraint: "orders_contact_id_fkey", Table: "public.orders", Rows: 2,
					Examples: []string{"id=3", "id=4"},
				},
				{
					Severity: planner.SeverityWarning, Code: planner.CodeCascade,
					Summary: "the deletes cascade into public.notes",
					Table:   "public.notes", Constraint: "notes_contact_id_fkey", Rows: 37,
				},
				{
					Severity: planner.SeverityWarning, Code: planner.CodeTriggers,
					Summary: "triggers on public.contacts fire for the planned writes: audit_contacts",
				},
			},
			Diffed: true, ChangeDigest: "3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d",
			DestinationRows: 952, SourceRows: 1002,
		},
		{
			Name: "accounts", Behavior: "update_or_create",
			Source: "csv.accounts", Destination: "postgres.crm", Table: "public.accounts",
			Key:    []string{"tenant", "id"},
			Counts: planner.Counts{Unchanged: 5, Reject: 1},
			Findings: []planner.Finding{{
				Severity: planner.SeverityError, Code: planner.CodeRejectedRows,
				Summary:    "1 row would be refused: new row violates check constraint \"accounts_plan_check\"",
				Detail:     "Set on_reject = \"skip\" to apply the other rows and leave this one out.",
				Constraint: "accounts_plan_check", Rows: 1,
				Examples: []string{`tenant=1 id="a-7"`},
			}},
			Diffed: true, ChangeDigest: "2e7d2c03a9507ae265ecf5b5356885a53393a2029d241394997265a1a25aefc6",
			DestinationRows: 5, SourceRows: 6,
		},
	}})
}

var goldenPlans = []struct {
	name string
	plan func() *planner.Plan
}{
	{"changes", changesPlan},
	{"no_changes", noChangesPlan},
	{"samples", samplesPlan},
	{"not_diffed", notDiffedPlan},
	{"rejects", rejectsPlan},
}

// checkPlanGolden compares got with testdata/name, or rewrites it under -update.
func checkPlanGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		if err := os.MkdirAll("testdata", 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -run %s -update to create it)", err, t.Name())
	}
	if !bytes.Equal(got, want) {
		t.Errorf("output differs from %s (go test -update rewrites it)\n--- got:\n%s\n--- want:\n%s", path, got, want)
	}
}

func TestRenderPlanGolden(t *testing.T) {
	for _, tc := range goldenPlans {
		t.Run(tc.name, func(t *testing.T) {
			renders := []struct {
				suffix string
				render func(*bytes.Buffer, *planner.Plan) error
			}{
				{"text", func(b *bytes.Buffer, p *planner.Plan) error { return RenderPlanHuman(b, p, HumanOptions{}) }},
				{"color", func(b *bytes.Buffer, p *planner.Plan) error { return RenderPlanHuman(b, p, HumanOptions{Color: true}) }},
				{"json", func(b *bytes.Buffer, p *planner.Plan) error { return RenderPlanJSON(b, p) }},
				{"md", func(b *bytes.Buffer, p *planner.Plan) error { return RenderPlanMarkdown(b, p) }},
			}
			for _, r := range renders {
				var buf bytes.Buffer
				if err := r.render(&buf, tc.plan()); err != nil {
					t.Fatalf("%s: %v", r.suffix, err)
				}
				checkPlanGolden(t, "plan_"+tc.name+"."+r.suffix+".golden", buf.Bytes())
			}
		})
	}
}

func TestRenderPlanDispatch(t *testing.T) {
	p := changesPlan()
	for format, want := range map[string]func(*bytes.Buffer) error{
		"text":     func(b *bytes.Buffer) error { return RenderPlanHuman(b, p, HumanOptions{Color: true}) },
		"json":     func(b *bytes.Buffer) error { return RenderPlanJSON(b, p) },
		"markdown": func(b *bytes.Buffer) error { return RenderPlanMarkdown(b, p) },
	} {
		var got, exp bytes.Buffer
		if err := RenderPlan(&got, p, format, true); err != nil {
			t.Fatalf("%s: %v", format, err)
		}
		if err := want(&exp); err != nil {
			t.Fatal(err)
		}
		if got.String() != exp.String() {
			t.Errorf("RenderPlan(%q) differs from its renderer", format)
		}
	}
	for _, format := range []string{"", "html", "JSON"} {
		var buf bytes.Buffer
		if err := RenderPlan(&buf, p, format, false); err == nil {
			t.Errorf("RenderPlan(%q): no error", format)
		}
		if buf.Len() != 0 {
			t.Errorf("RenderPlan(%q) wrote %q", format, buf.String())
		}
	}
	if err := RenderPlan(&bytes.Buffer{}, nil, "text", false); err == nil {
		t.Error("nil plan: no error")
	}
}

func TestPlanSummaryLine(t *testing.T) {
	tests := []struct {
		s    planner.Summary
		want string
	}{
		{planner.Summary{Syncs: 1}, "Plan: 0 to insert, 0 to update, 0 to delete in 1 sync."},
		{planner.Summary{Syncs: 2, Insert: 120, Update: 34, Errors: 1}, "Plan: 120 to insert, 34 to update, 0 to delete in 2 syncs; 1 error."},
		{planner.Summary{Syncs: 3, Delete: 1, Errors: 2, Warnings: 1}, "Plan: 0 to insert, 0 to update, 1 to delete in 3 syncs; 2 errors, 1 warning."},
		{planner.Summary{Syncs: 1, Insert: 1, Warnings: 2}, "Plan: 1 to insert, 0 to update, 0 to delete in 1 sync; 2 warnings."},
		{planner.Summary{}, "Plan: 0 to insert, 0 to update, 0 to delete in 0 syncs."},
		// Rejected rows only when there are some: the form above is unchanged.
		{planner.Summary{Syncs: 1, Insert: 1, Reject: 3, Errors: 1}, "Plan: 1 to insert, 0 to update, 0 to delete, 3 rejected in 1 sync; 1 error."},
		{planner.Summary{Syncs: 2, Update: 4, Reject: 1, Warnings: 1}, "Plan: 0 to insert, 4 to update, 0 to delete, 1 rejected in 2 syncs; 1 warning."},
	}
	for _, tt := range tests {
		if got := PlanSummaryLine(&planner.Plan{Summary: tt.s}); got != tt.want {
			t.Errorf("PlanSummaryLine(%+v)\n got %q\nwant %q", tt.s, got, tt.want)
		}
	}
}

func TestRenderPlanHumanSummary(t *testing.T) {
	var buf bytes.Buffer
	if err := RenderPlanHuman(&buf, noChangesPlan(), HumanOptions{}); err != nil {
		t.Fatal(err)
	}
	want := "No changes. The destination tables match the sources.\nPlan: 0 to insert, 0 to update, 0 to delete in 2 syncs.\n"
	if !strings.HasSuffix(buf.String(), want) {
		t.Errorf("no-changes plan ends with\n%s\nwant\n%s", buf.String(), want)
	}

	buf.Reset()
	if err := RenderPlanHuman(&buf, changesPlan(), HumanOptions{}); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(buf.String(), "No changes") {
		t.Error("a plan with changes says No changes")
	}
	if want := "\nPlan: 123 to insert, 34 to update, 0 to delete in 3 syncs; 2 errors, 1 warning.\n"; !strings.HasSuffix(buf.String(), want) {
		t.Errorf("summary line missing: want suffix %q in\n%s", want, buf.String())
	}
}

func TestRenderPlanHumanNoColor(t *testing.T) {
	hostile := finishPlan(&planner.Plan{Syncs: []*planner.SyncPlan{{
		Name: "s", Behavior: "mirror", Source: "csv.a", Destination: "postgres.b",
		Table: "public.t\x1b[2J", Key: []string{"id"},
		Counts: planner.Counts{Insert: 1},
		Findings: []planner.Finding{{
			Severity: planner.SeverityError, Code: planner.CodeSourceQueryFailed,
			Summary: "the query failed: \x1b[31mred\x1b[0m",
			Detail:  "ERROR: \x1b]0;title\x07 (SQLSTATE 42601)\u202e",
			Fix:     "-- \x1b[1m",
		}},
		Samples: &planner.Samples{Insert: []planner.SampleRow{{
			Key: []string{"1"}, Columns: []planner.SampleColumn{{Name: "v\x1b", After: "\x1b[5m"}},
		}}},
		Diffed: true,
	}, {
		Name: "t", Behavior: "mirror", Source: "csv.a", Destination: "postgres.b",
		Table: "public.t", Key: []string{"id"},
		Counts: planner.Counts{Reject: 1},
		Findings: []planner.Finding{{
			Severity: planner.SeverityWarning, Code: planner.CodeRejectedRows,
			Summary: "refused", Column: "c\x1b[2J", Constraint: "k\u202e", Table: "public.\x1b]0;x\x07",
			Rows: 1, Examples: []string{"id=\x1b[31m"},
		}},
		Diffed: true,
	}}})
	for _, tc := range append(goldenPlans, struct {
		name string
		plan func() *planner.Plan
	}{"hostile", func() *planner.Plan { return hostile }}) {
		var buf bytes.Buffer
		if err := RenderPlanHuman(&buf, tc.plan(), HumanOptions{Color: false}); err != nil {
			t.Fatal(err)
		}
		if i := bytes.IndexByte(buf.Bytes(), 0x1b); i >= 0 {
			t.Errorf("%s: Color=false output has an escape byte at %d:\n%q", tc.name, i, buf.String())
		}
		if strings.ContainsRune(buf.String(), '\u202e') {
			t.Errorf("%s: output has a bidi override", tc.name)
		}
	}
	var buf bytes.Buffer
	if err := RenderPlanHuman(&buf, changesPlan(), HumanOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(buf.Bytes(), []byte("\x1b[")) {
		t.Error("Color=true output has no escape sequence")
	}
}

// specKeys checks that m has each key with a value of the JSON type named:
// "string", "bool", "number", "array" or "object".
func specKeys(t *testing.T, where string, m map[string]any, keys map[string]string) {
	t.Helper()
	for k, typ := range keys {
		v, ok := m[k]
		if !ok {
			t.Errorf("%s: key %q missing", where, k)
			continue
		}
		var got string
		switch v.(type) {
		case string:
			got = "string"
		case bool:
			got = "bool"
		case float64:
			got = "number"
		case []any:
			got = "array"
		case map[string]any:
			got = "object"
		default:
			got = "null"
		}
		if got != typ {
			t.Errorf("%s: %q is %s (%v), want %s", where, k, got, v, typ)
		}
	}
}

func TestRenderPlanJSONKeys(t *testing.T) {
	// A plan as a careless builder might leave it: nil slices everywhere.
	sparse := &planner.Plan{Syncs: []*planner.SyncPlan{{
		Name: "orders", Behavior: "mirror", Source: "postgres.warehouse",
		Destination: "postgres.crm", Table: "public.orders",
		Samples: &planner.Samples{Insert: []planner.SampleRow{{}}},
	}}}
	plans := map[string]*planner.Plan{"sparse": sparse, "empty": {}}
	for _, tc := range goldenPlans {
		plans[tc.name] = tc.plan()
	}
	for name, p := range plans {
		var buf bytes.Buffer
		if err := RenderPlanJSON(&buf, p); err != nil {
			t.Fatal(err)
		}
		if !bytes.HasSuffix(buf.Bytes(), []byte("}\n")) {
			t.Errorf("%s: JSON does not end with a newline", name)
		}
		var doc map[string]any
		if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
			t.Fatalf("%s: %v\n%s", name, err, buf.String())
		}
		specKeys(t, name, doc, map[string]string{
			"format_version": "string", "applyable": "bool", "syncs": "array", "summary": "object",
		})
		if doc["format_version"] != "1" {
			t.Errorf("%s: format_version = %v, want \"1\"", name, doc["format_version"])
		}
		if sum, ok := doc["summary"].(map[string]any); ok {
			specKeys(t, name+" summary", sum, map[string]string{
				"syncs": "number", "insert": "number", "update": "number",
				"delete": "number", "reject": "number", "errors": "number", "warnings": "number",
			})
		}
		syncs, _ := doc["syncs"].([]any)
		for i, sv := range syncs {
			s, ok := sv.(map[string]any)
			if !ok {
				t.Errorf("%s: syncs[%d] is %T", name, i, sv)
				continue
			}
			where := name + " " + s["name"].(string)
			specKeys(t, where, s, map[string]string{
				"name": "string", "behavior": "string", "source": "string", "destination": "string",
				"table": "string", "key": "array", "counts": "object", "findings": "array",
			})
			if c, ok := s["counts"].(map[string]any); ok {
				specKeys(t, where+" counts", c, map[string]string{
					"insert": "number", "update": "number", "delete": "number",
					"unchanged": "number", "skipped": "number", "reject": "number",
				})
			}
			for _, k := range s["key"].([]any) {
				if _, ok := k.(string); !ok {
					t.Errorf("%s: key element %v is not a string", where, k)
				}
			}
			for j, fv := range s["findings"].([]any) {
				f := fv.(map[string]any)
				specKeys(t, where+" finding", f, map[string]string{
					"severity": "string", "code": "string", "summary": "string",
				})
				if fix, ok := f["fix"]; ok {
					if _, ok := fix.(string); !ok {
						t.Errorf("%s: findings[%d].fix is %T", where, j, fix)
					}
				}
			}
			if sm, ok := s["samples"].(map[string]any); ok {
				for kind, rows := range sm {
					for _, rv := range rows.([]any) {
						specKeys(t, where+" samples."+kind, rv.(map[string]any), map[string]string{
							"key": "array", "columns": "array",
						})
					}
				}
			}
		}
	}

	// The caller's plan is not modified.
	if s := sparse.Syncs[0]; s.Key != nil || s.Findings != nil || s.Samples.Insert[0].Key != nil || sparse.FormatVersion != "" {
		t.Errorf("RenderPlanJSON modified its plan: %+v", s)
	}
	if plans["empty"].Syncs != nil {
		t.Error("RenderPlanJSON modified an empty plan")
	}
}

// mdCells splits a Markdown table row on its unescaped pipes.
func mdCells(row string) []string {
	row = strings.TrimSpace(row)
	var cells []string
	var cur strings.Builder
	for i := 0; i < len(row); i++ {
		switch {
		case row[i] == '\\' && i+1 < len(row):
			cur.WriteByte(row[i])
			cur.WriteByte(row[i+1])
			i++
		case row[i] == '|':
			cells = append(cells, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(row[i])
		}
	}
	cells = append(cells, cur.String())
	// The row starts and ends with a pipe: drop the empty outer cells.
	return cells[1 : len(cells)-1]
}

// TestRenderPlanMarkdownEscaping: what the Markdown plan quotes shows as
// written, whatever Markdown it holds: no table is broken, no heading,
// list, HTML or mention is made.
func TestRenderPlanMarkdownEscaping(t *testing.T) {
	p := finishPlan(&planner.Plan{Syncs: []*planner.SyncPlan{{
		Name: "pipes", Behavior: "mirror", Source: "csv.a", Destination: "postgres.b",
		Table: "public.a|b`c", Key: []string{"id"},
		Counts: planner.Counts{Update: 1},
		Findings: []planner.Finding{{
			Severity: planner.SeverityWarning, Code: planner.CodeInsecureConnection,
			Summary: "a | b and `code` and *stars* and _under_ and snake_case",
			Detail:  "# not a heading\n1. not a list\n<b>not html</b>",
			Fix:     "SELECT '```';",
		}},
		Samples: &planner.Samples{Update: []planner.SampleRow{{
			Key:     []string{"1|2"},
			Columns: []planner.SampleColumn{{Name: "x|y", Before: "a|b", After: "`"}, {Name: "owner", Before: "@octocat", After: "@org/team"}, {Name: "ref", Before: "#12", After: "C#"}},
		}}},
		Diffed: true,
	}}})
	var buf bytes.Buffer
	if err := RenderPlanMarkdown(&buf, p); err != nil {
		t.Fatal(err)
	}
	out := buf.String()
	var tables int
	lines := strings.Split(out, "\n")
	for i, l := range lines {
		if !strings.HasPrefix(l, "| ") {
			continue
		}
		if i > 0 && !strings.HasPrefix(lines[i-1], "|") {
			tables++
		}
		// Every row of a table has as many cells as its header.
		header := i
		for header > 0 && strings.HasPrefix(lines[header-1], "|") {
			header--
		}
		if got, want := len(mdCells(l)), len(mdCells(lines[header])); got != want {
			t.Errorf("row %q has %d cells, want %d", l, got, want)
		}
	}
	if tables != 2 {
		t.Errorf("found %d tables, want 2 (summary and samples):\n%s", tables, out)
	}
	for _, want := range []string{
		"| ``public.a\\|b`c`` |", // code span fenced longer than the backtick, pipe escaped
		"a \\| b and \\`code\\` and \\*stars\\* and \\_under\\_ and snake_case", // summary outside the table
		"  > \\# not a heading\\",
		"  > 1\\. not a list\\",
		"  > \\<b\\>not html\\</b\\>",
		"  ````sql\n  SELECT '```';\n  ````",
		// A value that would mention a user or a team in a pull request's
		// comment, and notify them, or link an issue, is broken by a
		// zero-width space.
		`| owner | "@&#8203;octocat" | "@&#8203;org/team" |`,
		`| ref | "#&#8203;12" | "C#" |`,
	} {
		if !strings.Contains(out, want) {
			t.Errorf("markdown lacks %q:\n%s", want, out)
		}
	}
	if regexp.MustCompile(`[^\\]\|[^ \n]`).MatchString(out) {
		// Every pipe in the output is either escaped or a cell border.
		t.Errorf("markdown has an unescaped pipe inside text:\n%s", out)
	}
}

// TestRenderPlanJSONRejectedRows: a rejected_rows finding keeps its column,
// constraint, rows and examples through the JSON, and counts.reject and
// summary.reject are there.
func TestRenderPlanJSONRejectedRows(t *testing.T) {
	p := rejectsPlan()
	var buf bytes.Buffer
	if err := RenderPlanJSON(&buf, p); err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Syncs []struct {
			Counts   map[string]any   `json:"counts"`
			Findings []map[string]any `json:"findings"`
		} `json:"syncs"`
		Summary map[string]any `json:"summary"`
	}
	if err := json.Unmarshal(buf.Bytes(), &doc); err != nil {
		t.Fatal(err)
	}
	if got := doc.Summary["reject"]; got != 13.0 {
		t.Errorf("summary.reject = %v, want 13", got)
	}
	if got := doc.Syncs[0].Counts["reject"]; got != 12.0 {
		t.Errorf("syncs[0].counts.reject = %v, want 12", got)
	}
	f := doc.Syncs[0].Findings[0]
	specKeys(t, "rejected_rows finding", f, map[string]string{
		"severity": "string", "code": "string", "summary": "string",
		"column": "string", "rows": "number", "examples": "array",
	})
	if f["code"] != "rejected_rows" || f["column"] != "name" || f["rows"] != 10.0 {
		t.Errorf("finding = %v", f)
	}
	f = doc.Syncs[1].Findings[0]
	if f["constraint"] != "accounts_plan_check" {
		t.Errorf("constraint = %v, want accounts_plan_check", f["constraint"])
	}
	for _, k := range []string{"column", "table"} {
		if _, ok := f[k]; ok {
			t.Errorf("an unset %s is in the JSON: %v", k, f)
		}
	}

	// Decoded back into the model, the findings are the ones rendered.
	var back planner.Plan
	if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
		t.Fatal(err)
	}
	for i, s := range p.Syncs {
		if d := cmp.Diff(s.Findings, back.Syncs[i].Findings); d != "" {
			t.Errorf("sync %s: findings after the round trip differ (-want +got):\n%s", s.Name, d)
		}
		if back.Syncs[i].Counts != s.Counts {
			t.Errorf("sync %s: counts after the round trip %+v, want %+v", s.Name, back.Syncs[i].Counts, s.Counts)
		}
	}
	if back.Summary != p.Summary {
		t.Errorf("summary after the round trip %+v, want %+v", back.Summary, p.Summary)
	}
}

// TestRenderPlanRejectedOnly: a plan whose only difference is rejected rows
// writes nothing, but does not claim that the tables match the sources.
func TestRenderPlanRejectedOnly(t *testing.T) {
	p := finishPlan(&planner.Plan{Syncs: []*planner.SyncPlan{{
		Name: "s", Behavior: "update_or_create", Source: "csv.a", Destination: "postgres.b",
		Table: "public.t", Key: []string{"id"},
		Counts: planner.Counts{Unchanged: 4, Reject: 2},
		Findings: []planner.Finding{{
			Severity: planner.SeverityWarning, Code: planner.CodeRejectedRows,
			Summary: "2 rows would be refused", Rows: 2, Examples: []string{"id=1", "id=2"},
		}},
		Diffed: true,
	}}})
	var text, md bytes.Buffer
	if err := RenderPlanHuman(&text, p, HumanOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := RenderPlanMarkdown(&md, p); err != nil {
		t.Fatal(err)
	}
	for _, out := range []string{text.String(), md.String()} {
		if strings.Contains(out, "match the sources") {
			t.Errorf("a plan with rejected rows says the tables match:\n%s", out)
		}
		if !strings.Contains(out, "Plan: 0 to insert, 0 to update, 0 to delete, 2 rejected in 1 sync; 1 warning.") {
			t.Errorf("summary line missing:\n%s", out)
		}
	}
	for _, want := range []string{"      no changes\n    ! 2 rejected\n      4 unchanged\n", "rows: 2 (id=1, id=2)\n"} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if !strings.Contains(md.String(), "⚠️ **No changes to apply; 2 rows would be rejected.**") {
		t.Errorf("markdown status:\n%s", md.String())
	}
}

// TestRenderPlanFindingFacts: the column, constraint, table and example keys
// come from the server and the data: they are escaped like every other such
// text, stay on one line, and at most 5 examples are shown.
func TestRenderPlanFindingFacts(t *testing.T) {
	f := planner.Finding{
		Severity: planner.SeverityError, Code: planner.CodeRejectedRows, Summary: "refused",
		Column: "line\nbreak", Constraint: "a`b", Table: "public.\x1b[2J", Rows: 9,
		Examples: []string{"id=1", "id=2", "id=3", "id=4", "id=5", "id=6", "id=7"},
	}
	p := finishPlan(&planner.Plan{Syncs: []*planner.SyncPlan{{
		Name: "s", Behavior: "mirror", Source: "csv.a", Destination: "postgres.b", Table: "public.t",
		Key: []string{"id"}, Findings: []planner.Finding{f}, Counts: planner.Counts{Reject: 9}, Diffed: true,
	}}})
	var text, md bytes.Buffer
	if err := RenderPlanHuman(&text, p, HumanOptions{Color: true}); err != nil {
		t.Fatal(err)
	}
	if err := RenderPlanMarkdown(&md, p); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{
		"column:" + sgrReset + ` line\nbreak` + "\n",
		"constraint:" + sgrReset + " a`b\n",
		"table:" + sgrReset + ` public.\x1b[2J` + "\n",
		"rows:" + sgrReset + " 9 (id=1, id=2, id=3, id=4, id=5 and 4 more)\n",
	} {
		if !strings.Contains(text.String(), want) {
			t.Errorf("text lacks %q:\n%s", want, text.String())
		}
	}
	if strings.Contains(text.String(), "\x1b[2J") || strings.Contains(text.String(), "id=6") {
		t.Errorf("text has a raw escape sequence or a sixth example:\n%q", text.String())
	}
	want := "  column `line break`, constraint ``a`b``, table `public.\\x1b[2J`; 9 rows: `id=1`, `id=2`, `id=3`, `id=4`, `id=5` and 4 more\n"
	if !strings.Contains(md.String(), want) {
		t.Errorf("markdown lacks %q:\n%s", want, md.String())
	}
}
