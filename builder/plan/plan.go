// Package plan turns a recipe and its resolved inputs into the exact
// instructions for a build container: image, commands, environment,
// mounts, user and limits. It is pure: no I/O, so every rule of the
// hermetic build is pinned by table tests here, and the runner only
// executes what the plan says.
package plan

import (
	"fmt"
	"path"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/recipes"
)

// Fixed paths inside the build container.
const (
	SourceDir = "/src"
	// DebianBuildDir is where a Debian source package is put and built,
	// as Debian's buildds (sbuild) build: the tree dpkg-source unpacks is
	// /build/reproducible-path/SOURCE-VERSION.
	DebianBuildDir = "/build/reproducible-path"
	OutDir         = "/out"
	HomeDir        = "/home/build"
	ModCacheDir    = "/gomodcache"
	TmpDir         = "/tmp"
	GoRoot         = "/usr/local/go"
	Hostname       = "reprove"
	UID            = 1000
	GID            = 1000
	Umask          = 0o022
	// ClockHelperPath is where a varied build whose clock is shifted
	// finds the helper that shifts it (read-only).
	ClockHelperPath = "/usr/libexec/reprove/clockshift"
	DefaultPath     = GoRoot + "/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// Defaults for limits a recipe and the flags leave unset.
var Defaults = Limits{
	MemoryBytes: 4 << 30,
	DiskBytes:   16 << 30,
	Pids:        4096,
	CPUs:        0, // all of the host's
	Timeout:     60 * time.Minute,
	TmpfsBytes:  1 << 30,
	OutputBytes: 4 << 30,
}

// MinSize is the smallest memory or disk limit a build may have.
const MinSize = 16 << 20

// Limits bound a build's resources.
type Limits struct {
	MemoryBytes int64
	// DiskBytes bounds what the build writes to SourceDir, OutDir and
	// HomeDir together (the builder puts them on one file system of this
	// size).
	DiskBytes int64
	Pids      int64
	// CPUs is a CPU quota in cores; 0 leaves CPU unlimited.
	CPUs    float64
	Timeout time.Duration
	// TmpfsBytes is the size of /tmp (counted against memory).
	TmpfsBytes int64
	// OutputBytes bounds the declared outputs' total size, checked before
	// they are hashed.
	OutputBytes int64
	// CPUSet pins the build to CPUs ("" for all).
	CPUSet string
}

// Mount is one filesystem the container sees besides its rootfs.
type Mount struct {
	// Type is "bind" or "tmpfs".
	Type string
	// Source is the host path of a bind mount.
	Source   string
	Target   string
	ReadOnly bool
	// SizeBytes bounds a tmpfs.
	SizeBytes int64
}

// Step is one command, run in its own container on the same mounts.
type Step struct {
	Args []string
	Dir  string
}

// Plan is everything the runner needs.
type Plan struct {
	Image    digest.Digest
	Steps    []Step
	Env      []string
	Hostname string
	UID, GID uint32
	Umask    uint32
	Mounts   []Mount
	Limits   Limits
	// Outputs are paths relative to OutDir the build must leave.
	Outputs []string
}

// Inputs is what the builder resolved before planning.
type Inputs struct {
	Recipe *recipes.Recipe
	// Image is the base image's manifest digest.
	Image digest.Digest
	// Host directories bound into the container.
	HostSource, HostOut, HostHome string
	// HostModCache is the verified module cache ("" when the build needs
	// none).
	HostModCache string
	// SourceDateEpoch is the default SOURCE_DATE_EPOCH (from the source's
	// commit or module time); the recipe's env may override it.
	SourceDateEpoch int64
	// Vendored is true when the source has vendor/modules.txt.
	Vendored bool
	// Limits from flags; zero fields fall back to the recipe, then to
	// Defaults.
	Limits Limits
	// Vary changes the build's conditions (reprove check); the zero value
	// is the normal build.
	Vary Variation
}

// Variation changes the conditions a build runs under, for checking that
// its outputs do not depend on them. Zero fields leave the normal value.
type Variation struct {
	// SourceDir is where the source is mounted instead of SourceDir.
	SourceDir string
	// Umask replaces the umask when Set.
	Umask OptionalUmask
	// Locale replaces LC_ALL=C; TZ replaces TZ=UTC.
	Locale string
	TZ     string
	// Hostname replaces Hostname.
	Hostname string
	// CPUSet restricts the build to these CPUs (cpuset syntax, "0").
	CPUSet string
	// ClockOffset, when not 0, shifts the wall clock of every process of
	// each step by this many seconds: the step runs under ClockHelper, the
	// host path of reprove's static clock helper (builder/check/clockshift),
	// bound read-only at ClockHelperPath.
	ClockOffset int64
	ClockHelper string
}

// OptionalUmask is a umask that may be unset.
type OptionalUmask struct {
	Set   bool
	Value uint32
}

// reserved are the variables the builder sets and a recipe may not.
func reserved() map[string]bool {
	m := map[string]bool{}
	for _, k := range recipes.ReservedEnv {
		m[k] = true
	}
	return m
}

// Make plans the build of in.Recipe.
func Make(in Inputs) (*Plan, error) {
	r := in.Recipe
	if r == nil {
		return nil, fmt.Errorf("plan build: no recipe")
	}
	if err := in.Image.Validate(); err != nil {
		return nil, fmt.Errorf("plan build: image digest: %w", err)
	}
	for name, dir := range map[string]string{"source": in.HostSource, "output": in.HostOut, "home": in.HostHome} {
		if !path.IsAbs(dir) {
			return nil, fmt.Errorf("plan build: %s directory %q is not absolute", name, dir)
		}
	}
	if len(r.Steps) == 0 {
		return nil, fmt.Errorf("plan build: recipe %s has no steps", r.Name)
	}

	srcDir := SourceDir
	if r.Source.DSC != nil {
		srcDir = DebianBuildDir
	}
	if v := in.Vary.SourceDir; v != "" {
		if !path.IsAbs(v) || path.Clean(v) != v || v == "/" {
			return nil, fmt.Errorf("plan build: varied source directory %q is not a clean absolute path", v)
		}
		for _, fixed := range []string{OutDir, HomeDir, ModCacheDir, TmpDir, "/proc", "/sys", "/dev", "/etc", "/usr", "/bin"} {
			if v == fixed || strings.HasPrefix(v, fixed+"/") || strings.HasPrefix(fixed, v+"/") {
				return nil, fmt.Errorf("plan build: varied source directory %q overlaps %s", v, fixed)
			}
		}
		srcDir = v
	}
	env := map[string]string{
		"PATH":              DefaultPath,
		"HOME":              HomeDir,
		"TZ":                or(in.Vary.TZ, "UTC"),
		"LC_ALL":            or(in.Vary.Locale, "C"),
		"SOURCE_DATE_EPOCH": strconv.FormatInt(in.SourceDateEpoch, 10),
		// Go: no network, no toolchain switch, no configuration file, the
		// verified module cache read-only, a build cache of its own.
		"GOPROXY":     "off",
		"GOTOOLCHAIN": "local",
		"GOENV":       "off",
		"GOMODCACHE":  ModCacheDir,
		"GOCACHE":     HomeDir + "/.cache/go-build",
		"GOPATH":      HomeDir + "/go",
		"GOFLAGS":     "-mod=readonly",
	}
	if in.Vendored {
		env["GOFLAGS"] = "-mod=vendor"
	}
	res := reserved()
	for k, v := range r.Env {
		if res[k] {
			return nil, fmt.Errorf("plan build: recipe env sets %s, which the builder fixes", k)
		}
		if k == "GOFLAGS" {
			if strings.Contains(v, "-mod=") {
				return nil, fmt.Errorf("plan build: recipe GOFLAGS may not set -mod (the builder does)")
			}
			env[k] = strings.TrimSpace(env[k] + " " + v)
			continue
		}
		env[k] = v
	}
	if _, err := strconv.ParseInt(env["SOURCE_DATE_EPOCH"], 10, 64); err != nil {
		return nil, fmt.Errorf("plan build: SOURCE_DATE_EPOCH %q is not a number", env["SOURCE_DATE_EPOCH"])
	}
	envList := make([]string, 0, len(env))
	for k, v := range env {
		envList = append(envList, k+"="+v)
	}
	sort.Strings(envList)

	var steps []Step
	for i, s := range r.Steps {
		dir := path.Join(srcDir, s.Dir)
		if dir != srcDir && !strings.HasPrefix(dir, srcDir+"/") {
			return nil, fmt.Errorf("plan build: step %d: dir %q leaves the source tree", i+1, s.Dir)
		}
		switch {
		case len(s.Run) > 0 && s.Shell == "":
			steps = append(steps, Step{Args: append([]string(nil), s.Run...), Dir: dir})
		case len(s.Run) == 0 && s.Shell != "":
			steps = append(steps, Step{Args: []string{"/bin/sh", "-ec", s.Shell}, Dir: dir})
		default:
			return nil, fmt.Errorf("plan build: step %d: exactly one of run and shell must be set", i+1)
		}
	}

	var outputs []string
	for i, o := range r.Outputs {
		p := path.Clean(o.Path)
		if o.Path == "" || path.IsAbs(p) || p == "." || p == ".." || strings.HasPrefix(p, "../") {
			return nil, fmt.Errorf("plan build: output %d: %q is not a path inside %s", i+1, o.Path, OutDir)
		}
		outputs = append(outputs, p)
	}

	limits, err := LimitsFor(in.Limits, r.Limits)
	if err != nil {
		return nil, err
	}

	mounts := []Mount{
		{Type: "bind", Source: in.HostSource, Target: srcDir},
		{Type: "bind", Source: in.HostOut, Target: OutDir},
		{Type: "bind", Source: in.HostHome, Target: HomeDir},
		{Type: "tmpfs", Target: TmpDir, SizeBytes: limits.TmpfsBytes},
	}
	if in.HostModCache != "" {
		if !path.IsAbs(in.HostModCache) {
			return nil, fmt.Errorf("plan build: module cache %q is not absolute", in.HostModCache)
		}
		mounts = append(mounts, Mount{Type: "bind", Source: in.HostModCache, Target: ModCacheDir, ReadOnly: true})
	}
	if in.Vary.ClockOffset != 0 {
		if !path.IsAbs(in.Vary.ClockHelper) {
			return nil, fmt.Errorf("plan build: clock helper %q is not an absolute path", in.Vary.ClockHelper)
		}
		mounts = append(mounts, Mount{Type: "bind", Source: in.Vary.ClockHelper, Target: ClockHelperPath, ReadOnly: true})
		offset := strconv.FormatInt(in.Vary.ClockOffset, 10)
		for i, s := range steps {
			steps[i].Args = append([]string{ClockHelperPath, "-offset", offset, "--"}, s.Args...)
		}
	}
	sort.Slice(mounts, func(i, j int) bool { return mounts[i].Target < mounts[j].Target })

	limits.CPUSet = in.Vary.CPUSet
	umask := uint32(Umask)
	if in.Vary.Umask.Set {
		umask = in.Vary.Umask.Value
	}
	return &Plan{
		Image:    in.Image,
		Steps:    steps,
		Env:      envList,
		Hostname: or(in.Vary.Hostname, Hostname),
		UID:      UID,
		GID:      GID,
		Umask:    umask,
		Mounts:   mounts,
		Limits:   limits,
		Outputs:  outputs,
	}, nil
}

// LimitsFor merges limits: flags first, then the recipe, then Defaults.
func LimitsFor(flags Limits, r recipes.Limits) (Limits, error) {
	out := Defaults
	mem, err := r.MemoryBytes()
	if err != nil {
		return Limits{}, fmt.Errorf("plan build: limits.memory: %w", err)
	}
	timeout, err := r.TimeoutDuration()
	if err != nil {
		return Limits{}, fmt.Errorf("plan build: limits.timeout: %w", err)
	}
	disk, err := r.DiskBytes()
	if err != nil {
		return Limits{}, fmt.Errorf("plan build: limits.disk: %w", err)
	}
	outputs, err := r.OutputBytes()
	if err != nil {
		return Limits{}, fmt.Errorf("plan build: limits.output_size: %w", err)
	}
	pick := func(vals ...int64) int64 {
		for _, v := range vals {
			if v > 0 {
				return v
			}
		}
		return 0
	}
	out.MemoryBytes = pick(flags.MemoryBytes, mem, Defaults.MemoryBytes)
	out.DiskBytes = pick(flags.DiskBytes, disk, Defaults.DiskBytes)
	out.OutputBytes = pick(flags.OutputBytes, outputs, Defaults.OutputBytes)
	out.Pids = pick(flags.Pids, r.Pids, Defaults.Pids)
	out.Timeout = time.Duration(pick(int64(flags.Timeout), int64(timeout), int64(Defaults.Timeout)))
	out.TmpfsBytes = pick(flags.TmpfsBytes, Defaults.TmpfsBytes)
	switch {
	case flags.CPUs > 0:
		out.CPUs = flags.CPUs
	case r.CPUs > 0:
		out.CPUs = r.CPUs
	}
	if out.MemoryBytes < MinSize {
		return Limits{}, fmt.Errorf("plan build: memory limit %s is below %s", recipes.FormatSize(out.MemoryBytes), recipes.FormatSize(MinSize))
	}
	if out.DiskBytes < MinSize {
		return Limits{}, fmt.Errorf("plan build: disk limit %s is below %s", recipes.FormatSize(out.DiskBytes), recipes.FormatSize(MinSize))
	}
	if out.TmpfsBytes > out.MemoryBytes {
		out.TmpfsBytes = out.MemoryBytes
	}
	return out, nil
}

func or(v, def string) string {
	if v != "" {
		return v
	}
	return def
}
