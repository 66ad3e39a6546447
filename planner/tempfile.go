package planner

import (
	"errors"
	"fmt"
	"os"
)

// CodeTempFiles: rowform's own temporary files failed (TMPDIR is full, is
// missing or cannot be written) while planning a sync: neither the source
// nor the destination is at fault.
const CodeTempFiles Code = "temp_files_failed"

// TempFileError is a failure of rowform's temporary files (in TMPDIR),
// where large diffs, CSV rows and change sets spill.
type TempFileError struct {
	// Op says what rowform was doing ("spilling the row diff to disk").
	Op  string
	Err error
}

func (e *TempFileError) Error() string {
	return fmt.Sprintf("%s: %v (rowform's temporary files are in %s; set TMPDIR to a directory with room)", e.Op, e.Err, os.TempDir())
}

func (e *TempFileError) Unwrap() error { return e.Err }

// tempFileErr wraps err, a failure of a temporary file, as a TempFileError
// (nil stays nil).
func tempFileErr(op string, err error) error {
	if err == nil {
		return nil
	}
	var te *TempFileError
	if errors.As(err, &te) {
		return err
	}
	return &TempFileError{Op: op, Err: err}
}

// tempFileFinding is the finding for err when it is a TempFileError.
func tempFileFinding(table string, err error) (Finding, bool) {
	var te *TempFileError
	if !errors.As(err, &te) {
		return Finding{}, false
	}
	return Finding{Severity: SeverityError, Code: CodeTempFiles,
		Summary: fmt.Sprintf("planning %s failed on rowform's own temporary files: %s: %v", table, te.Op, te.Err),
		Detail: fmt.Sprintf("Large diffs, CSV rows and change sets spill to temporary files in TMPDIR (here %s). It is full, missing or not writable: free space there, or set TMPDIR to a directory with room. The databases are not at fault.",
			os.TempDir())}, true
}
