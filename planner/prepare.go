package planner

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/catalog"
	"github.com/rowform/rowform/internal/duckdbsource"
	"github.com/rowform/rowform/internal/pgconnect"
	"github.com/rowform/rowform/internal/plural"
	"github.com/rowform/rowform/internal/suggest"
)

// sourceColumn is a column of a source: a query result column or a CSV
// header field.
type sourceColumn struct {
	Name string
	// Type is the PostgreSQL type name for query columns ("" for CSV).
	Type string
	// TypeOID is a postgres source column's type OID, when it is a base
	// type, a range or a multirange (0 for other types and sources).
	TypeOID uint32
	// Index is the CSV field index.
	Index int
}

// Prepared is a sync whose structure has been checked: the destination table
// exists with every mapped column, and the source's columns line up with it.
// It is what both plan and apply diff with.
type Prepared struct {
	// Sync is the sync prepared; Table its destination table as the
	// catalog describes it; Role the destination session's current_user,
	// whose grants were checked.
	Sync   *hclconfig.Sync
	Table  *catalog.Table
	Role   string
	layout *layout
	// rules are the destination table's constraints and triggers.
	rules *catalog.Rules
	// external is what the syncs this one depends on write, when they are
	// planned together (crosssync.go); nil at apply.
	external []*writtenRows
	// recordWritten: a sync planned with this one depends on it, so its
	// checker records what it writes into referenced columns
	// (DiffResult.written); false at apply, which needs none of it.
	recordWritten bool
	// blocked maps the tables of the syncs this one depends on whose plans
	// cannot be applied ("schema.table") to their names: rows that
	// reference them are refused, and the findings say why.
	blocked map[string]string
	// csv holds the CSV columns by name, for csv sources.
	csvCols  map[string]int
	csvWidth int
	// planned is the strategy apply must use (UseStrategy), "" to choose.
	planned string
	// duckCols holds the query's columns by name, for duckdb sources.
	duckCols map[string]duckdbsource.Column
	// codecs convert a duckdb source's text values in Go (textcodec.go);
	// nil: every batch is converted on the destination.
	codecs []textCodec
	// duckdbDirect: the diff reads the duckdb source with duckdbRows.
	duckdbDirect bool
	// rowSecurity: the table's row-level security binds the role.
	rowSecurity bool
	// clock is what a postgres source's query reads of the clock or of
	// chance (volatile.go).
	clock sourceClock
	// encoding is the destination encoding's characters, nil when it
	// holds every character (encoding.go).
	encoding *encodingCheck
}

// RowSecurity reports whether the table's row-level security binds the
// role (its policies let it at every row, or the plan refuses the sync):
// PostgreSQL then refuses COPY into the table, so inserts go through
// INSERT ... SELECT.
func (p *Prepared) RowSecurity() bool { return p.rowSecurity }

// Columns describes the mapped destination columns in the order of Row
// values: key columns first.
func (p *Prepared) Columns() []ColumnInfo {
	out := make([]ColumnInfo, len(p.layout.Cols))
	for i, c := range p.layout.Cols {
		out[i] = ColumnInfo{Name: c.Dest, Type: c.Catalog.Type, StagingType: c.CastType, AsText: c.AsText, Key: i < p.layout.NKey, Sensitive: c.Sensitive}
	}
	return out
}

// ColumnInfo is one mapped destination column as the diff carries it.
type ColumnInfo struct {
	// Name is the destination column's name.
	Name string
	// Type is the destination column's type, e.g. "numeric(10,2)".
	Type string
	// StagingType is the type of the value in a Row ("text" when AsText).
	StagingType string
	// AsText: the Row value is text and needs a cast to Type when written.
	AsText bool
	Key    bool
	// Sensitive: the column's values are never shown.
	Sensitive bool
}

// prepare checks a sync's structure on open connections. dst is the
// destination connection; src is the source connection (nil for csv and
// duckdb sources). It returns nil and findings when the sync cannot be
// diffed.
//
// It runs in named stages, each a method of preparation: the source's
// columns, the destination table, the mapping, the sensitive columns, the
// unique key, the key types, inheritance, row security, rewrite rules,
// NOT NULL columns left out, domain defaults of unmapped columns,
// privileges, the history, then (when nothing blocks the diff) the layout
// and the source's casts. A stage that returns false has
// reported a finding after which nothing further can be checked.
func prepare(ctx context.Context, s *hclconfig.Sync, dst, src *pgx.Conn, showFindings func(Finding)) *Prepared {
	st := &preparation{ctx: ctx, s: s, dst: dst, src: src, show: showFindings, p: &Prepared{Sync: s}}
	if !st.sourceColumns() || !st.destinationTable() {
		return nil
	}
	if s.Source.Type == hclconfig.SourcePostgres && src != nil {
		st.volatileSource()
	}
	st.mapColumns()
	st.sensitiveColumns()
	st.uniqueKey()
	st.keyTypes()
	st.inheritance()
	st.rowSecurity()
	st.rewriteRules()
	st.notNullUnmapped()
	st.unmappedDomainDefaults()
	if !st.privileges() {
		return nil
	}
	for _, f := range historyFindings(ctx, s, dst, st.p.Role) {
		st.add(f)
	}
	if st.blocked || len(st.cols) != len(st.ordered) {
		return nil
	}
	st.p.layout = newLayout(st.cols, len(s.Key))
	if !st.casts() {
		return nil
	}
	return st.p
}

