package planner

import (
	"fmt"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/internal/catalog"
	"github.com/rowform/rowform/internal/plural"
)

// Foreign keys, both ways.
//
// From the table (checkOutgoing): an insert, or an update that changes a
// column of a foreign key, must reference a row that exists after the
// sync. A parent in another table must exist now. A parent in the table
// itself must be left in place by the change set (neither deleted nor
// moved to other values), or be written by it: inserted, or updated to the
// values. Apply deletes, then updates, then inserts, and defers every
// deferrable constraint; a child updated to reference a row that only an
// insert writes is therefore refused unless the foreign key is DEFERRABLE.
// MATCH SIMPLE skips rows with a NULL in the foreign key; MATCH FULL skips
// rows where all are NULL and refuses rows where some are.
//
// Into the table (checkIncoming): a delete of a row that rows of another
// table reference, under ON DELETE NO ACTION or RESTRICT, is refused; so
// is an update that changes a referenced column under ON UPDATE NO ACTION
// or RESTRICT; and so is either under a SET NULL or SET DEFAULT that would
// leave NULL in a NOT NULL column of the other table (nullingActions). Rows of the table itself that the change set deletes do not
// hold a delete back (they go in the same DELETE); rows it updates to
// reference another row hold it back unless the foreign key is DEFERRABLE
// and NO ACTION (apply updates after it deletes). Under CASCADE, SET NULL
// and SET DEFAULT the writes reach the other table: the cascade notes count
// the rows they reach.

// foreignKey is a foreign key to check, from the table or into it.
type foreignKey struct {
	catalog.ForeignKey
	// self: the foreign key references its own table.
	self bool
	// child and parent are the tables as "schema.name", for reasons.
	child, parent string
	// childMapped and parentMapped are the mapped columns of the table among
	// ChildColumns (for a foreign key from the table) and ParentColumns
	// (into it).
	childMapped, parentMapped []int
	// readable: the other table can be read (always for self).
	readable bool
	// indexed: the child table has an index whose leading columns are the
	// foreign key's, so its rows are looked up one parent at a time.
	indexed bool
	// parentHash hashes a parent's referenced values (self only).
	parentHash *hashing
	// externalHash hashes a child's values to look them up among what a
	// sync this one depends on writes into the parent (externalProbe).
	externalHash *hashing
	// deleteFails and updateFails name the NOT NULL columns of the child
	// that its ON DELETE / ON UPDATE SET NULL (or SET DEFAULT, for
	// columns without a default) would set to NULL, which makes the
	// write of a referenced row fail as NO ACTION would refuse it; ""
	// when the action can run.
	deleteFails, updateFails string
}

// fails names the NOT NULL columns the action for kind would set to NULL
// ("" when none).
func (f *foreignKey) fails(kind ChangeKind) string {
	if kind == ChangeUpdate {
		return f.updateFails
	}
	return f.deleteFails
}

// refuses reports whether the action for kind refuses the write of a
// referenced row: NO ACTION, RESTRICT, or a SET NULL / SET DEFAULT that
// would leave NULL in a NOT NULL column of the child.
func (f *foreignKey) refuses(kind ChangeKind) bool {
	action := f.OnDelete
	if kind == ChangeUpdate {
		action = f.OnUpdate
	}
	return blocks(action) || f.fails(kind) != ""
}

// nullingActions reads which NOT NULL columns of the child the foreign
// key's SET NULL and SET DEFAULT actions would set to NULL (deleteFails,
// updateFails): SET NULL sets the key's columns (for ON DELETE, the ones
// it lists, PostgreSQL 15's SET NULL (col, ...)), SET DEFAULT sets them to
// their defaults, NULL for a column without one.
func (r *relations) nullingActions(f *foreignKey) error {
	read := func(action string, onDelete bool) (string, error) {
		if action != "n" && action != "d" {
			return "", nil
		}
		var cols string
		// confdelsetcols (PostgreSQL 15) is read through to_jsonb so that
		// the query also runs on servers without it.
		err := r.conn.QueryRow(r.ctx, `
SELECT coalesce(string_agg(a.attname, ', ' ORDER BY a.attnum), '')
FROM pg_constraint k
JOIN pg_attribute a ON a.attrelid = k.conrelid
  AND a.attnum = ANY (CASE WHEN $3 AND $4 AND jsonb_typeof(to_jsonb(k)->'confdelsetcols') = 'array'
                           THEN ARRAY(SELECT jsonb_array_elements_text(to_jsonb(k)->'confdelsetcols')::int2) ELSE k.conkey END)
LEFT JOIN pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
WHERE k.conrelid = $1::regclass AND k.conname = $2 AND k.contype = 'f'
  AND a.attnotnull AND ($4 OR d.adbin IS NULL)`, f.Child, f.Name, onDelete, action == "n").Scan(&cols)
		return cols, err
	}
	var err error
	if f.deleteFails, err = read(f.OnDelete, true); err != nil {
		return err
	}
	f.updateFails, err = read(f.OnUpdate, false)
	return err
}

