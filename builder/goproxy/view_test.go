package goproxy

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// A view holds the modules asked for (files and extracted tree for a
// module with a zip hash, only the go.mod for the rest) and nothing else
// of the cache; the same module set gives the same view, made once.
func TestView(t *testing.T) {
	cache := t.TempDir()
	c := &Client{ModCache: cache}
	put := func(rel, body string) {
		p := filepath.Join(cache, filepath.FromSlash(rel))
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	for _, ext := range []string{".mod", ".info", ".zip", ".ziphash"} {
		put("cache/download/github.com/google/uuid/@v/v1.6.0"+ext, ext)
		put("cache/download/example.com/other/@v/v1.0.0"+ext, ext)
	}
	put("cache/download/golang.org/x/sys/@v/v0.1.0.mod", "module golang.org/x/sys")
	put("github.com/google/uuid@v1.6.0/uuid.go", "package uuid")
	put("github.com/google/uuid@v1.6.0/sub/x.go", "package sub")
	put("example.com/other@v1.0.0/other.go", "package other")

	mods := []Module{
		{Path: "golang.org/x/sys", Version: "v0.1.0", ModSum: "h1:x"},
		{Path: "github.com/google/uuid", Version: "v1.6.0", Sum: "h1:a", ModSum: "h1:b"},
		{Path: "github.com/google/uuid", Version: "v1.6.0", Sum: "h1:a", ModSum: "h1:b"},
	}
	views := filepath.Join(t.TempDir(), "views")
	dir, err := c.View(context.Background(), mods, views)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			got = append(got, filepath.ToSlash(rel))
		}
		return err
	})
	sort.Strings(got)
	want := []string{
		"cache/download/github.com/google/uuid/@v/v1.6.0.info",
		"cache/download/github.com/google/uuid/@v/v1.6.0.mod",
		"cache/download/github.com/google/uuid/@v/v1.6.0.zip",
		"cache/download/github.com/google/uuid/@v/v1.6.0.ziphash",
		"cache/download/golang.org/x/sys/@v/v0.1.0.mod",
		"github.com/google/uuid@v1.6.0/sub/x.go",
		"github.com/google/uuid@v1.6.0/uuid.go",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("view (-want +got):\n%s", diff)
	}
	// Hard links, not copies.
	a, _ := os.Stat(filepath.Join(cache, "github.com/google/uuid@v1.6.0/uuid.go"))
	b, _ := os.Stat(filepath.Join(dir, "github.com/google/uuid@v1.6.0/uuid.go"))
	if !os.SameFile(a, b) {
		t.Error("the view copied a file it could link")
	}
	again, err := c.View(context.Background(), mods[:2], views)
	if err != nil || again != dir {
		t.Errorf("same modules: view %s, %v; want %s", again, err, dir)
	}
	other, err := c.View(context.Background(), mods[1:2], views)
	if err != nil || other == dir {
		t.Errorf("other modules: view %s, %v; want a different one", other, err)
	}
	if v, err := c.View(context.Background(), nil, views); v != "" || err != nil {
		t.Errorf("no modules: view %q, %v; want none", v, err)
	}
	// A module that was not fetched is an error, not a view without it.
	if _, err := c.View(context.Background(), []Module{{Path: "example.com/missing", Version: "v1.0.0", Sum: "h1:z"}}, views); err == nil {
		t.Error("a view was made of a module the cache lacks")
	}
	entries, _ := os.ReadDir(views)
	for _, e := range entries {
		if e.Name()[0] == '.' {
			t.Errorf("a temporary view was left: %s", e.Name())
		}
	}
}
