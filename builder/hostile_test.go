package builder_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/moby/sys/mountinfo"

	"github.com/reprove/reprove/builder"
	"github.com/reprove/reprove/builder/buildertest"
	"github.com/reprove/reprove/builder/runner"
	"github.com/reprove/reprove/recipes"
)

// Hostile recipes against real containerd: each stops with the limit or
// refusal named, and leaves nothing behind.

// assertNoWork checks that no build work directory, mount or loop device
// of this process is left.
func assertNoWork(t *testing.T) {
	t.Helper()
	work := filepath.Join(buildertest.CacheDir(t), "work")
	entries, _ := os.ReadDir(work)
	self := fmt.Sprintf("%d:", os.Getpid())
	for _, e := range entries {
		owner, _ := os.ReadFile(filepath.Join(work, e.Name(), "owner"))
		if strings.HasPrefix(string(owner), self) {
			t.Errorf("work directory %s outlived its build", e.Name())
		}
	}
	// Other test binaries (go test runs packages in parallel) build under
	// the same cache: a mount belongs to this process when its work
	// directory names it as owner. One whose owner file is gone is a leak
	// too, whoever made it: a build writes its owner before it mounts, and
	// unmounts before it deletes.
	mounts, _ := mountinfo.GetMounts(mountinfo.PrefixFilter(work))
	for _, m := range mounts {
		rel, err := filepath.Rel(work, m.Mountpoint)
		if err != nil || rel == "." {
			continue
		}
		id, _, _ := strings.Cut(rel, string(filepath.Separator))
		owner, err := os.ReadFile(filepath.Join(work, id, "owner"))
		if err == nil && !strings.HasPrefix(string(owner), self) {
			continue
		}
		t.Errorf("mount left under the work directory: %s (%s)", m.Mountpoint, m.FSType)
	}
}

func TestDiskLimit(t *testing.T) {
	b := newBuilder(t, nil)
	ctx := context.Background()
	src := helloSource(t)
	archive := archiveRecipe(t)
	for _, tc := range []struct {
		name   string
		recipe *recipes.Recipe
		script string
	}{
		{"out", helloRecipe(tree(t, src), src), "head -c 300000000 /dev/zero > /out/big"},
		{"home", helloRecipe(tree(t, src), src), "head -c 300000000 /dev/zero > /home/build/big"},
		{"src copied", helloRecipe(tree(t, src), src), "head -c 300000000 /dev/zero > /src/big"},
		{"src overlay", archive, "head -c 300000000 /dev/zero > /src/big"},
		{"shared", helloRecipe(tree(t, src), src), "head -c 40000000 /dev/zero > /out/a; head -c 40000000 /dev/zero > /home/build/b; head -c 40000000 /dev/zero > /src/c"},
		{"inodes", helloRecipe(tree(t, src), src), "mkdir /out/d; i=0; while :; do : > /out/d/$i; i=$((i+1)); done"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := *tc.recipe
			r.Steps = []recipes.Step{{Shell: tc.script}}
			r.Limits = recipes.Limits{Disk: "64MiB", Timeout: "5m"}
			out := filepath.Join(t.TempDir(), "out")
			start := time.Now()
			_, err := b.Build(ctx, &r, out)
			var le *runner.LimitError
			if !errors.As(err, &le) || le.Limit != runner.LimitDisk || !strings.Contains(err.Error(), "disk limit of 64MiB reached") {
				t.Fatalf("err = %v, want the disk limit of 64MiB named", err)
			}
			t.Logf("stopped in %v: %v", time.Since(start).Round(time.Millisecond), err)
			assertNoOutput(t, out)
			assertNoWork(t)
		})
	}
}

// archiveRecipe is the hello program as a source archive: a shared,
// cached tree the build sees through an overlay.
func archiveRecipe(t *testing.T) *recipes.Recipe {
	t.Helper()
	src := helloSource(t)
	arch := filepath.Join(t.TempDir(), "hello.tar")
	if out, err := exec.Command("tar", "-C", src, "-cf", arch, ".").CombinedOutput(); err != nil {
		t.Fatalf("tar: %v\n%s", err, out)
	}
	r := helloRecipe(tree(t, src), src)
	r.Source = recipes.Source{Archive: &recipes.ArchiveSource{Path: arch, Digest: fileSum(t, arch)}}
	return r
}

