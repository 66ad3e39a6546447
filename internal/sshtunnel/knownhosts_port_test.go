package sshtunnel

import (
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rowform/rowform/internal/sshtest"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshAccepts runs OpenSSH's ssh client against the fixture's bastion with
// the known_hosts file alone (no other configuration, strict checking)
// and reports whether it accepted the host key; with alias, ssh looks the
// bastion up under that name (HostKeyAlias) and nothing else. It fails the
// test when ssh fails for another reason.
func sshAccepts(t *testing.T, f *fixture, knownHostsFile, alias string) bool {
	t.Helper()
	bin, err := exec.LookPath("ssh")
	if err != nil {
		t.Fatalf("ssh not found: %s", sshtest.InstallHint)
	}
	args := []string{"-F", "/dev/null",
		"-o", "BatchMode=yes", "-o", "StrictHostKeyChecking=yes", "-o", "CheckHostIP=no", "-o", "UpdateHostKeys=no",
		"-o", "UserKnownHostsFile=" + knownHostsFile, "-o", "GlobalKnownHostsFile=/dev/null",
		"-o", "IdentitiesOnly=yes", "-i", f.keyFile, "-o", "ConnectTimeout=10",
		"-p", strconv.Itoa(f.srv.Port), "-l", f.srv.User}
	if alias != "" {
		args = append(args, "-o", "HostKeyAlias="+alias)
	}
	cmd := exec.Command(bin, append(args, f.srv.Host, "true")...)
	cmd.Env = []string{"PATH=" + os.Getenv("PATH"), "HOME=" + t.TempDir()}
	out, err := cmd.CombinedOutput()
	switch {
	case err == nil:
		return true
	case strings.Contains(string(out), "Host key verification failed"):
		return false
	}
	t.Fatalf("ssh: %v\n%s", err, out)
	return false
}

// hostPatternCase is a known_hosts file for a bastion on a port other than
// 22 and how rowform and OpenSSH's ssh treat it.
type hostPatternCase struct {
	name  string
	lines []string
	// accept: rowform accepts the bastion, and so does ssh when it looks
	// the bastion up as "[host]:port" and nothing else (HostKeyAlias).
	// Otherwise both refuse it; changed, if rowform says its key changed;
	// revokedLine, if rowform names that @revoked line.
	accept      bool
	changed     bool
	revokedLine int
	// portless: ssh (without HostKeyAlias) accepts what rowform refuses,
	// by its second lookup: when no line for "[host]:port" has a key of
	// the type presented (or, for a certificate, the CA), it looks for
	// "host", as on port 22, and trusts what it finds there. rowform does
	// not: an entry for port 22 is not one for another port.
	portless bool
	// revokedElsewhere: ssh accepts what rowform refuses, as it heeds only
	// the @revoked lines whose host patterns match the bastion; rowform
	// refuses a revoked key or CA whatever the line's patterns.
	revokedElsewhere bool
}

// checkHostPatternCases checks each case with rowform's Open and with ssh.
func checkHostPatternCases(t *testing.T, f *fixture, cases []hostPatternCase) {
	t.Helper()
	if f.srv.Port == 22 {
		t.Fatal("the bastion must listen on a port other than 22")
	}
	hk := f.srv.HostKeys["ed25519"]
	entry := fmt.Sprintf("[127.0.0.1]:%d", f.srv.Port)
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			tun := f.tunnel(t, tc.lines...)
			if got, want := sshAccepts(t, f, tun.KnownHostsFile, entry), tc.accept || tc.revokedElsewhere; got != want {
				t.Fatalf("ssh -o HostKeyAlias=%s accepts the bastion: %v; the test expects %v (known_hosts: %q)", entry, got, want, tc.lines)
			}
			if got, want := sshAccepts(t, f, tun.KnownHostsFile, ""), tc.accept || tc.portless || tc.revokedElsewhere; got != want {
				t.Fatalf("ssh accepts the bastion: %v; the test expects %v (known_hosts: %q)", got, want, tc.lines)
			}
			tn, err := open(t, tun)
			if tc.accept {
				if err != nil {
					t.Fatalf("rowform refuses a bastion that ssh accepts with known_hosts %q: %v", tc.lines, err)
				}
				roundTrip(t, tn, "127.0.0.1", f.echo)
				return
			}
			if err == nil {
				t.Fatalf("rowform accepts the bastion with known_hosts %q", tc.lines)
			}
			wantHostKeyError(t, err, tc.changed, hk, tun.KnownHostsFile)
			var e *HostKeyError
			if errors.As(err, &e) && e.RevokedLine != tc.revokedLine {
				t.Errorf("RevokedLine = %d, want %d: %v", e.RevokedLine, tc.revokedLine, err)
			}
			if tc.revokedLine > 0 && !strings.Contains(err.Error(), fmt.Sprintf("line %d", tc.revokedLine)) {
				t.Errorf("the refusal does not name line %d: %v", tc.revokedLine, err)
			}
		})
	}
}

