package sshtunnel

// These tests run a real sshd (internal/sshtest) and check Open and
// DialContext against it: every way of verifying the host key, every
// authentication method, bastion-side name resolution, keepalives and
// timeouts. They need /usr/sbin/sshd (apt-get install -y openssh-server).

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/sshtest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// echoName is a host name that only the bastion resolves.
const echoName = "echo.bastion.internal"

// fixture is a bastion with one authorized client key.
type fixture struct {
	srv     *sshtest.Server
	client  *sshtest.Key
	keyFile string
	dir     string
	echo    int // port of the echo server behind the bastion
}

func newFixture(t *testing.T, opts sshtest.Options) *fixture {
	t.Helper()
	f := &fixture{client: sshtest.NewKey(t, "ed25519"), dir: t.TempDir(), echo: sshtest.EchoServer(t)}
	opts.Hosts = map[string]string{echoName: "127.0.0.1"}
	opts.AuthorizedKeys = append(opts.AuthorizedKeys, f.client.AuthorizedKey())
	f.srv = sshtest.Start(t, opts)
	f.keyFile = f.client.WriteFile(t, f.dir, "id_ed25519", "")
	return f
}

// tunnel is an ssh_tunnel block for the fixture's bastion, with the
// client key file and a known_hosts file holding lines.
func (f *fixture) tunnel(t *testing.T, knownHostsLines ...string) *hclconfig.SSHTunnel {
	t.Helper()
	return &hclconfig.SSHTunnel{
		Host: f.srv.Host, Port: f.srv.Port, User: f.srv.User,
		PrivateKeyFile: f.keyFile,
		KnownHostsFile: sshtest.WriteKnownHosts(t, f.dir, fmt.Sprintf("known_hosts_%d", time.Now().UnixNano()), knownHostsLines...),
	}
}

func open(t *testing.T, tun *hclconfig.SSHTunnel, environ ...string) (*Tunnel, error) {
	t.Helper()
	return openWith(t, tun, Options{}, environ...)
}

// openWith is open with opts.
func openWith(t *testing.T, tun *hclconfig.SSHTunnel, opts Options, environ ...string) (*Tunnel, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	tn, err := Open(ctx, tun, environ, opts)
	if tn != nil {
		t.Cleanup(func() { tn.Close() })
	}
	return tn, err
}

func mustOpen(t *testing.T, f *fixture, tun *hclconfig.SSHTunnel, environ ...string) *Tunnel {
	t.Helper()
	return mustOpenWith(t, f, tun, Options{}, environ...)
}

// mustOpenWith is mustOpen with opts.
func mustOpenWith(t *testing.T, f *fixture, tun *hclconfig.SSHTunnel, opts Options, environ ...string) *Tunnel {
	t.Helper()
	tn, err := openWith(t, tun, opts, environ...)
	if err != nil {
		t.Fatalf("Open: %v\nsshd log:\n%s", err, f.srv.Log())
	}
	return tn
}

// roundTrip opens a connection through tn to host:echo and checks that
// bytes come back.
func roundTrip(t *testing.T, tn *Tunnel, host string, port int) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := tn.DialContext(ctx, "tcp", net.JoinHostPort(host, strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("DialContext: %v", err)
	}
	defer c.Close()
	msg := []byte("hello through the bastion")
	if _, err := c.Write(msg); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, len(msg))
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.ReadFull(c, buf); err != nil || string(buf) != string(msg) {
		t.Fatalf("echo through the tunnel: %q, %v", buf, err)
	}
}

func wantHostKeyError(t *testing.T, err error, changed bool, presented *sshtest.Key, wantInMsg ...string) {
	t.Helper()
	if err == nil {
		t.Fatal("Open succeeded; the host key must be refused")
	}
	var hk *HostKeyError
	if !errors.As(err, &hk) {
		t.Fatalf("error is %T, not a *HostKeyError: %v", err, err)
	}
	if hk.Changed != changed {
		t.Errorf("Changed = %v, want %v: %v", hk.Changed, changed, err)
	}
	fp := presented.Fingerprint()
	if hk.Fingerprint != fp || !strings.Contains(err.Error(), fp) {
		t.Errorf("the message does not show the presented key's fingerprint %s: %v", fp, err)
	}
	if !strings.Contains(err.Error(), "SHA256:") {
		t.Errorf("no SHA256: fingerprint in %v", err)
	}
	for _, w := range wantInMsg {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("the message lacks %q: %v", w, err)
		}
	}
}

func TestKnownHostsBracketedPortForm(t *testing.T) {
	f := newFixture(t, sshtest.Options{})
	line := f.srv.KnownHostsLine(f.srv.HostKeys["ed25519"].Public)
	if !strings.HasPrefix(line, fmt.Sprintf("[127.0.0.1]:%d ", f.srv.Port)) {
		t.Fatalf("known_hosts line %q is not in [host]:port form", line)
	}
	tn := mustOpen(t, f, f.tunnel(t, "# comment", "other.example.org "+f.srv.HostKeys["rsa"].AuthorizedKey(), line))
	roundTrip(t, tn, "127.0.0.1", f.echo)
	if fw := f.srv.Forwards(); len(fw) != 1 || fw[0].Port != f.echo {
		t.Errorf("sshd forwards = %+v, want one to port %d", fw, f.echo)
	}
}

