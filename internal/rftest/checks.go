package rftest

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/planner"
)

// maxShown is how many differing rows a failure lists.
const maxShown = 10

// checkPlan checks a run's plan against its expect_plan blocks. Besides
// what they expect, an error finding that no expect_plan lists fails the
// run: a run whose plan cannot be applied is never a silent pass.
func checkPlan(r *RunBlock, p *planner.Plan) []string {
	var fails []string
	expected := map[string]*ExpectPlan{}
	for _, e := range r.ExpectPlans {
		expected[e.Sync] = e
		sp := syncPlan(p, e.Sync)
		if sp == nil {
			var names []string
			for _, s := range p.Syncs {
				names = append(names, s.Name)
			}
			fails = append(fails, fmt.Sprintf("expect_plan %q at %s:%d: the run's plan has no sync %q; it plans %s", e.Sync, e.Range.Filename, e.Range.Start.Line, e.Sync, strings.Join(quoteAll(names), ", ")))
			continue
		}
		prefix := fmt.Sprintf("expect_plan %q: ", e.Sync)
		counts := []struct {
			name string
			want *int64
			got  int64
		}{
			{"insert", e.Insert, sp.Counts.Insert}, {"update", e.Update, sp.Counts.Update},
			{"delete", e.Delete, sp.Counts.Delete}, {"unchanged", e.Unchanged, sp.Counts.Unchanged},
			{"skipped", e.Skipped, sp.Counts.Skipped}, {"rejected", e.Rejected, sp.Counts.Reject},
		}
		countsWanted := false
		for _, c := range counts {
			countsWanted = countsWanted || c.want != nil
		}
		if countsWanted && !sp.Diffed {
			fails = append(fails, prefix+"the sync's rows were not compared, so it has no counts: "+findingList(sp.Findings, ""))
		} else {
			for _, c := range counts {
				if c.want != nil && *c.want != c.got {
					fails = append(fails, fmt.Sprintf("%s%s: expected %d, got %d", prefix, c.name, *c.want, c.got))
				}
			}
		}
		if e.Findings != nil {
			want := uniqueSorted(e.Findings)
			var got []string
			for _, f := range sp.Findings {
				got = append(got, string(f.Code))
			}
			got = uniqueSorted(got)
			if !slices.Equal(want, got) {
				msg := fmt.Sprintf("%sfindings: expected [%s], got [%s]", prefix, strings.Join(want, ", "), strings.Join(got, ", "))
				if extra := findingList(sp.Findings, strings.Join(want, " ")); extra != "" {
					msg += "; " + extra
				}
				fails = append(fails, msg)
			}
		}
	}
	// Errors nobody expects.
	for _, sp := range p.Syncs {
		e := expected[sp.Name]
		if e != nil && e.Findings != nil {
			continue // checked exactly above
		}
		for _, f := range sp.Findings {
			if f.Severity == planner.SeverityError {
				fails = append(fails, fmt.Sprintf("sync %q: unexpected error %s: %s (list it in expect_plan %q { findings = [...] } if the test expects it)",
					sp.Name, f.Code, f.Summary, sp.Name))
			}
		}
	}
	return fails
}

// findingList describes the findings whose code is not among the
// space-separated codes of except.
func findingList(fs []planner.Finding, except string) string {
	skip := map[string]bool{}
	for _, c := range strings.Fields(except) {
		skip[c] = true
	}
	var parts []string
	for _, f := range fs {
		if !skip[string(f.Code)] {
			parts = append(parts, fmt.Sprintf("%s %s: %s", f.Severity, f.Code, f.Summary))
		}
	}
	return strings.Join(parts, "; ")
}

func syncPlan(p *planner.Plan, name string) *planner.SyncPlan {
	for _, s := range p.Syncs {
		if s != nil && s.Name == name {
			return s
		}
	}
	return nil
}

func uniqueSorted(xs []string) []string {
	out := slices.Clone(xs)
	slices.Sort(out)
	return slices.Compact(out)
}

func quoteAll(xs []string) []string {
	out := make([]string, len(xs))
	for i, x := range xs {
		out[i] = fmt.Sprintf("%q", x)
	}
	return out
}

