// Package synctest gives tests of the planner, executor and CLI a source and
// a destination PostgreSQL server (two throwaway clusters, shared by the
// tests of one package), a fresh database on each per test, and
// configurations pointing at them.
//
// A test package calls Main from its TestMain; each test calls New.
package synctest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/pgcluster"
)

var (
	once     sync.Once
	startErr error
	// Source and Destination are the package's two servers, started by
	// the first New.
	Source, Destination *pgcluster.Cluster
)

// Main runs the tests and then removes the clusters.
func Main(m *testing.M) {
	code := m.Run()
	if Source != nil {
		_ = Source.Close()
	}
	if Destination != nil {
		_ = Destination.Close()
	}
	os.Exit(code)
}

func start() {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	var wg sync.WaitGroup
	var errS, errD error
	wg.Add(2)
	go func() { defer wg.Done(); Source, errS = pgcluster.Start(ctx, pgcluster.Options{Locale: "C"}) }()
	go func() { defer wg.Done(); Destination, errD = pgcluster.Start(ctx, pgcluster.Options{}) }()
	wg.Wait()
	if errS != nil {
		startErr = errS
	} else if errD != nil {
		startErr = errD
	}
}

// Env is one test's pair of databases and its configuration directory.
type Env struct {
	t testing.TB
	// SrcDB and DstDB are the test's databases on Source and Destination.
	SrcDB, DstDB string
	// Dir is the configuration directory.
	Dir string
	// Environ carries the passwords as SRC_PASSWORD and DST_PASSWORD.
	Environ []string
	// DstUser and DstPassword are the role the destination block uses; the
	// cluster superuser unless WithDestinationRole changed it.
	DstUser, DstPassword string
	src, dst             *pgx.Conn
}

// New creates fresh databases for t on both servers; they are dropped when
// the test ends. It fails the test (never skips) when no server can be had.
func New(t testing.TB) *Env {
	t.Helper()
	return newEnv(t, "", "")
}

// NewWithEncodings is New with the source and destination databases in
// the given server encodings ("" for the cluster's, UTF8), created from
// template0 with the C locale, which every encoding accepts.
func NewWithEncodings(t testing.TB, srcEncoding, dstEncoding string) *Env {
	t.Helper()
	return newEnv(t, srcEncoding, dstEncoding)
}

func newEnv(t testing.TB, srcEncoding, dstEncoding string) *Env {
	t.Helper()
	once.Do(start)
	if startErr != nil {
		t.Fatalf("cannot start throwaway PostgreSQL clusters: %v\n%s", startErr, pgcluster.InstallHint)
	}
	suffix := make([]byte, 4)
	_, _ = rand.Read(suffix)
	base := strings.ToLower(t.Name())
	base = strings.Map(func(r rune) rune {
		if (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			return r
		}
		return '_'
	}, base)
	if len(base) > 40 {
		base = base[:40]
	}
	name := base + "_" + hex.EncodeToString(suffix)
	e := &Env{t: t, SrcDB: "s_" + name, DstDB: "d_" + name, Dir: t.TempDir(),
		DstUser: Destination.User, DstPassword: Destination.Password}
	e.Environ = []string{"SRC_PASSWORD=" + Source.Password, "DST_PASSWORD=" + Destination.Password}
	for _, c := range []struct {
		cl      *pgcluster.Cluster
		db, enc string
	}{{Source, e.SrcDB, srcEncoding}, {Destination, e.DstDB, dstEncoding}} {
		admin := connect(t, c.cl, "postgres")
		create := "CREATE DATABASE " + pgx.Identifier{c.db}.Sanitize()
		if c.enc != "" {
			create += " ENCODING '" + strings.ReplaceAll(c.enc, "'", "''") + "' TEMPLATE template0 LC_COLLATE 'C' LC_CTYPE 'C'"
		}
		if _, err := admin.Exec(context.Background(), create); err != nil {
			t.Fatalf("create database %s: %v", c.db, err)
		}
		_ = admin.Close(context.Background())
		cl, db := c.cl, c.db
		t.Cleanup(func() {
			a := connect(t, cl, "postgres")
			defer a.Close(context.Background())
			_ = pgcluster.DropDatabase(context.Background(), a, db)
		})
	}
	e.src = connect(t, Source, e.SrcDB)
	e.dst = connect(t, Destination, e.DstDB)
	t.Cleanup(func() {
		_ = e.src.Close(context.Background())
		_ = e.dst.Close(context.Background())
	})
	return e
}

func connect(t testing.TB, c *pgcluster.Cluster, db string) *pgx.Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg, err := pgx.ParseConfig(c.ConnString(db))
	if err != nil {
		t.Fatalf("connect to %s: %v", db, err)
	}
	// The tests' SQL is UTF-8, whatever the database's encoding.
	cfg.RuntimeParams["client_encoding"] = "UTF8"
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		t.Fatalf("connect to %s: %v", db, err)
	}
	return conn
}

