package check_test

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/builder"
	"github.com/reprove/reprove/builder/buildertest"
	"github.com/reprove/reprove/builder/check"
	"github.com/reprove/reprove/builder/check/clockshift"
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

// source is a small tree with a few files, so file order can show, and
// a static Go program, today, that prints the date (see dateGo).
func source(t *testing.T) (string, digest.Digest) {
	dir := t.TempDir()
	for _, n := range []string{"b.txt", "a.txt", "c.txt", "d.txt", "e.txt"} {
		os.WriteFile(filepath.Join(dir, n), []byte(n+"\n"), 0o644)
	}
	gen := t.TempDir()
	os.WriteFile(filepath.Join(gen, "go.mod"), []byte("module example.com/today\n\ngo 1.22\n"), 0o644)
	os.WriteFile(filepath.Join(gen, "main.go"), []byte(dateGo), 0o644)
	goTool, err := exec.LookPath("go")
	if err != nil {
		goTool = "/usr/local/go/bin/go"
	}
	cmd := exec.Command(goTool, "build", "-trimpath", "-o", filepath.Join(dir, "today"), ".")
	cmd.Dir = gen
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOFLAGS=", "GOTOOLCHAIN=local")
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, b)
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

// dateGo is a Go program that prints today's date, as a go:generate
// program that stamps it into a source file does. The build runs it
// built (a static binary, which reads the clock through the vDSO unless
// it is hidden): compiling it in each build would take most of a minute
// (the Go toolchain under the shifted clock is exercised by the CLI's
// TestGoldenCheck).
const dateGo = `package main

import (
	"fmt"
	"time"
)

func main() { fmt.Println(time.Now().UTC().Format("2006-01-02")) }
`

// Each build that depends on one condition is caught, and bisection names
// that condition and only it. A build that embeds the date or the year
// (date +%Y, a Go program's time.Now) is caught every time: the varied
// build's clock is shifted by more than a year.
func TestCheckNamesTheVariation(t *testing.T) {
	b := newBuilder(t)
	ctx := context.Background()
	dir, tree := source(t)
	bisected := 2 + 1 + len(check.Variations())
	tests := []struct {
		name   string
		script string
		causes []string
		builds int
	}{
		{"reproducible", "cat *.txt > /out/out.txt; echo $SOURCE_DATE_EPOCH >> /out/out.txt", nil, 2},
		{"build-path", "pwd > /out/out.txt", []string{"build-path"}, bisected},
		{"umask", "touch /tmp/f; stat -c %a /tmp/f > /out/out.txt", []string{"umask"}, bisected},
		{"locale", "echo $LC_ALL > /out/out.txt", []string{"locale"}, bisected},
		{"timezone", "date -d @0 +%H > /out/out.txt", []string{"timezone"}, bisected},
		{"hostname", "hostname > /out/out.txt", []string{"hostname"}, bisected},
		{"file-order", "find . > /out/out.txt", []string{"file-order"}, bisected},
		{"cpus", "grep Cpus_allowed_list /proc/self/status > /out/out.txt", []string{"cpus"}, bisected},
		// Two normal builds differ: the clock is blamed at once.
		{"seconds", "date +%s > /out/out.txt", []string{"time"}, 3},
		// Two normal builds agree (unless they straddle midnight, see
		// below); only the shifted clock changes the year or the date.
		{"year", "date -u +%Y > /out/out.txt", []string{"time"}, bisected},
		{"go-date", "./today > /out/out.txt", []string{"time"}, bisected},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Builds mostly wait on containerd: two checks at a time
			// (GOMAXPROCS on CI's 2 cores) take about half as long.
			t.Parallel()
			r := recipe(dir, tree, tc.script)
			rep, err := check.Run(ctx, b, r, t.TempDir(), check.Options{Bisect: true})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Reproducible != (tc.causes == nil) {
				t.Fatalf("reproducible = %v for %q; outputs %+v", rep.Reproducible, tc.script, rep.Outputs)
			}
			if diff := cmp.Diff(tc.causes, rep.Causes); diff != "" {
				t.Errorf("causes (-want +got):\n%s", diff)
			}
			if tc.causes == nil && rep.Bisected {
				t.Error("a reproducible build was bisected")
			}
			if len(rep.Builds) == 3 && tc.builds == bisected && len(tc.causes) == 1 && tc.causes[0] == check.TimeVariation &&
				rep.Builds[0].Started.UTC().YearDay() != rep.Builds[2].Started.UTC().YearDay() {
				// The two normal builds straddled midnight (UTC): they
				// differ, and the clock is blamed at once.
				tc.builds = 3
			}
			if len(rep.Builds) != tc.builds {
				t.Errorf("%d builds, want %d", len(rep.Builds), tc.builds)
			}
			if rep.ClockHelper != clockshift.HelperDigest {
				t.Errorf("clock helper %q, want %s", rep.ClockHelper, clockshift.HelperDigest)
			}
		})
	}
}
