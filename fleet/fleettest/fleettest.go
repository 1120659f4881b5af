// Package fleettest runs a real fleet for tests and benchmarks: `reprove
// worker` processes (the binary built once per test binary), each with its
// own cache and rebuilder key, on the shared test containerd
// (builder/buildertest), against a real queue and a real centre
// (centre/centretest); and small recipes that build in well under a
// second on the minimal base image, named by digest so that a worker with
// an empty cache needs no image build.
package fleettest

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/core/images"
	"github.com/containerd/errdefs"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/signing"
	"github.com/reprove/reprove/builder/buildertest"
	"github.com/reprove/reprove/builder/daemon"
	"github.com/reprove/reprove/builder/image"
	"github.com/reprove/reprove/centre/centretest"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/fleet/queue"
	"github.com/reprove/reprove/internal/treehash"
)

// Password protects the keys the kit makes.
const Password = "fleet-test"

var (
	binOnce sync.Once
	binPath string
	binErr  error
)

// Binary builds reprove once per test binary and returns its path.
func Binary(t testing.TB) string {
	t.Helper()
	binOnce.Do(func() {
		dir, err := os.MkdirTemp("", "reprove-fleettest-")
		if err != nil {
			binErr = err
			return
		}
		binPath = filepath.Join(dir, "reprove")
		cmd := exec.Command("go", "build", "-o", binPath, "github.com/reprove/reprove/cmd/reprove")
		cmd.Env = append(os.Environ(), "GOFLAGS=-buildvcs=false")
		if out, err := cmd.CombinedOutput(); err != nil {
			binErr = fmt.Errorf("go build reprove: %v\n%s", err, out)
		}
	})
	if binErr != nil {
		t.Fatal(binErr)
	}
	return binPath
}

// Fleet is a queue, a centre and the shared containerd the workers build
// on.
type Fleet struct {
	Database string
	Queue    *queue.Queue
	Centre   *centretest.Centre
	Daemon   *daemon.Daemon
	// Image is the minimal base image, by digest, for recipes.
	Image string
	Dir   string
}

// Start makes a fleet: PostgreSQL (pgtest) or a SQLite file for the
// queue, a centre on the same kind of store.
func Start(t testing.TB, postgres bool, database string) *Fleet {
	t.Helper()
	buildertest.NeedContainerd(t)
	f := &Fleet{Dir: t.TempDir(), Database: database}
	if f.Database == "" {
		f.Database = "sqlite:" + filepath.Join(f.Dir, "queue.db")
	}
	f.Daemon = buildertest.Daemon(t)
	f.Image = PinnedImage(t, f.Daemon)
	f.Centre = centretest.Start(t, centretest.Options{Postgres: postgres})
	var err error
	f.Queue, err = queue.Open(context.Background(), f.Database, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Queue.Close() })
	return f
}

// PinnedImage makes sure the minimal base image is in the shared
// containerd, also under a name with its digest (as a registry image
// pulled by digest would be), and returns that name.
func PinnedImage(t testing.TB, d *daemon.Daemon) string {
	t.Helper()
	ctx := context.Background()
	img := buildertest.Image(t, d, image.Spec{})
	rec, err := d.Client.ImageService().Get(ctx, img.Name)
	if err != nil {
		t.Fatal(err)
	}
	name := "reprove.local/fleettest/minimal@" + img.Digest.String()
	if _, err := d.Client.ImageService().Create(ctx, images.Image{Name: name, Target: rec.Target}); err != nil && !errdefs.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	return name
}

// Recipe is a small recipe: a shell script run on the minimal image over
// a local directory, writing /out/out; Shipped, when set, is what it is
// compared with.
type Recipe struct {
	Name, Version string
	Script        string
	Shipped       []byte
}

