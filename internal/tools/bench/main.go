// Command bench measures rowform's plan and apply against baselines measured
// in the same run (docs/design.md, "Benchmarks"). `make bench` runs it.
//
// Apply is measured two ways, each the whole process on the same data:
// `rowform apply PLANFILE` of the plan just made, which re-runs the whole
// diff inside its transaction to prove the plan is not stale, so its time
// includes its own diff; and `rowform apply -auto-approve` without a plan
// file, as cron and CI jobs run it, which plans each sync inside its
// transaction (one diff), prints that plan and applies it.
//
// It starts two throwaway clusters (source and destination), generates data
// per case, runs the rowform binary given by -rowform for plan and apply
// (peak RSS read from the child's rusage), and measures:
//
//   - L_read: both sides COPY (SELECT ... ORDER BY key) TO STDOUT (FORMAT
//     binary) at the same time, discarded: the floor for a plan that merges
//     key-ordered reads;
//   - L_scan: the same without ORDER BY: the floor for rowform's hash diff,
//     which needs no order;
//   - L_load: one binary COPY of the source rows into an empty copy of the
//     destination table;
//   - naive: every source row copied into a temp table on the destination,
//     INSERT ... ON CONFLICT DO UPDATE of every row, DELETE of the rows
//     missing from the source, in one transaction.
//
// Each figure is the median of -runs runs. The output is one markdown table.
package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"syscall"
	"time"

	"github.com/rowform/rowform/internal/pgcluster"
)

type options struct {
	rowform string
	rows    []int
	runs    int
	cases   string
}

func main() {
	var o options
	var rows string
	flag.StringVar(&o.rowform, "rowform", "bin/rowform", "the rowform binary to measure")
	flag.StringVar(&rows, "rows", "100000,1000000", "comma-separated table sizes")
	flag.IntVar(&o.runs, "runs", 3, "runs per figure (the median is reported)")
	flag.StringVar(&o.cases, "cases", "main", "which cases: main (mixed mirror 1% + key types + ratios + the Parquet source), ratios (mixed bigint mirror at 0/1/10/50/100% changed), slowlink (the 1% mirror through 100 Mbit/s links, beside pg_comparator), large (the 1% mirror with the plan's temporary disk; 10M rows from make bench), parquet (the mixed 1% mirror from a Parquet file), all (main + max_connections 2/4/8), targets (the cases of the targets table in docs/performance.md), or smoke")
	flag.Parse()
	for _, r := range strings.Split(rows, ",") {
		var n int
		if _, err := fmt.Sscan(strings.TrimSpace(r), &n); err != nil || n <= 0 {
			fmt.Fprintf(os.Stderr, "bench: bad -rows %q\n", r)
			os.Exit(2)
		}
		o.rows = append(o.rows, n)
	}
	// Ctrl-C stops the run and still removes the clusters.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, o, os.Stdout); err != nil {
		stop()
		fmt.Fprintf(os.Stderr, "bench: %v\n", err)
		os.Exit(1)
	}
}

// benchCase is one row of the table.
type benchCase struct {
	shape    string // "mixed" or "narrow"
	key      string // "bigint", "text", "uuid", "two"
	rows     int
	ratio    float64 // fraction of rows inserted, updated and deleted each; 1 = empty destination
	behavior string
	conns    int
	// updateAll: every row updated (ratio 1), instead of an empty
	// destination (ratios.go).
	updateAll bool
}

func (c benchCase) name() string {
	r := fmt.Sprintf("%g%%", c.ratio*100)
	if c.ratio >= 1 {
		r = "empty dst"
	}
	if c.allUpdated() {
		r = "100% updated"
	}
	return fmt.Sprintf("%s %s key, %s, %s, %d conn", c.shape, c.key, humanRows(c.rows), r, c.conns)
}

func humanRows(n int) string {
	switch {
	case n >= 1000000 && n%1000000 == 0:
		return fmt.Sprintf("%dM", n/1000000)
	case n >= 1000 && n%1000 == 0:
		return fmt.Sprintf("%dk", n/1000)
	}
	return fmt.Sprint(n)
}

