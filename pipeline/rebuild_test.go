package pipeline_test

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/signing"
	"github.com/reprove/reprove/builder/buildertest"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/internal/ctxio"
	"github.com/reprove/reprove/internal/treehash"
	"github.com/reprove/reprove/pipeline"
	"github.com/reprove/reprove/recipes"
	"github.com/reprove/reprove/schemas"
)

const goVersion = "1.26.8"

func session(t *testing.T, events *[]pipeline.Event) *pipeline.Session {
	t.Helper()
	buildertest.NeedContainerd(t)
	var mu sync.Mutex
	s, err := pipeline.Open(context.Background(), pipeline.Runtime{
		CacheDir:       buildertest.CacheDir(t),
		ReproveVersion: "test",
		Now:            func() time.Time { return time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC) },
		Progress: func(e pipeline.Event) {
			mu.Lock()
			defer mu.Unlock()
			if events != nil {
				*events = append(*events, e)
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

// helloRecipe is a Go program with no dependencies, built as Go release
// binaries are (-trimpath, -s -w, CGO off), from a local directory.
func helloRecipe(t *testing.T, text string, shipped *recipes.Shipped) *recipes.Recipe {
	t.Helper()
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/hello\n\ngo 1.21\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\""+text+"\") }\n"), 0o644)
	tree, err := treehash.Dir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return &recipes.Recipe{
		Schema: 1, Name: "hello", Version: "1.0.0",
		Source:    recipes.Source{Dir: &recipes.DirSource{Path: dir, Tree: tree}},
		Toolchain: recipes.Toolchain{Go: goVersion},
		Env:       map[string]string{"CGO_ENABLED": "0"},
		Steps:     []recipes.Step{{Run: []string{"go", "build", "-trimpath", "-ldflags=-s -w", "-o", "/out/hello", "."}}},
		Outputs:   []recipes.Output{{Path: "hello", Shipped: shipped}},
	}
}

func readJSON(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// The whole rebuild on real containerd: rebuilt (nothing shipped),
// reproduced and signed (the shipped file is the first build's output), not
// reproduced (a shipped file built from other source), each leaving one
// complete directory whose result.json and rebuild.json match their
// schemas.
func TestRebuild(t *testing.T) {
	var events []pipeline.Event
	s := session(t, &events)
	ctx := context.Background()
	work := t.TempDir()

	first, err := s.Rebuild(ctx, pipeline.RebuildRequest{Recipe: helloRecipe(t, "hello, world", nil), OutDir: filepath.Join(work, "first")})
	if err != nil {
		t.Fatal(err)
	}
	if first.Verdict != pipeline.Rebuilt || len(first.Outputs) != 1 || first.Outputs[0].Shipped != nil {
		t.Fatalf("nothing shipped: verdict %v, outputs %+v", first.Verdict, first.Outputs)
	}
	if first.Rebuild == nil || first.Rebuild.Outputs[0].Digest != first.Outputs[0].Rebuilt {
		t.Fatalf("the record of the build does not hold the output: %+v", first.Rebuild)
	}
	var phases []string
	for _, e := range events {
		if len(phases) == 0 || phases[len(phases)-1] != string(e.Phase) {
			phases = append(phases, string(e.Phase))
		}
	}
	if !strings.Contains(strings.Join(phases, " "), "build") {
		t.Errorf("progress never showed the build: %v", phases)
	}

	// The shipped file: the first rebuild's output, copied elsewhere.
	shippedPath := filepath.Join(work, "dist", "hello")
	os.MkdirAll(filepath.Dir(shippedPath), 0o755)
	b, _ := os.ReadFile(filepath.Join(first.Dir, "outputs", "hello"))
	os.WriteFile(shippedPath, b, 0o755)
	shipped := &recipes.Shipped{Path: shippedPath, Digest: digest.FromBytes(b)}

	pair, err := signing.Generate([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	signer, err := signing.Parse(pair.Private, []byte("pw"), "rebuilder")
	if err != nil {
		t.Fatal(err)
	}
	goodRecipe := helloRecipe(t, "hello, world", shipped)
	good, err := s.Rebuild(ctx, pipeline.RebuildRequest{
		Recipe: goodRecipe, OutDir: filepath.Join(work, "good"),
		Signing: &pipeline.Signing{Signer: signer, BuilderID: "https://rebuilder.example/", Reviews: reviewOf(t, ctx, goodRecipe)},
	})
	if err != nil {
		t.Fatal(err)
	}
	if good.Verdict != pipeline.Reproduced || *good.Outputs[0].Verdict != verdict.Identical {
		t.Fatalf("verdict %v / %v, want reproduced / identical", good.Verdict, good.Outputs[0].Verdict)
	}
	if len(good.Attestations) != 3 {
		t.Fatalf("attestations %v, want the provenance, one comparison and one summary (VSA)", good.Attestations)
	}
	if len(good.Reviews) != 1 || filepath.Dir(good.Reviews[0]) != filepath.Join(good.Dir, "attestations") {
		t.Fatalf("reviews %v, want the one cited, kept in attestations/", good.Reviews)
	}
	for _, a := range append(good.Attestations, good.Reviews...) {
		if _, err := envelope.Parse(readJSON(t, a)); err != nil {
			t.Errorf("%s: %v", a, err)
		}
	}
	for _, f := range []string{"outputs/hello", "shipped/hello", "compare/hello.json", "compare/hello.txt", "compare/hello.html", "build.log", "rebuild.json", "result.json"} {
		if _, err := os.Stat(filepath.Join(good.Dir, f)); err != nil {
			t.Errorf("missing %s: %v", f, err)
		}
	}
	res := readJSON(t, filepath.Join(good.Dir, "result.json"))
	if err := schemas.Validate("rebuild-result", res); err != nil {
		t.Errorf("result.json: %v", err)
	}
	if err := schemas.Validate("rebuild-record", readJSON(t, filepath.Join(good.Dir, "rebuild.json"))); err != nil {
		t.Errorf("rebuild.json: %v", err)
	}
	// result.json is the returned value, and its build record is rebuild.json.
	var back pipeline.RebuildResult
	if err := json.Unmarshal(res, &back); err != nil {
		t.Fatal(err)
	}
	if back.Verdict != pipeline.Reproduced || back.Rebuild.BuilderID != "https://rebuilder.example/" {
		t.Errorf("result.json reads back as %v by %s", back.Verdict, back.Rebuild.BuilderID)
	}

	// Another program shipped under the same name: not reproduced, with a
	// report, and still a complete directory.
	bad, err := s.Rebuild(ctx, pipeline.RebuildRequest{Recipe: helloRecipe(t, "hello, reprove", shipped), OutDir: filepath.Join(work, "bad")})
	if err != nil {
		t.Fatal(err)
	}
	if bad.Verdict != pipeline.NotReproduced || *bad.Outputs[0].Verdict != verdict.Different || bad.Outputs[0].Differences == 0 {
		t.Fatalf("a different program: %v %+v", bad.Verdict, bad.Outputs[0])
	}
	if err := schemas.Validate("rebuild-result", readJSON(t, filepath.Join(bad.Dir, "result.json"))); err != nil {
		t.Errorf("result.json: %v", err)
	}
	// The compare reports, which are published, name the files by role and
	// hold no path of this machine.
	for _, rep := range []string{"compare/hello.json", "compare/hello.txt", "compare/hello.html"} {
		b := readJSON(t, filepath.Join(bad.Dir, rep))
		if bytes.Contains(b, []byte(work)) {
			t.Errorf("%s names a local path (%s)", rep, work)
		}
	}
	var cr struct {
		Rebuilt, Shipped struct{ Path string }
	}
	if err := json.Unmarshal(readJSON(t, filepath.Join(bad.Dir, "compare/hello.json")), &cr); err != nil {
		t.Fatal(err)
	}
	if cr.Rebuilt.Path != "rebuilt/hello" || cr.Shipped.Path != "shipped/hello" {
		t.Errorf("the report names %q and %q, want rebuilt/hello and shipped/hello", cr.Rebuilt.Path, cr.Shipped.Path)
	}
}

// reviewOf signs an approving review of the recipe's source tree with a key
// of its own (an auditor's).
func reviewOf(t *testing.T, ctx context.Context, r *recipes.Recipe) []*envelope.Envelope {
	t.Helper()
	pair, err := signing.Generate([]byte("pw"))
	if err != nil {
		t.Fatal(err)
	}
	auditor, err := signing.Parse(pair.Private, []byte("pw"), "auditor")
	if err != nil {
		t.Fatal(err)
	}
	st, err := attest.ReviewStatement(&attest.ReviewPredicate{
		Reviewer:   attest.Party{ID: "mailto:auditor@example.com", Name: "Auditor"},
		Source:     attest.Source{URI: "file://" + r.Source.Dir.Path, Tree: r.Source.Dir.Tree},
		Scope:      attest.Scope{All: true},
		Verdict:    attest.Approved,
		ReviewedAt: time.Date(2026, 11, 30, 12, 0, 0, 0, time.UTC),
	})
	if err != nil {
		t.Fatal(err)
	}
	signed, err := attest.Sign(ctx, st, auditor)
	if err != nil {
		t.Fatal(err)
	}
	e, err := envelope.Parse(signed)
	if err != nil {
		t.Fatal(err)
	}
	return []*envelope.Envelope{e}
}

// A build that fails leaves nothing where the results would go, not even
// the reprove-out parent it had to create, and keeps its log in the cache.
func TestRebuildFailureLeavesNothing(t *testing.T) {
	s := session(t, nil)
	work := t.TempDir()
	r := helloRecipe(t, "hello", nil)
	r.Steps = []recipes.Step{{Run: []string{"sh", "-c", "echo about to fail; exit 7"}}}
	out := filepath.Join(work, "reprove-out", "hello-1.0.0")
	_, err := s.Rebuild(context.Background(), pipeline.RebuildRequest{Recipe: r, OutDir: out})
	if err == nil {
		t.Fatal("a failing build succeeded")
	}
	if ents, _ := os.ReadDir(work); len(ents) != 0 {
		t.Errorf("a failed rebuild left %d entries in %s", len(ents), work)
	}
	_, logPath, ok := strings.Cut(err.Error(), "(build log: ")
	if !ok {
		t.Fatalf("the error does not name the kept log: %v", err)
	}
	log, rerr := os.ReadFile(strings.TrimSuffix(logPath, ")"))
	if rerr != nil || !strings.Contains(string(log), "about to fail") {
		t.Errorf("kept log: %q, %v", log, rerr)
	}
	// A digest helper shared with the rest of reprove hashes what it kept.
	if _, err := ctxio.HashFile(context.Background(), strings.TrimSuffix(logPath, ")"), nil); err != nil {
		t.Error(err)
	}
}

// The caller's umask is a host condition like any other: a release job that
// runs `umask 077` before signing must get the same build (it got "go: not
// found" when reprove's own files and containerd inherited it).
func TestRebuildUnderStrictUmask(t *testing.T) {
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	s := session(t, nil)
	res, err := s.Rebuild(context.Background(), pipeline.RebuildRequest{Recipe: helloRecipe(t, "umask", nil), OutDir: filepath.Join(t.TempDir(), "out")})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verdict != pipeline.Rebuilt {
		t.Fatalf("verdict %v", res.Verdict)
	}
}
