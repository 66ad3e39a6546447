// Package rftest runs rowform's tests of syncs (`rowform test`), the way
// `terraform test` tests modules.
//
// A configuration's tests are the *.rftest.hcl files of its tests/
// directory. Each file declares fixtures (the rows of source and
// destination tables, the contents of CSV sources), then runs: a plan or an
// apply of some syncs, with expectations on the plan (counts, finding
// codes) and on the tables afterwards. docs/testing.md describes the
// language.
//
// Every test file gets fresh databases on one throwaway PostgreSQL server
// (internal/pgcluster: initdb on PATH or in the usual places, or the server
// of ROWFORM_TEST_PG_URL): one database per server block of the
// configuration. The configuration is loaded as plan loads it, then each
// server block is pointed at its test database, and each csv source with a
// fixture at a temporary copy of its content. Plans and applies are the
// real planner and executor.
package rftest

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclwrite"
	"github.com/jackc/pgx/v5"
	"github.com/rowform/rowform/executor"
	"github.com/rowform/rowform/hclconfig"
	"github.com/rowform/rowform/internal/pgcluster"
	"github.com/rowform/rowform/internal/suggest"
	"github.com/rowform/rowform/planner"
	"github.com/zclconf/go-cty/cty"
)

// Options configure Run.
type Options struct {
	// Dir is the configuration directory.
	Dir string
	// Filter limits the run to the test files it names: a file's path
	// relative to Dir ("tests/users.rftest.hcl"), its base name, or its
	// base name without ".rftest.hcl". Empty runs every file.
	Filter []string
	// Environ is the environment the configuration is loaded with (env()
	// values). ROWFORM_VAR_<name> values are left out: a test's variables
	// come from its file alone.
	Environ []string
	// Log receives a line when the PostgreSQL server starts.
	Log io.Writer
	// OnFile is called when a test file starts, OnRun after each of its
	// runs, and OnFileDone after the file, with its result.
	OnFile     func(path string)
	OnRun      func(path string, r *RunResult)
	OnFileDone func(f *FileResult)
	// AddSecrets receives the secrets of the configuration and of the test
	// server, for output to mask.
	AddSecrets func(secrets ...string)
	// Server, when set, is a running server to test on instead of one that
	// Run starts and removes; Run leaves it running.
	Server *pgcluster.Cluster
}

// Status is the outcome of a run.
type Status string

// Run outcomes.
const (
	// StatusPass: every expectation held.
	StatusPass Status = "pass"
	// StatusFail: an expectation did not hold (Failures say which).
	StatusFail Status = "fail"
	// StatusError: the run could not be carried out (a fixture did not
	// load, the configuration did not load).
	StatusError Status = "error"
	// StatusSkip: not run, because an earlier run of the file could not be
	// carried out.
	StatusSkip Status = "skip"
)

// Result is the outcome of Run.
type Result struct {
	Files    []*FileResult
	Duration time.Duration
	// Stopped is why the tests stopped before every file ran (the error
	// Run returns); nil when they all ran.
	Stopped error
}

// Counts returns how many runs passed, failed (or errored) and were
// skipped, and how many files could not be run at all.
func (r *Result) Counts() (passed, failed, skipped, fileErrors int) {
	for _, f := range r.Files {
		if f.Failed() && len(f.Runs) == 0 {
			fileErrors++
		}
		for _, run := range f.Runs {
			switch run.Status {
			case StatusPass:
				passed++
			case StatusSkip:
				skipped++
			default:
				failed++
			}
		}
	}
	return
}

// Passed reports whether every run of every file passed.
func (r *Result) Passed() bool {
	for _, f := range r.Files {
		if f.Failed() {
			return false
		}
	}
	return true
}

// FileResult is the outcome of one test file.
type FileResult struct {
	Path string
	// Diags are problems of the test file or of the configuration; with
	// an error among them, no run was carried out. Files holds the parsed
	// files for their snippets.
	Diags hcl.Diagnostics
	Files map[string]*hcl.File
	// Err is a failure of the file's setup (its fixtures), or of its
	// teardown.
	Err      error
	Runs     []*RunResult
	Duration time.Duration
}

