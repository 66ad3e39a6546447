package cli

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"

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

// missingTunnelFiles warns about ssh_tunnel files that do not exist: the
// private_key_file, and the known_hosts_file (given or the default
// ~/.ssh/known_hosts) when no host_key is pinned. Warnings for the same
// reason as missingCSVFiles; plan fails on them.
func missingTunnelFiles(cfg *hclconfig.Config) hcl.Diagnostics {
	var addrs []string
	for a, s := range cfg.Destinations {
		if s.SSHTunnel != nil {
			addrs = append(addrs, a)
		}
	}
	for a, s := range cfg.Sources {
		if s.Server != nil && s.Server.SSHTunnel != nil {
			addrs = append(addrs, "source:"+a)
		}
	}
	sort.Strings(addrs)
	var diags hcl.Diagnostics
	for _, a := range addrs {
		var srv *hclconfig.Server
		if src, ok := strings.CutPrefix(a, "source:"); ok {
			srv = cfg.Sources[src].Server
		} else {
			srv = cfg.Destinations[a]
		}
		t := srv.SSHTunnel
		check := func(path, what, hint string) {
			if path == "" {
				return
			}
			if _, err := os.Stat(path); err == nil {
				return
			}
			rng := t.DeclRange
			diags = append(diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "SSH file not found",
				Detail: fmt.Sprintf("The %s %s of the ssh_tunnel of %s does not exist. validate only warns, since the file may be put there before the plan runs; plan fails on it if it is still missing then. %s",
					what, path, srv.Address(), hint),
				Subject: &rng,
			})
		}
		check(t.PrivateKeyFile, "private_key_file", "Name the private key (not the .pub file), or use ssh-agent.")
		if t.HostKey == "" {
			check(t.KnownHostsFile, "known_hosts file", fmt.Sprintf("Create it with ssh-keyscan -p %d %s > %s after checking the fingerprint, or pin host_key.", t.Port, t.Host, t.KnownHostsFile))
		}
	}
	return diags
}