func TestKnownHostsHashedEntry(t *testing.T) {
	f := newFixture(t, sshtest.Options{})
	line := f.srv.HashedKnownHostsLine(f.srv.HostKeys["ed25519"].Public)
	if !strings.HasPrefix(line, "|1|") {
		t.Fatalf("not a hashed line: %q", line)
	}
	tn := mustOpen(t, f, f.tunnel(t, line))
	roundTrip(t, tn, "127.0.0.1", f.echo)
}

// A bastion with ed25519 and RSA host keys, and a known_hosts with only one
// of them: the client must ask for the known key type
// (HostKeyAlgorithms), not negotiate the other and call it "changed".
func TestKnownHostsHostWithSeveralKeyTypes(t *testing.T) {
	f := newFixture(t, sshtest.Options{HostKeyTypes: []string{"ed25519", "rsa"}})
	for _, typ := range []string{"rsa", "ed25519"} {
		t.Run("only_"+typ+"_known", func(t *testing.T) {
			tn := mustOpen(t, f, f.tunnel(t, f.srv.KnownHostsLine(f.srv.HostKeys[typ].Public)))
			roundTrip(t, tn, "127.0.0.1", f.echo)
		})
		t.Run("only_"+typ+"_known_hashed", func(t *testing.T) {
			tn := mustOpen(t, f, f.tunnel(t, f.srv.HashedKnownHostsLine(f.srv.HostKeys[typ].Public)))
			roundTrip(t, tn, "127.0.0.1", f.echo)
		})
	}
}

// algorithms must find the entries of a host on the default port 22,
// which known_hosts writes without brackets or port ("bastion.example").
// x/crypto prefers ECDSA and RSA host keys over ed25519 when
// HostKeyAlgorithms is empty: a bastion with RSA and ed25519 keys whose
// known_hosts entry is the ed25519 one would negotiate RSA and be refused
// as "changed".
func TestKnownAlgorithmsDefaultPort(t *testing.T) {
	edKey := sshtest.NewKey(t, "ed25519")
	for _, tc := range []struct{ name, addr, line string }{
		{"port_2222", "bastion.example:2222", knownhosts.Line([]string{"bastion.example:2222"}, edKey.Public)},
		{"port_22", "bastion.example:22", knownhosts.Line([]string{"bastion.example:22"}, edKey.Public)},
		{"port_22_hashed", "bastion.example:22", knownhosts.HashHostname("bastion.example") + " " + edKey.AuthorizedKey()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			file := sshtest.WriteKnownHosts(t, t.TempDir(), "known_hosts", tc.line)
			known, err := loadKnownHost(file, tc.addr, tc.addr)
			if err != nil {
				t.Fatal(err)
			}
			got := known.algorithms()
			if strings.Join(got, ",") != ssh.KeyAlgoED25519 {
				t.Errorf("algorithms for %q = %v, want [%s] from the known_hosts entry %q", tc.addr, got, ssh.KeyAlgoED25519, tc.line)
			}
		})
	}
}

// The same end to end: sshd on port 22 with ed25519 and RSA host keys, a
// known_hosts with only the ed25519 key in the plain "127.0.0.1" form that
// ssh-keyscan writes for port 22.
func TestDefaultPortHostWithSeveralKeyTypes(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("binding port 22 needs root")
	}
	if l, err := net.Listen("tcp", "127.0.0.1:22"); err != nil {
		t.Skipf("port 22 is in use: %v", err)
	} else {
		l.Close()
	}
	f := newFixture(t, sshtest.Options{Port: 22, HostKeyTypes: []string{"ed25519", "rsa"}})
	for _, typ := range []string{"ed25519", "rsa"} {
		t.Run("only_"+typ+"_known", func(t *testing.T) {
			line := "127.0.0.1 " + f.srv.HostKeys[typ].AuthorizedKey()
			tn, err := open(t, f.tunnel(t, line))
			if err != nil {
				t.Fatalf("Open with known_hosts %q: %v", line, err)
			}
			roundTrip(t, tn, "127.0.0.1", f.echo)
		})
	}
}

