package cli

import (
	"strings"
	"testing"

	"github.com/reprove/reprove/schemas"
)

// A valid recipe, written with comments, flow style and keys out of order.
const goldenLintValid = `# hello, as released
schema: 1
name: hello
version: "1.0"
outputs: [{path: hello, shipped: {path: dist/hello, digest: "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"}}]
source:
  git:
    url: https://example.com/hello.git
    commit: 0123456789abcdef0123456789abcdef01234567
    tree: sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae
toolchain: {go: 1.26.8}
env:
  CGO_ENABLED: "0"
steps:
  - run: [go, build, -trimpath, "-ldflags=-s -w", -o, /out/hello, ./cmd/hello]
limits: {memory: 2GiB, pids: 512, cpus: 1.5}
`

// An invalid recipe with one problem of each kind a user makes, all
// reported at once.
const goldenLintInvalid = `schema: 0x1
name: hello world
version:
source:
  archive:
    url: https://user:secret@example.com/hello.tar.gz
    digest: sha1:da39a3ee5e6b4b0d3255bfef95601890afd80709
    strip: 1.5
env:
  GOFLAGS: -mod=mod
  HOME: /root
  HOME: /tmp
steps:
  - run: [make]
    shel: x
outputs:
  - path: ../hello
  - path: bin/hello
    shipped: {url: https://example.com/hello, digest: sha256:abc}
normalizers: [archive-mtime, zip-mtimes]
limits:
  memory: 4GB
  cpus: 1e0
`

// recipe lint's whole output: a valid recipe's canonical form and digest;
// an invalid one's problems, each located, all at once; both at once; and
// the --json document, checked against its schema.
func TestGoldenRecipeLint(t *testing.T) {
	tr := newTranscript(t)
	writeFiles(t, tr.dir, map[string]string{
		"hello.yaml":  goldenLintValid,
		"bad.yaml":    goldenLintInvalid,
		"syntax.yaml": "schema: 1\nsteps: [\n",
	})
	tr.run("recipe", "lint", "hello.yaml")
	tr.run("recipe", "lint", "bad.yaml")
	tr.run("recipe", "lint", "hello.yaml", "bad.yaml", "syntax.yaml", "missing.yaml")
	n := tr.b.Len()
	tr.run("recipe", "lint", "--json", "hello.yaml", "bad.yaml")
	out := tr.b.String()[n:]
	doc := out[strings.Index(out, "\n")+1 : strings.Index(out, "[stderr]")]
	if err := schemas.Validate("recipe-lint", []byte(doc)); err != nil {
		t.Errorf("recipe lint --json: %v\n%s", err, doc)
	}
	tr.run("recipe", "lint")
	tr.check("recipe-lint")
}
