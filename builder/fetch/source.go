package fetch

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"

	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/reprove/reprove/internal/atomicfile"
	"github.com/reprove/reprove/internal/ctxio"
	"github.com/reprove/reprove/internal/lazyre"
	"github.com/reprove/reprove/internal/treehash"
	"github.com/reprove/reprove/internal/unpack"
	"github.com/reprove/reprove/recipes"
)

// Source is a fetched and verified source tree.
type Source struct {
	// Dir is the tree on the host.
	Dir string
	// Epoch is the source's own time (commit time, module time, newest
	// archive member), the default SOURCE_DATE_EPOCH.
	Epoch int64
	// Resolved describes what was fetched, for provenance.
	Resolved Resolved
}

// Resolved is a fetched input as provenance records it.
type Resolved struct {
	// Kind is "git", "archive", "gomod", "dir" or "dsc".
	Kind string `json:"kind"`
	// URI locates it: a git URL, an archive URL or path, a module path.
	URI string `json:"uri"`
	// Commit (git), Version (gomod).
	Commit  string `json:"commit,omitempty"`
	Version string `json:"version,omitempty"`
	// Digest is the sha256 pin that was checked: the archive's digest or
	// the tree digest of a checkout or directory.
	Digest digest.Digest `json:"digest,omitempty"`
	// Sum is a Go module's h1: hash.
	Sum string `json:"sum,omitempty"`
	// Fetched says whether this run read the source from URI or served it
	// from the cache (set for git, archive and dir sources; a Go module is
	// identified by its sum, whichever proxy served it).
	Fetched *Fetched `json:"fetched,omitempty"`
}

// TreeError is a checkout or directory whose tree digest is not the one the
// recipe pins.
type TreeError struct {
	What string
	Want digest.Digest
	Got  digest.Digest
}

func (e *TreeError) Error() string {
	return fmt.Sprintf("%s: tree digest mismatch: the recipe pins %s, the checkout is %s", e.What, e.Want, e.Got)
}

// Source fetches r's source into dest (which must not exist) and verifies
// it. Relative local paths are resolved against the recipe's directory.
func (f *Fetcher) Source(ctx context.Context, r *recipes.Recipe, dest string) (*Source, error) {
	s := r.Source
	switch {
	case s.Git != nil:
		return f.git(ctx, s.Git, dest)
	case s.Archive != nil:
		loc := s.Archive.URL
		if loc == "" {
			loc = r.ResolvePath(s.Archive.Path)
		}
		p, rec, err := f.Get(ctx, "source archive", loc, s.Archive.Digest)
		if err != nil {
			return nil, err
		}
		newest, err := unpack.Extract(ctx, p, dest, s.Archive.Strip, unpack.DefaultLimits)
		if err != nil {
			return nil, fmt.Errorf("extract source archive %s: %w", loc, err)
		}
		var epoch int64
		if !newest.IsZero() && newest.Unix() > 0 {
			epoch = newest.Unix()
		}
		return &Source{Dir: dest, Epoch: epoch, Resolved: Resolved{Kind: "archive", URI: loc, Digest: s.Archive.Digest, Fetched: rec}}, nil
	case s.GoModule != nil:
		return f.goModule(ctx, s.GoModule, dest)
	case s.Dir != nil:
		return f.dir(ctx, r.ResolvePath(s.Dir.Path), s.Dir.Tree, dest)
	case s.DSC != nil:
		return f.dsc(ctx, r, dest)
	}
	return nil, errors.New("fetch source: the recipe names no source")
}

func (f *Fetcher) goModule(ctx context.Context, m *recipes.GoModuleSource, dest string) (*Source, error) {
	if f.Proxy == nil || f.Proxy.SumDB == nil {
		return nil, errors.New("fetch Go module source: no module proxy with a checksum database")
	}
	f.log("fetching %s@%s", m.Path, m.Version)
	info, err := f.Proxy.Info(ctx, m.Path, m.Version)
	if err != nil {
		return nil, err
	}
	// Checked against the recipe's sum and the checksum database.
	zipPath, sum, err := f.Proxy.Zip(ctx, m.Path, m.Version, m.Sum)
	if err != nil {
		return nil, fmt.Errorf("fetch source: %w", err)
	}
	if err := modzip.Unzip(dest, module.Version{Path: m.Path, Version: m.Version}, zipPath); err != nil {
		os.RemoveAll(dest)
		return nil, fmt.Errorf("fetch source: unpack %s@%s: %w", m.Path, m.Version, err)
	}
	if m.Path == recipes.ToolchainModule {
		// A Go distribution as source: its programs need their exec bits,
		// which module zips do not carry.
		root, err := os.OpenRoot(dest)
		if err != nil {
			return nil, err
		}
		defer root.Close()
		err = fs.WalkDir(root.FS(), ".", func(p string, d fs.DirEntry, err error) error {
			if err != nil || !d.Type().IsRegular() {
				return err
			}
			if recipes.IsToolchainExecutable(p) {
				return root.Chmod(p, 0o755)
			}
			return nil
		})
		if err != nil {
			return nil, fmt.Errorf("fetch source: %s@%s: %w", m.Path, m.Version, err)
		}
	}
	return &Source{Dir: dest, Epoch: info.Time.Unix(), Resolved: Resolved{Kind: "gomod", URI: m.Path, Version: m.Version, Sum: sum}}, nil
}

