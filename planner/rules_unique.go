package planner

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/internal/catalog"
)

// The table's other unique keys: every unique index but the sync key's
// (primary keys, unique constraints, unique indexes, partial or on
// expressions), checked against the table as the writes leave it:
//
//   - two changed rows (inserts, and updates that change a column the
//     index reads) with equal values refuse each other;
//   - a changed row equal to a destination row that the change set neither
//     deletes nor moves away from that value is refused;
//   - an update that takes the value another update gives up is refused
//     when the index is not deferrable: PostgreSQL checks such an index
//     row by row during the one UPDATE, so whether it passes depends on the
//     order of the rows. Deletes run before updates and updates before
//     inserts, so values given up by a delete, or by an update for an
//     insert, are free in time.
//
// Equality is the server's: the values are compared with the index's
// expressions and collations (citext, numeric scale, nondeterministic
// collations behave as the index does). A partial index only holds rows for
// which its predicate is true; NULLs are distinct unless the index says
// NULLS NOT DISTINCT.

// uniqueIndex is a unique index to check, with what the check needs.
type uniqueIndex struct {
	catalog.UniqueIndex
	// kind is "primary key", "unique constraint" or "unique index".
	kind string
	// exprs are the key expressions under the index's collations.
	exprs []string
	// cols are the table columns the keys and predicate read.
	cols []string
	// moving are the mapped columns among cols: an update that changes one
	// of them may change the row's entry in the index.
	moving []int
	hash   *hashing
}

// what describes the index's keys for reasons: "(email)", "(lower(email))
// where the row has (active)".
func (u *uniqueIndex) what() string {
	s := "(" + strings.Join(u.Exprs, ", ") + ")"
	switch {
	case u.Partition != "" && u.OwnPredicate != "":
		s += " among the rows of the partition " + u.Partition + " where " + u.OwnPredicate
	case u.Partition != "":
		s += " in the partition " + u.Partition
	case u.Predicate != "":
		s += " among the rows where " + u.Predicate
	}
	return s
}

// prepareUniques lists the unique indexes to check: all but the sync key's
// own (whose columns are exactly the key: the diff already matches rows by
// it, and updates never change it).
func (r *relations) prepareUniques() error {
	var list []catalog.UniqueIndex
	for _, u := range r.c.p.rules.Uniques {
		if u.Columns != nil && sameColumns(u.Columns, r.c.p.Sync.Key) {
			continue
		}
		list = append(list, u)
	}
	if len(list) == 0 {
		return nil
	}
	// The index's collation of each key: pg_get_indexdef prints a key
	// without it.
	colls := map[string][]string{}
	rows, err := r.conn.Query(r.ctx, `
SELECT COALESCE(con.conname, ic.relname),
       ARRAY(SELECT CASE WHEN k.coll = 0 THEN '' ELSE quote_ident(n.nspname) || '.' || quote_ident(co.collname) END
             FROM unnest(i.indcollation::oid[]) WITH ORDINALITY AS k(coll, ord)
             LEFT JOIN pg_collation co ON co.oid = k.coll
             LEFT JOIN pg_namespace n ON n.oid = co.collnamespace
             ORDER BY k.ord)::text[]
FROM pg_index i
JOIN pg_class ic ON ic.oid = i.indexrelid
LEFT JOIN pg_constraint con ON con.conindid = i.indexrelid AND con.contype IN ('p', 'u')
WHERE i.indrelid = $1 AND i.indisunique AND i.indisvalid`, r.c.p.Table.OID)
	if err != nil {
		return err
	}
	for rows.Next() {
		var name string
		var cs []string
		if err := rows.Scan(&name, &cs); err != nil {
			rows.Close()
			return err
		}
		colls[name] = cs
	}
	if err := rows.Err(); err != nil {
		return err
	}
	for _, ix := range list {
		u := &uniqueIndex{UniqueIndex: ix, kind: "unique index"}
		if ix.Constraint {
			u.kind = "unique constraint"
		}
		for _, k := range r.c.p.Table.UniqueKeys {
			if k.Name == ix.Name {
				u.kind = k.Kind
			}
		}
		cs := colls[ix.Name]
		for k, e := range ix.Exprs {
			if k < len(cs) && cs[k] != "" {
				e = fmt.Sprintf("(%s) COLLATE %s", e, cs[k])
			}
			u.exprs = append(u.exprs, e)
		}
		seen := map[string]bool{}
		for _, col := range append(append([]string(nil), ix.Columns...), ix.Reads...) {
			if !seen[col] && r.c.p.Table.Column(col) != nil {
				seen[col] = true
				u.cols = append(u.cols, col)
			}
		}
		u.moving = r.c.movingOf(u.cols)
		r.uniques = append(r.uniques, u)
	}
	return nil
}

func (r *relations) checkUniques() error {
	for _, u := range r.uniques {
		if err := r.checkUnique(u); err != nil {
			return fmt.Errorf("%s %s: %w", u.kind, u.Name, err)
		}
	}
	return nil
}

