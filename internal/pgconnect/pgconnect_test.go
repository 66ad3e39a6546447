package pgconnect_test

// Connections with real PostgreSQL servers (one with TLS from a self-signed
// CA, one without) and a real sshd as the bastion: libpq's six sslmodes,
// the default of the README's Safety, one SSH login shared by all connections through a
// bastion, bastion-side name resolution, cancel requests through the
// tunnel, and errors that never carry a secret.

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/pgcluster"
	"github.com/rowform/rowform/internal/pgconnect"
	"github.com/rowform/rowform/internal/sshtest"
	"github.com/rowform/rowform/internal/sshtunnel"
)

const bastionOnlyName = "db.bastion.internal"

func server(c *pgcluster.Cluster, sslmode, rootcert string) *hclconfig.Server {
	return &hclconfig.Server{
		Kind: "destination", Type: "postgres", Name: "db",
		Host: c.Host, Port: c.Port, Database: c.Database, User: c.User,
		Password: hclconfig.NewSecret(c.Password), MaxConnections: 1,
		SSLMode: sslmode, SSLRootCert: rootcert,
	}
}

func connect(t *testing.T, s *hclconfig.Server) (*pgx.Conn, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgconnect.Connect(ctx, s, "rowform/test")
	if conn != nil {
		t.Cleanup(func() { conn.Close(context.Background()) })
	}
	return conn, err
}

// sslInUse asks the server whether this session uses TLS.
func sslInUse(t *testing.T, conn *pgx.Conn) bool {
	t.Helper()
	var ssl bool
	if err := conn.QueryRow(context.Background(), "SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").Scan(&ssl); err != nil {
		t.Fatal(err)
	}
	return ssl
}

func TestSSLModeDefault(t *testing.T) {
	for host, want := range map[string]string{
		"localhost":             "prefer",
		"127.0.0.1":             "prefer",
		"127.3.4.5":             "prefer",
		"::1":                   "prefer",
		"/var/run/postgresql":   "prefer",
		"db.internal":           "require",
		"10.0.0.5":              "require",
		"192.0.2.2":             "require",
		"localhost.example.com": "require",
		"db.bastion.internal":   "require",
		// A list of hosts, as libpq reads a comma, is not one local
		// server: the socket first must not make the next host plain text.
		"/nonexistent,192.0.2.2": "require",
		"localhost,db.internal":  "require",
	} {
		s := &hclconfig.Server{Host: host}
		if got := pgconnect.SSLMode(s); got != want {
			t.Errorf("SSLMode(host %q) = %q, want %q", host, got, want)
		}
		for _, mode := range hclconfig.SSLModes {
			s.SSLMode = mode
			if got := pgconnect.SSLMode(s); got != mode {
				t.Errorf("SSLMode(host %q, sslmode %q) = %q: the configured mode must win", host, mode, got)
			}
		}
	}
}

