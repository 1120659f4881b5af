package watch

import (
	"bytes"
	"context"
	"fmt"
	"go/version"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/reprove/reprove/fleet/queue"
	"github.com/reprove/reprove/recipes"
)

// GoToolchain watches Go releases on the Go module proxy: the versions of
// golang.org/toolchain for linux/Arch. For each release it enqueues the
// rebuild of gofmt and of the go command (recipes inferred from the
// shipped binaries, as the catalogue's) and of the whole distribution
// (make.bash -distpack, compared with the module zip), as gorebuild does.
type GoToolchain struct {
	// Proxy is the module proxy (https://proxy.golang.org by default).
	Proxy string
	// Arch is the architecture (amd64 by default).
	Arch string
	// Since is the oldest release watched ("1.26.0"); older ones are
	// left alone (so a first run does not enqueue Go's whole history).
	Since string
	// Watch names the watch list ("go" by default).
	Watch string
	// NoDistribution leaves out the whole distribution's rebuild.
	NoDistribution bool
	HTTP           *http.Client
}

// Name is the watch list's name.
func (g *GoToolchain) Name() string {
	if g.Watch != "" {
		return g.Watch
	}
	return "go"
}

func (g *GoToolchain) arch() string {
	if g.Arch == "" {
		return "amd64"
	}
	return g.Arch
}

// Find reads the proxy's version list.
func (g *GoToolchain) Find(ctx context.Context) ([]queue.WatchItem, error) {
	proxy := g.Proxy
	if proxy == "" {
		proxy = "https://proxy.golang.org"
	}
	b, err := get(ctx, g.HTTP, strings.TrimRight(proxy, "/")+"/"+recipes.ToolchainModule+"/@v/list", "")
	if err != nil {
		return nil, err
	}
	releases, err := ParseToolchainList(b, g.arch())
	if err != nil {
		return nil, err
	}
	return g.items(releases)
}

// ParseToolchainList reads a golang.org/toolchain version list (one
// module version a line) and returns the Go releases for linux/arch
// ("1.26.8", "1.27rc1"), oldest first. Lines for other platforms are
// skipped; a line that is no toolchain version is an error naming it.
func ParseToolchainList(b []byte, arch string) ([]string, error) {
	var out []string
	suffix := ".linux-" + arch
	for i, line := range bytes.Split(b, []byte("\n")) {
		l := strings.TrimSpace(string(line))
		if l == "" {
			continue
		}
		rest, ok := strings.CutPrefix(l, "v0.0.1-go")
		if !ok || strings.Count(rest, ".") < 2 || len(l) > 64 {
			return nil, fmt.Errorf("version list line %d: %q is not a golang.org/toolchain version", i+1, l)
		}
		goVersion, ok := strings.CutSuffix(rest, suffix)
		if !ok {
			continue
		}
		if !version.IsValid("go"+goVersion) || strings.ContainsAny(goVersion, "-+ ") {
			return nil, fmt.Errorf("version list line %d: %q names no Go release", i+1, l)
		}
		out = append(out, goVersion)
	}
	sort.SliceStable(out, func(i, j int) bool { return version.Compare("go"+out[i], "go"+out[j]) < 0 })
	return out, nil
}

func (g *GoToolchain) items(releases []string) ([]queue.WatchItem, error) {
	var out []queue.WatchItem
	for _, r := range releases {
		if g.Since != "" && version.Compare("go"+r, "go"+g.Since) < 0 {
			continue
		}
		mv := recipes.ToolchainVersion(r, g.arch())
		rel := func(name string) queue.Release {
			return queue.Release{Ecosystem: "go", Watch: g.Name(), Name: name, Version: "go" + r}
		}
		for _, cmd := range []string{"gofmt", "go"} {
			out = append(out, queue.WatchItem{Item: "go" + r + "/" + cmd, Job: queue.InferArgs{Release: rel(cmd), Artifact: queue.Artifact{
				Module: recipes.ToolchainModule, ModuleVersion: mv, Member: recipes.ToolchainModule + "@" + mv + "/bin/" + cmd, Recipe: queue.Inferred}}})
		}
		if g.NoDistribution {
			continue
		}
		boot, ok := Bootstrap(releases, r)
		if !ok {
			continue // no release to build it with is known yet
		}
		out = append(out, queue.WatchItem{Item: "go" + r + "/distribution", Job: queue.InferArgs{Release: rel("go-distribution"), Artifact: queue.Artifact{
			Module: recipes.ToolchainModule, ModuleVersion: mv, Recipe: queue.GoDistribution, Bootstrap: boot}}})
	}
	return out, nil
}

// Bootstrap picks the Go release that builds release r: the newest final
// release of Go 1.N-2 (Go 1.N needs 1.N-2 or later to build), and never
// older than 1.21 (the oldest toolchain reprove's images hold). It is
// false when releases holds none.
func Bootstrap(releases []string, r string) (string, bool) {
	lang := version.Lang("go" + r)
	minor, err := strconv.Atoi(strings.TrimPrefix(lang, "go1."))
	if err != nil || !strings.HasPrefix(lang, "go1.") {
		return "", false
	}
	want := fmt.Sprintf("go1.%d", max(minor-2, 21))
	best := ""
	for _, c := range releases {
		gc := "go" + c
		if version.Lang(gc) != want || strings.Contains(c, "rc") || strings.Contains(c, "beta") {
			continue
		}
		if best == "" || version.Compare(gc, "go"+best) > 0 {
			best = c
		}
	}
	return best, best != ""
}
