package rftest

import (
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/environ"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// FileSuffix marks test files.
const FileSuffix = hclconfig.TestFileSuffix

// Dir is the directory, inside the configuration directory, that holds the
// test files.
const Dir = "tests"

// File is one parsed test file.
type File struct {
	// Path is the file's path relative to the configuration directory
	// ("tests/users.rftest.hcl").
	Path string
	// Variables are values for the configuration's variables, for every
	// run.
	Variables map[string]cty.Value
	// VarRanges are where each variable of the file and of its runs is
	// set, for diagnostics.
	VarRanges map[string]hcl.Range
	// Fixtures are the file's fixtures, loaded before the first run.
	Fixtures []*Fixture
	Runs     []*RunBlock
}

// Fixture is a destination or source block of a test file: what a server or
// a CSV source holds before a run.
type Fixture struct {
	// Kind is "destination" or "source"; Type "postgres" or "csv"; Name
	// the block's name in the configuration.
	Kind, Type, Name string
	// SQL runs on the server's test database before the tables are filled.
	SQL string
	// Tables are filled in order (postgres only).
	Tables []*TableFixture
	// CSV is the content of a csv source (csv only).
	CSV *CSVFixture
	// Range is the block's header, for diagnostics.
	Range hcl.Range
}

// Address is the configuration address the fixture is for:
// "destination.postgres.crm", "source.csv.users".
func (f *Fixture) Address() string { return f.Kind + "." + f.Type + "." + f.Name }

// TableFixture is the rows a table holds: inline rows or a CSV file.
type TableFixture struct {
	Table hclconfig.TableName
	// Columns are the types of the columns, for creating a table that does
	// not exist (name -> SQL type).
	Columns map[string]string
	Rows    *Rows
	Range   hcl.Range
}

// CSVFixture is the content of a csv source.
type CSVFixture struct {
	// Content is the file's text; set when given as content or path.
	Content *string
	// FromPath is set when Content holds the bytes of a file (path), to
	// be written as they are; content and rows are text, written in the
	// source's encoding.
	FromPath bool
	// Rows are written as CSV with a header (rows = [...]).
	Rows *Rows
}

// Rows is a set of rows: their column names and values (nil is NULL), as
// written in a test file.
type Rows struct {
	Columns []string
	Values  [][]*string
	// From says where they came from, for messages: "rows" or a CSV path.
	From string
	// Types are the SQL types the values suggest, per column, for
	// creating a table that does not exist: bigint, numeric, boolean,
	// jsonb or text (always text for rows read from CSV).
	Types []string
}

// RunBlock is one run of a test file.
type RunBlock struct {
	Name string
	// Command is "plan" or "apply".
	Command string
	// Syncs limits the run to these syncs (and those they depend on);
	// SyncsRange is where they are set.
	Syncs      []string
	SyncsRange hcl.Range
	Variables  map[string]cty.Value
	// VarRanges are where the run's variables block sets each variable.
	VarRanges map[string]hcl.Range
	// Fixtures change the servers and CSV sources before this run.
	Fixtures     []*Fixture
	ExpectPlans  []*ExpectPlan
	ExpectTables []*ExpectTable
	Range        hcl.Range
}

// ExpectPlan is what a run's plan must show for one sync. A nil field is not
// checked.
type ExpectPlan struct {
	Sync                                                 string
	Insert, Update, Delete, Unchanged, Skipped, Rejected *int64
	// Findings are the finding codes the sync's plan must have, exactly
	// (order and repeats ignored); nil is not checked.
	Findings []string
	Range    hcl.Range
}

// ExpectTable is what a table must hold after a run.
type ExpectTable struct {
	Table hclconfig.TableName
	// Server is the address of the table's server ("destination.postgres.crm");
	// "" picks it from the configuration. ServerRange is where it is set.
	Server      string
	ServerRange hcl.Range
	// Rows are the rows the table must hold, compared on Columns (default:
	// the columns the rows name); nil: not checked.
	Rows *Rows
	// Columns limits the comparison to these columns.
	Columns []string
	// Count is the number of rows the table must hold; nil: not checked.
	Count *int64
	Range hcl.Range
}

var fileSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variables"},
		{Type: "destination", LabelNames: []string{"type", "name"}},
		{Type: "source", LabelNames: []string{"type", "name"}},
		{Type: "run", LabelNames: []string{"name"}},
	},
}

var runSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "command"}, {Name: "syncs"}},
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variables"},
		{Type: "destination", LabelNames: []string{"type", "name"}},
		{Type: "source", LabelNames: []string{"type", "name"}},
		{Type: "expect_plan", LabelNames: []string{"sync"}},
		{Type: "expect_table", LabelNames: []string{"table"}},
	},
}

var postgresFixtureSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "sql"}},
	Blocks:     []hcl.BlockHeaderSchema{{Type: "table", LabelNames: []string{"name"}}},
}

var tableFixtureSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "rows"}, {Name: "csv"}, {Name: "columns"}},
}

var csvFixtureSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "content"}, {Name: "path"}, {Name: "rows"}},
}

var expectPlanSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "insert"}, {Name: "update"}, {Name: "delete"}, {Name: "unchanged"},
		{Name: "skipped"}, {Name: "rejected"}, {Name: "findings"},
	},
}

var expectTableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{{Name: "server"}, {Name: "rows"}, {Name: "csv"}, {Name: "columns"}, {Name: "count"}},
}

// FindFiles returns the test files of the configuration directory dir:
// every *.rftest.hcl file in dir/tests, as paths relative to dir, sorted.
func FindFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(dir, Dir))
	if err != nil {
		return nil, err
	}
	var out []string
	for _, e := range entries {
		if !e.IsDir() && strings.HasSuffix(e.Name(), FileSuffix) {
			out = append(out, filepath.Join(Dir, e.Name()))
		}
	}
	slices.Sort(out)
	return out, nil
}

// parser parses test files of one configuration directory.
type parser struct {
	dir   string
	p     *hclparse.Parser
	ctx   *hcl.EvalContext
	diags hcl.Diagnostics
	// varRanges collects where the file being parsed sets variables.
	varRanges map[string]hcl.Range
}

func newParser(dir string, envList []string) *parser {
	env := environ.Map(envList)
	lookup := func(name string) (string, bool) { v, ok := env[name]; return v, ok }
	return &parser{dir: dir, p: hclparse.NewParser(),
		ctx: &hcl.EvalContext{Functions: hclconfig.Functions(dir, lookup, false)}}
}

// Files are the parsed files, for diagnostic snippets.
func (ps *parser) Files() map[string]*hcl.File { return ps.p.Files() }

func (ps *parser) errorf(rng *hcl.Range, summary, format string, args ...any) {
	ps.diags = append(ps.diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: summary,
		Detail: fmt.Sprintf(format, args...), Subject: rng})
}

// parseFile parses the test file at rel (relative to the configuration
// directory).
func (ps *parser) parseFile(rel string) (*File, hcl.Diagnostics) {
	ps.diags = nil
	src, err := os.ReadFile(filepath.Join(ps.dir, rel))
	if err != nil {
		ps.errorf(nil, "Cannot read a test file", "%s: %s", rel, err)
		return nil, ps.diags
	}
	f, diags := ps.p.ParseHCL(src, rel)
	ps.diags = append(ps.diags, diags...)
	if f == nil {
		return nil, ps.diags
	}
	content, diags := f.Body.Content(fileSchema)
	ps.diags = append(ps.diags, diags...)
	tf := &File{Path: rel, VarRanges: map[string]hcl.Range{}}
	ps.varRanges = tf.VarRanges
	names := map[string]hcl.Range{}
	for _, b := range content.Blocks {
		switch b.Type {
		case "variables":
			if tf.Variables != nil {
				ps.errorf(b.DefRange.Ptr(), "Duplicate variables block", "A test file has at most one variables block.")
				continue
			}
			var ranges map[string]hcl.Range
			tf.Variables, ranges = ps.variables(b)
			maps.Copy(tf.VarRanges, ranges) // the file's block, wherever it is among the runs
		case "destination", "source":
			if fx := ps.fixture(b); fx != nil {
				tf.Fixtures = append(tf.Fixtures, fx)
			}
		case "run":
			name := b.Labels[0]
			if prev, ok := names[name]; ok {
				ps.errorf(b.LabelRanges[0].Ptr(), "Duplicate run name", "A run named %q is already declared at %s:%d.", name, prev.Filename, prev.Start.Line)
				ps.run(b) // for the problems inside it, reported at once
				continue
			}
			names[name] = b.DefRange
			tf.Runs = append(tf.Runs, ps.run(b))
		}
	}
	if len(tf.Runs) == 0 && !ps.diags.HasErrors() {
		ps.errorf(nil, "No runs", "The test file %s has no run block: add at least one, e.g. run \"apply\" { expect_plan \"SYNC\" { insert = 1 } }.", rel)
	}
	return tf, ps.diags
}