// Failed reports whether the file did not pass.
func (f *FileResult) Failed() bool {
	if f.Err != nil || f.Diags.HasErrors() {
		return true
	}
	for _, r := range f.Runs {
		if r.Status != StatusPass {
			return true
		}
	}
	return false
}

// RunResult is the outcome of one run.
type RunResult struct {
	Name   string
	Status Status
	// Failures say, one message each, which expectations did not hold.
	Failures []string
	// Err says why a run could not be carried out (StatusError), or was
	// skipped.
	Err error
	// Plan is the run's plan (nil when it was not made).
	Plan     *planner.Plan
	Duration time.Duration
}

// Run runs the tests of opts.Dir. The error is for tests that cannot run
// at all, or stopped before every file ran: no test files, a filter that
// matches none, no PostgreSQL server, an interrupt. The Result is never
// nil: with an error it holds the files that ran and says why the rest did
// not (Stopped). Failing tests are in the Result.
func Run(ctx context.Context, opts Options) (*Result, error) {
	start := time.Now()
	res := &Result{}
	stop := func(err error) (*Result, error) {
		res.Duration, res.Stopped = time.Since(start), err
		return res, err
	}
	dir, err := filepath.Abs(opts.Dir)
	if err != nil {
		return stop(err)
	}
	files, err := FindFiles(dir)
	if err != nil || len(files) == 0 {
		return stop(fmt.Errorf("no test files: put *%s files in %s (see docs/testing.md)", FileSuffix, filepath.Join(opts.Dir, Dir)))
	}
	if files, err = filterFiles(files, opts.Filter); err != nil {
		return stop(err)
	}
	environ := make([]string, 0, len(opts.Environ))
	for _, kv := range opts.Environ {
		if !strings.HasPrefix(kv, hclconfig.EnvVarPrefix) {
			environ = append(environ, kv)
		}
	}
	t := &tester{opts: opts, dir: dir, environ: environ, ps: newParser(dir, environ)}
	defer t.close()
	for _, path := range files {
		if err := ctx.Err(); err != nil {
			return stop(err)
		}
		if opts.OnFile != nil {
			opts.OnFile(path)
		}
		fr, err := t.runFile(ctx, path)
		if err != nil {
			return stop(err)
		}
		res.Files = append(res.Files, fr)
		if opts.OnFileDone != nil {
			opts.OnFileDone(fr)
		}
	}
	res.Duration = time.Since(start)
	return res, nil
}

// filterFiles keeps the files that filter names.
func filterFiles(files, filter []string) ([]string, error) {
	if len(filter) == 0 {
		return files, nil
	}
	var out []string
	for _, want := range filter {
		found := false
		for _, f := range files {
			base := filepath.Base(f)
			if want == f || filepath.Clean(want) == f || want == base || want+FileSuffix == base {
				found = true
				if !slices.Contains(out, f) {
					out = append(out, f)
				}
			}
		}
		if !found {
			return nil, fmt.Errorf("-filter=%s matches no test file; the test files are: %s", want, strings.Join(files, ", "))
		}
	}
	slices.Sort(out)
	return out, nil
}

// tester runs the test files of one configuration on one server.
type tester struct {
	opts    Options
	dir     string
	environ []string
	ps      *parser
	cluster *pgcluster.Cluster
	// sslmode is how the servers are reached: "disable" on a throwaway
	// cluster, the URL's with ROWFORM_TEST_PG_URL; sslrootcert the URL's
	// certificate authority, to verify the server's certificate with.
	sslmode, sslrootcert string
	// settings are the URL's other connection settings (sslcert, sslkey,
	// options, ...) and sslpassword its key's passphrase, for the syncs to
	// reach the server as the tests' own connections do.
	settings    map[string]string
	sslpassword hclconfig.Secret
}

func (t *tester) close() {
	if t.cluster != nil && t.cluster != t.opts.Server {
		_ = t.cluster.Close()
	}
}

