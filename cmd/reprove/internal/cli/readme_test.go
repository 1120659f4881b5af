package cli

// The README's examples run in tests (issue 18). Every fenced block of
// README.md that holds commands or what a command prints is named by an HTML
// comment on the line right before it:
//
//	<!-- example: NAME -->  before a ```sh block: a script writes it with
//	                        `readme NAME` and runs it with `exec bash NAME.sh`
//	                        (or a test here reads it with readmeExample)
//	<!-- output: NAME -->   before a ```text block showing what a command
//	                        prints: a script checks that a real output holds
//	                        it, with `readme-output NAME FILE` (or a test
//	                        here, with readmeOutput)
//
// TestREADMEExamples holds the README to that: a block without a name, a
// name used twice, a named block no test runs (or a test naming a block the
// README lacks) fails it, so an example cannot be added or edited without a
// test running the new text. Where a block prints, its script pins the whole
// output with `golden FILE NAME` (testdata/golden/NAME.golden, the golden
// tests' fixups applied, -update rewrites it).

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/rogpeppe/go-internal/testscript"

	"github.com/reprove/reprove/centre/store/pgtest"
)

// readmeBlock is one fenced block of the README.
type readmeBlock struct {
	kind string // "example" or "output"; "" for a block that needs no name (yaml)
	name string
	lang string
	line int // of the opening fence, 1-based
	text string
}

var readmeMarkerRe = regexp.MustCompile(`^<!-- (example|output): ([a-z0-9][a-z0-9-]*) -->$`)

// parseREADME returns the README's fenced blocks and every problem with their
// names.
func parseREADME(b []byte) ([]readmeBlock, []error) {
	var blocks []readmeBlock
	var errs []error
	lines := strings.Split(string(b), "\n")
	for i := 0; i < len(lines); i++ {
		if !strings.HasPrefix(lines[i], "```") {
			continue
		}
		blk := readmeBlock{lang: strings.TrimSpace(strings.TrimPrefix(lines[i], "```")), line: i + 1}
		marker := false
		if i > 0 {
			if m := readmeMarkerRe.FindStringSubmatch(strings.TrimSpace(lines[i-1])); m != nil {
				blk.kind, blk.name, marker = m[1], m[2], true
			}
		}
		var body []string
		for i++; i < len(lines) && !strings.HasPrefix(lines[i], "```"); i++ {
			body = append(body, lines[i])
		}
		if i == len(lines) {
			errs = append(errs, fmt.Errorf("README.md:%d: the block is not closed", blk.line))
		}
		blk.text = strings.Join(body, "\n") + "\n"
		want := ""
		switch blk.lang {
		case "sh", "bash", "shell", "console":
			want = "example"
		case "text":
			want = "output"
		case "":
			errs = append(errs, fmt.Errorf("README.md:%d: a block without a language: say sh (commands, with <!-- example: NAME -->) or text (what a command prints, with <!-- output: NAME -->)", blk.line))
			continue
		}
		switch {
		case want == "" && marker:
			errs = append(errs, fmt.Errorf("README.md:%d: a %s block is not run, so it takes no <!-- %s: … --> name", blk.line, blk.lang, blk.kind))
		case want != "" && !marker:
			errs = append(errs, fmt.Errorf("README.md:%d: the %s block has no name: put <!-- %s: NAME --> on the line before it, and a test that runs it", blk.line, blk.lang, want))
		case want != blk.kind:
			errs = append(errs, fmt.Errorf("README.md:%d: a %s block is named as an %s; want <!-- %s: NAME -->", blk.line, blk.lang, blk.kind, want))
		}
		blocks = append(blocks, blk)
	}
	seen := map[string]int{}
	for _, blk := range blocks {
		if blk.name == "" {
			continue
		}
		key := blk.kind + " " + blk.name
		if l, ok := seen[key]; ok {
			errs = append(errs, fmt.Errorf("README.md:%d: %s %q is named at line %d already", blk.line, blk.kind, blk.name, l))
		}
		seen[key] = blk.line
	}
	return blocks, errs
}

