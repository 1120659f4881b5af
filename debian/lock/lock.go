// Package lock resolves a recipe's Debian image against the suite's signed
// indexes and writes the result as the recipe's lock: every .deb of the
// image, essential set included, by name, version, architecture, archive
// path, size and SHA-256.
package lock

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"slices"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/debian/deb822"
	"github.com/reprove/reprove/debian/resolve"
	"github.com/reprove/reprove/recipes"
)

// Component is the archive component locks resolve from.
const Component = "main"

// Request is what to lock.
type Request struct {
	Suite   string
	Variant string
	// Packages are package names (or relations) to install on top.
	Packages []string
	// BuildDepends are Build-Depends fields to satisfy (a source
	// package's), first alternatives only.
	BuildDepends []string
	// Arch is the Debian architecture ("amd64").
	Arch string
}

// Index is a verified Release with its parsed Packages index, for
// resolving several requests against one state of the archive.
type Index struct {
	Release *archive.Release
	Suite   string
	Arch    string
	idx     *resolve.Index
}

// Fetch verifies the suite's InRelease and reads its Packages index.
func Fetch(ctx context.Context, c *archive.Client, suite, arch string) (*Index, error) {
	rel, err := c.Release(ctx, suite)
	if err != nil {
		return nil, err
	}
	pkgs, err := c.Packages(ctx, rel, suite, Component, arch)
	if err != nil {
		return nil, err
	}
	idx, err := resolve.NewIndex(arch, pkgs)
	if err != nil {
		return nil, err
	}
	return &Index{Release: rel, Suite: suite, Arch: arch, idx: idx}, nil
}

// Lookup returns a binary package of the index.
func (ix *Index) Lookup(name string) (*deb822.BinaryPackage, bool) { return ix.idx.Lookup(name) }

// Resolve locks a request against the index.
func (ix *Index) Resolve(req Request) (*recipes.DebianLock, error) {
	pkgs, err := resolve.Resolve(ix.idx, resolve.Request{Variant: req.Variant, Packages: req.Packages, BuildDepends: req.BuildDepends})
	if err != nil {
		return nil, err
	}
	return Of(ix.Release, ix.Suite, ix.Arch, pkgs), nil
}

// Of writes resolved packages as a lock.
func Of(rel *archive.Release, suite, arch string, pkgs []*deb822.BinaryPackage) *recipes.DebianLock {
	l := &recipes.DebianLock{
		Architecture: arch,
		Release: recipes.DebianRelease{
			Suite: rel.Suite, Codename: rel.Codename,
			Date:   rel.Date.UTC().Format(time.RFC3339),
			Digest: rel.Digest,
		},
	}
	if l.Release.Suite == "" {
		l.Release.Suite = suite
	}
	for _, p := range pkgs {
		l.Packages = append(l.Packages, recipes.DebianPackage{Name: p.Package, Version: p.Version, Arch: p.Architecture, Path: p.Filename, Size: p.Size, SHA256: p.SHA256})
	}
	slices.SortFunc(l.Packages, func(a, b recipes.DebianPackage) int {
		switch {
		case a.Name < b.Name:
			return -1
		case a.Name > b.Name:
			return 1
		}
		return 0
	})
	return l
}

// Image locks a recipe's Debian image (its suite, variant and packages)
// and returns the image with the lock set.
func Image(ctx context.Context, c *archive.Client, img *recipes.DebianImage, arch string, buildDepends ...string) (*recipes.DebianImage, error) {
	ix, err := Fetch(ctx, c, img.Suite, arch)
	if err != nil {
		return nil, err
	}
	l, err := ix.Resolve(Request{Suite: img.Suite, Variant: img.Variant, Packages: img.Packages, BuildDepends: buildDepends, Arch: arch})
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", img.Suite, err)
	}
	out := *img
	out.Packages = slices.Clone(img.Packages)
	out.Lock = l
	return &out, nil
}

// DSC fetches a .dsc, checks it against its pin and parses it.
func DSC(ctx context.Context, hc *http.Client, src *recipes.DSCSource) (*deb822.SourcePackage, []byte, error) {
	if hc == nil {
		hc = http.DefaultClient
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src.URL, nil)
	if err != nil {
		return nil, nil, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return nil, nil, fmt.Errorf("fetch %s: %w", src.URL, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, nil, fmt.Errorf("fetch %s: %s", src.URL, resp.Status)
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, deb822.MaxDocument+1))
	if err != nil {
		return nil, nil, fmt.Errorf("fetch %s: %w", src.URL, err)
	}
	if got := digest.FromBytes(b); got != src.Digest {
		return nil, nil, fmt.Errorf("fetch %s: digest mismatch: the recipe pins %s, the file is %s", src.URL, src.Digest, got)
	}
	name := path.Base(src.URL)
	s, err := deb822.ParseDSC(name, b)
	if err != nil {
		return nil, nil, err
	}
	return s, b, nil
}

// BuildDepends are the relationship fields a binary build
// (dpkg-buildpackage -b) must satisfy.
func BuildDepends(s *deb822.SourcePackage) []string {
	var out []string
	for _, f := range []string{s.BuildDepends, s.BuildDependsArch, s.BuildDependsIndep} {
		if strings.TrimSpace(f) != "" {
			out = append(out, f)
		}
	}
	return out
}

// Recipe locks a recipe's Debian image: its suite, variant and packages,
// and, for a Debian source package, the .dsc's build dependencies.
func Recipe(ctx context.Context, c *archive.Client, r *recipes.Recipe, arch string) (*recipes.DebianLock, error) {
	img := r.Image.Debian
	if img == nil {
		return nil, errors.New("lock: the recipe has no Debian image (image.debian) to lock")
	}
	var deps []string
	if r.Source.DSC != nil {
		s, _, err := DSC(ctx, c.HTTP, r.Source.DSC)
		if err != nil {
			return nil, fmt.Errorf("lock: %w", err)
		}
		deps = BuildDepends(s)
	}
	locked, err := Image(ctx, c, img, arch, deps...)
	if err != nil {
		return nil, err
	}
	return locked.Lock, nil
}

// MissingError lists the packages of a .buildinfo that the archive's
// signed index at that time does not hold at their recorded versions.
type MissingError struct {
	Where   string
	Missing []string
}

func (e *MissingError) Error() string {
	return fmt.Sprintf("lock the .buildinfo: %s does not hold %s", e.Where, strings.Join(e.Missing, ", "))
}

// BuildInfo locks exactly a .buildinfo's Installed-Build-Depends, each
// found at its recorded version in the signed Packages index of the
// archive c reads (a snapshot archive at the build's date).
func BuildInfo(ctx context.Context, c *archive.Client, suite string, bi *deb822.BuildInfo) (*recipes.DebianLock, *Index, error) {
	ix, err := Fetch(ctx, c, suite, bi.BuildArchitecture)
	if err != nil {
		return nil, nil, err
	}
	var pkgs []*deb822.BinaryPackage
	var missing []string
	for _, in := range bi.Installed {
		p, ok := ix.Lookup(in.Name)
		if !ok || p.Version != in.Version || (in.Arch != "" && p.Architecture != in.Arch && p.Architecture != "all") {
			missing = append(missing, in.Name+" "+in.Version)
			continue
		}
		pkgs = append(pkgs, p)
	}
	if len(missing) > 0 {
		return nil, nil, &MissingError{Where: c.Base + " (" + suite + ")", Missing: missing}
	}
	return Of(ix.Release, suite, bi.BuildArchitecture, pkgs), ix, nil
}
