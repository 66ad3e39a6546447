package hclconfig

import (
	"github.com/hashicorp/hcl/v2"
)

// DuckDBDatabase describes a duckdb source: a DuckDB database whose syncs
// query files (Parquet, CSV, JSON) or the database's tables with DuckDB
// SQL. rowform only reads it.
type DuckDBDatabase struct {
	// Path is the absolute path of the database file, opened read-only,
	// or "" for an in-memory database (queries then read files only).
	Path string `json:",omitempty"`
	// Dir is the directory relative file paths in the queries resolve
	// against: the configuration directory. Not part of the digest, so
	// that a saved plan still applies from another checkout of the same
	// configuration.
	Dir string `json:"-"`
	// PathRange is where path is set, for diagnostics about the file.
	PathRange hcl.Range `json:"-"`
}

// duckdbSourceSchema is the body of a source "duckdb" block.
var duckdbSourceSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "path"},
		{Name: "dbt_project"},
	},
}

// postgresSourceSchema is serverSchema plus what only a postgres source
// has.
var postgresSourceSchema = &hcl.BodySchema{
	Attributes: append(append([]hcl.AttributeSchema(nil), serverSchema.Attributes...),
		hcl.AttributeSchema{Name: "dbt_project"},
	),
	Blocks: serverSchema.Blocks,
}

func (l *loader) decodeDuckDB(b *hcl.Block, src *Source) {
	d := &DuckDBDatabase{Dir: l.dir}
	content, diags := b.Body.Content(duckdbSourceSchema)
	l.addDiags(diags)
	if p, v := l.str(content, "path"); v.ok {
		if p == "" {
			l.errorf(v.rng(), "Invalid path", "path must name a DuckDB database file; omit it for an in-memory database that reads files only.")
		} else {
			d.Path = resolvePath(l.dir, p)
		}
		d.PathRange = *v.rng()
	}
	src.DuckDB = d
	src.DBT = l.decodeDBTProject(content)
}
