package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/internal/pgcluster"
)

// generator builds one case's tables: bench_src on the source, bench_dst on
// the destination (and bench_dst_orig, to restore it between runs).
type generator struct {
	c       benchCase
	keyCols []string
	keyDefs string
	keyExpr string
	cols    []string // all column names, keys first
	defs    string   // column definitions after the keys
	exprs   string   // value expressions after the keys, with $changed
}

func newGenerator(c benchCase) *generator {
	g := &generator{c: c}
	switch c.key {
	case "bigint":
		g.keyCols, g.keyDefs, g.keyExpr = []string{"k"}, "k bigint", "id"
	case "text":
		g.keyCols, g.keyDefs, g.keyExpr = []string{"k"}, "k text", "md5(id::text)"
	case "uuid":
		g.keyCols, g.keyDefs, g.keyExpr = []string{"k"}, "k uuid", "md5(id::text)::uuid"
	case "two":
		g.keyCols, g.keyDefs, g.keyExpr = []string{"k1", "k2"}, "k1 int, k2 bigint", "(id % 1000)::int, id"
	}
	switch c.shape {
	case "narrow":
		g.defs = "a int, b text"
		g.exprs = "(id * 13) % 100000, CASE WHEN $changed THEN 'changed ' ELSE 'row ' END || id"
		g.cols = append(append([]string{}, g.keyCols...), "a", "b")
	default:
		g.defs = "a int, b text, c numeric(12,2), d timestamptz, e jsonb, f text"
		g.exprs = "(id * 13) % 100000, CASE WHEN $changed THEN 'changed ' ELSE 'row ' END || id, ((id % 100000) * 1.25)::numeric(12,2), " +
			"timestamptz '2024-01-01 00:00:00+00' + id * interval '1 second', jsonb_build_object('id', id, 'tag', 't' || (id % 7)), " +
			"CASE WHEN id % 10 = 0 THEN NULL ELSE 'note ' || (id % 1000) END"
		g.cols = append(append([]string{}, g.keyCols...), "a", "b", "c", "d", "e", "f")
	}
	return g
}

func (g *generator) pct() int { return int(g.c.ratio * 100) }

func (g *generator) load(ctx context.Context, src, dst *pgx.Conn) error {
	n := g.c.rows
	inserts := int(float64(n) * g.c.ratio)
	if g.c.ratio >= 1 {
		inserts = 0
	}
	changed := fmt.Sprintf("(id <= %d AND id %% 100 < %d)", n, g.pct())
	deleted := fmt.Sprintf("(id <= %d AND (id + 50) %% 100 < %d)", n, g.pct())
	if g.c.ratio >= 1 {
		changed, deleted = "false", "false"
	}
	if g.c.allUpdated() {
		changed = "true"
	}
	pk := strings.Join(g.keyCols, ", ")
	srcSQL := fmt.Sprintf(`DROP TABLE IF EXISTS bench_src;
CREATE TABLE bench_src (%s, %s);
INSERT INTO bench_src SELECT %s, %s FROM generate_series(1, %d) AS id WHERE NOT %s;
ANALYZE bench_src;`, g.keyDefs, g.defs, g.keyExpr, strings.ReplaceAll(g.exprs, "$changed", changed), n+inserts, deleted)
	if _, err := src.Exec(ctx, srcSQL, pgx.QueryExecModeSimpleProtocol); err != nil {
		return err
	}
	dstRows := n
	if g.c.ratio >= 1 && !g.c.allUpdated() {
		dstRows = 0
	}
	dstSQL := fmt.Sprintf(`DROP TABLE IF EXISTS bench_dst, bench_dst_orig;
CREATE TABLE bench_dst_orig (%s, %s);
INSERT INTO bench_dst_orig SELECT %s, %s FROM generate_series(1, %d) AS id;
CREATE TABLE bench_dst (%s, %s, PRIMARY KEY (%s));
INSERT INTO bench_dst SELECT * FROM bench_dst_orig;`, g.keyDefs, g.defs, g.keyExpr, strings.ReplaceAll(g.exprs, "$changed", "false"), dstRows,
		g.keyDefs, g.defs, pk)
	if _, err := dst.Exec(ctx, dstSQL, pgx.QueryExecModeSimpleProtocol); err != nil {
		return err
	}
	_, err := dst.Exec(ctx, "VACUUM ANALYZE bench_dst")
	return err
}

// restoreDestination puts the destination table back as generated, and
// checkpoints, so that the next measurement does not share the machine
// with the writing out of the restored rows.
func (g *generator) restoreDestination(ctx context.Context, dst *pgx.Conn) error {
	if _, err := dst.Exec(ctx, "TRUNCATE bench_dst; INSERT INTO bench_dst SELECT * FROM bench_dst_orig", pgx.QueryExecModeSimpleProtocol); err != nil {
		return err
	}
	if _, err := dst.Exec(ctx, "VACUUM ANALYZE bench_dst"); err != nil {
		return err
	}
	_, err := dst.Exec(ctx, "CHECKPOINT")
	return err
}

