package planner

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/catalog"
	"github.com/rowform/rowform/internal/plural"
)

// The destination's rules, checked before anything is written.
//
// The row diff says what a sync would change; the checker says which of
// those changes the destination would refuse. It sits between the diff and
// the sync's sink: every change is checked in Go for what the catalog alone
// decides (NOT NULL, length and precision limits), kept in a changeSpool,
// and, once the diff has ended, checked by the destination server itself
// for what only it can decide (CHECK constraints, other unique keys,
// foreign keys, values of types that are not built in). Then the changes
// that pass are handed on to the sink, so that samples, staging and the
// writes only ever see rows the destination accepts.
//
// Plan and apply run the same checks on the same rows, so a plan's
// counts.reject is what apply leaves out.

// rejectReason is one reason the destination refuses a row. Reason is
// shown to users and never holds a value.
type rejectReason struct {
	Column     string
	Constraint string
	// Table is the other table of a foreign key, when one refuses the row.
	Table  string
	Reason string
	// Fix is SQL that, run by the table's owner, makes the destination
	// accept such rows (optional).
	Fix string
}

// described is the reason as a finding says it, for another row's
// reason that names it: `column "balance": violates ..., constraint c`.
func (r rejectReason) described() string {
	what := r.Reason
	if r.Column != "" {
		what = fmt.Sprintf("column %q: %s", r.Column, r.Reason)
	}
	if r.Constraint != "" {
		what += ", constraint " + r.Constraint
	}
	return what
}

// rejectTally counts the rows refused for one reason.
type rejectTally struct {
	rows     int64
	examples []string
}

// checker checks the changes of one diff against the destination's rules.
type checker struct {
	p    *Prepared
	l    *layout
	down ChangeSink
	// stream: changes go on to down at once; a rejection is an error (the
	// initial load, whose plan had none). pass: the changes the checks in
	// Go accept go on to down at once, the others are left out, as finish
	// would (passThrough says when nothing else can refuse one). Otherwise
	// they wait in spool.
	stream bool
	pass   bool
	// passed counts the changes pass handed on.
	passed int64
	spool  *changeSpool
	// rejected holds the sequence numbers of the rejected changes; refused
	// keeps the rest of what is known of each (refusals), in memory for
	// the counts and the digest, on disk for the list of rows.
	rejected seqSet
	refused  refusals
	// reasonOf maps each rejected insert or update to its first reason
	// (an index of reasons), kept only when a row that references it must
	// say why it is refused (namesReasons), and for the changes rejected
	// without their rows (rejectLater): nil otherwise, so that a sync
	// rejecting millions of rows keeps no entry for them.
	reasonOf map[int64]int
	reasons  []rejectReason
	reasonIx map[rejectReason]int
	tallies  []rejectTally
	// later holds the changes rejectLater rejected that describeLater has
	// not read back yet.
	later   seqSet
	seq     int64
	changed []int
	// notes are findings about the writes that refuse nothing (cascade,
	// triggers).
	notes []Finding
	// overrides, adj and dup* are the rematch's (rematch.go): changes it
	// replaced, what it changed of the diff's counts, and the keys it found
	// repeated.
	overrides   map[int64]override
	adj         Counts
	dupKeys     int64
	dupExamples []string
	// written records hashes of the accepted changes' referenced values,
	// and of the refused inserts', for the syncs planned with this one
	// that depend on it (crosssync.go); nil when none does.
	written *writtenRows
}

func newChecker(p *Prepared, down ChangeSink, stream bool) *checker {
	c := &checker{p: p, l: p.layout, down: down, stream: stream,
		reasonIx: map[rejectReason]int{}, overrides: map[int64]override{}}
	switch {
	case stream:
	case passThrough(p):
		c.pass = true
	default:
		c.spool = newChangeSpool(0)
		if p.recordWritten {
			c.written = newWrittenRows(p)
		}
		if c.written != nil || selfReferencing(p) {
			c.reasonOf = map[int64]int{}
		}
	}
	return c
}