// cascadeCount counts what one foreign key's actions reach.
type cascadeCount struct {
	deletes, deleteRows int64 // parent rows deleted, child rows they reach
	updates, updateRows int64 // parent rows updated, child rows they reach
}

// actionName is a referential action's SQL.
func actionName(code string) string {
	switch code {
	case "r":
		return "RESTRICT"
	case "c":
		return "CASCADE"
	case "n":
		return "SET NULL"
	case "d":
		return "SET DEFAULT"
	}
	return "NO ACTION"
}

// blocks reports whether an action refuses the write of a referenced row.
func blocks(code string) bool { return code == "a" || code == "r" }

func (r *relations) prepareForeignKeys() error {
	c := r.c
	rules := c.p.rules
	readable := map[string]bool{}
	canRead := func(f *foreignKey, table, display string) error {
		if f.self {
			f.readable = true
			return nil
		}
		ok, seen := readable[table]
		if !seen {
			var err error
			if ok, err = r.hasPrivilege(table); err != nil {
				return err
			}
			readable[table] = ok
			if !ok {
				c.notes = append(c.notes, Finding{Severity: SeverityWarning, Code: CodeMissingPrivilege,
					Summary: fmt.Sprintf("the plan cannot check the foreign keys between %s and %s: the destination role may not read %s", c.p.Sync.Table, display, display),
					Detail:  "Apply still enforces them: a row they refuse makes the apply fail, and nothing is written. Grant SELECT on the table to have the plan check them.",
					Fix:     fmt.Sprintf("GRANT SELECT ON %s TO %s;", table, pgx.Identifier{c.p.Role}.Sanitize())})
			}
		}
		f.readable = ok
		return nil
	}
	for _, fk := range rules.ForeignKeys {
		f := &foreignKey{ForeignKey: fk, self: c.p.isTable(fk.ParentSchema, fk.ParentName),
			child: fk.ChildSchema + "." + fk.ChildName, parent: fk.ParentSchema + "." + fk.ParentName}
		f.childMapped = c.l.mappedOf(fk.ChildColumns)
		f.parentMapped = c.l.mappedOf(fk.ParentColumns)
		if err := canRead(f, fk.Parent, f.parent); err != nil {
			return err
		}
		r.outgoing = append(r.outgoing, f)
	}
	for _, fk := range rules.Referencing {
		f := &foreignKey{ForeignKey: fk, self: c.p.isTable(fk.ChildSchema, fk.ChildName),
			child: fk.ChildSchema + "." + fk.ChildName, parent: fk.ParentSchema + "." + fk.ParentName}
		f.parentMapped = c.l.mappedOf(fk.ParentColumns)
		if f.self {
			f.childMapped = c.l.mappedOf(fk.ChildColumns)
		}
		if err := canRead(f, fk.Child, f.child); err != nil {
			return err
		}
		if err := r.nullingActions(f); err != nil {
			return err
		}
		if f.readable {
			err := r.conn.QueryRow(r.ctx, `
SELECT EXISTS (
  SELECT 1 FROM pg_index i
  WHERE i.indrelid = $1::regclass AND i.indisvalid AND i.indpred IS NULL
    AND (SELECT array_agg(k ORDER BY k) FROM unnest(i.indkey::int2[]) WITH ORDINALITY AS u(k, o) WHERE o <= $3) =
        (SELECT array_agg(a.attnum ORDER BY a.attnum) FROM pg_attribute a WHERE a.attrelid = $1::regclass AND a.attname = ANY($2)))`,
				fk.Child, fk.ChildColumns, len(fk.ChildColumns)).Scan(&f.indexed)
			if err != nil {
				return err
			}
		}
		r.incoming = append(r.incoming, f)
	}
	return nil
}

// match renders "l.a = r.x AND l.b = r.y" for the column lists left and
// right under the aliases la and ra.
func match(la string, left []string, ra string, right []string) string {
	parts := make([]string, len(left))
	for k := range left {
		parts[k] = fmt.Sprintf("%s.%s = %s.%s", la, pgx.Identifier{left[k]}.Sanitize(), ra, pgx.Identifier{right[k]}.Sanitize())
	}
	return strings.Join(parts, " AND ")
}

func (r *relations) checkOutgoing() error {
	for _, f := range r.outgoing {
		if !f.readable {
			continue
		}
		if err := r.checkParents(f); err != nil {
			return fmt.Errorf("foreign key %s: %w", f.Name, err)
		}
	}
	return nil
}

