// Command benchverify measures what a customer waits for: `reprove verify`
// of the demo's gofmt (the Go 1.26.8 distribution's, 3.1 MB) against four
// attestations (a review, a rebuild, a verification summary and its
// comparison), paired with `sha256sum` of the same file, which is the least
// any check of a download costs. The two run alternately, so that load
// from other work falls on both alike; it prints medians of wall time and
// of CPU time (user + system, from the kernel's accounting) and fails when
// reprove's median wall time exceeds sha256sum's by more than -max-extra.
//
// It also prints what reprove's package initialisers cost at start-up
// (GODEBUG=inittrace=1): every command pays it before doing anything;
// and how many garbage collections one verify makes (none, when start-up
// and the check together stay under the runtime's first 4 MB heap goal).
//
// The attestations are made by the reprove binary under test (key
// generate, review, attest rebuild, attest summary) with the file itself
// as the rebuilt output, as `make demo` makes them after a real rebuild.
// `make bench` runs it through ci/bench-verify.sh.
package main

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/reprove/reprove/ci/internal/benchwork"
)

func main() {
	reprove := flag.String("reprove", "bin/reprove", "the reprove binary")
	verifyOnly := flag.String("verify-only", "", "also time this verify-only binary (ci/benchverify/verifyonly), for information")
	file := flag.String("file", "", "the file to verify (default: gofmt of the Go installation running this)")
	runs := flag.Int("runs", 40, "measured runs of each side")
	maxExtra := flag.Duration("max-extra", 15*time.Millisecond, "highest acceptable median wall time of reprove verify above sha256sum's")
	flag.Parse()
	log.SetFlags(0)
	log.SetPrefix("bench-verify: ")
	if *file == "" {
		out, err := exec.Command("go", "env", "GOROOT").Output()
		if err != nil {
			benchwork.Fatalf("go env GOROOT: %v", err)
		}
		*file = filepath.Join(strings.TrimSpace(string(out)), "bin", "gofmt")
	}
	bin, err := filepath.Abs(*reprove)
	if err != nil {
		benchwork.Fatal(err)
	}
	work := benchwork.TempDir("bench-verify-")
	defer benchwork.Cleanup()
	target := filepath.Join(work, "gofmt")
	if err := copyFile(*file, target); err != nil {
		benchwork.Fatal(err)
	}
	fi, _ := os.Stat(target)
	makeAttestations(bin, work, target)

	verify := []string{bin, "verify", target, "--policy", filepath.Join(work, "policy.yaml"), "-a", filepath.Join(work, "att")}
	sha := []string{"sha256sum", target}
	if out, err := exec.Command(verify[0], verify[1:]...).CombinedOutput(); err != nil || !bytes.HasPrefix(out, []byte("verified: ")) {
		benchwork.Fatalf("reprove verify did not verify (%v):\n%s", err, out)
	}
	sides := []*side{{name: "sha256sum", argv: sha}, {name: "reprove verify", argv: verify}}
	if *verifyOnly != "" {
		vo, _ := filepath.Abs(*verifyOnly)
		sides = append(sides, &side{name: "verify-only binary", argv: []string{vo, filepath.Join(work, "policy.yaml"), target, filepath.Join(work, "att")}})
	}
	for _, s := range sides { // warm the page cache and the binaries
		for range 3 {
			s.run(false)
		}
	}
	for range *runs {
		for _, s := range sides {
			s.run(true)
		}
	}
	fmt.Printf("file: %s, %.1f MB; attestations: 4 (review, rebuild, verification summary, comparison); %d paired runs\n",
		*file, float64(fi.Size())/1e6, *runs)
	fmt.Printf("load average: %s\n", loadavg())
	for _, s := range sides {
		fmt.Printf("%-20s wall median %6.1f ms (p90 %6.1f)   cpu median %6.1f ms\n", s.name, ms(median(s.wall)), ms(pct(s.wall, 0.9)), ms(median(s.cpu)))
	}
	initCost(bin)
	fmt.Printf("garbage collections in one reprove verify: %d\n", collections(verify))
	// On a quiet machine the wall time is what the customer waits for.
	// On a loaded one (more runnable work than cores) it measures the run
	// queue, which stretches both sides alike, their difference too; the
	// CPU time (the kernel's account of the process alone) is then the
	// fair comparison, and the line says which was judged.
	judged, a, b := "wall", median(sides[1].wall), median(sides[0].wall)
	if loaded() {
		judged, a, b = "cpu (the machine is loaded)", median(sides[1].cpu), median(sides[0].cpu)
	}
	extra := a - b
	verdict := "ok"
	if extra > *maxExtra {
		verdict = fmt.Sprintf("MISSED (target: at most sha256sum + %v)", *maxExtra)
	}
	fmt.Printf("reprove verify - sha256sum: %+.1f ms %s (%.2fx): %s\n", ms(extra), judged, float64(a)/float64(b), verdict)
	if verdict != "ok" {
		benchwork.Exit(1)
	}
}

