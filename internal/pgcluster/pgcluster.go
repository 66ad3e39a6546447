// Package pgcluster starts throwaway PostgreSQL clusters for tests and demos,
// and for `rowform test` (internal/rftest), which also drops its test
// databases through DropDatabase: the package is part of the binary.
//
// Start runs initdb into a fresh temporary directory, configures the server
// for speed rather than durability (fsync=off, synchronous_commit=off,
// full_page_writes=off), makes it listen on 127.0.0.1 on a free port with
// password (scram-sha-256) authentication only, and starts it with pg_ctl.
// Every cluster has its own directory and port, so several clusters may run
// at once, from one process or many. Close stops the server and removes every
// file it created; afterwards no server process of that cluster remains.
//
// # Binaries
//
// The server binaries (initdb, pg_ctl, postgres) are looked up by
// FindBinaries: the directory named by ROWFORM_PG_BIN if set, else initdb on
// PATH, else the newest /usr/lib/postgresql/*/bin (Debian/Ubuntu) or
// /usr/pgsql-*/bin (RHEL). On Debian/Ubuntu install them with
// "apt-get install -y postgresql".
//
// # Running as root
//
// PostgreSQL refuses to run as root. When the calling process is root,
// initdb and pg_ctl (and so the server) run as the "postgres" OS user, and
// the cluster's temporary directory is owned by that user. BaseDir and all
// its parents must then be traversable by that user (os.TempDir() normally
// is). If no "postgres" user exists, Start fails and says so.
//
// # Using an existing server: ROWFORM_TEST_PG_URL
//
// If the environment variable ROWFORM_TEST_PG_URL is set to a postgres:// URL
// of an existing server and a role that may create databases (normally a
// superuser), Start does not run initdb. It connects with that URL, creates a
// fresh database named rowform_t_<random hex>, and returns a Cluster whose
// Host, Port, User and Password come from the URL and whose Database is the
// new database. In that mode:
//   - Options.User, Password, Locale, ExtraConf and BaseDir are ignored;
//   - DataDir is empty and LogContents returns "";
//   - ConnString keeps the URL's query parameters (sslmode etc.) and only
//     replaces the database;
//   - Stop and Restart return an error, since they need a throwaway cluster;
//   - Close drops the database (terminating its open connections).
package pgcluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

// EnvURL is the environment variable that makes Start use an existing server
// instead of a throwaway cluster. See the package documentation.
const EnvURL = "ROWFORM_TEST_PG_URL"

// EnvBin is the environment variable naming the directory that holds initdb,
// pg_ctl and postgres. It takes precedence over every other place
// FindBinaries looks.
const EnvBin = "ROWFORM_PG_BIN"

// InstallHint is a human-readable explanation of how to make PostgreSQL
// available to this package. Error messages from FindBinaries include it.
const InstallHint = `install the PostgreSQL server binaries (Debian/Ubuntu: "apt-get install -y postgresql"), ` +
	`or set ` + EnvBin + ` to the directory that contains initdb and pg_ctl, ` +
	`or set ` + EnvURL + `=postgres://user:pass@host:port/db to use an existing server`

const (
	defaultUser    = "rowform_test"
	startAttempts  = 5
	defaultTimeout = 60 * time.Second
	closeTimeout   = 30 * time.Second
	// maxSocketPath is the longest unix socket path the server accepts
	// (sizeof(sun_path) - 1 on Linux).
	maxSocketPath = 107
)

// Options configures Start. The zero value is ready to use.
type Options struct {
	// Password is the superuser's password. Default: 24 random hex characters.
	Password string
	// User is the superuser's name. Default: "rowform_test".
	User string
	// Locale is passed to initdb --locale. Default: "C.UTF-8" if the system
	// has it, else "C". The database encoding is always UTF8.
	Locale string
	// ExtraConf holds extra postgresql.conf lines, e.g. "ssl = on". They are
	// appended after the package's own settings, so they override them.
	ExtraConf []string
	// BaseDir is the parent directory of the cluster's temporary directory.
	// Default: os.TempDir(). It must exist.
	BaseDir string
	// Log, if set, receives a copy of the server log whenever Start, Stop,
	// Restart or Close fails.
	Log io.Writer
}

