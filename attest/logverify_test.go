package attest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/attest/policy"
)

// testLog is a transparency log kept in memory as tlog stores it, signing
// with a note key as a centre does.
type testLog struct {
	skey, vkey string
	hashes     []tlog.Hash
	leaves     [][]byte
}

func newTestLog(t testing.TB, origin string) *testLog {
	t.Helper()
	skey, vkey, err := note.GenerateKey(rand.Reader, origin)
	if err != nil {
		t.Fatal(err)
	}
	return &testLog{skey: skey, vkey: vkey}
}

func (l *testLog) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(l.hashes)) {
			return nil, fmt.Errorf("no stored hash %d", x)
		}
		out[i] = l.hashes[x]
	}
	return out, nil
}

func envLeaf(t testing.TB, env []byte) []byte {
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

func (l *testLog) add(t testing.TB, leaf []byte) int64 {
	n := int64(len(l.leaves))
	hs, err := tlog.StoredHashes(n, leaf, l)
	if err != nil {
		t.Fatal(err)
	}
	l.hashes = append(l.hashes, hs...)
	l.leaves = append(l.leaves, leaf)
	return n
}

// bundle logs the envelopes (after some unrelated entries) and returns the
// log bundle a centre would hand out for subject.
func (l *testLog) bundle(t testing.TB, subject digest.Digest, envs [][]byte) *logproof.Bundle {
	t.Helper()
	l.add(t, []byte("someone else's entry"))
	var idx []int64
	for _, env := range envs {
		idx = append(idx, l.add(t, envLeaf(t, env)))
	}
	l.add(t, []byte("a later entry"))
	size := int64(len(l.leaves))
	root, err := tlog.TreeHash(size, l)
	if err != nil {
		t.Fatal(err)
	}
	origin := strings.SplitN(l.vkey, "+", 2)[0]
	cp, err := logproof.Sign(logproof.Checkpoint{Origin: origin, Size: size, Hash: root}, l.skey)
	if err != nil {
		t.Fatal(err)
	}
	ix, err := logproof.SignIndex(logproof.Index{Origin: origin, Size: size, Subject: subject, Entries: idx}, l.skey)
	if err != nil {
		t.Fatal(err)
	}
	bu := &logproof.Bundle{Checkpoint: string(cp), ArtifactIndex: string(ix)}
	for i, env := range envs {
		proof, err := tlog.ProveRecord(size, idx[i], l)
		if err != nil {
			t.Fatal(err)
		}
		bu.Entries = append(bu.Entries, logproof.BundleEntry{Index: idx[i], Envelope: json.RawMessage(env), InclusionProof: logproof.EncodeHashes(proof)})
	}
	return bu
}

func (f *fixture) envList(names ...string) [][]byte {
	if len(names) == 0 {
		names = f.order
	}
	var out [][]byte
	for _, n := range names {
		out = append(out, f.envs[n])
	}
	return out
}

func bundleDocs(t testing.TB, name string, bu *logproof.Bundle) []Document {
	t.Helper()
	b, err := bu.Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return SplitDocuments(name, b)
}

// TestVerifyWithLog: under a policy that names a log, only envelopes with a
// valid inclusion proof count, and every kind of tampering with the log
// bundle is refused.
func TestVerifyWithLog(t *testing.T) {
	fileSHA := digest.FromBytes(shippedBytes)
	tests := []struct {
		name     string
		logged   bool // the policy names the log
		docs     func(t *testing.T, f *fixture, l *testLog) []Document
		verified bool
		want     string // a reason (or, when verified is false and want starts with "note:", a note)
	}{
		{name: "all in the log", logged: true, verified: true, docs: func(t *testing.T, f *fixture, l *testLog) []Document {
			return bundleDocs(t, "hello.logbundle.json", l.bundle(t, fileSHA, f.envList()))
		}},
		{name: "a log bundle without a log in the policy counts as envelopes", verified: true, docs: func(t *testing.T, f *fixture, l *testLog) []Document {
			return bundleDocs(t, "hello.logbundle.json", l.bundle(t, fileSHA, f.envList()))
		}},
		{name: "loose envelopes are not counted", logged: true, want: "note:comes with no inclusion proof in the log", docs: func(t *testing.T, f *fixture, l *testLog) []Document {
			return f.docs()
		}},
		{name: "checkpoint signed by another key", logged: true, want: "its checkpoint is not signed by the log", docs: func(t *testing.T, f *fixture, l *testLog) []Document {
			impostor := newTestLog(t, strings.SplitN(l.vkey, "+", 2)[0])
			return bundleDocs(t, "b", impostor.bundle(t, fileSHA, f.envList()))
		}},
		{name: "proof for another leaf", logged: true, want: "not in the log", docs: func(t *testing.T, f *fixture, l *testLog) []Document {
			bu := l.bundle(t, fileSHA, f.envList())
			bu.Entries[0].Envelope, bu.Entries[1].Envelope = bu.Entries[1].Envelope, bu.Entries[0].Envelope
			return bundleDocs(t, "b", bu)
		}},
		{name: "an entry left out of the bundle", logged: true, want: "but the bundle leaves them out", docs: func(t *testing.T, f *fixture, l *testLog) []Document {
			bu := l.bundle(t, fileSHA, f.envList())
			bu.Entries = bu.Entries[:len(bu.Entries)-1]
			return bundleDocs(t, "b", bu)
		}},
		{name: "no artifact index", logged: true, want: "no artifact index", docs: func(t *testing.T, f *fixture, l *testLog) []Document {
			bu := l.bundle(t, fileSHA, f.envList())
			bu.ArtifactIndex = ""
			return bundleDocs(t, "b", bu)
		}},
		{name: "the index of another file", logged: true, want: "the artifact index is for", docs: func(t *testing.T, f *fixture, l *testLog) []Document {
			return bundleDocs(t, "b", l.bundle(t, digest.FromString("another file"), f.envList()))
		}},
		{name: "a proof hash altered", logged: true, want: "not in the log", docs: func(t *testing.T, f *fixture, l *testLog) []Document {
			bu := l.bundle(t, fileSHA, f.envList())
			h, _ := logproof.DecodeHashes(bu.Entries[2].InclusionProof)
			h[0][0] ^= 1
			bu.Entries[2].InclusionProof = logproof.EncodeHashes(h)
			return bundleDocs(t, "b", bu)
		}},
		{name: "an entry index moved", logged: true, want: "but the bundle leaves them out", docs: func(t *testing.T, f *fixture, l *testLog) []Document {
			bu := l.bundle(t, fileSHA, f.envList())
			bu.Entries[0].Index++
			return bundleDocs(t, "b", bu)
		}},
		// Issue 16: signed dissent the customer holds fails closed under a
		// log policy too, though it is not in the bundle.
		{name: "a trusted rebuilder's held different fails", logged: true, want: "trusted rebuilder C disagrees: different, in a signed summary the log does not hold (summary-rebuilderC)",
			docs: func(t *testing.T, f *fixture, l *testLog) []Document {
				// C's rebuild is logged; its summary saying different is not.
				f.addSay(t, differentC)
				var in []string
				for _, n := range f.order {
					if n != "summary-rebuilderC" {
						in = append(in, n)
					}
				}
				docs := bundleDocs(t, "b", l.bundle(t, fileSHA, f.envList(in...)))
				return append(docs, SplitDocuments("summary-rebuilderC", f.envs["summary-rebuilderC"])...)
			}},
		{name: "a held different on a held rebuild fails", logged: true, want: "trusted rebuilder C disagrees: different, in a signed summary the log does not hold",
			docs: func(t *testing.T, f *fixture, l *testLog) []Document {
				docs := bundleDocs(t, "b", l.bundle(t, fileSHA, f.envList()))
				f.addSay(t, differentC)
				docs = append(docs, SplitDocuments("rebuild-rebuilderC", f.envs["rebuild-rebuilderC"])...)
				return append(docs, SplitDocuments("summary-rebuilderC", f.envs["summary-rebuilderC"])...)
			}},
		{name: "a trusted reviewer's held findings fail", logged: true, want: "trusted reviewer reviewer2 (reviewer2) reported findings in https://example.com/hello.git@0123456789abcdef0123456789abcdef01234567 (review-findings), in a signed review the log does not hold",
			docs: func(t *testing.T, f *fixture, l *testLog) []Document {
				docs := bundleDocs(t, "b", l.bundle(t, fileSHA, f.envList()))
				p := testReview("reviewer2")
				p.Verdict = Findings
				st, err := ReviewStatement(p)
				if err != nil {
					t.Fatal(err)
				}
				env, _ := envelope.Sign(context.Background(), st, f.k.signers["reviewer2"])
				return append(docs, SplitDocuments("review-findings", env)...)
			}},
		{name: "a held agreeing summary does not count", logged: true, want: "note:comes with no inclusion proof", docs: func(t *testing.T, f *fixture, l *testLog) []Document {
			// Only A's chain is logged; B's agreeing summary is held: 1 of 2.
			var in, out []string
			for _, n := range f.order {
				if strings.HasSuffix(n, "rebuilderB") {
					out = append(out, n)
				} else {
					in = append(in, n)
				}
			}
			docs := bundleDocs(t, "b", l.bundle(t, fileSHA, f.envList(in...)))
			for _, n := range out {
				docs = append(docs, SplitDocuments(n, f.envs[n])...)
			}
			return docs
		}},
		{name: "one envelope outside the bundle is not counted", logged: true, want: "note:comes with no inclusion proof", docs: func(t *testing.T, f *fixture, l *testLog) []Document {
			// The summaries are logged, one rebuild is not: the chain breaks.
			in := []string{}
			for _, n := range f.order {
				if n != "rebuild-rebuilderA" {
					in = append(in, n)
				}
			}
			docs := bundleDocs(t, "b", l.bundle(t, fileSHA, f.envList(in...)))
			return append(docs, SplitDocuments("rebuild-rebuilderA", f.envs["rebuild-rebuilderA"])...)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t, identicalA, identicalB)
			l := newTestLog(t, "log.example.org")
			extra := ""
			if tt.logged {
				extra = "log:\n  key: " + l.vkey + "\n"
			}
			pol := mustPolicy(t, f.policyYAML(1, 2, extra))
			res := f.evaluate(t, pol, shippedBytes, tt.docs(t, f, l))
			if tt.verified {
				if !res.Verified {
					t.Fatalf("not verified:\n%s", res.Text())
				}
				if tt.logged && res.Log != "log.example.org" {
					t.Errorf("result log %q", res.Log)
				}
				return
			}
			if note, ok := strings.CutPrefix(tt.want, "note:"); ok {
				if res.Verified || !strings.Contains(strings.Join(res.Notes, "\n"), note) {
					t.Fatalf("verified %v, notes %q, want a note %q", res.Verified, res.Notes, note)
				}
				return
			}
			refused(t, res, tt.want)
		})
	}
}

