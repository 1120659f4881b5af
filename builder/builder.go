// Package builder rebuilds a recipe hermetically: it fetches and verifies
// every input with network (fetch), makes or reuses the base image
// (image), runs the build steps in containerd without network (build), then
// hashes the declared outputs on the host and moves them into the output
// directory atomically (collect). It returns everything an attestation
// needs about the rebuild.
package builder

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/reprove/reprove/builder/fetch"
	"github.com/reprove/reprove/builder/goproxy"
	"github.com/reprove/reprove/builder/image"
	"github.com/reprove/reprove/builder/plan"
	"github.com/reprove/reprove/builder/runner"
	"github.com/reprove/reprove/recipes"
)

// ResultSchema is the version of Result's JSON form.
const ResultSchema = 1

// Phase is a stage of a rebuild.
type Phase string

// The phases, in order.
const (
	PhaseFetch   Phase = "fetch"
	PhaseImage   Phase = "image"
	PhaseBuild   Phase = "build"
	PhaseCollect Phase = "collect"
)

// Event is progress: a phase message, or (in PhaseBuild) a line of the
// build's output.
type Event struct {
	Phase   Phase
	Message string
	// Line is set for build output lines.
	Line string
}

// Options configures a Builder.
type Options struct {
	// Client is a connected containerd (see builder/daemon).
	Client *client.Client
	// CacheDir holds images, downloads, git mirrors, the module cache and
	// build work directories.
	CacheDir string
	// Limits from the command line; zero fields fall back to the recipe,
	// then to plan.Defaults.
	Limits plan.Limits
	// Mirror is the Debian mirror for base images.
	Mirror string
	// Proxy is the Go module proxy URL (goproxy.DefaultProxy when empty).
	Proxy string
	// ReproveVersion is recorded in results.
	ReproveVersion string
	// Progress receives events; it may be nil.
	Progress func(Event)
	// BuildLog, if set, receives the build's output.
	BuildLog io.Writer
	// Now is the clock (time.Now when nil).
	Now func() time.Time
}

// Builder rebuilds recipes.
type Builder struct {
	opts    Options
	proxy   *goproxy.Client
	fetcher *fetch.Fetcher
	images  *image.Builder
}

// New returns a Builder.
func New(opts Options) (*Builder, error) {
	if opts.Client == nil {
		return nil, errors.New("new builder: no containerd client")
	}
	if opts.CacheDir == "" {
		return nil, errors.New("new builder: no cache directory")
	}
	if opts.Now == nil {
		opts.Now = time.Now
	}
	b := &Builder{opts: opts}
	b.proxy = &goproxy.Client{
		Proxy:    opts.Proxy,
		ModCache: filepath.Join(opts.CacheDir, "gomodcache"),
		SumDB:    goproxy.NewSumDB(opts.Proxy, goproxy.SumGolangOrgKey, filepath.Join(opts.CacheDir, "sumdb"), nil),
		Progress: func(s string) { b.event(PhaseFetch, s) },
	}
	b.fetcher = &fetch.Fetcher{CacheDir: opts.CacheDir, Proxy: b.proxy, Log: func(s string) { b.event(PhaseFetch, s) },
		// Source trees belong to the build user, who may write to them.
		Prepare: func(dir string) error { return chownTree(dir, plan.UID, plan.GID) }}
	b.emptyTrash()
	b.images = &image.Builder{Client: opts.Client, Dir: filepath.Join(opts.CacheDir, "images"), Proxy: b.proxy, Mirror: opts.Mirror,
		Log: func(s string) { b.event(PhaseImage, s) }}
	return b, nil
}

func (b *Builder) event(p Phase, msg string) {
	if b.opts.Progress != nil {
		b.opts.Progress(Event{Phase: p, Message: msg})
	}
}

// Images is the base image builder (for `reprove image build`).
func (b *Builder) Images() *image.Builder { return b.images }

// Fetcher fetches and verifies inputs (shipped artifacts, for compare).
func (b *Builder) Fetcher() *fetch.Fetcher { return b.fetcher }

