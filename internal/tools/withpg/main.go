// Command withpg runs a command against a throwaway PostgreSQL server.
//
// Usage:
//
//	go run ./internal/tools/withpg [-init FILE.sql] -- CMD ARGS...
//
// It starts a cluster with pgcluster.Start, runs CMD with stdin, stdout and
// stderr attached and with PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE
// and ROWFORM_DEMO_PASSWORD (the superuser's password) set in its
// environment, then closes the cluster, removing all of its files, and exits
// with CMD's exit code (128+N if CMD was killed by signal N; 1 if the
// cluster could not be started or CMD could not be run; 130 if interrupted
// while the cluster was starting).
//
// SIGINT and SIGTERM are passed on to CMD; the cluster is removed once CMD
// has exited. A second signal kills CMD. With ROWFORM_TEST_PG_URL set, the
// database is created on that server instead and dropped on exit.
package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/rowform/rowform/internal/pgcluster"
)

func main() {
	os.Exit(run(os.Args[1:]))
}

func usage() {
	fmt.Fprintln(os.Stderr, "usage: withpg [-init FILE.sql] [--] CMD [ARGS...]")
}

func run(args []string) int {
	var initSQL string
	if len(args) > 1 && args[0] == "-init" {
		initSQL, args = args[1], args[2:]
	}
	if len(args) > 0 && args[0] == "--" {
		args = args[1:]
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" {
		usage()
		return 2
	}

	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)

	// Start the cluster; a signal during start-up cancels it.
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	started := make(chan struct{})
	go func() {
		select {
		case <-sigs:
			cancel()
		case <-started:
		}
	}()
	c, err := pgcluster.Start(ctx, pgcluster.Options{})
	close(started)
	if err != nil {
		interrupted := errors.Is(ctx.Err(), context.Canceled)
		cancel()
		if interrupted {
			fmt.Fprintln(os.Stderr, "withpg: interrupted while starting PostgreSQL; nothing left behind")
			return 130
		}
		fmt.Fprintf(os.Stderr, "withpg: %v\n", err)
		fmt.Fprintf(os.Stderr, "withpg: to fix this, %s\n", pgcluster.InstallHint)
		return 1
	}
	defer func() {
		if err := c.Close(); err != nil {
			fmt.Fprintf(os.Stderr, "withpg: removing the cluster: %v\n", err)
		}
	}()

	version := serverVersion(ctx, c)
	if initSQL != "" {
		if err := runSQLFile(ctx, c, initSQL); err != nil {
			cancel()
			fmt.Fprintf(os.Stderr, "withpg: %s: %v\n", initSQL, err)
			return 1
		}
	}
	cancel()
	if os.Getenv(pgcluster.EnvURL) != "" {
		fmt.Fprintf(os.Stderr, "withpg: database %s on PostgreSQL %s at %s:%d (%s; dropped on exit)\n", c.Database, version, c.Host, c.Port, pgcluster.EnvURL)
	} else {
		fmt.Fprintf(os.Stderr, "withpg: throwaway PostgreSQL %s on %s:%d (removed on exit)\n", version, c.Host, c.Port)
	}

	cmd := exec.Command(args[0], args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(),
		"PGHOST="+c.Host,
		"PGPORT="+strconv.Itoa(c.Port),
		"PGUSER="+c.User,
		"PGPASSWORD="+c.Password,
		"PGDATABASE="+c.Database,
		"ROWFORM_DEMO_PASSWORD="+c.Password,
	)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "withpg: %v\n", err)
		return 1
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()

	signalled := false
	for {
		select {
		case sig := <-sigs:
			if !signalled {
				signalled = true
				cmd.Process.Signal(sig)
			} else {
				cmd.Process.Kill()
			}
		case err := <-done:
			return exitCode(err)
		}
	}
}

// exitCode maps cmd.Wait's result to this program's exit code.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return ee.ExitCode()
	}
	fmt.Fprintf(os.Stderr, "withpg: %v\n", err)
	return 1
}

// serverVersion returns the server's major version, e.g. "15", or "?" .
func serverVersion(ctx context.Context, c *pgcluster.Cluster) string {
	conn, err := pgx.Connect(ctx, c.ConnString(""))
	if err != nil {
		return "?"
	}
	defer conn.Close(context.Background())
	var v int
	if err := conn.QueryRow(ctx, "SELECT current_setting('server_version_num')::int").Scan(&v); err != nil {
		return "?"
	}
	if v >= 100000 {
		return strconv.Itoa(v / 10000)
	}
	return fmt.Sprintf("%d.%d", v/10000, v/100%100)
}

// runSQLFile runs the statements of a SQL file on the cluster's database.
func runSQLFile(ctx context.Context, c *pgcluster.Cluster, path string) error {
	sql, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	conn, err := pgx.Connect(ctx, c.ConnString(""))
	if err != nil {
		return err
	}
	defer conn.Close(ctx)
	_, err = conn.Exec(ctx, string(sql), pgx.QueryExecModeSimpleProtocol)
	return err
}
