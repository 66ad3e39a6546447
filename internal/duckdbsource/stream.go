package duckdbsource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"unsafe"

	bindings "github.com/duckdb/duckdb-go-bindings"
)

// The rows of a query are read from a streaming result, chunk by chunk
// (2,048 rows each), so that DuckDB never holds the whole result: the
// Go driver materializes every result before its first row, which for a
// large export would be hundreds of megabytes. This file is the one place
// that uses DuckDB's C API (through duckdb-go-bindings, the driver's own
// bindings) instead of the driver.

// stream is a streaming query on a database instance of its own.
type stream struct {
	db     bindings.Database
	conn   bindings.Connection
	stmt   bindings.PreparedStatement
	res    bindings.Result
	hasRes bool
	chunk  bindings.DataChunk
	size   int
	row    int
	data   []unsafe.Pointer
	valid  []unsafe.Pointer

	// mu guards conn against interrupt from another goroutine while close
	// frees it.
	mu     sync.Mutex
	closed bool
	// unwatch stops interrupting the query when the context is done.
	unwatch func() bool
	// release gives back the search path's alias (acquireDir).
	release func()
}

// openStream opens the database at path (read-only; "" in memory) with
// the settings of Open and runs query, one SELECT whose columns are all
// VARCHAR, as a streaming result. When ctx is done the query is
// interrupted, wherever DuckDB is in it, and next returns ctx's error.
func openStream(ctx context.Context, path, dir, query string) (*stream, error) {
	s := &stream{}
	var cfg bindings.Config
	if bindings.CreateConfig(&cfg) == bindings.StateError {
		return nil, errors.New("cannot configure DuckDB")
	}
	defer bindings.DestroyConfig(&cfg)
	opts := [][2]string{{"temp_directory", os.TempDir()}}
	dbPath := ":memory:"
	if path != "" {
		dbPath = path
		opts = append(opts, [2]string{"access_mode", "READ_ONLY"})
	}
	for _, o := range opts {
		if bindings.SetConfig(cfg, o[0], o[1]) == bindings.StateError {
			return nil, fmt.Errorf("cannot set DuckDB's %s", o[0])
		}
	}
	var errMsg string
	if bindings.OpenExt(dbPath, &s.db, cfg, &errMsg) == bindings.StateError {
		bindings.Close(&s.db)
		return nil, openError(path, errors.New(errMsg))
	}
	if bindings.Connect(s.db, &s.conn) == bindings.StateError {
		s.close()
		return nil, openError(path, errors.New("cannot connect"))
	}
	searchPath, release, err := acquireDir(dir)
	if err != nil {
		s.close()
		return nil, err
	}
	s.release = release
	for _, set := range sessionSettings(searchPath) {
		var res bindings.Result
		state := bindings.Query(s.conn, set, &res)
		msg := bindings.ResultError(&res)
		bindings.DestroyResult(&res)
		if state == bindings.StateError {
			s.close()
			return nil, errors.New(msg)
		}
	}
	if err := s.prepare(query); err != nil {
		s.close()
		return nil, err
	}
	var pending bindings.PendingResult
	if bindings.PendingPreparedStreaming(s.stmt, &pending) == bindings.StateError {
		msg := bindings.PendingError(pending)
		bindings.DestroyPending(&pending)
		s.close()
		return nil, errors.New(msg)
	}
	// ExecutePending (and later FetchChunk) runs until DuckDB has rows to
	// hand on, which for a sort or an aggregate over a large input is the
	// whole input: only an interrupt stops it. It runs at once when ctx is
	// already done, and the interrupt then stops ExecutePending
	// (TestQueryCancelledBefore).
	s.unwatch = context.AfterFunc(ctx, s.interrupt)
	state := bindings.ExecutePending(pending, &s.res)
	bindings.DestroyPending(&pending)
	s.hasRes = true
	if state == bindings.StateError {
		msg := bindings.ResultError(&s.res)
		s.close()
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		return nil, errors.New(msg)
	}
	return s, nil
}

