package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/api"
	"github.com/reprove/reprove/centre/centretest"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/centre/client"
	"github.com/reprove/reprove/centre/witness"
	"github.com/reprove/reprove/centre/witness/witnesstest"
)

// Regression tests for issue 16's findings 2 and 3: a stale bundle, genuinely
// signed, hid a later dissent from `verify --server` and `verify -a`, and a
// customer pointed at a fork of the log said verified. Each ran to
// "verified" before the customer remembered the log's newest tree.

// customer runs reprove in dir with its own state directory, at time now.
type customer struct {
	t     *testing.T
	dir   string
	state string
	now   func() time.Time
}

func newCustomer(t *testing.T) *customer {
	dir := t.TempDir()
	return &customer{t: t, dir: dir, state: filepath.Join(dir, "state"), now: time.Now}
}

func (c *customer) run(args ...string) (int, string) {
	c.t.Helper()
	cwd, _ := os.Getwd()
	if err := os.Chdir(c.dir); err != nil {
		c.t.Fatal(err)
	}
	defer os.Chdir(cwd)
	var stdout, stderr bytes.Buffer
	code := Main(context.Background(), args, Env{
		Stdout: &stdout, Stderr: &stderr,
		Getenv: func(k string) string {
			if k == "REPROVE_STATE" {
				return c.state
			}
			return ""
		},
		Now: c.now,
	})
	return code, stdout.String() + stderr.String()
}

func (c *customer) write(name string, b []byte) string {
	c.t.Helper()
	if err := os.WriteFile(filepath.Join(c.dir, name), b, 0o644); err != nil {
		c.t.Fatal(err)
	}
	return name
}

// policy writes a policy trusting Alice's reviews and rebuilders A and B,
// counting only what the log (vkey) proves, with extra lines under log:.
func (c *customer) policy(vkey, logExtra string) string {
	c.t.Helper()
	c.write("alice.pub", centretest.Alice.PEM)
	c.write("a.pub", centretest.RebA.PEM)
	c.write("b.pub", centretest.RebB.PEM)
	return c.write("policy.yaml", []byte(`version: 1
reviewers:
  threshold: 1
  keys:
    - name: Alice
      key: alice.pub
rebuilders:
  threshold: 1
  keys:
    - name: A
      key: a.pub
    - name: B
      key: b.pub
log:
  key: `+vkey+"\n"+logExtra))
}

// staleFront serves, for every artifact lookup, the bundle it was given
// (an old one, genuinely signed), and passes everything else to the
// centre: a cache, a mirror or a hostile front.
func staleFront(t *testing.T, centreURL string, bundle *logproof.Bundle, checkpoint []byte) *httptest.Server {
	t.Helper()
	u, _ := url.Parse(centreURL)
	proxy := httputil.NewSingleHostReverseProxy(u)
	b, err := bundle.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	s := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.HasPrefix(r.URL.Path, api.PathArtifacts):
			w.Header().Set("Content-Type", api.MediaBundle)
			w.Write(b)
		case r.URL.Path == api.PathCheckpoint && checkpoint != nil:
			w.Header().Set("Content-Type", api.MediaCheckpoint)
			w.Write(checkpoint)
		default:
			proxy.ServeHTTP(w, r)
		}
	}))
	t.Cleanup(s.Close)
	return s
}

// publishDissent logs a release that rebuilder A reproduced, keeps its
// bundle and the checkpoint then, and logs rebuilder B's "different".
func publishDissent(t *testing.T, centreURL string) (rel *fixture.Release, old *logproof.Bundle, oldCheckpoint []byte) {
	t.Helper()
	ctx := context.Background()
	rel, err := fixture.MakeRelease(ctx, "tool", "1.0", []*fixture.Party{centretest.Alice}, centretest.Says)
	if err != nil {
		t.Fatal(err)
	}
	cl, _ := client.New(centreURL)
	if _, err := cl.Publish(ctx, rel.All(centretest.Says[:1])); err != nil {
		t.Fatal(err)
	}
	if old, err = cl.FetchBundle(ctx, rel.Digest); err != nil {
		t.Fatal(err)
	}
	if oldCheckpoint, err = cl.Checkpoint(ctx); err != nil {
		t.Fatal(err)
	}
	b := centretest.RebB.Name
	if _, err := cl.Publish(ctx, [][]byte{rel.Rebuilds[b], rel.Comparisons[b], rel.Summaries[b]}); err != nil {
		t.Fatal(err)
	}
	return rel, old, oldCheckpoint
}

