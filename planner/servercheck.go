package planner

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"regexp"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
)

// The destination server's own checks of a change set. The changes are sent
// in batches, as one array parameter per column (the values exactly as the
// diff holds them, in binary), and the server evaluates its rules on them
// with read-only queries: nothing is written, so plan can run them, and
// apply runs the same queries in its transaction.

// checkBatchRows is how many changes one check query carries, at most: a
// batch also ends at checkBatchBytes of row data, so that wide rows keep
// the batch (in rowform and on the server) small.
const checkBatchRows = 20000

// checkBatchBytes bounds the row data of one check batch.
const checkBatchBytes = 8 << 20

// change is one spooled change as a check sees it.
type change struct {
	seq  int64
	kind ChangeKind
	src  *Row // nil for deletes
	dst  *Row // nil for inserts
}

// row is the row whose values the change writes (or, for a delete, the
// row it removes).
func (c *change) row() *Row {
	if c.kind == ChangeDelete {
		return c.dst
	}
	return c.src
}

// kept is the copy of ch that a check keeps past its batch (a meeting
// with a destination row, a child waiting for its parent): its sequence
// number and kind, and its row (row()) with only the key values, which is
// all that deciding on it and refusing it read. A batch's rows are whole
// copies; keeping those would hold every met row of the change set in
// memory at once, so what a check keeps costs keys, not rows.
func (c *checker) kept(ch *change) *change {
	k := &Row{}
	c.l.setKeys(k, ch.row())
	cp := &change{seq: ch.seq, kind: ch.kind}
	if ch.kind == ChangeDelete {
		cp.dst = k
	} else {
		cp.src = k
	}
	return cp
}

// batches calls fn with the spooled changes that pass want, up to
// checkBatchRows at a time, skipping changes already rejected. The rows are
// copies that fn may keep until it returns.
func (c *checker) batches(want func(kind ChangeKind) bool, fn func([]change) error) error {
	return c.batchesOf(false, want, fn)
}

// refusedBatches is batches over the changes already rejected only.
func (c *checker) refusedBatches(want func(kind ChangeKind) bool, fn func([]change) error) error {
	return c.batchesOf(true, want, fn)
}

// batchesOf is batches over the changes already rejected (refused) or
// over the others.
func (c *checker) batchesOf(refused bool, want func(kind ChangeKind) bool, fn func([]change) error) error {
	var batch []change
	size := 0
	err := c.each(func(seq int64, kind ChangeKind, src, dst *Row) error {
		if c.rejected.has(seq) != refused || !want(kind) {
			return nil
		}
		ch := change{seq: seq, kind: kind}
		if src != nil {
			ch.src = src.clone()
			size += valuesSize(src.Values)
		}
		if dst != nil {
			ch.dst = dst.clone()
			size += valuesSize(dst.Values)
		}
		batch = append(batch, ch)
		if len(batch) == checkBatchRows || size >= checkBatchBytes {
			err := fn(batch)
			clear(batch) // let the copies go
			batch, size = batch[:0], 0
			return err
		}
		return nil
	})
	if err != nil || len(batch) == 0 {
		return err
	}
	return fn(batch)
}

// wireType is the SQL type name of column i's values as the diff holds
// them, and its OID.
func (l *layout) wireType(i int) (string, uint32) {
	c := l.Cols[i]
	switch {
	case c.AsText, c.limit.kind == limitBytes:
		return "text", oidText
	case c.limit.kind == limitBit || c.limit.kind == limitVarbit:
		return "bit varying", oidVarbit
	case c.limit.kind != noLimit:
		return c.CastType, c.Catalog.TypeOID
	}
	return c.Catalog.Type, c.Catalog.TypeOID
}

// arrayParam encodes values as a one-dimensional binary array of elemOID.
func arrayParam(elemOID uint32, values [][]byte) []byte {
	hasNull := uint32(0)
	for _, v := range values {
		if v == nil {
			hasNull = 1
			break
		}
	}
	b := make([]byte, 0, 20+valuesSize(values))
	b = binary.BigEndian.AppendUint32(b, 1) // dimensions
	b = binary.BigEndian.AppendUint32(b, hasNull)
	b = binary.BigEndian.AppendUint32(b, elemOID)
	b = binary.BigEndian.AppendUint32(b, uint32(len(values)))
	b = binary.BigEndian.AppendUint32(b, 1) // lower bound
	return appendValues(b, values)
}

