package fleetweb_test

import (
	"context"
	"encoding/xml"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/centre/centretest"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/centre/client"
	"github.com/reprove/reprove/centre/pagetest"
	"github.com/reprove/reprove/fleet/queue"
	"github.com/reprove/reprove/recipes"
)

// hostile is a release name that tries to reorder the page's text and to
// run a script.
const hostile = "evil\u202etxt.exe<script>alert(1)</script>"

type fleetData struct {
	tc                   *centretest.Centre
	q                    *queue.Queue
	same, stop, run, bad int64
	rel                  *fixture.Release
}

// setUp makes a centre whose log holds one release with an agreeing and a
// dissenting rebuilder (the fixture's), and a fleet queue with: that
// release rebuilt identical, its next version different (so it stopped
// reproducing), a job running on a worker, a failed one, and a release
// with a hostile name.
func setUp(t *testing.T) *fleetData {
	ctx := context.Background()
	clock := func() time.Time { return time.Date(2026, 12, 7, 12, 0, 0, 0, time.UTC) }
	q, err := queue.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "queue.db"), queue.Options{Clock: clock})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { q.Close() })
	tc := centretest.Start(t, centretest.Options{Queue: q})
	rel, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{centretest.Alice}, centretest.Says)
	if err != nil {
		t.Fatal(err)
	}
	c, err := client.New(tc.URL)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.Publish(ctx, rel.All(centretest.Says)); err != nil {
		t.Fatal(err)
	}
	d := &fleetData{tc: tc, q: q, rel: rel}
	enqueue := func(name, version string) int64 {
		r, err := recipes.Parse("r.yaml", []byte(`schema: 1
name: `+"x"+`
version: "1"
source: {dir: {path: /src, tree: sha256:0000000000000000000000000000000000000000000000000000000000000000}}
steps: [{run: ["true"]}]
outputs: [{path: out}]
`))
		if err != nil {
			t.Fatal(err)
		}
		j, err := queue.NewRebuild(r, queue.Release{Ecosystem: "go", Watch: "toolchain", Name: name, Version: version})
		if err != nil {
			t.Fatal(err)
		}
		e, err := q.Enqueue(ctx, j)
		if err != nil {
			t.Fatal(err)
		}
		return e.ID
	}
	store := func(id int64, o queue.Outcome, shipped []digest.Digest, errText, log string, finished time.Time) {
		if _, err := q.StoreResult(ctx, &queue.Result{Job: id, Worker: "worker-a.1", WorkerName: "worker-a", Key: centretest.RebA.Signer.Fingerprint,
			Attempt: 1, Outcome: o, Error: errText, Shipped: shipped, Recipe: []byte(`{"name":"hello"}`), ResultJSON: []byte(`{"schemaVersion":2}`),
			Log: []byte(log), Started: finished.Add(-time.Minute), Finished: finished}, false); err != nil {
			t.Fatal(err)
		}
	}
	if err := q.RegisterWorker(ctx, queue.WorkerInfo{ID: "worker-a.1", Name: "worker-a", Host: "host-1", PID: 42, Key: centretest.RebA.Signer.Fingerprint, Concurrency: 2, Version: "test"}); err != nil {
		t.Fatal(err)
	}
	d.same = enqueue("hello", "1.0")
	store(d.same, queue.Identical, []digest.Digest{rel.Digest}, "", "12:00:00 build   | <b>bold</b> \\x1b[31m\n", clock().Add(-48*time.Hour))
	d.stop = enqueue("hello", "1.1")
	store(d.stop, queue.Different, []digest.Digest{digest.FromString("hello 1.1")}, "", "built\n", clock().Add(-time.Hour))
	d.bad = enqueue(hostile, "2.0")
	store(d.bad, queue.Failed, nil, "build step 1 exited with status 3: "+hostile, "failed\n", clock().Add(-30*time.Minute))
	d.run = enqueue("hello", "1.2")
	if err := q.SetPhase(ctx, d.run, "worker-a.1", 1, "build"); err != nil {
		t.Fatal(err)
	}
	enqueue("hello", "1.3") // pending
	return d
}

