package hclconfig

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/ext/typeexpr"
	"github.com/hashicorp/hcl/v2/hclparse"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

var variableSchema = &hcl.BodySchema{
	Attributes: []hcl.AttributeSchema{
		{Name: "type"},
		{Name: "default"},
		{Name: "description"},
		{Name: "sensitive"},
	},
}

// EnvVarPrefix is the prefix of environment variables that set input variables.
const EnvVarPrefix = "ROWFORM_VAR_"

// varDecl is a variable block being loaded.
type varDecl struct {
	name        string
	typ         cty.Type // cty.DynamicPseudoType when no type was given
	description string
	sensitive   bool
	hasDefault  bool
	value       cty.Value
	source      string
	declRange   hcl.Range
	// invalid: a value was given that is not valid (already an error), so
	// the variable is not also reported as given none.
	invalid bool
}

func (l *loader) declareVariable(b *hcl.Block) {
	name := b.Labels[0]
	if !l.checkName(b, name, b.LabelRanges[0]) || !l.checkUnique(b, "var."+name, "variable \""+name+"\"") {
		return
	}
	d := &varDecl{name: name, typ: cty.DynamicPseudoType, declRange: b.DefRange, value: cty.NullVal(cty.DynamicPseudoType)}
	l.varDecls[name] = d
	l.varOrder = append(l.varOrder, name)

	content, diags := b.Body.Content(variableSchema)
	l.addDiags(diags)
	if a, ok := content.Attributes["type"]; ok {
		t, diags := typeexpr.TypeConstraint(a.Expr)
		l.addDiags(diags)
		if !diags.HasErrors() {
			d.typ = t
		}
	}
	if a, ok := content.Attributes["description"]; ok {
		if v, ok := l.constant(a, cty.String); ok && !v.IsNull() {
			d.description = v.AsString()
		}
	}
	if a, ok := content.Attributes["sensitive"]; ok {
		if v, ok := l.constant(a, cty.Bool); ok && !v.IsNull() {
			d.sensitive = v.True()
		}
	}
	if a, ok := content.Attributes["default"]; ok {
		// A default that fails is reported below; the variable still counts
		// as having one, so it is not also reported as missing a value.
		d.value, d.hasDefault, d.source = cty.UnknownVal(d.typ), true, "default"
		if v, ok := l.constant(a, cty.DynamicPseudoType); ok {
			cv, err := convert.Convert(v, d.typ)
			if err != nil {
				rng := a.Expr.Range()
				l.errorf(&rng, "Invalid default value for variable",
					"The default value of variable %q does not match its type: %s.", name, err)
				// Reported; do not also report the variable as having no value.
				d.value, d.hasDefault, d.source = cty.UnknownVal(d.typ), true, "default"
			} else {
				d.value, d.hasDefault, d.source = cv, true, "default"
			}
		}
	}
}

// constant evaluates an attribute that may not refer to anything.
func (l *loader) constant(a *hcl.Attribute, want cty.Type) (cty.Value, bool) {
	if vars := a.Expr.Variables(); len(vars) > 0 {
		rng := vars[0].SourceRange()
		l.errorf(&rng, "Variables not allowed", "The value of %s must be a constant: it cannot refer to other values (a string needs quotes).", a.Name)
		return cty.NilVal, false
	}
	v, diags := l.value(a.Expr, &hcl.EvalContext{Functions: l.budget.functions()})
	l.addDiags(diags)
	if diags.HasErrors() {
		return cty.NilVal, false
	}
	cv, err := convert.Convert(v, want)
	if err != nil {
		rng := a.Expr.Range()
		l.errorf(&rng, "Incorrect attribute value type", "Inappropriate value for attribute %q: %s.", a.Name, err)
		return cty.NilVal, false
	}
	return cv, true
}

// resolveVariables gives every declared variable its final value: default,
// then -var-file, then ROWFORM_VAR_<name>, then -var; later wins.
func (l *loader) resolveVariables() {
	// Kept apart from cfg.Files: var files may hold secrets. Only copies
	// with every value blanked out go there, for snippets (addVarFileSnippet).
	varParser := hclparse.NewParser()
	for _, f := range l.in.VarFiles {
		l.readVarFile(varParser, f)
	}
	for _, name := range l.varOrder {
		d := l.varDecls[name]
		if raw, ok := l.env[EnvVarPrefix+name]; ok {
			l.setRaw(d, raw, "environment variable "+EnvVarPrefix+name)
		}
	}
	for _, arg := range l.in.Vars {
		name, raw, ok := strings.Cut(arg, "=")
		name = strings.TrimSpace(name)
		if !ok || name == "" {
			l.errorf(nil, "Invalid -var option",
				"A -var option is not of the form name=value (it is not shown, as it may hold a secret).")
			continue
		}
		d := l.varDecls[name]
		if d == nil {
			l.errorf(nil, "Value for undeclared variable",
				"A variable named %q was given with -var but is not declared.%s Declare it with a variable block, or remove the option.",
				name, didYouMean(name, l.varOrder))
			continue
		}
		l.setRaw(d, raw, "-var option")
	}
	for _, name := range l.varOrder {
		d := l.varDecls[name]
		if d.source == "" {
			if l.in.AllowUnset || d.invalid {
				d.value = cty.UnknownVal(d.typ)
			} else {
				rng := d.declRange
				l.errorf(&rng, "No value for required variable",
					"The variable %q has no default and was given no value. Set it with -var %s=..., a -var-file, or the environment variable %s%s.",
					name, name, EnvVarPrefix, name)
				d.value = cty.UnknownVal(d.typ)
			}
		}
		if d.sensitive {
			l.rootSecret(d.value)
			d.value = d.value.Mark(SensitiveMark)
		}
		l.values[name] = d.value
		l.cfg.Variables[name] = &Variable{
			Name: name, Description: d.description, Sensitive: d.sensitive, Source: d.source, DeclRange: d.declRange,
		}
	}
}

