package cli

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// Golden tests pin whole outputs of the main commands, as govulncheck's
// do: stdout, stderr and the exit code, after fixups that replace what
// differs between runs (digests, temporary paths, durations) with stable
// names. Refresh with `go test ./internal/cli -run Golden -update` and read
// the diff before committing it.
var update = flag.Bool("update", false, "rewrite the golden files under testdata/golden")

// goldenClock is the fixed time every golden run sees.
var goldenClock = time.Date(2026, 12, 1, 12, 0, 0, 0, time.UTC)

// transcript runs reprove in-process and records what a user sees.
type transcript struct {
	t    *testing.T
	dir  string // the run's working directory: becomes $WORK
	env  map[string]string
	b    strings.Builder
	fix  *fixups
	cwd0 string
}

func newTranscript(t *testing.T) *transcript {
	t.Helper()
	dir := t.TempDir()
	// Resolve symlinks so that the paths reprove prints match.
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	cwd, _ := os.Getwd()
	tr := &transcript{t: t, dir: dir, env: map[string]string{}, fix: newFixups(), cwd0: cwd}
	tr.fix.path(dir, "$WORK")
	return tr
}

// run runs one command from the transcript's directory and appends it.
func (tr *transcript) run(args ...string) int {
	tr.t.Helper()
	if err := os.Chdir(tr.dir); err != nil {
		tr.t.Fatal(err)
	}
	defer os.Chdir(tr.cwd0)
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, Env{
		Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) string { return tr.env[k] },
		Now:    func() time.Time { return goldenClock },
	})
	fmt.Fprintf(&tr.b, "$ reprove %s\n", strings.Join(args, " "))
	tr.b.WriteString(stdout.String())
	if stderr.Len() > 0 {
		tr.b.WriteString("[stderr]\n")
		tr.b.WriteString(stderr.String())
	}
	fmt.Fprintf(&tr.b, "[exit %d]\n\n", code)
	return code
}

// check compares the transcript, fixed up, with testdata/golden/NAME.golden.
func (tr *transcript) check(name string) {
	tr.t.Helper()
	got := tr.fix.apply(tr.b.String())
	path := filepath.Join(tr.cwd0, "testdata", "golden", name+".golden")
	if *update {
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			tr.t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		tr.t.Fatalf("%v (run with -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), got); diff != "" {
		tr.t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

// fixups turn a run's varying parts into stable names. Digests are numbered
// by first appearance, so a digest that appears twice keeps one name and
// two different digests never share one.
type fixups struct {
	paths   [][2]string
	digests map[string]string
	lines   []*regexp.Regexp // lines dropped whole
	rules   []rule
}

type rule struct {
	re   *regexp.Regexp
	repl string
}

// digestRe matches a digest and the column gap after it: in a table
// (two spaces or more follow) the name is padded to the digest's width, so
// that the columns after it stay aligned as the user sees them.
var digestRe = regexp.MustCompile(`sha256:[0-9a-f]{64}(  +)?`)

func newFixups() *fixups {
	return &fixups{
		digests: map[string]string{},
		lines: []*regexp.Regexp{
			// Whether this run starts reprove's containerd or joins one
			// that another test started is not the command's output.
			regexp.MustCompile(`^reprove: runtime `),
			// Housekeeping of a shared cache after other runs were killed.
			regexp.MustCompile(`^reprove: \w+ +removed the work directories of `),
		},
		rules: []rule{
			{regexp.MustCompile(`\b\d+(\.\d+)?(ns|µs|ms|s|m)\b( \d+(\.\d+)?s)?`), "<duration>"},
			{regexp.MustCompile(`\d{8}T\d{6}\.\d{9}Z-\d+`), "<stamp>"},
			{regexp.MustCompile(`\.partial-[0-9a-f]{8}`), ".partial-<rand>"},
			{regexp.MustCompile(`linux/amd64|linux/arm64`), "<platform>"},
		},
	}
}

func (f *fixups) path(p, name string) { f.paths = append(f.paths, [2]string{p, name}) }

func (f *fixups) apply(s string) string {
	for _, p := range f.paths {
		s = strings.ReplaceAll(s, p[0], p[1])
	}
	s = digestRe.ReplaceAllStringFunc(s, func(m string) string {
		d := m[:len("sha256:")+64]
		n, ok := f.digests[d]
		if !ok {
			n = fmt.Sprintf("sha256:<%d>", len(f.digests)+1)
			f.digests[d] = n
		}
		if len(m) > len(d) {
			return n + strings.Repeat(" ", max(len(m)-len(n), 2))
		}
		return n
	})
	for _, r := range f.rules {
		s = r.re.ReplaceAllString(s, r.repl)
	}
	var out []string
	for _, l := range strings.Split(s, "\n") {
		drop := false
		for _, re := range f.lines {
			if re.MatchString(l) {
				drop = true
			}
		}
		if !drop {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		os.MkdirAll(filepath.Dir(p), 0o755)
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func TestFixups(t *testing.T) {
	f := newFixups()
	f.path("/tmp/x", "$WORK")
	a, b := strings.Repeat("a", 64), strings.Repeat("b", 64)
	got := f.apply("sha256:" + a + " /tmp/x/out sha256:" + b + " sha256:" + a + "\nreprove: runtime starting\nbuilt in 1.234s\n" +
		"  A  sha256:" + a + "  sha256:" + b + "  same\n")
	want := "sha256:<1> $WORK/out sha256:<2> sha256:<1>\nbuilt in <duration>\n" +
		"  A  sha256:<1>" + strings.Repeat(" ", 63) + "sha256:<2>" + strings.Repeat(" ", 63) + "same\n"
	if got != want {
		t.Errorf("fixups:\n got %q\nwant %q", got, want)
	}
}
