//go:build linux && amd64

package clockshift_test

import (
	"context"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/builder/check/clockshift"
)

func goTool(t *testing.T) string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return "/usr/local/go/bin/go"
}

// goBuild builds a static Go program from the module in dir.
func goBuild(t *testing.T, dir, out string) {
	t.Helper()
	cmd := exec.Command(goTool(t), "build", "-o", out, ".")
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOFLAGS=", "GOTOOLCHAIN=local")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
	}
}

var (
	helperOnce sync.Once
	helperPath string
)

// helper builds the helper on the host from the source the package
// embeds (reprove builds it in a container; here the host's Go will do).
func helper(t *testing.T) string {
	helperOnce.Do(func() {
		dir, err := os.MkdirTemp("", "clockshift-helper-")
		if err != nil {
			t.Fatal(err)
		}
		if err := clockshift.WriteSource(dir); err != nil {
			t.Fatal(err)
		}
		goBuild(t, dir, filepath.Join(dir, "helper"))
		helperPath = filepath.Join(dir, "helper")
	})
	if helperPath == "" {
		t.Fatal("the helper did not build")
	}
	return helperPath
}

func TestMain(m *testing.M) {
	code := m.Run()
	if helperPath != "" {
		os.RemoveAll(filepath.Dir(helperPath))
	}
	os.Exit(code)
}

// run runs args under the helper and returns what they printed; a
// command that does not end within two minutes is killed and fails.
func run(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, helper(t), append([]string{"-offset", strconv.Itoa(clockshift.Offset), "--"}, args...)...)
	cmd.Stderr = os.Stderr
	b, err := cmd.Output()
	if ctx.Err() != nil {
		t.Fatalf("%q did not end within two minutes", args)
	}
	if err != nil {
		t.Fatalf("%q: %v", args, err)
	}
	return strings.TrimSpace(string(b))
}

// date (glibc, through the vDSO unless it is hidden), a shell that runs
// it, and a static Go program (its own vDSO reader) all see the shifted
// clock.
func TestShiftedClock(t *testing.T) {
	want := time.Now().Add(clockshift.Offset * time.Second)
	check := func(name, got string) {
		sec, err := strconv.ParseInt(got, 10, 64)
		if err != nil {
			t.Fatalf("%s printed %q", name, got)
		}
		if d := time.Unix(sec, 0).Sub(want); d < -time.Minute || d > 5*time.Minute {
			t.Errorf("%s: clock reads %v, want about %v", name, time.Unix(sec, 0), want)
		}
	}
	check("date", run(t, "date", "+%s"))
	check("sh -c date", run(t, "sh", "-c", "date +%s"))
	if y := run(t, "date", "-u", "+%Y"); y != strconv.Itoa(want.UTC().Year()) {
		t.Errorf("date +%%Y = %s, want %d", y, want.UTC().Year())
	}

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go.mod"), []byte("module example.com/now\n\ngo 1.21\n"), 0o644)
	os.WriteFile(filepath.Join(dir, "main.go"), []byte("package main\n\nimport (\"fmt\"; \"time\")\n\nfunc main() { fmt.Println(time.Now().Unix()) }\n"), 0o644)
	bin := filepath.Join(dir, "now")
	goBuild(t, dir, bin)
	check("static Go", run(t, bin))
	// Unshifted, the same program reads the real clock.
	b, err := exec.Command(bin).Output()
	if err != nil {
		t.Fatal(err)
	}
	if sec, _ := strconv.ParseInt(strings.TrimSpace(string(b)), 10, 64); time.Since(time.Unix(sec, 0)) > time.Minute {
		t.Errorf("unshifted Go program reads %v", time.Unix(sec, 0))
	}
}

// The helper ends with the command and passes its status on.
func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		script string
		code   int
	}{
		{"exit 0", 0},
		{"exit 3", 3},
		{"kill -KILL $$", 128 + 9},
		// A process left running does not keep the helper waiting.
		{"sleep 600 & exit 5", 5},
	} {
		start := time.Now()
		err := exec.Command(helper(t), "-offset", "1", "--", "sh", "-c", tc.script).Run()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		if code != tc.code {
			t.Errorf("%q: exit %d, want %d", tc.script, code, tc.code)
		}
		if d := time.Since(start); d > time.Minute {
			t.Errorf("%q took %v", tc.script, d)
		}
	}
	if err := exec.Command(helper(t), "-offset", "x", "--", "true").Run(); err == nil {
		t.Error("a bad offset was accepted")
	}
}

