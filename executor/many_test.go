package executor_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/synctest"
)

// tableSync is a sync named name of source table "src" into destination
// table name, update_or_create, with extra lines (e.g. depends_on).
func tableSync(name, extra string) string {
	return fmt.Sprintf(`
sync %q {
  source      = source.postgres.src
  query       = "SELECT id, name FROM src"
  destination = destination.postgres.dst
  table       = %q
  behavior    = "update_or_create"
  key         = "id"
  %s
}
`, name, name, extra)
}

// commitLogSQL creates, on the destination, a log of writes per table: a
// statement trigger on each table records clock_timestamp() and the table.
const commitLogSQL = `
CREATE TABLE write_log (tbl text, at timestamptz);
CREATE FUNCTION log_write() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO write_log VALUES (TG_TABLE_NAME, clock_timestamp()); RETURN NULL; END $$;
`

func createLoggedTable(e *synctest.Env, name string) {
	e.Dst(fmt.Sprintf(`CREATE TABLE %s (id int PRIMARY KEY, name text)`, name))
	e.Dst(fmt.Sprintf(`CREATE TRIGGER log_%s AFTER INSERT OR UPDATE OR DELETE ON %s FOR EACH STATEMENT EXECUTE FUNCTION log_write()`, name, name))
}

// TestManySyncsDependsOnOrder: c depends on b, b on a; a is slow. Each
// dependent must start only after what it depends on committed: a trigger
// on b and c checks, inside their transactions, that the table they depend
// on is already filled, and the log of writes is in dependency order. The
// independent sync d runs meanwhile.
func TestManySyncsDependsOnOrder(t *testing.T) {
	e := synctest.New(t)
	e.Src(`CREATE TABLE src (id int, name text)`)
	e.Src(`INSERT INTO src SELECT g, 'n' || g FROM generate_series(1, 100) g`)
	e.Dst(commitLogSQL)
	for _, n := range []string{"a", "b", "c", "d"} {
		createLoggedTable(e, n)
	}
	for _, s := range []string{
		`CREATE FUNCTION slow_a() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.005); RETURN NEW; END $$`,
		`CREATE TRIGGER slow BEFORE INSERT ON a FOR EACH ROW EXECUTE FUNCTION slow_a()`,
		// b and c see what they depend on committed, or fail.
		`CREATE FUNCTION require_filled() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE n bigint;
BEGIN
  EXECUTE format('SELECT count(*) FROM %I', TG_ARGV[0]) INTO n;
  IF n <> 100 THEN RAISE EXCEPTION '% written before % was committed (% rows seen)', TG_TABLE_NAME, TG_ARGV[0], n; END IF;
  RETURN NULL;
END $$`,
		`CREATE TRIGGER after_a BEFORE INSERT ON b FOR EACH STATEMENT EXECUTE FUNCTION require_filled('a')`,
		`CREATE TRIGGER after_b BEFORE INSERT ON c FOR EACH STATEMENT EXECUTE FUNCTION require_filled('b')`,
	} {
		e.Dst(s)
	}
	// Declared in an order that is not the dependency order.
	cfg := e.Config(tableSync("c", `depends_on = [sync.b]`) + tableSync("d", "") + tableSync("b", `depends_on = [sync.a]`) + tableSync("a", ""))
	p := applyable(t, cfg)
	res := apply(t, cfg, p, executor.Options{})
	requireApplied(t, res)
	for _, r := range res.Syncs {
		if r.Applied.Insert != 100 {
			t.Errorf("%s: applied %+v, want 100 inserts", r.Name, r.Applied)
		}
	}
	var names []string
	for i, r := range res.Syncs {
		names = append(names, r.Name)
		if r.Name != p.Syncs[i].Name {
			t.Errorf("result %d is %q, the plan's sync %d is %q", i, r.Name, i, p.Syncs[i].Name)
		}
	}
	t.Logf("result order: %v", names)
	order := e.DstQuery(`SELECT tbl FROM write_log WHERE tbl <> 'd' ORDER BY at`)
	if strings.Join(order, ",") != "a,b,c" {
		t.Errorf("writes happened in the order %v, want a, b, c", order)
	}
	requireConverged(t, cfg)
}

