// Command benchdebian rebuilds a fixed list of small bookworm amd64 source
// packages, across build systems, as `reprove infer` + `reprove rebuild`
// do: for each, the suite's current version of the source package (read
// from the signed Sources index when the bench runs, and printed), the
// .deb of one of its binaries from the mirror, infer (the source package
// from the signed Sources index, the build environment locked from the
// signed Packages index), then a hermetic rebuild compared with that .deb.
// After each rebuild the same steps run once more by hand, as a plain
// dpkg-buildpackage in a chroot of the same locked image (plain.go): the
// baseline reprove's time is measured against.
//
// It prints one line per package (identical / different with the first
// cause compare names / failed and why / not measured because the mirror
// does not serve a file of the source package), reprove's time (an image
// built on the way is shown apart), the plain build's time, their ratio and
// the build's peak disk; then the reproduction rate over the packages
// measured beside Debian's published figure, and the median ratio.
//
// It is `make bench`'s (ci/bench-debian.sh), not CI's: it takes an hour or
// more on a quiet machine, most of it building one image per distinct
// lock (packages with the same build dependencies share one).
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/reprove/reprove/builder/image"
	"github.com/reprove/reprove/compare/report"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/debian/archive"
	"github.com/reprove/reprove/debian/deb822"
	"github.com/reprove/reprove/debian/lock"
	"github.com/reprove/reprove/internal/cachedir"
	"github.com/reprove/reprove/pipeline"
	"github.com/reprove/reprove/recipes"
	"github.com/reprove/reprove/recipes/infer"
)

// packages: source package, the binary compared (its first binary in the
// index when empty) and the build system it stands for. Packages of one
// kind mostly share their Build-Depends, so their locks, so their images.
//
// Every package here has all its source files served by the mirror this
// bench runs against. The mirror reachable from reprove's own machine
// serves every index, every .dsc and every .deb, but only some of the
// .orig and .debian tarballs (checked on 2026-12-07: 6 of 50 .debian.tar
// files of randomly drawn bookworm source packages, 26 of 53 upstream
// tarballs), and the snapshot archive is not reachable there. The first
// list (2026-12-07) had 18 packages whose tarballs answer 404 on it: aml,
// caps2esc, libvolatilestream, liblaxjson, libomp-jonathonl, paryfor,
// tllist, spidev, python-schedutils, rust-easy-parallel, libz-mingw-w64,
// and the Perl XS modules liblinux-pid, libperl-destruct-level,
// libtext-levenshteinxs, libdigest-elf, libtime-hr, libdevel-leak and
// libfilesys-statvfs. They were replaced by packages of the same kinds
// whose files are all served. On another mirror any of them can be run
// with -only; a package whose files the mirror does not serve is reported
// as not measured, and left out of the rate.
var packages = []struct{ source, binary, kind string }{
	// One of each build system first, so that a run cut short has
	// measured each kind.
	{"dmitry", "", "autotools C"},
	{"libarray-refelem-perl", "", "Perl XS"},
	{"tini", "", "CMake C"},
	{"webp-pixbuf-loader", "", "Meson"},
	{"python-kyotocabinet", "", "Python C extension"},
	{"fatcat", "", "CMake C++"},
	{"rust-pin-utils", "", "Rust crate (dh-cargo)"},
	{"buthead", "", "make C"},
	{"base-files", "", "debhelper"},
	// Then the rest, those sharing a lock (so an image) with one above
	// first.
	{"libmath-libm-perl", "", "Perl XS"},
	{"libterm-size-perl", "", "Perl XS"},
	{"libguard-perl", "", "Perl XS"},
	{"eancheck", "", "make C"},
	{"tmperamental", "", "make C"},
	{"hello", "", "autotools C"},
	{"sipcalc", "", "autotools C"},
	{"minizip", "minizip", "autotools C"},
	{"bridge-utils", "", "autotools C"},
	{"libuecc", "libuecc0", "CMake C"},
	{"uchardet", "", "CMake C++"},
	{"meshoptimizer", "", "CMake C++"},
	{"low-memory-monitor", "low-memory-monitor", "Meson"},
	{"flatpak-xdg-utils", "flatpak-xdg-utils", "Meson"},
	{"termbox", "python3-termbox", "Python C extension"},
	{"pam-wrapper", "python3-pypamtest", "Python C extension"},
}

