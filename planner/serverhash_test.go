package planner_test

import (
	"context"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// strategies are the diff strategies a differential test runs under.
var strategies = []string{planner.StrategyFullRows, planner.StrategyServerHash}

var syncHeader = regexp.MustCompile(`(?m)^sync "[^"]*" \{\n`)

// withStrategy adds diff_strategy = st to every sync block of body.
func withStrategy(body, st string) string {
	return syncHeader.ReplaceAllStringFunc(body, func(h string) string {
		return h + fmt.Sprintf("  diff_strategy = %q\n", st)
	})
}

// planSummary is what a differential test compares between strategies:
// everything a plan promises, without the strategy itself.
func planSummary(t *testing.T, p *planner.Plan) string {
	t.Helper()
	var out []string
	for _, sp := range p.Syncs {
		c := *sp
		c.Strategy, c.StrategyReason, c.StrategyEstimate, c.Duration = "", "", "", 0
		c.Range = nil // the configurations differ in their diff_strategy lines
		b, err := json.MarshalIndent(&c, "", "  ")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, string(b))
	}
	return strings.Join(out, "\n")
}

// planChanges plans cfg and returns the plan and every change it passed
// on (plan -changes), sorted.
func planChanges(t *testing.T, ctx context.Context, cfg *hclconfig.Config, opts planner.Options) (*planner.Plan, []string) {
	t.Helper()
	var mu sync.Mutex
	var changes []string
	opts.Changes = func(c *planner.Change) error {
		b, err := json.Marshal(c)
		mu.Lock()
		changes = append(changes, string(b))
		mu.Unlock()
		return err
	}
	p, err := planner.Compute(ctx, cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(changes)
	return p, changes
}

// TestServerHashMatchesFullRows plans the same syncs with both strategies:
// counts, findings (rejected rows, NULL and repeated keys), samples,
// change digests and every change must be the same. The rows cover every
// kind of value the hash must tell apart (NULL, ” and 'NULL'; numeric
// scale; -0; timestamps; json; bytea; arrays; an enum and a domain the
// source does not have; sensitive columns), limits read lifted, values
// that do not convert, NULL keys on both sides and repeated source keys,
// under every behavior.
func TestServerHashMatchesFullRows(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Dst(`CREATE TYPE mood AS ENUM ('sad', 'ok', 'happy')`)
	e.Dst(`CREATE DOMAIN short AS text CHECK (length(VALUE) < 6)`)
	const cols = `id bigint%s, t text, n numeric, v %s, c char(4), b bit(3), f float8, ts timestamptz, j jsonb, raw bytea, a int[], m %s, d %s, secret text`
	// rows generates the same rows on both servers.
	rows := func(from, to int) string {
		return fmt.Sprintf(`SELECT g,
  CASE g %% 7 WHEN 0 THEN NULL WHEN 1 THEN '' WHEN 2 THEN 'NULL' ELSE 't' || g END,
  CASE WHEN g %% 5 = 0 THEN 1.50 ELSE g / 4.0 END,
  CASE WHEN g %% 97 = 0 THEN 'toolongvalue' ELSE 'v' || (g %% 100) END,
  'c' || (g %% 10),
  (g %% 8)::bit(3),
  CASE WHEN g %% 11 = 0 THEN '-0'::float8 ELSE g * 0.1 END,
  '2024-01-01 00:00:00+00'::timestamptz + g * interval '1 minute',
  jsonb_build_object('g', g, 'z', g %% 3),
  CASE WHEN g %% 13 = 0 THEN NULL ELSE decode(lpad(to_hex(g), 8, '0'), 'hex') END,
  ARRAY[g, NULL, g %% 4],
  (ARRAY['sad', 'ok', 'happy', 'meh'])[1 + g %% 4],
  CASE WHEN g %% 89 = 0 THEN 'waytoolong' ELSE 's' || (g %% 9) END,
  'secret-' || g
FROM generate_series(%d, %d) g`, from, to)
	}
	e.Src(fmt.Sprintf(`CREATE TABLE src (`+cols+`)`, "", "text", "text", "text"))
	e.Src(`INSERT INTO src ` + rows(1, 3000))
	e.Src(`INSERT INTO src (id, t) VALUES (NULL, 'null key'), (NULL, 'another')`)
	var body string
	for _, b := range hclconfig.Behaviors {
		table := "dst_" + string(b)
		e.Dst(fmt.Sprintf(`CREATE TABLE %s (`+cols+`)`, table, " UNIQUE", "varchar(6)", "mood", "short"))
		e.Dst(fmt.Sprintf(`INSERT INTO %s SELECT id, t, n, v::varchar(6), c, b, f, ts, j, raw, a,
  CASE WHEN m = 'meh' THEN 'ok' ELSE m END::mood, CASE WHEN length(d) < 6 THEN d END, secret
FROM (%s) AS r(id, t, n, v, c, b, f, ts, j, raw, a, m, d, secret) WHERE id %% 17 <> 0 AND v::text NOT LIKE 'toolong%%'`, table, rows(1, 3100)))
		for _, u := range []string{
			`t = t || 'x' WHERE id % 10 = 3`,
			`t = NULL WHERE t = ''`,
			`t = '' WHERE t IS NULL AND id % 3 = 0`,
			`n = 1.5 WHERE n = 1.50 AND id % 2 = 0`,
			`f = 0 WHERE f = 0 AND id % 2 = 0`,
			`ts = ts + interval '1 microsecond' WHERE id % 10 = 6`,
			`raw = NULL WHERE id % 10 = 5`,
			`a = ARRAY[id::int, 0, 1] WHERE id % 10 = 7`,
			`j = j || '{"y": 1}' WHERE id % 10 = 8`,
			`m = 'happy' WHERE id % 10 = 9`,
			`secret = 'changed' WHERE id % 100 = 1`,
		} {
			e.Dst(fmt.Sprintf(`UPDATE %s SET %s`, table, u))
		}
		e.Dst(fmt.Sprintf(`INSERT INTO %s (id, t) VALUES (NULL, 'x'), (NULL, 'y')`, table))
		body += fmt.Sprintf(`
sync %q {
  source            = source.postgres.src
  query             = "SELECT * FROM src"
  destination       = destination.postgres.dst
  table             = %q
  behavior          = %q
  key               = ["id"]
  on_reject         = "skip"
  sensitive_columns = ["secret"]
}
`, string(b), table, string(b))
	}
	// Few changes, on analyzed tables: the server-hash diff starts with
	// bucket summaries and reads the rows of the buckets that differ only.
	for _, b := range hclconfig.Behaviors {
		table := "few_" + string(b)
		e.Dst(fmt.Sprintf(`CREATE TABLE %s (`+cols+`)`, table, " UNIQUE", "varchar(6)", "mood", "short"))
		e.Dst(fmt.Sprintf(`INSERT INTO %s (id, t, n, c, b, f, ts, j, raw, a, secret) SELECT id, t, n, c, b, f, ts, j, raw, a, secret
FROM (%s) AS r(id, t, n, v, c, b, f, ts, j, raw, a, m, d, secret) WHERE id %% 400 <> 0 OR id > 3000`, table, rows(1, 3010)))
		for _, u := range []string{
			`t = t || 'x' WHERE id % 100 = 3`,
			`f = 0 WHERE f = 0 AND id % 7 = 0 AND id % 3 = 0`,
			`raw = NULL WHERE id % 250 = 5`,
		} {
			e.Dst(fmt.Sprintf(`UPDATE %s SET %s`, table, u))
		}
		e.Dst(fmt.Sprintf(`INSERT INTO %s (id, t) VALUES (NULL, 'x')`, table))
		e.Dst(fmt.Sprintf(`ANALYZE %s`, table))
		body += fmt.Sprintf(`
sync %q {
  source            = source.postgres.src
  query             = "SELECT * FROM src"
  destination       = destination.postgres.dst
  table             = %q
  behavior          = %q
  key               = ["id"]
  sensitive_columns = ["secret"]
  mapping = {
    id = "id", t = "t", n = "n", c = "c", b = "b", f = "f", ts = "ts", j = "j", raw = "raw", a = "a", secret = "secret"
  }
}
`, table, table, string(b))
	}
	// Keys repeated in the source; a value that does not convert.
	body += `
sync "repeated" {
  source      = source.postgres.src
  query       = "SELECT * FROM src UNION ALL SELECT * FROM src WHERE id % 1000 = 7"
  destination = destination.postgres.dst
  table       = "dst_mirror"
  behavior    = "mirror"
  key         = ["id"]
}

sync "few_repeated" {
  source      = source.postgres.src
  query       = "SELECT id, t FROM src UNION ALL SELECT id, t FROM src WHERE id % 1000 = 7"
  destination = destination.postgres.dst
  table       = "few_mirror"
  behavior    = "mirror"
  key         = ["id"]
}

sync "few_unconvertible" {
  source      = source.postgres.src
  query       = "SELECT id, CASE WHEN id % 500 = 0 THEN 'x' ELSE f::text END AS f FROM src"
  destination = destination.postgres.dst
  table       = "few_update_or_create"
  behavior    = "update_or_create"
  key         = ["id"]
  on_reject   = "skip"
}

sync "unconvertible" {
  source      = source.postgres.src
  query       = "SELECT id, CASE WHEN id % 500 = 0 THEN 'x' ELSE f::text END AS f FROM src"
  destination = destination.postgres.dst
  table       = "dst_update_or_create"
  behavior    = "update_or_create"
  key         = ["id"]
  on_reject   = "skip"
}
`
	want := map[string]string{"repeated": planner.StrategyFullRows, "unconvertible": planner.StrategyFullRows,
		"few_repeated": planner.StrategyFullRows, "few_unconvertible": planner.StrategyFullRows}
	var base string
	var baseChanges []string
	for _, st := range strategies {
		cfg := e.Config(withStrategy(body, st))
		p, changes := planChanges(t, planner.WithSummaryRowsForTest(context.Background(), 1000), cfg, planner.Options{ShowRows: 7})
		for _, sp := range p.Syncs {
			if !sp.Diffed {
				t.Fatalf("%s, %s: not diffed:\n%s", st, sp.Name, synctest.FindingsText(sp))
			}
			w := want[sp.Name]
			if w == "" {
				w = st
			}
			if sp.Strategy != w {
				t.Errorf("%s, %s: strategy %q (%s), want %q", st, sp.Name, sp.Strategy, sp.StrategyReason, w)
			}
			if few := strings.HasPrefix(sp.Name, "few_") && w == planner.StrategyServerHash; st == planner.StrategyServerHash && few != strings.Contains(sp.StrategyEstimate, "bucket summaries") {
				t.Errorf("%s: bucket summaries used: %v, want %v (%s)", sp.Name, !few, few, sp.StrategyEstimate)
			}
		}
		got := planSummary(t, p)
		if base == "" {
			base, baseChanges = got, changes
			for _, name := range []string{"mirror", "update_only", "append", "few_mirror"} {
				c := syncNamed(t, p, name).Counts
				if c.Unchanged == 0 || c.Changes() == 0 || (c.Reject == 0 && name != "few_mirror") {
					t.Errorf("%s: the rows do not cover unchanged, changed and rejected rows: %+v", name, c)
				}
			}
			continue
		}
		if got != base {
			t.Errorf("%s: the plan differs from full rows':\n%s\nfull rows:\n%s", st, got, base)
		}
		if !slices.Equal(changes, baseChanges) {
			t.Errorf("%s: %d changes, full rows %d, or other changes", st, len(changes), len(baseChanges))
		}
	}
}

// TestServerHashSummariesAcrossPacks diffs tables of 50,000 rows, whose
// bucket summaries span many packed rows (4096 buckets a row), with a
// bigint key (its type's own hash function), a text key and a two-column
// key (hash_record_extended): the counts and every change must be full
// rows', read through bucket summaries, and a few buckets only differ.
func TestServerHashSummariesAcrossPacks(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	const n = 50000
	e.Src(fmt.Sprintf(`CREATE TABLE src AS SELECT g AS id, 'k' || g AS name, g %% 7 AS part, 'v' || g AS v FROM generate_series(1, %d) g`, n))
	var body string
	for _, key := range []string{`"id"`, `"name"`, `"part", "id"`} {
		table := "dst_" + strings.NewReplacer(`"`, "", ", ", "_").Replace(key)
		e.Dst(fmt.Sprintf(`CREATE TABLE %s (id bigint NOT NULL, name text NOT NULL, part int NOT NULL, v text, UNIQUE (%s))`, table, strings.ReplaceAll(key, `"`, "")))
		e.Dst(fmt.Sprintf(`INSERT INTO %s SELECT g, 'k' || g, g %% 7, CASE WHEN g %% 1000 = 1 THEN 'changed' ELSE 'v' || g END
FROM generate_series(1, %d) g WHERE g %% 997 <> 0`, table, n+30))
		e.Dst(fmt.Sprintf(`ANALYZE %s`, table))
		body += fmt.Sprintf(`
sync %q {
  source      = source.postgres.src
  query       = "SELECT * FROM src"
  destination = destination.postgres.dst
  table       = %q
  behavior    = "mirror"
  key         = [%s]
}
`, table, table, key)
	}
	var base string
	var baseChanges []string
	for _, st := range strategies {
		p, changes := planChanges(t, context.Background(), e.Config(withStrategy(body, st)), planner.Options{})
		for _, sp := range p.Syncs {
			if c := sp.Counts; c.Insert != n/997 || c.Update != n/1000 || c.Delete != 30 {
				t.Errorf("%s, %s: counts %+v, want %d inserted, %d updated, 30 deleted", st, sp.Name, c, n/997, n/1000)
			}
			if st != planner.StrategyServerHash {
				continue
			}
			var differ, buckets int
			at := strings.Index(sp.StrategyEstimate, "bucket summaries: ")
			if _, err := fmt.Sscanf(sp.StrategyEstimate[max(at, 0):], "bucket summaries: %d of %d buckets differed", &differ, &buckets); at < 0 || err != nil {
				t.Fatalf("%s: no bucket summaries: %q", sp.Name, sp.StrategyEstimate)
			}
			if buckets <= 4096 || differ > buckets/20 {
				t.Errorf("%s: %d of %d buckets differed, want more than 4096 buckets and few differing", sp.Name, differ, buckets)
			}
		}
		got := planSummary(t, p)
		if base == "" {
			base, baseChanges = got, changes
			continue
		}
		if got != base || !slices.Equal(changes, baseChanges) {
			t.Errorf("%s: the plan or its %d changes differ from full rows' (%d changes):\n%s\nfull rows:\n%s", st, len(changes), len(baseChanges), got, base)
		}
	}
}