// variables evaluates a variables block, and says where it sets each
// variable.
func (ps *parser) variables(b *hcl.Block) (map[string]cty.Value, map[string]hcl.Range) {
	attrs, diags := b.Body.JustAttributes()
	ps.diags = append(ps.diags, diags...)
	out := map[string]cty.Value{}
	ranges := map[string]hcl.Range{}
	for name, a := range attrs {
		ranges[name] = a.NameRange
		if _, seen := ps.varRanges[name]; !seen {
			ps.varRanges[name] = a.NameRange
		}
		v, diags := a.Expr.Value(ps.ctx)
		ps.diags = append(ps.diags, diags...)
		if !diags.HasErrors() {
			out[name] = v
		}
	}
	return out, ranges
}

func (ps *parser) fixture(b *hcl.Block) *Fixture {
	fx := &Fixture{Kind: b.Type, Type: b.Labels[0], Name: b.Labels[1], Range: b.DefRange}
	switch {
	case fx.Type == "postgres":
		content, diags := b.Body.Content(postgresFixtureSchema)
		ps.diags = append(ps.diags, diags...)
		if s, ok := ps.str(content, "sql"); ok {
			fx.SQL = s
		}
		for _, tb := range content.Blocks {
			if t := ps.tableFixture(tb); t != nil {
				fx.Tables = append(fx.Tables, t)
			}
		}
	case fx.Type == "csv" && fx.Kind == "source":
		content, diags := b.Body.Content(csvFixtureSchema)
		ps.diags = append(ps.diags, diags...)
		fx.CSV = &CSVFixture{}
		given := 0
		if s, ok := ps.str(content, "content"); ok {
			fx.CSV.Content = &s
			given++
		}
		if p, ok := ps.str(content, "path"); ok {
			given++
			src, err := os.ReadFile(ps.path(p))
			if err != nil {
				ps.errorf(content.Attributes["path"].Expr.Range().Ptr(), "Cannot read the CSV file", "%s", err)
			} else {
				s := string(src)
				fx.CSV.Content = &s
				fx.CSV.FromPath = true
			}
		}
		if a, ok := content.Attributes["rows"]; ok {
			given++
			fx.CSV.Rows = ps.rows(a)
		}
		if given != 1 {
			ps.errorf(b.DefRange.Ptr(), "Invalid CSV fixture", "Give the CSV source's content in exactly one of content, path or rows.")
		}
	default:
		ps.errorf(b.LabelRanges[0].Ptr(), "Unsupported fixture type",
			"A test file gives fixtures for destination \"postgres\", source \"postgres\" and source \"csv\" blocks, not %s %q.", b.Type, fx.Type)
		return nil
	}
	return fx
}

func (ps *parser) tableFixture(b *hcl.Block) *TableFixture {
	t := &TableFixture{Range: b.DefRange}
	tn, err := hclconfig.ParseTableName(b.Labels[0])
	if err != nil {
		ps.errorf(b.LabelRanges[0].Ptr(), "Invalid table", "%s. Write the table as \"schema.table\" or \"table\" (schema public).", err)
		return nil
	}
	t.Table = tn
	content, diags := b.Body.Content(tableFixtureSchema)
	ps.diags = append(ps.diags, diags...)
	if a, ok := content.Attributes["columns"]; ok {
		v, ok := ps.value(a, cty.Map(cty.String))
		if ok {
			t.Columns = map[string]string{}
			for k, e := range v.AsValueMap() {
				if e.IsNull() {
					ps.errorf(a.Expr.Range().Ptr(), "Invalid columns", "The type of column %q is null.", k)
					continue
				}
				t.Columns[k] = e.AsString()
			}
		}
	}
	t.Rows = ps.rowsOrCSV(content, b.DefRange)
	return t
}

