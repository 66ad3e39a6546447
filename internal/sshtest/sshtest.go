// Package sshtest starts real OpenSSH servers (sshd from Debian's
// openssh-server) for tests of SSH tunnels, and real ssh-agents.
//
// Start runs /usr/sbin/sshd in the foreground on a free 127.0.0.1 port with
// generated ed25519 and RSA host keys, an authorized_keys file in the test's
// temporary directory, public-key authentication only and TCP forwarding
// allowed, logging at DEBUG1 to a file so that tests can prove what went
// through it (direct-tcpip forwards, accepted and refused keys). With
// Options.Hosts, sshd runs in a mount namespace of its own (unshare -m)
// whose /etc/hosts adds those names, so that a "bastion-only" host name
// resolves on the bastion and nowhere else.
//
// StartAgent runs ssh-agent and adds keys with ssh-add. For the TLS side of
// connection tests, NewTLS makes a CA and a server certificate, and
// StartTLSCluster / StartPlainCluster start throwaway PostgreSQL clusters
// with and without TLS, logging every connection.
//
// Everything is removed by t.Cleanup; tests fail (never skip) when sshd is
// missing, with the command that installs it (apt-get install -y
// openssh-server).
package sshtest

import (
	"bytes"
	"crypto"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/rsa"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// SSHD is the sshd binary the tests run.
const SSHD = "/usr/sbin/sshd"

// InstallHint says how to get sshd and the OpenSSH tools.
const InstallHint = "the SSH tunnel tests need OpenSSH's server and tools (/usr/sbin/sshd, ssh-agent, ssh-add): " +
	"on Debian/Ubuntu run 'apt-get install -y openssh-server' (make test does this when run as root)"

// Key is a generated key pair.
type Key struct {
	Private crypto.Signer
	Signer  ssh.Signer
	Public  ssh.PublicKey
	Comment string
}

// NewKey generates a key of type "ed25519" or "rsa" (3072 bits).
func NewKey(t testing.TB, typ string) *Key {
	t.Helper()
	k, err := newKey(typ)
	if err != nil {
		t.Fatalf("sshtest: generate %s key: %v", typ, err)
	}
	return k
}

func newKey(typ string) (*Key, error) {
	var priv crypto.Signer
	switch typ {
	case "ed25519":
		_, p, err := ed25519.GenerateKey(rand.Reader)
		if err != nil {
			return nil, err
		}
		priv = p
	case "rsa":
		p, err := rsa.GenerateKey(rand.Reader, 3072)
		if err != nil {
			return nil, err
		}
		priv = p
	default:
		return nil, fmt.Errorf("unknown key type %q", typ)
	}
	signer, err := ssh.NewSignerFromSigner(priv)
	if err != nil {
		return nil, err
	}
	return &Key{Private: priv, Signer: signer, Public: signer.PublicKey(), Comment: "rowform-test-" + typ}, nil
}

// PEM is the private key in OpenSSH format, encrypted with passphrase when
// it is not empty.
func (k *Key) PEM(t testing.TB, passphrase string) []byte {
	t.Helper()
	var (
		block *pem.Block
		err   error
	)
	if passphrase == "" {
		block, err = ssh.MarshalPrivateKey(k.Private, k.Comment)
	} else {
		block, err = ssh.MarshalPrivateKeyWithPassphrase(k.Private, k.Comment, []byte(passphrase))
	}
	if err != nil {
		t.Fatalf("sshtest: marshal private key: %v", err)
	}
	return pem.EncodeToMemory(block)
}

// WriteFile writes the private key (encrypted with passphrase when it is not
// empty) to dir/name with mode 0600, as ssh-add and sshd require, and
// returns its path.
func (k *Key) WriteFile(t testing.TB, dir, name, passphrase string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, k.PEM(t, passphrase), 0o600); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	return p
}

// AuthorizedKey is the public key in authorized_keys form, without newline.
func (k *Key) AuthorizedKey() string {
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(k.Public)))
}

// Fingerprint is the SHA256:... fingerprint of the public key.
func (k *Key) Fingerprint() string { return ssh.FingerprintSHA256(k.Public) }

