package planner

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/catalog"
	"github.com/rowform/rowform/internal/history"
	"github.com/rowform/rowform/internal/pgconnect"
	"github.com/rowform/rowform/internal/plural"
	"github.com/rowform/rowform/internal/suggest"
)

// Undo plans (docs/history.md). The undo of a run is an ordinary sync
// plan whose "source" is the run's record in the destination's history:
// for each row the run changed, the row as it was before (absent for a row
// it inserted), read together with the row as it is now, by key, in one
// query. A row that is no longer as the run left it is a conflict; every
// other row becomes the insert, update or delete that restores it. The
// changes then pass the same checks (rejected_rows, cascade, triggers),
// samples, digest and guard as a sync's diff, so plan, plan -out, apply
// FILE and the stale check work as for any plan, and the executor stages
// and merges them as it does a sync's.

// The finding codes of undo plans.
const (
	// CodeUndoConflict: rows changed since the run that is undone (an
	// error, or a warning with on_reject = "skip", which leaves them).
	CodeUndoConflict Code = "undo_conflict"
	// CodeUndoIncomplete: what the run set off that undo does not restore
	// (trigger side effects, cascades into other tables), and the columns
	// of the rows it inserted that undo deletes without being able to
	// compare them (filled by the table: unwrittenByInserts).
	CodeUndoIncomplete Code = "undo_incomplete"
)

// UndoOf says which run an undo plan undoes.
type UndoOf struct {
	// Run is the id of the run undone (history.Run.ID).
	Run int64 `json:"run"`
	// Destination is the address of the destination whose history holds
	// the run.
	Destination string `json:"destination"`
}

// BehaviorUndo is the Behavior of an undo plan's sync.
const BehaviorUndo = "undo"

// ComputeUndo plans the undo of run id, recorded in the history of a
// destination of cfg (of the destinations of opts.Syncs, when given). The
// plan has one sync, the run's, with Undo set. An error is a run that
// cannot be undone at all: it is not in any history, it failed, or its
// sync is not in the configuration.
func ComputeUndo(ctx context.Context, cfg *hclconfig.Config, id int64, opts Options) (*Plan, error) {
	connector := pgconnect.NewConnector(opts.Environ)
	connector.Tunnel = opts.Tunnel
	defer connector.Close()
	s, run, err := findRun(ctx, cfg, connector, id, opts.Syncs)
	if err != nil {
		return nil, err
	}
	opts.secrets = Secrets(cfg)
	sp := planUndo(ctx, s, run, connector, opts)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	p := &Plan{Syncs: []*SyncPlan{sp}}
	p.finish()
	return p, nil
}

// findRun finds run id in the histories of cfg's destinations (of the
// destinations of the syncs only names, when it names any: a name that is
// not a sync is an error, as for SelectSyncs), and the sync it applied.
func findRun(ctx context.Context, cfg *hclconfig.Config, connector *pgconnect.Connector, id int64, only []string) (*hclconfig.Sync, *history.Run, error) {
	if id <= 0 {
		return nil, nil, fmt.Errorf("-undo takes a run's id, a positive number (see 'rowform history')")
	}
	for _, n := range only {
		if cfg.Sync(n) == nil {
			return nil, nil, fmt.Errorf("there is no sync named %q; the syncs are: %s.%s", n, joinNames(cfg.SyncNames()), suggest.DidYouMean(n, cfg.SyncNames()))
		}
	}
	var addrs []string
	for addr, d := range cfg.Destinations {
		if !d.HistoryEnabled() {
			continue
		}
		for _, s := range cfg.Syncs {
			if s.Destination != nil && s.Destination.Address() == addr && (len(only) == 0 || slices.Contains(only, s.Name)) {
				addrs = append(addrs, addr)
				break
			}
		}
	}
	if len(addrs) == 0 {
		return nil, nil, errors.New("no destination of these syncs keeps a history (history = false): there is no run to undo")
	}
	sort.Strings(addrs)
	type found struct {
		addr string
		run  *history.Run
	}
	var hits []found
	var errs []string
	for _, addr := range addrs {
		d := cfg.Destinations[addr]
		conn, err := connector.ConnectReadOnly(ctx, d, "undo")
		if err != nil {
			errs = append(errs, err.Error())
			continue
		}
		run, err := history.Get(ctx, conn, d.History.Schema, id)
		_ = pgconnect.Close(context.WithoutCancel(ctx), conn)
		if err != nil {
			errs = append(errs, fmt.Sprintf("reading the history of %s: %s", addr, describeError(err)))
			continue
		}
		if run != nil {
			hits = append(hits, found{addr, run})
		}
	}
	switch {
	case len(hits) == 0 && len(errs) > 0:
		return nil, nil, fmt.Errorf("run %d: %s", id, strings.Join(errs, "; "))
	case len(hits) == 0:
		return nil, nil, fmt.Errorf("there is no run %d in the history of %s (see 'rowform history'; runs beyond history_keep are pruned)", id, joinNames(addrs))
	case len(hits) > 1:
		var where []string
		for _, h := range hits {
			where = append(where, fmt.Sprintf("%s (sync %q)", h.addr, h.run.Sync))
		}
		return nil, nil, fmt.Errorf("run %d is in the history of %s: choose one with -sync=NAME", id, strings.Join(where, " and "))
	}
	h := hits[0]
	s := cfg.Sync(h.run.Sync)
	switch {
	case s == nil:
		return nil, nil, fmt.Errorf("run %d applied sync %q, which this configuration does not have (it was removed, or the run is of another configuration sharing the destination); undo needs the sync", id, h.run.Sync)
	case s.Destination.Address() != h.addr:
		return nil, nil, fmt.Errorf("run %d applied sync %q to %s, which now writes to %s", id, s.Name, h.addr, s.Destination.Address())
	case len(only) > 0 && !slices.Contains(only, s.Name):
		return nil, nil, fmt.Errorf("run %d applied sync %q, not %s", id, s.Name, strings.Join(only, ", "))
	case h.run.Status != history.StatusApplied:
		return nil, nil, fmt.Errorf("run %d failed and wrote nothing: there is nothing to undo", id)
	case s.Table.String() != h.run.Table:
		return nil, nil, fmt.Errorf("run %d wrote to %s, but sync %q now writes to %s; undo writes only the table of the run's sync", id, h.run.Table, s.Name, s.Table)
	}
	return s, h.run, nil
}

