package cli

import (
	"archive/tar"
	"path/filepath"
	"testing"
	"time"

	"github.com/reprove/reprove/compare/fixture"
)

// compare's whole text report: an archive pair (a changed member, a mode
// changed, one added, times that differ) before and after allowing the
// normalizers that accept the times; and two stripped Go executables, built
// as releases are, that differ in one string literal. The executables'
// report holds addresses and counts of the Go release that built them: a
// new Go on this machine refreshes this golden (-update).
func TestGoldenCompare(t *testing.T) {
	tr := newTranscript(t)
	t0, t1 := time.Unix(1700000000, 0), time.Unix(1700003600, 0)
	member := func(name string, mode int64, mtime time.Time, body string) fixture.Member {
		return fixture.Member{Name: name, Type: tar.TypeReg, Mode: mode, Mtime: mtime, Body: []byte(body)}
	}
	readme := "hello\n\nA program that says hello.\n"
	writeFiles(t, tr.dir, map[string]string{
		"rebuilt.tgz": string(fixture.Gzip(fixture.Tar(
			member("pkg/bin/hello", 0o755, t0, "#!/bin/sh\necho hello, world\n"),
			member("pkg/README", 0o644, t0, readme),
			member("pkg/LICENSE", 0o644, t0, "MIT\n"),
		), t0, 6)),
		"shipped.tgz": string(fixture.Gzip(fixture.Tar(
			member("pkg/bin/hello", 0o775, t1, "#!/bin/sh\necho hello, World\n"),
			member("pkg/README", 0o644, t1, readme),
			member("pkg/LICENSE", 0o644, t1, "MIT\n"),
			member("pkg/NOTICE", 0o644, t1, "added after the build\n"),
		), t1, 6)),
		"retimed.tgz": string(fixture.Gzip(fixture.Tar(
			member("pkg/bin/hello", 0o755, t1, "#!/bin/sh\necho hello, world\n"),
			member("pkg/README", 0o644, t1, readme),
			member("pkg/LICENSE", 0o644, t1, "MIT\n"),
		), t1, 6)),
	})
	tr.run("compare", "rebuilt.tgz", "shipped.tgz")
	tr.run("compare", "rebuilt.tgz", "retimed.tgz")
	tr.run("compare", "--normalize", "archive-mtime,gzip-header", "rebuilt.tgz", "retimed.tgz")
	tr.run("compare", "rebuilt.tgz", "rebuilt.tgz")

	for _, b := range []struct{ dir, message string }{{"a", "hello, world"}, {"b", "hello, reprove"}} {
		dir := filepath.Join(tr.dir, "src-"+b.dir)
		helloSource(t, dir, "example.com/hello", b.message)
		goldenGoBuild(t, dir, "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(tr.dir, "hello-"+b.dir), ".")
	}
	tr.run("compare", "hello-a", "hello-b")
	// The README shows this report, its digests cut short as on a terminal.
	readmeOutput(t, "compare-strings", tr.b.String())
	tr.run("compare", "hello-a", "nope")
	tr.check("compare")
}
