package catalog

import (
	"context"
	"fmt"
)

// Rules are a table's constraints, unique indexes, foreign keys and
// triggers: what the server checks or runs when rows are written.
type Rules struct {
	Checks      []CheckConstraint
	Exclusions  []ExclusionConstraint
	Uniques     []UniqueIndex
	ForeignKeys []ForeignKey // from this table to a parent
	Referencing []ForeignKey // from other tables (or this one) to this table
	Triggers    []Trigger
	// Defaults maps a column to its default expression, for columns that
	// have one.
	Defaults map[string]string
	// Generated maps each stored generated column to its expression.
	Generated map[string]GeneratedColumn
}

// GeneratedColumn is a stored generated column's expression.
type GeneratedColumn struct {
	// Expr is the expression over the table's column names, as
	// pg_get_expr prints it, e.g. "(v * 2)".
	Expr string
	// Reads are the columns the expression reads (never generated ones:
	// PostgreSQL does not let one generated column read another).
	Reads []string
}

// ExpandGenerated returns names and, after them, the columns that the
// generated columns among names read, each once: what a row's values of
// names depend on.
func (r *Rules) ExpandGenerated(names []string) []string {
	out := append([]string(nil), names...)
	seen := map[string]bool{}
	for _, n := range names {
		seen[n] = true
	}
	for _, n := range names {
		for _, read := range r.Generated[n].Reads {
			if !seen[read] {
				seen[read] = true
				out = append(out, read)
			}
		}
	}
	return out
}

// CheckConstraint is a table's CHECK constraint.
type CheckConstraint struct {
	Name string
	// Expr is the constraint's expression over the table's column names,
	// as pg_get_expr prints it, e.g. "(price > (0)::numeric)".
	Expr string
	// Columns are the columns the expression reads.
	Columns []string
	// Reason, when set, is what a row that breaks it is told instead of
	// the expression (a partition's rules, whose Expr wraps theirs).
	Reason string
}

// UniqueIndex is any unique index of a table: primary key, unique
// constraint, or unique index, possibly partial or on expressions.
type UniqueIndex struct {
	// Name is the constraint's name, or the index's when it is no constraint.
	Name string
	// Constraint is true for a primary key or unique constraint.
	Constraint bool
	// Exprs are the index's key columns or expressions, as SQL over the
	// table's column names (a plain column is its quoted name).
	Exprs []string
	// Columns are the plain key columns, nil when any key is an expression.
	Columns []string
	// Reads are every column the keys and predicate read.
	Reads []string
	// Predicate is the WHERE of a partial index, "" when not partial. A
	// partition's own unique index is one of the table over the rows the
	// partition takes: its Predicate is the partition constraint (and its
	// own, OwnPredicate), and Partition names the partition.
	Predicate    string
	OwnPredicate string
	Partition    string
	// Deferrable: checked at the end of the statement or transaction, not
	// row by row.
	Deferrable    bool
	NullsDistinct bool
}

// ExclusionConstraint is an EXCLUDE constraint: two rows conflict when
// every one of its elements' operators holds between their values.
type ExclusionConstraint struct {
	Name string
	// Exprs are its elements' columns or expressions over the table's
	// column names, and Operators their operators, schema-qualified for
	// SQL ("OPERATOR(pg_catalog.&&)").
	Exprs, Operators []string
	// Reads are every column the elements and predicate read.
	Reads []string
	// Predicate is its WHERE, "" when it has none.
	Predicate  string
	Deferrable bool
}

// ForeignKey is a foreign key constraint.
type ForeignKey struct {
	Name string
	// Child is the referencing table ("schema"."name", quoted) and
	// ChildColumns its columns; Parent and ParentColumns what they reference.
	Child, Parent                 string
	ChildColumns, ParentColumns   []string
	ChildSchema, ChildName        string
	ParentSchema, ParentName      string
	OnDelete, OnUpdate            string // a (no action), r (restrict), c (cascade), n (set null), d (set default)
	Deferrable, InitiallyDeferred bool
	MatchFull                     bool
}

// Trigger is a user trigger on a table.
type Trigger struct {
	Name string
	// Before: a BEFORE ROW trigger, which can change the row written.
	Before, Row bool
	// Insert, Update, Delete: the events it fires on.
	Insert, Update, Delete bool
}

