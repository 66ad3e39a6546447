package cli

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"

	"github.com/rowform/rowform/cmd/rowform/internal/views"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/planner"
)

// validateFlags are the options of `rowform validate`.
type validateFlags struct {
	json    bool
	format  string
	noColor bool
	args    []string
}

func (f *validateFlags) bind(fs *flag.FlagSet) {
	fs.BoolVar(&f.json, "json", false, "print the result as JSON on stdout (the shape of terraform validate -json)")
	fs.StringVar(&f.format, "format", "", "output `FORMAT`: text or json (default text); -format=json is -json")
	fs.BoolVar(&f.noColor, "no-color", false, "print no ANSI colors (also NO_COLOR=1)")
}

func (f *validateFlags) setArgs(args []string) { f.args = args }

func (f *validateFlags) check() error {
	if len(f.args) > 0 {
		return fmt.Errorf("unexpected argument %q: validate checks the configuration directory; choose it with 'rowform -chdir=DIR validate'", f.args[0])
	}
	switch f.format {
	case "", views.FormatText:
		if f.json && f.format != "" {
			return fmt.Errorf("-json and -format=%s contradict each other", f.format)
		}
	case views.FormatJSON:
		f.json = true
	default:
		return fmt.Errorf("-format must be text or json, not %q", f.format)
	}
	return nil
}

func validateCommand() *command {
	return commandSpec[validateFlags, *validateFlags]{
		name:     "validate",
		synopsis: "Check the configuration; opens no connection",
		usage: `
Usage: rowform [global options] validate [options]

  Parses and checks every *.hcl file of the configuration directory (not
  *.vars.hcl) and reports every problem at once, each with file:line:col
  and a source snippet. It opens no connection and needs no secrets:
  variables without a value and env() of unset variables are accepted.

  Exit status: 0 when the configuration is valid, 1 when it is not.`,
		run: runValidate,
	}.build()
}

func runValidate(ctx context.Context, inv *invocation, f *validateFlags) int {
	cfg, diags := hclconfig.Load(inv.dir, hclconfig.Inputs{Environ: inv.environ, AllowUnset: true, Context: ctx})
	inv.redactor.Add(cfg.Secrets()...)
	// Every problem at once: the files and DuckDB queries are checked
	// also when the configuration has errors elsewhere.
	diags = append(diags, missingCSVFiles(cfg)...)
	diags = append(diags, missingTunnelFiles(cfg)...)
	diags = append(diags, planner.CheckDuckDBQueries(ctx, cfg)...)

	if f.json {
		enc := json.NewEncoder(inv.stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(views.NewValidation(diags)); err != nil {
			inv.errorf("validate: writing JSON: %s", err)
			return exitError
		}
		if diags.HasErrors() {
			return exitError
		}
		return exitOK
	}

	color := inv.useColor(f.noColor, inv.stderr)
	if err := views.WriteDiagnostics(inv.stderr, cfg.Files, diags, terminalWidth(inv.stderr), color, inv.redactor.String); err != nil {
		inv.errorf("validate: %s", err)
		return exitError
	}
	if diags.HasErrors() {
		fmt.Fprintf(inv.stderr, "The configuration is invalid: %s.\n", views.CountSummary(diags))
		return exitError
	}
	_ = views.RenderValidSummary(inv.stdout, cfg, inv.useColor(f.noColor, inv.stdout))
	return exitOK
}