// A finished build, good or failed, leaves no work tree, mount or loop
// device: nothing waits for a later run to be deleted.
func TestWorkTreeDoesNotOutliveBuild(t *testing.T) {
	b := newBuilder(t, nil)
	ctx := context.Background()
	r := archiveRecipe(t)
	r.Steps = []recipes.Step{{Shell: "head -c 20000000 /dev/urandom > /home/build/cache; echo hi > /src/x; echo out > /out/hello"}}
	if _, err := b.Build(ctx, r, filepath.Join(t.TempDir(), "out")); err != nil {
		t.Fatal(err)
	}
	assertNoWork(t)
	r.Steps = []recipes.Step{{Shell: "head -c 20000000 /dev/urandom > /home/build/cache; exit 3"}}
	var se *runner.StepError
	if _, err := b.Build(ctx, r, filepath.Join(t.TempDir(), "out")); !errors.As(err, &se) {
		t.Fatalf("err = %v, want the step's failure", err)
	}
	assertNoWork(t)
}

// A killed reprove's work tree (mounted disk and all) is removed by the
// next Builder.
func TestKilledWorkIsSwept(t *testing.T) {
	cache := buildertest.CacheDir(t)
	dir := filepath.Join(cache, "work", "killed-run")
	// A run of this test that was itself killed left its disk mounted:
	// start from nothing.
	exec.Command("umount", filepath.Join(dir, "disk")).Run()
	os.RemoveAll(dir)
	os.MkdirAll(filepath.Join(dir, "disk"), 0o755)
	// A process that is gone.
	os.WriteFile(filepath.Join(dir, "owner"), []byte("999999999:1\n"), 0o644)
	img := filepath.Join(dir, "disk.img")
	os.WriteFile(img, nil, 0o600)
	os.Truncate(img, 64<<20)
	if out, err := exec.Command("mkfs.ext4", "-q", "-F", img).CombinedOutput(); err != nil {
		t.Fatalf("mkfs: %v\n%s", err, out)
	}
	if out, err := exec.Command("mount", "-o", "loop", img, filepath.Join(dir, "disk")).CombinedOutput(); err != nil {
		t.Fatalf("mount: %v\n%s", err, out)
	}
	newBuilder(t, nil)
	if _, err := os.Lstat(dir); !os.IsNotExist(err) {
		t.Errorf("the killed run's work directory is still there")
	}
	if mounts, _ := mountinfo.GetMounts(mountinfo.PrefixFilter(dir)); len(mounts) > 0 {
		t.Errorf("its disk is still mounted")
	}
}

// Each build sees only the modules its own go.sum pins, not every module
// the shared cache holds for other recipes (the image's Go toolchain
// module is in there, for one).
func TestModuleCacheHoldsOnlyGoSum(t *testing.T) {
	b := newBuilder(t, nil)
	ctx := context.Background()
	src := helloSource(t)
	r := helloRecipe(tree(t, src), src)
	r.Steps = []recipes.Step{
		{Shell: "cd /gomodcache && find . -name '*@*' -prune -o -name '@v' -prune -print -o -type f -print | sort > /out/listing; find . -maxdepth 3 -name '*@*' >> /out/listing"},
		{Run: []string{"go", "build", "-trimpath", "-o", "/out/hello", "."}},
	}
	r.Outputs = []recipes.Output{{Path: "listing"}, {Path: "hello"}}
	out := filepath.Join(t.TempDir(), "out")
	if _, err := b.Build(ctx, r, out); err != nil {
		t.Fatal(err)
	}
	listing, _ := os.ReadFile(filepath.Join(out, "listing"))
	if !strings.Contains(string(listing), "github.com/google/uuid@v1.6.0") {
		t.Errorf("the module go.sum pins is missing:\n%s", listing)
	}
	for _, l := range strings.Split(strings.TrimSpace(string(listing)), "\n") {
		if strings.Contains(l, "@") && !strings.Contains(l, "github.com/google/uuid") {
			t.Errorf("the build sees a module its go.sum does not pin: %s", l)
		}
	}

	// Without a go.sum, no module at all.
	src2 := helloSource(t)
	os.WriteFile(filepath.Join(src2, "main.go"), []byte("package main\n\nfunc main() {}\n"), 0o644)
	os.WriteFile(filepath.Join(src2, "go.mod"), []byte("module example.com/hello\n\ngo 1.21\n"), 0o644)
	os.Remove(filepath.Join(src2, "go.sum"))
	r2 := helloRecipe(tree(t, src2), src2)
	r2.Steps = []recipes.Step{{Shell: "find /gomodcache -mindepth 1 > /out/hello"}}
	out2 := filepath.Join(t.TempDir(), "out")
	if _, err := b.Build(ctx, r2, out2); err != nil {
		t.Fatal(err)
	}
	if l, _ := os.ReadFile(filepath.Join(out2, "hello")); len(l) > 0 {
		t.Errorf("a build without go.sum sees modules:\n%s", l)
	}
}

