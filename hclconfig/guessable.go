package hclconfig

import (
	"fmt"
	"sort"
	"strings"

	"github.com/hashicorp/hcl/v2"
)

// printedWords are words rowform's own output is made of. A secret that
// one of them, or a name of the configuration, contains is masked inside
// that word wherever it is printed ("(sensitive).crm" for a password of
// "postgres"), which garbles the output and tells a reader the secret.
var printedWords = []string{
	"postgres", "public", "destination", "source", "sync", "table", "insert", "inserted", "update", "updated",
	"delete", "deleted", "unchanged", "skipped", "reject", "rejected", "mirror", "update_or_create", "update_only",
	"append", "plan", "apply", "error", "warning", "changes", "rows", "columns", "localhost",
}

// guessableSecrets warns about each password and key passphrase (of the
// length the output filter masks) that a printed word or a name of the
// configuration contains. The warning names the server, never the secret
// or the word.
func guessableSecrets(cfg *Config) hcl.Diagnostics {
	words := append([]string(nil), printedWords...)
	for _, srv := range cfg.Destinations {
		words = append(words, srv.Address(), srv.Host, srv.Database, srv.User)
	}
	for _, src := range cfg.Sources {
		words = append(words, src.Address())
		if srv := src.Server; srv != nil {
			words = append(words, srv.Host, srv.Database, srv.User)
		}
	}
	for _, s := range cfg.Syncs {
		words = append(words, s.Name, s.Table.Schema, s.Table.Name)
	}
	for i := range words {
		words[i] = strings.ToLower(words[i])
	}
	guessable := func(secret string) bool {
		s := strings.ToLower(strings.TrimSpace(secret))
		if len(s) < 4 {
			return false
		}
		for _, w := range words {
			if strings.Contains(w, s) {
				return true
			}
		}
		return false
	}
	type owner struct {
		what string
		srv  *Server
	}
	var found []owner
	servers := map[*Server]bool{}
	for _, srv := range cfg.Destinations {
		servers[srv] = true
	}
	for _, src := range cfg.Sources {
		if src.Server != nil {
			servers[src.Server] = true
		}
	}
	for srv := range servers {
		if guessable(srv.Password.Reveal()) {
			found = append(found, owner{"password", srv})
		}
		if t := srv.SSHTunnel; t != nil && guessable(t.PrivateKeyPassphrase.Reveal()) {
			found = append(found, owner{"ssh_tunnel's private_key_passphrase", srv})
		}
	}
	sort.Slice(found, func(i, j int) bool {
		if a, b := found[i].srv.Address(), found[j].srv.Address(); a != b {
			return a < b
		}
		return found[i].what < found[j].what
	})
	var diags hcl.Diagnostics
	for _, f := range found {
		rng := f.srv.DeclRange
		diags = append(diags, &hcl.Diagnostic{
			Severity: hcl.DiagWarning,
			Summary:  "Guessable secret",
			Detail: fmt.Sprintf("The %s of %s is part of a word that rowform prints or of a name in the configuration. "+
				"rowform masks every secret as (sensitive) wherever it appears in its output, so that word is shown masked too, which garbles the output and lets a reader guess the secret. "+
				"Give the role a password that is not a word.", f.what, f.srv.Address()),
			Subject: &rng,
		})
	}
	return diags
}
