package pipeline_test

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/pipeline"
	"github.com/reprove/reprove/recipes"
	"github.com/reprove/reprove/recipes/infer"
)

// debianCase is the real Debian package CI rebuilds end to end: a small
// C program (dmitry) whose bookworm .deb was built for a point release, in
// bookworm's own environment. recipes/catalogue/debian holds the recipe
// infer writes for it.
const debianCase = "http://deb.debian.org/debian/pool/main/d/dmitry/dmitry_1.3a-1.2+deb12u1_amd64.deb"

// infer on the shipped .deb, then rebuild from the recipe it wrote: the
// source package from the signed Sources index, its build environment
// locked from the signed Packages index, dpkg-buildpackage -b in a
// hermetic container, the result compared with the .deb in the pool.
func TestDebianPackageEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("needs containerd and Debian's mirror")
	}
	kr, err := archive.LoadKeyring(archive.DefaultKeyring)
	if err != nil {
		t.Skipf("no Debian archive keyring (bash ci/setup.sh): %v", err)
	}
	ctx := context.Background()
	deb := filepath.Join(t.TempDir(), filepath.Base(debianCase))
	resp, err := http.Get(debianCase)
	if err != nil {
		t.Fatal(err)
	}
	f, _ := os.Create(deb)
	io.Copy(f, resp.Body)
	resp.Body.Close()
	f.Close()

	facts, err := infer.ReadDebFacts(ctx, &archive.Client{Keyring: kr}, deb, "bookworm")
	if err != nil {
		t.Fatal(err)
	}
	res, err := infer.InferDeb(facts)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Incomplete) > 0 {
		t.Fatalf("incomplete: %v", res.Incomplete)
	}
	text, err := res.Recipe.YAML()
	if err != nil {
		t.Fatal(err)
	}
	r, err := recipes.Parse("dmitry.yaml", text)
	if err != nil {
		t.Fatal(err)
	}
	s := session(t, nil)
	out := filepath.Join(t.TempDir(), "out")
	rr, err := s.Rebuild(ctx, pipeline.RebuildRequest{Recipe: r, OutDir: out})
	if err != nil {
		t.Fatal(err)
	}
	o := rr.Outputs[0]
	t.Logf("dmitry: %s; rebuilt %s, shipped %s", rr.Verdict, o.Rebuilt, o.Shipped.Digest)
	if o.Verdict != nil && *o.Verdict == verdict.Identical {
		return
	}
	// Not identical (measured 2026-12-07: only the GNU build ID differs,
	// and the .gnu_debuglink CRC that follows from it; every code and data
	// section is the same). Then the report's first lines must name where:
	// the member and the section.
	report, err := os.ReadFile(filepath.Join(out, "compare", filepath.Base(o.Path)+".txt"))
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.SplitN(string(report), "\n", 16)
	head := strings.Join(lines[:min(15, len(lines))], "\n")
	t.Logf("dmitry is not reproduced bit for bit; the report begins:\n%s", head)
	if !strings.Contains(head, "usr/bin/dmitry") || !strings.Contains(head, ".note.gnu.build-id") && !strings.Contains(head, "section") {
		t.Errorf("the first 15 lines of the report do not name the differing member and section")
	}
}