// hostKeys are generated once per test binary: generating RSA keys is slow.
var (
	hostKeysOnce sync.Once
	hostKeys     map[string]*Key
	hostKeysErr  error
)

func sharedHostKeys() (map[string]*Key, error) {
	hostKeysOnce.Do(func() {
		hostKeys = map[string]*Key{}
		for _, typ := range []string{"ed25519", "rsa"} {
			k, err := newKey(typ)
			if err != nil {
				hostKeysErr = err
				return
			}
			hostKeys[typ] = k
		}
	})
	return hostKeys, hostKeysErr
}

// HostKey is the host key of type typ ("ed25519", "rsa") that every Server
// of the test binary has: a test can certify it (sshd's HostCertificate,
// through Options.ExtraConfig) before Start.
func HostKey(t testing.TB, typ string) *Key {
	t.Helper()
	keys, err := sharedHostKeys()
	if err != nil {
		t.Fatalf("sshtest: generate host keys: %v", err)
	}
	k := keys[typ]
	if k == nil {
		t.Fatalf("sshtest: unknown host key type %q", typ)
	}
	return k
}

// Options configure Start.
type Options struct {
	// Hosts are extra /etc/hosts entries (name -> IP address) seen only by
	// sshd and the connections it opens: "bastion-only" names. Needs root
	// (sshd runs under unshare -m with a bind-mounted /etc/hosts).
	Hosts map[string]string
	// HostKeyTypes are the host key types the server has, from "ed25519"
	// and "rsa". Default: both.
	HostKeyTypes []string
	// AuthorizedKeys are lines of the authorized_keys file (see Authorize);
	// more can be added while the server runs.
	AuthorizedKeys []string
	// ExtraConfig holds extra sshd_config lines.
	ExtraConfig []string
	// Port is the port to listen on; 0 picks a free one.
	Port int
}

// Server is a running sshd.
type Server struct {
	// Host and Port are where sshd listens (Host is "127.0.0.1").
	Host string
	Port int
	// User is the OS user to log in as: the user running the test.
	User string
	// Dir is the server's temporary directory (config, keys, log).
	Dir string
	// HostKeys are the server's host keys by type ("ed25519", "rsa").
	HostKeys map[string]*Key

	logPath string
	akPath  string
	cmd     *exec.Cmd
	exited  chan struct{}

	mu     sync.Mutex
	killed bool
}

