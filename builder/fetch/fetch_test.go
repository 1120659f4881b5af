package fetch

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/builder/goproxy"
	"github.com/reprove/reprove/internal/treehash"
	"github.com/reprove/reprove/recipes"
)

type member struct {
	name, body, link string
	typ              byte
	mode             int64
}

func tarGz(t testing.TB, members []member) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, m := range members {
		typ := m.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := m.mode
		if mode == 0 {
			mode = 0o644
		}
		h := &tar.Header{Name: m.name, Typeflag: typ, Mode: mode, Linkname: m.link, Size: int64(len(m.body)), ModTime: time.Unix(1700000000, 0)}
		if typ != tar.TypeReg {
			h.Size = 0
		}
		if err := tw.WriteHeader(h); err != nil {
			t.Fatal(err)
		}
		if typ == tar.TypeReg {
			tw.Write([]byte(m.body))
		}
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func zipOf(t testing.TB, files map[string]string) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		w, err := zw.Create(n)
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte(files[n]))
	}
	zw.Close()
	return buf.Bytes()
}

func writeTemp(t testing.TB, data []byte) string {
	p := filepath.Join(t.TempDir(), "archive")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func listTree(t *testing.T, dir string) []string {
	var out []string
	filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		switch {
		case info.Mode()&os.ModeSymlink != 0:
			l, _ := os.Readlink(p)
			out = append(out, rel+" -> "+l)
		case info.IsDir():
			out = append(out, rel+"/")
		default:
			b, _ := os.ReadFile(p)
			out = append(out, rel+" "+info.Mode().Perm().String()+" "+string(b))
		}
		return nil
	})
	return out
}

func TestExtract(t *testing.T) {
	arch := tarGz(t, []member{
		{name: "pkg-1.0/", typ: tar.TypeDir, mode: 0o755},
		{name: "pkg-1.0/main.go", body: "package main\n"},
		{name: "pkg-1.0/run.sh", body: "#!/bin/sh\n", mode: 0o4755},
		{name: "pkg-1.0/sub/link", typ: tar.TypeSymlink, link: "../main.go"},
		{name: "pkg-1.0/hard", typ: tar.TypeLink, link: "pkg-1.0/main.go"},
	})
	dir := filepath.Join(t.TempDir(), "src")
	newest, err := Extract(context.Background(), writeTemp(t, arch), dir, 1, DefaultLimits)
	if err != nil {
		t.Fatal(err)
	}
	if newest.Unix() != 1700000000 {
		t.Errorf("newest = %v", newest)
	}
	want := []string{
		"hard -rw-r--r-- package main\n",
		"main.go -rw-r--r-- package main\n",
		"run.sh -rwxr-xr-x #!/bin/sh\n", // setuid dropped
		"sub/",
		"sub/link -> ../main.go",
	}
	if diff := cmp.Diff(want, listTree(t, dir)); diff != "" {
		t.Errorf("tree (-want +got):\n%s", diff)
	}

	zdir := filepath.Join(t.TempDir(), "z")
	if _, err := Extract(context.Background(), writeTemp(t, zipOf(t, map[string]string{"a/b.txt": "b"})), zdir, 0, DefaultLimits); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]string{"a/", "a/b.txt -rw-r--r-- b"}, listTree(t, zdir)); diff != "" {
		t.Errorf("zip tree (-want +got):\n%s", diff)
	}
}

