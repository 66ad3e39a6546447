package pgconnect

import (
	"context"
	"io"
	"time"

	"github.com/jackc/pgx/v5"
)

// closeWait bounds how long Close waits for the server to end a session.
const closeWait = 2 * time.Second

// terminate is the protocol's Terminate message.
var terminate = []byte{'X', 0, 0, 0, 4}

// Close ends the session of c and waits, up to two seconds, until the server
// has ended it too, that is until it closes its end of the connection, which
// a backend does only after leaving pg_stat_activity and the count of the
// role's and the database's CONNECTION LIMIT. pgx's own Close sends the
// Terminate and hangs up at once, so the backend lingers for a moment, and
// under load for longer; the next session opened after Close, with
// max_connections = 1 or a role limited to one connection, would then be
// the second on the server. A session that is busy or already closed is
// closed as pgx closes it. The error is the one of closing the connection,
// which a caller may ignore.
func Close(ctx context.Context, c *pgx.Conn) error {
	if c == nil || c.IsClosed() {
		return nil
	}
	hc, err := c.PgConn().Hijack()
	if err != nil {
		return c.Close(ctx)
	}
	conn := hc.Conn
	if _, err := conn.Write(terminate); err != nil {
		return conn.Close()
	}
	gone := make(chan struct{})
	go func() {
		defer close(gone)
		_, _ = io.Copy(io.Discard, conn)
	}()
	timer := time.NewTimer(closeWait)
	defer timer.Stop()
	select {
	case <-gone:
	case <-timer.C:
	case <-ctx.Done():
	}
	err = conn.Close()
	<-gone
	return err
}