func (g *generator) config(src, dst *pgcluster.Cluster) string {
	return fmt.Sprintf(`
destination "postgres" "dst" {
  host = "127.0.0.1"
  port = %d
  database = "postgres"
  user = %q
  password = env("DST_PASSWORD")
  max_connections = %d
}
source "postgres" "src" {
  host = "127.0.0.1"
  port = %d
  database = "postgres"
  user = %q
  password = env("SRC_PASSWORD")
  max_connections = %d
}
`, dst.Port, dst.User, g.c.conns, src.Port, src.User, g.c.conns) + g.syncBlock("bench", "public.bench_dst")
}

// syncBlock is the sync named name of the case's source rows into table.
func (g *generator) syncBlock(name, table string) string {
	quoted := make([]string, len(g.keyCols))
	for i, k := range g.keyCols {
		quoted[i] = fmt.Sprintf("%q", k)
	}
	return fmt.Sprintf(`sync %q {
  source = source.postgres.src
  query = "SELECT * FROM bench_src"
  destination = destination.postgres.dst
  table = %q
  behavior = %q
  key = [%s]
}
`, name, table, g.c.behavior, strings.Join(quoted, ", "))
}

func (g *generator) orderBy() string {
	var parts []string
	for _, k := range g.keyCols {
		if g.c.key == "text" {
			parts = append(parts, k+` COLLATE "C"`)
		} else {
			parts = append(parts, k)
		}
	}
	return strings.Join(parts, ", ")
}

// lread: both sides read once, at the same time, in key order when ordered
// is set (L_read), else as the servers scan them (L_scan).
func lread(ctx context.Context, src, dst *pgcluster.Cluster, g *generator, ordered bool) (float64, error) {
	scfg, err := pgx.ParseConfig(src.ConnString(""))
	if err != nil {
		return 0, err
	}
	dcfg, err := pgx.ParseConfig(dst.ConnString(""))
	if err != nil {
		return 0, err
	}
	return lreadVia(ctx, scfg, dcfg, g, ordered)
}

// lreadVia is lread with the servers reached through src and dst (the
// slow links' proxies, say).
func lreadVia(ctx context.Context, src, dst *pgx.ConnConfig, g *generator, ordered bool) (float64, error) {
	cols := strings.Join(g.cols, ", ")
	order := ""
	if ordered {
		order = " ORDER BY " + g.orderBy()
	}
	start := time.Now()
	errs := make(chan error, 2)
	for _, side := range []struct {
		c     *pgx.ConnConfig
		table string
	}{{src, "bench_src"}, {dst, "bench_dst"}} {
		go func() {
			conn, err := pgx.ConnectConfig(ctx, side.c)
			if err != nil {
				errs <- err
				return
			}
			defer conn.Close(ctx)
			_, err = conn.PgConn().CopyTo(ctx, io.Discard, fmt.Sprintf("COPY (SELECT %s FROM %s%s) TO STDOUT (FORMAT binary)", cols, side.table, order))
			errs <- err
		}()
	}
	for i := 0; i < 2; i++ {
		if err := <-errs; err != nil {
			return 0, err
		}
	}
	return time.Since(start).Seconds(), nil
}

// loadCase generates case c's data into the clusters (the source table,
// and the destination table as the case's change ratio makes it) and
// returns a connection to each, which the caller closes.
func loadCase(ctx context.Context, src, dst *pgcluster.Cluster, c benchCase) (sconn, dconn *pgx.Conn, gen *generator, err error) {
	sconn, err = pgx.Connect(ctx, src.ConnString(""))
	if err != nil {
		return nil, nil, nil, err
	}
	dconn, err = pgx.Connect(ctx, dst.ConnString(""))
	if err != nil {
		sconn.Close(ctx)
		return nil, nil, nil, err
	}
	gen = newGenerator(c)
	if err := gen.load(ctx, sconn, dconn); err != nil {
		sconn.Close(ctx)
		dconn.Close(ctx)
		return nil, nil, nil, fmt.Errorf("generating data: %w", err)
	}
	return sconn, dconn, gen, nil
}