// TestVerifyLogBundleFile: a log bundle given with -a is recognised by its
// media type and verifies end to end from a file.
func TestVerifyLogBundleFile(t *testing.T) {
	f := newFixture(t, identicalA)
	l := newTestLog(t, "log.example.org")
	b, err := l.bundle(t, digest.FromBytes(shippedBytes), f.envList()).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(f.dir, "hello.logbundle.json")
	os.WriteFile(p, b, 0o644)
	vk := filepath.Join(f.dir, "log.vkey")
	os.WriteFile(vk, []byte(l.vkey+"\n"), 0o644)
	pol := mustPolicy(t, f.policyYAML(1, 1, "log:\n  key: "+vk+"\n"))
	docs, err := ReadDocuments(t.Context(), []string{p})
	if err != nil {
		t.Fatal(err)
	}
	if len(docs) != len(f.order) || docs[0].Log == nil {
		t.Fatalf("%d documents from the bundle", len(docs))
	}
	if res := f.evaluate(t, pol, shippedBytes, docs); !res.Verified {
		t.Fatalf("not verified:\n%s", res.Text())
	}
}

// BenchmarkVerifyLogProofs measures what checking the log's proofs adds to
// `reprove verify`: the same attestations of one release, read from disk
// and verified end to end, once as loose envelopes (JSON Lines, a policy
// without a log) and once as a log bundle under a policy that names the log
// (checkpoint signature, artifact index, one inclusion proof per entry).
// The target is at most 5 ms more per verification.
func BenchmarkVerifyLogProofs(b *testing.B) {
	f := newFixture(b, identicalA, identicalB)
	l := newTestLog(b, "log.example.org")
	file := filepath.Join(b.TempDir(), "hello")
	os.WriteFile(file, shippedBytes, 0o644)
	jsonl := filepath.Join(f.dir, "hello.intoto.jsonl")
	os.WriteFile(jsonl, bytes.Join(f.envList(), []byte("\n")), 0o644)
	bundle, err := l.bundle(b, digest.FromBytes(shippedBytes), f.envList()).Marshal()
	if err != nil {
		b.Fatal(err)
	}
	bundlePath := filepath.Join(f.dir, "hello.log-bundle.json")
	os.WriteFile(bundlePath, bundle, 0o644)
	for _, bc := range []struct {
		name string
		atts string
		pol  *policy.Policy
	}{
		{"envelopes", jsonl, mustPolicy(b, f.policyYAML(1, 2, ""))},
		{"log-bundle", bundlePath, mustPolicy(b, f.policyYAML(1, 2, "log:\n  key: "+l.vkey+"\n"))},
	} {
		b.Run(bc.name, func(b *testing.B) {
			for b.Loop() {
				res, err := verifyFiles(context.Background(), file, []string{bc.atts}, bc.pol, VerifyOptions{Now: func() time.Time { return testNow }})
				if err != nil {
					b.Fatal(err)
				}
				if !res.Verified {
					b.Fatalf("not verified:\n%s", res.Text())
				}
			}
		})
	}
}
