package hclconfig

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
)

// digest hashes everything that decides what a plan does. Secret values are
// excluded (Secret marshals as "(sensitive)"), so rotating a password does not
// make a saved plan stale.
func digest(c *Config) string {
	type syncDigest struct {
		Sync        *Sync
		Source      *Source
		Destination *Server
	}
	var all []syncDigest
	for _, s := range c.Syncs {
		all = append(all, syncDigest{s, s.Source, s.Destination})
	}
	b, err := json.Marshal(all)
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}