// rowsOrCSV reads the rows = [...] or csv = "FILE" attribute of a block;
// exactly one must be given.
func (ps *parser) rowsOrCSV(content *hcl.BodyContent, rng hcl.Range) *Rows {
	ra, hasRows := content.Attributes["rows"]
	ca, hasCSV := content.Attributes["csv"]
	switch {
	case hasRows && hasCSV:
		ps.errorf(ca.NameRange.Ptr(), "Conflicting attributes", "Give the rows either inline (rows) or as a CSV file (csv), not both.")
		return nil
	case hasRows:
		return ps.rows(ra)
	case hasCSV:
		p, ok := ps.str(content, "csv")
		if !ok {
			return nil
		}
		r, err := readCSVRows(ps.path(p))
		if err != nil {
			ps.errorf(ca.Expr.Range().Ptr(), "Cannot read the CSV file", "%s", err)
			return nil
		}
		r.From = p
		return r
	}
	return nil
}

// rows evaluates a rows = [ { col = value, ... }, ... ] attribute.
func (ps *parser) rows(a *hcl.Attribute) *Rows {
	v, diags := a.Expr.Value(ps.ctx)
	ps.diags = append(ps.diags, diags...)
	if diags.HasErrors() {
		return nil
	}
	v, _ = v.UnmarkDeep()
	if v.IsNull() || !v.IsWhollyKnown() || !(v.Type().IsListType() || v.Type().IsTupleType() || v.Type().IsSetType()) {
		ps.errorf(a.Expr.Range().Ptr(), "Invalid rows", "rows must be a list of objects, one per row: [{ id = 1, name = \"Ada\" }, ...].")
		return nil
	}
	r := &Rows{From: "rows"}
	index := map[string]int{}
	var maps []map[string]cty.Value
	for it := v.ElementIterator(); it.Next(); {
		_, e := it.Element()
		if e.IsNull() || !(e.Type().IsObjectType() || e.Type().IsMapType()) {
			ps.errorf(a.Expr.Range().Ptr(), "Invalid rows", "Each row must be an object: { id = 1, name = \"Ada\" }.")
			return nil
		}
		m := e.AsValueMap()
		for _, k := range slices.Sorted(mapsKeys(m)) {
			if _, ok := index[k]; !ok {
				index[k] = len(r.Columns)
				r.Columns = append(r.Columns, k)
			}
		}
		maps = append(maps, m)
	}
	r.Types = make([]string, len(r.Columns))
	for _, m := range maps {
		for k, e := range m {
			r.Types[index[k]] = mergeType(r.Types[index[k]], sqlType(e))
		}
	}
	for i, t := range r.Types {
		if t == "" {
			r.Types[i] = "text"
		}
	}
	for _, m := range maps {
		row := make([]*string, len(r.Columns))
		present := make([]bool, len(r.Columns))
		for k, e := range m {
			s, err := valueText(e)
			if err != nil {
				ps.errorf(a.Expr.Range().Ptr(), "Invalid rows", "Column %q: %s.", k, err)
				return nil
			}
			row[index[k]] = s
			present[index[k]] = true
		}
		for i, ok := range present {
			if !ok {
				ps.errorf(a.Expr.Range().Ptr(), "Invalid rows",
					"A row has no value for column %q, which another row names: give every row the same columns (null for NULL).", r.Columns[i])
				return nil
			}
		}
		r.Values = append(r.Values, row)
	}
	return r
}

func mapsKeys(m map[string]cty.Value) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

