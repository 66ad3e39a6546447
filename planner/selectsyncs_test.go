package planner

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/rowform/rowform/hclconfig"
)

// dependencyConfig loads a configuration whose syncs depend on each other:
//
//	tenants <- accounts <- contacts <- orders
//	           accounts <------------- orders
//	events (on its own)
//
// declared out of dependency order. Loading opens no connection.
func dependencyConfig(t *testing.T) *hclconfig.Config {
	t.Helper()
	sync := func(name string, deps ...string) string {
		var refs []string
		for _, d := range deps {
			refs = append(refs, "sync."+d)
		}
		return `
sync "` + name + `" {
  source      = source.csv.seed
  destination = destination.postgres.crm
  table       = "` + name + `"
  behavior    = "mirror"
  key         = "id"
  depends_on  = [` + strings.Join(refs, ", ") + `]
}
`
	}
	src := `
destination "postgres" "crm" {
  host     = "db.internal"
  database = "crm"
  user     = "rowform"
}

source "csv" "seed" {
  path = "seed.csv"
}
` + sync("contacts", "accounts") + sync("events") + sync("orders", "contacts", "accounts") +
		sync("accounts", "tenants") + sync("tenants")
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	cfg, diags := hclconfig.Load(dir, hclconfig.Inputs{})
	if diags.HasErrors() {
		t.Fatalf("the configuration does not load: %s", diags.Error())
	}
	return cfg
}

func syncNames(syncs []*hclconfig.Sync) []string {
	var out []string
	for _, s := range syncs {
		out = append(out, s.Name)
	}
	return out
}

// TestSelectSyncs: -sync takes the syncs its syncs depend on along,
// transitively, and says which it added because of whom.
func TestSelectSyncs(t *testing.T) {
	cfg := dependencyConfig(t)
	tests := []struct {
		only      []string
		wantSyncs []string
		wantAdded []IncludedSync
	}{
		{
			only:      nil,
			wantSyncs: []string{"tenants", "accounts", "contacts", "events", "orders"},
		},
		{
			only:      []string{"tenants"},
			wantSyncs: []string{"tenants"},
		},
		{
			only:      []string{"events"},
			wantSyncs: []string{"events"},
		},
		{
			only:      []string{"accounts"},
			wantSyncs: []string{"tenants", "accounts"},
			wantAdded: []IncludedSync{{Name: "tenants", DependedOnBy: "accounts"}},
		},
		{
			// Transitively: contacts -> accounts -> tenants.
			only:      []string{"contacts"},
			wantSyncs: []string{"tenants", "accounts", "contacts"},
			wantAdded: []IncludedSync{
				{Name: "accounts", DependedOnBy: "contacts"},
				{Name: "tenants", DependedOnBy: "accounts"},
			},
		},
		{
			// A sync reached twice (orders -> accounts, orders -> contacts
			// -> accounts) is added once, for the first that needs it.
			only:      []string{"orders"},
			wantSyncs: []string{"tenants", "accounts", "contacts", "orders"},
			wantAdded: []IncludedSync{
				{Name: "contacts", DependedOnBy: "orders"},
				{Name: "accounts", DependedOnBy: "orders"},
				{Name: "tenants", DependedOnBy: "accounts"},
			},
		},
		{
			// A named sync is never "added", even when another named sync
			// depends on it; names given twice count once.
			only:      []string{"contacts", "events", "accounts", "contacts"},
			wantSyncs: []string{"tenants", "accounts", "contacts", "events"},
			wantAdded: []IncludedSync{{Name: "tenants", DependedOnBy: "accounts"}},
		},
	}
	for _, tt := range tests {
		syncs, added, err := SelectSyncs(cfg, tt.only)
		if err != nil {
			t.Errorf("SelectSyncs(%q): %v", tt.only, err)
			continue
		}
		if got := syncNames(syncs); !reflect.DeepEqual(got, tt.wantSyncs) {
			t.Errorf("SelectSyncs(%q) syncs = %q, want %q", tt.only, got, tt.wantSyncs)
		}
		if !reflect.DeepEqual(added, tt.wantAdded) {
			t.Errorf("SelectSyncs(%q) added = %+v, want %+v", tt.only, added, tt.wantAdded)
		}
		// Compute plans exactly the syncs SelectSyncs returns.
		inner, err := selectSyncs(cfg, tt.only)
		if err != nil || !reflect.DeepEqual(syncNames(inner), tt.wantSyncs) {
			t.Errorf("selectSyncs(%q) = %q, %v; want %q", tt.only, syncNames(inner), err, tt.wantSyncs)
		}
	}
}

// TestSelectSyncsUnknownName: an unknown -sync name lists the syncs and
// suggests the nearest.
func TestSelectSyncsUnknownName(t *testing.T) {
	cfg := dependencyConfig(t)
	syncs, added, err := SelectSyncs(cfg, []string{"contacts", "contact"})
	if err == nil {
		t.Fatalf("no error; syncs %q, added %+v", syncNames(syncs), added)
	}
	want := `there is no sync named "contact"; the syncs are: accounts, contacts, events, orders, tenants. Did you mean "contacts"?`
	if err.Error() != want {
		t.Errorf("error = %q\nwant    %q", err, want)
	}
}
