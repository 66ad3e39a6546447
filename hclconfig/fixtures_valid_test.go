package hclconfig

import (
	"fmt"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/hashicorp/hcl/v2"
)

// validCase is a configuration under testdata/valid/<dir> that must load
// without errors, and the checks of its decoded values.
type validCase struct {
	dir   string
	in    Inputs
	check func(t *testing.T, cfg *Config, dir string)
}

func withEnv(extra ...string) []string {
	return append(append([]string{}, fixedEnv...), extra...)
}

func TestValidFixtures(t *testing.T) {
	home, err := os.UserHomeDir()
	if err != nil {
		t.Fatal(err)
	}
	cases := []validCase{
		{
			dir: "full",
			in: Inputs{
				Vars:    []string{"crm_password=pw-from-var"},
				Environ: withEnv("SSH_KEY_PASSPHRASE=pass-from-env", "SSH_PRIVATE_KEY=key-from-env"),
			},
			check: checkFull(home),
		},
		{dir: "csv_only", in: Inputs{Environ: fixedEnv}, check: checkCSVOnly(home)},
		{dir: "locals_functions", in: Inputs{Environ: fixedEnv}, check: checkLocalsFunctions},
		{dir: "on_reject", in: Inputs{Environ: fixedEnv}, check: checkOnReject},
		{dir: "diff_strategy", in: Inputs{Environ: fixedEnv}, check: checkDiffStrategy},
		{dir: "dbt_duckdb", in: Inputs{Environ: fixedEnv}, check: checkDBTDuckDB},
		{
			dir:   "multi_file",
			in:    Inputs{VarFiles: []string{"prod.vars.hcl"}, Environ: fixedEnv},
			check: checkMultiFile,
		},
	}
	entries, err := os.ReadDir(filepath.Join("testdata", "valid"))
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(cases) {
		t.Errorf("testdata/valid has %d entries, the test knows %d cases: add the new case to TestValidFixtures", len(entries), len(cases))
	}
	for _, c := range cases {
		t.Run(c.dir, func(t *testing.T) {
			dir, err := filepath.Abs(filepath.Join("testdata", "valid", c.dir))
			if err != nil {
				t.Fatal(err)
			}
			cfg, diags := Load(dir, c.in)
			noErrors(t, cfg, diags)
			if len(diags) != 0 {
				t.Errorf("unexpected warnings:\n%s", diagsText(diags))
			}
			if cfg.Dir != dir {
				t.Errorf("Dir = %q, want %q", cfg.Dir, dir)
			}
			if cfg.Digest == "" {
				t.Error("Digest is empty for a valid configuration")
			}
			// Loading twice gives the same digest.
			cfg2, _ := Load(dir, c.in)
			if cfg2.Digest != cfg.Digest {
				t.Errorf("Digest differs between two loads: %s vs %s", cfg.Digest, cfg2.Digest)
			}
			c.check(t, cfg, dir)
		})
	}
}

// eq reports a mismatch of one field.
func eq[T any](t *testing.T, what string, got, want T) {
	t.Helper()
	if !reflect.DeepEqual(got, want) {
		t.Errorf("%s = %#v, want %#v", what, got, want)
	}
}

func syncNamesOf(syncs []*Sync) []string {
	var names []string
	for _, s := range syncs {
		names = append(names, s.Name)
	}
	return names
}