// planUndo plans the undo of run, an apply of s; it never fails, it
// reports.
func planUndo(ctx context.Context, s *hclconfig.Sync, run *history.Run, connector *pgconnect.Connector, opts Options) *SyncPlan {
	start := time.Now()
	sp := NewUndoPlan(s, run)
	defer func() { sp.Duration = time.Since(start) }()
	dst, err := connector.ConnectReadOnly(ctx, s.Destination, s.Name, s.SensitiveColumns...)
	if err != nil {
		sp.AddFinding(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: err.Error()})
		return sp
	}
	defer pgconnect.Close(context.WithoutCancel(ctx), dst)
	checkEncryption(dst, s.Destination, sp.AddFinding)
	// One snapshot for the history and the table.
	if _, err := dst.Exec(ctx, "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"); err != nil {
		sp.AddFinding(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: describeError(err)})
		return sp
	}
	defer func() { _, _ = dst.Exec(context.WithoutCancel(ctx), "ROLLBACK") }()
	u, findings := PrepareUndo(ctx, s, dst, run)
	for _, f := range findings {
		sp.AddFinding(f)
	}
	if u == nil || opts.StructureOnly {
		return sp
	}
	samples := u.NewSampleSink(opts.ShowRows, opts.secrets)
	var progress func(int64)
	if opts.Progress != nil {
		progress = func(n int64) { opts.Progress(s.Name, n) }
	}
	res, diffFindings, err := u.DiffUndo(ctx, dst, withChanges(samples, u.Prepared, opts.Changes), progress)
	sp.RecordDiff(u.Sync, res, diffFindings, err, samples.Samples())
	return sp
}

// maxUndoChain bounds how many undo_of links shownColumns follows.
const maxUndoChain = 1000

// shownColumns are the columns whose values the undo of run may show: the
// ones the sync mapped when it wrote them. Those are the columns a run
// wrote — but an undo run wrote, to insert again the rows its run had
// deleted, every column of them, mapped or not: for the undo of an undo,
// they are the columns the first run of the chain wrote, and when that run
// is no longer in the history (pruned), the key's only.
func shownColumns(ctx context.Context, dst *pgx.Conn, s *hclconfig.Sync, run *history.Run) ([]string, error) {
	r := run
	for depth := 0; r.UndoOf != 0; depth++ {
		prev, err := history.Get(ctx, dst, s.Destination.History.Schema, r.UndoOf)
		if err != nil {
			return nil, err
		}
		if prev == nil || depth == maxUndoChain {
			return run.Columns[:run.KeyCount], nil
		}
		r = prev
	}
	return r.Columns, nil
}

// NewUndoPlan returns the plan of the undo of run, an apply of s, before
// anything was checked.
func NewUndoPlan(s *hclconfig.Sync, run *history.Run) *SyncPlan {
	sp := NewSyncPlan(s)
	sp.Behavior = BehaviorUndo
	sp.Source = fmt.Sprintf("run %d", run.ID)
	sp.Undo = &UndoOf{Run: run.ID, Destination: s.Destination.Address()}
	if run.KeyCount > 0 && run.KeyCount <= len(run.Columns) {
		sp.Key = append([]string(nil), run.Columns[:run.KeyCount]...)
	}
	return sp
}

// UndoPrepared is the undo of one run, checked against the destination's
// structure: what the executor diffs and merges, as it does a Prepared
// sync. Its Sync is the run's sync as an undo writes it (every kind of
// change, the run's key and columns, the guard without min_source_rows).
type UndoPrepared struct {
	*Prepared
	// Run is the run undone, as the history records it.
	Run   *history.Run
	names history.Names
	// untouched are the conditions (on the table's row, aliased t) that a
	// row the run inserted still holds, in the columns the run did not
	// write, what the insert gave them (unwrittenByInserts): one that
	// fails them was written since, and is a conflict.
	untouched []string
	// undoneBy is the run that undid Run already (history.UndoneBy), 0
	// when none did: the conflicts' findings say so.
	undoneBy int64
}