func (l *loader) readVarFile(p *hclparse.Parser, path string) {
	full := resolvePath(l.dir, path)
	src, err := readLimited(l.context(), full)
	if tooLargeFile(err) {
		l.errorf(nil, "Variables file too large", "The -var-file %s is larger than %d MB, more than a variables file holds; name the file that sets the variables.", path, maxFileBytes>>20)
		return
	}
	if err != nil {
		l.errorf(nil, "Cannot read variables file", "The -var-file %s cannot be read: %s.", path, unwrapPathError(err))
		return
	}
	if d := CheckNesting(src, path, hcl.InitialPos); d.HasErrors() {
		for _, diag := range d {
			diag.Subject = nil // a variables file is never shown: it may hold secrets
		}
		l.addDiags(d)
		return
	}
	f, diags := p.ParseHCL(src, path)
	l.addDiags(diags)
	if f == nil {
		return
	}
	if body, ok := f.Body.(*hclsyntax.Body); ok {
		countBuilds(body)
	}
	attrs, adiags := f.Body.JustAttributes()
	l.addDiags(adiags)
	if !diags.HasErrors() && !adiags.HasErrors() {
		l.addVarFileSnippet(path, src, attrs)
	}
	names := slices.Sorted(maps.Keys(attrs))
	source := "-var-file=" + path
	for _, n := range names {
		a := attrs[n]
		d := l.varDecls[n]
		if d == nil {
			rng := a.NameRange
			l.diags = append(l.diags, &hcl.Diagnostic{
				Severity: hcl.DiagWarning,
				Summary:  "Value for undeclared variable",
				Detail:   fmt.Sprintf("The file %s sets %q, which is not declared.%s The value is ignored.", path, n, didYouMean(n, l.varOrder)),
				Subject:  &rng,
			})
			continue
		}
		v, ok := l.constant(a, cty.DynamicPseudoType)
		if !ok {
			continue
		}
		l.setValue(d, v, source, a.Expr.Range().Ptr())
	}
}

// setRaw sets a variable from a command-line or environment string: taken
// literally for string variables, parsed as an HCL expression otherwise.
func (l *loader) setRaw(d *varDecl, raw, source string) {
	if d.typ == cty.String || d.typ == cty.DynamicPseudoType {
		l.setValue(d, cty.StringVal(raw), source, nil)
		return
	}
	d.invalid = true // until the value is set
	if d.typ.IsPrimitiveType() {
		// A number or bool: HCL would read a word as a reference. The
		// value is not shown (it may be a secret).
		v, err := convert.Convert(cty.StringVal(strings.TrimSpace(raw)), d.typ)
		if err != nil {
			l.errorf(nil, "Invalid value for variable", "The value for variable %q from the %s is not a valid %s.", d.name, source, d.typ.FriendlyName())
			return
		}
		l.setValue(d, v, source, nil)
		return
	}
	if CheckNesting([]byte(raw), "<value for var."+d.name+">", hcl.InitialPos).HasErrors() {
		l.errorf(nil, "Invalid value for variable", "The value for variable %q from the %s nests more than %d levels deep.", d.name, source, MaxNestingDepth)
		return
	}
	expr, diags := hclsyntax.ParseExpression([]byte(raw), "<value for var."+d.name+">", hcl.Pos{Line: 1, Column: 1, Byte: 0})
	if diags.HasErrors() {
		l.errorf(nil, "Invalid value for variable",
			"The value for variable %q from the %s is not a valid %s expression.", d.name, source, d.typ.FriendlyName())
		return
	}
	if len(expr.Variables()) > 0 {
		l.errorf(nil, "Invalid value for variable", "The value for variable %q from the %s cannot refer to other values (a word without quotes reads as a reference: quote strings).", d.name, source)
		return
	}
	countBuilds(expr)
	v, diags := l.value(expr, &hcl.EvalContext{Functions: l.budget.functions()})
	if diags.HasErrors() {
		l.errorf(nil, "Invalid value for variable", "The value for variable %q from the %s cannot be evaluated.", d.name, source)
		return
	}
	l.setValue(d, v, source, nil)
}

func (l *loader) setValue(d *varDecl, v cty.Value, source string, rng *hcl.Range) {
	cv, err := convert.Convert(v, d.typ)
	if err != nil {
		l.errorf(rng, "Invalid value for variable",
			"The value for variable %q from the %s is not a valid %s: %s.", d.name, source, d.typ.FriendlyName(), err)
		d.invalid = true
		return
	}
	d.value, d.source, d.invalid = cv, source, false
}

// traversalString renders a traversal such as var.name or source.csv.x.
func traversalString(t hcl.Traversal) string {
	var b strings.Builder
	for _, step := range t {
		switch s := step.(type) {
		case hcl.TraverseRoot:
			b.WriteString(s.Name)
		case hcl.TraverseAttr:
			b.WriteString("." + s.Name)
		case hcl.TraverseIndex:
			b.WriteString("[...]")
		default:
			b.WriteString("[...]")
		}
	}
	return b.String()
}
