// Package runner executes a build plan in containerd: the only package of
// reprove that talks to containerd about containers. Each step runs in its
// own container on a fresh snapshot of the base image, mounted read-only, with the plan's
// mounts, environment, user, limits, no capabilities, no new privileges,
// the default seccomp profile and a fresh network namespace holding only
// lo. Containers, tasks and snapshots are removed even when the context is
// cancelled; those of a reprove process that was killed are swept by the
// next one.
package runner

import (
	"bufio"
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/contrib/seccomp"
	"github.com/containerd/containerd/v2/core/containers"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/containerd/containerd/v2/pkg/cio"
	"github.com/containerd/containerd/v2/pkg/oci"
	"github.com/containerd/errdefs"
	specs "github.com/opencontainers/runtime-spec/specs-go"
	"golang.org/x/sys/unix"

	"github.com/reprove/reprove/builder/plan"
	"github.com/reprove/reprove/recipes"
)

// Snapshotter is the snapshotter base images are unpacked into.
const Snapshotter = "overlayfs"

// OwnerLabel marks every container and snapshot reprove makes with the
// process that made it ("pid:starttime"), so that a later run can tell
// leftovers of a dead process from the work of a live one.
const OwnerLabel = "dev.reprove.owner"

// Runner runs plans in one containerd.
type Runner struct {
	Client *client.Client
	// StateDir holds the FIFOs of the build's output streams.
	StateDir string
	// Log receives the build's output, line by line; it may be nil.
	Log func(line string)
	// LogFile, if set, receives the build's output too, as the build
	// wrote it.
	LogFile io.Writer
	// LogLimit caps the output kept (DefaultLogLimit when 0): past it, a
	// last line says the log was cut and the rest of the build's output
	// is dropped; the build goes on.
	LogLimit int64
}

// DefaultLogLimit is how much of a build's output is kept.
const DefaultLogLimit = 64 << 20

// StepResult is what one step did.
type StepResult struct {
	Args     []string  `json:"args"`
	Dir      string    `json:"dir"`
	ExitCode uint32    `json:"exit_code"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished"`
	// CPU is the CPU time (user and system) the step's processes used,
	// from its cgroup's accounting; 0 when the host does not keep it.
	// Beside the wall time it tells a slow build from a busy machine.
	CPU time.Duration `json:"cpu,omitempty"`
}

// StepError is a step that exited with a non-zero status.
type StepError struct {
	Step     int
	Args     []string
	ExitCode uint32
}

func (e *StepError) Error() string {
	return fmt.Sprintf("build step %d (%s) exited with status %d", e.Step, strings.Join(e.Args, " "), e.ExitCode)
}

// The limits a LimitError names.
const (
	LimitMemory     = "memory"
	LimitPids       = "pids"
	LimitTime       = "time"
	LimitDisk       = "disk"
	LimitOutputSize = "output size"
)

// limitKnobs are the flag and recipe field that set each limit.
var limitKnobs = map[string]string{
	LimitMemory:     "--memory or limits.memory",
	LimitPids:       "--pids or limits.pids",
	LimitTime:       "--timeout or limits.timeout",
	LimitDisk:       "--disk or limits.disk",
	LimitOutputSize: "--output-size or limits.output_size",
}

// LimitError is a build stopped because it hit a limit.
type LimitError struct {
	// Step is the step that was stopped (from 1), or 0 when the limit
	// stopped the collection of the outputs after the steps.
	Step int
	// Limit is one of the Limit constants.
	Limit string
	// Value is the limit as the user set it ("512MiB", "100", "10m0s").
	Value string
	// Detail says more, when there is more to say (which output).
	Detail string
}

func (e *LimitError) Error() string {
	where := fmt.Sprintf("build step %d", e.Step)
	if e.Step == 0 {
		where = "collecting the outputs"
	}
	var msg string
	switch e.Limit {
	case LimitTime:
		msg = fmt.Sprintf("%s stopped: time limit of %s exceeded", where, e.Value)
	case LimitMemory:
		msg = fmt.Sprintf("%s stopped: memory limit of %s exceeded (out of memory)", where, e.Value)
	case LimitOutputSize:
		msg = fmt.Sprintf("%s stopped: output size limit of %s exceeded", where, e.Value)
	case LimitDisk:
		msg = fmt.Sprintf("%s stopped: disk limit of %s reached (/src, /out and /home/build share it)", where, e.Value)
	default:
		msg = fmt.Sprintf("%s stopped: %s limit of %s reached", where, e.Limit, e.Value)
	}
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if k := limitKnobs[e.Limit]; k != "" {
		msg += "; raise it with " + k
	}
	return msg
}

