package infer

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/internal/treehash"
	"github.com/reprove/reprove/recipes"
)

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = goEnv()
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git %v: %v", args, err)
	}
	return strings.TrimSpace(string(out))
}

// helloStampVars is what the test program holds that -X may set.
var helloStampVars = []StampVar{{Var: "main.version", Kind: StampVersion}}

func TestResolveSource(t *testing.T) {
	ctx := context.Background()
	root := filepath.Join(t.TempDir(), "repo")
	writeModule(t, root, "go", "cmd/hello")
	plain := filepath.Join(t.TempDir(), "plain")
	run(t, "/", goEnv(), "cp", "-a", root, plain)
	env := goEnv()
	goreleaser := "project_name: hello\nbuilds:\n  - main: ./cmd/hello\n    dir: go\n    ldflags: -s -w -X main.version={{.Version}}\n"
	if err := os.WriteFile(filepath.Join(root, ".goreleaser.yaml"), []byte(goreleaser), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, root, env, "git", "init", "-q")
	run(t, root, env, "git", "add", ".")
	run(t, root, env, "git", "commit", "-q", "-m", "one")
	first := gitOut(t, root, "rev-parse", "HEAD")
	run(t, root, env, "git", "tag", "v1.0.0")
	run(t, root, env, "git", "tag", "-a", "-m", "the first", "v1.0.0-rc.1")
	if err := os.WriteFile(filepath.Join(root, "README"), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	run(t, root, env, "git", "commit", "-q", "-am", "two")
	second := gitOut(t, root, "rev-parse", "HEAD")
	// An uncommitted change must not reach the pinned tree.
	if err := os.WriteFile(filepath.Join(root, "README"), []byte("dirty\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	// The tree digest of a clean checkout of each commit, made here
	// independently.
	treeAt := func(commit string) string {
		co := filepath.Join(t.TempDir(), "co")
		run(t, "/", env, "git", "clone", "-q", root, co)
		run(t, co, env, "git", "checkout", "-q", commit)
		d, err := treehash.Dir(ctx, co)
		if err != nil {
			t.Fatal(err)
		}
		return d.String()
	}
	plainTree, err := treehash.Dir(ctx, plain)
	if err != nil {
		t.Fatal(err)
	}
	stamped := func(rev string) *Facts {
		return &Facts{BuildInfo: bi("go1.26.8", "example.com/hello/cmd/hello", "example.com/hello", "vcs=git", "vcs.revision="+rev)}
	}
	unstamped := &Facts{BuildInfo: bi("go1.26.8", "example.com/hello/cmd/hello", "example.com/hello")}
	fileURL := "file://" + root
	// What every checkout of the repository says of a commit.
	commitTime := time.Date(2024, 1, 2, 3, 4, 5, 0, time.UTC)
	config := &Goreleaser{ProjectName: "hello", Builds: []GoreleaserBuild{{Main: "./cmd/hello", Dir: "go", Ldflags: stringArray{"-s -w -X main.version={{.Version}}"}}}}
	at := func(commit string, g *recipes.GitSource, tags ...string) *Source {
		return &Source{Git: g, ModuleDir: "go", Tags: tags, ShortCommit: commit[:7], CommitTime: commitTime,
			Goreleaser: config, GoreleaserFile: ".goreleaser.yaml", StampVars: helloStampVars}
	}

	tests := []struct {
		name    string
		spec    SourceSpec
		facts   *Facts
		want    *Source
		wantErr string
	}{
		{"git at the binary's revision", SourceSpec{Location: root}, stamped(first),
			at(first, &recipes.GitSource{URL: fileURL, Commit: first}, "v1.0.0-rc.1", "v1.0.0"), ""},
		{"git at HEAD, URL given", SourceSpec{Location: root, URL: "https://example.com/hello.git"}, stamped(second),
			at(second, &recipes.GitSource{URL: "https://example.com/hello.git", Commit: second}), ""},
		{"commit given, abbreviated", SourceSpec{Location: root, Commit: first[:10]}, unstamped,
			at(first, &recipes.GitSource{URL: fileURL, Commit: first}, "v1.0.0-rc.1", "v1.0.0"), ""},
		{"git URL", SourceSpec{Location: fileURL}, stamped(second),
			at(second, &recipes.GitSource{URL: fileURL, Commit: second}), ""},
		{"plain directory", SourceSpec{Location: plain}, unstamped,
			&Source{Dir: &recipes.DirSource{Path: plain, Tree: plainTree}, ModuleDir: "go", StampVars: helloStampVars}, ""},
		{"no revision", SourceSpec{Location: root}, unstamped, nil, "the binary records no vcs.revision; give the commit with --commit"},
		{"unknown commit", SourceSpec{Location: root, Commit: strings.Repeat("1", 40)}, unstamped, nil, "commit 1111111111111111111111111111111111111111"},
		{"other module", SourceSpec{Location: plain}, &Facts{BuildInfo: bi("go1.26.8", "example.com/other", "example.com/other")}, nil,
			"find go.mod of example.com/other: no go.mod in the source declares it"},
		{"missing", SourceSpec{Location: filepath.Join(plain, "nope")}, unstamped, nil, "no such file or directory"},
		{"not a URL", SourceSpec{Location: "example.com/hello"}, unstamped, nil, "no such file or directory"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ResolveSource(ctx, tt.spec, tt.facts)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("ResolveSource = %+v, %v; want an error containing %q", got, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if tt.want.Git != nil {
				// The tree is checked against an independent checkout.
				if want := treeAt(tt.want.Git.Commit); string(got.Git.Tree) != want {
					t.Errorf("tree = %s, want %s", got.Git.Tree, want)
				}
				tt.want.Git.Tree = got.Git.Tree
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("ResolveSource (-want +got):\n%s", diff)
			}
		})
	}
	// The two commits pin different trees.
	if treeAt(first) == treeAt(second) {
		t.Error("two different commits have the same tree digest")
	}
}
