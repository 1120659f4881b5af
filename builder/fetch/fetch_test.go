package fetch

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
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

func writeTemp(t testing.TB, data []byte) string {
	p := filepath.Join(t.TempDir(), "archive")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
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

	p, _, err := f.Get(ctx, "artifact", srv.URL+"/file", good)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); !bytes.Equal(b, body) {
		t.Errorf("cached bytes %q", b)
	}
	local := writeTemp(t, body)
	if _, _, err := f.Get(ctx, "artifact", local, good); err != nil {
		t.Errorf("local path: %v", err)
	}

	var de *DigestError
	wrong := digest.FromString("other")
	if _, _, err := f.Get(ctx, "artifact", srv.URL+"/file", wrong); !errors.As(err, &de) || de.Got != good {
		t.Errorf("wrong digest: err = %v", err)
	}
	if _, _, err := f.Get(ctx, "artifact", srv.URL+"/missing", good+"0"); err == nil {
		t.Error("a malformed digest was accepted")
	}
	if _, _, err := f.Get(ctx, "artifact", srv.URL+"/missing", digest.FromString("x")); err == nil || !strings.Contains(err.Error(), "404") {
		t.Errorf("missing URL: err = %v", err)
	}
	if _, _, err := f.Get(ctx, "artifact", local, digest.Digest("md5:"+strings.Repeat("0", 32))); err == nil {
		t.Error("an md5 pin was accepted")
	}
	if _, _, err := f.Get(ctx, "artifact", "ftp://example.org/x", good); err == nil {
		t.Error("an ftp URL was accepted")
	}
}

// A download tells Bytes how it goes: the running count, the size the
// server announced, and a last report at the whole size.
func TestGetByteProgress(t *testing.T) {
	body := bytes.Repeat([]byte("0123456789abcdef"), 100_000) // 1.6 MB
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sized" {
			w.Header().Set("Content-Length", strconv.Itoa(len(body)))
		} // else chunked: the size is unknown
		w.Write(body)
	}))
	defer srv.Close()
	for _, tc := range []struct {
		path  string
		total int64
	}{{"/sized", int64(len(body))}, {"/chunked", 0}} {
		t.Run(tc.path, func(t *testing.T) {
			type report struct {
				label       string
				done, total int64
			}
			var got []report
			f := &Fetcher{CacheDir: t.TempDir(), Bytes: func(label string, done, total int64) {
				got = append(got, report{label, done, total})
			}}
			if _, _, err := f.Get(context.Background(), "artifact", srv.URL+tc.path, digest.FromBytes(body)); err != nil {
				t.Fatal(err)
			}
			if len(got) < 2 {
				t.Fatalf("reports %v, want several for %d bytes", got, len(body))
			}
			last := got[len(got)-1]
			for i, r := range got[:len(got)-1] {
				if r.label != "downloading "+srv.URL+tc.path || r.total != tc.total || (i > 0 && r.done <= got[i-1].done) {
					t.Errorf("report %d: %+v, want a rising count of the download, total %d", i, r, tc.total)
				}
			}
			// The last says the transfer ended: all of it, of itself.
			if last.done != int64(len(body)) || last.total != last.done {
				t.Errorf("last report %+v, want %d of %d", last, len(body), len(body))
			}
		})
	}
}