func TestPinnedHostKey(t *testing.T) {
	f := newFixture(t, sshtest.Options{})
	for _, typ := range []string{"ed25519", "rsa"} {
		t.Run(typ, func(t *testing.T) {
			tun := f.tunnel(t)
			tun.KnownHostsFile = ""
			tun.HostKey = f.srv.HostKeys[typ].AuthorizedKey()
			tn := mustOpen(t, f, tun)
			roundTrip(t, tn, "127.0.0.1", f.echo)
		})
	}
	t.Run("wrong", func(t *testing.T) {
		other := sshtest.NewKey(t, "ed25519")
		tun := f.tunnel(t)
		tun.KnownHostsFile = ""
		tun.HostKey = other.AuthorizedKey()
		_, err := open(t, tun)
		wantHostKeyError(t, err, true, f.srv.HostKeys["ed25519"], "does not match the pinned host_key",
			fmt.Sprintf("pin it: host_key = %q", f.srv.HostKeys["ed25519"].AuthorizedKey()))
		// There is no known_hosts entry to remove.
		if strings.Contains(err.Error(), "ssh-keygen -R") || strings.Contains(err.Error(), "known_hosts") {
			t.Errorf("the refusal of a pinned key gives known_hosts advice: %v", err)
		}
	})
	t.Run("malformed", func(t *testing.T) {
		tun := f.tunnel(t)
		tun.KnownHostsFile = ""
		tun.HostKey = "ssh-ed25519 not-base64"
		_, err := open(t, tun)
		if err == nil || !strings.Contains(err.Error(), "host_key is not a public key") {
			t.Fatalf("err = %v", err)
		}
	})
}

func TestChangedHostKeyIsRefused(t *testing.T) {
	f := newFixture(t, sshtest.Options{})
	before := f.srv.Logins()
	t.Run("ed25519", func(t *testing.T) {
		impostor := sshtest.NewKey(t, "ed25519")
		tun := f.tunnel(t, f.srv.KnownHostsLine(impostor.Public))
		_, err := open(t, tun)
		wantHostKeyError(t, err, true, f.srv.HostKeys["ed25519"], tun.KnownHostsFile, "ssh-keygen -R", "changed")
	})
	t.Run("rsa_only_known", func(t *testing.T) {
		impostor := sshtest.NewKey(t, "rsa")
		tun := f.tunnel(t, f.srv.HashedKnownHostsLine(impostor.Public))
		_, err := open(t, tun)
		wantHostKeyError(t, err, true, f.srv.HostKeys["rsa"], tun.KnownHostsFile)
	})
	if f.srv.Logins() != before {
		t.Errorf("a login happened although the host key was refused")
	}
}

func TestUnknownHostIsRefused(t *testing.T) {
	f := newFixture(t, sshtest.Options{HostKeyTypes: []string{"ed25519"}})
	hk := f.srv.HostKeys["ed25519"]
	cases := map[string][]string{
		"other_hosts_only": {"bastion.example.org " + hk.AuthorizedKey()},
		// The same address on the default port is another host entry.
		// (ssh accepts it, looking the host up without the port when
		// nothing is known for "[host]:port"; rowform does not.)
		"same_ip_default_port": {"127.0.0.1 " + hk.AuthorizedKey()},
		"empty_file":           {},
	}
	for name, lines := range cases {
		t.Run(name, func(t *testing.T) {
			tun := f.tunnel(t, lines...)
			_, err := open(t, tun)
			wantHostKeyError(t, err, false, hk, "not known", tun.KnownHostsFile,
				"ssh-keyscan -p PORT", fmt.Sprintf("host_key = %q", hk.AuthorizedKey()))
		})
	}
	t.Run("missing_file", func(t *testing.T) {
		tun := f.tunnel(t)
		tun.KnownHostsFile = filepath.Join(f.dir, "does-not-exist")
		_, err := open(t, tun)
		if err == nil || !strings.Contains(err.Error(), tun.KnownHostsFile) || !strings.Contains(err.Error(), "ssh-keyscan") {
			t.Fatalf("err = %v", err)
		}
	})
	if n := f.srv.Logins(); n != 0 {
		t.Errorf("%d logins although the host was unknown", n)
	}
}

// Host names are looked up in known_hosts lowercased, as OpenSSH does:
// host = "LocalHost" is the host of a "[localhost]:PORT" entry, plain or
// hashed. Refusals still name the bastion as written.
func TestKnownHostsHostNameCase(t *testing.T) {
	f := newFixture(t, sshtest.Options{HostKeyTypes: []string{"ed25519"}})
	hk := f.srv.HostKeys["ed25519"]
	entry := fmt.Sprintf("[localhost]:%d", f.srv.Port)
	for name, line := range map[string]string{
		"plain":  entry + " " + hk.AuthorizedKey(),
		"hashed": knownhosts.HashHostname(entry) + " " + hk.AuthorizedKey(),
	} {
		t.Run(name, func(t *testing.T) {
			tun := f.tunnel(t, line)
			tun.Host = "LocalHost"
			roundTrip(t, mustOpen(t, f, tun), "127.0.0.1", f.echo)
		})
	}
	t.Run("refusal_names_the_host_as_written", func(t *testing.T) {
		tun := f.tunnel(t, "[localhost]:1 "+hk.AuthorizedKey())
		tun.Host = "LocalHost"
		_, err := open(t, tun)
		wantHostKeyError(t, err, false, hk, fmt.Sprintf("LocalHost:%d", f.srv.Port), "not known")
	})
}

