package views

import (
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rowform/rowform/planner"
)

// FuzzPlanFile: `rowform show` and `rowform apply PLANFILE` read plan files
// that may have been edited, cut short or crafted. Whatever the bytes,
// reading one either fails with an error or gives a plan that every output
// format renders without a panic. The seeds (plans of this package's tests,
// saved as plan -out saves them, and pieces of them) run with go test.
func FuzzPlanFile(f *testing.F) {
	for _, p := range []*planner.Plan{changesPlan(), secretPlan("Qzab\x1b[31m\u202eJkcd")} {
		b, err := json.MarshalIndent(&planner.SavedPlan{Format: planner.PlanFileFormat, ConfigDigest: "00", Plan: p}, "", "  ")
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
		f.Add(b[:len(b)/2])
		// Values of the wrong JSON type where the renderers expect others.
		for _, swap := range [][2]string{{`"insert": 120`, `"insert": -120`}, {`"syncs": [`, `"syncs": [null, `},
			{`"key": [`, `"key": [null, `}, {`"samples": {`, `"samples": {"insert": [{"key": null, "columns": [null]}], "x": {`}} {
			f.Add([]byte(strings.Replace(string(b), swap[0], swap[1], 1)))
		}
	}
	f.Add([]byte(`{"format": "rowform-plan/1", "plan": {"syncs": [{"name": "a", "findings": [{}], "samples": {}}]}}`))
	f.Add([]byte(`{"format": "rowform-plan/1", "plan": {"syncs": [{"name": "a", "counts": {"insert": 9223372036854775807, "update": 9223372036854775807}}]}}`))
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<20 {
			return
		}
		path := filepath.Join(dir, "plan.json")
		if err := os.WriteFile(path, data, 0o600); err != nil {
			t.Fatal(err)
		}
		saved, err := planner.ReadPlanFile(context.Background(), path)
		if err != nil {
			if strings.Contains(err.Error(), "\n") {
				t.Errorf("the error spans lines: %q", err)
			}
			return
		}
		for _, format := range []string{FormatText, FormatJSON, FormatMarkdown} {
			if err := RenderPlan(io.Discard, saved.Plan, format, true); err != nil {
				t.Errorf("%s: %v", format, err)
			}
		}
	})
}
