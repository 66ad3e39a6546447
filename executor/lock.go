package executor

import (
	"context"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"
)

// lockKey is the advisory lock that serializes applies of one destination
// table: (hashtext('rowform'), hashtext('schema.table')).
const lockSQL = `SELECT pg_try_advisory_xact_lock(hashtext('rowform'), hashtext($1))`

// LockedError is returned when another apply holds the table.
type LockedError struct {
	// Table is the table the other apply holds ("schema.table").
	Table string
	// Holder describes the session holding the lock, if it could be seen.
	Holder string
}

func (e *LockedError) Error() string {
	msg := fmt.Sprintf("%s is being applied by another rowform", e.Table)
	if e.Holder != "" {
		msg += " (" + e.Holder + ")"
	}
	return msg + "; try again when it has finished, or wait for it with -lock-timeout=DURATION"
}

// takeLock begins the apply's REPEATABLE READ transaction on conn with the
// table's advisory lock as its first statement. With a zero timeout it fails
// at once when another session holds the lock; otherwise it retries until
// timeout, each time in a new transaction, so that the snapshot the apply
// works from is taken after the other apply committed. waiting is called
// once, with the holder, when it starts to wait.
func takeLock(ctx context.Context, conn *pgx.Conn, table string, timeout time.Duration, waiting func(holder string)) error {
	deadline := time.Now().Add(timeout)
	for attempt := 0; ; attempt++ {
		if _, err := conn.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ"); err != nil {
			return fmt.Errorf("starting the transaction: %w", err)
		}
		var ok bool
		if err := conn.QueryRow(ctx, lockSQL, table).Scan(&ok); err != nil {
			return fmt.Errorf("taking the lock on %s: %w", table, err)
		}
		if ok {
			return nil
		}
		if timeout <= 0 || time.Now().After(deadline) {
			return &LockedError{Table: table, Holder: lockHolder(ctx, conn, table)}
		}
		if attempt == 0 {
			waiting(lockHolder(ctx, conn, table))
		}
		if _, err := conn.Exec(ctx, "ROLLBACK"); err != nil {
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

// lockHolder describes who holds the table's lock: application name, pid
// and since when.
func lockHolder(ctx context.Context, conn *pgx.Conn, table string) string {
	var app, user string
	var pid int32
	var since *time.Time
	err := conn.QueryRow(ctx, `
SELECT a.application_name, COALESCE(a.usename::text, ''), a.pid, a.xact_start
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.granted
  AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
  AND l.classid = hashtext('rowform')::oid AND l.objid = hashtext($1)::oid AND l.objsubid = 2
LIMIT 1`, table).Scan(&app, &user, &pid, &since)
	if err != nil {
		return ""
	}
	s := fmt.Sprintf("held by %s, pid %d", app, pid)
	if user != "" {
		s += ", role " + user
	}
	if since != nil {
		s += ", since " + since.UTC().Format("2006-01-02 15:04:05 UTC")
	}
	return s
}
