package hclconfig

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"unicode/utf8"

	"github.com/rowform/rowform/internal/safefile"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"github.com/zclconf/go-cty/cty/function/stdlib"
)

// SensitiveMark is the cty mark carried by every secret value: sensitive
// variables, env() results and anything computed from them. HCL's diagnostic
// writer and rowform's renderers never print a value that carries it.
const SensitiveMark = "sensitive"

// Functions returns the functions available in configuration expressions:
// env, file (relative to baseDir), and go-cty's string helpers.
// lookupEnv supplies environment values; allowUnset makes env() of an unset
// variable unknown instead of an error.
//
// No function returns a value of more than maxValueBytes (valueBytes):
// replace, format, join and split refuse before they build a larger one,
// so that a configuration cannot make rowform allocate without bound.
func Functions(baseDir string, lookupEnv func(string) (string, bool), allowUnset bool) map[string]function.Function {
	return functions(context.Background(), baseDir, lookupEnv, allowUnset, nil)
}

// functions is Functions that passes every sensitive result to onSecret
// (a function's result computed from a sensitive argument: a piece of a
// secret, such as substr(var.pw, 0, 8), that a server could echo alone),
// and whose file() waits for a pipe only as long as ctx allows.
func functions(ctx context.Context, baseDir string, lookupEnv func(string) (string, bool), allowUnset bool, onSecret func(cty.Value)) map[string]function.Function {
	fns := stringFunctions(onSecret)
	fns["env"] = bounded(envFunc(lookupEnv, allowUnset), nil, nil)
	fns["file"] = fileFunc(ctx, baseDir)
	return fns
}

// stringFunctions are go-cty's string helpers, each bounded.
func stringFunctions(onSecret func(cty.Value)) map[string]function.Function {
	fns := map[string]function.Function{
		"lower":      stdlib.LowerFunc,
		"upper":      stdlib.UpperFunc,
		"trimspace":  stdlib.TrimSpaceFunc,
		"trim":       stdlib.TrimFunc,
		"trimprefix": stdlib.TrimPrefixFunc,
		"trimsuffix": stdlib.TrimSuffixFunc,
		"format":     stdlib.FormatFunc,
		"join":       stdlib.JoinFunc,
		"split":      stdlib.SplitFunc,
		"replace":    stdlib.ReplaceFunc,
		"coalesce":   stdlib.CoalesceFunc,
		"substr":     stdlib.SubstrFunc,
		"tostring":   quiet(stdlib.MakeToFunc(cty.String)),
		"tonumber":   quiet(stdlib.MakeToFunc(cty.Number)),
		"tobool":     quiet(stdlib.MakeToFunc(cty.Bool)),
	}
	for name, f := range fns {
		fns[name] = bounded(f, resultBound[name], onSecret)
	}
	return fns
}

// quiet wraps a function so that its errors never quote a sensitive
// argument: go-cty's conversion functions put the value in their messages.
func quiet(f function.Function) function.Function {
	return withMarkedArgs(f, func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		un, marks := unmarkAll(args)
		v, err := f.Call(un)
		if err != nil {
			if len(marks) > 0 {
				return cty.NilVal, function.NewArgErrorf(firstMarked(args), "a sensitive value cannot be converted (it is not shown)")
			}
			return cty.NilVal, err
		}
		return v.WithMarks(marks), nil
	})
}

// withMarkedArgs returns f with impl as its implementation and every
// parameter taking marked values: impl gets the arguments as given, marks
// and all, and says what the result carries.
func withMarkedArgs(f function.Function, impl function.ImplFunc) function.Function {
	params := f.Params()
	for i := range params {
		params[i].AllowMarked = true
	}
	var vp *function.Parameter
	if p := f.VarParam(); p != nil {
		c := *p
		c.AllowMarked = true
		vp = &c
	}
	return function.New(&function.Spec{
		Description: f.Description(),
		Params:      params,
		VarParam:    vp,
		Type: func(args []cty.Value) (cty.Type, error) {
			un, _ := unmarkAll(args)
			return f.ReturnTypeForValues(un)
		},
		Impl: impl,
	})
}

func firstMarked(args []cty.Value) int {
	for i, a := range args {
		if a.ContainsMarked() {
			return i
		}
	}
	return 0
}

func unmarkAll(args []cty.Value) ([]cty.Value, cty.ValueMarks) {
	out := make([]cty.Value, len(args))
	marks := cty.ValueMarks{}
	for i, a := range args {
		v, m := a.UnmarkDeep()
		out[i] = v
		for k := range m {
			marks[k] = struct{}{}
		}
	}
	return out, marks
}

