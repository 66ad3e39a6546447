// Package pgcluster starts throwaway PostgreSQL clusters for tests and demos.
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
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
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

func (c *Cluster) readLog() string {
	if c.logPath == "" {
		return ""
	}
	b, _ := os.ReadFile(c.logPath)
	return string(b)
}

func (c *Cluster) reportLog() {
	if c.logOut == nil {
		return
	}
	if l := c.readLog(); l != "" {
		fmt.Fprintf(c.logOut, "--- PostgreSQL server log (%s) ---\n%s\n--- end of server log ---\n", c.DataDir, l)
	}
}

// destroy kills any server and removes the temp dir; used when Start fails.
func (c *Cluster) destroy() {
	ctx, cancel := context.WithTimeout(context.Background(), closeTimeout)
	defer cancel()
	if err := c.stopLocked(ctx, "immediate"); err != nil {
		c.killServer()
	}
	c.killStrays()
	os.RemoveAll(c.rootDir)
}

// killStrays SIGKILLs any process whose command line names the data
// directory (e.g. a postmaster still starting up when Start was cancelled,
// before it wrote postmaster.pid). The directory name is random, so nothing
// else matches.
func (c *Cluster) killStrays() {
	if c.DataDir == "" {
		return
	}
	for range 3 {
		pids := pidsMentioning(c.DataDir)
		if len(pids) == 0 {
			return
		}
		for _, pid := range pids {
			syscall.Kill(-pid, syscall.SIGKILL)
			syscall.Kill(pid, syscall.SIGKILL)
		}
		for _, pid := range pids {
			waitGone(context.Background(), pid, 5*time.Second)
		}
	}
}

// pidsMentioning returns the live processes (other than this one) whose
// command line contains s.
func pidsMentioning(s string) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cmdline, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cmdline, []byte(s)) && processAlive(pid) {
			pids = append(pids, pid)
		}
	}
	return pids
}

// killServer SIGKILLs the postmaster's process group (pg_ctl starts the
// postmaster in its own session, so that includes its children) and waits
// for the postmaster to be gone.
func (c *Cluster) killServer() {
	pid, ok := c.postmasterPID()
	if !ok {
		return
	}
	syscall.Kill(-pid, syscall.SIGKILL)
	syscall.Kill(pid, syscall.SIGKILL)
	waitGone(context.Background(), pid, 10*time.Second)
	os.Remove(filepath.Join(c.DataDir, "postmaster.pid"))
}

// postmasterPID returns the pid in postmaster.pid if that process is alive.
func (c *Cluster) postmasterPID() (int, bool) {
	b, err := os.ReadFile(filepath.Join(c.DataDir, "postmaster.pid"))
	if err != nil {
		return 0, false
	}
	line, _, _ := strings.Cut(string(b), "\n")
	pid, err := strconv.Atoi(strings.TrimSpace(line))
	if err != nil || pid <= 0 {
		return 0, false
	}
	if !processAlive(pid) {
		return pid, false
	}
	// Guard against a stale pid file whose pid now belongs to some other
	// process: the postmaster's command line names the data directory.
	if cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); err == nil &&
		!bytes.Contains(cmdline, []byte(c.DataDir)) {
		return pid, false
	}
	return pid, true
}

// processAlive reports whether pid exists and is not a zombie.
func processAlive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return !os.IsNotExist(err)
	}
	// Format: pid (comm) state ...; comm may contain spaces or parens.
	s := string(b)
	if i := strings.LastIndexByte(s, ')'); i >= 0 && i+2 < len(s) {
		return s[i+2] != 'Z' && s[i+2] != 'X'
	}
	return true
}

func waitGone(ctx context.Context, pid int, max time.Duration) bool {
	deadline := time.Now().Add(max)
	for processAlive(pid) {
		if time.Now().After(deadline) || ctx.Err() != nil {
			return !processAlive(pid)
		}
		time.Sleep(20 * time.Millisecond)
	}
	return true
}

// run runs one of the PostgreSQL programs (as the postgres OS user when we
// are root) and returns its combined output.
func (c *Cluster) run(ctx context.Context, prog string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, filepath.Join(c.binDir, prog), args...)
	cmd.Dir = c.rootDir
	cmd.Env = cleanEnv()
	var out bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &out
	cmd.WaitDelay = 5 * time.Second
	// Own process group, so that cancelling also kills initdb's bootstrap
	// postgres child. (The server started by pg_ctl runs in a session of
	// its own and is stopped separately.)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Credential: c.cred}
	cmd.Cancel = func() error {
		return syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
	err := cmd.Run()
	if err != nil && ctx.Err() != nil {
		err = fmt.Errorf("%w (%v)", ctx.Err(), err)
	}
	return out.String(), err
}

// cleanEnv is the environment without PG* variables (PGDATA, PGPORT, ...),
// which could otherwise change what initdb, pg_ctl and postgres do.
func cleanEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "PG") {
			continue
		}
		env = append(env, kv)
	}
	return env
}

func (c *Cluster) chown(paths ...string) error {
	if c.cred == nil {
		return nil
	}
	for _, p := range paths {
		if err := os.Chown(p, int(c.cred.Uid), int(c.cred.Gid)); err != nil {
			return fmt.Errorf("pgcluster: chown %s to the postgres user: %w", p, err)
		}
	}
	return nil
}