// debianRate is Debian's own figure for bookworm amd64 as the issue quotes
// it (tests.reproducible-builds.org: two builds under varied conditions,
// not a rebuild against the archive's .deb). It is not fetched here: that
// site is not reachable from this machine.
const debianRate = "about 97% (Debian's reproducible-builds tests, bookworm amd64)"

// imagesOnly makes the run build each package's image and nothing else
// (-images): run beside a bench, in another process on the same cache, it
// has the images ready before the bench reaches them.
var imagesOnly bool

// keepDir, when set, receives the compare reports and both .debs of each
// package that is not identical.
var keepDir string

type outcome int

const (
	failed      outcome = iota
	notMeasured         // the mirror does not serve the source package
	identical
	different
)

type row struct {
	pkg, version, kind, result string
	outcome                    outcome
	// total is reprove's time for the rebuild, image is the part of it
	// spent building a new base image (zero when it was cached).
	total, image time.Duration
	// step is the build step's own time in the container; pre, ctr and
	// post the rest of total: before the container, around the step,
	// after it.
	step, pre, ctr, post time.Duration
	// plain is the baseline's time; plainSame whether it made the same
	// bytes as reprove's container.
	plain     time.Duration
	plainSame string
	// stepCPU and plainCPU are the CPU time of the build step in
	// reprove's container (its cgroup's) and of the plain build.
	stepCPU, plainCPU time.Duration
	peakDisk          int64
}

// reproveTime is reprove's time for the rebuild, fetch to compare (a new
// image's build is timed apart, before it).
func (r row) reproveTime() time.Duration { return r.total }

// overhead is reprove's time outside the build step, as "total (before
// the container + around the step + after it)".
func (r row) overhead() string {
	if r.step <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1fs (%.1f+%.1f+%.1f)", (r.total - r.step).Seconds(), r.pre.Seconds(), r.ctr.Seconds(), r.post.Seconds())
}