// TestSSLModes connects with each of libpq's six sslmodes to a server with
// TLS and to one without, and checks what libpq would do: connect or not,
// encrypted or not.
func TestSSLModes(t *testing.T) {
	tlsC, files := sshtest.StartTLSCluster(t)
	plain := sshtest.StartPlainCluster(t)
	otherCA := sshtest.NewTLS(t, "127.0.0.1")

	type outcome int
	const (
		plaintext outcome = iota
		encrypted
		fails
	)
	cases := []struct {
		name     string
		c        *pgcluster.Cluster
		host     string
		sslmode  string
		rootcert string
		want     outcome
		errHas   string
	}{
		{"tls/disable", tlsC, "", "disable", "", plaintext, ""},
		{"tls/allow", tlsC, "", "allow", "", plaintext, ""},
		{"tls/prefer", tlsC, "", "prefer", "", encrypted, ""},
		{"tls/require", tlsC, "", "require", "", encrypted, ""},
		{"tls/default_loopback", tlsC, "", "", "", encrypted, ""},
		{"tls/verify-ca", tlsC, "", "verify-ca", files.CAFile, encrypted, ""},
		{"tls/verify-full", tlsC, "", "verify-full", files.CAFile, encrypted, ""},
		{"tls/verify-full_localhost", tlsC, "localhost", "verify-full", files.CAFile, encrypted, ""},
		{"tls/verify-full_without_ca", tlsC, "", "verify-full", "", fails, "certificate"},
		{"tls/verify-ca_without_ca", tlsC, "", "verify-ca", "", fails, "certificate"},
		{"tls/verify-full_other_ca", tlsC, "", "verify-full", otherCA.CAFile, fails, "certificate"},
		{"tls/verify-ca_other_ca", tlsC, "", "verify-ca", otherCA.CAFile, fails, "certificate"},
		// libpq: require with a root certificate verifies like verify-ca.
		{"tls/require_with_ca", tlsC, "", "require", files.CAFile, encrypted, ""},
		{"tls/require_with_other_ca", tlsC, "", "require", otherCA.CAFile, fails, "certificate"},
		{"tls/missing_rootcert", tlsC, "", "verify-full", files.Dir + "/nope.crt", fails, "nope.crt"},
		{"plain/disable", plain, "", "disable", "", plaintext, ""},
		{"plain/allow", plain, "", "allow", "", plaintext, ""},
		{"plain/prefer", plain, "", "prefer", "", plaintext, ""},
		{"plain/default_loopback", plain, "", "", "", plaintext, ""},
		{"plain/require", plain, "", "require", "", fails, "TLS"},
		{"plain/verify-ca", plain, "", "verify-ca", files.CAFile, fails, "TLS"},
		{"plain/verify-full", plain, "", "verify-full", files.CAFile, fails, "TLS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := server(tc.c, tc.sslmode, tc.rootcert)
			if tc.host != "" {
				s.Host = tc.host
			}
			conn, err := connect(t, s)
			if tc.want == fails {
				if err == nil {
					t.Fatalf("sslmode=%s connected; libpq refuses this", tc.sslmode)
				}
				var ce *pgconnect.ConnectError
				if !errors.As(err, &ce) && !strings.Contains(err.Error(), "invalid connection settings") {
					t.Errorf("error is %T: %v", err, err)
				}
				if !strings.Contains(err.Error(), tc.errHas) {
					t.Errorf("the message does not say what is wrong (want %q): %v", tc.errHas, err)
				}
				if strings.Contains(err.Error(), tc.c.Password) {
					t.Errorf("the message shows the password: %v", err)
				}
				t.Logf("refused as expected: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("sslmode=%q: %v", tc.sslmode, err)
			}
			wantTLS := tc.want == encrypted
			if got := pgconnect.Encrypted(conn); got != wantTLS {
				t.Errorf("Encrypted = %v, want %v", got, wantTLS)
			}
			if got := sslInUse(t, conn); got != wantTLS {
				t.Errorf("pg_stat_ssl.ssl = %v, want %v", got, wantTLS)
			}
		})
	}
}

// sslmode=allow against a server that only accepts TLS (hostssl): libpq
// tries without TLS, is rejected, and retries with TLS.
func TestSSLModeAllowFallsBackToTLS(t *testing.T) {
	c, _ := sshtest.StartTLSCluster(t)
	setHBA(t, c, "local all all scram-sha-256\nhostssl all all 127.0.0.1/32 scram-sha-256\n")
	conn, err := connect(t, server(c, "allow", ""))
	if err != nil {
		t.Fatalf("allow against a TLS-only server: %v", err)
	}
	if !pgconnect.Encrypted(conn) {
		t.Error("not encrypted")
	}
	if _, err := connect(t, server(c, "disable", "")); err == nil {
		t.Error("disable connected to a TLS-only server")
	}
}