// checkParents checks that the rows the inserts and updates leave
// reference rows that exist after the sync.
func (r *relations) checkParents(f *foreignKey) error {
	c := r.c
	moving := c.movingOf(f.ChildColumns)
	sel := func(ch *change) bool { return ch.kind == ChangeInsert || c.l.touches(ch, moving) }
	var fields, nulls []string
	for k, col := range f.ChildColumns {
		q := pgx.Identifier{col}.Sanitize()
		fields = append(fields, fmt.Sprintf("s.%s AS f%d", q, k))
		nulls = append(nulls, fmt.Sprintf("s.%s IS NOT DISTINCT FROM NULL", q))
	}
	var find []string
	for k, col := range f.ParentColumns {
		find = append(find, fmt.Sprintf("p.%s = t.f%d", pgx.Identifier{col}.Sanitize(), k))
	}
	keys, where := "", "(t.anynull AND NOT t.allnull) OR (NOT t.anynull AND k.hit IS NULL)"
	if f.self {
		// The parent found now may be deleted or moved by the change set.
		keys, where = ", "+c.l.keySelect("p"), "NOT t.allnull"
	}
	partial := rejectReason{Column: singleColumn(f.ChildColumns), Constraint: f.Name,
		Reason: fmt.Sprintf("some but not all of the columns (%s) of a MATCH FULL foreign key are NULL", strings.Join(f.ChildColumns, ", "))}
	var waiting waitingChildren
	// found: the children whose parent is a destination row, by their
	// sequence numbers (parentsWritten reads a refused one's row back).
	var found []meeting
	ext, extKey := c.p.externalFor(f)
	err := c.batches(isWrite, func(all []change) error {
		batch := selectChanges(all, sel)
		if len(batch) == 0 {
			return nil
		}
		var missing []int // children of a parent a dependency may insert
		sr := c.stateRows(batch, f.ChildColumns)
		if sr.err != nil {
			return sr.err
		}
		sql := fmt.Sprintf(`SELECT t.pos, t.anynull, t.allnull, k.* FROM (SELECT s.%s AS pos, (%s) AS anynull, (%s) AS allnull, %s FROM %s AS s) AS t
LEFT JOIN LATERAL (SELECT true AS hit%s FROM %s AS p WHERE %s LIMIT 1) AS k ON NOT t.anynull
WHERE %s`, posColumn, strings.Join(nulls, " OR "), strings.Join(nulls, " AND "), strings.Join(fields, ", "), sr.from,
			keys, f.Parent, strings.Join(find, " AND "), where)
		err := queryRows(r.ctx, r.conn, sql, sr.params, func(vals [][]byte) error {
			k, err := int4At(vals[0])
			if err != nil {
				return err
			}
			ch := batch[k]
			anyNull, allNull := isTrue(vals[1]), isTrue(vals[2])
			switch {
			case anyNull && !allNull:
				if f.MatchFull {
					c.reject(ch.seq, ch.kind, ch.row(), partial)
				}
			case anyNull:
			case vals[3] == nil:
				if !f.self && ext != nil {
					missing = append(missing, k)
					return nil
				}
				if !f.self {
					r.rejectMissing(f, &ch, "")
					return nil
				}
				waiting.add(ch.seq, "")
			case f.self:
				id, _ := c.l.destKey(vals[4:])
				found = append(found, meeting{ch: &change{seq: ch.seq, kind: ch.kind}, dest: id})
			}
			return nil
		})
		if err != nil || ext == nil {
			return err
		}
		// Against what the syncs this one depends on write: a parent they
		// insert, a parent they delete.
		return r.externalParents(f, ext, extKey, batch, missing)
	})
	if err != nil || !f.self {
		return err
	}
	// A parent of the table itself: is it still there after the sync?
	if len(found) > 0 {
		ids := map[string]*fate{}
		for _, m := range found {
			ids[m.dest] = &fate{}
		}
		if _, err := c.fates(ids, f.parentMapped); err != nil {
			return err
		}
		for _, m := range found {
			switch fa := ids[m.dest]; {
			case fa.kind == ChangeDelete:
				waiting.add(m.ch.seq, "deleted")
			case fa.kind == ChangeUpdate && fa.moves:
				waiting.add(m.ch.seq, "moved")
			}
		}
	}
	if waiting.all.len() == 0 {
		return nil
	}
	return r.parentsWritten(f, &waiting)
}

