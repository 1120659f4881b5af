package centre

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/api"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/store/pgtest"
	"github.com/reprove/reprove/schemas"
)

var (
	alice    = fixture.MustParty("alice")
	bob      = fixture.MustParty("bob")
	rebA     = fixture.MustParty("rebuilder-a")
	rebB     = fixture.MustParty("rebuilder-b")
	stranger = fixture.MustParty("stranger")
	says     = []fixture.Say{{Rebuilder: rebA}, {Rebuilder: rebB, Different: true}}
)

// testCentre is a centre behind a real HTTP server on loopback.
type testCentre struct {
	c   *Centre
	srv *httptest.Server
	v   *logproof.Verifier
}

func newCentre(t *testing.T, backend string) *testCentre {
	t.Helper()
	cfg := Config{DataDir: t.TempDir()}
	if backend == "postgres" {
		cfg.DatabaseURL = pgtest.Database(t)
	}
	tc := serveCentre(t, cfg, alice, bob)
	for _, p := range []*fixture.Party{rebA, rebB} {
		if _, err := AddKey(context.Background(), tc.c.st, p.Name, item.Rebuilder, p.PEM, time.Now()); err != nil {
			t.Fatal(err)
		}
	}
	return tc
}

func (tc *testCentre) do(t *testing.T, method, path string, body []byte) (int, []byte) {
	t.Helper()
	status, _, b := tc.request(t, method, path, body)
	return status, b
}

// request sends a request and returns the reply's status, headers and body.
func (tc *testCentre) request(t *testing.T, method, path string, body []byte) (int, http.Header, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, tc.srv.URL+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, resp.Header, b
}

func (tc *testCentre) submit(t *testing.T, envs ...[]byte) *api.SubmitReply {
	t.Helper()
	status, b := tc.do(t, "POST", api.PathAttestations, bytes.Join(envs, []byte("\n")))
	if status != http.StatusOK {
		t.Fatalf("submit: %d %s", status, b)
	}
	valid(t, "centre-submit-reply", b)
	var rep api.SubmitReply
	if err := json.Unmarshal(b, &rep); err != nil {
		t.Fatal(err)
	}
	return &rep
}

func valid(t *testing.T, schema string, b []byte) {
	t.Helper()
	if err := schemas.Validate(schema, b); err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
}