// tableServer is the address of the server an expect_table is about: its
// server attribute; else the destination of the syncs that write the table,
// when they agree; else the configuration's only destination.
func tableServer(cfg *hclconfig.Config, e *ExpectTable) (string, error) {
	if e.Server != "" {
		if _, ok := servers(cfg)[e.Server]; !ok {
			return "", fmt.Errorf("server = %s is not a server of the configuration", e.Server)
		}
		return e.Server, nil
	}
	found := map[string]bool{}
	for _, s := range cfg.Syncs {
		if s.Table == e.Table {
			found["destination."+s.Destination.Address()] = true
		}
	}
	if len(found) == 1 {
		return slices.Collect(maps.Keys(found))[0], nil
	}
	if len(found) == 0 && len(cfg.Destinations) == 1 {
		for a := range cfg.Destinations {
			return "destination." + a, nil
		}
	}
	return "", fmt.Errorf("say which server holds the table: server = destination.postgres.NAME (or source.postgres.NAME)")
}

// tableSyncs are the syncs that write table t on server addr.
func tableSyncs(cfg *hclconfig.Config, addr string, t hclconfig.TableName) []*hclconfig.Sync {
	var out []*hclconfig.Sync
	for _, s := range cfg.Syncs {
		if s.Table == t && "destination."+s.Destination.Address() == addr {
			out = append(out, s)
		}
	}
	return out
}

// tableKey is the key of the syncs that write table t on server addr, if
// any: rows are matched by it in failure messages.
func tableKey(cfg *hclconfig.Config, addr string, t hclconfig.TableName) []string {
	if syncs := tableSyncs(cfg, addr, t); len(syncs) > 0 {
		return syncs[0].Key
	}
	return nil
}

// tableSensitive returns the sensitive_columns of the syncs that write the
// table t of the destination addr: their values are never shown.
func tableSensitive(cfg *hclconfig.Config, addr string, t hclconfig.TableName) map[string]bool {
	out := map[string]bool{}
	for _, s := range tableSyncs(cfg, addr, t) {
		for _, c := range s.SensitiveColumns {
			out[c] = true
		}
	}
	return out
}