// preparation is the state prepare's stages share.
type preparation struct {
	ctx      context.Context
	s        *hclconfig.Sync
	dst, src *pgx.Conn
	show     func(Finding)
	p        *Prepared

	// blocked is set by findings after which the rows cannot be read, so
	// the diff cannot run. Findings that only stop apply (a missing unique
	// key, NOT NULL, write grants) still let the plan count the rows.
	blocked bool

	srcCols   []sourceColumn
	srcByName map[string]sourceColumn
	t         *catalog.Table
	// mappedDest maps each mapped destination column to its source column.
	mappedDest map[string]string
	keyIndex   map[string]int
	// ordered is the mapping, key columns first; cols are its columns that
	// can be written (one per entry when every check passed).
	ordered []hclconfig.ColumnMapping
	cols    []column
}

// add reports f, and blocks the diff when f is an error after which rows
// cannot be read.
func (st *preparation) add(f Finding) {
	if f.Severity == SeverityError {
		switch f.Code {
		case CodeMissingUniqueConstraint, CodeNotNullUnmapped, CodeMissingPrivilege, CodeRewriteRules:
		default:
			st.blocked = true
		}
	}
	st.show(f)
}

// sourceColumns reads the names and types of the source's columns: the
// query is prepared (not run), a CSV file's header is read.
func (st *preparation) sourceColumns() bool {
	s, p := st.s, st.p
	switch s.Source.Type {
	case hclconfig.SourcePostgres:
		cols, f := describeQuery(st.ctx, st.src, s)
		if f != nil {
			st.add(*f)
			return false
		}
		st.srcCols = cols
	case hclconfig.SourceDuckDB:
		cols, byName, clock, f := describeDuckDB(st.ctx, s)
		if f != nil {
			st.add(*f)
			return false
		}
		st.srcCols, p.duckCols = cols, byName
		st.warnClock(clock)
	case hclconfig.SourceCSV:
		cols, err := csvHeader(s.Source.CSV)
		if err != nil {
			st.add(Finding{Severity: SeverityError, Code: CodeSourceQueryFailed,
				Summary: fmt.Sprintf("cannot read %s: %s", s.Source.Address(), err)})
			return false
		}
		st.srcCols = cols
		p.csvCols = map[string]int{}
		for _, c := range cols {
			p.csvCols[c.Name] = c.Index
		}
		p.csvWidth = len(cols)
	}
	st.srcByName = map[string]sourceColumn{}
	for _, c := range st.srcCols {
		st.srcByName[c.Name] = c
	}
	return true
}

// destinationTable loads the destination table, the current role and the
// table's rules from the catalog.
func (st *preparation) destinationTable() bool {
	s, p := st.s, st.p
	table := s.Table.String()
	t, err := catalog.LoadTable(st.ctx, st.dst, s.Table.Schema, s.Table.Name)
	if err != nil {
		st.add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: fmt.Sprintf("cannot read the catalog of %s: %s", s.Destination.Address(), describeError(err))})
		return false
	}
	role, err := catalog.CurrentRole(st.ctx, st.dst)
	if err != nil {
		st.add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: describeError(err)})
		return false
	}
	p.Role = role
	if t == nil {
		f := missingTable(s, st.srcCols, st.srcByName)
		// A suggestion is a courtesy: a catalog that cannot be listed
		// leaves the finding without one.
		if names, err := catalog.TableNames(st.ctx, st.dst, 10000); err == nil {
			if near := suggest.Closest(table, names); near != "" {
				f.Detail = strings.TrimSpace(fmt.Sprintf("Did you mean %q? %s", near, f.Detail))
			}
		}
		st.add(f)
		return false
	}
	if t.Kind != "r" && t.Kind != "p" {
		st.add(Finding{Severity: SeverityError, Code: CodeMissingTable,
			Summary: fmt.Sprintf("%s is not a table (relkind %q); rowform writes to tables", table, t.Kind)})
		return false
	}
	p.Table = t
	st.t = t
	if p.rules, err = catalog.LoadRules(st.ctx, st.dst, t); err != nil {
		st.add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: fmt.Sprintf("cannot read the catalog of %s: %s", s.Destination.Address(), describeError(err))})
		return false
	}
	if p.encoding, err = loadEncodingCheck(st.ctx, st.dst); err != nil {
		st.add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: fmt.Sprintf("cannot read the encoding of %s: %s", s.Destination.Address(), describeError(err))})
		return false
	}
	return true
}

