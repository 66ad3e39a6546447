package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/internal/pgcluster"
)

// The slow-link case (BENCH_CASES=slowlink): each server behind its own
// throttling proxy (proxy.go) of slowLinkBits per direction, as a
// destination behind an SSH bastion or in another region is, and
// everything that reads the tables reads them through those links:
// rowform's plan and apply FILE, L_read, and pg_comparator (Debian's
// postgresql-comparator), which compares two tables by exchanging
// checksums of groups of rows, and with --synchronize --do-it also writes
// the differences. The figures are times and the bytes each side's link
// carried, in both directions.

// slowLinkBits is each link's rate per direction, in bits per second.
const slowLinkBits = 100e6

// slowResult holds the medians of one slow-link case.
type slowResult struct {
	c                     benchCase
	counts, pgcCounts     string
	plan, lread, apply    float64
	pgc, pgcSync          float64
	planB, lreadB, applyB wire
	pgcB, pgcSyncB        wire
}

// wire is what crossed the two links during one measurement: bytes from
// each server to the client, and from the client to each server.
type wire struct{ fromSrc, fromDst, toSrc, toDst int64 }

func (w wire) received() int64 { return w.fromSrc + w.fromDst }

// mb formats w's bytes in MB: received from the source + from the
// destination, and (sent to the source + to the destination).
func (w wire) mb() string {
	m := func(b int64) string { return strconv.FormatFloat(float64(b)/1e6, 'f', 1, 64) }
	return fmt.Sprintf("%s + %s (%s + %s)", m(w.fromSrc), m(w.fromDst), m(w.toSrc), m(w.toDst))
}

// pgComparator returns the path of pg_comparator, or an error that says
// how to install it.
func pgComparator() (string, error) {
	for _, p := range []string{"pg_comparator", "/usr/lib/postgresql/15/bin/pg_comparator"} {
		if path, err := exec.LookPath(p); err == nil {
			return path, nil
		}
	}
	return "", fmt.Errorf("the slowlink case compares with pg_comparator, which is missing: install Debian's postgresql-comparator " +
		"(apt-get install -y postgresql-comparator; `make bench BENCH_CASES=slowlink` does it when run as root), which also brings the pgcmp extension it loads")
}

// runSlowLink runs the slow-link case at each size of o and prints its
// table.
func runSlowLink(ctx context.Context, o options, src, dst *pgcluster.Cluster, dir string, w io.Writer) error {
	pgc, err := pgComparator()
	if err != nil {
		return err
	}
	var rs []slowResult
	for _, n := range o.rows {
		c := benchCase{"mixed", "bigint", n, 0.01, "mirror", 1, false}
		fmt.Fprintf(os.Stderr, "bench: %s through %g Mbit/s links\n", c.name(), slowLinkBits/1e6)
		r, err := runSlowCase(ctx, o, pgc, src, dst, dir, c)
		if err != nil {
			return fmt.Errorf("%s through slow links: %w", c.name(), err)
		}
		rs = append(rs, r)
	}
	printSlowTable(w, rs)
	return nil
}

