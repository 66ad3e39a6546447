package cli

import (
	"context"
	"flag"
	"fmt"

	"github.com/rowform/rowform/cmd/rowform/internal/views"
	"github.com/rowform/rowform/planner"
)

// showFlags are the options of `rowform show`.
type showFlags struct {
	json    bool
	format  string
	noColor bool
	args    []string
}

func (f *showFlags) bind(fs *flag.FlagSet) {
	fs.BoolVar(&f.json, "json", false, "print the plan as JSON on stdout")
	fs.StringVar(&f.format, "format", "", "output `FORMAT`: text, json or markdown (default text)")
	fs.BoolVar(&f.noColor, "no-color", false, "print no ANSI colors (also NO_COLOR=1)")
}

func (f *showFlags) setArgs(args []string) { f.args = args }

func (f *showFlags) check() error {
	if len(f.args) != 1 {
		return fmt.Errorf("show needs exactly one argument: the plan file written by 'rowform plan -out=FILE'")
	}
	rf := runFlags{json: f.json, format: f.format}
	if err := rf.check(); err != nil {
		return err
	}
	f.format = rf.format
	return nil
}

func showCommand() *command {
	return commandSpec[showFlags, *showFlags]{
		name:     "show",
		synopsis: "Render a saved plan file",
		usage: `
Usage: rowform [global options] show [options] PLANFILE

  Renders a plan saved with 'rowform plan -out=PLANFILE' exactly as plan
  showed it. It opens no connection.

  Exit status: 0, or 1 when the file cannot be read.`,
		run: runShow,
	}.build()
}

func runShow(ctx context.Context, inv *invocation, f *showFlags) int {
	path := inv.path(f.args[0])
	saved, err := planner.ReadPlanFile(ctx, path)
	if err != nil {
		inv.errorf("show: %s", err)
		return exitError
	}
	if err := views.RenderPlan(inv.stdout, saved.Plan, f.format, inv.useColor(f.noColor, inv.stdout)); err != nil {
		inv.errorf("show: %s", err)
		return exitError
	}
	return exitOK
}
