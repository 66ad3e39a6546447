package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"regexp"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rowform/rowform/internal/suggest"
)

// command is one entry of the command table.
type command struct {
	name string
	// synopsis is the one line shown in the command list.
	synopsis string
	// run parses args (everything after the command name) and runs the
	// command, returning the exit code.
	run func(ctx context.Context, inv *invocation, args []string) int
}

// commands is the command table, in the order the command list shows it.
// A new command is one file that defines a constructor like
// validateCommand, plus one line here.
func commands() []*command {
	return []*command{
		validateCommand(),
		planCommand(),
		applyCommand(),
		showCommand(),
		historyCommand(),
		testCommand(),
		fmtCommand(),
		versionCommand(),
	}
}

func lookupCommand(name string) *command {
	for _, c := range commands() {
		if c.name == name {
			return c
		}
	}
	return nil
}

func commandNames() []string {
	var names []string
	for _, c := range commands() {
		names = append(names, c.name)
	}
	return names
}

// commandFlags is implemented by the typed flags struct of each command.
type commandFlags interface {
	// bind registers the struct's fields as flags on fs.
	bind(fs *flag.FlagSet)
	// setArgs receives the positional arguments that follow the flags.
	setArgs(args []string)
	// check reports a bad combination of flags and arguments, as a message
	// for the user.
	check() error
}

// commandSpec describes a command whose options parse into a value of type F.
type commandSpec[F any, PF interface {
	*F
	commandFlags
}] struct {
	name     string
	synopsis string
	// usage is the help text before the list of options: a "Usage:" line
	// and a description.
	usage string
	run   func(ctx context.Context, inv *invocation, flags PF) int
}

// build turns the spec into a table entry. Its run parses the arguments
// into a fresh F, answers -help/-h with the usage on stdout (exit 0),
// reports a parse or check error with a hint on stderr (exit 1), and
// otherwise calls spec.run.
func (spec commandSpec[F, PF]) build() *command {
	return &command{
		name:     spec.name,
		synopsis: spec.synopsis,
		run: func(ctx context.Context, inv *invocation, args []string) int {
			flags := PF(new(F))
			fs := newFlagSet(spec.name)
			flags.bind(fs)
			err := fs.Parse(args)
			if errors.Is(err, flag.ErrHelp) {
				fmt.Fprint(inv.stdout, strings.TrimSpace(spec.usage)+"\n")
				fmt.Fprint(inv.stdout, "\nOptions:\n")
				writeFlagHelp(inv.stdout, fs)
				return exitOK
			}
			if err == nil {
				flags.setArgs(fs.Args())
				err = flags.check()
			} else {
				err = errors.New(describeFlagError(err, fs))
			}
			if err != nil {
				inv.errorf("%s: %s", spec.name, err)
				fmt.Fprintf(inv.stderr, "Run 'rowform %s -help' for usage.\n", spec.name)
				return exitError
			}
			return spec.run(ctx, inv, flags)
		},
	}
}

// newFlagSet returns a flag set that reports errors instead of exiting and
// prints nothing by itself.
func newFlagSet(name string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return fs
}

// globalOnly names the global options, to explain their misplacement.
var globalOnly = map[string]bool{"chdir": true, "version": true}

// describeFlagError adds a hint to the flag package's error for an
// unknown option: the closest defined option, or where a global option goes.
func describeFlagError(err error, fs *flag.FlagSet) string {
	msg := err.Error()
	if m := badFlagValue.FindStringSubmatch(msg); m != nil {
		return describeBadValue(m[1], fs.Lookup(m[2]), msg)
	}
	name, ok := strings.CutPrefix(msg, "flag provided but not defined: -")
	if !ok {
		return msg
	}
	name = strings.TrimPrefix(name, "-")
	if globalOnly[name] && fs.Lookup(name) == nil {
		return fmt.Sprintf("%s; -%s is a global option and goes before the command, as in 'rowform -%s=... %s'", msg, name, name, fs.Name())
	}
	var defined []string
	fs.VisitAll(func(f *flag.Flag) { defined = append(defined, f.Name) })
	if s := suggest.ClosestOrPrefix(name, defined); s != "" {
		return fmt.Sprintf("%s. Did you mean -%s?", msg, s)
	}
	return msg
}

// badFlagValue matches the flag package's error for a value its type does
// not parse: the value, then the flag's name.
var badFlagValue = regexp.MustCompile(`^invalid (?:boolean )?value "(.*)" for (?:flag )?-([^:]+): `)

// describeBadValue says what kind of value the flag f takes, for the value
// given that did not parse; msg is the flag package's error, kept when f's
// kind is not known.
func describeBadValue(given string, f *flag.Flag, msg string) string {
	if f == nil {
		return msg
	}
	getter, ok := f.Value.(flag.Getter)
	if !ok {
		return msg
	}
	var takes string
	switch getter.Get().(type) {
	case time.Duration:
		takes = "a duration such as 30s, 5m or 1h30m"
	case int, int64, uint, uint64:
		takes = "a whole number"
	case bool:
		takes = "true or false, or nothing (-" + f.Name + " alone is true)"
	default:
		return msg
	}
	return fmt.Sprintf("invalid value %q for -%s: it takes %s", given, f.Name, takes)
}

// writeFlagHelp lists the options of fs, one a line, followed by -help.
func writeFlagHelp(w io.Writer, fs *flag.FlagSet) {
	tw := newTable(w)
	fs.VisitAll(func(f *flag.Flag) {
		placeholder, usage := flag.UnquoteUsage(f)
		name := "-" + f.Name
		if placeholder != "" {
			name += "=" + placeholder
		}
		if d := f.DefValue; d != "" && d != "false" && d != "0" && d != "0s" && d != "[]" {
			usage += fmt.Sprintf(" (default %s)", d)
		}
		fmt.Fprintf(tw, "  %s\t%s\n", name, usage)
	})
	fmt.Fprintf(tw, "  %s\t%s\n", "-help", "show this help")
	_ = tw.Flush()
}

// newTable returns a writer that aligns tab-separated columns.
func newTable(w io.Writer) *tabwriter.Writer {
	return tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
}
