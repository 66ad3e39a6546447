// Package hclconfig turns a directory of rowform HCL files into a typed, checked
// Config. It opens no connection: everything here is about the text of the
// configuration.
//
// The entry point is Load. It reports every problem it finds as an
// hcl.Diagnostic with a source range, and keeps going after the first one, so a
// user sees all of their mistakes in one run. Secret values (sensitive
// variables, env() results, passwords, private keys, passphrases) are held in
// Secret values whose String, GoString, Format and MarshalJSON never reveal them.
package hclconfig

import (
	"context"
	"fmt"
	"sort"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

// Config is a loaded, validated configuration. A Config returned by Load with no
// error diagnostics satisfies every rule of docs/language.md: references resolve, values
// are in range, depends_on has no cycle.
type Config struct {
	// Dir is the absolute path of the configuration directory.
	Dir string
	// Files are the parsed files, by the name used in diagnostics. Renderers
	// use them to print source snippets.
	Files map[string]*hcl.File `json:"-"`
	// Variables are the declared input variables with their final values.
	Variables map[string]*Variable
	// Destinations are keyed by address, "postgres.<name>".
	Destinations map[string]*Server
	// Sources are keyed by address, "postgres.<name>" or "csv.<name>".
	Sources map[string]*Source
	// Syncs in declaration order (files in lexical order, blocks in file order).
	Syncs []*Sync
	// Digest is a hex SHA-256 over the evaluated configuration (secrets
	// excluded, but their presence included). Two loads of the same
	// configuration with the same non-secret inputs give the same Digest.
	Digest string

	// values returns the final variable values, for NonSensitiveValue. A
	// function, so that printing a Config can never show them.
	values func() map[string]cty.Value
	// secrets returns every secret value the configuration used.
	secrets func() []string
	// secretVars are the variables that feed a secret attribute.
	secretVars map[string]bool
}

// FeedsSecret reports whether the variable name is read, directly or
// through locals and functions, by a password, a private key or a
// passphrase: its value is a secret in another form (lower(var.pw) is the
// password), so it is withheld like a sensitive variable's, from plan files
// and from NonSensitiveValue.
func (c *Config) FeedsSecret(name string) bool { return c.secretVars[name] }

// sourceText is the configuration's text at rng, "" when unknown.
func (c *Config) sourceText(rng hcl.Range) string {
	f := c.Files[rng.Filename]
	if f == nil || rng.Start.Byte < 0 || rng.End.Byte > len(f.Bytes) || rng.Start.Byte > rng.End.Byte {
		return ""
	}
	return string(f.Bytes[rng.Start.Byte:rng.End.Byte])
}

// Secrets returns every secret string the configuration used: passwords,
// keys, passphrases, env() results and the values of sensitive variables
// and of expressions computed from them. Output writers mask them (see
// internal/redact) as a last line of defence.
func (c *Config) Secrets() []string {
	if c.secrets == nil {
		return nil
	}
	return c.secrets()
}

// NonSensitiveValue returns the final value of a variable that is not
// sensitive. It returns false for sensitive variables, so a caller cannot
// carry a secret further by accident.
func (c *Config) NonSensitiveValue(name string) (cty.Value, bool) {
	v, ok := c.Variables[name]
	if !ok || v.Sensitive || c.FeedsSecret(name) {
		return cty.NilVal, false
	}
	if c.values == nil {
		return cty.NilVal, false
	}
	val, ok := c.values()[name]
	if !ok || val.HasMark(SensitiveMark) {
		return cty.NilVal, false
	}
	return val, true
}

// Sync returns the sync with the given name, or nil.
func (c *Config) Sync(name string) *Sync {
	for _, s := range c.Syncs {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// SyncNames returns the names of all syncs, sorted.
func (c *Config) SyncNames() []string {
	names := make([]string, 0, len(c.Syncs))
	for _, s := range c.Syncs {
		names = append(names, s.Name)
	}
	sort.Strings(names)
	return names
}

// OrderedSyncs returns the syncs so that every sync comes after the syncs it
// depends on; ties keep declaration order. Load guarantees there is no cycle.
func (c *Config) OrderedSyncs() []*Sync {
	done := map[string]bool{}
	var out []*Sync
	var visit func(s *Sync)
	visit = func(s *Sync) {
		if done[s.Name] {
			return
		}
		done[s.Name] = true
		for _, d := range s.DependsOn {
			if dep := c.Sync(d); dep != nil {
				visit(dep)
			}
		}
		out = append(out, s)
	}
	for _, s := range c.Syncs {
		visit(s)
	}
	return out
}

// Variable is a declared input variable and the value it ended up with.
type Variable struct {
	// Name, Description and Sensitive are as declared (variable "NAME").
	Name        string
	Description string
	Sensitive   bool
	// Source says where the final value came from: "default",
	// "-var-file=F", "environment variable ROWFORM_VAR_name" or "-var option".
	Source    string
	DeclRange hcl.Range `json:"-"`
}

// Server holds the connection attributes shared by a destination and a
// postgres source.
type Server struct {
	// Kind is "destination" or "source".
	Kind string
	// Type is the block's type label; always "postgres" today.
	Type     string
	Name     string
	Host     string
	Port     int
	Database string
	User     string
	Password Secret
	// MaxConnections is 1..8; the most connections rowform opens to this server at once.
	MaxConnections int
	// SSLMode is one of libpq's six sslmode names, or "" for the default of
	// the README's Safety (require for remote hosts, prefer for loopback).
	SSLMode string
	// SSLRootCert is an absolute path, or "".
	SSLRootCert string
	// SSHTunnel is nil when the server is reached directly.
	SSHTunnel *SSHTunnel
	// Settings are libpq connection settings that the block has no
	// attribute for (sslcert, sslkey, options, connect_timeout, ...), by
	// keyword, and SSLPassword the passphrase of the sslkey. A
	// configuration never sets them: rowform test gives its servers those
	// of ROWFORM_TEST_PG_URL.
	Settings    map[string]string `json:"-"`
	SSLPassword Secret            `json:"-"`
	// History is how a destination records its applies; nil for a source.
	History   *History
	DeclRange hcl.Range `json:"-"`
}

// Address is "postgres.<name>", the form used in plans and references.
func (s *Server) Address() string { return s.Type + "." + s.Name }

// SSHTunnel describes the bastion a server is reached through.
type SSHTunnel struct {
	// Host, Port and User are the bastion's address and the SSH user.
	Host string
	Port int
	User string
	// PrivateKeyFile is an absolute path (~ expanded), or "".
	PrivateKeyFile string
	// PrivateKey is an inline PEM key, or empty.
	PrivateKey           Secret
	PrivateKeyPassphrase Secret
	// KnownHostsFile is an absolute path; defaults to ~/.ssh/known_hosts
	// unless HostKey is set.
	KnownHostsFile string
	// HostKey is a pinned key in authorized_keys form ("ssh-ed25519 AAAA..."), or "".
	HostKey   string
	DeclRange hcl.Range `json:"-"`
}

// SourceType names the kind of a source block.
type SourceType string

// The source types of docs/language.md.
const (
	SourcePostgres SourceType = "postgres"
	SourceCSV      SourceType = "csv"
	SourceDuckDB   SourceType = "duckdb"
)

// HasQuery reports whether syncs on sources of this type select their
// rows with a query (or a dbt model): postgres and duckdb sources.
func (t SourceType) HasQuery() bool { return t == SourcePostgres || t == SourceDuckDB }

// Source is a declared source: a PostgreSQL server to query, a CSV file,
// or a DuckDB database to query.
type Source struct {
	// Type and Name are the block's labels (source "TYPE" "NAME").
	Type SourceType
	Name string
	// Server is set for postgres sources.
	Server *Server
	// CSV is set for csv sources.
	CSV *CSVFile
	// DuckDB is set for duckdb sources.
	DuckDB *DuckDBDatabase `json:",omitempty"`
	// DBT is the dbt project whose models syncs on this source may name
	// (dbt_project); nil when the source has none.
	DBT       *DBTProject `json:",omitempty"`
	DeclRange hcl.Range   `json:"-"`
}

// Address is "<type>.<name>", the form used in plans and references.
func (s *Source) Address() string { return string(s.Type) + "." + s.Name }

// CSVFile describes a csv source.
type CSVFile struct {
	// Path is absolute.
	Path      string
	Header    bool
	Delimiter rune
	// Encoding is the file's character encoding: "" for UTF-8 (the
	// default), or EncodingLatin1.
	Encoding string `json:",omitempty"`
	// PathRange is where path is set, for diagnostics about the file.
	PathRange hcl.Range `json:"-"`
}

// EncodingLatin1 is the encoding attribute's value for Latin-1 (ISO
// 8859-1) files, whose bytes are the first 256 Unicode characters.
const EncodingLatin1 = "LATIN1"

// CSVEncodings are the values the encoding attribute of a csv source takes.
var CSVEncodings = []string{"UTF8", EncodingLatin1}

// Behavior is what a sync does with matched, new and missing rows (the README's Behaviors).
type Behavior string

// The four behaviors of the README's Behaviors.
const (
	UpdateOrCreate Behavior = "update_or_create"
	UpdateOnly     Behavior = "update_only"
	Append         Behavior = "append"
	Mirror         Behavior = "mirror"
)

// Behaviors lists every valid behavior in documentation order.
var Behaviors = []Behavior{UpdateOrCreate, UpdateOnly, Append, Mirror}

// Inserts reports whether the behavior inserts rows missing from the destination.
func (b Behavior) Inserts() bool { return b == UpdateOrCreate || b == Append || b == Mirror }

// Updates reports whether the behavior updates rows whose values differ.
func (b Behavior) Updates() bool { return b == UpdateOrCreate || b == UpdateOnly || b == Mirror }

// Deletes reports whether the behavior deletes rows missing from the source.
func (b Behavior) Deletes() bool { return b == Mirror }

// TableName is a schema-qualified table name.
type TableName struct {
	Schema string
	Name   string
}

// String is "schema.name", unquoted, for display.
func (t TableName) String() string { return t.Schema + "." + t.Name }

// ColumnMapping maps one destination column to one source column.
type ColumnMapping struct {
	// Destination is the destination column's name, Source the source
	// column's (a query's result column, or a CSV header field).
	Destination string
	Source      string
}

// Sync is a declared sync: source rows into a destination table.
type Sync struct {
	// Name is the sync's label (sync "NAME"); Source the source it reads.
	Name   string
	Source *Source
	// Query is the SQL for postgres and duckdb sources, "" for csv
	// sources. For a sync that names a dbt model it is the query that
	// reads the model's relation (SELECT * FROM <relation_name>).
	Query string
	// QueryRange is where the query (or the model) is set, for messages
	// about the query; the zero Range when neither is.
	QueryRange hcl.Range `json:"-"`
	// QuerySensitive is set when the query was computed from a sensitive
	// value (a sensitive variable, env()): it is a secret, and no excerpt
	// of it may be shown (an excerpt cuts a secret where the output filter
	// cannot recognize it).
	QuerySensitive bool `json:"-"`
	// Model is the dbt model the sync reads (model = "..."), or "".
	Model string `json:",omitempty"`

	// Destination is the server written to, Table the table there,
	// Behavior what the sync does with new, changed and missing rows.
	Destination *Server
	Table       TableName
	Behavior    Behavior
	// Key lists destination columns, at least one.
	Key []string
	// Mapping is the explicit column mapping in declaration order, or nil
	// when the mapping was omitted (every source column to the destination
	// column of the same name).
	Mapping          []ColumnMapping
	SensitiveColumns []string
	// DependsOn names other syncs.
	DependsOn []string
	// OnReject says what apply does with rows the destination would refuse
	// (RejectFail when the attribute is omitted).
	OnReject OnReject
	// DiffStrategy says how the row diff reads the rows (DiffAuto when the
	// attribute is omitted). It is left out of the configuration's digest:
	// every strategy makes the same plan, and a saved plan records the one
	// it used.
	DiffStrategy DiffStrategy `json:"-"`
	// Guard is nil when no guard block was given.
	Guard     *Guard
	DeclRange hcl.Range `json:"-"`
}

// DiffStrategy is a sync's diff_strategy: how the row diff reads the
// rows of both sides.
type DiffStrategy string

// The diff_strategy values.
const (
	// DiffAuto: rowform chooses, from the servers' estimates of the row
	// width and a timed read of each connection (docs/performance.md).
	DiffAuto DiffStrategy = "auto"
	// DiffServerHash: each server sends the key and a hash of every row;
	// only the rows whose hashes differ are read in full. Syncs whose
	// source cannot compute the hashes fall back to DiffFullRows.
	DiffServerHash DiffStrategy = "server_hash"
	// DiffFullRows: both sides send every row in full.
	DiffFullRows DiffStrategy = "full_rows"
)

// DiffStrategies lists the diff_strategy values.
var DiffStrategies = []DiffStrategy{DiffAuto, DiffServerHash, DiffFullRows}

func diffStrategyNames() []string {
	names := make([]string, len(DiffStrategies))
	for i, d := range DiffStrategies {
		names[i] = string(d)
	}
	return names
}

// OnReject is a sync's on_reject: what happens to source rows and deletes
// that the destination would refuse (a value too long, a CHECK constraint,
// a missing parent row, ...).
type OnReject string

// The on_reject values.
const (
	// RejectFail: any rejected row is an error finding and blocks apply.
	RejectFail OnReject = "fail"
	// RejectSkip: rejected rows are a warning; apply writes every other row
	// and reports the rejected ones.
	RejectSkip OnReject = "skip"
)

// IsSensitiveColumn reports whether the destination column's values must never be shown.
func (s *Sync) IsSensitiveColumn(col string) bool {
	for _, c := range s.SensitiveColumns {
		if c == col {
			return true
		}
	}
	return false
}

// Guard holds the optional limits of a sync; a nil field means no limit.
type Guard struct {
	// MaxDeletes and MaxUpdates bound the deletes and updates of one
	// apply; MaxDeletePercent the deletes as a percentage of the
	// destination's rows; MinSourceRows is the fewest rows the source may
	// have.
	MaxDeletes       *int64
	MaxDeletePercent *float64
	MaxUpdates       *int64
	MinSourceRows    *int64
	// MaxRejectPercent bounds the rejected rows as a percentage of the rows
	// the sync would write (inserts, updates, deletes and rejects).
	MaxRejectPercent *float64
}

// Secret holds a value that must never be shown. Its String, GoString,
// Format and MarshalJSON all print "(sensitive)"; only Reveal returns the
// value, for handing to a driver.
//
// The value lives behind a function, so that even a fmt verb that bypasses
// the methods (%s of a struct holding a Secret, say) prints an address and
// never the value.
type Secret struct{ value func() string }

// NewSecret wraps s.
func NewSecret(s string) Secret { return Secret{value: func() string { return s }} }

// Reveal returns the secret value. Call it only to hand the value to a driver.
func (s Secret) Reveal() string {
	if s.value == nil {
		return ""
	}
	return s.value()
}

// IsSet reports whether the secret is non-empty.
func (s Secret) IsSet() bool { return s.Reveal() != "" }

// String implements fmt.Stringer without revealing the value.
func (s Secret) String() string {
	if !s.IsSet() {
		return ""
	}
	return "(sensitive)"
}

// GoString implements fmt.GoStringer without revealing the value.
func (s Secret) GoString() string { return `hclconfig.Secret("(sensitive)")` }

// Format implements fmt.Formatter so that no verb reveals the value.
func (s Secret) Format(f fmt.State, _ rune) { _, _ = f.Write([]byte(s.String())) }

// MarshalJSON implements json.Marshaler without revealing the value.
func (s Secret) MarshalJSON() ([]byte, error) { return []byte(`"(sensitive)"`), nil }

// MarshalText implements encoding.TextMarshaler without revealing the value.
func (s Secret) MarshalText() ([]byte, error) { return []byte("(sensitive)"), nil }

// Inputs are the values given to Load from outside the configuration files.
type Inputs struct {
	// VarFiles are -var-file paths, in command-line order; relative paths
	// are resolved against the configuration directory.
	VarFiles []string
	// Vars are -var arguments ("name=value"), in command-line order.
	Vars []string
	// Environ is the process environment (os.Environ() form). It supplies
	// ROWFORM_VAR_<name> values and env() results. Nil means no environment.
	Environ []string
	// AllowUnset makes variables without a value and env() of unset
	// environment variables unknown instead of errors. validate uses it: it
	// checks the configuration itself, not the inputs of one run.
	AllowUnset bool
	// Context bounds the wait for a -var-file or a file() that is a pipe
	// or FIFO nobody writes yet (a signal's cancellation ends it). Nil
	// means no bound.
	Context context.Context
}