// parentsWritten checks that the change set writes a parent for each
// waiting child: an insert, or an update that gives a row the referenced
// values. Candidates are found by hash (not compared again: a collision
// lets a row through, which the write then refuses). A child whose only
// parents are refused is refused in turn, until no more are. The hashes
// and the children's candidates go through external sorts (selfParents):
// what the check holds in memory does not grow with the change set but by
// bits a change (waiting, and the rows it refuses, which are read back
// from the spool once it is done: rejectLater).
func (r *relations) parentsWritten(f *foreignKey, waiting *waitingChildren) error {
	c := r.c
	if f.parentHash == nil {
		var exprs []string
		for _, col := range f.ParentColumns {
			exprs = append(exprs, r.parentCollated(col, pgx.Identifier{col}.Sanitize()))
		}
		h := r.chooseHashing(exprs, f.ParentColumns)
		f.parentHash = &h
	}
	var notNull []string
	for _, col := range f.ParentColumns {
		notNull = append(notNull, pgx.Identifier{col}.Sanitize()+" IS DISTINCT FROM NULL")
	}
	s := newSelfParents(selfParentMemory)
	defer s.close()
	writesParent := func(ch *change) bool { return ch.kind == ChangeInsert || c.l.touches(ch, f.parentMapped) }
	err := r.stateHashes(writesParent, f.ParentColumns, *f.parentHash, strings.Join(notNull, " AND "), func(h rowHash) error {
		return s.parent(h.hash, h.seq, h.kind, false)
	})
	if err != nil {
		return err
	}
	// Parents refused before (a CHECK, an earlier round) are candidates
	// too, so that their children say why they are refused.
	err = r.refusedHashes(writesParent, f.ParentColumns, *f.parentHash, strings.Join(notNull, " AND "), func(h rowHash) error {
		return s.parent(h.hash, h.seq, h.kind, true)
	})
	if err != nil {
		return err
	}
	// The children's values, as the foreign key compares them with the
	// parents' (keyProbe).
	base := make([]uint32, len(f.ParentColumns))
	for k, col := range f.ParentColumns {
		base[k] = oidText
		if pc := c.p.Table.Column(col); pc != nil {
			base[k] = pc.BaseTypeOID
		}
	}
	kp, err := r.keyProbe(f, base)
	if err != nil {
		return err
	}
	child := func(k int) string { return pgx.Identifier{f.ChildColumns[k]}.Sanitize() }
	probe := hashing{text: f.parentHash.text}
	for k := range f.ChildColumns {
		probe.exprs = append(probe.exprs, r.parentCollated(f.ParentColumns[k], kp.value(k, child(k))))
	}
	isWaiting := func(ch *change) bool { return waiting.all.has(ch.seq) }
	guard := kp.guard(child)
	err = r.stateHashes(isWaiting, f.ChildColumns, probe, guard, func(h rowHash) error {
		return s.child(h.hash, h.seq, h.kind, waiting.gone(h.seq) != "")
	})
	if err != nil {
		return err
	}
	if guard != "" {
		// A child whose values no value of the parent's types equals
		// (a timestamp past midnight, of a date parent) has no parent.
		err = r.stateHashes(isWaiting, f.ChildColumns, hashing{constant: true}, "NOT ("+guard+")", func(h rowHash) error {
			c.rejectLater(h.seq, r.missingReason(f, waiting.gone(h.seq)))
			return nil
		})
		if err != nil {
			return err
		}
	}
	err = s.settle(c.rejected.has, func(seq int64, kind ChangeKind, cands []parentCand) bool {
		switch childOutcome(kind, f.Deferrable, cands, c.rejected.has) {
		case parentWritten:
			return false
		case parentTooLate:
			c.rejectLater(seq, rejectReason{Column: singleColumn(f.ChildColumns), Constraint: f.Name,
				Reason: fmt.Sprintf("references a row of %s that this sync inserts, but rowform updates before it inserts and the foreign key is not DEFERRABLE, so it cannot order the writes", f.parent),
				Fix:    fmt.Sprintf("ALTER TABLE %s ALTER CONSTRAINT %s DEFERRABLE;", f.Child, pgx.Identifier{f.Name}.Sanitize())})
		case parentRefused:
			refusedFor := c.reasons[c.reasonOf[cands[0].seq]] // why the first candidate is refused
			why := rejectReason{Column: singleColumn(f.ChildColumns), Constraint: f.Name,
				Reason: fmt.Sprintf("references a row of %s that this sync would write but refuses (%s)", f.parent, refusedFor.described())}
			if r.refusedParent[refusedFor] {
				// The parent is refused for its own refused parent:
				// the descendants of a refused row all name its
				// reason, not one another's, in one finding.
				why = refusedFor
			}
			r.refusedParent[why] = true
			c.rejectLater(seq, why)
		default:
			c.rejectLater(seq, r.missingReason(f, waiting.gone(seq)))
		}
		return true
	})
	if err != nil {
		return err
	}
	return c.describeLater()
}

// parentCollated is expr, a value of (or for) the parent column col,
// under col's collation when it is nondeterministic: the foreign key
// compares the values so (a case-insensitive collation finds 'ALPHA' the
// parent 'alpha'), and their hashes must agree as it does. The values the
// checks send are of the default collation, whose hashes are those of
// bytes: the same as under any deterministic collation.
func (r *relations) parentCollated(col, expr string) string {
	if pc := r.c.p.Table.Column(col); pc != nil && pc.NondeterministicCollation && pc.CollationIdent != "" {
		return fmt.Sprintf("((%s) COLLATE %s)", expr, pc.CollationIdent)
	}
	return expr
}

