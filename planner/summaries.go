package planner

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"sync"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/internal/catalog"
)

// Bucket summaries come before the hash pass of the server-hash diff, so
// that a slow link carries a few bytes per row instead of a key and a hash
// (pg_comparator's approach, one level deep):
//
//   - Each server groups its rows into buckets by a hash of the key (the
//     values the diff matches keys by: the canonical key columns of
//     keyequality.go, else the key values), and sends per bucket its row
//     count and two 64-bit XORs of a digest of each row's key and values
//     (SHA-256 over record_send, as the row hash, then hashed to 64 bits
//     with two seeds). A bucket's summary is summaryBytes (28) bytes,
//     4096 buckets packed to a row; buckets hold about bucketRows rows.
//   - Buckets whose summaries are equal on both sides hold the same rows:
//     every row is matched and unchanged (the destination's keys are
//     unique, so equal XORs and counts cannot come from two rows of the
//     source cancelling out). They are counted and never read again.
//   - The hash pass then reads only the rows of the buckets that differ.
//     Rows with a NULL key are in bucket -1, which always differs.
//
// When most buckets differ, the hash pass reads every row instead.

// bucketRows is how many rows a bucket holds on average. The bytes a row
// costs are summaryBytes/bucketRows for the summaries and, for the rows of
// the buckets that differ, a key and a row hash (~39 bytes with the row's
// framing); with a fraction c of the keys changed, 1-(1-c)^bucketRows of
// the buckets differ. For c from 1% to 3% (inserts, updates and deletes
// of 1% of the rows each), 6 to 10 rows a bucket cost least (~7 to 12
// bytes a row); 8 keeps the servers' aggregate to one entry per 8 rows.
const bucketRows = 8

// summaryBytes is one bucket's packed summary (summarySQL): the bucket
// (int4), its row count and two XORs (int8 each).
const summaryBytes = 4 + 8 + 8 + 8

// summaryPackBits: the summaries of 1<<summaryPackBits consecutive
// buckets go in one row (~115 kB), so that the wire carries one row's
// framing per 4096 buckets and no value is large.
const summaryPackBits = 12

// minSummaryRows is the smallest table (by the destination's estimate)
// worth summarizing first: below it, the extra queries cost more than the
// bytes they save.
const minSummaryRows = 10000

// bucketSummary is one bucket's count and XORs on one side.
type bucketSummary struct {
	rows   int64
	x1, x2 int64
}

// summaryResult is what the summaries found.
type summaryResult struct {
	// bitmap holds the buckets whose rows the hash pass must read
	// (inBucketsSQL: bucket b is bit b+1), ndiffer their number.
	bitmap  []byte
	ndiffer int
	// unchanged counts the rows of the equal buckets; srcRows and dstRows
	// every row of each side.
	unchanged, srcRows, dstRows int64
	buckets                     int
}

// sendExpr is the value of column i of row r (an alias) as record_send
// sends it, the same type on both sides: the source reads bit(n) as bit
// varying and name as text (limits.go), the destination as bit and name.
func (l *layout) sendExpr(r string, i int) string {
	v := r + "." + alias(i)
	switch l.Cols[i].limit.kind {
	case limitBit, limitVarbit:
		v += "::bit varying"
	case limitBytes:
		v += "::text"
	}
	return v
}

// matchKeyExprs are the values keys are matched by (keysEqual): the
// canonical key column of an orderText key, else the key value.
func (l *layout) matchKeyExprs(r string) []string {
	var out []string
	t := 0
	for i := 0; i < l.NKey; i++ {
		if l.Orders[i] == orderText {
			out = append(out, fmt.Sprintf("%s.k%d", r, t))
			t++
			continue
		}
		out = append(out, l.sendExpr(r, i))
	}
	return out
}

