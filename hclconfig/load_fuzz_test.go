package hclconfig

import (
	"bytes"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// The fuzz secrets reach Load only through Inputs, never through the files,
// so they may show up in output only if the input spells them out itself.
const (
	fuzzEnvSecret = "zq-canary-77" // env("FUZZ_SECRET")
	fuzzVarSecret = "zq-canary-88" // var.s, declared sensitive in vars_decl.hcl
)

const fuzzVarDecl = `variable "s" {
  sensitive = true
}
`

// fuzzSeeds use the secrets in many places, so that mutations try them in
// places where they are wrong.
var fuzzSeeds = []string{
	`destination "postgres" "d" {
  host     = var.s
  port     = var.s
  database = env("FUZZ_SECRET")
  user     = "u"
  password = var.s
  sslmode  = env("FUZZ_SECRET")
  max_connections = 2
}
`,
	`source "csv" "c" {
  path      = var.s
  delimiter = ";"
  header    = true
}

destination "postgres" "d" {
  host     = "h"
  database = "d"
  user     = "u"
}

sync "x" {
  source      = source.csv.c
  destination = destination.postgres.d
  table       = "${var.s}"
  behavior    = "mirror"
  key         = ["id"]
  mapping = {
    id = var.s
  }
  sensitive_columns = ["id"]

  guard {
    max_deletes = 1
  }
}
`,
	`locals {
  a = upper(env("FUZZ_SECRET"))
  b = format("%s-%s", local.a, var.s)
  c = join(",", split("-", local.b))
}

destination "postgres" "d" {
  host     = local.c
  database = lower(local.a)
  user     = replace(var.s, "-", "_")
  password = coalesce(var.s, "x")

  ssh_tunnel {
    host        = trimspace(local.b)
    user        = "u"
    private_key = env("FUZZ_SECRET")
    host_key    = var.s
  }
}
`,
}

// fuzzOracles is false when FUZZLOAD_ONLY_PANICS=1: then FuzzLoad only looks
// for panics and bad ranges, which helps to keep fuzzing past a known leak.
var fuzzOracles = os.Getenv("FUZZLOAD_ONLY_PANICS") != "1"

func FuzzLoad(f *testing.F) {
	err := filepath.WalkDir("testdata", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && strings.HasSuffix(path, ".hcl") {
			src, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			f.Add(src)
		}
		return nil
	})
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range fuzzSeeds {
		f.Add([]byte(s))
	}

	f.Fuzz(func(t *testing.T, src []byte) {
		dir := writeFiles(t, t.TempDir(), map[string]string{
			"main.hcl":      string(src),
			"vars_decl.hcl": fuzzVarDecl,
		})
		t.Cleanup(func() {
			if t.Failed() {
				t.Logf("input (%d bytes):\n%s", len(src), src)
			}
		})
		start := time.Now()
		cfg, diags := Load(dir, Inputs{
			Environ: []string{"FUZZ_SECRET=" + fuzzEnvSecret},
			Vars:    []string{"s=" + fuzzVarSecret},
		})
		if d := time.Since(start); d > 5*time.Second {
			t.Errorf("Load took %s on an input of %d bytes", d, len(src))
		}
		if cfg == nil {
			t.Fatal("Load returned a nil *Config")
		}
		for _, d := range diags {
			if d.Subject == nil || filepath.Base(d.Subject.Filename) != "main.hcl" {
				continue
			}
			r := d.Subject
			if r.Start.Byte < 0 || r.Start.Byte > r.End.Byte || r.End.Byte > len(src) {
				t.Errorf("range %s (bytes %d-%d) outside the input of %d bytes: %s", r, r.Start.Byte, r.End.Byte, len(src), diagText(d))
			}
			if r.Start.Line < 1 || r.Start.Column < 1 {
				t.Errorf("range %s starts before line 1, column 1: %s", r, diagText(d))
			}
		}
		rendered := renderDiags(cfg, diags)
		if !fuzzOracles {
			return
		}
		if !bytes.Contains(bytes.ToLower(src), []byte("canary")) {
			for _, c := range []string{fuzzEnvSecret, fuzzVarSecret} {
				if i := strings.Index(rendered, c); i >= 0 {
					t.Errorf("the diagnostics show the secret %q:\n%s", c, around(rendered, i, len(c)))
				}
			}
		}
		if !diags.HasErrors() {
			checkConfigInvariants(t, cfg)
		}
	})
}

// checkConfigInvariants checks what Load promises about a Config returned
// without errors (see the Config doc comment).
func checkConfigInvariants(t *testing.T, cfg *Config) {
	t.Helper()
	validBehavior := map[Behavior]bool{}
	for _, b := range Behaviors {
		validBehavior[b] = true
	}
	for addr, s := range cfg.Destinations {
		checkServerInvariants(t, "destination "+addr, s)
	}
	for addr, src := range cfg.Sources {
		switch {
		case src.Type == SourcePostgres && src.Server != nil:
			checkServerInvariants(t, "source "+addr, src.Server)
		case src.Type == SourceCSV && src.CSV != nil:
			if !filepath.IsAbs(src.CSV.Path) {
				t.Errorf("source %s: path %q is not absolute", addr, src.CSV.Path)
			}
		default:
			t.Errorf("source %s is incomplete: %+v", addr, src)
		}
	}
	pos := map[string]int{}
	for i, s := range cfg.OrderedSyncs() {
		pos[s.Name] = i
	}
	for _, s := range cfg.Syncs {
		what := "sync " + s.Name
		if s.Source == nil || s.Destination == nil {
			t.Errorf("%s: source %v, destination %v", what, s.Source, s.Destination)
			continue
		}
		if !validBehavior[s.Behavior] {
			t.Errorf("%s: behavior %q", what, s.Behavior)
		}
		if len(s.Key) == 0 {
			t.Errorf("%s: no key", what)
		}
		if s.Table.Schema == "" || s.Table.Name == "" {
			t.Errorf("%s: table %+v", what, s.Table)
		}
		if s.Source.Type == SourcePostgres && strings.TrimSpace(s.Query) == "" {
			t.Errorf("%s: postgres source without a query", what)
		}
		if s.Source.Type == SourceCSV && s.Query != "" {
			t.Errorf("%s: csv source with a query", what)
		}
		for _, d := range s.DependsOn {
			if cfg.Sync(d) == nil {
				t.Errorf("%s depends on undeclared %q", what, d)
			} else if pos[d] >= pos[s.Name] {
				t.Errorf("%s: OrderedSyncs puts it before its dependency %q", what, d)
			}
		}
	}
}

func checkServerInvariants(t *testing.T, what string, s *Server) {
	t.Helper()
	if s.Port < 1 || s.Port > 65535 {
		t.Errorf("%s: port %d", what, s.Port)
	}
	if s.MaxConnections < 1 || s.MaxConnections > MaxConnectionsLimit {
		t.Errorf("%s: max_connections %d", what, s.MaxConnections)
	}
	if tun := s.SSHTunnel; tun != nil {
		if tun.Port < 1 || tun.Port > 65535 {
			t.Errorf("%s: ssh port %d", what, tun.Port)
		}
		if tun.KnownHostsFile == "" && tun.HostKey == "" {
			t.Errorf("%s: ssh tunnel with neither known_hosts_file nor host_key", what)
		}
	}
}