// selfReferencing reports whether p's table has a foreign key to itself,
// whose rows may reference rows the sync refuses (parentsWritten).
func selfReferencing(p *Prepared) bool {
	return p.rules != nil && slices.ContainsFunc(p.rules.ForeignKeys, func(fk catalog.ForeignKey) bool {
		return p.isTable(fk.ParentSchema, fk.ParentName)
	})
}

// isTable reports whether schema.name is the sync's destination table.
func (p *Prepared) isTable(schema, name string) bool {
	return schema == p.Table.Schema && name == p.Table.Name
}

// passThrough reports whether the checks in Go are all a sync's changes
// get: the destination server checks none (NeedsServerChecks), no key
// needs the rematch under its collation, and the table has no trigger and
// no foreign key referencing it, which need the count of the changes that
// go ahead (and a referenced table's accepted changes are recorded for the
// syncs that depend on this one: crosssync.go). Its changes then need not be kept until the
// diff ends and be read back: each goes on to the sink as soon as the
// checks in Go have passed it, in the order the spool would have replayed
// them, so that a change set of any size is written once, not three times
// (spool, replay, sink). A hash diff emits no change before it has read
// both sides to their end (it holds the deletes of a mirror's NULL-keyed
// destination rows until then, hashdiff.go), so the diff's restart on a
// source value that does not convert (which reads the source again) never
// follows a change handed on.
func passThrough(p *Prepared) bool {
	if p.NeedsServerChecks() || p.layout.rematch {
		return false
	}
	return p.rules == nil || (len(p.rules.Triggers) == 0 && len(p.rules.Referencing) == 0)
}

// Change checks one change locally and keeps it for the server's checks.
func (c *checker) Change(kind ChangeKind, src, dst *Row, changed []int) error {
	seq := c.seq
	c.seq++
	row := src
	if kind == ChangeDelete {
		row = dst
	}
	switch m := c.l.mark(src); {
	case kind == changeUnmatched:
	case m != nil:
		line, col, reason := decodeMark(m)
		c.rejectAt(seq, kind, src, rejectReason{Column: c.l.Cols[col].Dest, Reason: reason}, line)
	case kind != ChangeDelete && !c.l.rematch:
		// (After a rematch, which may turn an insert into an update.)
		c.localChecks(seq, kind, src, changed)
	}
	if c.pass {
		if c.rejected.has(seq) || c.down == nil {
			return nil
		}
		c.passed++
		if kind == ChangeUpdate {
			c.changed = c.l.changedColumns(src, dst, c.changed[:0])
			changed = c.changed
		}
		return c.down.Change(kind, src, dst, changed)
	}
	if c.stream {
		if c.rejected.has(seq) {
			return fmt.Errorf("%w: the destination would refuse the row %s (%s), which the plan did not show", ErrRefusedSincePlan, c.l.renderKey(row), c.reasons[c.refused.lastReason].Reason)
		}
		if c.down != nil {
			return c.down.Change(kind, src, dst, changed)
		}
		return nil
	}
	return c.spool.add(kind, src, dst)
}

// noRestart is err as the diff returns it: a source error after the
// checker handed a change on (pass) must not make the diff restart,
// reading the source again, since the sink already has changes of the
// first reading; it stays a source error, no longer seen as a value that
// did not convert. (A hash diff hands nothing on before it has read both
// sides to their end, so after a hash diff this is a guard, not a path.)
func (c *checker) noRestart(err error) error {
	var se *sourceError
	if c.passed > 0 && errors.As(err, &se) {
		return &sourceError{finalError{se.err}}
	}
	return err
}

// finalError is an error with the message of err that errors.As does not
// look into.
type finalError struct{ err error }

func (e finalError) Error() string { return e.err.Error() }

// ErrRefusedSincePlan marks a row refused while an initial load streams
// (DiffIntoEmpty), whose plan refused none: the source changed since.
var ErrRefusedSincePlan = errors.New("the source changed since the plan")

