package main

import (
	"strings"
	"testing"
	"time"
)

// TestProgress: a line when a package starts and when it ends, a line per
// running package on each tick, the output of failed tests only, and a
// closing line naming the failures.
func TestProgress(t *testing.T) {
	clock := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var out strings.Builder
	p := newProgress(&out, func() time.Time { return clock })
	p.read(strings.NewReader(`{"Action":"start","Package":"a"}
{"Action":"start","Package":"b"}
{"Action":"run","Package":"a","Test":"TestOne"}
{"Action":"output","Package":"a","Test":"TestOne","Output":"=== RUN   TestOne\n"}
{"Action":"pass","Package":"a","Test":"TestOne","Elapsed":0.1}
{"Action":"run","Package":"a","Test":"TestTwo"}
{"Action":"run","Package":"b","Test":"TestSlow"}
{"Action":"output","Package":"a","Test":"TestTwo","Output":"    x_test.go:9: got 1, want 2\n"}
`))
	clock = clock.Add(95 * time.Second)
	p.tick()
	p.read(strings.NewReader(`{"Action":"fail","Package":"a","Test":"TestTwo","Elapsed":0.2}
{"Action":"fail","Package":"a","Elapsed":1.5}
{"Action":"pass","Package":"b","Test":"TestSlow","Elapsed":100}
{"Action":"pass","Package":"b","Elapsed":100.04}
not json
{"Action":"skip","Package":"c"}
`))
	p.finish()
	want := `▶ a
▶ b
… a: 1 test done after 1m35s; running TestTwo
… b: 0 tests done after 1m35s; running TestSlow
--- FAIL a TestTwo
        x_test.go:9: got 1, want 2
FAIL a (2 tests, 1 failed, 1.5s)
ok   b (1 test, 1m40s)
not json
ok   c (no tests)

1 failed in 1m35s:
  a TestTwo
`
	if out.String() != want {
		t.Errorf("output:\n%s\nwant:\n%s", out.String(), want)
	}
}
