// Package daemon gives reprove a containerd to talk to: the one at an
// address the user names, or a private one that reprove starts itself (own
// root, state and socket under the cache directory) and stops when the last
// reprove process using it is done.
//
// Several reprove processes may share one private daemon safely. Two file
// locks make this a reference count that survives crashes:
//
//   - daemon.lock is held exclusively while a process starts or stops the
//     daemon, so those steps never interleave;
//   - users.lock is held shared by every process using the daemon, from
//     before it is handed the connection until it is done.
//
// A process that is done takes daemon.lock, drops its shared hold and tries
// users.lock exclusively without waiting: if that succeeds nobody else uses
// the daemon and it is stopped; otherwise it is left to the others. The
// kernel drops the locks of a killed process, so a crash never leaves the
// count wrong; the next user finds the daemon still answering and adopts it.
package daemon

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"golang.org/x/sys/unix"
)

// Namespace is the containerd namespace all of reprove's objects live in.
const Namespace = "reprove"

// ErrNotRoot is returned when a private daemon is asked for without root
// privileges: containerd and runc need them for mounts, cgroups and
// namespaces.
var ErrNotRoot = errors.New("start containerd: reprove's private containerd needs root (containerd and runc manage mounts, cgroups and namespaces); run reprove as root, for example with sudo")

// Options configures Start.
type Options struct {
	// Address of an existing containerd socket. When empty, a private daemon
	// is started under Dir.
	Address string
	// Dir holds the private daemon's root, state, socket, log and locks.
	Dir string
	// StartTimeout bounds how long Start waits for a new daemon to answer
	// (default 30s).
	StartTimeout time.Duration
	// Logf reports progress ("starting containerd…"); it may be nil.
	Logf func(format string, args ...any)
}

// Daemon is a connection to containerd, private or not.
type Daemon struct {
	Client  *client.Client
	Address string
	// Private is true when reprove started (or adopted) the daemon.
	Private bool

	dir   string
	users *os.File
	logf  func(string, ...any)
}

