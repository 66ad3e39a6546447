package hclconfig

import (
	"fmt"
	"strings"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// maxValueBytes is the most a value computed in the configuration may
// hold, by valueBytes: as much as file() reads, far more than any query,
// key or name needs, and a bound on what a few locals that build on each
// other (replace(local.a, "x", local.a)) can make rowform allocate.
const maxValueBytes = 16 << 20

// elementBytes is what valueBytes counts for each value besides its
// string bytes: about what go-cty keeps for one, so that a list of many
// small strings (split("", s)) counts for what it costs.
const elementBytes = 64

// valueBytes is the size of v as the configuration limits it: the bytes
// of its strings plus elementBytes per value, marks and all. It stops
// counting above limit.
func valueBytes(v cty.Value, limit int) int {
	v, _ = v.UnmarkDeep()
	n := 0
	_ = cty.Walk(v, func(_ cty.Path, v cty.Value) (bool, error) {
		if n > limit {
			return false, nil
		}
		n += elementBytes
		if v.IsKnown() && !v.IsNull() && v.Type() == cty.String {
			n += len(v.AsString())
		}
		return true, nil
	})
	return n
}

// withinBound reports whether v, the value of what (an attribute or a
// local) written at rng, holds at most maxValueBytes, and says so when it
// does not: text joined in a template ("${local.a}${local.a}") is not a
// function call that bounded could stop.
func (l *loader) withinBound(v cty.Value, what string, rng hcl.Range) bool {
	n := valueBytes(v, maxValueBytes)
	if n <= maxValueBytes {
		return true
	}
	l.errorf(&rng, "Value too large", "%s.", tooLarge(what, 0))
	return false
}

// pieceOfSecret reports whether v, a function's sensitive result, is a
// piece of a secret a server could echo alone: a string or number (a list,
// such as split's, is cut further before anything uses it), and not one of
// the arguments that carry no secret (coalesce(var.schema, "public") is
// "public" when var.schema is null).
func pieceOfSecret(v cty.Value, args []cty.Value) bool {
	if !v.IsWhollyKnown() || v.IsNull() || (v.Type() != cty.String && v.Type() != cty.Number) {
		return false
	}
	for _, a := range args {
		if !a.ContainsMarked() && a.IsWhollyKnown() && a.Type().Equals(v.Type()) && a.Equals(v).True() {
			return false
		}
	}
	return true
}

// tooLarge is the error of a value over maxValueBytes, n bytes large (0:
// not counted to the end).
func tooLarge(what string, n int) error {
	size := "more than " + byteSize(maxValueBytes)
	if n > 0 {
		size = byteSize(n) + ", more than the " + byteSize(maxValueBytes)
	}
	return fmt.Errorf("%s would hold %s a value in the configuration may hold; build a long query or list in a file and read it with file()", what, size)
}

// byteSize writes n bytes for a person: "16 MiB", "1.5 GiB", "300 bytes".
func byteSize(n int) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.0f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d bytes", n)
}