// Any reports whether the server has something to check on written rows.
func (r *Rules) Any() bool {
	return r != nil && (len(r.Checks) > 0 || len(r.Uniques) > 0 || len(r.Exclusions) > 0 || len(r.ForeignKeys) > 0 || len(r.Referencing) > 0)
}

// LoadRules reads the rules of table t, as LoadTable read it.
func LoadRules(ctx context.Context, q Querier, t *Table) (*Rules, error) {
	table := t.OID
	r := &Rules{}
	rows, err := q.Query(ctx, `
SELECT con.conname, pg_get_expr(con.conbin, con.conrelid),
       ARRAY(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = con.conrelid AND a.attnum = ANY(con.conkey) ORDER BY a.attnum)::text[]
FROM pg_constraint con
WHERE con.conrelid = $1 AND con.contype = 'c'
ORDER BY con.conname`, table)
	if err != nil {
		return nil, fmt.Errorf("reading the CHECK constraints: %w", err)
	}
	for rows.Next() {
		var c CheckConstraint
		if err := rows.Scan(&c.Name, &c.Expr, &c.Columns); err != nil {
			rows.Close()
			return nil, err
		}
		r.Checks = append(r.Checks, c)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the CHECK constraints: %w", err)
	}
	rows, err = q.Query(ctx, `
SELECT con.conname,
       ARRAY(SELECT pg_get_indexdef(con.conindid, k, true) FROM generate_series(1, cardinality(con.conexclop)) k ORDER BY k)::text[],
       ARRAY(SELECT format('OPERATOR(%I.%s)', n.nspname, o.oprname)
             FROM unnest(con.conexclop) WITH ORDINALITY AS x(op, ord)
             JOIN pg_operator o ON o.oid = x.op JOIN pg_namespace n ON n.oid = o.oprnamespace ORDER BY x.ord)::text[],
       ARRAY(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum > 0 AND NOT a.attisdropped
             AND (a.attnum = ANY(i.indkey)
                  OR (i.indexprs IS NOT NULL AND pg_get_expr(i.indexprs, i.indrelid) ~ ('\m' || a.attname || '\M'))
                  OR (i.indpred IS NOT NULL AND pg_get_expr(i.indpred, i.indrelid) ~ ('\m' || a.attname || '\M')))
             ORDER BY a.attnum)::text[],
       COALESCE(pg_get_expr(i.indpred, i.indrelid), ''),
       con.condeferrable
FROM pg_constraint con JOIN pg_index i ON i.indexrelid = con.conindid
WHERE con.conrelid = $1 AND con.contype = 'x'
ORDER BY con.conname`, table)
	if err != nil {
		return nil, fmt.Errorf("reading the exclusion constraints: %w", err)
	}
	for rows.Next() {
		var x ExclusionConstraint
		if err := rows.Scan(&x.Name, &x.Exprs, &x.Operators, &x.Reads, &x.Predicate, &x.Deferrable); err != nil {
			rows.Close()
			return nil, err
		}
		r.Exclusions = append(r.Exclusions, x)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the exclusion constraints: %w", err)
	}

	if t.Kind == "p" {
		if err := r.loadPartitionChecks(ctx, q, table); err != nil {
			return nil, err
		}
	}

	rows, err = q.Query(ctx, `
SELECT COALESCE(con.conname, ic.relname), con.oid IS NOT NULL,
       ARRAY(SELECT pg_get_indexdef(i.indexrelid, k, true) FROM generate_series(1, i.indnkeyatts) k ORDER BY k)::text[],
       CASE WHEN i.indexprs IS NULL THEN
         ARRAY(SELECT a.attname FROM unnest(i.indkey) WITH ORDINALITY k(attnum, ord)
               JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
               WHERE k.ord <= i.indnkeyatts ORDER BY k.ord)::text[] END,
       ARRAY(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = i.indrelid AND a.attnum > 0 AND NOT a.attisdropped
             AND (a.attnum = ANY(i.indkey)
                  OR (i.indexprs IS NOT NULL AND pg_get_expr(i.indexprs, i.indrelid) ~ ('\m' || a.attname || '\M'))
                  OR (i.indpred IS NOT NULL AND pg_get_expr(i.indpred, i.indrelid) ~ ('\m' || a.attname || '\M'))
                  OR pt.def ~ ('\m' || a.attname || '\M'))
             ORDER BY a.attnum)::text[],
       CASE WHEN pt.def IS NULL THEN COALESCE(pg_get_expr(i.indpred, i.indrelid), '')
            ELSE concat_ws(' AND ', '(' || pt.def || ')', '(' || pg_get_expr(i.indpred, i.indrelid) || ')') END,
       COALESCE(pg_get_expr(i.indpred, i.indrelid), ''),
       CASE WHEN i.indrelid <> $1 THEN i.indrelid::regclass::text ELSE '' END,
       NOT i.indimmediate,
       NOT COALESCE(i.indnullsnotdistinct, false)
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u')
-- A partition's own unique index (not one of the table's, attached) is
-- a partial unique index of the table, over the rows of the partition.
CROSS JOIN LATERAL (SELECT CASE WHEN i.indrelid <> $1 THEN coalesce(pg_get_partition_constraintdef(i.indrelid), 'true') END AS def) pt
WHERE i.indisunique AND i.indisvalid
  AND (i.indrelid = $1 OR (i.indrelid IN (SELECT p.relid FROM pg_partition_tree($1) p WHERE p.relid <> $1)
                           AND NOT EXISTS (SELECT 1 FROM pg_inherits h WHERE h.inhrelid = i.indexrelid)))
ORDER BY 1`, table)
	if err != nil {
		return nil, fmt.Errorf("reading the unique indexes: %w", err)
	}
	for rows.Next() {
		var u UniqueIndex
		if err := rows.Scan(&u.Name, &u.Constraint, &u.Exprs, &u.Columns, &u.Reads, &u.Predicate, &u.OwnPredicate, &u.Partition, &u.Deferrable, &u.NullsDistinct); err != nil {
			rows.Close()
			return nil, err
		}
		r.Uniques = append(r.Uniques, u)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the unique indexes: %w", err)
	}

	rows, err = q.Query(ctx, `
SELECT con.conname, con.conrelid = $1,
       cn.nspname, cc.relname, pn.nspname, pc.relname,
       ARRAY(SELECT a.attname FROM unnest(con.conkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.conrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[],
       ARRAY(SELECT a.attname FROM unnest(con.confkey) WITH ORDINALITY k(attnum, ord)
             JOIN pg_attribute a ON a.attrelid = con.confrelid AND a.attnum = k.attnum ORDER BY k.ord)::text[],
       con.confdeltype::text, con.confupdtype::text, con.condeferrable, con.condeferred, con.confmatchtype = 'f',
       con.confrelid = $1
FROM pg_constraint con
JOIN pg_class cc ON cc.oid = con.conrelid JOIN pg_namespace cn ON cn.oid = cc.relnamespace
JOIN pg_class pc ON pc.oid = con.confrelid JOIN pg_namespace pn ON pn.oid = pc.relnamespace
WHERE con.contype = 'f' AND (con.conrelid = $1 OR con.confrelid = $1)
ORDER BY con.conname`, table)
	if err != nil {
		return nil, fmt.Errorf("reading the foreign keys: %w", err)
	}
	for rows.Next() {
		var f ForeignKey
		var out, in bool
		if err := rows.Scan(&f.Name, &out, &f.ChildSchema, &f.ChildName, &f.ParentSchema, &f.ParentName,
			&f.ChildColumns, &f.ParentColumns, &f.OnDelete, &f.OnUpdate, &f.Deferrable, &f.InitiallyDeferred, &f.MatchFull, &in); err != nil {
			rows.Close()
			return nil, err
		}
		f.Child = quoteQualified(f.ChildSchema, f.ChildName)
		f.Parent = quoteQualified(f.ParentSchema, f.ParentName)
		if out {
			r.ForeignKeys = append(r.ForeignKeys, f)
		}
		if in {
			r.Referencing = append(r.Referencing, f)
		}
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the foreign keys: %w", err)
	}

	rows, err = q.Query(ctx, `
SELECT CASE WHEN t.tgrelid = $1 THEN t.tgname ELSE t.tgname || ' (on the partition ' || t.tgrelid::regclass::text || ')' END, t.tgtype::int
FROM pg_trigger t
WHERE (t.tgrelid = $1 OR (t.tgrelid IN (SELECT p.relid FROM pg_partition_tree($1) p WHERE p.relid <> $1) AND t.tgparentid = 0))
  AND NOT t.tgisinternal AND t.tgenabled <> 'D'
ORDER BY 1`, table)
	if err != nil {
		return nil, fmt.Errorf("reading the triggers: %w", err)
	}
	for rows.Next() {
		var t Trigger
		var typ int
		if err := rows.Scan(&t.Name, &typ); err != nil {
			rows.Close()
			return nil, err
		}
		// pg_trigger.tgtype bits: ROW 1, BEFORE 2, INSERT 4, DELETE 8, UPDATE 16.
		t.Row, t.Before = typ&1 != 0, typ&2 != 0
		t.Insert, t.Delete, t.Update = typ&4 != 0, typ&8 != 0, typ&16 != 0
		r.Triggers = append(r.Triggers, t)
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the triggers: %w", err)
	}
	rows, err = q.Query(ctx, `
SELECT a.attname, pg_get_expr(d.adbin, d.adrelid)
FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
WHERE d.adrelid = $1 AND a.attgenerated = ''
UNION ALL
-- A column without a default of its own takes its domain's, the nearest
-- level's that has one.
SELECT a.attname, dom.def
FROM pg_attribute a
CROSS JOIN LATERAL (
  WITH RECURSIVE d(oid, typbasetype, typtype, typdefaultbin, depth) AS (
    SELECT t.oid, t.typbasetype, t.typtype, t.typdefaultbin, 0 FROM pg_type t WHERE t.oid = a.atttypid
    UNION ALL
    SELECT b.oid, b.typbasetype, b.typtype, b.typdefaultbin, d.depth + 1
    FROM d JOIN pg_type b ON b.oid = d.typbasetype
  )
  SELECT pg_get_expr(d.typdefaultbin, 0) AS def FROM d
  WHERE d.typtype = 'd' AND d.typdefaultbin IS NOT NULL ORDER BY d.depth LIMIT 1) AS dom
WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped AND NOT a.atthasdef AND a.attgenerated = ''`, table)
	if err != nil {
		return nil, fmt.Errorf("reading the column defaults: %w", err)
	}
	r.Defaults = map[string]string{}
	for rows.Next() {
		var name, expr string
		if err := rows.Scan(&name, &expr); err != nil {
			rows.Close()
			return nil, err
		}
		r.Defaults[name] = expr
	}
	if err := rows.Err(); err != nil {
		return nil, fmt.Errorf("reading the column defaults: %w", err)
	}
	if err := r.loadGenerated(ctx, q, table); err != nil {
		return nil, err
	}
	return r, nil
}