func cases(o options) []benchCase {
	var out []benchCase
	for _, n := range o.rows {
		switch o.cases {
		case "ratios":
			out = append(out, ratioCases(n)...)
		case "large":
			out = append(out, largeCase(n))
		case "smoke":
			out = append(out, benchCase{"mixed", "bigint", n, 0.01, "mirror", 1, false})
		case "targets":
			out = append(out,
				benchCase{"mixed", "bigint", n, 0.01, "mirror", 1, false},
				benchCase{"mixed", "bigint", n, 1, "mirror", 1, false},
				benchCase{"mixed", "text", n, 0.01, "mirror", 1, false},
				benchCase{"mixed", "uuid", n, 0.01, "mirror", 1, false},
				benchCase{"mixed", "two", n, 0.01, "mirror", 1, false},
			)
		case "main", "all":
			out = append(out,
				benchCase{"mixed", "bigint", n, 0.01, "mirror", 1, false},
				benchCase{"mixed", "bigint", n, 0, "mirror", 1, false},
				benchCase{"mixed", "bigint", n, 0.10, "mirror", 1, false},
				benchCase{"mixed", "bigint", n, 0.50, "mirror", 1, false},
				benchCase{"mixed", "bigint", n, 1, "mirror", 1, false},
				benchCase{"mixed", "bigint", n, 1, "mirror", 1, true},
				benchCase{"mixed", "text", n, 0.01, "mirror", 1, false},
				benchCase{"mixed", "uuid", n, 0.01, "mirror", 1, false},
				benchCase{"mixed", "two", n, 0.01, "mirror", 1, false},
				benchCase{"narrow", "bigint", n, 0.01, "mirror", 1, false},
			)
			if o.cases == "all" {
				for _, c := range []int{2, 4, 8} {
					out = append(out, benchCase{"mixed", "bigint", n, 0.01, "mirror", c, false})
				}
			}
		}
	}
	return out
}

// result holds the medians of one case, in seconds and MB.
type result struct {
	c                          benchCase
	plan, apply, auto          float64
	planRSS, applyRSS, autoRSS float64
	lread, lscan, lload, naive float64
	counts                     string
	// lreadPar maps p to L_read with p key ranges per side (bigint keys only).
	lreadPar map[int]float64
	// applyNoHistory is apply FILE with history = false, historyCost the
	// median over the runs of apply FILE / applyNoHistory - 1 (each run's
	// pair measured side by side), undo the apply of the undo of apply
	// FILE's run (history.go); 0 when not measured.
	applyNoHistory, historyCost, undo float64
	// historyCostQuietest is the fastest apply FILE over the fastest
	// with history = false, less 1: on a shared machine, the runs that
	// other work disturbed least.
	historyCostQuietest float64
	// tempDisk is the peak of the plan's temporary files in bytes
	// (large.go); 0 when not measured.
	tempDisk int64
	// severalSyncs is the apply of a plan of two syncs beside each's own
	// (severalsyncs.go); zero when not measured.
	severalSyncs severalSyncs
}

