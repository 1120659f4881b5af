package cli

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// Run without root, a command that builds says what it needs in one line,
// exits 1, and shows nothing of containerd's own log.
func TestBuildingNeedsRoot(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root to run reprove as another user")
	}
	// A copy of this test binary that user nobody may run; it acts as
	// reprove when called by that name (see TestMain).
	dir, err := os.MkdirTemp("", "reprove-nonroot-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	os.Chmod(dir, 0o755)
	self, err := os.ReadFile(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "reprove")
	if err := os.WriteFile(bin, self, 0o755); err != nil {
		t.Fatal(err)
	}
	home := filepath.Join(dir, "home")
	os.Mkdir(home, 0o755)
	os.Chown(home, 65534, 65534)
	os.WriteFile(filepath.Join(dir, "r.yaml"), []byte("schema: 1\nname: x\nversion: \"1\"\nsource: {dir: {path: src, tree: \"sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\"}}\nsteps: [{run: [\"true\"]}]\noutputs: [{path: x}]\n"), 0o644)
	for _, args := range [][]string{
		{"rebuild", filepath.Join(dir, "r.yaml"), "-o", filepath.Join(home, "out")},
		{"check", filepath.Join(dir, "r.yaml"), "-o", filepath.Join(home, "out")},
		{"image", "build"},
	} {
		cmd := exec.Command(bin, args...)
		cmd.Dir = home
		cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin:/usr/sbin:/sbin"}
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		err := cmd.Run()
		var ee *exec.ExitError
		if !errorsAs(err, &ee) || ee.ExitCode() != ExitFailure {
			t.Errorf("%v: err = %v, want exit %d\n%s", args, err, ExitFailure, stderr.String())
		}
		want := "reprove: building needs root: reprove runs each build in a containerd container with runc"
		if got := stderr.String(); !strings.HasPrefix(got, want) || strings.Count(got, "\n") != 1 || strings.Contains(got, "containerd.sock") {
			t.Errorf("%v: stderr = %q, want one line starting %q", args, got, want)
		}
	}
}

func errorsAs(err error, target **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	if ok {
		*target = e
	}
	return ok
}