// mapColumns checks the mapping against both sides: every key column is
// mapped, every mapped source column exists, every destination column
// exists and can be written. The writable ones become cols, keys first.
func (st *preparation) mapColumns() {
	s, t := st.s, st.t
	table := s.Table.String()
	mapping := effectiveMapping(s, st.srcCols)
	st.mappedDest = map[string]string{}
	for _, m := range mapping {
		st.mappedDest[m.Destination] = m.Source
	}
	for _, k := range s.Key {
		if _, ok := st.mappedDest[k]; !ok {
			st.add(Finding{Severity: SeverityError, Code: CodeMissingColumn,
				Summary: fmt.Sprintf("the key column %q is not among the source's columns", k),
				Detail:  fmt.Sprintf("The source returns: %s. Add a mapping for %q, or select a column named %q.%s", shownNames(names(st.srcCols)), k, k, st.delimiterHint())})
		}
	}

	st.keyIndex = map[string]int{}
	for i, k := range s.Key {
		st.keyIndex[k] = i
	}
	st.ordered = make([]hclconfig.ColumnMapping, 0, len(mapping))
	for _, k := range s.Key {
		if src, ok := st.mappedDest[k]; ok {
			st.ordered = append(st.ordered, hclconfig.ColumnMapping{Destination: k, Source: src})
		}
	}
	for _, m := range mapping {
		if _, isKey := st.keyIndex[m.Destination]; !isKey {
			st.ordered = append(st.ordered, m)
		}
	}
	for _, m := range st.ordered {
		sc, srcOK := st.srcByName[m.Source]
		if !srcOK {
			st.add(Finding{Severity: SeverityError, Code: CodeMissingColumn,
				Summary: fmt.Sprintf("the source has no column %q (mapped to %q)", m.Source, m.Destination),
				Detail: fmt.Sprintf("The source %s returns: %s.%s%s", s.Source.Address(), shownNames(names(st.srcCols)),
					suggest.DidYouMean(m.Source, names(st.srcCols)), st.delimiterHint())})
		}
		dc := t.Column(m.Destination)
		if dc == nil {
			hint := st.delimiterHint() // a header of one column: the delimiter is the problem
			if hint == "" {
				hint = unmappedColumnHint(s, m.Destination)
			}
			f := Finding{Severity: SeverityError, Code: CodeMissingColumn,
				Summary: fmt.Sprintf("%s has no column %q", table, m.Destination),
				Detail: fmt.Sprintf("The columns of %s are: %s.%s%s", table, shownNames(t.ColumnNames()),
					suggest.DidYouMean(m.Destination, t.ColumnNames()), hint)}
			if s.Mapping == nil && s.Source != nil && s.Source.Type == hclconfig.SourcePostgres && m.Destination == "?column?" {
				// PostgreSQL's name for an expression without AS: no one
				// means to add a column of that name.
				st.add(f)
				continue
			}
			typ := "text"
			if srcOK && sc.Type != "" {
				typ = sc.Type
			}
			f.Fix = fmt.Sprintf("ALTER TABLE %s ADD COLUMN %s %s;", catalog.VisibleIdent(t.Schema, t.Name), catalog.VisibleIdent(m.Destination), typ)
			st.add(f)
			continue
		}
		if dc.Generated != "" || dc.Identity == "a" {
			st.add(Finding{Severity: SeverityError, Code: CodeTypeMismatch,
				Summary: fmt.Sprintf("the column %q of %s cannot be written: it is a generated or GENERATED ALWAYS identity column", m.Destination, table),
				Detail:  generatedColumnHint(s, m.Source)})
			continue
		}
		if srcOK {
			col := newColumn(m.Destination, m.Source, *dc, s.IsSensitiveColumn(m.Destination))
			if s.Source.Type == hclconfig.SourcePostgres {
				col.viaType = col.textFallbackType(sc)
				col.refusesNow = col.castsNow(sc)
			}
			st.cols = append(st.cols, col)
		}
	}
}

