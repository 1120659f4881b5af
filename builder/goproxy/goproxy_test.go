package goproxy

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseGoSum(t *testing.T) {
	const good = `github.com/google/uuid v1.6.0 h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=
github.com/google/uuid v1.6.0/go.mod h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo=

golang.org/x/sys v0.1.0/go.mod h1:oPkhp1MJrh7nUepCBck5+mAzfO9JrbApNNgaTdGDITg=
`
	got, err := ParseGoSum("go.sum", []byte(good))
	if err != nil {
		t.Fatal(err)
	}
	want := []Module{
		{Path: "github.com/google/uuid", Version: "v1.6.0", Sum: "h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=", ModSum: "h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo="},
		{Path: "golang.org/x/sys", Version: "v0.1.0", ModSum: "h1:oPkhp1MJrh7nUepCBck5+mAzfO9JrbApNNgaTdGDITg="},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("ParseGoSum (-want +got):\n%s", diff)
	}

	bad := []struct{ name, in, wantErr string }{
		{"fields", "a.com/x v1.0.0\n", "go.sum:1: malformed line"},
		{"version", "a.com/x latest h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=\n", "go.sum:1:"},
		{"path", "\n../x v1.0.0 h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=\n", "go.sum:2:"},
		{"old hash", "a.com/x v1.0.0 h0:abc\n", "not an h1:"},
		{"short hash", "a.com/x v1.0.0 h1:YWJj\n", "not a valid h1:"},
		{"two hashes", "a.com/x v1.0.0 h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=\na.com/x v1.0.0 h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo=\n", "go.sum:2: a.com/x v1.0.0 has two different hashes"},
	}
	for _, tc := range bad {
		t.Run(tc.name, func(t *testing.T) {
			_, err := ParseGoSum("go.sum", []byte(tc.in))
			if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
				t.Errorf("err = %v, want it to contain %q", err, tc.wantErr)
			}
		})
	}
}

func FuzzParseGoSum(f *testing.F) {
	f.Add([]byte("github.com/google/uuid v1.6.0 h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0=\n"))
	f.Add([]byte("a.com/x v1.0.0/go.mod h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo=\n\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		mods, err := ParseGoSum("go.sum", data)
		if err != nil {
			return
		}
		for _, m := range mods {
			if m.Sum == "" && m.ModSum == "" {
				t.Fatalf("module %v without any hash", m)
			}
			for _, s := range []string{m.Sum, m.ModSum} {
				if s != "" && checkH1(s) != nil {
					t.Fatalf("accepted invalid hash %q", s)
				}
			}
		}
	})
}

// A small real module from the public proxy, verified against go.sum and
// the checksum database.
const (
	uuidPath   = "github.com/google/uuid"
	uuidVer    = "v1.6.0"
	uuidSum    = "h1:NIvaJDMOsjHA8n1jAhLSgzrAzy1Hgr+hNrb57e+94F0="
	uuidModSum = "h1:TIyPZe4MgqvfeYDBFedMoGGpEw/LqOeaOT+nhxU+yHo="
)

func newTestClient(t *testing.T) *Client {
	t.Helper()
	if testing.Short() {
		t.Skip("needs the Go module proxy (skipped with -short)")
	}
	dir := t.TempDir()
	return &Client{
		ModCache: filepath.Join(dir, "mod"),
		SumDB:    NewSumDB("", SumGolangOrgKey, filepath.Join(dir, "sumdb"), nil),
	}
}

func TestFetchAllVerifiesAndUnpacks(t *testing.T) {
	c := newTestClient(t)
	ctx := context.Background()
	mods := []Module{{Path: uuidPath, Version: uuidVer, Sum: uuidSum, ModSum: uuidModSum}}
	if err := c.FetchAll(ctx, mods); err != nil {
		t.Fatal(err)
	}
	dir, _ := c.ExtractedDir(uuidPath, uuidVer)
	if _, err := os.Stat(filepath.Join(dir, "uuid.go")); err != nil {
		t.Fatalf("module not unpacked: %v", err)
	}
	for _, ext := range []string{".info", ".mod", ".zip", ".ziphash"} {
		f, _ := c.file(uuidPath, uuidVer, ext)
		if _, err := os.Stat(f); err != nil {
			t.Errorf("cache lacks %s: %v", ext, err)
		}
	}
	// A second run finds everything in place.
	if err := c.FetchAll(ctx, mods); err != nil {
		t.Fatal(err)
	}
}

