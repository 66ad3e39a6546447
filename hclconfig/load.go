package hclconfig

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/rowform/rowform/internal/environ"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// rootSchema lists the top-level blocks of a configuration file.
var rootSchema = &hcl.BodySchema{
	Blocks: []hcl.BlockHeaderSchema{
		{Type: "variable", LabelNames: []string{"name"}},
		{Type: "locals"},
		{Type: "destination", LabelNames: []string{"type", "name"}},
		{Type: "source", LabelNames: []string{"type", "name"}},
		{Type: "sync", LabelNames: []string{"name"}},
	},
}

// VarFileSuffix marks variable value files, which are not part of the configuration.
const VarFileSuffix = ".vars.hcl"

// TestFileSuffix marks rowform test files (rowform test), which are not
// part of the configuration either.
const TestFileSuffix = ".rftest.hcl"

// ConfigFiles returns the configuration files of dir: every *.hcl file
// directly inside it except *.vars.hcl and *.rftest.hcl, sorted by name.
func ConfigFiles(dir string) ([]string, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		n := e.Name()
		if e.IsDir() || !strings.HasSuffix(n, ".hcl") || strings.HasSuffix(n, VarFileSuffix) || strings.HasSuffix(n, TestFileSuffix) {
			continue
		}
		files = append(files, filepath.Join(dir, n))
	}
	sort.Strings(files)
	return files, nil
}

// loader holds the state of one Load call.
type loader struct {
	dir    string
	in     Inputs
	parser *hclparse.Parser
	env    map[string]string
	cfg    *Config
	diags  hcl.Diagnostics

	varDecls   map[string]*varDecl
	varOrder   []string
	localDecls map[string]*hcl.Attribute
	ctx        *hcl.EvalContext
	// budget bounds what one evaluation builds (buildbudget.go).
	budget buildBudget

	destBlocks   []*hcl.Block
	sourceBlocks []*hcl.Block
	syncBlocks   []*hcl.Block
	declared     map[string]hcl.Range // "destination.postgres.x" -> range, for duplicates
	values       map[string]cty.Value // final variable values
	// varFileSnippets are the -var-files with every value blanked out,
	// by name: diagnostics about them show where a variable is set, never
	// its value (it may be a secret).
	varFileSnippets map[string]*hcl.File
	secrets         map[string]bool // secret strings seen, for Config.Secrets
	// secretVars are the variables a secret attribute's expression reads,
	// directly or through locals, by any function (secretRefs).
	secretVars map[string]bool
	// envValues are the values env() returned; each is a secret but a
	// number or bool that was only read by number and bool attributes
	// (numberUses): a port, a limit, history = false.
	envValues, numberUses map[string]bool
	// manifests are the dbt manifests read, by project directory.
	manifests map[string]*manifestLoad
}

// Load reads every *.hcl file directly in dir (excluding *.vars.hcl),
// evaluates it with the given inputs and checks it against docs/language.md.
//
// The returned *Config is never nil and its Files field is always set, so
// diagnostics can be rendered with snippets even when diags has errors. The
// other fields are only complete when !diags.HasErrors(). Every problem found
// is reported; Load does not stop at the first.
func Load(dir string, in Inputs) (*Config, hcl.Diagnostics) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		abs = dir
	}
	l := &loader{
		dir:    abs,
		in:     in,
		parser: hclparse.NewParser(),
		env:    environ.Map(in.Environ),
		cfg: &Config{
			Dir:          abs,
			Files:        map[string]*hcl.File{},
			Variables:    map[string]*Variable{},
			Destinations: map[string]*Server{},
			Sources:      map[string]*Source{},
		},
		varDecls:   map[string]*varDecl{},
		localDecls: map[string]*hcl.Attribute{},
		declared:   map[string]hcl.Range{},
		values:     map[string]cty.Value{},
	}
	values := l.values
	l.cfg.values = func() map[string]cty.Value { return values }
	l.secrets, l.envValues, l.numberUses = map[string]bool{}, map[string]bool{}, map[string]bool{}
	l.secretVars = map[string]bool{}
	l.cfg.secretVars = l.secretVars
	secrets := l.secrets
	l.cfg.secrets = func() []string {
		out := make([]string, 0, len(secrets))
		for s := range secrets {
			out = append(out, s)
		}
		sort.Strings(out)
		return out
	}
	l.cfg.Files = l.parser.Files()
	l.load()
	l.envSecrets()
	l.cfg.Files = l.parser.Files()
	for name, f := range l.varFileSnippets {
		if _, ok := l.cfg.Files[name]; !ok {
			l.cfg.Files[name] = f
		}
	}
	if !l.diags.HasErrors() {
		l.diags = append(l.diags, guessableSecrets(l.cfg)...)
	}
	boundDiagnostics(l.diags)
	sortDiagnostics(l.diags)
	if !l.diags.HasErrors() {
		l.cfg.Digest = digest(l.cfg)
	}
	return l.cfg, l.diags
}