// envFunc returns env(name): the value of an environment variable, always
// marked sensitive.
func envFunc(lookup func(string) (string, bool), allowUnset bool) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the value of an environment variable; the result is sensitive.",
		Params: []function.Parameter{{
			Name:        "name",
			Type:        cty.String,
			AllowMarked: true,
		}},
		Type: function.StaticReturnType(cty.String),
		RefineResult: func(b *cty.RefinementBuilder) *cty.RefinementBuilder {
			return b.NotNull()
		},
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			arg, marks := args[0].Unmark()
			name := arg.AsString()
			if len(marks) > 0 {
				v, ok := lookup(name)
				if !ok {
					if allowUnset {
						return cty.UnknownVal(cty.String).Mark(SensitiveMark), nil
					}
					return cty.UnknownVal(cty.String), function.NewArgErrorf(0, "the environment variable named by a sensitive value is not set")
				}
				return cty.StringVal(v).Mark(SensitiveMark), nil
			}
			if name == "" {
				return cty.UnknownVal(cty.String), function.NewArgErrorf(0, "the environment variable name must not be empty")
			}
			v, ok := lookup(name)
			if !ok {
				if allowUnset {
					return cty.UnknownVal(cty.String).Mark(SensitiveMark), nil
				}
				return cty.UnknownVal(cty.String), function.NewArgErrorf(0, "environment variable %q is not set; export it before running rowform", name)
			}
			return cty.StringVal(v).Mark(SensitiveMark), nil
		},
	})
}

// maxFileBytes is the most file() reads: enough for any key, certificate
// or query, and a bound on a name like /dev/zero.
const maxFileBytes = 16 << 20

// readLimited reads the file at p, or fails with a *safefile.TooLargeError
// past maxFileBytes (without reading further: p may be endless).
func readLimited(ctx context.Context, p string) ([]byte, error) {
	return safefile.ReadAtMost(ctx, p, maxFileBytes, maxFileBytes)
}

// tooLargeFile reports whether err is readLimited's for a file past the bound.
func tooLargeFile(err error) bool {
	var tl *safefile.TooLargeError
	return errors.As(err, &tl)
}

// fileFunc returns file(path): the contents of a UTF-8 file, relative to baseDir.
func fileFunc(ctx context.Context, baseDir string) function.Function {
	return function.New(&function.Spec{
		Description: "Returns the contents of a file, relative to the configuration directory.",
		Params: []function.Parameter{{
			Name:        "path",
			Type:        cty.String,
			AllowMarked: true,
		}},
		Type: function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			arg, marks := args[0].Unmark()
			p := expandHome(arg.AsString())
			if len(marks) > 0 {
				if !filepath.IsAbs(p) {
					p = filepath.Join(baseDir, p)
				}
				b, err := readLimited(ctx, p)
				if err != nil || !utf8.Valid(b) {
					return cty.UnknownVal(cty.String), function.NewArgErrorf(0, "the file named by a sensitive value cannot be read as UTF-8 text of at most %d MB", maxFileBytes>>20)
				}
				return cty.StringVal(string(b)).WithMarks(marks), nil
			}
			if !filepath.IsAbs(p) {
				p = filepath.Join(baseDir, p)
			}
			b, err := readLimited(ctx, p)
			if err != nil {
				if os.IsNotExist(err) {
					return cty.UnknownVal(cty.String), function.NewArgErrorf(0, "no file exists at %s", p)
				}
				if tooLargeFile(err) {
					return cty.UnknownVal(cty.String), function.NewArgErrorf(0, "%s is larger than %d MB, more than file() reads (it is for keys, certificates and SQL)", p, maxFileBytes>>20)
				}
				return cty.UnknownVal(cty.String), function.NewArgErrorf(0, "cannot read %s: %s", p, unwrapPathError(err))
			}
			if !utf8.Valid(b) {
				return cty.UnknownVal(cty.String), function.NewArgErrorf(0, "%s is not valid UTF-8 text", p)
			}
			return cty.StringVal(string(b)), nil
		},
	})
}

func unwrapPathError(err error) error {
	if pe, ok := err.(*os.PathError); ok {
		return pe.Err
	}
	return err
}

// expandHome replaces a leading "~/" with the user's home directory.
func expandHome(p string) string {
	if p == "~" || strings.HasPrefix(p, "~/") {
		if home, err := os.UserHomeDir(); err == nil {
			return filepath.Join(home, strings.TrimPrefix(p, "~"))
		}
	}
	return p
}

// resolvePath makes p absolute: "~/" is the home directory, a relative path
// is relative to baseDir.
func resolvePath(baseDir, p string) string {
	p = expandHome(p)
	if !filepath.IsAbs(p) {
		p = filepath.Join(baseDir, p)
	}
	return filepath.Clean(p)
}
