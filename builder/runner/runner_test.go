package runner

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/containerd/containerd/v2/client"
	"github.com/containerd/containerd/v2/core/snapshots"
	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/builder/buildertest"
	"github.com/reprove/reprove/builder/daemon"
	"github.com/reprove/reprove/builder/image"
	"github.com/reprove/reprove/builder/plan"
)

// TestMain doubles as a helper process: with REPROVE_RUNNER_HELPER set it
// runs one long build step, so a test can kill it mid-build.
func TestMain(m *testing.M) {
	if dir := os.Getenv("REPROVE_RUNNER_HELPER"); dir != "" {
		os.Exit(helper(dir))
	}
	os.Exit(m.Run())
}

func helper(cacheDir string) int {
	ctx := context.Background()
	d, err := daemon.Start(ctx, daemon.Options{Dir: filepath.Join(cacheDir, "containerd")})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	img, err := (&image.Builder{Client: d.Client, Dir: filepath.Join(cacheDir, "images")}).Ensure(ctx, image.Spec{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	work := os.Getenv("REPROVE_RUNNER_WORK")
	p := testPlan(img, work, "echo started; sleep 120")
	r := &Runner{Client: d.Client, StateDir: filepath.Join(cacheDir, "state"), Log: func(l string) { fmt.Println(l) }}
	if _, err := r.Run(ctx, p, img.Name); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return 0
}

type env struct {
	d   *daemon.Daemon
	img *image.Image
}

func setup(t *testing.T) env {
	d := buildertest.Daemon(t)
	return env{d: d, img: buildertest.Image(t, d, image.Spec{})}
}

// testPlan is a plan with one shell step on the minimal image.
func testPlan(img *image.Image, work, script string) *plan.Plan {
	dirs := map[string]string{}
	for _, n := range []string{"src", "out", "home"} {
		dirs[n] = filepath.Join(work, n)
		os.MkdirAll(dirs[n], 0o755)
		os.Chown(dirs[n], plan.UID, plan.GID)
	}
	limits := plan.Defaults
	limits.Timeout = 2 * time.Minute
	return &plan.Plan{
		Image:    img.Digest,
		Steps:    []plan.Step{{Args: []string{"/bin/sh", "-ec", script}, Dir: plan.SourceDir}},
		Env:      []string{"HOME=/home/build", "LC_ALL=C", "PATH=/bin", "TZ=UTC"},
		Hostname: plan.Hostname,
		UID:      plan.UID, GID: plan.GID, Umask: plan.Umask,
		Mounts: []plan.Mount{
			{Type: "bind", Source: dirs["home"], Target: plan.HomeDir},
			{Type: "bind", Source: dirs["out"], Target: plan.OutDir},
			{Type: "bind", Source: dirs["src"], Target: plan.SourceDir, ReadOnly: true},
			{Type: "tmpfs", Target: plan.TmpDir, SizeBytes: 64 << 20},
		},
		Limits: limits,
	}
}

func (e env) run(t *testing.T, p *plan.Plan) ([]StepResult, string, error) {
	t.Helper()
	var mu sync.Mutex
	var out bytes.Buffer
	r := &Runner{Client: e.d.Client, StateDir: t.TempDir(), Log: func(l string) {
		mu.Lock()
		defer mu.Unlock()
		out.WriteString(l + "\n")
	}}
	res, err := r.Run(context.Background(), p, e.img.Name)
	return res, out.String(), err
}

// The build sees no network, a read-only rootfs, a non-root user, exactly
// the planned environment, the fixed hostname and umask.
func TestContainment(t *testing.T) {
	e := setup(t)
	script := `
echo "uid=$(id -u) gid=$(id -g)"
echo "hostname=$(cat /proc/sys/kernel/hostname)"
echo "umask=$(umask)"
if touch /rootfs-write 2>/dev/null; then echo "rootfs=writable"; else echo "rootfs=readonly"; fi
if touch /src/x 2>/dev/null; then echo "src=writable"; else echo "src=readonly"; fi
touch /out/ok && echo "out=writable"
if nc -w 2 1.1.1.1 80 </dev/null 2>/dev/null; then echo "net=yes"; else echo "net=no"; fi
if wget -q -T 2 -O /dev/null http://deb.debian.org/ 2>/dev/null; then echo "dns=yes"; else echo "dns=no"; fi
echo "ifaces=$(ls /sys/class/net | tr '\n' ' ')"
grep CapEff /proc/self/status
grep NoNewPrivs /proc/self/status
env | sort | sed 's/^/env:/'
sed -n 's/^[0-9]*:memory:/memcg=/p' /proc/self/cgroup
`
	p := testPlan(e.img, t.TempDir(), script)
	res, out, err := e.run(t, p)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(res) != 1 || res[0].ExitCode != 0 {
		t.Fatalf("results = %+v", res)
	}
	for _, want := range []string{
		"uid=1000 gid=1000", "hostname=reprove", "umask=0022",
		"rootfs=readonly", "src=readonly", "out=writable",
		"net=no", "dns=no", "ifaces=lo ",
		"CapEff:\t0000000000000000", "NoNewPrivs:\t1",
	} {
		if !strings.Contains(out, want+"\n") {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	// The build's memory cgroup sits under this process's (the private
	// daemon inherits it), so the build cannot escape its accounting.
	self, err := os.ReadFile("/proc/self/cgroup")
	if err != nil {
		t.Fatal(err)
	}
	var mine string
	for _, l := range strings.Split(string(self), "\n") {
		if parts := strings.SplitN(l, ":", 3); len(parts) == 3 && parts[1] == "memory" {
			mine = parts[2]
		}
	}
	var memcg string
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "memcg="); ok {
			memcg = v
		}
	}
	t.Logf("build memory cgroup %s, caller %s", memcg, mine)
	if mine != "" && (!strings.HasPrefix(memcg, strings.TrimSuffix(mine, "/")+"/") || !strings.Contains(memcg, "/reprove/")) {
		t.Errorf("build memory cgroup %q is not under the caller's %q", memcg, mine)
	}
	var env []string
	for _, l := range strings.Split(out, "\n") {
		if v, ok := strings.CutPrefix(l, "env:"); ok {
			env = append(env, v)
		}
	}
	// The shell itself adds PWD (and busybox sh SHLVL); nothing else may
	// appear beyond the plan's variables.
	want := append([]string{"PWD=/src", "SHLVL=1"}, p.Env...)
	sort.Strings(want)
	if strings.Join(env, "\n") != strings.Join(want, "\n") {
		t.Errorf("environment inside the build:\n%s\nwant:\n%s", strings.Join(env, "\n"), strings.Join(want, "\n"))
	}
}

// A step's CPU time is read from its cgroup: a step that spins has some,
// and no more than its wall time on every CPU.
func TestStepCPUTime(t *testing.T) {
	e := setup(t)
	p := testPlan(e.img, t.TempDir(), "i=0; while [ $i -lt 300000 ]; do i=$((i+1)); done; echo spun")
	res, out, err := e.run(t, p)
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	if len(res) != 1 {
		t.Fatalf("results = %+v", res)
	}
	wall := res[0].Finished.Sub(res[0].Started)
	t.Logf("wall %v, CPU %v", wall, res[0].CPU)
	if res[0].CPU < 10*time.Millisecond || res[0].CPU > wall*time.Duration(runtime.NumCPU())+100*time.Millisecond {
		t.Errorf("CPU time %v for a step that spun for %v", res[0].CPU, wall)
	}
}

func TestStepFailure(t *testing.T) {
	e := setup(t)
	p := testPlan(e.img, t.TempDir(), "echo before; exit 7")
	p.Steps = append(p.Steps, plan.Step{Args: []string{"/bin/sh", "-ec", "echo never"}, Dir: "/src"})
	res, out, err := e.run(t, p)
	var se *StepError
	if !errors.As(err, &se) || se.ExitCode != 7 || se.Step != 1 {
		t.Fatalf("err = %v, want step 1 exiting 7", err)
	}
	if len(res) != 1 || strings.Contains(out, "never") {
		t.Errorf("a step ran after a failure: %+v\n%s", res, out)
	}
	if !strings.Contains(out, "before") {
		t.Errorf("step output not streamed: %q", out)
	}
}

func TestLimits(t *testing.T) {
	e := setup(t)
	tests := []struct {
		name   string
		script string
		limit  func(*plan.Limits)
		want   LimitError
	}{
		{
			name:   "memory",
			script: "head -c 400000000 /dev/zero | tail -c 400000000 >/dev/null",
			limit:  func(l *plan.Limits) { l.MemoryBytes = 64 << 20 },
			want:   LimitError{Step: 1, Limit: "memory", Value: "64MiB"},
		},
		{
			name:   "time",
			script: "sleep 60",
			limit:  func(l *plan.Limits) { l.Timeout = 2 * time.Second },
			want:   LimitError{Step: 1, Limit: "time", Value: "2s"},
		},
		{
			name:   "pids",
			script: "i=0; while [ $i -lt 200 ]; do sleep 5 & i=$((i+1)); done; wait",
			limit:  func(l *plan.Limits) { l.Pids = 20 },
			want:   LimitError{Step: 1, Limit: "pids", Value: "20"},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			p := testPlan(e.img, t.TempDir(), tc.script)
			tc.limit(&p.Limits)
			start := time.Now()
			_, out, err := e.run(t, p)
			var le *LimitError
			if !errors.As(err, &le) || *le != tc.want {
				t.Fatalf("err = %v, want %v\n%s", err, &tc.want, out)
			}
			if tc.name == "time" && time.Since(start) > 30*time.Second {
				t.Errorf("time limit of 2s took %v to stop the build", time.Since(start))
			}
		})
	}
}

// A build that hits the pids limit at once (its first fork fails, and the
// shell exits 2 a moment after it starts) is still reported as the pids
// limit: the cgroup is located before the task starts, not after, when it
// may be gone. Ten runs, since the failure this guards against was a race.
func TestPidsLimitNamedEveryTime(t *testing.T) {
	e := setup(t)
	for i := range 10 {
		p := testPlan(e.img, t.TempDir(), "sleep 1 & sleep 1 & wait")
		p.Limits.Pids = 1
		_, out, err := e.run(t, p)
		var le *LimitError
		if !errors.As(err, &le) || le.Limit != "pids" || le.Value != "1" {
			t.Fatalf("run %d: err = %v, want the pids limit of 1 named\n%s", i+1, err, out)
		}
	}
}

// Killing reprove mid-build leaves a running task behind in containerd;
// the next run's Sweep removes the task, the container and the snapshot.
func TestSweepAfterKill(t *testing.T) {
	e := setup(t)
	cache := buildertest.CacheDir(t)
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "REPROVE_RUNNER_HELPER="+cache, "REPROVE_RUNNER_WORK="+t.TempDir())
	stdout, _ := cmd.StdoutPipe()
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 100)
	n, _ := stdout.Read(buf) // "started" once the step runs
	if !strings.Contains(string(buf[:n]), "started") {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("helper did not start its step: %q %s", buf[:n], stderr.String())
	}
	owner := fmt.Sprintf("%d:", cmd.Process.Pid)
	cmd.Process.Kill()
	cmd.Wait()

	ctx := context.Background()
	mine := func() (ctrs []client.Container, snaps []string) {
		list, err := e.d.Client.Containers(ctx, fmt.Sprintf("labels.%q", OwnerLabel))
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range list {
			l, _ := c.Labels(ctx)
			if strings.HasPrefix(l[OwnerLabel], owner) {
				ctrs = append(ctrs, c)
			}
		}
		e.d.Client.SnapshotService(Snapshotter).Walk(ctx, func(_ context.Context, i snapshots.Info) error {
			if strings.HasPrefix(i.Labels[OwnerLabel], owner) {
				snaps = append(snaps, i.Name)
			}
			return nil
		})
		return ctrs, snaps
	}
	ctrs, snaps := mine()
	if len(ctrs) != 1 || len(snaps) != 1 {
		t.Fatalf("after the kill: %d containers and %d snapshots of the killed process, want 1 each", len(ctrs), len(snaps))
	}
	task, err := ctrs[0].Task(ctx, nil)
	if err != nil {
		t.Fatalf("the killed build's task is gone already: %v", err)
	}
	st, _ := task.Status(ctx)
	if st.Status != client.Running {
		t.Fatalf("the killed build's task is %s, want running", st.Status)
	}

	n2, err := Sweep(ctx, e.d.Client)
	if err != nil {
		t.Fatal(err)
	}
	if n2 < 1 {
		t.Errorf("Sweep removed %d objects", n2)
	}
	if ctrs, snaps := mine(); len(ctrs) != 0 || len(snaps) != 0 {
		t.Fatalf("after Sweep: %d containers and %d snapshots left", len(ctrs), len(snaps))
	}
}

