package pgconnect

import (
	"context"
	"sync"

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
	cfg, err := Config(srv, ApplicationName(sync))
	if err != nil {
		return nil, err
	}
	MaskValues(cfg, sensitive)
	cfg.RuntimeParams["default_transaction_read_only"] = "on"
	return c.Connect(ctx, srv, cfg)
}
