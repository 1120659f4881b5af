// Package lock resolves a recipe's Debian image against the suite's signed
// indexes and writes the result as the recipe's lock: every .deb of the
// image, essential set included, by name, version, architecture, archive
// path, size and SHA-256.
package lock

import (
	"cmp"
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
// resolving several requests against one state of the archive; or several
// verified Releases, each of its own archive, resolved together (a stable
// suite and its security updates).
type Index struct {
	Release *archive.Release
	Suite   string
	Arch    string
	// Also are the further archives' Releases resolved with Release.
	Also []*Origin
	idx  *resolve.Index
	// from is the Origin of each package that is not Release's.
	from map[*deb822.BinaryPackage]*Origin
	// all are every version of each name, the first archive's first.
	all map[string][]*deb822.BinaryPackage
}

// Source names a further suite to resolve with the first: the archive
// it is read from (its Client's Base), and the suite.
type Source struct {
	Client *archive.Client
	Suite  string
	// Archive is the archive's base URL the lock records when Client
	// reads a snapshot of it (the snapshot archive's debian-security at
	// a .buildinfo's date); Client's Base when empty.
	Archive string
}

// Origin is a further archive's verified Release.
type Origin struct {
	// Base is the archive's base URL.
	Base    string
	Suite   string
	Release *archive.Release
	client  *archive.Client
}

// Client is the client the Origin was read with.
func (o *Origin) Client() *archive.Client { return o.client }

// Security is the Source of a suite's security updates: SUITE-security
// of the security archive at base (archive.DefaultSecurity when empty),
// read with c's keyring, cache and log.
func Security(c *archive.Client, base, suite string) Source {
	if base == "" {
		base = archive.DefaultSecurity
	}
	sc := *c
	sc.Base = strings.TrimSuffix(base, "/")
	return Source{Client: &sc, Suite: suite + "-security"}
}

// Fetch verifies the suite's InRelease and reads its Packages index, and
// those of each further Source: for each package name, the highest
// version of them all is the one resolved, as apt picks among every
// suite in its sources (the first when versions are equal).
func Fetch(ctx context.Context, c *archive.Client, suite, arch string, also ...Source) (*Index, error) {
	rel, err := c.Release(ctx, suite)
	if err != nil {
		return nil, err
	}
	pkgs, err := c.Packages(ctx, rel, suite, Component, arch)
	if err != nil {
		return nil, err
	}
	ix := &Index{Release: rel, Suite: suite, Arch: arch, from: map[*deb822.BinaryPackage]*Origin{}}
	all := pkgs
	for _, src := range also {
		rel, err := src.Client.Release(ctx, src.Suite)
		if err != nil {
			return nil, err
		}
		more, err := src.Client.Packages(ctx, rel, src.Suite, Component, arch)
		if err != nil {
			return nil, err
		}
		o := &Origin{Base: strings.TrimSuffix(cmp.Or(src.Archive, src.Client.Base), "/"), Suite: src.Suite, Release: rel, client: src.Client}
		ix.Also = append(ix.Also, o)
		for _, p := range more {
			ix.from[p] = o
		}
		all = append(slices.Clip(all), more...)
	}
	if ix.idx, err = resolve.NewIndex(arch, all); err != nil {
		return nil, err
	}
	ix.all = map[string][]*deb822.BinaryPackage{}
	for _, p := range all {
		ix.all[p.Package] = append(ix.all[p.Package], p)
	}
	return ix, nil
}

// Exact returns the package of that name at that version (and
// architecture, unless arch is empty) from any archive of the index, the
// first archive's first.
func (ix *Index) Exact(name, version, arch string) (*deb822.BinaryPackage, bool) {
	for _, p := range ix.all[name] {
		if p.Version == version && (arch == "" || p.Architecture == arch || p.Architecture == "all") && (p.Architecture == ix.Arch || p.Architecture == "all") {
			return p, true
		}
	}
	return nil, false
}

// Lookup returns a binary package of the index.
func (ix *Index) Lookup(name string) (*deb822.BinaryPackage, bool) { return ix.idx.Lookup(name) }

// From returns the further archive a package of the index comes from, or
// nil for the first.
func (ix *Index) From(p *deb822.BinaryPackage) *Origin { return ix.from[p] }

// Resolve locks a request against the index.
func (ix *Index) Resolve(req Request) (*recipes.DebianLock, error) {
	pkgs, err := resolve.Resolve(ix.idx, resolve.Request{Variant: req.Variant, Packages: req.Packages, BuildDepends: req.BuildDepends})
	if err != nil {
		return nil, err
	}
	return ix.lock(pkgs), nil
}

// lock writes resolved packages of the index as a lock, each with its
// origin.
func (ix *Index) lock(pkgs []*deb822.BinaryPackage) *recipes.DebianLock {
	l := Of(ix.Release, ix.Suite, ix.Arch, pkgs)
	if len(ix.Also) == 0 {
		return l
	}
	for _, o := range ix.Also {
		r := release(o.Release, o.Suite)
		l.Also = append(l.Also, recipes.DebianArchiveRelease{Archive: o.Base, Suite: r.Suite, Codename: r.Codename, Date: r.Date, Digest: r.Digest})
	}
	origin := map[string]*Origin{}
	for _, p := range pkgs {
		if o := ix.from[p]; o != nil {
			origin[p.Package] = o
		}
	}
	for i := range l.Packages {
		if o := origin[l.Packages[i].Name]; o != nil {
			l.Packages[i].From = release(o.Release, o.Suite).Name()
		}
	}
	return l
}

func release(rel *archive.Release, suite string) recipes.DebianRelease {
	r := recipes.DebianRelease{
		Suite: rel.Suite, Codename: rel.Codename,
		Date:   rel.Date.UTC().Format(time.RFC3339),
		Digest: rel.Digest,
	}
	if r.Suite == "" {
		r.Suite = suite
	}
	return r
}

// Of writes resolved packages as a lock.
func Of(rel *archive.Release, suite, arch string, pkgs []*deb822.BinaryPackage) *recipes.DebianLock {
	l := &recipes.DebianLock{Architecture: arch, Release: release(rel, suite)}
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
	return ImageAlso(ctx, c, img, arch, buildDepends, nil)
}

// ImageAlso is Image over the suite and further Sources together.
func ImageAlso(ctx context.Context, c *archive.Client, img *recipes.DebianImage, arch string, buildDepends []string, also []Source) (*recipes.DebianImage, error) {
	ix, err := Fetch(ctx, c, img.Suite, arch, also...)
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

// AlsoOf are the further Sources a recipe's lock was resolved with, read
// with c's keyring, cache and log; base, when set, replaces their archives'
// base URL (a mirror of the security archive).
func AlsoOf(c *archive.Client, l *recipes.DebianLock, base string) []Source {
	if l == nil {
		return nil
	}
	var out []Source
	for _, a := range l.Also {
		sc := *c
		sc.Base = a.Archive
		if base != "" {
			sc.Base = strings.TrimSuffix(base, "/")
		}
		out = append(out, Source{Client: &sc, Suite: a.Release().Name()})
	}
	return out
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
// and, for a Debian source package, the .dsc's build dependencies;
// against the suite and each further Source (AlsoOf gives those its lock
// already spans).
func Recipe(ctx context.Context, c *archive.Client, r *recipes.Recipe, arch string, also ...Source) (*recipes.DebianLock, error) {
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
	locked, err := ImageAlso(ctx, c, img, arch, deps, also)
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
// archive c reads (a snapshot archive at the build's date), or of a
// further Source (a security update's: the security archive's snapshot
// at that date).
func BuildInfo(ctx context.Context, c *archive.Client, suite string, bi *deb822.BuildInfo, also ...Source) (*recipes.DebianLock, *Index, error) {
	ix, err := Fetch(ctx, c, suite, bi.BuildArchitecture, also...)
	if err != nil {
		return nil, nil, err
	}
	var pkgs []*deb822.BinaryPackage
	var missing []string
	for _, in := range bi.Installed {
		p, ok := ix.Exact(in.Name, in.Version, in.Arch)
		if !ok {
			missing = append(missing, in.Name+" "+in.Version)
			continue
		}
		pkgs = append(pkgs, p)
	}
	if len(missing) > 0 {
		where := c.Base + " (" + suite + ")"
		for _, a := range also {
			where += " and " + a.Client.Base + " (" + a.Suite + ")"
		}
		return nil, nil, &MissingError{Where: where, Missing: missing}
	}
	return ix.lock(pkgs), ix, nil
}
