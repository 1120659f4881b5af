package watch_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/reprove/reprove/fleet/queue"
	"github.com/reprove/reprove/fleet/watch"
)

// standIn serves recorded documents: the Go module proxy's toolchain
// version list and the npm registry's package documents. What it serves
// can be changed while it runs, as new releases appear.
type standIn struct {
	mu   sync.Mutex
	docs map[string][]byte
	hits map[string]int
}

func (s *standIn) set(path string, b []byte) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.docs[path] = b
}

func (s *standIn) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	b, ok := s.docs[r.URL.EscapedPath()]
	s.hits[r.URL.EscapedPath()]++
	s.mu.Unlock()
	if !ok {
		http.NotFound(w, r)
		return
	}
	w.Write(b)
}

func recorded(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// without drops lines of a version list that contain any of vs.
func without(list []byte, vs ...string) []byte {
	var keep []string
	for _, l := range strings.Split(string(list), "\n") {
		drop := false
		for _, v := range vs {
			drop = drop || strings.Contains(l, v)
		}
		if !drop {
			keep = append(keep, l)
		}
	}
	return []byte(strings.Join(keep, "\n"))
}

// withoutVersions drops versions from an npm package document.
func withoutVersions(t *testing.T, doc []byte, vs ...string) []byte {
	t.Helper()
	var d map[string]any
	if err := json.Unmarshal(doc, &d); err != nil {
		t.Fatal(err)
	}
	versions := d["versions"].(map[string]any)
	for _, v := range vs {
		if _, ok := versions[v]; !ok {
			t.Fatalf("the recorded document has no version %s", v)
		}
		delete(versions, v)
	}
	b, err := json.Marshal(d)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func items(es []queue.Enqueued) []string {
	var out []string
	for _, e := range es {
		out = append(out, e.Item)
	}
	return out
}

// TestWatchersEnqueueOnlyNew: against a stand-in serving the real
// recorded version list and package document, each watcher enqueues what
// it finds at first; when new releases appear it enqueues exactly those;
// restarted (a new connection, a new watcher), it enqueues nothing.
func TestWatchersEnqueueOnlyNew(t *testing.T) {
	ctx := context.Background()
	s := &standIn{docs: map[string][]byte{}, hits: map[string]int{}}
	srv := httptest.NewServer(s)
	defer srv.Close()
	list, npmDoc := recorded(t, "golang-toolchain.list"), recorded(t, "npm-esbuild-linux-x64.json")
	s.set("/golang.org/toolchain/@v/list", without(list, "go1.27.3.", "go1.27.4."))
	s.set("/@esbuild%2Flinux-x64", withoutVersions(t, npmDoc, "0.28.1", "0.28.2"))

	db := "sqlite:" + filepath.Join(t.TempDir(), "queue.db")
	sources := func() []watch.Source {
		return []watch.Source{
			&watch.GoToolchain{Proxy: srv.URL, Since: "1.27.0"},
			&watch.NPM{Registry: srv.URL, Since: "0.28.0", Packages: []watch.NPMPackage{{Name: "@esbuild/linux-x64", Member: "package/bin/esbuild"}}},
		}
	}
	round := func() map[string][]string {
		q, err := queue.Open(ctx, db, queue.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer q.Close()
		got := map[string][]string{}
		for _, src := range sources() {
			es, err := watch.Once(ctx, q, src)
			if err != nil {
				t.Fatal(err)
			}
			got[src.Name()] = items(es)
		}
		return got
	}
	goItems := func(vs ...string) []string {
		var out []string
		for _, v := range vs {
			out = append(out, "go"+v+"/gofmt", "go"+v+"/go", "go"+v+"/distribution")
		}
		return out
	}
	want := map[string][]string{"go": goItems("1.27.0", "1.27.1", "1.27.2"), "npm": {"@esbuild/linux-x64@0.28.0"}}
	if diff := cmp.Diff(want, round()); diff != "" {
		t.Errorf("first round (-want +got):\n%s", diff)
	}
	// New releases appear.
	s.set("/golang.org/toolchain/@v/list", list)
	s.set("/@esbuild%2Flinux-x64", npmDoc)
	want = map[string][]string{"go": goItems("1.27.3", "1.27.4"), "npm": {"@esbuild/linux-x64@0.28.1", "@esbuild/linux-x64@0.28.2"}}
	if diff := cmp.Diff(want, round()); diff != "" {
		t.Errorf("after new releases (-want +got):\n%s", diff)
	}
	// A restarted watcher finds nothing new.
	if diff := cmp.Diff(map[string][]string{"go": nil, "npm": nil}, round()); diff != "" {
		t.Errorf("after a restart (-want +got):\n%s", diff)
	}

	// The jobs say what to fetch and how to make the recipe.
	q, err := queue.Open(ctx, db, queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	jobs, err := q.Jobs(ctx, queue.JobFilter{Builds: true})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, j := range jobs {
		got[j.Release.Ecosystem+" "+j.Release.Name+" "+j.Release.Version] = j.Artifact
	}
	for k, v := range map[string]string{
		"go gofmt go1.27.4":             "golang.org/toolchain@v0.0.1-go1.27.4.linux-amd64/bin/gofmt in golang.org/toolchain@v0.0.1-go1.27.4.linux-amd64",
		"go go-distribution go1.27.4":   "the Go distribution golang.org/toolchain@v0.0.1-go1.27.4.linux-amd64",
		"npm @esbuild/linux-x64 0.28.2": "package/bin/esbuild in https://registry.npmjs.org/@esbuild/linux-x64/-/linux-x64-0.28.2.tgz",
	} {
		if got[k] != v {
			t.Errorf("%s: artifact %q, want %q", k, got[k], v)
		}
	}
	if len(jobs) != 18 {
		t.Errorf("%d jobs, want 18", len(jobs))
	}
}

// TestGoProxyWatcher reads the real Go module proxy once: the releases it
// lists become jobs, and a second look enqueues nothing.
func TestGoProxyWatcher(t *testing.T) {
	if testing.Short() {
		t.Skip("reads proxy.golang.org (skipped with -short)")
	}
	ctx := context.Background()
	q, err := queue.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "queue.db"), queue.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer q.Close()
	src := &watch.GoToolchain{Since: "1.27.0"}
	first, err := watch.Once(ctx, q, src)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, e := range first {
		got[e.Item] = true
	}
	for _, want := range []string{"go1.27.0/gofmt", "go1.27.0/go", "go1.27.0/distribution"} {
		if !got[want] {
			t.Errorf("the proxy's list gave no %s (got %d items)", want, len(first))
		}
	}
	again, err := watch.Once(ctx, q, src)
	if err != nil {
		t.Fatal(err)
	}
	if len(again) != 0 {
		t.Errorf("a second look enqueued %v", items(again))
	}
	t.Logf("the proxy lists %d releases since go1.27.0 (%d jobs)", len(first)/3, len(first))
}