// server starts the PostgreSQL server, once.
func (t *tester) server(ctx context.Context) (*pgcluster.Cluster, error) {
	if t.cluster != nil {
		return t.cluster, nil
	}
	c := t.opts.Server
	if c == nil {
		sctx, cancel := context.WithTimeout(ctx, 2*time.Minute)
		defer cancel()
		var err error
		if c, err = pgcluster.Start(sctx, pgcluster.Options{}); err != nil {
			if ctx.Err() != nil {
				// Ctrl-C, not a missing server: no install hint, no log.
				return nil, fmt.Errorf("interrupted while starting the throwaway PostgreSQL server (nothing was left behind): %w", ctx.Err())
			}
			if os.Getenv(pgcluster.EnvURL) != "" {
				// Not a missing server: the one the URL names.
				return nil, fmt.Errorf("rowform test needs a PostgreSQL server: %w\nTo fix this, correct %s (a role that may create databases), or unset it to have rowform test start a throwaway server", err, pgcluster.EnvURL)
			}
			return nil, fmt.Errorf("rowform test needs a PostgreSQL server: %w\nTo fix this, %s", err, pgcluster.InstallHint)
		}
	}
	t.cluster = c
	if t.opts.AddSecrets != nil {
		t.opts.AddSecrets(c.Password)
	}
	t.sslmode = "disable"
	if os.Getenv(pgcluster.EnvURL) != "" {
		t.sslmode = "prefer"
		if err := t.useURLSettings(c.ConnString("")); err != nil {
			return nil, err
		}
		if t.opts.Log != nil {
			fmt.Fprintf(t.opts.Log, "Testing on the server of %s (%s:%d), in databases dropped afterwards.\n", pgcluster.EnvURL, c.Host, c.Port)
		}
	} else if t.opts.Log != nil {
		fmt.Fprintf(t.opts.Log, "Testing on a throwaway PostgreSQL server (127.0.0.1:%d), removed afterwards.\n", c.Port)
	}
	return c, nil
}

// useURLSettings takes the connection settings of raw, the server's URL,
// for the syncs: all but the server, the role and the database, which the
// cluster gives (point).
func (t *tester) useURLSettings(raw string) error {
	settings, err := urlSettings(raw)
	if err != nil {
		return fmt.Errorf("%s: %w", pgcluster.EnvURL, err)
	}
	t.settings = map[string]string{}
	for k, v := range settings {
		switch k {
		case "sslmode":
			if v != "" {
				t.sslmode = v
			}
		case "sslrootcert":
			t.sslrootcert = v
		case "sslpassword":
			t.sslpassword = hclconfig.NewSecret(v)
			if t.opts.AddSecrets != nil {
				t.opts.AddSecrets(v)
			}
		case "host", "port", "database", "user", "password", "passfile":
		default:
			t.settings[k] = v
		}
	}
	return nil
}

// urlSettings are the settings of a postgres:// URL's query, as the driver
// reads them: each keyword and value percent-decoded ('+' is no space),
// the last of a repeated keyword, dbname as database, and ssl=true as
// sslmode=require when no sslmode is given. No error quotes a value.
func urlSettings(raw string) (map[string]string, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, errors.New("not a valid URL")
	}
	out := map[string]string{}
	for _, pair := range strings.Split(u.RawQuery, "&") {
		if pair == "" {
			continue
		}
		rawKey, rawValue, _ := strings.Cut(pair, "=")
		k, kerr := url.PathUnescape(rawKey)
		v, verr := url.PathUnescape(rawValue)
		if kerr != nil || verr != nil {
			return nil, fmt.Errorf("the setting %q of the URL is not validly percent-encoded", rawKey)
		}
		if k == "dbname" {
			k = "database"
		}
		out[k] = v
	}
	if out["ssl"] == "true" {
		delete(out, "ssl")
		if _, ok := out["sslmode"]; !ok {
			out["sslmode"] = "require"
		}
	}
	return out, nil
}

