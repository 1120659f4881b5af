package cli

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/reprove/reprove/builder"
	"github.com/reprove/reprove/builder/plan"
	"github.com/reprove/reprove/internal/cachedir"
	"github.com/reprove/reprove/internal/escape"
	"github.com/reprove/reprove/pipeline"
	"github.com/reprove/reprove/recipes"
)

// runtimeFlags are the flags of every command that builds.
type runtimeFlags struct {
	address    string
	mirror     string
	snapshot   string
	proxy      string
	memory     sizeFlag
	disk       sizeFlag
	outputSize sizeFlag
	pids       int64
	cpus       float64
	timeout    time.Duration
	refetch    bool
	json       bool
}

// sizeFlag is a flag holding a size written as recipes.ParseSize reads it
// ("4GiB", "512 MiB", "1.5GiB", "65536"). A bad value is a usage error
// that names the flag (pflag adds `invalid argument "4GB" for "--memory"
// flag:`).
// It is an int64 so that a flag can fill a field of a library's limits
// directly: f.Var((*sizeFlag)(&lim.MaxWindow), …).
type sizeFlag int64

func (s *sizeFlag) String() string {
	if *s == 0 {
		return ""
	}
	return recipes.FormatSize(int64(*s))
}

func (s *sizeFlag) Set(v string) error {
	n, err := recipes.ParseSize(v)
	if err != nil {
		return err
	}
	*s = sizeFlag(n)
	return nil
}

func (s *sizeFlag) Type() string { return "size" }

func (rf *runtimeFlags) register(cmd *cobra.Command) {
	// Bad limits are usage errors before anything is read or started.
	prev := cmd.PreRunE
	cmd.PreRunE = func(c *cobra.Command, a []string) error {
		if _, err := rf.limits(); err != nil {
			return err
		}
		if prev != nil {
			return prev(c, a)
		}
		return nil
	}
	f := cmd.Flags()
	f.StringVar(&rf.address, "containerd-address", "", "use the containerd at this socket instead of starting reprove's own")
	f.StringVar(&rf.mirror, "debian-mirror", "", "Debian mirror for base images (default "+"http://deb.debian.org/debian"+")")
	f.StringVar(&rf.snapshot, "snapshot", "", "snapshot archive `URL` that locked Debian packages are fetched from once the mirror has moved on (default https://snapshot.debian.org; off for none)")
	f.StringVar(&rf.proxy, "goproxy", "", "Go module proxy for toolchains and modules (default https://proxy.golang.org)")
	f.Var(&rf.memory, "memory", "memory limit of the build, e.g. 4GiB (default: the recipe's, else 4GiB)")
	f.Var(&rf.disk, "disk", "disk limit of the build: what it writes to /src, /out and /home/build together, e.g. 20GiB (default: the recipe's, else 16GiB)")
	f.Var(&rf.outputSize, "output-size", "limit on the declared outputs' total size, e.g. 1GiB (default: the recipe's, else 4GiB)")
	f.Int64Var(&rf.pids, "pids", 0, "process limit of the build (default: the recipe's, else 4096)")
	f.Float64Var(&rf.cpus, "cpus", 0, "CPU limit of the build in cores (default: the recipe's, else unlimited)")
	f.DurationVar(&rf.timeout, "timeout", 0, "wall-clock limit of the build, collecting its outputs included (default: the recipe's, else 60m)")
	f.BoolVar(&rf.refetch, "refetch", false, "fetch every URL and repository again and check it, even when the cache holds its pinned bytes")
	f.BoolVar(&rf.json, "json", false, "print only the machine-readable result (JSON) on stdout; no progress")
}

func (rf *runtimeFlags) limits() (plan.Limits, error) {
	var l plan.Limits
	switch {
	case rf.pids < 0:
		return l, usageErrorf("--pids must not be negative")
	case rf.cpus < 0:
		return l, usageErrorf("--cpus must not be negative")
	case rf.timeout < 0:
		return l, usageErrorf("--timeout must not be negative")
	case int64(rf.memory) != 0 && int64(rf.memory) < plan.MinSize:
		return l, usageErrorf("--memory %s is below %s", rf.memory.String(), recipes.FormatSize(plan.MinSize))
	case int64(rf.disk) != 0 && int64(rf.disk) < plan.MinSize:
		return l, usageErrorf("--disk %s is below %s", rf.disk.String(), recipes.FormatSize(plan.MinSize))
	}
	l.MemoryBytes, l.DiskBytes, l.OutputBytes = int64(rf.memory), int64(rf.disk), int64(rf.outputSize)
	l.Pids, l.CPUs, l.Timeout = rf.pids, rf.cpus, rf.timeout
	return l, nil
}

// progress prints build progress on stderr: phase lines and the build's
// output. It is silent with --json.
type progress struct {
	mu     sync.Mutex
	w      io.Writer
	quiet  bool
	last   pipeline.Phase
	status *statusLine // byte progress, on a terminal
}

func (p *progress) event(e pipeline.Event) {
	if p.quiet {
		return
	}
	if e.Bytes > 0 {
		// A phase message has said what is fetched or hashed; the
		// count is for a terminal only.
		p.status.bytes(fmt.Sprintf("reprove: %-7s %s", e.Phase, escape.Line(e.Message)), e.Bytes, e.Total)
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Phase == pipeline.PhaseBuild && e.Message == "" {
		// Line is escaped already: a build cannot move the cursor,
		// erase this prefix or print a line that looks like ours.
		printf(p.w, "  | %s\n", e.Line)
		return
	}
	printf(p.w, "reprove: %-7s %s\n", e.Phase, escape.Line(e.Message))
	p.last = e.Phase
}

// openSession connects to containerd (starting reprove's private daemon
// unless --containerd-address names one), with progress shown on stderr
// unless --json.
func openSession(ctx context.Context, env *Env, rf *runtimeFlags) (*pipeline.Session, error) {
	limits, err := rf.limits()
	if err != nil {
		return nil, err
	}
	// Say plainly what building needs, before containerd would fail on
	// it with its own words.
	if err := builder.NeedRoot(); err != nil {
		return nil, err
	}
	cache, err := cachedir.Dir(env.Getenv)
	if err != nil {
		return nil, err
	}
	pr := &progress{w: env.Stderr, quiet: rf.json, status: env.status}
	return pipeline.Open(ctx, pipeline.Runtime{
		ContainerdAddress: rf.address,
		CacheDir:          cache,
		DebianMirror:      rf.mirror,
		DebianSnapshot:    rf.snapshot,
		GoProxy:           rf.proxy,
		Limits:            limits,
		ReproveVersion:    Version(),
		Refetch:           rf.refetch,
		Now:               env.Now,
		Progress:          pr.event,
	})
}

// humanSize prints a byte count for people.
func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// defaultOutDir is where a recipe's results go when -o is not given.
func defaultOutDir(r *recipes.Recipe) string { return pipeline.DefaultOutDir(r.Name, r.Version) }