// childProbe is how the values of a foreign key's child columns are hashed
// to be found among the hashes of their parents' referenced values
// (keyProbe): per child column, in f.ChildColumns' order, the type its
// value is cast to, and the foreign key's operator where the cast must be
// checked.
type childProbe struct {
	types []string
	// ops are the foreign key's equality operators, as OPERATOR(schema.=),
	// of the columns whose cast may change the value (a cross-type
	// operator without hash functions that agree across the types: a
	// timestamp cast to its date parent's type loses its time of day); ""
	// for the others.
	ops []string
}

// value is the SQL of the value of child column k, col being its SQL, in
// the type it hashes in.
func (p childProbe) value(k int, col string) string {
	return fmt.Sprintf("(%s)::%s", col, p.types[k])
}

// guard is the SQL, over the child columns (col(k) the SQL of column k),
// that is true where every cast value equals the child's own as the
// foreign key compares them: where it is not, no parent equals the child
// (the cast value is the only value of the parent's type that could).
// It is "" when no cast can change a value.
func (p childProbe) guard(col func(k int) string) string {
	var conds []string
	for k, op := range p.ops {
		if op != "" {
			conds = append(conds, fmt.Sprintf("(%s %s %s)", p.value(k, col(k)), op, col(k)))
		}
	}
	if len(conds) == 0 {
		return ""
	}
	return fmt.Sprintf("(%s) IS TRUE", strings.Join(conds, " AND "))
}

// keyProbe reads how the children of f compare with their parents, from
// the foreign key's equality operators (pg_constraint.conpfeqop), and
// returns the types to hash the child columns' values in so that a child
// hashes as the parents it equals do: a child column whose type the
// operator compares with the parent's as it is, by an operator whose hash
// functions agree across the types (int8 with int4, float8 with float4),
// is hashed in its own type, since a cast could fail (an int8 past int4)
// or round; any other is cast to the parent column's base type, without a
// modifier (a modifier rounds or truncates: numeric(10,0), varchar(3)),
// and checked against the operator when the operator is cross-type
// (childProbe.ops). parentBase are the oids of the parent columns' base
// types, in f.ParentColumns' order, which the parents' values hash in.
func (r *relations) keyProbe(f *foreignKey, parentBase []uint32) (childProbe, error) {
	var own []bool
	var opTypes, ops, base []string
	err := r.conn.QueryRow(r.ctx, `
SELECT COALESCE(array_agg(o.oprleft <> o.oprright AND EXISTS (
         SELECT 1 FROM pg_amop a JOIN pg_am m ON m.oid = a.amopmethod WHERE m.amname = 'hash' AND a.amopopr = o.oid) ORDER BY e.n), '{}'),
       COALESCE(array_agg(format_type(o.oprright, -1) ORDER BY e.n), '{}'),
       COALESCE(array_agg(CASE WHEN o.oprleft <> o.oprright THEN format('OPERATOR(%I.%s)', n.nspname, o.oprname) ELSE '' END ORDER BY e.n), '{}'),
       (SELECT COALESCE(array_agg(format_type(b.oid, -1) ORDER BY b.n), '{}') FROM unnest($3::oid[]) WITH ORDINALITY AS b(oid, n))
FROM pg_constraint c
CROSS JOIN LATERAL unnest(c.conpfeqop) WITH ORDINALITY AS e(op, n)
JOIN pg_operator o ON o.oid = e.op
JOIN pg_namespace n ON n.oid = o.oprnamespace
WHERE c.conrelid = $1::regclass AND c.conname = $2 AND c.contype = 'f'`, f.Child, f.Name, parentBase).Scan(&own, &opTypes, &ops, &base)
	if err != nil {
		return childProbe{}, fmt.Errorf("reading the equality of the foreign key %s: %w", f.Name, err)
	}
	n := len(f.ChildColumns)
	if len(base) != n {
		return childProbe{}, fmt.Errorf("internal error: %d base types for the %d columns of the foreign key %s", len(base), n, f.Name)
	}
	if len(own) != n || len(opTypes) != n || len(ops) != n {
		own, ops = make([]bool, n), make([]string, n)
	}
	p := childProbe{types: base, ops: ops}
	for k := range own {
		if own[k] {
			p.types[k], p.ops[k] = opTypes[k], ""
		}
	}
	return p, nil
}

// parentOutcome is what parentsWritten decides of a waiting child.
type parentOutcome int

