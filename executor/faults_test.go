package executor_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/pgtest"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// The fault tests share one shape: a mirror sync "items" whose apply
// deletes 50 rows, updates 50 and inserts `inserts` rows (in that order, in
// one transaction); a fault strikes in the middle; then the destination
// table must be exactly as before, the sync failed with an error that says
// why, and a later apply, once the fault is gone, converges.

// itemsSQL creates the source and destination tables of the fault tests.
// Source ids are 1..inserts+100; destination ids inserts+1..inserts+150, of
// which the first 50 differ (updates) and the last 50 are not in the
// source (deletes).
func itemsSQL(inserts int) (src, dst []string) {
	src = []string{
		`CREATE TABLE items (id bigint, name text, qty int)`,
		fmt.Sprintf(`INSERT INTO items SELECT g, 'item ' || g, g %% 7 FROM generate_series(1, %d) g`, inserts+100),
	}
	dst = []string{
		`CREATE TABLE items (id bigint PRIMARY KEY, name text, qty int, note text DEFAULT 'new')`,
		fmt.Sprintf(`INSERT INTO items SELECT g, CASE WHEN g <= %[1]d + 50 THEN 'old ' || g ELSE 'item ' || g END, g %% 7, 'kept'
FROM generate_series(%[1]d + 1, %[1]d + 150) g`, inserts),
	}
	return src, dst
}

const itemsSync = `
sync "items" {
  source      = source.postgres.src
  query       = "SELECT id, name, qty FROM items"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "mirror"
  key         = "id"
}
`

// itemsFixture sets up the fault tables on the test's databases and
// returns the configuration.
func itemsFixture(t *testing.T, e *synctest.Env, inserts int) *hclconfig.Config {
	t.Helper()
	src, dst := itemsSQL(inserts)
	for _, s := range src {
		e.Src(s)
	}
	for _, s := range dst {
		e.Dst(s)
	}
	return e.Config(itemsSync)
}

// slowInsertsSQL makes every row inserted into items take delay seconds.
func slowInsertsSQL(delay string) []string {
	return []string{
		fmt.Sprintf(`CREATE FUNCTION slow_insert() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_sleep(%s); RETURN NEW; END $$`, delay),
		`CREATE TRIGGER slow BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION slow_insert()`,
	}
}

// makeInsertsSlow makes every row inserted into the destination's items
// take 10ms, so that an apply is still writing when the test acts.
func makeInsertsSlow(e *synctest.Env) {
	for _, s := range slowInsertsSQL("0.01") {
		e.Dst(s)
	}
}

const dropSlowSQL = `DROP TRIGGER slow ON items`

func requirePlanned(t *testing.T, p *planner.Plan, want planner.Counts) {
	t.Helper()
	if got := p.Syncs[0].Counts; got != want {
		t.Fatalf("planned %+v, want %+v", got, want)
	}
}

