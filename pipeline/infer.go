package pipeline

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/builder/goproxy"
	"github.com/reprove/reprove/builder/plan"
	"github.com/reprove/reprove/internal/ctxio"
	"github.com/reprove/reprove/recipes"
	"github.com/reprove/reprove/recipes/infer"
)

// InferRequest is what `reprove infer` is asked: a binary (or an archive
// holding one), what the user knows that the binary cannot say, and where
// the recipe will be written.
type InferRequest struct {
	// Binary is the file to infer from, or the archive holding it when
	// Member is set (an npm .tgz, a release .zip).
	Binary string
	Member string
	// Source, when its Location is set, pins the source (a clone, a git
	// URL or a directory); otherwise the repository is guessed.
	Source infer.SourceSpec
	// ShippedURL is where Binary is published; when empty the recipe names
	// it by path, relative to RecipeFile's directory (absolute when
	// RecipeFile is empty).
	ShippedURL string
	RecipeFile string
	// Ldflags, Output and Suite are infer.Options'.
	Ldflags []string
	Output  string
	Suite   string
	// CacheDir holds the checksum database's cache (a command of the Go
	// distribution is pinned by its toolchain module's sum).
	CacheDir string
	// Proxy is the Go module proxy; goproxy.DefaultProxy when empty.
	Proxy string
	// Limits bound the reading of the untrusted binary; DefaultLimits
	// when zero.
	Limits infer.Limits
	// Hash hashes a file with progress; ctxio.HashFile when nil.
	Hash func(ctx context.Context, path string) (digest.Digest, error)
	// Progress is told what is being done (cloning, hashing the source).
	Progress func(string)
}

// InferResult is infer's result with what it was read from.
type InferResult struct {
	*infer.Result
	Facts *infer.Facts
	// ArchiveDigest is the archive's digest when Member was set.
	ArchiveDigest digest.Digest
	// Notes say what could not be looked up (the recipe then says what to
	// fill in).
	Notes []string
}

// Infer reads the binary (through Limits), looks up what the binary
// implies (the toolchain module's sum in the Go checksum database for a
// command of the Go distribution), pins the source when one is given, and
// infers the recipe and its candidates.
func Infer(ctx context.Context, req InferRequest) (*InferResult, error) {
	lim := req.Limits
	if lim == (infer.Limits{}) {
		lim = infer.DefaultLimits()
	}
	hash := req.Hash
	if hash == nil {
		hash = func(ctx context.Context, p string) (digest.Digest, error) { return ctxio.HashFile(ctx, p, nil) }
	}
	out := &InferResult{}
	var pkgVersion, pkgManifest string
	if req.Member != "" {
		var err error
		if out.Facts, err = memberFacts(ctx, req.Binary, req.Member, lim); err != nil {
			return nil, err
		}
		if out.ArchiveDigest, err = hash(ctx, req.Binary); err != nil {
			return nil, err
		}
		v, manifest, found, err := infer.PackageVersion(ctx, req.Binary, req.Member, lim)
		if err != nil {
			return nil, err
		}
		if found {
			pkgVersion, pkgManifest = v, manifest+" in "+filepath.Base(req.Binary)
		}
	} else {
		var err error
		if out.Facts, err = infer.ReadFacts(ctx, req.Binary, lim); err != nil {
			return nil, err
		}
	}
	facts := out.Facts
	opts := infer.Options{
		Output:      req.Output,
		Ldflags:     req.Ldflags,
		BuildGoRoot: plan.GoRoot,
		Writable:    []string{plan.TmpDir, plan.HomeDir},
		Suite:       req.Suite,
		BuildArch:   runtime.GOARCH,

		PackageVersion:  pkgVersion,
		PackageManifest: pkgManifest,
	}
	shipped := &recipes.Shipped{Digest: facts.Digest}
	if req.Member != "" {
		shipped = &recipes.Shipped{Digest: out.ArchiveDigest, Member: req.Member, MemberDigest: facts.Digest}
	}
	if req.ShippedURL != "" {
		shipped.URL = req.ShippedURL
	} else {
		var err error
		if shipped.Path, err = shippedPath(req.Binary, req.RecipeFile); err != nil {
			return nil, err
		}
	}
	opts.Shipped = shipped
	if infer.DistCommand(facts) && req.Source.Location == "" {
		sum, err := toolchainSum(ctx, req, facts)
		if err != nil {
			out.Notes = append(out.Notes, err.Error())
		}
		opts.ToolchainSum = sum
	}
	if req.Source.Location != "" {
		spec := req.Source
		if spec.Progress == nil {
			spec.Progress = req.Progress
		}
		src, err := infer.ResolveSource(ctx, spec, facts)
		if err != nil {
			return nil, err
		}
		opts.Source = src
	}
	res, err := infer.Infer(facts, opts)
	if err != nil {
		return nil, err
	}
	out.Result = res
	return out, nil
}

// toolchainSum finds the go.sum hash of the Go distribution a command of
// it (cmd/gofmt) is rebuilt from, in the Go checksum database.
func toolchainSum(ctx context.Context, req InferRequest, facts *infer.Facts) (string, error) {
	goVersion := strings.TrimPrefix(strings.Fields(facts.BuildInfo.GoVersion)[0], "go")
	version := recipes.ToolchainVersion(goVersion, runtime.GOARCH)
	proxy := req.Proxy
	if proxy == "" {
		proxy = goproxy.DefaultProxy
	}
	if req.CacheDir == "" {
		return "", fmt.Errorf("look up %s@%s in the checksum database: no cache directory", recipes.ToolchainModule, version)
	}
	db := goproxy.NewSumDB(proxy, goproxy.SumGolangOrgKey, filepath.Join(req.CacheDir, "sumdb"), nil)
	sum, err := db.Lookup(ctx, recipes.ToolchainModule, version)
	if err != nil {
		return "", fmt.Errorf("look up %s@%s in the checksum database: %w", recipes.ToolchainModule, version, err)
	}
	return sum, nil
}

// memberFacts reads the program member of an archive. It is copied out to
// a private temporary file (infer reads executables from files); errors
// name the member and the archive, never that file.
func memberFacts(ctx context.Context, archive, member string, lim infer.Limits) (*infer.Facts, error) {
	tmp, err := os.MkdirTemp("", "reprove-infer-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp)
	exe := filepath.Join(tmp, "member")
	d, err := infer.ExtractMember(ctx, archive, member, exe, lim)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(exe)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	facts, err := infer.Read(f, st.Size(), lim)
	if err != nil {
		return nil, fmt.Errorf("read executable %s in %s: %w", member, archive, err)
	}
	facts.Digest = d
	return facts, nil
}

// shippedPath is how the recipe refers to the binary: relative to the
// recipe file's directory when one is written, else absolute.
func shippedPath(binary, recipeFile string) (string, error) {
	abs, err := filepath.Abs(binary)
	if err != nil {
		return "", err
	}
	if recipeFile == "" {
		return abs, nil
	}
	dir, err := filepath.Abs(filepath.Dir(recipeFile))
	if err != nil {
		return "", err
	}
	rel, err := filepath.Rel(dir, abs)
	if err != nil {
		return abs, nil
	}
	return filepath.ToSlash(rel), nil
}
