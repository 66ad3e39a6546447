package hclconfig

import (
	"maps"
	"slices"
	"strings"

	"github.com/hashicorp/hcl/v2"
	"github.com/zclconf/go-cty/cty"
)

func (l *loader) declareLocals(b *hcl.Block) {
	attrs, diags := b.Body.JustAttributes()
	l.addDiags(diags)
	names := slices.Sorted(maps.Keys(attrs))
	for _, n := range names {
		a := attrs[n]
		if prev, ok := l.localDecls[n]; ok {
			rng := a.NameRange
			l.errorf(&rng, "Duplicate local value definition",
				"A local value named %q was already defined at %s. Local value names must be unique.", n, formatPos(prev.NameRange))
			continue
		}
		l.localDecls[n] = a
	}
}

// evalLocals evaluates the locals in dependency order, reporting undeclared
// references and cycles, then fixes the evaluation context used by every
// other block.
func (l *loader) evalLocals() {
	values := map[string]cty.Value{}
	state := map[string]int{} // 0 new, 1 visiting, 2 done
	var stack []string
	names := slices.Sorted(maps.Keys(l.localDecls))
	// Each local is evaluated in a context of its own holding only the
	// locals it refers to, so that loading n locals costs their references,
	// not n contexts of up to n values each. The variables and functions
	// are the same for all.
	varsObj, funcs := l.varsObject(), l.functions()
	contextFor := func(vars []hcl.Traversal) *hcl.EvalContext {
		refs := map[string]cty.Value{}
		for _, t := range vars {
			if t.RootName() != "local" {
				continue
			}
			if dep := attrName(t); dep != "" {
				if v, ok := values[dep]; ok {
					refs[dep] = v
				}
			}
		}
		return &hcl.EvalContext{
			Variables: map[string]cty.Value{"var": varsObj, "local": cty.ObjectVal(refs)},
			Functions: funcs,
		}
	}

	// A depth-first walk with an explicit stack: a chain of 100,000 locals
	// each referring to the next must not recurse 100,000 deep (the
	// garbage collector would scan that stack again and again).
	type frame struct {
		name string
		vars []hcl.Traversal // the local's references, found once
		deps []string
		next int
	}
	var frames []frame
	enter := func(name string) {
		a := l.localDecls[name]
		switch state[name] {
		case 2:
			return
		case 1:
			i := indexOf(stack, name)
			cycle := append(append([]string{}, stack[i:]...), name)
			rng := a.NameRange
			l.errorf(&rng, "Cycle in local values",
				"The local values refer to each other in a cycle: %s. Break the cycle by removing one of the references.",
				"local."+strings.Join(cycle, " -> local."))
			values[name] = cty.DynamicVal
			state[name] = 2
			return
		}
		state[name] = 1
		stack = append(stack, name)
		var deps []string
		vars := a.Expr.Variables()
		for _, t := range vars {
			if t.RootName() != "local" {
				continue
			}
			if dep := attrName(t); dep != "" && l.localDecls[dep] != nil {
				deps = append(deps, dep)
			}
		}
		frames = append(frames, frame{name: name, vars: vars, deps: deps})
	}
	finish := func(name string, vars []hcl.Traversal) {
		a := l.localDecls[name]
		stack = stack[:len(stack)-1]
		if state[name] == 2 { // reported as part of a cycle while visiting deps
			return
		}
		state[name] = 2
		if !l.checkTraversals(vars, "a local value") {
			values[name] = cty.DynamicVal
			return
		}
		v, diags := l.value(a.Expr, contextFor(vars))
		l.addDiags(diags)
		if diags.HasErrors() {
			v = cty.DynamicVal
		} else if !l.withinBound(v, "local."+name, a.Expr.Range()) {
			v = cty.DynamicVal
		}
		values[name] = v
	}
	for _, n := range names {
		enter(n)
		for len(frames) > 0 {
			f := &frames[len(frames)-1]
			if f.next < len(f.deps) {
				dep := f.deps[f.next]
				f.next++
				enter(dep)
				continue
			}
			name, vars := f.name, f.vars
			frames = frames[:len(frames)-1]
			finish(name, vars)
		}
	}
	l.ctx = l.baseContext(values)
}

func indexOf(list []string, s string) int {
	for i, v := range list {
		if v == s {
			return i
		}
	}
	return -1
}

// attrName returns the first attribute name after a traversal's root, or "".
func attrName(t hcl.Traversal) string {
	if len(t) < 2 {
		return ""
	}
	if a, ok := t[1].(hcl.TraverseAttr); ok {
		return a.Name
	}
	return ""
}

// checkRefs reports every reference in expr that is not a declared var.* or
// local.*; what names the place for messages ("the host attribute").
// It returns false when expr must not be evaluated.
func (l *loader) checkRefs(expr hcl.Expression, what string) bool {
	return l.checkTraversals(expr.Variables(), what)
}

// checkTraversals is checkRefs for an expression's references.
func (l *loader) checkTraversals(vars []hcl.Traversal, what string) bool {
	ok := true
	for _, t := range vars {
		rng := t.SourceRange()
		root := t.RootName()
		switch root {
		case "var":
			name := attrName(t)
			if name == "" {
				l.errorf(&rng, "Invalid variable reference", "A reference to an input variable has the form var.NAME.")
				ok = false
			} else if l.varDecls[name] == nil {
				l.errorf(&rng, "Reference to undeclared input variable",
					"An input variable named %q is not declared.%s Declare it with a variable \"%s\" block.",
					name, didYouMean(name, l.varOrder), name)
				ok = false
			}
		case "local":
			name := attrName(t)
			if name == "" {
				l.errorf(&rng, "Invalid local value reference", "A reference to a local value has the form local.NAME.")
				ok = false
			} else if l.localDecls[name] == nil {
				l.errorf(&rng, "Reference to undeclared local value",
					"A local value named %q is not declared.%s", name, didYouMean(name, l.localNames()))
				ok = false
			}
		case "source", "destination", "sync":
			l.errorf(&rng, "Invalid reference",
				"A reference to a %s cannot be used in %s. Sources and destinations are referenced by a sync's source and destination attributes, syncs by depends_on.", root, what)
			ok = false
		default:
			l.errorf(&rng, "Unknown variable",
				"There is no variable named %q.%s References have the form var.NAME, local.NAME, source.TYPE.NAME, destination.TYPE.NAME or sync.NAME.",
				root, didYouMean(root, []string{"var", "local", "source", "destination", "sync"}))
			ok = false
		}
	}
	return ok
}

func (l *loader) localNames() []string { return slices.Sorted(maps.Keys(l.localDecls)) }
