package planner

import (
	"context"
	"errors"
	"fmt"
	"math"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
)

// strategy is how a diff reads the rows, and why; estimate holds what
// auto measured and the diff found (numbers that vary from run to run).
type strategy struct {
	name     string
	reason   string
	estimate string
}

// UseStrategy makes the diffs of p use the strategy a plan recorded
// (SyncPlan.Strategy), so that apply reads the rows as its plan did; ""
// (a plan saved before strategies were recorded) is full rows. A sync the
// server-hash diff cannot diff exactly still falls back to full rows.
func (p *Prepared) UseStrategy(name string) {
	if name == "" {
		name = StrategyFullRows
	}
	p.planned = name
}

// chooseStrategy picks the strategy of a diff with a postgres source:
// the plan's (apply), else the sync's diff_strategy, else (auto) the
// cheaper one by the cost model of estimateCosts.
func (p *Prepared) chooseStrategy(ctx context.Context, dst, src *pgx.Conn) strategy {
	if why := p.serverHashUnsupported(); why != "" {
		return strategy{name: StrategyFullRows, reason: why}
	}
	switch {
	case p.planned != "":
		return strategy{name: p.planned, reason: "as planned"}
	case p.Sync.DiffStrategy == hclconfig.DiffFullRows:
		return strategy{name: StrategyFullRows, reason: `diff_strategy = "full_rows"`}
	case p.Sync.DiffStrategy == hclconfig.DiffServerHash:
		return strategy{name: StrategyServerHash, reason: `diff_strategy = "server_hash"`}
	}
	est, err := p.estimateCosts(ctx, dst, src)
	if err != nil {
		return strategy{name: StrategyFullRows, reason: "auto: the estimates could not be read", estimate: describeError(err)}
	}
	return est.choose()
}

// The cost model's rates, measured on a 2-core machine (docs/performance.md):
// what a server spends hashing a row (record_send and SHA-256; the bucket
// summaries took 2 µs a row), how fast it runs a query again, and how fast
// rowform's hash join takes rows in.
const (
	serverHashPerRow = 2e-6 // seconds
	serverHashRate   = 1e9  // bytes of row per second, beyond the per-row cost
	serverScanRate   = 1e9
	joinRate         = 400e6
	// rowOverhead is what a row costs on the wire beyond its values: the
	// DataRow message header and each value's length.
	rowOverhead = 7
)

// costEstimate is what the cost model knows of a sync.
type costEstimate struct {
	rows float64
	// width is a row's mapped values, keyWidth its key's (with the
	// canonical key columns), in bytes.
	width, keyWidth float64
	ncols, nkeys    int
	// changed is the estimated fraction of rows that differ.
	changed float64
	// srcRate and dstRate are each link's measured bytes per second.
	srcRate, dstRate float64
}

// choose compares the two strategies' estimated times: full rows move
// every row over both links into the join; server hashes make both
// servers hash every row, move bucket summaries (when the table is large
// enough and few buckets would differ) or a key and hash a row, hash and
// move the rows of the differing buckets, run the source query once more,
// then move the changed rows.
func (e costEstimate) choose() strategy {
	if e.rows*e.width < smallTable {
		return strategy{name: StrategyFullRows, reason: "auto: a small table",
			estimate: fmt.Sprintf("%.0f rows of ~%.0f bytes", e.rows, e.width)}
	}
	fullRow := e.width + rowOverhead + 4*float64(e.ncols)
	hashRow := e.keyWidth + rowHashBytes + rowOverhead + 4*float64(e.nkeys+1)
	link := func(perRow float64) float64 {
		return e.rows * perRow * max(1/e.srcRate, 1/e.dstRate)
	}
	hashing := e.rows * (serverHashPerRow + e.width/serverHashRate)
	full := link(fullRow) + 2*e.rows*fullRow/joinRate
	perRow, server := hashRow, hashing
	if e.rows >= minSummaryRows {
		if differ := 1 - math.Pow(1-e.changed, bucketRows); differ <= 0.5 {
			perRow = summaryBytes/bucketRows + differ*hashRow
			server += e.rows*e.width/serverScanRate + differ*hashing
		}
	}
	hash := link(perRow) + server + e.rows*e.width/serverScanRate + 2*e.rows*perRow/joinRate + e.changed*full
	st := strategy{name: StrategyFullRows, reason: "auto: estimated faster than server hashes"}
	if hash < full {
		st = strategy{name: StrategyServerHash, reason: "auto: estimated faster than full rows"}
	}
	st.estimate = fmt.Sprintf("%s with server hashes, %s with full rows (%.0f rows of ~%.0f bytes, ~%.0f%% changed, links %s and %s)",
		seconds(hash), seconds(full), e.rows, e.width, 100*e.changed, rate(e.srcRate), rate(e.dstRate))
	return st
}

func seconds(s float64) string { return fmt.Sprintf("%.2fs", s) }

func rate(bps float64) string {
	switch {
	case bps >= 1e9:
		return fmt.Sprintf("%.1f GB/s", bps/1e9)
	case bps >= 1e6:
		return fmt.Sprintf("%.0f MB/s", bps/1e6)
	}
	return fmt.Sprintf("%.0f kB/s", bps/1e3)
}

