package pgconnect

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// A server that stops answering — its backend frozen (SIGSTOP, a hung
// disk), or its host gone without a reset — must not hang rowform. TCP
// keepalives find a host that is gone; a frozen backend whose kernel still
// acknowledges every packet only shows as silence. So every connection
// gives up when it waits for the server longer than its response timeout
// with nothing moving either way, and a cancelled command stops waiting
// for the server's answer to the cancel request after cancelGrace.

// DefaultResponseTimeout is how long rowform waits for a server that sends
// nothing while it expects an answer (and receives none of what it sends)
// before it gives the connection up: a statement, a query's next rows, a
// COPY the server does not accept. apply's destination waits for its
// -statement-timeout (the server cancels a longer statement itself) plus
// responseGrace instead.
const DefaultResponseTimeout = time.Hour

// responseGrace is what a response timeout adds to a statement timeout, so
// that the server's own cancellation, with its error, comes first.
const responseGrace = 3 * time.Second

// TCP keepalives: a server whose host is gone is found after
// keepaliveIdle + keepaliveCount × keepaliveInterval of silence.
const (
	keepaliveIdle     = 15 * time.Second
	keepaliveInterval = 5 * time.Second
	keepaliveCount    = 3
)

// SetResponseTimeout makes connections opened with cfg give up after d of
// silence while they wait for the server (d = 0: DefaultResponseTimeout).
func SetResponseTimeout(cfg *pgx.ConnConfig, d time.Duration) {
	if d <= 0 {
		d = DefaultResponseTimeout
	}
	cfg.AfterNetConnect = func(_ context.Context, _ *pgconn.Config, conn net.Conn) (net.Conn, error) {
		return newWatchedConn(conn, d), nil
	}
}

// StatementResponseTimeout is the response timeout for a session whose
// statements the server cancels after statementTimeout (0: none).
func StatementResponseTimeout(statementTimeout time.Duration) time.Duration {
	if statementTimeout <= 0 {
		return DefaultResponseTimeout
	}
	return statementTimeout + responseGrace
}

// keepaliveDialer dials with TCP keepalives that find a vanished host in
// about half a minute of idleness.
func keepaliveDialer() *net.Dialer {
	return &net.Dialer{KeepAliveConfig: net.KeepAliveConfig{
		Enable: true, Idle: keepaliveIdle, Interval: keepaliveInterval, Count: keepaliveCount,
	}}
}

// ErrNoResponse is the error of a connection whose server stayed silent for
// its response timeout.
var ErrNoResponse = errors.New("the server stopped responding")

// noResponseError says how long the server was silent. It is a timeout
// (net.Error), as the driver expects of a connection's deadlines.
type noResponseError struct{ after time.Duration }

func (e *noResponseError) Error() string {
	return fmt.Sprintf("%s: nothing came from it for %s while rowform waited for its answer (i/o timeout)", ErrNoResponse, e.after.Round(time.Millisecond))
}
func (e *noResponseError) Unwrap() error   { return ErrNoResponse }
func (e *noResponseError) Timeout() bool   { return true }
func (e *noResponseError) Temporary() bool { return false }

// watchedConn is a connection whose reads and writes give up after
// `silence` without a byte moving either way. The driver's own deadlines
// (set to interrupt a cancelled command) are kept and win when earlier.
type watchedConn struct {
	net.Conn
	silence time.Duration
	// progress is when a byte last moved, in Unix nanoseconds.
	progress atomic.Int64

	mu sync.Mutex
	// The driver's deadlines, and the silence deadlines of a read or
	// write in progress (zero when none).
	extRead, extWrite   time.Time
	waitRead, waitWrite time.Time
	// dead is the error of a connection that gave up: every later read and
	// write fails with it at once (the driver reads on after a timeout).
	dead error
}

func newWatchedConn(c net.Conn, silence time.Duration) *watchedConn {
	w := &watchedConn{Conn: c, silence: silence}
	w.progress.Store(time.Now().UnixNano())
	return w
}

