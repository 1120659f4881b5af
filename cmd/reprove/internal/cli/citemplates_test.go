package cli

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/reprove/reprove/builder/buildertest"
	"github.com/reprove/reprove/centre"
	"github.com/reprove/reprove/centre/centretest"
	"github.com/reprove/reprove/centre/item"
)

// TestCITemplates runs the release-engineer templates under ci/ the way
// their platforms would, on this machine: every job of the GitHub workflow
// and of the GitLab pipeline, in the order their `needs` give, each on a
// fresh "runner" (its own workspace, home and temporary directory: jobs
// share only what the platform carries between them, artifacts and the
// release), every `run:` step or `script:` line for real in bash, with the
// real reprove: installed by the template's own `go install` from a Go
// module proxy serving a tagged copy of this repository, then infer, check,
// a rebuild in containerd, signing, and publishing to a real transparency
// centre. The project is a tiny Go program whose release build is
// `make release`. What only the platform has gets a stand-in, named here:
//
//   - the Go module proxy and checksum database: GOPROXY is a file://
//     proxy holding this repository as v0.1.0-test-HASH (uncommitted
//     changes included), then the machine's module cache, then the real
//     proxy (for the checksum database); GONOSUMDB names reprove, which no
//     checksum database knows. REPROVE_VERSION is set to that version.
//   - actions/checkout and GitLab's clone: a clone of the project at its
//     tag (full when the template asks for it, shallow otherwise)
//   - actions/setup-go: Go is already on PATH (/usr/local/go)
//   - actions/upload-artifact, actions/download-artifact and GitLab's
//     artifacts: files copied to and from a store shared by the run
//   - actions/cache and GitLab's cache: nothing is restored (a first run);
//     the paths are checked to lie under the job's reprove cache
//   - GitHub releases: `gh` is a script that keeps releases in a directory,
//     refuses to upload to a release that does not exist, to create one for
//     a tag the project lacks, and to write unless the job's token may
//     (its `permissions: contents: write`)
//   - GitLab's API: an HTTP server speaking the part of API v4 the template
//     uses (releases, release links, the generic package registry),
//     checking the job token; the CI/CD variables scoped to the
//     reprove-signing environment (the key and its password) reach only
//     jobs that name that environment
//   - `sudo`: the tests run as root; its options are dropped
//   - `apt-get`: the packages are installed by ci/setup.sh; the stand-in
//     checks that each one asked for is installed
//   - the runner's environment names REPROVE_CACHE (as a runner that keeps
//     reprove's cache would), the tests' shared cache, so base images are
//     built once per machine
//
// The GitHub workflow runs with an auditor's review (REPROVE_REVIEW_URL) and
// the GitLab pipeline without one; both publish to a centre. The release is
// then verified the way a customer would: the binary against the
// attestations and the log bundle downloaded from it, under a policy that
// names the centre's log.
func TestCITemplates(t *testing.T) {
	buildertest.NeedContainerd(t)
	for _, bin := range []string{"git", "make", "curl", "bash"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is needed: %v", bin, err)
		}
	}
	h := newTemplateHarness(t)
	t.Run("github", func(t *testing.T) {
		run := h.newRun(t, true)
		run.github(t, "../../../../ci/github/reprove.yml")
		run.verifyRelease(t, run.githubRelease(t))
	})
	t.Run("gitlab", func(t *testing.T) {
		run := h.newRun(t, false)
		lab := run.gitlab(t, "../../../../ci/gitlab/reprove.gitlab-ci.yml")
		run.verifyRelease(t, lab.releaseFiles(t, run))
	})
}

// templateHarness is what every run shares: the reprove under test, the
// stand-ins, the project, the keys and the centre.
type templateHarness struct {
	dir      string // shared by the runs
	reprove  string // installed from the proxy, as the templates install it
	standins string
	proxy    *localProxy
	project  string // the vendor's repository, tagged v1.0.0
	commit   string
	realGo   string
	goCache  string
	modCache string
	cache    string // reprove's, shared by the tests
	keys     string // rebuilder.key/.pub, auditor.key/.pub
}