func TestFetchRefusesWrongHashes(t *testing.T) {
	c := newTestClient(t)
	ctx := context.Background()
	wrong := "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="
	var mm *MismatchError
	if _, _, err := c.Zip(ctx, uuidPath, uuidVer, wrong); !errors.As(err, &mm) {
		t.Fatalf("Zip with a wrong go.sum hash: err = %v, want a mismatch", err)
	}
	if zip, _ := c.file(uuidPath, uuidVer, ".zip"); fileExists(zip) {
		t.Error("a zip that failed verification was left in the cache")
	}
	if _, err := c.GoMod(ctx, uuidPath, uuidVer, wrong); !errors.As(err, &mm) {
		t.Fatalf("GoMod with a wrong hash: err = %v, want a mismatch", err)
	}

	// A cached zip that was altered on disk is caught on the next use.
	zip, _, err := c.Zip(ctx, uuidPath, uuidVer, uuidSum)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(zip, []byte("PK not really"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.Zip(ctx, uuidPath, uuidVer, uuidSum); err == nil {
		t.Fatal("a corrupted cached zip was accepted")
	}

	// Without an expected hash the checksum database decides.
	if _, sum, err := c.Zip(ctx, uuidPath, uuidVer, ""); err != nil || sum != uuidSum {
		t.Fatalf("Zip checked by the database alone = %q, %v", sum, err)
	}
}

func TestExtractReplacesDamagedDirectory(t *testing.T) {
	c := newTestClient(t)
	ctx := context.Background()
	zip, sum, err := c.Zip(ctx, uuidPath, uuidVer, uuidSum)
	if err != nil {
		t.Fatal(err)
	}
	dir, err := c.Extract(ctx, uuidPath, uuidVer, zip, sum)
	if err != nil {
		t.Fatal(err)
	}
	f := filepath.Join(dir, "uuid.go")
	os.Chmod(f, 0o644)
	if err := os.WriteFile(f, []byte("package uuid // planted\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Extract(ctx, uuidPath, uuidVer, zip, sum); err != nil {
		t.Fatal(err)
	}
	b, _ := os.ReadFile(f)
	if strings.Contains(string(b), "planted") {
		t.Fatal("a damaged extracted module was kept")
	}
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// A module zip another cache holds is copied and verified; a shared copy
// that is not the module is refused and the proxy asked.
func TestZipFromSharedCache(t *testing.T) {
	seed := newTestClient(t)
	ctx := context.Background()
	if _, _, err := seed.Zip(ctx, uuidPath, uuidVer, uuidSum); err != nil {
		t.Fatal(err)
	}
	var said []string
	c := newTestClient(t)
	c.Shared = []string{seed.ModCache}
	c.Progress = func(s string) { said = append(said, s) }
	if _, sum, err := c.Zip(ctx, uuidPath, uuidVer, uuidSum); err != nil || sum != uuidSum {
		t.Fatalf("Zip = %q, %v", sum, err)
	}
	if len(said) != 1 || !strings.Contains(said[0], "from a shared module cache") {
		t.Errorf("progress: %q", said)
	}

	bad := t.TempDir()
	zip, _ := seed.file(uuidPath, uuidVer, ".zip")
	rel, _ := filepath.Rel(seed.ModCache, zip)
	os.MkdirAll(filepath.Dir(filepath.Join(bad, rel)), 0o755)
	os.WriteFile(filepath.Join(bad, rel), []byte("PK not the module"), 0o644)
	said = nil
	c = newTestClient(t)
	c.Shared = []string{bad}
	c.Progress = func(s string) { said = append(said, s) }
	if _, sum, err := c.Zip(ctx, uuidPath, uuidVer, uuidSum); err != nil || sum != uuidSum {
		t.Fatalf("Zip past a bad shared copy = %q, %v", sum, err)
	}
	if len(said) != 2 || !strings.Contains(said[0], "(ignored)") || !strings.Contains(said[1], "downloading") {
		t.Errorf("progress: %q", said)
	}
}
