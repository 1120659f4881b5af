package cli

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"sync"
	"testing"

	"go.yaml.in/yaml/v3"
)

// gitlabAPI stands in for the part of GitLab's API v4 the template uses:
// releases, their asset links and the generic package registry of project
// 7, each call checked against the job token as GitLab checks it.
type gitlabAPI struct {
	token   string
	project string // the git repository, for its tags
	srv     *httptest.Server

	mu       sync.Mutex
	packages map[string][]byte // "reprove/v1.0.0/app"
	releases map[string]*gitlabRelease
}

type gitlabRelease struct {
	TagName string       `json:"tag_name"`
	Name    string       `json:"name"`
	Links   []gitlabLink `json:"-"`
}

type gitlabLink struct {
	ID       int    `json:"id"`
	Name     string `json:"name"`
	URL      string `json:"url"`
	LinkType string `json:"link_type"`
}

func newGitlabAPI(t *testing.T, project string) *gitlabAPI {
	api := &gitlabAPI{token: "job-token", project: project, packages: map[string][]byte{}, releases: map[string]*gitlabRelease{}}
	mux := http.NewServeMux()
	const p = "/api/v4/projects/7"
	mux.HandleFunc("PUT "+p+"/packages/generic/{pkg}/{version}/{file}", api.putPackage)
	mux.HandleFunc("GET "+p+"/packages/generic/{pkg}/{version}/{file}", api.getPackage)
	mux.HandleFunc("GET "+p+"/releases/{tag}", api.getRelease)
	mux.HandleFunc("POST "+p+"/releases", api.createRelease)
	mux.HandleFunc("GET "+p+"/releases/{tag}/assets/links", api.getLinks)
	mux.HandleFunc("POST "+p+"/releases/{tag}/assets/links", api.createLink)
	api.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("JOB-TOKEN") != api.token {
			api.reply(w, http.StatusUnauthorized, map[string]string{"message": "401 Unauthorized"})
			return
		}
		mux.ServeHTTP(w, r)
	}))
	t.Cleanup(api.srv.Close)
	return api
}

