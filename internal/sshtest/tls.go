package sshtest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/rowform/rowform/internal/pgcluster"
	"github.com/rowform/rowform/internal/pgtest"
)

// TLSFiles are a self-signed CA and a server certificate signed by it, as
// PEM files that the PostgreSQL server can read (when the tests run as root
// the server runs as the postgres OS user: the key is owned by it, 0600).
type TLSFiles struct {
	Dir string
	// CAFile is the CA certificate, for sslrootcert.
	CAFile string
	// CertFile and KeyFile are the server's certificate and key.
	CertFile, KeyFile string
	ca                *x509.Certificate
	caKey             *ecdsa.PrivateKey
}

// NewTLS creates a CA and a server certificate for hosts (DNS names or IP
// addresses, all put in the subject alternative names). The files are
// removed at t.Cleanup.
func NewTLS(t testing.TB, hosts ...string) *TLSFiles {
	t.Helper()
	fail := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("sshtest: TLS certificates: %v", err)
		}
	}
	dir, err := os.MkdirTemp("", "pgtls")
	fail(err)
	t.Cleanup(func() { _ = os.RemoveAll(dir) })
	fail(os.Chmod(dir, 0o755))
	f := &TLSFiles{Dir: dir, CAFile: filepath.Join(dir, "ca.crt"),
		CertFile: filepath.Join(dir, "server.crt"), KeyFile: filepath.Join(dir, "server.key")}

	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	fail(err)
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "rowform test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	fail(err)
	ca, err := x509.ParseCertificate(caDER)
	fail(err)
	f.ca, f.caKey = ca, caKey

	srvKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	fail(err)
	srvTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(2),
		Subject:      pkix.Name{CommonName: hosts[0]},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	for _, h := range hosts {
		if ip := net.ParseIP(h); ip != nil {
			srvTmpl.IPAddresses = append(srvTmpl.IPAddresses, ip)
		} else {
			srvTmpl.DNSNames = append(srvTmpl.DNSNames, h)
		}
	}
	srvDER, err := x509.CreateCertificate(rand.Reader, srvTmpl, ca, &srvKey.PublicKey, caKey)
	fail(err)
	keyDER, err := x509.MarshalPKCS8PrivateKey(srvKey)
	fail(err)

	fail(os.WriteFile(f.CAFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER}), 0o644))
	fail(os.WriteFile(f.CertFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srvDER}), 0o644))
	fail(os.WriteFile(f.KeyFile, pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}), 0o600))
	if os.Geteuid() == 0 {
		// The server runs as the postgres OS user and insists that its key
		// is owned by that user (or root with 0640 for its group).
		u, err := user.Lookup("postgres")
		fail(err)
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		for _, p := range []string{f.CAFile, f.CertFile, f.KeyFile} {
			fail(os.Chown(p, uid, gid))
		}
	}
	return f
}

// ClientCert writes a client certificate for the role user, signed by the
// CA (a server with ssl_ca_file = CAFile accepts it for cert
// authentication), and its key: an RSA key encrypted with passphrase in
// the legacy PEM form the driver decrypts, or unencrypted when passphrase
// is "".
func (f *TLSFiles) ClientCert(t testing.TB, user, passphrase string) (certFile, keyFile string) {
	t.Helper()
	fail := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatalf("sshtest: client certificate: %v", err)
		}
	}
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	fail(err)
	now := time.Now()
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(now.UnixNano()),
		Subject:      pkix.Name{CommonName: user},
		NotBefore:    now.Add(-time.Hour),
		NotAfter:     now.Add(24 * time.Hour),
		KeyUsage:     x509.KeyUsageDigitalSignature,
		ExtKeyUsage:  []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, f.ca, &key.PublicKey, f.caKey)
	fail(err)
	block := &pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}
	if passphrase != "" {
		//lint:ignore SA1019 the driver reads no other encrypted key form
		block, err = x509.EncryptPEMBlock(rand.Reader, block.Type, block.Bytes, []byte(passphrase), x509.PEMCipherAES256)
		fail(err)
	}
	certFile, keyFile = filepath.Join(f.Dir, user+".crt"), filepath.Join(f.Dir, user+".key")
	fail(os.WriteFile(certFile, pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), 0o644))
	fail(os.WriteFile(keyFile, pem.EncodeToMemory(block), 0o600))
	return certFile, keyFile
}

// ServerConf are the postgresql.conf lines that turn TLS on with these files.
func (f *TLSFiles) ServerConf() []string {
	return []string{
		"ssl = on",
		"ssl_cert_file = '" + f.CertFile + "'",
		"ssl_key_file = '" + f.KeyFile + "'",
	}
}

// StartTLSCluster starts a throwaway PostgreSQL cluster with TLS on, its
// certificate valid for 127.0.0.1 and localhost plus extraHosts, and
// log_connections on (so that tests can tell whether anything connected).
func StartTLSCluster(t testing.TB, extraHosts ...string) (*pgcluster.Cluster, *TLSFiles) {
	t.Helper()
	f := NewTLS(t, append([]string{"127.0.0.1", "localhost"}, extraHosts...)...)
	c := pgtest.Start(t, func(o *pgcluster.Options) {
		o.ExtraConf = append(f.ServerConf(), "log_connections = on")
	})
	return c, f
}

// StartPlainCluster starts a throwaway PostgreSQL cluster without TLS and
// with log_connections on.
func StartPlainCluster(t testing.TB) *pgcluster.Cluster {
	t.Helper()
	return pgtest.Start(t, func(o *pgcluster.Options) {
		o.ExtraConf = []string{"ssl = off", "log_connections = on"}
	})
}

// ConnectionsLogged counts the connections a cluster started with
// log_connections has logged so far ("connection received" lines).
func ConnectionsLogged(c *pgcluster.Cluster) int {
	return strings.Count(c.LogContents(), "connection received:")
}
