// Command testprogress runs `go test -json ARGS...` and shows its progress
// per package, for `make test`: a line when a package starts, one when it
// ends (ok or FAIL, its number of tests and its time), every -every a line
// per package still running (tests done so far, the tests running now,
// how long), and the output of every failed test. Its exit code is go
// test's.
//
// Usage:
//
//	go run ./internal/tools/testprogress [-every 30s] -- -race -count=1 ./...
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/rowform/rowform/internal/plural"
)

func main() {
	every := flag.Duration("every", 30*time.Second, "how often to show the packages still running")
	flag.Parse()
	cmd := exec.Command("go", append([]string{"test", "-json"}, flag.Args()...)...)
	cmd.Stderr = os.Stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		fmt.Fprintln(os.Stderr, "testprogress:", err)
		os.Exit(1)
	}
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "testprogress:", err)
		os.Exit(1)
	}
	p := newProgress(os.Stdout, time.Now)
	stop := make(chan struct{})
	go func() {
		t := time.NewTicker(*every)
		defer t.Stop()
		for {
			select {
			case <-t.C:
				p.tick()
			case <-stop:
				return
			}
		}
	}()
	p.read(out)
	close(stop)
	err = cmd.Wait()
	p.finish()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			os.Exit(ee.ExitCode())
		}
		fmt.Fprintln(os.Stderr, "testprogress:", err)
		os.Exit(1)
	}
}

// event is one line of go test -json (test2json).
type event struct {
	Action     string
	Package    string
	ImportPath string
	Test       string
	Elapsed    float64
	Output     string
}

// pkg is the state of one package.
type pkg struct {
	name    string
	started time.Time
	passed  int
	failed  int
	skipped int
	running map[string]bool
	// output holds each test's output until it passes (dropped) or fails
	// (shown); "" is the package's own output.
	output map[string]*strings.Builder
}

// progress turns test2json events into progress lines.
type progress struct {
	mu       sync.Mutex
	w        io.Writer
	now      func() time.Time
	start    time.Time
	pkgs     map[string]*pkg
	done     int
	failures []string
}

func newProgress(w io.Writer, now func() time.Time) *progress {
	return &progress{w: w, now: now, start: now(), pkgs: map[string]*pkg{}}
}

func (p *progress) read(r io.Reader) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 1<<20), 64<<20)
	for sc.Scan() {
		var e event
		if err := json.Unmarshal(sc.Bytes(), &e); err != nil || e.Action == "" {
			// Not an event (go test writes some lines as they are).
			p.mu.Lock()
			fmt.Fprintln(p.w, sc.Text())
			p.mu.Unlock()
			continue
		}
		p.event(e)
	}
}

func (p *progress) get(name string) *pkg {
	k := p.pkgs[name]
	if k == nil {
		k = &pkg{name: name, started: p.now(), running: map[string]bool{}, output: map[string]*strings.Builder{}}
		p.pkgs[name] = k
	}
	return k
}

func (p *progress) event(e event) {
	p.mu.Lock()
	defer p.mu.Unlock()
	switch e.Action {
	case "build-output":
		fmt.Fprint(p.w, e.Output)
		return
	case "build-fail":
		p.failures = append(p.failures, e.ImportPath+" (build failed)")
		return
	}
	if e.Package == "" {
		return
	}
	k := p.get(e.Package)
	switch {
	case e.Action == "start":
		fmt.Fprintf(p.w, "▶ %s\n", k.name)
	case e.Action == "output":
		b := k.output[e.Test]
		if b == nil {
			b = &strings.Builder{}
			k.output[e.Test] = b
		}
		b.WriteString(e.Output)
	case e.Action == "run" && e.Test != "":
		k.running[e.Test] = true
	case e.Test != "" && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
		delete(k.running, e.Test)
		sub := strings.Contains(e.Test, "/")
		switch e.Action {
		case "pass":
			if !sub {
				k.passed++
			}
			delete(k.output, e.Test)
		case "skip":
			if !sub {
				k.skipped++
			}
			delete(k.output, e.Test)
		case "fail":
			if !sub {
				k.failed++
				p.failures = append(p.failures, k.name+" "+e.Test)
			}
			if b := k.output[e.Test]; b != nil && !sub {
				fmt.Fprintf(p.w, "--- FAIL %s %s\n%s", k.name, e.Test, indent(b.String()))
			}
			if !sub {
				for t := range k.output {
					if strings.HasPrefix(t, e.Test+"/") {
						delete(k.output, t)
					}
				}
				delete(k.output, e.Test)
			}
		}
	case e.Test == "" && (e.Action == "pass" || e.Action == "fail" || e.Action == "skip"):
		p.done++
		d := time.Duration(e.Elapsed * float64(time.Second)).Round(100 * time.Millisecond)
		tests := plural.Count(k.passed+k.failed+k.skipped, "test")
		if k.skipped > 0 {
			tests += fmt.Sprintf(", %d skipped", k.skipped)
		}
		switch e.Action {
		case "fail":
			if k.failed == 0 {
				// Failed outside any test (TestMain, a panic, a timeout).
				if b := k.output[""]; b != nil {
					fmt.Fprintf(p.w, "--- FAIL %s\n%s", k.name, indent(b.String()))
				}
				p.failures = append(p.failures, k.name)
			}
			fmt.Fprintf(p.w, "FAIL %s (%s, %d failed, %s)\n", k.name, tests, k.failed, d)
		case "skip":
			fmt.Fprintf(p.w, "ok   %s (no tests)\n", k.name)
		default:
			fmt.Fprintf(p.w, "ok   %s (%s, %s)\n", k.name, tests, d)
		}
		delete(p.pkgs, e.Package)
	}
}

// tick shows the packages still running.
func (p *progress) tick() {
	p.mu.Lock()
	defer p.mu.Unlock()
	names := make([]string, 0, len(p.pkgs))
	for n := range p.pkgs {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		k := p.pkgs[n]
		var running []string
		for t := range k.running {
			if !strings.Contains(t, "/") {
				running = append(running, t)
			}
		}
		sort.Strings(running)
		if len(running) > 3 {
			running = append(running[:3], fmt.Sprintf("%d more", len(running)-3))
		}
		line := fmt.Sprintf("… %s: %s done after %s", k.name, plural.Count(k.passed+k.failed+k.skipped, "test"), p.now().Sub(k.started).Round(time.Second))
		if len(running) > 0 {
			line += "; running " + strings.Join(running, ", ")
		}
		fmt.Fprintln(p.w, line)
	}
}

// finish writes the closing line.
func (p *progress) finish() {
	p.mu.Lock()
	defer p.mu.Unlock()
	took := p.now().Sub(p.start).Round(time.Second)
	if len(p.failures) == 0 {
		fmt.Fprintf(p.w, "\nAll %d packages passed in %s.\n", p.done, took)
		return
	}
	fmt.Fprintf(p.w, "\n%d failed in %s:\n", len(p.failures), took)
	for _, f := range p.failures {
		fmt.Fprintf(p.w, "  %s\n", f)
	}
}

func indent(s string) string {
	var b strings.Builder
	for _, l := range strings.SplitAfter(s, "\n") {
		if l != "" {
			b.WriteString("    " + l)
		}
	}
	return b.String()
}