// Start connects to the daemon at opts.Address, or starts (or joins) the
// private daemon under opts.Dir. The caller must Close the Daemon.
func Start(ctx context.Context, opts Options) (*Daemon, error) {
	logf := opts.Logf
	if logf == nil {
		logf = func(string, ...any) {}
	}
	if opts.Address != "" {
		if _, err := os.Stat(strings.TrimPrefix(opts.Address, "unix://")); err != nil {
			return nil, fmt.Errorf("connect to containerd at %s: %w", opts.Address, err)
		}
		c, err := connect(ctx, opts.Address, 10*time.Second)
		if err != nil {
			return nil, fmt.Errorf("connect to containerd at %s: %w", opts.Address, err)
		}
		return &Daemon{Client: c, Address: opts.Address, logf: logf}, nil
	}
	if opts.Dir == "" {
		return nil, errors.New("start containerd: no address and no directory for a private daemon")
	}
	if os.Geteuid() != 0 {
		return nil, ErrNotRoot
	}
	timeout := opts.StartTimeout
	if timeout == 0 {
		timeout = 30 * time.Second
	}
	p, err := newPaths(opts.Dir)
	if err != nil {
		return nil, err
	}
	if err := p.mkdirs(); err != nil {
		return nil, err
	}

	startLock, err := lockFile(ctx, p.startLock, unix.LOCK_EX)
	if err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	defer startLock.Close()

	c, err := p.adopt(ctx)
	if err != nil {
		logf("starting private containerd in %s", opts.Dir)
		c, err = p.launch(ctx, timeout)
		if err != nil {
			return nil, err
		}
	}
	users, err := lockFile(ctx, p.usersLock, unix.LOCK_SH)
	if err != nil {
		c.Close()
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	return &Daemon{Client: c, Address: p.socket, Private: true, dir: opts.Dir, users: users, logf: logf}, nil
}

// Close closes the connection and, for a private daemon nobody else uses,
// stops the daemon. It waits for neither the caller's context nor a
// cancelled one: stopping must happen even after Ctrl-C.
func (d *Daemon) Close() error {
	if d == nil || d.Client == nil {
		return nil
	}
	err := d.Client.Close()
	d.Client = nil
	if !d.Private {
		return err
	}
	p, perr := newPaths(d.dir)
	if perr != nil {
		return errors.Join(err, perr)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	startLock, lerr := lockFile(ctx, p.startLock, unix.LOCK_EX)
	if lerr != nil {
		d.users.Close()
		return errors.Join(err, fmt.Errorf("stop containerd: %w", lerr))
	}
	defer startLock.Close()
	d.users.Close()
	last, lerr := tryLock(p.usersLock, unix.LOCK_EX)
	if lerr != nil {
		return errors.Join(err, fmt.Errorf("stop containerd: %w", lerr))
	}
	if last == nil {
		return err // others still use it
	}
	defer last.Close()
	return errors.Join(err, p.stop(d.logf))
}

// Dial connects to the daemon at address within timeout and checks that it
// answers.
func connect(ctx context.Context, address string, timeout time.Duration) (*client.Client, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c, err := client.New(address, client.WithDefaultNamespace(Namespace), client.WithTimeout(timeout))
	if err != nil {
		return nil, err
	}
	if _, err := c.Version(ctx); err != nil {
		c.Close()
		return nil, err
	}
	return c, nil
}

type paths struct {
	dir, root, state, socket, ttrpc, config, log, pid, startLock, usersLock string
}

// maxSocketPath keeps socket paths below the kernel's sun_path limit (108
// bytes, including the terminating NUL, and containerd adds ".ttrpc").
const maxSocketPath = 100

func newPaths(dir string) (*paths, error) {
	dir, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("private containerd directory: %w", err)
	}
	p := &paths{
		dir:       dir,
		root:      filepath.Join(dir, "root"),
		state:     filepath.Join(dir, "state"),
		config:    filepath.Join(dir, "config.toml"),
		log:       filepath.Join(dir, "containerd.log"),
		pid:       filepath.Join(dir, "containerd.pid"),
		startLock: filepath.Join(dir, "daemon.lock"),
		usersLock: filepath.Join(dir, "users.lock"),
	}
	sockDir := dir
	if len(filepath.Join(dir, "containerd.sock.ttrpc")) > maxSocketPath {
		// A deep cache directory: keep the sockets under /run, in a
		// directory named after the cache directory so that two caches
		// never share one.
		h := sha256.Sum256([]byte(dir))
		sockDir = filepath.Join("/run/reprove", hex.EncodeToString(h[:8]))
	}
	p.socket = filepath.Join(sockDir, "containerd.sock")
	p.ttrpc = p.socket + ".ttrpc"
	return p, nil
}

func (p *paths) mkdirs() error {
	for _, d := range []string{p.dir, p.root, p.state, filepath.Dir(p.socket)} {
		if err := os.MkdirAll(d, 0o700); err != nil {
			return fmt.Errorf("prepare private containerd: %w", err)
		}
	}
	return nil
}

// config is containerd 1.6's configuration (format version 2) with only
// what a build needs: CRI and the snapshotters reprove does not use are off.
func (p *paths) configText() string {
	return fmt.Sprintf(`version = 2
root = %q
state = %q
disabled_plugins = [
  "io.containerd.grpc.v1.cri",
  "io.containerd.snapshotter.v1.aufs",
  "io.containerd.snapshotter.v1.btrfs",
  "io.containerd.snapshotter.v1.zfs",
  "io.containerd.snapshotter.v1.devmapper",
  "io.containerd.internal.v1.tracing",
  "io.containerd.tracing.processor.v1.otlp",
]

[grpc]
  address = %q

[ttrpc]
  address = %q

[debug]
  address = ""

[metrics]
  address = ""
`, p.root, p.state, p.socket, p.ttrpc) + extraConfig
}

// extraConfig is appended to the daemon's configuration; tests use it to
// make the daemon fail.
var extraConfig string

// adopt connects to a private daemon that is already running (started by
// another reprove process, or left by one that was killed).
func (p *paths) adopt(ctx context.Context) (*client.Client, error) {
	pid, err := readPid(p.pid)
	if err != nil || !alive(pid) {
		return nil, errors.New("no running daemon")
	}
	return connect(ctx, p.socket, 5*time.Second)
}

func (p *paths) launch(ctx context.Context, timeout time.Duration) (*client.Client, error) {
	bin, err := exec.LookPath("containerd")
	if err != nil {
		return nil, fmt.Errorf("start containerd: %w (install it with: bash ci/setup.sh)", err)
	}
	// A daemon that died leaves its sockets behind; containerd refuses to
	// start on them.
	for _, s := range []string{p.socket, p.ttrpc} {
		if err := os.Remove(s); err != nil && !errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("start containerd: remove stale socket: %w", err)
		}
	}
	if err := os.WriteFile(p.config, []byte(p.configText()), 0o600); err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	logFile, err := os.OpenFile(p.log, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o600)
	if err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	defer logFile.Close()

	// The daemon is not tied to ctx: it must outlive this process when
	// others still use it, and it is stopped explicitly.
	//
	// It runs under umask 022 whatever the caller's: snapshot and state
	// directories it creates under a caller's `umask 077` are closed to
	// the build user, and every build then fails with "go: executable file
	// not found". Go cannot set a child's umask alone (syscall.Umask is
	// process-wide and racy), so a shell sets it and execs containerd.
	cmd := exec.Command("/bin/sh", "-c", `umask 022 && exec "$0" "$@"`, bin, "--config", p.config)
	cmd.Stdout = logFile
	cmd.Stderr = logFile
	cmd.Dir = p.dir
	// Only what containerd needs to find runc and its shim; nothing else
	// of the caller's environment.
	cmd.Env = []string{"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"}
	// Its own session: Ctrl-C in the caller's terminal reaches reprove,
	// which cleans up, and not the daemon underneath it.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setsid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start containerd: %w", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	if err := os.WriteFile(p.pid, []byte(strconv.Itoa(cmd.Process.Pid)+"\n"), 0o600); err != nil {
		cmd.Process.Kill()
		return nil, fmt.Errorf("start containerd: %w", err)
	}

	deadline := time.Now().Add(timeout)
	for {
		select {
		case err := <-exited:
			return nil, fmt.Errorf("start containerd: daemon exited (%v) before answering; end of %s:\n%s", err, p.log, tail(p.log, 20))
		case <-ctx.Done():
			cmd.Process.Kill()
			return nil, fmt.Errorf("start containerd: %w", ctx.Err())
		default:
		}
		if _, err := os.Stat(p.socket); err == nil {
			if c, err := connect(ctx, p.socket, 2*time.Second); err == nil {
				return c, nil
			}
		}
		if time.Now().After(deadline) {
			cmd.Process.Kill()
			return nil, fmt.Errorf("start containerd: no answer within %v; end of %s:\n%s", timeout, p.log, tail(p.log, 20))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (p *paths) stop(logf func(string, ...any)) error {
	pid, err := readPid(p.pid)
	if err != nil {
		return nil // nothing recorded: nothing to stop
	}
	if alive(pid) {
		logf("stopping private containerd (pid %d)", pid)
		syscall.Kill(pid, syscall.SIGTERM)
		deadline := time.Now().Add(10 * time.Second)
		for alive(pid) && time.Now().Before(deadline) {
			time.Sleep(20 * time.Millisecond)
		}
		if alive(pid) {
			syscall.Kill(pid, syscall.SIGKILL)
			for i := 0; i < 100 && alive(pid); i++ {
				time.Sleep(20 * time.Millisecond)
			}
		}
	}
	os.Remove(p.pid)
	os.Remove(p.socket)
	os.Remove(p.ttrpc)
	if filepath.Dir(p.socket) != p.dir {
		os.Remove(filepath.Dir(p.socket))
	}
	return nil
}

func readPid(path string) (int, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, err
	}
	return strconv.Atoi(strings.TrimSpace(string(b)))
}

// alive reports whether pid is a running process that is not a zombie.
func alive(pid int) bool {
	if pid <= 0 || syscall.Kill(pid, 0) != nil {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the parenthesised command name.
	i := bytes.LastIndexByte(b, ')')
	return i < 0 || i+2 >= len(b) || b[i+2] != 'Z'
}

func tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return "(no log: " + err.Error() + ")"
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

// lockFile opens path and takes a flock of the given kind, waiting for it
// (but not past ctx).
func lockFile(ctx context.Context, path string, how int) (*os.File, error) {
	for {
		f, err := tryLock(path, how)
		if err != nil {
			return nil, err
		}
		if f != nil {
			return f, nil
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("lock %s: %w", path, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// tryLock takes a flock without waiting; it returns nil, nil when another
// process holds a conflicting lock.
func tryLock(path string, how int) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	if err := unix.Flock(int(f.Fd()), how|unix.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, unix.EWOULDBLOCK) {
			return nil, nil
		}
		return nil, fmt.Errorf("lock %s: %w", path, err)
	}
	return f, nil
}