// earliest is the earlier of two deadlines, a zero one being none.
func earliest(a, b time.Time) time.Time {
	switch {
	case a.IsZero():
		return b
	case b.IsZero() || a.Before(b):
		return a
	}
	return b
}

func (c *watchedConn) Read(p []byte) (int, error) {
	return c.wait(p, true)
}

func (c *watchedConn) Write(p []byte) (int, error) {
	written := 0
	for written < len(p) {
		n, err := c.wait(p[written:], false)
		written += n
		if err != nil {
			return written, err
		}
	}
	return written, nil
}

// wait reads into p (read) or writes p, giving up after c.silence without
// progress in either direction.
func (c *watchedConn) wait(p []byte, read bool) (int, error) {
	start := time.Now()
	for {
		c.mu.Lock()
		if c.dead != nil {
			c.mu.Unlock()
			return 0, c.dead
		}
		// Silence is counted from the last byte that moved either way, or
		// from the start of this wait if that is later: a wait that saw
		// bytes move the other way gives up c.silence after them, not
		// c.silence after its own deadline (a read beside a COPY's writes
		// waited twice the silence for a frozen server).
		from := start
		if last := time.Unix(0, c.progress.Load()); last.After(from) {
			from = last
		}
		silenceAt := from.Add(c.silence)
		if now := time.Now(); !silenceAt.After(now) {
			// Waiting on beside a write under way, which gives up by
			// itself (and wakes this one) when nothing moves.
			silenceAt = now.Add(c.silence)
		}
		var err error
		if read {
			c.waitRead = silenceAt
			err = c.Conn.SetReadDeadline(earliest(c.extRead, silenceAt))
		} else {
			c.waitWrite = silenceAt
			err = c.Conn.SetWriteDeadline(earliest(c.extWrite, silenceAt))
		}
		c.mu.Unlock()
		if err != nil {
			return 0, err
		}
		var n int
		if read {
			n, err = c.Conn.Read(p)
		} else {
			n, err = c.Conn.Write(p)
		}
		now := time.Now()
		if n > 0 {
			c.progress.Store(now.UnixNano())
		}
		c.mu.Lock()
		var ext time.Time
		writing := false
		if read {
			ext, c.waitRead = c.extRead, time.Time{}
			writing = !c.waitWrite.IsZero()
		} else {
			ext, c.waitWrite = c.extWrite, time.Time{}
		}
		dead := c.dead
		c.mu.Unlock()
		if err == nil || !errors.Is(err, os.ErrDeadlineExceeded) {
			return n, err
		}
		if dead != nil && n == 0 {
			return 0, dead // the other direction gave up, and woke this one
		}
		// A deadline passed: the driver's, or the silence one.
		if !ext.IsZero() && !now.Before(ext) {
			return n, err
		}
		if n > 0 {
			return n, nil
		}
		quiet := now.Sub(time.Unix(0, c.progress.Load()))
		if quiet < c.silence || writing {
			// Bytes moved the other way meanwhile, or a write is under
			// way (a large one reports its progress when it ends; it
			// gives up by itself when nothing moves).
			continue
		}
		c.mu.Lock()
		if c.dead == nil {
			c.dead = &noResponseError{after: quiet}
		}
		dead = c.dead
		c.mu.Unlock()
		// A read or write blocked the other way waits on a server that is
		// gone as well: wake it now rather than after its own silence.
		_ = c.Conn.SetDeadline(now)
		return 0, dead
	}
}

func (c *watchedConn) SetDeadline(t time.Time) error {
	if err := c.SetReadDeadline(t); err != nil {
		return err
	}
	return c.SetWriteDeadline(t)
}

func (c *watchedConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.extRead = t
	return c.Conn.SetReadDeadline(earliest(t, c.waitRead))
}

func (c *watchedConn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.extWrite = t
	return c.Conn.SetWriteDeadline(earliest(t, c.waitWrite))
}
