package pipeline

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/module"

	"github.com/reprove/reprove/builder/goproxy"
	"github.com/reprove/reprove/builder/plan"
	"github.com/reprove/reprove/internal/ctxio"
	"github.com/reprove/reprove/recipes"
	"github.com/reprove/reprove/recipes/infer"
)

// InferRequest names a shipped artifact to infer a recipe for: a file at
// a URL pinned by digest, or a module version on the Go module proxy
// (its zip checked against the Go checksum database, and then pinned by
// its sha256), and the program inside it.
type InferRequest struct {
	URL    string
	Digest digest.Digest
	// Module and ModuleVersion name a module zip on the proxy instead.
	Module, ModuleVersion string
	// Member is the program inside the artifact (an archive); empty when
	// the artifact is the program.
	Member string
	// Ldflags are linker flags the binary cannot reveal (see infer).
	Ldflags []string
	// Suite is the Debian suite for images that need packages.
	Suite string
}

// Inferred is a recipe inferred for a shipped artifact.
type Inferred struct {
	*infer.Result
	// Shipped is the artifact, pinned: where it is published and its
	// digest (and its member's).
	Shipped recipes.Shipped
	// ModuleSum is the go.sum hash of a module artifact.
	ModuleSum string
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

// Infer fetches a shipped artifact (checked against its pin), reads the
// program in it and infers a recipe, as reprove infer does for a file at
// hand. The result's Recipe is the first candidate; Candidates lists the
// others (spellings of -ldflags the binary cannot tell apart).
func (s *Session) Infer(ctx context.Context, req InferRequest) (*Inferred, error) {
	b, err := s.Builder(nil)
	if err != nil {
		return nil, err
	}
	out := &Inferred{}
	var file string
	switch {
	case req.Module != "":
		m, err := s.ModuleZip(ctx, req.Module, req.ModuleVersion)
		if err != nil {
			return nil, err
		}
		file, out.ModuleSum, out.Shipped = m.Path, m.Sum, recipes.Shipped{URL: m.URL, Digest: m.Digest}
	case req.URL != "":
		s.sayf(PhaseFetch, "shipped artifact %s", req.URL)
		p, _, err := b.Fetcher().Get(ctx, "shipped artifact", req.URL, req.Digest)
		if err != nil {
			return nil, err
		}
		file, out.Shipped = p, recipes.Shipped{URL: req.URL, Digest: req.Digest}
	default:
		return nil, errors.New("infer: no artifact (a URL or a module)")
	}
	// From here on the bytes are pinned: what goes wrong is the artifact's
	// (unless the run was cancelled, or the checksum database is out of
	// reach).
	what := describeArtifact(req)
	inferErr := func(err error) error {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &InferError{Artifact: what, Err: err}
	}
	lim := infer.DefaultLimits()
	var facts *infer.Facts
	opts := infer.Options{
		Ldflags:     req.Ldflags,
		BuildGoRoot: plan.GoRoot,
		Writable:    []string{plan.TmpDir, plan.HomeDir},
		Suite:       req.Suite,
		BuildArch:   runtime.GOARCH,
	}
	if opts.Suite == "" {
		opts.Suite = "bookworm"
	}
	if req.Member != "" {
		tmp, err := os.MkdirTemp(s.rt.CacheDir, "infer-")
		if err != nil {
			return nil, err
		}
		defer os.RemoveAll(tmp)
		exe := filepath.Join(tmp, "member")
		md, err := infer.ExtractMember(ctx, file, req.Member, exe, lim)
		if err != nil {
			return nil, inferErr(err)
		}
		// Read from the open file, so that errors name the member, not
		// the private copy.
		if facts, err = readMember(exe, lim); err != nil {
			return nil, inferErr(fmt.Errorf("read executable %s: %w", req.Member, err))
		}
		facts.Digest = md
		out.Shipped.Member, out.Shipped.MemberDigest = req.Member, md
		v, manifest, found, err := infer.PackageVersion(ctx, file, req.Member, lim)
		if err != nil {
			return nil, inferErr(err)
		}
		if found {
			opts.PackageVersion, opts.PackageManifest = v, manifest
		}
	} else {
		if facts, err = infer.ReadFacts(ctx, file, lim); err != nil {
			return nil, inferErr(err)
		}
		facts.Digest = out.Shipped.Digest
	}
	opts.Shipped = &out.Shipped
	if infer.DistCommand(facts) {
		if opts.ToolchainSum, err = s.toolchainSum(ctx, b.Fetcher().Proxy, facts); err != nil {
			return nil, err
		}
	}
	s.sayf(PhaseFetch, "inferring a recipe for %s", what)
	out.Result, err = infer.Infer(facts, opts)
	if err != nil {
		return nil, inferErr(err)
	}
	return out, nil
}

func readMember(path string, lim infer.Limits) (*infer.Facts, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return infer.Read(f, st.Size(), lim)
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

// toolchainSum is the go.sum hash of the Go distribution a distribution
// command (cmd/gofmt) is rebuilt from, from the checksum database.
func (s *Session) toolchainSum(ctx context.Context, proxy *goproxy.Client, facts *infer.Facts) (string, error) {
	f := strings.Fields(facts.BuildInfo.GoVersion)
	if len(f) == 0 {
		return "", errors.New("infer: the binary names no Go version")
	}
	version := recipes.ToolchainVersion(strings.TrimPrefix(f[0], "go"), runtime.GOARCH)
	sum, err := proxy.SumDB.Lookup(ctx, recipes.ToolchainModule, version)
	if err != nil {
		return "", fmt.Errorf("look up %s@%s in the checksum database: %w", recipes.ToolchainModule, version, err)
	}
	return sum, nil
}

func describeArtifact(req InferRequest) string {
	where := req.URL
	if req.Module != "" {
		where = req.Module + "@" + req.ModuleVersion
	}
	if req.Member != "" {
		return req.Member + " in " + where
	}
	return where
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
