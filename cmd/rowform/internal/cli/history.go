package cli

import (
	"context"
	"flag"
	"fmt"
	"sort"
	"strings"

	"github.com/rowform/rowform/cmd/rowform/internal/views"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/history"
	"github.com/rowform/rowform/internal/pgconnect"
	"github.com/rowform/rowform/internal/sshtunnel"
	"github.com/rowform/rowform/internal/suggest"
	"github.com/rowform/rowform/planner"
)

// historyFlags are the options of `rowform history`.
type historyFlags struct {
	vars     repeated
	varFiles repeated
	syncs    repeated
	json     bool
	limit    int
	noColor  bool
	args     []string
}

// defaultHistoryLimit is how many runs history lists without -limit.
const defaultHistoryLimit = 20

func (f *historyFlags) bind(fs *flag.FlagSet) {
	fs.Var(&f.vars, "var", "set the variable `NAME=VALUE` (repeatable)")
	fs.Var(&f.varFiles, "var-file", "read variable values from `FILE` (repeatable)")
	fs.Var(&f.syncs, "sync", "only the runs of the sync `NAME` (repeatable)")
	fs.BoolVar(&f.json, "json", false, "the runs as JSON on stdout")
	fs.IntVar(&f.limit, "limit", defaultHistoryLimit, "list at most `N` runs, the newest (0: all)")
	fs.BoolVar(&f.noColor, "no-color", false, "print no ANSI colors (also NO_COLOR=1)")
}

func (f *historyFlags) setArgs(args []string) { f.args = args }

func (f *historyFlags) check() error {
	if len(f.args) > 0 {
		return fmt.Errorf("unexpected argument %q: history takes only options", f.args[0])
	}
	if f.limit < 0 {
		return fmt.Errorf("-limit must be 0 or more")
	}
	return nil
}

func historyCommand() *command {
	return commandSpec[historyFlags, *historyFlags]{
		name:     "history",
		synopsis: "List the applies recorded in the destinations, newest first",
		usage: `
Usage: rowform [global options] history [options]

  Lists the runs that applies recorded in the history of each destination
  of the configuration (destinations with history = false keep none),
  newest first: the run's id, when it started, who applied, the sync, the
  rows it inserted (+), updated (~), deleted (-) and left out (!), how long
  it took and its status. 'rowform plan -undo=ID' plans the undo of a run.
  No value of a row is shown.

  Exit status: 0 when every destination's history was read, 1 otherwise.`,
		run: runHistory,
	}.build()
}

func runHistory(ctx context.Context, inv *invocation, f *historyFlags) int {
	rf := &runFlags{vars: f.vars, varFiles: f.varFiles, syncs: f.syncs, noColor: f.noColor, format: views.FormatText}
	if f.json {
		rf.format = views.FormatJSON
	}
	cfg := inv.loadConfig(rf, rf.inputs(ctx, inv), "history")
	if cfg == nil {
		return exitError
	}
	for _, n := range f.syncs {
		if cfg.Sync(n) == nil {
			inv.errorf("history: there is no sync named %q; the syncs are: %s.%s", n, strings.Join(cfg.SyncNames(), ", "), suggest.DidYouMean(n, cfg.SyncNames()))
			return exitError
		}
	}
	if !f.json && !keepsHistory(cfg, f.syncs) {
		fmt.Fprintln(inv.stdout, "No runs recorded: no destination of these syncs keeps a history (history = false).")
		return exitOK
	}
	runs, err := readHistory(ctx, cfg, f.syncs, f.limit, inv.environ, inv.tunnel)
	if err != nil {
		inv.errorf("history: %s", err)
		return exitError
	}
	if f.json {
		err = views.RenderHistoryJSON(inv.stdout, runs)
	} else {
		err = views.RenderHistoryText(inv.stdout, runs, inv.useColor(f.noColor, inv.stdout))
	}
	if err != nil {
		inv.errorf("history: %s", err)
		return exitError
	}
	return exitOK
}

// keepsHistory reports whether a destination of the syncs named (every
// sync when none) keeps a history.
func keepsHistory(cfg *hclconfig.Config, syncs []string) bool {
	for addr, d := range cfg.Destinations {
		if d.HistoryEnabled() && usedBy(cfg, addr, syncs) {
			return true
		}
	}
	return false
}

// readHistory reads the runs of the syncs named (every sync when none)
// from the history of every destination that keeps one, newest first, at
// most limit (0: all).
func readHistory(ctx context.Context, cfg *hclconfig.Config, syncs []string, limit int, environ []string, tunnel sshtunnel.Options) ([]history.Run, error) {
	connector := pgconnect.NewConnector(environ)
	connector.Tunnel = tunnel
	defer connector.Close()
	var addrs []string
	for addr, d := range cfg.Destinations {
		if d.HistoryEnabled() && usedBy(cfg, addr, syncs) {
			addrs = append(addrs, addr)
		}
	}
	sort.Strings(addrs)
	var runs []history.Run
	for _, addr := range addrs {
		d := cfg.Destinations[addr]
		conn, err := connector.ConnectReadOnly(ctx, d, "history")
		if err != nil {
			return nil, err
		}
		rs, err := history.List(ctx, conn, d.History.Schema, syncs, limit)
		_ = pgconnect.Close(context.WithoutCancel(ctx), conn)
		if err != nil {
			return nil, fmt.Errorf("reading the history of %s: %w", addr, err)
		}
		runs = append(runs, rs...)
	}
	sort.SliceStable(runs, func(i, j int) bool {
		if !runs[i].StartedAt.Equal(runs[j].StartedAt) {
			return runs[i].StartedAt.After(runs[j].StartedAt)
		}
		return runs[i].ID > runs[j].ID
	})
	if limit > 0 && len(runs) > limit {
		runs = runs[:limit]
	}
	return runs, nil
}

// usedBy reports whether a sync of the selection (every sync when none is
// named) writes to the destination addr.
func usedBy(cfg *hclconfig.Config, addr string, syncs []string) bool {
	for _, s := range cfg.Syncs {
		if s.Destination == nil || s.Destination.Address() != addr {
			continue
		}
		if len(syncs) == 0 {
			return true
		}
		for _, n := range syncs {
			if n == s.Name {
				return true
			}
		}
	}
	return false
}

// computeUndo plans the undo of run -undo=RUN (planner.ComputeUndo): an
// ordinary plan, that plan renders, -out saves and apply applies.
func (inv *invocation) computeUndo(ctx context.Context, cfg *hclconfig.Config, f *runFlags) (*planner.Plan, error) {
	show, done := inv.statusLine(f.format == views.FormatText, f.noColor)
	defer done()
	opts := planner.Options{Syncs: f.syncs, ShowRows: f.showRows, Environ: inv.environ, Tunnel: inv.tunnel, Changes: f.onChange}
	if show != nil {
		opts.Progress = func(sync string, rows int64) { show("%s: %d rows of run %d read", sync, rows, f.undo) }
	}
	return planner.ComputeUndo(ctx, cfg, f.undo, opts)
}