// A live process's containers are not swept.
func TestSweepLeavesLiveOwners(t *testing.T) {
	owner, err := Owner()
	if err != nil {
		t.Fatal(err)
	}
	if !OwnerAlive(owner) {
		t.Fatalf("this process (%s) is not seen as alive", owner)
	}
	pid, _, _ := strings.Cut(owner, ":")
	if OwnerAlive(pid + ":1") {
		t.Error("a reused pid with another start time is seen as the owner")
	}
	if OwnerAlive("999999999:1") || OwnerAlive("garbage") {
		t.Error("a missing process is seen as alive")
	}
}

func TestLineWriter(t *testing.T) {
	var got []string
	var file bytes.Buffer
	w := &lineWriter{log: func(l string) { got = append(got, l) }, file: &file, limit: DefaultLogLimit}
	w.Write([]byte("a\nb"))
	w.Write([]byte("c\n\nd"))
	w.Flush()
	if strings.Join(got, "|") != "a|bc||d" || file.String() != "a\nbc\n\nd" {
		t.Errorf("lines %q, file %q", got, file.String())
	}
}

// The log stops at its limit, says so once, and the writer keeps accepting
// what the build prints.
func TestLineWriterLimit(t *testing.T) {
	var got []string
	var file bytes.Buffer
	w := &lineWriter{log: func(l string) { got = append(got, l) }, file: &file, limit: 10}
	for range 3 {
		if n, err := w.Write([]byte("12345\n")); n != 6 || err != nil {
			t.Fatalf("Write = %d, %v", n, err)
		}
	}
	w.Flush()
	note := "[reprove: the build's output passed 10B; the rest is not kept]"
	if diff := cmp.Diff([]string{"12345", "1234", note}, got); diff != "" {
		t.Errorf("lines (-want +got):\n%s", diff)
	}
	if want := "12345\n1234\n" + note + "\n"; file.String() != want {
		t.Errorf("file %q, want %q", file.String(), want)
	}
}

