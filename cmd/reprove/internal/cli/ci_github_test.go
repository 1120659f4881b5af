package cli

import (
	"bytes"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// The part of GitHub Actions' workflow syntax the harness emulates; the
// workflow is decoded strictly, so a template cannot use what the test does
// not run.
type ghWorkflow struct {
	Name        string            `yaml:"name"`
	On          any               `yaml:"on"`
	Permissions any               `yaml:"permissions"`
	Env         map[string]string `yaml:"env"`
	Jobs        map[string]*ghJob `yaml:"jobs"`
}

type ghJob struct {
	Needs       yamlList          `yaml:"needs"`
	RunsOn      string            `yaml:"runs-on"`
	Permissions any               `yaml:"permissions"`
	Env         map[string]string `yaml:"env"`
	Steps       []ghStep          `yaml:"steps"`
}

type ghStep struct {
	Name string            `yaml:"name"`
	Uses string            `yaml:"uses"`
	With map[string]string `yaml:"with"`
	Run  string            `yaml:"run"`
	Env  map[string]string `yaml:"env"`
	If   string            `yaml:"if"`
}

// yamlList is a string or a list of strings (needs: a / needs: [a, b]).
type yamlList []string

func (l *yamlList) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		*l = []string{n.Value}
		return nil
	}
	var s []string
	if err := n.Decode(&s); err != nil {
		return err
	}
	*l = s
	return nil
}

var pinnedAction = regexp.MustCompile(`^([\w.-]+/[\w.-]+)@[0-9a-f]{40}$`)

// ghStandin is GitHub's CLI for releases, kept as directories under
// $STANDIN_RELEASES. It refuses what GitHub refuses: no token, another
// repository, a write with a read-only token (the job's permissions reach
// it as STANDIN_CONTENTS), a release for a tag the repository lacks under
// --verify-tag, an upload to a release that does not exist.
const ghStandin = `#!/bin/bash
die() { echo "gh stand-in: $*" >&2; exit 1; }
[ -n "$GH_TOKEN" ] || die "not logged in: GH_TOKEN is not set"
[ "$GH_REPO" = "$STANDIN_REPO" ] || die "GH_REPO is '$GH_REPO', want $STANDIN_REPO"
[ "$1" = release ] || die "only gh release is emulated, not gh $1"
cmd=$2 tag=$3
shift 3
rel="$STANDIN_RELEASES/$tag"
write() { [ "$STANDIN_CONTENTS" = write ] || die "HTTP 403: Resource not accessible by integration (the job's token has contents: ${STANDIN_CONTENTS:-none})"; }
case "$cmd" in
view)
	[ -d "$rel" ] || die "release not found"
	echo "$tag";;
create)
	write
	[ -d "$rel" ] && die "a release with the same tag name already exists: $tag"
	case " $* " in *" --verify-tag "*)
		git -C "$STANDIN_PROJECT" rev-parse -q --verify "refs/tags/$tag" >/dev/null || die "tag $tag doesn't exist in the repo, aborting due to --verify-tag flag";;
	esac
	mkdir -p "$rel";;
upload)
	write
	[ -d "$rel" ] || die "release not found"
	clobber=
	for a in "$@"; do case "$a" in --clobber) clobber=1;; --*) die "unknown flag $a";; esac; done
	for f in "$@"; do
		case "$f" in --*) continue;; esac
		[ -f "$f" ] || die "$f: no such file"
		name=$(basename "$f")
		if [ -e "$rel/$name" ] && [ -z "$clobber" ]; then die "asset under the same name already exists: $name"; fi
		cp "$f" "$rel/$name" || exit 1
	done;;
download)
	[ -d "$rel" ] || die "release not found"
	pattern='*' dir=.
	while [ $# -gt 0 ]; do case "$1" in
		--pattern) pattern=$2; shift 2;;
		--dir) dir=$2; shift 2;;
		--clobber) shift;;
		*) die "unknown argument $1";;
	esac; done
	found=
	for f in "$rel"/*; do
		[ -e "$f" ] || continue
		name=$(basename "$f")
		case "$name" in $pattern) mkdir -p "$dir" && cp "$f" "$dir/$name" && found=1;; esac
	done
	[ -n "$found" ] || die "no assets match the file pattern";;
*) die "gh release $cmd is not emulated";;
esac
`

// github runs the workflow's jobs in the order of their needs, each on a
// fresh runner.
func (r *templateRun) github(t *testing.T, file string) {
	t.Helper()
	var wf ghWorkflow
	readYAMLStrict(t, file, &wf)
	if p, ok := wf.Permissions.(map[string]any); !ok || len(p) != 0 {
		t.Errorf("%s: the workflow's permissions are %v; want {} (each job asks for what it needs)", file, wf.Permissions)
	}
	needs := map[string][]string{}
	for name, j := range wf.Jobs {
		needs[name] = j.Needs
	}
	key, _ := os.ReadFile(filepath.Join(r.h.keys, "rebuilder.key"))
	vars := map[string]string{
		"REPROVE_VERSION":    r.h.proxy.Version,
		"REPROVE_REVIEW_URL": r.reviewURL,
		"REPROVE_CENTRE_URL": r.centre.URL,
		"REPROVE_CENTRE_KEY": r.logKey,
	}
	secrets := map[string]string{"REPROVE_KEY": string(key), "REPROVE_KEY_PASSWORD": templatePassword}
	for _, name := range jobOrder(t, file, needs) {
		r.githubJob(t, file, name, wf.Jobs[name], wf.Env, vars, secrets)
	}
}

