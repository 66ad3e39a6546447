package cli

// End-to-end tests of connections (ssh_tunnel in docs/language.md; docs/connections.md): rowform run
// in-process against a real sshd (internal/sshtest) in front of a real
// PostgreSQL server started with log_connections, so that every test can
// tell whether a database connection was made at all.
//
// The database host in these configurations is "db.bastion.internal", a
// name that only the bastion resolves (sshd runs with its own /etc/hosts):
// a plan that works proves the tunnel was used and the name was resolved
// on the far side, and sshd's log shows each direct-tcpip forward.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/internal/pgcluster"
	"github.com/rowform/rowform/internal/sshtest"
	"github.com/rowform/rowform/internal/sshtunnel"
)

// bastionOnlyHost is resolvable on the bastion only.
const bastionOnlyHost = "db.bastion.internal"

// tunnelEnv is a PostgreSQL cluster with a source and a destination
// database, a bastion in front of it, and a configuration directory.
type tunnelEnv struct {
	t   *testing.T
	pg  *pgcluster.Cluster
	ssh *sshtest.Server
	// key is authorized on the bastion; keyFile holds it unencrypted.
	key     *sshtest.Key
	keyFile string
	// knownHosts holds the bastion's ed25519 key in [127.0.0.1]:PORT form.
	knownHosts string
	dir        string
	environ    []string
}

func newTunnelEnv(t *testing.T) *tunnelEnv {
	t.Helper()
	e := &tunnelEnv{t: t, dir: t.TempDir()}
	e.pg = sshtest.StartPlainCluster(t)
	e.key = sshtest.NewKey(t, "ed25519")
	e.ssh = sshtest.Start(t, sshtest.Options{
		Hosts:          map[string]string{bastionOnlyHost: e.pg.Host},
		AuthorizedKeys: []string{e.key.AuthorizedKey()},
	})
	if _, err := net.LookupHost(bastionOnlyHost); err == nil {
		t.Fatalf("%s resolves on this machine: the tests cannot prove that the bastion resolved it", bastionOnlyHost)
	}
	keys := filepath.Join(t.TempDir(), "keys")
	if err := os.Mkdir(keys, 0o700); err != nil {
		t.Fatal(err)
	}
	e.keyFile = e.key.WriteFile(t, keys, "id_ed25519", "")
	e.knownHosts = sshtest.WriteKnownHosts(t, keys, "known_hosts", e.ssh.KnownHostsLine(e.ssh.HostKeys["ed25519"].Public))
	e.environ = []string{"PG_PASSWORD=" + e.pg.Password, "HOME=" + t.TempDir()}

	admin := e.admin("")
	for _, db := range []string{"src", "dst"} {
		if _, err := admin.Exec(context.Background(), "CREATE DATABASE "+db); err != nil {
			t.Fatal(err)
		}
	}
	e.exec("src", `CREATE TABLE users (id int, email text);
		INSERT INTO users VALUES (1, 'a@example.com'), (2, 'b@example.com'), (3, 'c@example.com')`)
	e.exec("dst", `CREATE TABLE users (id int PRIMARY KEY, email text);
		INSERT INTO users VALUES (1, 'a@example.com')`)
	return e
}

// admin is a superuser connection to db ("" for the default), closed at
// cleanup.
func (e *tunnelEnv) admin(db string) *pgx.Conn {
	e.t.Helper()
	url := e.pg.ConnString(db)
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { conn.Close(context.Background()) })
	return conn
}

func (e *tunnelEnv) exec(db, sql string) {
	e.t.Helper()
	conn, err := pgx.Connect(context.Background(), e.pg.ConnString(db))
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close(context.Background())
	if _, err := conn.Exec(context.Background(), sql); err != nil {
		e.t.Fatalf("%s: %v", sql, err)
	}
}