// Cluster is a running (or stopped) PostgreSQL server created by Start.
// The exported fields are set by Start and never change; callers must not
// modify them. All methods are safe for concurrent use.
type Cluster struct {
	// Host is the address the server listens on: "127.0.0.1" for a throwaway
	// cluster, the URL's host when ROWFORM_TEST_PG_URL is used.
	Host string
	// Port is the TCP port the server listens on.
	Port int
	// User is the superuser's name.
	User string
	// Password is the superuser's password.
	Password string
	// Database is the default database: "postgres" for a throwaway cluster,
	// the freshly created database when ROWFORM_TEST_PG_URL is used.
	Database string
	// DataDir is the server's data directory ("" with ROWFORM_TEST_PG_URL).
	// It is removed by Close.
	DataDir string

	rootDir string // temp dir holding DataDir, the log and the socket
	binDir  string
	logPath string
	cred    *syscall.Credential // non-nil: run initdb/pg_ctl as this user
	logOut  io.Writer

	external bool
	extURL   *url.URL // ROWFORM_TEST_PG_URL, parsed

	mu      sync.Mutex
	running bool
	closed  bool
	lastLog string // the log as it was when Close removed it
}

// FindBinaries returns the directory holding initdb, pg_ctl and postgres:
// $ROWFORM_PG_BIN if set, else the directory of initdb found on PATH
// (symlinks resolved), else the newest /usr/lib/postgresql/*/bin or
// /usr/pgsql-*/bin. The returned directory contains all three programs.
// The error, if any, says how to install PostgreSQL.
func FindBinaries() (binDir string, err error) {
	if dir := os.Getenv(EnvBin); dir != "" {
		if err := checkBinDir(dir); err != nil {
			return "", fmt.Errorf("pgcluster: %s=%s: %v", EnvBin, dir, err)
		}
		return dir, nil
	}
	if p, err := exec.LookPath("initdb"); err == nil {
		if r, err := filepath.EvalSymlinks(p); err == nil {
			p = r
		}
		if dir := filepath.Dir(p); checkBinDir(dir) == nil {
			return dir, nil
		}
	}
	var cands []string
	for _, pat := range []string{"/usr/lib/postgresql/*/bin", "/usr/pgsql-*/bin"} {
		m, _ := filepath.Glob(pat)
		cands = append(cands, m...)
	}
	sort.SliceStable(cands, func(i, j int) bool {
		return versionOf(cands[i]) > versionOf(cands[j])
	})
	for _, dir := range cands {
		if checkBinDir(dir) == nil {
			return dir, nil
		}
	}
	return "", fmt.Errorf("pgcluster: PostgreSQL server binaries (initdb, pg_ctl, postgres) not found on PATH or in /usr/lib/postgresql/*/bin; %s", InstallHint)
}

var versionRE = regexp.MustCompile(`(\d+(?:\.\d+)?)`)

// versionOf extracts the major version from a path like
// /usr/lib/postgresql/15/bin; 0 if none.
func versionOf(dir string) float64 {
	m := versionRE.FindString(filepath.Base(filepath.Dir(dir)))
	if m == "" {
		m = versionRE.FindString(dir)
	}
	v, _ := strconv.ParseFloat(m, 64)
	return v
}

func checkBinDir(dir string) error {
	for _, prog := range []string{"initdb", "pg_ctl", "postgres"} {
		fi, err := os.Stat(filepath.Join(dir, prog))
		if err != nil {
			return fmt.Errorf("no %s in %s", prog, dir)
		}
		if fi.IsDir() || fi.Mode()&0o111 == 0 {
			return fmt.Errorf("%s in %s is not executable", prog, dir)
		}
	}
	return nil
}