// uniqueKey checks for a unique key on exactly the key columns, and for
// keys the diff cannot match as the unique key does (keyequality.go).
//
// A key column the table lacks is reported here when the mapping did not
// report it (the source lacks it too): no constraint can be offered on a
// column that does not exist.
func (st *preparation) uniqueKey() {
	s, t := st.s, st.t
	var absent []string
	for _, k := range s.Key {
		if t.Column(k) == nil {
			absent = append(absent, k)
		}
	}
	if len(absent) > 0 {
		for _, k := range absent {
			if _, mapped := st.mappedDest[k]; mapped {
				continue // mapColumns offered its ADD COLUMN
			}
			st.add(Finding{Severity: SeverityError, Code: CodeMissingColumn,
				Summary: fmt.Sprintf("%s has no column %q for the key", s.Table.String(), k),
				Detail: fmt.Sprintf("The key names the columns that match source rows to destination rows; %s has: %s.%s",
					s.Table.String(), shownNames(t.ColumnNames()), suggest.DidYouMean(k, t.ColumnNames()))})
		}
		return
	}
	if t.UniqueKeyOn(s.Key) == nil {
		name := s.Table.Name + "_" + strings.Join(s.Key, "_") + "_key"
		if len(name) > 63 {
			name = name[:63]
		}
		f := Finding{Severity: SeverityError, Code: CodeMissingUniqueConstraint,
			Summary: fmt.Sprintf("%s has no primary key or unique constraint on (%s)", s.Table.String(), strings.Join(s.Key, ", ")),
			Detail:  "rowform matches rows by key, so the key must be unique in the destination." + describeKeys(t),
			Fix:     fmt.Sprintf("ALTER TABLE %s ADD CONSTRAINT %s UNIQUE (%s);", t.Ident(), pgx.Identifier{name}.Sanitize(), catalog.IdentList(s.Key))}
		st.add(f)
	}
	for _, f := range keyEqualityFindings(s, t) {
		st.add(f)
	}
}

// notNullUnmapped reports NOT NULL columns without a default that the
// mapping leaves out, for behaviors that insert.
func (st *preparation) notNullUnmapped() {
	s, t := st.s, st.t
	if !s.Behavior.Inserts() {
		return
	}
	for _, c := range t.Columns {
		if _, mapped := st.mappedDest[c.Name]; mapped || !c.NeedsValue() {
			continue
		}
		if !c.NotNull {
			// COPY would store NULL there without a word (it checks a
			// domain only for the values it is given).
			st.add(Finding{Severity: SeverityError, Code: CodeNotNullUnmapped,
				Summary: fmt.Sprintf("the column %q of %s is of a NOT NULL domain (%s) without a default and is not mapped, so inserts would break it", c.Name, s.Table.String(), c.Type),
				Detail:  fmt.Sprintf("Map a source column to %q, or give the column a default.", c.Name)})
			continue
		}
		f := Finding{Severity: SeverityError, Code: CodeNotNullUnmapped,
			Summary: fmt.Sprintf("the column %q of %s is NOT NULL without a default and is not mapped, so inserts would fail", c.Name, s.Table.String()),
			Detail:  fmt.Sprintf("Map a source column to %q, give it a default, or drop NOT NULL (the fix below).", c.Name),
			Fix:     fmt.Sprintf("ALTER TABLE %s ALTER COLUMN %s DROP NOT NULL;", t.Ident(), pgx.Identifier{c.Name}.Sanitize())}
		if t.InPrimaryKey(c.Name) {
			// PostgreSQL refuses DROP NOT NULL on a primary key's column.
			f.Detail = fmt.Sprintf("It is part of the primary key, so it cannot be made nullable: map a source column to %q, or give it a default.%s", c.Name, st.delimiterHint())
			f.Fix = ""
		}
		st.add(f)
	}
}

// unmappedDomainDefaults reports, for behaviors that insert, an unmapped
// column of a domain whose default the domain refuses (DEFAULT -1 of a
// domain CHECK (VALUE > 0)): every insert would fail. The default is
// computed once, read-only (not one drawn from a sequence).
func (st *preparation) unmappedDomainDefaults() {
	s, t := st.s, st.t
	if !s.Behavior.Inserts() || st.p.rules == nil {
		return
	}
	for _, c := range t.Columns {
		def, ok := st.p.rules.Defaults[c.Name]
		if _, mapped := st.mappedDest[c.Name]; mapped || !ok || !c.IsDomain() || strings.Contains(def, "nextval(") {
			continue
		}
		err := tryQuery(st.ctx, st.dst, func() error {
			_, err := st.dst.Exec(st.ctx, fmt.Sprintf("SELECT (%s)::%s", def, c.Type))
			return err
		})
		if err == nil {
			continue
		}
		pgErr, isValue := isValueError(err)
		if !isValue {
			st.add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: fmt.Sprintf("computing the default of the column %q: %s", c.Name, describeError(err))})
			continue
		}
		st.add(Finding{Severity: SeverityError, Code: CodeNotNullUnmapped,
			Summary: fmt.Sprintf("the column %q of %s is not mapped, and its default %s is refused by its type %s (%s), so inserts would fail", c.Name, s.Table.String(), def, c.Type, pgErr.Message),
			Detail:  fmt.Sprintf("Map a source column to %q, or give the column a default its type accepts.", c.Name)})
	}
}

