package planner

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
)

// inheritance refuses a destination table with inheritance children
// (INHERITS, not partitions): its primary key and unique constraints hold
// in the table alone, not across its children, while reading it reads the
// children's rows too, and an UPDATE or DELETE of it writes them, so the
// plan would match keys that are not unique and count rows apply does not
// write as planned.
func (st *preparation) inheritance() {
	t := st.t
	if t.Kind == "p" {
		return // partitions share the partitioned table's keys
	}
	children, ok := st.catalogNames("the table's inheritance children", `SELECT i.inhrelid::regclass::text FROM pg_inherits i WHERE i.inhparent = $1 ORDER BY 1`)
	if !ok || len(children) == 0 {
		return
	}
	var fix []string
	for _, c := range children {
		fix = append(fix, fmt.Sprintf("ALTER TABLE %s NO INHERIT %s;", c, t.Ident()))
	}
	st.blocked = true
	st.add(Finding{Severity: SeverityError, Code: CodeMissingUniqueConstraint,
		Summary: fmt.Sprintf("%s has inheritance children (%s): its keys are unique in the table alone, not across them, and reading or writing it reads and writes their rows too", st.s.Table.String(), strings.Join(children, ", ")),
		Detail:  "A child may hold a row of the same key as the table, which rowform would read as a duplicate and update or delete together with it. Sync into a table without children (each child is a table of its own), or detach them (the fix).",
		Fix:     strings.Join(fix, "\n")})
}

// rowSecurity refuses a destination table whose row-level security binds
// the role (it is enabled, and the role neither owns the table, unless
// FORCE ROW LEVEL SECURITY, nor has BYPASSRLS) unless its policies let the
// role read and write every row as the sync needs: a permissive policy of
// the role (or PUBLIC) for each command, USING (true) and WITH CHECK
// (true), and no restrictive one. Other policies hide rows from the diff,
// which would plan inserts of rows that exist, or make apply's writes
// touch fewer rows than planned.
func (st *preparation) rowSecurity() {
	s, t := st.s, st.t
	var binds bool
	err := st.dst.QueryRow(st.ctx, `
SELECT c.relrowsecurity AND NOT r.rolsuper AND NOT r.rolbypassrls
       AND (c.relforcerowsecurity OR NOT pg_has_role(c.relowner, 'USAGE'))
FROM pg_class c, pg_roles r WHERE c.oid = $1 AND r.rolname = current_user`, t.OID).Scan(&binds)
	if err != nil {
		st.add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: "reading the table's row-level security: " + describeError(err)})
		return
	}
	if !binds {
		return
	}
	st.p.rowSecurity = true
	cmds := []string{"SELECT"}
	if s.Behavior.Inserts() {
		cmds = append(cmds, "INSERT")
	}
	if s.Behavior.Updates() {
		cmds = append(cmds, "UPDATE")
	}
	if s.Behavior.Deletes() {
		cmds = append(cmds, "DELETE")
	}
	// For each command: whether a permissive policy of the role lets it
	// see and write every row, and whether a restrictive policy of the
	// role applies to it.
	rows, err := st.dst.Query(st.ctx, `
WITH p AS (
  SELECT CASE p.polcmd WHEN 'r' THEN 'SELECT' WHEN 'a' THEN 'INSERT' WHEN 'w' THEN 'UPDATE' WHEN 'd' THEN 'DELETE' ELSE '*' END AS cmd,
         p.polpermissive AS permissive,
         coalesce(pg_get_expr(p.polqual, p.polrelid), 'true') = 'true' AS all_rows,
         coalesce(pg_get_expr(p.polwithcheck, p.polrelid), pg_get_expr(p.polqual, p.polrelid), 'true') = 'true' AS all_writes
  FROM pg_policy p
  WHERE p.polrelid = $1 AND EXISTS (SELECT 1 FROM unnest(p.polroles) AS r(oid) WHERE r.oid = 0 OR pg_has_role(r.oid, 'USAGE'))
)
SELECT c.cmd,
       EXISTS (SELECT 1 FROM p WHERE p.permissive AND p.cmd IN (c.cmd, '*') AND p.all_rows AND (c.cmd NOT IN ('INSERT', 'UPDATE') OR p.all_writes)),
       EXISTS (SELECT 1 FROM p WHERE NOT p.permissive AND p.cmd IN (c.cmd, '*') AND NOT (p.all_rows AND p.all_writes))
FROM unnest($2::text[]) AS c(cmd)`, t.OID, cmds)
	if err != nil {
		st.add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: "reading the table's row-level security policies: " + describeError(err)})
		return
	}
	var limited []string
	var restrictive bool
	for rows.Next() {
		var cmd string
		var open, restricted bool
		if err := rows.Scan(&cmd, &open, &restricted); err != nil {
			rows.Close()
			st.add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: "reading the table's row-level security policies: " + describeError(err)})
			return
		}
		if !open || restricted {
			limited = append(limited, cmd)
		}
		restrictive = restrictive || restricted
	}
	if err := rows.Err(); err != nil {
		st.add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: "reading the table's row-level security policies: " + describeError(err)})
		return
	}
	if len(limited) == 0 {
		return
	}
	if limited[0] == "SELECT" {
		st.blocked = true // the diff would read only the rows the policies show
	}
	role := pgx.Identifier{st.p.Role}.Sanitize()
	fix := fmt.Sprintf("CREATE POLICY rowform_sync ON %s AS PERMISSIVE FOR ALL TO %s USING (true) WITH CHECK (true);", t.Ident(), role)
	if restrictive {
		// A permissive policy cannot lift a restrictive one.
		fix = fmt.Sprintf("ALTER ROLE %s BYPASSRLS;", role)
	}
	st.add(Finding{Severity: SeverityError, Code: CodeMissingPrivilege,
		Summary: fmt.Sprintf("row-level security on %s limits the rows role %q may %s", s.Table.String(), st.p.Role, strings.ToLower(strings.Join(limited, ", "))),
		Detail: "The table's policies decide row by row what the role sees and writes; the plan cannot tell which rows they hide or refuse, so a hidden row would be planned as an insert the key refuses, and a refused write would fail the apply. " +
			"Give the role a policy over every row (the fix, run by the table's owner), or BYPASSRLS (ALTER ROLE ... BYPASSRLS, by a superuser), or apply as the table's owner.",
		Fix: fix})
}

