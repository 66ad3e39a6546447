package hclconfig

import "testing"

// TestCSVEncodingAttribute: a csv source's encoding is UTF-8 by default,
// "UTF8" or "LATIN1" (also spelled latin1, ISO-8859-1); others are an
// error with a did-you-mean hint.
func TestCSVEncodingAttribute(t *testing.T) {
	src := func(enc string) map[string]string {
		attr := ""
		if enc != "" {
			attr = "  encoding = " + enc + "\n"
		}
		return map[string]string{"main.hcl": "source \"csv\" \"s\" {\n  path = \"s.csv\"\n" + attr + "}\n"}
	}
	for enc, want := range map[string]string{``: "", `"UTF8"`: "", `"utf-8"`: "", `"LATIN1"`: EncodingLatin1, `"latin1"`: EncodingLatin1, `"ISO-8859-1"`: EncodingLatin1} {
		cfg, diags := loadFiles(t, src(enc), Inputs{})
		noErrors(t, cfg, diags)
		if got := cfg.Sources["csv.s"].CSV.Encoding; got != want {
			t.Errorf("encoding = %s: Encoding %q, want %q", enc, got, want)
		}
	}
	_, diags := loadFiles(t, src(`"LATIN2"`), Inputs{})
	wantError(t, diags, "Invalid encoding", `"UTF8", "LATIN1"`, `Did you mean "LATIN1"?`)
}