// repoRoot is the repository's root, from this package's directory.
func repoRoot() string {
	root, err := filepath.Abs(filepath.Join("..", "..", "..", ".."))
	if err != nil {
		panic(err)
	}
	return root
}

var readmeOnce = sync.OnceValues(func() ([]readmeBlock, error) {
	b, err := os.ReadFile(filepath.Join(repoRoot(), "README.md"))
	if err != nil {
		return nil, err
	}
	blocks, errs := parseREADME(b)
	if len(errs) > 0 {
		return nil, fmt.Errorf("README.md: %v (TestREADMEExamples lists every problem)", errs[0])
	}
	return blocks, nil
})

// readmeBlockNamed returns the README's block of that kind and name.
func readmeBlockNamed(kind, name string) (readmeBlock, error) {
	blocks, err := readmeOnce()
	if err != nil {
		return readmeBlock{}, err
	}
	for _, b := range blocks {
		if b.kind == kind && b.name == name {
			return b, nil
		}
	}
	return readmeBlock{}, fmt.Errorf("README.md has no <!-- %s: %s --> block", kind, name)
}

// readmeExample returns the text of the README's example NAME, for a Go
// test that runs it (TestREADMEExamples finds such tests by this call).
func readmeExample(t *testing.T, name string) string {
	t.Helper()
	b, err := readmeBlockNamed("example", name)
	if err != nil {
		t.Fatal(err)
	}
	return b.text
}

// readmeOutput checks that got holds the README's output block NAME, as
// readme-output does in a script (TestREADMEExamples finds such tests by
// this call).
func readmeOutput(t *testing.T, name, got string) {
	t.Helper()
	b, err := readmeBlockNamed("output", name)
	if err != nil {
		t.Fatal(err)
	}
	if l, ok := matchExcerpt(b.text, got); !ok {
		t.Errorf("README.md:%d: the output %s shows a line the command does not print, in that order:\n%s\nthe command printed:\n%s", b.line, name, l, got)
	}
}

// substitute replaces each OLD=>NEW pair's OLD in text. Every OLD must occur:
// a stand-in for a README word that is no longer there is stale.
func substitute(text string, pairs []string) (string, error) {
	for _, p := range pairs {
		old, repl, ok := strings.Cut(p, "=>")
		if !ok || old == "" {
			return "", fmt.Errorf("substitution %q: want OLD=>NEW", p)
		}
		if !strings.Contains(text, old) {
			return "", fmt.Errorf("substitution %q: the block has no %q", p, old)
		}
		text = strings.ReplaceAll(text, old, repl)
	}
	return text, nil
}

// matchExcerpt reports whether every line of excerpt is a whole line of
// got, in order; "…" in excerpt stands for any text within its line. It
// returns the first excerpt line not found.
func matchExcerpt(excerpt, got string) (string, bool) {
	gotLines := strings.Split(strings.TrimRight(got, "\n"), "\n")
	j := 0
	for _, l := range strings.Split(strings.TrimRight(excerpt, "\n"), "\n") {
		parts := strings.Split(l, "…")
		for k := range parts {
			parts[k] = regexp.QuoteMeta(parts[k])
		}
		re := regexp.MustCompile("^" + strings.Join(parts, ".*") + "$")
		for j < len(gotLines) && !re.MatchString(gotLines[j]) {
			j++
		}
		if j == len(gotLines) {
			return l, false
		}
		j++
	}
	return "", true
}

