package cli

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprove/reprove/builder"
	"github.com/reprove/reprove/builder/buildertest"
	"github.com/reprove/reprove/builder/check"
	"github.com/reprove/reprove/internal/treehash"
	"github.com/reprove/reprove/schemas"
)

// check's whole output on real containerd, for a recipe that does not
// reproduce: built without -trimpath, the Go binary records its build
// directory, so the outputs differ and bisection names build-path, and only
// it. (Slow: two builds, one more normal one, then one per variation.)
func TestGoldenCheck(t *testing.T) {
	buildertest.NeedContainerd(t)
	tr := newTranscript(t)
	tr.env["REPROVE_CACHE"] = buildertest.CacheDir(t)
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
	// The clock helper and a first run outside the transcript make what
	// this cache may lack (their progress is not the command's output):
	// the helper, and the base image.
	b, err := builder.New(builder.Options{Client: buildertest.Daemon(t).Client, CacheDir: tr.env["REPROVE_CACHE"]})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := check.ClockHelper(context.Background(), b, nil); err != nil {
		t.Fatal(err)
	}
	tr.run("rebuild", "recipe.yaml", "-o", "warm-up")
	tr.b.Reset()
	tr.run("check", "recipe.yaml", "-o", "out")
	tr.run("check", "recipe.yaml", "-o", "out")
	tr.check("check")

	// What the run left: both outputs, check.json matching its schema,
	// and a report that points at what records paths (line tables, DWARF).
	for _, f := range []string{"normal/hello", "varied/hello"} {
		if _, err := os.Stat(filepath.Join(tr.dir, "out", f)); err != nil {
			t.Error(err)
		}
	}
	js, err := os.ReadFile(filepath.Join(tr.dir, "out", "check.json"))
	if err != nil {
		t.Fatal(err)
	}
	if err := schemas.Validate("check-result", js); err != nil {
		t.Error(err)
	}
	txt, err := os.ReadFile(filepath.Join(tr.dir, "out", "compare", "hello.txt"))
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{".gopclntab", ".debug_line"} {
		if !strings.Contains(string(txt), want) {
			t.Errorf("the report does not name %s:\n%s", want, txt)
		}
	}
}