// setHBA replaces the cluster's pg_hba.conf and reloads it.
func setHBA(t *testing.T, c *pgcluster.Cluster, hba string) {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.ConnString(""))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var path string
	if err := conn.QueryRow(ctx, "SHOW hba_file").Scan(&path); err != nil {
		t.Fatal(err)
	}
	// Truncating keeps the file's owner (the server's OS user).
	if err := os.WriteFile(path, []byte(hba), 0o600); err != nil {
		t.Fatalf("write pg_hba.conf: %v", err)
	}
	if _, err := conn.Exec(ctx, "SELECT pg_reload_conf()"); err != nil {
		t.Fatal(err)
	}
	// The reload is asynchronous: wait until the new rules are in effect.
	deadline := time.Now().Add(10 * time.Second)
	for time.Now().Before(deadline) {
		var n int
		if err := conn.QueryRow(ctx, "SELECT count(*) FROM pg_hba_file_rules WHERE type = 'hostssl'").Scan(&n); err == nil && n > 0 {
			time.Sleep(200 * time.Millisecond)
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("pg_hba.conf was not reloaded")
}

// bastion starts sshd with db.bastion.internal resolving (on the bastion
// only) to the cluster, and returns an ssh_tunnel block for it.
func bastion(t *testing.T, c *pgcluster.Cluster) (*sshtest.Server, *hclconfig.SSHTunnel) {
	t.Helper()
	key := sshtest.NewKey(t, "ed25519")
	srv := sshtest.Start(t, sshtest.Options{
		Hosts:          map[string]string{bastionOnlyName: c.Host},
		AuthorizedKeys: []string{key.AuthorizedKey()},
	})
	dir := t.TempDir()
	return srv, &hclconfig.SSHTunnel{
		Host: srv.Host, Port: srv.Port, User: srv.User,
		PrivateKeyFile: key.WriteFile(t, dir, "id_ed25519", ""),
		KnownHostsFile: sshtest.WriteKnownHosts(t, dir, "known_hosts", srv.HashedKnownHostsLine(nil)),
	}
}

// TestConnectorSharesOneSSHLogin opens several connections through one
// bastion to a host name only the bastion resolves: one SSH login, one
// direct-tcpip forward per connection to the database port.
func TestConnectorSharesOneSSHLogin(t *testing.T) {
	c := sshtest.StartPlainCluster(t)
	srv, tun := bastion(t, c)
	s := server(c, "disable", "")
	s.Host = bastionOnlyName
	s.SSHTunnel = tun

	conn := pgconnect.NewConnector(nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	const n = 4
	var wg sync.WaitGroup
	errs := make([]error, n)
	conns := make([]*pgx.Conn, n)
	for i := 0; i < n; i++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			cfg, err := pgconnect.Config(s, "rowform/test")
			if err != nil {
				errs[i] = err
				return
			}
			conns[i], errs[i] = conn.Connect(ctx, s, cfg)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("connection %d: %v", i, err)
		}
		var one int
		if err := conns[i].QueryRow(ctx, "SELECT 1").Scan(&one); err != nil {
			t.Fatal(err)
		}
		conns[i].Close(ctx)
	}
	conn.Close()
	if got := srv.Logins(); got != 1 {
		t.Errorf("SSH logins = %d, want 1 shared by %d connections", got, n)
	}
	fw := srv.Forwards()
	if len(fw) != n {
		t.Errorf("forwards = %+v, want %d", fw, n)
	}
	for _, f := range fw {
		if f.Host != bastionOnlyName || f.Port != c.Port {
			t.Errorf("forward to %s:%d, want %s:%d", f.Host, f.Port, bastionOnlyName, c.Port)
		}
	}
}

// TLS works end to end through the tunnel, verified against the name the
// bastion resolves (the certificate must carry db.bastion.internal).
func TestTLSThroughTunnel(t *testing.T) {
	c, files := sshtest.StartTLSCluster(t, bastionOnlyName)
	_, tun := bastion(t, c)
	for _, mode := range []string{"verify-full", "verify-ca", "require", ""} {
		t.Run("mode_"+mode, func(t *testing.T) {
			s := server(c, mode, files.CAFile)
			s.Host = bastionOnlyName
			s.SSHTunnel = tun
			connector := pgconnect.NewConnector(nil)
			defer connector.Close()
			cfg, err := pgconnect.Config(s, "rowform/test")
			if err != nil {
				t.Fatal(err)
			}
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			conn, err := connector.Connect(ctx, s, cfg)
			if err != nil {
				t.Fatalf("sslmode %q through the tunnel: %v", mode, err)
			}
			defer conn.Close(ctx)
			if !pgconnect.Encrypted(conn) || !sslInUse(t, conn) {
				t.Error("not encrypted")
			}
		})
	}
	// A certificate without the name fails verify-full, also through a tunnel.
	c2, files2 := sshtest.StartTLSCluster(t)
	_, tun2 := bastion(t, c2)
	s := server(c2, "verify-full", files2.CAFile)
	s.Host = bastionOnlyName
	s.SSHTunnel = tun2
	connector := pgconnect.NewConnector(nil)
	defer connector.Close()
	cfg, _ := pgconnect.Config(s, "rowform/test")
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if conn, err := connector.Connect(ctx, s, cfg); err == nil {
		conn.Close(ctx)
		t.Fatal("verify-full accepted a certificate that does not name db.bastion.internal")
	} else if !strings.Contains(err.Error(), bastionOnlyName) {
		t.Errorf("the message does not name the host: %v", err)
	}
}

