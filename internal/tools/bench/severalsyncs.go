package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/jackc/pgx/v5"
)

// What a reviewed plan of several syncs costs at apply: before writing
// any, apply FILE diffs every sync of the plan again read-only, so that
// one stale sync stops them all (docs/design.md, "An apply"). Measured on
// the 1% mirror of bigint keys with a second sync of the same source into
// a second table (bench_dst2), max_connections 1, so the syncs run one
// after the other: the apply of one plan of both syncs beside the applies
// of each sync's own plan, one after the other, each from tables just
// restored. The difference is the check of the whole plan.

// severalSyncs is the measurement's medians, in seconds.
type severalSyncs struct {
	whole, each float64
}

func measureSeveralSyncs(ctx context.Context, o options, env []string, gen *generator, cfg, dir string, dconn *pgx.Conn) (severalSyncs, error) {
	var m severalSyncs
	// The profiles asked for are of the case's own plan and applies.
	env = slices.DeleteFunc(slices.Clone(env), func(kv string) bool {
		return strings.HasPrefix(kv, "ROWFORM_CPUPROFILE=") || strings.HasPrefix(kv, "ROWFORM_MEMPROFILE=")
	})
	if _, err := dconn.Exec(ctx, "DROP TABLE IF EXISTS bench_dst2; CREATE TABLE bench_dst2 (LIKE bench_dst INCLUDING ALL)", pgx.QueryExecModeSimpleProtocol); err != nil {
		return m, err
	}
	defer dconn.Exec(context.WithoutCancel(ctx), "DROP TABLE IF EXISTS bench_dst2")
	restore := func() error {
		if _, err := dconn.Exec(ctx, "TRUNCATE bench_dst2; INSERT INTO bench_dst2 SELECT * FROM bench_dst_orig", pgx.QueryExecModeSimpleProtocol); err != nil {
			return err
		}
		if _, err := dconn.Exec(ctx, "VACUUM ANALYZE bench_dst2"); err != nil {
			return err
		}
		return gen.restoreDestination(ctx, dconn)
	}
	cfgDir := filepath.Join(dir, "cfg-two")
	_ = os.RemoveAll(cfgDir)
	if err := os.MkdirAll(cfgDir, 0o755); err != nil {
		return m, err
	}
	two := cfg + gen.syncBlock("bench2", "public.bench_dst2")
	if err := os.WriteFile(filepath.Join(cfgDir, "main.hcl"), []byte(two), 0o644); err != nil {
		return m, err
	}
	if err := restore(); err != nil {
		return m, err
	}
	plans := map[string]string{}
	for name, args := range map[string][]string{"whole": nil, "bench": {"-sync=bench"}, "bench2": {"-sync=bench2"}} {
		plans[name] = filepath.Join(dir, "two-"+name+".plan")
		args = append([]string{"-chdir=" + cfgDir, "plan", "-json", "-out=" + plans[name]}, args...)
		if _, _, out, err := timeBinary(o.rowform, env, args...); err != nil {
			return m, fmt.Errorf("plan of two syncs (%s): %v\n%s", name, err, out)
		}
	}
	apply := func(plan string) (float64, error) {
		if err := restore(); err != nil {
			return 0, err
		}
		t, _, out, err := timeBinary(o.rowform, env, "-chdir="+cfgDir, "apply", "-json", plan)
		if err != nil || !strings.Contains(out, `"applied": true`) {
			return 0, fmt.Errorf("apply of %s: %v\n%s", filepath.Base(plan), err, out)
		}
		return t, nil
	}
	var wholes, eaches []float64
	for i := 0; i < o.runs; i++ {
		w, err := apply(plans["whole"])
		if err != nil {
			return m, err
		}
		a, err := apply(plans["bench"])
		if err != nil {
			return m, err
		}
		b, err := apply(plans["bench2"])
		if err != nil {
			return m, err
		}
		wholes, eaches = append(wholes, w), append(eaches, a+b)
		fmt.Fprintf(os.Stderr, "bench: run %d: apply FILE of two syncs %.2f s, of each sync's own plan %.2f s together\n", i+1, w, a+b)
	}
	m.whole, m.each = median(wholes), median(eaches)
	return m, restore()
}

// severalSyncsNote is the note on the measurement under the table.
func severalSyncsNote(r result) string {
	m := r.severalSyncs
	return fmt.Sprintf("- %s, and a second sync of the same source into a second table (max_connections 1): apply FILE of one plan of both %.2f s; of each sync's own plan, one after the other, %.2f s together: the check of the whole plan before writing adds %+.0f%%",
		r.c.name(), m.whole, m.each, (m.whole/m.each-1)*100)
}