// Result describes a finished rebuild: everything its provenance needs.
type Result struct {
	Schema int       `json:"schema"`
	Recipe RecipeRef `json:"recipe"`
	// Source is the fetched, verified source.
	Source fetch.Resolved `json:"source"`
	Image  ImageRef       `json:"image"`
	// Dependencies are the Go modules fetched from go.sum, verified.
	Dependencies []goproxy.Module `json:"dependencies"`
	// Env is the build's whole environment.
	Env      []string            `json:"env"`
	Steps    []runner.StepResult `json:"steps"`
	Limits   LimitsRecord        `json:"limits"`
	Started  time.Time           `json:"started"`
	Finished time.Time           `json:"finished"`
	// ExitCode is the last step's exit status.
	ExitCode int      `json:"exit_code"`
	Outputs  []Output `json:"outputs"`
	// OutputDir holds the outputs (by their recipe paths).
	OutputDir      string `json:"output_dir"`
	ReproveVersion string `json:"reprove_version"`
	HostKernel     string `json:"host_kernel"`
}

// RecipeRef identifies the recipe built.
type RecipeRef = recipes.Ref

// ImageRef is the base image used.
type ImageRef struct {
	Name        string           `json:"name"`
	Digest      digest.Digest    `json:"digest"`
	Description string           `json:"description"`
	Mirror      string           `json:"mirror,omitempty"`
	Packages    []image.Package  `json:"packages,omitempty"`
	Toolchain   *image.Toolchain `json:"toolchain,omitempty"`
}

// LimitsRecord are the limits the build ran under.
type LimitsRecord struct {
	MemoryBytes int64   `json:"memory_bytes"`
	Pids        int64   `json:"pids"`
	CPUs        float64 `json:"cpus,omitempty"`
	Timeout     string  `json:"timeout"`
}

// Output is one rebuilt file.
type Output struct {
	Path   string        `json:"path"`
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
}

// OutputError is a declared output the build did not leave as a regular
// file.
type OutputError struct {
	Path   string
	Reason string
}

func (e *OutputError) Error() string {
	return fmt.Sprintf("collect output %s: %s", e.Path, e.Reason)
}

// Variation changes the conditions of a build (reprove check).
type Variation struct {
	plan.Variation
	// ReverseFileOrder puts the source on a tmpfs, written in lexical
	// order: directory listings then come back in reverse order, instead
	// of the disk's hash order.
	ReverseFileOrder bool
}

// Build rebuilds r. Its outputs are moved to outDir, which must not exist
// yet: it appears, complete, only when the build succeeded. On failure the
// returned Result (when not nil) tells how far the build got.
func (b *Builder) Build(ctx context.Context, r *recipes.Recipe, outDir string) (*Result, error) {
	return b.BuildVaried(ctx, r, outDir, Variation{})
}

