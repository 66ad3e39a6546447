package hclconfig

import (
	"runtime"
	"strings"
	"testing"
)

// TestBuildsAreBounded: for expressions and templates that repeat a large
// value are refused once they have built maxBuildBytes, not after they
// have built the whole value (which a few nested loops make gigabytes,
// from a file or a -var value of a few hundred bytes, and which crashed
// rowform out of memory); the same constructs within the bound load as
// before.
func TestBuildsAreBounded(t *testing.T) {
	// b is 1 MiB, built with replace from a 1,000-byte local.
	const locals = `a = "xxxxxxxxxx"
  a1k = replace("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", "x", local.a)
  b = replace(local.a1k, "x", local.a1k)
  l = split("", local.a)
  l300 = split("", substr(local.a1k, 0, 300))
`
	// list is a list of n numbers, as HCL writes it.
	list := func(n int) string { return "[" + strings.TrimSuffix(strings.Repeat("1,", n), ",") + "]" }
	nested := func(depth, n int, body string) string {
		return "\"" + strings.Repeat("%{for i in "+list(n)+"}", depth) + body + strings.Repeat("%{endfor}", depth) + "\""
	}
	for _, tc := range []struct {
		name  string
		files map[string]string
		in    Inputs
	}{
		{"a for template", map[string]string{"main.hcl": "locals {\n  " + locals +
			"  x = \"%{for i in local.l300}${local.b}%{endfor}\"\n}\n"}, Inputs{}},
		{"nested for templates", map[string]string{"main.hcl": "locals {\n  " + locals +
			"  x = \"%{for i in local.l}%{for j in local.l}%{for k in [1, 2, 3]}${local.b}%{endfor}%{endfor}%{endfor}\"\n}\n"}, Inputs{}},
		{"a for expression", map[string]string{"main.hcl": "locals {\n  " + locals +
			"  x = [for i in local.l300 : \"${local.b}.\"]\n}\n"}, Inputs{}},
		{"a template of many parts", map[string]string{"main.hcl": "locals {\n  " + locals +
			"  x = \"" + strings.Repeat("${local.b}-", 300) + "\"\n}\n"}, Inputs{}},
		{"a -var value", map[string]string{"main.hcl": "variable \"v\" {\n  type = list(string)\n}\n"},
			Inputs{Vars: []string{"v=[" + nested(3, 80, strings.Repeat("x", 1000)) + "]"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			_, diags := loadFiles(t, tc.files, tc.in)
			runtime.ReadMemStats(&after)
			if !diags.HasErrors() {
				t.Fatal("it loaded")
			}
			if tc.in.Vars == nil {
				wantError(t, diags, "Value too large", "builds more than 64 MiB")
			}
			// Without the bound these allocated 0.6–5.6 GB; with it, up to
			// ~200 MB, and twice that under the race detector, whose
			// instrumentation allocates more (there the errors above
			// still tell the bound's work: without it the -var value
			// loads and the others fail otherwise).
			if got := after.TotalAlloc - before.TotalAlloc; got > 256<<20 && !raceDetector {
				t.Errorf("loading allocated %d MB", got>>20)
			}
		})
	}

	// Within the bound: templates and for expressions over large values,
	// nested loops, a -var value built by loops.
	cfg, diags := loadFiles(t, map[string]string{"main.hcl": "locals {\n  " + locals + `  q = "-- ${local.b}\n${local.b}"
  f = [for i in split("", local.a1k) : upper(i)]
  m = {for i, c in split("", local.a) : c => "${i}-${local.a1k}"...}
  n = "%{for i in local.l}%{for j in local.l}.%{endfor}%{endfor}"
}
variable "v" {
  type = list(string)
}
`}, Inputs{Vars: []string{"v=[" + nested(2, 10, "x") + "]"}})
	noErrors(t, cfg, diags)
}
