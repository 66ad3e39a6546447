package hclconfig

import (
	"fmt"
	"math/big"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/convert"
)

// attrValue is an evaluated attribute. ok is false when the attribute is
// absent, null, unknown (validate without inputs) or failed to evaluate (the
// failure is already reported).
type attrValue struct {
	val       cty.Value // unmarked
	sensitive bool
	attr      *hcl.Attribute
	ok        bool
}

func (a attrValue) rng() *hcl.Range {
	if a.attr == nil {
		return nil
	}
	return a.attr.Expr.Range().Ptr()
}

// eval evaluates the named attribute of content and converts it to want.
func (l *loader) eval(c *hcl.BodyContent, name string, want cty.Type) attrValue {
	a, present := c.Attributes[name]
	if !present {
		return attrValue{}
	}
	out := attrValue{attr: a}
	if !l.checkRefs(a.Expr, fmt.Sprintf("the %s attribute", name)) {
		return out
	}
	v, diags := l.value(a.Expr, l.evalContext())
	l.addDiags(diags)
	if diags.HasErrors() || !l.withinBound(v, "the "+name+" attribute", a.Expr.Range()) {
		return out
	}
	v, marks := v.UnmarkDeep()
	_, out.sensitive = marks[SensitiveMark]
	// A number or a bool (a port, a limit, history = true) read from the
	// environment is not kept as a secret (envSecrets). A variable
	// declared sensitive is a secret all the same (variables.go).
	switch {
	case out.sensitive && (want.Equals(cty.Number) || want.Equals(cty.Bool)):
		l.numberUse(v)
	case out.sensitive:
		l.secretValue(v)
	}
	if !v.IsWhollyKnown() {
		return out
	}
	cv, err := convert.Convert(v, want)
	if err != nil {
		l.errorf(a.Expr.Range().Ptr(), "Incorrect attribute value type",
			"Inappropriate value for attribute %q: %s.", name, err)
		return out
	}
	if cv.IsNull() {
		if requiredAttributes[name] {
			l.errorf(a.Expr.Range().Ptr(), "Missing required argument",
				"The argument %q is required; null is not a value for it.", name)
		}
		return out
	}
	out.val, out.ok = cv, true
	return out
}

// numberUse records the text of v, the value of a number or bool
// attribute, for envSecrets.
func (l *loader) numberUse(v cty.Value) {
	if !v.IsWhollyKnown() || v.IsNull() {
		return
	}
	switch v.Type() {
	case cty.String:
		l.numberUses[strings.TrimSpace(v.AsString())] = true
	case cty.Number:
		l.numberUses[v.AsBigFloat().Text('f', -1)] = true
	case cty.Bool:
		l.numberUses[fmt.Sprint(v.True())] = true
	}
}

// requiredAttributes are the attributes that must have a value wherever they
// appear (docs/language.md); null is refused for them.
var requiredAttributes = map[string]bool{
	"host": true, "database": true, "user": true, "path": true,
	"table": true, "behavior": true, "key": true,
}

// str evaluates a string attribute; "" when not usable.
func (l *loader) str(c *hcl.BodyContent, name string) (string, attrValue) {
	v := l.eval(c, name, cty.String)
	if !v.ok {
		return "", v
	}
	return v.val.AsString(), v
}

// oneOf evaluates a string attribute that must be one of allowed.
func (l *loader) oneOf(c *hcl.BodyContent, name string, allowed []string) (string, attrValue) {
	s, v := l.str(c, name)
	if !v.ok {
		return "", v
	}
	for _, a := range allowed {
		if s == a {
			return s, v
		}
	}
	got := " (the value is sensitive, so it is not shown)."
	if !v.sensitive {
		got = fmt.Sprintf("; %q is not one of them.%s", s, didYouMean(s, allowed))
	}
	l.errorf(v.rng(), fmt.Sprintf("Invalid %s", name),
		"%s must be one of %s%s", name, quoteList(allowed), got)
	v.ok = false
	return "", v
}

