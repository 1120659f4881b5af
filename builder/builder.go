// Package builder rebuilds a recipe hermetically: it fetches and verifies
// every input with network (fetch), makes or reuses the base image
// (image), runs the build steps in containerd without network (build), then
// hashes the declared outputs on the host and moves them into the output
// directory atomically (collect). It returns everything an attestation
// needs about the rebuild.
package builder

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/mount"
	"github.com/opencontainers/go-digest"
	"golang.org/x/sys/unix"

	"github.com/reprove/reprove/builder/fetch"
	"github.com/reprove/reprove/builder/goproxy"
	"github.com/reprove/reprove/builder/image"
	"github.com/reprove/reprove/builder/plan"
	"github.com/reprove/reprove/builder/runner"
	"github.com/reprove/reprove/internal/ctxio"
	"github.com/reprove/reprove/internal/english"
	"github.com/reprove/reprove/internal/escape"
	"github.com/reprove/reprove/internal/progress"
	"github.com/reprove/reprove/recipes"
)

// ResultSchema is the version of Result's JSON form (2: lowerCamelCase
// keys, schemaVersion, the source's fetch record, disk and output limits).
const ResultSchema = 2

// Phase is a stage of a rebuild.
type Phase = progress.Phase

// The phases, in order.
const (
	PhaseFetch   Phase = "fetch"
	PhaseImage   Phase = "image"
	PhaseBuild   Phase = "build"
	PhaseCollect Phase = "collect"
)

// Event is progress (internal/progress): a phase message, in PhaseBuild a
// line of the build's output, or byte progress of a download.
type Event = progress.Event

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
	// Snapshot is the snapshot archive locked Debian packages are fetched
	// from once the mirror has moved on (see image.Builder.Snapshot).
	Snapshot string
	// Proxy is the Go module proxy URL (goproxy.DefaultProxy when empty).
	Proxy string
	// ReproveVersion is recorded in results.
	ReproveVersion string
	// Progress receives events; it may be nil.
	Progress func(Event)
	// BuildLog, if set, receives the build's output as the build wrote
	// it (up to LogLimit).
	BuildLog io.Writer
	// LogLimit caps the build output kept (runner.DefaultLogLimit when 0).
	LogLimit int64
	// Refetch contacts every URL and repository again even when the cache
	// holds the pinned bytes (see fetch.Fetcher.Refetch).
	Refetch bool
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// SharedCaches are other reprove caches, read-only, that downloads
	// and Go module zips missing from CacheDir may be copied from; each
	// copy is checked against its pin on the way (fetch.Fetcher.Shared,
	// goproxy.Client.Shared).
	SharedCaches []string
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
	if err := NeedRoot(); err != nil {
		return nil, err
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
		Bytes:    b.meter(PhaseFetch),
	}
	for _, d := range opts.SharedCaches {
		b.proxy.Shared = append(b.proxy.Shared, filepath.Join(d, "gomodcache"))
	}
	b.fetcher = &fetch.Fetcher{CacheDir: opts.CacheDir, Proxy: b.proxy, Log: func(s string) { b.event(PhaseFetch, s) },
		// Source trees belong to the build user, who may write to them.
		Prepare: func(dir string) error { return chownTree(dir, plan.UID, plan.GID) },
		Refetch: opts.Refetch, Now: opts.Now, Bytes: b.meter(PhaseFetch), Shared: opts.SharedCaches, Snapshot: opts.Snapshot}
	b.sweep()
	b.images = &image.Builder{Client: opts.Client, Dir: filepath.Join(opts.CacheDir, "images"), Proxy: b.proxy, Mirror: opts.Mirror,
		Snapshot: opts.Snapshot, DebCache: filepath.Join(opts.CacheDir, "debian", "debs"),
		Log: func(s string) { b.event(PhaseImage, s) }}
	return b, nil
}

func (b *Builder) event(p Phase, msg string) {
	if b.opts.Progress != nil {
		b.opts.Progress(Event{Phase: p, Message: msg})
	}
}

// meter turns byte progress into events of phase p (nil when nobody
// listens, so readers skip the counting).
func (b *Builder) meter(p Phase) ctxio.Meter {
	if b.opts.Progress == nil {
		return nil
	}
	return func(label string, done, total int64) {
		b.opts.Progress(Event{Phase: p, Message: label, Bytes: max(done, 1), Total: total})
	}
}