// batchParams are the parameters of a check query over a batch: $1 the
// batch positions (int4[]), then one array per layout column that want
// selects (every one when want is nil), of the values each change writes
// (pick chooses the row of a change: src for inserts and updates, dst for
// deletes). A column not selected is not in the FROM item.
type batchParams struct {
	values [][]byte
	// from is the FROM item "unnest($1::int4[], $2::type[], ...) AS b(i, c0, ...)"
	// (batchArgs.from).
	from string
	// err: a value cannot be given to the server (batchArgs).
	err error
}

func (l *layout) batchParams(batch []change, pick func(*change) *Row, want func(i int) bool) batchParams {
	var b batchArgs
	b.addPositions(len(batch))
	b.addRows(l, batch, pick, want)
	return batchParams{values: b.params, from: b.from("b"), err: b.err}
}

// value is column i of the batch row b in the destination column's type.
func (l *layout) value(i int) string {
	c := l.Cols[i]
	if c.AsText {
		return fmt.Sprintf("b.%s::%s", alias(i), c.Catalog.Type)
	}
	return "b." + alias(i)
}

// execBinary runs sql with binary parameters (types from the query's casts)
// and calls fn with each result row in text format.
func execBinary(ctx context.Context, conn *pgx.Conn, sql string, params [][]byte, fn func(vals [][]byte) error) error {
	formats := make([]int16, len(params))
	for i := range formats {
		formats[i] = 1
	}
	rr := conn.PgConn().ExecParams(ctx, sql, params, nil, formats, nil)
	var ferr error
	for rr.NextRow() {
		if ferr == nil && fn != nil {
			ferr = fn(rr.Values())
		}
	}
	if _, err := rr.Close(); err != nil {
		return err
	}
	return ferr
}

// inTransaction reports whether conn has an open transaction (apply), in
// which a failed statement must be undone with a savepoint.
func inTransaction(conn *pgx.Conn) bool {
	return conn.PgConn().TxStatus() != 'I'
}

// tryQuery runs fn, undoing a failure inside apply's transaction with a
// savepoint so that the transaction goes on. It returns fn's error.
func tryQuery(ctx context.Context, conn *pgx.Conn, fn func() error) error {
	if !inTransaction(conn) {
		return fn()
	}
	if _, err := conn.Exec(ctx, "SAVEPOINT rowform_check"); err != nil {
		return err
	}
	ferr := fn()
	if ferr != nil {
		if _, err := conn.Exec(ctx, "ROLLBACK TO SAVEPOINT rowform_check"); err != nil {
			return err
		}
	}
	if _, err := conn.Exec(ctx, "RELEASE SAVEPOINT rowform_check"); err != nil {
		return err
	}
	return ferr
}

// isValueError reports the server refusing a value: a data exception
// (class 22), a CHECK or NOT NULL violation of a domain (23514, 23502).
func isValueError(err error) (*pgconn.PgError, bool) {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return nil, false
	}
	return pgErr, strings.HasPrefix(pgErr.Code, "22") || pgErr.Code == "23514" || pgErr.Code == "23502"
}

// serverChecks runs the destination's own checks on the spooled changes.
func (c *checker) serverChecks(ctx context.Context, conn *pgx.Conn) error {
	if c.spool.len() == c.rejected.len() {
		return nil
	}
	if err := c.checkConversions(ctx, conn); err != nil {
		return err
	}
	if err := c.dropRespellings(ctx, conn); err != nil {
		return err
	}
	for _, check := range serverCheckList {
		if err := check(c, ctx, conn); err != nil {
			return err
		}
	}
	return nil
}

// serverCheckList are the checks that run after the conversions, each on
// the changes not rejected yet.
var serverCheckList = []func(c *checker, ctx context.Context, conn *pgx.Conn) error{}

