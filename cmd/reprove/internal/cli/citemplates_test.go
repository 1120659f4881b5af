package cli

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"

	"github.com/reprove/reprove/builder/buildertest"
)

// TestCITemplates runs the release-engineer templates under ci/ the way
// their platforms would, on this machine: every `run:` step of the GitHub
// workflow (each in a fresh `bash -eo pipefail`, with the job's and the
// step's env, GITHUB_PATH honoured) and every `script:` line of the GitLab
// job (in one shell, with the job's variables), in a clone of a real Go
// project whose release build is `make release`, with the real reprove:
// infer, check and a real rebuild in containerd, then signing. What only the
// platform has gets a stand-in, each named here:
//
//   - actions/checkout: a full clone of the project (the tag checked out)
//   - actions/setup-go: Go is already on PATH (/usr/local/go)
//   - actions/upload-artifact: the listed paths must exist; they are copied
//   - `gh release upload` (GitHub's CLI): each file must exist; it is copied
//   - `curl --upload-file` (GitLab's package registry): likewise; any other
//     curl call runs the real curl (the review comes over a file:// URL)
//   - `go install github.com/reprove/reprove/cmd/reprove@…`: no registry
//     serves reprove's releases here, so the reprove under test is installed
//     where that install would put it; every other go command is the real go
//   - `sudo`: the tests run as root; its options are dropped
//   - `apt-get`: the packages are installed by ci/setup.sh; the stand-in
//     checks that each one asked for is installed
//   - REPROVE_CACHE points reprove at the tests' shared cache, so base
//     images are built once per machine
//
// Each template runs twice: with a review published by an auditor
// (REPROVE_REVIEW_URL), and without one. The uploads are then verified the
// way a customer would.
func TestCITemplates(t *testing.T) {
	buildertest.NeedContainerd(t)
	for _, bin := range []string{"git", "make", "curl", "bash"} {
		if _, err := exec.LookPath(bin); err != nil {
			t.Fatalf("%s is needed: %v", bin, err)
		}
	}
	h := newTemplateHarness(t)
	for _, tc := range []struct {
		platform string
		review   bool
	}{
		{"github", true}, {"github", false}, {"gitlab", true}, {"gitlab", false},
	} {
		name := tc.platform + "/no-review"
		if tc.review {
			name = tc.platform + "/review"
		}
		t.Run(name, func(t *testing.T) {
			run := h.newRun(t, tc.review)
			switch tc.platform {
			case "github":
				run.github(t, "../../../../ci/github/reprove.yml")
			case "gitlab":
				run.gitlab(t, "../../../../ci/gitlab/reprove.gitlab-ci.yml")
			}
			run.verifyUploads(t, tc.platform)
		})
	}
}

// templateHarness is what every run shares: the reprove under test, the
// stand-ins, the project and the keys.
type templateHarness struct {
	dir      string // shared by the runs
	reprove  string
	standins string
	project  string // the vendor's repository, tagged v1.0.0
	commit   string
	realGo   string
	goCache  string
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
	out, err := exec.Command(h.realGo, "env", "GOCACHE").Output()
	if err != nil {
		t.Fatal(err)
	}
	h.goCache = strings.TrimSpace(string(out))
	h.reprove = filepath.Join(h.dir, "reprove-under-test")
	build := exec.Command(h.realGo, "build", "-o", h.reprove, "github.com/reprove/reprove/cmd/reprove")
	if b, err := build.CombinedOutput(); err != nil {
		t.Fatalf("build reprove: %v\n%s", err, b)
	}
	h.writeStandins(t)
	h.makeProject(t)
	h.keys = filepath.Join(h.dir, "keys")
	os.MkdirAll(h.keys, 0o755)
	for _, who := range []string{"rebuilder", "auditor"} {
		h.sh(t, h.dir, nil, h.reprove, "key", "generate", "--output-key-prefix", filepath.Join(h.keys, who))
	}
	return h
}

// sh runs a command with a clean environment plus env, failing the test on
// error; it returns stdout.
func (h *templateHarness) sh(t *testing.T, dir string, env []string, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(h.baseEnv(), env...)
	cmd.Env = append(cmd.Env, "REPROVE_PASSWORD="+templatePassword)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("%s %s: %v\n%s%s", name, strings.Join(args, " "), err, stdout.String(), stderr.String())
	}
	return stdout.String()
}