// Images is the base image builder (for `reprove image build`).
func (b *Builder) Images() *image.Builder { return b.images }

// CacheDir is the builder's cache directory.
func (b *Builder) CacheDir() string { return b.opts.CacheDir }

// Fetcher fetches and verifies inputs (shipped artifacts, for compare).
func (b *Builder) Fetcher() *fetch.Fetcher { return b.fetcher }

// Result describes a finished rebuild: everything its provenance needs.
type Result struct {
	SchemaVersion int       `json:"schemaVersion"`
	Recipe        RecipeRef `json:"recipe"`
	// Source is the fetched, verified source; Source.Fetched says whether
	// this run read it from its location or from the cache.
	Source fetch.Resolved `json:"source"`
	Image  ImageRef       `json:"image"`
	// Dependencies are the Go modules fetched from go.sum, verified: the
	// only modules the build could see.
	Dependencies []goproxy.Module `json:"dependencies"`
	// Env is the build's whole environment.
	Env      []string            `json:"env"`
	Steps    []runner.StepResult `json:"steps"`
	Limits   LimitsRecord        `json:"limits"`
	Started  time.Time           `json:"started"`
	Finished time.Time           `json:"finished"`
	// ExitCode is the last step's exit status.
	ExitCode int      `json:"exitCode"`
	Outputs  []Output `json:"outputs"`
	// OutputDir holds the outputs (by their recipe paths).
	OutputDir      string `json:"outputDir"`
	ReproveVersion string `json:"reproveVersion"`
	HostKernel     string `json:"hostKernel"`
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
	MemoryBytes int64   `json:"memoryBytes"`
	DiskBytes   int64   `json:"diskBytes"`
	OutputBytes int64   `json:"outputBytes"`
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
func (b *Builder) BuildVaried(ctx context.Context, r *recipes.Recipe, outDir string, vary Variation) (res *Result, err error) {
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
	flags := b.opts.Limits
	limits, err := plan.LimitsFor(flags, r.Limits)
	if err != nil {
		return nil, err
	}
	// The default disk limit is lowered to what the host has free (a CI
	// runner may have less than it); a limit someone set is kept, and
	// refused below when it does not fit.
	if flags.DiskBytes == 0 && r.Limits.Disk == "" {
		if free := freeBytes(b.opts.CacheDir); free > 0 && free < limits.DiskBytes {
			lowered := (free * 9 / 10) &^ (1<<20 - 1)
			if lowered < plan.MinSize {
				return nil, fmt.Errorf("build %s: %s has only %s free, too little for a build", r.Name, b.opts.CacheDir, humanBytes(free))
			}
			b.event(PhaseFetch, fmt.Sprintf("disk limit lowered from %s to %s: %s has only %s free",
				recipes.FormatSize(limits.DiskBytes), recipes.FormatSize(lowered), b.opts.CacheDir, humanBytes(free)))
			flags.DiskBytes, limits.DiskBytes = lowered, lowered
		}
	}
	res = &Result{
		SchemaVersion:  ResultSchema,
		Recipe:         RecipeRef{Name: r.Name, Version: r.Version, Digest: rd, URI: r.File()},
		ReproveVersion: b.opts.ReproveVersion,
		HostKernel:     kernel(),
		Started:        b.opts.Now().UTC(),
	}
	ok := false
	defer func() {
		if !ok && res != nil && res.Finished.IsZero() && len(res.Steps) > 0 {
			res.Finished = b.opts.Now().UTC()
		}
	}()

	// Leftovers of a reprove process that was killed mid-build.
	if n, err := runner.Sweep(ctx, b.opts.Client); err != nil {
		b.event(PhaseFetch, fmt.Sprintf("warning: removing leftovers of earlier runs: %v", err))
	} else if n > 0 {
		b.event(PhaseFetch, fmt.Sprintf("removed %d leftover containers and snapshots of killed runs", n))
	}

	w, err := b.newWork(ctx, limits.DiskBytes)
	if err != nil {
		return nil, err
	}
	defer func() {
		if cerr := w.close(); cerr != nil {
			b.event(PhaseCollect, fmt.Sprintf("warning: removing the build's work directory: %v", cerr))
		}
	}()
	disk := w.disk()

	// Fetch: everything, verified, before anything runs. A directory
	// source is copied onto the build's disk.
	b.event(PhaseFetch, "fetching source")
	src, shared, err := b.fetcher.Prepared(ctx, r, disk)
	if err != nil {
		return nil, err
	}
	res.Source = src.Resolved
	goSums, vendored, err := goSumFiles(src.Dir, r)
	if err != nil {
		return nil, fmt.Errorf("fetch dependencies: %w", err)
	}
	for _, gs := range goSums {
		mods, err := goproxy.ParseGoSum(gs.Rel, gs.Data)
		if err != nil {
			return nil, fmt.Errorf("fetch dependencies: %w", err)
		}
		b.event(PhaseFetch, fmt.Sprintf("fetching %d modules listed in %s", len(mods), gs.Rel))
		if err := b.proxy.FetchAll(ctx, mods); err != nil {
			return nil, fmt.Errorf("fetch dependencies listed in %s: %w", gs.Rel, err)
		}
		res.Dependencies = append(res.Dependencies, mods...)
	}
	// The build sees exactly these modules, not the whole shared cache.
	modView, err := b.proxy.View(ctx, res.Dependencies, filepath.Join(b.opts.CacheDir, "gomodcache-views"))
	if err != nil {
		return nil, fmt.Errorf("fetch dependencies: %w", err)
	}

	// Image.
	img, err := b.image(ctx, r)
	if err != nil {
		return nil, err
	}
	res.Image = ImageRef{Name: img.Name, Digest: img.Digest, Description: img.Describe(), Mirror: img.Mirror, Packages: img.Packages, Toolchain: img.Toolchain}

	// The build sees a writable source tree. A shared (cached, verified)
	// tree is the lower layer of an overlay, so the build's writes land in
	// a throw-away upper layer on the build's disk and the cached tree
	// stays as verified.
	hostSource := src.Dir
	var sourceFS string // a tmpfs holding the source, when not on the disk
	switch {
	case vary.ReverseFileOrder:
		sourceFS = filepath.Join(w.dir, "src-tmpfs")
		tm := mount.Mount{Type: "tmpfs", Source: "tmpfs", Options: []string{"nosuid", "nodev", "mode=0755", "size=" + strconv.FormatInt(limits.DiskBytes, 10)}}
		if err := w.mount(tm, sourceFS); err != nil {
			return nil, fmt.Errorf("vary file order: mount tmpfs: %w", err)
		}
		hostSource = filepath.Join(sourceFS, "src")
		if err := fetch.CopyTree(ctx, src.Dir, hostSource); err != nil {
			return nil, fmt.Errorf("vary file order: %w", err)
		}
		if err := chownTree(hostSource, plan.UID, plan.GID); err != nil {
			return nil, fmt.Errorf("prepare build: %w", err)
		}
	case shared:
		if hostSource, err = w.overlay(src.Dir); err != nil {
			return nil, err
		}
	}

	// Plan.
	hostOut, hostHome := filepath.Join(disk, "out"), filepath.Join(disk, "home")
	for _, d := range []string{hostOut, hostHome} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return nil, err
		}
		if err := os.Chown(d, plan.UID, plan.GID); err != nil {
			return nil, fmt.Errorf("prepare build: %w", err)
		}
	}
	p, err := plan.Make(plan.Inputs{
		Recipe:          r,
		Image:           img.Digest,
		HostSource:      hostSource,
		HostOut:         hostOut,
		HostHome:        hostHome,
		HostModCache:    modView,
		SourceDateEpoch: src.Epoch,
		Vendored:        vendored,
		Limits:          flags,
		Vary:            vary.Variation,
	})
	if err != nil {
		return nil, err
	}
	res.Env = p.Env
	res.Limits = LimitsRecord{MemoryBytes: p.Limits.MemoryBytes, DiskBytes: p.Limits.DiskBytes, OutputBytes: p.Limits.OutputBytes,
		Pids: p.Limits.Pids, CPUs: p.Limits.CPUs, Timeout: p.Limits.Timeout.String()}

	// Build, without network. The time limit covers the steps and the
	// collection of their outputs.
	deadline := time.Now().Add(p.Limits.Timeout)
	b.event(PhaseBuild, fmt.Sprintf("running %s in %s (no network)", english.Count(len(p.Steps), "step"), img.Describe()))
	run := &runner.Runner{
		Client:   b.opts.Client,
		StateDir: filepath.Join(b.opts.CacheDir, "state"),
		LogFile:  b.opts.BuildLog,
		LogLimit: b.opts.LogLimit,
		Log: func(line string) {
			if b.opts.Progress != nil {
				b.opts.Progress(Event{Phase: PhaseBuild, Line: escape.Line(line)})
			}
		},
	}
	steps, err := run.Run(ctx, p, img.Name)
	res.Steps = steps
	if len(steps) > 0 {
		res.ExitCode = int(steps[len(steps)-1].ExitCode)
	}
	if err != nil {
		var se *runner.StepError
		switch {
		case !errors.As(err, &se):
		case full(disk) || (sourceFS != "" && full(sourceFS)):
			err = &runner.LimitError{Step: se.Step, Limit: runner.LimitDisk, Value: recipes.FormatSize(p.Limits.DiskBytes)}
		case full(w.dir):
			err = fmt.Errorf("%w: the disk holding reprove's cache (%s) is full", err, b.opts.CacheDir)
		}
		return res, err
	}

	// Collect: check, bound and hash on the host, move into place
	// atomically.
	b.event(PhaseCollect, "hashing "+english.Count(len(p.Outputs), "output"))
	cctx, cancel := context.WithDeadline(ctx, deadline)
	defer cancel()
	staging := outDir + ".partial-" + filepath.Base(w.dir)
	if err := os.MkdirAll(staging, 0o755); err != nil {
		return res, err
	}
	defer os.RemoveAll(staging)
	outs, err := collect(cctx, hostOut, p.Outputs, staging, p.Limits.OutputBytes, p.Limits.Timeout.String(), b.meter(PhaseCollect))
	if err != nil {
		return res, err
	}
	res.Outputs = outs
	if err := os.Rename(staging, outDir); err != nil {
		return res, fmt.Errorf("collect outputs: %w", err)
	}
	res.OutputDir = outDir
	res.Finished = b.opts.Now().UTC()
	ok = true
	return res, nil
}

