package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/rowform/rowform/hclconfig"
)

// missingCSVFiles warns about csv sources whose file does not exist. A
// warning, not an error: the file may well be produced between validate
// and plan (an export job, a download step in CI); plan fails on it if it
// is still missing then.
func missingCSVFiles(cfg *hclconfig.Config) hcl.Diagnostics {
	var addrs []string
	for a, s := range cfg.Sources {
		if s.CSV != nil && s.CSV.Path != "" {
			addrs = append(addrs, a)
		}
	}
	sort.Strings(addrs)
	var diags hcl.Diagnostics
	for _, a := range addrs {
		f := cfg.Sources[a].CSV
		_, err := os.Stat(f.Path)
		if err == nil {
			continue
		}
		shown := f.Path
		if rel, rerr := filepath.Rel(cfg.Dir, f.Path); rerr == nil && filepath.IsLocal(rel) {
			shown = rel
		}
		what := "does not exist"
		if !errors.Is(err, fs.ErrNotExist) {
			var pe *fs.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			what = "cannot be read: " + err.Error()
		}
		d := &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "CSV file not found",
			Detail: fmt.Sprintf("The file %s of source %q %q %s. validate only warns, since the file may be written before the plan runs; plan fails on it if it is still missing then.",
				shown, "csv", cfg.Sources[a].Name, what),
		}
		if f.PathRange.Filename != "" {
			rng := f.PathRange
			d.Subject = &rng
		}
		diags = append(diags, d)
	}
	return diags
}