// fileRun is the state of one test file: its databases, its CSV files,
// its configuration.
type fileRun struct {
	t    *tester
	file *File
	// dbs maps each server address ("destination.postgres.crm") to its
	// test database.
	dbs map[string]string
	// csvPaths maps csv source addresses ("source.csv.users") to the file
	// with their fixture content.
	csvPaths map[string]string
	tmp      string
	cfg      *hclconfig.Config
}

// runFile runs one test file. The error is for a server that cannot be
// had; everything else is in the result.
func (t *tester) runFile(ctx context.Context, path string) (*FileResult, error) {
	start := time.Now()
	fr := &FileResult{Path: path}
	defer func() { fr.Duration = time.Since(start) }()
	file, diags := t.ps.parseFile(path)
	fr.Files = t.ps.Files()
	fr.Diags = append(fr.Diags, diags...)
	if diags.HasErrors() {
		return fr, nil
	}
	f := &fileRun{t: t, file: file, dbs: map[string]string{}, csvPaths: map[string]string{}}
	cfg, diags := f.load(nil)
	fr.Diags = append(fr.Diags, diags...)
	for name, fl := range cfg.Files {
		fr.Files[name] = fl
	}
	if diags.HasErrors() {
		return fr, nil
	}
	f.cfg = cfg
	if d := f.checkFixtures(file.Fixtures); d.HasErrors() {
		fr.Diags = append(fr.Diags, d...)
		return fr, nil
	}
	for _, r := range file.Runs {
		if d := f.checkFixtures(r.Fixtures); d.HasErrors() {
			fr.Diags = append(fr.Diags, d...)
		}
		fr.Diags = append(fr.Diags, f.checkServers(r)...)
		fr.Diags = append(fr.Diags, f.checkRunVariables(r)...)
	}
	if fr.Diags.HasErrors() {
		return fr, nil
	}
	c, err := t.server(ctx)
	if err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp("", "rowform-test-*")
	if err != nil {
		fr.Err = err
		return fr, nil
	}
	f.tmp = tmp
	defer os.RemoveAll(tmp)
	if err := f.createDatabases(ctx, c); err != nil {
		fr.Err = err
		return fr, nil
	}
	defer func() {
		if err := f.dropDatabases(c); err != nil && fr.Err == nil {
			fr.Err = err
		}
	}()
	if err := f.loadFixtures(ctx, file.Fixtures, false); err != nil {
		fr.Err = fmt.Errorf("loading the fixtures: %w", err)
		return fr, nil
	}
	broken := ""
	for _, r := range file.Runs {
		var rr *RunResult
		if broken != "" {
			rr = &RunResult{Name: r.Name, Status: StatusSkip, Err: fmt.Errorf("run %q could not be carried out", broken)}
		} else {
			rr = f.run(ctx, r)
			if rr.Status == StatusError {
				broken = r.Name
			}
		}
		fr.Runs = append(fr.Runs, rr)
		if t.opts.OnRun != nil {
			t.opts.OnRun(path, rr)
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
	}
	return fr, nil
}

// load loads the configuration with the file's variables and then those
// of run r (nil: the file's alone), as a -var-file would give them, and the
// test's environment. Variables the configuration does not declare, and
// values it refuses, are errors of the test file, shown where it sets them.
func (f *fileRun) load(r *RunBlock) (*hclconfig.Config, hcl.Diagnostics) {
	vars := maps.Clone(f.file.Variables)
	if vars == nil {
		vars = map[string]cty.Value{}
	}
	ranges := maps.Clone(f.file.VarRanges)
	if r != nil {
		maps.Copy(vars, r.Variables)
		maps.Copy(ranges, r.VarRanges)
	}
	in := hclconfig.Inputs{Environ: f.t.environ, AllowUnset: true}
	var diags hcl.Diagnostics
	// One file per variable, so that a problem with a value (a string for
	// a number) is told of the variable, at its place in the test file,
	// rather than at a line of a temporary file that is gone.
	varFiles := map[string]string{} // path -> variable
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		vf := hclwrite.NewEmptyFile()
		vf.Body().SetAttributeValue(name, vars[name])
		tmp, err := os.CreateTemp("", "rowform-test-*"+hclconfig.VarFileSuffix)
		if err != nil {
			return &hclconfig.Config{}, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot write the test's variables", Detail: err.Error()}}
		}
		defer os.Remove(tmp.Name())
		_, err = tmp.Write(vf.Bytes())
		if cerr := tmp.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return &hclconfig.Config{}, hcl.Diagnostics{{Severity: hcl.DiagError, Summary: "Cannot write the test's variables", Detail: err.Error()}}
		}
		in.VarFiles = append(in.VarFiles, tmp.Name())
		varFiles[tmp.Name()] = name
	}
	cfg, cdiags := hclconfig.Load(f.t.dir, in)
	if f.t.opts.AddSecrets != nil {
		f.t.opts.AddSecrets(cfg.Secrets()...)
	}
	for _, d := range cdiags {
		// The variables' file is the test's own; its undeclared variables
		// are reported below, against the test file.
		if d.Severity == hcl.DiagWarning && d.Summary == "Value for undeclared variable" {
			continue
		}
		for path, name := range varFiles {
			if (d.Subject == nil || d.Subject.Filename != path) && !strings.Contains(d.Detail, path) {
				continue
			}
			d.Detail = strings.ReplaceAll(d.Detail, "-var-file="+path, "test file "+f.file.Path)
			d.Detail = strings.ReplaceAll(d.Detail, path, f.file.Path)
			d.Subject, d.Context, d.Expression, d.EvalContext = nil, nil, nil, nil
			if rng, ok := ranges[name]; ok {
				d.Subject = &rng
			}
		}
		diags = append(diags, d)
	}
	if u := f.undeclaredVariables(cfg, vars, ranges); len(u) > 0 && !diags.HasErrors() {
		diags = append(diags, u[0])
	}
	if diags.HasErrors() {
		return cfg, diags
	}
	if r == nil && slices.ContainsFunc(f.file.Runs, func(r *RunBlock) bool { return len(r.Variables) > 0 }) {
		// A value a sync needs may come from the runs' variables: each
		// run's load checks it, with them.
		return cfg, diags
	}
	for _, s := range cfg.Syncs {
		if s.Table.Name == "" || len(s.Key) == 0 || (s.Source.Type == hclconfig.SourcePostgres && s.Query == "") ||
			(s.Source.Type == hclconfig.SourceCSV && s.Source.CSV.Path == "" && !f.hasCSVFixture("source."+s.Source.Address())) {
			rng := s.DeclRange
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "A sync depends on a value the test does not give",
				Detail:  fmt.Sprintf("The table, key, query or CSV path of sync %q comes from a variable or env() without a value. Give the variable a value in the test file's variables block, or in the run's.", s.Name),
				Subject: &rng})
		}
	}
	return cfg, diags
}

