package check_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/builder"
	"github.com/reprove/reprove/builder/buildertest"
	"github.com/reprove/reprove/builder/check"
	"github.com/reprove/reprove/internal/treehash"
	"github.com/reprove/reprove/recipes"
)

func newBuilder(t *testing.T) *builder.Builder {
	d := buildertest.Daemon(t)
	b, err := builder.New(builder.Options{Client: d.Client, CacheDir: buildertest.CacheDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// source is a small tree with a few files, so file order can show.
func source(t *testing.T) (string, digest.Digest) {
	dir := t.TempDir()
	for _, n := range []string{"b.txt", "a.txt", "c.txt", "d.txt", "e.txt"} {
		os.WriteFile(filepath.Join(dir, n), []byte(n+"\n"), 0o644)
	}
	d, err := treehash.Dir(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	return dir, d
}

func recipe(dir string, tree digest.Digest, script string) *recipes.Recipe {
	return &recipes.Recipe{
		Schema: 1, Name: "check-test", Version: "1",
		Source:  recipes.Source{Dir: &recipes.DirSource{Path: dir, Tree: tree}},
		Steps:   []recipes.Step{{Shell: script}},
		Outputs: []recipes.Output{{Path: "out.txt"}},
	}
}

// Each build that depends on one condition is caught, and bisection names
// that condition and only it.
func TestCheckNamesTheVariation(t *testing.T) {
	b := newBuilder(t)
	ctx := context.Background()
	dir, tree := source(t)
	tests := []struct {
		script string
		causes []string
	}{
		{"cat *.txt > /out/out.txt; echo $SOURCE_DATE_EPOCH >> /out/out.txt", nil},
		{"pwd > /out/out.txt", []string{"build-path"}},
		{"touch /tmp/f; stat -c %a /tmp/f > /out/out.txt", []string{"umask"}},
		{"echo $LC_ALL > /out/out.txt", []string{"locale"}},
		{"date -d @0 +%H > /out/out.txt", []string{"timezone"}},
		{"hostname > /out/out.txt", []string{"hostname"}},
		{"find . > /out/out.txt", []string{"file-order"}},
		{"grep Cpus_allowed_list /proc/self/status > /out/out.txt", []string{"cpus"}},
		{"date +%s > /out/out.txt", []string{"time"}},
	}
	for _, tc := range tests {
		t.Run(strings.Fields(tc.script)[0], func(t *testing.T) {
			rep, err := check.Run(ctx, b, recipe(dir, tree, tc.script), t.TempDir(), check.Options{Bisect: true})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Reproducible != (tc.causes == nil) {
				t.Fatalf("reproducible = %v for %q; outputs %+v", rep.Reproducible, tc.script, rep.Outputs)
			}
			if diff := cmp.Diff(tc.causes, rep.Causes); diff != "" {
				t.Errorf("causes (-want +got):\n%s", diff)
			}
			if tc.causes == nil && (len(rep.Builds) != 2 || rep.Bisected) {
				t.Errorf("a reproducible build was bisected: %d builds", len(rep.Builds))
			}
			wantBuilds := 2 + 1 + len(check.Variations())
			if len(tc.causes) == 1 && tc.causes[0] == check.TimeVariation {
				wantBuilds = 3 // the variations are not tried
			}
			if tc.causes != nil && len(rep.Builds) != wantBuilds {
				t.Errorf("%d builds, want %d", len(rep.Builds), wantBuilds)
			}
		})
	}
}
