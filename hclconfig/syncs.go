package hclconfig

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

var syncSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "source", Required: true},
		{Name: "query"},
		{Name: "model"},
		{Name: "destination", Required: true},
		{Name: "table", Required: true},
		{Name: "behavior", Required: true},
		{Name: "key", Required: true},
		{Name: "mapping"},
		{Name: "sensitive_columns"},
		{Name: "depends_on"},
		{Name: "on_reject"},
		{Name: "diff_strategy"},
	},
	Blocks: []hcl.BlockHeaderSchema{{Type: "guard"}},
}

var guardSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "max_deletes"},
		{Name: "max_delete_percent"},
		{Name: "max_updates"},
		{Name: "min_source_rows"},
		{Name: "max_reject_percent"},
	},
}

func behaviorNames() []string {
	names := make([]string, len(Behaviors))
	for i, b := range Behaviors {
		names[i] = string(b)
	}
	return names
}

func (l *loader) decodeSyncs() {
	for _, b := range l.syncBlocks {
		l.cfg.Syncs = append(l.cfg.Syncs, l.decodeSync(b))
	}
}

// decodeSync decodes one sync block in named stages: what it connects
// (syncEndpoints), its query (syncQuery), its table (syncTable), its
// options (behavior, on_reject, key, mapping, sensitive_columns,
// depends_on), the key and sensitive columns against the mapping
// (checkMapped), then its guard (syncGuard).
func (l *loader) decodeSync(b *hcl.Block) *Sync {
	s := &Sync{Name: b.Labels[0], DeclRange: b.DefRange}
	content, diags := b.Body.Content(syncSchema)
	l.addDiags(diags)

	l.syncEndpoints(s, content)
	l.syncQuery(s, content)
	l.syncTable(s, content)
	if b, v := l.oneOf(content, "behavior", behaviorNames()); v.ok {
		s.Behavior = Behavior(b)
	}
	s.OnReject = RejectFail
	if r, v := l.oneOf(content, "on_reject", []string{string(RejectFail), string(RejectSkip)}); v.ok {
		s.OnReject = OnReject(r)
	}
	s.DiffStrategy = DiffAuto
	if d, v := l.oneOf(content, "diff_strategy", diffStrategyNames()); v.ok {
		s.DiffStrategy = DiffStrategy(d)
	}
	key, kv := l.stringList(content, "key", false)
	s.Key = key
	mapping, mappingOK, mappingSensitive := l.decodeMapping(content)
	s.Mapping = mapping
	sens, sv := l.stringList(content, "sensitive_columns", true)
	s.SensitiveColumns = sens
	if a, ok := content.Attributes["depends_on"]; ok {
		s.DependsOn = l.decodeDependsOn(a, s.Name)
	}
	if s.Mapping != nil && mappingOK {
		l.checkMapped(s, content, kv, sv, mappingSensitive)
	}
	l.syncGuard(s, content)
	return s
}

// syncEndpoints resolves the sync's source and destination references.
func (l *loader) syncEndpoints(s *Sync, content *hcl.BodyContent) {
	if a, ok := content.Attributes["source"]; ok {
		if addr, ok := l.reference(a, "source", 2); ok {
			if src := l.cfg.Sources[addr]; src != nil {
				s.Source = src
			} else {
				l.undeclared(a, "source", addr, l.sourceAddrs())
			}
		}
	}
	if a, ok := content.Attributes["destination"]; ok {
		if addr, ok := l.reference(a, "destination", 2); ok {
			if d := l.cfg.Destinations[addr]; d != nil {
				s.Destination = d
			} else {
				l.undeclared(a, "destination", addr, l.destinationAddrs())
			}
		}
	}
}

