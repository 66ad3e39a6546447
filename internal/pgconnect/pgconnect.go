// Package pgconnect opens pgx connections to the servers of a configuration.
//
// It is the one place that turns an hclconfig.Server into a connection: it
// applies the TLS default of the README's Safety, sets the session settings that make
// value comparison deterministic, and wraps connection errors so that they
// never carry a password or a connection string. It also holds what every
// session of plan and apply shares: read-only sessions (ConnectReadOnly),
// the per-server connection limits (ConnectionLimits), the name sessions
// show (ApplicationName), and the classification of errors by type
// (errors.go: IsConnectionLost, IsServerError, IsRetryable, ErrorSummary).
package pgconnect

import (
	"bufio"
	"context"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"maps"
	"net"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgconn/ctxwatch"
	"github.com/jackc/pgx/v5/pgproto3"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/sshtunnel"
)

// SessionSettings returns the settings of every connection rowform opens,
// so that text renderings of values (used for keys of non-native types, for
// samples and for the run history) are the same on every server: a new map
// each call, which the caller may change.
func SessionSettings() map[string]string {
	return map[string]string{
		"TimeZone":           "UTC",
		"DateStyle":          "ISO, MDY",
		"IntervalStyle":      "postgres",
		"extra_float_digits": "3",
		// bytea as text (a domain over bytea is compared as text) in one
		// form on every server, whatever its default.
		"bytea_output": "hex",
		// money in one form on every server, whatever its locale.
		"lc_monetary": "C",
		// rowform's values are UTF-8. Without it the session speaks the
		// database's encoding: a LATIN1 destination stored UTF-8 bytes as
		// LATIN1 characters (é as Ã©), and a LATIN1 source's bytes were
		// read as UTF-8. With it the server converts both ways, and
		// refuses a character its encoding lacks.
		"client_encoding": "UTF8",
	}
}

// cancelGrace is how long a cancelled statement may take to stop after the
// cancel request before the connection is given up: short, so that Ctrl-C
// ends rowform at once even when the server does not answer. A server that
// handles the cancel request answers within milliseconds; one that does
// not (a frozen backend) never would.
const cancelGrace = 500 * time.Millisecond

// readBufferSize is the size of the socket reads of a connection.
const readBufferSize = 256 << 10

// DefaultConnectTimeout bounds establishing one connection.
const DefaultConnectTimeout = 15 * time.Second

