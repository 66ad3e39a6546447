package planner

import (
	"fmt"
	"slices"
	"strings"
	"sync/atomic"

	"github.com/hashicorp/hcl/v2"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/redact"
)

// The pieces of a sync's plan that plan (planSync) and the unattended apply
// (executor.PlanAndApply, which plans each sync inside its write
// transaction) build it from, so that the two make the same plan of the
// same rows.

// NewSyncPlan returns the plan of s before anything was checked: its
// header (name, behavior, addresses, table, key), no finding, not diffed.
func NewSyncPlan(s *hclconfig.Sync) *SyncPlan {
	return &SyncPlan{
		Name: s.Name, Behavior: string(s.Behavior), Source: s.Source.Address(), Model: s.Model,
		Destination: s.Destination.Address(), Table: s.Table.String(), Key: s.Key,
		Range: declRange(s.DeclRange), Findings: []Finding{},
	}
}

// Mismatch says what in sp, a sync's plan read from a plan file, is not
// what sync s of the configuration says — its behavior, source, table,
// destination or key — or "" when it all is. Apply writes what the
// configuration says: a plan file edited to say something else would show
// the reviewer another table than the one written, so apply refuses it.
// An undo plan's behavior and source are the undo's, and its key the
// run's, which apply reads from the run again.
func (sp *SyncPlan) Mismatch(s *hclconfig.Sync) string {
	want := NewSyncPlan(s)
	type field struct{ name, got, want string }
	fields := []field{
		{"table", sp.Table, want.Table},
		{"destination", sp.Destination, want.Destination},
	}
	if sp.Undo == nil {
		fields = append(fields,
			field{"behavior", sp.Behavior, want.Behavior},
			field{"source", sp.Source, want.Source},
			field{"model", sp.Model, want.Model})
		if !slices.Equal(sp.Key, want.Key) {
			return fmt.Sprintf("its key is (%s), where the configuration's is (%s)", strings.Join(sp.Key, ", "), strings.Join(want.Key, ", "))
		}
	} else if sp.Behavior != BehaviorUndo || sp.Source != fmt.Sprintf("run %d", sp.Undo.Run) {
		return fmt.Sprintf("its undo of run %d says behavior %q and source %q", sp.Undo.Run, sp.Behavior, sp.Source)
	}
	for _, f := range fields {
		if f.got != f.want {
			return fmt.Sprintf("its %s is %q, where the configuration's is %q", f.name, f.got, f.want)
		}
	}
	return ""
}

// declRange is r as a plan's Range, nil for a sync read from no file.
func declRange(r hcl.Range) *Range {
	if r.Filename == "" {
		return nil
	}
	pos := func(p hcl.Pos) Pos { return Pos{Line: p.Line, Column: p.Column, Byte: p.Byte} }
	return &Range{Filename: r.Filename, Start: pos(r.Start), End: pos(r.End)}
}

// AddFinding appends f to the sync's findings.
func (sp *SyncPlan) AddFinding(f Finding) { sp.Findings = append(sp.Findings, f) }

// CheckEncryption adds the insecure_connection warning when conn, a
// connection to srv, is unencrypted and srv is not on this host.
func (sp *SyncPlan) CheckEncryption(conn *pgx.Conn, srv *hclconfig.Server) {
	checkEncryption(conn, srv, sp.AddFinding)
}

// RecordDiff completes the plan of sync s with what its diff returned:
// the diff's findings, then a finding for err (a diff that could not
// finish), or else the checks' findings (rejected_rows, cascade,
// triggers), the counts, rows read, change digest and strategy, the samples (nil
// when none were asked for) and the findings of the sync's guard. Diffed
// is set only when the diff ran to the end.
func (sp *SyncPlan) RecordDiff(s *hclconfig.Sync, res *DiffResult, findings []Finding, err error, samples *Samples) {
	for _, f := range findings {
		sp.AddFinding(f)
	}
	if err != nil {
		sp.AddFinding(diffErrorFinding(s, err))
		return
	}
	if res == nil {
		return
	}
	for _, f := range res.CheckFindings {
		sp.AddFinding(f)
	}
	sp.Diffed = true
	sp.Counts = res.Counts
	sp.SourceRows, sp.DestinationRows = res.SourceRows, res.DestinationRows
	sp.ChangeDigest, sp.RejectDigest = res.Digest, res.RejectDigest
	sp.Strategy, sp.StrategyReason, sp.StrategyEstimate = res.Strategy, res.StrategyReason, res.StrategyEstimate
	sp.Samples = samples
	for _, f := range guardFindings(s, res) {
		sp.AddFinding(f)
	}
}

// SampleSink is the ChangeSink that keeps a plan's example rows
// (-show-rows): of each kind of change, the n with the smallest keys,
// whatever order the diff finds them in.
type SampleSink struct{ s *sampleSink }

// NewSampleSink returns a SampleSink keeping n rows per kind of change of
// p's diff; with n <= 0 it keeps none. A value it cuts is not cut inside
// one of secrets (Secrets of the configuration; nil: none).
func (p *Prepared) NewSampleSink(n int, secrets *redact.Redactor) *SampleSink {
	return &SampleSink{newSampleSink(p.layout, n, secrets)}
}

// Change implements ChangeSink.
func (s *SampleSink) Change(kind ChangeKind, src, dst *Row, changed []int) error {
	return s.s.Change(kind, src, dst, changed)
}

// Samples returns the rows kept, or nil when the sink keeps none (n <= 0),
// as SyncPlan.Samples holds them.
func (s *SampleSink) Samples() *Samples {
	if s.s.n <= 0 {
		return nil
	}
	return s.s.samples
}

// diffsStarted counts the row diffs this process started.
var diffsStarted atomic.Int64

// DiffsStarted is the number of row diffs (Prepared.Diff and
// DiffIntoEmpty) this process has started, by plan and apply alike: tests
// read it to see how many times an apply diffed.
func DiffsStarted() int64 { return diffsStarted.Load() }

// serverHashDiffs counts the server-hash diffs this process started.
var serverHashDiffs atomic.Int64

// ServerHashDiffsStarted is the number of diffs that started reading the
// rows as server hashes (diff_strategy server_hash, by plan and apply
// alike): tests read it to see which strategy an apply used.
func ServerHashDiffsStarted() int64 { return serverHashDiffs.Load() }
