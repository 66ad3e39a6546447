package pgcluster_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowform/rowform/internal/pgcluster"
	"github.com/rowform/rowform/internal/pgtest"
)

// throwawayOnly makes these tests exercise real throwaway clusters even when
// ROWFORM_TEST_PG_URL is set for the rest of the test suite.
func throwawayOnly(t *testing.T) {
	t.Setenv(pgcluster.EnvURL, "")
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func TestConcurrentClustersAndClose(t *testing.T) {
	throwawayOnly(t)
	ctx := ctxFor(t, 3*time.Minute)

	const n = 2
	var (
		clusters [n]*pgcluster.Cluster
		errs     [n]error
		wg       sync.WaitGroup
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			clusters[i], errs[i] = pgcluster.Start(ctx, pgcluster.Options{})
		}()
	}
	wg.Wait()
	for i := range n {
		if c := clusters[i]; c != nil {
			t.Cleanup(func() { c.Close() })
		}
	}
	for i := range n {
		if errs[i] != nil {
			t.Fatalf("Start #%d: %v\nTo run this test, %s.", i, errs[i], pgcluster.InstallHint)
		}
	}
	a, b := clusters[0], clusters[1]
	if a.Port == b.Port || a.DataDir == b.DataDir {
		t.Fatalf("clusters share port or data dir: %d %s / %d %s", a.Port, a.DataDir, b.Port, b.DataDir)
	}

	pids := make([]int, n)
	for i, c := range clusters {
		if c.Host != "127.0.0.1" || c.Database != "postgres" || c.User != "rowform_test" || len(c.Password) != 24 {
			t.Errorf("cluster %d: unexpected defaults: host=%q db=%q user=%q password len=%d", i, c.Host, c.Database, c.User, len(c.Password))
		}
		conn := pgtest.Connect(t, c, "")
		var port, user string
		if err := conn.QueryRow(ctx, "SELECT current_setting('port'), current_user").Scan(&port, &user); err != nil {
			t.Fatalf("cluster %d: query: %v", i, err)
		}
		if port != strconv.Itoa(c.Port) || user != c.User {
			t.Errorf("cluster %d: port=%s user=%s, want %d %s", i, port, user, c.Port, c.User)
		}
		conn.Close(ctx)

		// A wrong password is refused.
		bad := url.URL{
			Scheme:   "postgres",
			User:     url.UserPassword(c.User, c.Password+"x"),
			Host:     net.JoinHostPort(c.Host, strconv.Itoa(c.Port)),
			Path:     "/postgres",
			RawQuery: "sslmode=disable",
		}
		badConn, err := pgx.Connect(ctx, bad.String())
		if err == nil {
			badConn.Close(ctx)
			t.Fatalf("cluster %d: login with a wrong password succeeded", i)
		}
		var pgErr *pgconn.PgError
		if !errors.As(err, &pgErr) || pgErr.Code != "28P01" {
			t.Errorf("cluster %d: wrong password: got %v, want SQLSTATE 28P01", i, err)
		}

		pids[i] = postmasterPID(t, c.DataDir)
	}

	for i, c := range clusters {
		if err := c.Close(); err != nil {
			t.Fatalf("cluster %d: Close: %v", i, err)
		}
		if err := c.Close(); err != nil {
			t.Errorf("cluster %d: second Close: %v", i, err)
		}
		for _, dir := range []string{c.DataDir, filepath.Dir(c.DataDir)} {
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("cluster %d: %s still exists after Close (stat err %v)", i, dir, err)
			}
		}
		if conn, err := net.DialTimeout("tcp", net.JoinHostPort(c.Host, strconv.Itoa(c.Port)), time.Second); err == nil {
			conn.Close()
			t.Errorf("cluster %d: port %d still accepts connections after Close", i, c.Port)
		}
		if alive(pids[i]) {
			t.Errorf("cluster %d: postmaster pid %d still running after Close", i, pids[i])
		}
		if procs := processesMentioning(c.DataDir); len(procs) > 0 {
			t.Errorf("cluster %d: processes still mention %s after Close: %v", i, c.DataDir, procs)
		}
		if c.LogContents() == "" {
			t.Errorf("cluster %d: LogContents empty after Close", i)
		}
	}
}

