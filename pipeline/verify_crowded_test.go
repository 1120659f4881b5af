package pipeline_test

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/reprove/reprove/centre/api"
	"github.com/reprove/reprove/centre/centretest"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/centre/client"
	"github.com/reprove/reprove/pipeline"
)

// A file the log holds more for than one bundle holds (the centre answers
// too-many-entries): Verify asks for the entries of the policy's keys and
// verifies with that bundle, whose signed index covers them.
func TestVerifyCrowdedFromCentre(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a centre")
	}
	ctx := context.Background()
	c := centretest.Start(t, centretest.Options{})
	// A also has a dissenting rebuilder beside it whom the policy does
	// not trust: the bundle of the policy's keys leaves B out.
	says := []fixture.Say{{Rebuilder: centretest.RebA}, {Rebuilder: centretest.RebB, Different: true}}
	rel, err := fixture.MakeReleaseWith(ctx, "hello", "1.0", []*fixture.Party{centretest.Alice}, says, fixture.Options{NoReports: true})
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := client.New(c.URL)
	if _, err := cl.Publish(ctx, rel.All(says)); err != nil {
		t.Fatal(err)
	}
	crowded := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, api.PathArtifacts) && !r.URL.Query().Has(api.QuerySigner) {
			w.Header().Set("Content-Type", api.MediaJSON)
			w.WriteHeader(http.StatusUnprocessableEntity)
			io.WriteString(w, `{"schemaVersion":1,"code":"too-many-entries","message":"the log holds more than 4096 entries for it"}`)
			return
		}
		resp, err := http.Get(c.URL + r.URL.RequestURI())
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		defer resp.Body.Close()
		w.Header().Set("Content-Type", resp.Header.Get("Content-Type"))
		w.WriteHeader(resp.StatusCode)
		io.Copy(w, resp.Body)
	}))
	defer crowded.Close()
	file := filepath.Join(t.TempDir(), "hello-1.0.tar")
	os.WriteFile(file, rel.Shipped, 0o644)
	var msgs []string
	res, err := pipeline.Verify(ctx, pipeline.VerifyRequest{File: file, Server: crowded.URL, Policy: verifyPolicy(t, c),
		Progress: func(e pipeline.Event) { msgs = append(msgs, e.Message) }})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || res.Attestations != 4 {
		t.Fatalf("not verified with the policy's keys' bundle (%d attestations):\n%s", res.Attestations, res.Text())
	}
	if !slices.ContainsFunc(msgs, func(m string) bool { return strings.Contains(m, "fetching the entries of the policy's keys") }) {
		t.Errorf("progress %q does not say it asked for the policy's keys", msgs)
	}
}
