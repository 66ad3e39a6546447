package hclconfig

import (
	"fmt"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
)

// MaxNestingDepth is how deeply a configuration file (or a variable's value)
// may nest. The HCL parser, the evaluator and the formatter recurse once
// per level, so a file nested much deeper (a few hundred kB can nest 100,000
// levels) would exhaust the stack and crash; CheckNesting refuses it first.
// Real configurations nest a handful of levels.
//
// Each of these counts a level: a block, a pair of brackets, braces or
// parentheses, a quoted string or heredoc, a template interpolation or
// directive (${...}, %{...}), an %{if} or %{for} until its end, and each
// operator chained within one expression (a + b + c is two levels, as the
// parser nests it; -x and a ? b : c one each), and each splat (.* or [*])
// chained in one expression.
const MaxNestingDepth = 256

// CheckNesting reports a file (or an expression) that nests deeper than
// MaxNestingDepth, at the token where it does, so that it is never parsed.
// It reads tokens only: the lexer does not recurse.
func CheckNesting(src []byte, filename string, start hcl.Pos) hcl.Diagnostics {
	toks, _ := hclsyntax.LexConfig(src, filename, start)
	return checkNesting(toks)
}

func checkNesting(toks hclsyntax.Tokens) hcl.Diagnostics {
	// ops[i] counts the operators chained in the current expression of
	// nesting level i (since the last comma or line break at that level).
	ops := []int{0}
	// kinds[i] is the token that opened nesting level i+1: inside ( and
	// [ the parser reads across line breaks, so they do not end an
	// expression there.
	var kinds []hclsyntax.TokenType
	depth := 0 // len(ops)-1 + every ops[i] + open template directives
	directives := 0
	tooDeep := func(t hclsyntax.Token) hcl.Diagnostics {
		rng := t.Range
		return hcl.Diagnostics{{
			Severity: hcl.DiagError,
			Summary:  "Nested too deeply",
			Detail: fmt.Sprintf("This nests more than %d levels deep: blocks, brackets, braces, parentheses, strings, templates and operators chained in one expression each count a level. rowform stops reading the file here; simplify the expression or split it into locals.",
				MaxNestingDepth),
			Subject: &rng,
		}}
	}
	for i, t := range toks {
		switch t.Type {
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen,
			hclsyntax.TokenOQuote, hclsyntax.TokenOHeredoc,
			hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
			ops = append(ops, 0)
			kinds = append(kinds, t.Type)
			depth++
			if t.Type == hclsyntax.TokenTemplateControl && i+1 < len(toks) && toks[i+1].Type == hclsyntax.TokenIdent {
				switch string(toks[i+1].Bytes) {
				case "if", "for":
					directives++
					depth++
				case "endif", "endfor":
					if directives > 0 {
						directives--
						depth--
					}
				}
			}
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen,
			hclsyntax.TokenCQuote, hclsyntax.TokenCHeredoc, hclsyntax.TokenTemplateSeqEnd:
			if len(ops) > 1 {
				depth -= 1 + ops[len(ops)-1]
				ops = ops[:len(ops)-1]
				kinds = kinds[:len(kinds)-1]
			}
			if t.Type == hclsyntax.TokenCBrack && i >= 2 && toks[i-1].Type == hclsyntax.TokenStar && toks[i-2].Type == hclsyntax.TokenOBrack {
				// A splat, [*]: the parser reads what follows it one
				// level deeper, as it does after .*.
				ops[len(ops)-1]++
				depth++
			}
		case hclsyntax.TokenNewline:
			if n := len(kinds); n > 0 && (kinds[n-1] == hclsyntax.TokenOParen || kinds[n-1] == hclsyntax.TokenOBrack) {
				continue // the expression goes on on the next line
			}
			depth -= ops[len(ops)-1]
			ops[len(ops)-1] = 0
		case hclsyntax.TokenComma:
			depth -= ops[len(ops)-1]
			ops[len(ops)-1] = 0
		case hclsyntax.TokenPlus, hclsyntax.TokenMinus, hclsyntax.TokenStar, hclsyntax.TokenSlash,
			hclsyntax.TokenPercent, hclsyntax.TokenBang, hclsyntax.TokenAnd, hclsyntax.TokenOr,
			hclsyntax.TokenEqualOp, hclsyntax.TokenNotEqual, hclsyntax.TokenLessThan,
			hclsyntax.TokenLessThanEq, hclsyntax.TokenGreaterThan, hclsyntax.TokenGreaterThanEq,
			hclsyntax.TokenQuestion:
			ops[len(ops)-1]++
			depth++
		}
		if depth > MaxNestingDepth {
			return tooDeep(t)
		}
	}
	return nil
}
