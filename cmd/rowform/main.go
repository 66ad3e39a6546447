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
	// Canceled on Ctrl-C or SIGTERM; commands stop cleanly and return.
	ctx, _ := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	os.Exit(cli.Run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}
