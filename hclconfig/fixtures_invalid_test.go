package hclconfig

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// A fixture under testdata/invalid/<case>/ is a directory of *.hcl files whose
// bad lines carry the diagnostics they must produce as trailing comments:
//
//	port = "x" # ERROR: Incorrect attribute value type
//
// The text after "ERROR:" (or "WARNING:") must be a substring of the
// diagnostic's Summary or Detail. A line may carry several markers. A
// diagnostic whose Subject starts on a line must be matched by a marker on
// that line, and every marker must be matched by a diagnostic starting on
// its line. Diagnostics without a Subject are matched by "# ERROR(nofile):"
// markers, which may be anywhere in any file of the case (including
// *.vars.hcl files, which Load ignores).

// markerRE finds the start of each marker on a line.
var markerRE = regexp.MustCompile(`#\s*(ERROR|WARNING)(\(nofile\))?:`)

// fixtureMarker is one expected diagnostic.
type fixtureMarker struct {
	file   string // absolute path
	line   int    // 1-based; 0 for nofile markers
	sev    hcl.DiagnosticSeverity
	text   string
	nofile bool
}

func (m fixtureMarker) String() string {
	sev := "ERROR"
	if m.sev == hcl.DiagWarning {
		sev = "WARNING"
	}
	if m.nofile {
		sev += "(nofile)"
	}
	return fmt.Sprintf("%s: %q", sev, m.text)
}

// parseMarkers reads the markers of one file.
func parseMarkers(t *testing.T, path string, src []byte) []fixtureMarker {
	t.Helper()
	var out []fixtureMarker
	for i, line := range strings.Split(string(src), "\n") {
		locs := markerRE.FindAllStringSubmatchIndex(line, -1)
		for j, loc := range locs {
			end := len(line)
			if j+1 < len(locs) {
				end = locs[j+1][0]
			}
			m := fixtureMarker{
				file:   path,
				line:   i + 1,
				sev:    hcl.DiagError,
				text:   strings.TrimSpace(line[loc[1]:end]),
				nofile: loc[4] >= 0,
			}
			if line[loc[2]:loc[3]] == "WARNING" {
				m.sev = hcl.DiagWarning
			}
			if m.nofile {
				m.line = 0
			}
			if m.text == "" {
				t.Fatalf("%s:%d: empty marker", path, i+1)
			}
			out = append(out, m)
		}
	}
	return out
}

// fixtureFile is one file of a fixture case.
type fixtureFile struct {
	path string // absolute
	src  []byte
}

// readCase returns the *.hcl files of a case directory (including
// *.vars.hcl, which may carry nofile markers), keyed by absolute path.
func readCase(t *testing.T, dir string) map[string]fixtureFile {
	t.Helper()
	paths, err := filepath.Glob(filepath.Join(dir, "*.hcl"))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]fixtureFile{}
	for _, p := range paths {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[abs] = fixtureFile{path: abs, src: src}
	}
	if len(files) == 0 {
		t.Fatalf("%s has no *.hcl files", dir)
	}
	return files
}

// lineOfByte returns the 1-based line that byte offset off of src is on.
func lineOfByte(src []byte, off int) int {
	return 1 + bytes.Count(src[:off], []byte("\n"))
}

// checkSubject verifies that a diagnostic's range lies inside one of the
// case's files and that its lines agree with its byte offsets. It returns the
// absolute path of the file, or "" with a problem description.
func checkSubject(d *hcl.Diagnostic, files map[string]fixtureFile) (string, string) {
	r := d.Subject
	abs, err := filepath.Abs(r.Filename)
	if err != nil {
		return "", fmt.Sprintf("cannot resolve filename %q: %v", r.Filename, err)
	}
	f, ok := files[abs]
	if !ok || strings.HasSuffix(abs, VarFileSuffix) {
		return "", fmt.Sprintf("subject filename %q is not a configuration file of the case", r.Filename)
	}
	n := len(f.src)
	if r.Start.Byte < 0 || r.Start.Byte > r.End.Byte || r.End.Byte > n {
		return "", fmt.Sprintf("subject bytes [%d,%d] outside the file (%d bytes)", r.Start.Byte, r.End.Byte, n)
	}
	if got := lineOfByte(f.src, r.Start.Byte); got != r.Start.Line {
		return "", fmt.Sprintf("subject starts at byte %d, which is on line %d, but Start.Line is %d", r.Start.Byte, got, r.Start.Line)
	}
	if got := lineOfByte(f.src, r.End.Byte); got != r.End.Line {
		return "", fmt.Sprintf("subject ends at byte %d, which is on line %d, but End.Line is %d", r.End.Byte, got, r.End.Line)
	}
	return abs, ""
}