func (tc *testCentre) treeSize(t *testing.T) int64 {
	t.Helper()
	_, oc, err := tc.c.Log().Latest(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return oc.Size
}

// checkReply verifies every entry of a reply against its checkpoint.
func (tc *testCentre) checkReply(t *testing.T, rep *api.SubmitReply, envs [][]byte) {
	t.Helper()
	c, err := tc.v.Open([]byte(rep.Checkpoint))
	if err != nil {
		t.Fatal(err)
	}
	if c.Size != rep.TreeSize || len(rep.Entries) != len(envs) {
		t.Fatalf("reply for %d envelopes: tree %d, %d entries", len(envs), rep.TreeSize, len(rep.Entries))
	}
	for i, e := range rep.Entries {
		leaf := leafOf(t, envs[i])
		p, err := logproof.DecodeHashes(e.InclusionProof)
		if err != nil {
			t.Fatal(err)
		}
		if err := logproof.VerifyInclusion(leaf, e.Index, p, c); err != nil {
			t.Errorf("entry %d: %v", i, err)
		}
		lh := logproof.LeafHash(leaf)
		if e.LeafHash != base64.StdEncoding.EncodeToString(lh[:]) {
			t.Errorf("entry %d: leaf hash %s", i, e.LeafHash)
		}
	}
}

func leafOf(t *testing.T, env []byte) []byte {
	t.Helper()
	e, err := envelope.Parse(env)
	if err != nil {
		t.Fatal(err)
	}
	var sigs []logproof.Signature
	for _, s := range e.Signatures {
		sigs = append(sigs, logproof.Signature{KeyID: s.KeyID, Sig: s.Sig})
	}
	leaf, err := logproof.EnvelopeLeaf(e.PayloadType, e.Payload, sigs)
	if err != nil {
		t.Fatal(err)
	}
	return leaf
}

func TestPublishAndLookup(t *testing.T) {
	for _, backend := range []string{"sqlite", "postgres"} {
		t.Run(backend, func(t *testing.T) {
			ctx := context.Background()
			tc := newCentre(t, backend)
			rel, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{alice, bob}, says)
			if err != nil {
				t.Fatal(err)
			}
			envs := rel.All(says)
			// One envelope alone, then the rest as JSON Lines.
			first := tc.submit(t, envs[0])
			tc.checkReply(t, first, envs[:1])
			if !first.Entries[0].New || first.Entries[0].Kind != "review" {
				t.Errorf("first entry: %+v", first.Entries[0])
			}
			rep := tc.submit(t, envs[1:]...)
			tc.checkReply(t, rep, envs[1:])
			var kinds []string
			for _, e := range rep.Entries {
				kinds = append(kinds, e.Kind)
			}
			if diff := cmp.Diff([]string{"review", "rebuild", "comparison", "summary", "rebuild", "comparison", "summary"}, kinds); diff != "" {
				t.Errorf("kinds (-want +got):\n%s", diff)
			}
			// Resubmitting is idempotent, pretty-printed or not.
			var pretty bytes.Buffer
			json.Indent(&pretty, envs[2], "", "    ")
			again := tc.submit(t, pretty.Bytes())
			if again.Entries[0].New || again.Entries[0].Index != rep.Entries[1].Index {
				t.Errorf("resubmission: %+v, want index %d, not new", again.Entries[0], rep.Entries[1].Index)
			}
			tc.checkReply(t, again, envs[2:3])
			if tc.treeSize(t) != int64(len(envs)) {
				t.Errorf("tree size %d, want %d", tc.treeSize(t), len(envs))
			}
			// The dissenter's compare report.
			status, b := tc.do(t, "POST", api.PathCompareReports, rel.Reports["rebuilder-b"])
			if status != http.StatusOK {
				t.Fatalf("compare report: %d %s", status, b)
			}
			valid(t, "centre-submit-reply", b)
			var crep api.SubmitReply
			json.Unmarshal(b, &crep)
			if crep.Entries[0].Kind != "compare-report" || crep.Entries[0].PayloadDigest != digest.FromBytes(rel.Reports["rebuilder-b"]) {
				t.Errorf("compare report entry: %+v", crep.Entries[0])
			}
			status, b = tc.do(t, "GET", api.PathCompareReports+"/"+crep.Entries[0].PayloadDigest.String(), nil)
			if status != http.StatusOK || !bytes.Equal(b, rel.Reports["rebuilder-b"]) {
				t.Errorf("GET compare report: %d", status)
			}

			// Lookup: a bundle that verifies offline and is complete.
			status, b = tc.do(t, "GET", api.PathArtifacts+rel.Digest.String(), nil)
			if status != http.StatusOK {
				t.Fatalf("lookup: %d %s", status, b)
			}
			valid(t, "centre-bundle", b)
			bu, err := logproof.ParseBundle(b)
			if err != nil {
				t.Fatal(err)
			}
			c, err := bu.OpenCheckpoint(tc.v)
			if err != nil {
				t.Fatal(err)
			}
			if err := bu.CheckComplete(tc.v, c, rel.Digest); err != nil {
				t.Fatal(err)
			}
			// Both reviews, both rebuilds (B's is cited by its summary),
			// both comparisons and summaries: every attestation of the
			// release.
			if len(bu.Entries) != len(envs) {
				t.Errorf("bundle has %d entries, want %d", len(bu.Entries), len(envs))
			}
			for _, e := range bu.Entries {
				if err := e.VerifyEntry(leafOf(t, e.Envelope), c); err != nil {
					t.Errorf("entry %d: %v", e.Index, err)
				}
			}
			status, b = tc.do(t, "GET", api.PathArtifacts+digest.FromString("unknown").String(), nil)
			if status != http.StatusNotFound {
				t.Errorf("unknown artifact: %d", status)
			}
			valid(t, "centre-error", b)

			// The log: info, checkpoint, consistency, entries, checkpoints.
			status, b = tc.do(t, "GET", api.PathLog, nil)
			valid(t, "centre-log", b)
			var info api.LogInfo
			json.Unmarshal(b, &info)
			if status != 200 || info.VerifierKey != tc.c.Log().VerifierKey() || info.Origin != "centre.test/log" {
				t.Errorf("log info: %d %+v", status, info)
			}
			_, note := tc.do(t, "GET", api.PathCheckpoint, nil)
			latest, err := tc.v.Open(note)
			if err != nil {
				t.Fatal(err)
			}
			status, b = tc.do(t, "GET", fmt.Sprintf("%s?from=%d&to=%d", api.PathConsistency, first.TreeSize, latest.Size), nil)
			valid(t, "centre-consistency", b)
			var cons api.ConsistencyReply
			json.Unmarshal(b, &cons)
			p, _ := logproof.DecodeHashes(cons.Proof)
			old, _ := tc.v.Open([]byte(first.Checkpoint))
			if err := logproof.VerifyConsistency(old, latest, p); status != 200 || err != nil {
				t.Errorf("consistency: %d %v", status, err)
			}
			status, b = tc.do(t, "GET", api.PathEntries+"3", nil)
			valid(t, "centre-entry", b)
			var ent api.EntryReply
			json.Unmarshal(b, &ent)
			ep, _ := logproof.DecodeHashes(ent.InclusionProof)
			ec, _ := tc.v.Open([]byte(ent.Checkpoint))
			if err := logproof.VerifyInclusion(ent.Leaf, 3, ep, ec); status != 200 || err != nil {
				t.Errorf("entry 3: %d %v", status, err)
			}
			status, b = tc.do(t, "GET", fmt.Sprintf("%s%d", api.PathCheckpoints, first.TreeSize), nil)
			valid(t, "centre-checkpoint", b)
			if status != 200 || !strings.Contains(string(b), "centre.test/log\\n1\\n") {
				t.Errorf("checkpoint at 1: %d %s", status, b)
			}
			// C2SP tiles: the level-0 tile's hashes are the leaf hashes.
			tile := tlog.Tile{H: 8, L: 0, N: 0, W: int(latest.Size)}
			status, b = tc.do(t, "GET", "/"+api.TilePath(tile), nil)
			if status != 200 || len(b) != int(latest.Size)*tlog.HashSize {
				t.Fatalf("tile %s: %d, %d bytes", api.TilePath(tile), status, len(b))
			}
			for i, e := range bu.Entries {
				h := logproof.LeafHash(leafOf(t, e.Envelope))
				if !bytes.Equal(b[e.Index*32:e.Index*32+32], h[:]) {
					t.Errorf("tile hash %d differs from entry %d's leaf", e.Index, i)
				}
			}
			status, _ = tc.do(t, "GET", "/tile/entries/000.p/"+fmt.Sprint(latest.Size), nil)
			if status != 200 {
				t.Errorf("entry bundle: %d", status)
			}
			for _, bad := range []string{"/tile/8/0/000.p/2", "/tile/0/000.p/" + fmt.Sprint(latest.Size+1), "/tile/data/000.p/1", "/tile/0/0.p/1"} {
				if status, _ := tc.do(t, "GET", bad, nil); status != http.StatusNotFound {
					t.Errorf("GET %s: %d, want 404", bad, status)
				}
			}
		})
	}
}

