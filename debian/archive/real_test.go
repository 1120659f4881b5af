package archive

import (
	"context"
	"os"
	"testing"
)

// The real archive: bookworm's InRelease verifies against the keyring
// Debian ships, and its Packages index against the Release.
func TestRealBookworm(t *testing.T) {
	if testing.Short() {
		t.Skip("needs Debian's mirror")
	}
	if _, err := os.Stat(DefaultKeyring); err != nil {
		t.Skip("debian-archive-keyring is not installed (bash ci/setup.sh)")
	}
	kr, err := LoadKeyring(DefaultKeyring)
	if err != nil {
		t.Fatal(err)
	}
	c := &Client{Keyring: kr, CacheDir: t.TempDir(), Log: func(s string) { t.Log(s) }}
	ctx := context.Background()
	rel, err := c.Release(ctx, "bookworm")
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("bookworm %s, %s, signed by %s", rel.Version, rel.Date, rel.Signer)
	pkgs, err := c.Packages(ctx, rel, "bookworm", "main", "amd64")
	if err != nil {
		t.Fatal(err)
	}
	if len(pkgs) < 50000 {
		t.Errorf("only %d packages", len(pkgs))
	}
}
