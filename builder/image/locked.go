package image

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"

	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/sync/errgroup"

	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/debian/debfile"
	"github.com/reprove/reprove/internal/atomicfile"
	"github.com/reprove/reprove/internal/verified"
	"github.com/reprove/reprove/recipes"
)

// SnapshotDelay is archive.SnapshotDelay.
const SnapshotDelay = archive.SnapshotDelay

// DebError is a .deb that could not be had as the lock pins it.
type DebError struct {
	Package recipes.DebianPackage
	// Tried are the URLs asked, with what each answered.
	Tried []string
	Err   error
}

func (e *DebError) Error() string {
	return fmt.Sprintf("fetch %s %s (%s): %v; tried %s", e.Package.Name, e.Package.Version, e.Package.Path, e.Err, strings.Join(e.Tried, ", "))
}

func (e *DebError) Unwrap() error { return e.Err }

// DigestMismatch is a .deb whose bytes are not the ones the lock pins.
type DigestMismatch struct {
	URL       string
	Want, Got digest.Digest
	Size      int64
}

func (e *DigestMismatch) Error() string {
	return fmt.Sprintf("%s is not the locked file: sha256 %s (%d bytes), the lock pins %s", e.URL, e.Got, e.Size, e.Want)
}

func (b *Builder) debCache() string {
	if b.DebCache != "" {
		return b.DebCache
	}
	return filepath.Join(b.Dir, "debs")
}

func (b *Builder) httpClient() *http.Client {
	if b.HTTP != nil {
		return b.HTTP
	}
	return http.DefaultClient
}

// debURLs are the places a locked .deb is fetched from, in order: its
// archive (the mirror, or the archive of the lock's further Release it
// comes from), then the snapshot archive of that archive at its
// Release's date.
func (b *Builder) debURLs(l *recipes.DebianLock, p recipes.DebianPackage) []string {
	base, name, date := b.mirror(), "debian", l.Release.Date
	if o := l.Origin(p); o != nil {
		base, name, date = o.Archive, archive.ArchiveName(o.Archive), o.Date
	}
	urls := []string{strings.TrimSuffix(base, "/") + "/" + p.Path}
	snap := b.Snapshot
	if snap == "" {
		snap = archive.DefaultSnapshot
	}
	if d, err := time.Parse(time.RFC3339, date); err == nil && snap != "off" {
		urls = append(urls, archive.SnapshotArchiveURL(snap, name, d.Add(SnapshotDelay))+"/"+p.Path)
	}
	return urls
}

// fetchDeb returns the cached path of a locked .deb, fetching it when the
// cache lacks it. The cache is by digest; a file is checked against the
// lock when fetched, and a verification stamp (or, failing it, hashing
// again) proves it unchanged on later use.
func (b *Builder) fetchDeb(ctx context.Context, l *recipes.DebianLock, p recipes.DebianPackage) (string, error) {
	dest := filepath.Join(b.debCache(), p.SHA256.Encoded()+".deb")
	if verified.Check(dest, p.SHA256.String()) {
		return dest, nil
	}
	if got, err := fileSHA256(dest); err == nil && got == p.SHA256 {
		return dest, verified.Stamp(dest, p.SHA256.String())
	}
	if err := os.MkdirAll(b.debCache(), 0o755); err != nil {
		return "", err
	}
	var tried []string
	var last error
	for _, u := range b.debURLs(l, p) {
		err := b.download(ctx, u, p, dest)
		if err == nil {
			return dest, verified.Stamp(dest, p.SHA256.String())
		}
		var mm *DigestMismatch
		if errors.As(err, &mm) || ctx.Err() != nil {
			// The place served other bytes than the lock pins: refused,
			// never looked for elsewhere.
			return "", &DebError{Package: p, Tried: append(tried, u), Err: err}
		}
		tried = append(tried, fmt.Sprintf("%s (%v)", u, err))
		last = err
	}
	return "", &DebError{Package: p, Tried: tried, Err: fmt.Errorf("not found where the lock says it was: %w", last)}
}

func (b *Builder) download(ctx context.Context, url string, p recipes.DebianPackage, dest string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := b.httpClient().Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return &archive.StatusError{URL: url, Status: resp.Status, Code: resp.StatusCode}
	}
	h := digest.SHA256.Digester()
	var n int64
	err = atomicfile.WriteFunc(dest, 0o644, func(w io.Writer) error {
		// One byte past the locked size is enough to know it is not
		// the file.
		c, err := io.Copy(io.MultiWriter(w, h.Hash()), io.LimitReader(resp.Body, p.Size+1))
		n = c
		if err != nil {
			return err
		}
		if got := h.Digest(); got != p.SHA256 || n != p.Size {
			return &DigestMismatch{URL: url, Want: p.SHA256, Got: got, Size: n}
		}
		return nil
	})
	return err
}

func fileSHA256(p string) (digest.Digest, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", err
	}
	defer f.Close()
	return digest.SHA256.FromReader(f)
}

