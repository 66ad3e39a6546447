package views

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rowform/rowform/internal/history"
)

// HistoryDocument is `rowform history -json`: the runs, newest first.
type HistoryDocument struct {
	Runs []HistoryRun `json:"runs"`
}

// HistoryRun is one recorded apply of a sync in `rowform history -json`.
// ID is what `plan -undo=ID` takes.
type HistoryRun struct {
	ID          int64         `json:"id"`
	Sync        string        `json:"sync"`
	Table       string        `json:"table"`
	Destination string        `json:"destination"`
	StartedAt   time.Time     `json:"started_at"`
	FinishedAt  time.Time     `json:"finished_at"`
	Actor       string        `json:"actor"`
	Status      string        `json:"status"`
	Counts      HistoryCounts `json:"counts"`
	// UndoOf is the run this one undid; omitted when it is no undo.
	UndoOf int64 `json:"undo_of,omitempty"`
	// Error is why a failed run failed.
	Error string `json:"error,omitempty"`
}

// HistoryCounts are the rows a run wrote, and left out (reject).
type HistoryCounts struct {
	Insert int64 `json:"insert"`
	Update int64 `json:"update"`
	Delete int64 `json:"delete"`
	Reject int64 `json:"reject"`
}

// NewHistoryDocument is the JSON document of runs.
func NewHistoryDocument(runs []history.Run) HistoryDocument {
	doc := HistoryDocument{Runs: []HistoryRun{}}
	for _, r := range runs {
		doc.Runs = append(doc.Runs, HistoryRun{ID: r.ID, Sync: r.Sync, Table: r.Table, Destination: r.Destination,
			StartedAt: r.StartedAt.UTC(), FinishedAt: r.FinishedAt.UTC(), Actor: r.Actor, Status: r.Status,
			Counts: HistoryCounts{Insert: r.Inserted, Update: r.Updated, Delete: r.Deleted, Reject: r.Rejected},
			UndoOf: r.UndoOf, Error: r.Error})
	}
	return doc
}

// RenderHistoryJSON writes `rowform history -json`.
func RenderHistoryJSON(w io.Writer, runs []history.Run) error {
	b, err := json.MarshalIndent(NewHistoryDocument(runs), "", "  ")
	if err != nil {
		return err
	}
	_, err = w.Write(append(b, '\n'))
	return err
}

// RenderHistoryText writes the runs as a table, newest first: id, when
// (UTC), who, sync, the rows written (+ inserted, ~ updated, - deleted,
// ! left out), duration and status; a failed run's error under its line.
// Every string from the database is made printable.
func RenderHistoryText(w io.Writer, runs []history.Run, color bool) error {
	c := Colors{On: color}
	if len(runs) == 0 {
		_, err := fmt.Fprintln(w, "No runs recorded.")
		return err
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RUN\tSTARTED (UTC)\tBY\tSYNC\tCHANGES\tDURATION\tSTATUS")
	var errs []string
	for _, r := range runs {
		changes := fmt.Sprintf("+%d ~%d -%d", r.Inserted, r.Updated, r.Deleted)
		if r.Rejected > 0 {
			changes += fmt.Sprintf(" !%d", r.Rejected)
		}
		status := printable(r.Status)
		if r.Status == history.StatusFailed {
			status = c.Red(status)
		}
		if r.UndoOf != 0 {
			// A failed undo too: which run it tried to undo.
			status += fmt.Sprintf(" (undo of run %d)", r.UndoOf)
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.ID, r.StartedAt.UTC().Format("2006-01-02 15:04:05"),
			printable(r.Actor), printable(r.Sync), changes, r.FinishedAt.Sub(r.StartedAt).Round(time.Millisecond), status)
		if r.Status == history.StatusFailed && r.Error != "" {
			errs = append(errs, fmt.Sprintf("run %d: %s", r.ID, strings.ReplaceAll(printable(r.Error), "\n", " ")))
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if len(errs) > 0 {
		fmt.Fprintln(w)
		for _, e := range errs {
			fmt.Fprintln(w, c.Red("✗")+" "+e)
		}
	}
	return nil
}