func main() {
	only := flag.String("only", "", "comma-separated source packages to run (default: all; any bookworm source package may be named)")
	noPlain := flag.Bool("no-plain", false, "skip the plain dpkg-buildpackage baseline")
	flag.BoolVar(&imagesOnly, "images", false, "only build each package's image, last package first (to run beside a bench on the same cache), and time nothing")
	flag.StringVar(&keepDir, "keep", "", "keep each different package's compare reports and both .debs in this directory")
	flag.Parse()
	log.SetFlags(0)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, unix.SIGTERM)
	defer stop()
	cache, err := cachedir.Dir(os.Getenv)
	if err != nil {
		log.Fatal(err)
	}
	kr, err := archive.LoadKeyring(archive.DefaultKeyring)
	if err != nil {
		log.Fatal(err)
	}
	c := &archive.Client{Keyring: kr, CacheDir: filepath.Join(cache, "debian", "indexes")}
	ix, err := lock.Fetch(ctx, c, "bookworm", "amd64")
	if err != nil {
		log.Fatal(err)
	}
	rel := ix.Release
	srcs, err := c.Sources(ctx, rel, "bookworm", "main")
	if err != nil {
		log.Fatal(err)
	}
	var ev phaseClock
	sess, err := pipeline.Open(ctx, pipeline.Runtime{CacheDir: cache, ReproveVersion: "bench", Progress: ev.see})
	if err != nil {
		log.Fatal(err)
	}
	defer sess.Close()
	tmp, err := os.MkdirTemp("", "benchdebian-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(tmp)

	list := packages
	if *only != "" {
		list = list[:0:0]
		for _, name := range strings.Split(*only, ",") {
			kind, bin := "(named with -only)", ""
			for _, p := range packages {
				if p.source == name {
					kind, bin = p.kind, p.binary
				}
			}
			list = append(list, struct{ source, binary, kind string }{name, bin, kind})
		}
	}
	if imagesOnly {
		for i := len(list) - 1; i >= 0 && ctx.Err() == nil; i-- {
			r := run(ctx, sess, c, ix, srcs, &ev, list[i].source, list[i].binary, list[i].kind, tmp, cache, false, false)
			fmt.Printf("%-22s %8s %s\n", r.pkg, dur(r.image), r.result)
		}
		return
	}
	fmt.Printf("bookworm as the mirror's signed InRelease has it: %s (%s)\n\n", rel.Version, rel.Date)
	fmt.Printf("%-22s %-22s %-19s %5s %8s %8s %8s %6s %-22s %-18s %9s  %s\n", "package", "version", "build system", "first", "reprove", "image", "plain", "ratio", "overhead (pre+ctr+post)", "cpu step/plain", "peak disk", "result")
	var rows []row
	for i, p := range list {
		if ctx.Err() != nil {
			break
		}
		r := run(ctx, sess, c, ix, srcs, &ev, p.source, p.binary, p.kind, tmp, cache, !*noPlain, i%2 == 1)
		if ctx.Err() != nil {
			// Cut short by a signal: not a result of the package's.
			fmt.Printf("%-22s (interrupted: not counted)\n", r.pkg)
			break
		}
		rows = append(rows, r)
		ratio := "-"
		if r.plain > 0 {
			ratio = fmt.Sprintf("%.2fx", r.reproveTime().Seconds()/r.plain.Seconds())
		}
		img := "-"
		if r.image > 0 {
			img = r.image.Round(time.Second).String()
		}
		res := r.result
		if r.plainSame != "" {
			res += " [" + r.plainSame + "]"
		}
		first := "rep"
		if i%2 == 1 && !*noPlain {
			first = "plain"
		}
		cpu := "-"
		if r.stepCPU > 0 && r.plainCPU > 0 {
			cpu = fmt.Sprintf("%.1fs/%.1fs %.2fx", r.stepCPU.Seconds(), r.plainCPU.Seconds(), r.stepCPU.Seconds()/r.plainCPU.Seconds())
		}
		fmt.Printf("%-22s %-22s %-19s %5s %8s %8s %8s %6s %-22s %-18s %9s  %s\n", r.pkg, r.version, r.kind, first, dur(r.reproveTime()), img, dur(r.plain), ratio, r.overhead(), cpu, human(r.peakDisk), res)
	}
	summarize(os.Stdout, rows)
}

// median sorts xs and returns their median.
func median(xs []float64) float64 {
	sort.Float64s(xs)
	m := xs[len(xs)/2]
	if len(xs)%2 == 0 {
		m = (xs[len(xs)/2-1] + xs[len(xs)/2]) / 2
	}
	return m
}

func dur(d time.Duration) string {
	if d <= 0 {
		return "-"
	}
	return d.Round(time.Second).String()
}