func TestExtractRefusesHostileArchives(t *testing.T) {
	tests := []struct {
		name    string
		data    []byte
		lim     Limits
		wantErr string
	}{
		{"dotdot", tarGz(t, []member{{name: "../evil", body: "x"}}), DefaultLimits, "leaves the archive"},
		{"nested dotdot", tarGz(t, []member{{name: "a/../../evil", body: "x"}}), DefaultLimits, "leaves the archive"},
		{"absolute", tarGz(t, []member{{name: "/etc/evil", body: "x"}}), DefaultLimits, "absolute path"},
		{"symlink out", tarGz(t, []member{{name: "l", typ: tar.TypeSymlink, link: "../../etc/passwd"}}), DefaultLimits, "symlink leaves"},
		{"symlink absolute", tarGz(t, []member{{name: "l", typ: tar.TypeSymlink, link: "/etc"}}), DefaultLimits, "absolute path /etc"},
		{"write through symlink", tarGz(t, []member{{name: "d", typ: tar.TypeSymlink, link: "x"}, {name: "d/f", body: "x"}}), DefaultLimits, "conflicting"},
		{"device", tarGz(t, []member{{name: "dev", typ: tar.TypeChar}}), DefaultLimits, "not allowed"},
		{"duplicate", tarGz(t, []member{{name: "a", body: "1"}, {name: "a", body: "2"}}), DefaultLimits, "duplicate"},
		{"hard link out", tarGz(t, []member{{name: "h", typ: tar.TypeLink, link: "../x"}}), DefaultLimits, "outside the tree"},
		{"too many", tarGz(t, []member{{name: "a", body: "1"}, {name: "b", body: "2"}}), Limits{Entries: 1, Bytes: 100}, "more than 1 members"},
		{"too big", tarGz(t, []member{{name: "a", body: strings.Repeat("x", 200)}}), Limits{Entries: 10, Bytes: 100}, "expands beyond"},
		{"not an archive", []byte("hello"), DefaultLimits, "not a tar"},
	}
	full := tarGz(t, []member{{name: "a", body: strings.Repeat("x", 10000)}})
	tests = append(tests, struct {
		name    string
		data    []byte
		lim     Limits
		wantErr string
	}{"truncated", full[:len(full)/2], DefaultLimits, "archive"})
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			base := t.TempDir()
			dir := filepath.Join(base, "out")
			_, err := Extract(context.Background(), writeTemp(t, tc.data), dir, 0, tc.lim)
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want one containing %q", err, tc.wantErr)
			}
			if _, err := os.Stat(dir); !os.IsNotExist(err) {
				t.Errorf("a refused archive left %s behind", dir)
			}
			if _, err := os.Lstat(filepath.Join(base, "evil")); err == nil {
				t.Error("a member was written outside the directory")
			}
		})
	}
}

func FuzzExtract(f *testing.F) {
	f.Add(tarGz(f, []member{{name: "a/b", body: "x"}, {name: "a/l", typ: tar.TypeSymlink, link: "b"}}))
	f.Add(zipOf(f, map[string]string{"x/y": "z"}))
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		dir := filepath.Join(base, "out")
		if _, err := Extract(context.Background(), writeTemp(t, data), dir, 0, Limits{Entries: 100, Bytes: 1 << 20}); err != nil {
			return
		}
		// Whatever was accepted stays inside dir, and no symlink points out.
		filepath.Walk(dir, func(p string, info os.FileInfo, err error) error {
			if err != nil {
				return nil
			}
			if !strings.HasPrefix(p, dir) {
				t.Fatalf("%s outside %s", p, dir)
			}
			if info.Mode()&os.ModeSymlink != 0 {
				l, _ := os.Readlink(p)
				res := filepath.Join(filepath.Dir(p), l)
				if filepath.IsAbs(l) || !strings.HasPrefix(res, dir) {
					t.Fatalf("symlink %s -> %s escapes", p, l)
				}
			}
			return nil
		})
		entries, _ := os.ReadDir(base)
		if len(entries) != 1 { // only out
			t.Fatalf("extraction wrote outside its directory: %v", entries)
		}
	})
}

func TestMember(t *testing.T) {
	arch := writeTemp(t, tarGz(t, []member{
		{name: "package/", typ: tar.TypeDir},
		{name: "package/bin/tool", body: "ELF...", mode: 0o755},
		{name: "package/README", body: "hi"},
		{name: "package/dup", body: "1"},
		{name: "package/dup", body: "2"},
		{name: "package/link", typ: tar.TypeSymlink, link: "bin/tool"},
	}))
	dest := filepath.Join(t.TempDir(), "tool")
	if err := Member(context.Background(), arch, "package/bin/tool", dest); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(dest); string(b) != "ELF..." {
		t.Errorf("member contents %q", b)
	}
	for name, wantErr := range map[string]string{
		"package/nope": "not found",
		"package/dup":  "more than once",
		"package/link": "not a regular file",
	} {
		err := Member(context.Background(), arch, name, filepath.Join(t.TempDir(), "x"))
		var ae *ArchiveError
		if !errors.As(err, &ae) || !strings.Contains(err.Error(), wantErr) {
			t.Errorf("Member(%s) = %v, want %q", name, err, wantErr)
		}
	}
}

