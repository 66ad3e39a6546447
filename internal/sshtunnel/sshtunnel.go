// Package sshtunnel reaches databases through an SSH bastion with
// golang.org/x/crypto/ssh.
//
// A Tunnel is one SSH connection to a bastion, shared by every database
// connection that goes through it. Host keys are always verified, against a
// known_hosts file (plain keys, and host certificates from a
// @cert-authority CA, as OpenSSH checks them) or a pinned key; an unknown,
// changed or revoked key is refused with the presented key's fingerprint
// and how to trust it. Keepalives detect a dead bastion within
// Options.KeepaliveInterval × (KeepaliveMaxMissed + 1) and close the tunnel,
// which fails the connections running through it with that reason.
package sshtunnel

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/environ"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
)

// DefaultConnectTimeout bounds the TCP connect and the SSH handshake when
// Options.ConnectTimeout is zero.
const DefaultConnectTimeout = 15 * time.Second

// Keepalives, when Options leaves them zero.
const (
	// DefaultKeepaliveInterval is how often a keepalive request is sent.
	DefaultKeepaliveInterval = 5 * time.Second
	// DefaultKeepaliveMaxMissed keepalives without an answer close the
	// tunnel.
	DefaultKeepaliveMaxMissed = 3
)

// Options tunes Open; the zero value is the defaults.
type Options struct {
	// ConnectTimeout bounds the TCP connect and the SSH handshake
	// (DefaultConnectTimeout when zero).
	ConnectTimeout time.Duration
	// KeepaliveInterval and KeepaliveMaxMissed: a keepalive request every
	// KeepaliveInterval; KeepaliveMaxMissed without an answer close the
	// tunnel (DefaultKeepaliveInterval, DefaultKeepaliveMaxMissed when
	// zero).
	KeepaliveInterval  time.Duration
	KeepaliveMaxMissed int
}

// withDefaults fills the zero fields of o.
func (o Options) withDefaults() Options {
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.KeepaliveInterval <= 0 {
		o.KeepaliveInterval = DefaultKeepaliveInterval
	}
	if o.KeepaliveMaxMissed <= 0 {
		o.KeepaliveMaxMissed = DefaultKeepaliveMaxMissed
	}
	return o
}

// Tunnel is an open SSH connection to a bastion.
type Tunnel struct {
	client *ssh.Client
	addr   string
	done   chan struct{}
	once   sync.Once
	mu     sync.Mutex
	err    error // why the tunnel closed, if it did by itself
}

// Open connects to the bastion of t and authenticates. environ supplies
// SSH_AUTH_SOCK for agent authentication; opts the timeouts.
func Open(ctx context.Context, t *hclconfig.SSHTunnel, environ []string, opts Options) (*Tunnel, error) {
	opts = opts.withDefaults()
	addr := net.JoinHostPort(t.Host, strconv.Itoa(t.Port))
	hostKeyCB, algos, err := hostKeyCheck(t, addr)
	if err != nil {
		return nil, err
	}
	auth, closeAgent, err := authMethods(t, environ)
	if err != nil {
		return nil, err
	}
	defer closeAgent()
	cfg := &ssh.ClientConfig{
		User:              t.User,
		Auth:              auth,
		HostKeyCallback:   hostKeyCB,
		HostKeyAlgorithms: algos,
		Timeout:           opts.ConnectTimeout,
	}
	dctx, cancel := context.WithTimeout(ctx, opts.ConnectTimeout)
	defer cancel()
	var d net.Dialer
	conn, err := d.DialContext(dctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("cannot reach the SSH bastion %s: %w", addr, unwrapOp(err))
	}
	_ = conn.SetDeadline(time.Now().Add(opts.ConnectTimeout))
	c, chans, reqs, err := ssh.NewClientConn(conn, addr, cfg)
	if err != nil {
		_ = conn.Close()
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			// Accepted TCP but no SSH: another service's port (PostgreSQL
			// waits for its client to speak first), or a hung sshd.
			return nil, fmt.Errorf("SSH handshake with %s failed: no SSH answer within %s (i/o timeout); check that port %d is the bastion's SSH port, and that its sshd is running and not overloaded",
				addr, opts.ConnectTimeout, t.Port)
		}
		return nil, describeHandshakeError(addr, t.User, err)
	}
	_ = conn.SetDeadline(time.Time{})
	tun := &Tunnel{client: ssh.NewClient(c, chans, reqs), addr: addr, done: make(chan struct{})}
	go tun.keepalive(opts.KeepaliveInterval, opts.KeepaliveMaxMissed)
	go func() {
		err := tun.client.Wait()
		reason := fmt.Errorf("the SSH bastion %s closed the connection", addr)
		if err != nil {
			reason = fmt.Errorf("the connection to the SSH bastion %s was lost: %v", addr, unwrapOp(err))
		}
		tun.shut(reason)
	}()
	return tun, nil
}

