package hclconfig

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// DBTProject is a source's dbt_project: the directory of a dbt project
// whose compiled manifest (target/manifest.json) names the relations of
// its models. rowform reads the manifest only; it never runs dbt.
type DBTProject struct {
	// Dir is the project's absolute directory.
	Dir string
	// Range is where dbt_project is set.
	Range hcl.Range `json:"-"`
}

// ManifestPath is the manifest rowform reads: <Dir>/target/manifest.json,
// which dbt compile, dbt parse, dbt run and dbt build write.
func (p *DBTProject) ManifestPath() string { return filepath.Join(p.Dir, "target", "manifest.json") }

// dbtManifest is the part of dbt's manifest.json that rowform reads.
type dbtManifest struct {
	Metadata struct {
		ProjectName string `json:"project_name"`
	} `json:"metadata"`
	Nodes map[string]dbtNode `json:"nodes"`
}

// dbtNode is one node of the manifest: a model, seed, test, ...
type dbtNode struct {
	ResourceType  string          `json:"resource_type"`
	Name          string          `json:"name"`
	PackageName   string          `json:"package_name"`
	Database      *string         `json:"database"`
	Schema        string          `json:"schema"`
	Alias         string          `json:"alias"`
	RelationName  *string         `json:"relation_name"`
	Version       json.RawMessage `json:"version"`
	LatestVersion json.RawMessage `json:"latest_version"`
	Config        struct {
		Materialized string `json:"materialized"`
	} `json:"config"`
}

// manifestLoad is the outcome of reading one project's manifest, kept so
// that a manifest is read once however many syncs name its models.
type manifestLoad struct {
	m   *dbtManifest
	err error
}

func (l *loader) decodeDBTProject(content *hcl.BodyContent) *DBTProject {
	if content == nil {
		return nil
	}
	p, v := l.str(content, "dbt_project")
	if !v.ok {
		return nil
	}
	if p == "" {
		l.errorf(v.rng(), "Invalid dbt_project", "dbt_project must name the directory of a dbt project (the one with dbt_project.yml).")
		return nil
	}
	return &DBTProject{Dir: resolvePath(l.dir, p), Range: *v.rng()}
}

// manifest reads (once) the manifest of project p.
func (l *loader) manifest(p *DBTProject) (*dbtManifest, error) {
	if l.manifests == nil {
		l.manifests = map[string]*manifestLoad{}
	}
	if ml, ok := l.manifests[p.Dir]; ok {
		return ml.m, ml.err
	}
	ml := &manifestLoad{}
	l.manifests[p.Dir] = ml
	b, err := os.ReadFile(p.ManifestPath())
	if err != nil {
		ml.err = err
		return nil, err
	}
	var m dbtManifest
	if err := json.Unmarshal(b, &m); err != nil {
		ml.err = fmt.Errorf("%s is not a dbt manifest: %v", p.ManifestPath(), err)
		return nil, ml.err
	}
	ml.m = &m
	return ml.m, nil
}

// resolveModel sets the sync's query to read the relation of the dbt
// model it names, reporting a source without dbt_project, a missing or
// broken manifest and an unknown model as diagnostics at the model
// attribute.
func (l *loader) resolveModel(s *Sync, model string, v attrValue) {
	rng := v.rng()
	src := s.Source
	if src.DBT == nil {
		l.errorf(rng, "No dbt project",
			"The sync names the dbt model %q, but the source %s has no dbt_project. Add dbt_project = \"<directory of the dbt project>\" to the source block at %s.",
			model, src.Address(), formatPos(src.DeclRange))
		return
	}
	m, err := l.manifest(src.DBT)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			l.errorf(rng, "dbt manifest not found",
				"The model %q is looked up in %s, which does not exist. Run `dbt compile` (or `dbt parse`) in %s to write it; dbt_project is set at %s.",
				model, src.DBT.ManifestPath(), src.DBT.Dir, formatPos(src.DBT.Range))
			return
		}
		l.errorf(rng, "Cannot read the dbt manifest", "%v. Run `dbt compile` (or `dbt parse`) in %s to write it again.", err, src.DBT.Dir)
		return
	}
	node, candidates := m.model(model)
	if node == nil {
		l.errorf(rng, "Unknown dbt model",
			"The dbt project %s has no model %q.%s Its models: %s.",
			src.DBT.Dir, model, didYouMean(model, candidates), listOrNone(candidates))
		return
	}
	rel := node.relation()
	if rel == "" {
		l.errorf(rng, "dbt model without a relation",
			"The dbt model %q is materialized as %q, so there is no table or view to read. Materialize it as a table or view, or write the query instead.",
			model, node.Config.Materialized)
		return
	}
	s.Model = model
	s.Query = "SELECT * FROM " + rel
}

// model finds the model named name: one of the root project's own when
// packages also have one of that name, its latest version when the model
// is versioned. candidates are every model name, sorted, for hints.
func (m *dbtManifest) model(name string) (*dbtNode, []string) {
	seen := map[string]bool{}
	var candidates []string
	var found []*dbtNode
	keys := make([]string, 0, len(m.Nodes))
	for k := range m.Nodes {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		n := m.Nodes[k]
		if n.ResourceType != "model" {
			continue
		}
		if !seen[n.Name] {
			seen[n.Name] = true
			candidates = append(candidates, n.Name)
		}
		if n.Name == name {
			found = append(found, &n)
		}
	}
	sort.Strings(candidates)
	if len(found) > 1 {
		own := slices.DeleteFunc(slices.Clone(found), func(n *dbtNode) bool { return n.PackageName != m.Metadata.ProjectName })
		if len(own) > 0 {
			found = own
		}
		latest := slices.DeleteFunc(slices.Clone(found), func(n *dbtNode) bool {
			return len(n.LatestVersion) > 0 && string(n.LatestVersion) != "null" && string(n.Version) != string(n.LatestVersion)
		})
		if len(latest) > 0 {
			found = latest
		}
	}
	if len(found) == 0 {
		return nil, candidates
	}
	return found[0], candidates
}

// relation is the model's relation as SQL: dbt's relation_name, or the
// quoted database, schema and alias when the manifest has no
// relation_name; "" for an ephemeral model.
func (n *dbtNode) relation() string {
	if n.RelationName != nil {
		return *n.RelationName
	}
	if n.Config.Materialized == "ephemeral" || n.Schema == "" {
		return ""
	}
	alias := n.Alias
	if alias == "" {
		alias = n.Name
	}
	parts := []string{n.Schema, alias}
	if n.Database != nil && *n.Database != "" {
		parts = append([]string{*n.Database}, parts...)
	}
	for i, p := range parts {
		parts[i] = `"` + strings.ReplaceAll(p, `"`, `""`) + `"`
	}
	return strings.Join(parts, ".")
}
