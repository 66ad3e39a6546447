package planner

import (
	"encoding/json"
	"time"
)

// FormatVersion is the version of the JSON plan format (docs/ci.md, JSON). Keys may be
// added within a version; none are removed or renamed.
const FormatVersion = "1"

// Plan is the result of planning: what each sync would change and everything
// that would stop it. One Plan feeds every renderer and the saved plan file,
// so they cannot disagree.
type Plan struct {
	// FormatVersion is the package's FormatVersion when the plan was made.
	FormatVersion string `json:"format_version"`
	// Applyable is true when no sync has an error finding.
	Applyable bool `json:"applyable"`
	// Syncs are the plans of the syncs, in the configuration's order.
	Syncs   []*SyncPlan `json:"syncs"`
	Summary Summary     `json:"summary"`
}

// Summary adds up a plan's syncs. Its fields are the plan summary line.
type Summary struct {
	// Syncs is the number of syncs; Insert, Update and Delete add up
	// their counts.
	Syncs  int   `json:"syncs"`
	Insert int64 `json:"insert"`
	Update int64 `json:"update"`
	Delete int64 `json:"delete"`
	// Reject adds up the syncs' counts.reject.
	Reject int64 `json:"reject"`
	// Errors and Warnings count the syncs' findings of each severity.
	Errors   int `json:"errors"`
	Warnings int `json:"warnings"`
}

// Range is a part of a configuration file, in the shape of a diagnostic's
// range: Line and Column count from 1, Byte from 0.
type Range struct {
	Filename string `json:"filename"`
	Start    Pos    `json:"start"`
	End      Pos    `json:"end"`
}

// Pos is a position in a configuration file.
type Pos struct {
	Line   int `json:"line"`
	Column int `json:"column"`
	Byte   int `json:"byte"`
}

// SyncPlan is the plan of one sync.
type SyncPlan struct {
	// Name is the sync's name; Behavior its behavior (hclconfig.Behavior:
	// "update_or_create", "update_only", "append" or "mirror").
	Name     string `json:"name"`
	Behavior string `json:"behavior"`
	// Source and Destination are addresses: "postgres.warehouse", "csv.seed".
	Source string `json:"source"`
	// Model is the dbt model the sync reads from its source, or "".
	Model       string `json:"model,omitempty"`
	Destination string `json:"destination"`
	// Table is "schema.table" as written in the catalog, unquoted.
	Table string   `json:"table"`
	Key   []string `json:"key"`
	// Range is where the sync is declared: its block's `sync "name"`
	// header, the file named as diagnostics name it (relative to the
	// directory rowform ran from), so that a review can point a finding
	// at the line. Nil when the sync was read from no file.
	Range    *Range    `json:"range,omitempty"`
	Counts   Counts    `json:"counts"`
	Findings []Finding `json:"findings"`
	// Samples holds up to -show-rows example rows per change type; nil
	// when none were asked for.
	Samples *Samples `json:"samples,omitempty"`
	// Diffed is true when the row diff ran to the end, so Counts are exact.
	// It is false when a finding stopped the sync before or during the diff.
	Diffed bool `json:"diffed"`
	// ChangeDigest is a hex SHA-256 identifying the change set (every
	// insert, update and delete with its values), whatever order the rows
	// were read in. apply recomputes it to prove a saved plan is not stale.
	// "" when not Diffed.
	ChangeDigest string `json:"change_digest,omitempty"`
	// RejectDigest identifies which of those changes the destination
	// would refuse (each one's kind and key), so that apply also proves
	// that it leaves out the rows the plan showed as rejected, and writes
	// the others. "" when no row is rejected.
	RejectDigest string `json:"reject_digest,omitempty"`
	// Strategy is how the row diff read the rows: "server_hash" (each
	// server sent bucket summaries or keys and row hashes, then only the
	// rows that differ) or "full_rows"; "" when not Diffed.
	// StrategyReason says why it was chosen or fell back, in words that do
	// not change from run to run; StrategyEstimate what diff_strategy =
	// "auto" estimated (times, rows, widths, link rates) and how many
	// buckets differed. apply reads the rows the same way.
	Strategy         string `json:"strategy,omitempty"`
	StrategyReason   string `json:"strategy_reason,omitempty"`
	StrategyEstimate string `json:"strategy_estimate,omitempty"`
	// DestinationRows is the number of destination rows read.
	DestinationRows int64 `json:"destination_rows"`
	// SourceRows is the number of source rows read.
	SourceRows int64 `json:"source_rows"`
	// Undo is set on the plan of an undo (plan -undo=RUN): the run it
	// undoes, whose recorded rows are its "source" (undo.go).
	Undo *UndoOf `json:"undo,omitempty"`
	// Duration is how long planning this sync took.
	Duration time.Duration `json:"-"`
	// written is what the sync writes into columns that foreign keys
	// reference, for the plans of the syncs that depend on it while
	// Compute plans them: nil when it writes none, when it cannot be
	// applied or no sync of the plan depends on it, and once Compute has
	// returned.
	written *writtenRows
	// target is the table the sync writes, as sharedTableFindings
	// compares it; nil when its structure failed the checks or the plan
	// stopped before the diff (StructureOnly).
	target *writeTarget
	// clock is what the source query reads of the clock (volatile.go).
	clock sourceClock
}