func runSlowCase(ctx context.Context, o options, pgc string, src, dst *pgcluster.Cluster, dir string, c benchCase) (slowResult, error) {
	r := slowResult{c: c}
	sconn, dconn, gen, err := loadCase(ctx, src, dst, c)
	if err != nil {
		return r, err
	}
	defer sconn.Close(ctx)
	defer dconn.Close(ctx)
	// pg_comparator fetches the rows it writes by key from the source:
	// give the source table the key's index it needs (rowform's reads
	// need none, and are not changed by it).
	if _, err := sconn.Exec(ctx, fmt.Sprintf("ALTER TABLE bench_src ADD PRIMARY KEY (%s)", strings.Join(gen.keyCols, ", "))); err != nil {
		return r, err
	}
	// pg_comparator's checksum functions (ck, its default).
	for _, conn := range []*pgx.Conn{sconn, dconn} {
		if _, err := conn.Exec(ctx, "CREATE EXTENSION IF NOT EXISTS pgcmp"); err != nil {
			return r, fmt.Errorf("loading pg_comparator's pgcmp extension (from postgresql-comparator): %w", err)
		}
	}
	srcLink, err := newLink(net.JoinHostPort(src.Host, strconv.Itoa(src.Port)), slowLinkBits)
	if err != nil {
		return r, err
	}
	defer srcLink.close()
	dstLink, err := newLink(net.JoinHostPort(dst.Host, strconv.Itoa(dst.Port)), slowLinkBits)
	if err != nil {
		return r, err
	}
	defer dstLink.close()
	measure := func(f func() error) (wire, error) {
		srcLink.reset()
		dstLink.reset()
		err := f()
		var x wire
		x.toSrc, x.fromSrc = srcLink.counts()
		x.toDst, x.fromDst = dstLink.counts()
		return x, err
	}

	// The configuration with both servers behind their links.
	cfg := gen.config(src, dst)
	cfg = strings.Replace(cfg, fmt.Sprintf("port = %d\n", src.Port), fmt.Sprintf("port = %d\n", srcLink.port()), 1)
	cfg = strings.Replace(cfg, fmt.Sprintf("port = %d\n", dst.Port), fmt.Sprintf("port = %d\n", dstLink.port()), 1)
	cfgDir := filepath.Join(dir, "cfg-slowlink")
	_ = os.RemoveAll(cfgDir)
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		return r, err
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "main.hcl"), []byte(cfg), 0o644); err != nil {
		return r, err
	}
	env := append(os.Environ(), "SRC_PASSWORD="+src.Password, "DST_PASSWORD="+dst.Password)
	srcCfg, err := linkConfig(src, srcLink)
	if err != nil {
		return r, err
	}
	dstCfg, err := linkConfig(dst, dstLink)
	if err != nil {
		return r, err
	}
	cols := strings.Join(gen.cols[len(gen.keyCols):], ",")
	pgcArgs := []string{"--env-pass=PGC_PASS", "--no-lock",
		fmt.Sprintf("pgsql://%s@127.0.0.1:%d/postgres/public.bench_src?%s:%s", src.User, srcLink.port(), strings.Join(gen.keyCols, ","), cols),
		fmt.Sprintf("pgsql://%s@127.0.0.1:%d/postgres/public.bench_dst?%s:%s", dst.User, dstLink.port(), strings.Join(gen.keyCols, ","), cols)}
	pgcEnv := append(os.Environ(), "PGC_PASS1="+src.Password, "PGC_PASS2="+dst.Password)

	var plans, lreads, applies, pgcs, pgcSyncs []float64
	var planB, lreadB, applyB, pgcB, pgcSyncB []wire
	for i := 0; i < o.runs; i++ {
		planFile := filepath.Join(dir, "slowlink.plan")
		var t float64
		var out string
		x, err := measure(func() (err error) {
			t, _, out, err = timeBinary(o.rowform, env, "-chdir="+cfgDir, "plan", "-json", "-out="+planFile)
			return err
		})
		if err != nil {
			return r, fmt.Errorf("plan: %v\n%s", err, out)
		}
		plans, planB, r.counts = append(plans, t), append(planB, x), countsOf(out)

		x, err = measure(func() (err error) {
			t, err = lreadVia(ctx, srcCfg, dstCfg, gen, true)
			return err
		})
		if err != nil {
			return r, fmt.Errorf("measuring L_read: %w", err)
		}
		lreads, lreadB = append(lreads, t), append(lreadB, x)

		if err := gen.restoreDestination(ctx, dconn); err != nil {
			return r, err
		}
		x, err = measure(func() (err error) {
			t, _, out, err = timeBinary(o.rowform, env, "-chdir="+cfgDir, "apply", "-json", planFile)
			return err
		})
		if err != nil {
			return r, fmt.Errorf("apply: %v\n%s", err, out)
		}
		applies, applyB = append(applies, t), append(applyB, x)

		// pg_comparator compares, then (another run) synchronizes, each
		// from the destination as generated.
		for _, sync := range []bool{false, true} {
			if err := gen.restoreDestination(ctx, dconn); err != nil {
				return r, err
			}
			args := pgcArgs
			if sync {
				args = append([]string{"--synchronize", "--do-it"}, pgcArgs...)
			}
			x, err = measure(func() (err error) {
				t, _, out, err = timeBinary(pgc, pgcEnv, args...)
				return err
			})
			if err != nil {
				return r, fmt.Errorf("pg_comparator %s: %v\n%s", strings.Join(args[:len(args)-2], " "), err, lastLines(out, 20))
			}
			if sync {
				pgcSyncs, pgcSyncB = append(pgcSyncs, t), append(pgcSyncB, x)
			} else {
				pgcs, pgcB, r.pgcCounts = append(pgcs, t), append(pgcB, x), pgcCountsOf(out)
			}
		}
		if err := gen.restoreDestination(ctx, dconn); err != nil {
			return r, err
		}
	}
	r.plan, r.lread, r.apply, r.pgc, r.pgcSync = median(plans), median(lreads), median(applies), median(pgcs), median(pgcSyncs)
	r.planB, r.lreadB, r.applyB, r.pgcB, r.pgcSyncB = medianWire(planB), medianWire(lreadB), medianWire(applyB), medianWire(pgcB), medianWire(pgcSyncB)
	return r, nil
}

