package safefile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// TestWriteFrom: the target is replaced whole with mode 0600, and a write
// that fails leaves the target as it was and no temporary file behind.
func TestWriteFrom(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "out")
	if err := os.WriteFile(path, []byte("old"), 0o644); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteFrom(path, func(w io.Writer) error {
		_, _ = io.WriteString(w, "half")
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want the writer's", err)
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Errorf("a failed write changed the target to %q", b)
	}
	if err := Write(path, []byte("new")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(path); string(b) != "new" {
		t.Errorf("target holds %q, want new", b)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm() != 0o600 {
		t.Errorf("mode %v, want 0600", st.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("%d files in the directory, want only the target", len(entries))
	}
	if err := Write(filepath.Join(dir, "missing", "out"), nil); err == nil {
		t.Error("a write into a missing directory succeeded")
	}
}

// TestCheckWritable: a file in a directory that takes new files can be
// written, and the check leaves nothing behind; a missing directory, a
// read-only one and a directory as the file cannot.
func TestCheckWritable(t *testing.T) {
	dir := t.TempDir()
	if err := CheckWritable(filepath.Join(dir, "out.jsonl")); err != nil {
		t.Errorf("a file in a writable directory: %v", err)
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 0 {
		t.Errorf("the check left %v", entries)
	}
	if err := CheckWritable(filepath.Join(dir, "missing", "out.jsonl")); err == nil {
		t.Error("a file in a missing directory: no error")
	}
	if err := CheckWritable(dir); err == nil || !strings.Contains(err.Error(), "is a directory") {
		t.Errorf("a directory as the file: %v", err)
	}
	ro := filepath.Join(dir, "ro")
	if err := os.Mkdir(ro, 0o555); err != nil {
		t.Fatal(err)
	}
	if os.Geteuid() != 0 { // root writes anywhere
		if err := CheckWritable(filepath.Join(ro, "out.jsonl")); err == nil {
			t.Error("a file in a read-only directory: no error")
		}
	}
}

// TestDevicesAndFIFOsAreWrittenInPlace: /dev/null stays the device it is,
// /dev/full reports that it is full, a FIFO (and a link to one) is written
// through and stays a FIFO; a link to a regular file is replaced, its
// target left alone (no write through a planted link).
func TestDevicesAndFIFOsAreWrittenInPlace(t *testing.T) {
	dir := t.TempDir()
	// As root (where a rename could replace /dev/null), copies of the
	// devices in the test's directory: a broken version must not break
	// the machine's. Without root, the real ones, which it cannot replace.
	null, full := "/dev/null", "/dev/full"
	if os.Geteuid() == 0 {
		null, full = filepath.Join(dir, "null"), filepath.Join(dir, "full")
		for path, minor := range map[string]int{null: 3, full: 7} {
			if err := syscall.Mknod(path, syscall.S_IFCHR|0o666, 1<<8|minor); err != nil {
				t.Fatalf("mknod %s: %v", path, err)
			}
		}
	}
	if err := Write(null, []byte("plan")); err != nil {
		t.Errorf("writing %s: %v", null, err)
	}
	if fi, err := os.Stat(null); err != nil || fi.Mode()&os.ModeCharDevice == 0 {
		t.Fatalf("%s is no longer a character device: %v %v", null, fi.Mode(), err)
	}
	if err := CheckWritable(null); err != nil {
		t.Errorf("CheckWritable(%s): %v", null, err)
	}
	if err := Write(full, []byte("plan")); !errors.Is(err, syscall.ENOSPC) {
		t.Errorf("writing %s: %v, want ENOSPC", full, err)
	}

	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "to-fifo")
	if err := os.Symlink(fifo, link); err != nil {
		t.Fatal(err)
	}
	for _, path := range []string{fifo, link} {
		got := make(chan string, 1)
		go func() {
			b, _ := os.ReadFile(fifo)
			got <- string(b)
		}()
		if err := Write(path, []byte("through "+filepath.Base(path))); err != nil {
			t.Fatalf("writing %s: %v", path, err)
		}
		if s := <-got; s != "through "+filepath.Base(path) {
			t.Errorf("the FIFO's reader got %q", s)
		}
		if fi, err := os.Lstat(path); err != nil || fi.Mode().IsRegular() {
			t.Errorf("%s was replaced by a regular file", path)
		}
	}

	victim := filepath.Join(dir, "victim")
	if err := os.WriteFile(victim, []byte("keep"), 0o644); err != nil {
		t.Fatal(err)
	}
	planted := filepath.Join(dir, "report.xml")
	if err := os.Symlink(victim, planted); err != nil {
		t.Fatal(err)
	}
	if err := Write(planted, []byte("report")); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(victim); string(b) != "keep" {
		t.Errorf("the write went through the link into its target: %q", b)
	}
	if b, _ := os.ReadFile(planted); string(b) != "report" {
		t.Errorf("the link's path holds %q", b)
	}
}
