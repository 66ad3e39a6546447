package sshtest_test

import (
	"io"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rowform/rowform/internal/sshtest"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// TestServer checks the helper itself with x/crypto's client: the host key
// is the one the helper reports, the client key logs in, a bastion-only
// name resolves on the bastion, the forward shows in the log, and Kill
// ends established connections.
func TestServer(t *testing.T) {
	client := sshtest.NewKey(t, "ed25519")
	s := sshtest.Start(t, sshtest.Options{
		Hosts:          map[string]string{"echo.bastion.internal": "127.0.0.1"},
		AuthorizedKeys: []string{client.AuthorizedKey()},
	})
	if _, err := net.LookupHost("echo.bastion.internal"); err == nil {
		t.Fatal("echo.bastion.internal resolves outside the bastion; the test cannot prove that the bastion resolves it")
	}
	port := sshtest.EchoServer(t)
	cfg := &ssh.ClientConfig{
		User:              s.User,
		Auth:              []ssh.AuthMethod{ssh.PublicKeys(client.Signer)},
		HostKeyCallback:   ssh.FixedHostKey(s.HostKeys["rsa"].Public),
		HostKeyAlgorithms: []string{ssh.KeyAlgoRSASHA256},
		Timeout:           10 * time.Second,
	}
	c, err := ssh.Dial("tcp", s.Addr(), cfg)
	if err != nil {
		t.Fatalf("dial: %v\n%s", err, s.Log())
	}
	defer c.Close()
	conn, err := c.Dial("tcp", net.JoinHostPort("echo.bastion.internal", strconv.Itoa(port)))
	if err != nil {
		t.Fatalf("forward: %v\n%s", err, s.Log())
	}
	if _, err := conn.Write([]byte("ping")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 4)
	if _, err := io.ReadFull(conn, buf); err != nil || string(buf) != "ping" {
		t.Fatalf("echo: %q, %v", buf, err)
	}
	fw := s.Forwards()
	if len(fw) != 1 || fw[0].Host != "echo.bastion.internal" || fw[0].Port != port {
		t.Fatalf("forwards = %+v\n%s", fw, s.Log())
	}
	if s.Logins() != 1 {
		t.Errorf("logins = %d", s.Logins())
	}

	s.Kill()
	_ = conn.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := conn.Read(buf); err == nil {
		t.Fatal("the forwarded connection still works after Kill")
	} else if ne, ok := err.(net.Error); ok && ne.Timeout() {
		t.Fatal("the forwarded connection hangs after Kill instead of failing")
	}
	if _, err := net.DialTimeout("tcp", s.Addr(), time.Second); err == nil {
		t.Fatal("sshd still accepts connections after Kill")
	}
}

// TestAgent checks ssh-agent with ssh-add.
func TestAgent(t *testing.T) {
	a := sshtest.StartAgent(t)
	if out := a.List(t); !strings.Contains(out, "no identities") {
		t.Fatalf("new agent lists: %s", out)
	}
	k := sshtest.NewKey(t, "ed25519")
	a.Add(t, k.WriteFile(t, t.TempDir(), "id", ""))
	if out := a.List(t); !strings.Contains(out, k.Fingerprint()) {
		t.Fatalf("agent lists %s, want %s", out, k.Fingerprint())
	}
	conn, err := net.Dial("unix", a.Socket)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	keys, err := agent.NewClient(conn).List()
	if err != nil || len(keys) != 1 {
		t.Fatalf("agent keys: %v, %v", keys, err)
	}
}
