package catalog

import (
	"context"
	"fmt"
	"strings"

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
	var out []MissingPrivilege
	roleIdent := pgx.Identifier{role}.Sanitize()
	var usage bool
	if err := q.QueryRow(ctx, `SELECT has_schema_privilege($1, 'USAGE')`, t.Schema).Scan(&usage); err != nil {
		return nil, fmt.Errorf("checking USAGE on schema %s: %w", t.Schema, err)
	}
	if !usage {
		out = append(out, MissingPrivilege{
			Privilege: "USAGE", Object: fmt.Sprintf("schema %q", t.Schema),
			Fix: fmt.Sprintf("GRANT USAGE ON SCHEMA %s TO %s;", pgx.Identifier{t.Schema}.Sanitize(), roleIdent),
		})
	}
	for _, p := range []struct {
		name string
		cols []string
	}{{"SELECT", need.Select}, {"INSERT", need.Insert}, {"UPDATE", need.Update}} {
		if len(p.cols) == 0 {
			continue
		}
		var lacking []string
		for _, c := range p.cols {
			var ok bool
			if err := q.QueryRow(ctx, `SELECT has_column_privilege($1::oid, $2::text, $3::text)`, t.OID, c, p.name).Scan(&ok); err != nil {
				return nil, fmt.Errorf("checking %s on %s.%s: %w", p.name, t.Schema, t.Name, err)
			}
			if !ok {
				lacking = append(lacking, c)
			}
		}
		if len(lacking) == 0 {
			continue
		}
		m := MissingPrivilege{Privilege: p.name, Object: t.Schema + "." + t.Name}
		if len(lacking) == len(p.cols) {
			m.Fix = fmt.Sprintf("GRANT %s ON %s TO %s;", p.name, t.Ident(), roleIdent)
		} else {
			m.Columns = lacking
			m.Fix = fmt.Sprintf("GRANT %s (%s) ON %s TO %s;", p.name, IdentList(lacking), t.Ident(), roleIdent)
		}
		out = append(out, m)
	}
	if need.Delete {
		var ok bool
		if err := q.QueryRow(ctx, `SELECT has_table_privilege($1::oid, 'DELETE')`, t.OID).Scan(&ok); err != nil {
			return nil, fmt.Errorf("checking DELETE on %s.%s: %w", t.Schema, t.Name, err)
		}
		if !ok {
			out = append(out, MissingPrivilege{
				Privilege: "DELETE", Object: t.Schema + "." + t.Name,
				Fix: fmt.Sprintf("GRANT DELETE ON %s TO %s;", t.Ident(), roleIdent),
			})
		}
	}
	if len(need.Defaults) > 0 {
		rows, err := q.Query(ctx, `
SELECT DISTINCT c.oid::regclass::text, has_sequence_privilege(c.oid, 'USAGE,UPDATE')
FROM pg_attrdef ad
JOIN pg_attribute a ON a.attrelid = ad.adrelid AND a.attnum = ad.adnum
JOIN pg_depend d ON d.classid = 'pg_attrdef'::regclass AND d.objid = ad.oid AND d.refclassid = 'pg_class'::regclass
JOIN pg_class c ON c.oid = d.refobjid AND c.relkind = 'S'
WHERE ad.adrelid = $1 AND a.attname = ANY($2)
ORDER BY 1`, t.OID, need.Defaults)
		if err != nil {
			return nil, fmt.Errorf("checking the sequences of %s.%s: %w", t.Schema, t.Name, err)
		}
		for rows.Next() {
			var seq string
			var ok bool
			if err := rows.Scan(&seq, &ok); err != nil {
				rows.Close()
				return nil, err
			}
			if !ok {
				out = append(out, MissingPrivilege{
					Privilege: "USAGE", Object: "sequence " + seq,
					Fix: fmt.Sprintf("GRANT USAGE ON SEQUENCE %s TO %s;", seq, roleIdent),
				})
			}
		}
		if err := rows.Err(); err != nil {
			return nil, err
		}
	}
	if need.Temp {
		var ok bool
		var db string
		if err := q.QueryRow(ctx, `SELECT has_database_privilege(current_database(), 'TEMPORARY'), current_database()::text`).Scan(&ok, &db); err != nil {
			return nil, fmt.Errorf("checking TEMPORARY on the database: %w", err)
		}
		if !ok {
			out = append(out, MissingPrivilege{
				Privilege: "TEMPORARY", Object: fmt.Sprintf("database %q", db),
				Fix: fmt.Sprintf("GRANT TEMPORARY ON DATABASE %s TO %s;", pgx.Identifier{db}.Sanitize(), roleIdent),
			})
		}
	}
	return out, nil
}

// IdentList quotes and joins column names for SQL: "a", "b".
func IdentList(cols []string) string {
	q := make([]string, len(cols))
	for i, c := range cols {
		q[i] = pgx.Identifier{c}.Sanitize()
	}
	return strings.Join(q, ", ")
}
