package views

import "strings"

// ANSI SGR sequences, the only escape sequences rowform writes itself.
const (
	sgrReset     = "\x1b[0m"
	sgrBold      = "\x1b[1m"
	sgrRed       = "\x1b[31m"
	sgrGreen     = "\x1b[32m"
	sgrYellow    = "\x1b[33m"
	sgrBoldRed   = "\x1b[1;31m"
	sgrBoldGreen = "\x1b[1;32m"
)

// paint wraps s in the SGR sequence sgr when on, and returns s unchanged
// when off or when s is blank (so that padding stays free of escapes).
// It is the one place that colors text; every view paints through it.
func paint(on bool, sgr, s string) string {
	if !on || strings.TrimSpace(s) == "" {
		return s
	}
	return sgr + s + sgrReset
}

// Colors paints the marks and words of a view for a terminal: with On
// false every method returns its text unchanged, so the output holds no
// escape byte. Callers decide On (a terminal, no -no-color, NO_COLOR or
// TERM=dumb) and pass only text that is already printable.
type Colors struct{ On bool }

// Green is for what succeeded or is added ("✓", "pass", "+").
func (c Colors) Green(s string) string { return paint(c.On, sgrGreen, s) }

// Yellow is for warnings and what is skipped or changed ("!", "skip", "~").
func (c Colors) Yellow(s string) string { return paint(c.On, sgrYellow, s) }

// Red is for what failed or is removed ("✗", "error", "-").
func (c Colors) Red(s string) string { return paint(c.On, sgrRed, s) }

// BoldGreen is for a closing line that reports success.
func (c Colors) BoldGreen(s string) string { return paint(c.On, sgrBoldGreen, s) }

// BoldRed is for a closing line that reports failure.
func (c Colors) BoldRed(s string) string { return paint(c.On, sgrBoldRed, s) }
