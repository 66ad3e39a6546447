package sshtunnel

import (
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/rowform/rowform/internal/sshtest"
	"golang.org/x/crypto/ssh/knownhosts"
)

// FuzzKnownHosts: whatever a known_hosts file holds, reading it for a
// bastion and checking a key against it never panics and fails only if
// the file does not parse; a key the file does not name is refused, and the
// host key algorithms asked for have no repeats.
func FuzzKnownHosts(f *testing.F) {
	known := sshtest.NewKey(f, "ed25519")
	other := sshtest.NewKey(f, "ed25519")
	line := knownhosts.Line([]string{"bastion.example:2222"}, known.Public)
	for _, s := range []string{
		line, "@cert-authority *.example " + known.AuthorizedKey(), "@revoked * " + known.AuthorizedKey(),
		knownhosts.HashHostname("bastion.example") + " " + known.AuthorizedKey(), "# comment\n\n" + line,
		"\t @cert-authority\tbastion.example " + known.AuthorizedKey(), "@cert-authority @revoked x " + known.AuthorizedKey(),
		"[bastion.example]:2222,!bastion.example " + known.AuthorizedKey(), "bastion.example ssh-ed25519 AAAA",
		"* " + known.AuthorizedKey(), "@cert-authority [*.example]:*,![other.example]:* " + known.AuthorizedKey(),
		"bastion.example:2222 " + known.AuthorizedKey() + "\n[bastion.example\t" + known.AuthorizedKey(),
	} {
		f.Add(s, "bastion.example", 2222)
	}
	f.Fuzz(func(t *testing.T, content, host string, port int) {
		if port < 1 || port > 65535 || strings.ContainsAny(host, "\x00") {
			return
		}
		file := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(file, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		lookup := lookupAddr(host, port)
		k, err := loadKnownHost(file, net.JoinHostPort(host, "2222"), lookup)
		if err != nil {
			// The copy read for a port other than 22 parses whenever
			// the file does.
			_, parseErr := knownhosts.New(file)
			if _, _, splitErr := net.SplitHostPort(lookup); parseErr == nil && splitErr == nil {
				t.Fatalf("the file parses, but: %v", err)
			}
			return
		}
		algs := k.algorithms()
		for i, a := range algs {
			if slices.Contains(algs[:i], a) {
				t.Fatalf("algorithm %s asked for twice: %v", a, algs)
			}
		}
		remote := &net.TCPAddr{IP: net.IPv4(192, 0, 2, 1), Port: port}
		_ = k.check(remote, known.Public)
		if !strings.Contains(content, strings.Fields(other.AuthorizedKey())[1][30:50]) && k.check(remote, other.Public) == nil {
			t.Fatalf("a key the file does not name was let through")
		}
	})
}
