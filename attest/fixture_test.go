package attest

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/keys"
	"github.com/reprove/reprove/attest/policy"
	"github.com/reprove/reprove/attest/signing"
	"github.com/reprove/reprove/compare/verdict"
)

// The fixed clock of every test: statements are dated a little before it.
var (
	testNow      = time.Date(2026, 11, 20, 12, 0, 0, 0, time.UTC)
	reviewTime   = time.Date(2026, 11, 1, 9, 30, 0, 0, time.UTC)
	rebuildStart = time.Date(2026, 11, 10, 8, 0, 0, 0, time.UTC)
)

var testKeyNames = []string{"reviewer1", "reviewer2", "rebuilderA", "rebuilderB", "rebuilderC", "stranger"}

type testKeys struct {
	signers   map[string]*signing.Signer
	pubs      map[string][]byte
	pubPaths  map[string]string
	keyPaths  map[string]string
	verifiers map[string]*keys.Verifier
}

var loadedKeys *testKeys

// loadTestKeys reads the fixed test keys (made by the cosign CLI; password
// "test") once per test binary.
func loadTestKeys(t testing.TB) *testKeys {
	t.Helper()
	if loadedKeys != nil {
		return loadedKeys
	}
	k := &testKeys{signers: map[string]*signing.Signer{}, pubs: map[string][]byte{}, pubPaths: map[string]string{},
		keyPaths: map[string]string{}, verifiers: map[string]*keys.Verifier{}}
	for _, n := range testKeyNames {
		kp, _ := filepath.Abs(filepath.Join("testdata", "keys", n+".key"))
		pp, _ := filepath.Abs(filepath.Join("testdata", "keys", n+".pub"))
		s, err := signing.Load(context.Background(), kp, []byte("test"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := loadVerifier(pp)
		if err != nil {
			t.Fatal(err)
		}
		pub, err := os.ReadFile(pp)
		if err != nil {
			t.Fatal(err)
		}
		k.signers[n], k.verifiers[n], k.pubs[n], k.pubPaths[n], k.keyPaths[n] = s, v, pub, pp, kp
	}
	loadedKeys = k
	return k
}

// shippedBytes is the "release" every fixture is about.
var shippedBytes = []byte("#!/bin/sh\necho hello, reproducible world\n")

func testSource() Source {
	return Source{
		URI:       "git+https://example.com/hello.git",
		GitCommit: "0123456789abcdef0123456789abcdef01234567",
		Tree:      digest.FromString("tree listing"),
	}
}

func testReview(reviewer string) *ReviewPredicate {
	return &ReviewPredicate{
		Reviewer:   Party{ID: "mailto:" + reviewer + "@audits.example", Name: reviewer},
		Source:     testSource(),
		Scope:      Scope{All: true},
		Verdict:    Approved,
		Report:     &Report{URI: "https://audits.example/hello-1.0.pdf", Digest: digest.FromString("report")},
		ReviewedAt: reviewTime,
	}
}

func testRebuild(builder string, output []byte) *Rebuild {
	return &Rebuild{
		SchemaVersion: RebuildSchemaVersion,
		Recipe:        RecipeRef{Name: "hello", Version: "1.0", URI: "recipes/hello.yaml", Digest: digest.FromString("recipe")},
		Source:        testSource(),
		Toolchain:     &Dependency{Name: "golang.org/toolchain", Version: "v0.0.1-go1.23.5.linux-amd64", GoSum: "h1:" + b64of("toolchain")},
		BaseImage:     &Dependency{Name: "reprove.local/debian:bookworm", Digest: digest.FromString("image")},
		GoModules: []Dependency{
			{Name: "golang.org/x/text", Version: "v0.21.0", GoSum: "h1:" + b64of("x/text")},
			{Name: "github.com/spf13/cobra", Version: "v1.10.2", GoSum: "h1:" + b64of("cobra")},
		},
		BuilderID:      "https://" + builder + ".example/reprove",
		ReproveVersion: "v0.1.0",
		HostKernel:     "6.1.0-test",
		Env:            map[string]string{"SOURCE_DATE_EPOCH": "1700000000", "TZ": "UTC", "LC_ALL": "C"},
		Commands:       [][]string{{"go", "build", "-trimpath", "-o", "/out/hello", "."}},
		StartedOn:      rebuildStart,
		FinishedOn:     rebuildStart.Add(42 * time.Second),
		Outputs:        []Output{{Name: "hello", Digest: digest.FromBytes(output)}},
	}
}

// fixture is a complete, valid set of attestations for shippedBytes.
type fixture struct {
	k    *testKeys
	dir  string
	file string
	// docs by name: review1, review2, rebuild-A, summary-A, ...
	envs  map[string][]byte
	order []string
}

// fixtureVSA makes newFixture write summaries as a SLSA VSA with its
// comparison (what reprove writes now) rather than reprove's v1 summary
// (what it wrote before, and still reads). forFormats runs a test in both.
var fixtureVSA bool

func forFormats(t *testing.T, run func(t *testing.T)) {
	for _, vsa := range []bool{false, true} {
		name := "v1-summary"
		if vsa {
			name = "vsa"
		}
		t.Run(name, func(t *testing.T) {
			saved := fixtureVSA
			fixtureVSA = vsa
			defer func() { fixtureVSA = saved }()
			run(t)
		})
	}
}

// rebuilderSay describes what one rebuilder found.
type rebuilderSay struct {
	key         string // rebuilderA...
	verdict     verdict.Verdict
	normalizers []string
}

func newFixture(t testing.TB, says ...rebuilderSay) *fixture {
	t.Helper()
	ctx := context.Background()
	k := loadTestKeys(t)
	f := &fixture{k: k, dir: t.TempDir(), envs: map[string][]byte{}}
	f.file = filepath.Join(f.dir, "hello")
	if err := os.WriteFile(f.file, shippedBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	var reviewRefs []AttestationRef
	for _, r := range []string{"reviewer1", "reviewer2"} {
		st, err := ReviewStatement(testReview(r))
		if err != nil {
			t.Fatal(err)
		}
		env, err := envelope.Sign(ctx, st, k.signers[r])
		if err != nil {
			t.Fatal(err)
		}
		f.add("review-"+r, env)
		e, _ := envelope.Parse(env)
		ref, err := RefOf(e, "")
		if err != nil {
			t.Fatal(err)
		}
		reviewRefs = append(reviewRefs, ref)
	}
	for _, s := range says {
		out := shippedBytes
		if s.verdict != verdict.Identical {
			out = append([]byte("different "), shippedBytes...)
		}
		rb := testRebuild(s.key, out)
		st, err := RebuildStatement(rb)
		if err != nil {
			t.Fatal(err)
		}
		env, err := envelope.Sign(ctx, st, k.signers[s.key])
		if err != nil {
			t.Fatal(err)
		}
		f.add("rebuild-"+s.key, env)
		e, _ := envelope.Parse(env)
		rref, err := RefOf(e, "")
		if err != nil {
			t.Fatal(err)
		}
		if fixtureVSA {
			e, _ := envelope.Parse(env)
			var reviews []*envelope.Envelope
			for _, r := range []string{"review-reviewer1", "review-reviewer2"} {
				re, _ := envelope.Parse(f.envs[r])
				reviews = append(reviews, re)
			}
			cenv, venv, err := SignSummary(ctx, SummaryInput{
				Shipped: Output{Name: "hello", Digest: digest.FromBytes(shippedBytes)}, ShippedURI: "https://example.com/releases/hello",
				Verdict: s.verdict, Normalizers: s.normalizers, Rebuilt: digest.FromBytes(out),
				CompareReport: digest.FromString("report of " + s.key), CompareReportURI: "compare/hello.json",
				Rebuild: e, Reviews: reviews, Verifier: Party{ID: "https://" + s.key + ".example/reprove"}, Time: rebuildStart.Add(time.Hour),
			}, k.signers[s.key])
			if err != nil {
				t.Fatal(err)
			}
			f.add("comparison-"+s.key, cenv)
			f.add("summary-"+s.key, venv)
			continue
		}
		sp := &SummaryPredicate{
			Verifier:     Party{ID: "https://" + s.key + ".example/reprove", Name: s.key},
			TimeVerified: rebuildStart.Add(time.Hour),
			Verdict:      s.verdict,
			Normalizers:  s.normalizers,
			Rebuilt:      Artifact{Name: "hello", Digest: setOf(digest.FromBytes(out))},
			Rebuild:      rref,
			Reviews:      reviewRefs,
		}
		sst, err := SummaryStatement(Output{Name: "hello", Digest: digest.FromBytes(shippedBytes)}, sp)
		if err != nil {
			t.Fatal(err)
		}
		senv, err := envelope.Sign(ctx, sst, k.signers[s.key])
		if err != nil {
			t.Fatal(err)
		}
		f.add("summary-"+s.key, senv)
	}
	return f
}

func (f *fixture) add(name string, env []byte) {
	if _, ok := f.envs[name]; !ok {
		f.order = append(f.order, name)
	}
	f.envs[name] = env
}

// docs parses the fixture's envelopes as Verify would read them.
func (f *fixture) docs() []Document {
	var docs []Document
	for _, n := range f.order {
		docs = append(docs, SplitDocuments(n, f.envs[n])...)
	}
	return docs
}

// policyYAML is a policy trusting both reviewers and the three rebuilders.
func (f *fixture) policyYAML(reviewThreshold, rebuildThreshold int, extra string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "version: 1\nreviewers:\n  threshold: %d\n  keys:\n", reviewThreshold)
	for _, n := range []string{"reviewer1", "reviewer2"} {
		fmt.Fprintf(&b, "    - name: %s\n      key: %s\n", n, f.k.pubPaths[n])
	}
	fmt.Fprintf(&b, "rebuilders:\n  threshold: %d\n  keys:\n", rebuildThreshold)
	for _, n := range []string{"rebuilderA", "rebuilderB", "rebuilderC"} {
		fmt.Fprintf(&b, "    - name: %s\n      key: %s\n", strings.TrimPrefix(n, "rebuilder"), f.k.pubPaths[n])
	}
	b.WriteString(extra)
	return b.String()
}

func policyParse(y string) (*policy.Policy, error) {
	return policy.Parse([]byte(y), "policy.yaml", os.ReadFile)
}

func mustPolicy(t testing.TB, y string) *policy.Policy {
	t.Helper()
	p, err := policy.Parse([]byte(y), "policy.yaml", os.ReadFile)
	if err != nil {
		t.Fatalf("policy: %v\n%s", err, y)
	}
	return p
}

func (f *fixture) evaluate(t testing.TB, pol *policy.Policy, fileBytes []byte, docs []Document) *Result {
	t.Helper()
	path := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(path, fileBytes, 0o644); err != nil {
		t.Fatal(err)
	}
	tg, err := HashTarget(context.Background(), path, nil)
	if err != nil {
		t.Fatal(err)
	}
	tg.Path = "hello"
	res, err := Verify(context.Background(), tg, docsOf(docs), pol, VerifyOptions{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func b64of(s string) string {
	sum := sha256.Sum256([]byte(s))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// addSignature returns e with one more signature by s over the same
// payload: a DSSE envelope may carry several (a Sigstore bundle may not).
func addSignature(ctx context.Context, e *envelope.Envelope, s envelope.Signer) ([]byte, error) {
	sig, err := s.Sign(ctx, envelope.PAE(e.PayloadType, e.Payload))
	if err != nil {
		return nil, err
	}
	out, err := envelope.FromParts(e.PayloadType, e.Payload, append(append([]envelope.Signature(nil), e.Signatures...), envelope.Signature{Sig: sig}))
	if err != nil {
		return nil, err
	}
	return out.Raw, nil
}

// verifyFiles is Verify over files, as `reprove verify FILE -a …` runs it.
func verifyFiles(ctx context.Context, file string, atts []string, pol *policy.Policy, opts VerifyOptions) (*Result, error) {
	t, err := HashTarget(ctx, file, nil)
	if err != nil {
		return nil, err
	}
	return Verify(ctx, t, Files(ctx, atts...), pol, opts)
}

// evaluateDocs is Verify of documents in memory, for a file with digests
// ds, at testNow.
func evaluateDocs(ctx context.Context, ds DigestSet, docs []Document, pol *policy.Policy) (*Result, error) {
	return Verify(ctx, &Target{Path: "hello", Digests: ds}, docsOf(docs), pol, VerifyOptions{Now: func() time.Time { return testNow }})
}

func docsOf(docs []Document) Documents {
	return func(yield func(Document, error) bool) {
		for _, d := range docs {
			if !yield(d, nil) {
				return
			}
		}
	}
}

// loadVerifier reads a public key file.
func loadVerifier(path string) (*keys.Verifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return keys.ParseVerifier(b, path)
}
