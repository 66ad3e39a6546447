package pgconnect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowform/rowform/hclconfig"
)

// The errors of a session are told apart by type, never by their text:
// errors.Is and errors.As see through every wrapping (pgconn's, the SSH
// tunnel's, rowform's own %w).

// IsServerError reports whether err is, or wraps, an error the server sent
// (a *pgconn.PgError): the session is still there, only the statement
// failed.
func IsServerError(err error) bool {
	var pgErr *pgconn.PgError
	return errors.As(err, &pgErr)
}

// ServerCode is the SQLSTATE of the server error err wraps, or "".
func ServerCode(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return pgErr.Code
	}
	return ""
}

// ErrorSummary is the server's message and SQLSTATE ("relation \"t\" does
// not exist (SQLSTATE 42P01)") when err wraps a server error, and err's
// text otherwise. It is how every finding and apply error quotes a server.
func ErrorSummary(err error) string {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		return fmt.Sprintf("%s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
	}
	return err.Error()
}

// IsRetryable reports a serialization failure (40001) or a deadlock
// (40P01): the transaction may be run again from its start.
func IsRetryable(err error) bool {
	switch ServerCode(err) {
	case "40001", "40P01":
		return true
	}
	return false
}

// IsConnectionLost reports whether err means that the session's connection
// is gone or never answered, rather than that a statement failed: the
// driver found the connection closed (pgconn.ErrConnClosed), the stream
// ended (io.EOF, io.ErrUnexpectedEOF), the socket was closed, reset or
// refused (net.ErrClosed, ECONNRESET, EPIPE, ECONNREFUSED), or a read or
// write timed out (pgconn.Timeout, a net.Error's Timeout, ErrNoResponse).
// A server error is never a lost connection, nor is a cancelled or expired
// context (rowform's own doing).
func IsConnectionLost(err error) bool {
	if err == nil || IsServerError(err) || errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return false
	}
	for _, target := range []error{ErrNoResponse, pgconn.ErrConnClosed, io.EOF, io.ErrUnexpectedEOF, net.ErrClosed,
		syscall.ECONNRESET, syscall.EPIPE, syscall.ECONNREFUSED, syscall.ECONNABORTED} {
		if errors.Is(err, target) {
			return true
		}
	}
	if pgconn.Timeout(err) {
		return true
	}
	var netErr net.Error
	return errors.As(err, &netErr) && netErr.Timeout()
}

// Loss is why a session is gone, as LostSession finds it.
type Loss struct {
	// Server is the server whose session is gone.
	Server *hclconfig.Server
	// Tunnel is why the SSH tunnel to Server's bastion closed by itself;
	// nil when the tunnel is open or there is none.
	Tunnel error
	// NoResponse is set when the server stopped answering (ErrNoResponse)
	// rather than the connection being closed or reset.
	NoResponse bool
}

// LostSession reports whether err, from a session with server, means that
// a session is gone rather than that a statement or a value failed: the SSH
// tunnel of server (or, failing that, of one of others) closed by itself,
// the server stopped answering, or the connection was lost
// (IsConnectionLost). A server error and a cancelled context never are.
// Nil servers are skipped. The plan and apply each word the Loss their way.
func (c *Connector) LostSession(err error, server *hclconfig.Server, others ...*hclconfig.Server) (Loss, bool) {
	if err == nil || IsServerError(err) || errors.Is(err, context.Canceled) {
		return Loss{}, false
	}
	for _, s := range append([]*hclconfig.Server{server}, others...) {
		if s == nil {
			continue
		}
		if terr := c.TunnelError(s); terr != nil {
			return Loss{Server: s, Tunnel: terr}, true
		}
	}
	switch {
	case errors.Is(err, ErrNoResponse):
		return Loss{Server: server, NoResponse: true}, true
	case IsConnectionLost(err):
		return Loss{Server: server}, true
	}
	return Loss{}, false
}