const (
	// parentWritten: a candidate not refused writes the parent in time.
	parentWritten parentOutcome = iota
	// parentTooLate: the candidates not refused only insert the parent,
	// after the update of the child (the foreign key is not DEFERRABLE).
	parentTooLate
	// parentRefused: every candidate is refused; the first one's reason
	// is the child's.
	parentRefused
	// parentMissing: no change writes the parent.
	parentMissing
)

// childOutcome decides a waiting child of kind whose candidate parents are
// cands (selfParents.settle), refused telling which changes are refused by
// now. Apply updates before it inserts: an update can reference an
// inserted row only at COMMIT, when the foreign key is deferrable.
func childOutcome(kind ChangeKind, deferrable bool, cands []parentCand, refused func(seq int64) bool) parentOutcome {
	if len(cands) == 0 {
		return parentMissing
	}
	live := false
	for _, p := range cands {
		if refused(p.seq) {
			continue
		}
		live = true
		if kind == ChangeUpdate && p.kind == ChangeInsert && !deferrable {
			continue
		}
		return parentWritten
	}
	if live {
		return parentTooLate
	}
	return parentRefused
}

// rejectMissing refuses ch for a parent that is not there after the sync;
// gone says what becomes of the destination row it references now: ""
// (there is none), "deleted" or "moved".
func (r *relations) rejectMissing(f *foreignKey, ch *change, gone string) {
	r.c.reject(ch.seq, ch.kind, ch.row(), r.missingReason(f, gone))
}

// missingReason is rejectMissing's reason.
func (r *relations) missingReason(f *foreignKey, gone string) rejectReason {
	why := fmt.Sprintf("references a row of %s that does not exist", f.parent)
	switch gone {
	case "deleted":
		why = fmt.Sprintf("references a row of %s that this sync deletes", f.parent)
	case "moved":
		why = fmt.Sprintf("references values of (%s) in %s that this sync updates away", strings.Join(f.ParentColumns, ", "), f.parent)
	}
	return rejectReason{Column: singleColumn(f.ChildColumns), Constraint: f.Name, Table: f.parent, Reason: why}
}

func isTrue(v []byte) bool { return len(v) == 1 && v[0] == 1 }

func (r *relations) checkIncoming() error {
	for _, f := range r.incoming {
		if !f.readable {
			continue
		}
		if err := r.checkReferences(f, ChangeDelete); err != nil {
			return fmt.Errorf("foreign key %s of %s: %w", f.Name, f.child, err)
		}
		if err := r.checkReferences(f, ChangeUpdate); err != nil {
			return fmt.Errorf("foreign key %s of %s: %w", f.Name, f.child, err)
		}
	}
	return nil
}