// loadGenerated reads the table's stored generated columns, and makes a
// CHECK of each NOT NULL one (a row whose expression is NULL is refused).
func (r *Rules) loadGenerated(ctx context.Context, q Querier, table uint32) error {
	rows, err := q.Query(ctx, `
SELECT a.attname, pg_get_expr(d.adbin, d.adrelid), a.attnotnull,
       ARRAY(SELECT ra.attname FROM pg_depend dep
             JOIN pg_attribute ra ON ra.attrelid = dep.refobjid AND ra.attnum = dep.refobjsubid
             WHERE dep.classid = 'pg_attrdef'::regclass AND dep.objid = d.oid AND dep.refclassid = 'pg_class'::regclass
               AND dep.refobjid = d.adrelid AND dep.refobjsubid > 0 AND dep.refobjsubid <> d.adnum
             ORDER BY ra.attnum)::text[]
FROM pg_attrdef d JOIN pg_attribute a ON a.attrelid = d.adrelid AND a.attnum = d.adnum
WHERE d.adrelid = $1 AND a.attgenerated = 's' AND NOT a.attisdropped
ORDER BY a.attnum`, table)
	if err != nil {
		return fmt.Errorf("reading the generated columns: %w", err)
	}
	defer rows.Close()
	r.Generated = map[string]GeneratedColumn{}
	for rows.Next() {
		var name string
		var g GeneratedColumn
		var notNull bool
		if err := rows.Scan(&name, &g.Expr, &notNull, &g.Reads); err != nil {
			return err
		}
		r.Generated[name] = g
		if notNull {
			quoted := IdentList([]string{name})
			r.Checks = append(r.Checks, CheckConstraint{Expr: fmt.Sprintf("(%s IS DISTINCT FROM NULL)", quoted), Columns: []string{name},
				Reason: fmt.Sprintf("null value in column %s violates not-null constraint", quoted)})
		}
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the generated columns: %w", err)
	}
	return nil
}