func init() {
	// readme NAME [OLD=>NEW...]: write the README's example NAME to NAME.sh
	// in the current directory, with each OLD replaced by NEW: the stand-ins
	// for what a test cannot reach as written (a placeholder file name, a
	// host name), each said in the script. The README's lines are
	// commands a user types one after another, so each runs even when one
	// before it failed (as `reprove compare` exits 3 on a difference); every
	// failure is said on stderr as "README line N: exit S", and the script
	// exits with the last failure's status, 0 when every line succeeded.
	scriptCmds["readme"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) < 1 {
			ts.Fatalf("usage: readme NAME [OLD=>NEW...]")
		}
		b, err := readmeBlockNamed("example", args[0])
		ts.Check(err)
		text, err := substitute(b.text, args[1:])
		ts.Check(err)
		ts.Check(os.WriteFile(ts.MkAbs(args[0]+".sh"), []byte(readmeScriptHead+text+readmeScriptTail), 0o644))
	}
	// readme-output NAME FILE: FILE holds the README's output block NAME:
	// each of its lines, in order, "…" standing for any text in a line.
	scriptCmds["readme-output"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 2 {
			ts.Fatalf("usage: readme-output NAME FILE")
		}
		b, err := readmeBlockNamed("output", args[0])
		ts.Check(err)
		if l, ok := matchExcerpt(b.text, ts.ReadFile(args[1])); !ok {
			ts.Fatalf("README.md:%d: the output %s shows a line that %s does not hold, in that order:\n%s", b.line, args[0], args[1], l)
		}
	}
	// postgres VAR: start a private PostgreSQL for the rest of the script
	// (centre/store/pgtest: initdb and pg_ctl, a Unix socket only) and set
	// VAR to the postgres:// URL of a new database on it.
	scriptCmds["postgres"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 1 {
			ts.Fatalf("usage: postgres VAR")
		}
		c, err := pgtest.Start(context.Background())
		ts.Check(err)
		ts.Defer(c.Close)
		url, err := c.CreateDatabase(context.Background())
		ts.Check(err)
		ts.Setenv(args[0], url)
	}
	// golden FILE NAME: FILE, with the golden tests' fixups ($WORK, digests
	// numbered, durations) and dates, loopback ports and log keys replaced, equals testdata/golden/NAME.golden; -update
	// rewrites it.
	scriptCmds["golden"] = func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) != 2 {
			ts.Fatalf("usage: golden FILE NAME")
		}
		f := newFixups()
		f.path(ts.Getenv("WORK"), "$WORK")
		// Scripts run on the real clock: what they sign is dated today, and
		// a rebuild's time (and whether it built its image, which another
		// script may have done first) changes from run to run. Their
		// servers listen on ports the kernel picks, and a centre's log key
		// is made at its first start, named after the host unless --origin
		// says otherwise.
		f.rules = append([]rule{
			{regexp.MustCompile(`(?m)^built in .*? from `), "built in <durations> from "},
			// A review kept beside a rebuild's attestations is named by
			// its statement's digest, and the statement holds its time.
			{regexp.MustCompile(`\breview-[0-9a-f]{12}\.`), "review-<digest>."},
			{regexp.MustCompile(`\b\d{4}-\d\d-\d\d(T\d\d:\d\d:\d\d(\.\d+)?Z)?\b`), "<date>"},
			{regexp.MustCompile(`\b127\.0\.0\.1:\d+\b`), "127.0.0.1:<port>"},
			{regexp.MustCompile(`[^\s+]+\+[0-9a-f]{8}\+[A-Za-z0-9+/]{43,}=*`), "<log key>"},
		}, f.rules...)
		// Whether a rebuild found its inputs in the tests' shared cache
		// depends on which test fetched them first.
		f.lines = append(f.lines, regexp.MustCompile(`^\S+ \S+: from the cache \(`))
		got := f.apply(ts.ReadFile(args[0]))
		path := filepath.Join(repoRoot(), "cmd", "reprove", "internal", "cli", "testdata", "golden", args[1]+".golden")
		if *update {
			ts.Check(os.MkdirAll(filepath.Dir(path), 0o755))
			ts.Check(os.WriteFile(path, []byte(got), 0o644))
			return
		}
		want, err := os.ReadFile(path)
		if err != nil {
			ts.Fatalf("%v (run with -update to create it)", err)
		}
		if diff := cmp.Diff(string(want), got); diff != "" {
			ts.Fatalf("%s against %s (-want +got):\n%s", args[0], path, diff)
		}
	}
}

