package fetch

import (
	"context"
	"fmt"
	"net/url"
	"os"
	"path"
	"path/filepath"

	"github.com/reprove/reprove/debian/deb822"
	"github.com/reprove/reprove/recipes"
)

// dsc fetches a Debian source package: the .dsc (checked against the
// recipe's pin), then every file its Checksums-Sha256 lists, from beside
// it, each checked against that list. They are put in dest as they are,
// side by side; nothing of them is unpacked or parsed on the host but the
// .dsc itself (the build unpacks them with dpkg-source in the container).
func (f *Fetcher) dsc(ctx context.Context, s *recipes.DSCSource, dest string) (*Source, error) {
	p, rec, err := f.Get(ctx, "source package", s.URL, s.Digest)
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
		fp, _, err := f.Get(ctx, "file of "+name, fu.String(), file.SHA256)
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