// Src runs SQL on the test's source database as superuser.
func (e *Env) Src(sql string, args ...any) {
	e.t.Helper()
	if _, err := e.src.Exec(context.Background(), sql, args...); err != nil {
		e.t.Fatalf("source: %v\nSQL: %s", err, sql)
	}
}

// Dst runs SQL on the test's destination database as superuser.
func (e *Env) Dst(sql string, args ...any) {
	e.t.Helper()
	if _, err := e.dst.Exec(context.Background(), sql, args...); err != nil {
		e.t.Fatalf("destination: %v\nSQL: %s", err, sql)
	}
}

// DstConn is a superuser connection to the test's destination database.
func (e *Env) DstConn() *pgx.Conn { return e.dst }

// SrcConn is a superuser connection to the test's source database.
func (e *Env) SrcConn() *pgx.Conn { return e.src }

// DstQuery returns the first column of every row of a query on the destination, as text.
func (e *Env) DstQuery(sql string, args ...any) []string {
	e.t.Helper()
	rows, err := e.dst.Query(context.Background(), sql, args...)
	if err != nil {
		e.t.Fatalf("destination: %v\nSQL: %s", err, sql)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		vals, err := rows.Values()
		if err != nil {
			e.t.Fatal(err)
		}
		out = append(out, fmt.Sprint(vals[0]))
	}
	if err := rows.Err(); err != nil {
		e.t.Fatalf("destination: %v\nSQL: %s", err, sql)
	}
	return out
}

// DstDigest is an md5 over every row of a destination table in its text
// form, in a fixed order, with the row count: equal digests mean equal
// contents.
func (e *Env) DstDigest(table string) string {
	e.t.Helper()
	return e.DstQuery(fmt.Sprintf(`SELECT count(*)::text || ':' || coalesce(md5(string_agg(r.t, E'\n' ORDER BY r.t COLLATE "C")), '-')
FROM (SELECT x::text AS t FROM %s AS x) AS r`, table))[0]
}

// WithDestinationRole creates a LOGIN role (named after the test's
// database, so parallel tests do not collide) on the destination server that
// the destination block will use from now on, and returns its name. The
// caller grants it what the test needs.
func (e *Env) WithDestinationRole() string {
	e.t.Helper()
	name := "r_" + e.DstDB
	pw := "pw_" + name
	admin := connect(e.t, Destination, "postgres")
	defer admin.Close(context.Background())
	ident := pgx.Identifier{name}.Sanitize()
	_, _ = admin.Exec(context.Background(), "DROP ROLE IF EXISTS "+ident)
	if _, err := admin.Exec(context.Background(), fmt.Sprintf("CREATE ROLE %s LOGIN PASSWORD '%s'", ident, pw)); err != nil {
		e.t.Fatalf("create role: %v", err)
	}
	e.t.Cleanup(func() {
		a := connect(e.t, Destination, "postgres")
		defer a.Close(context.Background())
		_ = pgcluster.DropDatabase(context.Background(), a, e.DstDB)
		_, _ = a.Exec(context.Background(), "DROP ROLE IF EXISTS "+ident)
	})
	e.DstUser, e.DstPassword = name, pw
	e.Environ = append(e.Environ, "DST_PASSWORD="+pw)
	return name
}

// Servers is the HCL of a destination "postgres" "dst" and a source
// "postgres" "src" pointing at the test's databases.
func (e *Env) Servers() string {
	return fmt.Sprintf(`
destination "postgres" "dst" {
  host     = "127.0.0.1"
  port     = %d
  database = %q
  user     = %q
  password = env("DST_PASSWORD")
  max_connections = 2
}

source "postgres" "src" {
  host     = "127.0.0.1"
  port     = %d
  database = %q
  user     = %q
  password = env("SRC_PASSWORD")
}
`, Destination.Port, e.DstDB, e.DstUser, Source.Port, e.SrcDB, Source.User)
}

// WriteFile writes a file into the configuration directory.
func (e *Env) WriteFile(name, content string) string {
	e.t.Helper()
	p := filepath.Join(e.Dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		e.t.Fatal(err)
	}
	return p
}

// Config writes main.hcl as Servers() plus body and loads it, failing the
// test on any error diagnostic.
func (e *Env) Config(body string) *hclconfig.Config {
	e.t.Helper()
	e.WriteFile("main.hcl", e.Servers()+body)
	cfg, diags := hclconfig.Load(e.Dir, hclconfig.Inputs{Environ: e.Environ})
	if diags.HasErrors() {
		e.t.Fatalf("configuration does not load: %s", diags.Error())
	}
	return cfg
}
