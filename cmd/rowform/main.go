// Command rowform syncs rows into PostgreSQL tables from HCL configuration
// files. See README.md and docs/language.md.
package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/rowform/rowform/cmd/rowform/internal/cli"
)

func main() {
	// Canceled on Ctrl-C, SIGTERM, a closed terminal (SIGHUP) or a closed
	// output pipe (SIGPIPE, as in 'rowform test | head'); commands stop
	// cleanly and return, removing what they started (rowform test's
	// throwaway server). Without SIGPIPE here, Go would exit at the first
	// write to the closed pipe and leave that server running.
	ctx, _ := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	os.Exit(cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
