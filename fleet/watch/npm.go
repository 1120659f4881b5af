package watch

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/semver"

	"github.com/reprove/reprove/fleet/queue"
)

// NPM watches packages on the npm registry: each new version of a package
// on the list is enqueued as an infer job for the program at its Member
// (package/bin/esbuild in @esbuild/linux-x64), pinned by the tarball's
// sha512 integrity from the package document.
type NPM struct {
	// Registry is https://registry.npmjs.org by default.
	Registry string
	Packages []NPMPackage
	// Since is the oldest version watched ("0.25.0"), for every package.
	Since string
	// Watch names the watch list ("npm" by default).
	Watch string
	HTTP  *http.Client
}

// NPMPackage is one package on the list and the program inside it.
type NPMPackage struct {
	Name   string
	Member string
}

// Name is the watch list's name.
func (n *NPM) Name() string {
	if n.Watch != "" {
		return n.Watch
	}
	return "npm"
}

// Find reads each package's document.
func (n *NPM) Find(ctx context.Context) ([]queue.WatchItem, error) {
	reg := n.Registry
	if reg == "" {
		reg = "https://registry.npmjs.org"
	}
	var out []queue.WatchItem
	for _, p := range n.Packages {
		// A scoped name keeps its @ and escapes its slash, as npm does.
		b, err := get(ctx, n.HTTP, strings.TrimRight(reg, "/")+"/"+strings.Replace(url.PathEscape(p.Name), "%40", "@", 1), "application/vnd.npm.install-v1+json")
		if err != nil {
			return nil, err
		}
		vs, err := ParseNPMDocument(b, p.Name)
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			if n.Since != "" && semver.Compare("v"+v.Version, "v"+n.Since) < 0 {
				continue
			}
			out = append(out, queue.WatchItem{Item: p.Name + "@" + v.Version, Job: queue.InferArgs{
				Release:  queue.Release{Ecosystem: "npm", Watch: n.Name(), Name: p.Name, Version: v.Version},
				Artifact: queue.Artifact{URL: v.Tarball, Digest: v.Digest, Member: p.Member, Recipe: queue.Inferred}}})
		}
	}
	return out, nil
}

// NPMVersion is one published version of a package.
type NPMVersion struct {
	Version string
	Tarball string
	// Digest is the tarball's sha512, from the document's integrity.
	Digest digest.Digest
}

// ParseNPMDocument reads a registry package document (full or
// abbreviated) of package name and returns its versions, oldest first by
// semver. The document must name that package; a version that is not
// semver, a tarball that is not an http(s) URL or a sha512 integrity that
// does not decode is an error naming the version; versions with no sha512
// (only npm's old sha1) are left out, since no pin reprove accepts names
// them.
func ParseNPMDocument(b []byte, name string) ([]NPMVersion, error) {
	var doc struct {
		Name     string `json:"name"`
		Versions map[string]struct {
			Version string `json:"version"`
			Dist    struct {
				Tarball   string `json:"tarball"`
				Integrity string `json:"integrity"`
			} `json:"dist"`
		} `json:"versions"`
	}
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("npm document of %s: %w", name, err)
	}
	if doc.Name != name {
		return nil, fmt.Errorf("npm document of %s: it names the package %q", name, doc.Name)
	}
	var out []NPMVersion
	for key, v := range doc.Versions {
		where := fmt.Sprintf("npm document of %s: version %q", name, key)
		if v.Version != key || !semver.IsValid("v"+key) || len(key) > 128 {
			return nil, fmt.Errorf("%s: not a version", where)
		}
		u, err := url.Parse(v.Dist.Tarball)
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" {
			return nil, fmt.Errorf("%s: tarball %q is not an http(s) URL", where, v.Dist.Tarball)
		}
		if !strings.Contains(v.Dist.Integrity, "sha512-") {
			continue // old versions have only a sha1: no pin reprove accepts
		}
		d, err := sha512Integrity(v.Dist.Integrity)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", where, err)
		}
		out = append(out, NPMVersion{Version: key, Tarball: v.Dist.Tarball, Digest: d})
	}
	sort.Slice(out, func(i, j int) bool {
		if c := semver.Compare("v"+out[i].Version, "v"+out[j].Version); c != 0 {
			return c < 0
		}
		return out[i].Version < out[j].Version
	})
	return out, nil
}

// sha512Integrity reads the sha512 of a Subresource Integrity value
// ("sha512-BASE64", possibly among others separated by spaces).
func sha512Integrity(s string) (digest.Digest, error) {
	for _, f := range strings.Fields(s) {
		b64, ok := strings.CutPrefix(f, "sha512-")
		if !ok {
			continue
		}
		if i := strings.IndexByte(b64, '?'); i >= 0 {
			b64 = b64[:i]
		}
		raw, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(raw) != 64 {
			return "", fmt.Errorf("integrity %q: not a sha512", s)
		}
		return digest.NewDigestFromBytes(digest.SHA512, raw), nil
	}
	return "", fmt.Errorf("integrity %q has no sha512", s)
}
