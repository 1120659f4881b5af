package cli

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/reprove/reprove/internal/testenv"
	"github.com/reprove/reprove/internal/treehash"
)

// check's whole output on real containerd, for a recipe that does not
// reproduce: built without -trimpath, the Go binary records its build
// directory, so the outputs differ and bisection names build-path, and only
// it. (Slow: two builds, one more normal one, then one per variation.)
func TestGoldenCheck(t *testing.T) {
	testenv.NeedContainerd(t)
	tr := newTranscript(t)
	tr.env["REPROVE_CACHE"] = testenv.CacheDir(t)
	helloSource(t, filepath.Join(tr.dir, "hello"), "example.com/hello", "hello")
	tree, err := treehash.Dir(context.Background(), filepath.Join(tr.dir, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, tr.dir, map[string]string{"recipe.yaml": `schema: 1
name: hello
version: 0.1.0
source:
  dir:
    path: hello
    tree: ` + tree.String() + `
toolchain:
  go: 1.26.8
env:
  CGO_ENABLED: "0"
steps:
  - run: [go, build, -o, /out/hello, .]
outputs:
  - path: hello
`})
	// A first run outside the transcript makes the base image if this
	// cache has none yet (its progress is not the command's output).
	tr.run("rebuild", "recipe.yaml", "-o", "warm-up")
	tr.b.Reset()
	tr.run("check", "recipe.yaml", "-o", "out")
	tr.run("check", "recipe.yaml", "-o", "out")
	tr.check("check")
}
