// Package buildertest gives tests that need containerd a real daemon: reprove's
// private one, in a cache shared by every test package of one machine so
// that base images and toolchains are built and fetched once.
//
// These tests skip only under -short. Without -short a missing containerd
// is a failure: CI must run them.
package buildertest

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/reprove/reprove/builder/daemon"
	"github.com/reprove/reprove/builder/goproxy"
	"github.com/reprove/reprove/builder/image"
)

// CacheDir is the cache shared by tests: $REPROVE_TEST_CACHE, else
// reprove-test under the system's temporary directory's parent for
// persistent data (/var/tmp).
func CacheDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("REPROVE_TEST_CACHE"); d != "" {
		return d
	}
	return filepath.Join("/var/tmp", "reprove-test")
}

// NeedContainerd skips under -short and fails when containerd, runc or
// root privileges are missing.
func NeedContainerd(t testing.TB) {
	t.Helper()
	if testing.Short() {
		t.Skip("needs containerd (skipped with -short)")
	}
	for _, bin := range []string{"containerd", "runc", "containerd-shim-runc-v2"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is not installed (bash ci/setup.sh installs it): %v", bin, err)
		}
	}
	if os.Geteuid() != 0 {
		t.Fatal("tests that run containers need root")
	}
}

// Daemon starts (or joins) the shared private containerd and closes it when
// the test ends.
func Daemon(t testing.TB) *daemon.Daemon {
	t.Helper()
	NeedContainerd(t)
	d, err := daemon.Start(context.Background(), daemon.Options{Dir: filepath.Join(CacheDir(t), "containerd")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := d.Close(); err != nil {
			t.Errorf("close containerd: %v", err)
		}
	})
	return d
}

// ImageBuilder returns an image builder on d that shares the test cache, so
// that each base image is built once per machine.
func ImageBuilder(t testing.TB, d *daemon.Daemon) *image.Builder {
	t.Helper()
	cache := CacheDir(t)
	return &image.Builder{
		Client: d.Client,
		Dir:    filepath.Join(cache, "images"),
		Proxy:  GoProxy(t),
		Log:    func(s string) { t.Log(s) },
	}
}

// GoProxy returns a module proxy client on the shared test module cache.
func GoProxy(t testing.TB) *goproxy.Client {
	cache := CacheDir(t)
	return &goproxy.Client{
		ModCache: filepath.Join(cache, "gomodcache"),
		SumDB:    goproxy.NewSumDB("", goproxy.SumGolangOrgKey, filepath.Join(cache, "sumdb"), nil),
	}
}

// Image returns the base image for spec, built on first use.
func Image(t testing.TB, d *daemon.Daemon, spec image.Spec) *image.Image {
	t.Helper()
	img, err := ImageBuilder(t, d).Ensure(context.Background(), spec)
	if err != nil {
		t.Fatal(err)
	}
	return img
}