// TestManySyncsFailureKeepsCommittedAndSkipsDependents: a applies; b
// depends on a and fails; c depends on b and is skipped; d is independent
// and applies. What a and d committed stays; b and c write nothing; the
// result says, per sync, what happened and why.
func TestManySyncsFailureKeepsCommittedAndSkipsDependents(t *testing.T) {
	e := synctest.New(t)
	e.Src(`CREATE TABLE src (id int, name text)`)
	e.Src(`INSERT INTO src SELECT g, 'n' || g FROM generate_series(1, 50) g`)
	e.Dst(commitLogSQL)
	for _, n := range []string{"a", "b", "c", "d"} {
		createLoggedTable(e, n)
		e.Dst(fmt.Sprintf(`INSERT INTO %s VALUES (1, 'old'), (1000, 'only here')`, n))
	}
	e.Dst(`CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF NEW.id = 25 THEN RAISE EXCEPTION 'b refuses row %', NEW.id; END IF; RETURN NEW; END $$`)
	e.Dst(`CREATE TRIGGER refuse BEFORE INSERT ON b FOR EACH ROW EXECUTE FUNCTION refuse()`)
	e.Dst(`TRUNCATE write_log`)
	cfg := e.Config(tableSync("a", "") + tableSync("b", `depends_on = [sync.a]`) + tableSync("c", `depends_on = [sync.b]`) + tableSync("d", ""))
	p := applyable(t, cfg)
	before := map[string]string{}
	for _, n := range []string{"b", "c"} {
		before[n] = e.DstDigest(n)
	}
	res := apply(t, cfg, p, executor.Options{})
	if !res.Failed() {
		t.Fatalf("Result.Failed() is false:%s", describeResult(res))
	}
	want := map[string]executor.Status{"a": executor.StatusApplied, "b": executor.StatusFailed, "c": executor.StatusSkipped, "d": executor.StatusApplied}
	for _, r := range res.Syncs {
		if r.Status != want[r.Name] {
			t.Errorf("%s: status %s, want %s (err: %v)", r.Name, r.Status, want[r.Name], r.Err)
		}
	}
	for _, n := range []string{"a", "d"} {
		r := syncResult(t, res, n)
		if r.Err != nil || r.Applied.Insert != 49 || r.Applied.Update != 1 {
			t.Errorf("%s: applied %+v, err %v; want 49 inserts and 1 update", n, r.Applied, r.Err)
		}
		if got := e.DstQuery(fmt.Sprintf(`SELECT count(*) FROM %s`, n)); got[0] != "51" {
			t.Errorf("%s has %s rows after its apply, want 51", n, got[0])
		}
	}
	requireFailed(t, res, "b", "insert", "b refuses row 25")
	c := syncResult(t, res, "c")
	if c.Err == nil || !strings.Contains(c.Err.Error(), `"b"`) || c.Applied.Changes() != 0 {
		t.Errorf("c: the skip does not name the sync it depends on: err %v, applied %+v", c.Err, c.Applied)
	}
	for _, n := range []string{"b", "c"} {
		if got := e.DstDigest(n); got != before[n] {
			t.Errorf("%s changed although it did not apply", n)
		}
	}
	if got := e.DstQuery(`SELECT DISTINCT tbl FROM write_log ORDER BY 1`); strings.Join(got, ",") != "a,d" {
		t.Errorf("tables written (and committed): %v, want a and d", got)
	}

	// Once b is fixed, applying again completes b and c only.
	e.Dst(`DROP TRIGGER refuse ON b`)
	res = apply(t, cfg, applyable(t, cfg), executor.Options{})
	requireApplied(t, res)
	for _, r := range res.Syncs {
		wantStatus := executor.StatusApplied
		if r.Name == "a" || r.Name == "d" {
			wantStatus = executor.StatusNoChanges
		}
		if r.Status != wantStatus {
			t.Errorf("second apply, %s: %s, want %s", r.Name, r.Status, wantStatus)
		}
	}
	requireConverged(t, cfg)
}

// sessionSampler counts, as often as it can, the rowform sessions on a
// server and keeps the highest count and what it saw then.
type sessionSampler struct {
	stop    chan struct{}
	done    chan struct{}
	max     int
	seen    int // samples with at least one session
	maxSeen []string
	err     error
}

// sampleSessions samples the rowform sessions of database db on the server
// of connString. A session counts from its first moment until its backend
// is gone: also while it connects or ends.
func sampleSessions(t *testing.T, connString, db string) *sessionSampler {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), connString)
	if err != nil {
		t.Fatal(err)
	}
	s := &sessionSampler{stop: make(chan struct{}), done: make(chan struct{})}
	go func() {
		defer close(s.done)
		defer conn.Close(context.Background())
		for {
			select {
			case <-s.stop:
				return
			default:
			}
			rows, err := conn.Query(context.Background(), `SELECT format('%s %s %s %s', pid, application_name, coalesce(state, '?'), left(query, 40))
FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'rowform/%'`, db)
			if err != nil {
				s.err = err
				return
			}
			got, err := pgx.CollectRows(rows, pgx.RowTo[string])
			if err != nil {
				s.err = err
				return
			}
			if len(got) > 0 {
				s.seen++
			}
			if len(got) > s.max {
				s.max, s.maxSeen = len(got), got
			}
		}
	}()
	return s
}