// estimateCosts reads the destination's estimates (row count, column
// widths from pg_stats, rows changed since the last ANALYZE as a guess at
// the change ratio) and times a read over each connection.
func (p *Prepared) estimateCosts(ctx context.Context, dst, src *pgx.Conn) (costEstimate, error) {
	l := p.layout
	e := costEstimate{ncols: l.width(), nkeys: l.NKey + len(l.TextKeys)}
	var names, keyNames []string
	for i, c := range l.Cols {
		names = append(names, c.Dest)
		if i < l.NKey {
			keyNames = append(keyNames, c.Dest)
		}
	}
	var size, mods float64
	var width, keyWidth *float64
	// The table and, when it is partitioned, its partitions.
	// Each probe runs under a savepoint (tryQuery) when its session is in a
	// transaction (the source's snapshot; apply's transaction): a probe
	// that fails is undone, and the diff goes on with full rows.
	err := tryQuery(ctx, dst, func() error {
		return dst.QueryRow(ctx, `
WITH rels AS (SELECT $1::oid AS relid UNION SELECT relid FROM pg_partition_tree($1::oid::regclass))
SELECT coalesce(sum(greatest(c.reltuples, 0)) FILTER (WHERE c.relkind = 'r'), 0)::float8,
  coalesce(sum(pg_relation_size(c.oid)), 0)::float8,
  (SELECT sum(s.avg_width)::float8 FROM pg_stats s WHERE s.schemaname = $2 AND s.tablename = $3 AND s.attname = ANY($4)),
  (SELECT sum(s.avg_width)::float8 FROM pg_stats s WHERE s.schemaname = $2 AND s.tablename = $3 AND s.attname = ANY($5)),
  coalesce((SELECT sum(t.n_mod_since_analyze) FROM pg_stat_all_tables t JOIN rels ON rels.relid = t.relid), 0)::float8
FROM rels JOIN pg_class c ON c.oid = rels.relid`,
			p.Table.OID, p.Table.Schema, p.Table.Name, names, keyNames).Scan(&e.rows, &size, &width, &keyWidth, &mods)
	})
	if err != nil {
		return e, err
	}
	switch {
	case width != nil:
		e.width = *width
	case e.rows > 0:
		e.width = max(size/e.rows-28, 8) // heap tuple header and line pointer
	default:
		e.width = 8 * float64(len(l.Cols))
	}
	if keyWidth != nil {
		e.keyWidth = *keyWidth
	} else {
		e.keyWidth = 8 * float64(l.NKey)
	}
	e.keyWidth += 8 * float64(len(l.TextKeys))
	if e.rows <= 0 && size > 0 {
		e.rows = size / (e.width + 28)
	}
	e.changed = 0.05
	if e.rows > 0 && mods > 0 {
		e.changed = math.Min(math.Max(mods/e.rows, 0.01), 1)
	}
	if e.rows*e.width < smallTable {
		return e, nil // small: not worth timing the links (choose says full rows)
	}
	// Both links at once: each probe waits on its own link.
	var srcErr error
	done := make(chan struct{})
	go func() {
		defer close(done)
		srcErr = tryQuery(ctx, src, func() (err error) { e.srcRate, err = linkRate(ctx, src); return err })
	}()
	dstErr := tryQuery(ctx, dst, func() (err error) { e.dstRate, err = linkRate(ctx, dst); return err })
	<-done
	return e, errors.Join(srcErr, dstErr)
}

// smallTable is the size (rows × width, by the destination's estimates)
// below which auto reads full rows without timing the links: the whole
// table costs about what the timed reads would.
const smallTable = 4 << 20

// probeBytes is the size of the first timed read of linkRate; a link that
// carries it within fastProbe is timed again with bigProbeBytes, which
// only a fast link carries quickly, for the resolution that a fast link
// needs.
const (
	probeBytes    = 128 << 10
	bigProbeBytes = 1 << 20
	fastProbe     = 5 * time.Millisecond
	slowRead      = 40 * time.Millisecond
)

// linkRate measures a connection's bytes per second: the time of a read
// less that of an empty query (the round trip), each the fastest of two
// (a busy machine only ever makes a read slower). A loopback or
// Unix-socket connection measures hundreds of MB/s or more; a link
// throttled to 100 Mbit/s about 10 MB/s.
func linkRate(ctx context.Context, conn *pgx.Conn) (float64, error) {
	rtt := time.Duration(math.MaxInt64)
	for range 2 {
		t0 := time.Now()
		if _, err := conn.Exec(ctx, "SELECT 1"); err != nil {
			return 0, err
		}
		rtt = min(rtt, time.Since(t0))
	}
	size := probeBytes
	read, err := timedRead(ctx, conn, size)
	if err == nil && read < fastProbe {
		size = bigProbeBytes
		read, err = timedRead(ctx, conn, size)
	}
	if err != nil {
		return 0, err
	}
	// The transfer is at least a tenth of the read: a round trip measured
	// slower than the read must not make the link look infinitely fast.
	transfer := max(read-rtt, read/10, 20*time.Microsecond)
	return float64(size) / transfer.Seconds(), nil
}

// timedRead is the fastest of two reads of a value of size bytes, or the
// first alone when it took slowRead or more: a read that slow is the
// link's, not a busy machine's, and a second would only add its time.
func timedRead(ctx context.Context, conn *pgx.Conn, size int) (time.Duration, error) {
	best := time.Duration(math.MaxInt64)
	for i := range 2 {
		if i > 0 && best >= slowRead {
			break
		}
		t := time.Now()
		rr := conn.PgConn().ExecParams(ctx, fmt.Sprintf("SELECT repeat('x', %d)", size), nil, nil, nil, nil)
		for rr.NextRow() {
		}
		if _, err := rr.Close(); err != nil {
			return 0, err
		}
		best = min(best, time.Since(t))
	}
	return best, nil
}
