package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"time"

	"github.com/reprove/reprove/builder"
	"github.com/reprove/reprove/builder/daemon"
	"github.com/reprove/reprove/builder/plan"
	"github.com/reprove/reprove/internal/progress"
)

// Phase names a stage of the work, for progress.
type Phase = progress.Phase

// The phases. The builder's own (fetch, image, build, collect) pass
// through unchanged.
const (
	PhaseRuntime Phase = "runtime"
	PhaseFetch   Phase = builder.PhaseFetch
	PhaseImage   Phase = builder.PhaseImage
	PhaseBuild   Phase = builder.PhaseBuild
	PhaseCollect Phase = builder.PhaseCollect
	PhaseCompare Phase = "compare"
	PhaseAttest  Phase = "attest"
	PhaseCheck   Phase = "check"
	PhasePublish Phase = "publish"
)

// Event is progress (internal/progress), the builder's own events
// included: a phase message, in PhaseBuild a line of the build's output,
// or byte progress of a download or of hashing.
type Event = progress.Event

// Runtime is how a Session reaches containerd and the network, and where it
// caches.
type Runtime struct {
	// ContainerdAddress names a running containerd to use (and never stop);
	// empty starts reprove's private daemon under CacheDir.
	ContainerdAddress string
	// CacheDir holds the daemon, images, downloads and module cache.
	CacheDir string
	// DebianMirror and GoProxy override the defaults for base images and
	// Go toolchains and modules.
	DebianMirror, GoProxy string
	// DebianSnapshot is the snapshot archive locked Debian packages come
	// from once the mirror has moved on ("" for Debian's, "off" for none).
	DebianSnapshot string
	// Limits apply to every build; zero fields fall back to the recipe's,
	// then to plan.Defaults.
	Limits plan.Limits
	// ReproveVersion is recorded in provenance.
	ReproveVersion string
	// Refetch contacts every URL and repository again even when the cache
	// holds the pinned bytes (builder.Options.Refetch).
	Refetch bool
	// SharedCaches are other reprove caches, read-only, that inputs
	// verified by digest may be copied from (builder.Options.SharedCaches).
	SharedCaches []string
	// Now is the clock (time.Now when nil).
	Now func() time.Time
	// Progress receives events; nil drops them.
	Progress func(Event)
}

// Session is a connection to containerd on which builds run. It is safe
// for sequential use; open one per worker.
type Session struct {
	rt     Runtime
	daemon *daemon.Daemon
}

// Open connects to containerd, starting reprove's private daemon unless
// rt.ContainerdAddress names one.
func Open(ctx context.Context, rt Runtime) (*Session, error) {
	if rt.CacheDir == "" {
		return nil, errors.New("open pipeline: no cache directory")
	}
	if rt.Now == nil {
		rt.Now = time.Now
	}
	s := &Session{rt: rt}
	d, err := daemon.Start(ctx, daemon.Options{
		Address: rt.ContainerdAddress,
		Dir:     filepath.Join(rt.CacheDir, "containerd"),
		Logf: func(format string, args ...any) {
			s.emit(Event{Phase: PhaseRuntime, Message: fmt.Sprintf(format, args...)})
		},
	})
	if err != nil {
		return nil, err
	}
	s.daemon = d
	return s, nil
}

// Close releases the daemon (stopping reprove's own when no other process
// uses it).
func (s *Session) Close() error {
	if s == nil || s.daemon == nil {
		return nil
	}
	return s.daemon.Close()
}

func (s *Session) emit(e Event) {
	if s.rt.Progress != nil {
		s.rt.Progress(e)
	}
}

func (s *Session) sayf(p Phase, format string, args ...any) {
	s.emit(Event{Phase: p, Message: fmt.Sprintf(format, args...)})
}

// Builder returns a builder on the session whose build output also goes to
// buildLog (nil for none).
func (s *Session) Builder(buildLog io.Writer) (*builder.Builder, error) {
	return builder.New(builder.Options{
		Client:         s.daemon.Client,
		CacheDir:       s.rt.CacheDir,
		Limits:         s.rt.Limits,
		Mirror:         s.rt.DebianMirror,
		Snapshot:       s.rt.DebianSnapshot,
		Proxy:          s.rt.GoProxy,
		ReproveVersion: s.rt.ReproveVersion,
		Refetch:        s.rt.Refetch,
		SharedCaches:   s.rt.SharedCaches,
		Progress:       s.emit,
		BuildLog:       buildLog,
		Now:            s.rt.Now,
	})
}