// IsLoopback reports whether host names this machine: localhost, a
// 127.0.0.0/8 or ::1 address, or a Unix socket directory.
func IsLoopback(host string) bool {
	if strings.Contains(host, ",") {
		return false // a list of hosts, as libpq reads it: not one local server
	}
	if strings.HasPrefix(host, "/") || host == "localhost" {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

// SSLMode returns the sslmode used for s: the configured one, else "prefer"
// for loopback hosts and "require" for every other host (the README's Safety).
func SSLMode(s *hclconfig.Server) string {
	if s.SSLMode != "" {
		return s.SSLMode
	}
	if IsLoopback(s.Host) {
		return "prefer"
	}
	return "require"
}

// Config builds the pgx configuration for s. applicationName is shown to
// operators in pg_stat_activity (rowform/<sync>).
func Config(s *hclconfig.Server, applicationName string) (*pgx.ConnConfig, error) {
	kv := []string{
		"host=" + quoteValue(s.Host),
		"port=" + strconv.Itoa(s.Port),
		"dbname=" + quoteValue(s.Database),
		"user=" + quoteValue(s.User),
		"sslmode=" + SSLMode(s),
		"connect_timeout=" + strconv.Itoa(int(DefaultConnectTimeout/time.Second)),
	}
	if s.SSLRootCert != "" {
		kv = append(kv, "sslrootcert="+quoteValue(s.SSLRootCert))
	}
	for _, k := range slices.Sorted(maps.Keys(s.Settings)) {
		if !isKeyword(k) || slices.Contains(attributeKeywords, k) {
			return nil, fmt.Errorf("%s: invalid connection settings: %q is not a setting to add", s.Address(), k)
		}
		kv = append(kv, k+"="+quoteValue(s.Settings[k]))
	}
	// The key's passphrase is given as the password is, never in the
	// string above.
	var opts pgx.ParseConfigOptions
	if s.SSLPassword.IsSet() {
		opts.GetSSLPassword = func(context.Context) string { return s.SSLPassword.Reveal() }
	}
	cfg, err := pgx.ParseConfigWithOptions(strings.Join(kv, " "), opts)
	if err != nil {
		return nil, fmt.Errorf("%s: invalid connection settings: %s", s.Address(), describeConfigError(err))
	}
	if s.SSLMode == "" && !IsLoopback(s.Host) {
		// pgx tries a plain-text connection after a refused TLS one only
		// for sslmode=prefer, which is never chosen for a remote host; a
		// host list (refused by the configuration) would add others.
		for _, fb := range cfg.Fallbacks {
			if fb.TLSConfig == nil {
				return nil, fmt.Errorf("%s: the connection settings would fall back to an unencrypted connection to a host that is not on this machine; set sslmode", s.Address())
			}
		}
	}
	// The password is set here, never in the string above, so that no error
	// of the driver can carry it. It also overrides PGPASSWORD and .pgpass.
	cfg.Password = s.Password.Reveal()
	if cfg.RuntimeParams == nil {
		cfg.RuntimeParams = map[string]string{}
	}
	own := SessionSettings()
	own["application_name"] = applicationName
	// Setting names are case-insensitive to the server, which takes the
	// last of two spellings (PGTZ sets "timezone"): rowform's are the only
	// ones sent.
	maps.DeleteFunc(cfg.RuntimeParams, func(k, _ string) bool {
		for o := range own {
			if strings.EqualFold(k, o) {
				return true
			}
		}
		return false
	})
	maps.Copy(cfg.RuntimeParams, own)
	// Statements are prepared explicitly where it pays; the describe-exec
	// mode keeps one round trip for ad-hoc catalog queries.
	cfg.DefaultQueryExecMode = pgx.QueryExecModeDescribeExec
	// Row diffs stream whole tables: read the socket in large chunks, so
	// that a million rows cost a few thousand reads instead of one per 8 kB.
	cfg.BuildFrontend = func(r io.Reader, w io.Writer) *pgproto3.Frontend {
		return pgproto3.NewFrontend(bufio.NewReaderSize(r, readBufferSize), w)
	}
	// A cancelled context sends PostgreSQL a cancel request at once, so the
	// server really stops the query, and only then gives up on the socket.
	cfg.BuildContextWatcherHandler = func(pgConn *pgconn.PgConn) ctxwatch.Handler {
		return &pgconn.CancelRequestContextWatcherHandler{Conn: pgConn, DeadlineDelay: cancelGrace}
	}
	// TCP keepalives find a vanished host; the response timeout a server
	// that keeps the connection up but sends nothing (deadline.go).
	cfg.DialFunc = keepaliveDialer().DialContext
	SetResponseTimeout(cfg, DefaultResponseTimeout)
	return cfg, nil
}

// Connect opens one direct connection to s, ignoring any ssh_tunnel (use a
// Connector for those). The error, if any, names the server by address,
// host, port, database and user, with the server's or network's message —
// never the password.
func Connect(ctx context.Context, s *hclconfig.Server, applicationName string) (*pgx.Conn, error) {
	cfg, err := Config(s, applicationName)
	if err != nil {
		return nil, err
	}
	return ConnectConfig(ctx, s, cfg)
}

// Where describes how a server is reached, for messages: "user@host:port/db".
func Where(s *hclconfig.Server) string {
	return fmt.Sprintf("%s@%s:%d/%s", s.User, s.Host, s.Port, s.Database)
}

// ConnectError is a failure to connect to a configured server.
type ConnectError struct {
	Server string // address, e.g. "postgres.crm"
	Where  string // user@host:port/db
	Err    error
}

func (e *ConnectError) Error() string {
	return fmt.Sprintf("cannot connect to %s (%s): %s", e.Server, e.Where, e.Err)
}

func (e *ConnectError) Unwrap() error { return e.Err }

// cleanError reduces a pgx connect error to its cause: the server's message
// with SQLSTATE, or the network error said once (pgx repeats it for each
// address and sslmode it tried), with what to check for the common ones.
func cleanError(err error, s *hclconfig.Server) error {
	var pgErr *pgconn.PgError
	if errors.As(err, &pgErr) {
		if pgErr.Code == "53300" { // too_many_connections
			return fmt.Errorf("%s (SQLSTATE %s): the server or the role allows fewer connections than rowform opened; set max_connections in %s %q %q to what it allows (rowform opens at most that many at once), or raise the role's CONNECTION LIMIT",
				pgErr.Message, pgErr.Code, s.Kind, s.Type, s.Name)
		}
		return fmt.Errorf("%s (SQLSTATE %s)", pgErr.Message, pgErr.Code)
	}
	msg := err.Error()
	var ce *pgconn.ConnectError
	if errors.As(err, &ce) {
		if inner := ce.Unwrap(); inner != nil {
			msg = inner.Error()
		}
	}
	msg = uniqueLines(stripConnString(msg))
	var dnsErr *net.DNSError
	switch {
	case errors.As(err, &dnsErr) && dnsErr.IsNotFound:
		msg = fmt.Sprintf("the host name %q is not known (%s); check host", s.Host, dnsErr.Error())
	case errors.Is(err, syscall.ECONNREFUSED):
		msg = "connection refused: is the server running, and are host and port right?"
	case errors.Is(err, syscall.ENOENT) && strings.HasPrefix(s.Host, "/"):
		// A Unix socket directory without the port's socket: no server
		// of that port there (libpq says as much).
		msg = fmt.Sprintf("no server is listening on the Unix socket %s: is the server running, and are host (the socket directory) and port right?",
			filepath.Join(s.Host, fmt.Sprintf(".s.PGSQL.%d", s.Port)))
	case strings.Contains(msg, "server refused TLS connection"):
		mode := SSLMode(s)
		msg = fmt.Sprintf("the server does not accept TLS, and sslmode is %q", mode)
		if s.SSLMode == "" {
			msg += " (the default for a server that is not on this machine)"
		}
		msg += ": turn on ssl in the server, or set sslmode = \"disable\" if the network is private"
	}
	return errors.New(msg)
}

// uniqueLines drops the lines of msg that repeat an earlier line after the
// address prefix pgx gives each attempt ("host:port (ip): ").
func uniqueLines(msg string) string {
	seen := map[string]bool{}
	var out []string
	for _, line := range strings.Split(msg, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		k := line
		if _, rest, ok := strings.Cut(line, "): "); ok {
			k = rest
		}
		if !seen[k] {
			seen[k] = true
			out = append(out, line)
		}
	}
	return strings.Join(out, "\n")
}

// stripConnString removes a "failed to connect to `...`:" prefix that pgx
// puts in front of some errors.
func stripConnString(msg string) string {
	if i := strings.Index(msg, "failed to connect to `"); i >= 0 {
		if j := strings.Index(msg[i+len("failed to connect to `"):], "`:"); j >= 0 {
			msg = msg[:i] + strings.TrimSpace(msg[i+len("failed to connect to `")+j+2:])
		}
	}
	return msg
}

func describeConfigError(err error) string {
	var pe *pgconn.ParseConfigError
	if errors.As(err, &pe) {
		if u := pe.Unwrap(); u != nil {
			return u.Error()
		}
	}
	return "the host, port, database, user, sslmode, sslrootcert or another connection setting is not valid"
}

// attributeKeywords are the connection string keywords that the block's
// attributes set (or, for passfile, replace): a server's Settings never
// hold them.
var attributeKeywords = []string{"host", "port", "dbname", "database", "user", "password", "passfile", "sslmode", "sslrootcert", "sslpassword"}

// isKeyword reports whether k can be a keyword of a connection string:
// letters, digits, underscores and dots (a setting such as myapp.tag).
func isKeyword(k string) bool {
	return k != "" && strings.Trim(k, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_.") == ""
}

// quoteValue quotes a value for a libpq keyword/value connection string.
func quoteValue(v string) string {
	v = strings.ReplaceAll(v, `\`, `\\`)
	v = strings.ReplaceAll(v, `'`, `\'`)
	return "'" + v + "'"
}

// Encrypted reports whether conn's link to the server uses TLS.
func Encrypted(conn *pgx.Conn) bool {
	c := conn.PgConn().Conn()
	if w, ok := c.(*watchedConn); ok {
		c = w.Conn
	}
	_, ok := c.(*tls.Conn)
	return ok
}

// ConnectConfig opens one connection to s with a configuration from Config
// that the caller adjusted. Errors are wrapped as by Connect.
func ConnectConfig(ctx context.Context, s *hclconfig.Server, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, &ConnectError{Server: s.Address(), Where: Where(s), Err: cleanError(err, s)}
	}
	return conn, nil
}

// Connector opens connections to configured servers, reaching those with an
// ssh_tunnel through one shared SSH connection per bastion. Close it after
// every connection it opened is closed: pgx's cancel requests also travel
// through the tunnel.
type Connector struct {
	// Tunnel tunes the SSH tunnels the Connector opens; set it before the
	// first Connect. The zero value is sshtunnel's defaults.
	Tunnel sshtunnel.Options

	environ []string
	mu      sync.Mutex
	tunnels map[string]*tunnelEntry
}

type tunnelEntry struct {
	ready chan struct{}
	tun   *sshtunnel.Tunnel
	err   error
}

// NewConnector returns a Connector; environ supplies SSH_AUTH_SOCK.
func NewConnector(environ []string) *Connector {
	return &Connector{environ: environ, tunnels: map[string]*tunnelEntry{}}
}

// Connect opens a connection to s with cfg (from Config, possibly adjusted).
// Errors are wrapped as by Connect.
func (c *Connector) Connect(ctx context.Context, s *hclconfig.Server, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	if s.SSHTunnel != nil {
		tun, err := c.tunnel(ctx, s.SSHTunnel)
		if err != nil {
			return nil, &ConnectError{Server: s.Address(), Where: Where(s), Err: err}
		}
		cfg.DialFunc = tun.DialContext
		// pgx resolves the host before dialing; through a bastion the name
		// must be resolved by the bastion, so it is passed through as is.
		cfg.LookupFunc = func(_ context.Context, host string) ([]string, error) { return []string{host}, nil }
	}
	return ConnectConfig(ctx, s, cfg)
}

// tunnel returns the open tunnel to t's bastion, opening it once.
func (c *Connector) tunnel(ctx context.Context, t *hclconfig.SSHTunnel) (*sshtunnel.Tunnel, error) {
	key := tunnelKey(t)
	c.mu.Lock()
	e, ok := c.tunnels[key]
	if ok {
		select {
		case <-e.ready:
			if e.tun != nil {
				select {
				case <-e.tun.Done(): // closed by keepalive: open anew
					ok = false
				default:
				}
			}
		default:
		}
	}
	if !ok {
		e = &tunnelEntry{ready: make(chan struct{})}
		c.tunnels[key] = e
		c.mu.Unlock()
		e.tun, e.err = sshtunnel.Open(ctx, t, c.environ, c.Tunnel)
		close(e.ready)
		return e.tun, e.err
	}
	c.mu.Unlock()
	select {
	case <-e.ready:
		return e.tun, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

// tunnelKey identifies a tunnel: two servers share one only when everything
// that opens it is the same; the inline key and passphrase are compared by
// digest.
func tunnelKey(t *hclconfig.SSHTunnel) string {
	return fmt.Sprintf("%s@%s:%d|%s|%s|%s|%x|%x", t.User, t.Host, t.Port, t.PrivateKeyFile, t.KnownHostsFile, t.HostKey,
		sha256.Sum256([]byte(t.PrivateKey.Reveal())), sha256.Sum256([]byte(t.PrivateKeyPassphrase.Reveal())))
}

// TunnelError returns why the tunnel to s's bastion closed by itself, or nil
// when s has no tunnel or it is open.
func (c *Connector) TunnelError(s *hclconfig.Server) error {
	if s.SSHTunnel == nil {
		return nil
	}
	c.mu.Lock()
	e := c.tunnels[tunnelKey(s.SSHTunnel)]
	c.mu.Unlock()
	if e == nil {
		return nil
	}
	select {
	case <-e.ready:
	default:
		return nil
	}
	if e.tun == nil {
		return nil
	}
	return e.tun.Err()
}

// Close closes every tunnel.
func (c *Connector) Close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	for k, e := range c.tunnels {
		<-e.ready
		if e.tun != nil {
			_ = e.tun.Close()
		}
		delete(c.tunnels, k)
	}
}