// interrupt stops the running query: DuckDB returns an error from the
// FetchChunk that is running, or the next. It may be called from any
// goroutine, also after close.
func (s *stream) interrupt() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.closed {
		bindings.Interrupt(s.conn)
	}
}

func (s *stream) prepare(query string) error {
	var ext bindings.ExtractedStatements
	n := bindings.ExtractStatements(s.conn, query, &ext)
	defer bindings.DestroyExtracted(&ext)
	if n == 0 {
		return errors.New(bindings.ExtractStatementsError(ext))
	}
	if n != 1 {
		return &NotQueryError{Kind: "several statements"}
	}
	if bindings.PrepareExtractedStatement(s.conn, ext, 0, &s.stmt) == bindings.StateError {
		return errors.New(bindings.PrepareError(s.stmt))
	}
	if bindings.PreparedStatementType(s.stmt) != bindings.StatementTypeSelect {
		return &NotQueryError{}
	}
	cols := int(bindings.PreparedStatementColumnCount(s.stmt))
	for i := range cols {
		if bindings.PreparedStatementColumnType(s.stmt, bindings.IdxT(i)) != bindings.TypeVarchar {
			return fmt.Errorf("internal error: column %d of the text query is not VARCHAR", i+1)
		}
	}
	s.data, s.valid = make([]unsafe.Pointer, cols), make([]unsafe.Pointer, cols)
	return nil
}

// next reads the next row into dst and null, io.EOF after the last.
func (s *stream) next(ctx context.Context, dst []string, null []bool) error {
	for s.row >= s.size {
		if s.chunk.Ptr != nil {
			bindings.DestroyDataChunk(&s.chunk)
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		s.chunk = bindings.FetchChunk(s.res)
		if s.chunk.Ptr == nil {
			if err := ctx.Err(); err != nil {
				// Interrupted (DuckDB's "INTERRUPT Error").
				return err
			}
			if msg := bindings.ResultError(&s.res); msg != "" {
				return errors.New(msg)
			}
			return io.EOF
		}
		s.size, s.row = int(bindings.DataChunkGetSize(s.chunk)), 0
		if s.size == 0 {
			return io.EOF
		}
		for i := range s.data {
			vec := bindings.DataChunkGetVector(s.chunk, bindings.IdxT(i))
			s.data[i], s.valid[i] = bindings.VectorGetData(vec), bindings.VectorGetValidity(vec)
		}
	}
	r := s.row
	for i := range s.data {
		if s.valid[i] != nil && !bindings.ValidityRowIsValid(s.valid[i], bindings.IdxT(r)) {
			dst[i], null[i] = "", true
			continue
		}
		dst[i], null[i] = varcharAt(s.data[i], r), false
	}
	s.row++
	return nil
}

// varcharAt reads row r of a VARCHAR vector: duckdb_string_t, 16 bytes, a
// uint32 length, then the bytes inline when they fit in 12, else a 4-byte
// prefix and a pointer to them.
func varcharAt(data unsafe.Pointer, r int) string {
	p := unsafe.Add(data, r*16)
	n := *(*uint32)(p)
	if n <= 12 {
		return string(unsafe.Slice((*byte)(unsafe.Add(p, 4)), n))
	}
	ptr := *(*unsafe.Pointer)(unsafe.Add(p, 8))
	return strings.Clone(unsafe.String((*byte)(ptr), n))
}

func (s *stream) close() {
	if s.unwatch != nil {
		s.unwatch()
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.closed = true
	if s.chunk.Ptr != nil {
		bindings.DestroyDataChunk(&s.chunk)
	}
	if s.hasRes {
		bindings.DestroyResult(&s.res)
		s.hasRes = false
	}
	bindings.DestroyPrepare(&s.stmt)
	bindings.Disconnect(&s.conn)
	bindings.Close(&s.db)
	if s.release != nil {
		s.release()
		s.release = nil
	}
}