// summarize prints the rate over the packages measured and the median
// ratio of reprove's time to the plain build's.
func summarize(w io.Writer, rows []row) {
	count := map[outcome]int{}
	var ratios, stepRatios, cpuRatios, overheads []float64
	for _, r := range rows {
		count[r.outcome]++
		if r.plain > 0 && r.total > 0 {
			ratios = append(ratios, r.reproveTime().Seconds()/r.plain.Seconds())
			if r.step > 0 {
				stepRatios = append(stepRatios, r.step.Seconds()/r.plain.Seconds())
			}
		}
		if r.step > 0 {
			overheads = append(overheads, (r.total - r.step).Seconds())
		}
		if r.stepCPU > 0 && r.plainCPU > 0 {
			cpuRatios = append(cpuRatios, r.stepCPU.Seconds()/r.plainCPU.Seconds())
		}
	}
	measured := len(rows) - count[notMeasured]
	fmt.Fprintf(w, "\n%d packages run: %d identical, %d different, %d failed, %d not measured (a source file the mirror does not serve)\n",
		len(rows), count[identical], count[different], count[failed], count[notMeasured])
	if measured > 0 {
		fmt.Fprintf(w, "reproduced %d of %d measured (%.0f%%): identical to the .deb in Debian's pool, rebuilt in a lock of bookworm as it is today (failures count as not reproduced)\n",
			count[identical], measured, 100*float64(count[identical])/float64(measured))
	}
	fmt.Fprintf(w, "Debian's figure: %s\n", debianRate)
	if len(ratios) > 0 {
		fmt.Fprintf(w, "median reprove time / plain dpkg-buildpackage in a chroot of the same locked image: %.2fx over %d packages (min %.2fx, max %.2fx; target <= 1.2x; a new image's build is not counted; the two take turns going first)\n",
			median(ratios), len(ratios), ratios[0], ratios[len(ratios)-1])
	}
	if len(stepRatios) > 0 {
		fmt.Fprintf(w, "median of the build step alone in reprove's container / the plain build: %.2fx (min %.2fx, max %.2fx)\n",
			median(stepRatios), stepRatios[0], stepRatios[len(stepRatios)-1])
	}
	if len(cpuRatios) > 0 {
		fmt.Fprintf(w, "median CPU time of the build step in reprove's container (its cgroup) / the plain build's (a cgroup of its own): %.2fx (min %.2fx, max %.2fx)\n",
			median(cpuRatios), cpuRatios[0], cpuRatios[len(cpuRatios)-1])
	}
	if len(overheads) > 0 {
		fmt.Fprintf(w, "reprove's time outside the build step: median %.1fs (min %.1fs, max %.1fs)\n",
			median(overheads), overheads[0], overheads[len(overheads)-1])
	}
}

// phaseClock notes when each phase of a rebuild first reports progress,
// to tell where reprove's time goes around the build step.
type phaseClock struct {
	mu    sync.Mutex
	first map[pipeline.Phase]time.Time
}

func (e *phaseClock) reset() {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.first = map[pipeline.Phase]time.Time{}
}

func (e *phaseClock) see(ev pipeline.Event) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.first == nil {
		e.first = map[pipeline.Phase]time.Time{}
	}
	if _, ok := e.first[ev.Phase]; !ok {
		e.first[ev.Phase] = time.Now()
	}
}

func (e *phaseClock) at(p pipeline.Phase) time.Time {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.first[p]
}