// sensitiveColumns reports a sensitive column that is neither written by
// the sync nor a column of the table: a misspelt name would otherwise leave
// the column it meant shown in plans.
func (st *preparation) sensitiveColumns() {
	s, t := st.s, st.t
	written := make([]string, 0, len(st.ordered))
	for _, m := range st.ordered {
		written = append(written, m.Destination)
	}
	for _, c := range s.SensitiveColumns {
		if _, mapped := st.mappedDest[c]; mapped || t.Column(c) != nil {
			continue
		}
		st.add(Finding{Severity: SeverityError, Code: CodeMissingColumn,
			Summary: fmt.Sprintf("sensitive_columns names %q, which is not a column of %s", c, s.Table.String()),
			Detail: fmt.Sprintf("Its values could not be hidden: the sync writes %s.%s",
				strings.Join(written, ", "), suggest.DidYouMean(c, written))})
	}
}

// delimiterHint is a sentence for findings about columns of a csv source
// whose header read as one field that holds another likely delimiter, as
// a semicolon-separated file read with the default comma does, or whose
// first header begins with a UTF-8 byte order mark read as LATIN1: ""
// otherwise.
func (st *preparation) delimiterHint() string {
	csv := st.s.Source.CSV
	if csv == nil {
		return ""
	}
	if strings.EqualFold(csv.Encoding, hclconfig.EncodingLatin1) && len(st.srcCols) > 0 && strings.HasPrefix(st.srcCols[0].Name, latin1BOM) {
		return fmt.Sprintf(" The file starts with a UTF-8 byte order mark, which LATIN1 reads as the characters %q before the first header: the file is UTF-8; remove encoding = %q from %s.",
			latin1BOM, csv.Encoding, st.s.Source.Address())
	}
	if len(st.srcCols) != 1 {
		return ""
	}
	header := st.srcCols[0].Name
	for _, d := range []rune{';', '\t', '|', ','} {
		if d != csv.Delimiter && strings.ContainsRune(header, d) {
			return fmt.Sprintf(" The file's header read as one column, %q: if its fields are separated by %q, set delimiter = %q in %s.",
				header, string(d), string(d), st.s.Source.Address())
		}
	}
	return ""
}

// latin1BOM is the UTF-8 byte order mark read as LATIN1.
const latin1BOM = "\u00ef\u00bb\u00bf"

// privileges reports every privilege the sync's behavior needs that the
// role lacks; without SELECT (or USAGE on the schema) rows cannot be read.
func (st *preparation) privileges() bool {
	s, t, role := st.s, st.t, st.p.Role
	need := catalog.Need{Temp: true}
	var all, nonKey []string
	for _, c := range st.cols {
		all = append(all, c.Dest)
		if _, isKey := st.keyIndex[c.Dest]; !isKey {
			nonKey = append(nonKey, c.Dest)
		}
	}
	need.Select = all
	if s.Behavior.Inserts() {
		need.Insert = all
	}
	if s.Behavior.Updates() {
		need.Update = nonKey
	}
	need.Delete = s.Behavior.Deletes()
	if s.Behavior.Inserts() {
		for _, c := range t.Columns {
			if _, mapped := st.mappedDest[c.Name]; !mapped && c.HasDefault {
				need.Defaults = append(need.Defaults, c.Name)
			}
		}
	}
	missing, err := catalog.MissingPrivileges(st.ctx, st.dst, t, role, need)
	if err != nil {
		st.add(Finding{Severity: SeverityError, Code: CodeConnectionFailed, Summary: describeError(err)})
		return false
	}
	readable := true
	for _, m := range missing {
		if m.Privilege == "SELECT" || (m.Privilege == "USAGE" && strings.HasPrefix(m.Object, "schema")) {
			st.blocked = true
			readable = false
		}
		on := m.Object
		if m.Columns != nil {
			on = fmt.Sprintf("column%s %s of %s", plural.S(len(m.Columns)), catalog.IdentList(m.Columns), m.Object)
		}
		st.add(Finding{Severity: SeverityError, Code: CodeMissingPrivilege,
			Summary: fmt.Sprintf("role %q lacks %s on %s", role, m.Privilege, on),
			Detail:  privilegeWhy(m, s.Behavior),
			Fix:     m.Fix})
	}
	if readable && s.Behavior.Deletes() {
		for _, f := range historyRowSelect(st.ctx, s, st.dst, t, role, all) {
			st.add(f)
		}
	}
	return true
}

// casts checks that the source's values convert to the destination's
// types (a postgres source's query, wrapped by the layout, is prepared).
func (st *preparation) casts() bool {
	if st.s.Source.Type != hclconfig.SourcePostgres {
		return true
	}
	fs := checkCasts(st.ctx, st.src, st.s, st.p.layout, st.srcByName)
	for _, f := range fs {
		st.add(f)
	}
	return len(fs) == 0
}

