package cli

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/base64"
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

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/attest/signing"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/schemas"
)

// goldenPassword encrypts every key the golden tests make.
const goldenPassword = "golden"

// goldenKeys copies the fixed key pairs NAME.key and NAME.pub from
// testdata/golden/keys (made by reprove key generate, password "golden")
// into dir and returns their signers. The keys are fixed rather than made
// per run because verify orders what several keys say by fingerprint, and
// a golden must not change order from one run to the next.
func goldenKeys(t *testing.T, dir string, names ...string) map[string]*signing.Signer {
	t.Helper()
	out := map[string]*signing.Signer{}
	for _, n := range names {
		for _, ext := range []string{".key", ".pub"} {
			b, err := os.ReadFile(filepath.Join("testdata", "golden", "keys", n+ext))
			if err != nil {
				t.Fatal(err)
			}
			writeFiles(t, dir, map[string]string{n + ext: string(b)})
		}
		s, err := signing.Load(context.Background(), filepath.Join(dir, n+".key"), []byte(goldenPassword))
		if err != nil {
			t.Fatal(err)
		}
		out[n] = s
	}
	return out
}

// The release every verify case is about, and what a dissenting rebuilder
// got instead.
var (
	goldenShipped = []byte("#!/bin/sh\necho hello, reproducible world\n")
	goldenOther   = []byte("#!/bin/sh\necho hello, other world\n")
)

var (
	goldenReviewTime  = time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)
	goldenRebuildTime = time.Date(2026, 11, 10, 8, 0, 0, 0, time.UTC)
)

// goldenH1 is a go.sum hash (h1: and the base64 of a SHA-256) of text.
func goldenH1(text string) string {
	sum := sha256.Sum256([]byte(text))
	return "h1:" + base64.StdEncoding.EncodeToString(sum[:])
}

func goldenSource() attest.Source {
	return attest.Source{
		URI:       "git+https://example.com/hello.git",
		GitCommit: "0123456789abcdef0123456789abcdef01234567",
		Tree:      digest.FromString("the reviewed tree"),
	}
}

// verifyFixture signs, with real keys, the attestations of a release:
// Alice's review, and for each rebuilder its provenance, the comparison
// and the VSA.
type verifyFixture struct {
	t       *testing.T
	signers map[string]*signing.Signer
	review  []byte
	envs    map[string][]byte // by file name under atts/
	// program is the recipe's name the rebuilds attest ("hello" when
	// empty).
	program string
}

func newVerifyFixture(t *testing.T, dir string) *verifyFixture {
	t.Helper()
	f := &verifyFixture{t: t, signers: goldenKeys(t, dir, "alice", "a", "b", "c", "stranger"), envs: map[string][]byte{}}
	st, err := attest.ReviewStatement(&attest.ReviewPredicate{
		Reviewer:   attest.Party{ID: "mailto:alice@audits.example", Name: "Alice (Example Audits)"},
		Source:     goldenSource(),
		Scope:      attest.Scope{All: true},
		Verdict:    attest.Approved,
		Report:     &attest.Report{URI: "https://audits.example/hello-1.0.pdf", Digest: digest.FromString("the report")},
		ReviewedAt: goldenReviewTime,
	})
	if err != nil {
		t.Fatal(err)
	}
	if f.review, err = envelope.Sign(context.Background(), st, f.signers["alice"]); err != nil {
		t.Fatal(err)
	}
	return f
}

