package pgconnect

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"syscall"
	"testing"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/rowform/rowform/hclconfig"
)

// TestErrorClassification: errors are told apart by type through every
// wrapping, whatever their text says.
func TestErrorClassification(t *testing.T) {
	pgErr := &pgconn.PgError{Code: "40001", Message: "could not serialize access due to concurrent update"}
	connector, server := NewConnector(nil), &hclconfig.Server{Type: "postgres", Name: "warehouse"}
	opErr := func(e error) error { return &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", e)} }
	for _, tc := range []struct {
		name                    string
		err                     error
		lost, server, retryable bool
	}{
		{"nil", nil, false, false, false},
		{"eof", fmt.Errorf("reading: %w", io.EOF), true, false, false},
		{"unexpected_eof", fmt.Errorf("x: %w", io.ErrUnexpectedEOF), true, false, false},
		{"closed", fmt.Errorf("x: %w", net.ErrClosed), true, false, false},
		{"conn_closed", fmt.Errorf("x: %w", pgconn.ErrConnClosed), true, false, false},
		{"reset", opErr(syscall.ECONNRESET), true, false, false},
		{"broken_pipe", opErr(syscall.EPIPE), true, false, false},
		{"refused", opErr(syscall.ECONNREFUSED), true, false, false},
		{"no_response", fmt.Errorf("x: %w", &noResponseError{after: 1}), true, false, false},
		{"net_timeout", &net.OpError{Op: "read", Err: os.ErrDeadlineExceeded}, true, false, false},
		{"server", fmt.Errorf("x: %w", pgErr), false, true, true},
		{"deadlock", &pgconn.PgError{Code: "40P01"}, false, true, true},
		{"unique", &pgconn.PgError{Code: "23505"}, false, true, false},
		{"canceled", fmt.Errorf("x: %w", context.Canceled), false, false, false},
		{"deadline", fmt.Errorf("x: %w", context.DeadlineExceeded), false, false, false},
		// Text alone says nothing.
		{"text_only", errors.New("connection reset by peer: unexpected EOF"), false, false, false},
	} {
		if got := IsConnectionLost(tc.err); got != tc.lost {
			t.Errorf("%s: IsConnectionLost = %v, want %v", tc.name, got, tc.lost)
		}
		if got := IsServerError(tc.err); got != tc.server {
			t.Errorf("%s: IsServerError = %v, want %v", tc.name, got, tc.server)
		}
		if got := IsRetryable(tc.err); got != tc.retryable {
			t.Errorf("%s: IsRetryable = %v, want %v", tc.name, got, tc.retryable)
		}
		// Without a tunnel, LostSession follows IsConnectionLost and says
		// which server; only ErrNoResponse is a server that stopped answering.
		loss, lost := connector.LostSession(tc.err, server)
		if lost != tc.lost || (lost && loss.Server != server) || loss.Tunnel != nil {
			t.Errorf("%s: LostSession = %+v, %v, want lost %v of the server", tc.name, loss, lost, tc.lost)
		}
		if loss.NoResponse != (tc.name == "no_response") {
			t.Errorf("%s: LostSession's NoResponse = %v", tc.name, loss.NoResponse)
		}
	}
	if got, want := ErrorSummary(fmt.Errorf("prepare: %w", pgErr)), "could not serialize access due to concurrent update (SQLSTATE 40001)"; got != want {
		t.Errorf("ErrorSummary = %q, want %q", got, want)
	}
	if got := ErrorSummary(io.EOF); got != "EOF" {
		t.Errorf("ErrorSummary(EOF) = %q", got)
	}
}