// Run executes every step of p on the image imageName (whose manifest
// digest must be p.Image), stopping at the first failure. It returns the
// results of the steps that ran.
func (r *Runner) Run(ctx context.Context, p *plan.Plan, imageName string) ([]StepResult, error) {
	img, err := r.Client.GetImage(ctx, imageName)
	if err != nil {
		return nil, fmt.Errorf("run build: image %s: %w", imageName, err)
	}
	if got := img.Target().Digest; got != p.Image {
		return nil, fmt.Errorf("run build: image %s is %s, the plan wants %s", imageName, got, p.Image)
	}
	owner, err := Owner()
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(p.Limits.Timeout)
	id := "reprove-" + randomHex(6)
	limit := r.LogLimit
	if limit <= 0 {
		limit = DefaultLogLimit
	}
	lines := &lineWriter{log: r.Log, file: r.LogFile, limit: limit}
	defer lines.Flush()

	var results []StepResult
	for i, step := range p.Steps {
		res, err := r.step(ctx, p, img, owner, fmt.Sprintf("%s-%d", id, i+1), i+1, step, deadline, lines)
		if res != nil {
			results = append(results, *res)
		}
		if err != nil {
			return results, err
		}
	}
	return results, nil
}

func (r *Runner) step(ctx context.Context, p *plan.Plan, img client.Image, owner, id string, n int, step plan.Step, deadline time.Time, out io.Writer) (res *StepResult, err error) {
	labels := map[string]string{OwnerLabel: owner}
	container, err := r.Client.NewContainer(ctx, id,
		client.WithContainerLabels(labels),
		client.WithSnapshotter(Snapshotter),
		// A writable snapshot, thrown away after the step, under a
		// read-only root (the spec): runc can make the mount points an
		// image lacks, and the build still cannot write to the rootfs.
		client.WithNewSnapshot(id, img, snapshots.WithLabels(labels)),
		client.WithNewSpec(specOpts(p, id, step)...),
	)
	if err != nil {
		return nil, fmt.Errorf("run build step %d: create container: %w", n, err)
	}
	// Cleanup must happen even after Ctrl-C: it gets a context of its own.
	defer func() {
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		if derr := removeContainer(cctx, container); derr != nil && err == nil {
			err = fmt.Errorf("run build step %d: %w", n, derr)
		}
	}()

	fifoDir := filepath.Join(r.StateDir, "fifo")
	if err := os.MkdirAll(fifoDir, 0o700); err != nil {
		return nil, err
	}
	task, err := container.NewTask(ctx, cio.NewCreator(cio.WithStreams(nil, out, out), cio.WithFIFODir(fifoDir)))
	if err != nil {
		return nil, fmt.Errorf("run build step %d: create task: %w", n, err)
	}
	// The wait must outlive a cancelled ctx so the task is reaped.
	waitCtx, stopWait := context.WithCancel(context.WithoutCancel(ctx))
	defer stopWait()
	statusC, err := task.Wait(waitCtx)
	if err != nil {
		return nil, fmt.Errorf("run build step %d: %w", n, err)
	}
	// The task's cgroups are found now, while its first process waits
	// to be started: a build that hits a limit at once may be gone before
	// Start returns, and with it /proc/PID/cgroup. The cgroups themselves
	// stay until the task is deleted, so their counters are read after
	// it exits.
	cg, err := taskCgroups(task.Pid())
	if err != nil {
		return nil, fmt.Errorf("run build step %d: %w", n, err)
	}
	res = &StepResult{Args: step.Args, Dir: step.Dir, Started: time.Now().UTC()}
	if err := task.Start(ctx); err != nil {
		return nil, fmt.Errorf("run build step %d: start %s: %w", n, strings.Join(step.Args, " "), err)
	}

	timer := time.NewTimer(time.Until(deadline))
	defer timer.Stop()
	var stopped error
	var status client.ExitStatus
	select {
	case status = <-statusC:
	case <-timer.C:
		stopped = &LimitError{Step: n, Limit: LimitTime, Value: p.Limits.Timeout.String()}
	case <-ctx.Done():
		stopped = fmt.Errorf("run build step %d: %w", n, ctx.Err())
	}
	if stopped != nil {
		kctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
		task.Kill(kctx, syscall.SIGKILL, client.WithKillAll)
		cancel()
		status = <-statusC
	}
	res.Finished = time.Now().UTC()
	res.CPU = cg.cpuTime()
	code, _, werr := status.Result()
	res.ExitCode = code
	if stopped != nil {
		return res, stopped
	}
	if werr != nil {
		return res, fmt.Errorf("run build step %d: %w", n, werr)
	}
	if code != 0 {
		if cg.oomKilled() {
			return res, &LimitError{Step: n, Limit: LimitMemory, Value: recipes.FormatSize(p.Limits.MemoryBytes)}
		}
		if cg.pidsMaxed() {
			return res, &LimitError{Step: n, Limit: LimitPids, Value: strconv.FormatInt(p.Limits.Pids, 10)}
		}
		return res, &StepError{Step: n, Args: step.Args, ExitCode: code}
	}
	return res, nil
}

