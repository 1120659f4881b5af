package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/api"
	"github.com/reprove/reprove/centre/centretest"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/centre/store/pgtest"
)

func TestMain(m *testing.M) { pgtest.Main(m) }

func leaves(t *testing.T, envs [][]byte) [][]byte {
	t.Helper()
	var out [][]byte
	for _, e := range envs {
		l, err := EnvelopeLeaf(e)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, l)
	}
	return out
}

func TestPublishAndFetch(t *testing.T) {
	ctx := context.Background()
	tc := centretest.Start(t, centretest.Options{})
	c, err := New(tc.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	info, err := c.Log(ctx)
	if err != nil {
		t.Fatal(err)
	}
	v, err := logproof.NewVerifier(info.VerifierKey)
	if err != nil {
		t.Fatal(err)
	}
	rel, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{centretest.Alice}, centretest.Says)
	if err != nil {
		t.Fatal(err)
	}
	envs := rel.All(centretest.Says)
	rep, err := c.Publish(ctx, envs)
	if err != nil {
		t.Fatal(err)
	}
	cp, err := CheckReply(rep, v, leaves(t, envs))
	if err != nil {
		t.Fatal(err)
	}
	if cp.Size != int64(len(envs)) {
		t.Errorf("tree size %d", cp.Size)
	}
	if _, err := c.PublishCompareReport(ctx, rel.Reports["rebuilder-b"]); err != nil {
		t.Fatal(err)
	}
	bu, err := c.FetchBundle(ctx, rel.Digest)
	if err != nil {
		t.Fatal(err)
	}
	bc, got, err := CheckBundle(bu, v, rel.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(envs) || bc.Size != cp.Size+1 {
		t.Errorf("bundle: %d envelopes at size %d", len(got), bc.Size)
	}
	// Consistency from the publish reply's tree to the bundle's.
	p, err := c.Consistency(ctx, cp.Size, bc.Size)
	if err != nil {
		t.Fatal(err)
	}
	if err := logproof.VerifyConsistency(cp, bc, p); err != nil {
		t.Fatal(err)
	}
	at, err := c.CheckpointAt(ctx, cp.Size)
	if err != nil || !bytes.Equal(at, []byte(rep.Checkpoint)) {
		t.Errorf("checkpoint at %d: %v", cp.Size, err)
	}
	// Errors carry the centre's explanation.
	stranger, _ := fixture.Review(ctx, centretest.Stranger, "hello", "1.0", "x")
	_, err = c.Publish(ctx, [][]byte{stranger})
	var ae *api.Error
	if !errors.As(err, &ae) || ae.Code != "unknown-key" {
		t.Errorf("a stranger's review: %v", err)
	}
	if _, err := c.FetchBundle(ctx, digest.FromString("nothing")); !errors.Is(err, ErrNotLogged) {
		t.Errorf("an unknown artifact: %v", err)
	}
	if _, err := New("ftp://x"); err == nil {
		t.Error("an ftp:// centre was accepted")
	}
}

// TestTamper: every forgery of what a centre hands out is refused.
func TestTamper(t *testing.T) {
	ctx := context.Background()
	tc := centretest.Start(t, centretest.Options{})
	other := centretest.Start(t, centretest.Options{}) // another log, another key
	c, _ := New(tc.URL)
	v := tc.Log().Verifier()
	rel, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{centretest.Alice}, centretest.Says)
	if err != nil {
		t.Fatal(err)
	}
	envs := rel.All(centretest.Says)
	rep, err := c.Publish(ctx, envs)
	if err != nil {
		t.Fatal(err)
	}
	ls := leaves(t, envs)
	oc, _ := New(other.URL)
	orep, err := oc.Publish(ctx, envs)
	if err != nil {
		t.Fatal(err)
	}
	bu, err := c.FetchBundle(ctx, rel.Digest)
	if err != nil {
		t.Fatal(err)
	}
	obu, err := oc.FetchBundle(ctx, rel.Digest)
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := CheckBundle(bu, v, rel.Digest); err != nil {
		t.Fatalf("the untouched bundle: %v", err)
	}

	replyTests := []struct {
		name string
		mut  func(r *api.SubmitReply)
		want string
	}{
		{"checkpoint with a bad signature", func(r *api.SubmitReply) {
			i := strings.LastIndex(r.Checkpoint, " ")
			sig := []byte(r.Checkpoint[i+1:])
			sig[5] ^= 1
			r.Checkpoint = r.Checkpoint[:i+1] + string(sig)
		}, "open checkpoint"},
		{"checkpoint of another log", func(r *api.SubmitReply) { r.Checkpoint = orep.Checkpoint }, "open checkpoint"},
		{"proof for another leaf", func(r *api.SubmitReply) {
			r.Entries[0].InclusionProof, r.Entries[1].InclusionProof = r.Entries[1].InclusionProof, r.Entries[0].InclusionProof
		}, "inclusion proof"},
		{"another index", func(r *api.SubmitReply) { r.Entries[2].Index++ }, "inclusion proof"},
		{"another leaf", func(r *api.SubmitReply) { r.Entries[0].LeafHash = r.Entries[1].LeafHash }, "not the leaf submitted"},
		{"size", func(r *api.SubmitReply) { r.TreeSize++ }, "treeSize"},
	}
	for _, tt := range replyTests {
		r := clone(t, rep)
		tt.mut(r)
		if _, err := CheckReply(r, v, ls); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error containing %q", tt.name, err, tt.want)
		}
	}

	bundleTests := []struct {
		name    string
		mut     func(b *logproof.Bundle)
		subject digest.Digest
		want    string
	}{
		{"checkpoint with a bad signature", func(b *logproof.Bundle) {
			b.Checkpoint = strings.Replace(b.Checkpoint, "\n\n", "\nextra\n\n", 1)
		}, rel.Digest, "open checkpoint"},
		{"checkpoint of another log", func(b *logproof.Bundle) { b.Checkpoint = obu.Checkpoint }, rel.Digest, "open checkpoint"},
		{"proof for another leaf", func(b *logproof.Bundle) {
			b.Entries[0].Envelope, b.Entries[1].Envelope = b.Entries[1].Envelope, b.Entries[0].Envelope
		}, rel.Digest, "inclusion proof"},
		{"item removed (the dissenting summary)", func(b *logproof.Bundle) { b.Entries = b.Entries[:len(b.Entries)-1] }, rel.Digest, "leaves them out"},
		{"item removed and the index with it", func(b *logproof.Bundle) {
			b.Entries = b.Entries[:len(b.Entries)-1]
			b.ArtifactIndex = ""
		}, rel.Digest, "no artifact index"},
		{"index of another log", func(b *logproof.Bundle) { b.ArtifactIndex = obu.ArtifactIndex }, rel.Digest, "artifact index"},
		{"another subject", func(b *logproof.Bundle) {}, digest.FromString("another file"), "is for"},
		{"an entry twice", func(b *logproof.Bundle) { b.Entries = append(b.Entries, b.Entries[0]) }, rel.Digest, "twice"},
		{"a tampered envelope", func(b *logproof.Bundle) {
			var env map[string]any
			json.Unmarshal(b.Entries[0].Envelope, &env)
			env["payload"] = strings.Replace(env["payload"].(string), "A", "B", 1)
			b.Entries[0].Envelope, _ = json.Marshal(env)
		}, rel.Digest, "inclusion proof"},
	}
	for _, tt := range bundleTests {
		b := cloneBundle(t, bu)
		tt.mut(b)
		if _, _, err := CheckBundle(b, v, tt.subject); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v, want an error containing %q", tt.name, err, tt.want)
		}
	}
}

