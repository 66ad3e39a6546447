package planner

import (
	"context"
	"encoding/binary"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The checks between rows: a change set's rows against each other and
// against the rest of the destination — other unique keys
// (rules_unique.go), foreign keys in both directions (rules_fk.go) — and the
// notes about what the writes set off: cascades (rules_fk.go) and triggers
// (rules_triggers.go).
//
// These checks depend on one another: a refused delete keeps its row, and
// with it the values and the references the row holds; a refused insert is
// no parent for the rows that reference it; a refused update keeps its old
// values. Each check therefore looks only at the changes not refused yet,
// and the checks run again, in rounds, until a round refuses nothing more
// (maxRelationRounds). A change set the destination accepts whole costs one
// round.
//
// Cost. Every query carries changed rows only (a batch at a time) and finds
// the rows they meet in the destination through its indexes; a table
// without other unique keys, foreign keys or triggers costs nothing. What a
// batch cannot decide alone — two changed rows in different batches that
// collide, a parent inserted in another batch, a destination row that
// another batch deletes — is settled in Go: the server returns, per row, a
// 64-bit hash of its values computed with the values' own hash functions
// (equal values hash alike under the index's equality: citext, numeric
// scale, nondeterministic collations), and the rows whose hashes meet are
// compared again on the server (hashgroups.go: the hashes are sorted on
// disk, not held in memory); destination rows are recognized by their
// sync key, as the diff matches them.

func init() {
	serverCheckList = append(serverCheckList, (*checker).checkRelations)
}

// maxRelationRounds bounds the rounds of the checks between rows. Each
// round after the first runs only because the previous one refused a row;
// chains longer than this (a refused row that unsettles another, and so
// on) are cut short, with an unchecked_rows warning, and apply's writes
// then refuse what the plan missed.
const maxRelationRounds = 5

// relations is one run of the checks between rows over a checker's changes.
type relations struct {
	c    *checker
	ctx  context.Context
	conn *pgx.Conn
	// uniques are the unique indexes to check (not the sync key's).
	uniques []*uniqueIndex
	// exclusions are the exclusion constraints (rules_exclusion.go).
	exclusions []*exclusion
	// outgoing are the foreign keys of the table; incoming those that
	// reference it (a foreign key of the table to itself is in both).
	outgoing []*foreignKey
	incoming []*foreignKey
	// cascades counts, per referencing foreign key, the rows the planned
	// writes reach in the other table (the last round's count).
	cascades map[*foreignKey]*cascadeCount
	// refusedParent holds the reasons that refuse a row for a parent the
	// sync refuses (parentsWritten).
	refusedParent map[rejectReason]bool
}

// checkRelations runs the checks between rows, then adds the notes about
// cascades and triggers.
func (c *checker) checkRelations(ctx context.Context, conn *pgx.Conn) error {
	r := c.p.rules
	if r == nil {
		return nil
	}
	rel := &relations{c: c, ctx: ctx, conn: conn, refusedParent: map[rejectReason]bool{}}
	if err := rel.prepareUniques(); err != nil {
		return fmt.Errorf("reading the unique indexes of %s: %w", c.p.Sync.Table, err)
	}
	if err := rel.prepareForeignKeys(); err != nil {
		return fmt.Errorf("reading the foreign keys of %s: %w", c.p.Sync.Table, err)
	}
	rel.prepareExclusions()
	if len(rel.uniques) > 0 || len(rel.exclusions) > 0 || len(rel.outgoing) > 0 || len(rel.incoming) > 0 {
		restore, err := rel.withoutJIT()
		if err != nil {
			return err
		}
		defer restore()
		settled := false
		for round := 0; round < maxRelationRounds && !settled; round++ {
			before := c.rejected.len()
			// Refused deletes and updates keep their rows' values and
			// references, so the references into the table go first;
			// refused rows are no parents, so the foreign keys go last.
			rel.cascades = map[*foreignKey]*cascadeCount{}
			if err := rel.checkIncoming(); err != nil {
				return fmt.Errorf("checking the rows that reference %s: %w", c.p.Sync.Table, err)
			}
			if err := rel.checkUniques(); err != nil {
				return fmt.Errorf("checking the unique indexes of %s: %w", c.p.Sync.Table, err)
			}
			if err := rel.checkExclusions(); err != nil {
				return fmt.Errorf("checking the exclusion constraints of %s: %w", c.p.Sync.Table, err)
			}
			if err := rel.checkOutgoing(); err != nil {
				return fmt.Errorf("checking the foreign keys of %s: %w", c.p.Sync.Table, err)
			}
			settled = c.rejected.len() == before
		}
		if !settled {
			c.notes = append(c.notes, Finding{Severity: SeverityWarning, Code: CodeUncheckedRows,
				Summary: fmt.Sprintf("the checks of %s between the rows of this sync were cut short after %d rounds", c.p.Sync.Table, maxRelationRounds),
				Detail: "Each round refused rows that unsettle others (an update refused keeps its old unique value, which an insert then cannot take, whose children are then refused, ...), and the last round still refused some: the rows the next round would refuse were not found. " +
					"If apply fails on a unique key or a foreign key, fix the rows the findings name first, or plan those syncs again once they are fixed."})
		}
		rel.cascadeNotes()
	}
	if err := c.triggerNotes(); err != nil {
		return fmt.Errorf("listing the triggers of %s: %w", c.p.Sync.Table, err)
	}
	return nil
}

// withoutJIT turns JIT compilation off for the checks, and returns what
// turns it back on. Their queries look up a few rows each by index, many
// times: the planner's cost for them is high enough to compile them, which
// takes longer than running them.
func (r *relations) withoutJIT() (func(), error) {
	var prev string
	if err := r.conn.QueryRow(r.ctx, "SELECT COALESCE(current_setting('jit', true), '')").Scan(&prev); err != nil {
		return nil, err
	}
	if prev == "" || prev == "off" {
		return func() {}, nil
	}
	if _, err := r.conn.Exec(r.ctx, "SELECT set_config('jit', 'off', false)"); err != nil {
		return nil, err
	}
	return func() {
		// Inside a transaction that failed, its end restores the setting.
		_, _ = r.conn.Exec(context.WithoutCancel(r.ctx), "SELECT set_config('jit', $1, false)", prev)
	}, nil
}

// isWrite selects inserts and updates.
func isWrite(k ChangeKind) bool { return k == ChangeInsert || k == ChangeUpdate }

// mappedIndex maps destination column names to their index in the layout.
func (l *layout) mappedIndex() map[string]int {
	m := make(map[string]int, len(l.Cols))
	for i, col := range l.Cols {
		m[col.Dest] = i
	}
	return m
}

// mappedOf lists the layout indexes of the names that are mapped.
func (l *layout) mappedOf(names []string) []int {
	m := l.mappedIndex()
	var out []int
	for _, n := range names {
		if i, ok := m[n]; ok {
			out = append(out, i)
		}
	}
	return out
}

// touches reports whether an update changes any of the mapped columns cols
// (by bytes, as the diff compares them). Updates never write the key
// columns, whose bytes may differ between source and destination (1.5 and
// 1.50) while they match.
func (l *layout) touches(ch *change, cols []int) bool {
	if ch.kind != ChangeUpdate {
		return false
	}
	for _, i := range cols {
		if i < l.NKey {
			continue
		}
		a, b := ch.src.Values[i], ch.dst.Values[i]
		if (a == nil) != (b == nil) || string(a) != string(b) {
			return true
		}
	}
	return false
}

// stateRows is a FROM item over a batch of inserts and updates (mixed):
// each change's row as it will be after the write, with the batch position
// as posColumn and one column per requested name, named as the table's
// column. A mapped column comes from the batch; an unmapped one keeps, for
// an update, the destination row's value, and takes, for an insert, its
// default (NULL when the default cannot be computed read-only: a sequence);
// a generated one is computed from the others (endState).
type stateRows struct {
	params [][]byte
	// from is "(SELECT ...)" without an alias.
	from string
	// err: a value cannot be given to the server (batchArgs).
	err error
}

// endStateInputs selects the layout columns an end-state row of cols is
// computed from: the key columns (an unmapped column of an update is read
// by key) and the mapped columns among storedColumns(cols). Only these
// travel to the server, so a value no check reads is never sent.
func (c *checker) endStateInputs(cols []string) func(i int) bool {
	l := c.l
	mapped := l.mappedIndex()
	send := make([]bool, len(l.Cols))
	for i := 0; i < l.NKey; i++ {
		send[i] = true
	}
	for _, name := range c.storedColumns(cols) {
		if i, ok := mapped[name]; ok {
			send[i] = true
		}
	}
	return func(i int) bool { return send[i] }
}

func (c *checker) stateRows(batch []change, cols []string) stateRows {
	l := c.l
	mapped := l.mappedIndex()
	var sr stateRows
	ins := make([][]byte, len(batch))
	for k := range batch {
		if batch[k].kind == ChangeInsert {
			ins[k] = []byte{1}
		} else {
			ins[k] = []byte{0}
		}
	}
	var b batchArgs
	b.addPositions(len(batch))
	b.add("ins", "bool", oidBool, ins)
	b.addRows(l, batch, func(ch *change) *Row { return ch.src }, c.endStateInputs(cols))
	sr.params, sr.err = b.params, b.err
	sel := []string{"b.i AS " + posColumn}
	for _, name := range c.storedColumns(cols) {
		q := pgx.Identifier{name}.Sanitize()
		if i, ok := mapped[name]; ok {
			sel = append(sel, l.value(i)+" AS "+q)
			continue
		}
		sel = append(sel, fmt.Sprintf("CASE WHEN b.ins THEN %s ELSE (SELECT d.%s FROM %s AS d WHERE %s) END AS %s",
			c.insertDefault(name), q, c.p.Table.Ident(), c.keyMatch("d"), q))
	}
	sr.from = c.endState(sel, b.from("b"), cols)
	return sr
}

// insertDefault is the value an insert leaves in the unmapped column name:
// its default, or NULL when it has none or it draws from a sequence (which
// a read-only check cannot do).
func (c *checker) insertDefault(name string) string {
	def := "NULL"
	if d, ok := c.p.rules.Defaults[name]; ok && !strings.Contains(d, "nextval(") {
		def = d
	}
	if col := c.p.Table.Column(name); col != nil {
		def = fmt.Sprintf("(%s)::%s", def, col.Type)
	}
	return def
}

// keyRows is a FROM item over a batch of updates or deletes joined to their
// destination rows by key: b is the batch (position b.i, and the key
// columns and the mapped columns need as b.c0, ...: the values an update
// writes, or a deleted row's), d the destination row as it is now.
func (c *checker) keyRows(batch []change, need []int) (params [][]byte, from string, err error) {
	params, from, err = c.batchRows(batch, need)
	// One index lookup per row (LIMIT keeps the planner from scanning the
	// whole table to join it).
	return params, fmt.Sprintf("%s CROSS JOIN LATERAL (SELECT * FROM %s AS d WHERE %s LIMIT 1) AS d", from, c.p.Table.Ident(), c.keyMatch("d")), err
}

// batchRows is the FROM item "unnest(...) AS b(i, c0, ...)" over a batch:
// the position, the key columns and the mapped columns need, of each
// change's row (what an update writes, what a delete removes).
func (c *checker) batchRows(batch []change, need []int) (params [][]byte, from string, err error) {
	l := c.l
	var b batchArgs
	b.addPositions(len(batch))
	b.addRows(l, batch, (*change).row, func(i int) bool { return i < l.NKey || slices.Contains(need, i) })
	return b.params, b.from("b"), b.err
}

// keySelect selects, from the destination row alias, its sync key as the
// diff reads it: the key columns, then their canonical text forms (the
// diff's extra sort columns). It is the only thing a query selects under
// these names (k0, k1, ... among them).
func (l *layout) keySelect(alias string) string {
	expr := func(i int) string {
		e := alias + "." + pgx.Identifier{l.Cols[i].Dest}.Sanitize()
		if l.Cols[i].AsText {
			e += "::text"
		}
		return e
	}
	var sel []string
	for i := 0; i < l.NKey; i++ {
		sel = append(sel, fmt.Sprintf("%s AS key%d", expr(i), i))
	}
	return strings.Join(sel, ", ") + l.textKeySelect(expr)
}

// destKey is a destination row's sync key as keySelect read it (binary
// values), in the form keyID gives a change's row.
func (l *layout) destKey(vals [][]byte) (id string, nullKey bool) {
	var b []byte
	t := l.NKey
	for i := 0; i < l.NKey; i++ {
		v := vals[i]
		if v == nil {
			nullKey = true
		}
		if l.Orders[i] == orderText {
			v = vals[t]
			t++
		}
		b = appendValues(b, [][]byte{v})
	}
	return string(b), nullKey
}

// keyID identifies a change's row by its sync key, as the diff matches
// keys: the values of the key columns, or their canonical text forms.
func (l *layout) keyID(r *Row) string {
	var b []byte
	t := len(l.Cols)
	for i := 0; i < l.NKey; i++ {
		v := r.Values[i]
		if l.Orders[i] == orderText {
			v = r.Values[t]
			t++
		}
		b = appendValues(b, [][]byte{v})
	}
	return string(b)
}

// fate is what the change set does to one destination row.
type fate struct {
	// kind is ChangeDelete or ChangeUpdate; 0 when the row is left alone
	// (or its change is refused).
	kind ChangeKind
	seq  int64
	// moves: the update changes one of the columns asked about.
	moves bool
}

// fates looks up, for each destination row in ids (by keyID), the change
// the change set makes to it, among the changes not refused; moving says
// which mapped columns make an update a move. Destination rows whose key
// has a NULL are deleted by a mirror's every delete of such rows:
// nullKeysDeleted reports whether the change set deletes them.
func (c *checker) fates(ids map[string]*fate, moving []int) (nullKeysDeleted bool, err error) {
	gone := func(k ChangeKind) bool { return k == ChangeDelete || k == ChangeUpdate }
	err = c.batches(gone, func(batch []change) error {
		for k := range batch {
			ch := &batch[k]
			if ch.kind == ChangeDelete && c.l.hasNullKey(ch.dst) {
				nullKeysDeleted = true
				continue
			}
			f, ok := ids[c.l.keyID(ch.dst)]
			if !ok {
				continue
			}
			f.kind, f.seq = ch.kind, ch.seq
			f.moves = c.l.touches(ch, moving)
		}
		return nil
	})
	return nullKeysDeleted, err
}

// queryRows runs sql with binary parameters (types from the query's casts)
// and calls fn with each result row in binary format.
func queryRows(ctx context.Context, conn *pgx.Conn, sql string, params [][]byte, fn func(vals [][]byte) error) error {
	formats := make([]int16, len(params))
	for i := range formats {
		formats[i] = 1
	}
	rr := conn.PgConn().ExecParams(ctx, sql, params, nil, formats, []int16{1})
	var ferr error
	for rr.NextRow() {
		if ferr == nil {
			ferr = fn(rr.Values())
		}
	}
	if _, err := rr.Close(); err != nil {
		return err
	}
	return ferr
}

// int4At decodes a binary int4 result value.
func int4At(v []byte) (int, error) {
	if len(v) != 4 {
		return 0, fmt.Errorf("internal error: a check returned %d bytes for an int4", len(v))
	}
	return int(int32(binary.BigEndian.Uint32(v))), nil
}

// hashAt decodes a binary int8 hash a check returned.
func hashAt(v []byte) (uint64, error) {
	if len(v) != 8 {
		return 0, fmt.Errorf("internal error: a hash of %d bytes", len(v))
	}
	return binary.BigEndian.Uint64(v), nil
}

// rowHash is the hash of one change's values.
type rowHash struct {
	hash uint64
	seq  int64
	kind ChangeKind
}

// hashing says how a set of values is hashed on the server.
type hashing struct {
	// exprs are the values, as SQL over the table's column names.
	exprs []string
	// text: hash their text forms; for types without a hash function
	// (bit, varbit, money, composite types), whose equal values have equal
	// text forms.
	text bool
	// strict: the hash is NULL when a value is NULL.
	strict bool
	// constant: every row hashes to 0 (exprs are not read).
	constant bool
	// guard, SQL over the same columns, makes the hash NULL where it is
	// not true ("": never).
	guard string
}

// sql renders the combined 64-bit hash of the values, each under its own
// seed so that (a, b) and (b, a) differ.
func (h hashing) sql() string {
	if h.constant {
		return "0::int8"
	}
	var parts []string
	for k, e := range h.exprs {
		if h.text {
			parts = append(parts, fmt.Sprintf("COALESCE(hashtextextended((%s)::text, %d), 0)", e, k))
		} else {
			parts = append(parts, fmt.Sprintf("hash_array_extended(ARRAY[(%s)], %d)", e, k))
		}
	}
	var conds []string
	if h.guard != "" {
		conds = append(conds, "("+h.guard+")")
	}
	if !h.strict && len(conds) == 0 {
		return strings.Join(parts, " # ")
	}
	for _, e := range h.exprs {
		if h.strict {
			conds = append(conds, fmt.Sprintf("(%s) IS DISTINCT FROM NULL", e))
		}
	}
	return fmt.Sprintf("CASE WHEN %s THEN %s END", strings.Join(conds, " AND "), strings.Join(parts, " # "))
}

// chooseHashing decides whether exprs (over the table's columns cols) can
// be hashed with their types' own hash functions: it evaluates them on a
// row of NULLs of the columns' types.
func (r *relations) chooseHashing(exprs []string, cols []string) hashing {
	h := hashing{exprs: exprs}
	var sel []string
	for _, name := range cols {
		typ := "text"
		if col := r.c.p.Table.Column(name); col != nil {
			typ = col.Type
		}
		sel = append(sel, fmt.Sprintf("NULL::%s AS %s", typ, pgx.Identifier{name}.Sanitize()))
	}
	h.text = !hashesNatively(r.ctx, r.conn, h, fmt.Sprintf(" FROM (SELECT %s) AS s", strings.Join(sel, ", ")))
	return h
}

// hashesNatively reports whether the server hashes h's values by their
// types' own hash functions: whether "SELECT h.sql()" over from (a FROM
// clause that gives h's columns, NULLs of their types; "" when h's exprs
// are such NULLs themselves) runs. A type without one (bit, money, a
// composite) makes it fail, and such values are hashed by their text.
func hashesNatively(ctx context.Context, conn *pgx.Conn, h hashing, from string) bool {
	return tryQuery(ctx, conn, func() error { return execBinary(ctx, conn, "SELECT "+h.sql()+from, nil, nil) }) == nil
}

// stateHashes hashes, for every insert and update that sel selects (and
// is not refused), h's values over the row the write leaves, where cond (SQL
// over the same columns, "" for always) holds, and calls fn with each hash,
// in the order of the change set. cols are the columns h and cond read.
func (r *relations) stateHashes(sel func(*change) bool, cols []string, h hashing, cond string, fn func(rowHash) error) error {
	return r.hashesOf(r.c.batches, sel, cols, h, cond, fn)
}

// refusedHashes is stateHashes over the inserts and updates already
// refused: the rows they would have left.
func (r *relations) refusedHashes(sel func(*change) bool, cols []string, h hashing, cond string, fn func(rowHash) error) error {
	return r.hashesOf(r.c.refusedBatches, sel, cols, h, cond, fn)
}

// hashesOf is stateHashes over the changes that batches gives.
func (r *relations) hashesOf(batches func(func(ChangeKind) bool, func([]change) error) error, sel func(*change) bool, cols []string, h hashing, cond string, fn func(rowHash) error) error {
	where := ""
	if cond != "" {
		where = " WHERE " + cond
	}
	return batches(isWrite, func(all []change) error {
		batch := selectChanges(all, sel)
		if len(batch) == 0 {
			return nil
		}
		sr := r.c.stateRows(batch, cols)
		if sr.err != nil {
			return sr.err
		}
		sql := fmt.Sprintf("SELECT s.%s, %s FROM %s AS s%s", posColumn, h.sql(), sr.from, where)
		return queryRows(r.ctx, r.conn, sql, sr.params, func(vals [][]byte) error {
			k, err := int4At(vals[0])
			if err != nil {
				return err
			}
			h, err := hashAt(vals[1])
			if err != nil {
				return err
			}
			return fn(rowHash{hash: h, seq: batch[k].seq, kind: batch[k].kind})
		})
	})
}

// selectChanges keeps the changes of batch that sel selects (all when sel
// is nil), reusing batch's memory.
func selectChanges(batch []change, sel func(*change) bool) []change {
	if sel == nil {
		return batch
	}
	out := batch[:0]
	for k := range batch {
		if sel(&batch[k]) {
			out = append(out, batch[k])
		}
	}
	return out
}

// hasPrivilege reports whether the session may read table (a quoted
// qualified name).
func (r *relations) hasPrivilege(table string) (bool, error) {
	var ok bool
	err := r.conn.QueryRow(r.ctx, "SELECT has_table_privilege($1, 'SELECT')", table).Scan(&ok)
	return ok, err
}

// sameColumns reports whether a and b name the same columns, in any order.
func sameColumns(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for _, x := range a {
		if !slices.Contains(b, x) {
			return false
		}
	}
	return true
}

// quotedList renders names as a list of quoted identifiers.
func quotedList(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = pgx.Identifier{n}.Sanitize()
	}
	return strings.Join(q, ", ")
}