// A refused host key fails Connect with the host key error inside, before
// any database connection.
func TestConnectorRefusedHostKey(t *testing.T) {
	c := sshtest.StartPlainCluster(t)
	srv, tun := bastion(t, c)
	tun.KnownHostsFile = sshtest.WriteKnownHosts(t, t.TempDir(), "known_hosts", srv.KnownHostsLine(sshtest.NewKey(t, "ed25519").Public))
	s := server(c, "disable", "")
	s.SSHTunnel = tun
	before := sshtest.ConnectionsLogged(c)
	connector := pgconnect.NewConnector(nil)
	defer connector.Close()
	cfg, _ := pgconnect.Config(s, "rowform/test")
	_, err := connector.Connect(context.Background(), s, cfg)
	var hk *sshtunnel.HostKeyError
	if !errors.As(err, &hk) || !hk.Changed {
		t.Fatalf("err = %v", err)
	}
	var ce *pgconnect.ConnectError
	if !errors.As(err, &ce) || ce.Server != "postgres.db" {
		t.Fatalf("not a ConnectError naming the server: %v", err)
	}
	if len(srv.Forwards()) != 0 || sshtest.ConnectionsLogged(c) != before {
		t.Error("a database connection was attempted")
	}
	// The failure is remembered for the Connector's lifetime: one refusal,
	// not one per connection.
	if _, err2 := connector.Connect(context.Background(), s, cfg); err2 == nil || !errors.As(err2, &hk) {
		t.Fatalf("second connect: %v", err2)
	}
}

// Control for TestCancelThroughTunnel: without a tunnel a cancelled
// context interrupts a running query at once.
func TestCancelDirect(t *testing.T) {
	c := sshtest.StartPlainCluster(t)
	conn, err := connect(t, server(c, "disable", ""))
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := conn.Exec(ctx, "SELECT pg_sleep(15)"); err == nil {
		t.Fatal("pg_sleep(15) returned without error although its context was cancelled")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the cancelled query took %s", took)
	}
}

// A cancelled query through the tunnel returns promptly, as it does without
// a tunnel, and is stopped on the server.
func TestCancelThroughTunnel(t *testing.T) {
	c := sshtest.StartPlainCluster(t)
	srv, tun := bastion(t, c)
	s := server(c, "disable", "")
	s.Host = bastionOnlyName
	s.SSHTunnel = tun
	connector := pgconnect.NewConnector(nil)
	cfg, _ := pgconnect.Config(s, "rowform/cancel")
	conn, err := connector.Connect(context.Background(), s, cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err = conn.Exec(ctx, "SELECT pg_sleep(15)")
	if err == nil {
		t.Fatal("pg_sleep(15) returned without error although its context was cancelled after 500ms")
	}
	if took := time.Since(start); took > 5*time.Second {
		t.Fatalf("the cancelled query took %s", took)
	}
	conn.Close(context.Background())
	connector.Close()
	// The server stopped the query (the cancel request or the closed
	// connection ended it); nothing is left running.
	admin, err := pgx.Connect(context.Background(), c.ConnString(""))
	if err != nil {
		t.Fatal(err)
	}
	defer admin.Close(context.Background())
	deadline := time.Now().Add(10 * time.Second)
	for {
		var n int
		if err := admin.QueryRow(context.Background(), "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rowform/cancel'").Scan(&n); err != nil {
			t.Fatal(err)
		}
		if n == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the cancelled session is still on the server")
		}
		time.Sleep(50 * time.Millisecond)
	}
	// One forward for the session, one for the cancel request.
	if fw := srv.Forwards(); len(fw) < 2 {
		t.Errorf("forwards = %+v: the cancel request did not go through the tunnel", fw)
	}
}

// Connection errors never carry the password, even when the password is
// what is wrong, and name the server without a connection string.
func TestConnectErrorsCarryNoSecrets(t *testing.T) {
	c := sshtest.StartPlainCluster(t)
	const canary = "canary-pw-Zq8x!'\"\\ end"
	s := server(c, "disable", "")
	s.Password = hclconfig.NewSecret(canary)
	_, err := connect(t, s)
	if err == nil {
		t.Fatal("connected with a wrong password")
	}
	msg := err.Error()
	for _, want := range []string{"postgres.db", "password authentication failed", "28P01", c.User} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q: %s", want, msg)
		}
	}
	for _, bad := range []string{canary, "canary-pw", "password=", "postgres://"} {
		if strings.Contains(msg, bad) || strings.Contains(fmt.Sprintf("%+v %#v", err, err), bad) {
			t.Errorf("message carries %q: %s", bad, msg)
		}
	}
	// Unreachable server, and odd characters in every field.
	s2 := server(c, "require", "")
	s2.Port = 1
	s2.Password = hclconfig.NewSecret(canary)
	s2.Database = "db name with 'quotes' and \\"
	_, err = connect(t, s2)
	if err == nil || strings.Contains(err.Error(), "canary-pw") || strings.Contains(err.Error(), "password") {
		t.Errorf("err = %v", err)
	}
}