func privilegeWhy(m catalog.MissingPrivilege, b hclconfig.Behavior) string {
	switch m.Privilege {
	case "USAGE":
		if strings.HasPrefix(m.Object, "sequence") {
			return "Inserted rows take the default of a column the mapping leaves out, and that default calls this sequence."
		}
		return "Without USAGE on the schema the role cannot reach the table."
	case "SELECT":
		return "rowform reads the destination rows to compute the exact change set."
	case "INSERT":
		return fmt.Sprintf("The %s behavior inserts rows missing from the destination.", b)
	case "UPDATE":
		return fmt.Sprintf("The %s behavior updates rows whose values differ.", b)
	case "DELETE":
		return "The mirror behavior deletes rows missing from the source."
	case "TEMPORARY":
		return "apply writes the change set into temporary staging tables before merging it in one transaction."
	}
	return ""
}

func names(cols []sourceColumn) []string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c.Name
	}
	return out
}

// shownNames joins column names for a finding's detail: "id, email", with
// a name that holds a character that does not print (a zero-width space,
// a byte order mark) quoted and escaped as %q quotes it, "email\u200b".
func shownNames(cols []string) string {
	out := make([]string, len(cols))
	for i, c := range cols {
		out[i] = c
		if catalog.HasInvisible(c) {
			out[i] = strconv.Quote(c)
		}
	}
	return strings.Join(out, ", ")
}

func describeKeys(t *catalog.Table) string {
	var b strings.Builder
	switch {
	case len(t.UniqueKeys) == 0 && len(t.UnusableKeys) == 0:
		return " The table has no unique key at all."
	case len(t.UniqueKeys) == 0:
		b.WriteString(" The table has no unique key that can serve.")
	default:
		var parts []string
		for _, k := range t.UniqueKeys {
			parts = append(parts, fmt.Sprintf("%s %s (%s)", k.Kind, k.Name, strings.Join(k.Columns, ", ")))
		}
		b.WriteString(" Its unique keys: " + strings.Join(parts, "; ") + ".")
	}
	if len(t.UnusableKeys) > 0 {
		var parts []string
		for _, k := range t.UnusableKeys {
			parts = append(parts, fmt.Sprintf("%s is %s", k.Name, k.Why))
		}
		b.WriteString(" Unique indexes that cannot serve as the key: " + strings.Join(parts, "; ") + ".")
	}
	return b.String()
}

// effectiveMapping is the sync's mapping, or, when it was omitted, every
// source column to the destination column of the same name.
func effectiveMapping(s *hclconfig.Sync, srcCols []sourceColumn) []hclconfig.ColumnMapping {
	if s.Mapping != nil {
		return s.Mapping
	}
	out := make([]hclconfig.ColumnMapping, 0, len(srcCols))
	for _, c := range srcCols {
		out = append(out, hclconfig.ColumnMapping{Destination: c.Name, Source: c.Name})
	}
	return out
}

// missingTable is the finding for a destination table that does not exist,
// with a CREATE TABLE built from the source's columns when they are known.
func missingTable(s *hclconfig.Sync, srcCols []sourceColumn, byName map[string]sourceColumn) Finding {
	f := Finding{Severity: SeverityError, Code: CodeMissingTable,
		Summary: fmt.Sprintf("the table %s does not exist in %s", s.Table, s.Destination.Address())}
	var defs []string
	for _, m := range effectiveMapping(s, srcCols) {
		typ := "text"
		if c, ok := byName[m.Source]; ok && c.Type != "" {
			typ = c.Type
		}
		defs = append(defs, fmt.Sprintf("  %s %s", catalog.VisibleIdent(m.Destination), typ))
	}
	if len(defs) > 0 {
		key := make([]string, len(s.Key))
		for i, k := range s.Key {
			key[i] = catalog.VisibleIdent(k)
		}
		defs = append(defs, fmt.Sprintf("  PRIMARY KEY (%s)", strings.Join(key, ", ")))
		f.Fix = fmt.Sprintf("CREATE TABLE %s (\n%s\n);", catalog.VisibleIdent(s.Table.Schema, s.Table.Name), strings.Join(defs, ",\n"))
		f.Detail = "Check the column types in the fix: they are the source's types."
	}
	return f
}

// describeQuery prepares the source query (without running it) to learn its
// result columns and their types.
func describeQuery(ctx context.Context, src *pgx.Conn, s *hclconfig.Sync) ([]sourceColumn, *Finding) {
	sd, err := src.PgConn().Prepare(ctx, "", trimQuery(s.Query), nil)
	if err != nil {
		return nil, queryFinding(s, err)
	}
	var cols []sourceColumn
	seen := map[string]bool{}
	for i, fd := range sd.Fields {
		var typ, kind string
		if err := src.QueryRow(ctx, "SELECT format_type($1::oid, NULL), coalesce((SELECT typtype::text FROM pg_type WHERE oid = $1::oid), '')", fd.DataTypeOID).Scan(&typ, &kind); err != nil {
			return nil, queryFinding(s, err)
		}
		if seen[fd.Name] {
			return nil, &Finding{Severity: SeverityError, Code: CodeSourceQueryFailed,
				Summary: fmt.Sprintf("the query of sync %q returns two columns named %q", s.Name, fd.Name),
				Detail:  "Give each column a distinct name with AS."}
		}
		seen[fd.Name] = true
		col := sourceColumn{Name: fd.Name, Type: typ, Index: i}
		switch kind {
		case "b", "r", "m":
			// A base type, a range or a multirange: one whose text the
			// destination can read back (not a pseudo-type such as
			// record or anyarray, nor a table's row type).
			col.TypeOID = fd.DataTypeOID
		}
		cols = append(cols, col)
	}
	return cols, nil
}