// PrepareUndo checks that run, an apply of s, can be undone on dst: the
// table still has the run's columns and key, the role may write what the
// undo writes (and record it). It returns nil when a finding prevents the
// undo's diff; the findings say why. It also notes what the run set off
// that undo cannot restore (undo_incomplete).
func PrepareUndo(ctx context.Context, s *hclconfig.Sync, dst *pgx.Conn, run *history.Run) (*UndoPrepared, []Finding) {
	var fs []Finding
	blocked := false
	add := func(f Finding) {
		if f.Severity == SeverityError && f.Code != CodeMissingPrivilege {
			blocked = true
		}
		fs = append(fs, f)
	}
	table := s.Table.String()
	if run.KeyCount <= 0 || run.KeyCount > len(run.Columns) {
		add(Finding{Severity: SeverityError, Code: CodeMissingColumn, Summary: fmt.Sprintf("run %d recorded no key: it cannot be undone", run.ID)})
		return nil, fs
	}
	key := run.Columns[:run.KeyCount]
	t, err := catalog.LoadTable(ctx, dst, s.Table.Schema, s.Table.Name)
	if err != nil {
		add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: fmt.Sprintf("cannot read the catalog of %s: %s", s.Destination.Address(), describeError(err))})
		return nil, fs
	}
	if t == nil {
		add(Finding{Severity: SeverityError, Code: CodeMissingTable, Summary: fmt.Sprintf("the table %s, which run %d wrote, no longer exists in %s", table, run.ID, s.Destination.Address())})
		return nil, fs
	}
	role, err := catalog.CurrentRole(ctx, dst)
	if err != nil {
		add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: describeError(err)})
		return nil, fs
	}
	if f := checkRunTable(ctx, dst, s, run, role); f != nil {
		add(*f)
		return nil, fs
	}
	rules, err := catalog.LoadRules(ctx, dst, t)
	if err != nil {
		add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: fmt.Sprintf("cannot read the catalog of %s: %s", s.Destination.Address(), describeError(err))})
		return nil, fs
	}

	// The columns: the ones the run wrote, key first, and, when it deleted
	// rows, every other column their before-images hold.
	names := append([]string(nil), run.Columns...)
	if run.Deleted > 0 {
		for _, c := range run.RowColumns {
			if !slices.Contains(names, c) {
				names = append(names, c)
			}
		}
	}
	shown, err := shownColumns(ctx, dst, s, run)
	var undoneBy int64
	if err == nil {
		undoneBy, err = history.UndoneBy(ctx, dst, s.Destination.History.Schema, run.ID)
	}
	if err != nil {
		add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: fmt.Sprintf("cannot read the history of %s: %s", s.Destination.Address(), describeError(err))})
		return nil, fs
	}
	var cols []column
	var renewed []string
	for i, name := range names {
		dc := t.Column(name)
		written := i < len(run.Columns)
		if dc == nil {
			if written {
				add(Finding{Severity: SeverityError, Code: CodeMissingColumn,
					Summary: fmt.Sprintf("%s has no column %q any more, which run %d wrote", table, name, run.ID),
					Detail:  "Undo restores the values the run replaced, column by column: add the column back, or undo by hand."})
			}
			continue // a column dropped since: re-inserted rows go without it
		}
		if dc.Generated != "" || dc.Identity == "a" {
			if written {
				add(Finding{Severity: SeverityError, Code: CodeTypeMismatch,
					Summary: fmt.Sprintf("the column %q of %s, which run %d wrote, is now generated and cannot be written", name, table, run.ID)})
			} else {
				renewed = append(renewed, name)
			}
			continue
		}
		cols = append(cols, newColumn(name, name, *dc, s.IsSensitiveColumn(name) || !slices.Contains(shown, name)))
	}
	if t.UniqueKeyOn(key) == nil {
		add(Finding{Severity: SeverityError, Code: CodeMissingUniqueConstraint,
			Summary: fmt.Sprintf("%s has no primary key or unique constraint on (%s) any more, the key of run %d", table, strings.Join(key, ", "), run.ID),
			Detail:  "Undo finds the rows the run changed by their key."})
	}
	if run.Deleted > 0 {
		// The deleted rows go back with the columns they held: a NOT NULL
		// column added since, without a default, refuses them.
		for _, c := range t.Columns {
			if slices.Contains(names, c.Name) || !c.NeedsValue() {
				continue
			}
			add(Finding{Severity: SeverityError, Code: CodeNotNullUnmapped,
				Summary: fmt.Sprintf("the column %q of %s is NOT NULL without a default, and the rows run %d deleted, which undo inserts again, hold no value for it", c.Name, table, run.ID),
				Detail:  "The column was added (or made NOT NULL) after the run. Give it a default, or make it nullable, to undo the run.",
				Fix:     fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL;", t.Ident(), pgx.Identifier{c.Name}.Sanitize())})
		}
	}
	if len(renewed) > 0 && run.Deleted > 0 {
		add(Finding{Severity: SeverityWarning, Code: CodeUndoIncomplete,
			Summary: fmt.Sprintf("the rows run %d deleted are inserted again with new values of %s (GENERATED ALWAYS)", run.ID, catalog.IdentList(renewed)),
			Detail:  "PostgreSQL computes these columns itself; undo cannot write their old values."})
	}

	// Privileges: what the undo writes, and its record in the history.
	need := catalog.Need{Temp: true}
	var all, nonKey []string
	for i, c := range cols {
		all = append(all, c.Dest)
		if i >= run.KeyCount {
			nonKey = append(nonKey, c.Dest)
		}
	}
	need.Select = all
	if run.Deleted > 0 {
		need.Insert = all
	}
	if run.Updated > 0 {
		need.Update = nonKey
	}
	need.Delete = run.Inserted > 0
	missing, err := catalog.MissingPrivileges(ctx, dst, t, role, need)
	if err != nil {
		add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: describeError(err)})
		return nil, fs
	}
	for _, m := range missing {
		if m.Privilege == "SELECT" || (m.Privilege == "USAGE" && strings.HasPrefix(m.Object, "schema")) {
			blocked = true
		}
		on := m.Object
		if m.Columns != nil {
			on = fmt.Sprintf("column%s %s of %s", plural.S(len(m.Columns)), catalog.IdentList(m.Columns), m.Object)
		}
		add(Finding{Severity: SeverityError, Code: CodeMissingPrivilege,
			Summary: fmt.Sprintf("role %q lacks %s on %s", role, m.Privilege, on),
			Detail:  fmt.Sprintf("The undo of run %d %s.", run.ID, undoNeeds(m.Privilege)),
			Fix:     m.Fix})
	}
	// Whether the role may read every column of the rows the run
	// inserted: the undo records those it deletes whole, and compares
	// the columns the run did not write (unwrittenByInserts).
	readsInserted := true
	if !blocked && run.Inserted > 0 {
		for _, f := range historyRowSelect(ctx, s, dst, t, role, all) {
			readsInserted = false
			add(f)
		}
	}
	for _, f := range historyFindings(ctx, s, dst, role) {
		add(f)
	}
	for _, f := range undoLimits(run, t, rules) {
		add(f)
	}
	var constant map[string]string
	if run.Inserted > 0 {
		if constant, err = constantDefaults(ctx, dst, t); err != nil {
			add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: fmt.Sprintf("cannot read the catalog of %s: %s", s.Destination.Address(), describeError(err))})
			return nil, fs
		}
	}
	untouched, filled := unwrittenByInserts(run, t, rules, constant)
	if !readsInserted {
		untouched = nil // not read: the missing_privilege error blocks the apply
	}
	if len(filled) > 0 {
		add(Finding{Severity: SeverityWarning, Code: CodeUndoIncomplete,
			Summary: fmt.Sprintf("the rows run %d inserted are deleted with their values of %s, which the run did not write: undo cannot tell whether they were written since", run.ID, catalog.IdentList(filled)),
			Detail: "The run did not write these columns: the table filled them (a default, an identity, a BEFORE INSERT trigger), and the history records only what the run wrote. A value written into them since the run goes with the row. " +
				"The undo's own run records the rows it deletes whole: undoing the undo inserts them again."})
	}
	if blocked {
		return nil, fs
	}

	us := *s
	us.Behavior = hclconfig.Mirror
	us.Key = append([]string(nil), key...)
	us.Mapping = nil
	for _, c := range cols {
		us.Mapping = append(us.Mapping, hclconfig.ColumnMapping{Destination: c.Dest, Source: c.Dest})
	}
	us.Source = &hclconfig.Source{Type: "history", Name: fmt.Sprintf("run %d", run.ID)}
	us.Query = ""
	us.DependsOn = nil
	if s.Guard != nil {
		g := *s.Guard
		g.MinSourceRows = nil // the undo's "source" is the run's rows
		us.Guard = &g
	}
	p := &Prepared{Sync: &us, Table: t, Role: role, layout: newLayout(cols, len(key)), rules: rules}
	return &UndoPrepared{Prepared: p, Run: run, names: history.Names{Schema: s.Destination.History.Schema}, untouched: untouched, undoneBy: undoneBy}, fs
}