func (api *gitlabAPI) reply(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

func (api *gitlabAPI) notFound(w http.ResponseWriter) {
	api.reply(w, http.StatusNotFound, map[string]string{"message": "404 Not Found"})
}

func (api *gitlabAPI) putPackage(w http.ResponseWriter, r *http.Request) {
	b, err := io.ReadAll(r.Body)
	if err != nil {
		api.reply(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	api.mu.Lock()
	api.packages[r.PathValue("pkg")+"/"+r.PathValue("version")+"/"+r.PathValue("file")] = b
	api.mu.Unlock()
	api.reply(w, http.StatusCreated, map[string]string{"message": "201 Created"})
}

func (api *gitlabAPI) getPackage(w http.ResponseWriter, r *http.Request) {
	api.mu.Lock()
	b, ok := api.packages[r.PathValue("pkg")+"/"+r.PathValue("version")+"/"+r.PathValue("file")]
	api.mu.Unlock()
	if !ok {
		api.notFound(w)
		return
	}
	w.Write(b)
}

func (api *gitlabAPI) getRelease(w http.ResponseWriter, r *http.Request) {
	api.mu.Lock()
	defer api.mu.Unlock()
	rel, ok := api.releases[r.PathValue("tag")]
	if !ok {
		api.notFound(w)
		return
	}
	api.reply(w, http.StatusOK, rel)
}

// createRelease makes the release of an existing tag (without a ref, GitLab
// does not create the tag), refusing a second one.
func (api *gitlabAPI) createRelease(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	tag := r.Form.Get("tag_name")
	if err := exec.Command("git", "-C", api.project, "rev-parse", "-q", "--verify", "refs/tags/"+tag).Run(); tag == "" || err != nil {
		api.reply(w, http.StatusBadRequest, map[string]string{"message": "Ref is not specified"})
		return
	}
	api.mu.Lock()
	defer api.mu.Unlock()
	if _, ok := api.releases[tag]; ok {
		api.reply(w, http.StatusConflict, map[string]string{"message": "Release already exists"})
		return
	}
	rel := &gitlabRelease{TagName: tag, Name: r.Form.Get("name")}
	api.releases[tag] = rel
	api.reply(w, http.StatusCreated, rel)
}

func (api *gitlabAPI) getLinks(w http.ResponseWriter, r *http.Request) {
	api.mu.Lock()
	defer api.mu.Unlock()
	rel, ok := api.releases[r.PathValue("tag")]
	if !ok {
		api.notFound(w)
		return
	}
	api.reply(w, http.StatusOK, append([]gitlabLink{}, rel.Links...))
}

func (api *gitlabAPI) createLink(w http.ResponseWriter, r *http.Request) {
	r.ParseForm()
	api.mu.Lock()
	defer api.mu.Unlock()
	rel, ok := api.releases[r.PathValue("tag")]
	if !ok {
		api.notFound(w)
		return
	}
	l := gitlabLink{ID: len(rel.Links) + 1, Name: r.Form.Get("name"), URL: r.Form.Get("url"), LinkType: r.Form.Get("link_type")}
	if l.Name == "" || l.URL == "" {
		api.reply(w, http.StatusBadRequest, map[string]string{"error": "name, url are missing"})
		return
	}
	for _, o := range rel.Links {
		if o.Name == l.Name {
			api.reply(w, http.StatusBadRequest, map[string]any{"message": map[string][]string{"name": {"has already been taken"}}})
			return
		}
	}
	rel.Links = append(rel.Links, l)
	api.reply(w, http.StatusCreated, l)
}

// releaseFiles downloads every file linked from the tag's release, as a
// customer would, into a directory.
func (api *gitlabAPI) releaseFiles(t *testing.T, r *templateRun) string {
	t.Helper()
	api.mu.Lock()
	rel, ok := api.releases["v1.0.0"]
	var links []gitlabLink
	if ok {
		links = append(links, rel.Links...)
	}
	api.mu.Unlock()
	if !ok {
		t.Fatal("gitlab: no release was made for v1.0.0")
	}
	dir := filepath.Join(r.dir, "downloaded")
	os.MkdirAll(dir, 0o755)
	for _, l := range links {
		if !strings.HasPrefix(l.URL, api.srv.URL+"/") {
			t.Errorf("gitlab: release link %s points outside the project: %s", l.Name, l.URL)
			continue
		}
		req, _ := http.NewRequest(http.MethodGet, l.URL, nil)
		req.Header.Set("JOB-TOKEN", api.token)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK {
			t.Errorf("gitlab: release link %s: %s", l.Name, resp.Status)
			continue
		}
		os.WriteFile(filepath.Join(dir, l.Name), b, 0o644)
	}
	return dir
}

// The keys a GitLab job may have, and the top-level keys that are no job.
var (
	gitlabJobKeys = []string{"stage", "image", "rules", "needs", "variables", "script", "artifacts", "environment", "cache"}
	gitlabGlobal  = []string{"variables", "stages", "include", "default", "workflow"}
	pinnedImage   = regexp.MustCompile(`^[\w./:-]+@sha256:[0-9a-f]{64}$`)
)

// gitlab runs the pipeline's jobs in the order of their needs, each on a
// fresh runner, with GitLab's API stood in for; it returns the API.
func (r *templateRun) gitlab(t *testing.T, file string) *gitlabAPI {
	t.Helper()
	var doc map[string]any
	readYAML(t, file, &doc)
	api := newGitlabAPI(t, r.h.project)
	jobs := map[string]map[string]any{}
	needs := map[string][]string{}
	needArtifacts := map[string]map[string]bool{}
	for name, v := range doc {
		if strings.HasPrefix(name, ".") || slices.Contains(gitlabGlobal, name) {
			continue
		}
		job, ok := v.(map[string]any)
		if !ok {
			t.Fatalf("%s: %s is not a job", file, name)
		}
		for k := range job {
			if !slices.Contains(gitlabJobKeys, k) {
				t.Fatalf("%s: job %s: the harness does not emulate %s", file, name, k)
			}
		}
		jobs[name] = job
		needArtifacts[name] = map[string]bool{}
		list, _ := job["needs"].([]any)
		for _, n := range list {
			switch n := n.(type) {
			case string:
				needs[name] = append(needs[name], n)
				needArtifacts[name][n] = true
			case map[string]any:
				j := fmt.Sprint(n["job"])
				needs[name] = append(needs[name], j)
				needArtifacts[name][j] = n["artifacts"] != false
			}
		}
		if needs[name] == nil {
			needs[name] = []string{}
		}
	}
	global := gitlabVariables(doc["variables"])
	for _, name := range jobOrder(t, file, needs) {
		r.gitlabJob(t, file, name, jobs[name], global, needArtifacts[name], api)
	}
	return api
}

// gitlabVariables reads a variables: block (a value, or value and
// description).
func gitlabVariables(v any) [][2]string {
	m, _ := v.(map[string]any)
	var out [][2]string
	for _, k := range sortedKeys(m) {
		val := m[k]
		if vm, ok := val.(map[string]any); ok {
			val = vm["value"]
		}
		out = append(out, [2]string{k, fmt.Sprint(val)})
	}
	return out
}

func (r *templateRun) gitlabJob(t *testing.T, file, name string, job map[string]any, global [][2]string, fromNeeds map[string]bool, api *gitlabAPI) {
	t.Helper()
	if img, _ := job["image"].(string); !pinnedImage.MatchString(img) {
		t.Errorf("%s: job %s: image %q is not pinned by digest", file, name, img)
	}
	m := r.newRunner(t, "gitlab-"+name)
	vars := map[string]string{
		"CI": "true", "GITLAB_CI": "true", "CI_COMMIT_TAG": "v1.0.0", "CI_PROJECT_URL": "https://gitlab.example.com/example/app",
		"CI_API_V4_URL": api.srv.URL + "/api/v4", "CI_PROJECT_ID": "7", "CI_JOB_TOKEN": api.token,
		"CI_PROJECT_DIR": m.workspace, "CI_BUILDS_DIR": filepath.Dir(m.workspace),
	}
	expand := func(s string) string { return os.Expand(s, func(n string) string { return vars[n] }) }
	for _, kv := range append(global, gitlabVariables(job["variables"])...) {
		vars[kv[0]] = expand(kv[1])
	}
	// The project's CI/CD variables win over the file's; the key and its
	// password are scoped to the reprove-signing environment.
	vars["REPROVE_VERSION"] = r.h.proxy.Version
	vars["REPROVE_REVIEW_URL"] = r.reviewURL
	vars["REPROVE_CENTRE_URL"] = r.centre.URL
	vars["REPROVE_CENTRE_KEY"] = r.logKey
	env, _ := job["environment"].(map[string]any)
	if env != nil && env["name"] == "reprove-signing" {
		key := filepath.Join(m.temp, "REPROVE_KEY")
		b, _ := os.ReadFile(filepath.Join(r.h.keys, "rebuilder.key"))
		os.WriteFile(key, b, 0o600)
		vars["REPROVE_KEY"] = key
		vars["REPROVE_PASSWORD"] = templatePassword
	}
	rules, _ := job["rules"].([]any)
	for _, rule := range rules {
		if cond := fmt.Sprint(rule.(map[string]any)["if"]); cond != "$CI_COMMIT_TAG" {
			t.Fatalf("%s: job %s: the harness evaluates only the rule if: $CI_COMMIT_TAG, not %q", file, name, cond)
		}
	}
	if vars["GIT_STRATEGY"] != "none" {
		depth := 20 // GitLab's default
		if d := vars["GIT_DEPTH"]; d != "" {
			fmt.Sscan(d, &depth)
		}
		r.checkout(t, m, depth)
	}
	for _, dep := range sortedKeys(fromNeeds) {
		if !fromNeeds[dep] {
			continue
		}
		if err := copyTree(filepath.Join(r.artifacts, "gitlab-"+dep), m.workspace); err != nil {
			t.Fatalf("%s: job %s: artifacts of %s: %v", file, name, dep, err)
		}
	}
	if c, ok := job["cache"].(map[string]any); ok {
		paths, _ := c["paths"].([]any)
		for _, p := range paths {
			if p := filepath.Clean(fmt.Sprint(p)); filepath.IsAbs(p) || strings.HasPrefix(p, "..") {
				t.Errorf("%s: job %s: cache path %s lies outside the project directory, where GitLab cannot cache", file, name, p)
			}
		}
	}
	var script strings.Builder
	script.WriteString("set -eo pipefail\n")
	lines, _ := job["script"].([]any)
	for _, l := range lines {
		script.WriteString(fmt.Sprint(l) + "\n")
	}
	err := r.bash(t, m, file+": job "+name, vars, nil, script.String())
	arts, _ := job["artifacts"].(map[string]any)
	if err == nil || arts["when"] == "always" {
		paths, _ := arts["paths"].([]any)
		for _, p := range paths {
			rel := expand(fmt.Sprint(p))
			src := filepath.Join(m.workspace, rel)
			if _, serr := os.Stat(src); serr != nil {
				continue // GitLab warns and goes on
			}
			if cerr := copyTree(src, filepath.Join(r.artifacts, "gitlab-"+name, rel)); cerr != nil {
				t.Fatal(cerr)
			}
		}
	}
	if err != nil {
		t.Fatalf("%s: job %s: %v", file, name, err)
	}
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
