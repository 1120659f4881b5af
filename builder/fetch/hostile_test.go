package fetch

import (
	"archive/tar"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/internal/treehash"
	"github.com/reprove/reprove/recipes"
)

// outsideDir is a host directory no source may read: it holds a go.sum
// and a secret.
func outsideDir(t *testing.T) string {
	t.Helper()
	d := t.TempDir()
	os.WriteFile(filepath.Join(d, "go.mod"), []byte("module evil\n"), 0o644)
	os.WriteFile(filepath.Join(d, "go.sum"), []byte("host secret\n"), 0o644)
	return d
}

// hostileLinks are symlinks that point out of a tree in every way.
func hostileLinks(outside string) map[string]string {
	return map[string]string{
		"ext":        outside,                        // absolute
		"rel":        "../" + filepath.Base(outside), // relative, to a sibling of the tree
		"up":         "..",                           // to ..
		"sub/upup":   "../..",                        // to .. from below
		"chain1":     "chain2",                       // a chain ending outside
		"chain2":     "sub/chain3",
		"sub/chain3": "../../" + filepath.Base(outside),
		"inside":     "sub", // a harmless one
	}
}

func writeTree(t *testing.T, dir string, links map[string]string) {
	t.Helper()
	os.MkdirAll(filepath.Join(dir, "sub"), 0o755)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "sub", "a.txt"), []byte("a\n"), 0o644)
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(dir, name)); err != nil {
			t.Fatal(err)
		}
	}
}

// assertLinksCopied checks that every link arrived as a link with its
// target, and that no byte of the outside directory was copied.
func assertLinksCopied(t *testing.T, dir string, links map[string]string) {
	t.Helper()
	for name, target := range links {
		got, err := os.Readlink(filepath.Join(dir, name))
		if err != nil || got != target {
			t.Errorf("%s: link %q, %v; want a link to %q", name, got, err, target)
		}
	}
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err == nil && info.Mode().IsRegular() {
			if b, _ := os.ReadFile(p); strings.Contains(string(b), "host secret") {
				t.Errorf("%s holds the outside directory's file", p)
			}
		}
		return nil
	})
}

func TestDirSourceWithLinksOut(t *testing.T) {
	parent := t.TempDir()
	outside := outsideDir(t)
	// The outside directory sits next to the tree, so "rel" really
	// resolves to it.
	sibling := filepath.Join(parent, filepath.Base(outside))
	if err := os.Rename(outside, sibling); err != nil {
		t.Fatal(err)
	}
	src := filepath.Join(parent, "src")
	links := hostileLinks(sibling)
	writeTree(t, src, links)
	want, err := treehash.Dir(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	f := &Fetcher{CacheDir: t.TempDir()}
	r := &recipes.Recipe{Source: recipes.Source{Dir: &recipes.DirSource{Path: src, Tree: want}}}
	got, err := f.Source(context.Background(), r, filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	assertLinksCopied(t, got.Dir, links)
}

func TestGitSourceWithLinksOut(t *testing.T) {
	outside := outsideDir(t)
	repo, _ := gitRepo(t)
	links := hostileLinks(outside)
	os.MkdirAll(filepath.Join(repo, "sub"), 0o755)
	for name, target := range links {
		if err := os.Symlink(target, filepath.Join(repo, name)); err != nil {
			t.Fatal(err)
		}
	}
	runGitIn(repo, "add", ".")
	if out, err := runGitIn(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "links"); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	commit, _ := runGitIn(repo, "rev-parse", "HEAD")
	want, err := treehash.Dir(context.Background(), repo)
	if err != nil {
		t.Fatal(err)
	}
	f := &Fetcher{CacheDir: t.TempDir()}
	r := &recipes.Recipe{Source: recipes.Source{Git: &recipes.GitSource{URL: repo, Commit: commit, Tree: want}}}
	got, err := f.Source(context.Background(), r, filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	assertLinksCopied(t, got.Dir, links)
}

func TestArchiveSourceWithLinksOut(t *testing.T) {
	outside := outsideDir(t)
	links := hostileLinks(outside)
	link := func(name string) member { return member{name: name, typ: tar.TypeSymlink, link: links[name]} }
	cases := map[string][]member{
		"absolute":      {link("ext")},
		"relative":      {link("rel")},
		"to ..":         {link("up")},
		"to .. below":   {{name: "sub/", typ: tar.TypeDir}, link("sub/upup")},
		"chain":         {link("chain1"), link("chain2"), {name: "sub/", typ: tar.TypeDir}, link("sub/chain3")},
		"via a link":    {{name: "sub/", typ: tar.TypeDir}, {name: "sub/up", typ: tar.TypeSymlink, link: ".."}, {name: "sub/up/x", typ: tar.TypeSymlink, link: ".."}},
		"file via link": {link("ext"), {name: "ext/go.sum", body: "overwritten"}},
	}
	for name, members := range cases {
		t.Run(name, func(t *testing.T) {
			arch := tarGz(t, members)
			p := writeTemp(t, arch)
			f := &Fetcher{CacheDir: t.TempDir()}
			r := &recipes.Recipe{Source: recipes.Source{Archive: &recipes.ArchiveSource{Path: p, Digest: digest.FromBytes(arch)}}}
			dest := filepath.Join(t.TempDir(), "s")
			_, err := f.Source(context.Background(), r, dest)
			if err == nil || !strings.Contains(err.Error(), "symlink") {
				t.Fatalf("err = %v, want the link refused", err)
			}
			if b, _ := os.ReadFile(filepath.Join(outside, "go.sum")); string(b) != "host secret\n" {
				t.Errorf("the outside directory's go.sum was changed: %q", b)
			}
			if _, err := os.Lstat(dest); !os.IsNotExist(err) {
				t.Errorf("a refused archive left %s", dest)
			}
		})
	}
}
