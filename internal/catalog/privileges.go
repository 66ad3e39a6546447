package catalog

import (
	"context"
	"fmt"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5"
)

// Need lists the privileges a sync needs on its destination table.
type Need struct {
	// Select, Insert and Update list the columns each privilege is needed on
	// (a table-level grant covers them all). Empty means not needed.
	Select []string
	Insert []string
	Update []string
	// Delete is table-level.
	Delete bool
	// Temp is the database-level TEMPORARY privilege, needed for the
	// staging tables apply writes the change set into.
	Temp bool
	// Defaults lists columns whose defaults inserts will evaluate: the
	// sequences those defaults call need USAGE.
	Defaults []string
}

// MissingPrivilege is a privilege the role lacks, with the GRANT that
// gives it.
type MissingPrivilege struct {
	// Privilege is "USAGE", "SELECT", "INSERT", "UPDATE", "DELETE" or "TEMPORARY".
	Privilege string
	// Object is what it is missing on, for messages: `schema "public"`,
	// "public.users", `database "crm"`.
	Object string
	// Columns lists the columns it is missing on; nil when missing on the
	// whole object.
	Columns []string
	// Fix is the GRANT statement that, run by the owner, gives it.
	Fix string
}

// MissingPrivileges checks what role may do on t against need. It reads
// privileges through has_*_privilege, so column-level grants count.
func MissingPrivileges(ctx context.Context, q Querier, t *Table, role string, need Need) ([]MissingPrivilege, error) {
	c := privilegeCheck{ctx: ctx, q: q, t: t, roleIdent: pgx.Identifier{role}.Sanitize()}
	stages := []func() error{c.schemaUsage}
	for _, p := range []struct {
		name string
		cols []string
	}{{"SELECT", need.Select}, {"INSERT", need.Insert}, {"UPDATE", need.Update}} {
		stages = append(stages, func() error { return c.columns(p.name, p.cols) })
	}
	if need.Delete {
		stages = append(stages, c.tableDelete)
	}
	if len(need.Defaults) > 0 {
		stages = append(stages, func() error { return c.sequences(need.Defaults) })
	}
	if need.Temp {
		stages = append(stages, c.temporary)
	}
	for _, stage := range stages {
		if err := stage(); err != nil {
			return nil, err
		}
	}
	return c.out, nil
}

// privilegeCheck is the state of one MissingPrivileges: each stage adds
// what it finds missing to out, in the order the stages run.
type privilegeCheck struct {
	ctx       context.Context
	q         Querier
	t         *Table
	roleIdent string
	out       []MissingPrivilege
}

// schemaUsage checks USAGE on the table's schema.
func (c *privilegeCheck) schemaUsage() error {
	t := c.t
	var usage bool
	if err := c.q.QueryRow(c.ctx, `SELECT has_schema_privilege($1, 'USAGE')`, t.Schema).Scan(&usage); err != nil {
		return fmt.Errorf("checking USAGE on schema %s: %w", t.Schema, err)
	}
	if !usage {
		c.out = append(c.out, MissingPrivilege{
			Privilege: "USAGE", Object: fmt.Sprintf("schema %q", t.Schema),
			Fix: fmt.Sprintf("GRANT USAGE ON SCHEMA %s TO %s;", pgx.Identifier{t.Schema}.Sanitize(), c.roleIdent),
		})
	}
	return nil
}

// columns checks privilege on each of cols: one MissingPrivilege for the
// table when every column lacks it, else one naming the columns.
func (c *privilegeCheck) columns(privilege string, cols []string) error {
	t := c.t
	if len(cols) == 0 {
		return nil
	}
	var lacking []string
	for _, col := range cols {
		var ok bool
		if err := c.q.QueryRow(c.ctx, `SELECT has_column_privilege($1::oid, $2::text, $3::text)`, t.OID, col, privilege).Scan(&ok); err != nil {
			return fmt.Errorf("checking %s on %s.%s: %w", privilege, t.Schema, t.Name, err)
		}
		if !ok {
			lacking = append(lacking, col)
		}
	}
	if len(lacking) == 0 {
		return nil
	}
	m := MissingPrivilege{Privilege: privilege, Object: t.Schema + "." + t.Name}
	if len(lacking) == len(cols) {
		m.Fix = fmt.Sprintf("GRANT %s ON %s TO %s;", privilege, t.Ident(), c.roleIdent)
	} else {
		m.Columns = lacking
		m.Fix = fmt.Sprintf("GRANT %s (%s) ON %s TO %s;", privilege, IdentList(lacking), t.Ident(), c.roleIdent)
	}
	c.out = append(c.out, m)
	return nil
}