// removeContainer deletes a container's task (killing it if it still
// runs), the container and its snapshot.
func removeContainer(ctx context.Context, c client.Container) error {
	var errs []error
	if task, err := c.Task(ctx, nil); err == nil {
		if _, err := task.Delete(ctx, client.WithProcessKill); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("delete task %s: %w", c.ID(), err))
		}
	} else if !errdefs.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("load task %s: %w", c.ID(), err))
	}
	if err := c.Delete(ctx, client.WithSnapshotCleanup); err != nil && !errdefs.IsNotFound(err) {
		errs = append(errs, fmt.Errorf("delete container %s: %w", c.ID(), err))
	}
	return errors.Join(errs...)
}

func specOpts(p *plan.Plan, id string, step plan.Step) []oci.SpecOpts {
	var mounts []specs.Mount
	for _, m := range p.Mounts {
		switch m.Type {
		case "bind":
			mode := "rw"
			if m.ReadOnly {
				mode = "ro"
			}
			mounts = append(mounts, specs.Mount{Destination: m.Target, Type: "bind", Source: m.Source, Options: []string{"rbind", mode, "nosuid", "nodev"}})
		case "tmpfs":
			mounts = append(mounts, specs.Mount{Destination: m.Target, Type: "tmpfs", Source: "tmpfs",
				Options: []string{"nosuid", "nodev", "mode=1777", "size=" + strconv.FormatInt(m.SizeBytes, 10)}})
		}
	}
	opts := []oci.SpecOpts{
		oci.WithRootFSReadonly(),
		oci.WithProcessArgs(step.Args...),
		oci.WithProcessCwd(step.Dir),
		withExactEnv(p.Env),
		oci.WithHostname(p.Hostname),
		oci.WithUIDGID(p.UID, p.GID),
		oci.WithUmask(p.Umask),
		oci.WithMounts(mounts),
		oci.WithNoNewPrivileges,
		withoutCapabilities,
		oci.WithMemoryLimit(uint64(p.Limits.MemoryBytes)),
		// No swap: the memory limit is the limit.
		oci.WithMemorySwap(p.Limits.MemoryBytes),
		oci.WithPidsLimit(p.Limits.Pids),
		// A relative path: the cgroup sits under the daemon's own (and so
		// under the caller's, for the private daemon), never at the top of
		// the hierarchy, so a build cannot escape the caller's accounting.
		oci.WithCgroup("reprove/" + id),
		seccomp.WithDefaultProfile(),
	}
	if p.Limits.CPUSet != "" {
		opts = append(opts, oci.WithCPUs(p.Limits.CPUSet))
	}
	if p.Limits.CPUs > 0 {
		const period = 100000
		opts = append(opts, oci.WithCPUCFS(int64(p.Limits.CPUs*period), period))
	}
	return opts
}