// unwrittenByInserts says how undo tells whether a row run inserted was
// written since in the columns of t (not generated) that the run did not
// write (nothing when it inserted nothing). With no BEFORE INSERT trigger
// on t, which could have set any of them, the insert left a column
// without a default NULL, and gave one whose default is constant
// (constant: constantDefaults) that default: untouched holds, for each,
// the condition on the row (aliased t) that it still holds that value.
// filled are the others (a default that is not constant, an identity, a
// domain's default, any column under such a trigger): the history does
// not say what the insert gave them.
func unwrittenByInserts(run *history.Run, t *catalog.Table, rules *catalog.Rules, constant map[string]string) (untouched, filled []string) {
	if run.Inserted == 0 {
		return nil, nil
	}
	trigger := slices.ContainsFunc(rules.Triggers, func(tr catalog.Trigger) bool { return tr.Before && tr.Row && tr.Insert })
	for _, c := range t.Columns {
		if c.Generated != "" || slices.Contains(run.Columns, c.Name) {
			continue
		}
		col := "t." + pgx.Identifier{c.Name}.Sanitize()
		expr, isConstant := constant[c.Name]
		switch {
		case trigger:
			filled = append(filled, c.Name)
		case !c.Filled():
			untouched = append(untouched, col+" IS NULL")
		case isConstant && c.Identity == "":
			// In the column's type (pg_get_expr leaves out the implicit
			// cast: 0 for numeric(12,2)), compared as text: not every
			// type has an equality (json, point).
			untouched = append(untouched, fmt.Sprintf("%s::text IS NOT DISTINCT FROM ((%s)::%s)::text", col, expr, c.Type))
		default:
			filled = append(filled, c.Name)
		}
	}
	return untouched, filled
}

// constantDefaults are the defaults of t's columns that give every insert
// the same value: by column, the expression as PostgreSQL writes it
// (pg_get_expr), for those made only of constants, casts and operators
// whose functions are all immutable ('x', 0 into numeric(12,2), '{}'::jsonb,
// 1 + 1). A default that reads the clock, a sequence or the session
// (now(), nextval(...), CURRENT_USER) is not one of them.
func constantDefaults(ctx context.Context, dst *pgx.Conn, t *catalog.Table) (map[string]string, error) {
	rows, err := dst.Query(ctx, `
SELECT a.attname::text, pg_get_expr(d.adbin, d.adrelid)
FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
WHERE d.adrelid = $1
  AND NOT EXISTS (SELECT FROM regexp_matches(d.adbin::text, '\{([A-Z_]+)', 'g') AS n(m)
                  WHERE n.m[1] NOT IN ('CONST', 'FUNCEXPR', 'OPEXPR', 'RELABELTYPE', 'ARRAYEXPR', 'COERCETODOMAIN'))
  AND NOT EXISTS (SELECT FROM regexp_matches(d.adbin::text, ':(?:func|opfunc)id (\d+)', 'g') AS f(m)
                  LEFT JOIN pg_proc p ON p.oid = f.m[1]::oid
                  WHERE p.provolatile IS DISTINCT FROM 'i')`, t.OID)
	if err != nil {
		return nil, err
	}
	out := map[string]string{}
	for rows.Next() {
		var name, expr string
		if err := rows.Scan(&name, &expr); err != nil {
			rows.Close()
			return nil, err
		}
		out[name] = expr
	}
	return out, rows.Err()
}