// certifiedBastion is a fixture whose bastion presents its ed25519 host key
// with a host certificate signed by ca for principals, valid from from
// until until (sshd's HostCertificate).
func certifiedBastion(t *testing.T, ca *sshtest.Key, principals []string, from, until time.Time) *fixture {
	t.Helper()
	return certifiedBastionWith(t, ca, principals, from, until, sshtest.Options{})
}

// certifiedBastionWith is certifiedBastion with opts for the bastion.
func certifiedBastionWith(t *testing.T, ca *sshtest.Key, principals []string, from, until time.Time, opts sshtest.Options) *fixture {
	t.Helper()
	cert := &ssh.Certificate{
		Key: sshtest.HostKey(t, "ed25519").Public, CertType: ssh.HostCert, KeyId: "bastion",
		ValidPrincipals: principals, ValidAfter: uint64(from.Unix()), ValidBefore: uint64(until.Unix()),
	}
	if err := cert.SignCert(rand.Reader, ca.Signer); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(t.TempDir(), "ssh_host_ed25519_key-cert.pub")
	if err := os.WriteFile(file, ssh.MarshalAuthorizedKey(cert), 0o644); err != nil {
		t.Fatal(err)
	}
	opts.ExtraConfig = append(opts.ExtraConfig, "HostCertificate "+file)
	return newFixture(t, opts)
}

// wantNoInterceptionClaim fails when a refusal says the connection may be
// intercepting: only a plain key line for the host that differs says so.
func wantNoInterceptionClaim(t *testing.T, err error) {
	t.Helper()
	if err != nil && strings.Contains(err.Error(), "intercepting") {
		t.Errorf("the refusal claims interception, but no plain key line for the host differs: %v", err)
	}
}

// A bastion whose host certificate is signed by a CA that a
// @cert-authority line trusts for it is accepted, as OpenSSH accepts it,
// with or without a plain key line for one of its key types.
func TestHostCertificateFromTrustedCA(t *testing.T) {
	ca := sshtest.NewKey(t, "ed25519")
	f := certifiedBastion(t, ca, []string{"127.0.0.1"}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour))
	entry := fmt.Sprintf("[127.0.0.1]:%d", f.srv.Port)
	for name, lines := range map[string][]string{
		"bracketed":           {"@cert-authority " + entry + " " + ca.AuthorizedKey()},
		"wildcard":            {fmt.Sprintf("@cert-authority [127.0.0.*]:%d %s", f.srv.Port, ca.AuthorizedKey())},
		"hashed":              {"@cert-authority " + knownhosts.HashHostname(entry) + " " + ca.AuthorizedKey()},
		"with_plain_rsa_line": {"@cert-authority " + entry + " " + ca.AuthorizedKey(), f.srv.KnownHostsLine(f.srv.HostKeys["rsa"].Public)},
	} {
		t.Run(name, func(t *testing.T) {
			roundTrip(t, mustOpen(t, f, f.tunnel(t, lines...)), "127.0.0.1", f.echo)
		})
	}
}