// githubRelease is where the gh stand-in kept the release of the tag.
func (r *templateRun) githubRelease(t *testing.T) string {
	return filepath.Join(r.releases, "v1.0.0")
}

func (r *templateRun) githubJob(t *testing.T, file, name string, job *ghJob, wfEnv, vars, secrets map[string]string) {
	t.Helper()
	contents := githubPermissions(t, file, name, job)
	m := r.newRunner(t, "github-"+name)
	githubPath := filepath.Join(m.temp, "github-path")
	githubEnv := filepath.Join(m.temp, "github-env")
	os.WriteFile(githubPath, nil, 0o644)
	os.WriteFile(githubEnv, nil, 0o644)
	ctx := map[string]string{
		"github.repository": "example/app", "github.token": "token-of-" + name, "github.ref_name": "v1.0.0",
		"runner.os": "Linux", "runner.temp": m.temp,
	}
	for k, v := range vars {
		ctx["vars."+k] = v
	}
	for k, v := range secrets {
		ctx["secrets."+k] = v
	}
	envCtx := map[string]string{}
	expandAll := func(src map[string]string) {
		for _, k := range sortedKeys(src) {
			envCtx[k] = r.expandGitHub(t, file, src[k], ctx, envCtx)
		}
	}
	expandAll(wfEnv)
	expandAll(job.Env)
	process := map[string]string{
		"CI": "true", "GITHUB_ACTIONS": "true", "GITHUB_WORKSPACE": m.workspace, "GITHUB_PATH": githubPath, "GITHUB_ENV": githubEnv,
		"GITHUB_REF_NAME": "v1.0.0", "GITHUB_REPOSITORY": "example/app", "RUNNER_TEMP": m.temp, "RUNNER_OS": "Linux",
		"STANDIN_RELEASES": r.releases, "STANDIN_REPO": "example/app", "STANDIN_PROJECT": r.h.project, "STANDIN_CONTENTS": contents,
	}
	failed := false
	for i, st := range job.Steps {
		label := fmt.Sprintf("%s: job %s, step %d (%s%s)", file, name, i+1, st.Name, st.Uses)
		switch st.If {
		case "":
			if failed {
				continue
			}
		case "always()":
		default:
			t.Fatalf("%s: the harness evaluates only if: always(), not %q", label, st.If)
		}
		with := map[string]string{}
		for k, v := range st.With {
			with[k] = r.expandGitHub(t, file, v, ctx, envCtx)
		}
		if err := r.githubStep(t, m, label, st, with, ctx, envCtx, process, githubPath); err != nil {
			t.Errorf("%s: %v", label, err)
			failed = true
		}
		// Later steps see what this one wrote to GITHUB_ENV.
		b, _ := os.ReadFile(githubEnv)
		for _, l := range splitLines(string(b)) {
			if k, v, ok := strings.Cut(l, "="); ok {
				envCtx[k] = v
			}
		}
	}
	if failed {
		t.FailNow()
	}
}

func (r *templateRun) githubStep(t *testing.T, m *runner, label string, st ghStep, with, ctx, envCtx, process map[string]string, githubPath string) error {
	t.Helper()
	if st.Uses != "" {
		pin := pinnedAction.FindStringSubmatch(st.Uses)
		if pin == nil {
			return fmt.Errorf("%s is not pinned by a full commit hash", st.Uses)
		}
		switch pin[1] {
		case "actions/checkout":
			depth := 1
			if with["fetch-depth"] == "0" {
				depth = 0
			}
			if with["persist-credentials"] != "false" {
				return fmt.Errorf("actions/checkout leaves the token in .git/config unless persist-credentials: false")
			}
			r.checkout(t, m, depth)
		case "actions/setup-go":
			if f := with["go-version-file"]; f != "" {
				if _, err := os.Stat(filepath.Join(m.workspace, f)); err != nil {
					return fmt.Errorf("go-version-file: %w", err)
				}
			} else if with["go-version"] == "" {
				return fmt.Errorf("actions/setup-go without go-version or go-version-file")
			}
		case "actions/upload-artifact":
			return uploadArtifact(filepath.Join(r.artifacts, with["name"]), m.workspace, splitLines(with["path"]), with["if-no-files-found"] == "error")
		case "actions/download-artifact":
			dest := m.workspace
			if p := with["path"]; p != "" {
				dest = filepath.Join(m.workspace, p)
			}
			src := filepath.Join(r.artifacts, with["name"])
			if _, err := os.Stat(src); err != nil {
				return fmt.Errorf("artifact %s: %w", with["name"], err)
			}
			return copyTree(src, dest)
		case "actions/cache":
			if with["key"] == "" {
				return fmt.Errorf("actions/cache without a key")
			}
			cache := envCtx["REPROVE_CACHE"]
			for _, p := range splitLines(with["path"]) {
				if cache == "" || !strings.HasPrefix(p, cache+"/") {
					return fmt.Errorf("cached path %s is not under the job's REPROVE_CACHE (%q)", p, cache)
				}
			}
		default:
			return fmt.Errorf("no stand-in for %s", pin[1])
		}
		return nil
	}
	env := maps.Clone(process)
	maps.Copy(env, envCtx)
	for _, k := range sortedKeys(st.Env) {
		env[k] = r.expandGitHub(t, "", st.Env[k], ctx, envCtx)
	}
	extra, _ := os.ReadFile(githubPath)
	paths := splitLines(string(extra))
	slices.Reverse(paths) // the last one added comes first
	// GitHub's default shell on Linux: bash -e {0}.
	return r.bash(t, m, label, env, paths, "set -e\n"+st.Run)
}

