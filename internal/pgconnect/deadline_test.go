package pgconnect_test

import (
	"context"
	"errors"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/internal/pgconnect"
	"github.com/rowform/rowform/internal/pgtest"
)

// TestResponseTimeoutFrozenBackend: a connection whose backend is frozen
// (SIGSTOP: the socket stays up, nothing comes back) gives up after its
// response timeout — for a query and for a COPY — with ErrNoResponse;
// a cancelled context gives up at once; a slow statement that answers
// within the timeout, and a long query whose rows keep coming, do not.
func TestResponseTimeoutFrozenBackend(t *testing.T) {
	c := pgtest.Start(t)
	pgtest.Exec(t, c, "", `CREATE TABLE t (id int, v text)`)
	s := server(c, "disable", "")
	open := func(timeout time.Duration) (*pgx.Conn, int) {
		cfg, err := pgconnect.Config(s, "rowform/test")
		if err != nil {
			t.Fatal(err)
		}
		pgconnect.SetResponseTimeout(cfg, timeout)
		conn, err := pgconnect.ConnectConfig(context.Background(), s, cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { conn.Close(context.Background()) })
		var pid int
		if err := conn.QueryRow(context.Background(), "SELECT pg_backend_pid()").Scan(&pid); err != nil {
			t.Fatal(err)
		}
		return conn, pid
	}
	freeze := func(pid int) {
		if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGCONT) })
	}
	ctx := context.Background()

	// Slower than nothing, faster than the timeout: fine.
	conn, _ := open(2 * time.Second)
	if _, err := conn.Exec(ctx, "SELECT pg_sleep(1)"); err != nil {
		t.Fatalf("a 1 s statement with a 2 s response timeout: %v", err)
	}

	for _, what := range []string{"query", "copy"} {
		conn, pid := open(2 * time.Second)
		freeze(pid)
		start := time.Now()
		var err error
		if what == "query" {
			_, err = conn.Exec(ctx, "SELECT 1")
		} else {
			_, err = conn.CopyFrom(ctx, pgx.Identifier{"t"}, []string{"id", "v"}, pgx.CopyFromRows([][]any{{1, "a"}, {2, "b"}}))
		}
		took := time.Since(start)
		if !errors.Is(err, pgconnect.ErrNoResponse) || !strings.Contains(err.Error(), "stopped responding") {
			t.Errorf("%s on a frozen backend: %v, want ErrNoResponse", what, err)
		}
		if took < 2*time.Second || took > 4*time.Second {
			t.Errorf("%s on a frozen backend gave up after %s, want about 2 s", what, took)
		}
	}

	// Cancelled: given up within a second, whatever the response timeout.
	conn, pid := open(time.Hour)
	freeze(pid)
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := conn.Exec(cctx, "SELECT 1"); err == nil {
		t.Error("a cancelled query on a frozen backend succeeded")
	}
	if took := time.Since(start); took > 1500*time.Millisecond {
		t.Errorf("a cancelled query on a frozen backend returned after %s, want within a second", took)
	}

	// A query whose rows keep coming for longer than the timeout (each
	// row is large enough for the server to send it at once) is not given
	// up.
	conn, _ = open(time.Second)
	start = time.Now()
	rows, err := conn.Query(ctx, `SELECT repeat('x', 20000), pg_sleep(0.25) FROM generate_series(1, 12)`)
	n := 0
	if err == nil {
		for rows.Next() {
			n++
		}
		err = rows.Err()
	}
	if err != nil || n != 12 {
		t.Errorf("a 3 s query whose rows keep coming, with a 1 s response timeout (%s, %d rows): %v", time.Since(start), n, err)
	}
}