func checkFull(home string) func(t *testing.T, cfg *Config, dir string) {
	return func(t *testing.T, cfg *Config, dir string) {
		v := cfg.Variables["crm_password"]
		if v == nil {
			t.Fatal("variable crm_password missing")
		}
		eq(t, "crm_password.Sensitive", v.Sensitive, true)
		eq(t, "crm_password.Source", v.Source, "-var option")
		eq(t, "crm_password.Description", v.Description, "Password of the rowform role on the CRM database.")
		eq(t, "crm_password.DeclRange.Start.Line", v.DeclRange.Start.Line, 2)

		eq(t, "len(Destinations)", len(cfg.Destinations), 2)
		crm := cfg.Destinations["postgres.crm"]
		if crm == nil {
			t.Fatalf("destination postgres.crm missing; have %v", cfg.Destinations)
		}
		eq(t, "crm.Kind", crm.Kind, "destination")
		eq(t, "crm.Type", crm.Type, "postgres")
		eq(t, "crm.Name", crm.Name, "crm")
		eq(t, "crm.Address()", crm.Address(), "postgres.crm")
		eq(t, "crm.Host", crm.Host, "db.internal")
		eq(t, "crm.Port", crm.Port, 6543)
		eq(t, "crm.Database", crm.Database, "crm")
		eq(t, "crm.User", crm.User, "rowform")
		eq(t, "crm.Password", crm.Password.Reveal(), "pw-from-var")
		eq(t, "crm.MaxConnections", crm.MaxConnections, 4)
		eq(t, "crm.SSLMode", crm.SSLMode, "verify-full")
		eq(t, "crm.SSLRootCert", crm.SSLRootCert, filepath.Join(dir, "certs", "ca.pem"))
		tun := crm.SSHTunnel
		if tun == nil {
			t.Fatal("crm.SSHTunnel is nil")
		}
		eq(t, "tunnel.Host", tun.Host, "bastion.example.com")
		eq(t, "tunnel.Port", tun.Port, 2222)
		eq(t, "tunnel.User", tun.User, "tunnel")
		eq(t, "tunnel.PrivateKeyFile", tun.PrivateKeyFile, filepath.Join(home, ".ssh", "id_ed25519"))
		eq(t, "tunnel.PrivateKey.IsSet()", tun.PrivateKey.IsSet(), false)
		eq(t, "tunnel.PrivateKeyPassphrase", tun.PrivateKeyPassphrase.Reveal(), "pass-from-env")
		eq(t, "tunnel.KnownHostsFile", tun.KnownHostsFile, filepath.Join(dir, "keys", "known_hosts"))
		eq(t, "tunnel.HostKey", tun.HostKey, "")

		pinned := cfg.Destinations["postgres.pinned"]
		if pinned == nil {
			t.Fatal("destination postgres.pinned missing")
		}
		eq(t, "pinned.Port (default)", pinned.Port, 5432)
		eq(t, "pinned.MaxConnections (default)", pinned.MaxConnections, 1)
		eq(t, "pinned.SSLMode (default)", pinned.SSLMode, "")
		eq(t, "pinned.SSLRootCert", pinned.SSLRootCert, "")
		eq(t, "pinned.Password.IsSet()", pinned.Password.IsSet(), false)
		pt := pinned.SSHTunnel
		if pt == nil {
			t.Fatal("pinned.SSHTunnel is nil")
		}
		eq(t, "pinned tunnel.Port (default)", pt.Port, 22)
		eq(t, "pinned tunnel.PrivateKey", pt.PrivateKey.Reveal(), "key-from-env")
		eq(t, "pinned tunnel.PrivateKeyFile", pt.PrivateKeyFile, "")
		eq(t, "pinned tunnel.HostKey", pt.HostKey, "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIOMqqnkVzrm0SdG6UOoqKLsabgH5C9okWi0dh2l9GKJl")
		eq(t, "pinned tunnel.KnownHostsFile (host_key given)", pt.KnownHostsFile, "")

		eq(t, "len(Sources)", len(cfg.Sources), 2)
		wh := cfg.Sources["postgres.warehouse"]
		if wh == nil || wh.Server == nil {
			t.Fatalf("source postgres.warehouse missing or without Server: %+v", wh)
		}
		eq(t, "warehouse.Type", wh.Type, SourcePostgres)
		eq(t, "warehouse.Address()", wh.Address(), "postgres.warehouse")
		eq(t, "warehouse.CSV", wh.CSV, (*CSVFile)(nil))
		eq(t, "warehouse.Server.Kind", wh.Server.Kind, "source")
		eq(t, "warehouse.Server.Host", wh.Server.Host, "warehouse.internal")
		eq(t, "warehouse.Server.Database", wh.Server.Database, "analytics")
		eq(t, "warehouse.Server.User", wh.Server.User, "reader")
		eq(t, "warehouse.Server.Password", wh.Server.Password.Reveal(), "canary-secret-123")
		eq(t, "warehouse.Server.SSLMode", wh.Server.SSLMode, "require")
		eq(t, "warehouse.Server.SSHTunnel", wh.Server.SSHTunnel, (*SSHTunnel)(nil))
		seed := cfg.Sources["csv.seed"]
		if seed == nil || seed.CSV == nil {
			t.Fatalf("source csv.seed missing or without CSV: %+v", seed)
		}
		eq(t, "seed.Type", seed.Type, SourceCSV)
		eq(t, "seed.Server", seed.Server, (*Server)(nil))
		eq(t, "seed.CSV", withoutRange(*seed.CSV), CSVFile{Path: filepath.Join(dir, "data", "users.csv"), Header: false, Delimiter: ';'})
		eq(t, "seed.CSV.PathRange file", filepath.Base(seed.CSV.PathRange.Filename), "main.hcl")

		eq(t, "sync names (declaration order)", syncNamesOf(cfg.Syncs), []string{"active_users", "accounts", "events"})
		eq(t, "SyncNames()", cfg.SyncNames(), []string{"accounts", "active_users", "events"})
		eq(t, "OrderedSyncs()", syncNamesOf(cfg.OrderedSyncs()), []string{"accounts", "active_users", "events"})

		au := cfg.Sync("active_users")
		if au == nil {
			t.Fatal("sync active_users missing")
		}
		eq(t, "active_users.Source", au.Source, wh)
		eq(t, "active_users.Destination", au.Destination, crm)
		eq(t, "active_users.Query", au.Query, "select user_id, email_address, full_name\nfrom users\nwhere active\n")
		eq(t, "active_users.Table", au.Table, TableName{Schema: "crm", Name: "users"})
		eq(t, "active_users.Behavior", au.Behavior, UpdateOrCreate)
		eq(t, "active_users.Key", au.Key, []string{"id"})
		eq(t, "active_users.Mapping", au.Mapping, []ColumnMapping{
			{Destination: "id", Source: "user_id"},
			{Destination: "email", Source: "email_address"},
			{Destination: "name", Source: "full_name"},
		})
		eq(t, "active_users.SensitiveColumns", au.SensitiveColumns, []string{"email"})
		eq(t, "active_users.IsSensitiveColumn(email)", au.IsSensitiveColumn("email"), true)
		eq(t, "active_users.IsSensitiveColumn(id)", au.IsSensitiveColumn("id"), false)
		eq(t, "active_users.DependsOn", au.DependsOn, []string{"accounts"})
		eq(t, "active_users.OnReject", au.OnReject, RejectSkip)
		if au.Guard == nil {
			t.Fatal("active_users.Guard is nil")
		}
		eq[any](t, "guard.MaxDeletes", deref(au.Guard.MaxDeletes), int64(1000))
		eq[any](t, "guard.MaxDeletePercent", deref(au.Guard.MaxDeletePercent), 5.5)
		eq[any](t, "guard.MaxUpdates", deref(au.Guard.MaxUpdates), int64(100000))
		eq[any](t, "guard.MinSourceRows", deref(au.Guard.MinSourceRows), int64(1))
		eq[any](t, "guard.MaxRejectPercent", deref(au.Guard.MaxRejectPercent), 2.5)

		acc := cfg.Sync("accounts")
		eq(t, "accounts.Source", acc.Source, seed)
		eq(t, "accounts.Destination", acc.Destination, pinned)
		eq(t, "accounts.Query (csv)", acc.Query, "")
		eq(t, "accounts.Table (unqualified)", acc.Table, TableName{Schema: "public", Name: "accounts"})
		eq(t, "accounts.Behavior", acc.Behavior, Mirror)
		eq(t, "accounts.Key (string)", acc.Key, []string{"account_id"})
		eq(t, "accounts.Mapping (omitted)", acc.Mapping, []ColumnMapping(nil))
		eq(t, "accounts.SensitiveColumns", len(acc.SensitiveColumns), 0)
		eq(t, "accounts.DependsOn", len(acc.DependsOn), 0)
		eq(t, "accounts.OnReject (default)", acc.OnReject, RejectFail)
		if acc.Guard == nil {
			t.Fatal("accounts.Guard is nil")
		}
		eq[any](t, "accounts guard.MaxDeletes", deref(acc.Guard.MaxDeletes), int64(0))
		eq(t, "accounts guard.MaxDeletePercent (unset)", acc.Guard.MaxDeletePercent, (*float64)(nil))
		eq(t, "accounts guard.MaxUpdates (unset)", acc.Guard.MaxUpdates, (*int64)(nil))
		eq(t, "accounts guard.MinSourceRows (unset)", acc.Guard.MinSourceRows, (*int64)(nil))
		eq(t, "accounts guard.MaxRejectPercent (unset)", acc.Guard.MaxRejectPercent, (*float64)(nil))

		ev := cfg.Sync("events")
		eq(t, "events.Query", ev.Query, "select id, kind from events")
		eq(t, "events.Table (quoted)", ev.Table, TableName{Schema: "Audit", Name: "Events.2024"})
		eq(t, "events.Behavior", ev.Behavior, Append)
		eq(t, "events.Key", ev.Key, []string{"id", "kind"})
		eq(t, "events.Guard", ev.Guard, (*Guard)(nil))
	}
}

