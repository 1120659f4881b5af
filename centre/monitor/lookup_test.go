package monitor

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/reprove/reprove/centre/api"
	"github.com/reprove/reprove/centre/centretest"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/centre/client"
)

// proxy forwards to upstream, letting answer replace a reply: it gets the
// request and the upstream's status and body, and returns what to send.
func proxy(t *testing.T, upstream string, answer func(r *http.Request, status int, b []byte) (int, []byte)) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		resp, err := http.Get(upstream + r.URL.RequestURI())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		status, b := answer(r, resp.StatusCode, b)
		if status == resp.StatusCode {
			w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		} else {
			w.Header().Set("Content-Type", api.MediaJSON) // an error of the proxy's
		}
		w.WriteHeader(status)
		w.Write(b)
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

func publishRelease(t *testing.T, url, name string) *fixture.Release {
	t.Helper()
	ctx := context.Background()
	rel, err := fixture.MakeReleaseWith(ctx, name, "1.0", []*fixture.Party{centretest.Alice}, centretest.Says, fixture.Options{NoReports: true})
	if err != nil {
		t.Fatal(err)
	}
	c, _ := client.New(url)
	if _, err := c.Publish(ctx, rel.All(centretest.Says)); err != nil {
		t.Fatal(err)
	}
	return rel
}

// A lookup that fails (the centre answered 500 for one artifact: it used to
// stop the monitor for good) is reported; the other artifacts are checked,
// the state advances, and the next run checks the failed one again first.
func TestMonitorGoesOnPastABadLookup(t *testing.T) {
	a := centretest.Start(t, centretest.Options{})
	state := t.TempDir()
	broken := publishRelease(t, a.URL, "broken")
	publishRelease(t, a.URL, "fine")
	bad := proxy(t, a.URL, func(r *http.Request, status int, b []byte) (int, []byte) {
		if r.URL.Path == api.PathArtifacts+broken.Digest.String() {
			return http.StatusInternalServerError, []byte(`{"schemaVersion":1,"code":"internal","message":"internal error"}`)
		}
		return status, b
	})
	res, err := run(t, bad, state, "")
	var le *LookupError
	if !errors.As(err, &le) || len(le.Failures) != 1 || le.Failures[0].Subject != broken.Digest || !strings.Contains(err.Error(), "checked again by the next run") {
		t.Fatalf("err = %v, want the one failed lookup", err)
	}
	if res.IndexesChecked == 0 || res.New.Size != 14 {
		t.Errorf("the other artifacts: %+v", res)
	}
	if got := le.Failures[0].Entries; len(got) != 5 {
		t.Errorf("the failed artifact's entries to check again: %v", got)
	}
	if _, err := os.Stat(filepath.Join(state, FailedFile)); err != nil {
		t.Errorf("no record of the failed lookup: %v", err)
	}
	// The next run (the centre fixed, nothing new) checks it again.
	res, err = run(t, a.URL, state, "")
	if err != nil || res.IndexesChecked != 1 || len(res.LookupFailures) != 0 || res.Old.Size != 14 {
		t.Fatalf("the next run: %v %+v", err, res)
	}
	if _, err := os.Stat(filepath.Join(state, FailedFile)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the record of the failed lookup stays: %v", err)
	}
}

// An artifact the log holds more for than one bundle holds is checked key
// by key: the bundle of each registered key (GET /v1/keys), their indexes
// together. A centre that leaves a key out of its list leaves that key's
// entries out of every index, and is caught.
func TestMonitorCrowdedArtifact(t *testing.T) {
	a := centretest.Start(t, centretest.Options{})
	rel := publishRelease(t, a.URL, "crowded")
	var perKey atomic.Int32
	// The centre's answer for a crowded artifact, for any lookup of every key.
	crowded := func(r *http.Request, status int, b []byte) (int, []byte) {
		if strings.HasPrefix(r.URL.Path, api.PathArtifacts) && r.URL.Query().Get(api.QuerySigner) == "" {
			return http.StatusUnprocessableEntity, []byte(`{"schemaVersion":1,"code":"too-many-entries","message":"the log holds more than 4096 entries"}`)
		}
		if r.URL.Query().Get(api.QuerySigner) != "" {
			perKey.Add(1)
		}
		return status, b
	}
	res, err := run(t, proxy(t, a.URL, crowded), t.TempDir(), "")
	if err != nil || res.IndexesChecked != 3 || len(res.LookupFailures) != 0 {
		t.Fatalf("a crowded artifact: %v %+v", err, res)
	}
	if perKey.Load() == 0 {
		t.Fatal("no lookup by key was made")
	}
	// The dissenting rebuilder's key left out of the centre's list of keys.
	hiding := proxy(t, a.URL, func(r *http.Request, status int, b []byte) (int, []byte) {
		if r.URL.Path == api.PathKeys {
			var ks api.KeysReply
			if err := json.Unmarshal(b, &ks); err != nil {
				t.Errorf("proxy: %v", err)
			}
			ks.Keys = slices.DeleteFunc(ks.Keys, func(k api.KeyReply) bool { return k.Name == centretest.RebB.Name })
			b, _ = json.Marshal(ks)
			return status, b
		}
		return crowded(r, status, b)
	})
	_, err = run(t, hiding, t.TempDir(), "")
	var xe *IndexError
	// B's comparison and summary of the shipped file.
	if !errors.As(err, &xe) || xe.Subject != rel.Digest || !slices.Equal(xe.Missing, []int64{5, 6}) {
		t.Fatalf("a key left out: %v", err)
	}
	if !strings.Contains(err.Error(), "leaves out log entries 5, 6") {
		t.Errorf("message: %v", err)
	}
}
