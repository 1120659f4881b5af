package verified

import (
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestStamp(t *testing.T) {
	p := filepath.Join(t.TempDir(), "f")
	os.WriteFile(p, []byte("content"), 0o644)
	if Check(p, "sha256:x") {
		t.Fatal("unstamped file passes")
	}
	if err := Stamp(p, "sha256:x"); err != nil {
		t.Fatal(err)
	}
	if !Check(p, "sha256:x") {
		t.Fatal("stamped file fails")
	}
	if Check(p, "sha256:y") {
		t.Error("stamp passes for another digest")
	}
	// Rewriting the same size and restoring the mtime still changes ctime.
	fi, _ := os.Stat(p)
	time.Sleep(10 * time.Millisecond)
	os.WriteFile(p, []byte("CONTENT"), 0o644)
	os.Chtimes(p, fi.ModTime(), fi.ModTime())
	if Check(p, "sha256:x") {
		t.Error("a rewritten file passes its old stamp")
	}
	// Replacing the file (a new inode) fails too.
	Stamp(p, "sha256:x")
	q := p + ".new"
	os.WriteFile(q, []byte("CONTENT"), 0o644)
	os.Rename(q, p)
	if Check(p, "sha256:x") {
		t.Error("a replaced file passes the old stamp")
	}
	Clear(p)
	if Check(p, "sha256:x") {
		t.Error("cleared stamp still passes")
	}
}
