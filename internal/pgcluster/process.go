// This file holds the process plumbing of a cluster: running pg_ctl as the
// postgres user, finding and ending server processes, logs and cleanup.

package pgcluster

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/url"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/jackc/pgx/v5"
)

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
	// The URL holds a password: no error quotes it.
	u, err := url.Parse(raw)
	var escape url.EscapeError
	switch {
	case errors.As(err, &escape):
		return nil, fmt.Errorf("pgcluster: %s is not a valid URL: a %% must begin an escape of two hex digits (write a %% of the password as %%25)", EnvURL)
	case err != nil:
		return nil, fmt.Errorf("pgcluster: %s is not a valid URL (postgres://user:password@host:port/database, with the password's special characters percent-encoded)", EnvURL)
	case u.Scheme != "postgres" && u.Scheme != "postgresql":
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
	if err := DropDatabase(ctx, conn, db); err != nil {
		return fmt.Errorf("pgcluster: drop database %s: %w", db, err)
	}
	return nil
}

// DropDatabase drops the database db if it exists, through conn (a
// session in another database), closing its other sessions first
// (WITH (FORCE)); servers before PostgreSQL 13, which have no FORCE, get a
// plain DROP DATABASE. The error is FORCE's when both fail.
func DropDatabase(ctx context.Context, conn *pgx.Conn, db string) error {
	q := "DROP DATABASE IF EXISTS " + pgx.Identifier{db}.Sanitize()
	if _, err := conn.Exec(ctx, q+" WITH (FORCE)"); err != nil {
		if _, err2 := conn.Exec(ctx, q); err2 != nil {
			return err
		}
	}
	return nil
}