// DialContext opens a TCP connection from the bastion to addr ("host:port").
// The host name is resolved by the bastion, so names only the bastion
// knows work.
func (t *Tunnel) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	select {
	case <-t.done:
		return nil, t.closedErr()
	default:
	}
	ch, err := t.client.DialContext(ctx, "tcp", addr)
	if err != nil {
		select {
		case <-t.done:
			return nil, t.closedErr()
		default:
		}
		return nil, fmt.Errorf("the SSH bastion %s could not open a connection to %s: %w", t.addr, addr, err)
	}
	return t.bridge(ch, addr), nil
}

// bridge returns a net.Conn that carries ch's bytes and, unlike an SSH
// channel, honours deadlines — pgx relies on them to interrupt a read when
// a query is cancelled. Its read and write errors after the tunnel closed
// name why it closed.
func (t *Tunnel) bridge(ch net.Conn, addr string) net.Conn {
	inner, outer := net.Pipe()
	go func() {
		_, _ = io.Copy(outer, ch)
		_ = outer.Close()
	}()
	go func() {
		_, _ = io.Copy(ch, outer)
		_ = ch.Close()
	}()
	return &tunnelConn{Conn: inner, t: t, ch: ch, remote: tunnelAddr(addr)}
}

// tunnelConn is one database connection through the tunnel.
type tunnelConn struct {
	net.Conn
	t      *Tunnel
	ch     net.Conn
	remote tunnelAddr
}

// RemoteAddr is the database address as dialed through the bastion, so that
// pgx's cancel request, which dials RemoteAddr, goes through the tunnel to
// the same server.
func (c *tunnelConn) RemoteAddr() net.Addr { return c.remote }

// tunnelAddr is a "tcp" address as the bastion resolves it.
type tunnelAddr string

func (a tunnelAddr) Network() string { return "tcp" }
func (a tunnelAddr) String() string  { return string(a) }

func (c *tunnelConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	return n, c.explain(err)
}

func (c *tunnelConn) Write(p []byte) (int, error) {
	n, err := c.Conn.Write(p)
	return n, c.explain(err)
}

func (c *tunnelConn) Close() error {
	err := c.Conn.Close()
	_ = c.ch.Close()
	return err
}

// explain replaces an I/O error by the tunnel's reason for closing, if the
// tunnel closed by itself.
func (c *tunnelConn) explain(err error) error {
	if err == nil {
		return nil
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return err // a deadline pgx set: it must see a timeout
	}
	// The channel's end can reach this connection a moment before the
	// tunnel learns that the bastion is gone: wait briefly for the reason.
	select {
	case <-c.t.done:
	case <-time.After(200 * time.Millisecond):
		return err
	}
	if reason := c.t.Err(); reason != nil {
		return reason
	}
	return err
}