// checkTable checks what a table holds after a run. The error is for a
// check that cannot be made (the server cannot be reached); what does not
// match is in the failures.
// With where, the failures say where the block is: the run has other
// expect_table blocks of the same table.
func (f *fileRun) checkTable(ctx context.Context, cfg *hclconfig.Config, e *ExpectTable, where bool) ([]string, error) {
	prefix := fmt.Sprintf("expect_table %q: ", e.Table.String())
	if where {
		prefix = fmt.Sprintf("expect_table %q at %s:%d: ", e.Table.String(), e.Range.Filename, e.Range.Start.Line)
	}
	addr, err := tableServer(cfg, e)
	if err != nil {
		return []string{prefix + err.Error()}, nil
	}
	conn, err := connect(ctx, f.t.cluster.ConnString(f.dbs[addr]))
	if err != nil {
		return nil, err
	}
	defer conn.Close(context.WithoutCancel(ctx))
	// The table's columns, each with how its type reads text.
	types, err := inputFunctions(ctx, conn, e.Table)
	if err != nil {
		return nil, err
	}
	if types == nil {
		return []string{prefix + "the table does not exist on " + addr}, nil
	}
	var fails []string
	if e.Count != nil {
		var n int64
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM "+ident(e.Table)).Scan(&n); err != nil {
			return nil, err
		}
		if n != *e.Count {
			fails = append(fails, fmt.Sprintf("%scount: expected %d rows, got %d", prefix, *e.Count, n))
		}
	}
	if e.Rows == nil {
		return fails, nil
	}
	cols := e.Columns
	if cols == nil {
		cols = e.Rows.Columns
	}
	pos := map[string]int{}
	for i, c := range e.Rows.Columns {
		pos[c] = i
	}
	for _, c := range cols {
		if _, ok := types[c]; !ok {
			return append(fails, fmt.Sprintf("%sthe table has no column %q (its columns: %s)", prefix, c, strings.Join(slices.Sorted(maps.Keys(types)), ", "))), nil
		}
		if _, ok := pos[c]; !ok && len(e.Rows.Values) > 0 {
			return append(fails, fmt.Sprintf("%scolumns names %q, which the expected rows do not give", prefix, c)), nil
		}
	}
	// The expected values as the table would hold them: each converted to
	// its column's type and back to text, by the server, so that
	// "2024-01-15T09:30:00Z" is the stored 2024-01-15 09:30:00+00 and 1.5
	// the stored 1.50. The conversion is the type's input function with the
	// column's modifier, as a write converts text: a value too long for a
	// varchar(5) does not fit the table, where an explicit cast would cut
	// it to what the table holds.
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = types[c].convert(fmt.Sprintf("$%d::text", i+1))
	}
	normalize := "SELECT " + strings.Join(sel, ", ")
	sensitive := tableSensitive(cfg, addr, e.Table)
	var want [][]*string
	for n, row := range e.Rows.Values {
		args := make([]any, len(cols))
		for i, c := range cols {
			if v := row[pos[c]]; v != nil {
				args[i] = *v
			}
		}
		out := make([]*string, len(cols))
		dest := make([]any, len(cols))
		for i := range out {
			dest[i] = &out[i]
		}
		if err := conn.QueryRow(ctx, normalize, args...).Scan(dest...); err != nil {
			msg := err.Error()
			if slices.ContainsFunc(cols, func(c string) bool { return sensitive[c] }) {
				// The server's message may quote the value.
				msg = "a value does not convert to its column's type (the message is not shown: the row has sensitive columns)"
			}
			return append(fails, fmt.Sprintf("%sexpected row %d of %s does not fit the table: %s", prefix, n+1, e.Rows.From, msg)), nil
		}
		want = append(want, out)
	}
	quoted := make([]string, len(cols))
	for i, c := range cols {
		quoted[i] = "CAST(" + pgx.Identifier{c}.Sanitize() + " AS text)"
	}
	rows, err := conn.Query(ctx, fmt.Sprintf("SELECT %s FROM %s", strings.Join(quoted, ", "), ident(e.Table)))
	if err != nil {
		return nil, err
	}
	var got [][]*string
	for rows.Next() {
		out := make([]*string, len(cols))
		dest := make([]any, len(cols))
		for i := range out {
			dest[i] = &out[i]
		}
		if err := rows.Scan(dest...); err != nil {
			return nil, err
		}
		got = append(got, out)
	}
	if err := rows.Err(); err != nil {
		return nil, err
	}
	if diff := diffRows(cols, tableKey(cfg, addr, e.Table), sensitive, want, got); len(diff) > 0 {
		head := fmt.Sprintf("%sthe table does not hold the expected rows (%d expected, %d found", prefix, len(want), len(got))
		if len(cols) < len(types) {
			head += "; compared on " + strings.Join(cols, ", ")
		}
		fails = append(fails, head+"):\n"+strings.Join(diff, "\n"))
	}
	return fails, nil
}

