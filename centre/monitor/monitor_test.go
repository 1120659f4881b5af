package monitor

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/centretest"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/centre/client"
	"github.com/reprove/reprove/centre/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func publishReviews(t *testing.T, url string, n int, tag string) {
	t.Helper()
	ctx := context.Background()
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	var envs [][]byte
	for i := range n {
		e, err := fixture.Review(ctx, centretest.Alice, "tool", "1.0", fmt.Sprintf("%s %d", tag, i))
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, e)
	}
	if _, err := c.Publish(ctx, envs); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, url, dir, key string) (*Result, error) {
	t.Helper()
	c, err := client.New(url)
	if err != nil {
		t.Fatal(err)
	}
	return Run(context.Background(), c, dir, Options{Key: key})
}

func TestMonitor(t *testing.T) {
	a := centretest.Start(t, centretest.Options{})
	state := t.TempDir()
	publishReviews(t, a.URL, 3, "first")
	res, err := run(t, a.URL, state, "")
	if err != nil {
		t.Fatal(err)
	}
	if !res.KeyPinned || res.VerifierKey != a.Log().VerifierKey() || res.New.Size != 3 || len(res.Entries) != 3 {
		t.Fatalf("first run: %+v", res)
	}
	if res.Entries[0].Kind != "review" || !strings.Contains(res.Entries[0].What, "review of") {
		t.Errorf("entry: %+v", res.Entries[0])
	}
	// Enough entries to need a second tile, then a second run: only the
	// new ones, checked consistent with the first.
	publishReviews(t, a.URL, 300, "second")
	res, err = run(t, a.URL, state, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.KeyPinned || res.Old.Size != 3 || res.New.Size != 303 || len(res.Entries) != 300 || res.Entries[0].Index != 3 {
		t.Fatalf("second run: old %d new %d, %d entries", res.Old.Size, res.New.Size, len(res.Entries))
	}
	// Nothing new: consistent, nothing listed.
	if res, err = run(t, a.URL, state, ""); err != nil || len(res.Entries) != 0 {
		t.Fatalf("third run: %v %+v", err, res)
	}
	// A key that is not the pinned one.
	b := centretest.Start(t, centretest.Options{})
	if _, err := run(t, a.URL, state, b.Log().VerifierKey()); err == nil {
		t.Error("a state pinned to one log accepted another log's key")
	}
}

// TestMonitorCatchesFork shows the monitor forks of the log it watches,
// made by a centre holding the log's own key: each is refused, the state
// stays at the last good checkpoint, and the evidence is saved.
func TestMonitorCatchesFork(t *testing.T) {
	a := centretest.Start(t, centretest.Options{})
	state := t.TempDir()
	publishReviews(t, a.URL, 10, "shared")
	if _, err := run(t, a.URL, state, ""); err != nil {
		t.Fatal(err)
	}
	saved, _ := os.ReadFile(filepath.Join(state, CheckpointFile))

	// The fork: the same key, the first 5 entries, then another history.
	fork := centretest.Start(t, centretest.Options{LogKey: a.KeyPath()})
	publishReviews(t, fork.URL, 5, "shared")
	publishReviews(t, fork.URL, 20, "rewritten")
	// A shrunken log: the same key, fewer entries.
	short := centretest.Start(t, centretest.Options{LogKey: a.KeyPath()})
	publishReviews(t, short.URL, 4, "shared")
	// The same size, another tree.
	same := centretest.Start(t, centretest.Options{LogKey: a.KeyPath()})
	publishReviews(t, same.URL, 10, "other")

	for name, url := range map[string]string{"fork": fork.URL, "shrunk": short.URL, "same size": same.URL} {
		_, err := run(t, url, state, "")
		var ie *InconsistentError
		if !errors.As(err, &ie) {
			t.Errorf("%s: %v, want an inconsistency", name, err)
			continue
		}
		if ev, err := os.ReadFile(ie.Evidence); err != nil || !bytes.Contains(ev, saved) {
			t.Errorf("%s: evidence %s: %v", name, ie.Evidence, err)
		}
		if now, _ := os.ReadFile(filepath.Join(state, CheckpointFile)); !bytes.Equal(now, saved) {
			t.Errorf("%s: the state moved to the forked checkpoint", name)
		}
	}

	// A checkpoint with a bad signature; a log whose tiles are not its
	// checkpoint's: a proxy tampers with what a centre serves.
	publishReviews(t, a.URL, 5, "more")
	for name, tamper := range map[string]func(path string, b []byte) []byte{
		"bad signature": func(path string, b []byte) []byte {
			if path == "/checkpoint" {
				i := bytes.LastIndexByte(b, ' ')
				b[i+3] ^= 1
			}
			return b
		},
		"forged entry": func(path string, b []byte) []byte {
			if strings.HasPrefix(path, "/tile/entries/") {
				b = bytes.Replace(b, []byte("reviewed by alice"), []byte("reviewed by mallory"), 1)
				b = bytes.Replace(b, []byte("payload"), []byte("payloaD"), 1)
			}
			return b
		},
	} {
		proxy := tamperingProxy(t, a.URL, tamper)
		_, err := run(t, proxy, state, "")
		if err == nil {
			t.Errorf("%s: accepted", name)
		}
		if now, _ := os.ReadFile(filepath.Join(state, CheckpointFile)); !bytes.Equal(now, saved) {
			t.Errorf("%s: the state moved", name)
		}
	}
	// And the real log, grown, is still fine.
	if res, err := run(t, a.URL, state, ""); err != nil || res.New.Size != 15 || len(res.Entries) != 5 {
		t.Errorf("after the forks: %v %+v", err, res)
	}
}

func tamperingProxy(t *testing.T, upstream string, tamper func(path string, b []byte) []byte) string {
	t.Helper()
	u, _ := url.Parse(upstream)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(u.String() + r.URL.RequestURI())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		for k, v := range resp.Header {
			w.Header()[k] = v
		}
		w.Header().Del("Content-Length") // the body may change
		w.WriteHeader(resp.StatusCode)
		w.Write(tamper(r.URL.Path, b))
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestMonitorCatchesHiddenEntry: a centre (holding the log's key) whose
// lookup leaves one of an artifact's entries out of the bundle and out of
// the signed index, so that a customer checking completeness offline would
// not notice. Replaying the log's new entries catches it; the state stays,
// and the signed index is saved as evidence.
func TestMonitorCatchesHiddenEntry(t *testing.T) {
	a := centretest.Start(t, centretest.Options{})
	state := t.TempDir()
	publishReviews(t, a.URL, 2, "first")
	res, err := run(t, a.URL, state, "")
	if err != nil {
		t.Fatal(err)
	}
	if res.IndexesChecked != 1 || res.IndexesSkipped != 0 {
		t.Fatalf("first run checked %d indexes (skipped %d), want the one artifact", res.IndexesChecked, res.IndexesSkipped)
	}
	saved, _ := os.ReadFile(filepath.Join(state, CheckpointFile))
	publishReviews(t, a.URL, 3, "second")

	skey, err := os.ReadFile(a.KeyPath())
	if err != nil {
		t.Fatal(err)
	}
	v, err := logproof.NewVerifier(a.Log().VerifierKey())
	if err != nil {
		t.Fatal(err)
	}
	hide := int64(3) // one of the new entries
	lying := tamperingProxy(t, a.URL, func(path string, b []byte) []byte {
		if !strings.HasPrefix(path, "/v1/artifacts/") {
			return b
		}
		bu, err := logproof.ParseBundle(b)
		if err != nil {
			t.Errorf("proxy: %v", err)
			return b
		}
		x, err := v.OpenIndex([]byte(bu.ArtifactIndex))
		if err != nil {
			t.Errorf("proxy: %v", err)
			return b
		}
		x.Entries = slices.DeleteFunc(x.Entries, func(n int64) bool { return n == hide })
		bu.Entries = slices.DeleteFunc(bu.Entries, func(e logproof.BundleEntry) bool { return e.Index == hide })
		signed, err := logproof.SignIndex(x, strings.TrimSpace(string(skey)))
		if err != nil {
			t.Errorf("proxy: %v", err)
			return b
		}
		bu.ArtifactIndex = string(signed)
		out, _ := bu.Marshal()
		return out
	})
	_, err = run(t, lying, state, "")
	var xe *IndexError
	if !errors.As(err, &xe) || !slices.Equal(xe.Missing, []int64{hide}) {
		t.Fatalf("err = %v, want entry %d named as hidden", err, hide)
	}
	if !strings.Contains(err.Error(), "leaves out log entry 3") {
		t.Errorf("message: %v", err)
	}
	if ev, err := os.ReadFile(xe.Evidence); err != nil || !bytes.Contains(ev, xe.Index) {
		t.Errorf("evidence %s: %v", xe.Evidence, err)
	}
	if now, _ := os.ReadFile(filepath.Join(state, CheckpointFile)); !bytes.Equal(now, saved) {
		t.Error("the state moved past a lying index")
	}
	// The honest centre passes, and the next run has nothing to check.
	if res, err := run(t, a.URL, state, ""); err != nil || res.IndexesChecked != 1 || len(res.Entries) != 3 {
		t.Fatalf("honest centre: %v %+v", err, res)
	}
	if res, err := run(t, a.URL, state, ""); err != nil || res.IndexesChecked != 0 {
		t.Fatalf("nothing new: %v %+v", err, res)
	}
}

// TestMonitorCatchesStaleLookup (issue 16, finding 2): a front that hands
// an artifact's customers its bundle from before rebuilder B's "different"
// was logged. The monitor replays B's summary against the lookup, whose
// index is older than the entries replayed: exit 3, not a silent pass.
func TestMonitorCatchesStaleLookup(t *testing.T) {
	ctx := context.Background()
	a := centretest.Start(t, centretest.Options{})
	rel, err := fixture.MakeRelease(ctx, "tool", "1.0", []*fixture.Party{centretest.Alice}, centretest.Says)
	if err != nil {
		t.Fatal(err)
	}
	c, _ := client.New(a.URL)
	if _, err := c.Publish(ctx, rel.All(centretest.Says[:1])); err != nil {
		t.Fatal(err)
	}
	state := t.TempDir()
	if _, err := run(t, a.URL, state, ""); err != nil {
		t.Fatal(err)
	}
	old, err := c.FetchBundle(ctx, rel.Digest)
	if err != nil {
		t.Fatal(err)
	}
	oldJSON, _ := old.Marshal()
	b := centretest.RebB.Name
	if _, err := c.Publish(ctx, [][]byte{rel.Rebuilds[b], rel.Comparisons[b], rel.Summaries[b]}); err != nil {
		t.Fatal(err)
	}
	front := tamperingProxy(t, a.URL, func(path string, b []byte) []byte {
		if path == "/v1/artifacts/"+rel.Digest.String() {
			return oldJSON
		}
		return b
	})
	res, err := run(t, front, state, "")
	var xe *IndexError
	if !errors.As(err, &xe) || xe.Subject != rel.Digest {
		t.Fatalf("err = %v, want the stale lookup of %s", err, rel.Digest)
	}
	if !strings.Contains(err.Error(), "the centre's lookup answers at tree size 4, older than the log's 7: a stale lookup") ||
		!slices.Equal(xe.Missing, []int64{5, 6}) {
		t.Errorf("message: %v (missing %v)", err, xe.Missing)
	}
	var failed bool
	for _, e := range res.Entries {
		failed = failed || strings.Contains(e.What, "FAILED")
	}
	if !failed {
		t.Errorf("the run did not list B's FAILED summary: %+v", res.Entries)
	}
	// The centre itself passes.
	if _, err := run(t, a.URL, state, ""); err != nil {
		t.Fatal(err)
	}
}

// TestMonitorChecksEveryArtifactOverRuns: with a bound of 2 lookups a run,
// 5 artifacts are all checked over 3 runs, none skipped for good, and a
// lie about the last one is caught when its turn comes.
func TestMonitorChecksEveryArtifactOverRuns(t *testing.T) {
	ctx := context.Background()
	a := centretest.Start(t, centretest.Options{})
	c, _ := client.New(a.URL)
	var envs [][]byte
	for i := range 5 {
		e, err := fixture.Review(ctx, centretest.Alice, "tool", fmt.Sprintf("1.%d", i), "one artifact each")
		if err != nil {
			t.Fatal(err)
		}
		envs = append(envs, e)
	}
	if _, err := c.Publish(ctx, envs); err != nil {
		t.Fatal(err)
	}
	// The lie: the last artifact's lookup answers with the first's bundle.
	last := fixture.Source("tool", "1.4").Archive
	first, err := c.FetchBundle(ctx, fixture.Source("tool", "1.0").Archive)
	if err != nil {
		t.Fatal(err)
	}
	firstJSON, _ := first.Marshal()
	lying := tamperingProxy(t, a.URL, func(path string, b []byte) []byte {
		if path == "/v1/artifacts/"+last.String() {
			return firstJSON
		}
		return b
	})
	state := t.TempDir()
	cl, _ := client.New(lying)
	type counts struct {
		checked, skipped int
		replayed, pend   int64
	}
	var got []counts
	for range 3 {
		res, err := Run(ctx, cl, state, Options{MaxIndexChecks: 2})
		if err != nil {
			var xe *IndexError
			if !errors.As(err, &xe) || xe.Subject != last {
				t.Fatalf("run %d: %v", len(got)+1, err)
			}
			got = append(got, counts{-1, -1, -1, -1})
			break
		}
		got = append(got, counts{res.IndexesChecked, res.IndexesSkipped, res.ReplayedTo, res.EntriesPending})
	}
	want := []counts{{2, 3, 2, 3}, {2, 1, 4, 1}, {-1, -1, -1, -1}}
	if !slices.Equal(got, want) {
		t.Fatalf("runs (checked, skipped, replayed to, pending) = %v, want %v (the third catches the lie)", got, want)
	}
	// The honest centre finishes the replay.
	res, err := run(t, a.URL, state, "")
	if err != nil || res.IndexesChecked != 1 || res.EntriesPending != 0 || res.ReplayedTo != 5 {
		t.Fatalf("honest: %v %+v", err, res)
	}
}
