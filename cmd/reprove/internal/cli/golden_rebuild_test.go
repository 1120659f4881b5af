package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/builder/buildertest"
	"github.com/reprove/reprove/internal/treehash"
)

// Usage errors: the message and exit 2, nothing on stdout.
func TestGoldenUsage(t *testing.T) {
	tr := newTranscript(t)
	tr.run("bogus")
	tr.run("bogus", "--help")
	tr.run("rebuild")
	tr.run("rebuild", "a.yaml", "b.yaml")
	tr.run("version", "--nope")
	tr.run("completion", "tcsh")
	tr.check("usage")
}

const goldenRecipe = `schema: 1
name: hello
version: 1.0.0
source:
  dir:
    path: src
    tree: %TREE%
toolchain:
  go: 1.26.8
env:
  CGO_ENABLED: "0"
steps:
  - run: [go, build, -trimpath, "-ldflags=-s -w", -o, /out/hello, .]
outputs:
  - path: hello
%SHIPPED%`

// rebuild's whole output on real containerd: nothing shipped (rebuilt), the
// shipped file reproduced, and a shipped file from other source (not
// reproduced, exit 3), each with the verdict table, the build line, where
// the results are, and the progress on stderr.
func TestGoldenRebuild(t *testing.T) {
	buildertest.NeedContainerd(t)
	tr := newTranscript(t)
	tr.env["REPROVE_CACHE"] = buildertest.CacheDir(t)
	src := func(dir, text string) digest.Digest {
		writeFiles(t, filepath.Join(tr.dir, dir), map[string]string{
			"go.mod":  "module example.com/hello\n\ngo 1.22\n",
			"main.go": "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"" + text + "\") }\n",
		})
		d, err := treehash.Dir(context.Background(), filepath.Join(tr.dir, dir))
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	recipe := func(name, dir string, tree digest.Digest, shipped string) {
		s := goldenRecipe
		s = replaceAll(s, "%TREE%", string(tree), "path: src", "path: "+dir, "%SHIPPED%", shipped)
		writeFiles(t, tr.dir, map[string]string{name: s})
	}
	tree := src("src", "hello, world")
	recipe("rebuilt.yaml", "src", tree, "")
	// A first run outside the transcript makes the base image, which a
	// fresh cache builds once (its progress is not the command's output).
	tr.run("rebuild", "rebuilt.yaml", "-o", "warm-up")
	tr.b.Reset()
	tr.run("rebuild", "rebuilt.yaml", "-o", "out-rebuilt")

	b, err := os.ReadFile(filepath.Join(tr.dir, "out-rebuilt", "outputs", "hello"))
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, tr.dir, map[string]string{"dist/hello": string(b)})
	shipped := "    shipped:\n      path: dist/hello\n      digest: " + digest.FromBytes(b).String() + "\n"
	recipe("release.yaml", "src", tree, shipped)
	tr.run("rebuild", "release.yaml", "-o", "out-reproduced")

	other := src("src-other", "hello, reprove")
	recipe("other.yaml", "src-other", other, shipped)
	tr.run("rebuild", "other.yaml", "-o", "out-different")
	tr.run("rebuild", "release.yaml", "-o", "out-reproduced")
	tr.check("rebuild")
}

func replaceAll(s string, oldnew ...string) string {
	return strings.NewReplacer(oldnew...).Replace(s)
}