func (l *loader) lookupEnv(name string) (string, bool) {
	v, ok := l.env[name]
	if ok {
		l.envValues[v] = true
	}
	return v, ok
}

// envSecrets makes secrets of the values env() returned, but a number or
// bool that only number and bool attributes read: masking "5432" or
// "true" wherever they appear in output would corrupt counts and JSON, and
// hide nothing worth hiding.
func (l *loader) envSecrets() {
	for v := range l.envValues {
		if l.numberUses[v] && plainNumberOrBool(v) {
			continue
		}
		l.secret(v)
	}
}

// plainNumberOrBool reports whether v reads as a number or as true or
// false: only such an env() value can have been read by number and bool
// attributes alone.
func plainNumberOrBool(v string) bool {
	v = strings.TrimSpace(v)
	if v == "true" || v == "false" {
		return true
	}
	_, err := strconv.ParseFloat(v, 64)
	return err == nil
}

// secret records a secret string for Config.Secrets.
func (l *loader) secret(s string) {
	if s != "" {
		l.secrets[s] = true
	}
}

// secretRefs records the variables that attr, a secret attribute (a
// password, a key, a passphrase), reads: directly, or through the locals it
// reads, however they transform the value (lower(var.pw), a replace(), a
// join). Those variables hold a secret in another form, which no search
// for the secret's text finds, so Config.FeedsSecret names them, and their
// values are secrets too.
func (l *loader) secretRefs(attr *hcl.Attribute) {
	if attr == nil {
		return
	}
	seen := map[string]bool{}
	stack := [][]hcl.Traversal{attr.Expr.Variables()}
	for len(stack) > 0 {
		refs := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		for _, t := range refs {
			name := attrName(t)
			switch t.RootName() {
			case "var":
				if name != "" && !l.secretVars[name] {
					l.secretVars[name] = true
					if v, ok := l.values[name]; ok {
						l.secretValue(v)
					}
				}
			case "local":
				if a, ok := l.localDecls[name]; ok && !seen[name] {
					seen[name] = true
					stack = append(stack, a.Expr.Variables())
				}
			}
		}
	}
}

// sourceText is the text of the configuration at rng ("" when unknown).
func (l *loader) sourceText(rng *hcl.Range) string {
	if rng == nil {
		return ""
	}
	return l.cfg.sourceText(*rng)
}

// rootSecret records a secret as given, a sensitive variable's value.
func (l *loader) rootSecret(v cty.Value) { l.secretValue(v) }

// secretValue records the strings and numbers inside a sensitive value.
func (l *loader) secretValue(v cty.Value) {
	v, _ = v.UnmarkDeep()
	if !v.IsWhollyKnown() || v.IsNull() {
		return
	}
	switch {
	case v.Type() == cty.String:
		l.secret(v.AsString())
	case v.Type() == cty.Number:
		l.secret(v.AsBigFloat().Text('f', -1))
	case v.CanIterateElements():
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			l.secretValue(e)
		}
	}
}

func (l *loader) addDiags(d hcl.Diagnostics) { l.diags = append(l.diags, d...) }

func (l *loader) errorf(rng *hcl.Range, summary, detailFormat string, args ...any) {
	l.diags = append(l.diags, &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  summary,
		Detail:   fmt.Sprintf(detailFormat, args...),
		Subject:  rng,
	})
}

func (l *loader) load() {
	files, err := ConfigFiles(l.dir)
	if err != nil {
		l.errorf(nil, "Cannot read the configuration directory", "%s", err)
		return
	}
	if len(files) == 0 {
		l.errorf(nil, "No configuration files", "The directory %s has no *.hcl files. Run rowform in the directory that holds your configuration, or pass -chdir=DIR.", l.dir)
		return
	}
	for _, path := range files {
		name := l.displayName(path)
		src, err := os.ReadFile(path)
		if err != nil {
			l.errorf(nil, "Cannot read a configuration file", "%s: %s", name, unwrapPathError(err))
			continue
		}
		toks, _ := hclsyntax.LexConfig(src, name, hcl.InitialPos)
		// Literal passwords are secrets before they are evaluated (or when
		// they cannot be): a diagnostic's snippet may show their line.
		for _, lit := range literalSecrets(toks) {
			l.secret(lit)
		}
		// A file nested too deeply would crash the parser.
		if d := checkNesting(toks); d.HasErrors() {
			l.addDiags(d)
			continue
		}
		f, diags := l.parser.ParseHCL(src, name)
		l.addDiags(diags)
		if f == nil {
			continue
		}
		if body, ok := f.Body.(*hclsyntax.Body); ok {
			countBuilds(body)
		}
		if d := varsFileAsConfig(f, name, path); d != nil {
			l.diags = append(l.diags, d)
			continue
		}
		content, diags := f.Body.Content(rootSchema)
		l.addDiags(diags)
		for _, b := range content.Blocks {
			l.collectBlock(b)
		}
	}

	l.resolveVariables()
	l.evalLocals()
	l.decodeServers()
	l.decodeSources()
	l.decodeSyncs()
	l.checkDependsOnCycles()
}