func TestGet(t *testing.T) {
	body := []byte("release bytes")
	good := digest.FromBytes(body)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()
	f := &Fetcher{CacheDir: t.TempDir()}
	ctx := context.Background()

	p, err := f.Get(ctx, "artifact", srv.URL+"/file", good)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, body) {
		t.Errorf("cached bytes %q", b)
	}
	local := writeTemp(t, body)
	if _, err := f.Get(ctx, "artifact", local, good); err != nil {
		t.Errorf("local path: %v", err)
	}

	var de *DigestError
	wrong := digest.FromString("other")
	if _, err := f.Get(ctx, "artifact", srv.URL+"/file", wrong); !errors.As(err, &de) || de.Got != good {
		t.Errorf("wrong digest: err = %v", err)
	}
	if _, err := f.Get(ctx, "artifact", srv.URL+"/missing", good+"0"); err == nil {
		t.Error("a malformed digest was accepted")
	}
	if _, err := f.Get(ctx, "artifact", srv.URL+"/missing", digest.FromString("x")); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing URL: err = %v", err)
	}
	if _, err := f.Get(ctx, "artifact", local, digest.Digest("md5:"+strings.Repeat("0", 32))); err == nil {
		t.Error("an md5 pin was accepted")
	}
	if _, err := f.Get(ctx, "artifact", "ftp://example.org/x", good); err == nil {
		t.Error("an ftp URL was accepted")
	}
}

func gitRepo(t *testing.T) (dir, commit string) {
	t.Helper()
	dir = t.TempDir()
	run := func(args ...string) string {
		out, err := runGitIn(dir, args...)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	run("init", "-q", "-b", "main")
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/hello\n\ngo 1.21\n"), 0o644)
	run("add", ".")
	run("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "one", "--date=2024-02-03T04:05:06Z")
	return dir, run("rev-parse", "HEAD")
}

func runGitIn(dir string, args ...string) (string, error) {
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_COMMITTER_DATE=2024-02-03T04:05:06Z", "GIT_AUTHOR_DATE=2024-02-03T04:05:06Z")
	out, err := cmd.CombinedOutput()
	return strings.TrimSpace(string(out)), err
}

func TestGitSource(t *testing.T) {
	repo, commit := gitRepo(t)
	// The expected tree digest, computed from an independent checkout.
	want, err := treehash.Dir(context.Background(), repo)
	if err != nil {
		t.Fatal(err)
	}
	f := &Fetcher{CacheDir: t.TempDir()}
	ctx := context.Background()
	r := &recipes.Recipe{Source: recipes.Source{Git: &recipes.GitSource{URL: repo, Commit: commit, Tree: want}}}
	src, err := f.Source(ctx, r, filepath.Join(t.TempDir(), "src"))
	if err != nil {
		t.Fatal(err)
	}
	if src.Epoch != time.Date(2024, 2, 3, 4, 5, 6, 0, time.UTC).Unix() {
		t.Errorf("epoch = %d, want the commit time", src.Epoch)
	}
	if src.Resolved.Commit != commit || src.Resolved.Digest != want {
		t.Errorf("resolved = %+v", src.Resolved)
	}
	if _, err := os.Stat(filepath.Join(src.Dir, ".git")); err != nil {
		t.Errorf("checkout lacks .git (needed for VCS stamping): %v", err)
	}

	tests := []struct {
		name    string
		g       recipes.GitSource
		wantErr string
	}{
		{"wrong tree", recipes.GitSource{URL: repo, Commit: commit, Tree: digest.FromString("x")}, "tree digest mismatch"},
		{"short commit", recipes.GitSource{URL: repo, Commit: commit[:12], Tree: want}, "not a full"},
		{"unknown commit", recipes.GitSource{URL: repo, Commit: strings.Repeat("1", 40), Tree: want}, "not found"},
		{"no repository", recipes.GitSource{URL: filepath.Join(t.TempDir(), "none"), Commit: commit, Tree: want}, "fetch git source"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := &recipes.Recipe{Source: recipes.Source{Git: &tc.g}}
			_, err := f.Source(ctx, r, filepath.Join(t.TempDir(), "src"))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Fatalf("err = %v, want %q", err, tc.wantErr)
			}
		})
	}

	// A new commit in the repository is fetched into the cached mirror.
	os.WriteFile(filepath.Join(repo, "extra.go"), []byte("package main\n"), 0o644)
	runGitIn(repo, "add", ".")
	runGitIn(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "two")
	second, _ := runGitIn(repo, "rev-parse", "HEAD")
	tree2, _ := treehash.Dir(ctx, repo)
	r = &recipes.Recipe{Source: recipes.Source{Git: &recipes.GitSource{URL: repo, Commit: second, Tree: tree2}}}
	if _, err := f.Source(ctx, r, filepath.Join(t.TempDir(), "src")); err != nil {
		t.Fatalf("new commit: %v", err)
	}
}

