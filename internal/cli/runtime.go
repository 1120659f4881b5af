package cli

import (
	"context"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/reprove/reprove/builder/plan"
	"github.com/reprove/reprove/internal/cachedir"
	"github.com/reprove/reprove/pipeline"
	"github.com/reprove/reprove/recipes"
)

// runtimeFlags are the flags of every command that builds.
type runtimeFlags struct {
	address string
	mirror  string
	proxy   string
	memory  string
	pids    int64
	cpus    float64
	timeout time.Duration
	json    bool
}

func (rf *runtimeFlags) register(cmd *cobra.Command) {
	f := cmd.Flags()
	f.StringVar(&rf.address, "containerd-address", "", "use the containerd at this socket instead of starting reprove's own")
	f.StringVar(&rf.mirror, "debian-mirror", "", "Debian mirror for base images (default "+"http://deb.debian.org/debian"+")")
	f.StringVar(&rf.proxy, "goproxy", "", "Go module proxy for toolchains and modules (default https://proxy.golang.org)")
	f.StringVar(&rf.memory, "memory", "", "memory limit of the build, e.g. 4GiB (default: the recipe's, else 4GiB)")
	f.Int64Var(&rf.pids, "pids", 0, "process limit of the build (default: the recipe's, else 4096)")
	f.Float64Var(&rf.cpus, "cpus", 0, "CPU limit of the build in cores (default: the recipe's, else unlimited)")
	f.DurationVar(&rf.timeout, "timeout", 0, "wall-clock limit of the build (default: the recipe's, else 60m)")
	f.BoolVar(&rf.json, "json", false, "print only the machine-readable result (JSON) on stdout; no progress")
}

func (rf *runtimeFlags) limits() (plan.Limits, error) {
	var l plan.Limits
	if rf.memory != "" {
		n, err := recipes.ParseSize(rf.memory)
		if err != nil {
			return l, usageErrorf("--memory: %v", err)
		}
		l.MemoryBytes = n
	}
	if rf.pids < 0 || rf.cpus < 0 || rf.timeout < 0 {
		return l, usageErrorf("--pids, --cpus and --timeout must not be negative")
	}
	l.Pids, l.CPUs, l.Timeout = rf.pids, rf.cpus, rf.timeout
	return l, nil
}

// progress prints build progress on stderr: phase lines and the build's
// output. It is silent with --json.
type progress struct {
	mu    sync.Mutex
	w     io.Writer
	quiet bool
	last  pipeline.Phase
}

func (p *progress) event(e pipeline.Event) {
	if p.quiet {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if e.Phase == pipeline.PhaseBuild && e.Message == "" {
		fmt.Fprintf(p.w, "  | %s\n", e.Line)
		return
	}
	fmt.Fprintf(p.w, "reprove: %-7s %s\n", e.Phase, e.Message)
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
	cache, err := cachedir.Dir(env.Getenv)
	if err != nil {
		return nil, err
	}
	pr := &progress{w: env.Stderr, quiet: rf.json}
	return pipeline.Open(ctx, pipeline.Runtime{
		ContainerdAddress: rf.address,
		CacheDir:          cache,
		DebianMirror:      rf.mirror,
		GoProxy:           rf.proxy,
		Limits:            limits,
		ReproveVersion:    Version(),
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