// A URL served from the cache is recorded as such, with where and when its
// bytes were fetched; the result never claims this run read a URL it did
// not contact. With Refetch the URL is contacted, and a dead one fails.
func TestGetRecordsWhereBytesCameFrom(t *testing.T) {
	body := []byte("release bytes")
	want := digest.FromBytes(body)
	alive := true
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if !alive {
			http.NotFound(w, r)
			return
		}
		w.Write(body)
	}))
	defer srv.Close()
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	now := t0
	f := &Fetcher{CacheDir: t.TempDir(), Now: func() time.Time { return now }}
	ctx := context.Background()

	first := srv.URL + "/a/release.tgz"
	_, rec, err := f.Get(ctx, "shipped artifact", first, want)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&Fetched{Location: first, FetchedFrom: first, FetchedAt: t0}, rec); diff != "" {
		t.Errorf("first fetch (-want +got):\n%s", diff)
	}

	// The URL dies; a recipe naming it (or another URL) with the same
	// digest is served from the cache, and says so.
	alive = false
	now = t0.Add(time.Hour)
	dead := srv.URL + "/b/moved.tgz"
	_, rec, err = f.Get(ctx, "shipped artifact", dead, want)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&Fetched{Location: dead, Cached: true, FetchedFrom: first, FetchedAt: t0}, rec); diff != "" {
		t.Errorf("cached (-want +got):\n%s", diff)
	}
	if !strings.Contains(rec.Describe(), "was not contacted") {
		t.Errorf("Describe = %q", rec.Describe())
	}

	f.Refetch = true
	if _, _, err := f.Get(ctx, "shipped artifact", dead, want); err == nil || !strings.Contains(err.Error(), "404") {
		t.Fatalf("Refetch of a dead URL: err = %v, want the 404", err)
	}
	alive = true
	_, rec, err = f.Get(ctx, "shipped artifact", dead, want)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(&Fetched{Location: dead, FetchedFrom: dead, FetchedAt: now}, rec); diff != "" {
		t.Errorf("refetched (-want +got):\n%s", diff)
	}
}

