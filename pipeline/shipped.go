package pipeline

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"

	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/module"

	"github.com/reprove/reprove/builder/goproxy"
	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/internal/ctxio"
	"github.com/reprove/reprove/recipes/infer"
)

// ShippedRequest names a shipped artifact to infer a recipe for, where it
// is published: a file at a URL pinned by digest, or a module version on
// the Go module proxy (its zip checked against the Go checksum database,
// and then pinned by its sha256), and the program inside it.
type ShippedRequest struct {
	URL    string
	Digest digest.Digest
	// Module and ModuleVersion name a module zip on the proxy instead.
	Module, ModuleVersion string
	// Member is the program inside the artifact (an archive); empty when
	// the artifact is the program.
	Member string
	// Ldflags and Suite are InferRequest's.
	Ldflags []string
	Suite   string
}

// InferError is an artifact that was fetched and checked against its pin
// but whose program could not be read, or for which no recipe could be
// inferred: a deterministic outcome, which another try would repeat.
type InferError struct {
	Artifact string
	Err      error
}

func (e *InferError) Error() string {
	return fmt.Sprintf("infer a recipe for %s: %v", e.Artifact, e.Err)
}

func (e *InferError) Unwrap() error { return e.Err }

// InferShipped fetches a shipped artifact through the session's cache
// (checked against its pin) and infers a recipe for the program in it, as
// reprove infer does for a file at hand (Infer); the recipe names the
// artifact where it is published.
func (s *Session) InferShipped(ctx context.Context, req ShippedRequest) (*InferResult, error) {
	var file, where string
	switch {
	case req.Module != "":
		m, err := s.ModuleZip(ctx, req.Module, req.ModuleVersion)
		if err != nil {
			return nil, err
		}
		file, where = m.Path, m.URL
	case req.URL != "":
		b, err := s.Builder(nil)
		if err != nil {
			return nil, err
		}
		s.sayf(PhaseFetch, "shipped artifact %s", req.URL)
		if file, _, err = b.Fetcher().Get(ctx, "shipped artifact", req.URL, req.Digest); err != nil {
			return nil, err
		}
		where = req.URL
	default:
		return nil, errors.New("infer: no artifact (a URL or a module)")
	}
	what := describeShipped(req)
	s.sayf(PhaseFetch, "inferring a recipe for %s", what)
	res, err := Infer(ctx, InferRequest{Binary: file, Member: req.Member, ShippedURL: where, Ldflags: req.Ldflags, Suite: req.Suite,
		CacheDir: s.rt.CacheDir, Proxy: s.rt.GoProxy})
	if err != nil {
		// The bytes are pinned: what goes wrong now is the artifact's,
		// unless the run was cancelled.
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		return nil, &InferError{Artifact: what, Err: err}
	}
	return res, nil
}

func describeShipped(req ShippedRequest) string {
	where := req.URL
	if req.Module != "" {
		where = req.Module + "@" + req.ModuleVersion
	}
	if req.Member != "" {
		return req.Member + " in " + where
	}
	return where
}

// DebRequest names a binary package of a Debian suite: its .deb where the
// suite's signed Packages index says it is, pinned by the SHA-256 the
// index lists.
type DebRequest struct {
	URL    string
	Digest digest.Digest
	Suite  string
	// Mirror is the archive the suite is in (archive.DefaultMirror when
	// empty).
	Mirror string
}

// InferDeb fetches a .deb (checked against its pin) and infers the recipe
// that rebuilds it from its source package, as reprove infer does for a
// .deb: the source found in the suite's signed Sources index, a buildd
// environment locked against its signed Packages index.
func (s *Session) InferDeb(ctx context.Context, req DebRequest) (*infer.Result, error) {
	b, err := s.Builder(nil)
	if err != nil {
		return nil, err
	}
	s.sayf(PhaseFetch, "Debian package %s", req.URL)
	file, _, err := b.Fetcher().Get(ctx, "Debian package", req.URL, req.Digest)
	if err != nil {
		return nil, err
	}
	kr, err := archive.LoadKeyring(archive.DefaultKeyring)
	if err != nil {
		return nil, err
	}
	c := &archive.Client{Base: req.Mirror, Keyring: kr, CacheDir: filepath.Join(s.rt.CacheDir, "debian", "indexes"),
		Log: func(m string) { s.sayf(PhaseFetch, "%s", m) }}
	what := req.URL + " (" + req.Suite + ")"
	s.sayf(PhaseFetch, "inferring a recipe for %s", what)
	sc := *c
	suite, base, security := debSuites(req, s.rt.DebianMirror)
	c.Base, sc.Base = base, security
	facts, err := infer.ReadDebFacts(ctx, c, file, suite, infer.DebOptions{Security: &sc})
	if err != nil {
		if ctx.Err() != nil || unreachable(err) {
			return nil, err
		}
		return nil, &InferError{Artifact: what, Err: err}
	}
	res, err := infer.InferDeb(facts)
	if err != nil {
		return nil, &InferError{Artifact: what, Err: err}
	}
	return res, nil
}

// debSuites are the suite a .deb's job is inferred against, its mirror
// and the security archive a version the suite lacks is looked for in. A
// job of a security suite (watch debian --suite bookworm-security=URL) is
// inferred as a security update: the suite (bookworm) on the mirror, its
// security suite on the job's archive.
func debSuites(req DebRequest, mirror string) (suite, base, security string) {
	if s, ok := strings.CutSuffix(req.Suite, "-security"); ok {
		security = req.Mirror
		if security == "" {
			security = archive.DefaultSecurity
		}
		return s, mirror, security
	}
	return req.Suite, req.Mirror, archive.DefaultSecurity
}

// unreachable reports whether err is the network's or a server's fault
// (a request that failed, a 5xx answer), worth another try.
func unreachable(err error) bool {
	var ue *url.Error
	var se *archive.StatusError
	return errors.As(err, &ue) || (errors.As(err, &se) && se.Code >= 500)
}

// ModuleZip is a module version's zip from the Go module proxy, checked
// against the Go checksum database.
type ModuleZip struct {
	// Path is the zip in the cache; URL where the proxy serves it.
	Path, URL string
	// Sum is its go.sum hash (h1:), Digest its sha256.
	Sum    string
	Digest digest.Digest
}

// ModuleZip fetches a module version's zip through the session's cache,
// checks it against the checksum database and pins it by sha256.
func (s *Session) ModuleZip(ctx context.Context, path, version string) (*ModuleZip, error) {
	b, err := s.Builder(nil)
	if err != nil {
		return nil, err
	}
	s.sayf(PhaseFetch, "%s@%s from the module proxy", path, version)
	zip, sum, err := b.Fetcher().Proxy.Zip(ctx, path, version, "")
	if err != nil {
		return nil, err
	}
	d, err := ctxio.HashFile(ctx, zip, nil)
	if err != nil {
		return nil, err
	}
	u, err := ModuleZipURL(s.rt.GoProxy, path, version)
	if err != nil {
		return nil, err
	}
	return &ModuleZip{Path: zip, URL: u, Sum: sum, Digest: d}, nil
}

// ModuleZipURL is where a Go module proxy (goproxy.DefaultProxy when
// empty) serves a module version's zip.
func ModuleZipURL(proxy, path, version string) (string, error) {
	if proxy == "" {
		proxy = goproxy.DefaultProxy
	}
	ep, err := module.EscapePath(path)
	if err != nil {
		return "", err
	}
	ev, err := module.EscapeVersion(version)
	if err != nil {
		return "", err
	}
	return strings.TrimRight(proxy, "/") + "/" + ep + "/@v/" + ev + ".zip", nil
}