func deref[T any](p *T) any {
	if p == nil {
		return nil
	}
	return *p
}

func checkCSVOnly(home string) func(t *testing.T, cfg *Config, dir string) {
	return func(t *testing.T, cfg *Config, dir string) {
		eq(t, "len(Variables)", len(cfg.Variables), 0)
		d := cfg.Destinations["postgres.local"]
		if d == nil {
			t.Fatal("destination postgres.local missing")
		}
		eq(t, "Port (default)", d.Port, 5432)
		eq(t, "MaxConnections (default)", d.MaxConnections, 1)
		eq(t, "SSLMode (default)", d.SSLMode, "")
		eq(t, "Password.IsSet()", d.Password.IsSet(), false)
		eq(t, "SSHTunnel", d.SSHTunnel, (*SSHTunnel)(nil))
		s := cfg.Sources["csv.seed"]
		if s == nil || s.CSV == nil {
			t.Fatal("source csv.seed missing")
		}
		eq(t, "CSV (defaults)", withoutRange(*s.CSV), CSVFile{Path: filepath.Join(dir, "data", "seed.csv"), Header: true, Delimiter: ','})
		sy := cfg.Sync("seed")
		if sy == nil {
			t.Fatal("sync seed missing")
		}
		eq(t, "Table", sy.Table, TableName{Schema: "public", Name: "users"})
		eq(t, "Table.String()", sy.Table.String(), "public.users")
		eq(t, "Behavior", sy.Behavior, UpdateOnly)
		eq(t, "Key", sy.Key, []string{"id"})
		eq(t, "Mapping", sy.Mapping, []ColumnMapping(nil))
		eq(t, "Guard", sy.Guard, (*Guard)(nil))
		eq(t, "Query", sy.Query, "")
		eq(t, "Sync(missing)", cfg.Sync("nope"), (*Sync)(nil))

		tun := cfg.Destinations["postgres.tunnelled"]
		if tun == nil || tun.SSHTunnel == nil {
			t.Fatalf("destination postgres.tunnelled or its tunnel missing: %+v", tun)
		}
		eq(t, "tunnel", *tun.SSHTunnel, SSHTunnel{
			Host:           "bastion.example.com",
			Port:           22,
			User:           "tunnel",
			KnownHostsFile: filepath.Join(home, ".ssh", "known_hosts"),
			DeclRange:      tun.SSHTunnel.DeclRange,
		})
	}
}