func wantNotVerified(t *testing.T, what string, code int, out string, reason string) {
	t.Helper()
	if code != ExitNotReproduced || !strings.Contains(out, reason) {
		t.Errorf("%s: exit %d, want 3 with %q:\n%s", what, code, reason, out)
	}
}

// Finding 2: a front that serves an artifact's bundle from before rebuilder
// B's "different" was logged.
func TestStaleBundleIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a centre")
	}
	c := centretest.Start(t, centretest.Options{})
	rel, old, oldCheckpoint := publishDissent(t, c.URL)
	vkey := c.Log().VerifierKey()

	// verify --server through the front: the centre's own checkpoint,
	// read first, is newer than the bundle the front hands out.
	cu := newCustomer(t)
	pol := cu.policy(vkey, "")
	file := cu.write("tool.tar", rel.Shipped)
	front := staleFront(t, c.URL, old, nil)
	code, out := cu.run("verify", file, "--policy", pol, "--server", front.URL)
	wantNotVerified(t, "verify --server through a stale front", code, out,
		"the log bundle is at tree size 4, but the centre's newest tree (size 7) is newer: entries logged since, a rebuilder's \"different\" say, may be missing")
	// The centre itself: B's dissent is in the bundle.
	code, out = cu.run("verify", file, "--policy", pol, "--server", c.URL)
	wantNotVerified(t, "verify --server", code, out, "trusted rebuilder B disagrees: different")

	// verify -a old-bundle.json, by a customer who has seen the newer tree.
	b, _ := old.Marshal()
	bundle := cu.write("old.log-bundle.json", b)
	code, out = cu.run("verify", file, "--policy", pol, "-a", bundle)
	wantNotVerified(t, "verify -a old-bundle.json", code, out, "the log bundle is at tree size 4, but the tree seen before (size 7")

	// A front stale in everything (checkpoint too), for a customer who has
	// seen the newer tree: refused just the same.
	all := staleFront(t, c.URL, old, oldCheckpoint)
	code, out = cu.run("verify", file, "--policy", pol, "--server", all.URL)
	wantNotVerified(t, "verify --server through a front stale in everything", code, out, "but the tree seen before (size 7")

	// A new customer offline with the old bundle and nothing remembered:
	// only witnesses' times can date it (TestWitnessedVerify).
	fresh := newCustomer(t)
	fpol := fresh.policy(vkey, "")
	fresh.write("tool.tar", rel.Shipped)
	fresh.write("old.log-bundle.json", b)
	if code, out := fresh.run("verify", "tool.tar", "--policy", fpol, "-a", "old.log-bundle.json"); code != ExitOK {
		t.Errorf("without witnesses and without memory, the old bundle is all there is: exit %d\n%s", code, out)
	}
}

// Finding 3: a customer pointed at a fork of the log (another centre with
// the log's key and another history).
func TestForkIsRefused(t *testing.T) {
	if testing.Short() {
		t.Skip("starts two centres")
	}
	ctx := context.Background()
	c := centretest.Start(t, centretest.Options{})
	rel, err := fixture.MakeRelease(ctx, "tool", "1.0", []*fixture.Party{centretest.Alice}, centretest.Says)
	if err != nil {
		t.Fatal(err)
	}
	all := rel.All(centretest.Says)
	cl, _ := client.New(c.URL)
	if _, err := cl.Publish(ctx, all); err != nil {
		t.Fatal(err)
	}
	// The fork drops B's dissent: the review and A's attestations, then
	// other entries, to a tree of the same size (7) and then one more.
	fork := centretest.Start(t, centretest.Options{LogKey: c.KeyPath()})
	fl, _ := client.New(fork.URL)
	var padding [][]byte
	for _, v := range []string{"2.0", "2.1", "2.2", "2.3"} {
		p, err := fixture.Review(ctx, centretest.Alice, "other", v, "padding")
		if err != nil {
			t.Fatal(err)
		}
		padding = append(padding, p)
	}
	if _, err := fl.Publish(ctx, append(append([][]byte{}, all[:4]...), padding[:3]...)); err != nil {
		t.Fatal(err)
	}
	if _, err := fl.Publish(ctx, padding[3:]); err != nil {
		t.Fatal(err)
	}
	vkey := c.Log().VerifierKey()

	cu := newCustomer(t)
	pol := cu.policy(vkey, "")
	file := cu.write("tool.tar", rel.Shipped)
	code, out := cu.run("verify", file, "--policy", pol, "--server", c.URL)
	wantNotVerified(t, "the real log", code, out, "trusted rebuilder B disagrees: different")
	code, out = cu.run("verify", file, "--policy", pol, "--server", fork.URL)
	wantNotVerified(t, "verify --server at the fork", code, out, "the log forked or was rewritten")
	if code == ExitNotReproduced && !strings.Contains(out, "the tree seen before (size 7") {
		t.Errorf("the refusal does not name the tree seen before:\n%s", out)
	}
	ev, _ := filepath.Glob(filepath.Join(cu.state, "logs", "*", "evidence-*.txt"))
	if len(ev) == 0 {
		t.Error("no evidence of the fork kept in the state directory")
	}

	// Holding bundles from both branches, offline, with nothing remembered:
	// two trees of one size with different roots.
	realBundle, err := cl.FetchBundle(ctx, rel.Digest)
	if err != nil {
		t.Fatal(err)
	}
	forkBundle, err := fl.FetchBundleAt(ctx, rel.Digest, 7)
	if err != nil {
		t.Fatal(err)
	}
	both := newCustomer(t)
	bpol := both.policy(vkey, "")
	both.write("tool.tar", rel.Shipped)
	rb, _ := realBundle.Marshal()
	fb, _ := forkBundle.Marshal()
	both.write("real.json", rb)
	both.write("fork.json", fb)
	code, out = both.run("verify", "tool.tar", "--policy", bpol, "-a", "fork.json", "-a", "real.json")
	wantNotVerified(t, "bundles of both branches", code, out, "have different roots: the log shows two histories")
}

