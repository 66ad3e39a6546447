package hclconfig

import (
	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"
)

// secretAttributes are the attributes whose literal values are secrets
// wherever they appear.
var secretAttributes = map[string]bool{"password": true, "private_key": true, "private_key_passphrase": true}

// LiteralSecrets returns the literals written in a configuration file's
// source that are secrets: the strings and numbers (and a value written
// without its quotes, password = hunter2) in the expressions of
// password, private_key and private_key_passphrase attributes, and in the
// default of a variable with sensitive = true, as they are spelled in the
// file. The one literal argument of env("NAME") or file("PATH") is not
// among them: it names where the secret is kept. It reads tokens, not the syntax tree, so it finds them in a file
// that does not parse too. A diagnostic's snippet shows source lines: these
// are masked in it like every other secret.
func LiteralSecrets(src []byte) []string {
	toks, _ := hclsyntax.LexConfig(src, "", hcl.InitialPos)
	return literalSecrets(toks)
}

func literalSecrets(toks hclsyntax.Tokens) []string {
	type block struct {
		variable, sensitive bool
		defaults            []string
	}
	var (
		out    []string
		blocks []*block
		// depth counts open brackets and parentheses (and the braces of
		// object expressions) inside the current attribute.
		depth int
		// attr is the attribute whose expression is being read: "" when
		// none. lineStart: the next token starts a line of a body.
		attr      string
		lineStart = true
		// pending is the block type seen at a line start, until its "{".
		pending string
	)
	collect := func(s string) {
		if attr == "" {
			return
		}
		if secretAttributes[attr] {
			out = append(out, s)
		}
		if attr == "default" && len(blocks) > 0 && blocks[len(blocks)-1].variable {
			b := blocks[len(blocks)-1]
			b.defaults = append(b.defaults, s)
		}
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		switch t.Type {
		case hclsyntax.TokenNewline, hclsyntax.TokenEOF:
			if depth == 0 {
				attr, pending, lineStart = "", "", true
			}
			continue
		case hclsyntax.TokenComment:
			// A line comment holds its newline.
			if depth == 0 && len(t.Bytes) > 0 && t.Bytes[len(t.Bytes)-1] == '\n' {
				attr, pending, lineStart = "", "", true
			}
			continue
		}
		start := lineStart
		lineStart = false
		if attr != "" {
			switch t.Type {
			case hclsyntax.TokenQuotedLit, hclsyntax.TokenStringLit, hclsyntax.TokenNumberLit:
				collect(string(t.Bytes))
			case hclsyntax.TokenOBrack, hclsyntax.TokenOParen, hclsyntax.TokenOBrace, hclsyntax.TokenTemplateInterp, hclsyntax.TokenTemplateControl:
				depth++
			case hclsyntax.TokenCBrack, hclsyntax.TokenCParen, hclsyntax.TokenTemplateSeqEnd:
				depth = max(0, depth-1)
			case hclsyntax.TokenCBrace:
				if depth == 0 {
					// The end of a one-line block: { password = "x" }
					attr = ""
					i-- // read it again as the block's end
					continue
				}
				depth--
			case hclsyntax.TokenIdent:
				if string(t.Bytes) == "true" && attr == "sensitive" && len(blocks) > 0 {
					blocks[len(blocks)-1].sensitive = true
				}
				if bareValue(toks, i) {
					// password = hunter2: a value whose quotes were
					// forgotten, which the error about it shows.
					collect(string(t.Bytes))
				}
				if n := nameArgument(toks[i:]); n > 0 {
					// env("CRM_PASSWORD") names where the secret is: the
					// name is not one, and an error about it must show it.
					i += n - 1
				}
			}
			continue
		}
		switch t.Type {
		case hclsyntax.TokenIdent:
			if start && i+1 < len(toks) && toks[i+1].Type == hclsyntax.TokenEqual {
				attr = string(t.Bytes)
				i++
				continue
			}
			if start {
				pending = string(t.Bytes)
			}
		case hclsyntax.TokenOBrace:
			blocks = append(blocks, &block{variable: pending == "variable" && len(blocks) == 0})
			pending, lineStart = "", true
		case hclsyntax.TokenCBrace:
			if n := len(blocks); n > 0 {
				if b := blocks[n-1]; b.variable && b.sensitive {
					out = append(out, b.defaults...)
				}
				blocks = blocks[:n-1]
			}
			lineStart = true
		}
	}
	// A file cut short: a sensitive variable's block that never closed.
	for _, b := range blocks {
		if b.variable && b.sensitive {
			out = append(out, b.defaults...)
		}
	}
	return out
}