// Ctrl-C (a cancelled context) stops the build and leaves no container,
// task or snapshot behind.
func TestCancelCleansUp(t *testing.T) {
	e := setup(t)
	owner, err := Owner()
	if err != nil {
		t.Fatal(err)
	}
	p := testPlan(e.img, t.TempDir(), "echo running; sleep 60")
	ctx, cancel := context.WithCancel(context.Background())
	r := &Runner{Client: e.d.Client, StateDir: t.TempDir(), Log: func(l string) {
		if l == "running" {
			cancel()
		}
	}}
	start := time.Now()
	_, err = r.Run(ctx, p, e.img.Name)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("err = %v, want context.Canceled", err)
	}
	if time.Since(start) > 30*time.Second {
		t.Errorf("cancellation took %v", time.Since(start))
	}
	bg := context.Background()
	list, err := e.d.Client.Containers(bg, fmt.Sprintf("labels.%q==%q", OwnerLabel, owner))
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 0 {
		t.Errorf("%d containers left after cancellation", len(list))
	}
	var snaps int
	e.d.Client.SnapshotService(Snapshotter).Walk(bg, func(_ context.Context, i snapshots.Info) error {
		if i.Labels[OwnerLabel] == owner {
			snaps++
		}
		return nil
	})
	if snaps != 0 {
		t.Errorf("%d snapshots left after cancellation", snaps)
	}
}