// readmeNotRun lists the README's blocks no test runs, each with the reason.
// It is the whole list of what the README shows and no test backs: keep it
// short, and say why each one stays.
var readmeNotRun = map[string]string{
	"example rebuild-snapshot": "rebuilds a Debian package (about 14 minutes here) from a snapshot archive, which the test machines cannot reach; pipeline's TestDebianPackageEndToEnd rebuilds the same package, from the mirror, through the same library calls",
	"example fleet":            "its worker would rebuild every catalogue recipe and every release the watchers enqueue (hours of builds); fleet.txtar runs the queue's commands and fleet/fleettest runs reprove worker processes on a real queue and centre",
	"example infer-npm":        "needs a clone of github.com/evanw/esbuild, and GitHub is not reachable from the machines the tests run on; infer.txtar runs --member on an npm-style .tgz made in the test",
}

// The lines around a README block in NAME.sh: one line before it, so that
// bash's line numbers less one are the block's.
const (
	readmeScriptHead = `set -uo pipefail; readme_exit=0; trap 'readme_exit=$?; echo "README line $((LINENO-1)): exit $readme_exit" >&2' ERR` + "\n"
	readmeScriptTail = "exit $readme_exit\n"
)

var (
	scriptReadmeRe = regexp.MustCompile(`(?m)^\s*(?:\[[^\]]*\]\s*)*readme\s+(\S+)`)
	scriptOutputRe = regexp.MustCompile(`(?m)^\s*(?:\[[^\]]*\]\s*)*readme-output\s+(\S+)`)
	goExampleRe    = regexp.MustCompile(`readmeExample\(t, "([^"]+)"\)`)
	goOutputRe     = regexp.MustCompile(`readmeOutput\(t, "([^"]+)"`)
)