// BuildVaried is Build under changed conditions.
func (b *Builder) BuildVaried(ctx context.Context, r *recipes.Recipe, outDir string, vary Variation) (*Result, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	rd, err := r.Digest()
	if err != nil {
		return nil, err
	}
	outDir, err = filepath.Abs(outDir)
	if err != nil {
		return nil, err
	}
	if _, err := os.Lstat(outDir); err == nil {
		return nil, fmt.Errorf("build %s: output directory %s already exists", r.Name, outDir)
	}
	res := &Result{
		Schema:         ResultSchema,
		Recipe:         RecipeRef{Name: r.Name, Version: r.Version, Digest: rd, URI: r.File()},
		ReproveVersion: b.opts.ReproveVersion,
		HostKernel:     kernel(),
		Started:        b.opts.Now().UTC(),
	}

	// Leftovers of a reprove process that was killed mid-build.
	if n, err := runner.Sweep(ctx, b.opts.Client); err != nil {
		b.event(PhaseFetch, fmt.Sprintf("warning: removing leftovers of earlier runs: %v", err))
	} else if n > 0 {
		b.event(PhaseFetch, fmt.Sprintf("removed %d leftover containers and snapshots of killed runs", n))
	}

	work, err := b.workDir()
	if err != nil {
		return nil, err
	}
	defer b.discard(work)

	// Fetch: everything, verified, before anything runs.
	b.event(PhaseFetch, "fetching source")
	src, shared, err := b.fetcher.Prepared(ctx, r, work)
	if err != nil {
		return nil, err
	}
	res.Source = src.Resolved
	goSums, vendored, err := goSumFiles(src.Dir, r)
	if err != nil {
		return nil, err
	}
	for _, gs := range goSums {
		data, err := os.ReadFile(gs)
		if err != nil {
			return nil, err
		}
		rel, _ := filepath.Rel(src.Dir, gs)
		mods, err := goproxy.ParseGoSum(rel, data)
		if err != nil {
			return nil, fmt.Errorf("fetch dependencies: %w", err)
		}
		b.event(PhaseFetch, fmt.Sprintf("fetching %d modules listed in %s", len(mods), rel))
		if err := b.proxy.FetchAll(ctx, mods); err != nil {
			return nil, fmt.Errorf("fetch dependencies listed in %s: %w", rel, err)
		}
		res.Dependencies = append(res.Dependencies, mods...)
	}

	// Image.
	img, err := b.image(ctx, r)
	if err != nil {
		return nil, err
	}
	res.Image = ImageRef{Name: img.Name, Digest: img.Digest, Description: img.Describe(), Mirror: img.Mirror, Packages: img.Packages, Toolchain: img.Toolchain}

	// The build sees a writable source tree. A shared (cached, verified)
	// tree is the lower layer of an overlay, so the build's writes land in
	// a throw-away upper layer and the cached tree stays as verified.
	hostSource := src.Dir
	if shared && !vary.ReverseFileOrder {
		merged, err := overlay(work, src.Dir)
		if err != nil {
			return nil, err
		}
		defer unix.Unmount(merged, unix.MNT_DETACH)
		hostSource = merged
	}
	if vary.ReverseFileOrder {
		hostSource = filepath.Join(work, "src-tmpfs")
		if err := os.Mkdir(hostSource, 0o755); err != nil {
			return nil, err
		}
		if err := unix.Mount("tmpfs", hostSource, "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=0755"); err != nil {
			return nil, fmt.Errorf("vary file order: mount tmpfs: %w", err)
		}
		defer unix.Unmount(hostSource, unix.MNT_DETACH)
		tree := filepath.Join(hostSource, "src")
		if err := fetch.CopyTree(ctx, src.Dir, tree); err != nil {
			return nil, fmt.Errorf("vary file order: %w", err)
		}
		hostSource = tree
	}

	// Plan.
	for _, d := range []string{"out", "home"} {
		if err := os.Mkdir(filepath.Join(work, d), 0o755); err != nil {
			return nil, err
		}
	}
	p, err := plan.Make(plan.Inputs{
		Recipe:          r,
		Image:           img.Digest,
		HostSource:      hostSource,
		HostOut:         filepath.Join(work, "out"),
		HostHome:        filepath.Join(work, "home"),
		HostModCache:    b.proxy.ModCache,
		SourceDateEpoch: src.Epoch,
		Vendored:        vendored,
		Limits:          b.opts.Limits,
		Vary:            vary.Variation,
	})
	if err != nil {
		return nil, err
	}
	res.Env = p.Env
	res.Limits = LimitsRecord{MemoryBytes: p.Limits.MemoryBytes, Pids: p.Limits.Pids, CPUs: p.Limits.CPUs, Timeout: p.Limits.Timeout.String()}
	if err := os.MkdirAll(b.proxy.ModCache, 0o755); err != nil {
		return nil, err
	}
	owned := []string{filepath.Join(work, "out"), filepath.Join(work, "home")}
	if vary.ReverseFileOrder {
		owned = append(owned, hostSource)
	}
	for _, d := range owned {
		if err := chownTree(d, plan.UID, plan.GID); err != nil {
			return nil, fmt.Errorf("prepare build: %w", err)
		}
	}

	// Build, without network.
	b.event(PhaseBuild, fmt.Sprintf("running %d steps in %s (no network)", len(p.Steps), img.Describe()))
	run := &runner.Runner{
		Client:   b.opts.Client,
		StateDir: filepath.Join(b.opts.CacheDir, "state"),
		LogFile:  b.opts.BuildLog,
		Log: func(line string) {
			if b.opts.Progress != nil {
				b.opts.Progress(Event{Phase: PhaseBuild, Line: line})
			}
		},
	}
	steps, err := run.Run(ctx, p, img.Name)
	res.Steps = steps
	if len(steps) > 0 {
		res.ExitCode = int(steps[len(steps)-1].ExitCode)
	}
	if err != nil {
		res.Finished = b.opts.Now().UTC()
		return res, err
	}

	// Collect: hash on the host, move into place atomically.
	b.event(PhaseCollect, fmt.Sprintf("hashing %d outputs", len(p.Outputs)))
	staging := outDir + ".partial-" + filepath.Base(work)
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return res, err
	}
	defer os.RemoveAll(staging)
	for _, o := range p.Outputs {
		out, err := collect(filepath.Join(work, "out"), o, staging)
		if err != nil {
			res.Finished = b.opts.Now().UTC()
			return res, err
		}
		res.Outputs = append(res.Outputs, out)
	}
	if err := os.Rename(staging, outDir); err != nil {
		return res, fmt.Errorf("collect outputs: %w", err)
	}
	res.OutputDir = outDir
	res.Finished = b.opts.Now().UTC()
	return res, nil
}

