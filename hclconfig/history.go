package hclconfig

import (
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// History is how a destination records the applies written to it: in its
// own schema of the destination database, in the transaction of each
// apply (docs/history.md).
type History struct {
	// Enabled is the destination's history attribute (default true).
	Enabled bool
	// Schema is history_schema: the schema holding the record (default
	// "rowform").
	Schema string
	// Keep is history_keep: how many runs of each sync are kept (default
	// 50); older ones are pruned by the apply that records a new one.
	Keep int
}

// Defaults of the history attributes.
const (
	DefaultHistorySchema = "rowform"
	DefaultHistoryKeep   = 50
	// MaxHistoryKeep bounds history_keep.
	MaxHistoryKeep = 100000
)

// HistoryEnabled reports whether applies to the server (a destination)
// are recorded.
func (s *Server) HistoryEnabled() bool { return s != nil && s.History != nil && s.History.Enabled }

// destinationSchema is serverSchema plus the attributes only a
// destination has.
var destinationSchema = &hcl.BodySchema{
	Attributes: append(append([]hcl.AttributeSchema(nil), serverSchema.Attributes...),
		hcl.AttributeSchema{Name: "history"},
		hcl.AttributeSchema{Name: "history_schema"},
		hcl.AttributeSchema{Name: "history_keep"},
	),
	Blocks: serverSchema.Blocks,
}

// serverSchemaOf is the body schema of a server block of kind
// "destination" or "source".
func serverSchemaOf(kind string) *hcl.BodySchema {
	if kind == "destination" {
		return destinationSchema
	}
	return postgresSourceSchema
}

// decodeHistory reads a destination's history attributes.
func (l *loader) decodeHistory(content *hcl.BodyContent) *History {
	h := &History{Enabled: l.boolean(content, "history", true), Schema: DefaultHistorySchema, Keep: DefaultHistoryKeep}
	if name, v := l.str(content, "history_schema"); v.ok {
		switch {
		case name == "":
			l.errorf(v.rng(), "Invalid history_schema", "history_schema must name a schema.")
		case len(name) > 63:
			l.errorf(v.rng(), "Invalid history_schema", "history_schema must be at most 63 bytes long, as PostgreSQL's names are.")
		case name == "information_schema" || strings.HasPrefix(name, "pg_"):
			l.errorf(v.rng(), "Invalid history_schema",
				"%s is one of PostgreSQL's own schemas, which pg_dump leaves out (or the server refuses): name a schema of rowform's own, such as the default %q.", name, DefaultHistorySchema)
		default:
			h.Schema = name
		}
	}
	if n, v := l.integer(content, "history_keep", 1, MaxHistoryKeep); v.ok {
		h.Keep = int(n)
	}
	return h
}