// syncQuery reads the sync's query or model: exactly one of them on a
// postgres or duckdb source, neither on a csv source.
func (l *loader) syncQuery(s *Sync, content *hcl.BodyContent) {
	q, qv := l.str(content, "query")
	model, mv := l.str(content, "model")
	switch {
	case qv.attr != nil:
		s.QueryRange = qv.attr.Expr.Range()
		s.QuerySensitive = qv.sensitive
	case mv.attr != nil:
		s.QueryRange = mv.attr.Expr.Range()
	}
	switch {
	case s.Source != nil && s.Source.Type == SourceCSV && qv.attr != nil:
		l.errorf(qv.attr.NameRange.Ptr(), "Unsupported argument",
			"The source %s is a CSV file, which has no query: remove the query attribute. query is only for postgres and duckdb sources.", s.Source.Address())
	case s.Source != nil && s.Source.Type == SourceCSV && mv.attr != nil:
		l.errorf(mv.attr.NameRange.Ptr(), "Unsupported argument",
			"The source %s is a CSV file, which has no dbt models: remove the model attribute. model is only for postgres and duckdb sources with a dbt_project.", s.Source.Address())
	case qv.attr != nil && mv.attr != nil:
		l.errorf(mv.attr.NameRange.Ptr(), "Conflicting attributes",
			"Give either a query (at %s) or a dbt model, not both.", formatPos(qv.attr.NameRange))
	case s.Source != nil && s.Source.Type.HasQuery() && qv.attr == nil && mv.attr == nil:
		l.errorf(content.MissingItemRange.Ptr(), "Missing required argument",
			"The source %s is a %s source, so this sync needs a query attribute with the SQL that selects the rows, e.g. query = file(\"sql/%s.sql\"), or the name of a dbt model, model = \"%s\".", s.Source.Address(), s.Source.Type, s.Name, s.Name)
	case qv.ok && strings.TrimSpace(q) == "":
		l.errorf(qv.rng(), "Empty query", "query must contain SQL that selects the rows to sync.")
	case mv.ok && strings.TrimSpace(model) == "":
		l.errorf(mv.rng(), "Empty model", "model must name a dbt model of the source's dbt_project.")
	case mv.ok && s.Source != nil:
		l.resolveModel(s, model, mv)
	default:
		s.Query = q
	}
}

// syncTable decodes table as "schema.table" or "table".
func (l *loader) syncTable(s *Sync, content *hcl.BodyContent) {
	t, v := l.str(content, "table")
	if !v.ok {
		return
	}
	tn, err := ParseTableName(t)
	if err != nil {
		if v.sensitive {
			err = fmt.Errorf("the table name (a sensitive value, not shown) is not valid")
		}
		l.errorf(v.rng(), "Invalid table", "%s. Write the table as \"schema.table\" or \"table\" (schema public); quote a name with a dot, a space or a quote as in SQL: \"\\\"My Schema\\\".users\"; names are not case-folded, so write them as the catalog has them (\"public.Orders\").", err)
		return
	}
	if v.sensitive {
		// Output names the table by its parts (a fix's "schema"."name"):
		// a part cut from a secret ("acme.ledger" as the whole table) is
		// a secret too. A part written in the attribute itself (the
		// public of "public.${var.name}", or the default schema) is not.
		written := l.sourceText(v.rng())
		for _, part := range []string{tn.Schema, tn.Name} {
			if !strings.Contains(written, part) && !(part == "public" && !strings.Contains(t, ".")) {
				l.secret(part)
			}
		}
	}
	s.Table = tn
}

// checkMapped reports key columns and sensitive columns that the mapping
// does not map (names not shown when any of them is sensitive).
func (l *loader) checkMapped(s *Sync, content *hcl.BodyContent, kv, sv attrValue, mappingSensitive bool) {
	mapped := map[string]bool{}
	var dests []string
	for _, m := range s.Mapping {
		mapped[m.Destination] = true
		dests = append(dests, m.Destination)
	}
	keyAttr := content.Attributes["key"]
	for _, k := range s.Key {
		if !mapped[k] && keyAttr != nil {
			if kv.sensitive || mappingSensitive {
				l.errorf(keyAttr.Expr.Range().Ptr(), "Key column not mapped",
					"A key column (a sensitive value, not shown) is not in the mapping, so rows could not be matched.")
				continue
			}
			l.errorf(keyAttr.Expr.Range().Ptr(), "Key column not mapped",
				"The key column %q is not in the mapping, so rows could not be matched.%s Add %s = \"<source column>\" to the mapping.", k, didYouMean(k, dests), k)
		}
	}
	for _, c := range s.SensitiveColumns {
		if !mapped[c] {
			if sv.sensitive || mappingSensitive {
				l.errorf(sv.rng(), "Unknown sensitive column",
					"sensitive_columns names a column (a sensitive value, not shown) that is not a destination column in the mapping.")
				continue
			}
			l.errorf(sv.rng(), "Unknown sensitive column",
				"sensitive_columns names %q, which is not a destination column in the mapping.%s", c, didYouMean(c, dests))
		}
	}
}