// fetchLocked fetches every .deb of the lock, a few at a time.
func (b *Builder) fetchLocked(ctx context.Context, l *recipes.DebianLock) (map[string]string, error) {
	paths := make(map[string]string, len(l.Packages))
	var mu sync.Mutex
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(4)
	for _, p := range l.Packages {
		g.Go(func() error {
			dest, err := b.fetchDeb(gctx, l, p)
			if err != nil {
				return err
			}
			mu.Lock()
			paths[p.Name] = dest
			mu.Unlock()
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, fmt.Errorf("build image: %w", err)
	}
	return paths, nil
}

// localRepo lays out an archive of exactly the locked files under dir:
// each .deb at its pool path (hard-linked from the cache when it can be)
// and dists/SUITE/main/binary-ARCH/Packages listing them, each paragraph
// the package's own control file with its path, size and SHA-256. apt
// reads it as a repository holding one version of each locked package and
// nothing else.
func localRepo(dir, suite string, l *recipes.DebianLock, debs map[string]string) error {
	var idx bytes.Buffer
	for _, p := range l.Packages {
		src := debs[p.Name]
		dst := filepath.Join(dir, filepath.FromSlash(p.Path))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		if err := os.Link(src, dst); err != nil {
			if err := copyPath(src, dst); err != nil {
				return err
			}
		}
		f, err := os.Open(src)
		if err != nil {
			return err
		}
		control, err := debfile.Control(p.Path, f, p.Size)
		f.Close()
		if err != nil {
			return fmt.Errorf("build image: %w", err)
		}
		idx.Write(bytes.TrimRight(control, "\n"))
		fmt.Fprintf(&idx, "\nFilename: %s\nSize: %d\nSHA256: %s\n\n", p.Path, p.Size, p.SHA256.Encoded())
	}
	pkgDir := filepath.Join(dir, "dists", suite, "main", "binary-"+l.Architecture)
	if err := os.MkdirAll(pkgDir, 0o755); err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(pkgDir, "Packages"), idx.Bytes(), 0o644); err != nil {
		return err
	}
	release := fmt.Sprintf("Suite: %s\nCodename: %s\nArchitectures: %s\nComponents: main\nDate: %s\nSHA256:\n %s %d main/binary-%s/Packages\n",
		suite, suite, l.Architecture, Epoch.Format(time.RFC1123), digest.FromBytes(idx.Bytes()).Encoded(), idx.Len(), l.Architecture)
	return os.WriteFile(filepath.Join(dir, "dists", suite, "Release"), []byte(release), 0o644)
}

func copyPath(src, dst string) error {
	in, err := os.Open(src)
	if err != nil {
		return err
	}
	defer in.Close()
	return atomicfile.WriteFrom(dst, in, 0o644)
}

// lockedRootfs builds the rootfs tarball of a locked Debian image: the
// lock's files are fetched (each checked by digest), laid out as a local
// archive, and mmdebstrap installs the variant and every locked package
// from it and from nothing else.
func (b *Builder) lockedRootfs(ctx context.Context, spec Spec, work, tarPath string) error {
	d := spec.Debian
	l := d.Lock
	b.log("image %s: fetching %d locked packages", spec.Describe(), len(l.Packages))
	debs, err := b.fetchLocked(ctx, l)
	if err != nil {
		return err
	}
	repo := filepath.Join(work, "repo")
	suite := spec.suite()
	if err := localRepo(repo, suite, l, debs); err != nil {
		return err
	}
	defer os.RemoveAll(repo)
	bin, err := exec.LookPath("mmdebstrap")
	if err != nil {
		return fmt.Errorf("build Debian rootfs: %w (install it with: bash ci/setup.sh)", err)
	}
	variant := d.Variant
	if variant == "" {
		variant = "minbase"
	}
	names := make([]string, len(l.Packages))
	for i, p := range l.Packages {
		names[i] = p.Name
	}
	args := []string{
		"--variant=" + variant,
		"--architectures=" + l.Architecture,
		"--include=" + strings.Join(names, ","),
		"--mode=root", "--format=tar", "--quiet",
		"--aptopt=Acquire::Languages \"none\"",
	}
	if variant == "extract" {
		// Unpacked, not installed: the .deb names in apt's cache are
		// the record of what the image holds (the files are left out
		// of the layer).
		args = append(args, "--skip=cleanup/apt/cache")
	}
	args = append(args, suite, tarPath, "deb [trusted=yes] copy://"+repo+" "+suite+" main")
	cmd := groupCommand(ctx, bin, args...)
	cmd.Env = []string{
		"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"SOURCE_DATE_EPOCH=" + strconv.FormatInt(Epoch.Unix(), 10),
		"LC_ALL=C.UTF-8",
		"TZ=UTC",
		"HOME=/root",
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	b.log("image %s: installing %d locked packages (mmdebstrap --variant=%s)", spec.Describe(), len(names), variant)
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("build Debian rootfs from the lock (mmdebstrap --variant=%s): %w\n%s", variant, err, lastLines(out.String(), 20))
	}
	return nil
}

// checkInstalled compares the packages dpkg installed with the lock: the
// image holds exactly what the lock names.
func checkInstalled(l *recipes.DebianLock, got []Package) error {
	want := map[string]string{}
	for _, p := range l.Packages {
		want[p.Name] = p.Version
	}
	var problems []string
	seen := map[string]bool{}
	for _, p := range got {
		seen[p.Name] = true
		v, ok := want[p.Name]
		switch {
		case !ok:
			problems = append(problems, fmt.Sprintf("%s %s is installed but not locked", p.Name, p.Version))
		case v != p.Version:
			problems = append(problems, fmt.Sprintf("%s is %s, the lock says %s", p.Name, p.Version, v))
		}
	}
	for _, p := range l.Packages {
		if !seen[p.Name] {
			problems = append(problems, fmt.Sprintf("%s %s is locked but not installed", p.Name, p.Version))
		}
	}
	if len(problems) > 0 {
		return fmt.Errorf("build image: the rootfs is not what the lock names: %s", strings.Join(problems, "; "))
	}
	return nil
}