// diffRows compares the expected rows with the table's, as multisets, and
// describes the differences, at most maxShown lines: with key columns
// (all among cols), rows are matched by key and each differing value is
// named; otherwise rows are missing or unexpected as a whole. The values of
// sensitive columns are compared but shown as (sensitive).
func diffRows(cols, key []string, sensitive map[string]bool, want, got [][]*string) []string {
	show := func(row []*string, i int) string {
		if sensitive[cols[i]] && row[i] != nil {
			return planner.Sensitive
		}
		return showValue(row[i])
	}
	var keyIdx []int
	for _, k := range key {
		i := slices.Index(cols, k)
		if i < 0 {
			keyIdx = nil
			break
		}
		keyIdx = append(keyIdx, i)
	}
	render := func(row []*string, idx []int) string {
		var parts []string
		for _, i := range idx {
			parts = append(parts, cols[i]+"="+show(row, i))
		}
		return strings.Join(parts, " ")
	}
	all := make([]int, len(cols))
	for i := range all {
		all[i] = i
	}
	rowKey := func(row []*string, idx []int) string {
		var b strings.Builder
		for _, i := range idx {
			if row[i] == nil {
				b.WriteString("N;")
			} else {
				fmt.Fprintf(&b, "V%d:%s;", len(*row[i]), *row[i])
			}
		}
		return b.String()
	}
	// Take out the rows that match exactly.
	count := map[string]int{}
	for _, r := range got {
		count[rowKey(r, all)]++
	}
	var missing [][]*string
	for _, r := range want {
		k := rowKey(r, all)
		if count[k] > 0 {
			count[k]--
		} else {
			missing = append(missing, r)
		}
	}
	var unexpected [][]*string
	for _, r := range got {
		k := rowKey(r, all)
		if count[k] > 0 {
			count[k]--
			unexpected = append(unexpected, r)
		}
	}
	var lines, changed []string
	if keyIdx != nil {
		byKey := map[string][][]*string{}
		for _, r := range unexpected {
			byKey[rowKey(r, keyIdx)] = append(byKey[rowKey(r, keyIdx)], r)
		}
		var rest [][]*string
		for _, w := range missing {
			k := rowKey(w, keyIdx)
			if len(byKey[k]) == 0 {
				rest = append(rest, w)
				continue
			}
			g := byKey[k][0]
			byKey[k] = byKey[k][1:]
			var diffs []string
			for i := range cols {
				if rowKey(w, []int{i}) != rowKey(g, []int{i}) {
					d := fmt.Sprintf("%s: expected %s, got %s", cols[i], show(w, i), show(g, i))
					if show(w, i) == show(g, i) {
						d += " (they differ)"
					}
					diffs = append(diffs, d)
				}
			}
			changed = append(changed, fmt.Sprintf("  ~ %s: %s", render(w, keyIdx), strings.Join(diffs, ", ")))
		}
		missing = rest
		unexpected = nil
		for _, k := range slices.Sorted(maps.Keys(byKey)) {
			unexpected = append(unexpected, byKey[k]...)
		}
	}
	var gone, extra []string
	for _, r := range missing {
		gone = append(gone, "  - missing:    "+render(r, all))
	}
	for _, r := range unexpected {
		extra = append(extra, "  + unexpected: "+render(r, all))
	}
	// Values that differ, then missing rows, then unexpected ones.
	for _, group := range [][]string{changed, gone, extra} {
		slices.Sort(group)
		lines = append(lines, group...)
	}
	if len(lines) > maxShown {
		lines = append(lines[:maxShown], fmt.Sprintf("  ... and %d more", len(lines)-maxShown))
	}
	return lines
}

// inputFunction is how a column's type reads text: its input function
// (qualified as it must be), how many arguments it takes, the type OID it
// is given (the element type's for an array) and the column's type
// modifier, when the function takes them: enum_in takes the text and the
// type (2), array_in, numeric_in, varcharin and the like the modifier too
// (3), most functions the text alone (1).
type inputFunction struct {
	name    string
	nargs   int
	ioParam uint32
	typmod  int32
}

// convert converts expr, text, to the column's type as a write of it would
// (modifier included) and back to the type's text.
func (f inputFunction) convert(expr string) string {
	switch {
	case f.nargs >= 3:
		return fmt.Sprintf("CAST(%s(CAST(%s AS cstring), %d, %d) AS text)", f.name, expr, f.ioParam, f.typmod)
	case f.nargs == 2:
		return fmt.Sprintf("CAST(%s(CAST(%s AS cstring), %d) AS text)", f.name, expr, f.ioParam)
	}
	return fmt.Sprintf("CAST(%s(CAST(%s AS cstring)) AS text)", f.name, expr)
}

// inputFunctions reads the input function of each column of table t, by
// column name; nil when there is no such table.
func inputFunctions(ctx context.Context, conn *pgx.Conn, t hclconfig.TableName) (map[string]inputFunction, error) {
	if exists, err := tableExists(ctx, conn, t); err != nil || !exists {
		return nil, err
	}
	rows, err := conn.Query(ctx, `SELECT a.attname, ty.typinput::regproc::text, p.pronargs::int,
  CASE WHEN ty.typelem <> 0 THEN ty.typelem ELSE ty.oid END, a.atttypmod
FROM pg_attribute a JOIN pg_type ty ON ty.oid = a.atttypid JOIN pg_proc p ON p.oid = ty.typinput
WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped`, ident(t))
	if err != nil {
		return nil, err
	}
	out := map[string]inputFunction{}
	for rows.Next() {
		var name string
		var f inputFunction
		if err := rows.Scan(&name, &f.name, &f.nargs, &f.ioParam, &f.typmod); err != nil {
			rows.Close()
			return nil, err
		}
		out[name] = f
	}
	return out, rows.Err()
}
