package cli

import (
	"bufio"
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rowform/rowform/internal/synctest"
)

// maxWideRSS is the peak resident memory allowed to plan and apply the
// wide rows of TestPeakRSSWideRows: the memory budgets of
// docs/performance.md (about 120 MB in all), a few copies of the widest
// row (10 MB) and the garbage collector's headroom, whatever the number of
// rows.
const maxWideRSS = 256 << 20

// TestPeakRSSWideRows measures the peak RSS of the rowform binary planning
// (and applying) syncs of wide rows — CSV rows of 100 kB and of 10 MB, and
// 10 MB values from a PostgreSQL source — which must stay within
// maxWideRSS: memory is bounded by bytes, not by rows. The tables have a
// CHECK constraint, so that the plan's server checks carry the rows too.
func TestPeakRSSWideRows(t *testing.T) {
	bin := buildRowform(t)
	e := synctest.New(t)
	e.Dst(`CREATE TABLE narrow (id int PRIMARY KEY, v text CHECK (v <> ''))`)
	e.Dst(`CREATE TABLE wide (id int PRIMARY KEY, v text CHECK (v <> ''))`)
	e.Dst(`CREATE TABLE fromdb (id int PRIMARY KEY, v text CHECK (v <> ''))`)
	e.Src(`CREATE TABLE big (id int, v text)`)
	e.Src(`ALTER TABLE big ALTER v SET STORAGE EXTERNAL`)
	e.Src(`INSERT INTO big SELECT i, repeat(md5(i::text), 327680) FROM generate_series(1, 16) i`)
	writeCSV := func(name string, rows, width int) {
		f, err := os.Create(filepath.Join(e.Dir, name))
		if err != nil {
			t.Fatal(err)
		}
		w := bufio.NewWriterSize(f, 1<<20)
		fmt.Fprintln(w, "id,v")
		chunk := strings.Repeat("abcdefghij", 1024)
		for i := range rows {
			fmt.Fprintf(w, "%d,", i)
			for n := width; n > 0; n -= len(chunk) {
				w.WriteString(chunk[:min(n, len(chunk))])
			}
			w.WriteString("\n")
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		if err := f.Close(); err != nil {
			t.Fatal(err)
		}
	}
	writeCSV("narrow.csv", 1500, 100<<10) // 150 MB of 100 kB rows
	writeCSV("wide.csv", 15, 10<<20)      // 150 MB of 10 MB rows
	sync := func(name, source, query string) string {
		q := ""
		if query != "" {
			q = fmt.Sprintf("query = %q\n", query)
		}
		return fmt.Sprintf(`
sync %q {
  source      = %s
  %s
  destination = destination.postgres.dst
  table       = %q
  behavior    = "mirror"
  key         = "id"
}
`, name, source, q, name)
	}
	e.WriteFile("main.hcl", e.Servers()+`
source "csv" "narrow" {
  path = "narrow.csv"
}

source "csv" "wide" {
  path = "wide.csv"
}
`+sync("narrow", "source.csv.narrow", "")+sync("wide", "source.csv.wide", "")+sync("fromdb", "source.postgres.src", "SELECT id, v FROM big"))

	run := func(args ...string) {
		t.Helper()
		peakRSS(t, bin, e, maxWideRSS, args...)
	}
	for _, s := range []string{"narrow", "wide", "fromdb"} {
		run("plan", "-sync="+s)
	}
	run("apply", "-auto-approve", "-sync=wide")
}

// peakRSS runs the rowform binary bin with args in e's directory, fails
// the test if it fails or if its peak RSS passes limit, and returns that
// peak.
func peakRSS(t *testing.T, bin string, e *synctest.Env, limit int64, args ...string) int64 {
	t.Helper()
	cmd := exec.Command(bin, append([]string{"-chdir=" + e.Dir}, args...)...)
	// A soft memory limit makes the garbage collector's headroom
	// steady (left alone, it depends on how busy the machine is, and
	// the peak with it), so the figure is rowform's memory, not the
	// collector's pacing. It is a limit for the collector, not a cap:
	// live memory above it is not collected away.
	cmd.Env = append([]string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir(), "TMPDIR=" + t.TempDir(), "GOMEMLIMIT=160MiB"}, e.Environ...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	// The peak is read from /proc (VmHWM, the high-water mark of the
	// process's memory since its exec), not from rusage: a forked
	// child's ru_maxrss starts at the parent's size, and this test
	// process is large under the race detector.
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var rss int64
	var err error
wait:
	for {
		if hwm := vmHWM(cmd.Process.Pid); hwm > rss {
			rss = hwm
		}
		select {
		case err = <-done:
			break wait
		case <-time.After(5 * time.Millisecond):
		}
	}
	if err != nil {
		t.Fatalf("rowform %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	t.Logf("rowform %s: peak RSS %d MB", strings.Join(args, " "), rss>>20)
	if rss > limit {
		t.Errorf("rowform %s: peak RSS %d MB, want at most %d MB", strings.Join(args, " "), rss>>20, limit>>20)
	}
	return rss
}

// TestPeakRSSMetRowsKeepTheirKeys: a unique index whose values every
// updated row takes from another row that the sync updates (each row's
// value moves to the row before it) makes every change meet a destination
// row; the check decides on them all once it has read the change set, and
// keeps of each its key, not its rows. It kept both rows of every change
// (80,000 updates of 2 kB rows: a peak of 433 MB, against 120 MB), so memory
// grew with the number of changes times their width.
func TestPeakRSSMetRowsKeepTheirKeys(t *testing.T) {
	bin := buildRowform(t)
	e := synctest.New(t)
	e.Dst(`CREATE TABLE moved (id int PRIMARY KEY, u text, v text, CONSTRAINT moved_u UNIQUE (u) DEFERRABLE)`)
	e.Dst(`INSERT INTO moved SELECT i, md5(i::text), repeat('v', 2000) FROM generate_series(1, 80000) i`)
	e.WriteFile("main.hcl", e.Servers()+`
sync "moved" {
  source      = source.postgres.src
  query       = "SELECT i AS id, md5((i + 1)::text) AS u, repeat('w', 2000) AS v FROM generate_series(1, 80000) i"
  destination = destination.postgres.dst
  table       = "moved"
  behavior    = "mirror"
  key         = "id"
}
`)
	peakRSS(t, bin, e, maxWideRSS, "plan")
}

// vmHWM returns the peak resident memory of process pid, in bytes, as
// /proc/PID/status has it (VmHWM), or 0 once the process is gone.
func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0
			}
			return kb << 10
		}
	}
	return 0
}