// hasCSVFixture reports whether the file gives the content of the csv
// source addr, for the whole file or in a run.
func (f *fileRun) hasCSVFixture(addr string) bool {
	fixtures := slices.Clone(f.file.Fixtures)
	for _, r := range f.file.Runs {
		fixtures = append(fixtures, r.Fixtures...)
	}
	for _, fx := range fixtures {
		if fx.CSV != nil && fx.Address() == addr {
			return true
		}
	}
	return false
}

// checkFixtures checks that every fixture is for a block of the
// configuration.
func (f *fileRun) checkFixtures(fixtures []*Fixture) hcl.Diagnostics {
	var diags hcl.Diagnostics
	for _, fx := range fixtures {
		var known []string
		ok := false
		switch fx.Kind {
		case "destination":
			_, ok = f.cfg.Destinations[fx.Type+"."+fx.Name]
			for a := range f.cfg.Destinations {
				known = append(known, "destination."+a)
			}
		case "source":
			_, ok = f.cfg.Sources[fx.Type+"."+fx.Name]
			for a := range f.cfg.Sources {
				known = append(known, "source."+a)
			}
		}
		if !ok {
			slices.Sort(known)
			rng := fx.Range
			diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Fixture for an undeclared block",
				Detail: fmt.Sprintf("The configuration has no %s %q %q. Its %ss are: %s.", fx.Kind, fx.Type, fx.Name, fx.Kind, strings.Join(known, ", ")), Subject: &rng})
		}
	}
	return diags
}

