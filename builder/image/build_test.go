package image_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprove/reprove/builder/buildertest"
	"github.com/reprove/reprove/builder/goproxy"
	"github.com/reprove/reprove/builder/image"
	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/debian/lock"
	"github.com/reprove/reprove/recipes"
)

func newBuilder(t *testing.T) *image.Builder {
	d := buildertest.Daemon(t)
	cache := buildertest.CacheDir(t)
	dir := t.TempDir()
	return &image.Builder{
		DebCache: filepath.Join(dir, "debs"),
		Client:   d.Client,
		Dir:      dir,
		Proxy: &goproxy.Client{
			ModCache: filepath.Join(cache, "gomodcache"),
			SumDB:    goproxy.NewSumDB("", goproxy.SumGolangOrgKey, filepath.Join(cache, "sumdb"), nil),
		},
		Log: func(s string) { t.Log(s) },
	}
}

// Building the same image twice from scratch gives the same digest, and
// Ensure then reuses it.
func TestMinimalImageIsReproducible(t *testing.T) {
	b := newBuilder(t)
	ctx := context.Background()
	spec := image.Spec{Go: "1.26.8"}
	first, err := b.Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	second, err := b.Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if first.Digest != second.Digest {
		t.Fatalf("two builds of %s: %s and %s", spec.Describe(), first.Digest, second.Digest)
	}
	if first.Toolchain == nil || first.Toolchain.Sum == "" || len(first.Layers) != 3 {
		t.Errorf("image record incomplete: %+v", first)
	}
	if len(first.Packages) != 1 || first.Packages[0].Name != "busybox-static" {
		t.Errorf("packages = %v, want busybox-static with its version", first.Packages)
	}
	again, err := b.Ensure(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if again.Digest != first.Digest {
		t.Errorf("Ensure gave %s, want the cached %s", again.Digest, first.Digest)
	}
}

// The same lock, built twice from empty caches (no .deb, no layer kept),
// gives the same image digest.
func TestDebianImageIsReproducible(t *testing.T) {
	kr, err := archive.LoadKeyring(archive.DefaultKeyring)
	if err != nil {
		t.Skipf("no Debian archive keyring (bash ci/setup.sh): %v", err)
	}
	ctx := context.Background()
	locked, err := lock.Image(ctx, &archive.Client{Keyring: kr}, &recipes.DebianImage{Suite: "bookworm", Packages: []string{"git"}}, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	spec := image.Spec{Debian: locked}
	first, err := newBuilder(t).Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	second, err := newBuilder(t).Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if first.Digest != second.Digest {
		t.Fatalf("two builds of %s: %s and %s; layers %v vs %v", spec.Describe(), first.Digest, second.Digest, first.Layers, second.Layers)
	}
	found := false
	for _, p := range first.Packages {
		found = found || (p.Name == "git" && p.SHA256 != "")
	}
	if !found || len(first.Packages) != len(locked.Lock.Packages) {
		t.Errorf("the image records %d packages (git with its digest: %v), the lock %d", len(first.Packages), found, len(locked.Lock.Packages))
	}
	t.Logf("%s: %s from %d locked packages, twice", spec.Describe(), first.Digest, len(first.Packages))
}

// Layers are cached by what they depend on: an image for a second Go
// release reuses the rootfs layer of the first (no mmdebstrap run), and
// the image it gives is the one a build from scratch gives.
func TestLayersReusedAcrossGoVersions(t *testing.T) {
	b := newBuilder(t)
	var logs []string
	b.Log = func(s string) { logs = append(logs, s); t.Log(s) }
	ctx := context.Background()
	first, err := b.Ensure(ctx, image.Spec{Go: "1.26.8"})
	if err != nil {
		t.Fatal(err)
	}
	logs = nil
	spec := image.Spec{Go: "1.25.5"}
	second, err := b.Ensure(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	joined := strings.Join(logs, "\n")
	if !strings.Contains(joined, "reusing the Debian bookworm rootfs layer") || strings.Contains(joined, "building Debian") {
		t.Errorf("the second Go release did not reuse the rootfs layer:\n%s", joined)
	}
	if first.Layers[0] != second.Layers[0] {
		t.Errorf("rootfs layers differ: %v and %v", first.Layers[0], second.Layers[0])
	}
	if second.Toolchain == nil || second.Toolchain.GoVersion != "1.25.5" || second.Toolchain.Sum == "" || len(second.Packages) == 0 {
		t.Errorf("image record of the reused layers incomplete: %+v", second)
	}
	scratch, err := b.Build(ctx, spec)
	if err != nil {
		t.Fatal(err)
	}
	if scratch.Digest != second.Digest {
		t.Errorf("from scratch %s, with reused layers %s", scratch.Digest, second.Digest)
	}
	// A third image of the same Go release on another rootfs reuses the
	// toolchain layer.
	logs = nil
	kr, err := archive.LoadKeyring(archive.DefaultKeyring)
	if err != nil {
		t.Skipf("no Debian archive keyring (bash ci/setup.sh): %v", err)
	}
	minbase, err := lock.Image(ctx, &archive.Client{Keyring: kr}, &recipes.DebianImage{Suite: "bookworm"}, "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Ensure(ctx, image.Spec{Go: "1.25.5", Debian: minbase}); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(logs, "\n"), "reusing the Go 1.25.5 toolchain layer") {
		t.Errorf("the toolchain layer was made again:\n%s", strings.Join(logs, "\n"))
	}
}
