package duckdbsource

import (
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
)

// Some paths cannot be given to DuckDB as they are: a comma splits
// file_search_path into several directories (DuckDB has no escape for
// it), and the Go driver reads a database's path up to the first '?' of
// its DSN and parses the DSN as a URL, so a '#' drops the options after
// it (access_mode among them) and a '%' fails to parse. Such a directory
// is given to DuckDB as an alias instead: a symbolic link to it, in a
// private temporary directory, whose path holds none of these. Opens of
// one directory share its alias, so that a DuckDB instance two Databases
// share has one search path; the alias is removed when the last of them
// is released.

// dirAlias is the alias of a directory and how many hold it.
type dirAlias struct {
	path string
	refs int
}

var aliases = struct {
	sync.Mutex
	byDir map[string]*dirAlias
}{byDir: map[string]*dirAlias{}}

// plainPath reports whether p can be given to DuckDB as it is, as a
// search path and in the driver's DSN.
func plainPath(p string) bool { return !strings.Contains(p, ",") && dsnPath(p) }

// dsnPath reports whether p can be the path of the driver's DSN: the
// path opened is all of it, and the options after it are all read.
func dsnPath(p string) bool {
	if strings.ContainsAny(p, "?#%") {
		return false
	}
	u, err := url.Parse(p + "?k=v")
	return err == nil && u.RawQuery == "k=v"
}

// acquireDir returns a path of dir DuckDB can be given (dir itself when
// it is plain, else its alias) and the func that releases it; the path
// resolves to dir until then.
func acquireDir(dir string) (string, func(), error) {
	if plainPath(dir) {
		return dir, func() {}, nil
	}
	aliases.Lock()
	defer aliases.Unlock()
	a := aliases.byDir[dir]
	if a == nil {
		p, err := makeAlias(dir)
		if err != nil {
			return "", nil, err
		}
		a = &dirAlias{path: p}
		aliases.byDir[dir] = a
	}
	a.refs++
	var once sync.Once
	return a.path, func() { once.Do(func() { releaseDir(dir) }) }, nil
}

// makeAlias creates a symbolic link to dir in a new private temporary
// directory and returns its path.
func makeAlias(dir string) (string, error) {
	tmp, err := os.MkdirTemp("", "rowform-duckdb-")
	if err != nil {
		return "", fmt.Errorf("cannot give DuckDB the directory %s (its path holds a comma, '?', '#' or '%%'): %w", dir, err)
	}
	link := filepath.Join(tmp, "dir")
	if !plainPath(link) {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("cannot give DuckDB the directory %s: its path holds a comma, '?', '#' or '%%', and so does the temporary directory %s; set TMPDIR to a directory without them", dir, os.TempDir())
	}
	if err := os.Symlink(dir, link); err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("cannot give DuckDB the directory %s (its path holds a comma, '?', '#' or '%%'): %w", dir, err)
	}
	return link, nil
}

// releaseDir gives back one hold on dir's alias, removing it after the
// last.
func releaseDir(dir string) {
	aliases.Lock()
	defer aliases.Unlock()
	a := aliases.byDir[dir]
	if a == nil {
		return
	}
	if a.refs--; a.refs > 0 {
		return
	}
	delete(aliases.byDir, dir)
	// The link and its private directory; never what the link points at.
	_ = os.RemoveAll(filepath.Dir(a.path))
}

// aliasedDir is the directory p is the alias of, or p when it is none.
func aliasedDir(p string) string {
	aliases.Lock()
	defer aliases.Unlock()
	for dir, a := range aliases.byDir {
		if a.path == p {
			return dir
		}
	}
	return p
}

// acquireDatabasePath returns a path of the database file at path that
// the driver's DSN carries (path itself, or the file in its directory's
// alias) and the func that releases it. A file whose own name holds '?',
// '#' or '%' cannot be aliased without renaming its catalog: it is an
// error that says to rename it.
func acquireDatabasePath(path string) (string, func(), error) {
	if dsnPath(path) {
		return path, func() {}, nil
	}
	dir, name := filepath.Split(path)
	if !dsnPath(name) {
		return "", nil, fmt.Errorf("cannot open the DuckDB database %s: DuckDB's Go driver cannot open a file whose name holds '?', '#' or '%%'; rename the file", path)
	}
	d, release, err := acquireDir(filepath.Clean(dir))
	if err != nil {
		return "", nil, err
	}
	return filepath.Join(d, name), release, nil
}
