// Package pgtest wraps pgcluster for use in tests: every helper reports
// problems with t.Fatal (never t.Skip) and registers its own cleanup.
//
// Tests that use it need the PostgreSQL server binaries (Debian/Ubuntu:
// "apt-get install -y postgresql"), or ROWFORM_PG_BIN, or
// ROWFORM_TEST_PG_URL pointing at an existing server; see package pgcluster.
package pgtest

import (
	"context"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowform/rowform/internal/pgcluster"
)

// startTimeout bounds Start; connectTimeout bounds Connect and Exec.
const (
	startTimeout   = 2 * time.Minute
	connectTimeout = 30 * time.Second
)

// Start starts a throwaway cluster (see pgcluster.Start), applying opts in
// order to a zero pgcluster.Options. It registers t.Cleanup to Close the
// cluster; if the test has failed by then, the tail of the server log is
// written with t.Log first. If the cluster cannot be started, Start calls
// t.Fatal with the reason and how to install PostgreSQL; it never skips.
func Start(t testing.TB, opts ...func(*pgcluster.Options)) *pgcluster.Cluster {
	t.Helper()
	var o pgcluster.Options
	for _, f := range opts {
		f(&o)
	}
	ctx, cancel := context.WithTimeout(context.Background(), startTimeout)
	defer cancel()
	c, err := pgcluster.Start(ctx, o)
	if err != nil {
		t.Fatalf("pgtest: cannot start a throwaway PostgreSQL server: %v\n\nTo run these tests, %s.", err, pgcluster.InstallHint)
	}
	t.Cleanup(func() {
		if t.Failed() {
			if tail := pgcluster.LogTail(c.LogContents(), 60); tail != "" {
				t.Logf("PostgreSQL server log (%s:%d), last lines:\n%s", c.Host, c.Port, tail)
			}
		}
		if err := c.Close(); err != nil {
			t.Errorf("pgtest: closing PostgreSQL cluster: %v", err)
		}
	})
	return c
}

// Connect opens a connection to database ("" means c.Database) as c's
// superuser. The connection is closed by t.Cleanup. On error it calls
// t.Fatal.
func Connect(t testing.TB, c *pgcluster.Cluster, database string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.ConnString(database))
	if err != nil {
		t.Fatalf("pgtest: connect to %s:%d database %q as %s: %v", c.Host, c.Port, database, c.User, err)
	}
	t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

// Exec runs sql with args on database ("" means c.Database) as c's
// superuser, on a connection of its own that it closes before returning.
// On error it calls t.Fatal.
func Exec(t testing.TB, c *pgcluster.Cluster, database string, sql string, args ...any) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.ConnString(database))
	if err != nil {
		t.Fatalf("pgtest: connect to %s:%d database %q as %s: %v", c.Host, c.Port, database, c.User, err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(ctx, sql, args...); err != nil {
		t.Fatalf("pgtest: exec %q: %v", sql, err)
	}
}

// CreateRole creates a role that can log in with password (any characters
// are allowed in name and password; they are quoted by the server). On
// error it calls t.Fatal.
func CreateRole(t testing.TB, c *pgcluster.Cluster, name, password string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), connectTimeout)
	defer cancel()
	conn, err := pgx.Connect(ctx, c.ConnString(""))
	if err != nil {
		t.Fatalf("pgtest: connect to %s:%d as %s: %v", c.Host, c.Port, c.User, err)
	}
	defer conn.Close(context.Background())
	var stmt string
	if err := conn.QueryRow(ctx, "SELECT format('CREATE ROLE %I LOGIN PASSWORD %L', $1::text, $2::text)", name, password).Scan(&stmt); err != nil {
		t.Fatalf("pgtest: create role %q: %v", name, err)
	}
	if _, err := conn.Exec(ctx, stmt); err != nil {
		t.Fatalf("pgtest: create role %q: %v", name, err)
	}
}