func undoNeeds(privilege string) string {
	switch privilege {
	case "INSERT":
		return "inserts again the rows it deleted"
	case "UPDATE":
		return "writes back the values of the rows it updated"
	case "DELETE":
		return "deletes the rows it inserted"
	case "SELECT":
		return "reads the rows it changed"
	case "TEMPORARY":
		return "stages its changes in temporary tables, as any apply"
	}
	return "needs it"
}

// undoLimits are the undo_incomplete notes of run: the triggers its writes
// fired and the foreign keys its deletes cascaded through, whose effects
// undo does not restore.
func undoLimits(run *history.Run, t *catalog.Table, rules *catalog.Rules) []Finding {
	var out []Finding
	for _, tr := range rules.Triggers {
		var fired []string
		if tr.Insert && run.Inserted > 0 {
			fired = append(fired, "inserts")
		}
		if tr.Update && run.Updated > 0 {
			fired = append(fired, "updates")
		}
		if tr.Delete && run.Deleted > 0 {
			fired = append(fired, "deletes")
		}
		if len(fired) == 0 {
			continue
		}
		out = append(out, Finding{Severity: SeverityWarning, Code: CodeUndoIncomplete,
			Summary: fmt.Sprintf("the trigger %q on %s.%s fired for the %s of run %d: what it did is not undone", tr.Name, t.Schema, t.Name, joinAnd(fired), run.ID),
			Detail:  "Undo writes back only this table's rows. What a trigger did elsewhere (an audit row, another table it wrote) stays; the trigger fires again for the undo's own writes."})
	}
	if run.Deleted > 0 {
		for _, fk := range rules.Referencing {
			action := map[string]string{"c": "CASCADE", "n": "SET NULL", "d": "SET DEFAULT"}[fk.OnDelete]
			if action == "" {
				continue
			}
			out = append(out, Finding{Severity: SeverityWarning, Code: CodeUndoIncomplete, Table: fk.ChildSchema + "." + fk.ChildName,
				Constraint: fk.Name,
				Summary:    fmt.Sprintf("the deletes of run %d may have cascaded into %s.%s (ON DELETE %s of %s): what they deleted or changed there is not restored", run.ID, fk.ChildSchema, fk.ChildName, action, fk.Name),
				Detail:     "Undo inserts the deleted rows again, but not the rows the foreign key's action deleted or changed in the referencing table."})
		}
	}
	return out
}

// checkRunTable reports what keeps the undo from reading the table of
// its own that a large run keeps its rows in (history.RunTable): the
// table is gone (dropped by hand), or role may not read it. nil when the
// run has no such table, or it can be read.
func checkRunTable(ctx context.Context, dst *pgx.Conn, s *hclconfig.Sync, run *history.Run, role string) *Finding {
	if !run.RowsTable {
		return nil
	}
	table := history.Names{Schema: s.Destination.History.Schema}.RunTable(run.ID)
	var exists, readable bool
	err := dst.QueryRow(ctx, `SELECT t IS NOT NULL, coalesce(has_table_privilege(t, 'SELECT'), false) FROM to_regclass($1) AS t`, table).Scan(&exists, &readable)
	switch {
	case err != nil:
		return &Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: describeError(err)}
	case !exists:
		return &Finding{Severity: SeverityError, Code: CodeMissingTable,
			Summary: fmt.Sprintf("the rows run %d changed were kept in %s, which no longer exists: the run cannot be undone", run.ID, table),
			Detail:  "A run of many rows keeps them in a table of its own in the history's schema (docs/history.md, \"Large runs\"); rowform drops it only when it prunes the run."}
	case !readable:
		return &Finding{Severity: SeverityError, Code: CodeMissingPrivilege,
			Summary: fmt.Sprintf("role %q may not read %s, which holds the rows run %d changed", role, table, run.ID),
			Detail:  "Another role applied the run and owns the table. Grant the role SELECT on it (the fix, run by its owner), or undo as a role that may read it.",
			Fix:     fmt.Sprintf("GRANT SELECT ON %s TO %s;", table, pgx.Identifier{role}.Sanitize())}
	}
	return nil
}

// CodeHistoryDamaged: the history's record of the run that is undone is
// not as rowform wrote it (a row of run_rows edited by hand): the undo
// would write what the record does not hold.
const CodeHistoryDamaged Code = "history_damaged"

// damagedRunError: a row of the run's record is not as rowform wrote it
// (the undo plan's history_damaged finding).
type damagedRunError struct {
	run  int64
	what string
}

func (e *damagedRunError) Error() string {
	return fmt.Sprintf("the history's record of run %d is not as rowform wrote it (%s): the run cannot be undone", e.run, e.what)
}