func run(ctx context.Context, o options, w io.Writer) error {
	if _, err := os.Stat(o.rowform); err != nil {
		return fmt.Errorf("the rowform binary %s is missing; run make build", o.rowform)
	}
	abs, _ := filepath.Abs(o.rowform)
	o.rowform = abs
	fmt.Fprintln(os.Stderr, "bench: starting source and destination clusters")
	src, err := pgcluster.Start(ctx, pgcluster.Options{Locale: "C", ExtraConf: benchConf})
	if err != nil {
		return err
	}
	defer src.Close()
	dst, err := pgcluster.Start(ctx, pgcluster.Options{Locale: "C", ExtraConf: benchConf})
	if err != nil {
		return err
	}
	defer dst.Close()
	dir, err := os.MkdirTemp("", "rowform-bench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)

	historyAtEveryRatio = o.cases == "ratios"
	if o.cases == "slowlink" {
		return runSlowLink(ctx, o, src, dst, dir, w)
	}
	var results []result
	for _, c := range cases(o) {
		fmt.Fprintf(os.Stderr, "bench: %s\n", c.name())
		r, err := runCase(ctx, o, src, dst, dir, c)
		if err != nil {
			return fmt.Errorf("%s: %w", c.name(), err)
		}
		results = append(results, r)
	}
	if len(results) > 0 {
		printTable(w, results)
	}
	return runParquet(ctx, o, src, dst, dir, w)
}

var benchConf = []string{"shared_buffers = 512MB", "work_mem = 64MB", "maintenance_work_mem = 256MB", "max_wal_size = 4GB", "checkpoint_timeout = 30min"}

func runCase(ctx context.Context, o options, src, dst *pgcluster.Cluster, dir string, c benchCase) (result, error) {
	r := result{c: c}
	sconn, dconn, gen, err := loadCase(ctx, src, dst, c)
	if err != nil {
		return r, err
	}
	defer sconn.Close(ctx)
	defer dconn.Close(ctx)
	cfgDir := filepath.Join(dir, "cfg")
	_ = os.RemoveAll(cfgDir)
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		return r, err
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "main.hcl"), []byte(gen.config(src, dst)), 0o644); err != nil {
		return r, err
	}
	env := append(os.Environ(), "SRC_PASSWORD="+src.Password, "DST_PASSWORD="+dst.Password)

	var plans, applies, autos, planRSS, applyRSS, autoRSS, lreads, lscans, lloads, naives []float64
	var noHistories, historyCosts, historyWith, undos []float64
	for i := 0; i < o.runs; i++ {
		// Plan.
		planFile := filepath.Join(dir, "bench.plan")
		t, rss, out, err := timeBinary(o.rowform, env, "-chdir="+cfgDir, "plan", "-json", "-out="+planFile)
		if err != nil {
			return r, fmt.Errorf("plan: %v\n%s", err, out)
		}
		plans, planRSS = append(plans, t), append(planRSS, rss)
		r.counts = countsOf(out)
		// L_read.
		t, err = lread(ctx, src, dst, gen, true)
		if err != nil {
			return r, fmt.Errorf("measuring L_read: %w", err)
		}
		lreads = append(lreads, t)
		// L_scan.
		t, err = lread(ctx, src, dst, gen, false)
		if err != nil {
			return r, fmt.Errorf("measuring L_scan: %w", err)
		}
		lscans = append(lscans, t)
		// Apply of the saved plan (it re-runs its own diff inside its
		// transaction to prove the plan is not stale), then restore. Both
		// applies start from a table just restored (and checkpointed), so
		// that neither is measured in a state the other is not. For the
		// history's cost the same apply with history = false is timed
		// beside it, from a table restored the same way, the two in turns
		// (history.go).
		var pair *historyPair
		if historyCase(c) {
			if pair, err = planNoHistory(o, env, gen.config(src, dst), dir); err != nil {
				return r, err
			}
			pair.first = i%2 == 1
		}
		if err := pair.measureWithout(ctx, gen, dconn, true); err != nil {
			return r, err
		}
		if err := gen.restoreDestination(ctx, dconn); err != nil {
			return r, err
		}
		t, rss, out, err = timeBinary(o.rowform, env, "-chdir="+cfgDir, "apply", "-json", planFile)
		if err != nil {
			return r, fmt.Errorf("apply: %v\n%s", err, out)
		}
		applies, applyRSS = append(applies, t), append(applyRSS, rss)
		if pair != nil {
			pair.with = t
			t, err := measureUndo(ctx, o, env, cfgDir, dir, dconn)
			if err != nil {
				return r, err
			}
			undos = append(undos, t)
			if err := pair.measureWithout(ctx, gen, dconn, false); err != nil {
				return r, err
			}
			noHistories, historyCosts = append(noHistories, pair.without), append(historyCosts, pair.with/pair.without-1)
			historyWith = append(historyWith, pair.with)
			fmt.Fprintf(os.Stderr, "bench: run %d: apply FILE %.2f s, with history = false %.2f s (%s first)\n", i+1, pair.with, pair.without, map[bool]string{true: "without", false: "with"}[pair.first])
		}
		if err := gen.restoreDestination(ctx, dconn); err != nil {
			return r, err
		}
		// The unattended apply, as a cron job runs it: no plan file, the
		// plan made and printed inside the transaction; then restore.
		t, rss, out, err = timeBinary(o.rowform, env, "-chdir="+cfgDir, "apply", "-auto-approve", "-no-color")
		if err != nil {
			return r, fmt.Errorf("apply -auto-approve: %v\n%s", err, out)
		}
		if !strings.Contains(out, "Apply complete:") && !strings.Contains(out, "Nothing to apply.") {
			return r, fmt.Errorf("apply -auto-approve did not apply:\n%s", out)
		}
		autos, autoRSS = append(autos, t), append(autoRSS, rss)
		if err := gen.restoreDestination(ctx, dconn); err != nil {
			return r, err
		}
		// Naive peer, then restore.
		t, err = naive(ctx, src, dst, gen)
		if err != nil {
			return r, fmt.Errorf("naive: %w", err)
		}
		naives = append(naives, t)
		if err := gen.restoreDestination(ctx, dconn); err != nil {
			return r, err
		}
		// L_load.
		t, err = lload(ctx, src, dst, gen)
		if err != nil {
			return r, fmt.Errorf("measuring L_load: %w", err)
		}
		lloads = append(lloads, t)
	}
	if o.cases == "large" {
		if r.tempDisk, _, err = planTempDisk(o.rowform, env, cfgDir, dir); err != nil {
			return r, err
		}
	}
	if historyCase(c) && !historyAtEveryRatio && o.cases != "large" {
		if r.severalSyncs, err = measureSeveralSyncs(ctx, o, env, gen, gen.config(src, dst), dir, dconn); err != nil {
			return r, err
		}
	}
	if c.conns > 1 && c.key == "bigint" {
		var ts []float64
		for i := 0; i < o.runs; i++ {
			t, err := lreadParallel(ctx, src, dst, gen, c.conns)
			if err != nil {
				return r, fmt.Errorf("measuring L_read x%d: %w", c.conns, err)
			}
			ts = append(ts, t)
		}
		r.lreadPar = map[int]float64{c.conns: median(ts)}
	}
	r.plan, r.apply, r.auto = median(plans), median(applies), median(autos)
	r.planRSS, r.applyRSS, r.autoRSS = maxOf(planRSS), maxOf(applyRSS), maxOf(autoRSS)
	r.lread, r.lscan, r.lload, r.naive = median(lreads), median(lscans), median(lloads), median(naives)
	r.applyNoHistory, r.historyCost, r.undo = median(noHistories), median(historyCosts), median(undos)
	if len(noHistories) > 0 {
		r.historyCostQuietest = minOf(historyWith)/minOf(noHistories) - 1
	}
	return r, nil
}