func (s *sessionSampler) finish(t *testing.T) {
	t.Helper()
	close(s.stop)
	<-s.done
	if s.err != nil {
		t.Fatalf("sampling pg_stat_activity: %v", s.err)
	}
}

// TestManySyncsMaxConnectionsOne: with max_connections = 1 on the
// destination, three independent syncs run one after the other: there are
// never two rowform sessions on the destination at once.
func TestManySyncsMaxConnectionsOne(t *testing.T) {
	e := synctest.New(t)
	syncs := slowTables(e, 60, "0.005", "a", "b", "c")
	d := synctest.Destination
	cfg := configFor(t, e, d.Port, e.DstDB, e.DstUser, e.DstPassword, 1, syncs)
	p := applyable(t, cfg)
	s := sampleSessions(t, d.ConnString(e.DstDB), e.DstDB)
	res := apply(t, cfg, p, executor.Options{})
	s.finish(t)
	requireApplied(t, res)
	if s.seen == 0 {
		t.Fatalf("the sampler never saw a rowform session; the test proves nothing")
	}
	if s.max > 1 {
		t.Errorf("with max_connections = 1, %d rowform sessions were on the destination at once:\n  %s", s.max, strings.Join(s.maxSeen, "\n  "))
	}
	requireConverged(t, cfg)
}

// TestManySyncsSourceMaxConnections: max_connections is "the most
// connections rowform opens to it at once" for a source too (docs/language.md:
// sources have the destination's connection attributes). Two syncs of one
// source with max_connections = 1, to a destination that allows two.
func TestManySyncsSourceMaxConnections(t *testing.T) {
	e := synctest.New(t)
	syncs := slowTables(e, 60, "0.01", "a", "b")
	d := synctest.Destination
	e.WriteFile("main.hcl", withSourceMaxConnections(t, e, 1)+syncs)
	cfg := loadDir(t, e)
	if cfg.Sources["postgres.src"].Server.MaxConnections != 1 || cfg.Destinations["postgres.dst"].MaxConnections < 2 {
		t.Fatalf("max_connections: source %d, destination %d", cfg.Sources["postgres.src"].Server.MaxConnections, cfg.Destinations["postgres.dst"].MaxConnections)
	}
	p := applyable(t, cfg)
	s := sampleSessions(t, synctest.Source.ConnString(e.SrcDB), e.SrcDB)
	dst := sampleSessions(t, d.ConnString(e.DstDB), e.DstDB)
	res := apply(t, cfg, p, executor.Options{})
	s.finish(t)
	dst.finish(t)
	requireApplied(t, res)
	if s.seen == 0 {
		t.Fatalf("the sampler never saw a rowform session on the source")
	}
	t.Logf("at most %d sessions on the source, %d on the destination", s.max, dst.max)
	if s.max > 1 {
		t.Errorf("with max_connections = 1 on the source, %d rowform sessions were on it at once:\n  %s", s.max, strings.Join(s.maxSeen, "\n  "))
	}
}

// slowTables creates the source table src with rows rows and, on the
// destination, one table per name whose inserts each take delay seconds. It
// returns the sync blocks that copy src into each table.
func slowTables(e *synctest.Env, rows int, delay string, names ...string) string {
	e.Src(`CREATE TABLE src (id int, name text)`)
	e.Src(fmt.Sprintf(`INSERT INTO src SELECT g, 'n' || g FROM generate_series(1, %d) g`, rows))
	e.Dst(fmt.Sprintf(`CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(%s); RETURN NEW; END $$`, delay))
	var body strings.Builder
	for _, n := range names {
		e.Dst(fmt.Sprintf(`CREATE TABLE %s (id int PRIMARY KEY, name text)`, n))
		e.Dst(fmt.Sprintf(`CREATE TRIGGER slow BEFORE INSERT ON %s FOR EACH ROW EXECUTE FUNCTION slow()`, n))
		body.WriteString(tableSync(n, ""))
	}
	return body.String()
}