// checkConversions finds the values of columns carried as text (enums,
// domains, other types that are not built in) that the destination's type
// refuses: a label that is not in the enum, a value that fails a domain's
// constraint. A batch that converts whole costs one query; one that does
// not is split in halves until the refused values are found.
func (c *checker) checkConversions(ctx context.Context, conn *pgx.Conn) error {
	l := c.l
	var cols []int
	for i, col := range l.Cols {
		if col.AsText {
			cols = append(cols, i)
		}
	}
	if len(cols) == 0 {
		return nil
	}
	writes := func(k ChangeKind) bool { return k != ChangeDelete }
	return c.batches(writes, func(batch []change) error {
		for _, i := range cols {
			if err := c.convertColumn(ctx, conn, i, batch); err != nil {
				return err
			}
		}
		return nil
	})
}

// convertColumn checks that column i's values of batch convert.
func (c *checker) convertColumn(ctx context.Context, conn *pgx.Conn, i int, batch []change) error {
	col := c.l.Cols[i]
	sql := fmt.Sprintf("SELECT count(v::%s) FROM unnest($1::text[]) AS v", col.Catalog.Type)
	if col.Catalog.IsDomain() {
		// A domain: its input function, as a write converts text, which
		// refuses 'GBR' for a domain over char(2) where the explicit
		// cast cuts it to 'GB'.
		sql = fmt.Sprintf("SELECT count(domain_in(v::cstring, %d, -1)) FROM unnest($1::text[]) AS v", col.Catalog.TypeOID)
	}
	var try func(part []change) error
	try = func(part []change) error {
		var vals [][]byte
		for k := range part {
			ch := &part[k]
			if c.rejected.has(ch.seq) {
				vals = append(vals, nil)
				continue
			}
			vals = append(vals, ch.src.Values[i])
		}
		err := tryQuery(ctx, conn, func() error {
			return execBinary(ctx, conn, sql, [][]byte{arrayParam(oidText, vals)}, nil)
		})
		if err == nil {
			return nil
		}
		pgErr, ok := isValueError(err)
		if !ok {
			return err
		}
		if len(part) == 1 {
			reason := pgErr.Message
			c.reject(part[0].seq, part[0].kind, part[0].src, rejectReason{Column: col.Dest,
				Constraint: pgErr.ConstraintName, Reason: withoutValue(reason)})
			return nil
		}
		half := len(part) / 2
		if err := try(part[:half]); err != nil {
			return err
		}
		return try(part[half:])
	}
	return try(batch)
}

// withoutValue cuts a server message before the value it quotes
// ("invalid input value for enum mood: \"x\""), so that one reason groups
// every row it refuses and no value is shown. A value quoted after the
// word value ("value \"3000000000\" is out of range for type integer") is
// left out and the message kept around it.
//
// A message that starts with the value ("\"3.4028236e38\" is out of range
// for type real") keeps what follows it; one about the bytes of an encoding
// keeps the encoding's name, and says when the byte is a NUL, which no
// text can hold, without naming other bytes.
func withoutValue(msg string) string {
	if strings.HasPrefix(msg, `"`) {
		if i := strings.LastIndex(msg, `" is `); i > 0 {
			return "value" + msg[i+1:]
		}
	}
	if namedCheck.MatchString(msg) {
		return msg // the quoted part is the constraint's name
	}
	if m := badBytes.FindStringSubmatch(msg); m != nil {
		if m[2] == "0x00" {
			return m[1] + ": a NUL character, which PostgreSQL text cannot hold" + m[3]
		}
		return m[1] + m[3]
	}
	msg = quotedValue.ReplaceAllString(msg, "value ")
	if i := strings.Index(msg, ": \""); i >= 0 {
		return msg[:i]
	}
	if i := strings.IndexByte(msg, '"'); i >= 0 {
		return strings.TrimSpace(msg[:i])
	}
	return msg
}

// namedCheck is PostgreSQL's message of a domain's CHECK, which quotes the
// constraint's name and no value.
var namedCheck = regexp.MustCompile(`^value for domain [^"]+ violates check constraint "[^"]+"( \(SQLSTATE [0-9A-Z]{5}\))?$`)

// badBytes is PostgreSQL's message about bytes invalid in an encoding.
var badBytes = regexp.MustCompile(`^(invalid byte sequence for encoding "[A-Z0-9_]+"): (0x[0-9a-f]{2}(?: 0x[0-9a-f]{2})*)( \(SQLSTATE [0-9A-Z]{5}\))?$`)

// quotedValue is a value PostgreSQL quotes after the word value.
var quotedValue = regexp.MustCompile(`\bvalue "[^"]*" `)
