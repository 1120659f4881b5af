// Command benchbuilder measures a reprove rebuild against a native `go
// build` of the same source with the same toolchain, in one run, with warm
// caches (image, toolchain and source already fetched). Both start from an
// empty Go build cache, because a rebuild never trusts one (each reprove
// build gets a fresh HOME): the ratio is what reprove adds around the
// compiler — daemon start, input verification, source copy, container
// set-up, output hashing and the comparison with the shipped binary.
//
// Workload: gofmt from the Go 1.26.8 distribution (the catalogue recipe).
// It prints the medians and the ratio, and fails above -max (default 1.10)
// or when the two builds differ. `make bench` runs it through
// ci/bench-builder.sh.
package main

import (
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"time"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"

	"github.com/reprove/reprove/internal/cachedir"
	"github.com/reprove/reprove/recipes"

	"github.com/reprove/reprove/ci/internal/benchwork"
)

const (
	recipe  = "recipes/catalogue/gofmt-go1.26.8.yaml"
	modPath = "golang.org/toolchain"
	modVer  = "v0.0.1-go1.26.8.linux-amd64"
)

func main() {
	runs := flag.Int("runs", 5, "measured runs of each side")
	max := flag.Float64("max", 1.10, "highest acceptable ratio")
	reprove := flag.String("reprove", "bin/reprove", "the reprove binary")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("bench-builder: ")

	work := benchwork.TempDir("bench-builder-")
	defer benchwork.Cleanup()

	log.Print("warming caches (image, toolchain, source)")
	rebuild := func(out string) {
		cmd := exec.Command(*reprove, "rebuild", recipe, "-o", out, "--json")
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			benchwork.Fatalf("reprove rebuild: %v", err)
		}
	}
	rebuild(filepath.Join(work, "warm"))

	// The native side builds the very same tree: the module zip the rebuild
	// verified, unpacked once, with its own go command (GOROOT is that
	// tree), the recipe's flags and environment.
	cache, err := cachedir.Dir(os.Getenv)
	if err != nil {
		benchwork.Fatal(err)
	}
	zip := filepath.Join(cache, "gomodcache", "cache", "download", modPath, "@v", modVer+".zip")
	goroot := filepath.Join(work, "go")
	if err := modzip.Unzip(goroot, module.Version{Path: modPath, Version: modVer}, zip); err != nil {
		benchwork.Fatal(err)
	}
	filepath.WalkDir(goroot, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			rel, _ := filepath.Rel(goroot, p)
			if recipes.IsToolchainExecutable(filepath.ToSlash(rel)) {
				os.Chmod(p, 0o755)
			}
		}
		return err
	})
	native := func(out string) {
		gocache := filepath.Join(work, "gocache")
		os.RemoveAll(gocache)
		cmd := exec.Command(filepath.Join(goroot, "bin", "go"), "build", "-trimpath", "-gcflags=cmd/...=-dwarf=false", "-ldflags=-w", "-o", out, "cmd/gofmt")
		cmd.Dir = goroot
		cmd.Env = []string{"PATH=" + filepath.Join(goroot, "bin") + ":/usr/bin:/bin", "HOME=" + work, "GOCACHE=" + gocache, "GOPATH=" + filepath.Join(work, "gopath"),
			"GOENV=off", "GOFLAGS=", "GOPROXY=off", "GOTOOLCHAIN=local", "CGO_ENABLED=0", "GOOS=linux", "GOARCH=amd64", "GOAMD64=v1", "TZ=UTC", "LC_ALL=C"}
		cmd.Stderr = os.Stderr
		if err := cmd.Run(); err != nil {
			benchwork.Fatalf("native go build: %v", err)
		}
	}

	var tn, tr []float64
	nativeOut := filepath.Join(work, "native-gofmt")
	for i := 1; i <= *runs; i++ {
		out := filepath.Join(work, fmt.Sprintf("run%d", i))
		timeIt := func(f func()) float64 { s := time.Now(); f(); return time.Since(s).Seconds() }
		// Alternate the order so neither side always runs second.
		if i%2 == 1 {
			tn = append(tn, timeIt(func() { native(nativeOut) }))
			tr = append(tr, timeIt(func() { rebuild(out) }))
		} else {
			tr = append(tr, timeIt(func() { rebuild(out) }))
			tn = append(tn, timeIt(func() { native(nativeOut) }))
		}
		log.Printf("run %d: native %.2f s, reprove %.2f s", i, tn[len(tn)-1], tr[len(tr)-1])
		if a, b := sum(nativeOut), sum(filepath.Join(out, "outputs", "gofmt")); a != b {
			benchwork.Fatalf("the native build (%s) and the rebuild (%s) differ", a, b)
		}
	}
	mn, mr := median(tn), median(tr)
	ratio := mr / mn
	log.Printf("median native go build %.2f s, reprove rebuild %.2f s: ratio %.3f (target <= %.2f); both gave gofmt %s", mn, mr, ratio, *max, sum(nativeOut)[:16])
	if ratio > *max {
		benchwork.Fatalf("ratio %.3f above target %.2f", ratio, *max)
	}
}

func median(v []float64) float64 {
	s := append([]float64(nil), v...)
	sort.Float64s(s)
	n := len(s)
	if n%2 == 1 {
		return s[n/2]
	}
	return (s[n/2-1] + s[n/2]) / 2
}

func sum(p string) string {
	f, err := os.Open(p)
	if err != nil {
		benchwork.Fatal(err)
	}
	defer f.Close()
	h := sha256.New()
	io.Copy(h, f)
	return hex.EncodeToString(h.Sum(nil))
}
