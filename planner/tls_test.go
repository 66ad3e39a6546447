package planner_test

// TLS as plan sees it (the README's Safety): sslmode verify-full with sslrootcert
// (relative to the configuration directory), require, a server without
// TLS under require and under the default for a remote host, and the
// insecure_connection warning for an unencrypted connection to a host that
// is not loopback — reached through a bastion under a name only the
// bastion resolves, and, when this machine has one, over its own
// non-loopback address.

import (
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/pgcluster"
	"github.com/rowform/rowform/internal/sshtest"
	"github.com/rowform/rowform/internal/synctest"
	"github.com/rowform/rowform/planner"
)

// tlsEnv is a configuration directory with a csv source of three users
// and a destination table public.users (id 1 present) on cluster c.
type tlsEnv struct {
	t   *testing.T
	c   *pgcluster.Cluster
	dir string
}

func newTLSEnv(t *testing.T, c *pgcluster.Cluster) *tlsEnv {
	t.Helper()
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.ConnString(""))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `CREATE TABLE IF NOT EXISTS users (id int PRIMARY KEY, email text);
		INSERT INTO users VALUES (1, 'a@example.com') ON CONFLICT DO NOTHING`); err != nil {
		t.Fatal(err)
	}
	e := &tlsEnv{t: t, c: c, dir: t.TempDir()}
	if err := os.WriteFile(filepath.Join(e.dir, "users.csv"), []byte("id,email\n1,a@example.com\n2,b@example.com\n3,c@example.com\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	return e
}

// plan writes main.hcl with a destination block whose inner lines are
// attrs (host, port, database, user and password are added) and plans it.
func (e *tlsEnv) plan(host string, attrs string, environ ...string) *planner.SyncPlan {
	e.t.Helper()
	hcl := fmt.Sprintf(`
destination "postgres" "db" {
  host     = %q
  port     = %d
  database = %q
  user     = %q
  password = env("DB_PASSWORD")
%s
}

source "csv" "seed" {
  path = "users.csv"
}

sync "users" {
  source      = source.csv.seed
  destination = destination.postgres.db
  table       = "users"
  behavior    = "update_or_create"
  key         = "id"
}
`, host, e.c.Port, e.c.Database, e.c.User, attrs)
	if err := os.WriteFile(filepath.Join(e.dir, "main.hcl"), []byte(hcl), 0o644); err != nil {
		e.t.Fatal(err)
	}
	env := append([]string{"DB_PASSWORD=" + e.c.Password}, environ...)
	cfg, diags := hclconfig.Load(e.dir, hclconfig.Inputs{Environ: env})
	if diags.HasErrors() {
		e.t.Fatalf("configuration: %s\n%s", diags.Error(), hcl)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	p, err := planner.Compute(ctx, cfg, planner.Options{Environ: env})
	if err != nil {
		e.t.Fatal(err)
	}
	return p.Syncs[0]
}

func findingCodes(sp *planner.SyncPlan) []string {
	var out []string
	for _, f := range sp.Findings {
		out = append(out, string(f.Severity)+" "+string(f.Code))
	}
	return out
}

// wantPlanned checks that sp diffed (2 inserts, 1 unchanged) with exactly
// the warnings listed.
func wantPlanned(t *testing.T, sp *planner.SyncPlan, warnings ...string) {
	t.Helper()
	if !sp.Diffed || sp.HasErrors() {
		t.Fatalf("the sync did not plan:\n%s", synctest.FindingsText(sp))
	}
	if sp.Counts.Insert != 2 || sp.Counts.Unchanged != 1 {
		t.Errorf("counts = %+v", sp.Counts)
	}
	var got []string
	for _, f := range sp.Findings {
		got = append(got, string(f.Code))
	}
	if strings.Join(got, ",") != strings.Join(warnings, ",") {
		t.Errorf("findings = %v, want %v:\n%s", got, warnings, synctest.FindingsText(sp))
	}
}

func wantConnectionFailed(t *testing.T, sp *planner.SyncPlan, contains ...string) {
	t.Helper()
	if sp.Diffed || len(sp.Findings) == 0 || sp.Findings[0].Code != planner.CodeConnectionFailed {
		t.Fatalf("findings = %v, want connection_failed:\n%s", findingCodes(sp), synctest.FindingsText(sp))
	}
	for _, c := range contains {
		if !strings.Contains(sp.Findings[0].Summary, c) {
			t.Errorf("the finding does not say %q:\n%s", c, synctest.FindingsText(sp))
		}
	}
}

func TestPlanTLSServer(t *testing.T) {
	c, files := sshtest.StartTLSCluster(t)
	e := newTLSEnv(t, c)
	// sslrootcert is relative to the configuration directory.
	if err := os.MkdirAll(filepath.Join(e.dir, "certs"), 0o755); err != nil {
		t.Fatal(err)
	}
	ca, err := os.ReadFile(files.CAFile)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(e.dir, "certs", "ca.pem"), ca, 0o644); err != nil {
		t.Fatal(err)
	}

	t.Run("verify-full_with_ca", func(t *testing.T) {
		wantPlanned(t, e.plan("127.0.0.1", `sslmode = "verify-full"`+"\n"+`sslrootcert = "certs/ca.pem"`))
		wantPlanned(t, e.plan("localhost", `sslmode = "verify-full"`+"\n"+`sslrootcert = "certs/ca.pem"`))
	})
	t.Run("verify-full_without_ca", func(t *testing.T) {
		wantConnectionFailed(t, e.plan("127.0.0.1", `sslmode = "verify-full"`), "certificate")
	})
	t.Run("verify-ca_with_ca", func(t *testing.T) {
		wantPlanned(t, e.plan("127.0.0.1", `sslmode = "verify-ca"`+"\n"+`sslrootcert = "certs/ca.pem"`))
	})
	t.Run("require", func(t *testing.T) {
		wantPlanned(t, e.plan("127.0.0.1", `sslmode = "require"`))
	})
	t.Run("default_loopback_uses_tls", func(t *testing.T) {
		wantPlanned(t, e.plan("127.0.0.1", ""))
	})
	t.Run("disable_loopback_no_warning", func(t *testing.T) {
		wantPlanned(t, e.plan("127.0.0.1", `sslmode = "disable"`))
	})
}

func TestPlanServerWithoutTLS(t *testing.T) {
	c := sshtest.StartPlainCluster(t)
	e := newTLSEnv(t, c)
	t.Run("require_fails", func(t *testing.T) {
		wantConnectionFailed(t, e.plan("127.0.0.1", `sslmode = "require"`), "TLS")
	})
	t.Run("verify-full_fails", func(t *testing.T) {
		wantConnectionFailed(t, e.plan("127.0.0.1", `sslmode = "verify-full"`), "TLS")
	})
	t.Run("default_loopback_prefer", func(t *testing.T) {
		wantPlanned(t, e.plan("127.0.0.1", ""))
		wantPlanned(t, e.plan("localhost", ""))
	})
}

// bastionTo starts sshd with db.bastion.internal resolving, on the bastion
// only, to 127.0.0.1, and returns the ssh_tunnel block.
func bastionTo(t *testing.T) (*sshtest.Server, string) {
	t.Helper()
	key := sshtest.NewKey(t, "ed25519")
	srv := sshtest.Start(t, sshtest.Options{
		Hosts:          map[string]string{"db.bastion.internal": "127.0.0.1"},
		AuthorizedKeys: []string{key.AuthorizedKey()},
	})
	dir := t.TempDir()
	return srv, fmt.Sprintf(`
  ssh_tunnel {
    host             = %q
    port             = %d
    user             = %q
    private_key_file = %q
    known_hosts_file = %q
  }`, srv.Host, srv.Port, srv.User, key.WriteFile(t, dir, "id", ""),
		sshtest.WriteKnownHosts(t, dir, "known_hosts", srv.KnownHostsLine(nil)))
}

// A database host that is not loopback, reached without TLS, gets the
// insecure_connection warning (the README's Safety); the default for such a host is
// require, which a server without TLS fails.
func TestInsecureConnectionWarningThroughBastion(t *testing.T) {
	plain := sshtest.StartPlainCluster(t)
	e := newTLSEnv(t, plain)
	srv, tunnel := bastionTo(t)
	t.Run("disable", func(t *testing.T) {
		sp := e.plan("db.bastion.internal", `sslmode = "disable"`+tunnel)
		wantPlanned(t, sp, "insecure_connection")
		f := sp.Findings[0]
		if f.Severity != planner.SeverityWarning || !strings.Contains(f.Summary, "db.bastion.internal") || !strings.Contains(f.Summary, "not encrypted") {
			t.Errorf("finding: %+v", f)
		}
		if !strings.Contains(f.Detail, "verify-full") || !strings.Contains(f.Detail, `"disable"`) {
			t.Errorf("the detail does not say what to do: %s", f.Detail)
		}
	})
	t.Run("prefer_without_server_tls", func(t *testing.T) {
		wantPlanned(t, e.plan("db.bastion.internal", `sslmode = "prefer"`+tunnel), "insecure_connection")
	})
	t.Run("default_is_require", func(t *testing.T) {
		wantConnectionFailed(t, e.plan("db.bastion.internal", tunnel), "TLS")
	})
	if fw := srv.Forwards(); len(fw) == 0 || fw[0].Host != "db.bastion.internal" || fw[0].Port != plain.Port {
		t.Errorf("sshd forwards = %+v", fw)
	}

	c, files := sshtest.StartTLSCluster(t, "db.bastion.internal")
	e2 := newTLSEnv(t, c)
	if err := os.WriteFile(filepath.Join(e2.dir, "ca.pem"), mustRead(t, files.CAFile), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Run("tls_server_default", func(t *testing.T) {
		wantPlanned(t, e2.plan("db.bastion.internal", tunnel))
	})
	t.Run("tls_server_prefer", func(t *testing.T) {
		wantPlanned(t, e2.plan("db.bastion.internal", `sslmode = "prefer"`+tunnel))
	})
	t.Run("tls_server_verify-full", func(t *testing.T) {
		wantPlanned(t, e2.plan("db.bastion.internal", `sslmode = "verify-full"`+"\n"+`sslrootcert = "ca.pem"`+tunnel))
	})
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// nonLoopbackIPv4 is an IPv4 address of this machine that is not loopback.
func nonLoopbackIPv4() string {
	addrs, err := net.InterfaceAddrs()
	if err != nil {
		return ""
	}
	for _, a := range addrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() && !ipn.IP.IsLinkLocalUnicast() {
			return ipn.IP.String()
		}
	}
	return ""
}

// The same rule without a bastion: the server listens on this machine's
// own non-loopback address as well.
func TestInsecureConnectionWarningDirect(t *testing.T) {
	ip := nonLoopbackIPv4()
	if ip == "" {
		t.Skip("this machine has no non-loopback IPv4 address; TestInsecureConnectionWarningThroughBastion covers the rule")
	}
	c := startListeningOn(t, ip, nil)
	e := newTLSEnv(t, c)
	wantPlanned(t, e.plan(ip, `sslmode = "disable"`), "insecure_connection")
	wantPlanned(t, e.plan(ip, `sslmode = "prefer"`), "insecure_connection")
	wantConnectionFailed(t, e.plan(ip, ""), "TLS")
	wantPlanned(t, e.plan("127.0.0.1", `sslmode = "disable"`))

	tc := startListeningOn(t, ip, []string{ip})
	e2 := newTLSEnv(t, tc)
	wantPlanned(t, e2.plan(ip, ""))
	wantPlanned(t, e2.plan(ip, `sslmode = "prefer"`))
}

// startListeningOn starts a cluster that also listens on ip and lets
// password logins from it in; with tlsHosts, TLS is on with a certificate
// for them.
func startListeningOn(t *testing.T, ip string, tlsHosts []string) *pgcluster.Cluster {
	t.Helper()
	var c *pgcluster.Cluster
	if tlsHosts != nil {
		c, _ = sshtest.StartTLSCluster(t, tlsHosts...)
	} else {
		c = sshtest.StartPlainCluster(t)
	}
	ctx := context.Background()
	conn, err := pgx.Connect(ctx, c.ConnString(""))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	var hba string
	if err := conn.QueryRow(ctx, "SHOW hba_file").Scan(&hba); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(hba, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	_, err = fmt.Fprintf(f, "host all all %s/32 scram-sha-256\n", ip)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	for _, sql := range []string{fmt.Sprintf("ALTER SYSTEM SET listen_addresses = '127.0.0.1,%s'", ip)} {
		if _, err := conn.Exec(ctx, sql); err != nil {
			t.Fatal(err)
		}
	}
	conn.Close(ctx)
	// listen_addresses needs a restart.
	rctx, cancel := context.WithTimeout(ctx, time.Minute)
	defer cancel()
	if err := c.Restart(rctx); err != nil {
		t.Fatalf("restart: %v", err)
	}
	return c
}