func checkLocalsFunctions(t *testing.T, cfg *Config, dir string) {
	d := cfg.Destinations["postgres.main"]
	if d == nil {
		t.Fatal("destination postgres.main missing")
	}
	eq(t, "Host (lower/trimspace/format)", d.Host, "staging-db.example.com")
	eq(t, "Database (upper/replace)", d.Database, "STGING")
	eq(t, "User (join)", d.User, "rowform_staging")
	eq(t, "SSLMode (coalesce)", d.SSLMode, "prefer")
	eq(t, "Password (env)", d.Password.Reveal(), "canary-secret-123")
	s := cfg.Sources["csv.users"]
	if s == nil || s.CSV == nil {
		t.Fatal("source csv.users missing")
	}
	eq(t, "CSV.Path (format/split)", s.CSV.Path, filepath.Join(dir, "data", "users.csv"))
	sy := cfg.Sync("users")
	if sy == nil {
		t.Fatal("sync users missing")
	}
	eq(t, "Table (template/coalesce)", sy.Table, TableName{Schema: "staging", Name: "users_ab"})
	eq(t, "Key (split)", sy.Key, []string{"tenant", "id"})
	eq(t, "Mapping (order as written, computed key)", sy.Mapping, []ColumnMapping{
		{Destination: "orders", Source: "ORDER_REF"},
		{Destination: "id", Source: "id"},
		{Destination: "tenant", Source: "tenant"},
	})
	eq(t, "env_name.Source", cfg.Variables["env_name"].Source, "default")
	eq(t, "shards.Source", cfg.Variables["shards"].Source, "default")
}

