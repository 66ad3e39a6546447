package cli

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rowform/rowform/planner"
)

// workflowPath is the GitHub Actions workflow docs/ci.md tells users to
// copy. make lint checks it with actionlint too.
const workflowPath = "examples/ci/rowform.yml"

// stepScript returns the run: | script of the step named name in a
// workflow, by indentation (the workflow is written in block style).
func stepScript(t *testing.T, workflow, name string) string {
	t.Helper()
	lines := strings.Split(workflow, "\n")
	for i, l := range lines {
		if strings.TrimSpace(l) != "- name: "+name {
			continue
		}
		stepIndent := len(l) - len(strings.TrimLeft(l, " "))
		for j := i + 1; j < len(lines); j++ {
			lj := lines[j]
			ind := len(lj) - len(strings.TrimLeft(lj, " "))
			if strings.TrimSpace(lj) != "" && ind <= stepIndent {
				break
			}
			if strings.TrimSpace(lj) == "run: |" {
				var script []string
				for k := j + 1; k < len(lines); k++ {
					lk := lines[k]
					if strings.TrimSpace(lk) != "" && len(lk)-len(strings.TrimLeft(lk, " ")) <= ind {
						break
					}
					script = append(script, strings.TrimPrefix(lk, strings.Repeat(" ", ind+2)))
				}
				return strings.Join(script, "\n")
			}
		}
	}
	t.Fatalf("%s has no step %q with a run: | script", workflowPath, name)
	return ""
}