// NeedsServerChecks reports whether the destination server must check the
// sync's changes (DiffIntoEmpty cannot: it streams). Syncs without such
// checks are checked in Go as the rows pass.
func (p *Prepared) NeedsServerChecks() bool {
	for _, c := range p.layout.Cols {
		if c.AsText {
			return true
		}
	}
	r := p.rules
	if r == nil {
		return false
	}
	if len(r.Checks) > 0 || len(r.Exclusions) > 0 || len(r.ForeignKeys) > 0 || len(r.Referencing) > 0 {
		return true
	}
	for _, u := range r.Uniques {
		if !p.isKeyIndex(u) {
			return true
		}
	}
	return false
}

// isKeyIndex reports whether u is the unique index on exactly the sync's
// key columns, which the diff itself keeps unique.
func (p *Prepared) isKeyIndex(u catalog.UniqueIndex) bool {
	if u.Columns == nil || u.Predicate != "" || len(u.Columns) != len(p.Sync.Key) {
		return false
	}
	for _, c := range u.Columns {
		if !slices.Contains(p.Sync.Key, c) {
			return false
		}
	}
	return true
}

// reject records that change seq (of kind, with the key of row) is refused
// for r. A change refused for several reasons counts once in the sync's
// counts and once in each reason's finding.
func (c *checker) reject(seq int64, kind ChangeKind, row *Row, r rejectReason) {
	c.rejectAt(seq, kind, row, r, 0)
}

// rejectAt is reject for a row read from line of a CSV file (0: no line),
// which its example names.
func (c *checker) rejectAt(seq int64, kind ChangeKind, row *Row, r rejectReason, line int) {
	ix := c.reasonIndex(r)
	c.tallies[ix].rows++
	c.example(ix, row, line)
	if c.rejected.add(seq) {
		// A change's line comes with its first reason, a value that does
		// not convert (Change), if at all.
		c.refused.add(c.l, seq, kind, row, ix, line)
		if c.reasonOf != nil && kind != ChangeDelete {
			c.reasonOf[seq] = ix
		}
	}
}

// reasonIndex is r's index in reasons, where it is added the first time.
func (c *checker) reasonIndex(r rejectReason) int {
	ix, ok := c.reasonIx[r]
	if !ok {
		ix = len(c.reasons)
		c.reasons = append(c.reasons, r)
		c.tallies = append(c.tallies, rejectTally{})
		c.reasonIx[r] = ix
	}
	return ix
}

// example adds the key of row (read from line of a CSV file, 0: none) to
// the examples of the reason ix.
func (c *checker) example(ix int, row *Row, line int) {
	t := &c.tallies[ix]
	ex := c.l.renderKey(row)
	if line > 0 {
		ex += fmt.Sprintf(" (line %d)", line)
	}
	t.examples = addExample(t.examples, ex)
}

// rejectLater is reject for an insert or update not rejected yet whose row
// is not at hand (a check that keeps sequence numbers only): the change is
// rejected at once (rejected, reasonOf, the reason's row count), so that
// the checks see it refused, and what needs its row (the reason's example,
// the change's refusal: the counts by kind, the digest, the list of rows)
// waits for describeLater, which reads the rows of all such changes back
// from the spool in one pass. Until then the findings' examples,
// rejectedRows, rejectDigest and adjust miss them. A change rejected
// already counts in r's rows, but is not among its examples.
func (c *checker) rejectLater(seq int64, r rejectReason) {
	ix := c.reasonIndex(r)
	c.tallies[ix].rows++
	if !c.rejected.add(seq) {
		return
	}
	if c.reasonOf == nil {
		c.reasonOf = map[int64]int{}
	}
	c.reasonOf[seq] = ix
	c.later.add(seq)
}