// A host certificate that cannot be trusted is refused, saying why, without
// claiming interception unless a plain key line for the host differs; as
// OpenSSH does, it is then checked as the plain key it certifies.
func TestHostCertificateRefused(t *testing.T) {
	ca, stranger := sshtest.NewKey(t, "ed25519"), sshtest.NewKey(t, "ed25519")
	hk := sshtest.HostKey(t, "ed25519")
	now := time.Now()
	f := certifiedBastion(t, ca, []string{"127.0.0.1"}, now.Add(-time.Hour), now.Add(time.Hour))
	trusting := func(f *fixture, ca *sshtest.Key) string {
		return fmt.Sprintf("@cert-authority [127.0.0.1]:%d %s", f.srv.Port, ca.AuthorizedKey())
	}
	caFP := ssh.FingerprintSHA256(ca.Public)
	t.Run("untrusted_CA", func(t *testing.T) {
		tun := f.tunnel(t, trusting(f, stranger))
		_, err := open(t, tun)
		wantHostKeyError(t, err, false, hk, "host certificate", caFP, "no @cert-authority line", tun.KnownHostsFile)
		wantNoInterceptionClaim(t, err)
	})
	t.Run("CA_trusted_for_another_host", func(t *testing.T) {
		tun := f.tunnel(t, "@cert-authority bastion.example.org "+ca.AuthorizedKey())
		_, err := open(t, tun)
		wantHostKeyError(t, err, false, hk, "host certificate", caFP, "no @cert-authority line")
		wantNoInterceptionClaim(t, err)
	})
	t.Run("untrusted_CA_certified_key_known", func(t *testing.T) {
		mustOpen(t, f, f.tunnel(t, trusting(f, stranger), f.srv.KnownHostsLine(hk.Public)))
	})
	t.Run("untrusted_CA_other_key_known", func(t *testing.T) {
		tun := f.tunnel(t, trusting(f, stranger), f.srv.KnownHostsLine(stranger.Public))
		_, err := open(t, tun)
		wantHostKeyError(t, err, true, hk, "intercepting")
	})
	t.Run("revoked_CA", func(t *testing.T) {
		tun := f.tunnel(t, trusting(f, ca), "@revoked * "+ca.AuthorizedKey())
		_, err := open(t, tun)
		wantHostKeyError(t, err, false, hk, "revoked", "line 2", caFP, tun.KnownHostsFile)
		wantNoInterceptionClaim(t, err)
	})
	t.Run("expired", func(t *testing.T) {
		f := certifiedBastion(t, ca, []string{"127.0.0.1"}, now.Add(-2*time.Hour), now.Add(-time.Hour))
		_, err := open(t, f.tunnel(t, trusting(f, ca)))
		wantHostKeyError(t, err, false, hk, "expired at", "new host certificate")
		wantNoInterceptionClaim(t, err)
	})
	t.Run("issued_for_another_host", func(t *testing.T) {
		f := certifiedBastion(t, ca, []string{"bastion.example.org"}, now.Add(-time.Hour), now.Add(time.Hour))
		_, err := open(t, f.tunnel(t, trusting(f, ca)))
		wantHostKeyError(t, err, false, hk, "issued for bastion.example.org, not for 127.0.0.1", "set host to one of those names")
		wantNoInterceptionClaim(t, err)
	})
	// host is compared in lowercase, as OpenSSH compares it: a principal
	// in capitals never matches, so setting host to it is no advice.
	t.Run("principal_in_capitals", func(t *testing.T) {
		f := certifiedBastion(t, ca, []string{"LOCALHOST"}, now.Add(-time.Hour), now.Add(time.Hour))
		tun := f.tunnel(t, fmt.Sprintf("@cert-authority [localhost]:%d %s", f.srv.Port, ca.AuthorizedKey()))
		tun.Host = "LOCALHOST"
		_, err := open(t, tun)
		wantHostKeyError(t, err, false, hk, "issued for LOCALHOST, not for localhost", "new host certificate that names localhost")
		if err != nil && strings.Contains(err.Error(), "set host to") {
			t.Errorf("the refusal suggests a host name that cannot match: %v", err)
		}
	})
}

// A @cert-authority line trusts the certificates its key signs, not that key
// as a plain host key: a bastion presenting the CA's key itself, without a
// certificate, is refused, as OpenSSH refuses it — also when an expired
// certificate certifies that key.
func TestCAKeyIsNotAPlainHostKey(t *testing.T) {
	hk := sshtest.HostKey(t, "ed25519")
	caLine := func(f *fixture) string {
		return fmt.Sprintf("@cert-authority [127.0.0.1]:%d %s", f.srv.Port, hk.AuthorizedKey())
	}
	t.Run("plain_key", func(t *testing.T) {
		f := newFixture(t, sshtest.Options{HostKeyTypes: []string{"ed25519"}})
		tun := f.tunnel(t, caLine(f))
		_, err := open(t, tun)
		wantHostKeyError(t, err, false, hk, "not known", tun.KnownHostsFile)
		wantNoInterceptionClaim(t, err)
		if n := f.srv.Logins(); n != 0 {
			t.Errorf("%d logins although the host key was refused", n)
		}
	})
	t.Run("plain_key_other_key_known", func(t *testing.T) {
		f := newFixture(t, sshtest.Options{HostKeyTypes: []string{"ed25519"}})
		_, err := open(t, f.tunnel(t, caLine(f), f.srv.KnownHostsLine(sshtest.NewKey(t, "ed25519").Public)))
		wantHostKeyError(t, err, true, hk, "intercepting")
	})
	t.Run("expired_self_signed_certificate", func(t *testing.T) {
		now := time.Now()
		f := certifiedBastion(t, hk, []string{"127.0.0.1"}, now.Add(-2*time.Hour), now.Add(-time.Hour))
		_, err := open(t, f.tunnel(t, caLine(f)))
		wantHostKeyError(t, err, false, hk, "expired at")
	})
}

// A key on a @revoked line is refused with a message that says so, names the
// file and line, and says what to do — not the library's "knownhosts: key is
// revoked".
func TestRevokedHostKeyIsRefused(t *testing.T) {
	f := newFixture(t, sshtest.Options{})
	hk := f.srv.HostKeys["ed25519"]
	tun := f.tunnel(t, f.srv.KnownHostsLine(hk.Public), "@revoked * "+hk.AuthorizedKey())
	_, err := open(t, tun)
	wantHostKeyError(t, err, false, hk, "revoked", tun.KnownHostsFile, "line 2", "administrator")
	wantNoInterceptionClaim(t, err)
	if strings.Contains(err.Error(), "knownhosts:") {
		t.Errorf("the library's wording reaches the user: %v", err)
	}
	var e *HostKeyError
	if errors.As(err, &e) && (e.RevokedLine != 2 || e.RevokedCA) {
		t.Errorf("RevokedLine, RevokedCA = %d, %v; want 2, false", e.RevokedLine, e.RevokedCA)
	}
}