// varsFileAsConfig is the error for a configuration file that holds only
// name = value lines, as a file of variable values does: one diagnostic
// saying to name it *.vars.hcl, instead of an "Unsupported argument" for
// each line. It has no snippet, which would print the values (often
// secrets). It is nil for any other file.
func varsFileAsConfig(f *hcl.File, name, path string) *hcl.Diagnostic {
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok || len(body.Blocks) > 0 || len(body.Attributes) == 0 {
		return nil
	}
	var names []string
	first := hcl.Range{}
	for _, a := range body.Attributes {
		names = append(names, a.Name)
		if first.Filename == "" || a.NameRange.Start.Byte < first.Start.Byte {
			first = a.NameRange
		}
	}
	sort.Strings(names)
	vars := strings.TrimSuffix(filepath.Base(path), ".hcl") + ".vars.hcl"
	return &hcl.Diagnostic{
		Severity: hcl.DiagError,
		Summary:  "Variable values in a configuration file",
		Detail: fmt.Sprintf("%s sets %s with name = value lines (from line %d), as a file of variable values does, but rowform reads every .hcl file of the directory "+
			"as configuration, except files ending in .vars.hcl. Rename it %s and pass it with -var-file=%s, or set the values with -var NAME=VALUE.",
			name, quoteList(names), first.Start.Line, vars, vars),
	}
}

// displayName is the name used for a file in diagnostics: relative to the
// working directory when that is shorter, else absolute.
func (l *loader) displayName(path string) string {
	if wd, err := os.Getwd(); err == nil {
		if rel, err := filepath.Rel(wd, path); err == nil && !strings.HasPrefix(rel, "..") {
			return rel
		}
	}
	return path
}

func (l *loader) collectBlock(b *hcl.Block) {
	switch b.Type {
	case "variable":
		l.declareVariable(b)
	case "locals":
		l.declareLocals(b)
	case "destination":
		if l.checkType(b, "destination", []string{"postgres"}) && l.checkUnique(b, "destination."+b.Labels[0]+"."+b.Labels[1], "destination \""+b.Labels[0]+"\" \""+b.Labels[1]+"\"") {
			l.destBlocks = append(l.destBlocks, b)
		}
	case "source":
		if l.checkType(b, "source", []string{"postgres", "csv", "duckdb"}) && l.checkUnique(b, "source."+b.Labels[0]+"."+b.Labels[1], "source \""+b.Labels[0]+"\" \""+b.Labels[1]+"\"") {
			l.sourceBlocks = append(l.sourceBlocks, b)
		}
	case "sync":
		if l.checkName(b, b.Labels[0], b.LabelRanges[0]) && l.checkUnique(b, "sync."+b.Labels[0], "sync \""+b.Labels[0]+"\"") {
			l.syncBlocks = append(l.syncBlocks, b)
		}
	}
}

func (l *loader) checkType(b *hcl.Block, kind string, types []string) bool {
	t := b.Labels[0]
	for _, ok := range types {
		if t == ok {
			return l.checkName(b, b.Labels[1], b.LabelRanges[1])
		}
	}
	rng := b.LabelRanges[0]
	l.errorf(&rng, fmt.Sprintf("Unsupported %s type", kind),
		"There is no %s type %q. Supported types: %s.%s", kind, t, quoteList(types), didYouMean(t, types))
	return false
}

// checkName enforces identifier-like block names, so that they can be referenced.
func (l *loader) checkName(b *hcl.Block, name string, rng hcl.Range) bool {
	if !validName(name) {
		l.errorf(&rng, "Invalid name",
			"The name %q is not valid: a name starts with a letter or underscore and contains only letters, digits, underscores and dashes.", name)
		return false
	}
	return true
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for i, r := range s {
		switch {
		case r == '_' || (r >= 'a' && r <= 'z') || (r >= 'A' && r <= 'Z'):
		case i > 0 && ((r >= '0' && r <= '9') || r == '-'):
		default:
			return false
		}
	}
	return true
}