func run(ctx context.Context, sess *pipeline.Session, c *archive.Client, ix *lock.Index, srcs []*deb822.SourcePackage, ev *phaseClock, source, binary, kind, tmp, cache string, plain, plainFirst bool) (r row) {
	r = row{pkg: source, kind: kind, version: "-"}
	fail := func(format string, args ...any) row {
		r.outcome = failed
		r.result = "failed: " + fmt.Sprintf(format, args...)
		if len(r.result) > 200 {
			r.result = r.result[:197] + "..."
		}
		return r
	}
	var src *deb822.SourcePackage
	for _, s := range srcs {
		if s.Package == source {
			src = s
		}
	}
	if src == nil {
		return fail("no source package %s in bookworm's signed Sources index", source)
	}
	r.version = src.Version
	// Every file of the source package, as the signed index lists it, at
	// the path it gives: a file the mirror does not serve is not a
	// failure of reprove's, and the package is not measured.
	for _, f := range src.Files {
		u := archive.DefaultMirror + "/" + src.Directory + "/" + f.Name
		if code, err := head(ctx, u); err != nil {
			return fail("%v", err)
		} else if code != http.StatusOK {
			r.outcome = notMeasured
			r.result = fmt.Sprintf("not measured: the mirror answers %d for %s (listed in the signed Sources index)", code, f.Name)
			return r
		}
	}
	var bin string
	for _, b := range src.Binary {
		if binary != "" && b != binary {
			continue
		}
		if p, ok := ix.Lookup(b); ok && (p.Architecture == "amd64" || p.Architecture == "all") && strings.HasPrefix(p.Filename, "pool/") {
			if ps, pv := p.SourceName(); ps == source && pv == src.Version {
				bin = p.Filename
				break
			}
		}
	}
	if bin == "" {
		return fail("no amd64 binary of %s %s in bookworm's signed Packages index", source, src.Version)
	}
	deb := filepath.Join(tmp, filepath.Base(bin))
	if err := download(ctx, archive.DefaultMirror+"/"+bin, deb); err != nil {
		return fail("%v", err)
	}
	defer os.Remove(deb)
	facts, err := infer.ReadDebFacts(ctx, c, deb, "bookworm")
	if err != nil {
		return fail("infer: %v", err)
	}
	res, err := infer.InferDeb(facts)
	if err != nil {
		return fail("infer: %v", err)
	}
	text, _ := res.Recipe.YAML()
	rc, err := recipes.Parse(source+".yaml", text)
	if err != nil {
		return fail("recipe: %v", err)
	}
	// The image first, timed apart: it is built once per distinct lock
	// (and then reused by digest), so it is neither reprove's time nor
	// the baseline's.
	b, err := sess.Builder(nil)
	if err != nil {
		return fail("%v", err)
	}
	metas := filepath.Join(cache, "images", "images")
	before, _ := os.ReadDir(metas)
	imgStart := time.Now()
	img, err := b.Images().Ensure(ctx, image.Spec{Debian: rc.Image.Debian, Go: rc.Toolchain.Go})
	if err != nil {
		return fail("image: %v", err)
	}
	if after, _ := os.ReadDir(metas); len(after) > len(before) {
		r.image = time.Since(imgStart)
	}
	if imagesOnly {
		r.result = "image " + img.Digest.String()
		return r
	}

	// reprove and the baseline take turns going first, package by
	// package, so that a load that rises or falls during a package's
	// pair of builds weighs on each side as often.
	var rr *pipeline.RebuildResult
	var pr *plainResult
	var perr error
	out := filepath.Join(tmp, source+"-out")
	defer os.RemoveAll(out)
	plainRun := func() {
		if !plain {
			return
		}
		work := filepath.Join(tmp, source+"-plain")
		pr, perr = plainBuild(ctx, cache, img.Digest, rc, src, archive.DefaultMirror, work)
		if perr == nil {
			os.RemoveAll(work)
		}
	}
	if plainFirst {
		plainRun()
	}
	var peak int64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				peak = max(peak, workDisk(filepath.Join(cache, "work")))
			}
		}
	}()
	ev.reset()
	start := time.Now()
	rr, err = sess.Rebuild(ctx, pipeline.RebuildRequest{Recipe: rc, OutDir: out})
	end := time.Now()
	r.total = end.Sub(start)
	close(done)
	wg.Wait()
	r.peakDisk = peak
	if err != nil {
		msg := err.Error()
		if i := strings.Index(msg, "\n"); i > 0 {
			msg = msg[:i]
		}
		return fail("%s", msg)
	}
	r.step = rr.Build.StepTime()
	r.stepCPU = rr.Build.StepCPU()
	// Before the container (the shipped .deb, the build's disk, the
	// source, the image's check), around the step (the container made,
	// started, removed), after it (outputs hashed, compare, records).
	if b, c := ev.at(pipeline.PhaseBuild), ev.at(pipeline.PhaseCollect); !b.IsZero() && !c.IsZero() {
		r.pre, r.ctr, r.post = b.Sub(start), c.Sub(b)-r.step, end.Sub(c)
	}
	if !plainFirst {
		plainRun()
	}
	o := rr.Outputs[0]
	switch {
	case o.Verdict != nil && *o.Verdict == verdict.Identical:
		r.outcome = identical
		r.result = "identical"
	default:
		r.outcome = different
		stem := filepath.Join(out, "compare", filepath.Base(o.Path))
		r.result = "different: " + firstCause(stem+".json", stem+".txt")
		if keepDir != "" {
			dest := filepath.Join(keepDir, source)
			if err := os.MkdirAll(keepDir, 0o755); err == nil {
				os.RemoveAll(dest)
				if err := os.Rename(out, dest); err != nil {
					log.Printf("keep %s: %v", source, err)
				}
			}
		}
	}
	switch {
	case !plain:
	case perr != nil:
		r.plainSame = "plain build failed: " + perr.Error()
	default:
		r.plain = pr.Time
		r.plainCPU = pr.CPU
		if pr.Digest == o.Rebuilt {
			r.plainSame = "plain build: the same bytes"
		} else {
			r.plainSame = "plain build: other bytes " + pr.Digest.Encoded()[:12]
		}
	}
	return r
}