// syncGuard decodes the one guard block a sync may have.
func (l *loader) syncGuard(s *Sync, content *hcl.BodyContent) {
	for i, gb := range content.Blocks {
		if i > 0 {
			l.errorf(gb.DefRange.Ptr(), "Duplicate guard block",
				"Only one guard block is allowed; the first is at %s.", formatPos(content.Blocks[0].DefRange))
			continue
		}
		s.Guard = l.decodeGuard(gb)
	}
}

// reference resolves an attribute that must be a reference of the form
// root.<n labels>, returning "label1.label2" (or "label" for n = 1).
func (l *loader) reference(a *hcl.Attribute, root string, n int) (string, bool) {
	shape := root + ".TYPE.NAME"
	if n == 1 {
		shape = root + ".NAME"
	}
	t, diags := hcl.AbsTraversalForExpr(a.Expr)
	if diags.HasErrors() {
		l.errorf(a.Expr.Range().Ptr(), "Invalid reference", "%s must be a reference of the form %s, without quotes.", a.Name, shape)
		return "", false
	}
	return l.traversalRef(t, root, n, a.Name, shape)
}

func (l *loader) traversalRef(t hcl.Traversal, root string, n int, attr, shape string) (string, bool) {
	rng := t.SourceRange()
	if t.RootName() != root || len(t) != n+1 {
		l.errorf(&rng, "Invalid reference", "%s must be a reference of the form %s; %s is not.", attr, shape, traversalString(t))
		return "", false
	}
	parts := make([]string, 0, n)
	for _, step := range t[1:] {
		a, ok := step.(hcl.TraverseAttr)
		if !ok {
			l.errorf(&rng, "Invalid reference", "%s must be a reference of the form %s.", attr, shape)
			return "", false
		}
		parts = append(parts, a.Name)
	}
	return strings.Join(parts, "."), true
}

func (l *loader) undeclared(a *hcl.Attribute, kind, addr string, candidates []string) {
	l.errorf(a.Expr.Range().Ptr(), "Reference to undeclared "+kind,
		"There is no %s %s in the configuration.%s Declared: %s.",
		kind, addr, didYouMean(addr, candidates), listOrNone(candidates))
}

func listOrNone(items []string) string {
	if len(items) == 0 {
		return "none"
	}
	return strings.Join(items, ", ")
}

func (l *loader) sourceAddrs() []string { return slices.Sorted(maps.Keys(l.cfg.Sources)) }

func (l *loader) destinationAddrs() []string { return slices.Sorted(maps.Keys(l.cfg.Destinations)) }

func (l *loader) syncNames() []string {
	var out []string
	for _, b := range l.syncBlocks {
		out = append(out, b.Labels[0])
	}
	return out
}

func (l *loader) decodeDependsOn(a *hcl.Attribute, self string) []string {
	exprs, diags := hcl.ExprList(a.Expr)
	if diags.HasErrors() {
		l.errorf(a.Expr.Range().Ptr(), "Invalid depends_on", "depends_on must be a list of references of the form sync.NAME.")
		return nil
	}
	known := map[string]bool{}
	for _, n := range l.syncNames() {
		known[n] = true
	}
	var out []string
	seen := map[string]bool{}
	for _, e := range exprs {
		t, diags := hcl.AbsTraversalForExpr(e)
		if diags.HasErrors() {
			l.errorf(e.Range().Ptr(), "Invalid reference", "depends_on must list references of the form sync.NAME, without quotes.")
			continue
		}
		name, ok := l.traversalRef(t, "sync", 1, "depends_on", "sync.NAME")
		if !ok {
			continue
		}
		switch {
		case name == self:
			l.errorf(e.Range().Ptr(), "Self-referencing depends_on", "The sync %q cannot depend on itself.", self)
		case !known[name]:
			l.errorf(e.Range().Ptr(), "Reference to undeclared sync",
				"There is no sync %q in the configuration.%s", name, didYouMean(name, l.syncNames()))
		case seen[name]:
			l.errorf(e.Range().Ptr(), "Duplicate depends_on entry", "sync.%s is already listed in this depends_on; remove this entry.", name)
		default:
			seen[name] = true
			out = append(out, name)
		}
	}
	return out
}