// SourceClock is Prepared.SourceClock for the sync the plan prepared.
func (s *SyncPlan) SourceClock() (calls string, inValues bool) { return s.clock.describe() }

// Counts are the row counts of the README's Behaviors.
type Counts struct {
	// Insert, Update and Delete count the changes that would be written.
	Insert int64 `json:"insert"`
	Update int64 `json:"update"`
	Delete int64 `json:"delete"`
	// Unchanged counts the source rows whose destination row has the same
	// values; Skipped the source rows the behavior leaves alone (a new row
	// under update_only, a changed one under append).
	Unchanged int64 `json:"unchanged"`
	Skipped   int64 `json:"skipped"`
	// Reject counts the source rows and deletes the destination would
	// refuse (see the rejected_rows finding). A rejected row counts here and
	// not in Insert, Update or Delete.
	Reject int64 `json:"reject"`
}

// Changes is the number of rows the sync would write.
func (c Counts) Changes() int64 { return c.Insert + c.Update + c.Delete }

// HasErrors reports whether any finding is an error.
func (s *SyncPlan) HasErrors() bool {
	for _, f := range s.Findings {
		if f.Severity == SeverityError {
			return true
		}
	}
	return false
}

// Severity of a finding: errors block apply, warnings do not.
type Severity string

// Finding severities.
const (
	SeverityError   Severity = "error"
	SeverityWarning Severity = "warning"
)

// Code names a kind of finding; the codes are public interface (the README's Commands lists them).
type Code string

// The finding codes the README's Commands lists.
const (
	CodeConnectionFailed        Code = "connection_failed"
	CodeSourceQueryFailed       Code = "source_query_failed"
	CodeMissingTable            Code = "missing_table"
	CodeMissingColumn           Code = "missing_column"
	CodeMissingUniqueConstraint Code = "missing_unique_constraint"
	CodeMissingPrivilege        Code = "missing_privilege"
	CodeNotNullUnmapped         Code = "not_null_unmapped"
	CodeTypeMismatch            Code = "type_mismatch"
	CodeNullSourceKey           Code = "null_source_key"
	CodeDuplicateSourceKey      Code = "duplicate_source_key"
	CodeGuardExceeded           Code = "guard_exceeded"
	CodeInsecureConnection      Code = "insecure_connection"
	// CodeRejectedRows: rows the destination would refuse, one finding per
	// reason (an error, or a warning with on_reject = "skip").
	CodeRejectedRows Code = "rejected_rows"
	// CodeCascade: planned deletes or updates cascade into another table.
	CodeCascade Code = "cascade"
	// CodeTriggers: user triggers on the table fire for the planned writes.
	CodeTriggers Code = "triggers"
	// CodeUncheckedRows: rows the plan could not check against one of the
	// destination's rules (a warning that names the rule).
	CodeUncheckedRows Code = "unchecked_rows"
)