// bucketExpr is the bucket of row r (an alias) among buckets: -1 for a
// row with a NULL key. The bucket is PostgreSQL's own 64-bit hash of the
// values keys are matched by (types without a hash function as text): a
// single key column by its type's extended hash function, which skips
// building a record a row, several by hash_record_extended. If two
// servers hashed a key differently, its two buckets would both differ and
// be read: never a wrong result, only more bytes.
func (l *layout) bucketExpr(r string, buckets int) string {
	var nulls, keys []string
	for i := 0; i < l.NKey; i++ {
		nulls = append(nulls, r+"."+alias(i)+" IS NULL")
	}
	t := 0
	var keyType uint32 // of the last key: the only one, when there is one
	for i := 0; i < l.NKey; i++ {
		c := l.Cols[i]
		keyType = oidText
		switch {
		case l.Orders[i] == orderText:
			keys = append(keys, fmt.Sprintf("%s.k%d", r, t))
			t++
		case c.AsText:
			keys = append(keys, r+"."+alias(i))
		case hashable[c.Catalog.TypeOID]:
			keys = append(keys, r+"."+alias(i))
			keyType = c.Catalog.TypeOID
		default:
			keys = append(keys, r+"."+alias(i)+"::text")
		}
	}
	hash := fmt.Sprintf("hash_record_extended(ROW(%s), 0)", strings.Join(keys, ", "))
	if fn := typeHash[keyType]; len(keys) == 1 && fn != "" {
		hash = fmt.Sprintf("%s(%s, 0)", fn, keys[0])
	}
	return fmt.Sprintf("CASE WHEN %s THEN -1 ELSE ((%s & 2147483647) %% %d)::int4 END",
		strings.Join(nulls, " OR "), hash, buckets)
}

// hashable are the key types bucketExpr hashes as they are.
var hashable = map[uint32]bool{oidInt2: true, oidInt4: true, oidInt8: true, oidText: true, oidVarchar: true,
	oidUUID: true, oidDate: true, oidTimestamp: true, oidTimestamptz: true, oidBool: true}

// typeHash are the extended hash functions of the hashable types that
// take the type's values as they are (those hash_record_extended calls
// for them).
var typeHash = map[uint32]string{oidInt2: "hashint2extended", oidInt4: "hashint4extended", oidInt8: "hashint8extended",
	oidText: "hashtextextended", oidVarchar: "hashtextextended", oidUUID: "uuid_hash_extended"}

// summarySQL wraps inner so that it returns the summaries of the buckets,
// packed: per bucket its number, its row count and two 64-bit XORs of its
// rows' digests (the SHA-256 over record_send of the key and the values,
// hashed to 64 bits with two seeds; OFFSET 0 keeps the SHA-256 to one a
// row).
func (l *layout) summarySQL(inner string, buckets int) string {
	vals := l.matchKeyExprs("r")
	for i := l.NKey; i < len(l.Cols); i++ {
		vals = append(vals, l.sendExpr("r", i))
	}
	sums := fmt.Sprintf("SELECT b, count(*)::int8 AS n, bit_xor(hash_record_extended(ROW(d), 0)) AS x1, bit_xor(hash_record_extended(ROW(d), 1)) AS x2 "+
		"FROM (SELECT %s AS b, sha256(record_send(ROW(%s))) AS d FROM (%s) AS r OFFSET 0) AS s GROUP BY b",
		l.bucketExpr("r", buckets), strings.Join(vals, ", "), inner)
	// Packed: the summaries of 1<<summaryPackBits buckets to a row, each
	// summaryBytes of the bucket, count and XORs in network byte order, so
	// that the wire carries no row framing a bucket.
	return fmt.Sprintf("SELECT b >> %d, string_agg(int4send(b) || int8send(n) || int8send(x1) || int8send(x2), ''::bytea) FROM (%s) AS p GROUP BY 1 ORDER BY 1",
		summaryPackBits, sums)
}

// inBucketsSQL wraps inner so that it returns only the rows of the
// buckets set in $1, a bitmap (bytea; bucket b is bit b+1, bits numbered
// as get_bit numbers them, the low bit of each byte first; mergeSummaries):
// one lookup a row, whatever the number of buckets.
func (l *layout) inBucketsSQL(inner string, buckets int) string {
	return fmt.Sprintf("SELECT r.* FROM (SELECT q.*, %s AS rowform_bucket FROM (%s) AS q) AS r WHERE get_bit($1::bytea, r.rowform_bucket + 1) = 1",
		l.bucketExpr("q", buckets), inner)
}