// checkReferences checks the deletes (kind ChangeDelete), or the updates
// of referenced columns, of rows that f's child rows reference: it refuses
// them under NO ACTION and RESTRICT, and counts the child rows the other
// actions reach.
func (r *relations) checkReferences(f *foreignKey, kind ChangeKind) error {
	c := r.c
	action := f.OnDelete
	if kind == ChangeUpdate {
		action = f.OnUpdate
		if len(f.parentMapped) == 0 {
			return nil // updates never change the referenced columns
		}
	}
	// Deleted rows whose key has a NULL are not looked up (apply deletes
	// them all at once, by the NULL).
	sel := func(ch *change) bool { return ch.kind == ChangeDelete && !c.l.hasNullKey(ch.dst) }
	// changed: the update changes a referenced value. NO ACTION lets an
	// update to an equal value (citext 'A' to 'a') pass.
	changed := "true"
	if kind == ChangeUpdate {
		sel = func(ch *change) bool { return c.l.touches(ch, f.parentMapped) }
		if action == "a" {
			mapped := c.l.mappedIndex()
			var same []string
			for _, col := range f.ParentColumns {
				q := pgx.Identifier{col}.Sanitize()
				if i, ok := mapped[col]; ok {
					same = append(same, fmt.Sprintf("d.%s IS NOT DISTINCT FROM %s", q, c.l.value(i)))
				}
			}
			changed = "NOT (" + strings.Join(same, " AND ") + ")"
		}
	}
	refs := match("ch", f.ChildColumns, "d", f.ParentColumns)
	count := r.cascades[f]
	if count == nil {
		count = &cascadeCount{}
		r.cascades[f] = count
	}
	var edges []meeting // self: a parent row (ch) and a child row (dest)
	err := c.batches(func(k ChangeKind) bool { return k == kind }, func(all []change) error {
		batch := selectChanges(all, sel)
		if len(batch) == 0 {
			return nil
		}
		var params [][]byte
		var from string
		var err error
		if kind == ChangeDelete && len(f.parentMapped) == len(f.ParentColumns) {
			// A deleted row's referenced values are all in the batch.
			params, from, err = c.deletedRows(batch, f)
		} else {
			params, from, err = c.keyRows(batch, f.parentMapped)
		}
		if err != nil {
			return err
		}
		var sql string
		switch {
		case f.self && f.indexed:
			sql = fmt.Sprintf("SELECT b.i, k.* FROM %s CROSS JOIN LATERAL (SELECT %s FROM %s AS ch WHERE %s OFFSET 0) AS k WHERE %s",
				from, c.l.keySelect("ch"), f.Child, refs, changed)
		case f.self:
			sql = fmt.Sprintf("SELECT b.i, %s FROM %s JOIN %s AS ch ON %s WHERE %s", c.l.keySelect("ch"), from, f.Child, refs, changed)
		case f.refuses(kind) && f.indexed:
			sql = fmt.Sprintf("SELECT b.i FROM %s WHERE %s AND (SELECT true FROM %s AS ch WHERE %s LIMIT 1)", from, changed, f.Child, refs)
		case f.refuses(kind):
			sql = fmt.Sprintf("SELECT b.i FROM %s WHERE %s AND EXISTS (SELECT 1 FROM %s AS ch WHERE %s)", from, changed, f.Child, refs)
		case f.indexed:
			sql = fmt.Sprintf("SELECT x.i, x.n FROM (SELECT b.i, (SELECT count(*) FROM %s AS ch WHERE %s) AS n FROM %s WHERE %s OFFSET 0) AS x WHERE x.n > 0",
				f.Child, refs, from, changed)
		default:
			sql = fmt.Sprintf("SELECT b.i, count(*) FROM %s JOIN %s AS ch ON %s WHERE %s GROUP BY b.i", from, f.Child, refs, changed)
		}
		return queryRows(r.ctx, r.conn, sql, params, func(vals [][]byte) error {
			k, err := int4At(vals[0])
			if err != nil {
				return err
			}
			ch := batch[k]
			switch {
			case f.self:
				id, _ := c.l.destKey(vals[1:])
				if id == c.l.keyID(ch.row()) && kind == ChangeDelete {
					return nil // a row that references itself goes with it
				}
				edges = append(edges, meeting{ch: c.kept(&ch), dest: id})
			case f.refuses(kind):
				r.rejectReferenced(f, &ch, kind)
			default:
				n, err := int8At(vals[1])
				if err != nil {
					return err
				}
				count.add(kind, 1, n)
			}
			return nil
		})
	})
	if err != nil || len(edges) == 0 {
		return err
	}
	return r.selfReferences(f, kind, action, edges, count)
}

// selfReferences decides, for a foreign key of the table to itself, which
// deletes (or updates of referenced values) the rows that reference them
// hold back, knowing what the change set does to those rows.
func (r *relations) selfReferences(f *foreignKey, kind ChangeKind, action string, edges []meeting, count *cascadeCount) error {
	c := r.c
	ids := map[string]*fate{}
	for _, e := range edges {
		ids[e.dest] = &fate{}
	}
	if _, err := c.fates(ids, f.childMapped); err != nil {
		return err
	}
	for {
		refused := false
		for _, e := range edges {
			if c.rejected.has(e.ch.seq) {
				continue
			}
			child := ids[e.dest]
			if c.rejected.has(child.seq) && child.kind != 0 {
				child = &fate{} // its change is refused: it stays as it is
			}
			switch {
			case child.kind == ChangeDelete:
				// Goes in the same DELETE, or before the UPDATE.
				continue
			case !blocks(action):
				if kind == ChangeDelete && action == "c" && child.kind == ChangeUpdate {
					c.reject(e.ch.seq, e.ch.kind, e.ch.row(), rejectReason{Constraint: f.Name,
						Reason: "deleting it cascades (ON DELETE CASCADE) to rows of this table that this sync updates, which would be gone before the UPDATE; rowform cannot order the writes"})
					refused = true
				}
				continue
			case child.kind == ChangeUpdate && child.moves:
				// A child that this sync makes reference another row: in
				// the same UPDATE, or, for a delete, only at COMMIT.
				if kind == ChangeUpdate || (f.Deferrable && action == "a") {
					continue
				}
				reason := rejectReason{Constraint: f.Name,
					Reason: "rows of this table that this sync updates to reference another row still reference it when it is deleted (rowform deletes before it updates), and the foreign key is not DEFERRABLE"}
				if action == "a" {
					reason.Fix = fmt.Sprintf("ALTER TABLE %s ALTER CONSTRAINT %s DEFERRABLE;", f.Child, pgx.Identifier{f.Name}.Sanitize())
				}
				c.reject(e.ch.seq, e.ch.kind, e.ch.row(), reason)
				refused = true
				continue
			}
			r.rejectReferenced(f, e.ch, kind)
			refused = true
		}
		if !refused {
			break
		}
	}
	if blocks(action) {
		return nil
	}
	// The rows the action reaches: children that the change set does not
	// delete, of parents whose change goes ahead. A child references one
	// parent, so each edge is another child.
	parents := map[int64]bool{}
	for _, e := range edges {
		if c.rejected.has(e.ch.seq) {
			continue
		}
		child := ids[e.dest]
		if child.kind == ChangeDelete && !c.rejected.has(child.seq) {
			continue
		}
		parents[e.ch.seq] = true
		count.add(kind, 0, 1)
	}
	count.add(kind, int64(len(parents)), 0)
	return nil
}

