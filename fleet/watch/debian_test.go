package watch_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/debian/archive/archivetest"
	"github.com/reprove/reprove/debian/debfile/debtest"
	"github.com/reprove/reprove/fleet/queue"
	"github.com/reprove/reprove/fleet/watch"
)

// TestDebianWatcherRecorded reads Debian's real signed documents, recorded:
// bookworm-updates' InRelease (verified with Debian's archive keyring at
// its date) and the Packages index it signs. The watched packages' versions
// are enqueued, pinned by the index's SHA-256; a restarted watcher
// enqueues nothing.
func TestDebianWatcherRecorded(t *testing.T) {
	ctx := context.Background()
	kr, err := archive.LoadKeyring(archive.DefaultKeyring)
	if err != nil {
		t.Fatalf("Debian's archive keyring (bash ci/setup.sh installs debian-archive-keyring): %v", err)
	}
	s := &standIn{docs: map[string][]byte{}, hits: map[string]int{}}
	s.set("/debian/dists/bookworm-updates/InRelease", recorded(t, "debian-bookworm-updates.InRelease"))
	s.set("/debian/dists/bookworm-updates/main/binary-amd64/Packages.xz", recorded(t, "debian-bookworm-updates-main-amd64-Packages.xz"))
	srv := httptest.NewServer(s)
	defer srv.Close()
	src := &watch.Debian{Suites: []watch.DebianSuite{{Name: "bookworm-updates", Mirror: srv.URL + "/debian"}},
		Packages: []string{"openssl", "libssl3"}, Keyring: kr,
		Verify: archive.VerifyOptions{Now: time.Date(2026, 12, 6, 3, 0, 0, 0, time.UTC)}}
	db := "sqlite:" + filepath.Join(t.TempDir(), "queue.db")
	round := func() []string {
		q, err := queue.Open(ctx, db, queue.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		es, err := watch.Once(ctx, q, src)
		if err != nil {
			t.Fatal(err)
		}
		return items(es)
	}
	// In the index's order.
	want := []string{"bookworm-updates/libssl3@3.0.17-1~deb12u2/amd64", "bookworm-updates/openssl@3.0.17-1~deb12u2/amd64"}
	if diff := cmp.Diff(want, round()); diff != "" {
		t.Errorf("first round (-want +got):\n%s", diff)
	}
	if got := round(); len(got) != 0 {
		t.Errorf("a restarted watcher enqueued %v", got)
	}
	q, err := queue.Open(ctx, db, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	jobs, err := q.Jobs(ctx, queue.JobFilter{Builds: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(jobs) != 2 || jobs[1].Artifact != srv.URL+"/debian/pool/main/o/openssl/libssl3_3.0.17-1~deb12u2_amd64.deb (bookworm-updates)" {
		t.Errorf("jobs: %+v", jobs)
	}
}

// TestDebianWatcherNewVersions: against a signed stand-in mirror that moves
// on, a new version of a watched package is enqueued exactly once.
func TestDebianWatcherNewVersions(t *testing.T) {
	ctx := context.Background()
	key := archivetest.NewKey(t, "archive")
	kr, err := archive.LoadKeyring(archivetest.Keyring(t, key))
	if err != nil {
		t.Fatal(err)
	}
	pkg := func(name, version string) debtest.Package {
		return debtest.Package{Name: name, Version: version, Arch: "amd64", Files: map[string]string{"usr/bin/" + name: "#!/bin/sh\n"}}
	}
	state := func(pkgs ...debtest.Package) map[string][]byte {
		return archivetest.Suite{Name: "bookworm", Arch: "amd64", Date: time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC), Packages: pkgs}.Files(t, key)
	}
	m := archivetest.NewMirror(t, state(pkg("hello", "1.0-1"), pkg("other", "2.0-1")))
	src := &watch.Debian{Suites: []watch.DebianSuite{{Name: "bookworm", Mirror: m.URL}}, Packages: []string{"hello"}, Keyring: kr}
	q, err := queue.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "queue.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	for i, tc := range []struct {
		files map[string][]byte
		want  []string
	}{
		{nil, []string{"bookworm/hello@1.0-1/amd64"}},
		{state(pkg("hello", "1.0-2"), pkg("other", "2.0-2")), []string{"bookworm/hello@1.0-2/amd64"}},
		{nil, nil},
	} {
		if tc.files != nil {
			m.Set(tc.files)
		}
		es, err := watch.Once(ctx, q, src)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(tc.want, items(es)); diff != "" {
			t.Errorf("round %d (-want +got):\n%s", i+1, diff)
		}
	}
}