func (ps *parser) run(b *hcl.Block) *RunBlock {
	r := &RunBlock{Name: b.Labels[0], Command: "apply", Range: b.DefRange}
	content, diags := b.Body.Content(runSchema)
	ps.diags = append(ps.diags, diags...)
	if c, ok := ps.str(content, "command"); ok {
		if c != "plan" && c != "apply" {
			ps.errorf(content.Attributes["command"].Expr.Range().Ptr(), "Invalid command", "command must be \"plan\" or \"apply\", not %q.", c)
		}
		r.Command = c
	}
	if a, ok := content.Attributes["syncs"]; ok {
		r.SyncsRange = a.Expr.Range()
		if names, ok := ps.strList(a); ok {
			r.Syncs = append(r.Syncs, names...)
		}
	}
	for _, cb := range content.Blocks {
		switch cb.Type {
		case "variables":
			if r.Variables != nil {
				ps.errorf(cb.DefRange.Ptr(), "Duplicate variables block", "A run has at most one variables block.")
				continue
			}
			r.Variables, r.VarRanges = ps.variables(cb)
		case "destination", "source":
			if fx := ps.fixture(cb); fx != nil {
				r.Fixtures = append(r.Fixtures, fx)
			}
		case "expect_plan":
			e := ps.expectPlan(cb)
			if i := slices.IndexFunc(r.ExpectPlans, func(p *ExpectPlan) bool { return p.Sync == e.Sync }); i >= 0 {
				prev := r.ExpectPlans[i].Range
				ps.errorf(cb.LabelRanges[0].Ptr(), "Duplicate expect_plan", "The run already has an expect_plan %q, at %s:%d: give each sync one, with every count and finding it expects.", e.Sync, prev.Filename, prev.Start.Line)
				continue
			}
			r.ExpectPlans = append(r.ExpectPlans, e)
		case "expect_table":
			if et := ps.expectTable(cb); et != nil {
				r.ExpectTables = append(r.ExpectTables, et)
			}
		}
	}
	return r
}

func (ps *parser) expectPlan(b *hcl.Block) *ExpectPlan {
	e := &ExpectPlan{Sync: b.Labels[0], Range: b.DefRange}
	content, diags := b.Body.Content(expectPlanSchema)
	ps.diags = append(ps.diags, diags...)
	for name, dst := range map[string]**int64{"insert": &e.Insert, "update": &e.Update, "delete": &e.Delete,
		"unchanged": &e.Unchanged, "skipped": &e.Skipped, "rejected": &e.Rejected} {
		if n, ok := ps.count(content, name); ok {
			*dst = &n
		}
	}
	if a, ok := content.Attributes["findings"]; ok {
		if codes, ok := ps.strList(a); ok {
			e.Findings = codes
		}
	}
	return e
}

func (ps *parser) expectTable(b *hcl.Block) *ExpectTable {
	e := &ExpectTable{Range: b.DefRange}
	tn, err := hclconfig.ParseTableName(b.Labels[0])
	if err != nil {
		ps.errorf(b.LabelRanges[0].Ptr(), "Invalid table", "%s. Write the table as \"schema.table\" or \"table\" (schema public).", err)
		return nil
	}
	e.Table = tn
	content, diags := b.Body.Content(expectTableSchema)
	ps.diags = append(ps.diags, diags...)
	if a, ok := content.Attributes["server"]; ok {
		tr, diags := hcl.AbsTraversalForExpr(a.Expr)
		addr := ""
		if !diags.HasErrors() && len(tr) == 3 {
			addr = traversalAddress(tr)
		}
		if !strings.HasPrefix(addr, "destination.postgres.") && !strings.HasPrefix(addr, "source.postgres.") {
			ps.errorf(a.Expr.Range().Ptr(), "Invalid server", "server must be a reference to a server of the configuration, as destination.postgres.NAME or source.postgres.NAME.")
		}
		e.Server, e.ServerRange = addr, a.Expr.Range()
	}
	e.Rows = ps.rowsOrCSV(content, b.DefRange)
	if a, ok := content.Attributes["columns"]; ok {
		if cols, ok := ps.strList(a); ok {
			e.Columns = append(e.Columns, cols...)
		}
	}
	if n, ok := ps.count(content, "count"); ok {
		e.Count = &n
	}
	if e.Rows == nil && e.Count == nil && !ps.diags.HasErrors() {
		ps.errorf(b.DefRange.Ptr(), "Nothing to expect", "An expect_table block needs rows, csv or count.")
	}
	if e.Columns != nil && e.Rows == nil {
		ps.errorf(content.Attributes["columns"].NameRange.Ptr(), "Columns without rows", "columns chooses the columns rows are compared on; give rows or csv too.")
	}
	if a, ok := content.Attributes["rows"]; ok && e.Columns != nil && e.Rows != nil {
		// A value written in the test file and never compared would let a
		// wrong one pass; a CSV file may hold more columns than compared.
		for _, c := range e.Rows.Columns {
			if !slices.Contains(e.Columns, c) {
				ps.errorf(a.Expr.Range().Ptr(), "Value that is not compared", "The rows give %q, which columns leaves out, so its values would not be checked. Add %q to columns, or leave it out of the rows.", c, c)
				break
			}
		}
	}
	return e
}