// describeLater completes the rejections of rejectLater: it reads the
// changes it rejected from the spool (one pass, when there are any) for
// their examples and refusals, as reject would have recorded them.
func (c *checker) describeLater() error {
	if c.later.len() == 0 {
		return nil
	}
	err := c.each(func(seq int64, kind ChangeKind, src, dst *Row) error {
		if !c.later.has(seq) {
			return nil
		}
		row := src
		if kind == ChangeDelete {
			row = dst
		}
		ix := c.reasonOf[seq]
		c.example(ix, row, 0)
		c.refused.add(c.l, seq, kind, row, ix, 0)
		return nil
	})
	c.later = seqSet{}
	return err
}

// finish runs the server's checks on the kept changes, then hands the
// changes that pass on to the sink. conn is the destination connection the
// diff read in (free again now).
func (c *checker) finish(ctx context.Context, conn *pgx.Conn) error {
	if c.stream || c.pass {
		return nil
	}
	defer c.spool.close()
	if c.l.rematch {
		if err := c.rematch(ctx, conn); err != nil {
			return err
		}
		err := c.each(func(seq int64, kind ChangeKind, src, dst *Row) error {
			if c.rejected.has(seq) || kind == ChangeDelete {
				return nil
			}
			var changed []int
			if kind == ChangeUpdate {
				changed = c.l.changedColumns(src, dst, nil)
			}
			c.localChecks(seq, kind, src, changed)
			return nil
		})
		if err != nil {
			return err
		}
	}
	if err := c.serverChecks(ctx, conn); err != nil {
		return err
	}
	if err := c.written.start(ctx, conn); err != nil {
		return err
	}
	err := c.each(func(seq int64, kind ChangeKind, src, dst *Row) error {
		if c.rejected.has(seq) {
			if ix, ok := c.reasonOf[seq]; ok {
				return c.written.recordRefused(kind, src, c.reasons[ix])
			}
			return nil
		}
		if err := c.written.record(kind, src, dst); err != nil {
			return err
		}
		if c.down == nil {
			return nil
		}
		var changed []int
		if kind == ChangeUpdate {
			c.changed = c.l.changedColumns(src, dst, c.changed[:0])
			changed = c.changed
		}
		return c.down.Change(kind, src, dst, changed)
	})
	if err != nil {
		return err
	}
	return c.written.end()
}

// adjust applies the rematch's changes to counts and moves the rejected
// changes into Reject.
func (c *checker) adjust(counts *Counts) (rejectedDeletes int64) {
	counts.Insert += c.adj.Insert
	counts.Update += c.adj.Update
	counts.Delete += c.adj.Delete
	counts.Unchanged += c.adj.Unchanged
	counts.Skipped += c.adj.Skipped
	r := &c.refused
	counts.Insert -= r.kinds[ChangeInsert]
	counts.Update -= r.kinds[ChangeUpdate]
	counts.Delete -= r.kinds[ChangeDelete]
	counts.Reject += c.rejected.len()
	return r.kinds[ChangeDelete]
}