// CodeRewriteRules: the destination table has rewrite rules (CREATE RULE),
// which the plan cannot foresee and apply's COPY would not fire.
const CodeRewriteRules Code = "rewrite_rules"

// rewriteRules refuses a destination table with enabled rewrite rules on
// INSERT, UPDATE or DELETE: a rule can replace or add to each write (a
// DELETE of other rows, an INSERT elsewhere), which no check of the plan
// sees, and apply inserts with COPY, which rules do not fire for, so the
// same sync would run a rule on some writes and not on others.
func (st *preparation) rewriteRules() {
	names, ok := st.catalogNames("the table's rules", `
SELECT r.rulename::text FROM pg_rewrite r
WHERE r.ev_class = $1 AND r.rulename <> '_RETURN' AND r.ev_enabled <> 'D' AND r.ev_type IN ('2', '3', '4')
ORDER BY 1`)
	if !ok || len(names) == 0 {
		return
	}
	var fix []string
	for _, n := range names {
		fix = append(fix, fmt.Sprintf("DROP RULE %s ON %s;", pgx.Identifier{n}.Sanitize(), st.t.Ident()))
	}
	st.add(Finding{Severity: SeverityError, Code: CodeRewriteRules,
		Summary: fmt.Sprintf("%s has rewrite rules (%s): rowform cannot foresee what they do to its writes", st.s.Table.String(), strings.Join(names, ", ")),
		Detail:  "A rule may replace a write or add others (delete other rows, write other tables), which the plan would not show, and COPY, which apply inserts with, does not fire rules at all. Drop the rules (the fix), or replace them with triggers, which the plan lists and apply fires for every write.",
		Fix:     strings.Join(fix, "\n")})
}

// catalogNames runs sql, a catalog query of one text column with the
// table's OID as $1, and returns its rows; a failure is the finding
// connection_failed about what it reads, and false.
func (st *preparation) catalogNames(what, sql string) ([]string, bool) {
	rows, err := st.dst.Query(st.ctx, sql, st.t.OID)
	if err == nil {
		var names []string
		if names, err = pgx.CollectRows(rows, pgx.RowTo[string]); err == nil {
			return names, true
		}
	}
	st.add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: "reading " + what + ": " + describeError(err)})
	return nil, false
}