// summarizable reports whether both servers have bit_xor (PostgreSQL 14).
func summarizable(conns ...*pgx.Conn) bool {
	for _, c := range conns {
		v := c.PgConn().ParameterStatus("server_version")
		major, err := strconv.Atoi(strings.SplitN(strings.SplitN(v, ".", 2)[0], " ", 2)[0])
		if err != nil || major < 14 {
			return false
		}
	}
	return true
}

// summaryPack is the summaries of one side's buckets p<<summaryPackBits
// up to (p+1)<<summaryPackBits - 1, by the bucket's low bits; bucket -1
// is the last of pack -1.
type summaryPack struct {
	p    int32
	has  [1 << summaryPackBits]bool
	sums [1 << summaryPackBits]bucketSummary
}

// bucket is the bucket of entry i of the pack.
func (k *summaryPack) bucket(i int) int32 { return k.p<<summaryPackBits | int32(i) }

// readSummaries runs sql (summarySQL) on conn, inside its transaction, and
// sends its packs to out in pack order, closing out when done. The server
// cannot estimate the number of buckets, and would sort every row to
// group them: enable_sort is off for the query, so that it aggregates in
// a hash table of one entry a bucket (the packs, a few thousand rows at
// most, are still sorted). So is jit: the sort's cost, raised by
// enable_sort = off, would have every run compile the query with
// inlining and optimization (~0.15 s at 1M rows, for no gain). And the
// rows' hashing is worth parallel workers: the planner counts the hashing
// as cheap and each row through a Gather as dear, so parallel_tuple_cost
// and parallel_setup_cost are lowered for the query, and the server runs
// record_send and SHA-256 on up to max_parallel_workers_per_gather
// workers (its own limit) beside the leader, which aggregates: 1M rows
// summarized in 1.8 s instead of 2.5 s on this 2-core machine.
func readSummaries(ctx context.Context, conn *pgx.Conn, sql string, out chan<- *summaryPack) error {
	defer close(out)
	restore, err := setLocal(ctx, conn, append([]string{"enable_sort", "off", "jit", "off"}, parallelHashing...)...)
	if err != nil {
		return err
	}
	if err := readSummaryRows(ctx, conn, sql, out); err != nil {
		return err
	}
	return restore(ctx)
}

// parallelHashing are the settings (name, value, ...) under which the
// server hashes rows on parallel workers (readSummaries).
var parallelHashing = []string{"parallel_tuple_cost", "0.001", "parallel_setup_cost", "10"}

// setLocal sets the settings (name, value, ...) on conn until its
// transaction ends, and returns the function that puts them back as they
// were.
func setLocal(ctx context.Context, conn *pgx.Conn, settings ...string) (func(context.Context) error, error) {
	var names, values []string
	for i := 0; i+1 < len(settings); i += 2 {
		names, values = append(names, settings[i]), append(values, settings[i+1])
	}
	const set = "SELECT set_config(name, value, true) FROM unnest($1::text[], $2::text[]) AS s(name, value)"
	var was []string
	if err := conn.QueryRow(ctx, "SELECT array_agg(current_setting(name) ORDER BY n) FROM unnest($1::text[]) WITH ORDINALITY AS s(name, n)", names).Scan(&was); err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, set, names, values); err != nil {
		return nil, err
	}
	return func(ctx context.Context) error {
		_, err := conn.Exec(ctx, set, names, was)
		return err
	}, nil
}