// copyAcross streams the source rows into table on the destination
// connection with binary COPY.
func copyAcross(ctx context.Context, src *pgcluster.Cluster, dconn *pgx.Conn, g *generator, table string) error {
	sconn, err := pgx.Connect(ctx, src.ConnString(""))
	if err != nil {
		return err
	}
	defer sconn.Close(ctx)
	pr, pw := io.Pipe()
	errc := make(chan error, 1)
	go func() {
		// Buffered, so that the destination's COPY gets large chunks rather
		// than one hand-off between goroutines per row.
		bw := bufio.NewWriterSize(pw, 256<<10)
		_, err := sconn.PgConn().CopyTo(ctx, bw, fmt.Sprintf("COPY (SELECT %s FROM bench_src) TO STDOUT (FORMAT binary)", strings.Join(g.cols, ", ")))
		if err == nil {
			err = bw.Flush()
		}
		pw.CloseWithError(err)
		errc <- err
	}()
	_, err = dconn.PgConn().CopyFrom(ctx, pr, fmt.Sprintf("COPY %s (%s) FROM STDIN (FORMAT binary)", table, strings.Join(g.cols, ", ")))
	if serr := <-errc; serr != nil && err == nil {
		err = serr
	}
	return err
}

// lload: one binary COPY of the source rows into an empty copy of the table.
func lload(ctx context.Context, src, dst *pgcluster.Cluster, g *generator) (float64, error) {
	dconn, err := pgx.Connect(ctx, dst.ConnString(""))
	if err != nil {
		return 0, err
	}
	defer dconn.Close(ctx)
	if _, err := dconn.Exec(ctx, "DROP TABLE IF EXISTS bench_load; CREATE TABLE bench_load (LIKE bench_dst INCLUDING ALL)", pgx.QueryExecModeSimpleProtocol); err != nil {
		return 0, err
	}
	start := time.Now()
	if err := copyAcross(ctx, src, dconn, g, "bench_load"); err != nil {
		return 0, err
	}
	secs := time.Since(start).Seconds()
	_, err = dconn.Exec(ctx, "DROP TABLE bench_load")
	return secs, err
}

// naive: what most tools generate — every row staged and upserted.
func naive(ctx context.Context, src, dst *pgcluster.Cluster, g *generator) (float64, error) {
	dconn, err := pgx.Connect(ctx, dst.ConnString(""))
	if err != nil {
		return 0, err
	}
	defer dconn.Close(ctx)
	start := time.Now()
	if _, err := dconn.Exec(ctx, "BEGIN; CREATE TEMP TABLE stage (LIKE bench_dst) ON COMMIT DROP", pgx.QueryExecModeSimpleProtocol); err != nil {
		return 0, err
	}
	if err := copyAcross(ctx, src, dconn, g, "stage"); err != nil {
		return 0, err
	}
	var sets, match []string
	for _, c := range g.cols[len(g.keyCols):] {
		sets = append(sets, fmt.Sprintf("%s = EXCLUDED.%s", c, c))
	}
	for _, k := range g.keyCols {
		match = append(match, fmt.Sprintf("s.%s = d.%s", k, k))
	}
	sql := fmt.Sprintf(`INSERT INTO bench_dst SELECT * FROM stage ON CONFLICT (%s) DO UPDATE SET %s;
DELETE FROM bench_dst d WHERE NOT EXISTS (SELECT 1 FROM stage s WHERE %s);
COMMIT;`, strings.Join(g.keyCols, ", "), strings.Join(sets, ", "), strings.Join(match, " AND "))
	if _, err := dconn.Exec(ctx, sql, pgx.QueryExecModeSimpleProtocol); err != nil {
		return 0, err
	}
	return time.Since(start).Seconds(), nil
}

// lreadParallel is L_read with each side split into p key ranges read at
// the same time (2p connections): what parallel key-range diffing could
// reach at best on this machine.
func lreadParallel(ctx context.Context, src, dst *pgcluster.Cluster, g *generator, p int) (float64, error) {
	if g.c.key != "bigint" {
		return 0, fmt.Errorf("parallel ranges are measured on bigint keys")
	}
	cols := strings.Join(g.cols, ", ")
	hi := int64(float64(g.c.rows) * (1 + g.c.ratio))
	start := time.Now()
	errs := make(chan error, 2*p)
	for _, side := range []struct {
		c     *pgcluster.Cluster
		table string
	}{{src, "bench_src"}, {dst, "bench_dst"}} {
		for i := 0; i < p; i++ {
			lo, up := hi*int64(i)/int64(p), hi*int64(i+1)/int64(p)
			if i == p-1 {
				up = 1 << 62
			}
			go func() {
				conn, err := pgx.Connect(ctx, side.c.ConnString(""))
				if err != nil {
					errs <- err
					return
				}
				defer conn.Close(ctx)
				_, err = conn.PgConn().CopyTo(ctx, io.Discard, fmt.Sprintf("COPY (SELECT %s FROM %s WHERE k > %d AND k <= %d ORDER BY k) TO STDOUT (FORMAT binary)", cols, side.table, lo, up))
				errs <- err
			}()
		}
	}
	for i := 0; i < 2*p; i++ {
		if err := <-errs; err != nil {
			return 0, err
		}
	}
	return time.Since(start).Seconds(), nil
}