// githubPermissions checks a job's permissions and returns what its token
// may do with the repository's contents: every job names its own; only
// contents may be granted; a job that reads a secret writes nothing.
func githubPermissions(t *testing.T, file, name string, job *ghJob) string {
	t.Helper()
	p, ok := job.Permissions.(map[string]any)
	if !ok {
		t.Errorf("%s: job %s names no permissions of its own", file, name)
		return ""
	}
	for k := range p {
		if k != "contents" {
			t.Errorf("%s: job %s asks for %s", file, name, k)
		}
	}
	contents, _ := p["contents"].(string)
	if contents == "write" {
		var b bytes.Buffer
		yaml.NewEncoder(&b).Encode(job)
		if strings.Contains(b.String(), "secrets.") {
			t.Errorf("%s: job %s holds a write token and reads a secret", file, name)
		}
	}
	return contents
}

var exprRe = regexp.MustCompile(`\$\{\{\s*([^}]+?)\s*\}\}`)

// expandGitHub replaces ${{ context.name }} expressions; one the harness
// does not know fails the test, so a template cannot use what the test does
// not emulate.
func (r *templateRun) expandGitHub(t *testing.T, file, s string, ctx, envCtx map[string]string) string {
	t.Helper()
	return exprRe.ReplaceAllStringFunc(s, func(m string) string {
		name := exprRe.FindStringSubmatch(m)[1]
		if v, ok := strings.CutPrefix(name, "env."); ok {
			return envCtx[v]
		}
		v, ok := ctx[name]
		if !ok {
			t.Fatalf("%s: the test has no value for the expression %s", file, m)
		}
		return v
	})
}

// jobOrder orders jobs so that each comes after the jobs it needs (by name
// among equals), failing on an unknown or circular need.
func jobOrder(t *testing.T, file string, needs map[string][]string) []string {
	t.Helper()
	var order []string
	done := map[string]bool{}
	for len(order) < len(needs) {
		progress := false
		for _, name := range sortedKeys(needs) {
			if done[name] {
				continue
			}
			ready := true
			for _, n := range needs[name] {
				if _, ok := needs[n]; !ok {
					t.Fatalf("%s: job %s needs %s, which does not exist", file, name, n)
				}
				ready = ready && done[n]
			}
			if ready {
				order = append(order, name)
				done[name] = true
				progress = true
			}
		}
		if !progress {
			t.Fatalf("%s: the jobs' needs form a cycle", file)
		}
	}
	return order
}

// uploadArtifact keeps paths (relative to the workspace) under store the
// way actions/upload-artifact does: relative to their least common
// ancestor directory.
func uploadArtifact(store, workspace string, paths []string, mustExist bool) error {
	var abs, dirs []string
	for _, p := range paths {
		a := filepath.Join(workspace, p)
		st, err := os.Stat(a)
		if err != nil {
			if mustExist {
				return fmt.Errorf("no files found at %s", p)
			}
			continue
		}
		abs = append(abs, a)
		if st.IsDir() {
			dirs = append(dirs, a)
		} else {
			dirs = append(dirs, filepath.Dir(a))
		}
	}
	if len(abs) == 0 {
		return nil
	}
	root := dirs[0]
	for _, d := range dirs[1:] {
		for !strings.HasPrefix(d+"/", root+"/") {
			root = filepath.Dir(root)
		}
	}
	for _, a := range abs {
		rel, _ := filepath.Rel(root, a)
		if err := copyTree(a, filepath.Join(store, rel)); err != nil {
			return err
		}
	}
	return nil
}

// copyTree copies a file or a directory's contents to dst.
func copyTree(src, dst string) error {
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	st, err := os.Stat(src)
	if err != nil {
		return err
	}
	if st.IsDir() {
		if err := os.MkdirAll(dst, 0o755); err != nil {
			return err
		}
		src += "/."
	}
	if b, err := exec.Command("cp", "-a", src, dst).CombinedOutput(); err != nil {
		return fmt.Errorf("copy %s: %v: %s", src, err, b)
	}
	return nil
}

func readYAMLStrict(t *testing.T, file string, v any) {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("%s: %v (the harness emulates only what it decodes)", file, err)
	}
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
