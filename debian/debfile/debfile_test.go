package debfile

import (
	"bytes"
	"errors"
	"testing"

	"github.com/reprove/reprove/debian/debfile/debtest"
)

func TestControl(t *testing.T) {
	deb := debtest.Deb(debtest.Package{Name: "hello", Version: "1.0-1", Arch: "amd64", Files: map[string]string{"usr/bin/hello": "#!/bin/sh\necho hi\n"}})
	got, err := Control("hello.deb", bytes.NewReader(deb), int64(len(deb)))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(got, []byte("Package: hello\n")) {
		t.Errorf("control = %q", got)
	}
	for _, bad := range [][]byte{nil, []byte("!<arch>\n"), deb[:100], append([]byte("!<arch>\nx"), deb[9:]...)} {
		if _, err := Control("bad.deb", bytes.NewReader(bad), int64(len(bad))); err == nil {
			t.Errorf("accepted %q…", bad[:min(len(bad), 20)])
		}
	}
}

func FuzzControl(f *testing.F) {
	f.Add(debtest.Deb(debtest.Package{Name: "a", Version: "1", Arch: "all"}))
	f.Fuzz(func(t *testing.T, b []byte) {
		Control("fuzz", bytes.NewReader(b), int64(len(b)))
	})
}

func TestDataFile(t *testing.T) {
	log := "hello (1.0-1+b1) sid; urgency=low, binary-only=yes\n"
	deb := debtest.Deb(debtest.Package{Name: "hello", Version: "1.0-1+b1", Arch: "amd64", Files: map[string]string{
		"usr/bin/hello": "#!/bin/sh\necho hi\n",
		"usr/share/doc/hello/changelog.Debian.amd64.gz": log,
	}})
	r := bytes.NewReader(deb)
	got, err := DataFile("hello.deb", r, int64(len(deb)), "usr/share/doc/hello/changelog.Debian.amd64.gz", 1<<20)
	if err != nil || string(got) != log {
		t.Errorf("DataFile = %q, %v; want %q", got, err, log)
	}
	if _, err := DataFile("hello.deb", r, int64(len(deb)), "usr/share/doc/hello/changelog.Debian.i386.gz", 1<<20); !errors.Is(err, ErrNoFile) {
		t.Errorf("a file the package does not hold: %v, want ErrNoFile", err)
	}
	if _, err := DataFile("hello.deb", r, int64(len(deb)), "usr/share/doc/hello", 1<<20); !errors.Is(err, ErrNoFile) {
		t.Errorf("a directory: %v, want ErrNoFile", err)
	}
	if _, err := DataFile("hello.deb", r, int64(len(deb)), "usr/bin/hello", 4); err == nil || errors.Is(err, ErrNoFile) {
		t.Errorf("a file over the limit: %v, want a refusal", err)
	}
	if _, err := DataFile("bad.deb", bytes.NewReader(deb[:200]), 200, "usr/bin/hello", 1<<20); err == nil {
		t.Error("a truncated .deb was read")
	}
}