// checkServers checks that the server of every expect_table of run r is a
// server of the configuration.
func (f *fileRun) checkServers(r *RunBlock) hcl.Diagnostics {
	var diags hcl.Diagnostics
	all := servers(f.cfg)
	for _, e := range r.ExpectTables {
		if _, ok := all[e.Server]; e.Server == "" || ok {
			continue
		}
		rng := e.ServerRange
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Unknown server",
			Detail:  fmt.Sprintf("The configuration has no %s. Its PostgreSQL servers are: %s.", e.Server, strings.Join(slices.Sorted(maps.Keys(all)), ", ")),
			Subject: &rng})
	}
	return diags
}

// checkRunVariables checks that run r sets only variables the
// configuration declares, as the file's are checked, before any run.
func (f *fileRun) checkRunVariables(r *RunBlock) hcl.Diagnostics {
	return f.undeclaredVariables(f.cfg, r.Variables, r.VarRanges)
}

// undeclaredVariables is an error, in name order, for each of vars that
// cfg does not declare, at the place ranges gives it in the test file.
func (f *fileRun) undeclaredVariables(cfg *hclconfig.Config, vars map[string]cty.Value, ranges map[string]hcl.Range) hcl.Diagnostics {
	var diags hcl.Diagnostics
	declared := slices.Sorted(maps.Keys(cfg.Variables))
	for _, name := range slices.Sorted(maps.Keys(vars)) {
		if _, ok := cfg.Variables[name]; ok {
			continue
		}
		var subject *hcl.Range
		if rng, ok := ranges[name]; ok {
			subject = &rng
		}
		diags = append(diags, &hcl.Diagnostic{Severity: hcl.DiagError, Summary: "Value for undeclared variable",
			Detail:  fmt.Sprintf("The test file %s sets the variable %q, which the configuration does not declare.%s", f.file.Path, name, suggest.DidYouMean(name, declared)),
			Subject: subject})
	}
	return diags
}

// servers lists the configuration's PostgreSQL servers by address
// ("destination.postgres.crm", "source.postgres.warehouse"), sorted.
func servers(cfg *hclconfig.Config) map[string]*hclconfig.Server {
	out := map[string]*hclconfig.Server{}
	for a, s := range cfg.Destinations {
		out["destination."+a] = s
	}
	for a, s := range cfg.Sources {
		if s.Server != nil {
			out["source."+a] = s.Server
		}
	}
	return out
}

// createDatabases creates one database per server of the configuration.
func (f *fileRun) createDatabases(ctx context.Context, c *pgcluster.Cluster) error {
	admin, err := pgx.Connect(ctx, c.ConnString(""))
	if err != nil {
		return fmt.Errorf("connecting to the test server: %w", err)
	}
	defer admin.Close(context.WithoutCancel(ctx))
	b := make([]byte, 4)
	_, _ = rand.Read(b)
	prefix := "rftest_" + hex.EncodeToString(b)
	for i, addr := range slices.Sorted(maps.Keys(servers(f.cfg))) {
		db := fmt.Sprintf("%s_%d", prefix, i+1)
		if _, err := admin.Exec(ctx, "CREATE DATABASE "+pgx.Identifier{db}.Sanitize()); err != nil {
			return fmt.Errorf("creating the test database for %s: %w", addr, err)
		}
		f.dbs[addr] = db
	}
	return nil
}