// A sparse output claiming far more than it stores is refused before a
// byte is hashed; collecting outputs counts against the time limit.
func TestOutputBounds(t *testing.T) {
	b := newBuilder(t, nil)
	ctx := context.Background()
	src := helloSource(t)
	r := helloRecipe(tree(t, src), src)

	r.Steps = []recipes.Step{{Shell: "truncate -s 20G /out/hello 2>/dev/null || dd if=/dev/zero of=/out/hello bs=1 count=0 seek=20G"}}
	start := time.Now()
	_, err := b.Build(ctx, r, filepath.Join(t.TempDir(), "out"))
	var le *runner.LimitError
	if !errors.As(err, &le) || le.Limit != runner.LimitOutputSize || !strings.Contains(err.Error(), "output size limit of 4GiB") {
		t.Fatalf("err = %v, want the output size limit named", err)
	}
	if d := time.Since(start); d > 30*time.Second {
		t.Errorf("refusing a 20 GiB sparse output took %v", d)
	}

	r.Limits = recipes.Limits{OutputSize: "1MiB"}
	r.Steps = []recipes.Step{{Shell: "head -c 2000000 /dev/zero > /out/hello"}}
	if _, err := b.Build(ctx, r, filepath.Join(t.TempDir(), "out")); !errors.As(err, &le) || !strings.Contains(err.Error(), "output size limit of 1MiB exceeded: hello is 1.9 MiB") {
		t.Fatalf("err = %v, want the output size limit of 1MiB named", err)
	}

	// The steps end a moment before the deadline; hashing 2 GiB does not
	// fit in what is left.
	r.Limits = recipes.Limits{Timeout: "8s"}
	r.Steps = []recipes.Step{{Shell: "sleep 6; dd if=/dev/zero of=/out/hello bs=1 count=0 seek=3G 2>/dev/null"}}
	out := filepath.Join(t.TempDir(), "out")
	_, err = b.Build(ctx, r, out)
	if !errors.As(err, &le) || le.Limit != runner.LimitTime || le.Step != 0 || !strings.Contains(err.Error(), "collecting the outputs stopped: time limit of 8s exceeded: while hashing hello") {
		t.Fatalf("err = %v, want the time limit named while collecting", err)
	}
	assertNoOutput(t, out)
	assertNoWork(t)
}

// Links out of the source tree make the build stop before any container
// runs, naming the path; the host file is never read.
func TestSourceLinksOutRefused(t *testing.T) {
	var events []builder.Event
	b := newBuilder(t, &events)
	ctx := context.Background()
	host := t.TempDir()
	os.WriteFile(filepath.Join(host, "go.mod"), []byte("module evil\n"), 0o644)
	os.WriteFile(filepath.Join(host, "go.sum"), []byte("host secret line\n"), 0o644)
	for _, tc := range []struct{ name, target string }{
		{"absolute", host},
		{"dotdot", "../../../../../../../../.." + host},
	} {
		t.Run(tc.name, func(t *testing.T) {
			src := helloSource(t)
			os.Symlink(tc.target, filepath.Join(src, "ext"))
			r := helloRecipe(tree(t, src), src)
			r.Steps = []recipes.Step{{Run: []string{"go", "build", "-o", "/out/hello", "."}, Dir: "ext"}}
			events = nil
			_, err := b.Build(ctx, r, filepath.Join(t.TempDir(), "out"))
			if err == nil || !strings.Contains(err.Error(), `steps[0].dir "ext": source ext/go.mod`) || strings.Contains(err.Error(), "host secret") {
				t.Fatalf("err = %v, want the link out named, and no host file read", err)
			}
			for _, e := range events {
				if e.Phase == builder.PhaseBuild || e.Phase == builder.PhaseImage {
					t.Errorf("the build went on to the %s phase: %s", e.Phase, e.Message)
				}
			}
			assertNoWork(t)
		})
	}
}
