package cli

import (
	"context"
	"flag"
	"fmt"
	"runtime"
)

// Version is rowform's version. Release builds set it with
// -ldflags "-X github.com/rowform/rowform/cmd/rowform/internal/cli.Version=v1.2.3".
var Version = "v0.1.0"

// versionFlags are the options of `rowform version`: none.
type versionFlags struct{ args []string }

func (f *versionFlags) bind(*flag.FlagSet) {}

func (f *versionFlags) setArgs(args []string) { f.args = args }

func (f *versionFlags) check() error {
	if len(f.args) > 0 {
		return fmt.Errorf("unexpected argument %q: version takes none", f.args[0])
	}
	return nil
}

func versionCommand() *command {
	return commandSpec[versionFlags, *versionFlags]{
		name:     "version",
		synopsis: "Print the rowform version",
		usage: `
Usage: rowform version

  Prints rowform's version and the Go toolchain and platform it was built for.`,
		run: func(_ context.Context, inv *invocation, _ *versionFlags) int {
			fmt.Fprintf(inv.stdout, "rowform %s\n%s %s/%s\n", Version, runtime.Version(), runtime.GOOS, runtime.GOARCH)
			return exitOK
		},
	}.build()
}
