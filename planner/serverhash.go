package planner

import (
	"context"
	"fmt"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/catalog"
)

// The server-hash diff (diff_strategy = "server_hash") moves the work to
// where the rows are, for syncs whose source and destination are both
// PostgreSQL:
//
//  0. Bucket summaries, on tables large enough (summaries.go): the rows of
//     buckets whose summaries agree are unchanged and are not read again;
//     the passes below read the rows of the other buckets only.
//  1. The hash pass: each server sends, per row, the key (with the
//     canonical key columns of keyequality.go) and a 16-byte hash of the
//     row's other values: the first half of the SHA-256 of record_send over
//     the values exactly as the full-row diff would read them (the source's
//     cast to the destination's types, limits lifted, types that are not
//     built in as text). record_send is each type's binary send function,
//     the very bytes the full-row diff compares, so two rows hash alike
//     exactly when the full-row diff finds them equal (a NULL is length
//     -1, an empty string length 0; record_send also sends each value's
//     type, which is the same on both sides: the destination's, or the one
//     the source's cast reads). The (key, hash) pairs go through the
//     same hash join as full rows (hashdiff.go), which finds the keys only
//     in the source, only in the destination, and those whose hashes
//     differ; NULL and repeated source keys are found as always.
//  2. The fetch: the full rows of those keys only are read, the source's
//     query and the destination's table joined against the keys sent as
//     binary array parameters, in batches of fetchBatch keys, in the same
//     REPEATABLE READ snapshots as the hash pass. The fetched rows go
//     through the full-row hash join into the sync's checker, so that the
//     change set, its digest, samples, checks and staging are those of the
//     full-row diff; the counts of the rows not fetched (unchanged, and
//     those the behavior skips) come from the hash pass.
//
// A sync that repeats a key in its source falls back to full rows (which
// occurrence is "first" would differ between the passes); so do syncs the
// hash pass cannot make exact (serverHashUnsupported).

// Diff strategies, as plan JSON's "strategy" names them.
const (
	StrategyServerHash = string(hclconfig.DiffServerHash)
	StrategyFullRows   = string(hclconfig.DiffFullRows)
)

// fetchBatch is how many keys one fetch query asks for.
const fetchBatch = 1 << 16

// rowHashBytes is the length of a row hash.
const rowHashBytes = 16

// oidBytea is bytea's type OID (the row hash's type).
const oidBytea = 17

// repeatedKeysReason is the fallback reason when the hash pass finds
// repeated source keys.
const repeatedKeysReason = "the source repeats keys: read in full, as the duplicate_source_key finding needs"

// serverHashUnsupported says why the sync cannot be diffed by server
// hashes exactly, or "".
func (p *Prepared) serverHashUnsupported() string {
	if p.Sync.Source.Type != hclconfig.SourcePostgres {
		return fmt.Sprintf("the source is a %s source; only postgres sources hash their rows", p.Sync.Source.Type)
	}
	l := p.layout
	if l.rematch {
		return "a key column has a nondeterministic collation, under which the destination matches the keys (rematch)"
	}
	if p.Table.UniqueKeyOn(p.Sync.Key) == nil {
		return "the destination has no unique key on the key columns"
	}
	for i := 0; i < l.NKey; i++ {
		if strings.HasSuffix(l.Cols[i].Catalog.Type, "]") {
			return fmt.Sprintf("key column %q is an array, which a fetch by key cannot pass", l.Cols[i].Dest)
		}
	}
	return ""
}

// hashLayout is the layout of the hash pass's rows: the key columns, one
// bytea column holding the row hash, then the canonical key columns.
func (l *layout) hashLayout() *layout {
	cols := append(slices.Clone(l.Cols[:l.NKey]), column{Dest: "row hash",
		Catalog: catalog.Column{Name: "row hash", Type: "bytea", TypeOID: oidBytea}, CastType: "bytea", ResultOID: oidBytea})
	return &layout{Cols: cols, NKey: l.NKey, Orders: l.Orders, TextKeys: l.TextKeys}
}