// linkConfig is the connection configuration of c through link l.
func linkConfig(c *pgcluster.Cluster, l *link) (*pgx.ConnConfig, error) {
	cfg, err := pgx.ParseConfig(c.ConnString(""))
	if err != nil {
		return nil, err
	}
	cfg.Host, cfg.Port = "127.0.0.1", uint16(l.port())
	return cfg, nil
}

// pgcCountsOf counts pg_comparator's report lines: "INSERT k", "UPDATE k",
// "DELETE k", one per differing key.
func pgcCountsOf(out string) string {
	var ins, upd, del int
	for _, line := range strings.Split(out, "\n") {
		switch {
		case strings.HasPrefix(line, "INSERT "):
			ins++
		case strings.HasPrefix(line, "UPDATE "):
			upd++
		case strings.HasPrefix(line, "DELETE "):
			del++
		}
	}
	return fmt.Sprintf("+%d ~%d -%d", ins, upd, del)
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// medianWire is the measurement of the median received bytes.
func medianWire(ws []wire) wire {
	if len(ws) == 0 {
		return wire{}
	}
	s := append([]wire(nil), ws...)
	for i := 1; i < len(s); i++ {
		for j := i; j > 0 && s[j].received() < s[j-1].received(); j-- {
			s[j], s[j-1] = s[j-1], s[j]
		}
	}
	return s[len(s)/2]
}

func printSlowTable(w io.Writer, rs []slowResult) {
	fmt.Fprintf(w, "Through %g Mbit/s links (each server behind its own throttling proxy, per direction). MB: received from the source + from the destination (sent to the source + to the destination).\n\n", slowLinkBits/1e6)
	fmt.Fprintln(w, "| case | changes | pg_comparator's | plan s | L_read s | plan/L_read | apply FILE s | pg_comparator s | pg_comparator -S s | plan/pg_comparator | apply/pg_comparator -S | plan MB | L_read MB | plan/L_read bytes | apply FILE MB | pg_comparator MB | pg_comparator -S MB |")
	fmt.Fprintln(w, "| --- | --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %s | %s | %.2f | %s | %s | %s |\n",
			r.c.name(), r.counts, r.pgcCounts, r.plan, r.lread, r.plan/r.lread, r.apply, r.pgc, r.pgcSync, r.plan/r.pgc, r.apply/r.pgcSync,
			r.planB.mb(), r.lreadB.mb(), float64(r.planB.received())/float64(r.lreadB.received()), r.applyB.mb(), r.pgcB.mb(), r.pgcSyncB.mb())
	}
	fmt.Fprintln(w)
	for _, r := range rs {
		fmt.Fprintf(w, "- %s through the links: plan/L_read = %.2f (goal <= 0.3), bytes received by the plan / by L_read = %.2f (goal <= 0.20), plan/pg_comparator = %.2f and apply FILE/pg_comparator -S = %.2f (goal < 1)\n",
			r.c.name(), r.plan/r.lread, float64(r.planB.received())/float64(r.lreadB.received()), r.plan/r.pgc, r.apply/r.pgcSync)
	}
}
