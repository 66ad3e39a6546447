package pgconnect

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
)

// ConnectionLimits keeps the number of connections rowform has open to each
// configured server at or below its max_connections. Plan and apply share
// it. Safe for concurrent use.
type ConnectionLimits struct {
	mu   sync.Mutex
	sems map[string]chan struct{}
}

// NewConnectionLimits returns limits with no connection taken.
func NewConnectionLimits() *ConnectionLimits {
	return &ConnectionLimits{sems: map[string]chan struct{}{}}
}

// Acquire blocks until a connection slot of s is free, or ctx ends; the
// returned release frees the slot.
func (l *ConnectionLimits) Acquire(ctx context.Context, s *hclconfig.Server) (release func(), err error) {
	key := s.Kind + "." + s.Address()
	l.mu.Lock()
	sem, ok := l.sems[key]
	if !ok {
		sem = make(chan struct{}, s.MaxConnections)
		l.sems[key] = sem
	}
	l.mu.Unlock()
	select {
	case sem <- struct{}{}:
		return func() { <-sem }, nil
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// ApplicationName is what rowform's sessions for a sync show in
// pg_stat_activity.
func ApplicationName(sync string) string { return "rowform/" + sync }

// ConnectReadOnly opens a session for sync that cannot write: every
// transaction it starts is read-only. The server's errors on it show no
// value that may be one of the sensitive columns' (MaskValues).
func (c *Connector) ConnectReadOnly(ctx context.Context, srv *hclconfig.Server, sync string, sensitive ...string) (*pgx.Conn, error) {
	return c.ConnectReadOnlyWithin(ctx, srv, sync, Timeouts{}, sensitive...)
}

// Timeouts bound a session's statements on the server; zero fields are
// none (the server's settings).
type Timeouts struct {
	// Statement cancels a statement that runs longer (statement_timeout);
	// the session also gives up on a server that stops answering soon
	// after (StatementResponseTimeout).
	Statement time.Duration
	// Lock cancels a statement that waits longer for a lock (lock_timeout).
	Lock time.Duration
}

// ConnectReadOnlyWithin is ConnectReadOnly for a session bounded by t.
func (c *Connector) ConnectReadOnlyWithin(ctx context.Context, srv *hclconfig.Server, sync string, t Timeouts, sensitive ...string) (*pgx.Conn, error) {
	cfg, err := Config(srv, ApplicationName(sync))
	if err != nil {
		return nil, err
	}
	MaskValues(cfg, sensitive)
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	if t.Statement > 0 {
		cfg.RuntimeParams["statement_timeout"] = milliseconds(t.Statement)
		SetResponseTimeout(cfg, StatementResponseTimeout(t.Statement))
	}
	if t.Lock > 0 {
		cfg.RuntimeParams["lock_timeout"] = milliseconds(t.Lock)
	}
	return c.Connect(ctx, srv, cfg)
}

// milliseconds is d as a server setting in milliseconds, at least 1 (0
// would be no timeout).
func milliseconds(d time.Duration) string {
	return strconv.FormatInt(max(d.Milliseconds(), 1), 10)
}
