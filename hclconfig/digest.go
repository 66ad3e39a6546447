package hclconfig

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"

	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// digest hashes everything that decides what a plan does. Secret values are
// excluded (Secret marshals as "(sensitive)"), so rotating a password does not
// make a saved plan stale; so is every other secret the configuration used
// (a sensitive variable's value inside a query, an env() host or user),
// replaced in the hashed text: a plan file holds the digest, and a digest
// over a short secret would give it away to whoever tries each value. A
// changed secret that changes what the sync writes still makes the plan
// stale: apply compares the changes themselves.
func digest(c *Config) string {
	type syncDigest struct {
		Sync        *Sync
		Source      *Source
		Destination *Server
		// QueryText is the query as written, for a query computed from a
		// sensitive value: its value is a secret as a whole.
		QueryText string `json:",omitempty"`
	}
	var all struct {
		Syncs []syncDigest
		// Variables are the values of the variables that hold no secret,
		// which a query as written reads (only when there is one).
		Variables map[string]json.RawMessage
	}
	asWritten := false
	for _, s := range c.Syncs {
		d := syncDigest{Sync: s, Source: s.Source, Destination: s.Destination}
		if s.QuerySensitive {
			masked := *s
			masked.Query = "(sensitive)"
			d.Sync, d.QueryText = &masked, c.sourceText(s.QueryRange)
			asWritten = true
		}
		all.Syncs = append(all.Syncs, d)
	}
	if asWritten {
		all.Variables = map[string]json.RawMessage{}
		for name := range c.Variables {
			if v, ok := c.NonSensitiveValue(name); ok {
				if b, err := ctyjson.Marshal(v, v.Type()); err == nil {
					all.Variables[name] = b
				}
			}
		}
	}
	b, err := json.Marshal(all)
	if err != nil {
		return ""
	}
	b = withoutSecrets(b, c.Secrets())
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// withoutSecrets replaces each secret, as JSON writes it inside a string,
// with (sensitive) in b, the longest secrets first (so that a secret
// inside a longer one does not leave the rest of it behind).
func withoutSecrets(b []byte, secrets []string) []byte {
	secrets = slices.Clone(secrets)
	slices.SortFunc(secrets, func(a, b string) int { return cmp.Compare(len(b), len(a)) })
	for _, s := range secrets {
		q, err := json.Marshal(s)
		if err != nil || len(q) <= 2 {
			continue
		}
		b = bytes.ReplaceAll(b, q[1:len(q)-1], []byte("(sensitive)"))
	}
	return b
}
