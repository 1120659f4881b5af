package infer_test

import (
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"os"
	"os/exec"
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

// A binNMU (a binary-only upload: the same source built again, its version
// suffixed +b1): the recipe puts the entry the .deb ships as
// changelog.Debian.amd64.gz at the top of debian/changelog before the
// build, as sbuild does, and copies out the .deb of the binNMU's version;
// run as the recipe runs it, the changelog it writes is that entry, a
// blank line, then the source's own. A binNMU .deb without its entry is
// refused with a reason.
func TestInferDebBinNMU(t *testing.T) {
	ctx := context.Background()
	key := archivetest.NewKey(t, "archive")
	kr, err := archive.LoadKeyring(archivetest.Keyring(t, key))
	if err != nil {
		t.Fatal(err)
	}
	built := time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC)
	entry := "hello (1.0-1+b1) sid; urgency=low, binary-only=yes\n\n  * Binary-only non-maintainer upload for amd64; no source changes.\n  * Rebuild against the builder's 'new' libc\n\n -- amd64 Build Daemon (x86-01) <buildd_amd64-x86-01@buildd.debian.org>  Thu, 01 Oct 2026 11:00:00 +0000\n"
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte(entry))
	zw.Close()
	hello := debtest.Package{Name: "hello", Version: "1.0-1+b1", Arch: "amd64", Fields: []string{"Source: hello (1.0-1)"}, Files: map[string]string{
		"usr/bin/hello": "#!/bin/sh\necho hi\n",
		"usr/share/doc/hello/changelog.Debian.amd64.gz": gz.String(),
	}}
	suite := archivetest.Suite{Name: "bookworm", Arch: "amd64", Date: built.Add(-time.Hour),
		Packages: []debtest.Package{hello, {Name: "base-files", Version: "12.4", Arch: "amd64", Fields: []string{"Essential: yes"}}},
		Sources:  []archivetest.Source{{Name: "hello", Version: "1.0-1", Files: map[string][]byte{"hello_1.0.orig.tar.gz": []byte("orig"), "hello_1.0-1.debian.tar.xz": []byte("debian")}}}}
	files := suite.Files(t, key)
	snap := archivetest.NewSnapshot(t)
	snap.Take(built.Add(-30*time.Minute), files)
	mirror := archivetest.NewMirror(t, files)
	bi := &deb822.BuildInfo{Source: "hello", Version: "1.0-1+b1", Distribution: "bookworm", BuildArchitecture: "amd64", BuildDate: built.Format(time.RFC1123Z),
		Installed: []deb822.Installed{{Name: "base-files", Version: "12.4"}}}
	c := &archive.Client{Base: mirror.URL, Keyring: kr}
	read := func(p debtest.Package) (*infer.DebFacts, error) {
		deb := filepath.Join(t.TempDir(), "hello_1.0-1+b1_amd64.deb")
		os.WriteFile(deb, debtest.Deb(p), 0o644)
		return infer.ReadDebFacts(ctx, c, deb, "bookworm", infer.DebOptions{BuildInfo: bi, Snapshot: &archive.Client{Base: snap.URL, Keyring: kr}})
	}
	facts, err := read(hello)
	if err != nil {
		t.Fatal(err)
	}
	if facts.BinNMU != entry {
		t.Errorf("BinNMU = %q, want %q", facts.BinNMU, entry)
	}
	res, err := infer.InferDeb(facts)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := res.Recipe.YAML()
	parsed, err := recipes.Parse("hello.yaml", text)
	if err != nil {
		t.Fatalf("the recipe does not validate: %v\n%s", err, text)
	}
	// The script as the recipe file gives it back, entry and all.
	script := parsed.Steps[0].Shell
	if script != res.Recipe.Steps[0].Shell {
		t.Errorf("the recipe file changes the script:\n%s\nwant\n%s", script, res.Recipe.Steps[0].Shell)
	}
	if !strings.Contains(script, "cp ../hello_1.0-1+b1_amd64.deb /out/") {
		t.Errorf("the recipe does not copy out the binNMU's .deb:\n%s", script)
	}
	// Run the changelog lines as the build runs them, in a tree of its own.
	// They are what comes between entering the tree and the build.
	_, rest, _ := strings.Cut(script, "cd hello-1.0\n")
	part, _, _ := strings.Cut(rest, "export SOURCE_DATE_EPOCH")
	lines := []string{part}
	dir := t.TempDir()
	tree := filepath.Join(dir, "hello-1.0")
	os.MkdirAll(filepath.Join(tree, "debian"), 0o755)
	own := "hello (1.0-1) unstable; urgency=medium\n\n  * Initial release.\n\n -- A Maintainer <a@example.org>  Mon, 01 Jun 2026 10:00:00 +0000\n"
	os.WriteFile(filepath.Join(tree, "debian", "changelog"), []byte(own), 0o644)
	cmd := exec.Command("/bin/sh", "-ec", strings.Join(lines, "\n"))
	cmd.Dir = tree
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%v\n%s\n%s", err, out, strings.Join(lines, "\n"))
	}
	got, _ := os.ReadFile(filepath.Join(tree, "debian", "changelog"))
	if want := entry + "\n" + own; string(got) != want {
		t.Errorf("debian/changelog =\n%s\nwant\n%s", got, want)
	}

	noEntry := hello
	noEntry.Files = map[string]string{"usr/bin/hello": "#!/bin/sh\necho hi\n"}
	if _, err := read(noEntry); err == nil || !strings.Contains(err.Error(), "binary-only upload") {
		t.Errorf("a binNMU without its changelog entry: %v", err)
	}
}