func (f *fileRun) dropDatabases(c *pgcluster.Cluster) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	admin, err := pgx.Connect(ctx, c.ConnString(""))
	if err != nil {
		return fmt.Errorf("removing the test databases: %w", err)
	}
	defer admin.Close(ctx)
	var errs []error
	for _, db := range f.dbs {
		if err := pgcluster.DropDatabase(ctx, admin, db); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// point points the configuration at the test databases and fixture files.
func (f *fileRun) point(cfg *hclconfig.Config) {
	c := f.t.cluster
	for addr, s := range servers(cfg) {
		s.Host, s.Port, s.User = c.Host, c.Port, c.User
		s.Password = hclconfig.NewSecret(c.Password)
		s.Database = f.dbs[addr]
		s.SSLMode, s.SSLRootCert, s.SSHTunnel = f.t.sslmode, f.t.sslrootcert, nil
		s.Settings, s.SSLPassword = f.t.settings, f.t.sslpassword
	}
	for a, s := range cfg.Sources {
		if p, ok := f.csvPaths["source."+a]; ok && s.CSV != nil {
			s.CSV.Path = p
		}
	}
}

// readsTheClock reports whether a sync of p has the warning
// volatile_source: its source query's values come from the clock or
// chance, so no saved plan of it applies.
func readsTheClock(p *planner.Plan) bool {
	for _, sp := range p.Syncs {
		for _, f := range sp.Findings {
			if f.Code == planner.CodeVolatileSource {
				return true
			}
		}
	}
	return false
}

// run carries out one run.
func (f *fileRun) run(ctx context.Context, r *RunBlock) *RunResult {
	start := time.Now()
	rr := &RunResult{Name: r.Name}
	defer func() { rr.Duration = time.Since(start) }()
	fail := func(err error) *RunResult {
		rr.Status, rr.Err = StatusError, err
		return rr
	}
	if err := f.loadFixtures(ctx, r.Fixtures, true); err != nil {
		return fail(fmt.Errorf("loading the run's fixtures: %w", err))
	}
	cfg, diags := f.load(r)
	if diags.HasErrors() {
		return fail(fmt.Errorf("the configuration does not load: %s", diags.Error()))
	}
	f.point(cfg)
	if _, _, err := planner.SelectSyncs(cfg, r.Syncs); err != nil {
		return fail(fmt.Errorf("syncs at %s:%d: %w", r.SyncsRange.Filename, r.SyncsRange.Start.Line, err))
	}
	p, err := planner.Compute(ctx, cfg, planner.Options{Syncs: r.Syncs, Environ: f.t.environ})
	if err != nil {
		return fail(fmt.Errorf("plan: %w", err))
	}
	rr.Plan = p
	rr.Failures = append(rr.Failures, checkPlan(r, p)...)
	if r.Command == "apply" && p.Applyable && (p.HasChanges() || p.Summary.Reject > 0) {
		opts := executor.Options{Environ: f.t.environ}
		var res *executor.Result
		if readsTheClock(p) {
			// Every saved plan of such a sync is stale at its apply: it
			// is applied as it can be, planned again in the apply's
			// transaction (apply -auto-approve).
			var err error
			if _, res, err = executor.PlanAndApply(ctx, cfg, r.Syncs, opts); err != nil {
				return fail(fmt.Errorf("apply: %w", err))
			}
		} else {
			res = executor.Apply(ctx, cfg, p, opts)
		}
		for _, s := range res.Syncs {
			if s.Err != nil {
				rr.Failures = append(rr.Failures, fmt.Sprintf("apply: sync %q %s: %s", s.Name, s.Status, s.Err))
			}
		}
	}
	same := map[hclconfig.TableName]int{}
	for _, e := range r.ExpectTables {
		same[e.Table]++
	}
	for _, e := range r.ExpectTables {
		fails, err := f.checkTable(ctx, cfg, e, same[e.Table] > 1)
		if err != nil {
			return fail(fmt.Errorf("expect_table %q: %w", e.Table.String(), err))
		}
		rr.Failures = append(rr.Failures, fails...)
	}
	rr.Status = StatusPass
	if len(rr.Failures) > 0 {
		rr.Status = StatusFail
	}
	return rr
}