// rebuilder signs the provenance, comparison and VSA of one rebuilder (a
// key name) that got output and compared it with the shipped file.
func (f *verifyFixture) rebuilder(name string, output []byte, v verdict.Verdict) {
	f.t.Helper()
	ctx := context.Background()
	s := f.signers[name]
	program := f.program
	if program == "" {
		program = "hello"
	}
	rb := &attest.Rebuild{
		SchemaVersion:  attest.RebuildSchemaVersion,
		Recipe:         attest.RecipeRef{Name: program, Version: "1.0", URI: "recipes/hello.yaml", Digest: digest.FromString("the recipe")},
		Source:         goldenSource(),
		Toolchain:      &attest.Dependency{Name: "golang.org/toolchain", Version: "v0.0.1-go1.26.8.linux-amd64", GoSum: goldenH1("the toolchain zip")},
		BaseImage:      &attest.Dependency{Name: "reprove.local/minimal-go1.26.8", Digest: digest.FromString("the image")},
		BuilderID:      "https://" + name + ".rebuilders.example/reprove",
		ReproveVersion: "v0.1.0",
		Env:            map[string]string{"SOURCE_DATE_EPOCH": "1700000000", "TZ": "UTC", "LC_ALL": "C"},
		Commands:       [][]string{{"go", "build", "-trimpath", "-ldflags=-s -w", "-o", "/out/hello", "."}},
		StartedOn:      goldenRebuildTime,
		FinishedOn:     goldenRebuildTime.Add(42 * time.Second),
		Outputs:        []attest.Output{{Name: "hello", Digest: digest.FromBytes(output)}},
	}
	st, err := attest.RebuildStatement(rb)
	if err != nil {
		f.t.Fatal(err)
	}
	renv, err := envelope.Sign(ctx, st, s)
	if err != nil {
		f.t.Fatal(err)
	}
	rebuild, err := envelope.Parse(renv)
	if err != nil {
		f.t.Fatal(err)
	}
	review, err := envelope.Parse(f.review)
	if err != nil {
		f.t.Fatal(err)
	}
	in := attest.SummaryInput{
		Shipped:    attest.Output{Name: "hello", Digest: digest.FromBytes(goldenShipped)},
		ShippedURI: "https://example.com/releases/hello",
		Verdict:    v,
		Rebuilt:    digest.FromBytes(output),
		Rebuild:    rebuild,
		Reviews:    []*envelope.Envelope{review},
		Time:       goldenRebuildTime.Add(time.Hour),
	}
	if v != verdict.Identical {
		in.CompareReport, in.CompareReportURI = digest.FromString("compare report of "+name), "compare/hello.json"
	}
	cenv, venv, err := attest.SignSummary(ctx, in, s)
	if err != nil {
		f.t.Fatal(err)
	}
	f.envs[name+".rebuild.intoto.json"] = renv
	f.envs[name+".summary.comparison.intoto.json"] = cenv
	f.envs[name+".summary.intoto.json"] = venv
}

// write puts the review (unless left out) and the named rebuilders'
// attestations into dir.
func (f *verifyFixture) write(dir string, withReview bool, rebuilders ...string) {
	f.t.Helper()
	files := map[string][]byte{}
	if withReview {
		files["alice.review.intoto.json"] = f.review
	}
	for _, r := range rebuilders {
		for _, kind := range []string{".rebuild.intoto.json", ".summary.comparison.intoto.json", ".summary.intoto.json"} {
			files[r+kind] = f.envs[r+kind]
		}
	}
	for name, env := range files {
		if err := os.MkdirAll(dir, 0o755); err != nil {
			f.t.Fatal(err)
		}
		if err := attest.WriteAttestation(context.Background(), filepath.Join(dir, name), env); err != nil {
			f.t.Fatal(err)
		}
	}
}

// all lists every envelope in a stable order (review first).
func (f *verifyFixture) all(rebuilders ...string) [][]byte {
	out := [][]byte{f.review}
	for _, r := range rebuilders {
		for _, kind := range []string{".rebuild.intoto.json", ".summary.comparison.intoto.json", ".summary.intoto.json"} {
			out = append(out, f.envs[r+kind])
		}
	}
	return out
}

// goldenPolicy is a policy trusting Alice as reviewer and the given
// rebuilders (key names; their display names are upper case), with extra
// lines at the end.
func goldenPolicy(threshold int, rebuilders []string, extra string) string {
	var b strings.Builder
	b.WriteString("version: 1\nreviewers:\n  threshold: 1\n  keys:\n    - name: Alice (Example Audits)\n      key: alice.pub\n")
	fmt.Fprintf(&b, "rebuilders:\n  threshold: %d\n  keys:\n", threshold)
	for _, r := range rebuilders {
		fmt.Fprintf(&b, "    - name: %s\n      key: %s.pub\n", strings.ToUpper(r), r)
	}
	b.WriteString(extra)
	return b.String()
}

// goldenLog is a transparency log in memory, as tlog stores it, signing
// checkpoints and artifact indexes with a note key as a centre does.
type goldenLog struct {
	skey, vkey string
	hashes     []tlog.Hash
	leaves     [][]byte
}

// newGoldenLog makes the log's key from a fixed seed, so that its verifier
// key (which the policy holds) is the same in every run.
func newGoldenLog(t *testing.T, origin string) *goldenLog {
	t.Helper()
	skey, vkey, err := note.GenerateKey(bytes.NewReader(bytes.Repeat([]byte{7}, 64)), origin)
	if err != nil {
		t.Fatal(err)
	}
	return &goldenLog{skey: skey, vkey: vkey}
}

func (l *goldenLog) ReadHashes(idx []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(idx))
	for i, x := range idx {
		if x < 0 || x >= int64(len(l.hashes)) {
			return nil, fmt.Errorf("no stored hash %d", x)
		}
		out[i] = l.hashes[x]
	}
	return out, nil
}

func (l *goldenLog) add(t *testing.T, leaf []byte) int64 {
	t.Helper()
	n := int64(len(l.leaves))
	hs, err := tlog.StoredHashes(n, leaf, l)
	if err != nil {
		t.Fatal(err)
	}
	l.hashes = append(l.hashes, hs...)
	l.leaves = append(l.leaves, leaf)
	return n
}