// withExactEnv sets the process environment to exactly env: nothing from
// the image or containerd's defaults is merged in.
func withExactEnv(env []string) oci.SpecOpts {
	return func(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
		s.Process.Env = append([]string(nil), env...)
		return nil
	}
}

// withoutCapabilities gives the build user no capabilities at all, in any
// set: what an unprivileged user has.
func withoutCapabilities(_ context.Context, _ oci.Client, _ *containers.Container, s *oci.Spec) error {
	s.Process.Capabilities = &specs.LinuxCapabilities{
		Bounding: []string{}, Effective: []string{}, Permitted: []string{}, Inheritable: []string{}, Ambient: []string{},
	}
	return nil
}

// cgroups are a task's cgroup directories, found before it starts.
type cgroups struct {
	memory, pids, cpuacct string
	unified               string
}

// unifiedMount is where the cgroup v2 hierarchy is mounted: /sys/fs/cgroup
// on a v2 host, /sys/fs/cgroup/unified on a hybrid one, "" on a v1 host
// without it.
func unifiedMount() string {
	for _, dir := range []string{"/sys/fs/cgroup", "/sys/fs/cgroup/unified"} {
		var st unix.Statfs_t
		if unix.Statfs(dir, &st) == nil && st.Type == unix.CGROUP2_SUPER_MAGIC {
			return dir
		}
	}
	return ""
}

func taskCgroups(pid uint32) (cgroups, error) {
	var cg cgroups
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cgroup", pid))
	if err != nil {
		return cg, fmt.Errorf("find the build's cgroups: %w", err)
	}
	for _, line := range strings.Split(string(b), "\n") {
		parts := strings.SplitN(line, ":", 3)
		if len(parts) != 3 {
			continue
		}
		for _, ctrl := range strings.Split(parts[1], ",") {
			switch ctrl {
			case "memory":
				cg.memory = filepath.Join("/sys/fs/cgroup/memory", parts[2])
			case "pids":
				cg.pids = filepath.Join("/sys/fs/cgroup/pids", parts[2])
			case "cpuacct":
				// Often mounted together with cpu ("cpu,cpuacct"): the
				// hierarchy's directory is named by its whole list.
				cg.cpuacct = filepath.Join("/sys/fs/cgroup", parts[1], parts[2])
			case "":
				if m := unifiedMount(); parts[0] == "0" && m != "" {
					cg.unified = filepath.Join(m, parts[2])
				}
			}
		}
	}
	return cg, nil
}

// counter reads "key N" from a cgroup file of such lines.
func counter(file, key string) int64 {
	b, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	sc := bufio.NewScanner(bytes.NewReader(b))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) == 2 && f[0] == key {
			n, _ := strconv.ParseInt(f[1], 10, 64)
			return n
		}
	}
	return 0
}

func (cg cgroups) oomKilled() bool {
	if cg.memory != "" && counter(filepath.Join(cg.memory, "memory.oom_control"), "oom_kill") > 0 {
		return true
	}
	return cg.unified != "" && counter(filepath.Join(cg.unified, "memory.events"), "oom_kill") > 0
}

// cpuTime is the CPU time the task's processes have used: cgroup v1's
// cpuacct.usage (nanoseconds), or v2's usage_usec in cpu.stat.
func (cg cgroups) cpuTime() time.Duration {
	if cg.cpuacct != "" {
		if b, err := os.ReadFile(filepath.Join(cg.cpuacct, "cpuacct.usage")); err == nil {
			if n, err := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); err == nil {
				return time.Duration(n)
			}
		}
	}
	if cg.unified != "" {
		return time.Duration(counter(filepath.Join(cg.unified, "cpu.stat"), "usage_usec")) * time.Microsecond
	}
	return 0
}

// pidsMaxed reports whether a fork in the task's cgroup failed because of
// its pids limit ("max" in pids.events counts exactly those failures).
func (cg cgroups) pidsMaxed() bool {
	if cg.pids != "" && counter(filepath.Join(cg.pids, "pids.events"), "max") > 0 {
		return true
	}
	return cg.unified != "" && counter(filepath.Join(cg.unified, "pids.events"), "max") > 0
}

func randomHex(n int) string {
	b := make([]byte, n)
	rand.Read(b)
	return hex.EncodeToString(b)
}