// discard removes a finished build's work directory (source overlay, build
// cache) off the critical path: it is renamed into the cache's trash and
// deleted in the background; whatever a process leaves there when it exits
// is deleted by the next one.
func (b *Builder) discard(work string) {
	trash := filepath.Join(b.opts.CacheDir, "trash")
	if err := os.MkdirAll(trash, 0o700); err != nil {
		os.RemoveAll(work)
		return
	}
	dest := filepath.Join(trash, filepath.Base(work))
	if err := os.Rename(work, dest); err != nil {
		os.RemoveAll(work)
		return
	}
	go os.RemoveAll(dest)
}

// emptyTrash deletes what earlier processes left in the trash.
func (b *Builder) emptyTrash() {
	trash := filepath.Join(b.opts.CacheDir, "trash")
	entries, err := os.ReadDir(trash)
	if err != nil {
		return
	}
	for _, e := range entries {
		go os.RemoveAll(filepath.Join(trash, e.Name()))
	}
}

func (b *Builder) workDir() (string, error) {
	base := filepath.Join(b.opts.CacheDir, "work")
	if err := os.MkdirAll(base, 0o755); err != nil {
		return "", err
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	dir := filepath.Join(base, hex.EncodeToString(rnd[:]))
	return dir, os.Mkdir(dir, 0o755)
}

// image returns the recipe's base image, built on first use.
func (b *Builder) image(ctx context.Context, r *recipes.Recipe) (*image.Image, error) {
	if r.Image.Ref != "" {
		if r.Toolchain.Go != "" {
			return nil, fmt.Errorf("image %s: a registry image brings its own toolchain; drop toolchain.go or use reprove's images", r.Image.Ref)
		}
		b.event(PhaseImage, "registry image "+r.Image.Ref)
		return b.images.Pull(ctx, r.Image.Ref)
	}
	spec := image.Spec{Debian: r.Image.Debian, Go: r.Toolchain.Go}
	b.event(PhaseImage, "base image "+spec.Describe())
	return b.images.Ensure(ctx, spec)
}

// goSumFiles finds the go.sum of the module each step builds in (the
// nearest go.mod at or above the step's directory, within the source), and
// whether the first step's module is vendored (then its go.sum is not
// needed: vendor/ holds the code).
func goSumFiles(srcDir string, r *recipes.Recipe) ([]string, bool, error) {
	seen := map[string]bool{}
	var sums []string
	vendored := false
	for i, s := range r.Steps {
		dir := path.Clean(s.Dir)
		if dir == "." {
			dir = ""
		}
		for {
			modRoot := filepath.Join(srcDir, filepath.FromSlash(dir))
			if _, err := os.Stat(filepath.Join(modRoot, "go.mod")); err == nil {
				if seen[modRoot] {
					break
				}
				seen[modRoot] = true
				_, verr := os.Stat(filepath.Join(modRoot, "vendor", "modules.txt"))
				if verr == nil {
					if i == 0 {
						vendored = true
					}
					break
				}
				if _, err := os.Stat(filepath.Join(modRoot, "go.sum")); err == nil {
					sums = append(sums, filepath.Join(modRoot, "go.sum"))
				}
				break
			}
			if dir == "" {
				break
			}
			dir = path.Dir(dir)
			if dir == "." {
				dir = ""
			}
		}
	}
	return sums, vendored, nil
}

// collect checks that the build left rel as a regular file, hashes it and
// moves it into staging.
func collect(outDir, rel, staging string) (Output, error) {
	src := filepath.Join(outDir, filepath.FromSlash(rel))
	// No symlink may lead outside /out on the host: check every component.
	parts := strings.Split(rel, "/")
	cur := outDir
	for i, part := range parts {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		if err != nil {
			if os.IsNotExist(err) {
				return Output{}, &OutputError{Path: rel, Reason: "the build did not write it"}
			}
			return Output{}, &OutputError{Path: rel, Reason: err.Error()}
		}
		if fi.Mode()&os.ModeSymlink != 0 {
			return Output{}, &OutputError{Path: rel, Reason: "is a symlink, not a file"}
		}
		if i < len(parts)-1 && !fi.IsDir() {
			return Output{}, &OutputError{Path: rel, Reason: cur + " is not a directory"}
		}
		if i == len(parts)-1 && !fi.Mode().IsRegular() {
			return Output{}, &OutputError{Path: rel, Reason: "is not a regular file"}
		}
	}
	dst := filepath.Join(staging, filepath.FromSlash(rel))
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return Output{}, err
	}
	if err := os.Rename(src, dst); err != nil {
		return Output{}, fmt.Errorf("collect output %s: %w", rel, err)
	}
	if err := os.Chown(dst, 0, 0); err != nil && !errors.Is(err, os.ErrPermission) {
		return Output{}, err
	}
	d, err := fetch.FileDigest(dst, digest.SHA256)
	if err != nil {
		return Output{}, err
	}
	fi, err := os.Stat(dst)
	if err != nil {
		return Output{}, err
	}
	return Output{Path: rel, Digest: d, Size: fi.Size()}, nil
}

// overlay mounts lower (read-only to the overlay) under a fresh upper
// layer in work and returns the merged directory.
func overlay(work, lower string) (string, error) {
	if strings.ContainsAny(lower+work, ",:\\") {
		return "", fmt.Errorf("mount source overlay: path %q has a character overlayfs options cannot carry", lower)
	}
	merged, upper, wd := filepath.Join(work, "src"), filepath.Join(work, "src-upper"), filepath.Join(work, "src-work")
	for _, d := range []string{merged, upper, wd} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return "", err
		}
	}
	if err := os.Chown(upper, plan.UID, plan.GID); err != nil {
		return "", err
	}
	opts := "lowerdir=" + lower + ",upperdir=" + upper + ",workdir=" + wd
	if err := unix.Mount("overlay", merged, "overlay", unix.MS_NOSUID|unix.MS_NODEV, opts); err != nil {
		return "", fmt.Errorf("mount source overlay: %w", err)
	}
	return merged, nil
}

func chownTree(root string, uid, gid int) error {
	return filepath.Walk(root, func(p string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		return os.Lchown(p, uid, gid)
	})
}

func kernel() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Machine[:])
}
