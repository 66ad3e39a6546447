package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBenchSmoke runs the harness on 10k rows so that it cannot rot: every
// baseline and rowform's plan and apply must run, and the table must carry
// numbers for each column.
func TestBenchSmoke(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "rowform")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/rowform").CombinedOutput(); err != nil {
		t.Fatalf("building rowform: %v\n%s", err, out)
	}
	var buf bytes.Buffer
	err := run(context.Background(), options{rowform: bin, rows: []int{10000}, runs: 1, cases: "smoke"}, &buf)
	if err != nil {
		t.Fatalf("bench: %v", err)
	}
	out := buf.String()
	// The figures: plan, L_read, plan/L_read, L_scan, plan/L_scan, apply
	// FILE, apply -auto-approve, naive, naive/apply, naive/auto, L_load,
	// three RSS, apply FILE without history, the history's cost (a signed
	// percentage) and the undo's apply.
	row := regexp.MustCompile(`(?m)^\| mixed bigint key, 10k, 1%, 1 conn \| \+100 ~100 -100 \|( [-+]?[0-9.]+%? \|){17}$`)
	if !row.MatchString(out) {
		t.Fatalf("the table lacks the 10k case with exact counts and seventeen figures:\n%s", out)
	}
	if strings.Contains(out, "NaN") || strings.Contains(out, "Inf") {
		t.Fatalf("a figure is not a number:\n%s", out)
	}
	// The apply of a plan of two syncs beside each sync's own plan.
	two := regexp.MustCompile(`(?m)^- mixed bigint key, 10k, 1%, 1 conn, and a second sync .*: apply FILE of one plan of both [0-9.]+ s; of each sync's own plan, one after the other, [0-9.]+ s together: the check of the whole plan before writing adds [-+][0-9]+%$`)
	if !two.MatchString(out) {
		t.Fatalf("no note on the apply of a plan of two syncs:\n%s", out)
	}
}

// TestBenchRatios runs the change-ratio cases on 10k rows: each ratio
// must have its row with exact counts and the naive upsert beside both
// applies, and the note must compare them per ratio.
func TestBenchRatios(t *testing.T) {
	bin := filepath.Join(t.TempDir(), "rowform")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/rowform").CombinedOutput(); err != nil {
		t.Fatalf("building rowform: %v\n%s", err, out)
	}
	var buf bytes.Buffer
	if err := run(context.Background(), options{rowform: bin, rows: []int{10000}, runs: 1, cases: "ratios"}, &buf); err != nil {
		t.Fatalf("bench: %v", err)
	}
	out := buf.String()
	for _, c := range []struct{ name, counts string }{
		{"0%", `\+0 ~0 -0`}, {"1%", `\+100 ~100 -100`}, {"10%", `\+1000 ~1000 -1000`}, {"50%", `\+5000 ~5000 -5000`}, {"100% updated", `\+0 ~10000 -0`},
	} {
		row := regexp.MustCompile(`(?m)^\| mixed bigint key, 10k, ` + regexp.QuoteMeta(c.name) + `, 1 conn \| ` + c.counts + ` \|( [-+]?[0-9.]+%? \|){14}`)
		if !row.MatchString(out) {
			t.Errorf("the table lacks the %s case with exact counts and figures:\n%s", c.name, out)
		}
	}
	if !strings.Contains(out, "- naive/apply FILE and naive/apply -auto-approve by change ratio") || !strings.Contains(out, "10k 100% ") {
		t.Errorf("no note comparing the applies with the naive upsert per ratio:\n%s", out)
	}
}

// TestBenchSlowLink runs the slow-link case on 10k rows: plan, apply,
// L_read and pg_comparator through the throttled links, with the bytes
// each side's link carried. pg_comparator finds the same differences as
// the plan.
func TestBenchSlowLink(t *testing.T) {
	if _, err := pgComparator(); err != nil {
		t.Skipf("%v", err)
	}
	bin := filepath.Join(t.TempDir(), "rowform")
	if out, err := exec.Command("go", "build", "-o", bin, "../../../cmd/rowform").CombinedOutput(); err != nil {
		t.Fatalf("building rowform: %v\n%s", err, out)
	}
	var buf bytes.Buffer
	if err := run(context.Background(), options{rowform: bin, rows: []int{10000}, runs: 1, cases: "slowlink"}, &buf); err != nil {
		t.Fatalf("bench: %v", err)
	}
	out := buf.String()
	mb := `[0-9.]+ \+ [0-9.]+ \([0-9.]+ \+ [0-9.]+\)`
	row := regexp.MustCompile(`(?m)^\| mixed bigint key, 10k, 1%, 1 conn \| \+100 ~100 -100 \| \+100 ~100 -100 \|( [0-9.]+ \|){8} ` + mb + ` \| ` + mb + ` \| [0-9.]+ \| ` + mb + ` \| ` + mb + ` \| ` + mb + ` \|$`)
	if !row.MatchString(out) {
		t.Fatalf("the slow-link table lacks the 10k case with both tools' counts, times and bytes:\n%s", out)
	}
	if strings.Contains(out, "NaN") || strings.Contains(out, "Inf") || strings.Contains(out, "| 0.0 + 0.0 (") {
		t.Fatalf("a figure is not a number, or a link carried nothing:\n%s", out)
	}
}

// TestLinkThrottles sends 2.5 MB each way through a link of 40 Mbit/s per
// direction: it must take at least the time the rate allows (0.5 s for
// 2.5 MB, less one burst) and count every byte each way.
func TestLinkThrottles(t *testing.T) {
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer echo.Close()
	go func() {
		c, err := echo.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		io.Copy(c, c)
	}()
	l, err := newLink(echo.Addr().String(), 40e6)
	if err != nil {
		t.Fatal(err)
	}
	defer l.close()
	c, err := net.Dial("tcp", fmt.Sprintf("127.0.0.1:%d", l.port()))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	const n = 2500000
	start := time.Now()
	go c.Write(make([]byte, n))
	if _, err := io.ReadFull(c, make([]byte, n)); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if min := 450 * time.Millisecond; took < min {
		t.Errorf("2.5 MB echoed through a 40 Mbit/s link in %v, faster than the rate allows (%v)", took, min)
	}
	if sent, received := l.counts(); sent != n || received != n {
		t.Errorf("the link counted %d bytes sent and %d received, want %d each", sent, received, n)
	}
}