// Start starts sshd for the test; it is stopped and its files removed at
// t.Cleanup. When the test failed, the tail of sshd's log is logged.
func Start(t testing.TB, opts Options) *Server {
	t.Helper()
	if _, err := os.Stat(SSHD); err != nil {
		t.Fatalf("sshtest: %s not found: %s", SSHD, InstallHint)
	}
	keys, err := sharedHostKeys()
	if err != nil {
		t.Fatalf("sshtest: generate host keys: %v", err)
	}
	u, err := user.Current()
	if err != nil {
		t.Fatalf("sshtest: current user: %v", err)
	}
	// sshd's privilege separation needs this empty directory.
	if _, err := os.Stat("/run/sshd"); err != nil {
		if err := os.MkdirAll("/run/sshd", 0o755); err != nil {
			t.Fatalf("sshtest: sshd needs its privilege separation directory /run/sshd: %v (run the tests as root, or create it)", err)
		}
	}
	if len(opts.Hosts) > 0 && os.Geteuid() != 0 {
		t.Fatalf("sshtest: bastion-only host names need root (sshd runs under 'unshare -m' with its own /etc/hosts)")
	}
	dir, err := os.MkdirTemp("", "sshtest")
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	s := &Server{Host: "127.0.0.1", User: u.Username, Dir: dir, HostKeys: map[string]*Key{},
		logPath: filepath.Join(dir, "sshd.log"), akPath: filepath.Join(dir, "authorized_keys")}
	t.Cleanup(func() {
		s.stop()
		if t.Failed() {
			t.Logf("sshd log (%s:%d), last lines:\n%s", s.Host, s.Port, tail(s.Log(), 40))
		}
		_ = os.RemoveAll(dir)
	})

	types := opts.HostKeyTypes
	if len(types) == 0 {
		types = []string{"ed25519", "rsa"}
	}
	var hostKeyLines []string
	for _, typ := range types {
		k := keys[typ]
		if k == nil {
			t.Fatalf("sshtest: unknown host key type %q", typ)
		}
		s.HostKeys[typ] = k
		hostKeyLines = append(hostKeyLines, "HostKey "+k.WriteFile(t, dir, "ssh_host_"+typ+"_key", ""))
	}
	if err := os.WriteFile(s.akPath, []byte(strings.Join(opts.AuthorizedKeys, "\n")+"\n"), 0o600); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	var hostsFile string
	if len(opts.Hosts) > 0 {
		orig, _ := os.ReadFile("/etc/hosts")
		var b strings.Builder
		b.Write(orig)
		b.WriteString("\n# sshtest: bastion-only names\n")
		for name, ip := range opts.Hosts {
			fmt.Fprintf(&b, "%s %s\n", ip, name)
		}
		hostsFile = filepath.Join(dir, "hosts")
		if err := os.WriteFile(hostsFile, []byte(b.String()), 0o644); err != nil {
			t.Fatalf("sshtest: %v", err)
		}
	}

	var lastErr error
	for attempt := 0; attempt < 5; attempt++ {
		port := opts.Port
		if port == 0 {
			if port, err = freePort(); err != nil {
				t.Fatalf("sshtest: %v", err)
			}
		}
		cfg := []string{
			fmt.Sprintf("Port %d", port),
			"ListenAddress 127.0.0.1",
			"AddressFamily inet",
		}
		cfg = append(cfg, hostKeyLines...)
		cfg = append(cfg,
			"PidFile "+filepath.Join(dir, "sshd.pid"),
			"AuthorizedKeysFile "+s.akPath,
			"PermitRootLogin prohibit-password",
			"StrictModes no",
			"UsePAM no",
			"PubkeyAuthentication yes",
			"PasswordAuthentication no",
			"KbdInteractiveAuthentication no",
			"AllowTcpForwarding yes",
			"AllowAgentForwarding no",
			"X11Forwarding no",
			"PrintMotd no",
			"MaxStartups 100",
			"MaxSessions 100",
			"LogLevel DEBUG1",
		)
		cfg = append(cfg, opts.ExtraConfig...)
		cfgPath := filepath.Join(dir, "sshd_config")
		if err := os.WriteFile(cfgPath, []byte(strings.Join(cfg, "\n")+"\n"), 0o600); err != nil {
			t.Fatalf("sshtest: %v", err)
		}
		// Check the configuration first: its errors are clearer than a
		// server that exits.
		if out, err := exec.Command(SSHD, "-t", "-f", cfgPath).CombinedOutput(); err != nil {
			t.Fatalf("sshtest: sshd -t rejects the configuration: %v\n%s", err, out)
		}
		_ = os.Remove(s.logPath)
		var cmd *exec.Cmd
		if hostsFile != "" {
			script := fmt.Sprintf("mount --bind %s /etc/hosts && exec %s -D -f %s -E %s",
				shellQuote(hostsFile), SSHD, shellQuote(cfgPath), shellQuote(s.logPath))
			cmd = exec.Command("unshare", "-m", "--propagation", "private", "sh", "-c", script)
		} else {
			cmd = exec.Command(SSHD, "-D", "-f", cfgPath, "-E", s.logPath)
		}
		var stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stderr, &stderr
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			t.Fatalf("sshtest: start sshd: %v", err)
		}
		s.mu.Lock()
		s.cmd, s.exited, s.Port, s.killed = cmd, make(chan struct{}), port, false
		s.mu.Unlock()
		go func(c *exec.Cmd, ch chan struct{}) { _ = c.Wait(); close(ch) }(cmd, s.exited)
		err = s.waitListening(15 * time.Second)
		if err == nil {
			return s
		}
		lastErr = fmt.Errorf("%v\n%s%s", err, stderr.String(), tail(s.Log(), 20))
		s.stop()
		if opts.Port != 0 || !strings.Contains(s.Log(), "Address already in use") {
			break
		}
	}
	t.Fatalf("sshtest: sshd did not start: %v", lastErr)
	return nil
}