// baseEnv is a CI runner's: PATH, HOME and little else. The host's GOFLAGS
// (-buildvcs=false here) must not reach the release build or reprove.
func (h *templateHarness) baseEnv() []string {
	home := filepath.Join(h.dir, "home")
	os.MkdirAll(home, 0o755)
	return []string{
		"PATH=" + h.standins + ":" + filepath.Dir(h.realGo) + ":/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
		"HOME=" + home,
		"GOCACHE=" + h.goCache,
		"GOPATH=" + filepath.Join(home, "go"),
		"REPROVE_CACHE=" + h.cache,
		"LANG=C.UTF-8",
	}
}

func (h *templateHarness) writeStandins(t *testing.T) {
	t.Helper()
	h.standins = filepath.Join(h.dir, "standins")
	os.MkdirAll(h.standins, 0o755)
	scripts := map[string]string{
		"go": `#!/bin/sh
# Stand-in for one go command: installing reprove's release.
if [ "$1" = install ]; then
	case "$2" in github.com/reprove/reprove/cmd/reprove@*)
		dest="${GOBIN:-$(` + h.realGo + ` env GOPATH)/bin}"
		mkdir -p "$dest" && cp ` + h.reprove + ` "$dest/reprove"
		exit $?;;
	esac
fi
exec ` + h.realGo + ` "$@"
`,
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
		"gh": `#!/bin/sh
# Stand-in for GitHub's CLI: gh release upload TAG [--clobber] FILES...
[ "$1 $2" = "release upload" ] || { echo "gh stand-in: only release upload" >&2; exit 2; }
shift 3
mkdir -p "$STANDIN_UPLOADS"
for f in "$@"; do
	case "$f" in --*) continue;; esac
	[ -f "$f" ] || { echo "gh stand-in: $f does not exist" >&2; exit 1; }
	cp "$f" "$STANDIN_UPLOADS/"
done
`,
		"curl": `#!/bin/sh
# Stand-in for curl uploads to GitLab's package registry; anything else is
# the real curl.
for a in "$@"; do
	if [ "$prev" = --upload-file ]; then
		[ -f "$a" ] || { echo "curl stand-in: $a does not exist" >&2; exit 26; }
		mkdir -p "$STANDIN_UPLOADS" && cp "$a" "$STANDIN_UPLOADS/"
		exit 0
	fi
	prev=$a
done
exec /usr/bin/curl "$@"
`,
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

// templateRun is one run of one template.
type templateRun struct {
	h         *templateHarness
	dir       string
	workspace string
	uploads   string
	artifacts string
	reviewURL string
}

func (h *templateHarness) newRun(t *testing.T, withReview bool) *templateRun {
	t.Helper()
	r := &templateRun{h: h, dir: t.TempDir()}
	r.workspace = filepath.Join(r.dir, "workspace")
	r.uploads = filepath.Join(r.dir, "uploads")
	r.artifacts = filepath.Join(r.dir, "artifacts")
	// actions/checkout (and GitLab's clone): the whole history, at the tag.
	h.sh(t, r.dir, nil, "git", "clone", "-q", "--branch", "v1.0.0", "file://"+h.project, r.workspace)
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

// github runs the workflow's one job.
func (r *templateRun) github(t *testing.T, file string) {
	t.Helper()
	var wf struct {
		Jobs map[string]struct {
			Env   map[string]string `yaml:"env"`
			Steps []struct {
				Name string            `yaml:"name"`
				Uses string            `yaml:"uses"`
				With map[string]string `yaml:"with"`
				Run  string            `yaml:"run"`
				Env  map[string]string `yaml:"env"`
				If   string            `yaml:"if"`
			} `yaml:"steps"`
		} `yaml:"jobs"`
	}
	readYAML(t, file, &wf)
	if len(wf.Jobs) != 1 {
		t.Fatalf("%s: %d jobs, want 1", file, len(wf.Jobs))
	}
	key, _ := os.ReadFile(filepath.Join(r.h.keys, "rebuilder.key"))
	exprs := map[string]string{
		"github.repository":            "example/app",
		"github.token":                 "token-for-the-gh-stand-in",
		"secrets.REPROVE_KEY":          string(key),
		"secrets.REPROVE_KEY_PASSWORD": templatePassword,
		"vars.REPROVE_REVIEW_URL":      r.reviewURL,
	}
	runnerTemp := filepath.Join(r.dir, "runner-temp")
	os.MkdirAll(runnerTemp, 0o755)
	githubPath := filepath.Join(r.dir, "github-path")
	os.WriteFile(githubPath, nil, 0o644)
	for _, job := range wf.Jobs {
		env := map[string]string{
			"GITHUB_WORKSPACE": r.workspace, "GITHUB_PATH": githubPath, "GITHUB_REF_NAME": "v1.0.0",
			"RUNNER_TEMP": runnerTemp, "CI": "true", "STANDIN_UPLOADS": r.uploads,
		}
		for k, v := range job.Env {
			env[k] = expand(t, file, v, exprs)
		}
		failed := false
		for i, st := range job.Steps {
			label := fmt.Sprintf("%s: step %d (%s%s)", file, i+1, st.Name, st.Uses)
			if failed && st.If != "always()" {
				continue
			}
			switch {
			case strings.HasPrefix(st.Uses, "actions/checkout@"), strings.HasPrefix(st.Uses, "actions/setup-go@"):
				// Stand-ins: the clone is made; Go is on PATH.
			case strings.HasPrefix(st.Uses, "actions/upload-artifact@"):
				for _, p := range strings.Fields(st.With["path"]) {
					copyInto(t, filepath.Join(r.workspace, p), filepath.Join(r.artifacts, p))
				}
			case st.Uses != "":
				t.Fatalf("%s: no stand-in for %s", label, st.Uses)
			case st.Run != "":
				stepEnv := maps.Clone(env)
				for k, v := range st.Env {
					stepEnv[k] = expand(t, file, v, exprs)
				}
				extra, _ := os.ReadFile(githubPath)
				if err := r.bash(t, label, stepEnv, splitLines(string(extra)), "set -eo pipefail\n"+st.Run); err != nil {
					t.Errorf("%s: %v", label, err)
					failed = true
				}
			}
		}
		if failed {
			t.FailNow()
		}
	}
}

// gitlab runs the job's script lines in one shell, as GitLab's runner does.
func (r *templateRun) gitlab(t *testing.T, file string) {
	t.Helper()
	var doc map[string]any
	readYAML(t, file, &doc)
	vars := map[string]string{
		"CI_PROJECT_URL": "https://gitlab.example.com/example/app", "CI_COMMIT_TAG": "v1.0.0",
		"CI_API_V4_URL": "https://gitlab.example.com/api/v4", "CI_PROJECT_ID": "7", "CI_JOB_TOKEN": "job-token",
		"REPROVE_KEY": filepath.Join(r.h.keys, "rebuilder.key"), "REPROVE_PASSWORD": templatePassword,
		"REPROVE_REVIEW_URL": r.reviewURL, "STANDIN_UPLOADS": r.uploads, "CI": "true",
	}
	addVars := func(m any) {
		vm, _ := m.(map[string]any)
		keys := sortedKeys(vm)
		for _, k := range keys {
			vars[k] = os.Expand(fmt.Sprint(vm[k]), func(n string) string { return vars[n] })
		}
	}
	addVars(doc["variables"])
	job, ok := doc["reprove"].(map[string]any)
	if !ok {
		t.Fatalf("%s: no job named reprove", file)
	}
	addVars(job["variables"])
	var script strings.Builder
	script.WriteString("set -eo pipefail\n")
	lines, _ := job["script"].([]any)
	for _, l := range lines {
		script.WriteString(fmt.Sprint(l) + "\n")
	}
	if err := r.bash(t, file, vars, nil, script.String()); err != nil {
		t.Fatalf("%s: %v", file, err)
	}
	arts, _ := job["artifacts"].(map[string]any)
	paths, _ := arts["paths"].([]any)
	for _, p := range paths {
		p := os.Expand(fmt.Sprint(p), func(n string) string { return vars[n] })
		copyInto(t, filepath.Join(r.workspace, p), filepath.Join(r.artifacts, p))
	}
}

func (r *templateRun) bash(t *testing.T, label string, env map[string]string, pathAdd []string, script string) error {
	t.Helper()
	cmd := exec.Command("bash", "--noprofile", "--norc", "-c", script)
	cmd.Dir = r.workspace
	base := r.h.baseEnv()
	for _, p := range pathAdd {
		base[0] = "PATH=" + p + ":" + strings.TrimPrefix(base[0], "PATH=")
	}
	cmd.Env = base
	for _, k := range sortedKeys(env) {
		cmd.Env = append(cmd.Env, k+"="+env[k])
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	t.Logf("%s:\n%s", label, out.String())
	return err
}

// verifyUploads checks what the job published the way a customer would:
// the shipped binary against the attestations, with a policy trusting the
// rebuilder's key (and the auditor's, when there was a review).
func (r *templateRun) verifyUploads(t *testing.T, platform string) {
	t.Helper()
	ents, err := os.ReadDir(r.uploads)
	if err != nil {
		t.Fatalf("nothing was uploaded: %v", err)
	}
	var names []string
	for _, e := range ents {
		names = append(names, e.Name())
	}
	for _, want := range []string{"app.intoto.jsonl", "rebuild.intoto.json", "app.summary.intoto.json", "reprove.recipe.yaml"} {
		if !slices.Contains(names, want) {
			t.Errorf("%s did not upload %s (uploaded %v)", platform, want, names)
		}
	}
	if platform == "github" && !slices.Contains(names, "app.html") {
		t.Errorf("github did not upload the compare report (uploaded %v)", names)
	}
	if _, err := os.Stat(filepath.Join(r.artifacts, "reprove-out", "result.json")); err != nil {
		t.Errorf("the job's artifacts lack reprove-out/result.json: %v", err)
	}
	policy := "version: 1\nrebuilders:\n  threshold: 1\n  keys:\n    - name: CI\n      key: " + filepath.Join(r.h.keys, "rebuilder.pub") + "\n"
	if r.reviewURL != "" {
		policy += "reviewers:\n  threshold: 1\n  keys:\n    - name: Auditor\n      key: " + filepath.Join(r.h.keys, "auditor.pub") + "\n"
	} else {
		policy += "reviewers:\n  required: false\n"
	}
	pp := filepath.Join(r.dir, "policy.yaml")
	os.WriteFile(pp, []byte(policy), 0o644)
	out := r.h.sh(t, r.dir, nil, r.h.reprove, "verify", filepath.Join(r.workspace, "dist", "app"), "--policy", pp, "-a", filepath.Join(r.uploads, "app.intoto.jsonl"))
	if !strings.HasPrefix(out, "verified: ") {
		t.Errorf("verify: %s", out)
	}
}

var exprRe = regexp.MustCompile(`\$\{\{\s*([^}]+?)\s*\}\}`)

// expand replaces GitHub expressions; one the harness does not know fails
// the test, so a template cannot use what the test does not emulate.
func expand(t *testing.T, file, s string, exprs map[string]string) string {
	return exprRe.ReplaceAllStringFunc(s, func(m string) string {
		name := exprRe.FindStringSubmatch(m)[1]
		v, ok := exprs[name]
		if !ok {
			t.Fatalf("%s: the test has no value for the expression %s", file, m)
		}
		return v
	})
}

func readYAML(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(b, v); err != nil {
		t.Fatalf("%s is not valid YAML: %v", file, err)
	}
}

var copyMu sync.Mutex

// copyInto copies a file or a directory tree (the platform keeping an
// artifact); a missing path fails the test.
func copyInto(t *testing.T, src, dst string) {
	t.Helper()
	copyMu.Lock()
	defer copyMu.Unlock()
	src = strings.TrimSuffix(src, "/")
	if _, err := os.Stat(src); err != nil {
		t.Errorf("artifact %s: %v", src, err)
		return
	}
	os.MkdirAll(filepath.Dir(dst), 0o755)
	if b, err := exec.CommandContext(context.Background(), "cp", "-a", src, strings.TrimSuffix(dst, "/")).CombinedOutput(); err != nil {
		t.Errorf("keep artifact %s: %v\n%s", src, err, b)
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

func splitLines(s string) []string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			out = append(out, l)
		}
	}
	return out
}