func checkDiffStrategy(t *testing.T, cfg *Config, dir string) {
	for name, want := range map[string]DiffStrategy{"omitted": DiffAuto, "auto": DiffAuto, "server_hash": DiffServerHash, "full_rows": DiffFullRows} {
		s := cfg.Sync(name)
		if s == nil {
			t.Fatalf("sync %s missing", name)
		}
		eq(t, name+".DiffStrategy", s.DiffStrategy, want)
	}
}

func checkOnReject(t *testing.T, cfg *Config, dir string) {
	want := []struct {
		sync          string
		onReject      OnReject
		rejectPercent any // nil: no guard or no max_reject_percent
	}{
		{"omitted", RejectFail, nil},
		{"fail", RejectFail, 0.0},
		{"skip", RejectSkip, 2.5},
		{"computed", RejectSkip, 100.0},
	}
	for _, w := range want {
		s := cfg.Sync(w.sync)
		if s == nil {
			t.Fatalf("sync %s missing", w.sync)
		}
		eq(t, w.sync+".OnReject", s.OnReject, w.onReject)
		var got any
		if s.Guard != nil {
			got = deref(s.Guard.MaxRejectPercent)
		}
		eq(t, w.sync+" guard.MaxRejectPercent", got, w.rejectPercent)
	}
	eq(t, "omitted.Guard", cfg.Sync("omitted").Guard, (*Guard)(nil))
	eq[any](t, "computed guard.MaxDeletes", deref(cfg.Sync("computed").Guard.MaxDeletes), int64(10))
}

// TestOnRejectInDigest: on_reject and max_reject_percent decide what apply
// does, so changing either makes a saved plan stale.
func TestOnRejectInDigest(t *testing.T) {
	base := `
destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
}
source "csv" "seed" {
  path = "seed.csv"
}
sync "s" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "t"
  behavior    = "mirror"
  key         = "id"
  %s
}
`
	// One directory for every variant: the digest covers the CSV path
	// (relative to the directory).
	dir := t.TempDir()
	load := func(body string) *Config {
		t.Helper()
		writeFiles(t, dir, map[string]string{"main.hcl": fmt.Sprintf(base, body)})
		cfg, diags := Load(dir, Inputs{Environ: fixedEnv})
		noErrors(t, cfg, diags)
		return cfg
	}
	digests := map[string]string{}
	for _, body := range []string{
		``,
		`on_reject = "skip"`,
		`guard {
    max_reject_percent = 5
  }`,
		`guard {
    max_reject_percent = 6
  }`,
	} {
		d := load(body).Digest
		if other, ok := digests[d]; ok {
			t.Errorf("%q and %q have the same digest", other, body)
		}
		digests[d] = body
	}
	// The default written out is the same configuration as the default
	// omitted.
	if load(``).Digest != load(`on_reject = "fail"`).Digest {
		t.Errorf("on_reject = \"fail\" changes the digest of a sync without on_reject")
	}
}