// hashSQL wraps inner (a query returning l's columns c0... and canonical
// keys k0...) so that it returns the rows of l.hashLayout(): the keys, the
// hash of the other values, the canonical keys.
func (l *layout) hashSQL(inner string) string {
	var sel []string
	for i := 0; i < l.NKey; i++ {
		sel = append(sel, "r."+alias(i))
	}
	var vals []string
	for i := l.NKey; i < len(l.Cols); i++ {
		vals = append(vals, l.sendExpr("r", i))
	}
	sel = append(sel, fmt.Sprintf("substring(sha256(record_send(ROW(%s))) FROM 1 FOR %d) AS h", strings.Join(vals, ", "), rowHashBytes))
	for t := range l.TextKeys {
		sel = append(sel, fmt.Sprintf("r.k%d", t))
	}
	return fmt.Sprintf("SELECT %s FROM (%s) AS r", strings.Join(sel, ", "), inner)
}

// fetchSQL wraps inner so that it returns only the rows whose key is one
// of the parameters' ($1... one array per key column, of the key's values
// as the diff holds them). The typed equality is the destination's unique
// key's, so an index on the key serves the fetch.
func (l *layout) fetchSQL(inner string) string {
	var cols, args []string
	for i := 0; i < l.NKey; i++ {
		typ, _ := l.wireType(i)
		cols = append(cols, "f."+alias(i))
		args = append(args, fmt.Sprintf("$%d::%s[]", i+1, typ))
	}
	return fmt.Sprintf("SELECT f.* FROM (%s) AS f WHERE (%s) IN (SELECT * FROM unnest(%s))",
		inner, strings.Join(cols, ", "), strings.Join(args, ", "))
}

// nullKeySQL wraps inner so that it returns only the rows with a NULL in a
// key column.
func (l *layout) nullKeySQL(inner string) string {
	var nulls []string
	for i := 0; i < l.NKey; i++ {
		nulls = append(nulls, "f."+alias(i)+" IS NULL")
	}
	return fmt.Sprintf("SELECT f.* FROM (%s) AS f WHERE %s", inner, strings.Join(nulls, " OR "))
}

// wantedKeys are the keys one side's full rows are fetched for: the key
// columns' values, column by column.
type wantedKeys struct {
	cols  [][][]byte
	n     int
	arena []byte
}

func newWantedKeys(nkey int) *wantedKeys { return &wantedKeys{cols: make([][][]byte, nkey)} }

func (w *wantedKeys) add(r *Row) {
	for i := range w.cols {
		v := r.Values[i]
		if len(w.arena)+len(v) > cap(w.arena) {
			w.arena = make([]byte, 0, max(64<<10, len(v)))
		}
		start := len(w.arena)
		w.arena = append(w.arena, v...)
		w.cols[i] = append(w.cols[i], w.arena[start:len(w.arena):len(w.arena)])
	}
	w.n++
}

// keyCollector is the hash pass's sink: it keeps the keys whose full rows
// the behavior needs.
type keyCollector struct {
	l        *layout
	behavior hclconfig.Behavior
	src, dst *wantedKeys
	// nullKeyRows: the destination has rows with a NULL key, which a
	// mirror deletes (fetched by nullKeySQL).
	nullKeyRows bool
}

func (k *keyCollector) Change(kind ChangeKind, src, dst *Row, _ []int) error {
	switch kind {
	case ChangeInsert:
		if k.behavior.Inserts() {
			k.src.add(src)
		}
	case ChangeUpdate:
		if k.behavior.Updates() {
			k.src.add(src)
			k.dst.add(dst)
		}
	case ChangeDelete:
		switch {
		case k.l.hasNullKey(dst):
			k.nullKeyRows = true
		case k.behavior.Deletes():
			k.dst.add(dst)
		}
	}
	return nil
}