func quoteQualified(schema, name string) string {
	return IdentList([]string{schema}) + "." + IdentList([]string{name})
}

// loadPartitionChecks adds, for a partitioned table, what its partitions
// check of the rows routed to them: each partition's own CHECK
// constraints (those not inherited from the table, which the table's
// list has), as checks on the rows its partition constraint takes, and
// that some leaf partition takes each row at all (none would be "no
// partition of relation ... found for row"). The checks read every
// column of the table.
func (r *Rules) loadPartitionChecks(ctx context.Context, q Querier, table uint32) error {
	var cols []string
	var name string
	if err := q.QueryRow(ctx, `SELECT $1::oid::regclass::text, ARRAY(SELECT a.attname FROM pg_attribute a WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum)::text[]`, table).Scan(&name, &cols); err != nil {
		return fmt.Errorf("reading the partitions: %w", err)
	}
	rows, err := q.Query(ctx, `
SELECT con.conname, p.relid::regclass::text, pg_get_expr(con.conbin, con.conrelid), coalesce(pg_get_partition_constraintdef(p.relid), 'true')
FROM pg_partition_tree($1) p
JOIN pg_constraint con ON con.conrelid = p.relid AND con.contype = 'c' AND con.conislocal
WHERE p.relid <> $1
ORDER BY 2, 1`, table)
	if err != nil {
		return fmt.Errorf("reading the CHECK constraints of the partitions: %w", err)
	}
	for rows.Next() {
		var name, partition, expr, bound string
		if err := rows.Scan(&name, &partition, &expr, &bound); err != nil {
			rows.Close()
			return err
		}
		r.Checks = append(r.Checks, CheckConstraint{Name: name, Columns: cols,
			// Broken only where the row is the partition's and the CHECK false.
			Expr:   fmt.Sprintf("(NOT COALESCE((%s), false) OR (%s) IS NOT FALSE)", bound, expr),
			Reason: fmt.Sprintf("violates the CHECK constraint %s of the partition %s", expr, partition)})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the CHECK constraints of the partitions: %w", err)
	}
	// A partition's own NOT NULL (a column the table leaves nullable).
	rows, err = q.Query(ctx, `
SELECT p.relid::regclass::text, a.attname::text, coalesce(pg_get_partition_constraintdef(p.relid), 'true')
FROM pg_partition_tree($1) p
JOIN pg_attribute a ON a.attrelid = p.relid AND a.attnum > 0 AND NOT a.attisdropped AND a.attnotnull
JOIN pg_attribute pa ON pa.attrelid = $1 AND pa.attname = a.attname AND NOT pa.attnotnull
WHERE p.relid <> $1
ORDER BY 1, 2`, table)
	if err != nil {
		return fmt.Errorf("reading the NOT NULL columns of the partitions: %w", err)
	}
	for rows.Next() {
		var partition, column, bound string
		if err := rows.Scan(&partition, &column, &bound); err != nil {
			rows.Close()
			return err
		}
		r.Checks = append(r.Checks, CheckConstraint{Columns: cols,
			Expr:   fmt.Sprintf("(NOT COALESCE((%s), false) OR %s IS NOT NULL)", bound, IdentList([]string{column})),
			Reason: fmt.Sprintf("NULL into the NOT NULL column %q of the partition %s", column, partition)})
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("reading the NOT NULL columns of the partitions: %w", err)
	}
	// Where every partitioned level has a DEFAULT partition, every row
	// fits one: no check (a sync into it keeps the checks' fast paths).
	var fits string
	var everyRowFits bool
	if err := q.QueryRow(ctx, `
SELECT coalesce(string_agg('COALESCE((' || coalesce(pg_get_partition_constraintdef(p.relid), 'true') || '), false)', ' OR ') FILTER (WHERE p.isleaf AND p.relid <> $1), 'false'),
       bool_and(c.relkind <> 'p' OR EXISTS (SELECT 1 FROM pg_inherits h JOIN pg_class k ON k.oid = h.inhrelid
                                          WHERE h.inhparent = p.relid AND pg_get_expr(k.relpartbound, k.oid) = 'DEFAULT'))
FROM pg_partition_tree($1) p JOIN pg_class c ON c.oid = p.relid`, table).Scan(&fits, &everyRowFits); err != nil {
		return fmt.Errorf("reading the partitions' bounds: %w", err)
	}
	if !everyRowFits {
		r.Checks = append(r.Checks, CheckConstraint{Columns: cols, Expr: "(" + fits + ")",
			Reason: "fits no partition of " + name})
	}
	return nil
}
