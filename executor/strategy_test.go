package executor_test

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestApplyUsesThePlansStrategy: a saved plan records its diff strategy,
// and apply reads the rows the same way, whatever the configuration's
// diff_strategy says now (it is not part of the configuration's digest:
// every strategy makes the same plan). Not parallel: it counts the
// process's server-hash diffs.
func TestApplyUsesThePlansStrategy(t *testing.T) {
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id bigint, name text)`)
	e.Src(`INSERT INTO items SELECT g, 'item ' || g FROM generate_series(1, 300) g`)
	e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name text)`)
	const body = `
sync "items" {
  source        = source.postgres.src
  query         = "SELECT id, name FROM items"
  destination   = destination.postgres.dst
  table         = "items"
  behavior      = "mirror"
  key           = ["id"]
  diff_strategy = %q
}
`
	for i, tc := range []struct{ planned, configured string }{
		{planner.StrategyServerHash, planner.StrategyFullRows},
		{planner.StrategyFullRows, planner.StrategyServerHash},
	} {
		e.Dst(`DELETE FROM items`)
		e.Dst(`INSERT INTO items SELECT g, CASE WHEN g % 10 = $1 THEN 'old' ELSE 'item ' || g END FROM generate_series(5, 320) g`, i)
		p := plan(t, e.Config(fmt.Sprintf(body, tc.planned)))
		if got := p.Syncs[0].Strategy; got != tc.planned {
			t.Fatalf("planned with %s: the plan's strategy is %q", tc.planned, got)
		}
		path := filepath.Join(t.TempDir(), "p.plan")
		if err := planner.WritePlanFile(path, &planner.SavedPlan{Format: "1", Plan: p}, nil); err != nil {
			t.Fatal(err)
		}
		saved, err := planner.ReadPlanFile(context.Background(), path)
		if err != nil {
			t.Fatal(err)
		}
		if got := saved.Plan.Syncs[0].Strategy; got != tc.planned {
			t.Fatalf("the plan file records strategy %q, want %q", got, tc.planned)
		}
		before := planner.ServerHashDiffsStarted()
		res := apply(t, e.Config(fmt.Sprintf(body, tc.configured)), saved.Plan, executor.Options{})
		requireApplied(t, res)
		hashed := planner.ServerHashDiffsStarted() - before
		if want := map[string]int64{planner.StrategyServerHash: 1, planner.StrategyFullRows: 0}[tc.planned]; hashed != want {
			t.Errorf("planned with %s, applied with diff_strategy %s: %d server-hash diffs, want %d", tc.planned, tc.configured, hashed, want)
		}
	}
}

// TestAutoEstimateFailureFallsBack: when auto's estimates fail inside a
// transaction (here the source's link probe, whose repeat() a schema ahead of
// pg_catalog in the source database's search_path shadows with one that
// raises), the sync reads full rows, saying why, and the plan and the
// unattended apply go on: the failure is undone with a savepoint instead of
// aborting the source's snapshot or apply's transaction.
func TestAutoEstimateFailureFallsBack(t *testing.T) {
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id bigint, name text)`)
	e.Src(`INSERT INTO items SELECT g, repeat('n', 100) || g FROM generate_series(1, 60000) g`)
	e.Src(`CREATE SCHEMA shadow`)
	e.Src(`CREATE FUNCTION shadow.repeat(text, integer) RETURNS text LANGUAGE plpgsql AS $$ BEGIN RAISE EXCEPTION 'the link probe is not allowed here'; END $$`)
	e.Src(`DO $$ BEGIN EXECUTE format('ALTER DATABASE %I SET search_path = shadow, pg_catalog, public', current_database()); END $$`)
	e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name text)`)
	e.Dst(`INSERT INTO items SELECT g, CASE WHEN g % 100 = 0 THEN 'old' ELSE repeat('n', 100) || g END FROM generate_series(1, 60000) g`)
	e.Dst(`ANALYZE items`)
	cfg := e.Config(`
sync "items" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM items"
  destination = destination.postgres.dst
  table       = "items"
  behavior    = "mirror"
  key         = ["id"]
}
`)
	p := plan(t, cfg)
	sp := p.Syncs[0]
	if sp.HasErrors() || !sp.Diffed {
		t.Fatalf("the plan did not survive a failed estimate: %+v", sp.Findings)
	}
	if sp.Strategy != planner.StrategyFullRows || !strings.Contains(sp.StrategyReason, "could not be read") {
		t.Errorf("strategy %q (%s), want full rows because the estimates could not be read", sp.Strategy, sp.StrategyReason)
	}
	if sp.Counts.Update != 600 {
		t.Errorf("planned %d updates, want 600", sp.Counts.Update)
	}
	res := apply(t, cfg, p, executor.Options{})
	requireApplied(t, res)
	if got := e.DstQuery(`SELECT count(*) FROM items WHERE name = 'old'`); got[0] != "0" {
		t.Errorf("%s rows still old after apply", got[0])
	}
}
