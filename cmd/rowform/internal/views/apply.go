package views

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/plural"
	"github.com/rowform/rowform/planner"
)

// ApplyDocument is `rowform apply -json`: every document apply prints, a
// result or a refusal, has this one type.
//
//   - A result (NewApplyDocument): format_version, applied (no sync
//     failed), syncs (always an array) and summary; plan only when a sync
//     was refused for its plan's errors while others applied (the
//     unattended apply).
//   - A refusal before anything was written (ApplyRefusal): applied false,
//     error, syncs an empty array (or, from apply -auto-approve, the syncs
//     skipped because a sync they depend on was refused, with status
//     "skipped"); plan when the plan's errors are the reason.
//   - A configuration that does not load (ApplyInvalidConfiguration): a
//     refusal whose diagnostics are the configuration's problems, in the
//     shape of validate -json's.
type ApplyDocument struct {
	FormatVersion string      `json:"format_version"`
	Applied       bool        `json:"applied"`
	Error         string      `json:"error,omitempty"`
	Syncs         []ApplySync `json:"syncs"`
	// Summary is nil in a refusal.
	Summary *ApplySummary `json:"summary,omitempty"`
	Plan    *planner.Plan `json:"plan,omitempty"`
	// Diagnostics is set only when the configuration did not load.
	Diagnostics []Diagnostic `json:"diagnostics,omitempty"`
}

// ApplySync is one sync's outcome in ApplyDocument.
type ApplySync struct {
	Name   string `json:"name"`
	Table  string `json:"table"`
	Status string `json:"status"`
	// Applied are the counts of rows written, and in "reject" of rows left
	// out.
	Applied planner.Counts `json:"applied"`
	// Rejected lists the rows left out (on_reject = "skip"); always an
	// array, and every row's "key" an object. WriteApplyDocument streams
	// it from where the rows are kept.
	Rejected planner.RejectedRows `json:"rejected"`
	// Rewritten lists the columns a trigger stored other values in than
	// apply wrote; omitted when none.
	Rewritten      []RewrittenColumn `json:"rewritten,omitempty"`
	Error          string            `json:"error,omitempty"`
	OutcomeUnknown bool              `json:"outcome_unknown,omitempty"`
}

// RewrittenColumn is one executor.Rewritten in ApplyDocument.
type RewrittenColumn struct {
	Column string `json:"column"`
	Rows   int64  `json:"rows"`
}

// ApplySummary totals ApplyDocument's syncs.
type ApplySummary struct {
	Syncs  int   `json:"syncs"`
	Failed int   `json:"failed"`
	Insert int64 `json:"insert"`
	Update int64 `json:"update"`
	Delete int64 `json:"delete"`
	Reject int64 `json:"reject"`
}

// NewApplyDocument is the result document of res, an apply of p. With no
// sync result (nothing to apply) every sync of p is listed as
// "no_changes", with the plan's unchanged and skipped counts.
func NewApplyDocument(res *executor.Result, p *planner.Plan) *ApplyDocument {
	doc := &ApplyDocument{FormatVersion: planner.FormatVersion, Applied: !res.Failed(), Syncs: []ApplySync{}, Summary: &ApplySummary{}}
	if len(res.Syncs) == 0 {
		for _, sp := range p.Syncs {
			doc.Syncs = append(doc.Syncs, ApplySync{Name: sp.Name, Table: sp.Table, Status: string(executor.StatusNoChanges),
				Applied: planner.Counts{Unchanged: sp.Counts.Unchanged, Skipped: sp.Counts.Skipped}})
		}
	}
	for _, r := range res.Syncs {
		sr := ApplySync{Name: r.Name, Table: r.Table, Status: string(r.Status), Applied: r.Applied, OutcomeUnknown: r.OutcomeUnknown,
			Rejected: r.Rejected}
		for _, c := range r.Rewritten {
			sr.Rewritten = append(sr.Rewritten, RewrittenColumn{Column: c.Column, Rows: c.Rows})
		}
		if r.Err != nil {
			sr.Error = r.Err.Error()
			doc.Summary.Failed++
		}
		doc.Summary.Insert += r.Applied.Insert
		doc.Summary.Update += r.Applied.Update
		doc.Summary.Delete += r.Applied.Delete
		doc.Summary.Reject += r.Applied.Reject
		doc.Syncs = append(doc.Syncs, sr)
	}
	doc.Summary.Syncs = len(doc.Syncs)
	return doc
}

