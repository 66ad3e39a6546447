// Package safefile replaces a file atomically: the new contents go to a
// temporary file created exclusively (O_EXCL, mode 0600) in the target's
// directory, which is synced and renamed over the target. Nothing at a
// predictable temporary name is followed or reused, and on any failure the
// temporary file is removed and the target is left as it was. A target that
// is no regular file to replace — a device, a FIFO or a socket (/dev/null,
// /dev/stdout into a pipe), or anything under /dev or /proc — is written
// where it is instead (appended to), never replaced.
package safefile

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// CheckWritable reports whether path could be replaced now: it is not a
// directory, and its directory takes a new file (one is created
// exclusively, as Write creates its temporary file, and removed at once).
// Callers that write path only after other work check it first, so that
// the work is not done for a file that cannot be written.
func CheckWritable(path string) error {
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a directory", path)
	}
	if inPlace(path) {
		return nil
	}
	tmp, err := createTemp(path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			// Name the directory, not the temporary file the user never named.
			return fmt.Errorf("directory %s: %w", filepath.Dir(path), pe.Err)
		}
		return err
	}
	name := tmp.Name()
	_ = tmp.Close()
	return os.Remove(name)
}

// inPlace reports whether path is written where it is rather than
// replaced: it is, after following links, a device, a FIFO or a socket, or
// it lies under /dev or /proc (/dev/stdout of a command whose output goes to
// a file), which belong to the system. Replacing /dev/null with a plan, as
// a rename over it would, breaks it for every process of the machine.
func inPlace(path string) bool {
	if abs, err := filepath.Abs(path); err == nil {
		for _, dir := range []string{"/dev/", "/proc/"} {
			if strings.HasPrefix(abs, dir) {
				return true
			}
		}
	}
	fi, err := os.Stat(path)
	return err == nil && !fi.Mode().IsRegular() && !fi.IsDir()
}

// writeInPlace appends what write writes to path, as it is.
func writeInPlace(path string, write func(w io.Writer) error) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 256<<10)
	if err := write(w); err != nil {
		_ = f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}

// createTemp creates, exclusively and with mode 0600, the temporary file
// that is to replace path, in path's directory.
func createTemp(path string) (*os.File, error) {
	return os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".*.tmp")
}

// Write replaces path with data.
func Write(path string, data []byte) error {
	return WriteFrom(path, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFrom replaces path with what write writes, for contents too large to
// hold in memory. The writer is buffered; when write returns an error,
// path is left as it was and that error is returned.
func WriteFrom(path string, write func(w io.Writer) error) (err error) {
	if inPlace(path) {
		return writeInPlace(path, write)
	}
	tmp, err := createTemp(path)
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			_ = tmp.Close()
			_ = os.Remove(tmp.Name())
		}
	}()
	w := bufio.NewWriterSize(tmp, 256<<10)
	if err = write(w); err != nil {
		return err
	}
	if err = w.Flush(); err != nil {
		return err
	}
	if err = tmp.Sync(); err != nil {
		return err
	}
	if err = tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// TooLargeError is the error of ReadAtMost for a file past its bound.
type TooLargeError struct {
	Path  string
	Limit int64 // the bound it is past, in bytes
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("%s is larger than %d MB", e.Path, e.Limit>>20)
}

// ReadAtMost reads the file at path, or fails with a *TooLargeError when
// it holds more than limit bytes (a regular file's size is checked before
// reading), or more than streamLimit from anything else (a pipe, a device
// like /dev/zero), without reading further: such a file may be endless.
//
// A FIFO blocks in open until a writer opens it, and a pipe or device in
// read until it writes; ReadAtMost waits for them only as long as ctx
// allows (a signal's cancellation ends the wait), and a regular file is
// read at once whatever ctx says.
func ReadAtMost(ctx context.Context, path string, limit, streamLimit int64) ([]byte, error) {
	if fi, err := os.Stat(path); err == nil && fi.Mode().IsRegular() {
		return readAtMost(path, limit, streamLimit)
	}
	type result struct {
		b   []byte
		err error
	}
	done := make(chan result, 1)
	go func() {
		// Left blocked when ctx ends first; the process is on its way out.
		b, err := readAtMost(path, limit, streamLimit)
		done <- result{b, err}
	}()
	select {
	case r := <-done:
		return r.b, r.err
	case <-ctx.Done():
		return nil, fmt.Errorf("interrupted while waiting for %s to be written (a pipe or device, not a file): %w", path, context.Cause(ctx))
	}
}

func readAtMost(path string, limit, streamLimit int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	max := streamLimit
	if fi, err := f.Stat(); err == nil && fi.Mode().IsRegular() {
		max = limit
		if fi.Size() > max {
			return nil, &TooLargeError{path, max}
		}
	}
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, &TooLargeError{path, max}
	}
	return b, nil
}