// checkShape checks a row of the run's record (undoSQL) against the run:
// a kind rowform writes, a key of the run's key columns, and a row before
// of the run's columns (an update) or of the table's (a delete); keyLen
// and beforeLen are the arrays' lengths as binary int4, -1 for NULL. A
// shorter array would read as NULLs, which the undo would write.
func (u *UndoPrepared) checkShape(kind string, keyLen, beforeLen []byte) error {
	nKey, err := int4At(keyLen)
	if err != nil {
		return err
	}
	nBefore, err := int4At(beforeLen)
	if err != nil {
		return err
	}
	var want int
	switch kind {
	case "+":
		want = -2 // an insert's before is not read
	case "~":
		want = len(u.Run.Columns)
	case "-":
		want = len(u.Run.RowColumns)
	default:
		return &damagedRunError{u.Run.ID, fmt.Sprintf("a row of kind %q, which rowform does not write", kind)}
	}
	if nKey != u.Run.KeyCount {
		return &damagedRunError{u.Run.ID, fmt.Sprintf("a row's key holds %s, the run's key has %d", valuesText(nKey), u.Run.KeyCount)}
	}
	if want >= 0 && nBefore != want {
		what := map[string]string{"~": "an updated row's values before", "-": "a deleted row"}[kind]
		return &damagedRunError{u.Run.ID, fmt.Sprintf("%s holds %s instead of %d", what, valuesText(nBefore), want)}
	}
	return nil
}

// unconvertedRunError: a value of the run's record does not convert to
// the type its column has now (the undo plan's type_mismatch finding).
type unconvertedRunError struct {
	run int64
	err *pgconn.PgError
}

func (e *unconvertedRunError) Error() string {
	return fmt.Sprintf("a value run %d recorded does not convert to the type its column of the table has now: %s", e.run, describeError(e.err))
}

// convertError is err, from the query of the run's rows (undoSQL), as an
// unconvertedRunError when it is a data exception (SQLSTATE class 22): a
// key or a value before, recorded as text, that no longer reads in its
// column's type, changed since the run. The values it quotes are masked
// when a column the undo does not show could hold them, as the server
// masks those of sensitive columns.
func (u *UndoPrepared) convertError(err error) error {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) || !strings.HasPrefix(pgErr.Code, "22") {
		return err
	}
	var hidden []string
	for _, c := range u.layout.Cols {
		if c.Sensitive {
			hidden = append(hidden, c.Dest)
		}
	}
	masked := *pgErr
	pgconnect.MaskErrorValues(&masked, hidden)
	return &unconvertedRunError{u.Run.ID, &masked}
}

// checkCounts checks the number of rows of the run's record of each kind
// (recorded, by kind) against the rows the run counted: every row it
// inserted, updated and deleted is recorded, so fewer (rows of run_rows
// deleted by hand, to make the history smaller) would make an undo that
// restores part of the run without a word.
func (u *UndoPrepared) checkCounts(recorded map[string]int64) error {
	for _, k := range []struct {
		kind, what string
		want       int64
	}{{"+", "inserted", u.Run.Inserted}, {"~", "updated", u.Run.Updated}, {"-", "deleted", u.Run.Deleted}} {
		if got := recorded[k.kind]; got != k.want {
			return &damagedRunError{u.Run.ID, fmt.Sprintf("it holds %d of the %s the run %s", got, plural.Count(k.want, "row"), k.what)}
		}
	}
	return nil
}

// valuesText is "n values", or "NULL" for -1.
func valuesText(n int) string {
	if n < 0 {
		return "NULL"
	}
	return plural.Count(n, "value")
}

// The reasons of undo conflicts, by the kind of change the run made.
func conflictReasons(run int64) map[ChangeKind]string {
	return map[ChangeKind]string{
		ChangeDelete: fmt.Sprintf("changed or deleted since run %d inserted it", run),
		ChangeUpdate: fmt.Sprintf("changed or deleted since run %d updated it", run),
		ChangeInsert: fmt.Sprintf("inserted again since run %d deleted it", run),
	}
}