func checkMultiFile(t *testing.T, cfg *Config, dir string) {
	// The -var-file is there too, its values blanked out, for the
	// snippets of its diagnostics.
	eq(t, "files", fileBases(cfg), []string{"prod.vars.hcl", "a_early.hcl", "destinations.hcl", "sources.hcl", "syncs.hcl", "variables.hcl"})
	eq(t, "db_host.Source", cfg.Variables["db_host"].Source, "-var-file=prod.vars.hcl")
	eq(t, "pool.Source", cfg.Variables["pool"].Source, "default")
	d := cfg.Destinations["postgres.crm"]
	if d == nil {
		t.Fatal("destination postgres.crm missing")
	}
	eq(t, "Host (from var file)", d.Host, "prod-db.internal")
	eq(t, "MaxConnections (number variable)", d.MaxConnections, 2)
	eq(t, "csv.a path (relative, ..)", cfg.Sources["csv.a"].CSV.Path, filepath.Join(filepath.Dir(dir), "shared", "a.csv"))
	eq(t, "csv.b path (absolute)", cfg.Sources["csv.b"].CSV.Path, "/srv/data/b.csv")
	// Files in lexical order, blocks in file order.
	eq(t, "Syncs", syncNamesOf(cfg.Syncs), []string{"zeta", "third", "first", "second"})
	eq(t, "OrderedSyncs", syncNamesOf(cfg.OrderedSyncs()), []string{"first", "second", "third", "zeta"})
	eq(t, "third.DependsOn", cfg.Sync("third").DependsOn, []string{"second", "first"})
	// Declaration ranges point into the right files.
	eq(t, "zeta.DeclRange file", filepath.Base(cfg.Sync("zeta").DeclRange.Filename), "a_early.hcl")
	eq(t, "crm.DeclRange file", filepath.Base(d.DeclRange.Filename), "destinations.hcl")
}

// withoutRange is f without its PathRange, to compare the rest.
func withoutRange(f CSVFile) CSVFile {
	f.PathRange = hcl.Range{}
	return f
}

func fileBases(cfg *Config) []string {
	var out []string
	for _, n := range fileNames(cfg) {
		out = append(out, filepath.Base(n))
	}
	return out
}

// checkDBTDuckDB: duckdb sources (in memory, a database file relative to
// the configuration directory), dbt_project on a duckdb and a postgres
// source, and models resolved from the fixture project's manifest.json to
// their relations (an alias and a custom schema included).
func checkDBTDuckDB(t *testing.T, cfg *Config, dir string) {
	files := cfg.Sources["duckdb.files"]
	eq(t, "files.Type", files.Type, SourceDuckDB)
	eq(t, "files.Path", files.DuckDB.Path, "")
	eq(t, "files.Dir", files.DuckDB.Dir, dir)
	eq(t, "files.DBT", files.DBT, (*DBTProject)(nil))
	lake := cfg.Sources["duckdb.lake"]
	eq(t, "lake.Path", lake.DuckDB.Path, filepath.Join(dir, "data", "lake.duckdb"))
	project := filepath.Join(filepath.Dir(filepath.Dir(dir)), "dbt", "analytics")
	eq(t, "lake.DBT.Dir", lake.DBT.Dir, project)
	eq(t, "wh.DBT.Dir", cfg.Sources["postgres.wh"].DBT.Dir, project)

	eq(t, "exports.Query", cfg.Sync("exports").Query, "SELECT * FROM read_parquet('exports/*.parquet')")
	eq(t, "exports.Model", cfg.Sync("exports").Model, "")
	users := cfg.Sync("active_users")
	eq(t, "active_users.Model", users.Model, "active_users")
	eq(t, "active_users.Query", users.Query, `SELECT * FROM "analytics"."public"."active_users"`)
	eq(t, "active_users.QueryRange.Start.Line", users.QueryRange.Start.Line, 32)
	eq(t, "orders.Query", cfg.Sync("orders").Query, `SELECT * FROM "analytics"."public_marts"."fct_orders"`)
}