type side struct {
	name      string
	argv      []string
	wall, cpu []time.Duration
}

func (s *side) run(keep bool) {
	cmd := exec.Command(s.argv[0], s.argv[1:]...)
	start := time.Now()
	out, err := cmd.Output()
	wall := time.Since(start)
	if err != nil {
		benchwork.Fatalf("%s: %v\n%s", strings.Join(s.argv, " "), err, out)
	}
	if keep {
		s.wall = append(s.wall, wall)
		s.cpu = append(s.cpu, cmd.ProcessState.UserTime()+cmd.ProcessState.SystemTime())
	}
}

// makeAttestations signs the chain with the binary under test: a reviewer
// and a rebuilder key, a review of the source, the rebuild's provenance with
// the file as its output, and the summary (a VSA and its comparison).
func makeAttestations(bin, work, target string) {
	run := func(args ...string) {
		cmd := exec.Command(bin, args...)
		cmd.Dir = work
		cmd.Env = append(os.Environ(), "REPROVE_PASSWORD=bench")
		if out, err := cmd.CombinedOutput(); err != nil {
			benchwork.Fatalf("reprove %s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	if err := os.Mkdir(filepath.Join(work, "att"), 0o755); err != nil {
		benchwork.Fatal(err)
	}
	run("key", "generate", "--output-key-prefix", "reviewer")
	run("key", "generate", "--output-key-prefix", "rebuilder")
	tree := "sha256:" + hexSum([]byte("the go1.26.8 source tree"))
	src := "https://go.dev/dl/go1.26.8.src.tar.gz"
	run("review", "--key", "reviewer.key", "--source-uri", src, "--tree", tree, "--reviewer", "mailto:reviewer@example.org",
		"--reviewer-name", "Reviewer", "--verdict", "approved", "-o", "att/review.intoto.json")
	b, err := os.ReadFile(target)
	if err != nil {
		benchwork.Fatal(err)
	}
	result := fmt.Sprintf(`{"schemaVersion":1,"recipe":{"name":"gofmt","version":"go1.26.8","uri":"recipes/catalogue/gofmt-go1.26.8.yaml","digest":%q},
"source":{"uri":%q,"tree":%q},"builderId":"https://rebuild.example.org/reprove","reproveVersion":"bench",
"commands":[["bash","make.bash"]],"startedOn":"2026-11-10T08:00:00Z","finishedOn":"2026-11-10T08:03:40Z","exitCode":0,
"outputs":[{"name":"gofmt","digest":"sha256:%s"}]}`, tree, src, tree, hexSum(b))
	if err := os.WriteFile(filepath.Join(work, "rebuild.json"), []byte(result), 0o644); err != nil {
		benchwork.Fatal(err)
	}
	run("attest", "rebuild", "--key", "rebuilder.key", "--result", "rebuild.json", "-o", "att/rebuild.intoto.json")
	run("attest", "summary", "--key", "rebuilder.key", "--shipped", target, "--rebuild", "att/rebuild.intoto.json",
		"--review", "att/review.intoto.json", "-o", "att/summary.intoto.json")
	policy := "version: 1\nreviewers: {threshold: 1, keys: [{name: Reviewer, key: reviewer.pub}]}\n" +
		"rebuilders: {threshold: 1, keys: [{name: Rebuilder, key: rebuilder.pub}]}\n"
	if err := os.WriteFile(filepath.Join(work, "policy.yaml"), []byte(policy), 0o644); err != nil {
		benchwork.Fatal(err)
	}
}

// initCost prints the package initialisers' total and the costliest, from
// GODEBUG=inittrace=1 of `reprove version` (the median of 9 runs' totals):
// the allocations (which load does not change) by module, with reprove's
// own packages apart, since they are the ones this project can make lazy.
func initCost(bin string) {
	type initRec struct {
		pkg    string
		clock  float64
		allocs int
	}
	var totals []float64
	var last []initRec
	for range 9 {
		cmd := exec.Command(bin, "version")
		cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Run(); err != nil {
			benchwork.Fatalf("reprove version: %v", err)
		}
		last = last[:0]
		total := 0.0
		sc := bufio.NewScanner(&stderr)
		for sc.Scan() {
			// init PKG @T ms, C ms clock, B bytes, A allocs
			f := strings.Fields(sc.Text())
			if len(f) < 10 || f[0] != "init" {
				continue
			}
			c, _ := strconv.ParseFloat(f[4], 64)
			a, _ := strconv.Atoi(f[9])
			last = append(last, initRec{f[1], c, a})
			total += c
		}
		totals = append(totals, total)
	}
	sort.Float64s(totals)
	mods := modules(bin)
	allocs, own := 0, 0
	byModule := map[string]int{}
	for _, i := range last {
		allocs += i.allocs
		m := moduleOf(i.pkg, mods)
		byModule[m] += i.allocs
		if m == "github.com/reprove/reprove" {
			own += i.allocs
		}
	}
	type modAllocs struct {
		mod    string
		allocs int
	}
	var ranked []modAllocs
	for m, a := range byModule {
		ranked = append(ranked, modAllocs{m, a})
	}
	sort.Slice(ranked, func(a, b int) bool {
		if ranked[a].allocs != ranked[b].allocs {
			return ranked[a].allocs > ranked[b].allocs
		}
		return ranked[a].mod < ranked[b].mod
	})
	fmt.Printf("start-up: %d package initialisers, %.1f ms (median of 9), %d allocations, %d of them in reprove's own packages; by module:", len(last), totals[len(totals)/2], allocs, own)
	for i, m := range ranked[:min(6, len(ranked))] {
		sep := ","
		if i == 0 {
			sep = ""
		}
		fmt.Printf("%s %s %d", sep, m.mod, m.allocs)
	}
	fmt.Println()
}

// modules lists the module paths bin was built from (go version -m), the
// main module among them.
func modules(bin string) []string {
	out, err := exec.Command("go", "version", "-m", bin).Output()
	if err != nil {
		benchwork.Fatalf("go version -m: %v", err)
	}
	var mods []string
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) >= 2 && (f[0] == "mod" || f[0] == "dep") {
			mods = append(mods, f[1])
		}
	}
	return mods
}

