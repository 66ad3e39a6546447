package hclconfig

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"path/filepath"
	"slices"
	"strings"

	ctyjson "github.com/zclconf/go-cty/cty/json"
)

// digest hashes everything that decides what a plan does. Secret values are
// excluded (Secret marshals as "(sensitive)"), so rotating a password does not
// make a saved plan stale; so is every other secret the configuration used
// (a sensitive variable's value inside a query, an env() host or user),
// replaced in the hashed text: a plan file holds the digest, and a digest
// over a short secret would give it away to whoever tries each value. A
// changed secret that changes what the sync writes still makes the plan
// stale: apply compares the changes themselves. File paths inside the
// configuration directory are hashed relative to it (portableSync), so
// that a saved plan applies from another checkout of the configuration.
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
		s = portableSync(s, c.Dir)
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

// portableSync is a copy of s for the digest whose source's and
// destination's file paths inside dir are relative to it (s is not
// changed).
func portableSync(s *Sync, dir string) *Sync {
	p := *s
	p.Source = portableSource(s.Source, dir)
	p.Destination = portableServer(s.Destination, dir)
	return &p
}

// portableSource is a copy of src with its paths (a csv file, a DuckDB
// database, a dbt project) relative to dir when inside it.
func portableSource(src *Source, dir string) *Source {
	if src == nil {
		return nil
	}
	p := *src
	if src.CSV != nil {
		csv := *src.CSV
		csv.Path = relativeTo(dir, csv.Path)
		p.CSV = &csv
	}
	if src.DuckDB != nil {
		db := *src.DuckDB
		db.Path = relativeTo(dir, db.Path)
		p.DuckDB = &db
	}
	if src.DBT != nil {
		dbt := *src.DBT
		dbt.Dir = relativeTo(dir, dbt.Dir)
		p.DBT = &dbt
	}
	p.Server = portableServer(src.Server, dir)
	return &p
}

// portableServer is a copy of srv with its files (sslrootcert, the SSH
// tunnel's key and known_hosts) relative to dir when inside it.
func portableServer(srv *Server, dir string) *Server {
	if srv == nil {
		return nil
	}
	p := *srv
	p.SSLRootCert = relativeTo(dir, srv.SSLRootCert)
	if srv.SSHTunnel != nil {
		tun := *srv.SSHTunnel
		tun.PrivateKeyFile = relativeTo(dir, tun.PrivateKeyFile)
		tun.KnownHostsFile = relativeTo(dir, tun.KnownHostsFile)
		p.SSHTunnel = &tun
	}
	return &p
}

// relativeTo is the absolute path p relative to dir, in slash form, when
// p is dir or inside it; otherwise (outside it, or "") p as it is.
func relativeTo(dir, p string) string {
	if dir == "" || p == "" {
		return p
	}
	rel, err := filepath.Rel(dir, p)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return p
	}
	return filepath.ToSlash(rel)
}