// WriteRecipes writes the recipes (and their source and shipped files)
// under dir and returns their paths.
func (f *Fleet) WriteRecipes(t testing.TB, dir string, rs []Recipe) []string {
	t.Helper()
	src := filepath.Join(dir, "src")
	if err := os.MkdirAll(src, 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(src, "msg.txt"), []byte("hello from the fleet\n"), 0o644)
	tree, err := treehash.Dir(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, r := range rs {
		var b strings.Builder
		fmt.Fprintf(&b, "schema: 1\nname: %s\nversion: %q\nsource:\n  dir:\n    path: src\n    tree: %s\nimage:\n  ref: %s\n", r.Name, r.Version, tree, f.Image)
		fmt.Fprintf(&b, "steps:\n  - shell: |\n")
		for _, l := range strings.Split(strings.TrimRight(r.Script, "\n"), "\n") {
			fmt.Fprintf(&b, "      %s\n", l)
		}
		fmt.Fprintf(&b, "outputs:\n  - path: out\n")
		if r.Shipped != nil {
			sp := filepath.Join("shipped", r.Name+"-"+r.Version)
			os.MkdirAll(filepath.Join(dir, "shipped"), 0o755)
			if err := os.WriteFile(filepath.Join(dir, sp), r.Shipped, 0o644); err != nil {
				t.Fatal(err)
			}
			fmt.Fprintf(&b, "    shipped:\n      path: %s\n      digest: %s\n", sp, sha256Of(r.Shipped))
		}
		p := filepath.Join(dir, r.Name+"-"+r.Version+".yaml")
		if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
			t.Fatal(err)
		}
		out = append(out, p)
	}
	return out
}

// Key makes a rebuilder key pair under dir and registers its public key
// with the fleet's centre; it returns the private key's path.
func (f *Fleet) Key(t testing.TB, dir, name string) string {
	t.Helper()
	ctx := context.Background()
	p, err := signing.Generate([]byte(Password))
	if err != nil {
		t.Fatal(err)
	}
	keyPath, _, err := signing.WritePair(ctx, p, filepath.Join(dir, name), false)
	if err != nil {
		t.Fatal(err)
	}
	f.Centre.AddKey(t, name, item.Rebuilder, p.Public)
	return keyPath
}

// Worker is a running `reprove worker` process.
type Worker struct {
	Name, Cache string
	Cmd         *exec.Cmd
	out         *syncBuffer
	done        chan struct{}
	err         error
}

// WorkerOptions are the worker's flags beyond the fleet's.
type WorkerOptions struct {
	Name, Key, Cache string
	Lease            time.Duration
	Concurrency      int
	// Server publishes to the fleet's centre when true.
	Publish bool
}

// StartWorker starts `reprove worker` on the fleet; it is stopped (SIGTERM,
// then killed) when the test ends.
func (f *Fleet) StartWorker(t testing.TB, o WorkerOptions) *Worker {
	t.Helper()
	if o.Lease == 0 {
		o.Lease = 4 * time.Second
	}
	if o.Concurrency == 0 {
		o.Concurrency = 1
	}
	args := []string{"worker", "--database", f.Database, "--name", o.Name, "--key", o.Key, "--cache", o.Cache,
		"--containerd-address", f.Daemon.Address, "--lease", o.Lease.String(), "--retry-after", "1s", "--poll", "200ms",
		"--concurrency", fmt.Sprint(o.Concurrency)}
	if o.Publish {
		args = append(args, "--server", f.Centre.URL, "--log-key", f.Centre.Log().VerifierKey())
	}
	cmd := exec.Command(Binary(t), args...)
	cmd.Env = append(os.Environ(), "REPROVE_PASSWORD="+Password)
	w := &Worker{Name: o.Name, Cache: o.Cache, Cmd: cmd, out: &syncBuffer{}, done: make(chan struct{})}
	cmd.Stdout, cmd.Stderr = w.out, w.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { w.err = cmd.Wait(); close(w.done) }()
	t.Cleanup(func() {
		w.Stop(30 * time.Second)
		if t.Failed() {
			t.Logf("worker %s:\n%s", w.Name, w.Output())
		}
	})
	return w
}

// Stop sends SIGTERM (drain) and waits up to grace, then kills.
func (w *Worker) Stop(grace time.Duration) error {
	select {
	case <-w.done:
		return w.err
	default:
	}
	w.Cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-w.done:
	case <-time.After(grace):
		w.Cmd.Process.Kill()
		<-w.done
	}
	return w.err
}

// Kill is kill -9.
func (w *Worker) Kill() {
	w.Cmd.Process.Signal(syscall.SIGKILL)
	<-w.done
}

// Output is what the worker printed so far.
func (w *Worker) Output() string { return w.out.String() }

func sha256Of(b []byte) digest.Digest { return digest.FromBytes(b) }

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// WaitFor polls cond every 100 ms until it holds or timeout passes.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() (bool, error)) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		ok, err := cond()
		if err != nil {
			t.Fatalf("waiting for %s: %v", what, err)
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