// bundle logs envs (after an unrelated entry) and returns the log bundle a
// centre hands out for subject: each entry with its inclusion proof, the
// signed checkpoint and the signed index of the subject's entries.
func (l *goldenLog) bundle(t *testing.T, subject digest.Digest, envs [][]byte) *logproof.Bundle {
	t.Helper()
	l.add(t, []byte("someone else's entry"))
	var idx []int64
	for _, env := range envs {
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
		idx = append(idx, l.add(t, leaf))
	}
	size := int64(len(l.leaves))
	root, err := tlog.TreeHash(size, l)
	if err != nil {
		t.Fatal(err)
	}
	origin, _, _ := strings.Cut(l.vkey, "+")
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

// verify's whole output: the verified sentence, and when not verified the
// reasons, each trusted rebuilder's outcome and the notes, for the main
// ways a check fails; and one --json result, validated against its schema.
func TestGoldenVerify(t *testing.T) {
	tr := newTranscript(t)
	f := newVerifyFixture(t, tr.dir)
	f.rebuilder("a", goldenShipped, verdict.Identical)
	f.rebuilder("b", goldenShipped, verdict.Identical)
	f.rebuilder("c", goldenOther, verdict.Different)
	f.rebuilder("stranger", goldenShipped, verdict.Identical)
	log := newGoldenLog(t, "log.example")
	writeFiles(t, tr.dir, map[string]string{
		"hello":             string(goldenShipped),
		"other":             string(goldenOther),
		"policy.yaml":       goldenPolicy(2, []string{"a", "b"}, ""),
		"three.yaml":        goldenPolicy(2, []string{"a", "b", "c"}, ""),
		"three-report.yaml": goldenPolicy(2, []string{"a", "b", "c"}, "dissent: report\n"),
		"only-a.yaml":       goldenPolicy(1, []string{"a"}, ""),
		"logged.yaml":       goldenPolicy(2, []string{"a", "b"}, "log:\n  key: "+log.vkey+"\n"),
	})
	f.write(filepath.Join(tr.dir, "atts"), true, "a", "b")
	f.write(filepath.Join(tr.dir, "dissent"), true, "a", "b", "c")
	f.write(filepath.Join(tr.dir, "no-review"), false, "a", "b")
	f.write(filepath.Join(tr.dir, "stranger"), true, "stranger")

	// Verified: the sentence alone.
	tr.run("verify", "hello", "--policy", "policy.yaml", "-a", "atts")
	// Another file given the same attestations.
	tr.run("verify", "other", "--policy", "policy.yaml", "-a", "atts")
	// A trusted rebuilder found the file different: it fails the check
	// under dissent: fail, and is named in the sentence under report.
	tr.run("verify", "hello", "--policy", "three.yaml", "-a", "dissent")
	tr.run("verify", "hello", "--policy", "three-report.yaml", "-a", "dissent")
	// The review the summaries cite is missing: the chain does not close.
	tr.run("verify", "hello", "--policy", "policy.yaml", "-a", "no-review")
	// Attestations signed by a key the policy does not trust are ignored,
	// and a note says so.
	tr.run("verify", "hello", "--policy", "only-a.yaml", "-a", "stranger")

	// A policy naming the log: a bundle with every entry verifies; one
	// that leaves an entry out is refused.
	all := f.all("a", "b")
	writeBundle := func(name string, bu *logproof.Bundle) {
		b, err := bu.Marshal()
		if err != nil {
			t.Fatal(err)
		}
		writeFiles(t, tr.dir, map[string]string{name: string(b)})
	}
	writeBundle("hello.log-bundle.json", log.bundle(t, digest.FromBytes(goldenShipped), all))
	tr.run("verify", "hello", "--policy", "logged.yaml", "-a", "hello.log-bundle.json")
	cut := log.bundle(t, digest.FromBytes(goldenShipped), all)
	cut.Entries = cut.Entries[:len(cut.Entries)-1]
	writeBundle("cut.log-bundle.json", cut)
	tr.run("verify", "hello", "--policy", "logged.yaml", "-a", "cut.log-bundle.json")
	// Loose envelopes do not count under a log policy.
	tr.run("verify", "hello", "--policy", "logged.yaml", "-a", "atts")

	// --json: the whole result, as data.
	n := tr.b.Len()
	tr.run("verify", "hello", "--policy", "three.yaml", "-a", "dissent", "--json")
	out := tr.b.String()[n:]
	doc := out[strings.Index(out, "\n")+1 : strings.LastIndex(out, "[exit")]
	if err := schemas.Validate("verify-result", []byte(doc)); err != nil {
		t.Errorf("verify --json: %v\n%s", err, doc)
	}
	tr.check("verify")
}