// undoSQL reads the run's rows joined to the table's rows by key: for each
// row the run changed, its kind ('+' inserted, '~' updated, '-' deleted),
// whether the row is there now, the hash of what the run wrote and which
// columns an update changed, the lengths of the record's key and row
// before, whether the columns the run did not write still hold what its
// insert gave them (untouched: for the rows it inserted), the row as the undo leaves it (its values before the run;
// absent for an inserted one, whose key alone is given) and the row as
// it is now, each in the layout's columns and text keys.
func (u *UndoPrepared) undoSQL() string {
	l := u.layout
	run := u.Run
	pos := map[string]int{}
	for i, c := range run.Columns {
		pos[c] = i + 1
	}
	rowPos := map[string]int{}
	for i, c := range run.RowColumns {
		rowPos[c] = i + 1
	}
	cur := func(i int) string {
		return "t." + pgx.Identifier{l.Cols[i].Dest}.Sanitize()
	}
	typed := func(i int, expr string) string {
		c := l.Cols[i]
		return fmt.Sprintf("(%s)::%s", expr, c.Catalog.Type)
	}
	desired := func(i int) string {
		c := l.Cols[i]
		if i < l.NKey {
			return typed(i, fmt.Sprintf("r.key[%d]", i+1))
		}
		// The values before, cast as the diff casts a sync's source
		// values, with the column's limit lifted: the column may have
		// been narrowed since the run, and an explicit cast would cut a
		// value the checks must refuse instead. Values carried as text
		// take the column's type, as the CASE's other branch has it.
		before := func(p int) string {
			if c.AsText {
				return typed(i, fmt.Sprintf("r.before[%d]", p))
			}
			return c.castExpr(fmt.Sprintf("r.before[%d]", p))
		}
		del := "NULL"
		if p := rowPos[c.Dest]; p > 0 {
			del = before(p)
		}
		upd := cur(i)
		if p := pos[c.Dest]; p > 0 {
			upd = fmt.Sprintf("CASE WHEN %d = ANY(r.changed) THEN %s ELSE %s END", p, before(p), cur(i))
		}
		return fmt.Sprintf("CASE r.kind WHEN '-' THEN %s WHEN '~' THEN %s END", del, upd)
	}
	asRead := func(i int, expr string) string {
		if l.Cols[i].AsText {
			return "(" + expr + ")::text"
		}
		return expr
	}
	var sel []string
	for i := range l.Cols {
		sel = append(sel, asRead(i, desired(i)))
	}
	desiredKeys := l.textKeySelect(func(i int) string { return asRead(i, desired(i)) })
	for i := range l.Cols {
		sel2 := asRead(i, cur(i))
		sel = append(sel, sel2)
	}
	currentKeys := l.textKeySelect(func(i int) string { return asRead(i, cur(i)) })
	var match []string
	for i := 0; i < l.NKey; i++ {
		match = append(match, fmt.Sprintf("%s = %s", cur(i), typed(i, fmt.Sprintf("r.key[%d]", i+1))))
	}
	// Selecting desired columns and text keys, then current ones: the
	// text keys follow their row's columns, as Row values hold them.
	d := strings.Join(sel[:len(l.Cols)], ", ") + desiredKeys
	c := strings.Join(sel[len(l.Cols):], ", ") + currentKeys
	// The row is there when its first key column is: the join matched it
	// by equality, which no NULL passes. (Not t.ctid, a system column that
	// column-level SELECT grants do not cover.)
	untouched := "true"
	if len(u.untouched) > 0 {
		untouched = "(" + strings.Join(u.untouched, " AND ") + ")"
	}
	return fmt.Sprintf(`SELECT r.kind::text, %s IS NOT NULL, r.after_hash, r.changed,
  coalesce(cardinality(r.key), -1), coalesce(cardinality(r.before), -1), coalesce(%s, false), %s, %s
FROM %s AS r LEFT JOIN %s AS t ON %s
WHERE r.run_id = %d`, cur(0), untouched, d, c, history.RowsSource(u.names, *run), u.Table.Ident(), strings.Join(match, " AND "), run.ID)
}

// DiffUndo runs the undo's "diff" on dst (in the caller's transaction):
// every row the run changed, read with the row as it is now, becomes the
// change that restores it, or a conflict when the row changed since
// (refused: undo_conflict). The changes pass the checker into sink as a
// sync's diff's do. SourceRows is the number of rows the run changed;
// DestinationRows the table's rows when the sync's guard has a
// max_delete_percent (which it is a share of), else the rows of the run
// the table holds now (the rows the undo read there). A record that is not as rowform wrote
// it (checkShape, checkCounts) is an error, which the plan reports as
// history_damaged; a value of it that no longer converts to its column's
// type one it reports as type_mismatch (convertError).
func (u *UndoPrepared) DiffUndo(ctx context.Context, dst *pgx.Conn, sink ChangeSink, progress func(int64)) (*DiffResult, []Finding, error) {
	l := u.layout
	w := l.width()
	// The table's rows are counted only for a max_delete_percent guard,
	// which is a share of them: the undo reads the rows its run changed,
	// not the table. Otherwise DestinationRows counts the rows it read
	// there (the run's rows the table still holds).
	var total int64
	countAll := u.Sync.Guard != nil && u.Sync.Guard.MaxDeletePercent != nil
	if countAll {
		if err := dst.QueryRow(ctx, fmt.Sprintf("SELECT count(*) FROM %s", u.Table.Ident())).Scan(&total); err != nil {
			return nil, nil, err
		}
	}
	chk := newChecker(u.Prepared, sink, false)
	digest := newChangeDigest()
	reasons := conflictReasons(u.Run.ID)
	const lead = 7 // kind, present, after_hash, changed, the key's and before's lengths, untouched
	stream := queryStream(ctx, dst.PgConn(), u.undoSQL(), lead+2*w)
	// The columns an insert wrote: every column of the run but the key.
	var inserted []int
	for i := u.Run.KeyCount; i < len(u.Run.Columns); i++ {
		inserted = append(inserted, i)
	}
	// written reports whether the row now holds, at positions, what the
	// run wrote (executor/history.go hashed it the same way).
	written := func(row *Row, positions []int, hash []byte) bool {
		sum := history.WrittenHash(row.Values, positions)
		return len(hash) == len(sum) && string(hash) == string(sum[:])
	}
	defer stream.close()
	var counts Counts
	var read int64
	// recorded counts the record's rows by kind (checkCounts).
	recorded := map[string]int64{}
	var changed []int
	var want, now Row
	for {
		r, err := stream.next()
		if err != nil {
			return nil, nil, u.convertError(err)
		}
		if r == nil {
			break
		}
		read++
		if read%progressEvery == 0 {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			if progress != nil {
				progress(read)
			}
		}
		v := r.Values
		kind, present := string(v[0]), len(v[1]) == 1 && v[1][0] == 1
		untouched := len(v[6]) == 1 && v[6][0] == 1
		want.Values, now.Values = v[lead:lead+w], v[lead+w:lead+2*w]
		if err := u.checkShape(kind, v[4], v[5]); err != nil {
			return nil, nil, err
		}
		recorded[kind]++
		var cur *Row
		if present {
			if !countAll {
				total++
			}
			cur = &now
		}
		var conflict bool
		switch kind {
		case "+":
			// Changed since when what the run wrote is not there, or a
			// column it did not write holds another value than its
			// insert gave it.
			conflict = !present || !written(cur, inserted, v[2]) || !untouched
		case "~":
			pos, err := history.DecodeInt2Array(v[3])
			if err != nil {
				return nil, nil, &damagedRunError{u.Run.ID, "the changed columns of an update do not read: " + err.Error()}
			}
			for _, p := range pos {
				if p < u.Run.KeyCount || p >= len(u.Run.Columns) {
					return nil, nil, &damagedRunError{u.Run.ID, fmt.Sprintf("an update of column %d, which the run did not write", p+1)}
				}
			}
			conflict = !present || !written(cur, pos, v[2])
		case "-":
			conflict = present
		}
		switch kind {
		case "+": // inserted by the run: delete it
			counts.Delete++
			if conflict {
				keyRow := cur
				if keyRow == nil {
					keyRow = &want
				}
				digest.add('!', nil, keyRow)
				if err := chk.refuse(ChangeDelete, nil, keyRow, reasons[ChangeDelete]); err != nil {
					return nil, nil, err
				}
				continue
			}
			digest.add(ChangeDelete, nil, cur)
			if err := chk.Change(ChangeDelete, nil, cur, nil); err != nil {
				return nil, nil, err
			}
		case "~": // updated by the run: write back its values before
			if conflict {
				counts.Update++
				digest.add('!', &want, cur)
				if err := chk.refuse(ChangeUpdate, &want, cur, reasons[ChangeUpdate]); err != nil {
					return nil, nil, err
				}
				continue
			}
			changed = l.changedColumns(&want, cur, changed[:0])
			if len(changed) == 0 {
				counts.Unchanged++
				continue
			}
			counts.Update++
			digest.add(ChangeUpdate, &want, cur)
			if err := chk.Change(ChangeUpdate, &want, cur, changed); err != nil {
				return nil, nil, err
			}
		case "-": // deleted by the run: insert it again
			counts.Insert++
			if conflict {
				digest.add('!', &want, cur)
				if err := chk.refuse(ChangeInsert, &want, cur, reasons[ChangeInsert]); err != nil {
					return nil, nil, err
				}
				continue
			}
			digest.add(ChangeInsert, &want, nil)
			if err := chk.Change(ChangeInsert, &want, nil, nil); err != nil {
				return nil, nil, err
			}
		}
	}
	if err := stream.close(); err != nil {
		return nil, nil, u.convertError(err)
	}
	if err := u.checkCounts(recorded); err != nil {
		return nil, nil, err
	}
	if progress != nil {
		progress(read)
	}
	if err := chk.finish(ctx, dst); err != nil {
		return nil, nil, err
	}
	chk.adjust(&counts)
	rejected, err := chk.rejectedRows()
	if err != nil {
		return nil, nil, err
	}
	return &DiffResult{Counts: counts, SourceRows: read, DestinationRows: total, Digest: digest.String(),
		Rejected: rejected, CheckFindings: u.conflictFindings(chk.findings(u.Sync.OnReject)), written: chk.written}, nil, nil
}

