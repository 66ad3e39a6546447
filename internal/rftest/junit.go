package rftest

import (
	"encoding/xml"
	"fmt"
	"io"
	"strings"
	"time"
)

// JUnit XML, as CI systems read it: one testsuite per test file, one
// testcase per run.
type junitSuites struct {
	XMLName  xml.Name     `xml:"testsuites"`
	Name     string       `xml:"name,attr"`
	Tests    int          `xml:"tests,attr"`
	Failures int          `xml:"failures,attr"`
	Errors   int          `xml:"errors,attr"`
	Skipped  int          `xml:"skipped,attr"`
	Time     string       `xml:"time,attr"`
	Suites   []junitSuite `xml:"testsuite"`
}

type junitSuite struct {
	Name     string      `xml:"name,attr"`
	Tests    int         `xml:"tests,attr"`
	Failures int         `xml:"failures,attr"`
	Errors   int         `xml:"errors,attr"`
	Skipped  int         `xml:"skipped,attr"`
	Time     string      `xml:"time,attr"`
	Cases    []junitCase `xml:"testcase"`
}

type junitCase struct {
	Name      string        `xml:"name,attr"`
	ClassName string        `xml:"classname,attr"`
	Time      string        `xml:"time,attr"`
	Failure   *junitMessage `xml:"failure,omitempty"`
	Error     *junitMessage `xml:"error,omitempty"`
	Skipped   *junitMessage `xml:"skipped,omitempty"`
}

type junitMessage struct {
	Message string `xml:"message,attr"`
	Body    string `xml:",chardata"`
}

func seconds(d time.Duration) string { return fmt.Sprintf("%.3f", d.Seconds()) }

// firstLine is the first line of s, for a message attribute.
func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

// WriteJUnit writes r as JUnit XML. A test file that could not be run (a
// problem in it or in the configuration, or fixtures that did not load) is
// a testsuite with one testcase, "(setup)", in error; diagnostics gives
// the text of its problems. A file whose teardown failed after its runs
// has a last testcase "(teardown)" in error. Tests that stopped before every file ran
// (r.Stopped) end with a testsuite "rowform test" whose one testcase,
// "(stopped)", is in error with the reason, so that a CI report shows it.
func (r *Result) WriteJUnit(w io.Writer, diagnostics func(*FileResult) string) error {
	doc := junitSuites{Name: "rowform test", Time: seconds(r.Duration)}
	for _, f := range r.Files {
		s := junitSuite{Name: f.Path, Time: seconds(f.Duration)}
		if f.Err != nil || f.Diags.HasErrors() {
			msg := ""
			if f.Err != nil {
				msg = f.Err.Error()
			} else if diagnostics != nil {
				msg = diagnostics(f)
			}
			// After runs, the error is the teardown's (dropping the
			// file's databases); before any, the setup's.
			name := "(setup)"
			if len(f.Runs) > 0 {
				name = "(teardown)"
			}
			s.Cases = append(s.Cases, junitCase{Name: name, ClassName: f.Path, Time: seconds(0),
				Error: &junitMessage{Message: firstLine(msg), Body: msg}})
			s.Errors++
		}
		for _, run := range f.Runs {
			c := junitCase{Name: run.Name, ClassName: f.Path, Time: seconds(run.Duration)}
			switch run.Status {
			case StatusFail:
				body := strings.Join(run.Failures, "\n")
				c.Failure = &junitMessage{Message: firstLine(body), Body: body}
				s.Failures++
			case StatusError:
				c.Error = &junitMessage{Message: firstLine(run.Err.Error()), Body: run.Err.Error()}
				s.Errors++
			case StatusSkip:
				c.Skipped = &junitMessage{Message: run.Err.Error()}
				s.Skipped++
			}
			s.Cases = append(s.Cases, c)
		}
		s.Tests = len(s.Cases)
		doc.Tests += s.Tests
		doc.Failures += s.Failures
		doc.Errors += s.Errors
		doc.Skipped += s.Skipped
		doc.Suites = append(doc.Suites, s)
	}
	if r.Stopped != nil {
		msg := r.Stopped.Error()
		doc.Suites = append(doc.Suites, junitSuite{Name: doc.Name, Tests: 1, Errors: 1, Time: seconds(0),
			Cases: []junitCase{{Name: "(stopped)", ClassName: doc.Name, Time: seconds(0), Error: &junitMessage{Message: firstLine(msg), Body: msg}}}})
		doc.Tests++
		doc.Errors++
	}
	if _, err := io.WriteString(w, xml.Header); err != nil {
		return err
	}
	enc := xml.NewEncoder(w)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return err
	}
	_, err := io.WriteString(w, "\n")
	return err
}
