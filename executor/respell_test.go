package executor_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// TestRespelledValuesConverge: a postgres source's text for a column of a
// type the source lacks (hstore, a composite) that spells the value the
// destination stores otherwise ('b=>1,a=>2' for '"a"=>"2", "b"=>"1"') is
// no change: before, such a row was an update on every plan, after every
// apply, under either diff strategy. Rows whose values do change are
// updates still.
func TestRespelledValuesConverge(t *testing.T) {
	t.Parallel()
	for _, strategy := range []string{"full_rows", "server_hash"} {
		t.Run(strategy, func(t *testing.T) {
			t.Parallel()
			e := synctest.New(t)
			e.Src(`CREATE TABLE m (id int, h text, p text, n int);
INSERT INTO m VALUES (1, 'b=>1,a=>2', '(1, x)', 1), (2, 'a=>3', '(2,y)', 2), (3, 'a=>1', '(3,z)', 30), (4, 'a=>1', '(4,w)', 4)`)
			e.Dst(`CREATE EXTENSION hstore; CREATE TYPE pair AS (n int, s text);
CREATE TABLE m (id int PRIMARY KEY, h hstore, p pair, n int);
INSERT INTO m VALUES (1, 'a=>2,b=>1', '(1," x")', 1), (2, 'a=>2', '(2,y)', 2), (3, 'a=>1', '( 3 ,z)', 3)`)
			cfg := e.Config(fmt.Sprintf(`
sync "m" {
  source        = source.postgres.src
  query         = "SELECT id, h, p, n FROM m"
  destination   = destination.postgres.dst
  table         = "m"
  behavior      = "update_or_create"
  key           = "id"
  diff_strategy = %q
}`, strategy))
			p := plan(t, cfg)
			sp := p.Syncs[0]
			if want := (planner.Counts{Insert: 1, Update: 2, Unchanged: 1}); sp.Counts != want {
				t.Errorf("counts %+v, want %+v\n%s", sp.Counts, want, synctest.FindingsText(sp))
			}
			requireApplied(t, apply(t, cfg, p, executor.Options{}))
			if got := strings.Join(e.DstQuery(`SELECT format('%s|%s|%s|%s', id, h, p, n) FROM m ORDER BY id`), ", "); got != `1|"a"=>"2", "b"=>"1"|(1," x")|1, 2|"a"=>"3"|(2,y)|2, 3|"a"=>"1"|(3,z)|30, 4|"a"=>"1"|(4,w)|4` {
				t.Errorf("m holds %s", got)
			}
			requireConverged(t, cfg)
		})
	}
}