// postgresCredential looks up the "postgres" OS user for running the server
// when we are root.
func postgresCredential() (*syscall.Credential, error) {
	u, err := user.Lookup("postgres")
	if err != nil {
		return nil, fmt.Errorf("pgcluster: running as root, and PostgreSQL refuses to run as root, but there is no \"postgres\" OS user to run it as (%v); create one (useradd --system postgres, or apt-get install -y postgresql) or run as a non-root user", err)
	}
	uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
	gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
	if err1 != nil || err2 != nil {
		return nil, fmt.Errorf("pgcluster: bad uid/gid for OS user postgres: %q/%q", u.Uid, u.Gid)
	}
	cred := &syscall.Credential{Uid: uint32(uid), Gid: uint32(gid), Groups: []uint32{}}
	// Keep supplementary groups (e.g. ssl-cert, for ExtraConf "ssl = on"
	// with the system's snakeoil key).
	if gids, err := u.GroupIds(); err == nil {
		for _, g := range gids {
			if n, err := strconv.ParseUint(g, 10, 32); err == nil {
				cred.Groups = append(cred.Groups, uint32(n))
			}
		}
	}
	return cred, nil
}

// checkTraversable verifies that the user in cred can reach dir, i.e. has
// search permission on every parent of dir.
func checkTraversable(dir string, cred *syscall.Credential) error {
	for p := filepath.Dir(dir); ; p = filepath.Dir(p) {
		fi, err := os.Stat(p)
		if err != nil {
			return fmt.Errorf("pgcluster: %w", err)
		}
		st, ok := fi.Sys().(*syscall.Stat_t)
		mode := fi.Mode().Perm()
		if ok {
			okay := mode&0o001 != 0 ||
				(st.Uid == cred.Uid && mode&0o100 != 0) ||
				(inGroup(st.Gid, cred) && mode&0o010 != 0)
			if !okay {
				return fmt.Errorf("pgcluster: running as root, the server runs as the postgres OS user, which cannot enter %s (mode %v); use a BaseDir under a world-traversable directory such as /tmp", p, fi.Mode().Perm())
			}
		}
		if p == filepath.Dir(p) {
			return nil
		}
	}
}

func inGroup(gid uint32, cred *syscall.Credential) bool {
	if gid == cred.Gid {
		return true
	}
	for _, g := range cred.Groups {
		if g == gid {
			return true
		}
	}
	return false
}

// defaultLocale is "C.UTF-8" if the system lists it, else "C".
func defaultLocale() string {
	if out, err := exec.Command("locale", "-a").Output(); err == nil {
		for _, l := range strings.Fields(string(out)) {
			if n := strings.ToLower(l); n == "c.utf8" || n == "c.utf-8" {
				return "C.UTF-8"
			}
		}
		return "C"
	}
	for _, d := range []string{"/usr/lib/locale/C.utf8", "/usr/lib/locale/C.UTF-8"} {
		if _, err := os.Stat(d); err == nil {
			return "C.UTF-8"
		}
	}
	return "C"
}

// freePort asks the kernel for a free TCP port on 127.0.0.1.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("pgcluster: find a free port: %w", err)
	}
	port := l.Addr().(*net.TCPAddr).Port
	l.Close()
	return port, nil
}

func appendLines(path string, lines []string) error {
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("pgcluster: %w", err)
	}
	_, err = f.WriteString(strings.Join(lines, "\n") + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("pgcluster: write %s: %w", path, err)
	}
	return nil
}

func confQuote(s string) string {
	return "'" + strings.ReplaceAll(s, "'", "''") + "'"
}

func fileSize(path string) int64 {
	fi, err := os.Stat(path)
	if err != nil {
		return 0
	}
	return fi.Size()
}

func timeoutSeconds(ctx context.Context) int {
	if d, ok := ctx.Deadline(); ok {
		if s := int(time.Until(d).Seconds()); s < int(defaultTimeout.Seconds()) {
			return max(s, 1)
		}
	}
	return int(defaultTimeout.Seconds())
}

func randomHex(nbytes int) string {
	b := make([]byte, nbytes)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return hex.EncodeToString(b)
}

// startExternal implements ROWFORM_TEST_PG_URL.
func startExternal(ctx context.Context, raw string) (*Cluster, error) {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "postgres" && u.Scheme != "postgresql") {
		return nil, fmt.Errorf("pgcluster: %s must be a postgres:// URL", EnvURL)
	}
	cfg, err := pgx.ParseConfig(raw)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: %s: %w", EnvURL, err)
	}
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("pgcluster: connect to %s: %w", EnvURL, err)
	}
	defer conn.Close(context.Background())
	db := "rowform_t_" + randomHex(8)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()); err != nil {
		return nil, fmt.Errorf("pgcluster: %s: create database %s: %w", EnvURL, db, err)
	}
	return &Cluster{
		Host:     cfg.Host,
		Port:     int(cfg.Port),
		User:     cfg.User,
		Password: cfg.Password,
		Database: db,
		external: true,
		extURL:   u,
		running:  true,
	}, nil
}

func dropExternal(ctx context.Context, u *url.URL, db string) error {
	conn, err := pgx.Connect(ctx, u.String())
	if err != nil {
		return fmt.Errorf("pgcluster: drop database %s: connect: %w", db, err)
	}
	defer conn.Close(context.Background())
	q := "DROP DATABASE IF EXISTS " + pgx.Identifier{db}.Sanitize()
	if _, err := conn.Exec(ctx, q+" WITH (FORCE)"); err != nil {
		// Servers before PostgreSQL 13 have no FORCE option.
		if _, err2 := conn.Exec(ctx, q); err2 != nil {
			return fmt.Errorf("pgcluster: drop database %s: %w", db, err)
		}
	}
	return nil
}