// dir copies a local directory (regular files, directories, symlinks) and
// verifies the copy, so that the bytes checked are the bytes built.
func (f *Fetcher) dir(ctx context.Context, src string, want digest.Digest, dest string) (*Source, error) {
	at := f.now()
	if err := CopyTree(ctx, src, dest); err != nil {
		os.RemoveAll(dest)
		return nil, fmt.Errorf("fetch source directory %s: %w", src, err)
	}
	got, err := treehash.Dir(ctx, dest)
	if err != nil {
		return nil, err
	}
	if got != want {
		return nil, &TreeError{What: "source directory " + src, Want: want, Got: got}
	}
	return &Source{Dir: dest, Resolved: Resolved{Kind: "dir", URI: src, Digest: got, Fetched: &Fetched{Location: src, FetchedFrom: src, FetchedAt: at}}}, nil
}

// CopyTree copies regular files (with their exec bit and times),
// directories and symlinks from src to dest (created, must not exist), in
// lexical order; anything else is refused. Both trees are opened as
// os.Roots, so nothing in src (a symlink, a chain of them, a link to ..,
// a directory swapped for a link while the copy runs) makes it read or
// write outside them; symlinks are copied as links, never followed.
func CopyTree(ctx context.Context, src, dest string) error {
	from, err := os.OpenRoot(src)
	if err != nil {
		return err
	}
	defer from.Close()
	if err := os.Mkdir(dest, 0o755); err != nil {
		return err
	}
	to, err := os.OpenRoot(dest)
	if err != nil {
		return err
	}
	defer to.Close()
	return fs.WalkDir(from.FS(), ".", func(rel string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if err := ctx.Err(); err != nil {
			return err
		}
		if rel == "." {
			return nil
		}
		switch typ := d.Type(); {
		case typ.IsDir():
			return to.Mkdir(rel, 0o755)
		case typ&fs.ModeSymlink != 0:
			t, err := from.Readlink(rel)
			if err != nil {
				return err
			}
			return to.Symlink(t, rel)
		case typ.IsRegular():
			return copyFileIn(ctx, from, to, rel)
		default:
			return fmt.Errorf("%s is a %s; only files, directories and symlinks are copied", rel, typ)
		}
	})
}

// copyFileIn copies the regular file rel from one root to the other.
func copyFileIn(ctx context.Context, from, to *os.Root, rel string) error {
	in, err := from.OpenFile(rel, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return err
	}
	defer in.Close()
	info, err := in.Stat()
	if err != nil {
		return err
	}
	if !info.Mode().IsRegular() {
		return fmt.Errorf("%s changed into a %s while it was copied", rel, info.Mode().Type())
	}
	mode := os.FileMode(0o644)
	if info.Mode().Perm()&0o111 != 0 {
		mode = 0o755
	}
	out, err := to.OpenFile(rel, os.O_CREATE|os.O_EXCL|os.O_WRONLY, mode)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, ctxio.NewReader(ctx, in)); err != nil {
		out.Close()
		return err
	}
	if err := out.Close(); err != nil {
		return err
	}
	return to.Chtimes(rel, info.ModTime(), info.ModTime())
}

var hexCommit = lazyre.New(`^([0-9a-f]{40}|[0-9a-f]{64})$`)