// queryFinding turns a source query error into a finding with the server's
// message and the line and column of its position.
func queryFinding(s *hclconfig.Sync, err error) *Finding {
	msg := describeError(err)
	var pgErr *pgconn.PgError
	// An error in the query's text quotes a piece of it (syntax error at
	// or near "horse", Token "horse" is invalid), and so may one raised
	// as it runs (schema "hunter2" does not exist, of a secret cast to a
	// table name, folded to lower case): of a query computed from a
	// secret, that piece may be a word of the secret the output filter
	// would not know.
	mask := func(s string) string { return s }
	if s.QuerySensitive && errors.As(err, &pgErr) {
		mask = maskQuotedSpan
	}
	f := &Finding{Severity: SeverityError, Code: CodeSourceQueryFailed,
		Summary: fmt.Sprintf("the source query failed: %s", mask(msg))}
	if errors.As(err, &pgErr) {
		var detail []string
		if pgErr.Position > 0 {
			line, col := lineCol(trimQuery(s.Query), int(pgErr.Position))
			detail = append(detail, fmt.Sprintf("At line %d, column %d of the query.", line, col))
		}
		if pgErr.Detail != "" {
			detail = append(detail, mask(pgErr.Detail))
		}
		if pgErr.Hint != "" {
			detail = append(detail, "Hint: "+mask(pgErr.Hint))
		}
		f.Detail = strings.Join(detail, " ")
	}
	return f
}

// maskQuotedSpan masks what a server message quotes: everything from its
// first double quote to its last, since the piece quoted may hold quotes
// itself (a secret cut at its first quote would leave the rest for the
// output filter, which no longer sees it whole).
func maskQuotedSpan(s string) string {
	if i, j := strings.IndexByte(s, '"'), strings.LastIndexByte(s, '"'); i >= 0 && j > i {
		return s[:i] + `"` + Sensitive + `"` + s[j+1:]
	}
	return s
}

// lineCol converts a 1-based character position into line and column.
func lineCol(q string, pos int) (int, int) {
	line, col := 1, 1
	for i, r := range []rune(q) {
		if i+1 >= pos {
			break
		}
		if r == '\n' {
			line, col = line+1, 1
		} else {
			col++
		}
	}
	return line, col
}

// describeError renders a database error with its SQLSTATE, or the error.
func describeError(err error) string { return pgconnect.ErrorSummary(err) }

// checkCasts prepares the wrapped source query; when the server refuses it,
// it tells a query that cannot be wrapped (source_query_failed) from
// columns whose type does not convert (type_mismatch, one per column).
// Each probe runs under a savepoint, since a failed statement aborts the
// read-only transaction the source is read in.
func checkCasts(ctx context.Context, src *pgx.Conn, s *hclconfig.Sync, l *layout, byName map[string]sourceColumn) []Finding {
	q := trimQuery(s.Query)
	probe := func(sql string) error {
		if _, err := src.Exec(ctx, "SAVEPOINT rowform_probe"); err != nil {
			return err
		}
		_, err := src.PgConn().Prepare(ctx, "", sql, nil)
		if err != nil {
			_, _ = src.Exec(ctx, "ROLLBACK TO SAVEPOINT rowform_probe")
		}
		_, _ = src.Exec(ctx, "RELEASE SAVEPOINT rowform_probe")
		return err
	}
	sourceSQL := l.SourceSQL(s.Query, false)
	err := probe(sourceSQL)
	if err == nil {
		return nil
	}
	wrapped := fmt.Sprintf("SELECT * FROM (\n%s\n) AS q", q)
	if werr := probe(wrapped); werr != nil {
		f := queryFindingIn(s, werr, wrapped)
		f.Detail = strings.TrimSpace(f.Detail + " rowform reads the query as a subquery (SELECT ... FROM (<query>) q), so it must be a plain SELECT (data-modifying WITH clauses are not allowed).")
		return []Finding{*f}
	}
	var out []Finding
	for _, c := range l.Cols {
		perr := probe(fmt.Sprintf("SELECT (q.%s)::%s FROM (\n%s\n) AS q", pgx.Identifier{c.Source}.Sanitize(), c.CastType, q))
		if perr == nil || !isCastError(perr) {
			continue
		}
		out = append(out, Finding{Severity: SeverityError, Code: CodeTypeMismatch,
			Summary: fmt.Sprintf("the source column %q (%s) cannot be converted to %s, the type of %q", c.Source, byName[c.Source].Type, c.Catalog.Type, c.Dest),
			Detail:  fmt.Sprintf("The server says: %s. Cast it in the query, e.g. SELECT %s::%s.", describeError(perr), c.Source, c.Catalog.Type)})
	}
	if len(out) == 0 {
		out = append(out, *queryFindingIn(s, err, sourceSQL))
	}
	return out
}