// decodeMapping reads the mapping object, keeping the order in which the
// columns are written when the mapping is an object literal. ok is false
// when the mapping failed or is not fully known (validate without inputs),
// so that checks against it must be skipped; sensitive reports whether any
// column name came from a sensitive value, so messages must not show names.
func (l *loader) decodeMapping(c *hcl.BodyContent) (out []ColumnMapping, ok, sensitive bool) {
	a, present := c.Attributes["mapping"]
	if !present {
		return nil, true, false
	}
	if !l.checkRefs(a.Expr, "the mapping attribute") {
		return []ColumnMapping{}, false, false
	}
	if pairs, diags := hcl.ExprMap(a.Expr); !diags.HasErrors() {
		return l.mappingFromPairs(a, pairs)
	}
	return l.mappingFromValue(c)
}

// mappingBuilder collects mapping entries, refusing a destination column
// mapped twice and an empty name; ok turns false at the first refusal.
type mappingBuilder struct {
	l    *loader
	seen map[string]hcl.Range
	out  []ColumnMapping
	ok   bool
}

func newMappingBuilder(l *loader) *mappingBuilder {
	return &mappingBuilder{l: l, seen: map[string]hcl.Range{}, ok: true}
}

// add maps dest to src; hidden means dest is sensitive and is not shown.
func (b *mappingBuilder) add(dest, src string, rng hcl.Range, hidden bool) {
	if prev, dup := b.seen[dest]; dup {
		shown := fmt.Sprintf("%q", dest)
		if hidden {
			shown = "(sensitive, not shown)"
		}
		b.l.errorf(&rng, "Duplicate mapping", "The destination column %s is mapped twice; the first is at %s.", shown, formatPos(prev))
		b.ok = false
		return
	}
	if dest == "" || src == "" {
		b.l.errorf(&rng, "Invalid mapping", "A mapping entry needs a destination column name and a source column name.")
		b.ok = false
		return
	}
	b.seen[dest] = rng
	b.out = append(b.out, ColumnMapping{Destination: dest, Source: src})
}

// mappingFromPairs decodes a mapping written as an object literal, pair by
// pair, so that each error points at its pair.
func (l *loader) mappingFromPairs(a *hcl.Attribute, pairs []hcl.KeyValuePair) (out []ColumnMapping, ok, sensitive bool) {
	b := newMappingBuilder(l)
	for _, p := range pairs {
		dest, keyHidden, good := l.mappingKey(p.Key)
		if !good {
			b.ok = false
			continue
		}
		vv, diags := l.value(p.Value, l.evalContext())
		l.addDiags(diags)
		if diags.HasErrors() {
			b.ok = false
			continue
		}
		vv, marks := vv.UnmarkDeep()
		if !vv.IsKnown() {
			b.ok = false
			continue
		}
		if keyHidden {
			sensitive = true
		}
		if _, hidden := marks[SensitiveMark]; hidden {
			sensitive = true
		}
		if vv.IsNull() || vv.Type() != cty.String {
			shown := fmt.Sprintf("%q", dest)
			if keyHidden {
				shown = "a column"
			}
			l.errorf(p.Value.Range().Ptr(), "Invalid mapping",
				"The mapping for %s must be a source column name as a string, like column = \"source_column\".", shown)
			b.ok = false
			continue
		}
		b.add(dest, vv.AsString(), p.Key.Range(), keyHidden)
	}
	if b.out == nil && b.ok {
		l.errorf(a.Expr.Range().Ptr(), "Empty mapping", "mapping must map at least one column; omit it to map every source column to the destination column of the same name.")
		b.ok = false
	}
	if b.out == nil {
		b.out = []ColumnMapping{}
	}
	return b.out, b.ok, sensitive
}

// mappingKey decodes the key of a mapping pair: a bare name, or an
// expression that yields a string (hidden when it is sensitive). good is
// false when it does not, or is not known yet (validate without inputs).
func (l *loader) mappingKey(key hcl.Expression) (dest string, hidden, good bool) {
	if dest = hcl.ExprAsKeyword(key); dest != "" {
		return dest, false, true
	}
	kv, diags := l.value(key, l.evalContext())
	l.addDiags(diags)
	kv, marks := kv.UnmarkDeep()
	_, hidden = marks[SensitiveMark]
	switch {
	case diags.HasErrors():
		return "", hidden, false
	case !kv.IsKnown():
		return "", hidden, false // validate without inputs: unknown until run
	case kv.IsNull() || kv.Type() != cty.String:
		l.errorf(key.Range().Ptr(), "Invalid mapping", "A mapping key must be a destination column name.")
		return "", hidden, false
	}
	return kv.AsString(), hidden, true
}

