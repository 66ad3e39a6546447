package planner

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/rowform/rowform/internal/safefile"
)

// PlanFileFormat identifies rowform plan files and their version.
const PlanFileFormat = "rowform-plan/1"

// SavedPlan is what `plan -out=FILE` writes: the plan, and what `apply FILE`
// needs to prove it is not stale. It never holds a secret: sensitive
// variables are left out, and sample values of sensitive columns are masked.
type SavedPlan struct {
	// Format is PlanFileFormat; a file with another one is refused.
	Format string `json:"format"`
	// CreatedAt is when the plan was made.
	CreatedAt time.Time `json:"created_at"`
	// ConfigDigest is hclconfig.Config.Digest of the configuration planned.
	ConfigDigest string `json:"config_digest"`
	// Variables are the non-sensitive variable values given at plan time
	// (by -var, -var-file or the environment), as command-line values
	// ("name" -> value as -var would take it). apply reuses them.
	Variables map[string]string `json:"variables,omitempty"`
	// Syncs are the -sync names the plan was limited to, if any.
	Syncs []string `json:"syncs,omitempty"`
	// Plan is the plan as plan made it.
	Plan *Plan `json:"plan"`
}

// WritePlanFile writes sp to path, readable only by its owner. filter, if
// not nil, sees the encoded file last (the CLI masks secrets with it).
//
// The file is replaced atomically: it is written to a new temporary file in
// the same directory, created exclusively (O_EXCL, mode 0600, so nothing
// that already exists there — a symbolic link planted by someone else — is
// followed or reused), synced and renamed over path. On any failure the
// temporary file is removed and path is left as it was.
func WritePlanFile(path string, sp *SavedPlan, filter func([]byte) []byte) (err error) {
	sp.Format = PlanFileFormat
	b, err := json.MarshalIndent(sp, "", "  ")
	if err != nil {
		return err
	}
	if filter != nil {
		b = filter(b)
	}
	return safefile.Write(path, append(b, '\n'))
}

// maxPlanFileBytes bounds what ReadPlanFile reads: far more than any plan
// rowform writes (its samples are bounded), and a bound on a path like
// /dev/zero. A file that is no regular file (a pipe, a device), whose size
// is not known before it is read, is read up to maxStreamedPlanBytes.
const (
	maxPlanFileBytes     = 512 << 20
	maxStreamedPlanBytes = 64 << 20
)

// readPlanBytes reads the file at path, within those bounds, waiting for
// a pipe only as long as ctx allows.
func readPlanBytes(ctx context.Context, path string) ([]byte, error) {
	b, err := safefile.ReadAtMost(ctx, path, maxPlanFileBytes, maxStreamedPlanBytes)
	var tl *safefile.TooLargeError
	if errors.As(err, &tl) {
		return nil, fmt.Errorf("%s, which no rowform plan file is; make the plan again", tl)
	}
	return b, err
}

// ReadPlanFile reads a file written by WritePlanFile. ctx bounds the
// wait for a path that is a pipe nobody writes yet.
func ReadPlanFile(ctx context.Context, path string) (*SavedPlan, error) {
	b, err := readPlanBytes(ctx, path)
	if err != nil {
		var pe *os.PathError
		if errors.As(err, &pe) {
			return nil, fmt.Errorf("cannot read the plan file %s: %s", path, pe.Err)
		}
		return nil, err
	}
	var sp SavedPlan
	if err := json.Unmarshal(b, &sp); err != nil || sp.Format == "" {
		if err != nil && bytes.Contains(b, []byte(`"format": "`+PlanFileFormat+`"`)) {
			return nil, fmt.Errorf("%s is a rowform plan file that is damaged or cut short (%s); make the plan again", path, describeJSONError(err, len(b)))
		}
		return nil, fmt.Errorf("%s is not a rowform plan file", path)
	}
	if sp.Format != PlanFileFormat {
		return nil, fmt.Errorf("%s is a plan file of format %q; this rowform reads %q", path, sp.Format, PlanFileFormat)
	}
	if sp.Plan == nil {
		return nil, fmt.Errorf("%s holds no plan", path)
	}
	// rowform never writes these; a file edited by hand may hold them, and
	// apply must refuse it before it writes anything.
	seen := map[string]bool{}
	for i, s := range sp.Plan.Syncs {
		switch {
		case s == nil:
			return nil, fmt.Errorf("%s is not a plan rowform wrote: sync %d of the plan is empty; make the plan again", path, i+1)
		case s.Name == "":
			return nil, fmt.Errorf("%s is not a plan rowform wrote: sync %d of the plan has no name; make the plan again", path, i+1)
		case seen[s.Name]:
			return nil, fmt.Errorf("%s is not a plan rowform wrote: it plans sync %q twice; make the plan again", path, s.Name)
		}
		seen[s.Name] = true
	}
	return &sp, nil
}

// describeJSONError says where a plan file of n bytes stops being JSON,
// without quoting its content.
func describeJSONError(err error, n int) string {
	var se *json.SyntaxError
	switch {
	case errors.Is(err, io.ErrUnexpectedEOF), errors.As(err, &se) && se.Offset >= int64(n):
		return "it ends before the plan does"
	case se != nil:
		return fmt.Sprintf("invalid JSON at byte %d", se.Offset)
	}
	return "its JSON does not read as a plan"
}