func TestRefused(t *testing.T) {
	ctx := context.Background()
	tc := newCentre(t, "sqlite")
	rel, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{alice}, says[:1])
	if err != nil {
		t.Fatal(err)
	}
	good := rel.Reviews[0]
	strangers, _ := fixture.Review(ctx, stranger, "hello", "1.0", "who?")
	wrongRole, _ := fixture.Review(ctx, rebA, "hello", "1.0", "a rebuilder reviewing")
	badSig := bytes.Replace(good, []byte(`"sig":"M`), []byte(`"sig":"N`), 1)
	if bytes.Equal(badSig, good) {
		badSig = bytes.Replace(good, []byte(`"sig":"`), []byte(`"sig":"AAAA`), 1)
	}
	otherPred := signStatement(t, alice, `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"`+
		digest.FromString("x").Encoded()+`"}}],"predicateType":"https://example.com/other/v1","predicate":{}}`)
	notStatement := signStatement(t, alice, `{"hello":"world"}`)
	badReview := signStatement(t, alice, `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"x","digest":{"sha256":"`+
		digest.FromString("x").Encoded()+`"}}],"predicateType":"https://reprove.dev/attestation/review/v1","predicate":{"verdict":"approved"}}`)
	huge := bytes.Repeat([]byte("x"), api.MaxSubmission+1)
	unrelated := bytes.Replace(rel.Reports["rebuilder-a"], []byte(rel.Digest.Encoded()), []byte(digest.FromString("elsewhere").Encoded()), -1)
	tests := []struct {
		name   string
		path   string
		body   []byte
		status int
		code   string
		doc    string
	}{
		{"malformed JSON", api.PathAttestations, []byte(`{"payloadType":`), 400, "malformed", "submission"},
		{"empty", api.PathAttestations, nil, 400, "malformed", "submission"},
		{"not an envelope", api.PathAttestations, []byte(`{"hello":1}`), 400, "malformed", "submission"},
		{"oversize", api.PathAttestations, huge, 413, "too-large", ""},
		{"unknown key", api.PathAttestations, strangers, 403, "unknown-key", "submission"},
		{"bad signature", api.PathAttestations, badSig, 403, "unknown-key", "submission"},
		{"wrong role", api.PathAttestations, wrongRole, 403, "wrong-role", "submission"},
		{"unknown predicate", api.PathAttestations, otherPred, 400, "unknown-predicate", "submission"},
		{"not a statement", api.PathAttestations, notStatement, 400, "bad-statement", "submission"},
		{"bad review", api.PathAttestations, badReview, 400, "bad-predicate", "submission"},
		{"one bad line of three", api.PathAttestations, bytes.Join([][]byte{good, strangers, rel.Rebuilds["rebuilder-a"]}, []byte("\n")), 403, "unknown-key", "submission:2"},
		{"compare report, malformed", api.PathCompareReports, []byte(`{"schemaVersion":1}`), 400, "malformed", ""},
		{"compare report, unrelated", api.PathCompareReports, unrelated, 422, "unrelated", ""},
	}
	for _, tt := range tests {
		status, b := tc.do(t, "POST", tt.path, tt.body)
		if status != tt.status {
			t.Errorf("%s: status %d, want %d: %s", tt.name, status, tt.status, b)
			continue
		}
		valid(t, "centre-error", b)
		var e api.Error
		json.Unmarshal(b, &e)
		if e.Code != tt.code || e.Document != tt.doc || e.Message == "" {
			t.Errorf("%s: error %+v, want code %s, document %q", tt.name, e, tt.code, tt.doc)
		}
		if n := tc.treeSize(t); n != 0 {
			t.Fatalf("%s: the log grew to %d", tt.name, n)
		}
	}
	// Bad requests to the read side.
	for _, p := range []string{api.PathArtifacts + "sha256:00", api.PathArtifacts + "md5:" + strings.Repeat("0", 32),
		api.PathEntries + "-1", api.PathEntries + "01", api.PathConsistency + "?from=2&to=1", api.PathConsistency} {
		if status, b := tc.do(t, "GET", p, nil); status != 400 {
			t.Errorf("GET %s: %d, want 400: %s", p, status, b)
		}
	}
	if status, _ := tc.do(t, "GET", api.PathEntries+"0", nil); status != 404 {
		t.Errorf("GET an entry of an empty log: %d", status)
	}
	// A key registered while the server runs counts at once.
	if _, err := AddKey(ctx, tc.c.st, "stranger", item.Reviewer, stranger.PEM, time.Now()); err != nil {
		t.Fatal(err)
	}
	rep := tc.submit(t, strangers)
	if rep.Entries[0].Index != 0 {
		t.Errorf("after registering the key: %+v", rep.Entries[0])
	}
}

func signStatement(t *testing.T, p *fixture.Party, st string) []byte {
	t.Helper()
	env, err := envelope.Sign(context.Background(), []byte(st), p.Signer)
	if err != nil {
		t.Fatal(err)
	}
	return env
}

// A submission by no registered key reloads the keys, and is checked again
// only when they changed: a stream of them costs one pass over the keys
// each, not two.
func TestKeyRingReload(t *testing.T) {
	ctx := context.Background()
	tc := newCentre(t, "sqlite")
	if _, _, err := tc.c.keys.load(ctx, true); err != nil {
		t.Fatal(err)
	}
	if _, changed, err := tc.c.keys.load(ctx, true); err != nil || changed {
		t.Errorf("reloading unchanged keys: changed %v, %v", changed, err)
	}
	if _, err := AddKey(ctx, tc.c.st, "stranger", item.Reviewer, stranger.PEM, time.Now()); err != nil {
		t.Fatal(err)
	}
	ks, changed, err := tc.c.keys.load(ctx, true)
	if err != nil || !changed || len(ks) != 5 {
		t.Errorf("after adding a key: %d keys, changed %v, %v", len(ks), changed, err)
	}
}