func traversalAddress(tr hcl.Traversal) string {
	var parts []string
	for _, step := range tr {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			parts = append(parts, s.Name)
		case hcl.TraverseAttr:
			parts = append(parts, s.Name)
		default:
			return ""
		}
	}
	return strings.Join(parts, ".")
}

// value evaluates an attribute and converts it to want.
func (ps *parser) value(a *hcl.Attribute, want cty.Type) (cty.Value, bool) {
	v, diags := a.Expr.Value(ps.ctx)
	ps.diags = append(ps.diags, diags...)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	v, _ = v.UnmarkDeep()
	cv, err := convert.Convert(v, want)
	if err != nil || cv.IsNull() || !cv.IsWhollyKnown() {
		msg := "null is not a value for it"
		if err != nil {
			msg = err.Error()
		}
		ps.errorf(a.Expr.Range().Ptr(), "Incorrect attribute value type", "Inappropriate value for attribute %q: %s.", a.Name, msg)
		return cty.NilVal, false
	}
	return cv, true
}

// strList evaluates a list of strings (never nil when ok); a null among
// them is an error.
func (ps *parser) strList(a *hcl.Attribute) ([]string, bool) {
	v, ok := ps.value(a, cty.List(cty.String))
	if !ok {
		return nil, false
	}
	out := []string{}
	for _, e := range v.AsValueSlice() {
		if e.IsNull() {
			ps.errorf(a.Expr.Range().Ptr(), "Incorrect attribute value type", "Inappropriate value for attribute %q: a list of strings, with no null in it.", a.Name)
			return nil, false
		}
		out = append(out, e.AsString())
	}
	return out, true
}

func (ps *parser) str(c *hcl.BodyContent, name string) (string, bool) {
	a, ok := c.Attributes[name]
	if !ok {
		return "", false
	}
	v, ok := ps.value(a, cty.String)
	if !ok {
		return "", false
	}
	return v.AsString(), true
}

// count evaluates a whole number ≥ 0.
func (ps *parser) count(c *hcl.BodyContent, name string) (int64, bool) {
	a, ok := c.Attributes[name]
	if !ok {
		return 0, false
	}
	v, ok := ps.value(a, cty.Number)
	if !ok {
		return 0, false
	}
	bf := v.AsBigFloat()
	n, acc := bf.Int64()
	if !bf.IsInt() || acc != 0 || n < 0 {
		ps.errorf(a.Expr.Range().Ptr(), "Invalid "+name, "%s must be a whole number, 0 or more.", name)
		return 0, false
	}
	return n, true
}

// path resolves a path of a test file: relative to the configuration
// directory, as every path of the configuration is.
func (ps *parser) path(p string) string {
	if strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			p = filepath.Join(home, p[2:])
		}
	}
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(ps.dir, p)
}

// sqlType is the SQL type a value of a test file suggests; "" for null.
func sqlType(v cty.Value) string {
	v, _ = v.UnmarkDeep()
	switch {
	case v.IsNull() || !v.IsKnown():
		return ""
	case v.Type() == cty.String:
		return "text"
	case v.Type() == cty.Bool:
		return "boolean"
	case v.Type() == cty.Number:
		if v.AsBigFloat().IsInt() {
			return "bigint"
		}
		return "numeric"
	}
	return "jsonb"
}

// mergeType is the type of a column holding values of types a and b.
func mergeType(a, b string) string {
	switch {
	case a == "" || a == b:
		return b
	case b == "":
		return a
	case (a == "bigint" && b == "numeric") || (a == "numeric" && b == "bigint"):
		return "numeric"
	}
	return "text"
}
