package views

import (
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/plural"
)

// RenderValidSummary writes what `rowform validate` prints for a valid
// configuration: the success line (bold green with color), then one line
// per sync, in the form of the plan's summary lines, or "It declares no
// syncs."
//
//	Success! The configuration is valid.
//
//	1 sync:
//	  sync "active_users"  update_or_create  postgres.warehouse -> postgres.crm public.users
func RenderValidSummary(w io.Writer, cfg *hclconfig.Config, color bool) error {
	ew := &errWriter{w: w}
	fmt.Fprintln(ew, Colors{On: color}.BoldGreen("Success! The configuration is valid."))
	if len(cfg.Syncs) == 0 {
		fmt.Fprintln(ew, "\nIt declares no syncs.")
		return ew.err
	}
	fmt.Fprintf(ew, "\n%s:\n", plural.Count(len(cfg.Syncs), "sync"))
	tw := tabwriter.NewWriter(ew, 0, 4, 2, ' ', 0)
	for _, s := range cfg.Syncs {
		fmt.Fprintf(tw, "  sync %q\t%s\t%s -> %s %s\n",
			s.Name, s.Behavior, s.Source.Address(), s.Destination.Address(), Printable(s.Table.String()))
	}
	_ = tw.Flush()
	return ew.err
}