// TestDashboardInBrowser loads the dashboard in Chromium with JavaScript
// off: the overview counts each outcome, the release page shows both
// rebuilders' verdicts with the dissenting one marked, the queue shows
// the running job with its worker and phase, a hostile name stays inert
// text, and the feed lists the dissent.
func TestDashboardInBrowser(t *testing.T) {
	d := setUp(t)
	ctx := pagetest.Browser(t)
	base := d.tc.URL
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, steps...); err != nil {
			t.Fatal(err)
		}
	}
	text := func(sel string) string {
		t.Helper()
		s, err := chromedp.Run(ctx, chromedp.Text(sel))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}

	do(chromedp.Navigate(base+"/fleet/"), chromedp.WaitVisible(`#groups`))
	groups, workers, dissent := text(`#groups`), text(`#workers`), text(`#dissent`)
	// identical, equivalent, different, failed, pending, rebuilt, total
	if !strings.Contains(strings.Join(strings.Fields(groups), " "), "go toolchain 1 0 1 1 2 0 5") {
		t.Errorf("groups table:\n%q", groups)
	}
	if !strings.Contains(workers, "worker-a") || !strings.Contains(workers, "hello 1.2") || !strings.Contains(workers, "build") {
		t.Errorf("workers table:\n%s", workers)
	}
	if !strings.Contains(dissent, "hello 1.1") || !strings.Contains(dissent, "stopped reproducing (1.0 reproduced)") {
		t.Errorf("dissent:\n%s", dissent)
	}

	screenshot(t, ctx, "fleet-overview.png")

	do(chromedp.Navigate(base+"/fleet/jobs/"+itoa(d.same)), chromedp.WaitVisible(`.verdicts`))
	screenshot(t, ctx, "fleet-release.png")
	verdicts := text(`.verdicts`)
	dissentRow := text(`.verdicts tr.dissent`)
	if !strings.Contains(verdicts, "rebuilder-a") || !strings.Contains(verdicts, "identical") ||
		!strings.Contains(dissentRow, "rebuilder-b") || !strings.Contains(dissentRow, "different") {
		t.Errorf("verdicts:\n%s\ndissenting row: %s", verdicts, dissentRow)
	}
	if log := text(`#log`); !strings.Contains(log, "<b>bold</b>") {
		t.Errorf("the log is not shown as text: %q", log)
	}

	do(chromedp.Navigate(base+"/fleet/jobs/"+itoa(d.bad)), chromedp.WaitVisible(`#error`))
	h1, errText := text(`h1`), text(`#error`)
	for _, s := range []string{h1, errText} {
		if strings.Contains(s, "\u202e") || !strings.Contains(s, `evil\u202etxt.exe<script>alert(1)</script>`) {
			t.Errorf("the hostile name is not shown escaped: %q", s)
		}
	}
	scripts, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll("script").length`))
	if err == nil && scripts != 0 {
		t.Errorf("the page holds %d script elements", scripts)
	}

	do(chromedp.Navigate(base+"/fleet/queue"), chromedp.WaitVisible(`#running`))
	if run := text(`#running`); !strings.Contains(run, "hello 1.2") || !strings.Contains(run, "worker-a") || !strings.Contains(run, "build") {
		t.Errorf("running:\n%s", run)
	}
	main := text(`main`)
	for _, want := range []string{"Pending (1)", "Failed (1)", "Done (2)"} {
		if !strings.Contains(main, want) {
			t.Errorf("the queue page lacks %q:\n%s", want, main)
		}
	}

	do(chromedp.Navigate(base + "/fleet/dissent.atom"))
	feedText, err := chromedp.Run(ctx, chromedp.Evaluate[string](`document.documentElement.textContent`))
	if err != nil {
		feedText = text(`body`)
	}
	for _, want := range []string{"rebuilder-b disagrees on hello 1.0: different", "hello 1.1 stopped reproducing (1.0 reproduced)"} {
		if !strings.Contains(feedText, want) {
			t.Errorf("the feed in the browser lacks %q:\n%s", want, feedText)
		}
	}
}

// TestFeedIsAtom reads the feed as a feed reader would.
func TestFeedIsAtom(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a centre")
	}
	d := setUp(t)
	resp, err := http.Get(d.tc.URL + "/fleet/dissent.atom")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/atom+xml") {
		t.Errorf("content type %q", ct)
	}
	var f struct {
		XMLName xml.Name `xml:"http://www.w3.org/2005/Atom feed"`
		ID      string   `xml:"id"`
		Entries []struct {
			Title   string `xml:"title"`
			ID      string `xml:"id"`
			Updated string `xml:"updated"`
			Links   []struct {
				Href string `xml:"href,attr"`
			} `xml:"link"`
		} `xml:"entry"`
	}
	if err := xml.Unmarshal(b, &f); err != nil {
		t.Fatalf("not Atom: %v\n%s", err, b)
	}
	if len(f.Entries) != 2 {
		t.Fatalf("%d entries, want 2 (the fleet's different, rebuilder-b's dissent):\n%s", len(f.Entries), b)
	}
	ids := map[string]bool{}
	for _, e := range f.Entries {
		if _, err := time.Parse(time.RFC3339, e.Updated); err != nil || e.ID == "" || ids[e.ID] || len(e.Links) == 0 || !strings.HasPrefix(e.Links[0].Href, d.tc.URL+"/fleet/jobs/") {
			t.Errorf("entry %+v", e)
		}
		ids[e.ID] = true
	}
}

// screenshot saves the page under $REPROVE_SCREENSHOTS, for people to look
// at.
func screenshot(t *testing.T, ctx context.Context, name string) {
	dir := os.Getenv("REPROVE_SCREENSHOTS")
	if dir == "" {
		return
	}
	shot, err := chromedp.Run(ctx, chromedp.FullScreenshot(100))
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, name), shot, 0o644)
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