// integer evaluates a whole-number attribute within [min, max].
func (l *loader) integer(c *hcl.BodyContent, name string, min, max int64) (int64, attrValue) {
	v := l.eval(c, name, cty.Number)
	if !v.ok {
		return 0, v
	}
	bf := v.val.AsBigFloat()
	if !bf.IsInt() {
		l.errorf(v.rng(), fmt.Sprintf("Invalid %s", name), "%s must be a whole number.", name)
		v.ok = false
		return 0, v
	}
	i, acc := bf.Int64()
	if acc != big.Exact || i < min || i > max {
		got := ""
		if !v.sensitive {
			got = fmt.Sprintf(" got %s.", bf.Text('g', 20))
		}
		if max == maxInt {
			l.errorf(v.rng(), fmt.Sprintf("Invalid %s", name), "%s must be %d or more;%s", name, min, got)
		} else {
			l.errorf(v.rng(), fmt.Sprintf("Invalid %s", name), "%s must be between %d and %d;%s", name, min, max, got)
		}
		v.ok = false
		return 0, v
	}
	return i, v
}

const maxInt = int64(1<<63 - 1)

// number evaluates a number attribute within [min, max].
func (l *loader) number(c *hcl.BodyContent, name string, min, max float64) (float64, attrValue) {
	v := l.eval(c, name, cty.Number)
	if !v.ok {
		return 0, v
	}
	f, _ := v.val.AsBigFloat().Float64()
	if f < min || f > max {
		got := ""
		if !v.sensitive {
			got = fmt.Sprintf(" got %g.", f)
		}
		l.errorf(v.rng(), fmt.Sprintf("Invalid %s", name), "%s must be between %g and %g;%s", name, min, max, got)
		v.ok = false
		return 0, v
	}
	return f, v
}

// boolean evaluates a bool attribute; def when absent.
func (l *loader) boolean(c *hcl.BodyContent, name string, def bool) bool {
	v := l.eval(c, name, cty.Bool)
	if !v.ok {
		return def
	}
	return v.val.True()
}

// stringList evaluates an attribute that is a string or a list of strings.
// Empty strings and an empty list are errors.
func (l *loader) stringList(c *hcl.BodyContent, name string, allowEmpty bool) ([]string, attrValue) {
	a, present := c.Attributes[name]
	if !present {
		return nil, attrValue{}
	}
	v := l.eval(c, name, cty.DynamicPseudoType)
	if !v.ok {
		return nil, v
	}
	var out []string
	if v.val.Type() == cty.String {
		out = []string{v.val.AsString()}
	} else {
		lv, err := convert.Convert(v.val, cty.List(cty.String))
		if err != nil {
			l.errorf(a.Expr.Range().Ptr(), "Incorrect attribute value type",
				"Inappropriate value for attribute %q: a string or a list of strings is required.", name)
			v.ok = false
			return nil, v
		}
		for _, e := range lv.AsValueSlice() {
			if e.IsNull() {
				l.errorf(a.Expr.Range().Ptr(), fmt.Sprintf("Invalid %s", name), "%s must not contain null.", name)
				v.ok = false
				return nil, v
			}
			out = append(out, e.AsString())
		}
	}
	if len(out) == 0 && !allowEmpty {
		l.errorf(a.Expr.Range().Ptr(), fmt.Sprintf("Invalid %s", name), "%s must name at least one column.", name)
		v.ok = false
		return nil, v
	}
	seen := map[string]bool{}
	for _, s := range out {
		if s == "" {
			l.errorf(a.Expr.Range().Ptr(), fmt.Sprintf("Invalid %s", name), "%s must not contain an empty name.", name)
			v.ok = false
			return nil, v
		}
		if seen[s] {
			shown := fmt.Sprintf("%q", s)
			if v.sensitive {
				shown = "a (sensitive) name"
			}
			l.errorf(a.Expr.Range().Ptr(), fmt.Sprintf("Invalid %s", name), "%s names %s twice.", name, shown)
			v.ok = false
			return nil, v
		}
		seen[s] = true
	}
	return out, v
}