// refuse records a change the checker must refuse for reason (an undo
// conflict) and keeps it, as Change keeps the others. row (src, or dst for
// a delete) carries its key.
func (c *checker) refuse(kind ChangeKind, src, dst *Row, reason string) error {
	seq := c.seq
	c.seq++
	row := src
	if kind == ChangeDelete {
		row = dst
	}
	c.rejectAt(seq, kind, row, rejectReason{Reason: reason}, 0)
	if c.pass {
		return nil // refused: not handed on
	}
	return c.spool.add(kind, src, dst)
}

// conflictFindings turns the checker's rejected_rows findings for undo
// conflicts into undo_conflict findings.
func (u *UndoPrepared) conflictFindings(fs []Finding) []Finding {
	reasons := conflictReasons(u.Run.ID)
	for i := range fs {
		f := &fs[i]
		if f.Code != CodeRejectedRows || f.Column != "" || f.Constraint != "" {
			continue
		}
		for kind, reason := range reasons {
			if !strings.HasSuffix(f.Summary, ": "+reason) {
				continue
			}
			f.Code = CodeUndoConflict
			was := "were"
			if f.Rows == 1 {
				was = "was"
			}
			what := map[ChangeKind]string{
				ChangeDelete: "inserted %s changed or deleted since",
				ChangeUpdate: "updated %s changed or deleted since",
				ChangeInsert: "deleted %s inserted again since",
			}[kind]
			f.Summary = fmt.Sprintf("%d row%s that run %d %s: undoing %s would overwrite that change", f.Rows, plural.S(f.Rows), u.Run.ID,
				fmt.Sprintf(what, was), map[bool]string{true: "it", false: "them"}[f.Rows == 1])
			if f.Severity == SeverityError {
				f.Detail = "Undo restores only rows that are as the run left them; another apply or writer changed these since. Undo the later run first, fix the rows by hand, or set on_reject = \"skip\" on the sync to undo every other row and leave these as they are."
			} else {
				f.Detail = "on_reject = \"skip\": apply leaves these rows as they are and undoes the others."
			}
			if u.undoneBy != 0 {
				again := fmt.Sprintf("Run %d was undone already, by run %d, which put these rows back as they were before it (unless a writer changed them after): nothing of run %d is left to undo in them. Undoing run %d applies run %d's changes again.",
					u.Run.ID, u.undoneBy, u.Run.ID, u.undoneBy, u.Run.ID)
				if f.Severity == SeverityError {
					f.Detail = again
				} else {
					f.Detail = again + " " + f.Detail
				}
			}
		}
	}
	return fs
}