// A .deb whose source package the suite does not hold at its version is
// refused with what the suite holds instead, and what to give.
func TestInferDebNotInSuite(t *testing.T) {
	ctx := context.Background()
	key := archivetest.NewKey(t, "archive")
	kr, err := archive.LoadKeyring(archivetest.Keyring(t, key))
	if err != nil {
		t.Fatal(err)
	}
	suite := archivetest.Suite{Name: "bookworm", Arch: "amd64", Date: time.Date(2026, 10, 1, 12, 0, 0, 0, time.UTC),
		Packages: []debtest.Package{{Name: "base-files", Version: "12.4", Arch: "amd64", Fields: []string{"Essential: yes"}}},
		Sources:  []archivetest.Source{{Name: "hello", Version: "1.0-1", Files: map[string][]byte{"hello_1.0.orig.tar.gz": []byte("orig"), "hello_1.0-1.debian.tar.xz": []byte("debian")}}}}
	mirror := archivetest.NewMirror(t, suite.Files(t, key))
	c := &archive.Client{Base: mirror.URL, Keyring: kr}
	for _, tc := range []struct {
		pkg  debtest.Package
		want string
	}{
		{debtest.Package{Name: "hello", Version: "1.0-1+deb12u5", Arch: "amd64", Fields: []string{"Source: hello"}},
			"source package hello 1.0-1+deb12u5 is not in bookworm's signed Sources index: it holds hello 1.0-1, not 1.0-1+deb12u5; give --buildinfo FILE (Debian publishes one per build) to lock from the snapshot archive at the build's date; if it is a security update, its source is in bookworm-security of the security archive (http://deb.debian.org/debian-security)"},
		{debtest.Package{Name: "libgreet1", Version: "2.0-1", Arch: "amd64", Fields: []string{"Source: greet"}},
			"source package greet 2.0-1 is not in bookworm's signed Sources index: it holds no source package greet; give --buildinfo FILE (Debian publishes one per build) to lock from the snapshot archive at the build's date"},
	} {
		deb := filepath.Join(t.TempDir(), tc.pkg.Name+"_"+tc.pkg.Version+"_amd64.deb")
		os.WriteFile(deb, debtest.Deb(tc.pkg), 0o644)
		_, err := infer.ReadDebFacts(ctx, c, deb, "bookworm", infer.DebOptions{})
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s %s: err = %v, want it to contain %q", tc.pkg.Name, tc.pkg.Version, err, tc.want)
		}
	}
}