// Owner names this process for OwnerLabel: its pid and start time (so a
// reused pid is not mistaken for it).
func Owner() (string, error) {
	st, err := startTime(os.Getpid())
	if err != nil {
		return "", fmt.Errorf("identify this process: %w", err)
	}
	return fmt.Sprintf("%d:%s", os.Getpid(), st), nil
}

func startTime(pid int) (string, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return "", err
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return "", fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	// Fields after the command: state is field 3, starttime field 22.
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return "", fmt.Errorf("malformed /proc/%d/stat", pid)
	}
	return f[19], nil
}

// OwnerAlive reports whether the process named by an OwnerLabel value
// still runs.
func OwnerAlive(owner string) bool {
	pidStr, st, ok := strings.Cut(owner, ":")
	if !ok {
		return false
	}
	pid, err := strconv.Atoi(pidStr)
	if err != nil {
		return false
	}
	got, err := startTime(pid)
	return err == nil && got == st
}

// Sweep removes the containers, tasks and snapshots left by reprove
// processes that no longer run (killed mid-build). Work of live processes
// is left alone. It returns how many objects it removed.
func Sweep(ctx context.Context, c *client.Client) (int, error) {
	removed := 0
	list, err := c.Containers(ctx, fmt.Sprintf("labels.%q", OwnerLabel))
	if err != nil {
		return 0, fmt.Errorf("sweep containers: %w", err)
	}
	var errs []error
	for _, ctr := range list {
		labels, err := ctr.Labels(ctx)
		if err != nil || OwnerAlive(labels[OwnerLabel]) {
			continue
		}
		if err := removeContainer(ctx, ctr); err != nil {
			errs = append(errs, err)
			continue
		}
		removed++
	}
	sn := c.SnapshotService(Snapshotter)
	var stale []string
	err = sn.Walk(ctx, func(_ context.Context, info snapshots.Info) error {
		if owner, ok := info.Labels[OwnerLabel]; ok && !OwnerAlive(owner) {
			stale = append(stale, info.Name)
		}
		return nil
	}, fmt.Sprintf("labels.%q", OwnerLabel))
	if err != nil {
		errs = append(errs, fmt.Errorf("sweep snapshots: %w", err))
	}
	for _, key := range stale {
		if err := sn.Remove(ctx, key); err != nil && !errdefs.IsNotFound(err) {
			errs = append(errs, fmt.Errorf("remove snapshot %s: %w", key, err))
			continue
		}
		removed++
	}
	return removed, errors.Join(errs...)
}

// lineWriter splits the build's output into lines for the progress log,
// and copies it whole to a log file, up to limit bytes. containerd copies
// stdout and stderr from two goroutines, hence the lock.
type lineWriter struct {
	mu      sync.Mutex
	log     func(string)
	file    io.Writer
	buf     []byte
	limit   int64
	written int64
	cut     bool
}

// maxLine is the longest line passed to log; a build printing without
// newlines must not grow memory forever.
const maxLine = 64 << 10

func (w *lineWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	if w.cut {
		return n, nil
	}
	if left := w.limit - w.written; int64(len(p)) > left {
		p = p[:left]
		w.cut = true
	}
	w.written += int64(len(p))
	if w.file != nil {
		w.file.Write(p)
	}
	if w.log != nil {
		w.buf = append(w.buf, p...)
		for {
			i := bytes.IndexByte(w.buf, '\n')
			if i < 0 {
				break
			}
			w.log(string(w.buf[:i]))
			w.buf = w.buf[i+1:]
		}
		if len(w.buf) > maxLine {
			w.log(string(w.buf))
			w.buf = w.buf[:0]
		}
	}
	if w.cut {
		w.flushLocked()
		note := fmt.Sprintf("reprove: the build's output passed %s; the rest is not kept", recipes.FormatSize(w.limit))
		if w.file != nil {
			fmt.Fprintf(w.file, "\n[%s]\n", note)
		}
		if w.log != nil {
			w.log("[" + note + "]")
		}
	}
	return n, nil
}

// Flush emits a last line without a newline.
func (w *lineWriter) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.flushLocked()
}

func (w *lineWriter) flushLocked() {
	if w.log != nil && len(w.buf) > 0 {
		w.log(string(w.buf))
		w.buf = nil
	}
}