func readSummaryRows(ctx context.Context, conn *pgx.Conn, sql string, out chan<- *summaryPack) error {
	rr := conn.PgConn().ExecParams(ctx, sql, nil, nil, nil, []int16{1, 1})
	for rr.NextRow() {
		v := rr.Values()
		if len(v) != 2 || len(v[0]) != 4 || len(v[1])%summaryBytes != 0 {
			_, _ = rr.Close()
			return fmt.Errorf("internal error: bucket summaries of an unexpected shape")
		}
		k := &summaryPack{p: int32(binary.BigEndian.Uint32(v[0]))}
		for e := v[1]; len(e) > 0; e = e[summaryBytes:] {
			b := int32(binary.BigEndian.Uint32(e))
			i := int(b & (1<<summaryPackBits - 1))
			if b>>summaryPackBits != k.p || k.has[i] {
				_, _ = rr.Close()
				return fmt.Errorf("internal error: bucket %d in the summaries of pack %d", b, k.p)
			}
			k.has[i] = true
			k.sums[i] = bucketSummary{rows: int64(binary.BigEndian.Uint64(e[4:])),
				x1: int64(binary.BigEndian.Uint64(e[12:])), x2: int64(binary.BigEndian.Uint64(e[20:]))}
		}
		select {
		case out <- k:
		case <-ctx.Done():
			_, _ = rr.Close()
			return ctx.Err()
		}
	}
	_, err := rr.Close()
	return err
}

// compareSummaries reads both sides' summaries at once and compares them
// pack by pack, as they arrive: rowform holds a few packs (~100 kB each)
// and the bitmap of the buckets that differ, whatever the table's size.
func (p *Prepared) compareSummaries(ctx context.Context, dst, src *pgx.Conn, buckets int) (*summaryResult, error) {
	l := p.layout
	srcPacks, dstPacks := make(chan *summaryPack, 1), make(chan *summaryPack, 1)
	// Each side runs to its end even when the other fails: cancelling a
	// query would abort its session's transaction, which the diff goes on
	// with (a source that fails is read again in full rows, for its
	// findings).
	var srcErr, dstErr error
	var wg sync.WaitGroup
	wg.Add(2)
	go func() {
		defer wg.Done()
		srcErr = readSummaries(ctx, src, l.summarySQL(l.SourceSQL(p.Sync.Query, false), buckets), srcPacks)
	}()
	go func() {
		defer wg.Done()
		dstErr = readSummaries(ctx, dst, l.summarySQL(p.destinationSQL(), buckets), dstPacks)
	}()
	res := mergeSummaries(srcPacks, dstPacks, buckets)
	wg.Wait()
	if srcErr != nil {
		return nil, &sourceError{srcErr}
	}
	if dstErr != nil {
		return nil, dstErr
	}
	return res, nil
}

// mergeSummaries compares the packs of both sides, each in pack order,
// until both channels close: a bucket differs when its summaries differ
// or one side has none, and bucket -1 (NULL keys) always differs.
func mergeSummaries(srcPacks, dstPacks <-chan *summaryPack, buckets int) *summaryResult {
	res := &summaryResult{bitmap: make([]byte, (buckets+1+7)/8)}
	differ := func(b int32) {
		n := int(b) + 1
		res.bitmap[n/8] |= 1 << (n % 8)
		res.ndiffer++
	}
	only := func(k *summaryPack, rows *int64) {
		for i := range k.has {
			if k.has[i] {
				*rows += k.sums[i].rows
				differ(k.bucket(i))
			}
		}
	}
	s, sok := <-srcPacks
	d, dok := <-dstPacks
	for sok || dok {
		switch {
		case sok && (!dok || s.p < d.p):
			only(s, &res.srcRows)
			s, sok = <-srcPacks
		case dok && (!sok || d.p < s.p):
			only(d, &res.dstRows)
			d, dok = <-dstPacks
		default:
			for i := range s.has {
				res.srcRows += s.sums[i].rows
				res.dstRows += d.sums[i].rows
				switch b := s.bucket(i); {
				case s.has[i] && d.has[i] && s.sums[i] == d.sums[i] && b >= 0:
					res.unchanged += s.sums[i].rows
				case s.has[i] || d.has[i]:
					differ(b)
				}
			}
			s, sok = <-srcPacks
			d, dok = <-dstPacks
		}
	}
	return res
}

// estimateRows is the destination's estimate of the table's rows
// (catalog.EstimateRows).
func (p *Prepared) estimateRows(ctx context.Context, dst *pgx.Conn) (float64, error) {
	return catalog.EstimateRows(ctx, dst, p.Table.OID)
}
