package fetch

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/debian/archive/archivetest"
	"github.com/reprove/reprove/recipes"
)

// A Debian source package: the .dsc and every file it lists, each checked;
// from the snapshot archive once the mirror has moved on; a file with
// other bytes refused.
func TestDSCSource(t *testing.T) {
	ctx := context.Background()
	key := archivetest.NewKey(t, "archive")
	date := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	src := archivetest.Source{Name: "hello", Version: "1.0-1", Files: map[string][]byte{"hello_1.0.orig.tar.gz": []byte("upstream"), "hello_1.0-1.debian.tar.xz": []byte("packaging")}}
	suite := archivetest.Suite{Name: "bookworm", Arch: "amd64", Date: date, Sources: []archivetest.Source{src}}
	files := suite.Files(t, key)
	mirror := archivetest.NewMirror(t, files)
	snap := archivetest.NewSnapshot(t)
	snap.Take(date.Add(time.Hour), files)
	name, dsc := src.DSC()
	r := &recipes.Recipe{Source: recipes.Source{DSC: &recipes.DSCSource{URL: mirror.URL + "/pool/main/h/hello/" + name, Digest: digest.FromBytes(dsc)}},
		Image: recipes.Image{Debian: &recipes.DebianImage{Suite: "bookworm", Lock: &recipes.DebianLock{Release: recipes.DebianRelease{Date: date.Format(time.RFC3339)}}}}}
	fetcher := func() *Fetcher { return &Fetcher{CacheDir: t.TempDir(), Snapshot: snap.URL} }

	got, err := fetcher().Source(ctx, r, filepath.Join(t.TempDir(), "src"))
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{name, "hello_1.0.orig.tar.gz", "hello_1.0-1.debian.tar.xz"} {
		if _, err := os.Stat(filepath.Join(got.Dir, n)); err != nil {
			t.Errorf("%s: %v", n, err)
		}
	}
	if got.Resolved.Kind != "dsc" || got.Resolved.Digest != r.Source.DSC.Digest {
		t.Errorf("resolved = %+v", got.Resolved)
	}

	mirror.Set(nil) // moved on
	if _, err := fetcher().Source(ctx, r, filepath.Join(t.TempDir(), "src")); err != nil {
		t.Fatalf("from the snapshot archive: %v", err)
	}

	mirror.Set(files)
	mirror.Put("pool/main/h/hello/hello_1.0.orig.tar.gz", []byte("upstreaM"))
	var de *DigestError
	if _, err := fetcher().Source(ctx, r, filepath.Join(t.TempDir(), "src")); !errors.As(err, &de) {
		t.Errorf("a tampered file: %v, want a DigestError", err)
	} else {
		t.Log(err)
	}
}