// TestDigestHoldsNoSecret: a plan file carries the configuration's digest,
// so it must not be a function of a secret that can be guessed value by
// value: a sensitive variable inside a query and an env() user leave the
// digest as it is whatever their values, while the rest of the query still
// changes it.
func TestDigestHoldsNoSecret(t *testing.T) {
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{"main.hcl": `
variable "token" {
  type      = string
  sensitive = true
}
variable "table" { type = string }
destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = env("CRM_USER")
}
source "postgres" "app" {
  host     = "app"
  database = "d"
  user     = "u"
}
sync "s" {
  source      = source.postgres.app
  query       = "SELECT id FROM ${var.table} WHERE token <> '${var.token}'"
  destination = destination.postgres.crm
  table       = "t"
  behavior    = "mirror"
  key         = "id"
}
`})
	load := func(token, user, table string) string {
		t.Helper()
		cfg, diags := Load(dir, Inputs{Environ: []string{"CRM_USER=" + user}, Vars: []string{"token=" + token, "table=" + table}})
		noErrors(t, cfg, diags)
		return cfg.Digest
	}
	d := load("1234", "crm_app", "accounts")
	if load("9999", "crm_app", "accounts") != d {
		t.Error("the digest changes with a sensitive variable's value: guessing values would find it")
	}
	if load("1234", "other_user", "accounts") != d {
		t.Error("the digest changes with an env() user, a secret")
	}
	if load("1234", "crm_app", "customers") == d {
		t.Error("the digest does not change with the query's other text")
	}
}

// TestDigestPathsRelativeToTheDirectory: a file inside the configuration
// directory (a csv file, a DuckDB database, a dbt project) is part of the
// digest by its path relative to the directory, so that one configuration
// in two directories (two checkouts) has one digest; a file outside it by
// its absolute path, so that naming another one outside changes it.
func TestDigestPathsRelativeToTheDirectory(t *testing.T) {
	outside := t.TempDir()
	config := func(duckdbPath string) map[string]string {
		return map[string]string{
			"dbt/target/manifest.json": `{"nodes": {}}`,
			"main.hcl": `
destination "postgres" "crm" {
  host     = "db"
  database = "d"
  user     = "u"
}
source "csv" "seed" {
  path = "data/seed.csv"
}
source "duckdb" "lake" {
  path        = "` + duckdbPath + `"
  dbt_project = "dbt"
}
sync "s" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "t"
  behavior    = "mirror"
  key         = "id"
}
sync "d" {
  source      = source.duckdb.lake
  query       = "SELECT 1 AS id"
  destination = destination.postgres.crm
  table       = "u"
  behavior    = "mirror"
  key         = "id"
}
`}
	}
	load := func(files map[string]string) *Config {
		t.Helper()
		dir := writeFiles(t, t.TempDir(), files)
		cfg, diags := Load(dir, Inputs{Environ: fixedEnv})
		for _, d := range diags {
			if d.Severity == hcl.DiagError {
				t.Fatalf("%s", diagText(d))
			}
		}
		return cfg
	}
	inside, copied := load(config("lake.duckdb")), load(config("lake.duckdb"))
	if inside.Digest != copied.Digest {
		t.Errorf("one configuration in two directories has two digests")
	}
	a := load(config(filepath.Join(outside, "a.duckdb")))
	if b := load(config(filepath.Join(outside, "a.duckdb"))); a.Digest != b.Digest {
		t.Errorf("the same file outside the directory gives two digests")
	}
	if c := load(config(filepath.Join(outside, "c.duckdb"))); c.Digest == a.Digest {
		t.Errorf("another file outside the directory gives the same digest")
	}
	if other := load(config("other.duckdb")); other.Digest == inside.Digest {
		t.Errorf("another file inside the directory gives the same digest")
	}
}