// waitListening waits for sshd's "Server listening" log line.
func (s *Server) waitListening(max time.Duration) error {
	deadline := time.Now().Add(max)
	want := fmt.Sprintf("Server listening on %s port %d", s.Host, s.Port)
	for time.Now().Before(deadline) {
		if strings.Contains(s.Log(), want) {
			return nil
		}
		select {
		case <-s.exited:
			return errors.New("sshd exited")
		case <-time.After(20 * time.Millisecond):
		}
	}
	return fmt.Errorf("sshd is not listening on %s:%d after %s", s.Host, s.Port, max)
}

func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }

func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

func tail(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// Addr is "127.0.0.1:PORT".
func (s *Server) Addr() string { return net.JoinHostPort(s.Host, strconv.Itoa(s.Port)) }

// Authorize appends a line to authorized_keys: options (may be empty, e.g.
// `restrict,port-forwarding,permitopen="db:5432"`) and the key. sshd reads
// the file on every login, so this works while it runs.
func (s *Server) Authorize(t testing.TB, k *Key, options string) {
	t.Helper()
	line := k.AuthorizedKey()
	if options != "" {
		line = options + " " + line
	}
	f, err := os.OpenFile(s.akPath, os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	defer f.Close()
	if _, err := fmt.Fprintln(f, line); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
}

// KnownHostsLine is a known_hosts line for this server in "[127.0.0.1]:PORT"
// form with the given host key (default: the first of the server's keys in
// ed25519, rsa order).
func (s *Server) KnownHostsLine(key ssh.PublicKey) string {
	if key == nil {
		for _, typ := range []string{"ed25519", "rsa"} {
			if k := s.HostKeys[typ]; k != nil {
				key = k.Public
				break
			}
		}
	}
	return knownhosts.Line([]string{s.Addr()}, key)
}

// HashedKnownHostsLine is like KnownHostsLine with the host name hashed, as
// ssh-keygen -H writes it.
func (s *Server) HashedKnownHostsLine(key ssh.PublicKey) string {
	line := s.KnownHostsLine(key)
	_, rest, _ := strings.Cut(line, " ")
	return knownhosts.HashHostname(knownhosts.Normalize(s.Addr())) + " " + rest
}

// WriteKnownHosts writes lines to dir/name and returns the path.
func WriteKnownHosts(t testing.TB, dir, name string, lines ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o600); err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	return p
}

// Log is sshd's log so far.
func (s *Server) Log() string {
	b, _ := os.ReadFile(s.logPath)
	return string(b)
}

var forwardRE = regexp.MustCompile(`server_request_direct_tcpip: originator \S+ port \d+, target (\S+) port (\d+)`)

// Forward is one direct-tcpip request sshd received.
type Forward struct {
	Host string
	Port int
}

// Forwards lists the direct-tcpip (ssh -L style) forwards clients asked
// sshd for, in order.
func (s *Server) Forwards() []Forward {
	var out []Forward
	for _, m := range forwardRE.FindAllStringSubmatch(s.Log(), -1) {
		p, _ := strconv.Atoi(m[2])
		out = append(out, Forward{Host: m[1], Port: p})
	}
	return out
}

// Logins counts accepted public-key logins.
func (s *Server) Logins() int {
	return strings.Count(s.Log(), "Accepted publickey for ")
}

// processes returns the pid of the listening sshd and of every process
// below it (per-connection sshd processes and their privilege-separated
// children), children last.
func (s *Server) processes() []int {
	if s.cmd == nil || s.cmd.Process == nil {
		return nil
	}
	root := s.cmd.Process.Pid
	parent := map[int]int{}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...; comm may contain spaces and parens.
		st := string(b)
		i := strings.LastIndexByte(st, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(st[i+1:])
		if len(f) < 2 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		parent[pid] = ppid
	}
	out := []int{root}
	for changed := true; changed; {
		changed = false
		for pid, pp := range parent {
			if pid == root || contains(out, pid) {
				continue
			}
			if contains(out, pp) {
				out = append(out, pid)
				changed = true
			}
		}
	}
	return out
}

func contains(xs []int, x int) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

func (s *Server) signal(sig syscall.Signal) {
	for _, pid := range s.processes() {
		_ = syscall.Kill(pid, sig)
	}
}

// Kill kills sshd and every connection it serves at once (SIGKILL): clients
// see their TCP connections reset or closed.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.killed {
		return
	}
	s.signal(syscall.SIGKILL)
	s.killed = true
	if s.exited != nil {
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
		}
	}
}

