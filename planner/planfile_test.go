package planner

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestWritePlanFileSafely: plan -out=FILE never follows or reuses what
// already sits at FILE.tmp (a symbolic link to another file, a file with a
// wide mode), always leaves FILE readable only by its owner, and leaves no
// temporary file behind when it fails.
func TestWritePlanFileSafely(t *testing.T) {
	dir := t.TempDir()
	sp := func() *SavedPlan { return &SavedPlan{Plan: &Plan{FormatVersion: FormatVersion}} }
	entries := func(d string) []string {
		t.Helper()
		es, err := os.ReadDir(d)
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, e := range es {
			names = append(names, e.Name())
		}
		return names
	}

	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("precious\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "p.plan")
	if err := os.Symlink(victim, path+".tmp"); err != nil {
		t.Fatal(err)
	}
	if err := WritePlanFile(path, sp(), nil); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "precious\n" {
		t.Errorf("the file the symbolic link at FILE.tmp points to was overwritten: %q", b)
	}
	st, err := os.Lstat(path)
	if err != nil {
		t.Fatal(err)
	}
	if !st.Mode().IsRegular() || st.Mode().Perm() != 0o600 {
		t.Errorf("the plan file is %v, want a regular file with mode 0600", st.Mode())
	}
	if _, err := ReadPlanFile(context.Background(), path); err != nil {
		t.Error(err)
	}

	// A file planted at FILE.tmp with a wide mode is not reused; an
	// existing FILE with a wide mode is replaced by one of mode 0600.
	wide := filepath.Join(dir, "w.plan")
	for _, p := range []string{wide, wide + ".tmp"} {
		if err := os.WriteFile(p, []byte("old"), 0o666); err != nil {
			t.Fatal(err)
		}
		_ = os.Chmod(p, 0o666)
	}
	if err := WritePlanFile(wide, sp(), nil); err != nil {
		t.Fatal(err)
	}
	if st, _ := os.Stat(wide); st.Mode().Perm() != 0o600 {
		t.Errorf("the plan file has mode %v, want 0600", st.Mode().Perm())
	}
	if b, _ := os.ReadFile(wide + ".tmp"); string(b) != "old" {
		t.Errorf("the file at FILE.tmp was written: %q", b)
	}

	// A rename that fails (FILE is a directory) leaves no temporary file.
	sub := filepath.Join(t.TempDir(), "d")
	if err := os.MkdirAll(filepath.Join(sub, "p.plan", "x"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := WritePlanFile(filepath.Join(sub, "p.plan"), sp(), nil); err == nil {
		t.Error("writing over a directory did not fail")
	}
	if names := entries(sub); len(names) != 1 {
		t.Errorf("a failed write left files behind: %v", names)
	}

	// A directory that cannot be written to: an error, nothing created.
	if os.Geteuid() != 0 {
		ro := t.TempDir()
		if err := os.Chmod(ro, 0o555); err != nil {
			t.Fatal(err)
		}
		defer os.Chmod(ro, 0o755)
		if err := WritePlanFile(filepath.Join(ro, "p.plan"), sp(), nil); err == nil {
			t.Error("writing into a read-only directory did not fail")
		}
	}
}

// TestReadPlanFileCutShort: a plan file cut short is called damaged, not
// "not a rowform plan file"; other files are still not plan files.
func TestReadPlanFileCutShort(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "p.plan")
	if err := WritePlanFile(path, &SavedPlan{Plan: &Plan{FormatVersion: FormatVersion}}, nil); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b[:len(b)/2], 0o600); err != nil {
		t.Fatal(err)
	}
	_, err = ReadPlanFile(context.Background(), path)
	if err == nil || !strings.Contains(err.Error(), "is a rowform plan file that is damaged or cut short (it ends before the plan does); make the plan again") {
		t.Errorf("cut short: %v", err)
	}
	other := filepath.Join(dir, "other.json")
	if err := os.WriteFile(other, []byte(`{"a": 1}`), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPlanFile(context.Background(), other); err == nil || !strings.Contains(err.Error(), "is not a rowform plan file") {
		t.Errorf("another JSON file: %v", err)
	}
	// An endless file, or a huge one, is refused without being read whole.
	if _, err := ReadPlanFile(context.Background(), "/dev/zero"); err == nil || !strings.Contains(err.Error(), "/dev/zero is larger than 64 MB") {
		t.Errorf("/dev/zero: %v", err)
	}
	huge := filepath.Join(dir, "huge.plan")
	if err := os.WriteFile(huge, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(huge, maxPlanFileBytes+1); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPlanFile(context.Background(), huge); err == nil || !strings.Contains(err.Error(), "is larger than 512 MB") {
		t.Errorf("a sparse file past the bound: %v", err)
	}
}

// TestReadPlanFileEditedByHand: a plan file whose syncs rowform never
// writes — an empty entry, one without a name, the same sync twice — is
// refused on reading (apply used to crash on them, after writing the first
// copy of a repeated sync).
func TestReadPlanFileEditedByHand(t *testing.T) {
	dir := t.TempDir()
	for name, c := range map[string]struct {
		syncs []*SyncPlan
		want  string
	}{
		"null":      {[]*SyncPlan{{Name: "a"}, nil}, "sync 2 of the plan is empty"},
		"unnamed":   {[]*SyncPlan{{}}, "sync 1 of the plan has no name"},
		"duplicate": {[]*SyncPlan{{Name: "a"}, {Name: "b"}, {Name: "a"}}, `it plans sync "a" twice`},
	} {
		path := filepath.Join(dir, name+".plan")
		if err := WritePlanFile(path, &SavedPlan{Plan: &Plan{FormatVersion: FormatVersion, Syncs: c.syncs}}, nil); err != nil {
			t.Fatal(err)
		}
		if _, err := ReadPlanFile(context.Background(), path); err == nil || !strings.Contains(err.Error(), "is not a plan rowform wrote: "+c.want) {
			t.Errorf("%s: %v, want %q", name, err, c.want)
		}
	}
	path := filepath.Join(dir, "fine.plan")
	if err := WritePlanFile(path, &SavedPlan{Plan: &Plan{FormatVersion: FormatVersion, Syncs: []*SyncPlan{{Name: "a"}, {Name: "b"}}}}, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ReadPlanFile(context.Background(), path); err != nil {
		t.Errorf("a plan of two syncs: %v", err)
	}
}
