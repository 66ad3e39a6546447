package hclconfig

import (
	"github.com/hashicorp/hcl/v2"
)

// addVarFileSnippet keeps a copy of a -var-file for the snippets of its
// diagnostics (a variable it sets that is not declared, say), with the
// bytes of every value replaced by spaces: a snippet shows the line
// `name =` and never a value, which may be a secret. Offsets and line
// breaks are kept, so the diagnostics' ranges still point at the right
// places.
func (l *loader) addVarFileSnippet(name string, src []byte, attrs hcl.Attributes) {
	masked := append([]byte(nil), src...)
	for _, a := range attrs {
		r := a.Expr.Range()
		for i := r.Start.Byte; i < r.End.Byte && i < len(masked); i++ {
			if masked[i] != '\n' && masked[i] != '\r' {
				masked[i] = ' '
			}
		}
	}
	if l.varFileSnippets == nil {
		l.varFileSnippets = map[string]*hcl.File{}
	}
	l.varFileSnippets[name] = &hcl.File{Bytes: masked}
}