// freePort is a port nothing listens on now.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// On a port other than 22, OpenSSH matches a @cert-authority line's host
// patterns against "[host]:port" as a whole: "*" and "[127.0.0.*]:*"
// vouch for the bastion, "127.0.0.*" and "127.0.0.1" (port 22) do not.
// rowform accepts and refuses what ssh does, and a @revoked CA still wins.
func TestHostCertificateOtherPortPatterns(t *testing.T) {
	ca, stranger := sshtest.NewKey(t, "ed25519"), sshtest.NewKey(t, "ed25519")
	port := freePort(t)
	entry := fmt.Sprintf("[127.0.0.1]:%d", port)
	// ssh -o HostKeyAlias checks the certificate's principals against the
	// alias.
	f := certifiedBastionWith(t, ca, []string{"127.0.0.1", entry}, time.Now().Add(-time.Hour), time.Now().Add(time.Hour), sshtest.Options{Port: port})
	trust := func(patterns string, key *sshtest.Key) string {
		return "@cert-authority " + patterns + " " + key.AuthorizedKey()
	}
	checkHostPatternCases(t, f, []hostPatternCase{
		{name: "star", lines: []string{trust("*", ca)}, accept: true},
		{name: "bracketed_wildcards", lines: []string{trust("[127.0.0.*]:*", ca)}, accept: true},
		{name: "star_port", lines: []string{trust("*:"+strconv.Itoa(port), ca)}, accept: true},
		{name: "list", lines: []string{trust("bastion.example.org,*", ca)}, accept: true},
		{name: "exact", lines: []string{trust(entry, ca)}, accept: true},
		{name: "hashed", lines: []string{trust(knownhosts.HashHostname(entry), ca)}, accept: true},
		{name: "with_plain_line_for_other_host", lines: []string{"other.example.org " + stranger.AuthorizedKey(), trust("*", ca)}, accept: true},
		// A negated host without brackets is that host on port 22: it
		// does not exclude another port.
		{name: "star_except_port_22", lines: []string{trust("*,!127.0.0.1", ca)}, accept: true},
		{name: "star_except_every_port", lines: []string{trust("*,![127.0.0.1]:*", ca)}, portless: true},
		{name: "except_first", lines: []string{trust("![127.0.0.*]:*,*", ca)}, portless: true},
		{name: "host_without_port", lines: []string{trust("127.0.0.*", ca)}, portless: true},
		{name: "host_on_port_22", lines: []string{trust("127.0.0.1", ca)}, portless: true},
		{name: "unbracketed_port", lines: []string{trust("127.0.0.1:"+strconv.Itoa(port), ca)}},
		{name: "other_port", lines: []string{trust("[127.0.0.1]:1", ca)}},
		{name: "other_CA", lines: []string{trust("*", stranger)}},
		{name: "revoked_CA", lines: []string{trust("*", ca), "@revoked * " + ca.AuthorizedKey()}, revokedLine: 2},
		{name: "revoked_CA_first", lines: []string{"# CA rotated", "@revoked [127.0.0.*]:* " + ca.AuthorizedKey(), trust("*", ca)}, revokedLine: 2},
		{name: "revoked_CA_for_port_22", lines: []string{trust("*", ca), "@revoked 127.0.0.1 " + ca.AuthorizedKey()}, revokedLine: 2, revokedElsewhere: true},
	})
}

// The same for plain host key lines: "* ssh-ed25519 ..." names the bastion
// on every port, as for ssh; a line for the bastion with another key is a
// changed key.
func TestKnownHostsOtherPortPatterns(t *testing.T) {
	f := newFixture(t, sshtest.Options{HostKeyTypes: []string{"ed25519"}})
	hk, other := f.srv.HostKeys["ed25519"], sshtest.NewKey(t, "ed25519")
	port := strconv.Itoa(f.srv.Port)
	line := func(patterns string, key *sshtest.Key) string { return patterns + " " + key.AuthorizedKey() }
	checkHostPatternCases(t, f, []hostPatternCase{
		{name: "star", lines: []string{line("*", hk)}, accept: true},
		{name: "bracketed_wildcards", lines: []string{line("[127.0.0.*]:*", hk)}, accept: true},
		{name: "list", lines: []string{line("other.example.org,[127.0.0.?]:"+port, hk)}, accept: true},
		{name: "star_and_other_key", lines: []string{line("*", other), line("[127.0.0.1]:"+port, hk)}, accept: true},
		{name: "star_except_port_22", lines: []string{line("*,!127.0.0.1", hk)}, accept: true},
		{name: "star_except_every_port", lines: []string{line("*,![127.0.0.1]:*", hk)}, portless: true},
		{name: "host_without_port", lines: []string{line("127.0.0.*", hk)}, portless: true},
		{name: "host_on_port_22", lines: []string{line("127.0.0.1", hk)}, portless: true},
		{name: "unbracketed_port", lines: []string{line("127.0.0.1:"+port, hk)}},
		{name: "star_other_key", lines: []string{line("*", other)}, changed: true},
		{name: "bracketed_wildcards_other_key", lines: []string{line("[127.0.0.*]:*", other)}, changed: true},
		// A changed key for "[host]:port" is not looked up without the
		// port, by ssh either.
		{name: "other_key_and_port_22", lines: []string{line("*", other), line("127.0.0.1", hk)}, changed: true},
		{name: "revoked", lines: []string{line("*", hk), "@revoked * " + hk.AuthorizedKey()}, revokedLine: 2},
		{name: "revoked_for_port_22", lines: []string{line("*", hk), "@revoked 127.0.0.1 " + hk.AuthorizedKey()}, revokedLine: 2, revokedElsewhere: true},
	})
}