func (l *loader) checkUnique(b *hcl.Block, key, what string) bool {
	if prev, ok := l.declared[key]; ok {
		rng := b.DefRange
		l.errorf(&rng, "Duplicate "+b.Type+" name",
			"A %s was already declared at %s. Each %s needs a unique name.", what, formatPos(prev), b.Type)
		return false
	}
	l.declared[key] = b.DefRange
	return true
}

// formatPos renders a range start as "file:line,col", like Terraform.
func formatPos(r hcl.Range) string {
	return fmt.Sprintf("%s:%d,%d", r.Filename, r.Start.Line, r.Start.Column)
}

func quoteList(items []string) string {
	q := make([]string, len(items))
	for i, s := range items {
		q[i] = fmt.Sprintf("%q", s)
	}
	return strings.Join(q, ", ")
}

// evalContext returns the context for evaluating attributes outside locals
// and variables: var.*, local.* and the functions.
func (l *loader) evalContext() *hcl.EvalContext {
	if l.ctx != nil {
		return l.ctx
	}
	return l.baseContext(map[string]cty.Value{})
}

func (l *loader) baseContext(locals map[string]cty.Value) *hcl.EvalContext {
	return &hcl.EvalContext{
		Variables: map[string]cty.Value{
			"var":   l.varsObject(),
			"local": cty.ObjectVal(locals),
		},
		Functions: l.functions(),
	}
}

// functions are the configuration's functions, every sensitive value they
// compute recorded as a secret: each piece of a secret a server could
// echo on its own is masked, not only the attribute's whole value.
func (l *loader) functions() map[string]function.Function {
	fns := functions(l.context(), l.dir, l.lookupEnv, l.in.AllowUnset, l.derivedSecret)
	maps.Copy(fns, l.budget.functions())
	return fns
}

// value evaluates expr in ctx as one evaluation of the budget.
func (l *loader) value(expr hcl.Expression, ctx *hcl.EvalContext) (cty.Value, hcl.Diagnostics) {
	l.budget.reset()
	v, diags := expr.Value(ctx)
	return v, buildDiags(diags)
}

// context is Inputs.Context, or context.Background() when it is nil.
func (l *loader) context() context.Context {
	if l.in.Context != nil {
		return l.in.Context
	}
	return context.Background()
}

// derivedSecret records the strings and numbers inside v, a value computed
// from a secret, as env()'s values are recorded: secrets, unless only
// number and bool attributes read them (envSecrets).
func (l *loader) derivedSecret(v cty.Value) {
	if !v.IsWhollyKnown() || v.IsNull() {
		return
	}
	switch {
	case v.Type() == cty.String:
		l.envValues[v.AsString()] = true
	case v.Type() == cty.Number:
		l.envValues[v.AsBigFloat().Text('f', -1)] = true
	case v.CanIterateElements():
		for it := v.ElementIterator(); it.Next(); {
			_, e := it.Element()
			l.derivedSecret(e)
		}
	}
}

// varsObject is the value of var: every variable's final value.
func (l *loader) varsObject() cty.Value {
	vars := map[string]cty.Value{}
	for name, d := range l.varDecls {
		vars[name] = d.value
	}
	return cty.ObjectVal(vars)
}

// sortDiagnostics orders diagnostics by file and position, those without a
// place first, keeping the order of equal ones.
// maxDetail is the most characters of a diagnostic's detail shown: a
// function's error can quote a value built up to any size.
const maxDetail = 2000

// boundDiagnostics keeps each diagnostic's detail readable: a function that
// panicked (a value too large for it) is said in one sentence, without the
// Go stack trace, and a detail longer than maxDetail is cut.
func boundDiagnostics(diags hcl.Diagnostics) {
	for _, d := range diags {
		if i := strings.Index(d.Detail, "panic in function implementation"); i >= 0 {
			d.Detail = d.Detail[:i] + "the function could not compute its result (a value too large or too deeply built for it)."
		}
		if r := []rune(d.Detail); len(r) > maxDetail {
			// Cut at a space, so that no word (a secret, which the output
			// filter masks only whole) is shown in part.
			kept := string(r[:maxDetail])
			if i := strings.LastIndexByte(kept, ' '); i > 0 {
				kept = kept[:i]
			}
			d.Detail = kept + fmt.Sprintf(" … (%d more characters not shown)", len(r)-utf8.RuneCountInString(kept))
		}
	}
}

func sortDiagnostics(diags hcl.Diagnostics) {
	sort.SliceStable(diags, func(i, j int) bool {
		a, b := diags[i].Subject, diags[j].Subject
		switch {
		case a == nil || b == nil:
			return a == nil && b != nil
		case a.Filename != b.Filename:
			return a.Filename < b.Filename
		default:
			return a.Start.Byte < b.Start.Byte
		}
	})
}
