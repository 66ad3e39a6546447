// Package views renders rowform's results for people and programs, one
// file per command's output: plan_*.go (text, color, JSON, markdown),
// apply.go, validate.go, history.go, diagnostics.go, rejected.go. The CLI
// computes; views only formats. Every string that came from a server or a
// file is printed through Printable, and every color through Colors. Its
// JSON types are public interface (the README's Commands): keys may be
// added, never removed or renamed.
package views

import (
	"bytes"
	"fmt"
	"io"
	"maps"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"

	"github.com/rowform/rowform/internal/plural"
	"github.com/rowform/rowform/planner"
)

// Pos is a position in a configuration file, as in the README's Commands: Line and Column
// count from 1, Byte from 0.
type Pos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// Range is the part of a configuration file a diagnostic is about.
type Range struct {
	Filename string `json:"filename"`
	Start    Pos    `json:"start"`
	End      Pos    `json:"end"`
}

// Diagnostic is one problem in JSON form. Severity is "error" or "warning".
// Range is nil (and omitted) for a problem that is not about a place in a
// file, such as a malformed -var option.
type Diagnostic struct {
	Severity string `json:"severity"`
	Summary  string `json:"summary"`
	Detail   string `json:"detail"`
	Range    *Range `json:"range,omitempty"`
}

// Validation is the document printed by `rowform validate -json`. Valid is
// true exactly when ErrorCount is 0; Diagnostics is never null.
type Validation struct {
	Valid        bool         `json:"valid"`
	ErrorCount   int          `json:"error_count"`
	WarningCount int          `json:"warning_count"`
	Diagnostics  []Diagnostic `json:"diagnostics"`
}

// InvalidConfiguration is the document plan -json prints when the
// configuration does not load: a plan document that plans
// nothing (applyable false, syncs empty), with the error and warning
// counts in summary and the diagnostics.
type InvalidConfiguration struct {
	FormatVersion string          `json:"format_version"`
	Applyable     bool            `json:"applyable"`
	Syncs         []struct{}      `json:"syncs"`
	Summary       planner.Summary `json:"summary"`
	Diagnostics   []Diagnostic    `json:"diagnostics"`
}

// NewInvalidConfiguration is the InvalidConfiguration document of diags.
func NewInvalidConfiguration(diags hcl.Diagnostics) *InvalidConfiguration {
	errs, warns := Count(diags)
	return &InvalidConfiguration{FormatVersion: planner.FormatVersion, Syncs: []struct{}{},
		Summary: planner.Summary{Errors: errs, Warnings: warns}, Diagnostics: NewDiagnostics(diags)}
}

// NewDiagnostics converts diags to their JSON form, in order. The result is
// never nil, so it encodes as [] rather than null.
func NewDiagnostics(diags hcl.Diagnostics) []Diagnostic {
	out := make([]Diagnostic, 0, len(diags))
	for _, d := range diags {
		if d == nil {
			continue
		}
		jd := Diagnostic{
			Severity: severityName(d.Severity),
			Summary:  d.Summary,
			Detail:   d.Detail,
		}
		if d.Subject != nil {
			jd.Range = &Range{
				Filename: d.Subject.Filename,
				Start:    newPos(d.Subject.Start),
				End:      newPos(d.Subject.End),
			}
		}
		out = append(out, jd)
	}
	return out
}

// NewValidation builds the `validate -json` document for diags.
func NewValidation(diags hcl.Diagnostics) Validation {
	errs, warns := Count(diags)
	return Validation{
		Valid:        errs == 0,
		ErrorCount:   errs,
		WarningCount: warns,
		Diagnostics:  NewDiagnostics(diags),
	}
}

func newPos(p hcl.Pos) Pos { return Pos{Line: p.Line, Column: p.Column, Byte: p.Byte} }

func severityName(s hcl.DiagnosticSeverity) string {
	switch s {
	case hcl.DiagError:
		return "error"
	case hcl.DiagWarning:
		return "warning"
	default:
		return "invalid"
	}
}

// Count returns the number of errors and warnings in diags.
func Count(diags hcl.Diagnostics) (errs, warns int) {
	for _, d := range diags {
		if d == nil {
			continue
		}
		switch d.Severity {
		case hcl.DiagError:
			errs++
		case hcl.DiagWarning:
			warns++
		}
	}
	return errs, warns
}

// CountSummary describes the counts of diags for a closing line, such as
// "3 errors" or "1 error, 2 warnings". It is "" when diags is empty.
func CountSummary(diags hcl.Diagnostics) string {
	errs, warns := Count(diags)
	var parts []string
	if errs > 0 {
		parts = append(parts, plural.Count(errs, "error"))
	}
	if warns > 0 {
		parts = append(parts, plural.Count(warns, "warning"))
	}
	return strings.Join(parts, ", ")
}

