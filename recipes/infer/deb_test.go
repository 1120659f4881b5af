package infer_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/debian/archive/archivetest"
	"github.com/reprove/reprove/debian/deb822"
	"github.com/reprove/reprove/debian/debfile/debtest"
	"github.com/reprove/reprove/debian/lock"
	"github.com/reprove/reprove/recipes"
	"github.com/reprove/reprove/recipes/infer"
)

// infer on a .deb with its .buildinfo locks exactly the packages the
// build had, found in the snapshot archive at the build's date (the
// mirror has moved on since), and the recipe it writes validates; a
// .buildinfo naming a version the snapshot does not hold is an error
// that names it.
func TestInferDebWithBuildInfo(t *testing.T) {
	ctx := context.Background()
	key := archivetest.NewKey(t, "archive")
	kr, err := archive.LoadKeyring(archivetest.Keyring(t, key))
	if err != nil {
		t.Fatal(err)
	}
	built := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	hello := debtest.Package{Name: "hello", Version: "1.0-1", Arch: "amd64", Fields: []string{"Source: hello"}, Files: map[string]string{"usr/bin/hello": "#!/bin/sh\necho hi\n"}}
	then := archivetest.Suite{Name: "bookworm", Arch: "amd64", Date: built.Add(-time.Hour),
		Packages: []debtest.Package{hello,
			{Name: "base-files", Version: "12.4", Arch: "amd64", Fields: []string{"Essential: yes"}},
			{Name: "gcc-12", Version: "12.2.0-14", Arch: "amd64"}},
		Sources: []archivetest.Source{{Name: "hello", Version: "1.0-1", BuildDepends: "gcc-12", Files: map[string][]byte{"hello_1.0.orig.tar.gz": []byte("orig"), "hello_1.0-1.debian.tar.xz": []byte("debian")}}}}
	old := then.Files(t, key)
	snap := archivetest.NewSnapshot(t)
	snap.Take(built.Add(-30*time.Minute), old)
	now := then
	now.Date = built.Add(90 * 24 * time.Hour)
	now.Packages = []debtest.Package{hello, {Name: "base-files", Version: "12.4+deb12u1", Arch: "amd64", Fields: []string{"Essential: yes"}}, {Name: "gcc-12", Version: "12.2.0-14+deb12u1", Arch: "amd64"}}
	mirror := archivetest.NewMirror(t, now.Files(t, key))

	deb := filepath.Join(t.TempDir(), "hello_1.0-1_amd64.deb")
	os.WriteFile(deb, debtest.Deb(hello), 0o644)
	bi := &deb822.BuildInfo{Source: "hello", Version: "1.0-1", Distribution: "bookworm", BuildArchitecture: "amd64", BuildDate: built.Format(time.RFC1123Z),
		Environment: []string{"DEB_BUILD_OPTIONS=parallel=4"},
		Installed:   []deb822.Installed{{Name: "base-files", Version: "12.4"}, {Name: "gcc-12", Version: "12.2.0-14"}}}
	c := &archive.Client{Base: mirror.URL, Keyring: kr}
	facts, err := infer.ReadDebFacts(ctx, c, deb, "bookworm", infer.DebOptions{BuildInfo: bi, Snapshot: &archive.Client{Base: snap.URL, Keyring: kr}})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range facts.Lock.Packages {
		got = append(got, p.Name+"="+p.Version)
	}
	if strings.Join(got, " ") != "base-files=12.4 gcc-12=12.2.0-14" {
		t.Errorf("locked %v, want exactly the .buildinfo's", got)
	}
	res, err := infer.InferDeb(facts)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := res.Recipe.YAML()
	if _, err := recipes.Parse("hello.yaml", text); err != nil {
		t.Errorf("the recipe does not validate: %v\n%s", err, text)
	}
	if !strings.Contains(string(text), "export DEB_BUILD_OPTIONS='parallel=4'") || !strings.Contains(res.Recipe.Source.DSC.URL, snap.URL+"/archive/debian/") {
		t.Errorf("recipe:\n%s", text)
	}

	bi.Installed = append(bi.Installed, deb822.Installed{Name: "gcc-12", Version: "12.1.0-1"})
	var me *lock.MissingError
	if _, err := infer.ReadDebFacts(ctx, c, deb, "bookworm", infer.DebOptions{BuildInfo: bi, Snapshot: &archive.Client{Base: snap.URL, Keyring: kr}}); !errors.As(err, &me) || !strings.Contains(err.Error(), "gcc-12 12.1.0-1") {
		t.Errorf("a version the snapshot lacks: %v", err)
	}
}