func clone(t *testing.T, r *api.SubmitReply) *api.SubmitReply {
	b, _ := json.Marshal(r)
	var out api.SubmitReply
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

func cloneBundle(t *testing.T, bu *logproof.Bundle) *logproof.Bundle {
	b, err := bu.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	out, err := logproof.ParseBundle(b)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// FuzzCheckBundle: whatever bytes a centre (or a tamperer) sends, reading
// and checking a bundle never panics and never accepts one that is not the
// log's own.
func FuzzCheckBundle(f *testing.F) {
	ctx := context.Background()
	tc := centretest.Start(f, centretest.Options{})
	c, _ := New(tc.URL)
	rel, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{centretest.Alice}, centretest.Says)
	if err != nil {
		f.Fatal(err)
	}
	if _, err := c.Publish(ctx, rel.All(centretest.Says)); err != nil {
		f.Fatal(err)
	}
	bu, err := c.FetchBundle(ctx, rel.Digest)
	if err != nil {
		f.Fatal(err)
	}
	good, _ := bu.Marshal()
	f.Add(good)
	f.Add([]byte(`{"mediaType":"application/vnd.reprove.log-bundle+json;version=1","schemaVersion":1,"checkpoint":"x","entries":[]}`))
	v := tc.Log().Verifier()
	f.Fuzz(func(t *testing.T, b []byte) {
		bu, err := logproof.ParseBundle(b)
		if err != nil {
			return
		}
		cp, envs, err := CheckBundle(bu, v, rel.Digest)
		if err != nil {
			return
		}
		// Accepted: then it is complete and every entry is proven.
		if len(envs) != len(bu.Entries) || cp.Size == 0 {
			t.Fatalf("accepted %d envelopes of %d entries", len(envs), len(bu.Entries))
		}
	})
}