// WriteDiagnostics writes diags for a person, each with its severity,
// summary, location as file:line:col, a source snippet taken from files, and
// its detail. It uses HCL's diagnostic text writer, which never prints
// values marked sensitive. width wraps the detail text (0: no wrapping);
// color adds ANSI escape sequences. mask (nil: none), the output filter,
// is applied to each summary and detail before the detail is wrapped: a
// secret with spaces wrapped onto two lines is no longer one the filter
// finds in the output.
func WriteDiagnostics(w io.Writer, files map[string]*hcl.File, diags hcl.Diagnostics, width uint, color bool, mask func(string) string) error {
	if mask != nil {
		diags = maskDiagnostics(diags, mask)
	}
	files = printableFiles(files)
	for _, d := range diags {
		if d == nil {
			continue
		}
		d, files = printableDiagnostic(d, files)
		d = withoutLongValues(d)
		var buf bytes.Buffer
		if err := hcl.NewDiagnosticTextWriter(&buf, files, width, color).WriteDiagnostic(d); err != nil {
			return err
		}
		text := buf.String()
		if s := d.Subject; s != nil {
			// HCL says "on main.hcl line 3"; name the column too, in the
			// file:line:col form that editors and terminals can follow.
			text = strings.Replace(text,
				fmt.Sprintf("  on %s line %d", s.Filename, s.Start.Line),
				fmt.Sprintf("  on %s:%d:%d", s.Filename, s.Start.Line, s.Start.Column), 1)
		}
		if _, err := io.WriteString(w, text); err != nil {
			return err
		}
	}
	return nil
}

// maxShownValueBytes is the longest string a diagnostic shows among the
// values its expression reads ("with local.query as ...").
const maxShownValueBytes = 256

// withoutLongValues returns d without its expression's values when one of
// them is a string longer than maxShownValueBytes: HCL's writer prints such
// a value whole (a local read by file() printed megabytes of a file, or
// the whole environment of /proc/self/environ), where the snippet and the
// detail already say what is wrong. Values marked sensitive it never
// prints.
func withoutLongValues(d *hcl.Diagnostic) *hcl.Diagnostic {
	if d.Expression == nil || d.EvalContext == nil {
		return d
	}
	for _, tr := range d.Expression.Variables() {
		v, diags := tr.TraverseAbs(d.EvalContext)
		if diags.HasErrors() || !v.IsKnown() || v.IsNull() || v.IsMarked() || v.Type() != cty.String {
			continue
		}
		if len(v.AsString()) > maxShownValueBytes {
			c := *d
			c.Expression, c.EvalContext = nil, nil
			return &c
		}
	}
	return d
}

// maskDiagnostics returns diags with mask applied to every summary and
// detail. Diagnostics that mask leaves alone are kept.
func maskDiagnostics(diags hcl.Diagnostics, mask func(string) string) hcl.Diagnostics {
	out := make(hcl.Diagnostics, len(diags))
	for i, d := range diags {
		out[i] = d
		if d == nil {
			continue
		}
		if summary, detail := mask(d.Summary), mask(d.Detail); summary != d.Summary || detail != d.Detail {
			c := *d
			c.Summary, c.Detail = summary, detail
			out[i] = &c
		}
	}
	return out
}

// printableDiagnostic returns d with its summary, detail and file names
// made Printable: they may quote a value of the configuration (a path, a
// table) or a file's name, which a terminal would otherwise act on. files
// gets the file under its printable name too, so that the snippet is
// still found.
func printableDiagnostic(d *hcl.Diagnostic, files map[string]*hcl.File) (*hcl.Diagnostic, map[string]*hcl.File) {
	safe := func(s string) string {
		if strings.IndexFunc(s, isUnsafeRune) < 0 {
			return s
		}
		return Printable(s)
	}
	rng := func(r *hcl.Range) *hcl.Range {
		if r == nil || safe(r.Filename) == r.Filename {
			return r
		}
		c := *r
		c.Filename = safe(r.Filename)
		if f, ok := files[r.Filename]; ok {
			if _, taken := files[c.Filename]; !taken {
				files = maps.Clone(files)
				files[c.Filename] = f
			}
		}
		return &c
	}
	summary, detail := safe(d.Summary), safe(d.Detail)
	subject, context := rng(d.Subject), rng(d.Context)
	if summary == d.Summary && detail == d.Detail && subject == d.Subject && context == d.Context {
		return d, files
	}
	c := *d
	c.Summary, c.Detail, c.Subject, c.Context = summary, detail, subject, context
	return &c, files
}

// printableFiles returns files with the bytes of their sources that a
// terminal would act on — control characters but tab and line breaks,
// C1 controls, bidirectional overrides, bytes that are not UTF-8 — each
// replaced by '?', so that a snippet cannot carry escape sequences (a pull
// request's file into a CI log). Offsets stay: each byte becomes one '?'.
// A file with none is passed as it is.
func printableFiles(files map[string]*hcl.File) map[string]*hcl.File {
	var out map[string]*hcl.File
	for name, f := range files {
		if f == nil {
			continue
		}
		clean, changed := printableSource(f.Bytes)
		if !changed {
			continue
		}
		if out == nil {
			out = maps.Clone(files)
		}
		out[name] = &hcl.File{Body: f.Body, Bytes: clean, Nav: f.Nav}
	}
	if out == nil {
		return files
	}
	return out
}

// printableSource is printableFiles for one source.
func printableSource(b []byte) ([]byte, bool) {
	var out []byte
	for i := 0; i < len(b); {
		r, size := utf8.DecodeRune(b[i:])
		bad := (r == utf8.RuneError && size == 1) ||
			(r < 0x20 && r != '\t' && r != '\n' && r != '\r') || (0x7f <= r && r <= 0x9f) ||
			(r == '\r' && (i+1 >= len(b) || b[i+1] != '\n')) || // a lone CR rewrites the line
			(0x202a <= r && r <= 0x202e) || (0x2066 <= r && r <= 0x2069)
		if bad {
			if out == nil {
				out = append(make([]byte, 0, len(b)), b[:i]...)
			}
			for range size {
				out = append(out, '?')
			}
		} else if out != nil {
			out = append(out, b[i:i+size]...)
		}
		i += size
	}
	if out == nil {
		return b, false
	}
	return out, true
}