// bareValue reports whether toks[i], an identifier, is an attribute's
// whole value or the start of a value that does not parse, as in
// password = hunter2 (no reference is one identifier alone, nor true,
// false or null): a value written without its quotes. A reference's root
// (var.pw) or a function's name (env(...)) is not one.
func bareValue(toks hclsyntax.Tokens, i int) bool {
	if i == 0 || toks[i-1].Type != hclsyntax.TokenEqual {
		return false
	}
	if i+1 < len(toks) {
		switch toks[i+1].Type {
		case hclsyntax.TokenDot, hclsyntax.TokenOParen, hclsyntax.TokenOBrack:
			return false
		}
	}
	switch string(toks[i].Bytes) {
	case "true", "false", "null":
		return false
	}
	return true
}

// nameArgument returns how many tokens toks starts with when they are a call
// of env or file with one quoted literal argument and nothing else, as in
// env("CRM_PASSWORD"); otherwise 0.
func nameArgument(toks hclsyntax.Tokens) int {
	want := []hclsyntax.TokenType{hclsyntax.TokenIdent, hclsyntax.TokenOParen, hclsyntax.TokenOQuote,
		hclsyntax.TokenQuotedLit, hclsyntax.TokenCQuote, hclsyntax.TokenCParen}
	if len(toks) < len(want) {
		return 0
	}
	if name := string(toks[0].Bytes); name != "env" && name != "file" {
		return 0
	}
	for i, tt := range want {
		if toks[i].Type != tt {
			return 0
		}
	}
	return len(want)
}

// SensitiveVariables returns the names of the variables that a
// configuration file's source declares with sensitive = true; a file that
// does not parse declares none.
func SensitiveVariables(src []byte) map[string]bool {
	names := map[string]bool{}
	if CheckNesting(src, "", hcl.InitialPos).HasErrors() {
		return names // the parser would overflow its stack
	}
	f, diags := hclsyntax.ParseConfig(src, "", hcl.InitialPos)
	if diags.HasErrors() || f == nil {
		return names
	}
	body, ok := f.Body.(*hclsyntax.Body)
	if !ok {
		return names
	}
	for _, b := range body.Blocks {
		if b.Type != "variable" || len(b.Labels) != 1 {
			continue
		}
		if a, ok := b.Body.Attributes["sensitive"]; ok {
			if v, d := a.Expr.Value(nil); !d.HasErrors() && v.Type() == cty.Bool && v.IsKnown() && !v.IsNull() && v.True() {
				names[b.Labels[0]] = true
			}
		}
	}
	return names
}

// VarsFileSecrets returns the literals a variables file (name = value
// lines) gives the variables named in sensitive (a value written without
// its quotes too, pw = hunter2), as they are spelled in
// the file: the secrets that a diff of the file would show. It reads
// tokens, so it finds them in a file that does not parse too.
func VarsFileSecrets(src []byte, sensitive map[string]bool) []string {
	toks, _ := hclsyntax.LexConfig(src, "", hcl.InitialPos)
	var out []string
	attr, depth, lineStart := "", 0, true
	for i, t := range toks {
		switch t.Type {
		case hclsyntax.TokenNewline:
			if depth == 0 {
				attr, lineStart = "", true
			}
			continue
		case hclsyntax.TokenComment:
			// A # or // comment holds its line break; a /* */ one does not.
			if depth == 0 && len(t.Bytes) > 0 && t.Bytes[len(t.Bytes)-1] == '\n' {
				attr, lineStart = "", true
			}
			continue
		case hclsyntax.TokenOBrace, hclsyntax.TokenOBrack, hclsyntax.TokenOParen:
			depth++
		case hclsyntax.TokenCBrace, hclsyntax.TokenCBrack, hclsyntax.TokenCParen:
			depth = max(0, depth-1)
		case hclsyntax.TokenIdent:
			if lineStart && depth == 0 && i+1 < len(toks) && toks[i+1].Type == hclsyntax.TokenEqual {
				attr = string(t.Bytes)
			} else if sensitive[attr] && bareValue(toks, i) {
				// pw = hunter2: the value without its quotes, which the
				// error about it and a diff of the file show.
				out = append(out, string(t.Bytes))
			}
		case hclsyntax.TokenQuotedLit, hclsyntax.TokenStringLit, hclsyntax.TokenNumberLit:
			if sensitive[attr] {
				out = append(out, string(t.Bytes))
			}
		}
		lineStart = false
	}
	return out
}