// resultBound estimates, from a function's arguments (unmarked, known),
// an upper bound of its result's size as valueBytes counts it, for the
// functions whose result can be far larger than their arguments. It runs
// before the function, so that the result is never built.
var resultBound = map[string]func(args []cty.Value) int{
	// replace(str, substr, new): each occurrence grows by len(new) -
	// len(substr); an empty substr matches before every character and at
	// the end.
	"replace": func(args []cty.Value) int {
		str, sub, repl, ok := threeStrings(args)
		if !ok {
			return 0
		}
		n := utf8.RuneCountInString(str) + 1
		if sub != "" {
			n = strings.Count(str, sub)
		}
		return len(str) + n*max(0, len(repl)-len(sub))
	},
	// format(spec, values...): a width or precision pads or repeats up to
	// its number of characters, each of at most 4 bytes.
	"format": func(args []cty.Value) int {
		if len(args) == 0 || !args[0].IsKnown() || args[0].IsNull() || args[0].Type() != cty.String {
			return 0
		}
		total := 0
		for _, a := range args {
			total += valueBytes(a, maxValueBytes)
		}
		return total + 4*formatWidths(args[0].AsString())
	},
	// join(sep, lists...): the elements and a separator between each two.
	"join": func(args []cty.Value) int {
		if len(args) == 0 || !args[0].IsKnown() || args[0].IsNull() || args[0].Type() != cty.String {
			return 0
		}
		total, count := 0, 0
		for _, l := range args[1:] {
			total += valueBytes(l, maxValueBytes)
			if l.IsKnown() && !l.IsNull() && l.CanIterateElements() {
				count += l.LengthInt()
			}
		}
		return total + count*len(args[0].AsString())
	},
	// split(sep, str): one element per separator, plus one.
	"split": func(args []cty.Value) int {
		sep, str, _, ok := threeStrings(append(args, cty.StringVal("")))
		if !ok {
			return 0
		}
		n := utf8.RuneCountInString(str) + 1
		if sep != "" {
			n = strings.Count(str, sep) + 1
		}
		return len(str) + n*elementBytes
	},
}

// threeStrings returns the first three arguments as strings, ok false
// when one is not a known, non-null string (the function itself then
// says what is wrong).
func threeStrings(args []cty.Value) (a, b, c string, ok bool) {
	if len(args) < 3 {
		return "", "", "", false
	}
	var out [3]string
	for i := range out {
		v := args[i]
		if !v.IsKnown() || v.IsNull() || v.Type() != cty.String {
			return "", "", "", false
		}
		out[i] = v.AsString()
	}
	return out[0], out[1], out[2], true
}

// formatWidths is the sum of the widths and precisions of a format
// specification's verbs ("%10s" 10, "%-8.3f" 11), saturating at
// maxValueBytes.
func formatWidths(spec string) int {
	total := 0
	for i := 0; i < len(spec); i++ {
		if spec[i] != '%' {
			continue
		}
		i++
		for i < len(spec) && strings.IndexByte("+-# 0[]123456789.", spec[i]) >= 0 {
			if spec[i] == '[' { // an argument index, not a width
				for i < len(spec) && spec[i] != ']' {
					i++
				}
				i++
				continue
			}
			if '1' <= spec[i] && spec[i] <= '9' {
				n := 0
				for i < len(spec) && '0' <= spec[i] && spec[i] <= '9' {
					n = min(n*10+int(spec[i]-'0'), maxValueBytes+1)
					i++
				}
				total = min(total+n, maxValueBytes+1)
				continue
			}
			i++
		}
	}
	return total
}

// bounded wraps f so that it never returns a value over maxValueBytes:
// bound, when given, estimates the result from the arguments and refuses
// before f runs; the result is measured after. A result that is
// sensitive (from a sensitive argument, or marked by f itself) is passed
// to onSecret, when given, before it is returned.
func bounded(f function.Function, bound func(args []cty.Value) int, onSecret func(cty.Value)) function.Function {
	return withMarkedArgs(f, func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		un, marks := unmarkAll(args)
		if bound != nil {
			if n := bound(un); n > maxValueBytes {
				return cty.DynamicVal, tooLarge("the result", n)
			}
		}
		v, err := f.Call(args) // marked: f may handle marks itself (quiet, env)
		if err != nil {
			return v, err
		}
		plain, own := v.UnmarkDeep()
		if n := valueBytes(plain, maxValueBytes); n > maxValueBytes {
			return cty.DynamicVal, tooLarge("the result", n)
		}
		_, fromArgs := marks[SensitiveMark]
		_, fromF := own[SensitiveMark]
		if (fromArgs || fromF) && onSecret != nil && pieceOfSecret(plain, args) {
			onSecret(plain)
		}
		return v.WithMarks(marks), nil
	})
}
