package centre

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/centre/client"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/merklelog"
	"github.com/reprove/reprove/centre/store"
	"github.com/reprove/reprove/centre/witness"
	"github.com/reprove/reprove/centre/witness/witnesstest"
)

// witnessed is a centre with witnesses, behind a real HTTP server.
type witnessed struct {
	*testCentre
	dir       string
	witnesses []*witnesstest.Litewitness
	policy    *logproof.Policy // the log and every witness, threshold all
}

// testInterval is the cosigner's interval in tests: short, so tests wait
// little, and the bound they check is stated in its terms.
const testInterval = 50 * time.Millisecond

// newWitnessed starts n litewitnesses that know a new log, and a centre
// for that log (sharing its key when key is set, for a fork) asking ws
// (the litewitnesses when nil) to cosign.
func newWitnessed(t *testing.T, n int, dir string, ws []*witness.Witness) *witnessed {
	t.Helper()
	ctx := context.Background()
	if dir == "" {
		dir = t.TempDir()
	}
	skey, _, err := merklelog.LoadOrCreateKey(dir, "centre.test/log")
	if err != nil {
		t.Fatal(err)
	}
	vkey, err := merklelog.VerifierKey(skey)
	if err != nil {
		t.Fatal(err)
	}
	w := &witnessed{dir: dir}
	v, _ := logproof.NewVerifier(vkey)
	w.policy = &logproof.Policy{Log: v, Key: vkey}
	for i := range n {
		lw := witnesstest.Start(t, "witness-"+string(rune('a'+i))+".test", vkey)
		w.witnesses = append(w.witnesses, lw)
		ws = append(ws, lw.Witness())
		pw, err := logproof.NewWitness(lw.Name, lw.Key)
		if err != nil {
			t.Fatal(err)
		}
		w.policy.Witnesses = append(w.policy.Witnesses, pw)
	}
	w.policy.Threshold = len(w.policy.Witnesses)
	// The key is made first, to tell the witnesses of the log (or copied,
	// for a fork); the centre then starts its new log under it on purpose.
	cfg := Config{DataDir: dir, Origin: "centre.test/log", Logf: t.Logf, Witnesses: ws, NewLog: true,
		KeyRate:    -1, // the load test publishes faster than a key's share
		Witnessing: witness.Options{Interval: testInterval, MaxBackoff: 200 * time.Millisecond, Timeout: 5 * time.Second}}
	c, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []struct {
		p    *fixture.Party
		role item.Role
	}{{alice, item.Reviewer}, {bob, item.Reviewer}, {rebA, item.Rebuilder}, {rebB, item.Rebuilder}} {
		if _, err := AddKey(ctx, c.st, k.p.Name, k.role, k.p.PEM, time.Now()); err != nil && !errors.Is(err, store.ErrExists) {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(func() {
		srv.Close()
		c.Close()
	})
	w.testCentre = &testCentre{c: c, srv: srv, v: c.Log().Verifier()}
	return w
}

// served waits until the checkpoint the centre serves covers size and
// passes the policy, and returns it.
func (w *witnessed) served(t *testing.T, size int64) *logproof.Checked {
	t.Helper()
	c, _ := client.New(w.srv.URL)
	deadline := time.Now().Add(30 * time.Second)
	for {
		note, err := c.Checkpoint(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		ch, err := w.policy.CheckCheckpoint(note, time.Now())
		if err == nil && ch.Size >= size {
			return ch
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 30 s the centre serves %q (%v), not a witnessed tree of size %d; witnesses: %+v", note, err, size, w.c.Witnesses())
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestWitnessedCheckpoints: the centre asks two real litewitnesses to
// cosign; lookups serve the cosigned checkpoint, which a policy naming both
// witnesses accepts; with one witness down appends go on, lookups stay at
// the last tree both cosigned, and cosigning catches up when it is back; a
// slow witness holds up no append.
func TestWitnessedCheckpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("starts litewitnesses (skipped with -short)")
	}
	ctx := context.Background()
	w := newWitnessed(t, 2, "", nil)
	rel, err := fixture.MakeRelease(ctx, "tool", "1.0", []*fixture.Party{alice}, says[:1])
	if err != nil {
		t.Fatal(err)
	}
	rep := w.submit(t, rel.All(says[:1])...)
	ch := w.served(t, rep.TreeSize)
	if len(ch.Cosigned) != 2 {
		t.Fatalf("served checkpoint cosigned by %v, want both witnesses", ch.Cosigned)
	}
	for _, lw := range w.witnesses {
		if got := lw.Size("centre.test/log"); got != ch.Size {
			t.Errorf("%s holds the log at %d, want %d", lw.Name, got, ch.Size)
		}
	}
	c, _ := client.New(w.srv.URL)
	bu, err := c.FetchBundle(ctx, rel.Digest)
	if err != nil {
		t.Fatal(err)
	}
	bch, err := w.policy.CheckBundle(bu, rel.Digest, time.Now())
	if err != nil {
		t.Fatalf("the bundle does not pass a policy naming both witnesses: %v", err)
	}
	if bch.Size != ch.Size {
		t.Errorf("bundle at %d, served checkpoint at %d", bch.Size, ch.Size)
	}
	// The checkpoint of one size carries its cosignatures too.
	at, err := c.CheckpointAt(ctx, ch.Size)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.policy.CheckCheckpoint(at, time.Now()); err != nil {
		t.Errorf("GET /v1/checkpoints/%d: %v", ch.Size, err)
	}

	// One witness down: appends go on; the served tree stays the last one
	// both cosigned, which still verifies; a policy needing both refuses
	// the newer tree, cosigned by one.
	w.witnesses[1].Stop()
	more := reviewsFor(t, 3, "while b is down")
	rep2 := w.submit(t, more...)
	one := &logproof.Policy{Log: w.policy.Log, Witnesses: w.policy.Witnesses, Threshold: 1}
	deadline := time.Now().Add(30 * time.Second)
	for {
		cp, _, err := w.c.Log().CosignedAt(ctx, rep2.TreeSize)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := one.CheckCheckpoint(cp.Note, time.Now()); err == nil {
			if _, err := w.policy.CheckCheckpoint(cp.Note, time.Now()); err == nil {
				t.Fatal("the tree cosigned while witness b was down passes a policy that needs b")
			} else if !strings.Contains(err.Error(), "is cosigned by 1 of the 2 witnesses") {
				t.Errorf("refusal: %v", err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("witness a did not cosign the new tree within 30 s")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := w.served(t, 0); got.Size != ch.Size {
		t.Errorf("with witness b down, the centre serves tree %d, want the last both cosigned (%d)", got.Size, ch.Size)
	}
	var down error
	for _, s := range w.c.Witnesses() {
		if s.Witness == w.witnesses[1].Name {
			down = s.Err
		}
	}
	if down == nil {
		t.Error("the cosigner reports no error for the witness that is down")
	}
	// The operator sees it on /healthz, which still says ok: appends go on.
	if status, body := w.do(t, "GET", "/healthz", nil); status != http.StatusOK || !strings.HasPrefix(string(body), "ok\n") ||
		!strings.Contains(string(body), "witness "+w.witnesses[1].Name+": cosigned tree size ") || !strings.Contains(string(body), "; last attempt failed: ") {
		t.Errorf("/healthz with witness b down: %d %q", status, body)
	}
	// Back up: cosigning catches up, the new entries reach lookups.
	w.witnesses[1].Restart()
	if got := w.served(t, rep2.TreeSize); got.Size < rep2.TreeSize {
		t.Errorf("served %d", got.Size)
	}

	// A slow witness: while its request is held, appends are answered.
	arrived, gate := make(chan struct{}, 1), make(chan struct{})
	target, _ := url.Parse(w.witnesses[0].URL)
	proxy := httputil.NewSingleHostReverseProxy(target)
	slow := httptest.NewServer(http.HandlerFunc(func(rw http.ResponseWriter, r *http.Request) {
		select {
		case arrived <- struct{}{}:
		default:
		}
		<-gate
		proxy.ServeHTTP(rw, r)
	}))
	defer slow.Close()
	var once sync.Once
	open := func() { once.Do(func() { close(gate) }) }
	defer open()
	sw, err := witness.New(w.witnesses[0].Key, slow.URL)
	if err != nil {
		t.Fatal(err)
	}
	w.c.Close()
	w.srv.Close()
	w2 := newWitnessed(t, 0, w.dir, []*witness.Witness{sw, w.witnesses[1].Witness()})
	w2.policy = w.policy
	<-arrived // the cosigner's first request to the slow witness hangs
	last := reviewsFor(t, 2, "while a is slow")
	start := time.Now()
	rep3 := w2.submit(t, last...)
	if rep3.TreeSize <= rep2.TreeSize {
		t.Fatalf("tree %d after the append, was %d", rep3.TreeSize, rep2.TreeSize)
	}
	t.Logf("an append while a witness request hung: answered in %v", time.Since(start).Round(time.Millisecond))
	open()
	w2.served(t, rep3.TreeSize)
}

// TestForkIsNotWitnessed: a second centre holding the log's key (a fork:
// another history under the same name) asks the same witnesses; they refuse
// it, so its bundles fail a policy that names them, saying why, while the
// real log goes on being cosigned.
func TestForkIsNotWitnessed(t *testing.T) {
	if testing.Short() {
		t.Skip("starts litewitnesses (skipped with -short)")
	}
	ctx := context.Background()
	w := newWitnessed(t, 2, "", nil)
	rel, err := fixture.MakeRelease(ctx, "tool", "1.0", []*fixture.Party{alice}, says)
	if err != nil {
		t.Fatal(err)
	}
	// The real log: the release with rebuilder B's dissent.
	rep := w.submit(t, rel.All(says)...)
	real := w.served(t, rep.TreeSize)

	// The fork: the same key, the release without the dissent, and more,
	// so that its tree is larger than the one the witnesses hold.
	forkDir := t.TempDir()
	key, err := os.ReadFile(filepath.Join(w.dir, merklelog.SignerKeyFile))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(forkDir, merklelog.SignerKeyFile), key, 0o600); err != nil {
		t.Fatal(err)
	}
	var ws []*witness.Witness
	for _, lw := range w.witnesses {
		ws = append(ws, lw.Witness())
	}
	f := newWitnessed(t, 0, forkDir, ws)
	f.policy = w.policy
	frep := f.submit(t, append(rel.All(says[:1]), reviewsFor(t, 10, "fork padding")...)...)
	if frep.TreeSize <= real.Size {
		t.Fatalf("fork tree %d, real %d", frep.TreeSize, real.Size)
	}
	// Each witness refuses it: the proof from the tree it holds fails.
	deadline := time.Now().Add(30 * time.Second)
	for {
		refused := 0
		for _, s := range f.c.Witnesses() {
			var re *witness.RefusedError
			if errors.As(s.Err, &re) && re.Status == http.StatusUnprocessableEntity {
				refused++
			}
		}
		if refused == len(ws) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the witnesses did not refuse the fork within 30 s: %+v", f.c.Witnesses())
		}
		time.Sleep(10 * time.Millisecond)
	}
	for _, lw := range w.witnesses {
		if got := lw.Size("centre.test/log"); got != real.Size {
			t.Errorf("%s holds tree %d, want the real log's %d", lw.Name, got, real.Size)
		}
	}
	// A customer handed the fork's bundle: refused, with the reason.
	// The fork serves only trees its witnesses cosigned (none); an
	// attacker would serve its own tree, signed by the log's key alone.
	if cp, _, err := f.c.Log().Served(ctx); err != nil || cp.Size != 0 {
		t.Errorf("the fork serves tree %d (%v), want the empty tree", cp.Size, err)
	}
	c, _ := client.New(f.srv.URL)
	bu, err := c.FetchBundleAt(ctx, rel.Digest, frep.TreeSize)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.policy.Log.Open([]byte(bu.Checkpoint)); err != nil {
		t.Fatalf("the fork's checkpoint is not signed with the log's key: %v", err)
	}
	_, err = f.policy.CheckBundle(bu, rel.Digest, time.Now())
	var we *logproof.WitnessError
	if !errors.As(err, &we) || we.Have != 0 || !strings.Contains(err.Error(), "no independent witness has seen this tree of the log, so it may be a fork") {
		t.Fatalf("the fork's bundle: %v", err)
	}
	// The real log is still cosigned as it grows.
	rep2 := w.submit(t, reviewsFor(t, 1, "real after fork")...)
	w.served(t, rep2.TreeSize)
}

// TestLoadWitnessed: 8 publishers while two litewitnesses cosign. Nothing
// acknowledged is lost; every checkpoint handed out (in replies, and the
// witnessed one lookups serve, read all along) is part of the final tree;
// every served one carries both witnesses' valid cosignatures; and each
// acknowledged entry reaches the served tree within the bound centre/API.md
// states (the witness interval plus the witnesses' answers), measured here.
func TestLoadWitnessed(t *testing.T) {
	if testing.Short() {
		t.Skip("1,000 submissions with litewitnesses (skipped with -short)")
	}
	ctx := context.Background()
	w := newWitnessed(t, 2, "", nil)
	envs := reviewsFor(t, 8*125, "witnessed load")
	c, _ := client.New(w.srv.URL)

	// A watcher reads the served checkpoint all along, as customers do.
	type seen struct {
		note []byte
		at   time.Time
	}
	var mu sync.Mutex
	var served []seen
	stop := make(chan struct{})
	watched := make(chan struct{})
	go func() {
		defer close(watched)
		for {
			select {
			case <-stop:
				return
			default:
			}
			note, err := c.Checkpoint(ctx)
			if err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			if len(served) == 0 || !bytes.Equal(served[len(served)-1].note, note) {
				served = append(served, seen{note, time.Now()})
			}
			mu.Unlock()
			time.Sleep(5 * time.Millisecond)
		}
	}()
	start := time.Now()
	acks := publishAll(t, w.srv.URL, w.v, envs, 8, 1, false, nil)
	el := time.Since(start)
	final := w.served(t, int64(len(envs)))
	deadline := time.Now().Add(30 * time.Second)
	for {
		mu.Lock()
		last := served[len(served)-1].note
		mu.Unlock()
		if bytes.Equal(last, final.Note) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the watcher did not see the final served checkpoint")
		}
		time.Sleep(5 * time.Millisecond)
	}
	close(stop)
	<-watched
	if len(acks) != len(envs) {
		t.Fatalf("%d acknowledgements for %d submissions", len(acks), len(envs))
	}
	latest := checkAcks(t, w.srv.URL, w.v, acks)
	if latest.Size != int64(len(envs)) || final.Size != latest.Size {
		t.Fatalf("final tree %d, served %d, want %d", latest.Size, final.Size, len(envs))
	}
	// Every served checkpoint: witnessed by both, part of the final tree,
	// never going back.
	prev := int64(-1)
	for _, s := range served {
		ch, err := w.policy.CheckCheckpoint(s.note, time.Now())
		if err != nil {
			if bytes.Count(s.note, []byte("\n— ")) == 1 && bytes.Contains(s.note, []byte("\n0\n")) {
				continue // the empty tree, before the witnesses cosigned one
			}
			t.Fatalf("served checkpoint %q: %v", s.note, err)
		}
		if ch.Size < prev {
			t.Fatalf("the served tree went back from %d to %d", prev, ch.Size)
		}
		prev = ch.Size
		p, err := c.Consistency(ctx, ch.Size, latest.Size)
		if err != nil {
			t.Fatal(err)
		}
		if err := logproof.VerifyConsistency(ch.Checkpoint, latest, p); err != nil {
			t.Fatalf("served checkpoint of size %d: %v", ch.Size, err)
		}
	}
	for _, lw := range w.witnesses {
		if got := lw.Size("centre.test/log"); got != latest.Size {
			t.Errorf("%s holds %d, want %d", lw.Name, got, latest.Size)
		}
	}
	// How long after its acknowledgement each entry reached the served
	// tree (as the watcher, polling every 5 ms, first saw it).
	var lags []time.Duration
	for _, a := range acks {
		for _, s := range served {
			if ch, err := w.policy.CheckCheckpoint(s.note, time.Now()); err == nil && ch.Size > a.index {
				lags = append(lags, max(0, s.at.Sub(a.at)))
				break
			}
		}
	}
	if len(lags) != len(acks) {
		t.Fatalf("%d of %d acknowledged entries were seen served", len(lags), len(acks))
	}
	sort.Slice(lags, func(i, j int) bool { return lags[i] < lags[j] })
	p50, p99, worst := lags[len(lags)/2], lags[len(lags)*99/100], lags[len(lags)-1]
	// The bound centre/API.md states, for this test's interval: the
	// interval plus the witnesses' answers; generous here, since the
	// machine may be loaded, and the figures are logged.
	if bound := 20 * time.Second; worst > bound {
		t.Errorf("an acknowledged entry took %v to reach the witnessed tree, more than %v", worst, bound)
	}
	t.Logf("%d submissions in %v (%.0f/s) while 2 witnesses cosigned every %v at most; %d distinct served checkpoints; acknowledged → witnessed and served: p50 %v, p99 %v, max %v",
		len(envs), el.Round(time.Millisecond), float64(len(envs))/el.Seconds(), testInterval, len(served),
		p50.Round(time.Millisecond), p99.Round(time.Millisecond), worst.Round(time.Millisecond))
}
