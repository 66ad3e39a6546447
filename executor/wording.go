package executor

import (
	"errors"
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/pgconnect"
	"github.com/rowform/rowform/planner"
)

// Error wording: what a failed or refused sync says, so that the user reads
// what happened (a stale plan, a lost session, the row a write failed at)
// rather than a driver's error.

func describeCounts(c planner.Counts) string {
	return fmt.Sprintf("%d to insert, %d to update, %d to delete", c.Insert, c.Update, c.Delete)
}

func describeFindings(fs []planner.Finding) string {
	var parts []string
	for _, f := range fs {
		if f.Severity == planner.SeverityError {
			parts = append(parts, fmt.Sprintf("%s: %s", f.Code, f.Summary))
		}
	}
	if len(parts) == 0 {
		return "the destination or source no longer matches the plan"
	}
	return strings.Join(parts, "; ")
}

// hasErrorFinding reports whether any of fs is an error.
func hasErrorFinding(fs []planner.Finding) bool {
	for _, f := range fs {
		if f.Severity == planner.SeverityError {
			return true
		}
	}
	return false
}

// findingsError turns findings that are not about the data — an unreachable
// server, a failing source query — into a plain error; nil otherwise.
func findingsError(s *hclconfig.Sync, fs []planner.Finding) error {
	for _, f := range fs {
		if f.Severity != planner.SeverityError {
			continue
		}
		switch f.Code {
		case planner.CodeConnectionFailed:
			return &lostError{msg: fmt.Sprintf("lost the connection to %s while reading the catalog: %s; the transaction was rolled back, nothing was written", s.Destination.Address(), f.Summary)}
		case planner.CodeSourceQueryFailed:
			return fmt.Errorf("the source query failed: %s; nothing was written", f.Summary)
		}
	}
	return nil
}

// lostConnection rewords errors that mean a session of the apply is gone
// (pgconnect.IsConnectionLost, an SSH tunnel that failed, a server that
// stopped responding), so the user reads what happened rather than a
// socket error. The reworded error is a *lostError that wraps err.
func lostConnection(connector *pgconnect.Connector, s *hclconfig.Sync, err error) error {
	var le *LockedError
	if errors.Is(err, ErrStale) || errors.As(err, &le) {
		return err
	}
	server, other, side := s.Destination, s.Source.Server, "the destination "+s.Destination.Address()
	if planner.IsSourceError(err) {
		server, other, side = s.Source.Server, s.Destination, "the source "+s.Source.Address()
	}
	loss, ok := connector.LostSession(err, server, other)
	switch {
	case !ok:
		return err
	case loss.Tunnel != nil:
		return &lostError{fmt.Sprintf("%s (reached through the SSH bastion of %s): %v; the transaction was rolled back, nothing was written", loss.Tunnel, loss.Server.Address(), err), err}
	case loss.NoResponse:
		// A frozen server: the connection is closed, so the transaction
		// cannot commit; the server rolls it back when it runs again.
		return &lostError{fmt.Sprintf("gave up on %s (%s): the transaction cannot commit and is rolled back by the server, nothing was written", side, err), err}
	}
	return &lostError{fmt.Sprintf("lost the connection to %s (%s): the transaction was rolled back by the server, nothing was written", side, err), err}
}

// lostError is an apply error that says which session was lost; it wraps
// the driver's error (nil when a finding reported the loss).
type lostError struct {
	msg string
	err error
}

func (e *lostError) Error() string { return e.msg }

func (e *lostError) Unwrap() error { return e.err }

// describeWriteError names what failed, with the server's message, table,
// column, constraint, detail and hint.
func describeWriteError(what string, err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return fmt.Errorf("the %s failed: %w", what, err)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "the %s failed: %s (SQLSTATE %s)", what, pgErr.Message, pgErr.Code)
	if pgErr.ColumnName != "" {
		fmt.Fprintf(&b, "; column %s", pgErr.ColumnName)
	}
	if pgErr.ConstraintName != "" {
		fmt.Fprintf(&b, "; constraint %s", pgErr.ConstraintName)
	}
	if pgErr.Where != "" {
		fmt.Fprintf(&b, "; %s", strings.ReplaceAll(pgErr.Where, "\n", "; "))
	}
	if pgErr.Hint != "" {
		fmt.Fprintf(&b, "; hint: %s", pgErr.Hint)
	}
	if pgErr.Code == "55P03" { // lock_not_available: lock_timeout
		b.WriteString("; another session holds a lock on rows this write needs (an open transaction: see pg_stat_activity); " +
			"nothing was written — apply again once it has ended, or give -lock-timeout to wait longer")
	}
	return &writeError{msg: b.String(), err: err}
}

type writeError struct {
	msg string
	err error
}

func (e *writeError) Error() string { return e.msg }

func (e *writeError) Unwrap() error { return e.err }