// findings returns one rejected_rows finding per reason, in a stable order,
// then the notes.
func (c *checker) findings(onReject hclconfig.OnReject) []Finding {
	sev := SeverityError
	if onReject == hclconfig.RejectSkip {
		sev = SeverityWarning
	}
	var out []Finding
	for i, r := range c.reasons {
		t := c.tallies[i]
		what := r.Reason
		if r.Column != "" {
			what = fmt.Sprintf("column %q: %s", r.Column, r.Reason)
		}
		f := Finding{Severity: sev, Code: CodeRejectedRows,
			Summary:    fmt.Sprintf("%d row%s would be refused by %s: %s", t.rows, plural.S(t.rows), c.p.Sync.Table, what),
			Column:     r.Column,
			Constraint: r.Constraint,
			Table:      r.Table,
			Rows:       t.rows,
			Examples:   append([]string(nil), t.examples...),
			Fix:        r.Fix,
		}
		if r.Constraint != "" {
			f.Summary += fmt.Sprintf(" (constraint %s)", r.Constraint)
		}
		switch dep, ok := c.p.blocked[r.Table]; {
		case ok && r.Table != "":
			f.Detail = fmt.Sprintf("The sync %q, which this one depends on and which writes %s, cannot be applied as planned (its plan has errors): "+
				"the rows it would write there are not counted, so rows that reference them are refused here. Fix that sync first.", dep, r.Table)
		case onReject == hclconfig.RejectSkip:
			f.Detail = "on_reject = \"skip\": apply leaves these rows out and reports each one."
		default:
			f.Detail = "Fix the source rows (or the destination's rules), or set on_reject = \"skip\" to apply every other row."
		}
		if c.p.Sync.Source.DuckDB != nil && strings.HasPrefix(r.Reason, "malformed array literal") {
			f.Detail += (" A duckdb source sends a list as JSON ([1, 2]); a PostgreSQL array column reads {1,2}: " +
				"select '{' || array_to_string(the_list, ',') || '}' in the query, or write the list into a json or jsonb column.")
		}
		out = append(out, f)
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Column != out[j].Column {
			return out[i].Column < out[j].Column
		}
		return out[i].Summary < out[j].Summary
	})
	return append(out, c.notes...)
}

func kindName(k ChangeKind) string {
	switch k {
	case ChangeInsert:
		return "insert"
	case ChangeUpdate:
		return "update"
	}
	return "delete"
}

// localChecks checks what the catalog alone decides about the values a
// change writes: NOT NULL, and the limits of varchar(n), char(n), bit(n),
// varbit(n) and numeric(p,s). For an update only the changed columns are
// written; changed is nil for inserts (every mapped column is written).
func (c *checker) localChecks(seq int64, kind ChangeKind, src *Row, changed []int) {
	check := func(i int) {
		col := &c.l.Cols[i]
		v := src.Values[i]
		if v == nil {
			if col.Catalog.NotNull || col.Catalog.DomainNotNull {
				c.reject(seq, kind, src, rejectReason{Column: col.Dest,
					Reason: "NULL into a NOT NULL column"})
			}
			return
		}
		if why := col.limit.check(v); why != "" {
			c.reject(seq, kind, src, rejectReason{Column: col.Dest, Reason: why})
		}
		if ec := c.p.encoding; ec != nil && ec.checked(col) && !ec.holds(col, v) {
			c.reject(seq, kind, src, rejectReason{Column: col.Dest, Reason: ec.reason()})
		}
	}
	if kind == ChangeInsert {
		for i := range c.l.Cols {
			check(i)
		}
		return
	}
	for _, i := range changed {
		check(i)
	}
}

// A source value that does not convert to its column's type rejects its
// row, but the row still takes part in the diff (with NULL for the value),
// so that its key is matched: a mirror must not delete the destination row
// of a source row it could not read. The row carries a mark: one value
// after the layout's, holding the CSV line (0 for a query), the column and
// the server's reason. The diff treats a marked row as a change wherever
// the behavior would write it, and the checker refuses it.

// markRejected encodes a rejection mark.
func markRejected(line, col int, reason string) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(line))
	b = binary.BigEndian.AppendUint16(b, uint16(col))
	return append(b, reason...)
}

// mark returns the rejection mark of r, or nil.
func (l *layout) mark(r *Row) []byte {
	if r == nil || len(r.Values) <= l.width() {
		return nil
	}
	return r.Values[l.width()]
}

// decodeMark reads a rejection mark.
func decodeMark(m []byte) (line, col int, reason string) {
	return int(binary.BigEndian.Uint32(m)), int(binary.BigEndian.Uint16(m[4:])), string(m[6:])
}

// PassesChangesThrough reports whether a diff of the sync hands each change
// on to its sink as soon as the checks in Go have passed it, rather than
// keeping the change set for the destination server's checks first
// (passThrough). The two give the sink the same changes in the same order.
func (p *Prepared) PassesChangesThrough() bool { return passThrough(p) }
