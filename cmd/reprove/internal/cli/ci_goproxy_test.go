package cli

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// repoModule is reprove's module path, as the templates install it.
const repoModule = "github.com/reprove/reprove"

// localProxy is a Go module proxy on disk (served to the go command as a
// file:// GOPROXY) holding a copy of this repository as it is now — the
// files git tracks or would track, uncommitted changes included — tagged
// with a version named after its content, v0.1.0-test-HASH. It stands in
// for proxy.golang.org, which serves no reprove made from this tree.
//
// The runners share the machine's module cache (so that reprove's
// dependencies, compiled by the other tests, come from the build cache);
// the content-named version keeps a stale copy from being installed, and
// the copy is removed from that cache when the test ends.
type localProxy struct {
	Dir     string
	Version string
}

// URL is the proxy as GOPROXY names it.
func (p *localProxy) URL() string { return "file://" + p.Dir }

func newLocalProxy(t *testing.T, dir string) *localProxy {
	t.Helper()
	root, err := filepath.Abs("../../../..")
	if err != nil {
		t.Fatal(err)
	}
	ls := exec.Command("git", "ls-files", "-z", "--cached", "--others", "--exclude-standard")
	ls.Dir = root
	out, err := ls.Output()
	if err != nil {
		t.Fatalf("list the repository's files: %v", err)
	}
	var files []modzip.File
	h := sha256.New()
	for _, rel := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		if rel == "" {
			continue
		}
		b, err := os.ReadFile(filepath.Join(root, rel))
		if err != nil {
			continue // deleted in the work tree, not yet in git; or a directory (a submodule)
		}
		sum := sha256.Sum256(b)
		io.WriteString(h, rel+"\x00"+hex.EncodeToString(sum[:])+"\n")
		files = append(files, repoFile{root: root, rel: rel})
	}
	p := &localProxy{Dir: dir, Version: "v0.1.0-test-" + hex.EncodeToString(h.Sum(nil))[:12]}
	gomod, err := os.ReadFile(filepath.Join(root, "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	var zb bytes.Buffer
	if err := modzip.Create(&zb, module.Version{Path: repoModule, Version: p.Version}, files); err != nil {
		t.Fatalf("zip the repository as %s@%s: %v", repoModule, p.Version, err)
	}
	info, _ := json.Marshal(map[string]any{"Version": p.Version, "Time": time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC)})
	vdir := filepath.Join(dir, repoModule, "@v")
	if err := os.MkdirAll(vdir, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, b := range map[string][]byte{
		p.Version + ".zip": zb.Bytes(), p.Version + ".mod": gomod, p.Version + ".info": info, "list": []byte(p.Version + "\n"),
	} {
		if err := os.WriteFile(filepath.Join(vdir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return p
}

// removeFromModCache deletes what installing the copy put into a module
// cache: its extracted tree (read-only, as the go command leaves it) and
// its downloads.
func (p *localProxy) removeFromModCache(t *testing.T, modCache string) {
	tree := filepath.Join(modCache, repoModule+"@"+p.Version)
	filepath.WalkDir(tree, func(path string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			os.Chmod(path, 0o755)
		}
		return nil
	})
	if err := os.RemoveAll(tree); err != nil {
		t.Errorf("remove the copy from the module cache: %v", err)
	}
	dl, _ := filepath.Glob(filepath.Join(modCache, "cache", "download", repoModule, "@v", p.Version+".*"))
	for _, f := range dl {
		os.Remove(f)
	}
}

// repoFile is one file of the repository for modzip.Create.
type repoFile struct{ root, rel string }

func (f repoFile) Path() string                 { return filepath.ToSlash(f.rel) }
func (f repoFile) Lstat() (fs.FileInfo, error)  { return os.Lstat(filepath.Join(f.root, f.rel)) }
func (f repoFile) Open() (io.ReadCloser, error) { return os.Open(filepath.Join(f.root, f.rel)) }