const templatePassword = "ci-secret"

func newTemplateHarness(t *testing.T) *templateHarness {
	t.Helper()
	h := &templateHarness{dir: t.TempDir()}
	var err error
	if h.realGo, err = exec.LookPath("go"); err != nil {
		h.realGo = "/usr/local/go/bin/go"
	}
	h.cache = buildertest.CacheDir(t)
	out, err := exec.Command(h.realGo, "env", "GOCACHE", "GOMODCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	h.goCache, h.modCache = lines[0], lines[1]
	h.proxy = newLocalProxy(t, filepath.Join(h.dir, "goproxy"))
	t.Cleanup(func() { h.proxy.removeFromModCache(t, h.modCache) })
	h.writeStandins(t)
	// reprove as the templates install it; the harness uses it too (keys,
	// the review, the customer's verify).
	start := time.Now()
	bin := filepath.Join(h.dir, "bin")
	h.sh(t, h.dir, []string{"GOBIN=" + bin}, h.realGo, "install", repoModule+"/cmd/reprove@"+h.proxy.Version)
	t.Logf("go install %s@%s: %v", repoModule, h.proxy.Version, time.Since(start).Round(time.Second))
	h.reprove = filepath.Join(bin, "reprove")
	h.makeProject(t)
	h.keys = filepath.Join(h.dir, "keys")
	os.MkdirAll(h.keys, 0o755)
	for _, who := range []string{"rebuilder", "auditor"} {
		h.sh(t, h.dir, nil, h.reprove, "key", "generate", "--output-key-prefix", filepath.Join(h.keys, who))
	}
	return h
}

// startCentre runs a real centre for one run that knows the rebuilder's
// and the auditor's keys, as its operator would have registered them.
func (r *templateRun) startCentre(t *testing.T) {
	t.Helper()
	h := r.h
	r.centre = centretest.Start(t, centretest.Options{})
	ctx := context.Background()
	st, err := centre.OpenStore(ctx, centre.Config{DataDir: r.centre.Dir})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	for _, k := range []struct {
		name string
		role item.Role
	}{{"rebuilder", item.Rebuilder}, {"auditor", item.Reviewer}} {
		pem, err := os.ReadFile(filepath.Join(h.keys, k.name+".pub"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := centre.AddKey(ctx, st, "ci-"+k.name, k.role, pem, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	b, err := os.ReadFile(centre.VerifierKeyPath(r.centre.Dir))
	if err != nil {
		t.Fatal(err)
	}
	r.logKey = strings.TrimSpace(string(b))
}

// sh runs a command with a runner's environment plus env, failing the test
// on error; it returns stdout.
func (h *templateHarness) sh(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(h.baseEnv(filepath.Join(h.dir, "home")), env...)
	cmd.Env = append(cmd.Env, "REPROVE_PASSWORD="+templatePassword)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// baseEnv is a CI runner's: PATH, HOME, the stand-in module proxy and the
// reprove cache, little else. The host's GOFLAGS (-buildvcs=false here)
// must not reach the release build or reprove.
func (h *templateHarness) baseEnv(home string) []string {
	os.MkdirAll(home, 0o755)
	return []string{
		"PATH=" + h.standins + ":" + filepath.Dir(h.realGo) + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + home,
		"GOCACHE=" + h.goCache,
		"GOPATH=" + filepath.Join(home, "go"),
		"GOMODCACHE=" + h.modCache,
		"GOPROXY=" + h.proxy.URL() + ",file://" + filepath.Join(h.modCache, "cache", "download") + ",https://proxy.golang.org",
		"GONOSUMDB=" + repoModule,
		"GOTOOLCHAIN=local",
		"REPROVE_CACHE=" + h.cache,
		"LANG=C.UTF-8",
	}
}

func (h *templateHarness) writeStandins(t *testing.T) {
	t.Helper()
	h.standins = filepath.Join(h.dir, "standins")
	os.MkdirAll(h.standins, 0o755)
	scripts := map[string]string{
		"sudo": `#!/bin/sh
# Stand-in for sudo: the tests run as root.
while [ $# -gt 0 ]; do case "$1" in -*) shift;; *) break;; esac; done
exec "$@"
`,
		"apt-get": `#!/bin/sh
# Stand-in for apt-get: ci/setup.sh installed the packages; check each.
[ "$1" = install ] || exit 0
shift
for p in "$@"; do
	case "$p" in -*) continue;; esac
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || { echo "apt-get stand-in: $p is not installed" >&2; exit 100; }
done
`,
		"gh": ghStandin,
	}
	for name, body := range scripts {
		if err := os.WriteFile(filepath.Join(h.standins, name), []byte(body), 0o755); err != nil {
			t.Fatal(err)
		}
	}
}

// makeProject writes the vendor's project: a Go program whose release build
// is `make release`, as shipped Go binaries are built (-trimpath, -s -w,
// CGO off, stamped with the commit), committed and tagged.
func (h *templateHarness) makeProject(t *testing.T) {
	t.Helper()
	h.project = filepath.Join(h.dir, "project")
	os.MkdirAll(h.project, 0o755)
	files := map[string]string{
		"go.mod":     "module example.com/app\n\ngo 1.22\n",
		"main.go":    "package main\n\nimport \"fmt\"\n\nfunc main() { fmt.Println(\"app 1.0.0\") }\n",
		"Makefile":   "release:\n\tmkdir -p dist\n\tCGO_ENABLED=0 go build -trimpath -ldflags=\"-s -w\" -o dist/app .\n",
		".gitignore": "/dist/\n",
	}
	for n, b := range files {
		os.WriteFile(filepath.Join(h.project, n), []byte(b), 0o644)
	}
	env := []string{"GIT_AUTHOR_DATE=2026-11-02T10:00:00Z", "GIT_COMMITTER_DATE=2026-11-02T10:00:00Z"}
	git := func(args ...string) string {
		return h.sh(t, h.project, env, "git", append([]string{"-c", "user.name=Vendor", "-c", "user.email=v@example.com"}, args...)...)
	}
	git("init", "-q", "-b", "main")
	git("add", ".")
	git("commit", "-q", "-m", "release 1.0.0")
	git("tag", "v1.0.0")
	h.commit = strings.TrimSpace(git("rev-parse", "HEAD"))
}

// templateRun is one run of one template: its runners, artifacts and
// release live under dir.
type templateRun struct {
	h         *templateHarness
	dir       string
	artifacts string
	releases  string // GitHub's, kept by the gh stand-in
	reviewURL string
	jobs      int
	centre    *centretest.Centre // each run publishes to its own
	logKey    string             // the centre's verifier key
}

func (h *templateHarness) newRun(t *testing.T, withReview bool) *templateRun {
	t.Helper()
	r := &templateRun{h: h, dir: t.TempDir()}
	r.artifacts = filepath.Join(r.dir, "artifacts")
	r.releases = filepath.Join(r.dir, "releases")
	r.startCentre(t)
	if withReview {
		review := filepath.Join(r.dir, "published", "review.intoto.json")
		os.MkdirAll(filepath.Dir(review), 0o755)
		h.sh(t, r.dir, nil, h.reprove, "review", "--key", filepath.Join(h.keys, "auditor.key"),
			"--source-uri", "git+file://"+h.project, "--commit", h.commit, "--tree-dir", h.project,
			"--reviewer", "mailto:auditor@example.com", "--reviewer-name", "Auditor", "--verdict", "approved",
			"-o", review)
		r.reviewURL = "file://" + review
	}
	return r
}

// runner is a fresh machine for one job: nothing of another job's is on it.
type runner struct {
	dir, workspace, home, temp string
}

func (r *templateRun) newRunner(t *testing.T, job string) *runner {
	t.Helper()
	r.jobs++
	m := &runner{dir: filepath.Join(r.dir, "runners", job)}
	m.workspace = filepath.Join(m.dir, "workspace")
	m.home = filepath.Join(m.dir, "home")
	m.temp = filepath.Join(m.dir, "temp")
	for _, d := range []string{m.workspace, m.home, m.temp} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	return m
}

// checkout clones the project at its tag into the runner's workspace, as
// actions/checkout and GitLab's runner do: the whole history when depth
// is 0, else that many commits.
func (r *templateRun) checkout(t *testing.T, m *runner, depth int) {
	t.Helper()
	args := []string{"clone", "-q", "--branch", "v1.0.0"}
	if depth > 0 {
		args = append(args, "--depth", strconv.Itoa(depth))
	}
	os.Remove(m.workspace)
	r.h.sh(t, m.dir, nil, "git", append(args, "file://"+r.h.project, m.workspace)...)
}

// bash runs a script on a runner with the given environment (over the
// runner's base), logging its output.
func (r *templateRun) bash(t *testing.T, m *runner, label string, env map[string]string, pathAdd []string, script string) error {
	t.Helper()
	cmd := exec.Command("bash", "--noprofile", "--norc", "-c", script)
	cmd.Dir = m.workspace
	base := r.h.baseEnv(m.home)
	for _, p := range pathAdd {
		base[0] = "PATH=" + p + ":" + strings.TrimPrefix(base[0], "PATH=")
	}
	cmd.Env = base
	for _, k := range sortedKeys(env) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	start := time.Now()
	err := cmd.Run()
	t.Logf("%s (%v):\n%s", label, time.Since(start).Round(time.Millisecond), out.String())
	return err
}

// verifyRelease checks what the release holds the way a customer would:
// the shipped binary against the attestations and the log bundle
// downloaded from it, with a policy trusting the rebuilder's key (and the
// auditor's, when there was a review) and naming the centre's log.
func (r *templateRun) verifyRelease(t *testing.T, dir string) {
	t.Helper()
	ents, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("the release: %v", err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	sort.Strings(names)
	for _, want := range []string{"app", "app.intoto.jsonl", "app.log-bundle.json", "rebuild.intoto.json", "rebuild.sigstore.json",
		"app.summary.intoto.json", "app.summary.sigstore.json", "app.comparison.sigstore.json", "reprove.recipe.yaml", "app.html"} {
		if !slices.Contains(names, want) {
			t.Errorf("the release lacks %s (it holds %v)", want, names)
		}
	}
	policy := "version: 1\nrebuilders:\n  threshold: 1\n  keys:\n    - name: CI\n      key: " + filepath.Join(r.h.keys, "rebuilder.pub") + "\n" +
		"log:\n  key: " + r.logKey + "\n"
	if r.reviewURL != "" {
		policy += "reviewers:\n  threshold: 1\n  keys:\n    - name: Auditor\n      key: " + filepath.Join(r.h.keys, "auditor.pub") + "\n"
	} else {
		policy += "reviewers:\n  required: false\n"
	}
	pp := filepath.Join(r.dir, "policy.yaml")
	os.WriteFile(pp, []byte(policy), 0o644)
	bin := filepath.Join(dir, "app")
	// The Sigstore bundles make the chain as well as the envelopes do (with
	// the copy of the review the rebuild kept, a bare envelope as the
	// auditor signed it).
	bundles := []string{"-a", filepath.Join(dir, "app.log-bundle.json")}
	for _, n := range names {
		if strings.HasSuffix(n, ".sigstore.json") || strings.HasPrefix(n, "review-") {
			bundles = append(bundles, "-a", filepath.Join(dir, n))
		}
	}
	for _, a := range [][]string{
		{"-a", filepath.Join(dir, "app.intoto.jsonl"), "-a", filepath.Join(dir, "app.log-bundle.json")},
		bundles,
	} {
		args := append([]string{"verify", bin, "--policy", pp}, a...)
		out := r.h.sh(t, r.dir, nil, r.h.reprove, args...)
		if !strings.HasPrefix(out, "verified: ") {
			t.Errorf("verify %v: %s", a, out)
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
