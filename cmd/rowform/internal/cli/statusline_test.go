package cli

import (
	"bytes"
	"io"
	"strings"
	"testing"

	"github.com/rowform/rowform/internal/redact"
)

// TestStatusLineReachesTheTerminalAtOnce: each progress line and the final
// erase reach the terminal when they are written, through the masking
// writer that holds partial lines, and without escape sequences under
// -no-color, where a shorter line is padded over the longer one before it.
func TestStatusLineReachesTheTerminalAtOnce(t *testing.T) {
	for _, noColor := range []bool{false, true} {
		var term bytes.Buffer
		inv := &invocation{
			stderr:   redact.NewWriter(&term, &redact.Redactor{}),
			terminal: func(io.Writer) bool { return true },
		}
		show, clear := inv.statusLine(true, noColor)
		if show == nil {
			t.Fatalf("no-color %v: no status line on a terminal", noColor)
		}
		show("items: %d rows read", 12345)
		if !strings.Contains(term.String(), "items: 12345 rows read") {
			t.Fatalf("no-color %v: the progress line is held back: %q", noColor, term.String())
		}
		show("items: done")
		clear()
		got := term.String()
		if noColor {
			want := "\r  items: 12345 rows read" +
				"\r  items: done" + strings.Repeat(" ", len("12345 rows read")-len("done")) +
				"\r" + strings.Repeat(" ", len("  items: done")) + "\r"
			if got != want {
				t.Errorf("no-color: terminal got\n%q, want\n%q", got, want)
			}
			continue
		}
		if want := "\r\x1b[K  items: 12345 rows read\r\x1b[K  items: done\r\x1b[K"; got != want {
			t.Errorf("color: terminal got\n%q, want\n%q", got, want)
		}
	}
}

// TestStatusLineOnlyOnATerminal: with stderr not a terminal, or the status
// line disabled (-json), nothing is shown.
func TestStatusLineOnlyOnATerminal(t *testing.T) {
	for _, tc := range []struct{ terminal, enabled bool }{{false, true}, {true, false}} {
		var term bytes.Buffer
		inv := &invocation{stderr: &term, terminal: func(io.Writer) bool { return tc.terminal }}
		show, clear := inv.statusLine(tc.enabled, false)
		if show != nil {
			t.Errorf("%+v: a status line", tc)
		}
		clear()
		if term.Len() != 0 {
			t.Errorf("%+v: wrote %q", tc, term.String())
		}
	}
}