func TestStopImmediateRestart(t *testing.T) {
	throwawayOnly(t)
	ctx := ctxFor(t, 3*time.Minute)
	c := pgtest.Start(t)

	pgtest.Exec(t, c, "", "CREATE TABLE kept (id int PRIMARY KEY, v text)")
	// The cluster runs with synchronous_commit=off; ask for a synchronous
	// commit so the row is guaranteed to survive an immediate stop.
	pgtest.Exec(t, c, "", "SET synchronous_commit = on; INSERT INTO kept VALUES (1, 'survives')")

	if err := c.Stop(ctx, "immediate"); err != nil {
		t.Fatalf("Stop(immediate): %v", err)
	}
	if err := c.Stop(ctx, "immediate"); err != nil {
		t.Fatalf("second Stop: %v", err)
	}
	if _, err := pgx.Connect(ctx, c.ConnString("")); err == nil {
		t.Fatal("connected to a stopped cluster")
	}
	if err := c.Restart(ctx); err != nil {
		t.Fatalf("Restart: %v", err)
	}
	if !strings.Contains(c.LogContents(), "not properly shut down") {
		t.Errorf("expected crash recovery after an immediate stop; log:\n%s", pgcluster.LogTail(c.LogContents(), 20))
	}
	checkRow := func() {
		t.Helper()
		conn := pgtest.Connect(t, c, "")
		defer conn.Close(ctx)
		var v string
		if err := conn.QueryRow(ctx, "SELECT v FROM kept WHERE id = 1").Scan(&v); err != nil || v != "survives" {
			t.Fatalf("after restart: v=%q err=%v", v, err)
		}
		var port string
		if err := conn.QueryRow(ctx, "SELECT current_setting('port')").Scan(&port); err != nil || port != strconv.Itoa(c.Port) {
			t.Fatalf("after restart: port=%q err=%v, want %d", port, err, c.Port)
		}
	}
	checkRow()

	// Restart on a running cluster stops it (fast) and starts it again.
	if err := c.Restart(ctx); err != nil {
		t.Fatalf("Restart while running: %v", err)
	}
	checkRow()

	// pgtest helpers: a new login role with an awkward password.
	const role, pass = "Role With Space", `pa'ss"wo\rd`
	pgtest.CreateRole(t, c, role, pass)
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(role, pass),
		Host:     net.JoinHostPort(c.Host, strconv.Itoa(c.Port)),
		Path:     "/postgres",
		RawQuery: "sslmode=disable",
	}
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		t.Fatalf("login as created role: %v", err)
	}
	var who string
	if err := conn.QueryRow(ctx, "SELECT current_user").Scan(&who); err != nil || who != role {
		t.Errorf("current_user = %q (%v), want %q", who, err, role)
	}
	conn.Close(ctx)
}

func TestExistingServerURL(t *testing.T) {
	throwawayOnly(t)
	ctx := ctxFor(t, 3*time.Minute)
	server := pgtest.Start(t, func(o *pgcluster.Options) { o.Password = "p@ss/w:rd?" })

	t.Setenv(pgcluster.EnvURL, server.ConnString(""))
	c, err := pgcluster.Start(ctx, pgcluster.Options{})
	if err != nil {
		t.Fatalf("Start with %s: %v", pgcluster.EnvURL, err)
	}
	t.Cleanup(func() { c.Close() })
	if !strings.HasPrefix(c.Database, "rowform_t_") || c.Port != server.Port || c.Host != server.Host ||
		c.User != server.User || c.Password != server.Password || c.DataDir != "" {
		t.Fatalf("unexpected cluster: %+v", struct {
			Host, User, Database, DataDir string
			Port                          int
		}{c.Host, c.User, c.Database, c.DataDir, c.Port})
	}
	conn := pgtest.Connect(t, c, "")
	var db string
	if err := conn.QueryRow(ctx, "SELECT current_database()").Scan(&db); err != nil || db != c.Database {
		t.Fatalf("current_database() = %q (%v), want %q", db, err, c.Database)
	}
	if err := c.Stop(ctx, "fast"); err == nil {
		t.Error("Stop succeeded with an existing server")
	}
	if err := c.Restart(ctx); err == nil {
		t.Error("Restart succeeded with an existing server")
	}
	// Close drops the database even with a connection still open.
	if err := c.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
	admin := pgtest.Connect(t, server, "")
	var exists bool
	if err := admin.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM pg_database WHERE datname = $1)", c.Database).Scan(&exists); err != nil || exists {
		t.Fatalf("database %s exists=%v (err %v) after Close", c.Database, exists, err)
	}
}

func TestFindBinaries(t *testing.T) {
	dir, err := pgcluster.FindBinaries()
	if err != nil {
		t.Fatalf("FindBinaries: %v", err)
	}
	for _, p := range []string{"initdb", "pg_ctl", "postgres"} {
		if _, err := os.Stat(filepath.Join(dir, p)); err != nil {
			t.Errorf("FindBinaries() = %s, but: %v", dir, err)
		}
	}

	t.Setenv(pgcluster.EnvBin, t.TempDir())
	if _, err := pgcluster.FindBinaries(); err == nil || !strings.Contains(err.Error(), pgcluster.EnvBin) {
		t.Errorf("FindBinaries with an empty %s: err = %v", pgcluster.EnvBin, err)
	}
}

func postmasterPID(t *testing.T, dataDir string) int {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dataDir, "postmaster.pid"))
	if err != nil {
		t.Fatalf("read postmaster.pid: %v", err)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil {
		t.Fatalf("postmaster.pid: %v", err)
	}
	return pid
}

// alive reports whether pid is a live (non-zombie) process.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || (s[i+2] != 'Z' && s[i+2] != 'X')
}

// processesMentioning lists live processes whose command line contains s.
func processesMentioning(s string) []string {
	var found []string
	ents, _ := os.ReadDir("/proc")
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmd, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || !bytes.Contains(cmd, []byte(s)) || !alive(pid) {
			continue
		}
		found = append(found, fmt.Sprintf("%d: %s", pid, bytes.ReplaceAll(cmd, []byte{0}, []byte{' '})))
	}
	return found
}

// TestExistingServerURLErrors: a ROWFORM_TEST_PG_URL that does not parse
// says what is wrong with it (a bare % was reported as not a postgres://
// URL), and never quotes it: it holds a password.
func TestExistingServerURLErrors(t *testing.T) {
	for url, want := range map[string]string{
		"postgres://u:50%off-Secret@localhost/db": "a % must begin an escape of two hex digits (write a % of the password as %25)",
		"mysql://u:Secret-pw@localhost/db":        "must be a postgres:// URL",
	} {
		t.Setenv(pgcluster.EnvURL, url)
		_, err := pgcluster.Start(context.Background(), pgcluster.Options{})
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "Secret") {
			t.Errorf("%s: %v, want %q", url, err, want)
		}
	}
}