// mappingFromValue decodes a mapping given as any expression of map type
// (a variable, a local, a function's result), in key order.
func (l *loader) mappingFromValue(c *hcl.BodyContent) (out []ColumnMapping, ok, sensitive bool) {
	v := l.eval(c, "mapping", cty.Map(cty.String))
	if !v.ok {
		return []ColumnMapping{}, false, v.sensitive
	}
	b := newMappingBuilder(l)
	m := v.val.AsValueMap()
	for _, k := range slices.Sorted(maps.Keys(m)) {
		if m[k].IsNull() {
			l.errorf(v.rng(), "Invalid mapping", "A mapping value is null; each must be a source column name.")
			b.ok = false
			continue
		}
		b.add(k, m[k].AsString(), *v.rng(), v.sensitive)
	}
	if len(b.out) == 0 {
		if b.ok {
			l.errorf(v.rng(), "Empty mapping", "mapping must map at least one column; omit it to map every source column to the destination column of the same name.")
		}
		return []ColumnMapping{}, false, v.sensitive
	}
	return b.out, b.ok, v.sensitive
}

func (l *loader) decodeGuard(b *hcl.Block) *Guard {
	g := &Guard{}
	content, diags := b.Body.Content(guardSchema)
	l.addDiags(diags)
	if n, v := l.integer(content, "max_deletes", 0, maxInt); v.ok {
		g.MaxDeletes = &n
	}
	if n, v := l.integer(content, "max_updates", 0, maxInt); v.ok {
		g.MaxUpdates = &n
	}
	if n, v := l.integer(content, "min_source_rows", 0, maxInt); v.ok {
		g.MinSourceRows = &n
	}
	if f, v := l.number(content, "max_delete_percent", 0, 100); v.ok {
		g.MaxDeletePercent = &f
	}
	if f, v := l.number(content, "max_reject_percent", 0, 100); v.ok {
		g.MaxRejectPercent = &f
	}
	return g
}

// checkDependsOnCycles reports each depends_on cycle once, naming its syncs.
func (l *loader) checkDependsOnCycles() {
	byName := map[string]*Sync{}
	for _, s := range l.cfg.Syncs {
		byName[s.Name] = s
	}
	state := map[string]int{}
	var stack []string
	var visit func(s *Sync)
	visit = func(s *Sync) {
		state[s.Name] = 1
		stack = append(stack, s.Name)
		for _, d := range s.DependsOn {
			dep := byName[d]
			if dep == nil {
				continue
			}
			switch state[d] {
			case 0:
				visit(dep)
			case 1:
				i := indexOf(stack, d)
				cycle := append(append([]string{}, stack[i:]...), d)
				l.errorf(dep.DeclRange.Ptr(), "Cycle in depends_on",
					"The syncs depend on each other in a cycle: %s. Remove one of these depends_on entries.",
					"sync."+strings.Join(cycle, " -> sync."))
			}
		}
		stack = stack[:len(stack)-1]
		state[s.Name] = 2
	}
	for _, s := range l.cfg.Syncs {
		if state[s.Name] == 0 {
			visit(s)
		}
	}
}

// ParseTableName parses "schema.table" or "table" (schema public). Parts may
// be double-quoted as in SQL; unquoted parts are taken as written (rowform
// does not fold case: write the name as it is in the catalog).
func ParseTableName(s string) (TableName, error) {
	var parts []string
	var cur strings.Builder
	inQuote := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '"' && i+1 < len(s) && s[i+1] == '"':
			cur.WriteByte('"')
			i++
		case c == '"':
			inQuote = !inQuote
		case c == '.' && !inQuote:
			parts = append(parts, cur.String())
			cur.Reset()
		default:
			cur.WriteByte(c)
		}
	}
	if inQuote {
		return TableName{}, fmt.Errorf("the table name %q has an unclosed quote", s)
	}
	parts = append(parts, cur.String())
	for _, p := range parts {
		if p == "" {
			return TableName{}, fmt.Errorf("the table name %q has an empty part", s)
		}
	}
	switch len(parts) {
	case 1:
		return TableName{Schema: "public", Name: parts[0]}, nil
	case 2:
		return TableName{Schema: parts[0], Name: parts[1]}, nil
	}
	return TableName{}, fmt.Errorf("the table name %q has too many parts", s)
}
