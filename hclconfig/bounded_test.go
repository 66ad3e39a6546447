package hclconfig

import (
	"runtime"
	"strings"
	"testing"
)

// TestValuesAreBounded: locals and functions that would build a value of
// more than maxValueBytes are refused where they are written, before the
// value is built, so that loading allocates a few MB, not the GBs the
// values would take; values within the bound load as before.
func TestValuesAreBounded(t *testing.T) {
	// a is 1,000 bytes; 1 MiB values are built with replace from it.
	const a = `a = "` + "xxxxxxxxxx" + `"` + "\n  a1k = replace(\"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\", \"x\", local.a)\n"
	for _, tc := range []struct {
		name, locals string
		line         int // of the diagnostic, in the file below
		want         string
	}{
		{"replace of replace", `b = replace(local.a1k, "x", local.a1k)
  c = replace(local.b, "x", local.b)`, 5, `Call to function "replace" failed: the result would hold 931.3 GiB`},
		{"replace of an empty string", `b = replace(local.a1k, "x", local.a1k)
  c = replace(local.b, "", local.a1k)`, 5, `the result would hold 955 MiB`},
		{"templates that grow", `b = replace(local.a1k, "x", local.a1k)
  c = "${local.b}${local.b}${local.b}${local.b}"
  d = "${local.c}${local.c}${local.c}${local.c}${local.c}"
  e = "${local.d}${local.d}${local.d}${local.d}"`, 6, `local.d would hold more than 16 MiB a value in the configuration may hold`},
		{"format width", `b = format("%999999999999d", 1)`, 4, `Call to function "format" failed: the result would hold`},
		{"format precision", `b = format("%[1]s %.99999999s", "x")`, 4, `Call to function "format" failed: the result would hold`},
		{"split into characters", `b = replace(local.a1k, "x", local.a1k)
  c = replace(local.b, "x", "xxxxxxxxxx")
  d = split("", local.c)`, 6, `Call to function "split" failed: the result would hold`},
		{"join with a long separator", `b = replace(local.a1k, "x", local.a1k)
  c = join(local.b, [for i in split("", local.a1k): i])`, 5, `Call to function "join" failed: the result would hold`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, diags := loadFiles(t, map[string]string{"main.hcl": "locals {\n  " + a + "  " + tc.locals + "\n}\n"}, Inputs{})
			runtime.ReadMemStats(&after)
			d := wantError(t, diags, tc.want)
			if d != nil && (d.Subject == nil || d.Subject.Start.Line != tc.line) {
				t.Errorf("the diagnostic is at %v, want line %d", d.Subject, tc.line)
			}
			if got := after.TotalAlloc - before.TotalAlloc; got > 256<<20 {
				t.Errorf("loading allocated %d MB", got>>20)
			}
		})
	}

	// Within the bound: a 1 MiB local, a 4 MiB template, a list of 1,000
	// elements and a padded format load.
	cfg, diags := loadFiles(t, map[string]string{"main.hcl": "locals {\n  " + a +
		`  b = replace(local.a1k, "x", local.a1k)
  c = "${local.b}${local.b}${local.b}${local.b}"
  d = split("", local.a1k)
  e = format("%10s|%-5s|", "x", join("", [for i in local.d : "1"]))
}
destination "postgres" "d" {
  host     = "h"
  database = "d"
  user     = "u"
}
source "postgres" "p" {
  host     = "h"
  database = "d"
  user     = "u"
}
sync "s" {
  source      = source.postgres.p
  query       = "SELECT '${local.e}' AS k, '${local.c}' AS v"
  destination = destination.postgres.d
  table       = "t"
  key         = ["k"]
  behavior    = "update_or_create"
}
`}, Inputs{})
	noErrors(t, cfg, diags)
	q := cfg.Syncs[0].Query
	if want := "SELECT '         x|" + strings.Repeat("1", 1000) + "|' AS k, '"; !strings.HasPrefix(q, want) || len(q) != len(want)+4000000+len("' AS v") {
		t.Errorf("the query has %d bytes and begins %q", len(q), q[:min(len(q), 40)])
	}
}
