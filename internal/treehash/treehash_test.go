package treehash

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func write(t *testing.T, dir, name, body string, mode os.FileMode) {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(body), mode); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(p, mode); err != nil {
		t.Fatal(err)
	}
}

func base(t *testing.T) string {
	dir := t.TempDir()
	write(t, dir, "main.go", "package main\n", 0o644)
	write(t, dir, "sub/a.txt", "a\n", 0o644)
	write(t, dir, "run.sh", "#!/bin/sh\n", 0o755)
	if err := os.Symlink("sub/a.txt", filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	return dir
}

func TestDirChangesWithEveryTrackedProperty(t *testing.T) {
	ctx := context.Background()
	want, err := Dir(ctx, base(t))
	if err != nil {
		t.Fatal(err)
	}
	if err := want.Validate(); err != nil {
		t.Fatal(err)
	}
	same := base(t)
	// Untracked by design: the .git directory, empty directories, and
	// permission bits other than exec.
	write(t, same, ".git/HEAD", "ref: refs/heads/main\n", 0o644)
	if err := os.Mkdir(filepath.Join(same, "empty"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(filepath.Join(same, "main.go"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, err := Dir(ctx, same); err != nil || got != want {
		t.Errorf("Dir with untracked changes = %v, %v; want %v", got, err, want)
	}

	changes := map[string]func(dir string){
		"content":     func(d string) { write(t, d, "main.go", "package main // x\n", 0o644) },
		"exec bit":    func(d string) { os.Chmod(filepath.Join(d, "main.go"), 0o755) },
		"new file":    func(d string) { write(t, d, "sub/b.txt", "", 0o644) },
		"rename":      func(d string) { os.Rename(filepath.Join(d, "sub"), filepath.Join(d, "sub2")) },
		"link target": func(d string) { os.Remove(filepath.Join(d, "link")); os.Symlink("main.go", filepath.Join(d, "link")) },
		"removed":     func(d string) { os.Remove(filepath.Join(d, "run.sh")) },
	}
	for name, change := range changes {
		t.Run(name, func(t *testing.T) {
			d := base(t)
			change(d)
			got, err := Dir(ctx, d)
			if err != nil {
				t.Fatal(err)
			}
			if got == want {
				t.Errorf("digest unchanged after %s", name)
			}
		})
	}
}

func TestDirRefusesSpecialFiles(t *testing.T) {
	d := base(t)
	if err := mkfifo(filepath.Join(d, "fifo")); err != nil {
		t.Fatal(err)
	}
	if _, err := Dir(context.Background(), d); err == nil {
		t.Fatal("Dir accepted a named pipe")
	}
}

func TestDirMissing(t *testing.T) {
	if _, err := Dir(context.Background(), filepath.Join(t.TempDir(), "nope")); err == nil {
		t.Fatal("Dir of a missing directory succeeded")
	}
}

// hostileTree is a tree whose symlinks point out of it in every way: an
// absolute link, a relative one to .., a chain ending outside, and a link
// to a directory outside holding a file the walk must not read.
func hostileTree(t *testing.T, outside string) string {
	t.Helper()
	d := t.TempDir()
	write(t, d, "main.go", "package main\n", 0o644)
	for name, target := range map[string]string{
		"ext":        outside,
		"up":         "..",
		"sub/upup":   "../..",
		"chain1":     "chain2",
		"chain2":     "sub/chain3",
		"sub/chain3": "../../" + filepath.Base(outside),
		"inside":     "sub",
	} {
		if err := os.MkdirAll(filepath.Join(d, filepath.Dir(name)), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.Symlink(target, filepath.Join(d, name)); err != nil {
			t.Fatal(err)
		}
	}
	return d
}

func TestDirDoesNotFollowLinksOut(t *testing.T) {
	ctx := context.Background()
	outside := t.TempDir()
	write(t, outside, "go.sum", "secret\n", 0o644)
	tree := hostileTree(t, outside)
	list, err := listing(ctx, tree)
	if err != nil {
		t.Fatal(err)
	}
	got := strings.Split(strings.TrimSpace(string(list)), "\n")
	var kinds []string
	for _, l := range got {
		f := strings.Fields(l)
		kinds = append(kinds, f[0]+" "+f[len(f)-1])
	}
	want := []string{"link chain1", "link chain2", "link ext", "link inside", "file main.go", "link sub/chain3", "link sub/upup", "link up"}
	if diff := cmp.Diff(want, kinds); diff != "" {
		t.Errorf("listing (-want +got):\n%s\n%s", diff, list)
	}
	before, _ := Dir(ctx, tree)
	write(t, outside, "go.sum", "changed\n", 0o644)
	if after, _ := Dir(ctx, tree); after != before {
		t.Error("the digest changed with a file outside the tree: a link was followed")
	}
}
