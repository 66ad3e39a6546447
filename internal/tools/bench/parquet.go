package main

import (
	"context"
	"database/sql/driver"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/duckdb/duckdb-go/v2"
	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/internal/duckdbsource/duckdbwrite"
	"github.com/rowform/rowform/internal/pgcluster"
)

// The parquet case: the mixed 1% mirror of bigint keys with its source
// rows in a Parquet file (written by DuckDB from the generated source
// table, so the rows are the mixed case's) read by a duckdb source. Its
// floor is DuckDB reading the file (duck_read: every column of every row
// handed to Go by DuckDB's driver, typed, the JSON column as its text, in
// a process of its own) plus L_read of the destination
// (its rows in key order, binary), measured in the same run; the target
// is plan / (duck_read + L_read dst) <= 1.5.

// DuckDB's work in the bench itself (writing the file, duck_read) runs in
// a child process: DuckDB's memory would otherwise stay in the bench's,
// and a forked child's peak RSS starts at its parent's size, which would
// inflate the RSS figures of every rowform run after it.
const duckdbChild = "-duckdb-child"

func init() {
	if len(os.Args) < 3 || os.Args[1] != duckdbChild {
		return
	}
	ctx := context.Background()
	var err error
	switch os.Args[2] {
	case "read":
		err = readAll(ctx, os.Args[3])
	case "export":
		err = writeParquet(ctx, os.Args[3], os.Args[4])
	default:
		err = fmt.Errorf("unknown child command %q", os.Args[2])
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// inChild runs this binary with duckdbChild and args, returning its wall
// time in seconds.
func inChild(args ...string) (float64, error) {
	self, err := os.Executable()
	if err != nil {
		return 0, err
	}
	cmd := exec.Command(self, append([]string{duckdbChild}, args...)...)
	start := time.Now()
	out, err := cmd.CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("%v: %s", err, out)
	}
	return time.Since(start).Seconds(), nil
}

// parquetResult holds the medians of the parquet case, in seconds and MB.
type parquetResult struct {
	rows                           int
	counts                         string
	plan, auto, duckRead, lreadDst float64
	planRSS, autoRSS               float64
}

// parquetRows are the sizes of the parquet case: every -rows size for
// -cases=main, all and parquet.
func parquetRows(o options) []int {
	switch o.cases {
	case "main", "all", "parquet":
		return o.rows
	}
	return nil
}

func runParquet(ctx context.Context, o options, src, dst *pgcluster.Cluster, dir string, w io.Writer) error {
	var rs []parquetResult
	for _, n := range parquetRows(o) {
		c := benchCase{shape: "mixed", key: "bigint", rows: n, ratio: 0.01, behavior: "mirror", conns: 1}
		fmt.Fprintf(os.Stderr, "bench: %s, Parquet source\n", c.name())
		r, err := runParquetCase(ctx, o, src, dst, dir, c)
		if err != nil {
			return fmt.Errorf("parquet %s: %w", humanRows(n), err)
		}
		rs = append(rs, r)
	}
	if len(rs) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	fmt.Fprintln(w, "| case | changes | plan s | duck_read s | L_read dst s | plan/(duck_read+L_read dst) | apply -auto-approve s | plan RSS MB | auto RSS MB |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range rs {
		fmt.Fprintf(w, "| Parquet mixed bigint key, %s, 1%%, 1 conn | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | %.0f |\n",
			humanRows(r.rows), r.counts, r.plan, r.duckRead, r.lreadDst, r.plan/(r.duckRead+r.lreadDst), r.auto, r.planRSS, r.autoRSS)
	}
	return nil
}

func runParquetCase(ctx context.Context, o options, src, dst *pgcluster.Cluster, dir string, c benchCase) (parquetResult, error) {
	r := parquetResult{rows: c.rows}
	sconn, dconn, gen, err := loadCase(ctx, src, dst, c)
	if err != nil {
		return r, err
	}
	defer sconn.Close(ctx)
	defer dconn.Close(ctx)
	cfgDir := filepath.Join(dir, "parquet")
	_ = os.RemoveAll(cfgDir)
	if err := os.MkdirAll(filepath.Join(cfgDir, "exports"), 0o755); err != nil {
		return r, err
	}
	if err := exportParquet(ctx, sconn, dir, filepath.Join(cfgDir, "exports", "bench_src.parquet")); err != nil {
		return r, fmt.Errorf("writing the Parquet file: %w", err)
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "main.hcl"), []byte(parquetConfig(gen, dst)), 0o644); err != nil {
		return r, err
	}
	env := append(os.Environ(), "DST_PASSWORD="+dst.Password)
	// The JSON column is handed over as its text: the driver would
	// otherwise parse every document into a Go map, its cost, not DuckDB's.
	query := "SELECT k, a, b, c, d, e || '' AS e, f FROM read_parquet('" + filepath.Join(cfgDir, "exports", "bench_src.parquet") + "')"
	var plans, autos, planRSS, autoRSS, ducks, lreads []float64
	for i := 0; i < o.runs; i++ {
		t, rss, out, err := timeBinary(o.rowform, env, "-chdir="+cfgDir, "plan", "-json")
		if err != nil {
			return r, fmt.Errorf("plan: %v\n%s", err, out)
		}
		plans, planRSS = append(plans, t), append(planRSS, rss)
		r.counts = countsOf(out)
		if t, err = duckRead(ctx, query); err != nil {
			return r, fmt.Errorf("measuring duck_read: %w", err)
		}
		ducks = append(ducks, t)
		if t, err = lreadDestination(ctx, dst, gen); err != nil {
			return r, fmt.Errorf("measuring L_read: %w", err)
		}
		lreads = append(lreads, t)
		t, rss, out, err = timeBinary(o.rowform, env, "-chdir="+cfgDir, "apply", "-auto-approve", "-no-color")
		if err != nil || !strings.Contains(out, "Apply complete:") {
			return r, fmt.Errorf("apply -auto-approve: %v\n%s", err, out)
		}
		autos, autoRSS = append(autos, t), append(autoRSS, rss)
		if err := gen.restoreDestination(ctx, dconn); err != nil {
			return r, err
		}
	}
	r.plan, r.auto, r.duckRead, r.lreadDst = median(plans), median(autos), median(ducks), median(lreads)
	r.planRSS, r.autoRSS = maxOf(planRSS), maxOf(autoRSS)
	return r, nil
}