// git checks out the commit from a local mirror of the repository, fetched
// or updated first, and verifies the checkout's tree digest.
//
// The git program does this rather than a Go library: it speaks every
// transport and object format, and the build image needs the same git for
// Go's VCS stamping anyway.
func (f *Fetcher) git(ctx context.Context, g *recipes.GitSource, dest string) (*Source, error) {
	if !hexCommit().MatchString(g.Commit) {
		return nil, fmt.Errorf("fetch git source: commit %q is not a full hexadecimal object name", g.Commit)
	}
	h := sha256.Sum256([]byte(g.URL))
	mirror := filepath.Join(f.CacheDir, "git", hex.EncodeToString(h[:16])+".git")
	rec := &Fetched{Location: g.URL, FetchedFrom: g.URL, FetchedAt: f.now()}
	contacted := false
	if _, err := os.Stat(mirror); err != nil {
		f.log("cloning %s", g.URL)
		tmp := mirror + ".tmp"
		os.RemoveAll(tmp)
		if err := os.MkdirAll(filepath.Dir(mirror), 0o755); err != nil {
			return nil, err
		}
		if _, err := runGit(ctx, "", "clone", "--quiet", "--mirror", "--", g.URL, tmp); err != nil {
			os.RemoveAll(tmp)
			return nil, fmt.Errorf("fetch git source %s: %w", g.URL, err)
		}
		if err := os.Rename(tmp, mirror); err != nil {
			return nil, err
		}
		contacted = true
	}
	// The pinned tag must be in the mirror too; a mirror made before the
	// tag was pushed is updated.
	tagMissing := func() bool {
		if g.Tag == "" {
			return false
		}
		_, err := runGit(ctx, mirror, "rev-parse", "-q", "--verify", "refs/tags/"+g.Tag)
		return err != nil
	}
	if _, err := runGit(ctx, mirror, "cat-file", "-e", g.Commit+"^{commit}"); err != nil || tagMissing() || (f.Refetch && !contacted) {
		f.log("updating %s", g.URL)
		if _, err := runGit(ctx, mirror, "fetch", "--quiet", "--prune", "--", g.URL, "+refs/*:refs/*"); err != nil {
			return nil, fmt.Errorf("fetch git source %s: %w", g.URL, err)
		}
		if _, err := runGit(ctx, mirror, "cat-file", "-e", g.Commit+"^{commit}"); err != nil {
			return nil, fmt.Errorf("fetch git source %s: commit %s not found in the repository", g.URL, g.Commit)
		}
		contacted = true
	}
	if g.Tag != "" {
		if err := checkTag(ctx, mirror, g); err != nil {
			return nil, err
		}
	}
	originFile := filepath.Join(mirror, "reprove-origin.json")
	if contacted {
		raw, err := json.Marshal(origin{Location: g.URL, FetchedAt: rec.FetchedAt})
		if err != nil {
			return nil, err
		}
		if err := atomicfile.Write(originFile, raw, 0o644); err != nil {
			return nil, err
		}
	} else {
		// The commit was in the mirror already: the repository was not
		// contacted.
		var o origin
		if b, err := os.ReadFile(originFile); err == nil {
			json.Unmarshal(b, &o)
		}
		rec = &Fetched{Location: g.URL, Cached: true, FetchedFrom: o.Location, FetchedAt: o.FetchedAt}
		f.log("git source: %s", rec.Describe())
	}
	if _, err := runGit(ctx, "", "clone", "--quiet", "--no-checkout", "--", mirror, dest); err != nil {
		return nil, fmt.Errorf("fetch git source: %w", err)
	}
	if _, err := runGit(ctx, dest, "checkout", "--quiet", "--detach", g.Commit); err != nil {
		return nil, fmt.Errorf("fetch git source: check out %s: %w", g.Commit, err)
	}
	head, err := runGit(ctx, dest, "rev-parse", "HEAD")
	if err != nil || head != g.Commit {
		return nil, fmt.Errorf("fetch git source: HEAD is %q after checking out %s", head, g.Commit)
	}
	if g.Tag != "" {
		if err := keepOnlyTag(ctx, dest, g); err != nil {
			return nil, err
		}
	}
	// The checkout's remote would name the host's mirror path; point it at
	// the real URL instead.
	if _, err := runGit(ctx, dest, "remote", "set-url", "origin", g.URL); err != nil {
		return nil, err
	}
	ct, err := runGit(ctx, dest, "log", "-1", "--format=%ct", g.Commit)
	if err != nil {
		return nil, err
	}
	epoch, err := strconv.ParseInt(ct, 10, 64)
	if err != nil {
		return nil, fmt.Errorf("fetch git source: commit time %q: %w", ct, err)
	}
	got, err := treehash.Dir(ctx, dest)
	if err != nil {
		return nil, err
	}
	if got != g.Tree {
		return nil, &TreeError{What: fmt.Sprintf("git source %s@%s", g.URL, g.Commit), Want: g.Tree, Got: got}
	}
	return &Source{Dir: dest, Epoch: epoch, Resolved: Resolved{Kind: "git", URI: g.URL, Commit: g.Commit, Digest: got, Fetched: rec}}, nil
}

