package watch

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/ProtonMail/go-crypto/openpgp"

	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/fleet/queue"
)

// Debian watches binary packages in Debian suites: each new version a
// suite's signed Packages index lists of a package on the list is
// enqueued as a job that infers the recipe rebuilding its .deb from the
// source package (reprove infer on a .deb) and rebuilds it. The index is
// read only after the suite's InRelease is verified against the keyring
// and is itself checked against the SHA-256 the Release lists
// (debian/archive), so the .deb's digest in the job is the archive's.
type Debian struct {
	// Suites are the suites watched, each with its archive (Debian's
	// mirror by default; security updates live in debian-security).
	Suites []DebianSuite
	// Packages are binary package names.
	Packages []string
	// Component and Arch pick the index (main, amd64 by default).
	Component, Arch string
	// Keyring verifies the suites' InRelease files.
	Keyring openpgp.EntityList
	// Verify tunes the signature check (its Now, in tests).
	Verify archive.VerifyOptions
	// Watch names the watch list ("debian" by default).
	Watch string
	HTTP  *http.Client
}

// DebianSuite is a suite and the archive it is in.
type DebianSuite struct {
	Name   string
	Mirror string
}

// Name is the watch list's name.
func (d *Debian) Name() string {
	if d.Watch != "" {
		return d.Watch
	}
	return "debian"
}

// Find reads each suite's signed Packages index.
func (d *Debian) Find(ctx context.Context) ([]queue.WatchItem, error) {
	component, arch := d.Component, d.Arch
	if component == "" {
		component = "main"
	}
	if arch == "" {
		arch = "amd64"
	}
	want := map[string]bool{}
	for _, p := range d.Packages {
		want[p] = true
	}
	var out []queue.WatchItem
	for _, s := range d.Suites {
		mirror := strings.TrimSuffix(s.Mirror, "/")
		if mirror == "" {
			mirror = archive.DefaultMirror
		}
		c := &archive.Client{Base: mirror, Keyring: d.Keyring, HTTP: d.HTTP, Verify: d.Verify}
		rel, err := c.Release(ctx, s.Name)
		if err != nil {
			return nil, err
		}
		pkgs, err := c.Packages(ctx, rel, s.Name, component, arch)
		if err != nil {
			return nil, err
		}
		for _, p := range pkgs {
			if !want[p.Package] {
				continue
			}
			if p.SHA256.Validate() != nil || p.Filename == "" {
				return nil, fmt.Errorf("%s %s in %s: no file with a SHA-256", p.Package, p.Version, s.Name)
			}
			out = append(out, queue.WatchItem{Item: s.Name + "/" + p.Package + "@" + p.Version + "/" + p.Architecture, Job: queue.InferArgs{
				Release: queue.Release{Ecosystem: "debian", Watch: d.Name(), Name: p.Package, Version: p.Version},
				Artifact: queue.Artifact{URL: mirror + "/" + p.Filename, Digest: p.SHA256, Recipe: queue.DebianPackage,
					Suite: s.Name, Mirror: mirror}}})
		}
	}
	return out, nil
}
