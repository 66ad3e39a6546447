package views

import (
	"bytes"
	"encoding/json"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/hashicorp/hcl/v2"
	"github.com/rowform/rowform/internal/redact"
	"github.com/rowform/rowform/planner"
)

// redactSpecials are the characters special to JSON (quotes, backslash,
// control characters, <, >, &, U+2028), Markdown (ASCII punctuation, line
// breaks), HTML (& < > " ') and terminals (escape sequences, bidi controls,
// DEL), and a byte that is not UTF-8.
const redactSpecials = "<>&\"'\\\t\n\r\x00\x07\b\f\v\x1b\x7f\u0085\u2028\u2029\u202e\u200f\u2066`*_[]|~#+-.!(){}=$%^/:;?@,\xff é"

// secretPlan puts secret everywhere a plan holds text that can come from a
// server or the configuration: finding texts, example keys, names of
// columns and constraints, the table, sample keys and values.
func secretPlan(secret string) *planner.Plan {
	return finishPlan(&planner.Plan{Syncs: []*planner.SyncPlan{{
		Name: "users", Behavior: "mirror",
		Source: "postgres.src", Destination: "postgres.dst", Table: "public." + secret,
		Key:    []string{"id"},
		Counts: planner.Counts{Insert: 1, Update: 1, Delete: 1, Reject: 1},
		Findings: []planner.Finding{
			{
				Severity: planner.SeverityError, Code: planner.CodeSourceQueryFailed,
				Summary: "the query failed: " + secret,
				Detail:  "ERROR: invalid input syntax for type integer: \"" + secret + "\"\nLINE 1: " + secret,
				Fix:     "ALTER TABLE t ADD CHECK (x <> '" + secret + "');",
			},
			{
				Severity: planner.SeverityWarning, Code: planner.CodeRejectedRows,
				Summary: "1 row would be refused: " + secret, Column: secret, Constraint: secret,
				Table: secret, Rows: 1, Examples: []string{"id=" + planner.FormatValue(secret)},
			},
		},
		Samples: &planner.Samples{
			Insert: []planner.SampleRow{{Key: []string{secret}, Columns: []planner.SampleColumn{{Name: "id", After: secret}, {Name: "v", After: secret}}}},
			Update: []planner.SampleRow{{Key: []string{secret}, Columns: []planner.SampleColumn{{Name: "v", Before: secret, After: "x" + secret}}}},
			Delete: []planner.SampleRow{{Key: []string{secret}, Columns: []planner.SampleColumn{{Name: "id", Before: secret}}}},
		},
		Diffed: true, ChangeDigest: "00", DestinationRows: 1, SourceRows: 1,
	}}})
}

// checkRedacted renders every output format of a plan, a saved plan file,
// rejected rows and diagnostics holding secret, through the redacting
// writer the CLI uses, and fails if any of the secret's letters survive.
// The secret is "Qzab" + middle + "Jkcd": masked whole, neither piece is
// left; with a line break in middle, each line is masked on its own.
func checkRedacted(t *testing.T, middle string) {
	t.Helper()
	secret := "Qzab" + middle + "Jkcd"
	var r redact.Redactor
	r.Add(secret)
	outputs := map[string][]byte{}
	render := func(name string, f func(w *bytes.Buffer) error) {
		var raw bytes.Buffer
		if err := f(&raw); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		var out bytes.Buffer
		w := redact.NewWriter(&out, &r)
		// In pieces, as renderers and the terminal write.
		b := raw.Bytes()
		for len(b) > 0 {
			n := min(len(b), 7)
			if _, err := w.Write(b[:n]); err != nil {
				t.Fatal(err)
			}
			b = b[n:]
		}
		if err := w.Flush(); err != nil {
			t.Fatal(err)
		}
		outputs[name] = out.Bytes()
	}
	p := secretPlan(secret)
	render("text", func(w *bytes.Buffer) error { return RenderPlan(w, p, FormatText, false) })
	render("color", func(w *bytes.Buffer) error { return RenderPlan(w, p, FormatText, true) })
	render("json", func(w *bytes.Buffer) error { return RenderPlan(w, p, FormatJSON, false) })
	render("markdown", func(w *bytes.Buffer) error { return RenderPlan(w, p, FormatMarkdown, false) })
	render("rejected", func(w *bytes.Buffer) error {
		_, err := w.WriteString(RejectedRowText(planner.RejectedRow{Sync: "users", Kind: "insert",
			Key: map[string]string{"id": secret, secret: "1"}, Column: secret, Constraint: secret, Reason: secret}, []string{"id"}) + "\n")
		return err
	})
	diags := hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "bad " + secret, Detail: "the value " + secret + " is wrong"}}
	render("diagnostics", func(w *bytes.Buffer) error { return WriteDiagnostics(w, nil, diags, 0, false, nil) })
	render("diagnostics-json", func(w *bytes.Buffer) error {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(NewValidation(diags))
	})
	// The plan file goes through the redactor's filter, as plan -out does;
	// show and show -json render what it holds.
	path := filepath.Join(t.TempDir(), "p.plan")
	if err := planner.WritePlanFile(path, &planner.SavedPlan{Plan: p}, r.Bytes); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	outputs["plan file"] = b

	for name, out := range outputs {
		low := strings.ToLower(string(out))
		if strings.Contains(low, "qzab") || strings.Contains(low, "jkcd") {
			t.Errorf("secret %q shows in %s:\n%s", secret, name, out)
		} else if !bytes.Contains(out, []byte(redact.Mask)) {
			t.Errorf("%s holds no %s:\n%s", name, redact.Mask, out)
		}
	}
}

// FuzzRedactedOutputs: secrets drawn from every character special to some
// output format are masked in every output format. The seeds (each special
// character, all of them, random strings of them) run with go test.
func FuzzRedactedOutputs(f *testing.F) {
	var chars []string
	for i := 0; i < len(redactSpecials); {
		_, w := utf8.DecodeRuneInString(redactSpecials[i:])
		chars = append(chars, redactSpecials[i:i+w])
		i += w
	}
	for _, c := range chars {
		f.Add(c)
		f.Add(c + c + "x" + c)
	}
	f.Add(redactSpecials)
	rng := rand.New(rand.NewPCG(1, 2))
	for range 40 {
		var b strings.Builder
		for range 1 + rng.IntN(12) {
			b.WriteString(chars[rng.IntN(len(chars))])
		}
		f.Add(b.String())
	}
	f.Fuzz(func(t *testing.T, middle string) {
		if strings.ContainsAny(strings.ToLower(middle), "qzabjkcd") || len(middle) > 200 {
			return // the letters that say whether the secret was masked
		}
		checkRedacted(t, middle)
	})
}