func (e *tunnelEnv) dstRows() string {
	e.t.Helper()
	conn, err := pgx.Connect(context.Background(), e.pg.ConnString("dst"))
	if err != nil {
		e.t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var s string
	if err := conn.QueryRow(context.Background(), "SELECT count(*) || ':' || coalesce(string_agg(id || '=' || email, ',' ORDER BY id), '') FROM users").Scan(&s); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// defaultTunnel is the body of an ssh_tunnel block with the key file and
// known_hosts file.
func (e *tunnelEnv) defaultTunnel() string {
	return fmt.Sprintf(`host = %q
    port = %d
    user = %q
    private_key_file = %q
    known_hosts_file = %q`, e.ssh.Host, e.ssh.Port, e.ssh.User, e.keyFile, e.knownHosts)
}

// writeConfig writes main.hcl: source and destination on bastionOnlyHost through a
// bastion with the given ssh_tunnel body, and a sync "users".
func (e *tunnelEnv) writeConfig(tunnel string) {
	e.t.Helper()
	server := func(kind, db string) string {
		return fmt.Sprintf(`%s "postgres" %q {
  host     = %q
  port     = %d
  database = %q
  user     = %q
  password = env("PG_PASSWORD")
  sslmode  = "disable"

  ssh_tunnel {
    %s
  }
}
`, kind, db, bastionOnlyHost, e.pg.Port, db, e.pg.User, tunnel)
	}
	hcl := server("destination", "dst") + "\n" + server("source", "src") + `
sync "users" {
  source      = source.postgres.src
  query       = "SELECT id, email FROM users"
  destination = destination.postgres.dst
  table       = "users"
  behavior    = "update_or_create"
  key         = "id"
}
`
	if err := os.WriteFile(filepath.Join(e.dir, "main.hcl"), []byte(hcl), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// run runs rowform in-process in the configuration directory with the
// env's environment plus extra.
func (e *tunnelEnv) run(extra []string, args ...string) result {
	e.t.Helper()
	env := append(append([]string{}, e.environ...), extra...)
	return runCLIWith(e.t, env, "", append([]string{"-chdir=" + e.dir}, args...)...)
}

// runWith runs rowform in the configuration directory with the tunnels
// tuned by tunnel.
func (e *tunnelEnv) runWith(tunnel sshtunnel.Options, args ...string) result {
	e.t.Helper()
	inv := &invocation{stdin: strings.NewReader(""), environ: e.environ, tunnel: tunnel}
	return runInvocation(inv, append([]string{"-chdir=" + e.dir}, args...)...)
}

// noDatabaseConnection runs f and checks that it made no connection to the
// database: the server logged none and sshd forwarded nothing.
func (e *tunnelEnv) noDatabaseConnection(f func()) {
	e.t.Helper()
	pgBefore, fwBefore := sshtest.ConnectionsLogged(e.pg), len(e.ssh.Forwards())
	f()
	if got := sshtest.ConnectionsLogged(e.pg); got != pgBefore {
		e.t.Errorf("PostgreSQL logged %d new connections; a refused tunnel must not lead to any", got-pgBefore)
	}
	if got := len(e.ssh.Forwards()); got != fwBefore {
		e.t.Errorf("sshd forwarded %d connections; a refused tunnel must not forward any", got-fwBefore)
	}
}

func (r result) outputs() string { return r.stdout + r.stderr }

func (r result) mustShow(t *testing.T, subs ...string) {
	t.Helper()
	for _, s := range subs {
		if !strings.Contains(r.outputs(), s) {
			t.Errorf("output lacks %q:\nstdout:\n%s\nstderr:\n%s", s, r.stdout, r.stderr)
		}
	}
}

// TestTunnelPlanAndApply plans and applies a postgres-to-postgres sync whose
// both servers sit behind a bastion under a bastion-only name.
func TestTunnelPlanAndApply(t *testing.T) {
	e := newTunnelEnv(t)
	e.writeConfig(e.defaultTunnel())

	r := e.run(nil, "validate")
	r.expect(t, exitOK)
	if e.ssh.Logins() != 0 {
		t.Error("validate logged in to the bastion")
	}

	r = e.run(nil, "plan", "-detailed-exitcode")
	r.expect(t, exitChanges)
	r.mustShow(t, "2 to insert", "1 unchanged")
	if strings.Contains(r.outputs(), "insecure_connection") == false {
		t.Errorf("sslmode disable to %s (not loopback) must warn insecure_connection:\n%s", bastionOnlyHost, r.outputs())
	}
	fw := e.ssh.Forwards()
	if len(fw) < 2 {
		t.Fatalf("sshd forwards = %+v: the plan did not go through the tunnel", fw)
	}
	for _, f := range fw {
		if f.Host != bastionOnlyHost || f.Port != e.pg.Port {
			t.Errorf("forward to %s:%d, want %s:%d", f.Host, f.Port, bastionOnlyHost, e.pg.Port)
		}
	}
	// Source and destination share the bastion: one SSH login for the plan.
	if n := e.ssh.Logins(); n != 1 {
		t.Errorf("the plan logged in to the bastion %d times, want 1", n)
	}

	before := len(e.ssh.Forwards())
	r = e.run(nil, "apply", "-auto-approve")
	r.expect(t, exitOK)
	r.mustShow(t, "Apply complete: 2 inserted, 0 updated, 0 deleted")
	if got := e.dstRows(); got != "3:1=a@example.com,2=b@example.com,3=c@example.com" {
		t.Errorf("destination = %s", got)
	}
	if len(e.ssh.Forwards()) <= before {
		t.Error("apply did not go through the tunnel")
	}

	// plan -out and apply PLANFILE through the tunnel.
	e.exec("src", "UPDATE users SET email = 'new@example.com' WHERE id = 2")
	r = e.run(nil, "plan", "-out=tunnel.plan")
	r.expect(t, exitOK)
	r.mustShow(t, "1 to update")
	r = e.run(nil, "apply", "tunnel.plan")
	r.expect(t, exitOK)
	if got := e.dstRows(); got != "3:1=a@example.com,2=new@example.com,3=c@example.com" {
		t.Errorf("destination = %s", got)
	}
	r = e.run(nil, "plan", "-detailed-exitcode")
	r.expect(t, exitOK)
}

// TestTunnelHostKeyForms: every supported way of knowing the bastion's key.
func TestTunnelHostKeyForms(t *testing.T) {
	e := newTunnelEnv(t)
	dir := t.TempDir()
	ed, rsa := e.ssh.HostKeys["ed25519"], e.ssh.HostKeys["rsa"]
	tunnel := func(hostKeyLine string) string {
		return fmt.Sprintf(`host = %q
    port = %d
    user = %q
    private_key_file = %q
    %s`, e.ssh.Host, e.ssh.Port, e.ssh.User, e.keyFile, hostKeyLine)
	}
	knownHosts := func(name string, lines ...string) string {
		return fmt.Sprintf("known_hosts_file = %q", sshtest.WriteKnownHosts(t, dir, name, lines...))
	}
	for _, tc := range []struct{ name, hostKey string }{
		{"bracketed_port", knownHosts("plain", "other.example "+rsa.AuthorizedKey(), e.ssh.KnownHostsLine(ed.Public))},
		{"hashed", knownHosts("hashed", e.ssh.HashedKnownHostsLine(ed.Public))},
		// The bastion also has an ed25519 key, which x/crypto would
		// otherwise not prefer, and an RSA one it would.
		{"only_rsa_known", knownHosts("rsa", e.ssh.KnownHostsLine(rsa.Public))},
		{"only_ed25519_known_hashed", knownHosts("ed", e.ssh.HashedKnownHostsLine(ed.Public))},
		{"pinned_ed25519", fmt.Sprintf("host_key = %q", ed.AuthorizedKey())},
		{"pinned_rsa", fmt.Sprintf("host_key = %q", rsa.AuthorizedKey())},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e.writeConfig(tunnel(tc.hostKey))
			r := e.run(nil, "plan")
			r.expect(t, exitOK)
			r.mustShow(t, "2 to insert")
		})
	}
}

// TestTunnelRefusals: each refusal exits 1 with a message saying what to
// fix, and no database connection is made.
func TestTunnelRefusals(t *testing.T) {
	e := newTunnelEnv(t)
	dir := t.TempDir()
	ed := e.ssh.HostKeys["ed25519"]
	withLine := func(known, keyLine string) string {
		return fmt.Sprintf(`host = %q
    port = %d
    user = %q
    known_hosts_file = %q
    %s`, e.ssh.Host, e.ssh.Port, e.ssh.User, known, keyLine)
	}
	keyFile := fmt.Sprintf("private_key_file = %q", e.keyFile)

	t.Run("changed_host_key", func(t *testing.T) {
		impostor := sshtest.NewKey(t, "ed25519")
		known := sshtest.WriteKnownHosts(t, dir, "changed", e.ssh.KnownHostsLine(impostor.Public))
		e.writeConfig(withLine(known, keyFile))
		e.noDatabaseConnection(func() {
			r := e.run(nil, "plan")
			r.expect(t, exitError)
			r.mustShow(t, "connection_failed", "SHA256:", ed.Fingerprint(), "does not match", known, "ssh-keygen -R")
		})
	})
	t.Run("changed_pinned_key", func(t *testing.T) {
		e.writeConfig(fmt.Sprintf(`host = %q
    port = %d
    user = %q
    host_key = %q
    %s`, e.ssh.Host, e.ssh.Port, e.ssh.User, sshtest.NewKey(t, "ed25519").AuthorizedKey(), keyFile))
		e.noDatabaseConnection(func() {
			r := e.run(nil, "plan")
			r.expect(t, exitError)
			r.mustShow(t, "SHA256:", ed.Fingerprint(), "pinned host_key")
		})
	})
	t.Run("unknown_host", func(t *testing.T) {
		known := sshtest.WriteKnownHosts(t, dir, "unknown", "bastion.example.org "+ed.AuthorizedKey())
		e.writeConfig(withLine(known, keyFile))
		e.noDatabaseConnection(func() {
			r := e.run(nil, "plan")
			r.expect(t, exitError)
			// With nothing known for the host, x/crypto's preference (RSA
			// before ed25519) decides which key the bastion presents.
			r.mustShow(t, "not known", "SHA256:", "ssh-keyscan", "host_key = ")
			if !strings.Contains(r.outputs(), ed.Fingerprint()) && !strings.Contains(r.outputs(), e.ssh.HostKeys["rsa"].Fingerprint()) {
				t.Errorf("the message shows neither host key's fingerprint:\n%s", r.outputs())
			}
		})
	})
	t.Run("missing_known_hosts", func(t *testing.T) {
		e.writeConfig(withLine(filepath.Join(dir, "nope"), keyFile))
		e.noDatabaseConnection(func() {
			r := e.run(nil, "plan")
			r.expect(t, exitError)
			r.mustShow(t, "cannot read the known_hosts file", "ssh-keyscan")
		})
	})
	known := sshtest.WriteKnownHosts(t, dir, "good", e.ssh.KnownHostsLine(nil))
	t.Run("wrong_client_key", func(t *testing.T) {
		stranger := sshtest.NewKey(t, "ed25519").WriteFile(t, dir, "stranger", "")
		e.writeConfig(withLine(known, fmt.Sprintf("private_key_file = %q", stranger)))
		e.noDatabaseConnection(func() {
			r := e.run(nil, "plan")
			r.expect(t, exitError)
			r.mustShow(t, "refused the key", fmt.Sprintf("%q", e.ssh.User), "authorized_keys")
		})
	})
	t.Run("encrypted_key_without_passphrase", func(t *testing.T) {
		enc := e.key.WriteFile(t, dir, "encrypted", "s3cret passphrase")
		e.writeConfig(withLine(known, fmt.Sprintf("private_key_file = %q", enc)))
		e.noDatabaseConnection(func() {
			r := e.run(nil, "plan")
			r.expect(t, exitError)
			r.mustShow(t, "encrypted", "private_key_passphrase")
		})
	})
	t.Run("encrypted_key_wrong_passphrase", func(t *testing.T) {
		enc := e.key.WriteFile(t, dir, "encrypted2", "s3cret passphrase")
		e.writeConfig(withLine(known, fmt.Sprintf("private_key_file = %q\n    private_key_passphrase = env(\"SSH_PASS\")", enc)))
		e.noDatabaseConnection(func() {
			r := e.run([]string{"SSH_PASS=not the passphrase"}, "plan")
			r.expect(t, exitError)
			r.mustShow(t, "passphrase is wrong")
			if strings.Contains(r.outputs(), "not the passphrase") {
				t.Error("the passphrase is printed")
			}
		})
	})
	t.Run("unreachable_bastion", func(t *testing.T) {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		e.writeConfig(fmt.Sprintf(`host = "127.0.0.1"
    port = %d
    user = "x"
    host_key = %q
    %s`, port, ed.AuthorizedKey(), keyFile))
		e.noDatabaseConnection(func() {
			r := e.run(nil, "plan")
			r.expect(t, exitError)
			r.mustShow(t, fmt.Sprintf("cannot reach the SSH bastion 127.0.0.1:%d", port))
		})
	})
	if n := e.ssh.Logins(); n != 0 {
		t.Errorf("%d logins to the bastion although every attempt was refused", n)
	}
}

// TestTunnelAuthentication: ssh-agent, an empty agent, and an encrypted key
// with its passphrase, inline and from a file.
func TestTunnelAuthentication(t *testing.T) {
	e := newTunnelEnv(t)
	base := fmt.Sprintf(`host = %q
    port = %d
    user = %q
    known_hosts_file = %q`, e.ssh.Host, e.ssh.Port, e.ssh.User, e.knownHosts)

	t.Run("agent", func(t *testing.T) {
		a := sshtest.StartAgent(t)
		a.Add(t, e.keyFile)
		e.writeConfig(base)
		r := e.run([]string{a.Env()}, "plan")
		r.expect(t, exitOK)
		r.mustShow(t, "2 to insert")
	})
	t.Run("agent_without_keys", func(t *testing.T) {
		a := sshtest.StartAgent(t)
		e.writeConfig(base)
		e.noDatabaseConnection(func() {
			r := e.run([]string{a.Env()}, "plan")
			r.expect(t, exitError)
			r.mustShow(t, "ssh-agent has no keys", "ssh-add")
		})
	})
	t.Run("no_agent_no_key", func(t *testing.T) {
		e.writeConfig(base)
		e.noDatabaseConnection(func() {
			r := e.run(nil, "plan")
			r.expect(t, exitError)
			r.mustShow(t, "SSH_AUTH_SOCK is not set", "private_key_file")
		})
	})
	const pass = "a passphrase with spaces"
	t.Run("encrypted_key_file_with_passphrase", func(t *testing.T) {
		enc := e.key.WriteFile(t, t.TempDir(), "enc", pass)
		e.writeConfig(base + fmt.Sprintf("\n    private_key_file = %q\n    private_key_passphrase = env(\"SSH_PASS\")", enc))
		r := e.run([]string{"SSH_PASS=" + pass}, "plan")
		r.expect(t, exitOK)
		r.mustShow(t, "2 to insert")
	})
	t.Run("encrypted_inline_key_with_passphrase", func(t *testing.T) {
		e.writeConfig(base + "\n    private_key = env(\"SSH_KEY\")\n    private_key_passphrase = env(\"SSH_PASS\")")
		r := e.run([]string{"SSH_KEY=" + string(e.key.PEM(t, pass)), "SSH_PASS=" + pass}, "plan")
		r.expect(t, exitOK)
		r.mustShow(t, "2 to insert")
	})
}

// waitFor polls cond until it is true or the timeout passes.
func pollUntil(t *testing.T, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(25 * time.Millisecond)
	}
}

// TestTunnelBastionDiesMidApply: the bastion dies (SIGKILL) or hangs
// (SIGSTOP) while apply's INSERT runs; apply fails within the keepalive
// bound, names the sync, and the table is unchanged.
func TestTunnelBastionDiesMidApply(t *testing.T) {
	keepalives := sshtunnel.Options{KeepaliveInterval: 500 * time.Millisecond, KeepaliveMaxMissed: 3}
	bound := keepalives.KeepaliveInterval * time.Duration(keepalives.KeepaliveMaxMissed+1)
	const slack = 3 * time.Second

	for _, how := range []string{"killed", "hung"} {
		t.Run(how, func(t *testing.T) {
			e := newTunnelEnv(t)
			e.writeConfig(e.defaultTunnel())
			// The first inserted row sleeps in a trigger: apply is then
			// mid-transaction, waiting for the server.
			e.exec("dst", `CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS
				$$ BEGIN PERFORM pg_sleep(20); RETURN NEW; END $$;
				CREATE TRIGGER slow BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION slow()`)
			before := e.dstRows()
			admin := e.admin("dst")
			t.Cleanup(func() {
				_, _ = admin.Exec(context.Background(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'rowform/%'")
			})

			done := make(chan result, 1)
			go func() { done <- e.runWith(keepalives, "apply", "-auto-approve") }()
			pollUntil(t, "apply's INSERT to block in the trigger", 60*time.Second, func() bool {
				var n int
				_ = admin.QueryRow(context.Background(),
					"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rowform/users' AND wait_event = 'PgSleep'").Scan(&n)
				return n > 0
			})
			start := time.Now()
			if how == "killed" {
				e.ssh.Kill()
			} else {
				e.ssh.Freeze()
				defer e.ssh.Thaw()
			}
			var r result
			select {
			case r = <-done:
			case <-time.After(bound + slack + 20*time.Second):
				t.Fatalf("apply still runs %s after the bastion %s", time.Since(start), how)
			}
			took := time.Since(start)
			t.Logf("apply failed %s after the bastion %s (keepalive bound %s):\n%s%s", took, how, bound, r.stdout, r.stderr)
			r.expect(t, exitError)
			if took > bound+slack {
				t.Errorf("apply took %s to fail after the bastion %s; the keepalive bound is %s", took, how, bound)
			}
			r.mustShow(t, `sync "users" failed`)
			// The failure should say that the SSH bastion is the cause
			// (the tunnel knows: "the SSH bastion ... closed the
			// connection" / "stopped answering keepalives").
			var failure string
			for _, line := range strings.Split(r.outputs(), "\n") {
				if strings.Contains(line, `sync "users" failed`) {
					failure = line
				}
			}
			if !strings.Contains(failure, "SSH") {
				t.Errorf("the failure does not say that the SSH bastion %s went away, so the user cannot tell what to fix: %s", e.ssh.Addr(), failure)
			}
			if got := e.dstRows(); got != before {
				t.Errorf("destination changed: %s, was %s", got, before)
			}
			// Also after the server has ended the orphaned transaction.
			_, _ = admin.Exec(context.Background(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'rowform/users'")
			if got := e.dstRows(); got != before {
				t.Errorf("destination changed: %s, was %s", got, before)
			}
		})
	}
}

// TestTunnelBastionDiesMidPlan: the bastion dies or hangs while plan reads
// the source; plan fails within the keepalive bound with connection_failed
// (not source_query_failed: the query did not fail, the link did), saying
// that the SSH bastion went away.
func TestTunnelBastionDiesMidPlan(t *testing.T) {
	keepalives := sshtunnel.Options{KeepaliveInterval: 500 * time.Millisecond, KeepaliveMaxMissed: 3}
	bound := keepalives.KeepaliveInterval * time.Duration(keepalives.KeepaliveMaxMissed+1)
	const slack = 3 * time.Second
	for _, how := range []string{"killed", "hung"} {
		t.Run(how, func(t *testing.T) {
			e := newTunnelEnv(t)
			e.writeConfig(e.defaultTunnel())
			e.exec("src", `ALTER TABLE users RENAME TO users_t;
				CREATE VIEW users AS SELECT id, email FROM users_t, pg_sleep(20) AS s`)
			admin := e.admin("src")
			t.Cleanup(func() {
				_, _ = admin.Exec(context.Background(), "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name LIKE 'rowform/%'")
			})
			done := make(chan result, 1)
			go func() { done <- e.runWith(keepalives, "plan", "-json") }()
			pollUntil(t, "plan's source query to sleep", 60*time.Second, func() bool {
				var n int
				_ = admin.QueryRow(context.Background(),
					"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rowform/users' AND wait_event = 'PgSleep'").Scan(&n)
				return n > 0
			})
			start := time.Now()
			if how == "killed" {
				e.ssh.Kill()
			} else {
				e.ssh.Freeze()
				defer e.ssh.Thaw()
			}
			var r result
			select {
			case r = <-done:
			case <-time.After(bound + slack + 20*time.Second):
				t.Fatalf("plan still runs %s after the bastion %s", time.Since(start), how)
			}
			if took := time.Since(start); took > bound+slack {
				t.Errorf("plan took %s to fail after the bastion %s; the keepalive bound is %s", took, how, bound)
			}
			r.expect(t, exitError)
			var p struct {
				Syncs []struct {
					Findings []struct{ Severity, Code, Summary string }
				}
			}
			if err := json.Unmarshal([]byte(r.stdout), &p); err != nil || len(p.Syncs) != 1 {
				t.Fatalf("plan -json: %v\n%s%s", err, r.stdout, r.stderr)
			}
			var codes []string
			for _, f := range p.Syncs[0].Findings {
				if f.Severity != "error" {
					continue
				}
				codes = append(codes, f.Code)
				t.Logf("%s %s: %s", f.Severity, f.Code, f.Summary)
				if f.Code == "connection_failed" && !strings.Contains(f.Summary, "SSH bastion") {
					t.Errorf("the finding does not say that the SSH bastion went away: %s", f.Summary)
				}
			}
			if !slices.Equal(codes, []string{"connection_failed"}) {
				t.Errorf("errors %q, want one connection_failed:\n%s", codes, r.stdout)
			}
		})
	}
}

// TestTunnelApplyInterrupted: Ctrl-C (a cancelled context) during apply
// through a tunnel stops it promptly and leaves the table as it was, as
// it does without a tunnel (the README's Safety).
func TestTunnelApplyInterrupted(t *testing.T) {
	e := newTunnelEnv(t)
	e.writeConfig(e.defaultTunnel())
	e.exec("dst", `CREATE FUNCTION slow() RETURNS trigger LANGUAGE plpgsql AS
		$$ BEGIN PERFORM pg_sleep(15); RETURN NEW; END $$;
		CREATE TRIGGER slow BEFORE INSERT ON users FOR EACH ROW EXECUTE FUNCTION slow()`)
	before := e.dstRows()
	admin := e.admin("dst")
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan result, 1)
	go func() {
		var stdout, stderr strings.Builder
		inv := &invocation{stdin: strings.NewReader(""), stdout: &stdout, stderr: &stderr, environ: e.environ}
		code := inv.run(ctx, []string{"-chdir=" + e.dir, "apply", "-auto-approve"})
		done <- result{code: code, stdout: stdout.String(), stderr: stderr.String()}
	}()
	pollUntil(t, "apply's INSERT to block in the trigger", 60*time.Second, func() bool {
		var n int
		_ = admin.QueryRow(context.Background(),
			"SELECT count(*) FROM pg_stat_activity WHERE application_name = 'rowform/users' AND wait_event = 'PgSleep'").Scan(&n)
		return n > 0
	})
	start := time.Now()
	cancel()
	r := <-done
	took := time.Since(start)
	t.Logf("apply returned %s after the interrupt:\n%s%s", took, r.stdout, r.stderr)
	r.expect(t, exitError)
	if took > 5*time.Second {
		t.Errorf("apply took %s to stop after the interrupt (the trigger sleeps 15s): the cancellation did not reach the query through the tunnel", took)
	}
	r.mustShow(t, "interrupted")
	if got := e.dstRows(); got != before {
		t.Errorf("destination changed: %s, was %s", got, before)
	}
}

// canaryEnv is a configuration in which one canary string is the password
// of every server, given through each input path: env() for the
// destination, -var, ROWFORM_VAR_ and a -var-file for three sources; it is
// also the passphrase of the bastion key, which is given inline through
// env(). Every server is reached through the bastion.
type canaryEnv struct {
	*tunnelEnv
	canary  string
	keyPEM  string
	secrets []string // the canary and the lines of the private key
	env     []string
	inputs  []string // -var and -var-file arguments
}

func newCanaryEnv(t *testing.T) *canaryEnv {
	t.Helper()
	e := &canaryEnv{tunnelEnv: newTunnelEnv(t)}
	e.canary = "Cnry" + canaryHex(t, 8) + "Qz"
	e.exec("", fmt.Sprintf("CREATE ROLE canary_role LOGIN SUPERUSER PASSWORD '%s'", e.canary))
	e.exec("dst", `CREATE TABLE users_cli (id int PRIMARY KEY, email text);
		CREATE TABLE users_envvar (id int PRIMARY KEY, email text);
		CREATE TABLE users_file (id int PRIMARY KEY, email text)`)
	e.keyPEM = string(e.key.PEM(t, e.canary))
	e.secrets = []string{e.canary}
	for _, line := range strings.Split(e.keyPEM, "\n") {
		if len(line) >= 40 && !strings.HasPrefix(line, "-----") {
			e.secrets = append(e.secrets, line)
		}
	}
	if len(e.secrets) < 3 {
		t.Fatalf("unexpected key PEM:\n%s", e.keyPEM)
	}
	e.env = []string{"CANARY_PW=" + e.canary, "ROWFORM_VAR_pw_envvar=" + e.canary, "SSH_KEY=" + e.keyPEM, "SSH_PASS=" + e.canary}
	e.inputs = []string{"-var", "pw_cli=" + e.canary, "-var-file=secrets.vars.hcl"}
	if err := os.WriteFile(filepath.Join(e.dir, "secrets.vars.hcl"), []byte(fmt.Sprintf("pw_file = %q\n", e.canary)), 0o600); err != nil {
		t.Fatal(err)
	}
	e.writeCanaryConfig("SELECT id, email FROM users")
	return e
}

func canaryHex(t *testing.T, n int) string {
	t.Helper()
	b := make([]byte, n)
	f, err := os.Open("/dev/urandom")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.Read(b); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%x", b)
}

// writeCanaryConfig writes main.hcl with query as the query of every sync.
func (e *canaryEnv) writeCanaryConfig(query string) {
	e.t.Helper()
	tunnel := fmt.Sprintf(`ssh_tunnel {
    host                   = %q
    port                   = %d
    user                   = %q
    private_key            = env("SSH_KEY")
    private_key_passphrase = env("SSH_PASS")
    known_hosts_file       = %q
  }`, e.ssh.Host, e.ssh.Port, e.ssh.User, e.knownHosts)
	server := func(kind, name, db, password string) string {
		return fmt.Sprintf(`
%s "postgres" %q {
  host     = %q
  port     = %d
  database = %q
  user     = "canary_role"
  password = %s
  sslmode  = "disable"
  %s
}
`, kind, name, bastionOnlyHost, e.pg.Port, db, password, tunnel)
	}
	sync := func(name, src string) string {
		return fmt.Sprintf(`
sync %q {
  source      = source.postgres.%s
  query       = %q
  destination = destination.postgres.dst
  table       = %q
  behavior    = "mirror"
  key         = "id"
}
`, name, src, query, "users_"+strings.TrimPrefix(name, "from_"))
	}
	hcl := `
variable "pw_cli" {
  type      = string
  sensitive = true
}

variable "pw_envvar" {
  type      = string
  sensitive = true
}

variable "pw_file" {
  type      = string
  sensitive = true
}
` + server("destination", "dst", "dst", `env("CANARY_PW")`) +
		server("source", "src_cli", "src", "var.pw_cli") +
		server("source", "src_envvar", "src", "var.pw_envvar") +
		server("source", "src_file", "src", "var.pw_file") +
		sync("from_cli", "src_cli") + sync("from_envvar", "src_envvar") + sync("from_file", "src_file")
	if err := os.WriteFile(filepath.Join(e.dir, "main.hcl"), []byte(hcl), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// leaks reports every secret found in text.
func (e *canaryEnv) leaks(what, text string, extra ...string) {
	e.t.Helper()
	for _, s := range append(append([]string{}, e.secrets...), extra...) {
		if i := strings.Index(text, s); i >= 0 {
			lo, hi := max(0, i-150), min(len(text), i+len(s)+50)
			e.t.Errorf("%s: a secret appears in the output:\n…%s…", what, text[lo:hi])
		}
	}
}

// run runs rowform with the canary inputs (environment, plus the -var and
// -var-file arguments for plan and apply), checks the exit code and
// searches stdout and stderr for every secret.
func (e *canaryEnv) runChecked(code int, env []string, args ...string) result {
	e.t.Helper()
	full := append([]string{}, args...)
	if len(args) > 0 && (args[0] == "plan" || args[0] == "apply") {
		// Options before a plan file argument.
		n := 1
		for n < len(args) && strings.HasPrefix(args[n], "-") {
			n++
		}
		full = append(append(append([]string{args[0]}, args[1:n]...), e.inputs...), args[n:]...)
	}
	r := e.run(append(append([]string{}, e.env...), env...), full...)
	what := "rowform " + strings.Join(args, " ")
	e.leaks(what+" (stdout)", r.stdout)
	e.leaks(what+" (stderr)", r.stderr)
	if r.code != code {
		e.t.Errorf("%s: exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", what, r.code, code, r.stdout, r.stderr)
	}
	return r
}

// TestSecretsNeverAppear searches one canary secret, given through every
// input path, in everything rowform prints or writes, in successful and
// failing runs.
func TestSecretsNeverAppear(t *testing.T) {
	e := newCanaryEnv(t)

	t.Run("successful_runs", func(t *testing.T) {
		e.t = t
		e.runChecked(exitOK, nil, "validate")
		e.runChecked(exitOK, nil, "validate", "-json")
		r := e.runChecked(exitOK, nil, "plan", "-show-rows=5")
		// The secrets did their job: every server was reached.
		r.mustShow(t, "Plan: 9 to insert")
		e.runChecked(exitOK, nil, "plan", "-json", "-show-rows=5")
		e.runChecked(exitOK, nil, "plan", "-format=markdown", "-show-rows=5")
		e.runChecked(exitOK, nil, "plan", "-no-color", "-out=canary.plan")
		e.runChecked(exitOK, nil, "plan", "-json", "-out=canary2.plan")
		for _, f := range []string{"canary.plan", "canary2.plan"} {
			b, err := os.ReadFile(filepath.Join(e.dir, f))
			if err != nil {
				t.Fatal(err)
			}
			e.leaks("plan file "+f, string(b))
		}
		e.runChecked(exitOK, nil, "show", "canary.plan")
		e.runChecked(exitOK, nil, "show", "-json", "canary.plan")
		e.runChecked(exitOK, nil, "show", "-format=markdown", "canary.plan")
		r = e.runChecked(exitOK, nil, "apply", "canary.plan")
		r.mustShow(t, "Apply complete: 9 inserted")
		e.exec("src", "UPDATE users SET email = 'changed@example.com' WHERE id = 3")
		e.runChecked(exitOK, nil, "apply", "-auto-approve", "-show-rows=5")
		e.exec("src", "DELETE FROM users WHERE id = 3")
		e.runChecked(exitOK, nil, "apply", "-json", "-auto-approve")
		e.runChecked(exitOK, nil, "plan", "-detailed-exitcode")
	})

	t.Run("wrong_password", func(t *testing.T) {
		e.t = t
		wrong := "Cnry" + canaryHex(t, 8) + "Wr"
		env := []string{"ROWFORM_VAR_pw_envvar=" + wrong}
		for _, args := range [][]string{{"plan"}, {"plan", "-json"}, {"plan", "-format=markdown"}, {"apply", "-auto-approve"}, {"apply", "-json", "-auto-approve"}} {
			r := e.runChecked(exitError, env, args...)
			e.leaks("rowform "+strings.Join(args, " "), r.outputs(), wrong)
			if !strings.Contains(r.outputs(), "password authentication failed") {
				// apply -json prints no plan: its document must still say why.
				t.Errorf("rowform %s does not say why it failed (password authentication failed for postgres.src_envvar):\n%s%s",
					strings.Join(args, " "), r.stdout, r.stderr)
			}
		}
		// A saved plan applied with a wrong password.
		e.exec("src", "UPDATE users SET email = 'planned@example.com' WHERE id = 2")
		defer e.exec("src", "UPDATE users SET email = 'b@example.com' WHERE id = 2")
		e.runChecked(exitOK, nil, "plan", "-out=ok.plan")
		r := e.runChecked(exitError, []string{"CANARY_PW=" + wrong}, "apply", "ok.plan")
		e.leaks("apply ok.plan with a wrong password", r.outputs(), wrong)
		r.mustShow(t, "password authentication failed")
	})

	t.Run("wrong_passphrase", func(t *testing.T) {
		e.t = t
		wrong := "Cnry" + canaryHex(t, 8) + "Ph"
		r := e.runChecked(exitError, []string{"SSH_PASS=" + wrong}, "plan")
		e.leaks("plan with a wrong passphrase", r.outputs(), wrong)
		r.mustShow(t, "passphrase is wrong")
	})

	t.Run("bad_sql", func(t *testing.T) {
		e.t = t
		e.writeCanaryConfig("SELEC id, email FROM users")
		defer e.writeCanaryConfig("SELECT id, email FROM users")
		r := e.runChecked(exitError, nil, "plan")
		r.mustShow(t, "source_query_failed", "syntax error")
		e.runChecked(exitError, nil, "plan", "-json")
		e.runChecked(exitError, nil, "apply", "-auto-approve")
	})

	t.Run("apply_write_fails", func(t *testing.T) {
		e.t = t
		e.exec("src", "UPDATE users SET email = 'bad' WHERE id = 1")
		e.exec("dst", "ALTER TABLE users_cli ADD CONSTRAINT email_has_at CHECK (email LIKE '%@%')")
		defer e.exec("src", "UPDATE users SET email = 'a@example.com' WHERE id = 1")
		r := e.runChecked(exitError, nil, "apply", "-auto-approve")
		r.mustShow(t, "email_has_at")
		e.exec("dst", "ALTER TABLE users_cli DROP CONSTRAINT email_has_at")
	})

	t.Run("type_errors_in_expressions_using_the_secret", func(t *testing.T) {
		e.t = t
		broken := filepath.Join(e.dir, "broken.hcl")
		if err := os.WriteFile(broken, []byte(`
locals {
  derived = upper(var.pw_cli)
}

destination "postgres" "broken" {
  host            = "db.example.com"
  port            = env("CANARY_PW")
  database        = "x"
  user            = "x"
  password        = var.pw_cli + 1
  max_connections = var.pw_file
  sslmode         = var.pw_envvar
}

destination "postgres" "broken2" {
  host            = "db.example.com"
  database        = "x"
  user            = "x"
  password        = format("%d", var.pw_cli)
  max_connections = tonumber(local.derived)
  sslmode         = local.derived
}

destination "postgres" "broken3" {
  host     = "db.example.com"
  database = "x"
  user     = "x"
  password = [var.pw_file, env("CANARY_PW")]
  port     = var.pw_cli ? 1 : 2
  sslmode  = lower(local.derived)
}
`), 0o644); err != nil {
			t.Fatal(err)
		}
		defer os.Remove(broken)
		// validate has no -var inputs: only the env() and ROWFORM_VAR_
		// expressions are evaluated there.
		r := e.runChecked(exitError, nil, "validate")
		r.mustShow(t, "broken.hcl:8", "broken.hcl:13")
		r = e.runChecked(exitError, nil, "plan")
		if n := strings.Count(r.stderr, "Error: "); n < 8 {
			t.Errorf("plan reports %d errors, want one per broken attribute:\n%s", n, r.stderr)
		}
		e.runChecked(exitError, nil, "validate", "-json")
		e.runChecked(exitError, nil, "plan")
		e.runChecked(exitError, nil, "plan", "-json")
		e.runChecked(exitError, nil, "apply", "-auto-approve")
	})
}

// A sensitive value used where a secret does not belong (a query, a table
// name) must not come back in a server's error message or a finding.
func TestSecretsInNonSecretAttributes(t *testing.T) {
	e := newCanaryEnv(t)
	t.Run("cast_error_in_query", func(t *testing.T) {
		e.t = t
		e.writeCanaryConfig("SELECT id, email FROM users WHERE id > '${var.pw_cli}'::int")
		r := e.runChecked(exitError, nil, "plan")
		r.mustShow(t, "source_query_failed")
		e.runChecked(exitError, nil, "plan", "-json")
	})
	t.Run("unknown_column_in_query", func(t *testing.T) {
		e.t = t
		e.writeCanaryConfig("SELECT id, email FROM users WHERE id = ${var.pw_cli}")
		// The server folds the unquoted name to lower case.
		r := e.runChecked(exitError, nil, "plan")
		e.leaks("plan", r.outputs(), strings.ToLower(e.canary))
	})
	// A piece of a secret that a function cut from it, which the server
	// echoes alone, and the same upper-cased.
	t.Run("derived_pieces_in_query", func(t *testing.T) {
		e.t = t
		for _, expr := range []string{"substr(var.pw_cli, 0, 9)", "upper(var.pw_cli)", "trimprefix(var.pw_cli, substr(var.pw_cli, 0, 4))"} {
			e.writeCanaryConfig("SELECT id, email FROM users WHERE id > '${" + expr + "}'::int")
			r := e.runChecked(exitError, nil, "plan", "-json")
			e.leaks("plan -json of "+expr, r.outputs(), e.canary[:9], strings.ToUpper(e.canary), e.canary[4:])
			if !strings.Contains(r.stdout, "invalid input syntax for type integer") {
				t.Errorf("%s: the server's message is not in the plan:\n%s", expr, r.stdout)
			}
		}
	})
	// A password is a secret even when the variable that carries it was not
	// declared sensitive: it must not be saved in a plan file.
	t.Run("password_from_variable_not_declared_sensitive", func(t *testing.T) {
		e.t = t
		e.writeCanaryConfig("SELECT id, email FROM users")
		main := filepath.Join(e.dir, "main.hcl")
		b, err := os.ReadFile(main)
		if err != nil {
			t.Fatal(err)
		}
		hcl := strings.Replace(string(b), "variable \"pw_file\" {\n  type      = string\n  sensitive = true\n}", "variable \"pw_file\" {\n  type = string\n}", 1)
		if hcl == string(b) {
			t.Fatal("could not rewrite the variable")
		}
		if err := os.WriteFile(main, []byte(hcl), 0o644); err != nil {
			t.Fatal(err)
		}
		r := e.runChecked(exitOK, nil, "plan", "-out=plain.plan")
		r.mustShow(t, "9 to insert")
		pf, err := os.ReadFile(filepath.Join(e.dir, "plain.plan"))
		if err != nil {
			t.Fatal(err)
		}
		e.leaks("plan file", string(pf))
	})
}

// TestGrantsScriptPerBehavior runs the grants script of
// docs/connections.md for each behavior against a database where PUBLIC
// has no privileges: plan and apply work with exactly those grants, and
// plan (not apply) reports each one that is taken away.
func TestGrantsScriptPerBehavior(t *testing.T) {
	docs := readFile(t, filepath.Join(moduleRoot(t), "docs", "connections.md"))
	common := []string{
		"GRANT CONNECT ON DATABASE crm TO rowform;",
		"GRANT TEMPORARY ON DATABASE crm TO rowform;",
		"GRANT USAGE ON SCHEMA app TO rowform;",
	}
	tablePrivs := map[string][]string{
		"update_or_create": {"SELECT", "INSERT", "UPDATE"},
		"update_only":      {"SELECT", "UPDATE"},
		"append":           {"SELECT", "INSERT"},
		"mirror":           {"SELECT", "INSERT", "UPDATE", "DELETE"},
	}
	const seqGrant = "GRANT USAGE ON SEQUENCE app.users_row_id_seq TO rowform;"
	const historySchema = "CREATE SCHEMA IF NOT EXISTS rowform AUTHORIZATION rowform;"
	const columnGrant = "GRANT SELECT (id, email), INSERT (id, email), UPDATE (email) ON app.users TO rowform;"
	tableGrant := func(b string) string {
		return fmt.Sprintf("GRANT %s ON app.users TO rowform;", strings.Join(tablePrivs[b], ", "))
	}
	for _, stmt := range append(append([]string{seqGrant, columnGrant, historySchema}, common...),
		tableGrant("update_or_create"), tableGrant("update_only"), tableGrant("append"), tableGrant("mirror")) {
		if !strings.Contains(docs, stmt) {
			t.Errorf("docs/connections.md does not have the statement %q", stmt)
		}
	}

	c := sshtest.StartPlainCluster(t)
	exec := func(db, sql string) {
		t.Helper()
		conn, err := pgx.Connect(context.Background(), c.ConnString(db))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(context.Background(), sql); err != nil {
			t.Fatalf("%s: %v", sql, err)
		}
	}
	exec("", "CREATE DATABASE crm")
	exec("crm", `REVOKE ALL ON DATABASE crm FROM PUBLIC;
		CREATE SCHEMA app;
		CREATE TABLE app.users (row_id bigserial, seq_no int GENERATED BY DEFAULT AS IDENTITY, id int PRIMARY KEY, email text)`)
	rows := func() string {
		conn, err := pgx.Connect(context.Background(), c.ConnString("crm"))
		if err != nil {
			t.Fatal(err)
		}
		defer conn.Close(context.Background())
		var s string
		if err := conn.QueryRow(context.Background(), "SELECT string_agg(id || '=' || email, ',' ORDER BY id) FROM app.users").Scan(&s); err != nil {
			t.Fatal(err)
		}
		return s
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "users.csv"), []byte("id,email\n1,a@x\n2,b@x\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	const rolePassword = "pw-of-the-rowform-role"
	env := []string{"RF_PW=" + rolePassword}
	writeConfig := func(behavior string) {
		hcl := fmt.Sprintf(`
destination "postgres" "crm" {
  host     = "127.0.0.1"
  port     = %d
  database = "crm"
  user     = "rowform"
  password = env("RF_PW")
  sslmode  = "disable"
}

source "csv" "users" {
  path = "users.csv"
}

sync "users" {
  source      = source.csv.users
  destination = destination.postgres.crm
  table       = "app.users"
  behavior    = %q
  key         = "id"
}
`, c.Port, behavior)
		if err := os.WriteFile(filepath.Join(dir, "main.hcl"), []byte(hcl), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	run := func(args ...string) result {
		return runCLIWith(t, env, "", append([]string{"-chdir=" + dir}, args...)...)
	}
	after := map[string]string{
		"update_or_create": "1=a@x,2=b@x,9=gone",
		"update_only":      "1=a@x,9=gone",
		"append":           "1=old,2=b@x,9=gone",
		"mirror":           "1=a@x,2=b@x",
	}
	type grant struct{ give, what string }
	for _, b := range []string{"update_or_create", "update_only", "append", "mirror", "column_level"} {
		t.Run(b, func(t *testing.T) {
			behavior := b
			var grants []grant
			for _, g := range common {
				grants = append(grants, grant{g, strings.Fields(g)[1]})
			}
			if b == "column_level" {
				behavior = "update_or_create"
				grants = append(grants, grant{columnGrant, "column grants"})
			} else {
				for _, p := range tablePrivs[b] {
					grants = append(grants, grant{fmt.Sprintf("GRANT %s ON app.users TO rowform;", p), p})
				}
			}
			inserts := behavior != "update_only"
			if inserts {
				grants = append(grants, grant{seqGrant, "USAGE on the sequence"})
			}
			grants = append(grants, grant{historySchema, "history"})
			exec("crm", "TRUNCATE app.users; INSERT INTO app.users (id, email) VALUES (1, 'old'), (9, 'gone')")
			exec("crm", fmt.Sprintf("CREATE ROLE rowform LOGIN PASSWORD '%s'", rolePassword))
			defer exec("crm", "DROP OWNED BY rowform; DROP ROLE rowform")
			for _, g := range grants {
				exec("crm", g.give)
			}
			writeConfig(behavior)

			// Each grant taken away is reported by plan.
			for _, g := range grants {
				if g.what == "column grants" {
					continue
				}
				revoke := strings.Replace(strings.Replace(g.give, "GRANT ", "REVOKE ", 1), " TO rowform", " FROM rowform", 1)
				if g.what == "history" {
					revoke = "DROP SCHEMA rowform CASCADE"
				}
				exec("crm", revoke)
				r := run("plan")
				if r.code != exitError || !(strings.Contains(r.stdout, "missing_privilege") || strings.Contains(r.stdout, "permission denied for database")) {
					t.Errorf("without %q, plan does not report the missing grant (exit %d); apply would fail instead:\n%s%s", g.give, r.code, r.stdout, r.stderr)
				}
				exec("crm", g.give)
			}

			r := run("plan")
			r.expect(t, exitOK)
			if strings.Contains(r.stdout, "missing_privilege") {
				t.Fatalf("the documented grants are not enough:\n%s", r.stdout)
			}
			r = run("apply", "-auto-approve")
			r.expect(t, exitOK)
			if got := rows(); got != after[behavior] {
				t.Errorf("after apply: %s, want %s", got, after[behavior])
			}
		})
	}
}