// WriteApplyDocument writes doc as apply -json prints it: byte for byte
// what a json.Encoder with a two-space indent writes, but with each sync's
// rejected rows read one at a time from where they are kept (on disk past
// a few of them), so that the document's size is not held in memory.
func WriteApplyDocument(w io.Writer, doc *ApplyDocument) error {
	// The document without rows, in which each sync's rows then take the
	// place of its empty array. The first len(doc.Syncs) empty arrays named
	// "rejected" are the syncs': the fields before each (names, statuses,
	// counts, an error) hold no member of that name, and no text of a JSON
	// string spells one, whose quotes would be escaped.
	bare := *doc
	bare.Syncs = make([]ApplySync, len(doc.Syncs))
	for i, s := range doc.Syncs {
		s.Rejected = planner.RejectedRows{}
		bare.Syncs[i] = s
	}
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	if err := enc.Encode(&bare); err != nil {
		return err
	}
	const (
		empty    = `"rejected": []`
		rowStart = "\n        " // a row of syncs[i].rejected, as indented
		rowsEnd  = "\n      "
	)
	rest := buf.Bytes()
	bw := bufio.NewWriterSize(w, 64<<10)
	for _, s := range doc.Syncs {
		at := bytes.Index(rest, []byte(empty))
		if at < 0 {
			return errors.New("internal error: the apply document has no rejected rows of a sync")
		}
		bw.Write(rest[:at+len(empty)-1])
		n := 0
		err := s.Rejected.Each(func(row *planner.RejectedRow) error {
			if n++; n > 1 {
				bw.WriteByte(',')
			}
			b, err := json.MarshalIndent(row, rowStart[1:], "  ")
			bw.WriteString(rowStart)
			bw.Write(b)
			return err
		})
		if err != nil {
			return err
		}
		if n > 0 {
			bw.WriteString(rowsEnd)
		}
		bw.WriteByte(']')
		rest = rest[at+len(empty):]
	}
	bw.Write(rest)
	return bw.Flush()
}

// ApplyRefusal is the document of an apply that wrote nothing because of
// err; p, when not nil, is the plan whose errors refused it.
func ApplyRefusal(err error, p *planner.Plan) *ApplyDocument {
	return &ApplyDocument{FormatVersion: planner.FormatVersion, Applied: false, Error: err.Error(), Syncs: []ApplySync{}, Plan: p}
}

// ApplyInvalidConfiguration is the refusal of an apply whose configuration
// did not load: error counts the problems ("the configuration could not
// be loaded: 2 errors"), and diagnostics lists them, never empty.
func ApplyInvalidConfiguration(diags hcl.Diagnostics) *ApplyDocument {
	doc := ApplyRefusal(fmt.Errorf("the configuration could not be loaded: %s", CountSummary(diags)), nil)
	doc.Diagnostics = NewDiagnostics(diags)
	return doc
}

// MaxRejectedShown is how many rejected rows apply's text output lists per
// sync; -rejects-file has them all.
const MaxRejectedShown = 10

// ApplyTextOptions changes how RenderApplyText writes a result.
type ApplyTextOptions struct {
	// RejectsFile is -rejects-file, named where rows are cut off.
	RejectsFile string
	// Color adds ANSI colors to the marks and the closing line.
	Color bool
}