// exportParquet writes the source table as a Parquet file: COPY to CSV
// from PostgreSQL, then DuckDB reads the CSV with the columns' types and
// writes Parquet (e as JSON, d as TIMESTAMP WITH TIME ZONE).
func exportParquet(ctx context.Context, sconn *pgx.Conn, dir, file string) error {
	csvPath := filepath.Join(dir, "bench_src.csv")
	f, err := os.Create(csvPath)
	if err != nil {
		return err
	}
	defer os.Remove(csvPath)
	_, err = sconn.PgConn().CopyTo(ctx, f, "COPY bench_src TO STDOUT (FORMAT csv, HEADER)")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	_, err = inChild("export", csvPath, file)
	return err
}

// writeParquet converts the source table's CSV export to Parquet.
func writeParquet(ctx context.Context, csvPath, file string) error {
	return duckdbwrite.Run(ctx, "",
		"SET TimeZone = 'UTC'",
		fmt.Sprintf(`COPY (SELECT k, a, b, c, d, e::JSON AS e, f FROM read_csv('%s', header = true,
  columns = {'k': 'BIGINT', 'a': 'INTEGER', 'b': 'VARCHAR', 'c': 'DECIMAL(12,2)', 'd': 'TIMESTAMPTZ', 'e': 'VARCHAR', 'f': 'VARCHAR'}))
TO '%s' (FORMAT parquet)`, csvPath, file))
}

func parquetConfig(g *generator, dst *pgcluster.Cluster) string {
	return fmt.Sprintf(`
destination "postgres" "dst" {
  host = "127.0.0.1"
  port = %d
  database = "postgres"
  user = %q
  password = env("DST_PASSWORD")
}
source "duckdb" "lake" {}
sync "bench" {
  source = source.duckdb.lake
  query = "SELECT * FROM read_parquet('exports/*.parquet')"
  destination = destination.postgres.dst
  table = "public.bench_dst"
  behavior = %q
  key = ["k"]
}
`, dst.Port, dst.User, g.c.behavior)
}

// duckRead is DuckDB reading every column of every row of the query into
// Go through its driver, as typed values, in a process of its own (its
// start included, as a plan's is).
func duckRead(_ context.Context, query string) (float64, error) {
	return inChild("read", query)
}

func readAll(ctx context.Context, query string) error {
	connector, err := duckdb.NewConnector("", nil)
	if err != nil {
		return err
	}
	defer connector.Close()
	c, err := connector.Connect(ctx)
	if err != nil {
		return err
	}
	defer c.Close()
	rows, err := c.(*duckdb.Conn).QueryContext(ctx, query, nil)
	if err != nil {
		return err
	}
	defer rows.Close()
	vals := make([]driver.Value, len(rows.Columns()))
	for {
		if err := rows.Next(vals); err == io.EOF {
			return nil
		} else if err != nil {
			return err
		}
	}
}

// lreadDestination is L_read's destination side alone: the table's rows
// in key order, binary, discarded.
func lreadDestination(ctx context.Context, dst *pgcluster.Cluster, g *generator) (float64, error) {
	conn, err := pgx.Connect(ctx, dst.ConnString(""))
	if err != nil {
		return 0, err
	}
	defer conn.Close(ctx)
	start := time.Now()
	_, err = conn.PgConn().CopyTo(ctx, io.Discard, fmt.Sprintf("COPY (SELECT %s FROM bench_dst ORDER BY %s) TO STDOUT (FORMAT binary)", strings.Join(g.cols, ", "), g.orderBy()))
	return time.Since(start).Seconds(), err
}