// withSourceMaxConnections is the test's server blocks with max_connections
// = n on the source.
func withSourceMaxConnections(t *testing.T, e *synctest.Env, n int) string {
	t.Helper()
	hcl := strings.Replace(e.Servers(), `password = env("SRC_PASSWORD")`, fmt.Sprintf("password = env(\"SRC_PASSWORD\")\n  max_connections = %d", n), 1)
	if hcl == e.Servers() {
		t.Fatal("could not set the source's max_connections")
	}
	return hcl
}

// loadDir loads the test's configuration directory as it is.
func loadDir(t *testing.T, e *synctest.Env) *hclconfig.Config {
	t.Helper()
	cfg, diags := hclconfig.Load(e.Dir, hclconfig.Inputs{Environ: e.Environ})
	if diags.HasErrors() {
		t.Fatalf("configuration does not load: %s", diags.Error())
	}
	return cfg
}

// TestManySyncsRunInParallel: independent syncs of one apply run at once
// when the destination and the source allow it (max_connections = 2): two
// rowform sessions are seen together on the destination.
func TestManySyncsRunInParallel(t *testing.T) {
	e := synctest.New(t)
	syncs := slowTables(e, 100, "0.01", "a", "b")
	// The destination allows 2 connections; let the source allow 2 too.
	e.WriteFile("main.hcl", withSourceMaxConnections(t, e, 2)+syncs)
	cfg := loadDir(t, e)
	if cfg.Sources["postgres.src"].Server.MaxConnections != 2 || cfg.Destinations["postgres.dst"].MaxConnections != 2 {
		t.Fatalf("max_connections: source %d, destination %d", cfg.Sources["postgres.src"].Server.MaxConnections, cfg.Destinations["postgres.dst"].MaxConnections)
	}
	p := applyable(t, cfg)
	s := sampleSessions(t, synctest.Destination.ConnString(e.DstDB), e.DstDB)
	res := apply(t, cfg, p, executor.Options{})
	s.finish(t)
	requireApplied(t, res)
	if s.max != 2 {
		t.Errorf("with max_connections = 2 and two independent syncs, at most %d sessions ran at once, want 2", s.max)
	}
}

// TestManySyncsInterrupted: a → b → c by depends_on. The apply is canceled
// while b inserts: a stays committed, b failed saying nothing was committed
// for it, c was not started, and Failed() reports it.
func TestManySyncsInterrupted(t *testing.T) {
	e := synctest.New(t)
	e.Src(`CREATE TABLE src (id int, name text)`)
	e.Src(`INSERT INTO src SELECT g, 'n' || g FROM generate_series(1, 1000) g`)
	for _, n := range []string{"a", "b", "c"} {
		e.Dst(fmt.Sprintf(`CREATE TABLE %s (id int PRIMARY KEY, name text)`, n))
	}
	e.Dst(`CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN PERFORM pg_sleep(0.01); RETURN NEW; END $$`)
	e.Dst(`CREATE TRIGGER slow BEFORE INSERT ON b FOR EACH ROW EXECUTE FUNCTION slow()`)
	cfg := e.Config(tableSync("a", "") + tableSync("b", `depends_on = [sync.a]`) + tableSync("c", `depends_on = [sync.b]`))
	p := applyable(t, cfg)
	before := map[string]string{"b": e.DstDigest("b"), "c": e.DstDigest("c")}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := startApply(ctx, cfg, p, executor.Options{})
	waitForQuery(t, e.DstConn(), e.DstDB, "rowform/b", insertStatement, a.done)
	cancel()
	res := a.wait(t)
	if !res.Failed() {
		t.Errorf("Failed() is false after an interrupt:%s", describeResult(res))
	}
	if r := syncResult(t, res, "a"); r.Status != executor.StatusApplied || r.Applied.Insert != 1000 {
		t.Errorf("a: %s %+v %v", r.Status, r.Applied, r.Err)
	}
	requireFailed(t, res, "b", "interrupted", "nothing was committed")
	if r := syncResult(t, res, "c"); r.Status != executor.StatusSkipped || r.Err == nil {
		t.Errorf("c: status %s, err %v; want skipped with a reason", r.Status, r.Err)
	}
	if n := e.DstQuery(`SELECT count(*) FROM a`)[0]; n != "1000" {
		t.Errorf("a has %s rows after the interrupt, want its 1000 committed rows", n)
	}
	for _, n := range []string{"b", "c"} {
		if got := e.DstDigest(n); got != before[n] {
			t.Errorf("%s changed", n)
		}
	}
	waitNoRowformSessions(t, e.DstConn(), e.DstDB, 5*time.Second)
}