// witnessedCentre starts two litewitnesses and a centre that asks them,
// and returns the policy lines naming both (threshold 2) and the maxAge
// given.
func witnessedCentre(t *testing.T, opts centretest.Options) (*centretest.Centre, []*witnesstest.Litewitness, string) {
	t.Helper()
	if opts.Dir == "" {
		opts.Dir = t.TempDir()
	}
	vkey := centretest.LogKey(t, opts.Dir)
	var lws []*witnesstest.Litewitness
	lines := "  witnesses:\n    threshold: 2\n    keys:\n"
	for _, name := range []string{"witness-a.test", "witness-b.test"} {
		lw := witnesstest.Start(t, name, vkey)
		lws = append(lws, lw)
		opts.Witnesses = append(opts.Witnesses, lw.Witness())
		lines += "      - name: " + name + "\n        key: " + lw.Key + "\n"
	}
	return centretest.Start(t, opts), lws, lines
}

// TestWitnessedVerify: with a policy naming the witnesses, verify counts a
// bundle only with both cosignatures; maxAge makes an old bundle handed out
// by a distributor expire, for a customer who remembers nothing; a fork
// that the witnesses refused reaches no customer.
func TestWitnessedVerify(t *testing.T) {
	if testing.Short() {
		t.Skip("starts litewitnesses")
	}
	ctx := context.Background()
	c, lws, witnesses := witnessedCentre(t, centretest.Options{})
	vkey := c.Log().VerifierKey()
	rel, err := fixture.MakeRelease(ctx, "tool", "1.0", []*fixture.Party{centretest.Alice}, centretest.Says[:1])
	if err != nil {
		t.Fatal(err)
	}
	// publish waits until the witnesses cosigned a tree holding the
	// release, and writes that bundle.
	cu := newCustomer(t)
	for i, e := range rel.All(centretest.Says[:1]) {
		cu.write("att"+string(rune('0'+i))+".json", e)
	}
	cu.write("tool.tar", rel.Shipped)
	code, out := cu.run("publish", "--server", c.URL, "--key", vkey, "att0.json", "att1.json", "att2.json", "att3.json")
	if code != ExitOK || !strings.Contains(out, "wrote tool.tar.log-bundle.json: 4 entries") && !strings.Contains(out, "log-bundle.json: 4 entries") {
		t.Fatalf("publish: exit %d\n%s", code, out)
	}
	bundles, _ := filepath.Glob(filepath.Join(cu.dir, "*.log-bundle.json"))
	if len(bundles) != 1 {
		t.Fatalf("bundles written: %v", bundles)
	}
	pol := cu.policy(vkey, witnesses+"  maxAge: 1h\n")
	code, out = cu.run("verify", "tool.tar", "--policy", pol, "-a", filepath.Base(bundles[0]))
	if code != ExitOK {
		t.Fatalf("the witnessed bundle: exit %d\n%s", code, out)
	}
	code, out = cu.run("verify", "tool.tar", "--policy", pol, "--server", c.URL)
	if code != ExitOK {
		t.Fatalf("verify --server: exit %d\n%s", code, out)
	}

	// Two hours later, a customer who remembers nothing is handed the
	// same bundle by a distributor: its cosignatures are too old.
	later := newCustomer(t)
	later.now = func() time.Time { return time.Now().Add(2 * time.Hour) }
	lpol := later.policy(vkey, witnesses+"  maxAge: 1h\n")
	later.write("tool.tar", rel.Shipped)
	b, _ := os.ReadFile(bundles[0])
	later.write("old.log-bundle.json", b)
	code, out = later.run("verify", "tool.tar", "--policy", lpol, "-a", "old.log-bundle.json")
	wantNotVerified(t, "an old bundle under maxAge", code, out, "is stale: 0 of the 2 witnesses the policy requires cosigned it within maxAge 1h0m0s")

	// A policy needing both witnesses refuses a tree only one cosigned.
	lws[1].Stop()
	more, _ := fixture.Review(ctx, centretest.Alice, "tool", "1.0", "a second look")
	cl, _ := client.New(c.URL)
	rep, err := cl.Publish(ctx, [][]byte{more})
	if err != nil {
		t.Fatal(err)
	}
	var one *logproof.Bundle
	waitUntil(t, "witness a cosigns the new tree", func() bool {
		one, err = cl.FetchBundleAt(ctx, rel.Digest, rep.TreeSize)
		if err != nil {
			t.Fatal(err)
		}
		return strings.Contains(one.Checkpoint, "— witness-a.test ")
	})
	ob, _ := one.Marshal()
	cu.write("one.json", ob)
	code, out = cu.run("verify", "tool.tar", "--policy", pol, "-a", "one.json")
	wantNotVerified(t, "a tree one witness cosigned", code, out, "is cosigned by 1 of the 2 witnesses the policy names (witness-a.test, witness-b.test), and the policy requires 2")
	// Meanwhile lookups serve the last tree both cosigned, which verifies.
	code, out = cu.run("verify", "tool.tar", "--policy", pol, "--server", c.URL)
	if code != ExitOK {
		t.Fatalf("verify --server with witness b down: exit %d\n%s", code, out)
	}
	lws[1].Restart()
	waitUntil(t, "witness b catches up", func() bool { return lws[1].Size("centre.test/log") >= rep.TreeSize })

	// A fork: a centre with the log's key and another history, larger than
	// the tree the witnesses hold. Each witness refuses to cosign it, and a
	// customer pointed at it is told why.
	fork := centretest.Start(t, centretest.Options{LogKey: c.KeyPath()})
	fl, _ := client.New(fork.URL)
	if _, err := fl.Publish(ctx, rel.All(centretest.Says[:1])); err != nil {
		t.Fatal(err)
	}
	if _, err := fl.Publish(ctx, reviews(t, 3)); err != nil {
		t.Fatal(err)
	}
	fcp, _, err := fork.Log().Latest(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, lw := range lws {
		held := lw.Size("centre.test/log")
		proof, err := fork.Log().ProveConsistency(ctx, held, fcp.Size)
		if err != nil {
			t.Fatal(err)
		}
		_, err = lw.Witness().AddCheckpoint(ctx, http.DefaultClient, held, proof, fcp.Note)
		var re *witness.RefusedError
		if !errors.As(err, &re) || re.Status != http.StatusUnprocessableEntity {
			t.Fatalf("%s asked to cosign the fork's tree %d from its %d: %v", lw.Name, fcp.Size, held, err)
		}
	}
	fresh := newCustomer(t)
	fpol := fresh.policy(vkey, witnesses)
	fresh.write("tool.tar", rel.Shipped)
	code, out = fresh.run("verify", "tool.tar", "--policy", fpol, "--server", fork.URL)
	wantNotVerified(t, "verify --server at a fork", code, out, "is cosigned by 0 of the 2 witnesses the policy names (witness-a.test, witness-b.test), and the policy requires 2: no independent witness has seen this tree of the log, so it may be a fork shown to you alone")
}

// reviews makes n reviews by Alice of other releases.
func reviews(t *testing.T, n int) [][]byte {
	t.Helper()
	var out [][]byte
	for i := range n {
		r, err := fixture.Review(context.Background(), centretest.Alice, "other", fmt.Sprintf("2.%d", i), "padding")
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, r)
	}
	return out
}

func waitUntil(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("waited 30 s until %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