// Err returns why the tunnel closed by itself (the bastion went away or
// stopped answering), or nil while it is open or after Close.
func (t *Tunnel) Err() error {
	select {
	case <-t.done:
	default:
		return nil
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.err
}

// Close closes the SSH connection and every connection through it.
func (t *Tunnel) Close() error {
	t.shut(nil)
	return nil
}

func (t *Tunnel) shut(reason error) {
	t.once.Do(func() {
		t.mu.Lock()
		t.err = reason
		t.mu.Unlock()
		close(t.done)
		_ = t.client.Close()
	})
}

func (t *Tunnel) closedErr() error {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.err != nil {
		return t.err
	}
	return fmt.Errorf("the SSH tunnel to %s is closed", t.addr)
}

// keepalive closes the tunnel when the bastion stops answering.
func (t *Tunnel) keepalive(interval time.Duration, maxMissed int) {
	tick := time.NewTicker(interval)
	defer tick.Stop()
	missed := 0
	for {
		select {
		case <-t.done:
			return
		case <-tick.C:
		}
		answered := make(chan error, 1)
		go func() {
			_, _, err := t.client.SendRequest("keepalive@openssh.com", true, nil)
			answered <- err
		}()
		select {
		case err := <-answered:
			if err != nil {
				t.shut(fmt.Errorf("the SSH bastion %s closed the connection: %w", t.addr, err))
				return
			}
			missed = 0
		case <-time.After(interval):
			missed++
			if missed >= maxMissed {
				t.shut(fmt.Errorf("the SSH bastion %s stopped answering keepalives for %s", t.addr, interval*time.Duration(missed+1)))
				return
			}
		case <-t.done:
			return
		}
	}
}

// Done is closed when the tunnel has closed.
func (t *Tunnel) Done() <-chan struct{} { return t.done }

func unwrapOp(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// describeHandshakeError turns handshake failures into messages that say
// what to fix.
func describeHandshakeError(addr, user string, err error) error {
	var hk *HostKeyError
	if errors.As(err, &hk) {
		return hk
	}
	// x/crypto/ssh reports a refused key with a plain fmt.Errorf, no type
	// or sentinel to test for: its text is the only sign there is.
	msg := err.Error()
	switch {
	case containsAny(msg, "unable to authenticate", "no supported methods remain"):
		return fmt.Errorf("the SSH bastion %s refused the key for user %q: check that its public key is in ~%s/.ssh/authorized_keys on the bastion", addr, user, user)
	}
	return fmt.Errorf("SSH handshake with %s failed: %s", addr, unwrapOp(err))
}

func containsAny(s string, subs ...string) bool {
	for _, sub := range subs {
		if strings.Contains(s, sub) {
			return true
		}
	}
	return false
}

// authMethods returns the authentication to offer: the configured key, or
// the keys of ssh-agent.
func authMethods(t *hclconfig.SSHTunnel, env []string) ([]ssh.AuthMethod, func(), error) {
	noop := func() {}
	var pem []byte
	var from string
	switch {
	case t.PrivateKey.IsSet():
		pem, from = []byte(t.PrivateKey.Reveal()), "private_key"
	case t.PrivateKeyFile != "":
		b, err := os.ReadFile(t.PrivateKeyFile)
		if err != nil {
			return nil, noop, fmt.Errorf("cannot read the SSH private key file %s: %w", t.PrivateKeyFile, unwrapPath(err))
		}
		pem, from = b, t.PrivateKeyFile
	}
	if pem != nil {
		signer, err := ssh.ParsePrivateKey(pem)
		var missing *ssh.PassphraseMissingError
		switch {
		case errors.As(err, &missing):
			if !t.PrivateKeyPassphrase.IsSet() {
				return nil, noop, fmt.Errorf("the SSH private key (%s) is encrypted: set private_key_passphrase, e.g. private_key_passphrase = env(\"SSH_KEY_PASSPHRASE\")", from)
			}
			signer, err = ssh.ParsePrivateKeyWithPassphrase(pem, []byte(t.PrivateKeyPassphrase.Reveal()))
			if err != nil {
				return nil, noop, fmt.Errorf("cannot decrypt the SSH private key (%s): the passphrase is wrong or the key is damaged", from)
			}
		case err != nil:
			return nil, noop, fmt.Errorf("the SSH private key (%s) cannot be parsed: %s", from, sanitizeKeyError(err))
		}
		return []ssh.AuthMethod{ssh.PublicKeys(signer)}, noop, nil
	}
	sock := environ.Get(env, "SSH_AUTH_SOCK")
	if sock == "" {
		return nil, noop, errors.New("no SSH key is configured and SSH_AUTH_SOCK is not set: give private_key_file or private_key in the ssh_tunnel block, or start ssh-agent and add a key with ssh-add")
	}
	conn, err := net.Dial("unix", sock)
	if err != nil {
		return nil, noop, fmt.Errorf("cannot reach ssh-agent at SSH_AUTH_SOCK=%s: %w", sock, unwrapOp(err))
	}
	ag := agent.NewClient(conn)
	signers, err := ag.Signers()
	if err != nil {
		_ = conn.Close()
		return nil, noop, fmt.Errorf("ssh-agent: %w", err)
	}
	if len(signers) == 0 {
		_ = conn.Close()
		return nil, noop, errors.New("ssh-agent has no keys: add one with ssh-add, or give private_key_file in the ssh_tunnel block")
	}
	return []ssh.AuthMethod{ssh.PublicKeys(signers...)}, func() { _ = conn.Close() }, nil
}

// sanitizeKeyError keeps parse errors free of key material.
func sanitizeKeyError(err error) string {
	msg := err.Error()
	if len(msg) > 120 {
		msg = msg[:120]
	}
	return msg
}

func unwrapPath(err error) error {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// HostKeyError is a refused bastion host key.
type HostKeyError struct {
	Addr        string
	Fingerprint string // SHA256:... of the presented key (for a host certificate, of the key it certifies)
	KeyType     string
	Changed     bool // a different key is known for the host
	Source      string
	AuthKey     string // the presented key in authorized_keys form, for a pinned host_key
	Pinned      bool   // the key was checked against host_key, not a known_hosts file
	// RevokedLine is the line of Source whose @revoked entry refuses the
	// key (with RevokedCA, the CA that signed its certificate); 0 if none.
	RevokedLine int
	RevokedCA   bool
	// CA is the SHA256:... fingerprint of the CA that signed the host
	// certificate presented; empty for a plain host key.
	CA string
	// CertProblem says why the host certificate presented is not trusted
	// and what to do; empty when the refusal is not about a certificate.
	CertProblem string
}

func (e *HostKeyError) Error() string {
	switch {
	case e.RevokedLine > 0 && e.RevokedCA:
		return fmt.Sprintf("the SSH bastion %s presented a host certificate for its %s host key %s, signed by the CA %s, which %s marks as revoked (@revoked, line %d): "+
			"certificates from that CA must not be trusted, so the connection is refused. "+
			"Ask the bastion's administrator for a host certificate from the current CA; if the CA was revoked by mistake, remove the @revoked line.",
			e.Addr, e.KeyType, e.Fingerprint, e.CA, e.Source, e.RevokedLine)
	case e.RevokedLine > 0:
		return fmt.Sprintf("the SSH bastion %s presented a %s host key %s, which %s marks as revoked (@revoked, line %d): "+
			"that key must not be trusted, so the connection is refused. "+
			"Ask the bastion's administrator to replace the host key, and add the new key after checking its fingerprint; if the key was revoked by mistake, remove the @revoked line.",
			e.Addr, e.KeyType, e.Fingerprint, e.Source, e.RevokedLine)
	case e.Changed && e.Pinned:
		return fmt.Sprintf("the SSH bastion %s presented a %s host key %s that does not match the pinned host_key: the host key changed, or someone is intercepting the connection. "+
			"If the change is expected, check the new key's fingerprint with the bastion's administrator, then pin it: host_key = %q",
			e.Addr, e.KeyType, e.Fingerprint, e.AuthKey)
	case e.Changed:
		return fmt.Sprintf("the SSH bastion %s presented a %s host key %s that does not match the key in %s: the host key changed, or someone is intercepting the connection. "+
			"If the change is expected, remove the old entry (ssh-keygen -R) and add the new key after checking its fingerprint with the bastion's administrator.",
			e.Addr, e.KeyType, e.Fingerprint, e.Source)
	case e.CertProblem != "":
		return fmt.Sprintf("the SSH bastion %s is not trusted: it presented a host certificate for its %s host key %s, signed by the CA %s, but %s. "+
			"Or trust the host key itself: add it to the known_hosts file (ssh-keyscan -p PORT HOST >> FILE) or pin it: host_key = %q",
			e.Addr, e.KeyType, e.Fingerprint, e.CA, e.CertProblem, e.AuthKey)
	}
	return fmt.Sprintf("the SSH bastion %s is not known: it presented a %s host key %s, which is not in %s. "+
		"Check the fingerprint with the bastion's administrator, then add it to the known_hosts file (ssh-keyscan -p PORT HOST >> FILE) or pin it: host_key = %q",
		e.Addr, e.KeyType, e.Fingerprint, e.Source, e.AuthKey)
}

// hostKeyCheck builds the host key callback and the host key algorithms to
// ask for, from the pinned key or the known_hosts file. The file is
// searched for the host name lowercased, as OpenSSH does; refusals name the
// bastion as addr, the address as configured.
func hostKeyCheck(t *hclconfig.SSHTunnel, addr string) (ssh.HostKeyCallback, []string, error) {
	if t.HostKey != "" {
		pinned, _, _, _, err := ssh.ParseAuthorizedKey([]byte(t.HostKey))
		if err != nil {
			return nil, nil, fmt.Errorf("host_key is not a public key in authorized_keys form (\"ssh-ed25519 AAAA...\"): %s", err)
		}
		cb := func(hostname string, remote net.Addr, key ssh.PublicKey) error {
			if string(key.Marshal()) == string(pinned.Marshal()) {
				return nil
			}
			e := newHostKeyError(addr, key, true, "the pinned host_key")
			e.Pinned = true
			return e
		}
		return cb, algorithmsFor(pinned.Type()), nil
	}
	file := t.KnownHostsFile
	if _, err := os.Stat(file); err != nil {
		return nil, nil, fmt.Errorf("cannot read the known_hosts file %s: %w; create it with ssh-keyscan -p %d %s > %s, after checking the fingerprint, or pin host_key", file, unwrapPath(err), t.Port, t.Host, file)
	}
	known, err := loadKnownHost(file, addr, lookupAddr(t.Host, t.Port))
	if err != nil {
		return nil, nil, err
	}
	cb := func(_ string, remote net.Addr, key ssh.PublicKey) error {
		return known.check(remote, key)
	}
	return cb, known.algorithms(), nil
}

func newHostKeyError(addr string, key ssh.PublicKey, changed bool, source string) *HostKeyError {
	return &HostKeyError{
		Addr: addr, Fingerprint: ssh.FingerprintSHA256(key), KeyType: key.Type(), Changed: changed, Source: source,
		AuthKey: string(trimNewline(ssh.MarshalAuthorizedKey(key))),
	}
}

func trimNewline(b []byte) []byte {
	for len(b) > 0 && (b[len(b)-1] == '\n' || b[len(b)-1] == '\r') {
		b = b[:len(b)-1]
	}
	return b
}

// algorithmsFor maps a key type to the host key algorithms that use it.
func algorithmsFor(keyType string) []string {
	if keyType == ssh.KeyAlgoRSA {
		return []string{ssh.KeyAlgoRSASHA512, ssh.KeyAlgoRSASHA256, ssh.KeyAlgoRSA}
	}
	return []string{keyType}
}