// A file the signed index lists but the mirror does not serve, with a
// snapshot archive that lacks it or cannot be reached: the error names
// the mirror's 404 and what the snapshot archive said, both.
func TestDSCSourceMirrorAndSnapshotBothNamed(t *testing.T) {
	ctx := context.Background()
	key := archivetest.NewKey(t, "archive")
	date := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	src := archivetest.Source{Name: "hello", Version: "1.0-1", Files: map[string][]byte{"hello_1.0.orig.tar.gz": []byte("upstream"), "hello_1.0-1.debian.tar.xz": []byte("packaging")}}
	suite := archivetest.Suite{Name: "bookworm", Arch: "amd64", Date: date, Sources: []archivetest.Source{src}}
	files := suite.Files(t, key)
	partial := map[string][]byte{}
	for p, b := range files {
		if !strings.HasSuffix(p, ".debian.tar.xz") {
			partial[p] = b
		}
	}
	mirror := archivetest.NewMirror(t, partial)
	snap := archivetest.NewSnapshot(t) // holds nothing
	name, dsc := src.DSC()
	r := &recipes.Recipe{Source: recipes.Source{DSC: &recipes.DSCSource{URL: mirror.URL + "/pool/main/h/hello/" + name, Digest: digest.FromBytes(dsc)}},
		Image: recipes.Image{Debian: &recipes.DebianImage{Suite: "bookworm", Lock: &recipes.DebianLock{Release: recipes.DebianRelease{Date: date.Format(time.RFC3339)}}}}}
	closed := httptest.NewServer(http.NotFoundHandler())
	closed.Close() // a snapshot archive that cannot be reached

	for _, tc := range []struct{ name, snapshot, wantSnap string }{
		{"snapshot lacks it", snap.URL, "404"},
		{"snapshot unreachable", closed.URL, "connect"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := &Fetcher{CacheDir: t.TempDir(), Snapshot: tc.snapshot}
			_, err := f.Source(ctx, r, filepath.Join(t.TempDir(), "src"))
			var pe *PoolError
			if !errors.As(err, &pe) {
				t.Fatalf("err = %v, want a PoolError", err)
			}
			msg := err.Error()
			t.Log(msg)
			for _, want := range []string{"hello_1.0-1.debian.tar.xz", "the mirror does not serve it", mirror.URL + "/pool/main/h/hello/hello_1.0-1.debian.tar.xz: 404", "from the snapshot archive", tc.snapshot + "/archive/debian/", tc.wantSnap} {
				if !strings.Contains(msg, want) {
					t.Errorf("error %q does not say %q", msg, want)
				}
			}
		})
	}
}

// A security update's source package is in the security archive: once
// that archive has moved on, it comes from the snapshot archive's
// debian-security at the date of the lock's security Release, not from
// its debian at the suite's.
func TestDSCSourceFromTheSecurityArchive(t *testing.T) {
	ctx := context.Background()
	key := archivetest.NewKey(t, "security")
	date := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	secDate := date.Add(30 * 24 * time.Hour)
	src := archivetest.Source{Name: "expat", Version: "2.5.0-1+deb12u5", Files: map[string][]byte{"expat_2.5.0.orig.tar.gz": []byte("upstream"), "expat_2.5.0-1+deb12u5.debian.tar.xz": []byte("packaging")}}
	suite := archivetest.Suite{Name: "bookworm-security", Arch: "amd64", Pool: "pool/updates/main", Date: secDate, Sources: []archivetest.Source{src}}
	files := suite.Files(t, key)
	mirror := archivetest.NewMirror(t, archivetest.Under("debian-security", files))
	base := mirror.URL + "/debian-security"
	snap := archivetest.NewSnapshot(t)
	snap.TakeArchive("debian-security", secDate.Add(time.Hour), files)
	name, dsc := src.DSC()
	lk := &recipes.DebianLock{Release: recipes.DebianRelease{Date: date.Format(time.RFC3339)},
		Also: []recipes.DebianArchiveRelease{{Archive: base, Suite: "bookworm-security", Date: secDate.Format(time.RFC3339)}}}
	r := &recipes.Recipe{Source: recipes.Source{DSC: &recipes.DSCSource{URL: base + "/pool/updates/main/e/expat/" + name, Digest: digest.FromBytes(dsc)}},
		Image: recipes.Image{Debian: &recipes.DebianImage{Suite: "bookworm", Lock: lk}}}
	fetcher := func() *Fetcher { return &Fetcher{CacheDir: t.TempDir(), Snapshot: snap.URL} }

	if _, err := fetcher().Source(ctx, r, filepath.Join(t.TempDir(), "src")); err != nil {
		t.Fatal(err)
	}
	mirror.Set(nil) // moved on
	got, err := fetcher().Source(ctx, r, filepath.Join(t.TempDir(), "src"))
	if err != nil {
		t.Fatalf("from the snapshot archive's debian-security: %v", err)
	}
	if _, err := os.Stat(filepath.Join(got.Dir, "expat_2.5.0-1+deb12u5.debian.tar.xz")); err != nil {
		t.Error(err)
	}
}