// firstCause finds the first difference compare gives as a cause (a leaf
// that is no effect of another, in the report's own order) and the line
// of compare's text report that shows it: the target is that a reader
// meets the cause within the text's first 15 lines.
func firstCause(reportJSON, reportText string) string {
	raw, err := os.ReadFile(reportJSON)
	if err != nil {
		return "(no report)"
	}
	var rep report.Report
	if err := json.Unmarshal(raw, &rep); err != nil || rep.Differences == nil {
		return "(no report)"
	}
	var path []*report.Node
	var find func(n *report.Node, trail []*report.Node) bool
	find = func(n *report.Node, trail []*report.Node) bool {
		if n.Effect {
			return false
		}
		trail = append(trail, n)
		if n.Leaf() {
			path = trail
			return true
		}
		for _, c := range n.Children {
			if find(c, trail) {
				return true
			}
		}
		return false
	}
	if !find(rep.Differences, nil) {
		return "(no cause: every difference is marked as an effect)"
	}
	var names []string
	what := ""
	for _, n := range path[1:] {
		names = append(names, n.Name)
		if n.Summary != "" && n.Kind != verdict.KindBytes {
			what = n.Summary
		}
	}
	leaf := path[len(path)-1]
	if leaf.Rebuilt != "" || leaf.Shipped != "" {
		what = leaf.Rebuilt + " → " + leaf.Shipped
	} else if what == "" {
		what = leaf.Summary
	}
	if len(what) > 110 {
		what = what[:107] + "..."
	}
	desc := strings.Join(names, " / ") + ": " + what
	text, err := os.ReadFile(reportText)
	if err != nil {
		return desc + " (no text report)"
	}
	// The text shows the tree in the same order, one node a line, each
	// line starting (after its indent) with the node's name.
	at, i := 0, 0
	for n, line := range strings.Split(string(text), "\n") {
		if n < 5 {
			continue // the verdict, the two files, the counts
		}
		if strings.HasPrefix(strings.TrimSpace(line), path[i].Name) {
			i++
			if i == len(path) {
				at = n + 1
				break
			}
		}
	}
	switch {
	case at == 0:
		return desc + " [cause NOT shown in the text]"
	case at > 15:
		return fmt.Sprintf("%s [cause NOT in the first 15 lines: line %d]", desc, at)
	}
	return fmt.Sprintf("%s [line %d]", desc, at)
}

// head asks the mirror whether it serves url.
func head(ctx context.Context, url string) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodHead, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	resp.Body.Close()
	return resp.StatusCode, nil
}

func download(ctx context.Context, url, dest string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	f, err := os.Create(dest)
	if err != nil {
		return err
	}
	defer f.Close()
	_, err = io.Copy(f, resp.Body)
	return err
}

// workDisk is what the builds' disks under work/ hold now.
func workDisk(dir string) int64 {
	var total int64
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		var st unix.Statfs_t
		if unix.Statfs(filepath.Join(dir, e.Name(), "disk"), &st) == nil {
			var root unix.Statfs_t
			if unix.Statfs(dir, &root) == nil && st.Fsid != root.Fsid {
				total += int64(st.Blocks-st.Bfree) * st.Bsize
			}
		}
	}
	return total
}

func human(n int64) string {
	if n == 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f MiB", float64(n)/(1<<20))
}