// serverHashDiff is the server-hash diff into chk. It returns a fallback
// reason (and no result) when the sync must be read in full rows instead.
func (p *Prepared) serverHashDiff(ctx context.Context, dst, src *pgx.Conn, chk *checker, progress func(int64)) (*diffResult, string, error) {
	serverHashDiffs.Add(1)
	l := p.layout
	hl := l.hashLayout()
	limits := hashLimitsFrom(ctx)

	// Bucket summaries first (summaries.go), on a table large enough.
	var sums *summaryResult
	srcSQL, dstSQL := l.SourceSQL(p.Sync.Query, false), p.destinationSQL()
	var params [][]byte
	rows, err := p.estimateRows(ctx, dst)
	if err != nil {
		return nil, "", err
	}
	if rows >= limits.summaryRows && summarizable(dst, src) {
		buckets := int(max(min(rows/bucketRows, 1<<24), 1))
		if sums, err = p.compareSummaries(ctx, dst, src, buckets); err != nil {
			return nil, "", err
		}
		sums.buckets = buckets
		if sums.ndiffer > buckets/2 {
			sums = nil // most buckets differ: read every row's hash
		} else {
			srcSQL, dstSQL = l.inBucketsSQL(srcSQL, buckets), l.inBucketsSQL(dstSQL, buckets)
			params = [][]byte{sums.bitmap}
		}
	}
	// The hash pass hashes rows on parallel workers too (readSummaries).
	restoreSrc, err := setLocal(ctx, src, parallelHashing...)
	if err != nil {
		return nil, "", &sourceError{err}
	}
	restoreDst, err := setLocal(ctx, dst, parallelHashing...)
	if err != nil {
		return nil, "", err
	}
	srcHashes := queryStreamParams(ctx, src.PgConn(), l.hashSQL(srcSQL), params, hl.width())
	defer srcHashes.close()
	dstHashes := queryStreamParams(ctx, dst.PgConn(), l.hashSQL(dstSQL), params, hl.width())
	defer dstHashes.close()
	pass, coll, err := l.hashPass(ctx, p.Sync.Behavior, &tagged{srcHashes, true}, dstHashes, progress, limits)
	if err == nil {
		err = dstHashes.close()
	}
	if err != nil {
		return nil, "", err
	}
	if err := srcHashes.close(); err != nil {
		return nil, "", &sourceError{err}
	}
	if err := restoreSrc(ctx); err != nil {
		return nil, "", &sourceError{err}
	}
	if err := restoreDst(ctx); err != nil {
		return nil, "", err
	}
	if pass.DupKeys > 0 {
		return nil, repeatedKeysReason, nil
	}

	srcRows := &fetchStream{ctx: ctx, conn: src.PgConn(), sql: l.fetchSQL(l.SourceSQL(p.Sync.Query, false)), l: l, keys: coll.src}
	defer srcRows.close()
	dstRows := &fetchStream{ctx: ctx, conn: dst.PgConn(), sql: l.fetchSQL(l.DestinationSQL(p.Table.Ident(), false)), l: l, keys: coll.dst}
	if coll.nullKeyRows {
		dstRows.extra = l.nullKeySQL(l.DestinationSQL(p.Table.Ident(), true))
	}
	defer dstRows.close()
	res, err := l.fetchPass(ctx, p.Sync.Behavior, pass, &tagged{srcRows, true}, dstRows, chk, limits)
	if err == nil {
		err = dstRows.close()
	}
	if err != nil {
		return nil, "", err
	}
	if err := srcRows.close(); err != nil {
		return nil, "", &sourceError{err}
	}
	if srcRows.keyed != int64(coll.src.n) || dstRows.keyed != int64(coll.dst.n) || res.DupKeys > 0 {
		return nil, "", fmt.Errorf("the rows read by key (%d source, %d destination) are not the %d and %d whose hashes differed: "+
			"the source query does not return the same rows each time it runs (a volatile function, LIMIT without ORDER BY?); "+
			"set diff_strategy = \"full_rows\" on the sync", srcRows.keyed, dstRows.keyed, coll.src.n, coll.dst.n)
	}
	if sums != nil {
		// The rows of the equal buckets: every one matched and unchanged.
		res.SourceRows, res.DestinationRows = sums.srcRows, sums.dstRows
		res.Counts.Unchanged += sums.unchanged
		res.strategyNote = fmt.Sprintf("bucket summaries: %d of %d buckets differed", sums.ndiffer, sums.buckets)
	}
	if progress != nil {
		progress(res.SourceRows + res.DestinationRows)
	}
	return res, "", nil
}