// deletedRows is keyRows for deletes whose referenced columns are all
// mapped: d holds the referenced columns, from the batch.
func (c *checker) deletedRows(batch []change, f *foreignKey) (params [][]byte, from string, err error) {
	params, from, err = c.batchRows(batch, f.parentMapped)
	var cols []string
	for k, col := range f.ParentColumns {
		cols = append(cols, fmt.Sprintf("%s AS %s", c.l.value(f.parentMapped[k]), pgx.Identifier{col}.Sanitize()))
	}
	return params, fmt.Sprintf("%s CROSS JOIN LATERAL (SELECT %s) AS d", from, strings.Join(cols, ", ")), err
}

func (r *relations) rejectReferenced(f *foreignKey, ch *change, kind ChangeKind) {
	other := "rows of " + f.child
	if f.self {
		other = "rows of this table"
	}
	reason := rejectReason{Constraint: f.Name,
		Reason: fmt.Sprintf("%s still reference it (ON DELETE %s)", other, actionName(f.OnDelete))}
	if kind == ChangeUpdate {
		reason = rejectReason{Column: singleColumn(f.ParentColumns), Constraint: f.Name,
			Reason: fmt.Sprintf("%s still reference its old value of (%s) (ON UPDATE %s)", other, strings.Join(f.ParentColumns, ", "), actionName(f.OnUpdate))}
	}
	if cols := f.fails(kind); cols != "" {
		reason.Reason += fmt.Sprintf(", which would set %s (NOT NULL) to NULL in them", cols)
	}
	reason.Table = f.child
	r.c.reject(ch.seq, ch.kind, ch.row(), reason)
}

func (n *cascadeCount) add(kind ChangeKind, parents, rows int64) {
	if kind == ChangeDelete {
		n.deletes += parents
		n.deleteRows += rows
	} else {
		n.updates += parents
		n.updateRows += rows
	}
}

// int8At decodes a binary int8 result value.
func int8At(v []byte) (int64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("internal error: a check returned %d bytes for an int8", len(v))
	}
	var n int64
	for _, b := range v {
		n = n<<8 | int64(b)
	}
	return n, nil
}

// cascadeNotes adds a cascade finding per foreign key whose actions reach
// rows of its table: one per child table and constraint.
func (r *relations) cascadeNotes() {
	c := r.c
	for _, f := range r.incoming {
		n := r.cascades[f]
		if n == nil || n.deleteRows+n.updateRows == 0 {
			continue
		}
		cols := "(" + strings.Join(f.ChildColumns, ", ") + ")"
		effect := func(action string) string {
			switch action {
			case "c":
				return "deletes %d row%s of %s with them"
			case "n":
				return "sets " + cols + " to NULL in %d row%s of %s"
			}
			return "sets " + cols + " to its default in %d row%s of %s"
		}
		var parts []string
		if n.deleteRows > 0 {
			parts = append(parts, fmt.Sprintf("deleting %d row%s of %s ", n.deletes, plural.S(n.deletes), c.p.Sync.Table)+
				fmt.Sprintf(effect(f.OnDelete), n.deleteRows, plural.S(n.deleteRows), f.child)+
				fmt.Sprintf(" (ON DELETE %s)", actionName(f.OnDelete)))
		}
		if n.updateRows > 0 {
			e := effect(f.OnUpdate)
			if f.OnUpdate == "c" {
				e = "changes " + cols + " in %d row%s of %s with them"
			}
			parts = append(parts, fmt.Sprintf("updating (%s) in %d row%s of %s ", strings.Join(f.ParentColumns, ", "), n.updates, plural.S(n.updates), c.p.Sync.Table)+
				fmt.Sprintf(e, n.updateRows, plural.S(n.updateRows), f.child)+
				fmt.Sprintf(" (ON UPDATE %s)", actionName(f.OnUpdate)))
		}
		c.notes = append(c.notes, Finding{Severity: SeverityWarning, Code: CodeCascade,
			Summary:    strings.Join(parts, "; "),
			Detail:     fmt.Sprintf("The foreign key %s of %s acts on its rows when the rows they reference go or change. The count is of the rows that reference the planned deletes and updates directly; what happens to them in turn (rows that reference them, triggers on %s) is not counted.", f.Name, f.child, f.child),
			Table:      f.child,
			Constraint: f.Name,
			Rows:       n.deleteRows + n.updateRows,
		})
	}
}
