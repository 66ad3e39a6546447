package main

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// The large case (BENCH_CASES=large, 10M rows from make bench): the 1%
// mirror of mixed rows with bigint keys, every figure of the main table,
// and the temporary disk the plan uses: the peak total size of the
// temporary files rowform holds open (its partition and spool files are
// unlinked as soon as they are created, so they are found through the
// process's open files, /proc/PID/fd, not in the directory).

// largeCase is the case of n rows of BENCH_CASES=large.
func largeCase(n int) benchCase {
	return benchCase{"mixed", "bigint", n, 0.01, "mirror", 1, false}
}

// planTempDisk runs rowform's plan of cfgDir once more and returns the
// peak bytes of the deleted files it held open (sampled every 50 ms) and
// its wall seconds.
func planTempDisk(bin string, env []string, cfgDir, dir string) (peak int64, secs float64, err error) {
	cmd := exec.Command(bin, "-chdir="+cfgDir, "plan", "-json", "-out="+filepath.Join(dir, "large.plan"))
	cmd.Env = env
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return 0, 0, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	tick := time.NewTicker(50 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case err := <-done:
			if err != nil {
				return 0, 0, fmt.Errorf("plan: %v\n%s", err, out.String())
			}
			return peak, time.Since(start).Seconds(), nil
		case <-tick.C:
			if n := deletedFileBytes(cmd.Process.Pid); n > peak {
				peak = n
			}
		}
	}
}

// deletedFileBytes is the total size of the unlinked regular files process
// pid holds open.
func deletedFileBytes(pid int) int64 {
	fdDir := fmt.Sprintf("/proc/%d/fd", pid)
	ents, err := os.ReadDir(fdDir)
	if err != nil {
		return 0
	}
	var total int64
	for _, e := range ents {
		p := filepath.Join(fdDir, e.Name())
		target, err := os.Readlink(p)
		if err != nil || !strings.HasSuffix(target, " (deleted)") {
			continue
		}
		var st syscall.Stat_t
		if err := syscall.Stat(p, &st); err == nil && st.Mode&syscall.S_IFMT == syscall.S_IFREG {
			total += st.Blocks * 512
		}
	}
	return total
}

// largeNote is the note on the large case r: its targets, and the plan's
// temporary disk.
func largeNote(r result) string {
	return fmt.Sprintf("- %s: plan/L_scan = %.2f (target <= 1.2), peak RSS plan %.0f MB, apply FILE %.0f MB, apply -auto-approve %.0f MB (target < 100 MB); the plan's temporary files peaked at %.0f MB (%.0f bytes a row of both sides)",
		r.c.name(), r.plan/r.lscan, r.planRSS, r.applyRSS, r.autoRSS, float64(r.tempDisk)/1e6, float64(r.tempDisk)/float64(2*r.c.rows))
}
