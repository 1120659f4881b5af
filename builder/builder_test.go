package builder_test

import (
	"context"
	"debug/buildinfo"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/builder"
	"github.com/reprove/reprove/builder/buildertest"
	"github.com/reprove/reprove/builder/fetch"
	"github.com/reprove/reprove/builder/goproxy"
	"github.com/reprove/reprove/builder/runner"
	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/debian/lock"
	"github.com/reprove/reprove/internal/ctxio"
	"github.com/reprove/reprove/internal/treehash"
	"github.com/reprove/reprove/recipes"
)

// goVersion is the toolchain the tests build with (fetched once into the
// shared test cache).
const goVersion = "1.26.8"

const helloMain = `package main

import (
	"fmt"

	"github.com/google/uuid"
)

func main() { fmt.Println("hello", uuid.NewSHA1(uuid.NameSpaceURL, []byte("reprove"))) }
`

const helloGoMod = `module example.com/hello

go 1.21

require github.com/google/uuid v1.6.0
`

const helloGoSum = `github.com/google/uuid v1.6.0 h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=
github.com/google/uuid v1.6.0/go.mod h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo=
`

// helloSource writes the program into a fresh directory.
func helloSource(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	for name, body := range map[string]string{"main.go": helloMain, "go.mod": helloGoMod, "go.sum": helloGoSum} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func tree(t *testing.T, dir string) digest.Digest {
	t.Helper()
	d, err := treehash.Dir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func helloRecipe(src digest.Digest, dir string) *recipes.Recipe {
	return &recipes.Recipe{
		Schema: 1, Name: "hello", Version: "1.0.0",
		Source:    recipes.Source{Dir: &recipes.DirSource{Path: dir, Tree: src}},
		Toolchain: recipes.Toolchain{Go: goVersion},
		Env:       map[string]string{"CGO_ENABLED": "0", "SOURCE_DATE_EPOCH": "1700000000"},
		Steps:     []recipes.Step{{Run: []string{"go", "build", "-trimpath", "-o", "/out/hello", "."}}},
		Outputs:   []recipes.Output{{Path: "hello"}},
	}
}

func newBuilder(t *testing.T, events *[]builder.Event) *builder.Builder {
	t.Helper()
	d := buildertest.Daemon(t)
	b, err := builder.New(builder.Options{
		Client:         d.Client,
		CacheDir:       buildertest.CacheDir(t),
		ReproveVersion: "test",
		Progress: func(e builder.Event) {
			if events != nil {
				*events = append(*events, e)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func fileSum(t *testing.T, p string) digest.Digest {
	t.Helper()
	d, err := ctxio.HashFile(context.Background(), p, nil)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// hostBuild builds the same source on the host with the same Go release
// (fetched by the go command itself), in a different directory, with a
// clean environment.
func hostBuild(t *testing.T, src string) digest.Digest {
	t.Helper()
	work := filepath.Join(t.TempDir(), "elsewhere", "hello")
	if err := os.MkdirAll(work, 0o755); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{"main.go", "go.mod", "go.sum"} {
		b, _ := os.ReadFile(filepath.Join(src, n))
		os.WriteFile(filepath.Join(work, n), b, 0o644)
	}
	home := t.TempDir()
	out := filepath.Join(t.TempDir(), "hello")
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(goBin, "build", "-trimpath", "-o", out, ".")
	cmd.Dir = work
	cmd.Env = []string{
		"PATH=" + filepath.Dir(goBin) + ":/usr/bin:/bin",
		"HOME=" + home,
		"GOENV=off",
		"GOFLAGS=",
		"GOTOOLCHAIN=go" + goVersion,
		"GOPROXY=https://proxy.golang.org",
		"GOMODCACHE=" + filepath.Join(buildertest.CacheDir(t), "host-gomodcache"),
		"GOCACHE=" + filepath.Join(home, "gocache"),
		"CGO_ENABLED=0",
	}
	if outb, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("host build: %v\n%s", err, outb)
	}
	return fileSum(t, out)
}

// The heart of the product: a Go program with a dependency rebuilds bit for
// bit, twice in containers and once on the host elsewhere.
func TestRebuildIsReproducible(t *testing.T) {
	var events []builder.Event
	b := newBuilder(t, &events)
	ctx := context.Background()
	src := helloSource(t)
	r := helloRecipe(tree(t, src), src)

	var results []*builder.Result
	for i := 0; i < 2; i++ {
		out := filepath.Join(t.TempDir(), "out")
		res, err := b.Build(ctx, r, out)
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Outputs) != 1 || res.Outputs[0].Path != "hello" {
			t.Fatalf("outputs = %+v", res.Outputs)
		}
		if got := fileSum(t, filepath.Join(out, "hello")); got != res.Outputs[0].Digest {
			t.Fatalf("output file is %s, result says %s", got, res.Outputs[0].Digest)
		}
		results = append(results, res)
	}
	if results[0].Outputs[0].Digest != results[1].Outputs[0].Digest {
		t.Fatalf("two rebuilds differ: %s and %s", results[0].Outputs[0].Digest, results[1].Outputs[0].Digest)
	}
	if host := hostBuild(t, src); host != results[0].Outputs[0].Digest {
		t.Fatalf("host build %s differs from the rebuild %s", host, results[0].Outputs[0].Digest)
	}

	// The result carries what provenance needs.
	res := results[0]
	if res.Recipe.Digest == "" || res.Source.Kind != "dir" || res.Source.Digest != r.Source.Dir.Tree {
		t.Errorf("recipe/source not recorded: %+v %+v", res.Recipe, res.Source)
	}
	if res.Image.Digest == "" || res.Image.Toolchain == nil || res.Image.Toolchain.GoVersion != goVersion {
		t.Errorf("image not recorded: %+v", res.Image)
	}
	if len(res.Dependencies) != 1 || res.Dependencies[0].Path != "github.com/google/uuid" || res.Dependencies[0].Sum == "" {
		t.Errorf("dependencies = %+v", res.Dependencies)
	}
	if len(res.Steps) != 1 || res.ExitCode != 0 || res.Finished.Before(res.Started) || res.HostKernel == "" {
		t.Errorf("steps/times/kernel not recorded: %+v", res)
	}
	phases := map[builder.Phase]bool{}
	var collected int64
	for _, e := range events {
		phases[e.Phase] = true
		if e.Phase == builder.PhaseCollect && e.Message == "collecting hello" && e.Bytes > 0 {
			if e.Total != res.Outputs[0].Size || e.Bytes > e.Total {
				t.Errorf("byte progress %d of %d, want of %d", e.Bytes, e.Total, res.Outputs[0].Size)
			}
			collected = e.Bytes
		}
	}
	if collected != res.Outputs[0].Size {
		t.Errorf("byte progress of collecting hello ended at %d, want %d", collected, res.Outputs[0].Size)
	}
	for _, p := range []builder.Phase{builder.PhaseFetch, builder.PhaseImage, builder.PhaseBuild, builder.PhaseCollect} {
		if !phases[p] {
			t.Errorf("no progress event for phase %s", p)
		}
	}
}

// This machine sets GOFLAGS=-buildvcs=false; nothing of the host's
// environment may reach the build. A git checkout built in an image with
// git is stamped with its revision whatever the caller's GOFLAGS say.
func TestHostEnvironmentDoesNotLeak(t *testing.T) {
	t.Setenv("GOFLAGS", "-buildvcs=false")
	t.Setenv("CGO_ENABLED", "1")
	t.Setenv("GOENV", filepath.Join(t.TempDir(), "env"))
	b := newBuilder(t, nil)
	ctx := context.Background()

	repo := helloSource(t)
	git := func(args ...string) string {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...)
		cmd.Dir = repo
		cmd.Env = append(os.Environ(), "GIT_COMMITTER_DATE=2024-05-06T07:08:09Z", "GIT_AUTHOR_DATE=2024-05-06T07:08:09Z")
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
		return strings.TrimSpace(string(out))
	}
	git("init", "-q", "-b", "main")
	git("add", ".")
	git("commit", "-q", "-m", "hello")
	commit := git("rev-parse", "HEAD")

	r := helloRecipe(tree(t, repo), repo)
	r.Source = recipes.Source{Git: &recipes.GitSource{URL: "file://" + repo, Commit: commit, Tree: tree(t, repo)}}
	kr, err := archive.LoadKeyring(archive.DefaultKeyring)
	if err != nil {
		t.Skipf("no Debian archive keyring (bash ci/setup.sh): %v", err)
	}
	withGit, err := lock.Image(ctx, &archive.Client{Keyring: kr}, &recipes.DebianImage{Suite: "bookworm", Packages: []string{"git"}}, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	r.Image = recipes.Image{Debian: withGit}
	delete(r.Env, "SOURCE_DATE_EPOCH")
	out := filepath.Join(t.TempDir(), "out")
	res, err := b.Build(ctx, r, out)
	if err != nil {
		t.Fatal(err)
	}
	bi, err := buildinfo.ReadFile(filepath.Join(out, "hello"))
	if err != nil {
		t.Fatal(err)
	}
	settings := map[string]string{}
	for _, s := range bi.Settings {
		settings[s.Key] = s.Value
	}
	if settings["vcs.revision"] != commit || settings["vcs.modified"] != "false" || settings["CGO_ENABLED"] != "0" {
		t.Errorf("build settings %v: the host's GOFLAGS/CGO_ENABLED leaked or VCS stamping is missing", settings)
	}
	for _, e := range res.Env {
		if strings.Contains(e, "buildvcs") {
			t.Errorf("host GOFLAGS reached the build environment: %s", e)
		}
		if e == "SOURCE_DATE_EPOCH=1714979289" {
			return
		}
	}
	t.Errorf("SOURCE_DATE_EPOCH is not the commit time: %v", res.Env)
}

// Wrong pins are refused before anything is built, and nothing is left.
func TestWrongPinsRefusedBeforeBuild(t *testing.T) {
	b := newBuilder(t, nil)
	ctx := context.Background()

	t.Run("source", func(t *testing.T) {
		src := helloSource(t)
		r := helloRecipe(digest.FromString("not the tree"), src)
		out := filepath.Join(t.TempDir(), "out")
		res, err := b.Build(ctx, r, out)
		var te *fetch.TreeError
		if !errors.As(err, &te) || res != nil {
			t.Fatalf("err = %v, res = %v; want a tree mismatch before any build", err, res)
		}
		assertNoOutput(t, out)
	})
	t.Run("dependency", func(t *testing.T) {
		src := helloSource(t)
		// A go.sum whose hash for the dependency is wrong.
		bad := strings.Replace(helloGoSum, "NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=", "AAAAJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=", 1)
		os.WriteFile(filepath.Join(src, "go.sum"), []byte(bad), 0o644)
		r := helloRecipe(tree(t, src), src)
		out := filepath.Join(t.TempDir(), "out")
		res, err := b.Build(ctx, r, out)
		var mm *goproxy.MismatchError
		if !errors.As(err, &mm) || res != nil {
			t.Fatalf("err = %v, res = %v; want a dependency hash mismatch before any build", err, res)
		}
		assertNoOutput(t, out)
	})
}

// A build stopped by a limit is reported naming the limit, and leaves no
// output that looks complete.
func TestLimitStopsBuild(t *testing.T) {
	b := newBuilder(t, nil)
	ctx := context.Background()
	src := helloSource(t)
	r := helloRecipe(tree(t, src), src)
	r.Steps = []recipes.Step{{Shell: "echo partial > /out/hello; head -c 500000000 /dev/zero | tail -c 500000000 > /dev/null"}}
	r.Limits = recipes.Limits{Memory: "64MiB"}
	out := filepath.Join(t.TempDir(), "out")
	res, err := b.Build(ctx, r, out)
	var le *runner.LimitError
	if !errors.As(err, &le) || le.Limit != "memory" || !strings.Contains(err.Error(), "memory limit of 64MiB") {
		t.Fatalf("err = %v, want the memory limit named", err)
	}
	if res == nil || len(res.Steps) != 1 || res.ExitCode == 0 {
		t.Errorf("result of the stopped build: %+v", res)
	}
	assertNoOutput(t, out)

	r.Steps = []recipes.Step{{Shell: "sleep 60"}}
	r.Limits = recipes.Limits{Timeout: "2s"}
	if _, err := b.Build(ctx, r, out); !errors.As(err, &le) || le.Limit != "time" {
		t.Fatalf("err = %v, want the time limit", err)
	}
	assertNoOutput(t, out)
}

func TestMissingOrSymlinkOutput(t *testing.T) {
	b := newBuilder(t, nil)
	ctx := context.Background()
	src := helloSource(t)
	for script, want := range map[string]string{
		"true":                         "did not write it",
		"ln -s /etc/passwd /out/hello": "symlink",
		"mkdir /out/hello":             "not a regular file",
	} {
		r := helloRecipe(tree(t, src), src)
		r.Steps = []recipes.Step{{Shell: script}}
		out := filepath.Join(t.TempDir(), "out")
		_, err := b.Build(ctx, r, out)
		var oe *builder.OutputError
		if !errors.As(err, &oe) || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want %q", script, err, want)
		}
		assertNoOutput(t, out)
	}
}

func assertNoOutput(t *testing.T, out string) {
	t.Helper()
	if _, err := os.Lstat(out); !os.IsNotExist(err) {
		t.Errorf("output directory %s exists after a failed build", out)
	}
	matches, _ := filepath.Glob(out + ".partial-*")
	if len(matches) > 0 {
		t.Errorf("partial outputs left: %v", matches)
	}
}