func TestWrongClientKeyIsRefused(t *testing.T) {
	f := newFixture(t, sshtest.Options{})
	tun := f.tunnel(t, f.srv.KnownHostsLine(nil))
	tun.PrivateKeyFile = sshtest.NewKey(t, "ed25519").WriteFile(t, f.dir, "stranger", "")
	_, err := open(t, tun)
	if err == nil {
		t.Fatal("Open succeeded with a key the bastion does not know")
	}
	for _, w := range []string{"refused the key", strconv.Quote(f.srv.User), "authorized_keys"} {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("message lacks %q: %v", w, err)
		}
	}
	if f.srv.Logins() != 0 {
		t.Error("sshd logged a login")
	}
}

func TestEncryptedKey(t *testing.T) {
	f := newFixture(t, sshtest.Options{})
	const pass = "correct horse battery staple"
	encFile := f.client.WriteFile(t, f.dir, "id_encrypted", pass)
	known := f.srv.KnownHostsLine(nil)

	t.Run("file_with_passphrase", func(t *testing.T) {
		tun := f.tunnel(t, known)
		tun.PrivateKeyFile = encFile
		tun.PrivateKeyPassphrase = hclconfig.NewSecret(pass)
		roundTrip(t, mustOpen(t, f, tun), "127.0.0.1", f.echo)
	})
	t.Run("inline_with_passphrase", func(t *testing.T) {
		tun := f.tunnel(t, known)
		tun.PrivateKeyFile = ""
		tun.PrivateKey = hclconfig.NewSecret(string(f.client.PEM(t, pass)))
		tun.PrivateKeyPassphrase = hclconfig.NewSecret(pass)
		roundTrip(t, mustOpen(t, f, tun), "127.0.0.1", f.echo)
	})
	t.Run("without_passphrase", func(t *testing.T) {
		tun := f.tunnel(t, known)
		tun.PrivateKeyFile = encFile
		_, err := open(t, tun)
		if err == nil || !strings.Contains(err.Error(), "encrypted") || !strings.Contains(err.Error(), "private_key_passphrase") || !strings.Contains(err.Error(), encFile) {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("wrong_passphrase", func(t *testing.T) {
		tun := f.tunnel(t, known)
		tun.PrivateKeyFile = encFile
		tun.PrivateKeyPassphrase = hclconfig.NewSecret("wrong passphrase 1234")
		_, err := open(t, tun)
		if err == nil || !strings.Contains(err.Error(), "passphrase is wrong") {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(err.Error(), "wrong passphrase 1234") {
			t.Fatalf("the message shows the passphrase: %v", err)
		}
	})
	t.Run("inline_garbage", func(t *testing.T) {
		const secret = "canary-inline-key-7f3a9"
		tun := f.tunnel(t, known)
		tun.PrivateKeyFile = ""
		tun.PrivateKey = hclconfig.NewSecret("-----BEGIN OPENSSH PRIVATE KEY-----\n" + secret + "\n-----END OPENSSH PRIVATE KEY-----\n")
		_, err := open(t, tun)
		if err == nil || !strings.Contains(err.Error(), "private_key") {
			t.Fatalf("err = %v", err)
		}
		if strings.Contains(err.Error(), secret) {
			t.Fatalf("the message shows the key: %v", err)
		}
	})
	t.Run("missing_file", func(t *testing.T) {
		tun := f.tunnel(t, known)
		tun.PrivateKeyFile = filepath.Join(f.dir, "nope")
		_, err := open(t, tun)
		if err == nil || !strings.Contains(err.Error(), "cannot read the SSH private key file") {
			t.Fatalf("err = %v", err)
		}
	})
	// The server must not have seen any login attempt from the failing cases.
	if n := f.srv.Logins(); n != 2 {
		t.Errorf("logins = %d, want 2", n)
	}
}

func TestAgentAuthentication(t *testing.T) {
	f := newFixture(t, sshtest.Options{})
	known := f.srv.KnownHostsLine(nil)
	noKey := func(tun *hclconfig.SSHTunnel) *hclconfig.SSHTunnel { tun.PrivateKeyFile = ""; return tun }

	t.Run("agent_with_key", func(t *testing.T) {
		a := sshtest.StartAgent(t)
		a.Add(t, f.keyFile)
		tn := mustOpen(t, f, noKey(f.tunnel(t, known)), "HOME=/nonexistent", a.Env())
		roundTrip(t, tn, "127.0.0.1", f.echo)
		// The agent connection is not needed after the handshake.
		roundTrip(t, tn, "127.0.0.1", f.echo)
	})
	t.Run("agent_with_other_keys", func(t *testing.T) {
		a := sshtest.StartAgent(t)
		a.Add(t, sshtest.NewKey(t, "ed25519").WriteFile(t, t.TempDir(), "other", ""))
		a.Add(t, f.keyFile)
		tn := mustOpen(t, f, noKey(f.tunnel(t, known)), a.Env())
		roundTrip(t, tn, "127.0.0.1", f.echo)
	})
	t.Run("agent_without_keys", func(t *testing.T) {
		a := sshtest.StartAgent(t)
		_, err := open(t, noKey(f.tunnel(t, known)), a.Env())
		if err == nil || !strings.Contains(err.Error(), "ssh-agent has no keys") || !strings.Contains(err.Error(), "ssh-add") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("agent_with_wrong_key", func(t *testing.T) {
		a := sshtest.StartAgent(t)
		a.Add(t, sshtest.NewKey(t, "ed25519").WriteFile(t, t.TempDir(), "other", ""))
		_, err := open(t, noKey(f.tunnel(t, known)), a.Env())
		if err == nil || !strings.Contains(err.Error(), "refused the key") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("no_agent", func(t *testing.T) {
		_, err := open(t, noKey(f.tunnel(t, known)), "HOME=/root")
		if err == nil || !strings.Contains(err.Error(), "SSH_AUTH_SOCK is not set") || !strings.Contains(err.Error(), "private_key_file") {
			t.Fatalf("err = %v", err)
		}
	})
	t.Run("agent_socket_gone", func(t *testing.T) {
		sock := filepath.Join(t.TempDir(), "gone.sock")
		_, err := open(t, noKey(f.tunnel(t, known)), "SSH_AUTH_SOCK="+sock)
		if err == nil || !strings.Contains(err.Error(), "cannot reach ssh-agent") || !strings.Contains(err.Error(), sock) {
			t.Fatalf("err = %v", err)
		}
	})
	// A configured key wins over the agent.
	t.Run("key_file_over_agent", func(t *testing.T) {
		a := sshtest.StartAgent(t)
		tn := mustOpen(t, f, f.tunnel(t, known), a.Env())
		roundTrip(t, tn, "127.0.0.1", f.echo)
	})
}

// The bastion resolves the target's name: a name only it knows works.
func TestBastionResolvesTheTarget(t *testing.T) {
	f := newFixture(t, sshtest.Options{})
	if _, err := net.LookupHost(echoName); err == nil {
		t.Fatalf("%s resolves on this machine; the test cannot prove that the bastion resolved it", echoName)
	}
	tn := mustOpen(t, f, f.tunnel(t, f.srv.KnownHostsLine(nil)))
	roundTrip(t, tn, echoName, f.echo)
	fw := f.srv.Forwards()
	if len(fw) != 1 || fw[0].Host != echoName || fw[0].Port != f.echo {
		t.Fatalf("sshd forwards = %+v, want %s:%d", fw, echoName, f.echo)
	}
	// A name nobody resolves fails with a message naming bastion and target.
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := tn.DialContext(ctx, "tcp", "nowhere.invalid:5432")
	if err == nil || !strings.Contains(err.Error(), "nowhere.invalid:5432") || !strings.Contains(err.Error(), f.srv.Addr()) {
		t.Fatalf("err = %v", err)
	}
}

// The authorized_keys restrictions docs/connections.md recommends:
// forwarding only, and only to the database.
func TestRestrictedBastionUser(t *testing.T) {
	f := &fixture{client: sshtest.NewKey(t, "ed25519"), dir: t.TempDir(), echo: sshtest.EchoServer(t)}
	other := sshtest.EchoServer(t)
	f.srv = sshtest.Start(t, sshtest.Options{Hosts: map[string]string{echoName: "127.0.0.1"}})
	f.srv.Authorize(t, f.client, fmt.Sprintf(`restrict,port-forwarding,permitopen="%s:%d"`, echoName, f.echo))
	f.keyFile = f.client.WriteFile(t, f.dir, "id", "")
	tn := mustOpen(t, f, f.tunnel(t, f.srv.KnownHostsLine(nil)))
	roundTrip(t, tn, echoName, f.echo)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if c, err := tn.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(other))); err == nil {
		c.Close()
		t.Fatal("the bastion forwarded to a target that permitopen does not allow")
	} else if !strings.Contains(err.Error(), "could not open a connection") {
		t.Errorf("err = %v", err)
	}
}

// One Tunnel serves many connections over one SSH login.
func TestOneLoginForManyConnections(t *testing.T) {
	f := newFixture(t, sshtest.Options{})
	tn := mustOpen(t, f, f.tunnel(t, f.srv.KnownHostsLine(nil)))
	for i := 0; i < 5; i++ {
		roundTrip(t, tn, "127.0.0.1", f.echo)
	}
	if n := f.srv.Logins(); n != 1 {
		t.Errorf("logins = %d, want 1", n)
	}
	if n := len(f.srv.Forwards()); n != 5 {
		t.Errorf("forwards = %d, want 5", n)
	}
}

// shortKeepalives is Options with a keepalive every interval, 3 missed
// closing the tunnel, and the bound within which a dead bastion is found.
func shortKeepalives(interval time.Duration) (Options, time.Duration) {
	opts := Options{KeepaliveInterval: interval, KeepaliveMaxMissed: 3}
	return opts, opts.KeepaliveInterval * time.Duration(opts.KeepaliveMaxMissed+1)
}

// A bastion that stops answering (SIGSTOP: the TCP connection stays up) is
// detected by keepalives within the bound, and the connections through it
// fail instead of hanging.
func TestKeepaliveDetectsHungBastion(t *testing.T) {
	opts, bound := shortKeepalives(400 * time.Millisecond)
	f := newFixture(t, sshtest.Options{})
	tn := mustOpenWith(t, f, f.tunnel(t, f.srv.KnownHostsLine(nil)), opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := tn.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(f.echo)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	// Keepalives are answered while the bastion is alive.
	time.Sleep(3 * opts.KeepaliveInterval)
	select {
	case <-tn.Done():
		t.Fatalf("the tunnel closed while the bastion was alive: %v", tn.closedErr())
	default:
	}

	f.srv.Freeze()
	defer f.srv.Thaw()
	start := time.Now()
	readErr := make(chan error, 1)
	go func() {
		buf := make([]byte, 1)
		_, err := c.Read(buf)
		readErr <- err
	}()
	slack := 2 * time.Second
	select {
	case <-tn.Done():
	case <-time.After(bound + slack):
		t.Fatalf("the tunnel is still open %s after the bastion hung (bound %s)", bound+slack, bound)
	}
	took := time.Since(start)
	t.Logf("hung bastion detected after %s (bound %s)", took, bound)
	select {
	case err := <-readErr:
		if err == nil {
			t.Fatal("read through the dead tunnel returned data")
		}
	case <-time.After(slack):
		t.Fatal("a connection through the closed tunnel still blocks")
	}
	_, err = tn.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(f.echo)))
	if err == nil || !strings.Contains(err.Error(), "stopped answering keepalives") {
		t.Fatalf("dial after close: %v", err)
	}
}

// A bastion that dies closes the tunnel at once.
func TestKilledBastionClosesTunnel(t *testing.T) {
	opts, bound := shortKeepalives(400 * time.Millisecond)
	f := newFixture(t, sshtest.Options{})
	tn := mustOpenWith(t, f, f.tunnel(t, f.srv.KnownHostsLine(nil)), opts)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := tn.DialContext(ctx, "tcp", net.JoinHostPort("127.0.0.1", strconv.Itoa(f.echo)))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	f.srv.Kill()
	_ = c.SetReadDeadline(time.Now().Add(bound + 2*time.Second))
	if _, err := c.Read(make([]byte, 1)); err == nil {
		t.Fatal("read succeeded")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("a connection through the dead bastion hangs")
	}
	select {
	case <-tn.Done():
	case <-time.After(bound + 2*time.Second):
		t.Fatal("the tunnel did not notice that the bastion died")
	}
	if _, err := tn.DialContext(ctx, "tcp", "127.0.0.1:1"); err == nil {
		t.Fatal("dial through a closed tunnel succeeded")
	}
}

// A server that accepts TCP but never speaks SSH: the handshake times out.
func TestHandshakeTimeout(t *testing.T) {
	opts := Options{ConnectTimeout: 700 * time.Millisecond}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			defer c.Close() // hold it open, say nothing
		}
	}()
	port := l.Addr().(*net.TCPAddr).Port
	hk := sshtest.NewKey(t, "ed25519")
	tun := &hclconfig.SSHTunnel{Host: "127.0.0.1", Port: port, User: "x", HostKey: hk.AuthorizedKey(),
		PrivateKeyFile: sshtest.NewKey(t, "ed25519").WriteFile(t, t.TempDir(), "id", "")}
	start := time.Now()
	_, err = openWith(t, tun, opts)
	took := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "handshake") {
		t.Fatalf("err = %v", err)
	}
	// It says what to check: a port that is not an SSH server's.
	if want := fmt.Sprintf("no SSH answer within %s (i/o timeout); check that port %d is the bastion's SSH port", opts.ConnectTimeout, port); !strings.Contains(err.Error(), want) {
		t.Errorf("the message lacks %q: %v", want, err)
	}
	if took > opts.ConnectTimeout+2*time.Second {
		t.Fatalf("Open took %s with ConnectTimeout %s", took, opts.ConnectTimeout)
	}
}

func TestUnreachableBastion(t *testing.T) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	hk := sshtest.NewKey(t, "ed25519")
	tun := &hclconfig.SSHTunnel{Host: "127.0.0.1", Port: port, User: "x", HostKey: hk.AuthorizedKey(),
		PrivateKeyFile: sshtest.NewKey(t, "ed25519").WriteFile(t, t.TempDir(), "id", "")}
	_, err = open(t, tun)
	if err == nil || !strings.Contains(err.Error(), "cannot reach the SSH bastion 127.0.0.1:"+strconv.Itoa(port)) {
		t.Fatalf("err = %v", err)
	}
	// A cancelled context stops Open at once.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := Open(ctx, tun, nil, Options{}); err == nil {
		t.Fatal("Open with a cancelled context succeeded")
	}
}