// A local file is read and checked on every use: a changed file is caught
// even though the cache holds the bytes it had, and a FIFO is refused
// without hanging.
func TestGetLocalPathEveryTime(t *testing.T) {
	body := []byte("release bytes")
	want := digest.FromBytes(body)
	f := &Fetcher{CacheDir: t.TempDir()}
	ctx := context.Background()
	local := writeTemp(t, body)
	_, rec, err := f.Get(ctx, "shipped artifact", local, want)
	if err != nil || rec.Cached || rec.FetchedFrom != local {
		t.Fatalf("Get = %+v, %v", rec, err)
	}
	os.WriteFile(local, []byte("changed"), 0o644)
	var de *DigestError
	if _, _, err := f.Get(ctx, "shipped artifact", local, want); !errors.As(err, &de) {
		t.Fatalf("changed local file: err = %v, want a digest mismatch", err)
	}
	fifo := filepath.Join(t.TempDir(), "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { _, _, err := f.Get(ctx, "shipped artifact", fifo, want); done <- err }()
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "not a regular file") {
			t.Errorf("FIFO: err = %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Get hangs on a FIFO")
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

// TestGitSourceTag: a pinned tag must point at the pinned commit in the
// repository, a tag pushed after the mirror was made is fetched, and the
// checkout holds the pinned tag as the only one on the commit.
func TestGitSourceTag(t *testing.T) {
	repo, commit := gitRepo(t)
	ctx := context.Background()
	tree, err := treehash.Dir(ctx, repo)
	if err != nil {
		t.Fatal(err)
	}
	f := &Fetcher{CacheDir: t.TempDir()}
	get := func(tag string) (*Source, error) {
		r := &recipes.Recipe{Source: recipes.Source{Git: &recipes.GitSource{URL: repo, Commit: commit, Tag: tag, Tree: tree}}}
		return f.Source(ctx, r, filepath.Join(t.TempDir(), "src"))
	}
	// The mirror is made before any tag exists.
	if _, err := get(""); err != nil {
		t.Fatal(err)
	}
	for _, args := range [][]string{{"tag", "v1.0.0"}, {"tag", "v1.0.0-rc.1"}, {"tag", "-a", "-m", "annotated", "v1.0.1"}} {
		if out, err := runGitIn(repo, append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com"}, args...)...); err != nil {
			t.Fatalf("git %v: %v: %s", args, err, out)
		}
	}
	for _, tag := range []string{"v1.0.0", "v1.0.1"} {
		src, err := get(tag)
		if err != nil {
			t.Fatalf("tag %s: %v", tag, err)
		}
		if got, _ := runGitIn(src.Dir, "tag", "--points-at", "HEAD"); got != tag {
			t.Errorf("the checkout's tags at the commit are %q, want only %s", got, tag)
		}
	}
	// A second commit, tagged; a tag that moved; a tag that never was.
	os.WriteFile(filepath.Join(repo, "extra.go"), []byte("package main\n"), 0o644)
	runGitIn(repo, "add", ".")
	runGitIn(repo, "-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-q", "-m", "two")
	runGitIn(repo, "tag", "v2.0.0")
	second, _ := runGitIn(repo, "rev-parse", "HEAD")
	if _, err := get("v2.0.0"); err == nil || !strings.Contains(err.Error(), "tag v2.0.0 points at commit "+second+", not at the pinned "+commit) {
		t.Errorf("a tag of another commit: err = %v", err)
	}
	if _, err := get("v9.9.9"); err == nil || !strings.Contains(err.Error(), "tag v9.9.9 is not in the repository") {
		t.Errorf("a missing tag: err = %v", err)
	}
	runGitIn(repo, "tag", "-f", "v1.0.0", second)
	f.Refetch = true
	if _, err := get("v1.0.0"); err == nil || !strings.Contains(err.Error(), "points at commit "+second) {
		t.Errorf("a tag moved since: err = %v", err)
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
	rec, err := f.Shipped(context.Background(), r, s, dest)
	if err != nil {
		t.Fatal(err)
	}
	if rec == nil || rec.Location != p || rec.Cached {
		t.Errorf("record = %+v", rec)
	}
	s.MemberDigest = digest.FromString("other")
	var de *DigestError
	if _, err := f.Shipped(context.Background(), r, s, filepath.Join(t.TempDir(), "t")); !errors.As(err, &de) {
		t.Fatalf("wrong member digest: err = %v", err)
	}
}

// A download another cache holds (a fleet's shared cache) is copied from
// it without contacting the URL, and checked: a shared copy with other
// bytes is ignored and the URL fetched, and the shared cache is never
// written to.
func TestGetFromSharedCache(t *testing.T) {
	body := []byte("shared release bytes")
	want := digest.FromBytes(body)
	hits := 0
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits++
		w.Write(body)
	}))
	defer srv.Close()
	ctx := context.Background()
	now := time.Date(2026, 12, 7, 10, 0, 0, 0, time.UTC)
	seed := &Fetcher{CacheDir: t.TempDir(), Now: func() time.Time { return now }}
	if _, _, err := seed.Get(ctx, "shipped artifact", srv.URL+"/r.tgz", want); err != nil {
		t.Fatal(err)
	}
	shared := seed.CacheDir
	f := &Fetcher{CacheDir: t.TempDir(), Shared: []string{t.TempDir(), shared}, Now: func() time.Time { return now }}
	p, rec, err := f.Get(ctx, "shipped artifact", srv.URL+"/other-name.tgz", want)
	if err != nil {
		t.Fatal(err)
	}
	if hits != 1 || !rec.Cached || !strings.Contains(rec.FetchedFrom, "the shared cache "+shared) || !strings.Contains(rec.FetchedFrom, srv.URL+"/r.tgz") {
		t.Errorf("%d requests; record %+v", hits, rec)
	}
	if b, _ := os.ReadFile(p); string(b) != string(body) || !strings.HasPrefix(p, f.CacheDir) {
		t.Errorf("got %s holding %q", p, b)
	}

	// A shared copy whose bytes are not the pinned ones is not used.
	other := []byte("other bytes")
	wantOther := digest.FromBytes(other)
	bad := t.TempDir()
	os.MkdirAll(filepath.Join(bad, "downloads", "sha256"), 0o755)
	os.WriteFile(filepath.Join(bad, "downloads", "sha256", wantOther.Encoded()), []byte("tampered"), 0o644)
	body = other
	f = &Fetcher{CacheDir: t.TempDir(), Shared: []string{bad}}
	p, rec, err = f.Get(ctx, "shipped artifact", srv.URL+"/o.tgz", wantOther)
	if err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "other bytes" || rec.Cached || hits != 2 {
		t.Errorf("a tampered shared copy: got %q, record %+v, %d requests", b, rec, hits)
	}
	if b, _ := os.ReadFile(filepath.Join(bad, "downloads", "sha256", wantOther.Encoded())); string(b) != "tampered" {
		t.Error("the shared cache was written to")
	}
}
