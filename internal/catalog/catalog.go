// Package catalog reads what rowform needs to know about a destination table
// from PostgreSQL's system catalogs: its columns and types, the unique keys
// that can identify a row, and what the connected role may do with it.
//
// Every function only reads; none writes to the database.
package catalog

import (
	"context"
	"fmt"
	"sort"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// Querier is the part of *pgx.Conn and pgx.Tx this package uses.
type Querier interface {
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

// Table describes a table as the catalog has it.
type Table struct {
	// Schema and Name are the table's, unquoted; OID its pg_class oid.
	Schema string
	Name   string
	OID    uint32
	// Kind is pg_class.relkind: 'r' table, 'p' partitioned table, 'v' view, ...
	Kind  string
	Owner string
	// Columns in attnum order, dropped columns excluded.
	Columns []Column
	// UniqueKeys are the primary key, unique constraints and unique indexes
	// that are neither partial nor on expressions.
	UniqueKeys []UniqueKey
	// UnusableKeys are the unique indexes that cannot serve as a sync's
	// key, each with why (partial, on expressions, deferrable, invalid).
	UnusableKeys []UnusableKey
}

// UnusableKey is a unique index that cannot serve as a sync's key.
type UnusableKey struct {
	Name string
	// Why is what makes it unusable, e.g. "partial: WHERE (id > 0)".
	Why string
}

// Column is one column of a table.
type Column struct {
	// Name is the column's name; TypeOID its type's oid (a domain's own,
	// not its base type's: BaseTypeOID).
	Name    string
	TypeOID uint32
	// Type is format_type(atttypid, atttypmod), e.g. "numeric(10,2)".
	Type string
	// TypeNoMod is the type without its modifier, e.g. "numeric".
	TypeNoMod string
	// TypeMod is pg_attribute.atttypmod: -1 when the type has no modifier;
	// for varchar(n) and char(n) it is n+4, for bit(n) and varbit(n) n, for
	// numeric(p,s) ((p << 16) | (s & 0x7ff)) + 4.
	TypeMod int32
	// BaseTypeOID is the type behind a domain (behind every level of a
	// domain over a domain), else TypeOID.
	BaseTypeOID uint32
	// BaseTypeName is the unqualified name (pg_type.typname) of the type
	// BaseTypeOID is, e.g. "numeric", "bpchar" or "citext".
	BaseTypeName string
	// BaseType is the type behind a domain with the modifier the domain
	// gives it, as format_type writes it ("numeric(10,2)"); the column's
	// type for a column of no domain.
	BaseType string
	// NotNull: the column is NOT NULL.
	NotNull bool
	// DomainNotNull: its type is a domain that is NOT NULL (at any level
	// of a domain over a domain). A NULL is refused as by NOT NULL,
	// except where COPY leaves the column out without a default: then
	// it stores NULL without a word, so rowform must not leave it out.
	DomainNotNull bool
	// HasDefault: the column has a default, or its domain has one (the
	// nearest level's), which an insert that leaves the column out takes.
	HasDefault bool
	// Identity is "a" (always), "d" (by default) or "".
	Identity string
	// Generated is "s" for a stored generated column, else "".
	Generated string
	// Collation is the column's collation name, "" for non-collatable types.
	Collation string
	// NondeterministicCollation: the column's collation is nondeterministic
	// (CREATE COLLATION ... deterministic = false), so values with different
	// bytes may be equal.
	NondeterministicCollation bool
	// CollationIdent is the column's collation as SQL names it, schema
	// qualified and quoted ("pg_catalog"."C"), "" for non-collatable types.
	CollationIdent string
}

// Filled reports whether PostgreSQL fills the column on INSERT when it is
// left out: a default, an identity or a generated column.
func (c Column) Filled() bool { return c.HasDefault || c.Identity != "" || c.Generated != "" }

// NeedsValue reports whether an INSERT that leaves the column out fails
// (or, through COPY and a NOT NULL domain, stores a NULL the domain
// forbids): it is NOT NULL, or of a NOT NULL domain, and nothing fills it.
func (c Column) NeedsValue() bool { return (c.NotNull || c.DomainNotNull) && !c.Filled() }

// IsDomain reports whether the column's type is a domain.
func (c Column) IsDomain() bool { return c.BaseTypeOID != 0 && c.BaseTypeOID != c.TypeOID }

// UniqueKey is a set of columns that PostgreSQL keeps unique.
type UniqueKey struct {
	// Name of the constraint or index.
	Name string
	// Kind is "primary key", "unique constraint" or "unique index".
	Kind    string
	Columns []string
	// NullsDistinct is false for UNIQUE NULLS NOT DISTINCT (PostgreSQL 15+).
	NullsDistinct bool
	// NondeterministicColumns lists the columns the key compares under a
	// nondeterministic collation (the index's, which may differ from the
	// column's).
	NondeterministicColumns []string
}

// Column returns the named column, or nil.
func (t *Table) Column(name string) *Column {
	for i := range t.Columns {
		if t.Columns[i].Name == name {
			return &t.Columns[i]
		}
	}
	return nil
}

// ColumnNames returns the names of the columns in order.
func (t *Table) ColumnNames() []string {
	out := make([]string, len(t.Columns))
	for i, c := range t.Columns {
		out[i] = c.Name
	}
	return out
}

// UniqueKeyOn returns a unique key whose columns are exactly cols (in any
// order), or nil.
func (t *Table) UniqueKeyOn(cols []string) *UniqueKey {
	want := sortedCopy(cols)
	for i := range t.UniqueKeys {
		got := sortedCopy(t.UniqueKeys[i].Columns)
		if strings.Join(got, "\x00") == strings.Join(want, "\x00") {
			return &t.UniqueKeys[i]
		}
	}
	return nil
}

// InPrimaryKey reports whether col is one of the primary key's columns.
func (t *Table) InPrimaryKey(col string) bool {
	for _, k := range t.UniqueKeys {
		if k.Kind != "primary key" {
			continue
		}
		for _, c := range k.Columns {
			if c == col {
				return true
			}
		}
	}
	return false
}

func sortedCopy(s []string) []string {
	c := append([]string(nil), s...)
	sort.Strings(c)
	return c
}

// Ident quotes a table name for SQL: "schema"."name".
func (t *Table) Ident() string { return pgx.Identifier{t.Schema, t.Name}.Sanitize() }

// LoadTable reads schema.name from the catalog. It returns (nil, nil) when
// there is no such table (or the role cannot see it).
func LoadTable(ctx context.Context, q Querier, schema, name string) (*Table, error) {
	t := &Table{Schema: schema, Name: name}
	err := q.QueryRow(ctx, `
SELECT c.oid, c.relkind::text, pg_get_userbyid(c.relowner)
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE n.nspname = $1 AND c.relname = $2`, schema, name).Scan(&t.OID, &t.Kind, &t.Owner)
	if err == pgx.ErrNoRows {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("reading the catalog entry of %s.%s: %w", schema, name, err)
	}
	rows, err := q.Query(ctx, `
SELECT a.attname, a.atttypid, format_type(a.atttypid, a.atttypmod), format_type(a.atttypid, NULL), a.atttypmod,
       base.oid, base.typname::text, base.formatted,
       a.attnotnull, base.notnull, a.atthasdef OR base.hasdef, a.attidentity::text, a.attgenerated::text,
       COALESCE(co.collname, ''), NOT COALESCE(co.collisdeterministic, true),
       COALESCE(quote_ident(cn.nspname) || '.' || quote_ident(co.collname), '')
FROM pg_attribute a
JOIN pg_type t ON t.oid = a.atttypid
CROSS JOIN LATERAL (
  WITH RECURSIVE d(oid, typname, typbasetype, typnotnull, hasdef, typmod, depth) AS (
    SELECT t.oid, t.typname, t.typbasetype, t.typnotnull, t.typtype = 'd' AND t.typdefaultbin IS NOT NULL, CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END, 0
    UNION ALL
    SELECT b.oid, b.typname, b.typbasetype, b.typnotnull, b.typtype = 'd' AND b.typdefaultbin IS NOT NULL, CASE WHEN b.typtype = 'd' THEN b.typtypmod ELSE -1 END, d.depth + 1
    FROM d JOIN pg_type b ON b.oid = d.typbasetype
  )
  SELECT (SELECT d.oid FROM d ORDER BY d.depth DESC LIMIT 1) AS oid,
         format_type((SELECT d.oid FROM d ORDER BY d.depth DESC LIMIT 1),
                     coalesce((SELECT d.typmod FROM d WHERE d.typmod <> -1 ORDER BY d.depth LIMIT 1), -1)) AS formatted,
         (SELECT d.typname FROM d ORDER BY d.depth DESC LIMIT 1) AS typname,
         (SELECT bool_or(d.typnotnull) FROM d) AS notnull,
         (SELECT bool_or(d.hasdef) FROM d) AS hasdef) AS base
LEFT JOIN pg_collation co ON co.oid = a.attcollation AND a.attcollation <> 0
LEFT JOIN pg_namespace cn ON cn.oid = co.collnamespace
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
ORDER BY a.attnum`, t.OID)
	if err != nil {
		return nil, fmt.Errorf("reading the columns of %s.%s: %w", schema, name, err)
	}
	for rows.Next() {
		var c Column
		if err := rows.Scan(&c.Name, &c.TypeOID, &c.Type, &c.TypeNoMod, &c.TypeMod, &c.BaseTypeOID, &c.BaseTypeName, &c.BaseType, &c.NotNull, &c.DomainNotNull, &c.HasDefault, &c.Identity, &c.Generated, &c.Collation, &c.NondeterministicCollation, &c.CollationIdent); err != nil {
			rows.Close()
			return nil, err
		}
		t.Columns = append(t.Columns, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the columns of %s.%s: %w", schema, name, err)
	}
	rows, err = q.Query(ctx, `
SELECT COALESCE(con.conname, ic.relname),
       CASE WHEN i.indisprimary THEN 'primary key'
            WHEN con.oid IS NOT NULL THEN 'unique constraint'
            ELSE 'unique index' END,
       ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             ORDER BY k.ord)::text[],
       i.indnkeyatts,
       NOT COALESCE(i.indnullsnotdistinct, false),
       ARRAY(SELECT a.attname FROM unnest(i.indkey::int2[], i.indcollation::oid[]) k(attnum, coll)
             JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
             JOIN pg_collation co ON co.oid = k.coll
             WHERE NOT co.collisdeterministic)::text[],
       CASE WHEN NOT i.indisvalid THEN 'invalid (a CREATE INDEX CONCURRENTLY that failed): drop it and create it again'
            WHEN i.indpred IS NOT NULL THEN 'partial: WHERE ' || pg_get_expr(i.indpred, i.indrelid)
            WHEN i.indexprs IS NOT NULL THEN 'on expressions: ' || pg_get_indexdef(i.indexrelid)
            WHEN NOT i.indimmediate THEN 'deferrable'
            ELSE '' END
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u')
WHERE i.indrelid = $1 AND i.indisunique
ORDER BY i.indisprimary DESC, 1`, t.OID)
	if err != nil {
		return nil, fmt.Errorf("reading the unique keys of %s.%s: %w", schema, name, err)
	}
	for rows.Next() {
		var k UniqueKey
		var nkey int
		var unusable string
		if err := rows.Scan(&k.Name, &k.Kind, &k.Columns, &nkey, &k.NullsDistinct, &k.NondeterministicColumns, &unusable); err != nil {
			rows.Close()
			return nil, err
		}
		if unusable != "" {
			t.UnusableKeys = append(t.UnusableKeys, UnusableKey{Name: k.Name, Why: unusable})
			continue
		}
		if nkey < len(k.Columns) { // INCLUDE columns are not part of the key
			k.Columns = k.Columns[:nkey]
		}
		t.UniqueKeys = append(t.UniqueKeys, k)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the unique keys of %s.%s: %w", schema, name, err)
	}
	return t, nil
}

// TableNames returns "schema.name" of up to limit tables (plain and
// partitioned, outside the system schemas) in name order, for suggesting
// the one a misspelt name meant.
func TableNames(ctx context.Context, q Querier, limit int) ([]string, error) {
	rows, err := q.Query(ctx, `
SELECT n.nspname || '.' || c.relname
FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
WHERE c.relkind IN ('r', 'p') AND NOT c.relispartition
  AND n.nspname NOT IN ('pg_catalog', 'information_schema') AND n.nspname NOT LIKE 'pg\_%'
ORDER BY 1 LIMIT $1`, limit)
	if err != nil {
		return nil, err
	}
	return pgx.CollectRows(rows, pgx.RowTo[string])
}

// CurrentRole returns the role the connection acts as.
func CurrentRole(ctx context.Context, q Querier) (string, error) {
	var r string
	err := q.QueryRow(ctx, `SELECT current_user::text`).Scan(&r)
	return r, err
}

// EstimateRows is the server's estimate of table's rows: pg_class.reltuples
// of the table, or of its partitions' for a partitioned table; 0 when it was
// never analyzed.
func EstimateRows(ctx context.Context, q Querier, table uint32) (float64, error) {
	var rows float64
	err := q.QueryRow(ctx, `
WITH rels AS (SELECT $1::oid AS relid UNION SELECT relid FROM pg_partition_tree($1::oid::regclass))
SELECT coalesce(sum(greatest(c.reltuples, 0)) FILTER (WHERE c.relkind = 'r'), 0)::float8
FROM rels JOIN pg_class c ON c.oid = rels.relid`, table).Scan(&rows)
	return rows, err
}