// Finding is a problem found while planning a sync.
type Finding struct {
	// Severity is SeverityError (the sync cannot be applied) or
	// SeverityWarning.
	Severity Severity `json:"severity"`
	// Code is the finding's kind, one of the Code constants: stable, for
	// programs to match on.
	Code Code `json:"code"`
	// Summary says what is wrong, in one line.
	Summary string `json:"summary"`
	// Detail adds what the summary has no room for (the server's message,
	// example keys). Optional.
	Detail string `json:"detail,omitempty"`
	// Fix is SQL that, run by the table's owner, removes the finding.
	// Set for findings about the destination's structure or grants.
	Fix string `json:"fix,omitempty"`
	// Column and Constraint name what a rejected_rows finding is about
	// (either may be empty); Table is the other table of a cascade finding.
	Column     string `json:"column,omitempty"`
	Constraint string `json:"constraint,omitempty"`
	Table      string `json:"table,omitempty"`
	// Rows is how many rows the finding is about (rejected_rows, cascade,
	// null_source_key, duplicate_source_key: keys).
	Rows int64 `json:"rows,omitempty"`
	// Examples holds up to 5 keys of those rows, rendered as sample keys
	// are (`id=7`), sensitive values masked.
	Examples []string `json:"examples,omitempty"`
}

// Samples are example rows per change type, for -show-rows.
type Samples struct {
	// Insert, Update and Delete hold, of each kind of change, the rows
	// with the smallest keys, at most -show-rows of them, in key order.
	Insert []SampleRow `json:"insert,omitempty"`
	Update []SampleRow `json:"update,omitempty"`
	Delete []SampleRow `json:"delete,omitempty"`
}

// SampleRow is one example row. Values are rendered as text in PostgreSQL's
// output format; a sensitive column's value is "(sensitive)" and NULL is
// Null, "NULL" (a value whose text is "NULL" or "(sensitive)" comes quoted,
// as "\"NULL\"", so the two cannot be confused). In JSON a NULL is null
// (see samplejson.go).
type SampleRow struct {
	// Key holds the key column values, in Key order.
	Key []string `json:"key"`
	// Columns holds, for inserts and deletes, every mapped column; for
	// updates, only the columns that change.
	Columns []SampleColumn `json:"columns"`
}

// SampleColumn is one column of a sample row. Before is "" for inserts and
// After is "" for deletes; both are always present in JSON (null for a
// NULL), so an empty string value is not mistaken for a missing one.
type SampleColumn struct {
	Name   string `json:"name"`
	Before string `json:"before"`
	After  string `json:"after"`
}

// Sensitive is how a sensitive column's value is shown.
const Sensitive = "(sensitive)"

// finish computes Applyable and Summary from the syncs.
func (p *Plan) finish() {
	p.FormatVersion = FormatVersion
	p.Summary = Summary{Syncs: len(p.Syncs)}
	p.Applyable = true
	for _, s := range p.Syncs {
		p.Summary.Insert += s.Counts.Insert
		p.Summary.Update += s.Counts.Update
		p.Summary.Delete += s.Counts.Delete
		p.Summary.Reject += s.Counts.Reject
		for _, f := range s.Findings {
			switch f.Severity {
			case SeverityError:
				p.Summary.Errors++
				p.Applyable = false
			case SeverityWarning:
				p.Summary.Warnings++
			}
		}
	}
}

// HasChanges reports whether any sync would write a row.
func (p *Plan) HasChanges() bool {
	return p.Summary.Insert+p.Summary.Update+p.Summary.Delete > 0
}

// MarshalIndent renders the plan as its JSON document (docs/ci.md, JSON).
func (p *Plan) MarshalIndent() ([]byte, error) { return json.MarshalIndent(p, "", "  ") }

// RejectedRow is one source row or delete that the destination would refuse,
// as apply reports it with on_reject = "skip" (and -rejects-file writes it
// as one JSON line).
type RejectedRow struct {
	// Sync is the name of the sync the row belongs to.
	Sync string `json:"sync"`
	// Kind is "insert", "update" or "delete": what the row would have been.
	Kind string `json:"kind"`
	// Key maps each key column to its value, rendered as text (sensitive
	// values masked).
	Key map[string]string `json:"key"`
	// Line is the CSV line of the source row, 0 when unknown or not a CSV
	// source.
	Line int `json:"line,omitempty"`
	// Column and Constraint name what refuses the row; either may be "".
	Column     string `json:"column,omitempty"`
	Constraint string `json:"constraint,omitempty"`
	// Reason says why, in words ("value too long for type character varying(20)").
	Reason string `json:"reason"`
}
