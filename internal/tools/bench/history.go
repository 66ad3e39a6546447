package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/jackc/pgx/v5"
)

// The cost of the run history (docs/history.md), measured on the 1% mirror
// of bigint keys: the apply of a saved plan with history = false beside
// the same apply with the history (the default, the "apply FILE" column),
// each run's two applies from a destination restored the same way and in
// turns, the cost the median of the runs' ratios; and the apply of the
// undo of the run that apply recorded.

// historyCase reports whether case c measures the history's cost.
func historyCase(c benchCase) bool {
	if historyAtEveryRatio && ratioCase(c) && c.ratio > 0 {
		return true
	}
	return c.shape == "mixed" && c.key == "bigint" && c.ratio == 0.01 && c.behavior == "mirror" && c.conns == 1
}

// historyAtEveryRatio: every change-ratio case with changes measures the
// history's cost too (BENCH_CASES=ratios), not only the 1% mirror.
var historyAtEveryRatio bool

// noHistoryConfig is cfg, gen.config's configuration, with history = false.
func noHistoryConfig(cfg string) string {
	return strings.Replace(cfg, "destination \"postgres\" \"dst\" {\n", "destination \"postgres\" \"dst\" {\n  history = false\n", 1)
}

// measureUndo plans (untimed) the undo of the newest run of the history,
// the apply just made, and times the apply of that plan.
func measureUndo(ctx context.Context, o options, env []string, cfgDir, dir string, dconn *pgx.Conn) (float64, error) {
	var id int64
	if err := dconn.QueryRow(ctx, "SELECT max(id) FROM rowform.runs WHERE status = 'applied'").Scan(&id); err != nil {
		return 0, fmt.Errorf("finding the run to undo: %w", err)
	}
	undoFile := filepath.Join(dir, "undo.plan")
	if _, _, out, err := timeBinary(o.rowform, env, "-chdir="+cfgDir, "plan", "-json", fmt.Sprintf("-undo=%d", id), "-out="+undoFile); err != nil {
		return 0, fmt.Errorf("plan -undo=%d: %v\n%s", id, err, out)
	}
	t, _, out, err := timeBinary(o.rowform, env, "-chdir="+cfgDir, "apply", "-json", undoFile)
	if err != nil || !strings.Contains(out, `"applied": true`) {
		return 0, fmt.Errorf("apply of the undo of run %d: %v\n%s", id, err, out)
	}
	return t, nil
}

// historyPair is the history's cost measured in one run: apply FILE
// (with the history, the default) and the same apply of a plan made with
// history = false, each from a destination just restored, so that the two
// differ in nothing but the recording. first says the apply without the
// history goes first (every other run), so that neither always follows
// the other's restore or the plan before it.
type historyPair struct {
	o             options
	env           []string
	cfgDir, plan  string
	first         bool
	with, without float64
}

// planNoHistory writes the configuration with history = false and plans
// with it (untimed), from the destination as generated.
func planNoHistory(o options, env []string, cfg, dir string) (*historyPair, error) {
	cfgDir := filepath.Join(dir, "cfg-nohistory")
	_ = os.RemoveAll(cfgDir)
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		return nil, err
	}
	if err := os.WriteFile(filepath.Join(cfgDir, "main.hcl"), []byte(noHistoryConfig(cfg)), 0o644); err != nil {
		return nil, err
	}
	planFile := filepath.Join(dir, "nohistory.plan")
	if _, _, out, err := timeBinary(o.rowform, env, "-chdir="+cfgDir, "plan", "-json", "-out="+planFile); err != nil {
		return nil, fmt.Errorf("plan with history = false: %v\n%s", err, out)
	}
	return &historyPair{o: o, env: env, cfgDir: cfgDir, plan: planFile}, nil
}

// measureWithout restores the destination and times the apply with
// history = false, when p's order puts it at this point (before says
// whether this is the point before apply FILE). Nothing for a nil p.
func (p *historyPair) measureWithout(ctx context.Context, gen *generator, dconn *pgx.Conn, before bool) error {
	if p == nil || p.first != before {
		return nil
	}
	if err := gen.restoreDestination(ctx, dconn); err != nil {
		return err
	}
	t, _, out, err := timeBinary(p.o.rowform, p.env, "-chdir="+p.cfgDir, "apply", "-json", p.plan)
	if err != nil {
		return fmt.Errorf("apply with history = false: %v\n%s", err, out)
	}
	p.without = t
	return nil
}

func minOf(xs []float64) float64 {
	m := 0.0
	for i, x := range xs {
		if i == 0 || x < m {
			m = x
		}
	}
	return m
}

// historyCells are the table's history columns of r: the apply FILE
// without history, and the undo's apply; "—" for other cases.
func historyCells(r result) string {
	if r.applyNoHistory == 0 {
		return "— | — | — |"
	}
	return fmt.Sprintf("%.2f | %+.1f%% | %.2f |", r.applyNoHistory, r.historyCost*100, r.undo)
}

// historyNote is the note on the history's cost under the table.
func historyNote(r result) string {
	return fmt.Sprintf("- %s: the history adds %+.1f%% to apply FILE (median of the runs' pairs; medians %.2f s, %.2f s with history = false), %+.1f%% fastest against fastest; the undo of that run applies in %.2f s = %.2f × apply FILE",
		r.c.name(), r.historyCost*100, r.apply, r.applyNoHistory, r.historyCostQuietest*100, r.undo, r.undo/r.apply)
}
