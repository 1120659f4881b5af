package fetch

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/debian/deb822"
	"github.com/reprove/reprove/recipes"
)

// dsc fetches a Debian source package: the .dsc (checked against the
// recipe's pin), then every file its Checksums-Sha256 lists, from beside
// it, each checked against that list. They are put in dest as they are,
// side by side; nothing of them is unpacked or parsed on the host but the
// .dsc itself (the build unpacks them with dpkg-source in the container).
func (f *Fetcher) dsc(ctx context.Context, r *recipes.Recipe, dest string) (*Source, error) {
	s := r.Source.DSC
	p, rec, err := f.getPool(ctx, r, "source package", s.URL, s.Digest)
	if err != nil {
		return nil, err
	}
	raw, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	u, err := url.Parse(s.URL)
	if err != nil {
		return nil, fmt.Errorf("fetch source package: %w", err)
	}
	name := path.Base(u.Path)
	pkg, err := deb822.ParseDSC(name, raw)
	if err != nil {
		return nil, fmt.Errorf("fetch source package %s: %w", s.URL, err)
	}
	if err := os.MkdirAll(dest, 0o755); err != nil {
		return nil, err
	}
	root, err := os.OpenRoot(dest)
	if err != nil {
		return nil, err
	}
	defer root.Close()
	put := func(name, from string) error {
		in, err := os.Open(from)
		if err != nil {
			return err
		}
		defer in.Close()
		out, err := root.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o644)
		if err != nil {
			return err
		}
		if _, err := out.ReadFrom(in); err != nil {
			out.Close()
			return err
		}
		return out.Close()
	}
	if err := put(name, p); err != nil {
		return nil, fmt.Errorf("fetch source package: %w", err)
	}
	for _, file := range pkg.Files {
		fu := *u
		fu.Path = path.Join(path.Dir(u.Path), file.Name)
		fp, _, err := f.getPool(ctx, r, "file of "+name, fu.String(), file.SHA256)
		if err != nil {
			return nil, err
		}
		if fi, err := os.Stat(fp); err != nil || fi.Size() != file.Size {
			return nil, fmt.Errorf("fetch source package %s: %s is not the size the .dsc lists (%d bytes)", s.URL, file.Name, file.Size)
		}
		if err := put(file.Name, fp); err != nil {
			return nil, fmt.Errorf("fetch source package: %w", err)
		}
	}
	f.log("source package %s %s: %d files, each checked against the .dsc", pkg.Package, pkg.Version, len(pkg.Files)+1)
	return &Source{Dir: filepath.Clean(dest), Resolved: Resolved{Kind: "dsc", URI: s.URL, Version: pkg.Package + " " + pkg.Version, Digest: s.Digest, Fetched: rec}}, nil
}

// getPool is Get for a file of the Debian archive's pool/: when the
// mirror no longer has it, it is fetched from the snapshot archive at the
// date of the recipe's lock (as the image's .debs are), and checked
// against the same pin. A file of an archive the lock's further Releases
// name (a security update's source) is looked for in that archive's
// snapshots, at the date of its Release.
func (f *Fetcher) getPool(ctx context.Context, r *recipes.Recipe, what, loc string, want digest.Digest) (string, *Fetched, error) {
	p, rec, err := f.Get(ctx, what, loc, want)
	i := strings.Index(loc, "/pool/")
	if err == nil || !archive.NotFound(err) || f.Snapshot == "off" || i < 0 || r.Image.Debian == nil || r.Image.Debian.Lock == nil {
		return p, rec, err
	}
	l := r.Image.Debian.Lock
	name, when := "debian", l.Release.Date
	for _, a := range l.Also {
		if strings.HasPrefix(loc, strings.TrimSuffix(a.Archive, "/")+"/pool/") {
			name, when = archive.ArchiveName(a.Archive), a.Date
		}
	}
	date, perr := time.Parse(time.RFC3339, when)
	if perr != nil {
		return p, rec, err
	}
	base := f.Snapshot
	if base == "" {
		base = archive.DefaultSnapshot
	}
	snap := archive.SnapshotArchiveURL(base, name, date.Add(archive.SnapshotDelay)) + loc[i:]
	f.log("%s: the mirror does not serve %s (%v); fetching it from the snapshot archive", what, loc, statusOf(err))
	p, rec, serr := f.Get(ctx, what, snap, want)
	if serr != nil {
		// Both places are named: a snapshot archive that cannot be
		// reached must not hide that the mirror answered 404, nor the
		// other way round.
		return p, rec, &PoolError{What: what, Mirror: err, Snapshot: serr}
	}
	return p, rec, nil
}

// PoolError is a file of the archive's pool that neither the mirror nor
// the snapshot archive gave.
type PoolError struct {
	What string
	// Mirror is the mirror's answer (a 404), Snapshot the snapshot
	// archive's.
	Mirror, Snapshot error
}

func (e *PoolError) Error() string {
	return fmt.Sprintf("%s: the mirror does not serve it (%v); from the snapshot archive: %s", e.What, statusOf(e.Mirror), strings.TrimPrefix(e.Snapshot.Error(), e.What+": "))
}

// Unwrap gives both causes: a DigestError from the snapshot archive is
// still found by errors.As.
func (e *PoolError) Unwrap() []error { return []error{e.Mirror, e.Snapshot} }

// statusOf is an archive error without the "what:" its caller added.
func statusOf(err error) error {
	var se *archive.StatusError
	if errors.As(err, &se) {
		return se
	}
	return err
}