// TestWorkflowGate runs the plan job's gate as GitHub runs it (bash -eo
// pipefail) with the real rowform and jq: it passes on exit code 0 with a
// plan without changes and on 2 with a plan with changes, and fails on
// every other exit code, on a crash (Go exits 2 on a panic too), and on a
// plan file that does not match the exit code or is missing.
func TestWorkflowGate(t *testing.T) {
	root := moduleRoot(t)
	b, err := os.ReadFile(filepath.Join(root, workflowPath))
	if err != nil {
		t.Fatal(err)
	}
	gate := stepScript(t, string(b), "Gate")
	bin := buildRowform(t)
	path := filepath.Dir(bin) + string(os.PathListSeparator) + os.Getenv("PATH")
	_, err = exec.LookPath("jq")
	realJQ := err == nil
	if !realJQ {
		// GitHub's runners have jq; here, this test binary stands in for
		// the two expressions the gate uses.
		fake := filepath.Join(filepath.Dir(bin), "jq")
		self, _ := os.Executable()
		script := fmt.Sprintf("#!/bin/sh\nROWFORM_FAKE_JQ=1 exec %q -test.run=TestFakeJQ -- \"$@\"\n", self)
		if err := os.WriteFile(fake, []byte(script), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	writePlan := func(dir string, changes int64, applyable bool) {
		p := &planner.Plan{Syncs: []*planner.SyncPlan{{Name: "s", Diffed: true, Counts: planner.Counts{Insert: changes}}}}
		if !applyable {
			p.Syncs[0].Findings = []planner.Finding{{Severity: planner.SeverityError, Code: planner.CodeGuardExceeded, Summary: "x"}}
			p.Syncs[0].Range = &planner.Range{Filename: "syncs/a,b.hcl", Start: planner.Pos{Line: 12, Column: 1, Byte: 200}}
		}
		p.Finish()
		if err := planner.WritePlanFile(filepath.Join(dir, "reviewed.plan"), &planner.SavedPlan{CreatedAt: time.Now(), Plan: p}, nil); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name      string
		exitcode  string
		stderr    string
		changes   int64 // -1: no plan file
		applyable bool
		pass      bool
		// annotation is the finding's annotation the gate must print
		// (with jq).
		annotation string
	}{
		{"no changes", "0", "", 0, true, true, ""},
		{"changes", "2", "", 3, true, true, ""},
		{"blocking finding", "1", "", 0, false, false, "::error file=syncs/a%2Cb.hcl,line=12,title=rowform guard_exceeded::sync s: x\n"},
		{"killed", "137", "", -1, true, false, ""},
		{"terminated", "143", "", 3, true, false, ""},
		{"did not run", "", "", -1, true, false, ""},
		{"other code", "3", "", 3, true, false, ""},
		{"panic", "2", "panic: runtime error: index out of range [3] with length 3\n\ngoroutine 1 [running]:\n", -1, true, false, ""},
		{"panic after the plan file", "2", "panic: close of closed channel\n", 3, true, false, ""},
		{"fatal error", "2", "fatal error: concurrent map writes\n", 3, true, false, ""},
		{"2 without changes", "2", "", 0, true, false, ""},
		{"0 with changes", "0", "", 5, true, false, ""},
		{"2 without a plan file", "2", "", -1, true, false, ""},
		{"2 with an unapplyable plan", "2", "", 3, false, false, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			dir := t.TempDir()
			if err := os.WriteFile(filepath.Join(dir, "plan.err"), []byte(tc.stderr), 0o644); err != nil {
				t.Fatal(err)
			}
			if tc.changes >= 0 {
				writePlan(dir, tc.changes, tc.applyable)
			}
			cmd := exec.Command("bash", "--noprofile", "--norc", "-eo", "pipefail", "-c", gate)
			cmd.Dir = dir
			cmd.Env = []string{"PATH=" + path, "HOME=" + dir, "GITHUB_WORKSPACE=" + dir, "EXITCODE=" + tc.exitcode}
			out, err := cmd.CombinedOutput()
			var exitErr *exec.ExitError
			if err != nil && !errors.As(err, &exitErr) {
				t.Fatal(err)
			}
			if (err == nil) != tc.pass {
				t.Errorf("exit code %q: gate passed = %v, want %v\n%s", tc.exitcode, err == nil, tc.pass, out)
			}
			if !tc.pass && !strings.Contains(string(out), "::error::") && tc.changes >= 0 {
				t.Errorf("the gate failed without an ::error:: annotation:\n%s", out)
			}
			if tc.annotation != "" && realJQ && !strings.Contains(string(out), tc.annotation) {
				t.Errorf("the gate did not annotate the finding at its sync's line, want %q in:\n%s", tc.annotation, out)
			}
		})
	}
}

// TestFakeJQ is the stand-in for jq of TestWorkflowGate on machines
// without jq: it evaluates the gate's two expressions on standard input.
func TestFakeJQ(t *testing.T) {
	if os.Getenv("ROWFORM_FAKE_JQ") != "1" {
		return // only as a helper process
	}
	var doc struct {
		Applyable bool            `json:"applyable"`
		Summary   planner.Summary `json:"summary"`
	}
	// jq [-r] EXPR [FILE]
	var expr, file string
	for _, a := range os.Args[1:] {
		switch {
		case strings.HasPrefix(a, "."):
			expr = a
		case expr != "" && !strings.HasPrefix(a, "-"):
			file = a
		}
	}
	var b []byte
	var err error
	if file != "" {
		b, err = os.ReadFile(file)
	} else {
		b, err = io.ReadAll(os.Stdin)
	}
	if err != nil || json.Unmarshal(b, &doc) != nil {
		os.Exit(5)
	}
	switch expr {
	case ".applyable":
		fmt.Println(doc.Applyable)
	case ".summary.insert + .summary.update + .summary.delete":
		fmt.Println(doc.Summary.Insert + doc.Summary.Update + doc.Summary.Delete)
	default:
		os.Exit(3)
	}
	os.Exit(0)
}

// TestWorkflowIsSafeToCopy checks, in the text of the workflow, what
// docs/ci.md promises about it.
func TestWorkflowIsSafeToCopy(t *testing.T) {
	root := moduleRoot(t)
	b, err := os.ReadFile(filepath.Join(root, workflowPath))
	if err != nil {
		t.Fatal(err)
	}
	w := string(b)
	must := func(what string, re string) {
		t.Helper()
		if !regexp.MustCompile(re).MatchString(w) {
			t.Errorf("%s: %s does not match %s", what, workflowPath, re)
		}
	}
	mustNot := func(what string, re string) {
		t.Helper()
		if m := regexp.MustCompile(re).FindString(w); m != "" {
			t.Errorf("%s: %s has %q", what, workflowPath, m)
		}
	}
	must("rowform is pinned to a release", `(?m)^  ROWFORM_VERSION: v[0-9]+\.[0-9]+\.[0-9]+\n`)
	must("the pinned version is installed", `go install "github\.com/rowform/rowform/cmd/rowform@\$\{ROWFORM_VERSION\}"`)
	mustNot("nothing floats", `@(latest|main|master)\b`)
	must("steps run under bash -eo pipefail", `(?m)^defaults:\n  run:\n(    #.*\n)*    shell: bash\n`)
	must("the gate accepts exactly 0 and 2", `(?m)^\s+0\|2\) ;;\n`)
	must("the gate refuses 1", `(?m)^\s+1\)\n`)
	must("the gate refuses everything else", `(?m)^\s+\*\)\n`)
	must("the gate runs whatever happened", `- name: Gate\n\s+if: always\(\)`)
	must("the comment is posted whatever happened", `- name: Comment the plan on the pull request\n\s+if: always\(\)`)
	must("one comment, found by its marker and updated", `updateComment\(`)
	must("one comment, found by its marker and updated", `const marker = '<!-- rowform-plan -->'`)
	must("never an empty comment: the error instead", `there is no plan`)
	must("the plan is saved for apply", `-out="\$GITHUB_WORKSPACE/reviewed\.plan"`)
	must("every change is saved", `-changes="\$GITHUB_WORKSPACE/changes\.jsonl"`)
	must("the reviewed plan is uploaded", `uses: actions/upload-artifact@v4\n(\s+#.*\n)*\s+with:\n\s+name: rowform-plan\n`)
	must("the apply job downloads the artifact of the reviewed run", `uses: actions/download-artifact@v4\n\s+with:\n\s+name: rowform-plan\n\s+run-id: \$\{\{ steps\.reviewed\.outputs\.run_id \}\}`)
	must("apply applies exactly the plan file", `rowform -chdir="\$ROWFORM_DIR" apply -lock-timeout=5m "\$GITHUB_WORKSPACE/reviewed\.plan"`)
	mustNot("apply never re-plans", `apply -auto-approve`)
	must("apply runs only after a merge", `github\.event\.action == 'closed' && github\.event\.pull_request\.merged`)
	must("one apply at a time", `group: rowform-apply\n\s+cancel-in-progress: false`)
	must("forks are not planned", `plan:\n\s+if: github\.event\.action != 'closed' && github\.event\.pull_request\.head\.repo\.full_name == github\.repository`)
	must("forks are told why", `fork:\n\s+if: github\.event\.action != 'closed' && github\.event\.pull_request\.head\.repo\.full_name != github\.repository`)
	must("the SSH key comes from a secret", `BASTION_SSH_KEY: \$\{\{ secrets\.BASTION_SSH_KEY \}\}`)
	mustNot("no secret in the check job, which forks run", `(?s)check:.*secrets\..*\n  fork:`)
	must("least privilege by default", `(?m)^permissions:\n  contents: read\n`)

	// docs/ci.md shows the workflow that is in the file.
	doc, err := os.ReadFile(filepath.Join(root, "docs", "ci.md"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(doc), "examples/ci/rowform.yml") {
		t.Errorf("docs/ci.md does not point at %s", workflowPath)
	}
}