// timeBinary runs rowform and returns wall seconds and peak RSS in MB.
func timeBinary(bin string, env []string, args ...string) (float64, float64, string, error) {
	cmd := exec.Command(bin, args...)
	cmd.Env = env
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	secs := time.Since(start).Seconds()
	rss := 0.0
	if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
		rss = float64(ru.Maxrss) / 1024
	}
	return secs, rss, out.String(), err
}

func countsOf(planJSON string) string {
	var ins, upd, del int64
	i := strings.Index(planJSON, `"summary"`)
	if i < 0 {
		return "?"
	}
	s := planJSON[i:]
	fmt.Sscanf(after(s, `"insert": `), "%d", &ins)
	fmt.Sscanf(after(s, `"update": `), "%d", &upd)
	fmt.Sscanf(after(s, `"delete": `), "%d", &del)
	return fmt.Sprintf("+%d ~%d -%d", ins, upd, del)
}

func after(s, sep string) string {
	if i := strings.Index(s, sep); i >= 0 {
		return s[i+len(sep):]
	}
	return ""
}

func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	return s[len(s)/2]
}

func maxOf(xs []float64) float64 {
	m := 0.0
	for _, x := range xs {
		if x > m {
			m = x
		}
	}
	return m
}

// printTable prints the table, then the notes: L_read split into key
// ranges, the headline plan figure and the unattended apply of the
// clustered bigint cases, and the initial loads against L_load.
//
// The headline plan figure of the clustered bigint case is plan/L_scan:
// L_scan, the reads without ORDER BY, is the floor of rowform's hash diff,
// which needs no order. Its rows arrive nearly in key order and its
// destination is read through the primary key, so L_read's ORDER BY is
// cheap there, but not free, and plan/L_read would credit the plan with a
// sort it never does. (For text, uuid and two-column keys, whose sort is
// real, the plan runs well under L_read and plan/L_read shows it.)
func printTable(w io.Writer, rs []result) {
	fmt.Fprintln(w, "| case | changes | plan s | L_read s | plan/L_read | L_scan s | plan/L_scan | apply FILE s | apply -auto-approve s | naive s | naive/apply | naive/auto | L_load s | plan RSS MB | apply RSS MB | auto RSS MB | apply FILE no history s | history cost | undo apply s |")
	fmt.Fprintln(w, "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
	for _, r := range rs {
		fmt.Fprintf(w, "| %s | %s | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.2f | %.0f | %.0f | %.0f | %s\n",
			r.c.name(), r.counts, r.plan, r.lread, r.plan/r.lread, r.lscan, r.plan/r.lscan, r.apply, r.auto, r.naive, r.naive/r.apply, r.naive/r.auto,
			r.lload, r.planRSS, r.applyRSS, r.autoRSS, historyCells(r))
	}
	fmt.Fprintln(w)
	for _, r := range rs {
		for p, t := range r.lreadPar {
			fmt.Fprintf(w, "- %s: L_read with %d parallel key ranges per side = %.2f s (1 range: %.2f s)\n", r.c.name(), p, t, r.lread)
		}
	}
	for _, r := range rs {
		if r.c.shape == "mixed" && r.c.key == "bigint" && r.c.ratio == 0.01 && r.c.conns == 1 {
			fmt.Fprintf(w, "- %s: headline plan/L_scan = %.2f (plan %.2f s, L_scan %.2f s; plan/L_read = %.2f, L_read adding the servers' ORDER BY, cheap for this clustered key)\n",
				r.c.name(), r.plan/r.lscan, r.plan, r.lscan, r.plan/r.lread)
			fmt.Fprintf(w, "- %s: apply -auto-approve %.2f s, naive/auto = %.2f; apply FILE %.2f s, naive/apply = %.2f; auto/apply = %.2f\n",
				r.c.name(), r.auto, r.naive/r.auto, r.apply, r.naive/r.apply, r.auto/r.apply)
		}
	}
	for _, r := range rs {
		if r.tempDisk > 0 {
			fmt.Fprintln(w, largeNote(r))
		}
	}
	if n := ratioNote(rs); n != "" {
		fmt.Fprintln(w, n)
	}
	for _, r := range rs {
		if r.applyNoHistory > 0 {
			fmt.Fprintln(w, historyNote(r))
		}
	}
	for _, r := range rs {
		if r.severalSyncs.whole > 0 {
			fmt.Fprintln(w, severalSyncsNote(r))
		}
	}
	for _, r := range rs {
		if r.c.ratio >= 1 && !r.c.allUpdated() {
			fmt.Fprintf(w, "- %s: initial load apply/L_load = %.2f (apply -auto-approve/L_load = %.2f)\n", r.c.name(), r.apply/r.lload, r.auto/r.lload)
		}
	}
}