// matchGroup checks one line (or the nofile group): every marker must be
// matched by a diagnostic, and every diagnostic by a marker. Several markers
// may describe the same diagnostic ("# ERROR: summary # ERROR: detail"), so
// this is a cover, not a one-to-one pairing; reporting the same diagnostic
// twice is caught separately by duplicateDiags. It returns the unmatched
// ones of each side.
func matchGroup(markers []fixtureMarker, diags []*hcl.Diagnostic) ([]fixtureMarker, []*hcl.Diagnostic) {
	var missing []fixtureMarker
	for _, m := range markers {
		found := false
		for _, d := range diags {
			if diagMatches(d, m.sev, m.text) {
				found = true
				break
			}
		}
		if !found {
			missing = append(missing, m)
		}
	}
	var extra []*hcl.Diagnostic
	for _, d := range diags {
		found := false
		for _, m := range markers {
			if diagMatches(d, m.sev, m.text) {
				found = true
				break
			}
		}
		if !found {
			extra = append(extra, d)
		}
	}
	return missing, extra
}

// duplicateDiags returns the diagnostics reported more than once (same
// severity, place, summary and detail).
func duplicateDiags(diags hcl.Diagnostics) []*hcl.Diagnostic {
	seen := map[string]bool{}
	var dups []*hcl.Diagnostic
	for _, d := range diags {
		k := diagText(d)
		if seen[k] {
			dups = append(dups, d)
		}
		seen[k] = true
	}
	return dups
}

type lineKey struct {
	file string
	line int
}

func TestInvalidFixtures(t *testing.T) {
	cases, err := filepath.Glob(filepath.Join("testdata", "invalid", "*"))
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(cases)
	if len(cases) < 30 {
		t.Fatalf("only %d invalid fixture cases, want at least 30", len(cases))
	}
	for _, dir := range cases {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			continue
		}
		t.Run(filepath.Base(dir), func(t *testing.T) {
			files := readCase(t, dir)
			var markers []fixtureMarker
			for _, f := range files {
				markers = append(markers, parseMarkers(t, f.path, f.src)...)
			}
			if len(markers) == 0 {
				t.Fatalf("%s has no markers: an invalid fixture must expect at least one diagnostic", dir)
			}

			cfg, diags := Load(dir, Inputs{Environ: fixedEnv})
			if cfg == nil {
				t.Fatal("Load returned a nil *Config")
			}
			rendered := renderDiags(cfg, diags)

			expected := map[lineKey][]fixtureMarker{}
			got := map[lineKey][]*hcl.Diagnostic{}
			var problems []string
			for _, m := range markers {
				k := lineKey{m.file, m.line}
				if m.nofile {
					k = lineKey{}
				}
				expected[k] = append(expected[k], m)
			}
			for _, d := range diags {
				if d.Subject == nil {
					got[lineKey{}] = append(got[lineKey{}], d)
					continue
				}
				abs, problem := checkSubject(d, files)
				if problem != "" {
					problems = append(problems, fmt.Sprintf("bad subject: %s\n      %s", problem, diagText(d)))
					continue
				}
				k := lineKey{abs, d.Subject.Start.Line}
				got[k] = append(got[k], d)
			}

			keys := map[lineKey]bool{}
			for k := range expected {
				keys[k] = true
			}
			for k := range got {
				keys[k] = true
			}
			sorted := make([]lineKey, 0, len(keys))
			for k := range keys {
				sorted = append(sorted, k)
			}
			sort.Slice(sorted, func(i, j int) bool {
				if sorted[i].file != sorted[j].file {
					return sorted[i].file < sorted[j].file
				}
				return sorted[i].line < sorted[j].line
			})
			for _, k := range sorted {
				missing, extra := matchGroup(expected[k], got[k])
				if len(missing) == 0 && len(extra) == 0 {
					continue
				}
				where := "(no file)"
				if k.file != "" {
					src := files[k.file].src
					text := strings.Split(string(src), "\n")[k.line-1]
					where = fmt.Sprintf("%s:%d: %s", filepath.Base(k.file), k.line, strings.TrimSpace(text))
				}
				var b strings.Builder
				b.WriteString(where + "\n")
				for _, m := range missing {
					b.WriteString("      - missing  " + m.String() + "\n")
				}
				for _, d := range extra {
					b.WriteString("      + unexpected " + diagText(d) + "\n")
				}
				problems = append(problems, strings.TrimSuffix(b.String(), "\n"))
			}

			for _, d := range duplicateDiags(diags) {
				problems = append(problems, "reported twice: "+diagText(d))
			}

			if len(problems) > 0 {
				t.Errorf("diagnostics do not match the markers (- expected by a marker but not reported, + reported but not expected):\n    %s\n\nall diagnostics:\n%s\nrendered:\n%s",
					strings.Join(problems, "\n    "), diagsText(diags), rendered)
			}

			// Every configuration file of the case is available for snippets.
			for abs := range files {
				if strings.HasSuffix(abs, VarFileSuffix) {
					continue
				}
				found := false
				for name := range cfg.Files {
					if a, err := filepath.Abs(name); err == nil && a == abs {
						found = true
					}
				}
				if !found {
					t.Errorf("cfg.Files has no entry for %s (have %v)", abs, fileNames(cfg))
				}
			}
		})
	}
}

func fileNames(cfg *Config) []string {
	var names []string
	for n := range cfg.Files {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}