// A security update: its source is not in bookworm but in
// bookworm-security, where infer finds it; the build environment is
// locked over both suites (the newer libc6 from security), the recipe
// names the .dsc and the shipped .deb in the security archive, and it
// validates. A version neither holds, a security Release no key signed
// and a tampered security index are refused, each saying what.
func TestInferDebSecurityUpdate(t *testing.T) {
	ctx := context.Background()
	two := archivetest.NewTwoArchives(t)
	kr, err := archive.LoadKeyring(two.Keyrings...)
	if err != nil {
		t.Fatal(err)
	}
	c, sec := &archive.Client{Base: two.Mirror.URL, Keyring: kr}, &archive.Client{Base: two.SecurityBase, Keyring: kr}
	secMirror, secSuite, expat := two.SecurityMirror, two.Security, two.Update
	deb := filepath.Join(t.TempDir(), "libexpat1_2.5.0-1+deb12u5_amd64.deb")
	os.WriteFile(deb, debtest.Deb(expat), 0o644)

	facts, err := infer.ReadDebFacts(ctx, c, deb, "bookworm", infer.DebOptions{Security: sec})
	if err != nil {
		t.Fatal(err)
	}
	if facts.SourceSuite != "bookworm-security" || facts.SourceMirror != sec.Base || facts.Source.Version != "2.5.0-1+deb12u5" {
		t.Errorf("source found in %s %s: %+v", facts.SourceMirror, facts.SourceSuite, facts.Source)
	}
	l := facts.Lock
	if len(l.Also) != 1 || l.Also[0].Archive != sec.Base || l.Also[0].Codename != "bookworm-security" {
		t.Errorf("lock also = %+v", l.Also)
	}
	var got []string
	for _, p := range l.Packages {
		got = append(got, p.Name+"="+p.Version+"@"+p.From)
	}
	want := "apt=2.6.1@ base-files=12.4@ build-essential=12.9@ fakeroot=1.31-1.2@ libc6=2.36-9+deb12u13@bookworm-security"
	if strings.Join(got, " ") != want {
		t.Errorf("locked\n%s\nwant\n%s", strings.Join(got, " "), want)
	}
	res, err := infer.InferDeb(facts)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := res.Recipe.YAML()
	if _, err := recipes.Parse("expat.yaml", text); err != nil {
		t.Errorf("the recipe does not validate: %v\n%s", err, text)
	}
	if u := res.Recipe.Source.DSC.URL; u != sec.Base+"/pool/updates/main/e/expat/expat_2.5.0-1+deb12u5.dsc" {
		t.Errorf("dsc %s", u)
	}
	if s := res.Recipe.Outputs[0].Shipped; s == nil || s.URL != sec.Base+"/"+secSuite.PoolPath(expat) {
		t.Errorf("shipped %+v", s)
	}
	var findings []string
	for _, f := range res.Findings {
		findings = append(findings, f.Certainty.String()+" "+f.Topic+" "+f.Value+": "+f.Reason)
	}
	all := strings.Join(findings, "\n")
	for _, w := range []string{"certain source expat 2.5.0-1+deb12u5: ", "bookworm-security's of " + sec.Base + " lists its .dsc", "guess image buildd + Build-Depends: 5 packages of bookworm and bookworm-security as they are today (1 from bookworm-security)"} {
		if !strings.Contains(all, w) {
			t.Errorf("findings do not say %q:\n%s", w, all)
		}
	}

	// Without the security archive: the suite's error, with the hint.
	if _, err := infer.ReadDebFacts(ctx, c, deb, "bookworm", infer.DebOptions{}); err == nil || !strings.Contains(err.Error(), "its source is in bookworm-security of the security archive") {
		t.Errorf("without security: %v", err)
	}
	// A version neither suite holds.
	newer := expat
	newer.Version = "2.5.0-1+deb12u6"
	deb6 := filepath.Join(t.TempDir(), "libexpat1_2.5.0-1+deb12u6_amd64.deb")
	os.WriteFile(deb6, debtest.Deb(newer), 0o644)
	if _, err := infer.ReadDebFacts(ctx, c, deb6, "bookworm", infer.DebOptions{Security: sec}); err == nil ||
		!strings.Contains(err.Error(), "it holds expat 2.5.0-1+deb12u1, not 2.5.0-1+deb12u6, and bookworm-security's ("+sec.Base+") holds expat 2.5.0-1+deb12u5, not 2.5.0-1+deb12u6") {
		t.Errorf("in neither suite: %v", err)
	}
	// No security suite of that name: said, not a network error.
	if _, err := infer.ReadDebFacts(ctx, c, deb, "bookworm", infer.DebOptions{Security: &archive.Client{Base: secMirror.URL + "/elsewhere", Keyring: sec.Keyring}}); err == nil || !strings.Contains(err.Error(), "has no suite bookworm-security") {
		t.Errorf("no security suite: %v", err)
	}

	// The security Sources index tampered with.
	src := "debian-security/dists/bookworm-security/main/source/Sources.gz"
	orig := two.SecurityFiles(t)["dists/bookworm-security/main/source/Sources.gz"]
	secMirror.Put(src, append(bytes.Clone(orig), 0))
	var ie *archive.IndexError
	if _, err := infer.ReadDebFacts(ctx, c, deb, "bookworm", infer.DebOptions{Security: sec}); !errors.As(err, &ie) || !strings.Contains(err.Error(), "bookworm-security") {
		t.Errorf("a tampered security Sources index: %v, want an IndexError", err)
	}
	// Signed by a key the keyring lacks.
	secMirror.Set(archivetest.Under("debian-security", secSuite.Files(t, archivetest.NewKey(t, "intruder"))))
	var se *archive.SignatureError
	if _, err := infer.ReadDebFacts(ctx, c, deb, "bookworm", infer.DebOptions{Security: sec}); !errors.As(err, &se) || !strings.Contains(err.Error(), sec.Base+"/dists/bookworm-security/InRelease") {
		t.Errorf("a security Release signed by another key: %v, want a SignatureError", err)
	}
}

