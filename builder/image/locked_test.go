package image_test

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/reprove/reprove/builder/buildertest"
	"github.com/reprove/reprove/builder/image"
	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/debian/archive/archivetest"
	"github.com/reprove/reprove/debian/debfile/debtest"
	"github.com/reprove/reprove/debian/lock"
	"github.com/reprove/reprove/recipes"
)

// A lock made against a mirror still builds the same image once the
// mirror has moved on: its files come from the snapshot archive, each
// checked by digest, into empty caches. A .deb that is not the locked
// one is refused.
func TestLockedImageAfterTheMirrorMovedOn(t *testing.T) {
	d := buildertest.Daemon(t)
	ctx := context.Background()
	key := archivetest.NewKey(t, "archive")
	date := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	v1 := archivetest.Suite{Name: "testing", Arch: "amd64", Date: date, Packages: []debtest.Package{
		{Name: "hello", Version: "1.0-1", Arch: "amd64", Fields: []string{"Depends: libhello"}, Files: map[string]string{"usr/bin/hello": "#!/bin/sh\necho hello\n"}},
		{Name: "libhello", Version: "1.0-1", Arch: "amd64", Files: map[string]string{"usr/lib/libhello.txt": "one\n"}},
	}}
	files := v1.Files(t, key)
	mirror := archivetest.NewMirror(t, files)
	snap := archivetest.NewSnapshot(t)
	snap.Take(date.Add(time.Hour), files)

	kr, err := archive.LoadKeyring(archivetest.Keyring(t, key))
	if err != nil {
		t.Fatal(err)
	}
	ix, err := lock.Fetch(ctx, &archive.Client{Base: mirror.URL, Keyring: kr}, "testing", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	l, err := ix.Resolve(lock.Request{Variant: "extract", Packages: []string{"hello", "libhello"}})
	if err != nil {
		t.Fatal(err)
	}
	spec := image.Spec{Debian: &recipes.DebianImage{Suite: "testing", Variant: "extract", Packages: []string{"hello", "libhello"}, Lock: l}}
	builder := func(snapshot string) *image.Builder {
		dir := t.TempDir()
		return &image.Builder{Client: d.Client, Dir: dir, DebCache: filepath.Join(dir, "debs"), Mirror: mirror.URL, Snapshot: snapshot, Log: func(s string) { t.Log(s) }}
	}
	first, err := builder("off").Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}

	// The mirror moves on: hello 1.1-1, the old files gone.
	v2 := v1
	v2.Date = date.Add(72 * time.Hour)
	v2.Packages = []debtest.Package{{Name: "hello", Version: "1.1-1", Arch: "amd64", Files: map[string]string{"usr/bin/hello": "#!/bin/sh\necho hello again\n"}}}
	mirror.Set(v2.Files(t, key))
	if _, err := builder("off").Build(ctx, spec); err == nil {
		t.Fatal("built from a mirror that no longer has the locked files, with no snapshot archive")
	}
	second, err := builder(snap.URL).Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if first.Digest != second.Digest {
		t.Fatalf("the same lock gave %s from the mirror and %s from the snapshot archive", first.Digest, second.Digest)
	}
	if len(second.Packages) != 2 || second.Packages[0].SHA256 != l.Packages[0].SHA256 {
		t.Errorf("image packages = %+v", second.Packages)
	}

	// The mirror serves other bytes at a locked path: refused, and the
	// snapshot archive is not asked instead.
	bad := debtest.Deb(debtest.Package{Name: "hello", Version: "1.0-1", Arch: "amd64", Files: map[string]string{"usr/bin/hello": "#!/bin/sh\necho pwned\n"}})
	mirror.Put(l.Packages[0].Path, bad)
	_, err = builder(snap.URL).Build(ctx, spec)
	var mm *image.DigestMismatch
	if !errors.As(err, &mm) {
		t.Fatalf("a tampered .deb: %v, want a DigestMismatch", err)
	}
	t.Log(err)
}
