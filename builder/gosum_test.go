package builder

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/recipes"
)

// The host never reads a go.mod or go.sum through a link out of the
// source: a step dir that is (or passes through) such a link is an error
// naming it, however the link is written.
func TestGoSumFilesStayInTheSource(t *testing.T) {
	parent := t.TempDir()
	outside := filepath.Join(parent, "host")
	os.MkdirAll(outside, 0o755)
	os.WriteFile(filepath.Join(outside, "go.mod"), []byte("module evil\n"), 0o644)
	os.WriteFile(filepath.Join(outside, "go.sum"), []byte("host secret line\n"), 0o644)
	src := filepath.Join(parent, "src")
	os.MkdirAll(filepath.Join(src, "sub", "mod"), 0o755)
	os.WriteFile(filepath.Join(src, "sub", "mod", "go.mod"), []byte("module good\n"), 0o644)
	os.WriteFile(filepath.Join(src, "sub", "mod", "go.sum"), []byte("good line\n"), 0o644)
	for name, target := range map[string]string{
		"ext":        outside,
		"rel":        "../host",
		"up":         "..",
		"chain1":     "chain2",
		"chain2":     "sub/chain3",
		"sub/chain3": "../../host",
		"inside":     "sub/mod",
		"sumlink":    "dir-with-link",
	} {
		if err := os.Symlink(target, filepath.Join(src, name)); err != nil {
			t.Fatal(err)
		}
	}
	// A module whose go.sum itself links out.
	os.MkdirAll(filepath.Join(src, "dir-with-link"), 0o755)
	os.WriteFile(filepath.Join(src, "dir-with-link", "go.mod"), []byte("module x\n"), 0o644)
	os.Symlink(filepath.Join(outside, "go.sum"), filepath.Join(src, "dir-with-link", "go.sum"))

	for _, dir := range []string{"ext", "rel", "up/host", "chain1", "sumlink"} {
		t.Run(dir, func(t *testing.T) {
			r := &recipes.Recipe{Steps: []recipes.Step{{Run: []string{"go", "build"}, Dir: dir}}}
			sums, _, err := goSumFiles(src, r)
			if err == nil || !strings.Contains(err.Error(), "reprove reads only inside the source tree") {
				t.Fatalf("sums %q, err = %v; want the link out refused", sums, err)
			}
			if strings.Contains(err.Error(), "host secret") {
				t.Errorf("the error shows the host file: %v", err)
			}
		})
	}
	// A link inside the tree is followed, as the build will.
	r := &recipes.Recipe{Steps: []recipes.Step{{Run: []string{"go", "build"}, Dir: "inside"}}}
	sums, vendored, err := goSumFiles(src, r)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]goSum{{Rel: "inside/go.sum", Data: []byte("good line\n")}}, sums); diff != "" || vendored {
		t.Errorf("sums (-want +got):\n%s (vendored %v)", diff, vendored)
	}
}
