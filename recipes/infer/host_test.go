package infer

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/recipes"
)

// goEnv is the environment for building test programs on the host: the
// caller's, minus every Go setting that could leak in (this machine's
// go env sets GOFLAGS=-buildvcs=false), plus fixed ones.
func goEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "GO") || strings.HasPrefix(k, "CGO_") || strings.HasPrefix(k, "GIT_") {
			if k != "GOCACHE" && k != "GOMODCACHE" && k != "GOPATH" && k != "GOROOT" {
				continue
			}
		}
		env = append(env, kv)
	}
	env = append(env, "GOFLAGS=", "GOTOOLCHAIN=local", "GOPROXY=off", "GOWORK=off", "GOENV=off", "CGO_ENABLED=0",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_CONFIG_GLOBAL=/dev/null",
		"GIT_AUTHOR_NAME=t", "GIT_AUTHOR_EMAIL=t@example.com", "GIT_COMMITTER_NAME=t", "GIT_COMMITTER_EMAIL=t@example.com",
		"GIT_AUTHOR_DATE=2024-01-02T03:04:05Z", "GIT_COMMITTER_DATE=2024-01-02T03:04:05Z")
	return append(env, extra...)
}

func run(t *testing.T, dir string, env []string, name string, args ...string) {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = env
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
}

const helloMain = `package main

import "fmt"

var version = "dev"

func main() { fmt.Println("hello", version) }
`