// Freeze stops sshd and its connection processes (SIGSTOP): the TCP
// connections stay open but nothing answers, like a bastion that hangs or
// a network path that silently drops packets.
func (s *Server) Freeze() { s.signal(syscall.SIGSTOP) }

// Thaw resumes a frozen sshd.
func (s *Server) Thaw() { s.signal(syscall.SIGCONT) }

func (s *Server) stop() {
	s.mu.Lock()
	killed := s.killed
	s.mu.Unlock()
	if !killed {
		s.Kill()
	}
}

// Agent is a running ssh-agent.
type Agent struct {
	// Socket is the agent's socket, for SSH_AUTH_SOCK.
	Socket string
	cmd    *exec.Cmd
}

// StartAgent starts ssh-agent in the foreground on a socket in a new
// temporary directory; it is stopped at t.Cleanup.
func StartAgent(t testing.TB) *Agent {
	t.Helper()
	bin, err := exec.LookPath("ssh-agent")
	if err != nil {
		t.Fatalf("sshtest: ssh-agent not found: %s", InstallHint)
	}
	dir, err := os.MkdirTemp("", "agent")
	if err != nil {
		t.Fatalf("sshtest: %v", err)
	}
	a := &Agent{Socket: filepath.Join(dir, "agent.sock")}
	a.cmd = exec.Command(bin, "-D", "-a", a.Socket)
	var out bytes.Buffer
	a.cmd.Stdout, a.cmd.Stderr = &out, &out
	if err := a.cmd.Start(); err != nil {
		t.Fatalf("sshtest: start ssh-agent: %v", err)
	}
	exited := make(chan struct{})
	go func() { _ = a.cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		_ = a.cmd.Process.Kill()
		<-exited
		_ = os.RemoveAll(dir)
	})
	deadline := time.Now().Add(10 * time.Second)
	for {
		if c, err := net.Dial("unix", a.Socket); err == nil {
			_ = c.Close()
			return a
		}
		select {
		case <-exited:
			t.Fatalf("sshtest: ssh-agent exited: %s", out.String())
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatalf("sshtest: ssh-agent did not create %s", a.Socket)
		}
	}
}

// Env is the environment entry that points at the agent.
func (a *Agent) Env() string { return "SSH_AUTH_SOCK=" + a.Socket }

// Add runs ssh-add with the key file (mode 0600, unencrypted).
func (a *Agent) Add(t testing.TB, keyFile string) {
	t.Helper()
	bin, err := exec.LookPath("ssh-add")
	if err != nil {
		t.Fatalf("sshtest: ssh-add not found: %s", InstallHint)
	}
	cmd := exec.Command(bin, keyFile)
	cmd.Env = []string{a.Env(), "PATH=" + os.Getenv("PATH")}
	cmd.Stdin = strings.NewReader("")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("sshtest: ssh-add %s: %v\n%s", keyFile, err, out)
	}
}

// List is the output of ssh-add -l: the fingerprints the agent holds.
func (a *Agent) List(t testing.TB) string {
	t.Helper()
	cmd := exec.Command("ssh-add", "-l")
	cmd.Env = []string{a.Env(), "PATH=" + os.Getenv("PATH")}
	out, _ := cmd.CombinedOutput() // exits 1 when the agent has no keys
	return string(out)
}

// EchoServer accepts connections on 127.0.0.1 and echoes what it reads, until
// the test ends; it returns the port. It is what a tunnel test connects to.
func EchoServer(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { l.Close() })
	go func() {
		for {
			c, err := l.Accept()
			if err != nil {
				return
			}
			go func() { defer c.Close(); _, _ = io.Copy(c, c) }()
		}
	}()
	return l.Addr().(*net.TCPAddr).Port
}