// hashPass joins the hash layout's rows of both sides (l.hashSQL) and
// collects the keys whose full rows the behavior needs.
func (l *layout) hashPass(ctx context.Context, behavior hclconfig.Behavior, srcHashes, dstHashes rowStream, progress func(int64), limits hashLimits) (*diffResult, *keyCollector, error) {
	hl := l.hashLayout()
	coll := &keyCollector{l: hl, behavior: behavior, src: newWantedKeys(l.NKey), dst: newWantedKeys(l.NKey)}
	// As a mirror: every key on one side only, and every hash that
	// differs, is reported, whatever the behavior writes.
	pass, err := hl.hashDiff(ctx, hclconfig.Mirror, srcHashes, dstHashes, coll, progress, limits)
	return pass, coll, err
}

// fetchPass diffs the full rows read for the keys of the hash pass into
// sink, and completes the result with the hash pass's counts of the rows
// not read: equal on both sides, or skipped by the behavior.
func (l *layout) fetchPass(ctx context.Context, behavior hclconfig.Behavior, pass *diffResult, srcRows, dstRows rowStream, sink ChangeSink, limits hashLimits) (*diffResult, error) {
	res, err := l.hashDiff(ctx, behavior, srcRows, dstRows, sink, nil, limits)
	if err != nil {
		return nil, err
	}
	res.SourceRows, res.DestinationRows = pass.SourceRows, pass.DestinationRows
	res.NullKeys, res.NullKeyExamples = pass.NullKeys, pass.NullKeyExamples
	res.Counts.Unchanged += pass.Counts.Unchanged
	if !behavior.Inserts() {
		res.Counts.Skipped += pass.Counts.Insert
	}
	if !behavior.Updates() {
		res.Counts.Skipped += pass.Counts.Update
	}
	return res, nil
}

// fetchStream reads the full rows of a set of keys, fetchBatch keys per
// query, then the rows of extra (a query without parameters), if set.
type fetchStream struct {
	ctx   context.Context
	conn  *pgconn.PgConn
	sql   string
	l     *layout
	keys  *wantedKeys
	extra string
	pos   int
	cur   *resultStream
	// inExtra: cur is extra's result.
	inExtra bool
	// keyed counts the rows read by key.
	keyed int64
}

func (f *fetchStream) next() (*Row, error) {
	for {
		if f.cur != nil {
			r, err := f.cur.next()
			if err != nil || r != nil {
				if r != nil && !f.inExtra {
					f.keyed++
				}
				return r, err
			}
			f.cur = nil
		}
		switch {
		case f.pos < f.keys.n:
			end := min(f.pos+fetchBatch, f.keys.n)
			params := make([][]byte, len(f.keys.cols))
			formats := make([]int16, len(params))
			for i, col := range f.keys.cols {
				_, oid := f.l.wireType(i)
				params[i] = arrayParam(oid, col[f.pos:end])
				formats[i] = 1
			}
			f.pos = end
			rr := f.conn.ExecParams(f.ctx, f.sql, params, nil, formats, []int16{1})
			f.cur = &resultStream{rr: rr, width: f.l.width()}
		case f.extra != "":
			f.cur = queryStream(f.ctx, f.conn, f.extra, f.l.width())
			f.extra, f.inExtra = "", true
		default:
			return nil, nil
		}
	}
}

func (f *fetchStream) close() error {
	f.pos, f.extra = f.keys.n, ""
	if f.cur == nil {
		return nil
	}
	err := f.cur.close()
	f.cur = nil
	return err
}