// Start creates and starts a throwaway cluster (or, with ROWFORM_TEST_PG_URL
// set, a fresh database on an existing server; see the package doc). When
// Start returns nil error the server accepts password logins from
// c.User/c.Password on c.Host:c.Port, and the caller must eventually call
// Close. When it returns an error nothing is left behind (no process, no
// directory) and the error includes the tail of the server log, if any.
// ctx bounds the whole start-up; if it is cancelled Start cleans up and
// fails.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	if u := os.Getenv(EnvURL); u != "" {
		return startExternal(ctx, u)
	}
	binDir, err := FindBinaries()
	if err != nil {
		return nil, err
	}
	if opts.User == "" {
		opts.User = defaultUser
	}
	if opts.Password == "" {
		opts.Password = randomHex(12)
	}
	if opts.Locale == "" {
		opts.Locale = defaultLocale()
	}
	base := opts.BaseDir
	if base == "" {
		base = os.TempDir()
	}

	c := &Cluster{
		Host:     "127.0.0.1",
		User:     opts.User,
		Password: opts.Password,
		Database: "postgres",
		binDir:   binDir,
		logOut:   opts.Log,
	}

	if os.Geteuid() == 0 {
		cred, err := postgresCredential()
		if err != nil {
			return nil, err
		}
		c.cred = cred
	}

	root, err := os.MkdirTemp(base, "rowform-pg-")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: create temp dir: %w", err)
	}
	c.rootDir = root
	c.DataDir = filepath.Join(root, "data")
	c.logPath = filepath.Join(root, "server.log")

	if err := c.setup(ctx, opts); err != nil {
		c.reportLog()
		tail := LogTail(c.readLog(), 40)
		c.destroy()
		if tail != "" {
			err = fmt.Errorf("%w\n--- server log (tail) ---\n%s", err, tail)
		}
		return nil, err
	}
	return c, nil
}

// setup does the work of Start after the temp dir exists. On error the
// caller cleans up.
func (c *Cluster) setup(ctx context.Context, opts Options) error {
	root := c.rootDir
	if err := os.Chmod(root, 0o755); err != nil {
		return fmt.Errorf("pgcluster: chmod %s: %w", root, err)
	}
	if len(filepath.Join(root, ".s.PGSQL.65535.lock")) > maxSocketPath {
		return fmt.Errorf("pgcluster: temp dir %s is too long for a unix socket path (max %d bytes); use a shorter BaseDir", root, maxSocketPath)
	}
	if c.cred != nil {
		if err := checkTraversable(root, c.cred); err != nil {
			return err
		}
	}
	pwfile := filepath.Join(root, "pwfile")
	if err := os.WriteFile(pwfile, []byte(c.Password+"\n"), 0o600); err != nil {
		return fmt.Errorf("pgcluster: write password file: %w", err)
	}
	defer os.Remove(pwfile)
	if err := c.chown(root, pwfile); err != nil {
		return err
	}

	out, err := c.run(ctx, "initdb",
		"-D", c.DataDir,
		"--auth=scram-sha-256",
		"--username="+c.User,
		"--pwfile="+pwfile,
		"-E", "UTF8",
		"--locale="+opts.Locale,
		"-N", // no fsync: the cluster is thrown away anyway
	)
	if err != nil {
		return fmt.Errorf("pgcluster: initdb failed: %v\n%s", err, strings.TrimSpace(out))
	}

	conf := []string{
		"",
		"# added by rowform pgcluster",
		"listen_addresses = '127.0.0.1'",
		"unix_socket_directories = " + confQuote(root),
		"fsync = off",
		"synchronous_commit = off",
		"full_page_writes = off",
		"max_connections = 50",
		"shared_buffers = 128MB",
	}
	conf = append(conf, opts.ExtraConf...)
	if err := appendLines(filepath.Join(c.DataDir, "postgresql.conf"), conf); err != nil {
		return err
	}
	hba := "# written by rowform pgcluster\n" +
		"local all all scram-sha-256\n" +
		"host all all 127.0.0.1/32 scram-sha-256\n" +
		"host all all ::1/128 scram-sha-256\n"
	if err := os.WriteFile(filepath.Join(c.DataDir, "pg_hba.conf"), []byte(hba), 0o600); err != nil {
		return fmt.Errorf("pgcluster: write pg_hba.conf: %w", err)
	}
	if err := c.chown(filepath.Join(c.DataDir, "pg_hba.conf")); err != nil {
		return err
	}

	var lastErr error
	for attempt := 0; attempt < startAttempts; attempt++ {
		port, err := freePort()
		if err != nil {
			return err
		}
		// A later "port" line overrides an earlier one, so retries just
		// append another.
		if err := appendLines(filepath.Join(c.DataDir, "postgresql.conf"), []string{fmt.Sprintf("port = %d", port)}); err != nil {
			return err
		}
		c.Port = port
		logStart := fileSize(c.logPath)
		err = c.pgctlStart(ctx)
		if err == nil {
			break
		}
		lastErr = err
		if ctx.Err() != nil {
			return err
		}
		newLog := c.readLog()
		if int64(len(newLog)) >= logStart {
			newLog = newLog[logStart:]
		}
		if !portInUse(newLog) {
			return err
		}
		// Another process took the port between freePort and the
		// server's bind; make sure nothing is half-running and retry.
		c.killServer()
	}
	if !c.isRunning() {
		return fmt.Errorf("pgcluster: could not find a free port after %d attempts: %w", startAttempts, lastErr)
	}
	c.running = true
	return c.waitReady(ctx)
}

