package hclconfig

import (
	"fmt"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// maxBuildBytes bounds what one evaluation (an attribute, a local, a
// variable's value) may build on its way to its value, by valueBytes: the
// values of the iterations of its for expressions (%{for} templates are
// for expressions too) and the parts of its templates. A value is checked
// against maxValueBytes once it is built; without this bound a few nested
// loops over a large local ("%{for i in l}%{for j in l}${local.a}...")
// would build gigabytes first, from a file of a few hundred bytes.
// Nested loops count their inner values at each level, so this is a few
// times maxValueBytes.
const maxBuildBytes = 4 * maxValueBytes

// The functions the loader wraps around the pieces it counts. A
// configuration that calls one itself gets its argument back (and counted).
const (
	countFunction = "__rowform_count" // counts its argument, returns it
	gateFunction  = "__rowform_gate"  // returns its argument, unknown once over
)

// buildBudget counts what the current evaluation built (see
// maxBuildBytes). The loader evaluates one expression at a time; reset
// starts each.
type buildBudget struct {
	used int
	over bool
}

func (b *buildBudget) reset() { b.used, b.over = 0, false }

// functions are countFunction and gateFunction for b. countFunction
// fails once, when the evaluation passes maxBuildBytes; after that both
// return an unknown value without evaluating further, so that the loops
// still running end at once (a for expression over an unknown collection
// is unknown).
func (b *buildBudget) functions() map[string]function.Function {
	param := []function.Parameter{{Name: "v", Type: cty.DynamicPseudoType,
		AllowNull: true, AllowUnknown: true, AllowDynamicType: true, AllowMarked: true}}
	same := func(args []cty.Value) (cty.Type, error) { return args[0].Type(), nil }
	return map[string]function.Function{
		countFunction: function.New(&function.Spec{Params: param, Type: same,
			Impl: func(args []cty.Value, t cty.Type) (cty.Value, error) {
				if b.over {
					return cty.UnknownVal(t), nil
				}
				b.used += valueBytes(args[0], maxBuildBytes)
				if b.used > maxBuildBytes {
					b.over = true
					return cty.UnknownVal(t), errBuildTooLarge
				}
				return args[0], nil
			}}),
		gateFunction: function.New(&function.Spec{Params: param, Type: same,
			Impl: func(args []cty.Value, t cty.Type) (cty.Value, error) {
				if b.over {
					return cty.UnknownVal(t), nil
				}
				return args[0], nil
			}}),
	}
}

// errBuildTooLarge is countFunction's error; buildDiags rewrites the
// diagnostic HCL makes of it.
var errBuildTooLarge = fmt.Errorf("builds more than %s on its way to its value (a for expression or a template repeats large values); build a long query or list in a file and read it with file()", byteSize(maxBuildBytes))

// buildDiags rewrites the "Error in function call" diagnostic of
// countFunction as what it is: the expression builds too much.
func buildDiags(diags hcl.Diagnostics) hcl.Diagnostics {
	for i, d := range diags {
		if d == nil || !strings.Contains(d.Detail, `"`+countFunction+`"`) {
			continue
		}
		c := *d
		c.Summary = "Value too large"
		c.Detail = "This expression " + errBuildTooLarge.Error() + "."
		c.Expression, c.EvalContext = nil, nil
		diags[i] = &c
	}
	return diags
}

// countBuilds wraps, in every expression of node, the pieces whose values
// an evaluation builds — each iteration's value (and key) of a for
// expression, each part of a template that is not literal text — in
// countFunction, and the collection of each for expression in
// gateFunction. The wrapping is a function call, a node of the syntax
// tree like any other: the references inside are found as before.
func countBuilds(node hclsyntax.Node) {
	var fors []*hclsyntax.ForExpr
	var templates []*hclsyntax.TemplateExpr
	// Collected first: the walk must not see the calls it would add.
	_ = hclsyntax.VisitAll(node, func(n hclsyntax.Node) hcl.Diagnostics {
		switch e := n.(type) {
		case *hclsyntax.ForExpr:
			fors = append(fors, e)
		case *hclsyntax.TemplateExpr:
			templates = append(templates, e)
		}
		return nil
	})
	for _, e := range fors {
		e.CollExpr = call(gateFunction, e.CollExpr)
		if e.KeyExpr != nil {
			e.KeyExpr = call(countFunction, e.KeyExpr)
		}
		e.ValExpr = call(countFunction, e.ValExpr)
	}
	for _, e := range templates {
		for i, p := range e.Parts {
			if _, literal := p.(*hclsyntax.LiteralValueExpr); !literal {
				e.Parts[i] = call(countFunction, p)
			}
		}
	}
}

// call is the call of the function name on e, placed where e is.
func call(name string, e hclsyntax.Expression) hclsyntax.Expression {
	r := e.Range()
	return &hclsyntax.FunctionCallExpr{Name: name, Args: []hclsyntax.Expression{e},
		NameRange: r, OpenParenRange: r, CloseParenRange: r}
}