// A program that waits until a realtime deadline it computed from the
// shifted clock (pthread_cond_timedwait, sem_timedwait, an absolute
// clock_nanosleep) returns at once, not a year later.
func TestRealtimeDeadlines(t *testing.T) {
	cc, err := exec.LookPath("cc")
	if err != nil {
		t.Skip("no C compiler on the host")
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "wait.c")
	os.WriteFile(src, []byte(`#include <pthread.h>
#include <semaphore.h>
#include <stdio.h>
#include <time.h>

int main(void) {
	pthread_mutex_t m = PTHREAD_MUTEX_INITIALIZER;
	pthread_cond_t c = PTHREAD_COND_INITIALIZER;
	sem_t s;
	struct timespec t;

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_nsec += 200000000;
	if (t.tv_nsec >= 1000000000) { t.tv_sec++; t.tv_nsec -= 1000000000; }
	pthread_mutex_lock(&m);
	pthread_cond_timedwait(&c, &m, &t); /* futex: absolute, CLOCK_REALTIME */
	pthread_mutex_unlock(&m);

	sem_init(&s, 0, 0);
	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += 1;
	sem_timedwait(&s, &t);

	clock_gettime(CLOCK_REALTIME, &t);
	t.tv_sec += 1;
	clock_nanosleep(CLOCK_REALTIME, TIMER_ABSTIME, &t, NULL);

	clock_gettime(CLOCK_REALTIME, &t);
	printf("%lld\n", (long long)t.tv_sec);
	return 0;
}
`), 0o644)
	bin := filepath.Join(dir, "wait")
	if b, err := exec.Command(cc, "-O1", "-pthread", "-o", bin, src).CombinedOutput(); err != nil {
		t.Fatalf("cc: %v\n%s", err, b)
	}
	sec, _ := strconv.ParseInt(run(t, bin), 10, 64)
	if d := time.Until(time.Unix(sec, 0)); d < (clockshift.Offset-60)*time.Second {
		t.Errorf("the program read %v: the clock is not shifted", time.Unix(sec, 0))
	}
}

// The helper stands on the standard library alone, so that reprove builds
// it from the embedded source with a toolchain and nothing else.
func TestHelperImportsOnlyTheStandardLibrary(t *testing.T) {
	f, err := parser.ParseFile(token.NewFileSet(), "helper/main.go", nil, parser.ImportsOnly)
	if err != nil {
		t.Fatal(err)
	}
	for _, imp := range f.Imports {
		p, _ := strconv.Unquote(imp.Path.Value)
		if first, _, _ := strings.Cut(p, "/"); strings.Contains(first, ".") {
			t.Errorf("helper imports %s", p)
		}
	}
}

// The pin is what the helper's source builds to: the host's Go, when it
// is the release Recipe pins, builds what reprove's builder builds (the
// build is reproducible), so a change to helper/main.go that leaves the
// pin stale fails here, without containers, and says the new value.
func TestHelperBuildsToItsPin(t *testing.T) {
	v, err := exec.Command(goTool(t), "env", "GOVERSION").Output()
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.TrimSpace(string(v)); got != "go"+clockshift.GoVersion {
		t.Skipf("the host's Go is %s, the helper is built with go%s", got, clockshift.GoVersion)
	}
	dir := t.TempDir()
	if err := clockshift.WriteSource(dir); err != nil {
		t.Fatal(err)
	}
	r := clockshift.Recipe(dir, "")
	args := r.Steps[0].Run
	out := filepath.Join(dir, "out")
	cmd := exec.Command(goTool(t), append(args[1:len(args)-2], out, ".")...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=readonly", "GOTOOLCHAIN=local")
	for k, v := range r.Env {
		cmd.Env = append(cmd.Env, k+"="+v)
	}
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%q: %v\n%s", cmd.Args, err, b)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	if got := digest.FromBytes(b); got != clockshift.HelperDigest {
		t.Errorf("the helper builds to %s; clockshift.HelperDigest is %s", got, clockshift.HelperDigest)
	}
}
