package cli

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// goldenGit runs git in dir with a fixed identity and clock and none of
// this machine's configuration, so that a commit has the same id in every
// run.
func goldenGit(t *testing.T, dir string, args ...string) {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(),
		"GIT_CONFIG_GLOBAL=/dev/null", "GIT_CONFIG_NOSYSTEM=1",
		"GIT_AUTHOR_NAME=Hello Dev", "GIT_AUTHOR_EMAIL=dev@example.com", "GIT_AUTHOR_DATE=2026-10-01T10:00:00Z",
		"GIT_COMMITTER_NAME=Hello Dev", "GIT_COMMITTER_EMAIL=dev@example.com", "GIT_COMMITTER_DATE=2026-10-01T10:00:00Z")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
}

// infer's whole output on real binaries built as releases are (-trimpath
// -ldflags='-s -w', CGO off): the recipe on stdout and the findings on
// stderr, for a binary without its source (the recipe is incomplete: exit
// 4), with its source directory (complete), and for one stamped with VCS
// information from a git checkout, pinned from the clone. The Go version
// the binaries record is that of the go command building them: a new Go on
// this machine refreshes this golden (-update).
func TestGoldenInfer(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed to build a VCS-stamped binary")
	}
	tr := newTranscript(t)
	helloSource(t, filepath.Join(tr.dir, "src"), "example.com/hello", "hello, world")
	goldenGoBuild(t, filepath.Join(tr.dir, "src"), "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(tr.dir, "hello"), ".")
	tr.run("infer", "hello")
	tr.run("infer", "--source", "src", "hello")

	// A module in a git repository, built from its checkout: the go
	// command stamps vcs.revision, vcs.time and vcs.modified.
	repo := filepath.Join(tr.dir, "repo")
	helloSource(t, filepath.Join(repo, "cmd", "tool"), "example.com/tool", "hello from a checkout")
	goldenGit(t, repo, "init", "-q", "-b", "main")
	goldenGit(t, repo, "add", ".")
	goldenGit(t, repo, "commit", "-q", "-m", "tool 1.0")
	goldenGoBuild(t, filepath.Join(repo, "cmd", "tool"), "-trimpath", "-ldflags=-s -w", "-o", filepath.Join(tr.dir, "tool"), ".")
	// Its image needs git, and infer locks it against the mirror's signed
	// indexes. The real mirror moves on (its lock would change this
	// golden), so here the mirror cannot be reached: the recipe is written
	// incomplete and says to run reprove lock. TestCITemplates locks
	// against the real mirror and rebuilds.
	tr.run("infer", "--debian-mirror", "http://127.0.0.1:1", "--source", "repo", "--source-url", "https://example.com/tool.git", "tool")

	tr.run("infer", "src/main.go")
	tr.check("infer")
}