// tableDelete checks DELETE on the table.
func (c *privilegeCheck) tableDelete() error {
	t := c.t
	var ok bool
	if err := c.q.QueryRow(c.ctx, `SELECT has_table_privilege($1::oid, 'DELETE')`, t.OID).Scan(&ok); err != nil {
		return fmt.Errorf("checking DELETE on %s.%s: %w", t.Schema, t.Name, err)
	}
	if !ok {
		c.out = append(c.out, MissingPrivilege{
			Privilege: "DELETE", Object: t.Schema + "." + t.Name,
			Fix: fmt.Sprintf("GRANT DELETE ON %s TO %s;", t.Ident(), c.roleIdent),
		})
	}
	return nil
}

// sequences checks USAGE and UPDATE on the sequences behind the defaults
// of the columns defaults (which inserts leave to their defaults).
func (c *privilegeCheck) sequences(defaults []string) error {
	t := c.t
	rows, err := c.q.Query(c.ctx, `
SELECT DISTINCT c.oid::regclass::text, has_sequence_privilege(c.oid, 'USAGE,UPDATE')
FROM pg_attrdef ad
JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass
JOIN pg_class c ON c.oid = d.refobjid AND c.relkind = 'S'
WHERE ad.adrelid = $1 AND a.attname = ANY($2)
ORDER BY 1`, t.OID, defaults)
	if err != nil {
		return fmt.Errorf("checking the sequences of %s.%s: %w", t.Schema, t.Name, err)
	}
	for rows.Next() {
		var seq string
		var ok bool
		if err := rows.Scan(&seq, &ok); err != nil {
			rows.Close()
			return err
		}
		if !ok {
			c.out = append(c.out, MissingPrivilege{
				Privilege: "USAGE", Object: "sequence " + seq,
				Fix: fmt.Sprintf("GRANT USAGE ON SEQUENCE %s TO %s;", seq, c.roleIdent),
			})
		}
	}
	return rows.Err()
}

// temporary checks TEMPORARY on the database (staging tables).
func (c *privilegeCheck) temporary() error {
	var ok bool
	var db string
	if err := c.q.QueryRow(c.ctx, `SELECT has_database_privilege(current_database(), 'TEMPORARY'), current_database()::text`).Scan(&ok, &db); err != nil {
		return fmt.Errorf("checking TEMPORARY on the database: %w", err)
	}
	if !ok {
		c.out = append(c.out, MissingPrivilege{
			Privilege: "TEMPORARY", Object: fmt.Sprintf("database %q", db),
			Fix: fmt.Sprintf("GRANT TEMPORARY ON DATABASE %s TO %s;", pgx.Identifier{db}.Sanitize(), c.roleIdent),
		})
	}
	return nil
}

// VisibleIdent quotes an identifier, of parts joined by dots, for SQL that
// people read (a finding's fix) as pgx.Identifier.Sanitize quotes it, but
// a part with a character that prints as nothing or as a blank (a
// zero-width space, a byte order mark, a bidirectional or other control,
// a space other than ' ') in PostgreSQL's U&"..." form, which spells each
// such character as \XXXX or \+XXXXXX: "public".U&"email\200B". So
// the SQL shows the name it runs on and still runs as written.
func VisibleIdent(parts ...string) string {
	q := make([]string, len(parts))
	for i, part := range parts {
		part = strings.ReplaceAll(part, "\x00", "") // as Sanitize: no name holds one
		if !HasInvisible(part) {
			q[i] = pgx.Identifier{part}.Sanitize()
			continue
		}
		var b strings.Builder
		b.WriteString(`U&"`)
		for _, r := range part {
			switch {
			case r == '"':
				b.WriteString(`""`)
			case r == '\\':
				b.WriteString(`\\`)
			case isInvisible(r) && r > 0xffff:
				fmt.Fprintf(&b, `\+%06X`, r)
			case isInvisible(r):
				fmt.Fprintf(&b, `\%04X`, r)
			default:
				b.WriteRune(r)
			}
		}
		b.WriteByte('"')
		q[i] = b.String()
	}
	return strings.Join(q, ".")
}

// isInvisible reports whether r prints as nothing or as a blank other
// than ' ' (it is not unicode.IsPrint).
func isInvisible(r rune) bool { return !unicode.IsPrint(r) }

// HasInvisible reports whether name holds a character that prints as
// nothing or as a blank other than ' ': one that VisibleIdent spells in
// U&"..." form, and that a name shown to a reader must be escaped for.
func HasInvisible(name string) bool { return strings.IndexFunc(name, isInvisible) >= 0 }

// IdentList quotes and joins column names for SQL: "a", "b".
func IdentList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = pgx.Identifier{c}.Sanitize()
	}
	return strings.Join(q, ", ")
}
