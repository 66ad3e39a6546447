package cli

import (
	"io"
	"os"

	"golang.org/x/term"
)

// isTerminal reports whether w is a terminal: an *os.File for which
// term.IsTerminal holds. Buffers and pipes are not.
func isTerminal(w io.Writer) bool {
	f, ok := underlying(w).(*os.File)
	return ok && term.IsTerminal(int(f.Fd()))
}

// terminalWidth returns the width in columns of the terminal w writes to,
// or 0 when w is not a terminal (0 means "do not wrap" to HCL's writer).
func terminalWidth(w io.Writer) uint {
	f, ok := underlying(w).(*os.File)
	if !ok {
		return 0
	}
	width, _, err := term.GetSize(int(f.Fd()))
	if err != nil || width <= 0 {
		return 0
	}
	return uint(width)
}

// useColor decides whether output written to w may carry ANSI colors: only
// on a terminal, and never with -no-color (noColor), a non-empty NO_COLOR
// environment variable (https://no-color.org) or TERM=dumb.
func (inv *invocation) useColor(noColor bool, w io.Writer) bool {
	if noColor || inv.getenv("NO_COLOR") != "" || inv.getenv("TERM") == "dumb" {
		return false
	}
	return inv.isTerminal(w)
}

// underlying returns the writer behind a redacting writer.
func underlying(w io.Writer) io.Writer {
	if u, ok := w.(interface{ Underlying() io.Writer }); ok {
		return u.Underlying()
	}
	return w
}