// writeModule writes a small module (path example.com/hello, package
// main at pkgDir) under root/modDir.
func writeModule(t *testing.T, root, modDir, pkgDir string) {
	t.Helper()
	mod := filepath.Join(root, modDir)
	for name, data := range map[string]string{
		filepath.Join(mod, "go.mod"):                 "module example.com/hello\n\ngo 1.22\n",
		filepath.Join(mod, pkgDir, "main.go"):        helloMain,
		filepath.Join(root, "README"):                "a test program\n",
		filepath.Join(mod, pkgDir, "version_x.go"):   "package main\n\nfunc init() { version += \"+x\" }\n",
		filepath.Join(root, "scripts", "release.sh"): "#!/bin/sh\nexit 0\n",
	} {
		if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(name, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(filepath.Join(root, "scripts", "release.sh"), 0o755); err != nil {
		t.Fatal(err)
	}
}

func fileSHA(t *testing.T, p string) digest.Digest {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	d, err := digest.Canonical.FromReader(f)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// rebuildOnHost runs a recipe's steps the way the builder does, but on
// the host: the source copied to a fresh directory standing for /src, an
// output directory standing for /out, the recipe's env over a clean one.
// It checks that the inferred build, not the test's, makes the bytes.
func rebuildOnHost(t *testing.T, r *recipes.Recipe, srcRoot string) string {
	t.Helper()
	src := filepath.Join(t.TempDir(), "src")
	run(t, "/", goEnv(), "cp", "-a", srcRoot, src)
	out := t.TempDir()
	var env []string
	for k, v := range r.Env {
		env = append(env, k+"="+v)
	}
	env = goEnv(env...)
	for _, s := range r.Steps {
		switch {
		case len(s.Run) > 0:
			argv := make([]string, len(s.Run))
			for i, a := range s.Run {
				argv[i] = strings.ReplaceAll(a, "/out/", out+"/")
			}
			run(t, filepath.Join(src, s.Dir), env, argv[0], argv[1:]...)
		default:
			script := strings.ReplaceAll(strings.ReplaceAll(s.Shell, "/src/", src+"/"), "/out/", out+"/")
			run(t, src, env, "/bin/sh", "-ec", script)
		}
	}
	return filepath.Join(out, r.Outputs[0].Path)
}

// flagCase is one way of building the test program.
type flagCase struct {
	name    string
	env     []string
	flags   []string
	vcs     bool   // build in a git repository, stamped
	modDir  string // module directory inside the source root
	pkgDir  string // main package inside the module
	want    Facts  // the facts checked (Format, Symbols, DWARF)
	wantLd  string // the -ldflags of the candidate that reproduces
	wantDir bool   // MainDir read (built without -trimpath)
	// container: also rebuilt in the hermetic container (a subset, for
	// CI time: each container build compiles the standard library cold).
	container bool
	// goreleaser is a .goreleaser.yaml committed with the source, and tag
	// a tag of the commit; flags may then hold {{.Version}} and
	// {{.Commit}}, filled in here as goreleaser would (the test's own
	// filling, not infer's). wantTag is the tag the recipe must pin.
	goreleaser, tag, wantTag string
}

var flagCases = []flagCase{
	{name: "trimpath-s-w", flags: []string{"-trimpath", "-ldflags=-s -w"}, want: Facts{Format: ELF}, wantLd: "-s -w", container: true},
	{name: "trimpath-w", flags: []string{"-trimpath", "-ldflags=-w"}, want: Facts{Format: ELF, Symbols: true}, wantLd: "-w"},
	{name: "trimpath-s", flags: []string{"-trimpath", "-ldflags=-s"}, want: Facts{Format: ELF}, wantLd: "-s", container: true},
	{name: "trimpath-w-s", flags: []string{"-trimpath", "-ldflags=-w -s"}, want: Facts{Format: ELF}, wantLd: "-w -s"},
	{name: "trimpath-plain", flags: []string{"-trimpath"}, want: Facts{Format: ELF, Symbols: true, DWARF: true}, wantLd: ""},
	{name: "trimpath-buildid", flags: []string{"-trimpath", "-ldflags=-buildid= -s -w"}, want: Facts{Format: ELF}, wantLd: "-s -w -buildid="},
	{name: "no-trimpath", flags: nil, want: Facts{Format: ELF, Symbols: true, DWARF: true}, wantDir: true},
	{name: "no-trimpath-ldflags", flags: []string{"-ldflags=-s -X main.version=1.0"}, want: Facts{Format: ELF}, wantLd: "-s -X main.version=1.0", wantDir: true, container: true},
	{name: "subdir-package", flags: []string{"-trimpath", "-ldflags=-s -w"}, pkgDir: "cmd/hello", want: Facts{Format: ELF}, wantLd: "-s -w"},
	{name: "cgo-enabled-static", env: []string{"CGO_ENABLED=1"}, flags: []string{"-trimpath"}, want: Facts{Format: ELF, Symbols: true, DWARF: true}, container: true},
	{name: "windows-amd64", env: []string{"GOOS=windows", "GOARCH=amd64"}, flags: []string{"-trimpath", "-ldflags=-s -w"}, want: Facts{Format: PE}, wantLd: "-s -w", container: true},
	{name: "darwin-arm64", env: []string{"GOOS=darwin", "GOARCH=arm64"}, flags: []string{"-trimpath", "-ldflags=-w"}, want: Facts{Format: MachO, Symbols: true}, wantLd: "-w", container: true},
	{name: "linux-386", env: []string{"GOARCH=386", "GO386=softfloat"}, flags: []string{"-trimpath", "-tags=netgo"}, want: Facts{Format: ELF, Symbols: true, DWARF: true}},
	{name: "vcs", vcs: true, flags: []string{"-trimpath", "-ldflags=-s -w"}, want: Facts{Format: ELF}, wantLd: "-s -w", container: true},
	{name: "vcs-module-in-subdir", vcs: true, modDir: "go", pkgDir: "cmd/hello", flags: []string{"-trimpath"}, want: Facts{Format: ELF, Symbols: true, DWARF: true}, container: true},
	{name: "vcs-no-trimpath", vcs: true, flags: []string{"-ldflags=-w"}, want: Facts{Format: ELF, Symbols: true}, wantLd: "-w", wantDir: true, container: true},
	// Built as goreleaser builds, from a tagged commit: the -X stamps come
	// from the configuration, the version from the tag (Go 1.24 and later).
	{name: "goreleaser-tagged", vcs: true, tag: "v1.2.3", wantTag: "v1.2.3",
		goreleaser: "version: 2\nbuilds:\n  - env: [CGO_ENABLED=0]\n    flags: [-trimpath]\n    ldflags:\n      - -s -w -X main.version={{.Version}}-{{ .ShortCommit }} -X main.commit={{.Commit}}\n",
		flags:      []string{"-trimpath", "-ldflags=-s -w -X main.version={{.Version}}-{{.ShortCommit}} -X main.commit={{.Commit}}"},
		want:       Facts{Format: ELF}, wantLd: "-s -w -X main.version=1.2.3-{{.ShortCommit}} -X main.commit={{.Commit}}", container: true},
}

// inferred is a test program built one way, and what infer made of it.
type inferred struct {
	facts *Facts
	res   *Result
	// srcRoot is the source as the builder sees it: the module tree, or a
	// clone of the repository.
	srcRoot string
	// wantLd is the case's wantLd with the commit filled in.
	wantLd string
}

// buildAndInfer builds the test program as tc says, checks the facts read
// from it, pins its source and infers a recipe.
func buildAndInfer(t *testing.T, tc flagCase, goRoot string) inferred {
	t.Helper()
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "hello")
	writeModule(t, root, tc.modDir, tc.pkgDir)
	env := goEnv(tc.env...)
	if tc.goreleaser != "" {
		if err := os.WriteFile(filepath.Join(root, ".goreleaser.yaml"), []byte(tc.goreleaser), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	flags := tc.flags
	if tc.vcs {
		run(t, root, env, "git", "init", "-q")
		run(t, root, env, "git", "add", ".")
		run(t, root, env, "git", "commit", "-q", "-m", "hello")
		if tc.tag != "" {
			run(t, root, env, "git", "tag", tc.tag)
		}
		fill := strings.NewReplacer("{{.Version}}", strings.TrimPrefix(tc.tag, "v"),
			"{{.Commit}}", gitOut(t, root, "rev-parse", "HEAD"), "{{.ShortCommit}}", gitOut(t, root, "rev-parse", "--short", "HEAD"))
		flags = nil
		for _, f := range tc.flags {
			flags = append(flags, fill.Replace(f))
		}
		tc.wantLd = fill.Replace(tc.wantLd)
	}
	orig := filepath.Join(t.TempDir(), "hello.bin")
	pkg := "./" + tc.pkgDir
	if tc.pkgDir == "" {
		pkg = "."
	}
	run(t, filepath.Join(root, tc.modDir), env, "go", append(append([]string{"build"}, flags...), "-o", orig, pkg)...)

	facts, err := ReadFacts(ctx, orig, DefaultLimits())
	if err != nil {
		t.Fatal(err)
	}
	got := Facts{Format: facts.Format, Symbols: facts.Symbols, DWARF: facts.DWARF}
	if diff := cmp.Diff(tc.want, got); diff != "" {
		t.Errorf("facts (-want +got):\n%s", diff)
	}
	if facts.Digest != fileSHA(t, orig) {
		t.Errorf("Digest = %s, want the file's", facts.Digest)
	}
	if tc.wantDir != (facts.MainDir != "") {
		t.Errorf("MainDir = %q; want it read: %v", facts.MainDir, tc.wantDir)
	}
	src, err := ResolveSource(ctx, SourceSpec{Location: root}, facts)
	if err != nil {
		t.Fatal(err)
	}
	if src.ModuleDir != tc.modDir {
		t.Errorf("ModuleDir = %q, want %q", src.ModuleDir, tc.modDir)
	}
	if tc.vcs != (src.Git != nil) {
		t.Fatalf("source = %+v; want git: %v", src, tc.vcs)
	}
	res, err := Infer(facts, Options{Source: src, Shipped: &recipes.Shipped{Path: orig, Digest: facts.Digest},
		BuildGoRoot: goRoot, Writable: []string{os.TempDir()}})
	if err != nil {
		t.Fatal(err)
	}
	for _, what := range res.Incomplete {
		// infer names a Debian image's packages (git); locking them
		// reads the archive's signed indexes, which pipeline.Infer does
		// and the container test does below.
		if !strings.HasPrefix(what, "image.debian.lock:") {
			t.Fatalf("recipe incomplete: %v", res.Incomplete)
		}
	}
	if src.Git != nil && res.Recipe.Source.Git.Tag != tc.wantTag {
		t.Errorf("recipe pins tag %q, want %q", res.Recipe.Source.Git.Tag, tc.wantTag)
	}
	for _, f := range res.Findings {
		if f.Certainty == Unknown && f.Topic != "version" && f.Topic != "-ldflags" {
			t.Errorf("unexpected unknown: %+v", f)
		}
	}
	srcRoot := root
	if src.Git != nil {
		// The builder checks out the commit; a clone stands for it.
		srcRoot = filepath.Join(t.TempDir(), "clone")
		run(t, "/", env, "git", "clone", "-q", root, srcRoot)
	}
	return inferred{facts: facts, res: res, srcRoot: srcRoot, wantLd: tc.wantLd}
}

// firstReproducing tries the candidates in turn, as --rebuild does, and
// returns the -ldflags of the first whose build gives the original bytes.
func firstReproducing(t *testing.T, in inferred, build func(r *recipes.Recipe) digest.Digest) (string, []string) {
	t.Helper()
	var tried []string
	for _, c := range in.res.Candidates {
		tried = append(tried, c.Ldflags)
		if build(c.Recipe) == in.facts.Digest {
			return c.Ldflags, tried
		}
	}
	t.Fatalf("no candidate reproduced the original %s; tried -ldflags %q", in.facts.Digest, tried)
	return "", tried
}

// TestInferRebuildsOnHost builds a program with many combinations of
// flags, infers a recipe from each binary, runs the recipe's build on the
// host from a copy of the source, and checks the result is bit for bit the
// original. TestInferRebuildsInContainer does the same with the builder.
func TestInferRebuildsOnHost(t *testing.T) {
	if testing.Short() {
		t.Skip("builds Go programs for several platforms (-short)")
	}
	for _, tc := range flagCases {
		t.Run(tc.name, func(t *testing.T) {
			in := buildAndInfer(t, tc, goroot(t))
			got, tried := firstReproducing(t, in, func(r *recipes.Recipe) digest.Digest {
				return fileSHA(t, rebuildOnHost(t, r, in.srcRoot))
			})
			if got != in.wantLd {
				t.Errorf("reproduced with -ldflags %q, want %q (candidates %q)", got, in.wantLd, tried)
			}
		})
	}
}

// goroot is the host Go installation's GOROOT.
func goroot(t *testing.T) string {
	t.Helper()
	out, err := exec.Command("go", "env", "GOROOT").Output()
	if err != nil {
		t.Fatal(err)
	}
	return strings.TrimSpace(string(out))
}