// TestREADMEExamples: every command block of the README is named and run by
// a test, every output block is checked by one, and every test names a block
// the README has.
func TestREADMEExamples(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(repoRoot(), "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	blocks, errs := parseREADME(b)
	for _, err := range errs {
		t.Error(err)
	}

	// Who runs what: scripts, and Go tests of this package.
	runners := map[string][]string{} // "example NAME" / "output NAME" → files
	scripts, err := filepath.Glob(filepath.Join("testdata", "script", "*.txtar"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range scripts {
		body, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		// Only the script itself, not its files.
		text, _, _ := strings.Cut(string(body), "\n-- ")
		for _, m := range scriptReadmeRe.FindAllStringSubmatch(text, -1) {
			runners["example "+m[1]] = append(runners["example "+m[1]], s)
			if !regexp.MustCompile(`(?m)^.*exec (bash|readme-sh) .*\b` + regexp.QuoteMeta(m[1]) + `\.sh\b`).MatchString(text) {
				t.Errorf("%s writes the README's example %s but runs no `exec bash %s.sh` (or readme-sh)", s, m[1], m[1])
			}
		}
		for _, m := range scriptOutputRe.FindAllStringSubmatch(text, -1) {
			runners["output "+m[1]] = append(runners["output "+m[1]], s)
		}
	}
	gofiles, err := filepath.Glob("*_test.go")
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range gofiles {
		if f == "readme_test.go" {
			continue
		}
		body, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range goExampleRe.FindAllStringSubmatch(string(body), -1) {
			runners["example "+m[1]] = append(runners["example "+m[1]], f)
		}
		for _, m := range goOutputRe.FindAllStringSubmatch(string(body), -1) {
			runners["output "+m[1]] = append(runners["output "+m[1]], f)
		}
	}

	named := map[string]bool{}
	for _, blk := range blocks {
		if blk.name == "" {
			continue
		}
		key := blk.kind + " " + blk.name
		named[key] = true
		reason, waived := readmeNotRun[key]
		switch {
		case waived && len(runners[key]) > 0:
			t.Errorf("README.md:%d: the %s %q is run by %s now: take it off readmeNotRun", blk.line, blk.kind, blk.name, strings.Join(runners[key], ", "))
		case waived:
			t.Logf("README.md:%d: the %s %q is not run: %s", blk.line, blk.kind, blk.name, reason)
		case len(runners[key]) == 0:
			verb := "runs"
			if blk.kind == "output" {
				verb = "checks"
			}
			t.Errorf("README.md:%d: no test %s the %s %q (a script under testdata/script: `readme %s` then `exec bash %s.sh`, or readme-output for an output)",
				blk.line, verb, blk.kind, blk.name, blk.name, blk.name)
		}
	}
	var unknown []string
	for key := range readmeNotRun {
		if !named[key] {
			unknown = append(unknown, fmt.Sprintf("readmeNotRun lists the README's %s, which README.md does not have", key))
		}
	}
	for key, files := range runners {
		if !named[key] {
			unknown = append(unknown, fmt.Sprintf("%s names the README's %s, which README.md does not have", strings.Join(files, ", "), key))
		}
	}
	slices.Sort(unknown)
	for _, u := range unknown {
		t.Error(u)
	}
}

func TestParseREADME(t *testing.T) {
	readme := "# x\n\n<!-- example: one -->\n```sh\necho one\n```\n\n```yaml\na: 1\n```\n" +
		"<!-- output: one -->\n```text\none\n```\n```sh\necho unnamed\n```\n```\nbare\n```\n" +
		"<!-- example: one -->\n```sh\necho again\n```\n<!-- example: two -->\n```text\nx\n```\n"
	blocks, errs := parseREADME([]byte(readme))
	var got []string
	for _, b := range blocks {
		got = append(got, fmt.Sprintf("%d %s %s %s %q", b.line, b.lang, b.kind, b.name, b.text))
	}
	want := []string{
		`4 sh example one "echo one\n"`,
		`8 yaml   "a: 1\n"`,
		`12 text output one "one\n"`,
		`15 sh   "echo unnamed\n"`,
		`22 sh example one "echo again\n"`,
		`26 text example two "x\n"`,
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("blocks (-want +got):\n%s", diff)
	}
	var gotErrs []string
	for _, e := range errs {
		gotErrs = append(gotErrs, e.Error())
	}
	wantErrs := []string{
		"README.md:15: the sh block has no name: put <!-- example: NAME --> on the line before it, and a test that runs it",
		"README.md:18: a block without a language: say sh (commands, with <!-- example: NAME -->) or text (what a command prints, with <!-- output: NAME -->)",
		"README.md:26: a text block is named as an example; want <!-- output: NAME -->",
		`README.md:22: example "one" is named at line 4 already`,
	}
	if diff := cmp.Diff(wantErrs, gotErrs); diff != "" {
		t.Errorf("problems (-want +got):\n%s", diff)
	}
}

func TestMatchExcerpt(t *testing.T) {
	got := "first\nverified: sha256:12c8dfe6 is hello 1.0, by A\nnote: x\nlast\n"
	for _, tt := range []struct {
		excerpt string
		ok      bool
	}{
		{"verified: sha256:12c8… is hello 1.0, by A\nlast\n", true},
		{"first\nlast\n", true},
		{"last\nfirst\n", false},                         // out of order
		{"verified: sha256:12c8… is hello 1.0\n", false}, // a whole line, not a prefix
		{"note: y\n", false},
	} {
		if _, ok := matchExcerpt(tt.excerpt, got); ok != tt.ok {
			t.Errorf("matchExcerpt(%q) = %v, want %v", tt.excerpt, ok, tt.ok)
		}
	}
	if _, err := substitute("reprove rebuild RECIPE\n", []string{"RECIPE=>r.yaml"}); err != nil {
		t.Error(err)
	}
	if _, err := substitute("reprove rebuild RECIPE\n", []string{"RECIPES=>r.yaml"}); err == nil {
		t.Error("a stale substitution was accepted")
	}
}