// poll calls cond every 10ms until it returns true, failing the test after
// timeout.
func poll(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// activeQueryPID returns the pid of a session of database db with
// application_name app whose active query starts with prefix, or 0.
func activeQueryPID(ctx context.Context, conn *pgx.Conn, db, app, prefix string) (int32, error) {
	var pid int32
	err := conn.QueryRow(ctx, `SELECT pid FROM pg_stat_activity
WHERE datname = $1 AND application_name = $2 AND state = 'active' AND query LIKE $3 || '%' LIMIT 1`, db, app, prefix).Scan(&pid)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	return pid, err
}

// insertStatement starts the statement that writes a sync's new rows: a
// binary COPY straight into the table (types that are all built in).
const insertStatement = `COPY "public".`

// waitForQuery waits until a session of db named app runs a query starting
// with prefix, and returns its pid. done, when it is closed first, fails the
// test: the apply ended before the query was seen.
func waitForQuery(t *testing.T, conn *pgx.Conn, db, app, prefix string, done <-chan struct{}) int32 {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		pid, err := activeQueryPID(context.Background(), conn, db, app, prefix)
		if err != nil {
			t.Fatalf("reading pg_stat_activity: %v", err)
		}
		if pid != 0 {
			return pid
		}
		select {
		case <-done:
			t.Fatalf("the apply ended before a query %q… of %s was seen", prefix, app)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("no query %q… of %s after a minute", prefix, app)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// asyncApply runs Apply in a goroutine; the result is ready when done is
// closed.
type asyncApply struct {
	done chan struct{}
	res  *executor.Result
	took time.Duration
}

func startApply(ctx context.Context, cfg *hclconfig.Config, p *planner.Plan, opts executor.Options) *asyncApply {
	a := &asyncApply{done: make(chan struct{})}
	go func() {
		defer close(a.done)
		start := time.Now()
		a.res = executor.Apply(ctx, cfg, p, opts)
		a.took = time.Since(start)
	}()
	return a
}

func (a *asyncApply) wait(t *testing.T) *executor.Result {
	t.Helper()
	select {
	case <-a.done:
	case <-time.After(testTimeout):
		t.Fatalf("the apply did not end within %s", testTimeout)
	}
	return a.res
}

// rowformSessions lists the sessions of db whose application_name starts
// with "rowform/", as "pid application_name state: query".
func rowformSessions(t *testing.T, conn *pgx.Conn, db string, onlyActive bool) []string {
	t.Helper()
	rows, err := conn.Query(context.Background(), `SELECT format('%s %s %s: %s', pid, application_name, state, left(query, 60))
FROM pg_stat_activity WHERE datname = $1 AND application_name LIKE 'rowform/%' AND pid <> pg_backend_pid()
  AND (NOT $2 OR state = 'active')`, db, onlyActive)
	if err != nil {
		t.Fatalf("reading pg_stat_activity: %v", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatalf("reading pg_stat_activity: %v", err)
	}
	return out
}

// waitNoRowformSessions waits until db has no rowform session left.
func waitNoRowformSessions(t *testing.T, conn *pgx.Conn, db string, timeout time.Duration) {
	t.Helper()
	var last []string
	deadline := time.Now().Add(timeout)
	for {
		last = rowformSessions(t, conn, db, false)
		if len(last) == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("rowform sessions still there %s later:\n  %s", timeout, strings.Join(last, "\n  "))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestFaultTriggerRaisesMidway: a trigger raises on one row in the middle
// of the UPDATE, after the DELETE already ran in the transaction. Nothing of
// the sync stays, the error carries the server's message, SQLSTATE and
// context, and once the trigger is gone the apply converges.
func TestFaultTriggerRaisesMidway(t *testing.T) {
	e := synctest.New(t)
	cfg := itemsFixture(t, e, 100)
	e.Dst(`CREATE FUNCTION refuse_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.id = 125 THEN RAISE EXCEPTION 'row % is refused by a trigger', NEW.id USING ERRCODE = 'P0001', HINT = 'ask the DBA'; END IF;
  RETURN NEW;
END $$`)
	e.Dst(`CREATE TRIGGER refuse BEFORE INSERT OR UPDATE ON items FOR EACH ROW EXECUTE FUNCTION refuse_row()`)
	before := e.DstDigest("items")
	p := applyable(t, cfg)
	requirePlanned(t, p, planner.Counts{Insert: 100, Update: 50, Delete: 50, Unchanged: 50})

	res := apply(t, cfg, p, executor.Options{})
	r := requireFailed(t, res, "items", "update", "row 125 is refused by a trigger", "P0001", "ask the DBA")
	if r.OutcomeUnknown {
		t.Errorf("OutcomeUnknown is set for a failure before COMMIT")
	}
	if errors.Is(r.Err, executor.ErrStale) {
		t.Errorf("a trigger's error is reported as a stale plan: %v", r.Err)
	}
	if got := e.DstDigest("items"); got != before {
		t.Errorf("items changed although the sync failed: %s, before %s", got, before)
	}

	// The same failure on an inserted row.
	e.Dst(`CREATE OR REPLACE FUNCTION refuse_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  IF NEW.id = 50 THEN RAISE EXCEPTION 'row % is refused by a trigger', NEW.id; END IF;
  RETURN NEW;
END $$`)
	res = apply(t, cfg, p, executor.Options{})
	requireFailed(t, res, "items", "insert", "row 50 is refused by a trigger")
	if got := e.DstDigest("items"); got != before {
		t.Errorf("items changed although the sync failed")
	}

	e.Dst(`DROP TRIGGER refuse ON items`)
	applyAndConverge(t, cfg)
}

// TestFaultBackendTerminated: pg_terminate_backend of the apply's session
// while it inserts, after its DELETE and UPDATE ran.
func TestFaultBackendTerminated(t *testing.T) {
	e := synctest.New(t)
	cfg := itemsFixture(t, e, 300)
	makeInsertsSlow(e)
	before := e.DstDigest("items")
	p := applyable(t, cfg)
	requirePlanned(t, p, planner.Counts{Insert: 300, Update: 50, Delete: 50, Unchanged: 50})

	a := startApply(context.Background(), cfg, p, executor.Options{})
	pid := waitForQuery(t, e.DstConn(), e.DstDB, "rowform/items", insertStatement, a.done)
	e.Dst(`SELECT pg_terminate_backend($1)`, pid)
	res := a.wait(t)
	r := requireFailed(t, res, "items", "insert", "terminating connection due to administrator command")
	if r.OutcomeUnknown {
		t.Errorf("OutcomeUnknown is set for a failure before COMMIT")
	}
	if got := e.DstDigest("items"); got != before {
		t.Errorf("items changed although the sync failed")
	}
	e.Dst(dropSlowSQL)
	applyAndConverge(t, cfg)
}

// TestFaultContextCanceled is what the first Ctrl-C does: the context of
// the apply is canceled while the server runs its INSERT. Apply returns
// only once the server has stopped our query; it says nothing was
// committed, and no session of ours remains.
func TestFaultContextCanceled(t *testing.T) {
	e := synctest.New(t)
	cfg := itemsFixture(t, e, 2000)
	makeInsertsSlow(e)
	before := e.DstDigest("items")
	p := applyable(t, cfg)

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	a := startApply(ctx, cfg, p, executor.Options{})
	waitForQuery(t, e.DstConn(), e.DstDB, "rowform/items", insertStatement, a.done)
	canceled := time.Now()
	cancel()
	res := a.wait(t)
	t.Logf("Apply returned %s after the cancel", time.Since(canceled).Round(time.Millisecond))
	// Right when Apply returns, the server must not run a query of ours any
	// more ("waits until the server has really stopped the query").
	if active := rowformSessions(t, e.DstConn(), e.DstDB, true); len(active) > 0 {
		t.Errorf("queries of ours still run on the server after Apply returned:\n  %s", strings.Join(active, "\n  "))
	}
	r := requireFailed(t, res, "items", "interrupted", "nothing was committed")
	if r.OutcomeUnknown {
		t.Errorf("OutcomeUnknown is set for an interrupt before COMMIT")
	}
	if got := e.DstDigest("items"); got != before {
		t.Errorf("items changed although the apply was interrupted")
	}
	waitNoRowformSessions(t, e.DstConn(), e.DstDB, 5*time.Second)
	if locks := e.DstQuery(`SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'`); locks[0] != "0" {
		t.Errorf("%s advisory locks remain", locks[0])
	}
	e.Dst(dropSlowSQL)
	applyAndConverge(t, cfg)
}

// TestFaultContextCanceledBeforeStart: an apply whose context is already
// canceled starts nothing and says so.
func TestFaultContextCanceledBeforeStart(t *testing.T) {
	e := synctest.New(t)
	cfg := itemsFixture(t, e, 10)
	before := e.DstDigest("items")
	p := applyable(t, cfg)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res := executor.Apply(ctx, cfg, p, executor.Options{})
	if !res.Failed() {
		t.Errorf("an interrupted apply reports success:%s", describeResult(res))
	}
	r := syncResult(t, res, "items")
	if r.Status == executor.StatusApplied || r.Err == nil || r.Applied.Changes() != 0 {
		t.Errorf("status %s, applied %+v, err %v", r.Status, r.Applied, r.Err)
	}
	if got := e.DstDigest("items"); got != before {
		t.Errorf("items changed")
	}
}

// TestFaultServerStopped stops the destination server (pg_ctl stop -m
// immediate) while the apply inserts, on a cluster of the test's own, then
// restarts it: the table is as before, and the apply converges.
func TestFaultServerStopped(t *testing.T) {
	e := synctest.New(t)
	c := pgtest.Start(t)
	const db = "stopped"
	pgtest.Exec(t, c, "", "CREATE DATABASE "+db)
	src, dst := itemsSQL(1000)
	for _, s := range src {
		e.Src(s)
	}
	for _, s := range append(dst, slowInsertsSQL("0.01")...) {
		pgtest.Exec(t, c, db, s)
	}
	// The cluster commits asynchronously; make the fixture survive an
	// immediate stop.
	pgtest.Exec(t, c, db, "CHECKPOINT")
	cfg := configFor(t, e, c.Port, db, c.User, c.Password, 1, itemsSync)
	digest := func() string {
		conn := pgtest.Connect(t, c, db)
		defer conn.Close(context.Background())
		var d string
		if err := conn.QueryRow(context.Background(), `SELECT count(*)::text || ':' || md5(string_agg(x::text, E'\n' ORDER BY x::text COLLATE "C")) FROM items x`).Scan(&d); err != nil {
			t.Fatal(err)
		}
		return d
	}
	before := digest()
	p := applyable(t, cfg)
	requirePlanned(t, p, planner.Counts{Insert: 1000, Update: 50, Delete: 50, Unchanged: 50})

	a := startApply(context.Background(), cfg, p, executor.Options{})
	watch := pgtest.Connect(t, c, db)
	waitForQuery(t, watch, db, "rowform/items", insertStatement, a.done)
	stopCtx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := c.Stop(stopCtx, "immediate"); err != nil {
		t.Fatalf("stopping the server: %v", err)
	}
	res := a.wait(t)
	r := requireFailed(t, res, "items", "insert")
	t.Logf("error after the server stopped: %v (outcome unknown: %v)", r.Err, r.OutcomeUnknown)
	if r.OutcomeUnknown {
		t.Errorf("OutcomeUnknown is set for a failure before COMMIT")
	}
	if err := c.Restart(stopCtx); err != nil {
		t.Fatalf("restarting the server: %v", err)
	}
	if got := digest(); got != before {
		t.Errorf("items changed although the server stopped mid-apply: %s, before %s", got, before)
	}
	pgtest.Exec(t, c, db, dropSlowSQL)
	applyAndConverge(t, cfg)
}

// configFor writes and loads a configuration whose destination "dst" is
// database db on the server at port (user/password), with max_connections
// maxConns, and whose source "src" is the test's source database; body
// holds the syncs.
func configFor(t *testing.T, e *synctest.Env, port int, db, user, password string, maxConns int, body string) *hclconfig.Config {
	t.Helper()
	hcl := fmt.Sprintf(`
destination "postgres" "dst" {
  host            = "127.0.0.1"
  port            = %d
  database        = %q
  user            = %q
  password        = env("DST_PASSWORD")
  max_connections = %d
}

source "postgres" "src" {
  host     = "127.0.0.1"
  port     = %d
  database = %q
  user     = %q
  password = env("SRC_PASSWORD")
}
`, port, db, user, maxConns, synctest.Source.Port, e.SrcDB, synctest.Source.User) + body
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(hcl), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := hclconfig.Load(dir, hclconfig.Inputs{Environ: []string{
		"SRC_PASSWORD=" + synctest.Source.Password, "DST_PASSWORD=" + password}})
	if diags.HasErrors() {
		t.Fatalf("configuration does not load: %s", diags.Error())
	}
	return cfg
}

// cutProxy forwards TCP connections to a server and cuts each connection
// (both directions) at a point of the client's traffic: when limit >= 0,
// as the client sends more than limit bytes (exactly limit bytes reach the
// server); when atCommit is set, as the client sends COMMIT, forwarding
// atCommit-1 bytes of that message first.
type cutProxy struct {
	ln       net.Listener
	target   string
	limit    atomic.Int64
	atCommit atomic.Int64

	mu sync.Mutex
	// sent holds, per connection so far, the bytes forwarded from the
	// client; cut is how many connections were cut.
	sent  []int64
	cut   int
	conns sync.WaitGroup
}

func startCutProxy(t *testing.T, target string) *cutProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &cutProxy{ln: ln, target: target}
	p.limit.Store(-1)
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.conns.Wait() })
	return p
}

func (p *cutProxy) port() int { return p.ln.Addr().(*net.TCPAddr).Port }

func (p *cutProxy) serve() {
	for {
		client, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.conns.Add(1)
		go p.handle(client)
	}
}

func (p *cutProxy) handle(client net.Conn) {
	defer p.conns.Done()
	server, err := net.Dial("tcp", p.target)
	if err != nil {
		client.Close()
		return
	}
	limit, atCommit := p.limit.Load(), p.atCommit.Load()
	p.mu.Lock()
	idx := len(p.sent)
	p.sent = append(p.sent, 0)
	p.mu.Unlock()
	closeBoth := func() { client.Close(); server.Close() }
	go func() { _, _ = io.Copy(client, server); closeBoth() }()
	buf := make([]byte, 32<<10)
	var sent int64
	for {
		n, err := client.Read(buf)
		if n > 0 {
			chunk := buf[:n]
			cutting := limit >= 0 && sent+int64(n) > limit
			if cutting {
				chunk = chunk[:limit-sent]
			}
			if i := bytes.Index(chunk, commitMessage); atCommit > 0 && i >= 0 {
				cutting = true
				chunk = chunk[:i+int(atCommit)-1]
			}
			if _, werr := server.Write(chunk); werr != nil {
				break
			}
			sent += int64(len(chunk))
			p.mu.Lock()
			p.sent[idx] = sent
			if cutting {
				p.cut++
			}
			p.mu.Unlock()
			if cutting {
				break
			}
		}
		if err != nil {
			break
		}
	}
	closeBoth()
}

// commitMessage is COMMIT as a simple-protocol Query message: 'Q', the
// length (11), "COMMIT" and a NUL.
var commitMessage = []byte("Q\x00\x00\x00\x0bCOMMIT\x00")

func (p *cutProxy) stats() (sent []int64, cut int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]int64(nil), p.sent...), p.cut
}

// TestFaultConnectionCut runs the apply through a TCP proxy that cuts the
// connection after N bytes from the client, for N at several points of a
// full apply's traffic (measured first in a rehearsal): during the login,
// the diff, the staging COPY and the merge. Every cut leaves the table as it
// was, and a later apply converges.
func TestFaultConnectionCut(t *testing.T) {
	e := synctest.New(t)
	cfg := itemsFixture(t, e, 3000)
	e.Dst(`CREATE TABLE items_backup AS TABLE items`)
	before := e.DstDigest("items")
	proxy := startCutProxy(t, fmt.Sprintf("127.0.0.1:%d", synctest.Destination.Port))
	viaProxy := configFor(t, e, proxy.port(), e.DstDB, e.DstUser, e.DstPassword, 1, itemsSync)
	p := applyable(t, cfg)
	requirePlanned(t, p, planner.Counts{Insert: 3000, Update: 50, Delete: 50, Unchanged: 50})

	// Rehearsal: how many bytes does the client send in a whole apply?
	requireApplied(t, apply(t, viaProxy, p, executor.Options{}))
	// With sslmode "prefer", pgx first asks for TLS (an 8-byte SSLRequest)
	// and, refused, connects again without it.
	sent, _ := proxy.stats()
	var total int64
	sessions := 0
	for _, n := range sent {
		if n > 8 {
			sessions++
			total = n
		}
	}
	if sessions != 1 {
		t.Fatalf("the apply opened %d destination sessions (bytes sent: %v), want 1", sessions, sent)
	}
	t.Logf("a whole apply sends %d bytes to the destination", total)
	restore := func() {
		e.Dst(`TRUNCATE items`)
		e.Dst(`INSERT INTO items SELECT * FROM items_backup`)
		if got := e.DstDigest("items"); got != before {
			t.Fatalf("restoring items failed")
		}
	}
	restore()

	// Cuts at fractions of the traffic; then, found by the message itself
	// (a whole apply's byte count varies by a few bytes), just before the
	// COMMIT message and in the middle of it. In these two the server never
	// gets a whole COMMIT, but the client cannot know that, so it must say
	// the outcome is unknown.
	type cut struct {
		name     string
		n        int64
		atCommit int64
	}
	var cuts []cut
	for _, f := range []float64{0.02, 0.1, 0.25, 0.5, 0.75, 0.9, 0.98} {
		n := int64(f * float64(total))
		cuts = append(cuts, cut{fmt.Sprintf("at_%g_percent", f*100), n, 0})
	}
	cuts = append(cuts, cut{"before_commit", -1, 1}, cut{"inside_commit", -1, 8})
	for _, c := range cuts {
		t.Run(c.name, func(t *testing.T) {
			waitNoRowformSessions(t, e.DstConn(), e.DstDB, 10*time.Second)
			proxy.limit.Store(c.n)
			proxy.atCommit.Store(c.atCommit)
			_, cutBefore := proxy.stats()
			res := apply(t, viaProxy, p, executor.Options{})
			_, cutAfter := proxy.stats()
			if cutAfter != cutBefore+1 {
				t.Fatalf("the proxy cut %d connections, want 1:%s", cutAfter-cutBefore, describeResult(res))
			}
			r := requireFailed(t, res, "items")
			t.Logf("cut after %d bytes: %v (outcome unknown: %v)", c.n, r.Err, r.OutcomeUnknown)
			if r.OutcomeUnknown != (c.atCommit > 0) {
				t.Errorf("OutcomeUnknown = %v, want %v: %v", r.OutcomeUnknown, c.atCommit > 0, r.Err)
			}
			if c.atCommit > 0 && !strings.Contains(r.Err.Error(), "outcome is unknown") {
				t.Errorf("a connection lost at COMMIT does not say the outcome is unknown: %v", r.Err)
			}
			if errors.Is(r.Err, executor.ErrStale) {
				t.Errorf("a lost connection is reported as a stale plan: %v", r.Err)
			}
			if got := e.DstDigest("items"); got != before {
				t.Errorf("items changed although the connection was cut before COMMIT")
			}
		})
	}
	proxy.limit.Store(-1)
	proxy.atCommit.Store(0)
	waitNoRowformSessions(t, e.DstConn(), e.DstDB, 10*time.Second)
	applyAndConverge(t, cfg)
}

// TestFaultStatementTimeout: a statement of the apply that runs longer
// than StatementTimeout (-statement-timeout) is canceled by the server; the
// sync fails saying so and writes nothing.
func TestFaultStatementTimeout(t *testing.T) {
	e := synctest.New(t)
	cfg := itemsFixture(t, e, 200)
	makeInsertsSlow(e)
	before := e.DstDigest("items")
	p := applyable(t, cfg)
	start := time.Now()
	res := apply(t, cfg, p, executor.Options{StatementTimeout: 300 * time.Millisecond})
	took := time.Since(start)
	requireFailed(t, res, "items", "insert", "statement timeout", "57014")
	if took > 10*time.Second {
		t.Errorf("the apply took %s with a 300ms statement timeout", took)
	}
	if got := e.DstDigest("items"); got != before {
		t.Errorf("items changed although the sync failed")
	}
	e.Dst(dropSlowSQL)
	applyAndConverge(t, cfg)
}

// TestFaultTableLockedByOthers: another session holds a lock on the table
// that conflicts with reading it; the apply waits up to its lock timeout,
// then fails saying so, and writes nothing.
func TestFaultTableLockedByOthers(t *testing.T) {
	e := synctest.New(t)
	cfg := itemsFixture(t, e, 10)
	before := e.DstDigest("items")
	p := applyable(t, cfg)
	unlock := holdLock(t, e, `LOCK TABLE items IN ACCESS EXCLUSIVE MODE`)
	start := time.Now()
	res := apply(t, cfg, p, executor.Options{LockTimeout: 500 * time.Millisecond})
	took := time.Since(start)
	requireFailed(t, res, "items", "lock timeout")
	if took > 5*time.Second {
		t.Errorf("with a 500ms lock timeout the apply gave up after %s", took)
	}
	unlock()
	if got := e.DstDigest("items"); got != before {
		t.Errorf("items changed although the sync failed")
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
	requireConverged(t, cfg)
}

// holdLock takes, in a session of its own on the test's destination, the
// lock that sql (run after BEGIN) takes, and holds it until unlock.
func holdLock(t *testing.T, e *synctest.Env, sql string) (unlock func()) {
	t.Helper()
	locker, err := pgx.Connect(context.Background(), synctest.Destination.ConnString(e.DstDB))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { locker.Close(context.Background()) })
	if _, err := locker.Exec(context.Background(), "BEGIN; "+sql); err != nil {
		t.Fatal(err)
	}
	return func() {
		t.Helper()
		if _, err := locker.Exec(context.Background(), `ROLLBACK`); err != nil {
			t.Fatal(err)
		}
	}
}

// TestFaultDeferredConstraintAtCommit: a deferred constraint trigger
// fails at COMMIT. The server answered, so the outcome is known: nothing
// was committed, and the message carries the server's reason.
func TestFaultDeferredConstraintAtCommit(t *testing.T) {
	e := synctest.New(t)
	cfg := itemsFixture(t, e, 100)
	e.Dst(`CREATE FUNCTION check_at_commit() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF NEW.id = 50 THEN RAISE EXCEPTION 'row % fails the deferred check', NEW.id; END IF; RETURN NULL; END $$`)
	e.Dst(`CREATE CONSTRAINT TRIGGER at_commit AFTER INSERT OR UPDATE ON items DEFERRABLE INITIALLY DEFERRED
FOR EACH ROW EXECUTE FUNCTION check_at_commit()`)
	before := e.DstDigest("items")
	p := applyable(t, cfg)
	res := apply(t, cfg, p, executor.Options{})
	r := requireFailed(t, res, "items", "commit", "row 50 fails the deferred check")
	if r.OutcomeUnknown {
		t.Errorf("OutcomeUnknown is set although the server refused the COMMIT: %v", r.Err)
	}
	if strings.Contains(r.Err.Error(), "unknown") {
		t.Errorf("the error says the outcome is unknown although the server refused the COMMIT: %v", r.Err)
	}
	if got := e.DstDigest("items"); got != before {
		t.Errorf("items changed although COMMIT failed")
	}
	e.Dst(`DROP TRIGGER at_commit ON items`)
	applyAndConverge(t, cfg)
}

// TestFaultTriggerSkipsRow: a BEFORE trigger silently drops one row (it
// returns NULL), so the INSERT writes one row less than the diff: the count
// check rolls the sync back. A re-plan cannot fix that, so the message must
// not send the user to plan again as if the plan were stale.
func TestFaultTriggerSkipsRow(t *testing.T) {
	e := synctest.New(t)
	cfg := itemsFixture(t, e, 100)
	e.Dst(`CREATE FUNCTION drop_row() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN IF NEW.id = 50 THEN RETURN NULL; END IF; RETURN NEW; END $$`)
	e.Dst(`CREATE TRIGGER drop_row BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION drop_row()`)
	before := e.DstDigest("items")
	p := applyable(t, cfg)
	res := apply(t, cfg, p, executor.Options{})
	r := requireFailed(t, res, "items", "insert", "99", "100", "rolled back")
	if got := e.DstDigest("items"); got != before {
		t.Errorf("items changed although the counts did not match")
	}
	// The same plan, re-planned, fails the same way: it was not stale.
	res2 := apply(t, cfg, applyable(t, cfg), executor.Options{})
	requireFailed(t, res2, "items", "insert")
	if errors.Is(r.Err, executor.ErrStale) {
		t.Errorf("a row count changed by a trigger is reported as a stale plan (re-planning cannot help): %v", r.Err)
	}
	e.Dst(`DROP TRIGGER drop_row ON items`)
	applyAndConverge(t, cfg)
}

// TestFaultTableLockedByOthersBeforeApply: the check of a plan of several
// syncs, made before any is written, waits for a table another session has
// locked no longer than the apply's lock timeout, as the apply's own
// statements do; it fails saying so, and nothing is written.
func TestFaultTableLockedByOthersBeforeApply(t *testing.T) {
	e := synctest.New(t)
	itemsFixture(t, e, 10)
	e.Dst(`CREATE TABLE items_copy (LIKE items INCLUDING ALL)`)
	cfg := e.Config(itemsSync + strings.NewReplacer(`sync "items"`, `sync "copy"`, `table       = "items"`, `table       = "items_copy"`).Replace(itemsSync))
	before := e.DstDigest("items")
	p := applyable(t, cfg)
	unlock := holdLock(t, e, `LOCK TABLE items_copy IN ACCESS EXCLUSIVE MODE`)
	start := time.Now()
	res := apply(t, cfg, p, executor.Options{LockTimeout: 500 * time.Millisecond})
	took := time.Since(start)
	requireFailed(t, res, "copy", "lock timeout")
	if r := syncResult(t, res, "items"); r.Status != executor.StatusSkipped {
		t.Errorf("items: %s (%v), want skipped", r.Status, r.Err)
	}
	if took > 5*time.Second {
		t.Errorf("with a 500ms lock timeout the apply gave up after %s", took)
	}
	unlock()
	if got := e.DstDigest("items"); got != before {
		t.Errorf("items changed although the apply was refused")
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
}

// TestPreflightLeavesOutTheSyncAppliedFirst: with one connection to the
// one destination the syncs of a plan run one after the other anyway, so
// the apply leaves the sync that reads the most rows out of the check
// before writing and applies it first, where its own transaction checks
// it; with two connections, or two destinations (which could run at once),
// every sync is checked first.
func TestPreflightLeavesOutTheSyncAppliedFirst(t *testing.T) {
	e := synctest.New(t)
	itemsFixture(t, e, 10)
	e.Dst(`CREATE TABLE items_copy (LIKE items INCLUDING ALL)`)
	e.Dst(`INSERT INTO items_copy SELECT * FROM items`)
	e.Dst(`DELETE FROM items_copy WHERE id > 3`) // fewer destination rows than items
	body := itemsSync + strings.NewReplacer(`sync "items"`, `sync "copy"`, `table       = "items"`, `table       = "items_copy"`).Replace(itemsSync)
	for _, conns := range []string{"1", "2", "two destinations"} {
		servers := strings.Replace(e.Servers(), "max_connections = 2", "max_connections = 1", 1)
		b := body
		switch conns {
		case "2":
			servers = e.Servers()
		case "two destinations":
			// The copy goes to another destination block (of the same database).
			i := strings.Index(servers, "\nsource ")
			servers += strings.Replace(servers[:i], `destination "postgres" "dst"`, `destination "postgres" "dst2"`, 1)
			b = strings.Replace(body, "destination.postgres.dst\n  table       = \"items_copy\"", "destination.postgres.dst2\n  table       = \"items_copy\"", 1)
		}
		e.WriteFile("main.hcl", servers+b)
		cfg, diags := hclconfig.Load(e.Dir, hclconfig.Inputs{Environ: e.Environ})
		if diags.HasErrors() {
			t.Fatal(diags.Error())
		}
		p := applyable(t, cfg)
		var mu sync.Mutex
		checked := map[string]bool{}
		res := apply(t, cfg, p, executor.Options{Progress: func(sync, phase string, _ int64) {
			if phase == "checking the plan" {
				mu.Lock()
				checked[sync] = true
				mu.Unlock()
			}
		}})
		requireApplied(t, res)
		want := map[string]bool{"copy": true}
		if conns != "1" {
			want["items"] = true
		}
		if !maps.Equal(checked, want) {
			t.Errorf("max_connections = %s: syncs checked before the apply: %v, want %v", conns, checked, want)
		}
		e.Dst(`TRUNCATE items; TRUNCATE items_copy`) // work again for the next round
	}
}

// TestFaultRowLockedByOthers: another session holds a lock on one row the
// apply updates. The update waits the lock timeout once, not once per
// probe of the search for a failing row (a lock wait is no row's fault),
// and the error says another session holds the lock.
func TestFaultRowLockedByOthers(t *testing.T) {
	e := synctest.New(t)
	cfg := itemsFixture(t, e, 10) // ids 11..60 are updated
	before := e.DstDigest("items")
	p := applyable(t, cfg)
	unlock := holdLock(t, e, `SELECT * FROM items WHERE id = 30 FOR UPDATE`)
	start := time.Now()
	res := apply(t, cfg, p, executor.Options{LockTimeout: time.Second})
	took := time.Since(start)
	requireFailed(t, res, "items", "lock timeout", "another session holds a lock on rows this write needs")
	if took > 3*time.Second {
		t.Errorf("with a 1s lock timeout and one locked row the apply gave up after %s", took)
	}
	unlock()
	if got := e.DstDigest("items"); got != before {
		t.Errorf("items changed although the sync failed")
	}
	requireApplied(t, apply(t, cfg, p, executor.Options{}))
}