// checkTag refuses a git source whose pinned tag, in the repository as
// fetched, is missing or points at another commit than the pinned one.
func checkTag(ctx context.Context, repo string, g *recipes.GitSource) error {
	got, err := runGit(ctx, repo, "rev-parse", "-q", "--verify", "refs/tags/"+g.Tag+"^{commit}")
	if err != nil {
		return fmt.Errorf("fetch git source %s: tag %s is not in the repository", g.URL, g.Tag)
	}
	if got != g.Commit {
		return fmt.Errorf("fetch git source %s: tag %s points at commit %s, not at the pinned %s", g.URL, g.Tag, got, g.Commit)
	}
	return nil
}

// keepOnlyTag leaves the pinned tag as the one tag pointing at the commit
// in a checkout, so that a version stamped from a tag (Go 1.24 and later)
// comes from the tag the recipe names, whatever else the repository has
// tagged the commit with since.
func keepOnlyTag(ctx context.Context, dest string, g *recipes.GitSource) error {
	if err := checkTag(ctx, dest, g); err != nil {
		return err
	}
	out, err := runGit(ctx, dest, "tag", "--points-at", g.Commit)
	if err != nil {
		return fmt.Errorf("fetch git source: %w", err)
	}
	for _, t := range strings.Fields(out) {
		if t == g.Tag {
			continue
		}
		if _, err := runGit(ctx, dest, "tag", "-d", "--", t); err != nil {
			return fmt.Errorf("fetch git source: %w", err)
		}
	}
	return nil
}

// runGit runs git with none of the caller's configuration.
func runGit(ctx context.Context, dir string, args ...string) (string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = dir
	home, err := os.MkdirTemp("", "reprove-git-home-")
	if err != nil {
		return "", err
	}
	defer os.RemoveAll(home)
	cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + home,
		"GIT_CONFIG_NOSYSTEM=1",
		"GIT_TERMINAL_PROMPT=0",
		"GIT_ASKPASS=/bin/false",
		"LC_ALL=C",
		"TZ=UTC",
	}
	var out, stderr bytes.Buffer
	cmd.Stdout = &out
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("git %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return strings.TrimSpace(out.String()), nil
}

// Shipped fetches a shipped artifact into dest: the file itself, or the
// member inside it, each checked against its pinned digest. The record
// says whether the file was read from its URL or path in this run, or
// served from the cache (see Fetched).
func (f *Fetcher) Shipped(ctx context.Context, r *recipes.Recipe, s *recipes.Shipped, dest string) (*Fetched, error) {
	loc := s.URL
	if loc == "" {
		loc = r.ResolvePath(s.Path)
	}
	p, rec, err := f.Get(ctx, "shipped artifact", loc, s.Digest)
	if err != nil {
		return nil, err
	}
	if s.Member == "" {
		return rec, copyFile(p, dest)
	}
	if _, err := newHash(s.MemberDigest); err != nil {
		return nil, fmt.Errorf("shipped artifact %s member %s: %w", loc, s.Member, err)
	}
	if err := memberFile(ctx, p, s.Member, dest); err != nil {
		return nil, fmt.Errorf("shipped artifact %s: %w", loc, err)
	}
	got, err := fileDigest(ctx, dest, s.MemberDigest.Algorithm(), f.Bytes, "hashing "+s.Member)
	if err != nil {
		return nil, err
	}
	if got != s.MemberDigest {
		os.Remove(dest)
		return nil, &DigestError{What: fmt.Sprintf("shipped artifact %s member %s", loc, s.Member), Want: s.MemberDigest, Got: got}
	}
	return rec, nil
}

// memberFile copies an archive member into dest atomically.
func memberFile(ctx context.Context, archive, member, dest string) error {
	return atomicfile.WriteFunc(dest, 0o644, func(w io.Writer) error {
		return unpack.Member(ctx, archive, member, w, unpack.DefaultLimits)
	})
}

func copyFile(src, dest string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return atomicfile.WriteFrom(dest, in, 0o644)
}
