package cli

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/rowform/rowform/internal/synctest"
)

// TestInterruptWhilePlanning: Ctrl-C while plan or apply is still planning
// (a slow source query) says that it was interrupted and that nothing was
// applied — not only "context canceled".
func TestInterruptWhilePlanning(t *testing.T) {
	t.Parallel()
	e := synctest.New(t)
	e.Src(`CREATE TABLE items (id bigint, name text)`)
	e.Dst(`CREATE TABLE items (id bigint PRIMARY KEY, name text)`)
	e.Dst(`CREATE TABLE other (id bigint PRIMARY KEY, name text)`)
	sync := func(name, table string) string {
		return `
sync "` + name + `" {
  source      = source.postgres.src
  query       = "SELECT id, name FROM items, pg_sleep(30)"
  destination = destination.postgres.dst
  table       = "` + table + `"
  behavior    = "mirror"
  key         = ["id"]
}
`
	}
	e.WriteFile("main.hcl", e.Servers()+sync("items", "items")+sync("other", "other"))
	for _, args := range [][]string{
		{"plan"},
		{"plan", "-json"},
		{"apply", "-auto-approve", "-format=markdown"},
		{"apply", "-auto-approve"},
		{"apply", "-auto-approve", "-sync=items"},
	} {
		ctx, cancel := context.WithCancel(context.Background())
		go func() { time.Sleep(1500 * time.Millisecond); cancel() }()
		start := time.Now()
		var stdout, stderr strings.Builder
		inv := &invocation{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, environ: e.Environ}
		code := inv.run(ctx, append([]string{"-chdir=" + e.Dir}, args...))
		cancel()
		out := stdout.String() + stderr.String()
		t.Logf("%v after %s, exit %d:\n%s", args, time.Since(start).Round(time.Millisecond), code, out)
		if code != exitError || !strings.Contains(out, "interrupted") {
			t.Errorf("%v: exit %d, and the output does not say it was interrupted:\n%s", args, code, out)
		}
		if strings.Contains(out, "context canceled") && !strings.Contains(out, "interrupted") {
			t.Errorf("%v: only context canceled:\n%s", args, out)
		}
		if time.Since(start) > 10*time.Second {
			t.Errorf("%v took %s to stop", args, time.Since(start))
		}
	}
}