// sweep removes what killed reprove processes left: their work
// directories (with the mounts in them), and the trash directory older
// versions of reprove deleted in the background.
func (b *Builder) sweep() {
	if n, err := sweepWork(filepath.Join(b.opts.CacheDir, "work")); err != nil {
		b.event(PhaseFetch, fmt.Sprintf("warning: removing the work of killed runs: %v", err))
	} else if n > 0 {
		b.event(PhaseFetch, fmt.Sprintf("removed the work directories of %d killed runs", n))
	}
	os.RemoveAll(filepath.Join(b.opts.CacheDir, "trash"))
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

// overlay mounts lower (read-only to the overlay) under a fresh upper
// layer on the build's disk and returns the merged directory.
func (w *work) overlay(lower string) (string, error) {
	upper, wd := filepath.Join(w.disk(), "src-upper"), filepath.Join(w.disk(), "src-work")
	if strings.ContainsAny(lower+upper, ",:\\") {
		return "", fmt.Errorf("mount source overlay: path %q has a character overlayfs options cannot carry", lower)
	}
	for _, d := range []string{upper, wd} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return "", err
		}
	}
	if err := os.Chown(upper, plan.UID, plan.GID); err != nil {
		return "", err
	}
	merged := filepath.Join(w.dir, "src")
	m := mount.Mount{Type: "overlay", Source: "overlay", Options: []string{"lowerdir=" + lower, "upperdir=" + upper, "workdir=" + wd, "nosuid", "nodev"}}
	if err := w.mount(m, merged); err != nil {
		return "", fmt.Errorf("mount source overlay: %w", err)
	}
	return merged, nil
}

// chownTree gives every file of a tree to uid:gid without following a
// link: the tree is walked and changed through an os.Root.
func chownTree(dir string, uid, gid int) error {
	root, err := os.OpenRoot(dir)
	if err != nil {
		return err
	}
	defer root.Close()
	return fs.WalkDir(root.FS(), ".", func(p string, _ fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		return root.Lchown(p, uid, gid)
	})
}

func kernel() string {
	var u unix.Utsname
	if err := unix.Uname(&u); err != nil {
		return ""
	}
	return unix.ByteSliceToString(u.Sysname[:]) + " " + unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Machine[:])
}
