package planner

import "testing"

// TestTrimQuery: what follows a query's last token (comments, white space)
// and its trailing semicolons go; comment marks and semicolons inside
// strings, identifiers and dollar quotes stay; the start is kept.
func TestTrimQuery(t *testing.T) {
	for in, want := range map[string]string{
		"SELECT 1":               "SELECT 1",
		"\n  SELECT 1;\n":        "\n  SELECT 1",
		"SELECT 1; -- the end\n": "SELECT 1",
		"SELECT 1 -- a comment\n;;  /* x */ ; \n": "SELECT 1",
		"SELECT 1; /* a /* nested */ comment */":  "SELECT 1",
		"SELECT '--;' AS a;":                      "SELECT '--;' AS a",
		"SELECT 'it''s;' -- x":                    "SELECT 'it''s;'",
		`SELECT E'a\';' AS b; -- c`:               `SELECT E'a\';' AS b`,
		`SELECT "a;--" FROM t;`:                   `SELECT "a;--" FROM t`,
		"SELECT $$;--$$ AS d; --":                 "SELECT $$;--$$ AS d",
		"SELECT $x$ ; $$ ; $x$ AS e;":             "SELECT $x$ ; $$ ; $x$ AS e",
		"SELECT 1 AS \"é\"; -- é":                 "SELECT 1 AS \"é\"",
		"SELECT a-b FROM t; -- x":                 "SELECT a-b FROM t",
		"SELECT 2 /* c */ / 1 -- d":               "SELECT 2 /* c */ / 1",
	} {
		if got := trimQuery(in); got != want {
			t.Errorf("trimQuery(%q) = %q, want %q", in, got, want)
		}
	}
}
