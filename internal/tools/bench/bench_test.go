package main

import (
	"bytes"
	"context"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
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
}