// A security update's .buildinfo (Distribution bookworm-security): each
// Installed-Build-Depends is found at its version in the snapshot
// archive's debian or debian-security at the build's date, the lock spans
// both (recording the security archive, not its snapshot), and the .dsc
// is the security snapshot's. A version neither holds is named.
func TestInferDebSecurityWithBuildInfo(t *testing.T) {
	ctx := context.Background()
	two := archivetest.NewTwoArchives(t)
	kr, err := archive.LoadKeyring(two.Keyrings...)
	if err != nil {
		t.Fatal(err)
	}
	built := two.Security.Date.Add(2 * time.Hour)
	snap := archivetest.NewSnapshot(t)
	snap.Take(two.Base.Date.Add(time.Hour), two.BaseFiles(t))
	snap.TakeArchive("debian-security", two.Security.Date.Add(time.Hour), two.SecurityFiles(t))
	deb := filepath.Join(t.TempDir(), "libexpat1_2.5.0-1+deb12u5_amd64.deb")
	os.WriteFile(deb, debtest.Deb(two.Update), 0o644)
	bi := &deb822.BuildInfo{Source: "expat", Version: "2.5.0-1+deb12u5", Distribution: "bookworm-security", BuildArchitecture: "amd64", BuildDate: built.Format(time.RFC1123Z),
		Installed: []deb822.Installed{{Name: "base-files", Version: "12.4"}, {Name: "fakeroot", Version: "1.31-1.2"}, {Name: "libc6", Version: "2.36-9+deb12u13", Arch: "amd64"}}}
	c := &archive.Client{Base: two.Mirror.URL, Keyring: kr}
	opts := infer.DebOptions{BuildInfo: bi, Snapshot: &archive.Client{Base: snap.URL, Keyring: kr}, Security: &archive.Client{Base: two.SecurityBase, Keyring: kr}}
	facts, err := infer.ReadDebFacts(ctx, c, deb, "bookworm", opts)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, p := range facts.Lock.Packages {
		got = append(got, p.Name+"="+p.Version+"@"+p.From)
	}
	if strings.Join(got, " ") != "base-files=12.4@ fakeroot=1.31-1.2@ libc6=2.36-9+deb12u13@bookworm-security" {
		t.Errorf("locked %v", got)
	}
	if a := facts.Lock.Also; len(a) != 1 || a[0].Archive != two.SecurityBase || a[0].Date != "2026-12-01T09:00:00Z" {
		t.Errorf("also = %+v", a)
	}
	res, err := infer.InferDeb(facts)
	if err != nil {
		t.Fatal(err)
	}
	text, _ := res.Recipe.YAML()
	if _, err := recipes.Parse("expat.yaml", text); err != nil {
		t.Errorf("the recipe does not validate: %v\n%s", err, text)
	}
	if u := res.Recipe.Source.DSC.URL; !strings.HasPrefix(u, snap.URL+"/archive/debian-security/") || !strings.HasSuffix(u, "/pool/updates/main/e/expat/expat_2.5.0-1+deb12u5.dsc") {
		t.Errorf("dsc %s", u)
	}
	if d := res.Recipe.Image.Debian; d.Suite != "bookworm" || d.Variant != "essential" {
		t.Errorf("image %s %s", d.Suite, d.Variant)
	}

	bi.Installed = append(bi.Installed, deb822.Installed{Name: "libc6-dev", Version: "2.36-9+deb12u13"})
	var me *lock.MissingError
	if _, err := infer.ReadDebFacts(ctx, c, deb, "bookworm", opts); !errors.As(err, &me) || !strings.Contains(err.Error(), "(bookworm-security) does not hold libc6-dev 2.36-9+deb12u13") {
		t.Errorf("a version neither snapshot holds: %v", err)
	}
}