// moduleOf is the longest of mods that pkg is in, or "std".
func moduleOf(pkg string, mods []string) string {
	best := "std"
	for _, m := range mods {
		if (pkg == m || strings.HasPrefix(pkg, m+"/")) && (best == "std" || len(m) > len(best)) {
			best = m
		}
	}
	return best
}

// collections counts the garbage collections one run of argv makes
// (GODEBUG=gctrace=1 prints a line for each): a short command whose start-up
// and work stay under the runtime's first heap goal (4 MB) makes none.
func collections(argv []string) int {
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = append(os.Environ(), "GODEBUG=gctrace=1")
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		benchwork.Fatalf("%s: %v", strings.Join(argv, " "), err)
	}
	n := 0
	for _, line := range strings.Split(stderr.String(), "\n") {
		if strings.HasPrefix(line, "gc ") {
			n++
		}
	}
	return n
}

func median(d []time.Duration) time.Duration { return pct(d, 0.5) }

func pct(d []time.Duration, p float64) time.Duration {
	s := append([]time.Duration(nil), d...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[int(float64(len(s)-1)*p+0.5)]
}

func ms(d time.Duration) float64 { return float64(d) / 1e6 }

func hexSum(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// loaded reports whether the one-minute load average exceeds the number
// of CPUs.
func loaded() bool {
	f := strings.Fields(loadavg())
	if len(f) == 0 {
		return false
	}
	l, err := strconv.ParseFloat(f[0], 64)
	return err == nil && l > float64(runtime.NumCPU())
}

func loadavg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	return strings.Join(strings.Fields(string(b))[:3], " ")
}

func copyFile(from, to string) error {
	in, err := os.Open(from)
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.Create(to)
	if err != nil {
		return err
	}
	if _, err := io.Copy(out, in); err != nil {
		out.Close()
		return err
	}
	return out.Close()
}