// queryFindingIn is queryFinding for an error of sql, which holds the
// sync's query as a subquery: the error's position is moved back into the
// query (or dropped when it is outside it), so that the line and column
// are the query's own.
func queryFindingIn(s *hclconfig.Sync, err error, sql string) *Finding {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) && pgErr.Position > 0 {
		q := trimQuery(s.Query)
		at := int(pgErr.Position)
		pgErr.Position = 0
		if i := strings.Index(sql, q); i >= 0 {
			pos := at - utf8.RuneCountInString(sql[:i])
			if pos >= 1 && pos <= utf8.RuneCountInString(q)+1 {
				pgErr.Position = int32(pos)
			}
		}
	}
	return queryFinding(s, err)
}

// isCastError reports the server refusing a cast: cannot coerce (42846),
// datatype mismatch (42804), undefined function or type (42883, 42704).
func isCastError(err error) bool {
	var pgErr *pgconn.PgError
	if !errors.As(err, &pgErr) {
		return false
	}
	switch pgErr.Code {
	case "42846", "42804", "42883", "42704":
		return true
	}
	return false
}

// csvHeader reads the first record of a CSV file: its column names, or
// column1..N when the file has no header.
func csvHeader(f *hclconfig.CSVFile) ([]sourceColumn, error) {
	file, err := os.Open(f.Path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("%s: %s", f.Path, pe.Err)
		}
		return nil, err
	}
	defer file.Close()
	rec, err := newSourceCSVReader(file, f).Read()
	if errors.Is(err, io.EOF) {
		if f.Header {
			return nil, fmt.Errorf("%s is empty: a csv source with header = true needs at least its header line (the column names)", f.Path)
		}
		return nil, fmt.Errorf("%s is empty: with header = false its first line gives the columns, so it needs at least one line", f.Path)
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %v", f.Path, err)
	}
	var cols []sourceColumn
	seen := map[string]bool{}
	for i, fld := range rec {
		name := fmt.Sprintf("column%d", i+1)
		if f.Header {
			name = strings.TrimSpace(fld.Value)
			if name == "" {
				return nil, fmt.Errorf("%s: the header's field %d is empty", f.Path, i+1)
			}
			if seen[name] {
				return nil, fmt.Errorf("%s: the header names %q twice", f.Path, name)
			}
			seen[name] = true
		}
		cols = append(cols, sourceColumn{Name: name, Index: i})
	}
	return cols, nil
}

// Prepare checks a sync's structure on open connections, as plan does, for
// a caller that will diff it (apply). dst is the destination connection;
// src the source connection, nil for csv sources. It returns nil when a
// finding prevents the diff; the findings say why.
func Prepare(ctx context.Context, s *hclconfig.Sync, dst, src *pgx.Conn) (*Prepared, []Finding) {
	var fs []Finding
	p := prepare(ctx, s, dst, src, func(f Finding) { fs = append(fs, f) })
	return p, fs
}

// unmappedColumnHint is what a missing_column finding about the
// destination column dest adds for a sync without a mapping, whose source
// columns are written to the columns of their names: how to name the
// source's column after one of the table's instead. "" with a mapping.
func unmappedColumnHint(s *hclconfig.Sync, dest string) string {
	if s.Mapping != nil || s.Source == nil {
		return ""
	}
	if s.Source.Type == hclconfig.SourceCSV {
		return " The sync has no mapping, so every column of the CSV file is written to the column of its name: rename the column in the file's header, or give the sync a mapping (destination_column = \"source_column\")."
	}
	if s.Source.Type == hclconfig.SourcePostgres && dest == "?column?" {
		return " \"?column?\" is PostgreSQL's name for a column of the query that is an expression without AS; the sync has no mapping, so every source column is written to the column of its name: name it after a column of the table in the query (SELECT ... AS name)."
	}
	return " The sync has no mapping, so every source column is written to the column of its name: rename the column in the query (SELECT ... AS name), or give the sync a mapping (destination_column = \"source_column\")."
}

// generatedColumnHint says how to stop writing a generated column: out of
// the mapping, or, with no mapping (every source column by name), out of
// the source.
func generatedColumnHint(s *hclconfig.Sync, source string) string {
	if s.Mapping != nil {
		return "Remove it from the mapping."
	}
	what := "the source's query"
	if s.Source != nil && s.Source.Type == hclconfig.SourceCSV {
		what = "the CSV file"
	}
	return fmt.Sprintf("The sync has no mapping, so every source column is written to the column of its name: leave %q out of %s, or give the sync a mapping without it.", source, what)
}
