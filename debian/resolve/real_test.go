package resolve_test

import (
	"context"
	"os"
	"strings"
	"testing"

	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/debian/resolve"
)

// Against the real bookworm index: the buildd set holds what
// dpkg-buildpackage needs, and nothing is chosen twice.
func TestRealBuildd(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Debian's mirror")
	}
	if _, err := os.Stat(archive.DefaultKeyring); err != nil {
		t.Skip("debian-archive-keyring is not installed (bash ci/setup.sh)")
	}
	kr, err := archive.LoadKeyring(archive.DefaultKeyring)
	if err != nil {
		t.Fatal(err)
	}
	c := &archive.Client{Keyring: kr, CacheDir: os.TempDir() + "/reprove-test-debian-index"}
	ctx := context.Background()
	rel, err := c.Release(ctx, "bookworm")
	if err != nil {
		t.Fatal(err)
	}
	pkgs, err := c.Packages(ctx, rel, "bookworm", "main", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	idx, err := resolve.NewIndex("amd64", pkgs)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		req  resolve.Request
		want []string
	}{
		{resolve.Request{Variant: resolve.Minbase}, []string{"apt", "dpkg", "libc6", "base-files", "bash", "coreutils"}},
		{resolve.Request{Variant: resolve.Buildd, BuildDepends: []string{"debhelper-compat (= 13), libncurses-dev, pkgconf | pkg-config"}},
			[]string{"gcc", "dpkg-dev", "make", "debhelper", "libncurses-dev", "pkgconf"}},
	} {
		got, err := resolve.Resolve(idx, tc.req)
		if err != nil {
			t.Fatal(err)
		}
		names := map[string]bool{}
		var list []string
		for _, p := range got {
			names[p.Package] = true
			list = append(list, p.Package)
		}
		t.Logf("%s: %d packages: %s", tc.req.Variant, len(got), strings.Join(list, " "))
		for _, w := range tc.want {
			if !names[w] {
				t.Errorf("%s: %s missing", tc.req.Variant, w)
			}
		}
	}
}
