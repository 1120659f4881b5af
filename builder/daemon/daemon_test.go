package daemon

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func needContainerd(t *testing.T) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs containerd (skipped with -short)")
	}
	if _, err := exec.LookPath("containerd"); err != nil {
		t.Fatalf("containerd is not installed (bash ci/setup.sh installs it): %v", err)
	}
}

func TestPrivateDaemonIsSharedAndStoppedByLastUser(t *testing.T) {
	needContainerd(t)
	ctx := context.Background()
	dir := t.TempDir()

	a, err := Start(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if !a.Private {
		t.Error("daemon started under Dir is not marked private")
	}
	pid, err := readPid(filepath.Join(dir, "containerd.pid"))
	if err != nil || !alive(pid) {
		t.Fatalf("no running daemon recorded: pid %d, %v", pid, err)
	}

	b, err := Start(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if pid2, _ := readPid(filepath.Join(dir, "containerd.pid")); pid2 != pid {
		t.Fatalf("second user started another daemon (pid %d, first %d)", pid2, pid)
	}

	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	if !alive(pid) {
		t.Fatal("daemon stopped while another user still held it")
	}
	if _, err := b.Client.Version(ctx); err != nil {
		t.Fatalf("remaining user lost the daemon: %v", err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Fatal("daemon still running after the last user closed")
	}
	if _, err := os.Stat(filepath.Join(dir, "containerd.sock")); !os.IsNotExist(err) {
		t.Errorf("socket left behind: %v", err)
	}
}

func TestPrivateDaemonAdoptedAfterCrash(t *testing.T) {
	needContainerd(t)
	ctx := context.Background()
	dir := t.TempDir()
	a, err := Start(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	pid, _ := readPid(filepath.Join(dir, "containerd.pid"))
	// Simulate a reprove process killed without closing: its locks go
	// away with its file descriptors.
	a.Client.Close()
	a.users.Close()

	b, err := Start(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if pid2, _ := readPid(filepath.Join(dir, "containerd.pid")); pid2 != pid {
		t.Errorf("a new daemon was started (pid %d) instead of adopting pid %d", pid2, pid)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if alive(pid) {
		t.Fatal("adopted daemon not stopped by its last user")
	}
}

func TestDaemonThatDiesShowsItsLog(t *testing.T) {
	needContainerd(t)
	dir := t.TempDir()
	// A configuration containerd cannot parse makes it exit at once.
	extraConfig = "[[[ not toml\n"
	defer func() { extraConfig = "" }()
	_, err := Start(context.Background(), Options{Dir: dir, StartTimeout: 10 * time.Second})
	if err == nil {
		t.Fatal("Start succeeded with an unusable root")
	}
	if !strings.Contains(err.Error(), "containerd.log") {
		t.Errorf("error does not point at the daemon log: %v", err)
	}
}

func TestLongDirectoryKeepsSocketShort(t *testing.T) {
	dir := "/" + strings.Repeat("d", 120)
	p, err := newPaths(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(p.ttrpc) > maxSocketPath+len(".ttrpc") || strings.HasPrefix(p.socket, dir) {
		t.Errorf("socket path %q not shortened", p.socket)
	}
	q, _ := newPaths(dir + "x")
	if q.socket == p.socket {
		t.Error("two cache directories share one socket")
	}
}

func TestNamedAddressThatDoesNotAnswer(t *testing.T) {
	_, err := Start(context.Background(), Options{Address: filepath.Join(t.TempDir(), "nope.sock")})
	if err == nil || !strings.Contains(err.Error(), "nope.sock") {
		t.Fatalf("err = %v, want an error naming the address", err)
	}
}

// With an address, reprove uses that daemon and never stops it.
func TestNamedAddressIsUsedAndLeftRunning(t *testing.T) {
	needContainerd(t)
	ctx := context.Background()
	dir := t.TempDir()
	owner, err := Start(ctx, Options{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer owner.Close()
	pid, _ := readPid(filepath.Join(dir, "containerd.pid"))

	d, err := Start(ctx, Options{Address: owner.Address})
	if err != nil {
		t.Fatal(err)
	}
	if d.Private {
		t.Error("a daemon named by address is marked private")
	}
	if _, err := d.Client.Version(ctx); err != nil {
		t.Fatal(err)
	}
	if err := d.Close(); err != nil {
		t.Fatal(err)
	}
	if !alive(pid) {
		t.Fatal("closing a connection to a named daemon stopped it")
	}
}