func TestDirSource(t *testing.T) {
	src := t.TempDir()
	os.WriteFile(filepath.Join(src, "a.go"), []byte("package a\n"), 0o644)
	want, _ := treehash.Dir(context.Background(), src)
	f := &Fetcher{CacheDir: t.TempDir()}
	r := &recipes.Recipe{Source: recipes.Source{Dir: &recipes.DirSource{Path: src, Tree: want}}}
	if _, err := f.Source(context.Background(), r, filepath.Join(t.TempDir(), "s")); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "a.go"), []byte("package a // changed\n"), 0o644)
	var te *TreeError
	if _, err := f.Source(context.Background(), r, filepath.Join(t.TempDir(), "s")); !errors.As(err, &te) {
		t.Fatalf("changed directory: err = %v, want a tree mismatch", err)
	}
}

func TestGoModuleSource(t *testing.T) {
	if testing.Short() {
		t.Skip("needs the Go module proxy (skipped with -short)")
	}
	cache := t.TempDir()
	f := &Fetcher{CacheDir: cache, Proxy: &goproxy.Client{
		ModCache: filepath.Join(cache, "mod"),
		SumDB:    goproxy.NewSumDB("", goproxy.SumGolangOrgKey, filepath.Join(cache, "sumdb"), nil),
	}}
	m := &recipes.GoModuleSource{Path: "github.com/google/uuid", Version: "v1.6.0", Sum: "h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0="}
	r := &recipes.Recipe{Source: recipes.Source{GoModule: m}}
	src, err := f.Source(context.Background(), r, filepath.Join(t.TempDir(), "s"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(src.Dir, "uuid.go")); err != nil {
		t.Error(err)
	}
	if src.Epoch <= 0 {
		t.Errorf("epoch %d, want the module's time", src.Epoch)
	}
	m.Sum = "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	var mm *goproxy.MismatchError
	if _, err := f.Source(context.Background(), r, filepath.Join(t.TempDir(), "s")); !errors.As(err, &mm) {
		t.Fatalf("wrong sum: err = %v, want a mismatch", err)
	}
}

func TestShipped(t *testing.T) {
	tool := []byte("\x7fELF shipped")
	arch := tarGz(t, []member{{name: "package/bin/tool", body: string(tool), mode: 0o755}})
	p := writeTemp(t, arch)
	f := &Fetcher{CacheDir: t.TempDir()}
	r := &recipes.Recipe{}
	s := &recipes.Shipped{Path: p, Digest: digest.FromBytes(arch), Member: "package/bin/tool", MemberDigest: digest.FromBytes(tool)}
	dest := filepath.Join(t.TempDir(), "tool")
	if err := f.Shipped(context.Background(), r, s, dest); err != nil {
		t.Fatal(err)
	}
	s.MemberDigest = digest.FromString("other")
	var de *DigestError
	if err := f.Shipped(context.Background(), r, s, filepath.Join(t.TempDir(), "t")); !errors.As(err, &de) {
		t.Fatalf("wrong member digest: err = %v", err)
	}
}