// TestConnectErrorsSayWhatToCheck: a refused connection and a server
// without TLS under sslmode "require" are said once each, with what to
// check, instead of the driver's message for every attempt.
func TestConnectErrorsSayWhatToCheck(t *testing.T) {
	c := sshtest.StartPlainCluster(t)
	_, err := connect(t, server(c, "require", ""))
	if err == nil {
		t.Fatal("sslmode=require connected to a server without TLS")
	}
	for _, want := range []string{`the server does not accept TLS, and sslmode is "require"`, `set sslmode = "disable"`} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("message lacks %q: %v", want, err)
		}
	}

	l, lerr := net.Listen("tcp", "127.0.0.1:0")
	if lerr != nil {
		t.Fatal(lerr)
	}
	closed := server(c, "prefer", "")
	closed.Port = l.Addr().(*net.TCPAddr).Port
	l.Close()
	_, err = connect(t, closed)
	if err == nil {
		t.Fatal("connected to a closed port")
	}
	msg := err.Error()
	if !strings.Contains(msg, "connection refused: is the server running, and are host and port right?") ||
		strings.Count(msg, "refused") != 1 || strings.Contains(msg, "\n") {
		t.Errorf("refused connection: %q", msg)
	}

	// A Unix socket directory without a server on the port: the socket
	// it looked for, and what to check, not the dialer's "no such file".
	noSocket := server(c, "disable", "")
	noSocket.Host = t.TempDir()
	_, err = connect(t, noSocket)
	if err == nil {
		t.Fatal("connected through a socket directory without a socket")
	}
	msg = err.Error()
	if want := "no server is listening on the Unix socket " + filepath.Join(noSocket.Host, fmt.Sprintf(".s.PGSQL.%d", noSocket.Port)) + ": is the server running, and are host (the socket directory) and port right?"; !strings.Contains(msg, want) ||
		strings.Contains(msg, "no such file") || strings.Contains(msg, "\n") {
		t.Errorf("socket directory without a socket: %q, want %q", msg, want)
	}

	// A role allowed fewer connections than rowform opens: the message
	// says which setting bounds them.
	s := server(c, "disable", "")
	first, err := connect(t, s)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := first.Exec(context.Background(), "CREATE ROLE limited LOGIN PASSWORD 'limited-pass' CONNECTION LIMIT 1"); err != nil {
		t.Fatal(err)
	}
	s.User, s.Password = "limited", hclconfig.NewSecret("limited-pass")
	if _, err := connect(t, s); err != nil {
		t.Fatal(err)
	}
	_, err = connect(t, s)
	if err == nil || !strings.Contains(err.Error(), "SQLSTATE 53300") || !strings.Contains(err.Error(), `set max_connections in destination "postgres" "db"`) {
		t.Errorf("too many connections for the role: %v", err)
	}
}

// TestSettingsJoinTheConnection: a server's Settings join its connection
// string, as the driver reads them from one (options is sent to the
// server); the settings and the name rowform gives every session stay
// rowform's in whatever case another source spells them (the server
// takes the last of two spellings, so a "timezone" from the URL or from
// PGTZ was sent beside rowform's "TimeZone" and won as the map's order
// fell); and a keyword an attribute of the block sets, or one that is no
// keyword, is refused.
func TestSettingsJoinTheConnection(t *testing.T) {
	s := &hclconfig.Server{Kind: "destination", Type: "postgres", Name: "db", Host: "127.0.0.1", Port: 5432,
		Database: "d", User: "u", SSLMode: "disable",
		Settings: map[string]string{"options": "-c search_path=app", "connect_timeout": "3", "timezone": "America/New_York", "Application_Name": "ci"}}
	cfg, err := pgconnect.Config(s, "rowform/test")
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.RuntimeParams["options"]; got != "-c search_path=app" {
		t.Errorf("options = %q", got)
	}
	if cfg.ConnectTimeout != 3*time.Second {
		t.Errorf("connect timeout %s, want 3s", cfg.ConnectTimeout)
	}
	for k, v := range cfg.RuntimeParams {
		if strings.EqualFold(k, "timezone") && (k != "TimeZone" || v != "UTC") || strings.EqualFold(k, "application_name") && (k != "application_name" || v != "rowform/test") {
			t.Errorf("the session is sent %s=%q", k, v)
		}
	}
	for _, k := range []string{"host", "dbname", "password", "sslmode", "a b", "x=1 host"} {
		s.Settings = map[string]string{k: "x"}
		if _, err := pgconnect.Config(s, "rowform/test"); err == nil || !strings.Contains(err.Error(), "is not a setting to add") {
			t.Errorf("setting %q: err %v", k, err)
		}
	}
}
