package image_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/builder/buildertest"
	"github.com/reprove/reprove/builder/image"
	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/debian/archive/archivetest"
	"github.com/reprove/reprove/debian/debfile/debtest"
	"github.com/reprove/reprove/debian/lock"
	"github.com/reprove/reprove/recipes"
	"github.com/reprove/reprove/recipes/infer"
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

// A security update end to end: infer finds its source in
// bookworm-security and locks over bookworm and bookworm-security; the
// recipe relocks to the same lock; the image is built from both
// archives, each file from its own, and once both have moved on, from
// the snapshot archive's debian and debian-security, to the same digest.
// A .deb of the security archive that is not the locked one is refused.
func TestLockedImageFromTwoArchives(t *testing.T) {
	d := buildertest.Daemon(t)
	ctx := context.Background()
	two := archivetest.NewTwoArchives(t)
	kr, err := archive.LoadKeyring(two.Keyrings...)
	if err != nil {
		t.Fatal(err)
	}
	c := &archive.Client{Base: two.Mirror.URL, Keyring: kr}
	deb := filepath.Join(t.TempDir(), "libexpat1.deb")
	if err := os.WriteFile(deb, debtest.Deb(two.Update), 0o644); err != nil {
		t.Fatal(err)
	}
	facts, err := infer.ReadDebFacts(ctx, c, deb, "bookworm", infer.DebOptions{Security: &archive.Client{Base: two.SecurityBase, Keyring: kr}})
	if err != nil {
		t.Fatal(err)
	}
	res, err := infer.InferDeb(facts)
	if err != nil {
		t.Fatal(err)
	}
	text, err := res.Recipe.YAML()
	if err != nil {
		t.Fatal(err)
	}
	r, err := recipes.Parse("expat.yaml", text)
	if err != nil {
		t.Fatal(err)
	}
	l, err := lock.Recipe(ctx, c, r, "amd64", lock.AlsoOf(c, r.Image.Debian.Lock, "")...)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(r.Image.Debian.Lock, l); diff != "" {
		t.Fatalf("relocked (-inferred +relocked):\n%s", diff)
	}

	// The lock's files, unpacked (the packages are stand-ins, not a
	// system mmdebstrap could install as a buildd variant).
	spec := image.Spec{Debian: &recipes.DebianImage{Suite: "bookworm", Variant: "extract", Lock: l}}
	builder := func(snapshot string) *image.Builder {
		dir := t.TempDir()
		return &image.Builder{Client: d.Client, Dir: dir, DebCache: filepath.Join(dir, "debs"), Mirror: two.Mirror.URL, Snapshot: snapshot, Log: func(s string) { t.Log(s) }}
	}
	first, err := builder("off").Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	urls := map[string]string{}
	for _, p := range first.Packages {
		urls[p.Name] = p.URL
	}
	if want := two.SecurityBase + "/pool/updates/main/l/libc6/libc6_2.36-9+deb12u13_amd64.deb"; urls["libc6"] != want || urls["apt"] != two.Mirror.URL+"/pool/main/a/apt/apt_2.6.1_amd64.deb" {
		t.Errorf("package URLs: %v", urls)
	}

	snap := archivetest.NewSnapshot(t)
	snap.Take(two.Base.Date.Add(time.Hour), two.BaseFiles(t))
	snap.TakeArchive("debian-security", two.Security.Date.Add(time.Hour), two.SecurityFiles(t))
	two.Mirror.Set(nil)
	two.SecurityMirror.Set(nil)
	if _, err := builder("off").Build(ctx, spec); err == nil {
		t.Fatal("built from archives that no longer have the locked files, with no snapshot archive")
	}
	second, err := builder(snap.URL).Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if first.Digest != second.Digest {
		t.Fatalf("the same lock gave %s from the archives and %s from the snapshot archive", first.Digest, second.Digest)
	}

	var libc recipes.DebianPackage
	for _, p := range l.Packages {
		if p.Name == "libc6" {
			libc = p
		}
	}
	bad := debtest.Deb(debtest.Package{Name: "libc6", Version: "2.36-9+deb12u13", Arch: "amd64", Files: map[string]string{"usr/lib/x": "pwned"}})
	two.SecurityMirror.Put("debian-security/"+libc.Path, bad)
	_, err = builder(snap.URL).Build(ctx, spec)
	var mm *image.DigestMismatch
	if !errors.As(err, &mm) || !strings.Contains(err.Error(), two.SecurityBase+"/"+libc.Path) {
		t.Fatalf("a tampered security .deb: %v, want a DigestMismatch naming it", err)
	}
	t.Log(err)
}