// RenderApplyText writes res, an apply of p (which gives each sync's key
// order), for a person: a blank line, one line per sync
//
//	✓ sync "users": 8 inserted, 0 updated, 0 deleted (1.2s)
//	✗ sync "orders" failed: the error
//
// with, under an applied sync, up to MaxRejectedShown of the rows it left
// out and the columns a trigger rewrote, and under a failed one whether its
// outcome is unknown; then a blank line and "Apply complete: ..." or
// "Apply failed: ...". Every server-supplied text (errors, keys, reasons,
// columns) is printed with control characters escaped.
func RenderApplyText(w io.Writer, res *executor.Result, p *planner.Plan, opts ApplyTextOptions) error {
	c := Colors{On: opts.Color}
	ew := &errWriter{w: w}
	fmt.Fprintln(ew)
	var total planner.Counts
	applied, failed := 0, 0
	for _, r := range res.Syncs {
		switch r.Status {
		case executor.StatusApplied, executor.StatusNoChanges:
			applied++
			total.Insert += r.Applied.Insert
			total.Update += r.Applied.Update
			total.Delete += r.Applied.Delete
			total.Reject += r.Applied.Reject
			fmt.Fprintf(ew, "%s sync %q: %s (%s)\n", c.Green("✓"), r.Name,
				AppliedCounts(r.Applied), r.Duration.Round(time.Millisecond))
			if err := writeRejectedRows(ew, r, p, opts.RejectsFile, c); err != nil && ew.err == nil {
				ew.err = err
			}
			for _, rw := range r.Rewritten {
				fmt.Fprintf(ew, "    %s %s\n", c.Yellow("!"), RewrittenText(rw.Column, rw.Rows))
			}
		default:
			failed++
			fmt.Fprintf(ew, "%s sync %q %s: %s\n", c.Red("✗"), r.Name, r.Status, printable(fmt.Sprint(r.Err)))
			if r.OutcomeUnknown {
				fmt.Fprintf(ew, "    the outcome of this sync is unknown: run 'rowform plan' to see whether it was applied\n")
			}
		}
	}
	fmt.Fprintln(ew)
	switch {
	case failed == 0:
		fmt.Fprintln(ew, c.BoldGreen(fmt.Sprintf("Apply complete: %s in %s.", AppliedCounts(total), plural.Count(applied, "sync"))))
	case applied == 0:
		fmt.Fprintln(ew, c.BoldRed(fmt.Sprintf("Apply failed: %s did not apply; nothing was written.", plural.Count(failed, "sync"))))
	default:
		fmt.Fprintln(ew, c.BoldRed(fmt.Sprintf("Apply failed: %s did not apply; %s applied (%s) and stay%s committed.",
			plural.Count(failed, "sync"), plural.Count(applied, "sync"), AppliedCounts(total), plural.VerbS(applied))))
	}
	return ew.err
}

// AppliedCounts is "8 inserted, 0 updated, 0 deleted", with ", 3 rejected"
// only when rows were left out, so that output without rejected rows keeps
// its form.
func AppliedCounts(c planner.Counts) string {
	s := fmt.Sprintf("%d inserted, %d updated, %d deleted", c.Insert, c.Update, c.Delete)
	if c.Reject > 0 {
		s += fmt.Sprintf(", %d rejected", c.Reject)
	}
	return s
}

// writeRejectedRows lists up to MaxRejectedShown of the rows r left out,
// under its result line; it fails only when the rows cannot be read.
func writeRejectedRows(w io.Writer, r *executor.SyncResult, p *planner.Plan, rejectsFile string, c Colors) error {
	if r.Rejected.Len() == 0 {
		return nil
	}
	var key []string
	for _, sp := range p.Syncs {
		if sp != nil && sp.Name == r.Name {
			key = sp.Key
		}
	}
	fmt.Fprintf(w, "    %s %d rejected:\n", c.Red("!"), r.Rejected.Len())
	shown := 0
	err := r.Rejected.Each(func(row *planner.RejectedRow) error {
		if shown == MaxRejectedShown {
			return errShownAll
		}
		shown++
		fmt.Fprintf(w, "        %s\n", RejectedRowText(*row, key))
		return nil
	})
	if err != nil && !errors.Is(err, errShownAll) {
		return err
	}
	if more := r.Rejected.Len() - MaxRejectedShown; more > 0 {
		where := "-rejects-file=FILE writes them all"
		if rejectsFile != "" {
			where = "all in " + oneLine(rejectsFile)
		}
		fmt.Fprintf(w, "        ... and %d more (%s)\n", more, where)
	}
	return nil
}

// errShownAll ends the reading of the rows writeRejectedRows lists.
var errShownAll = errors.New("shown all")

// errWriter keeps the first error of a series of writes, so that a
// renderer can write freely and report it once.
type errWriter struct {
	w   io.Writer
	err error
}

func (e *errWriter) Write(b []byte) (int, error) {
	if e.err != nil {
		return len(b), nil
	}
	n, err := e.w.Write(b)
	e.err = err
	return n, err
}