func (c *Cluster) isRunning() bool {
	_, ok := c.postmasterPID()
	return ok
}

func portInUse(log string) bool {
	return strings.Contains(log, "Address already in use") ||
		strings.Contains(log, "could not bind IPv4 address") ||
		strings.Contains(log, "could not create any TCP/IP sockets")
}

// pgctlStart runs pg_ctl start -w.
func (c *Cluster) pgctlStart(ctx context.Context) error {
	out, err := c.run(ctx, "pg_ctl", "start", "-w",
		"-t", strconv.Itoa(timeoutSeconds(ctx)),
		"-D", c.DataDir,
		"-l", c.logPath,
	)
	if err != nil {
		return fmt.Errorf("pgcluster: pg_ctl start failed (port %d): %v\n%s", c.Port, err, strings.TrimSpace(out))
	}
	return nil
}

// waitReady connects with the superuser's password until it works.
func (c *Cluster) waitReady(ctx context.Context) error {
	deadline := time.Now().Add(defaultTimeout)
	for {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		conn, err := pgx.Connect(cctx, c.ConnString(""))
		if err == nil {
			conn.Close(cctx)
			cancel()
			return nil
		}
		cancel()
		if ctx.Err() != nil || time.Now().After(deadline) {
			return fmt.Errorf("pgcluster: server started but does not accept connections on %s:%d: %w", c.Host, c.Port, err)
		}
		select {
		case <-ctx.Done():
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// ConnString returns a URL for connecting as the superuser, of the form
// "postgres://user:pass@127.0.0.1:port/db?sslmode=disable", with user,
// password and database escaped as needed. database "" means c.Database.
// With ROWFORM_TEST_PG_URL the URL is that one with the database replaced.
func (c *Cluster) ConnString(database string) string {
	if database == "" {
		database = c.Database
	}
	if c.external {
		u := *c.extURL
		u.Path = "/" + database
		u.RawPath = ""
		return u.String()
	}
	u := url.URL{
		Scheme:   "postgres",
		User:     url.UserPassword(c.User, c.Password),
		Host:     net.JoinHostPort(c.Host, strconv.Itoa(c.Port)),
		Path:     "/" + database,
		RawQuery: "sslmode=disable",
	}
	return u.String()
}

// Stop stops the server with pg_ctl stop -m mode, where mode is "smart",
// "fast" or "immediate" ("" means "fast"), and waits until the server has
// exited. Stopping a stopped or closed cluster does nothing and returns nil.
// The data directory and port are kept for Restart.
//
// The cluster runs with synchronous_commit=off, so after an "immediate" stop
// transactions committed in the last moments before it may be missing;
// run CHECKPOINT, or commit with synchronous_commit=on, for data that must
// survive one.
func (c *Cluster) Stop(ctx context.Context, mode string) error {
	if c.external {
		return errors.New("pgcluster: Stop needs a throwaway cluster; it is not available with " + EnvURL)
	}
	switch mode {
	case "":
		mode = "fast"
	case "smart", "fast", "immediate":
	default:
		return fmt.Errorf("pgcluster: Stop: unknown mode %q (want smart, fast or immediate)", mode)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	if err := c.stopLocked(ctx, mode); err != nil {
		c.reportLog()
		return err
	}
	return nil
}

func (c *Cluster) stopLocked(ctx context.Context, mode string) error {
	pid, ok := c.postmasterPID()
	if !ok {
		c.running = false
		return nil
	}
	out, err := c.run(ctx, "pg_ctl", "stop", "-w",
		"-t", strconv.Itoa(timeoutSeconds(ctx)),
		"-D", c.DataDir,
		"-m", mode,
	)
	if err != nil && !strings.Contains(out, "Is server running?") {
		return fmt.Errorf("pgcluster: pg_ctl stop -m %s failed: %v\n%s", mode, err, strings.TrimSpace(out))
	}
	if !waitGone(ctx, pid, 10*time.Second) {
		return fmt.Errorf("pgcluster: server process %d still running after pg_ctl stop -m %s", pid, mode)
	}
	c.running = false
	return nil
}

// Restart starts the server again on the same port and data directory and
// returns once it accepts connections. If the server is running it is
// first stopped with mode "fast". Restart fails on a closed cluster, and if
// the port has been taken by another process meanwhile.
func (c *Cluster) Restart(ctx context.Context) error {
	if c.external {
		return errors.New("pgcluster: Restart needs a throwaway cluster; it is not available with " + EnvURL)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return errors.New("pgcluster: Restart on a closed cluster")
	}
	err := c.stopLocked(ctx, "fast")
	if err == nil {
		err = c.pgctlStart(ctx)
	}
	if err == nil {
		c.running = true
		err = c.waitReady(ctx)
	}
	if err != nil {
		c.reportLog()
		if tail := LogTail(c.readLog(), 40); tail != "" {
			err = fmt.Errorf("%w\n--- server log (tail) ---\n%s", err, tail)
		}
	}
	return err
}

// Close stops the server (mode "immediate") if it is running, makes sure
// no server process of the cluster remains, and removes the cluster's
// temporary directory with everything in it. With ROWFORM_TEST_PG_URL it
// drops the database instead. Close is idempotent: later calls return nil.
// LogContents keeps working after Close.
func (c *Cluster) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil
	}
	c.closed = true
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if c.external {
		return dropExternal(ctx, c.extURL, c.Database)
	}
	var errs []error
	if err := c.stopLocked(ctx, "immediate"); err != nil {
		errs = append(errs, err)
		c.killServer()
		if pid, ok := c.postmasterPID(); ok && processAlive(pid) {
			errs = append(errs, fmt.Errorf("pgcluster: could not kill server process %d", pid))
		}
	}
	c.running = false
	c.killStrays()
	c.lastLog = c.readLog()
	if len(errs) > 0 {
		c.reportLog()
	}
	if err := os.RemoveAll(c.rootDir); err != nil {
		errs = append(errs, fmt.Errorf("pgcluster: remove %s: %w", c.rootDir, err))
	}
	return errors.Join(errs...)
}

// LogContents returns the server log (everything the server wrote to it
// since Start), or "" if there is none. It keeps returning the final log
// after Close. With ROWFORM_TEST_PG_URL it returns "".
func (c *Cluster) LogContents() string {
	c.mu.Lock()
	closed, last := c.closed, c.lastLog
	c.mu.Unlock()
	if closed {
		return last
	}
	return c.readLog()
}

// LogTail returns the last n lines of log (all of it if it has fewer).
func LogTail(log string, n int) string {
	log = strings.TrimRight(log, "\n")
	if log == "" || n <= 0 {
		return ""
	}
	lines := strings.Split(log, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