// cond is the SQL condition under which a row has an entry that can
// conflict: the predicate holds and, with NULLS DISTINCT, no key is NULL.
// NULL is the value's own NULL, as the index has it: IS DISTINCT FROM
// NULL, since for a composite value IS NULL tests its fields ('(7,)' IS
// NOT NULL is false, while the index holds it as any other value).
func (u *uniqueIndex) cond() string {
	var parts []string
	if u.Predicate != "" {
		parts = append(parts, "("+u.Predicate+")")
	}
	if u.NullsDistinct {
		for _, e := range u.exprs {
			parts = append(parts, "("+e+") IS DISTINCT FROM NULL")
		}
	}
	return strings.Join(parts, " AND ")
}

// meeting is a changed row whose values a destination row holds now.
type meeting struct {
	ch   *change // its keys only (checker.kept): batches reuse their slices
	dest string  // the destination row's keyID
	null bool    // its key has a NULL
}

// checkUnique checks one index: the changed rows among themselves (by
// hash, then compared on the server), and against the destination rows
// that hold their values now (found through the index, then looked up in
// the change set).
func (r *relations) checkUnique(u *uniqueIndex) error {
	c := r.c
	if u.hash == nil {
		h := r.chooseHashing(u.exprs, u.cols)
		u.hash = &h
	}
	sel := func(ch *change) bool { return ch.kind == ChangeInsert || c.l.touches(ch, u.moving) }
	cond := u.cond()
	where := ""
	if cond != "" {
		where = " WHERE " + cond
	}
	var exprs, match []string
	for k, e := range u.exprs {
		exprs = append(exprs, fmt.Sprintf("(%s) AS u%d", e, k))
		if u.NullsDistinct {
			match = append(match, fmt.Sprintf("(%s) = t.u%d", e, k))
		} else {
			match = append(match, fmt.Sprintf("((%s) = t.u%d OR ((%s) IS NOT DISTINCT FROM NULL AND t.u%d IS NOT DISTINCT FROM NULL))", e, k, e, k))
		}
	}
	if u.Predicate != "" {
		match = append(match, "("+u.Predicate+")")
	}
	var hashes hashGroups
	defer hashes.close()
	var meetings []meeting
	err := c.batches(isWrite, func(all []change) error {
		batch := selectChanges(all, sel)
		if len(batch) == 0 {
			return nil
		}
		sr := c.stateRows(batch, u.cols)
		if sr.err != nil {
			return sr.err
		}
		sql := fmt.Sprintf(`SELECT t.pos, t.h, k.* FROM (SELECT s.%s AS pos, %s AS h, %s FROM %s AS s%s) AS t
LEFT JOIN LATERAL (SELECT true AS hit, %s FROM %s AS d WHERE %s LIMIT 1) AS k ON true`,
			posColumn, u.hash.sql(), strings.Join(exprs, ", "), sr.from, where,
			c.l.keySelect("d"), c.p.Table.Ident(), strings.Join(match, " AND "))
		hashed := make([]bool, len(batch))
		return queryRows(r.ctx, r.conn, sql, sr.params, func(vals [][]byte) error {
			k, err := int4At(vals[0])
			if err != nil {
				return err
			}
			ch := &batch[k]
			if !hashed[k] {
				hashed[k] = true
				h, err := hashAt(vals[1])
				if err != nil {
					return err
				}
				if err := hashes.add(h, ch.seq); err != nil {
					return err
				}
			}
			if vals[2] == nil {
				return nil
			}
			if m, ok := r.meetingOf(ch, vals[3:]); ok {
				meetings = append(meetings, m)
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	if err := r.sameAmongChanges(u, &hashes); err != nil {
		return err
	}
	return r.settle(meetings, u.moving, u.Deferrable, func(ch *change) { r.rejectTaken(u, ch) }, func(ch *change) {
		c.reject(ch.seq, ch.kind, ch.row(), rejectReason{Column: singleColumn(u.Columns), Constraint: u.Name,
			Reason: fmt.Sprintf("takes the %s that another updated row gives up in the same sync; PostgreSQL checks a %s that is not DEFERRABLE row by row during the UPDATE, so the write would fail or not depending on the order of the rows, which rowform cannot choose",
				u.what(), u.kind),
			Fix: r.deferrableFix(u)})
	})
}

// meetingOf is the meeting of the changed row ch with the destination row
// whose key columns keyVals are (as keySelect reads them); false when that
// row is ch's own (an update's).
func (r *relations) meetingOf(ch *change, keyVals [][]byte) (meeting, bool) {
	id, null := r.c.l.destKey(keyVals)
	if !null && ch.kind == ChangeUpdate && id == r.c.l.keyID(ch.src) {
		return meeting{}, false
	}
	return meeting{ch: r.c.kept(ch), dest: id, null: null}, true
}

// settle decides, for each meeting of a changed row with a destination
// row whose values it would clash with (moving: the mapped columns whose
// change moves that row away), whether the clash stands. A met row the
// change set deletes is gone before anything is written; one an update
// moves away is gone in time for an insert, and for an update only when
// the constraint is deferrable (else order refuses the change: the
// outcome would hang on the order of the UPDATE's rows); any other met
// row refuses it (taken), as do NULL-keyed rows unless a mirror deletes
// them all.
func (r *relations) settle(meetings []meeting, moving []int, deferrable bool, taken, order func(ch *change)) error {
	if len(meetings) == 0 {
		return nil
	}
	ids := map[string]*fate{}
	for _, m := range meetings {
		if !m.null {
			ids[m.dest] = &fate{}
		}
	}
	nullKeysDeleted, err := r.c.fates(ids, moving)
	if err != nil {
		return err
	}
	for _, m := range meetings {
		if m.null {
			if !nullKeysDeleted {
				taken(m.ch)
			}
			continue
		}
		f := ids[m.dest]
		switch {
		case f.kind == ChangeDelete:
		case f.kind == ChangeUpdate && f.moves:
			if m.ch.kind == ChangeUpdate && !deferrable {
				order(m.ch)
			}
		default:
			taken(m.ch)
		}
	}
	return nil
}

func (r *relations) rejectTaken(u *uniqueIndex, ch *change) {
	r.c.reject(ch.seq, ch.kind, ch.row(), rejectReason{Column: singleColumn(u.Columns), Constraint: u.Name,
		Reason: fmt.Sprintf("a destination row that this sync leaves in place already has the same %s", u.what())})
}

// sameAmongChanges compares the changed rows whose hashes meet on the
// server, with the index's equality, and refuses every row that has an
// equal. A group is never split; groups go together up to a batch.
func (r *relations) sameAmongChanges(u *uniqueIndex, hashes *hashGroups) error {
	c := r.c
	var parts []string
	for _, e := range u.exprs {
		parts = append(parts, "("+e+")")
	}
	where := ""
	if cond := u.cond(); cond != "" {
		where = " WHERE " + cond
	}
	_, err := hashes.batches(c, 0, 0, func(batch []change) error {
		sr := c.stateRows(batch, u.cols)
		if sr.err != nil {
			return sr.err
		}
		sql := fmt.Sprintf("SELECT t.pos FROM (SELECT s.%s AS pos, count(*) OVER (PARTITION BY %s) AS n FROM %s AS s%s) AS t WHERE t.n > 1",
			posColumn, strings.Join(parts, ", "), sr.from, where)
		return queryRows(r.ctx, r.conn, sql, sr.params, func(vals [][]byte) error {
			k, err := int4At(vals[0])
			if err != nil {
				return err
			}
			ch := &batch[k]
			c.reject(ch.seq, ch.kind, ch.row(), rejectReason{Column: singleColumn(u.Columns), Constraint: u.Name,
				Reason: fmt.Sprintf("another row of this sync has the same %s", u.what())})
			return nil
		})
	})
	return err
}

// deferrableFix is the SQL that makes u deferrable, so that apply (which
// defers every deferrable constraint) has it checked at COMMIT.
func (r *relations) deferrableFix(u *uniqueIndex) string {
	t := r.c.p.Table.Ident()
	name := pgx.Identifier{u.Name}.Sanitize()
	nulls := ""
	if !u.NullsDistinct {
		nulls = " NULLS NOT DISTINCT"
	}
	switch {
	case u.Constraint && u.kind == "primary key":
		return fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s, ADD CONSTRAINT %s PRIMARY KEY (%s) DEFERRABLE INITIALLY IMMEDIATE;", t, name, name, quotedList(u.Columns))
	case u.Constraint:
		return fmt.Sprintf("ALTER TABLE %s DROP CONSTRAINT %s, ADD CONSTRAINT %s UNIQUE%s (%s) DEFERRABLE INITIALLY IMMEDIATE;", t, name, name, nulls, quotedList(u.Columns))
	case u.Columns != nil && u.Predicate == "":
		return fmt.Sprintf("-- an index cannot be DEFERRABLE; a unique constraint on the same columns can replace it:\nDROP INDEX %s;\nALTER TABLE %s ADD CONSTRAINT %s UNIQUE%s (%s) DEFERRABLE INITIALLY IMMEDIATE;",
			pgx.Identifier{r.c.p.Table.Schema, u.Name}.Sanitize(), t, name, nulls, quotedList(u.Columns))
	}
	var elems []string
	for _, e := range u.exprs {
		elems = append(elems, "("+e+") WITH =")
	}
	pred := ""
	if u.Predicate != "" {
		pred = " WHERE (" + u.Predicate + ")"
	}
	return fmt.Sprintf("-- an index cannot be DEFERRABLE, and a unique constraint cannot have expressions or a WHERE clause; an exclusion constraint can:\nDROP INDEX %s;\nALTER TABLE %s ADD CONSTRAINT %s EXCLUDE USING btree (%s)%s DEFERRABLE INITIALLY IMMEDIATE;",
		pgx.Identifier{r.c.p.Table.Schema, u.Name}.Sanitize(), t, name, strings.Join(elems, ", "), pred)
}
