package attest

import (
	"context"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/keyless/keylesstest"
	"github.com/reprove/reprove/compare/verdict"
)

// Identities the keyless tests sign as: GitHub Actions workflows.
const (
	ghIssuer   = keylesstest.Issuer
	workflowA  = "https://github.com/rebuilders/a/.github/workflows/rebuild.yml@refs/heads/main"
	workflowB  = "https://github.com/rebuilders/b/.github/workflows/rebuild.yml@refs/heads/main"
	workflowC  = "https://github.com/strangers/c/.github/workflows/rebuild.yml@refs/heads/main"
	releaseWF  = "https://github.com/example/hello/.github/workflows/release.yml@refs/tags/v1.0"
	reviewerWF = "https://github.com/audits/hello/.github/workflows/review.yml@refs/heads/main"
)

// keylessWorld is a Sigstore made for one test and its trusted root file.
type keylessWorld struct {
	s        *keylesstest.Sigstore
	rootPath string
}

func newKeylessWorld(t testing.TB) *keylessWorld {
	t.Helper()
	s, err := keylesstest.New()
	if err != nil {
		t.Fatal(err)
	}
	rj, err := s.TrustedRoot(keylesstest.RootOptions{})
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "trusted_root.json")
	if err := os.WriteFile(p, rj, 0o644); err != nil {
		t.Fatal(err)
	}
	return &keylessWorld{s: s, rootPath: p}
}

func (w *keylessWorld) signer(t testing.TB, subject, issuer string, o keylesstest.CertOptions) *keylesstest.Signer {
	t.Helper()
	g, err := w.s.SignerWith(subject, issuer, o)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// sealer turns a signed envelope into the file that is published.
type sealer func(t testing.TB, env []byte) []byte

// keyless seals with g's certificate into a keyless Sigstore bundle.
func (w *keylessWorld) keyless(g *keylesstest.Signer) sealer {
	return func(t testing.TB, env []byte) []byte {
		t.Helper()
		e, err := envelope.Parse(env)
		if err != nil {
			t.Fatal(err)
		}
		b, err := w.s.BundleOf(e, g.Cert, keylesstest.Options{})
		if err != nil {
			t.Fatal(err)
		}
		return b
	}
}

// bare publishes the envelope as it is (key-signed).
func bare(_ testing.TB, env []byte) []byte { return env }

// chainOf signs a rebuild of source testSource() whose output is the file
// (sha256 fileSHA), its comparison and its VSA citing reviews, with s,
// sealed by seal; name prefixes the documents' sources.
func chainOf(t testing.TB, name string, s Signer, seal sealer, fileSHA digest.Digest, reviews []*envelope.Envelope) []Document {
	t.Helper()
	ctx := context.Background()
	rb := testRebuild(name, shippedBytes)
	rb.Outputs = []Output{{Name: "hello", Digest: fileSHA}}
	st, err := RebuildStatement(rb)
	if err != nil {
		t.Fatal(err)
	}
	renv, err := envelope.Sign(ctx, st, s)
	if err != nil {
		t.Fatal(err)
	}
	re, _ := envelope.Parse(renv)
	cenv, venv, err := SignSummary(ctx, SummaryInput{
		Shipped: Output{Name: "hello", Digest: fileSHA}, Verdict: verdict.Identical, Rebuilt: fileSHA,
		Rebuild: re, Reviews: reviews, Verifier: Party{ID: "https://" + name + ".example/reprove"}, Time: rebuildStart.Add(time.Hour),
	}, s)
	if err != nil {
		t.Fatal(err)
	}
	var docs []Document
	for i, env := range [][]byte{renv, cenv, venv} {
		src := fmt.Sprintf("%s-%s.sigstore.json", name, []string{"rebuild", "comparison", "summary"}[i])
		docs = append(docs, SplitDocuments(src, seal(t, env))...)
	}
	return docs
}

// keyReviews are reviewer1's review, signed with its key.
func keyReviews(t testing.TB) ([]Document, []*envelope.Envelope) {
	t.Helper()
	st, err := ReviewStatement(testReview("reviewer1"))
	if err != nil {
		t.Fatal(err)
	}
	env, err := envelope.Sign(context.Background(), st, loadTestKeys(t).signers["reviewer1"])
	if err != nil {
		t.Fatal(err)
	}
	e, _ := envelope.Parse(env)
	return SplitDocuments("review-reviewer1.intoto.json", env), []*envelope.Envelope{e}
}

func identityYAML(name, issuer, subject, pattern string) string {
	y := fmt.Sprintf("    - name: %s\n      issuer: %s\n", name, issuer)
	if pattern != "" {
		return y + fmt.Sprintf("      subjectPattern: '%s'\n", pattern)
	}
	return y + fmt.Sprintf("      subject: %s\n", subject)
}

// keylessPolicy trusts reviewer1's key and the rebuilder identities given
// (YAML entries), under w's trusted root.
func (w *keylessWorld) policy(t testing.TB, threshold int, rebuilders, extra string) string {
	return fmt.Sprintf("version: 1\ntrustedRoot: %s\nreviewers:\n  threshold: 1\n  keys:\n    - name: reviewer1\n      key: %s\nrebuilders:\n  threshold: %d\n%s%s",
		w.rootPath, loadTestKeys(t).pubPaths["reviewer1"], threshold, rebuilders, extra)
}

func reasonsContain(r *Result, s string) bool {
	for _, x := range append(append([]string(nil), r.Reasons...), r.Notes...) {
		if strings.Contains(x, s) {
			return true
		}
	}
	return false
}

// TestKeylessRebuilders: a policy that trusts rebuilders by identity
// counts keyless summaries by the identities that signed them, once each,
// and refuses what a trusted identity's bundle does not prove.
func TestKeylessRebuilders(t *testing.T) {
	fileSHA := digest.FromBytes(shippedBytes)
	ds := DigestSet{"sha256": fileSHA.Encoded()}
	k := loadTestKeys(t)
	idA := identityYAML("A", ghIssuer, workflowA, "")
	idB := identityYAML("B", ghIssuer, workflowB, "")
	tests := []struct {
		name       string
		threshold  int
		rebuilders string // the role's entries (identities:, keys:)
		extra      string
		chains     func(w *keylessWorld, reviews []*envelope.Envelope) []Document
		verified   bool
		names      []string // the rebuilders' results, by name
		want       string   // a reason or note
	}{
		{name: "two identities agree", threshold: 2, rebuilders: "  identities:\n" + idA + idB,
			chains: func(w *keylessWorld, rv []*envelope.Envelope) []Document {
				a, b := w.signer(t, workflowA, ghIssuer, keylesstest.CertOptions{}), w.signer(t, workflowB, ghIssuer, keylesstest.CertOptions{})
				return append(chainOf(t, "a", a, w.keyless(a), fileSHA, rv), chainOf(t, "b", b, w.keyless(b), fileSHA, rv)...)
			}, verified: true, names: []string{"A", "B"}},
		{name: "one identity signing twice, with two certificates, counts once", threshold: 2, rebuilders: "  identities:\n" + idA + idB,
			chains: func(w *keylessWorld, rv []*envelope.Envelope) []Document {
				a1, a2 := w.signer(t, workflowA, ghIssuer, keylesstest.CertOptions{}), w.signer(t, workflowA, ghIssuer, keylesstest.CertOptions{})
				return append(chainOf(t, "a1", a1, w.keyless(a1), fileSHA, rv), chainOf(t, "a2", a2, w.keyless(a2), fileSHA, rv)...)
			}, names: []string{"A"}, want: "reproduced by 1 of 2 trusted rebuilders; the policy needs 2"},
		{name: "a certificate two entries match counts for the first", threshold: 2,
			rebuilders: "  identities:\n" + idA + identityYAML("any rebuilder", ghIssuer, "", `https://github\.com/rebuilders/.*`),
			chains: func(w *keylessWorld, rv []*envelope.Envelope) []Document {
				a := w.signer(t, workflowA, ghIssuer, keylesstest.CertOptions{})
				return chainOf(t, "a", a, w.keyless(a), fileSHA, rv)
			}, names: []string{"A"}, want: "reproduced by 1 of 2 trusted rebuilders"},
		{name: "a pattern's identities are one party", threshold: 1,
			rebuilders: "  identities:\n" + identityYAML("rebuilders org", ghIssuer, "", `https://github\.com/rebuilders/[ab]/\.github/workflows/rebuild\.yml@refs/heads/main`),
			chains: func(w *keylessWorld, rv []*envelope.Envelope) []Document {
				a, b := w.signer(t, workflowA, ghIssuer, keylesstest.CertOptions{}), w.signer(t, workflowB, ghIssuer, keylesstest.CertOptions{})
				return append(chainOf(t, "a", a, w.keyless(a), fileSHA, rv), chainOf(t, "b", b, w.keyless(b), fileSHA, rv)...)
			}, verified: true, names: []string{"rebuilders org"}},
		{name: "a key and an identity", threshold: 2, rebuilders: "  keys:\n    - name: K\n      key: " + k.pubPaths["rebuilderA"] + "\n  identities:\n" + idB,
			chains: func(w *keylessWorld, rv []*envelope.Envelope) []Document {
				b := w.signer(t, workflowB, ghIssuer, keylesstest.CertOptions{})
				return append(chainOf(t, "k", k.signers["rebuilderA"], bare, fileSHA, rv), chainOf(t, "b", b, w.keyless(b), fileSHA, rv)...)
			}, verified: true, names: []string{"B", "K"}},
		{name: "the wrong identity", threshold: 1, rebuilders: "  identities:\n" + idA,
			chains: func(w *keylessWorld, rv []*envelope.Envelope) []Document {
				c := w.signer(t, workflowC, ghIssuer, keylesstest.CertOptions{})
				return chainOf(t, "c", c, w.keyless(c), fileSHA, rv)
			}, want: "is signed by " + workflowC + " (issuer " + ghIssuer + "), neither a key nor an identity the policy trusts; ignored"},
		{name: "the right subject from the wrong issuer", threshold: 1, rebuilders: "  identities:\n" + idA,
			chains: func(w *keylessWorld, rv []*envelope.Envelope) []Document {
				a := w.signer(t, workflowA, "https://accounts.example", keylesstest.CertOptions{})
				return chainOf(t, "a", a, w.keyless(a), fileSHA, rv)
			}, want: "(issuer https://accounts.example), neither a key nor an identity the policy trusts"},
		{name: "a trusted identity from an untrusted authority", threshold: 1, rebuilders: "  identities:\n" + idA,
			chains: func(w *keylessWorld, rv []*envelope.Envelope) []Document {
				a := w.signer(t, workflowA, ghIssuer, keylesstest.CertOptions{Untrusted: true})
				return chainOf(t, "a", a, w.keyless(a), fileSHA, rv)
			}, want: "signed as " + workflowA + " (issuer " + ghIssuer + "), whom the policy trusts as rebuilder A, but the certificate is not trusted at the time the signature was made"},
		{name: "a key-signed envelope does not stand for an identity", threshold: 1, rebuilders: "  identities:\n" + idA,
			chains: func(w *keylessWorld, rv []*envelope.Envelope) []Document {
				return chainOf(t, "k", k.signers["rebuilderA"], bare, fileSHA, rv)
			}, want: "is signed by no key the policy trusts; ignored"},
		{name: "an expired identity", threshold: 1, rebuilders: "  identities:\n" + idA + "      expires: 2026-01-01T00:00:00Z\n",
			chains: func(w *keylessWorld, rv []*envelope.Envelope) []Document {
				a := w.signer(t, workflowA, ghIssuer, keylesstest.CertOptions{})
				return chainOf(t, "a", a, w.keyless(a), fileSHA, rv)
			}, want: "the signature by A has expired (the policy trusts that identity until 2026-01-01T00:00:00Z)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newKeylessWorld(t)
			rdocs, reviews := keyReviews(t)
			pol := mustPolicy(t, w.policy(t, tt.threshold, tt.rebuilders, tt.extra))
			docs := append(rdocs, tt.chains(w, reviews)...)
			res, err := evaluateDocs(context.Background(), ds, docs, pol)
			if err != nil {
				t.Fatal(err)
			}
			if res.Verified != tt.verified {
				t.Fatalf("verified = %v, want %v\n%s", res.Verified, tt.verified, res.Text())
			}
			var names []string
			for _, r := range res.Rebuilders {
				names = append(names, r.Name)
				if (r.Identity != nil) != strings.Contains(tt.rebuilders, "name: "+r.Name+"\n      issuer") {
					t.Errorf("rebuilder %s: identity %+v", r.Name, r.Identity)
				}
			}
			if diff := cmp.Diff(tt.names, names); diff != "" {
				t.Errorf("rebuilders (-want +got):\n%s\n%s", diff, res.Text())
			}
			if tt.want != "" && !reasonsContain(res, tt.want) {
				t.Errorf("no reason or note containing %q:\n%s", tt.want, res.Text())
			}
		})
	}
}

// TestKeylessSelfReview: one certificate that a reviewer identity and a
// rebuilder identity both match cannot count in both roles unless the
// policy says selfReview: allow; the same identity listed in both roles is
// refused when the policy is read.
func TestKeylessSelfReview(t *testing.T) {
	w := newKeylessWorld(t)
	fileSHA := digest.FromBytes(shippedBytes)
	one := w.signer(t, reviewerWF, ghIssuer, keylesstest.CertOptions{})
	st, err := ReviewStatement(testReview("audits"))
	if err != nil {
		t.Fatal(err)
	}
	renv, err := envelope.Sign(context.Background(), st, one)
	if err != nil {
		t.Fatal(err)
	}
	re, _ := envelope.Parse(renv)
	docs := append(SplitDocuments("review.sigstore.json", w.keyless(one)(t, renv)),
		chainOf(t, "a", one, w.keyless(one), fileSHA, []*envelope.Envelope{re})...)
	y := fmt.Sprintf("version: 1\ntrustedRoot: %s\nreviewers:\n  threshold: 1\n  identities:\n%s"+
		"rebuilders:\n  threshold: 1\n  identities:\n%s", w.rootPath,
		identityYAML("audits", ghIssuer, "", `https://github\.com/audits/.*`), identityYAML("audits as rebuilder", ghIssuer, "", `https://github\.com/audits/hello/.*`))
	res, err := evaluateDocs(context.Background(), DigestSet{"sha256": fileSHA.Encoded()}, docs, mustPolicy(t, y))
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified || !reasonsContain(res, "who is both reviewer audits and rebuilder audits as rebuilder: a review and a rebuild by one identity are not independent checks") {
		t.Errorf("one certificate in two roles:\n%s", res.Text())
	}
	res, err = evaluateDocs(context.Background(), DigestSet{"sha256": fileSHA.Encoded()}, docs, mustPolicy(t, "selfReview: allow\n"+y))
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified {
		t.Errorf("with selfReview: allow:\n%s", res.Text())
	}
	same := identityYAML("same", ghIssuer, reviewerWF, "")
	_, err = policyParse(fmt.Sprintf("version: 1\ntrustedRoot: %s\nreviewers:\n  threshold: 1\n  identities:\n%srebuilders:\n  threshold: 1\n  identities:\n%s",
		w.rootPath, same, strings.Replace(same, "name: same", "name: same again", 1)))
	if err == nil || !strings.Contains(err.Error(), `rebuilder "same again" is the same identity as reviewer "same"`) {
		t.Errorf("one identity in both roles: %v", err)
	}
}

// npmProvenance is a SLSA Provenance v1 statement shaped as npm publishes
// one from GitHub Actions: the package as subject by sha512, GitHub's
// workflow build type, the repository at a commit.
func npmProvenance(file []byte, commit string) []byte {
	sum := sha512.Sum512(file)
	return []byte(fmt.Sprintf(`{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"pkg:npm/hello@1.0.0","digest":{"sha512":"%s"}}],`+
		`"predicateType":"https://slsa.dev/provenance/v1","predicate":{"buildDefinition":{"buildType":"https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",`+
		`"externalParameters":{"workflow":{"ref":"refs/tags/v1.0","repository":"https://github.com/example/hello","path":".github/workflows/release.yml"}},`+
		`"internalParameters":{"github":{"event_name":"push","repository_id":"1","repository_owner_id":"2"}},`+
		`"resolvedDependencies":[{"uri":"git+https://github.com/example/hello@refs/tags/v1.0","digest":{"gitCommit":"%s"}}]},`+
		`"runDetails":{"builder":{"id":"https://github.com/actions/runner/github-hosted"},"metadata":{"invocationId":"https://github.com/example/hello/actions/runs/1/attempts/1"}}}}`,
		hex.EncodeToString(sum[:]), commit))
}

// TestBuilders: a builder's provenance of the file (npm's, made here with
// the test's Sigstore) is shown beside the rebuilders', and required when
// the policy says so.
func TestBuilders(t *testing.T) {
	fileSHA := digest.FromBytes(shippedBytes)
	sum := sha512.Sum512(shippedBytes)
	ds := DigestSet{"sha256": fileSHA.Encoded(), "sha512": hex.EncodeToString(sum[:])}
	k := loadTestKeys(t)
	tests := []struct {
		name       string
		required   bool
		provenance func(w *keylessWorld) []Document
		verified   bool
		builders   int
		want       string
	}{
		{name: "shown", provenance: func(w *keylessWorld) []Document { return w.npm(t, releaseWF, shippedBytes, testSource().GitCommit) },
			verified: true, builders: 1},
		{name: "required and given", required: true, provenance: func(w *keylessWorld) []Document { return w.npm(t, releaseWF, shippedBytes, testSource().GitCommit) },
			verified: true, builders: 1},
		{name: "required and missing", required: true, provenance: func(*keylessWorld) []Document { return nil },
			want: "no build provenance of " + fileSHA.String() + " signed by a trusted builder; the policy requires one"},
		{name: "required, and of another file", required: true, provenance: func(w *keylessWorld) []Document {
			return w.npm(t, releaseWF, []byte("another"), testSource().GitCommit)
		},
			want: "is a build provenance of another file (pkg:npm/hello@1.0.0"},
		{name: "required, and by another workflow", required: true, provenance: func(w *keylessWorld) []Document { return w.npm(t, workflowC, shippedBytes, testSource().GitCommit) },
			want: "the policy requires one"},
		{name: "built from another commit than was rebuilt", provenance: func(w *keylessWorld) []Document {
			return w.npm(t, releaseWF, shippedBytes, "1111111111111111111111111111111111111111")
		}, verified: true, builders: 1, want: "builder npm (GitHub Actions) built from commit 1111111111111111111111111111111111111111; the trusted rebuilders rebuilt commit " + testSource().GitCommit},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := newKeylessWorld(t)
			rdocs, reviews := keyReviews(t)
			docs := append(rdocs, chainOf(t, "a", k.signers["rebuilderA"], bare, fileSHA, reviews)...)
			docs = append(docs, tt.provenance(w)...)
			y := w.policy(t, 1, "  keys:\n    - name: A\n      key: "+k.pubPaths["rebuilderA"]+"\n",
				fmt.Sprintf("builders:\n  required: %v\n  identities:\n%s", tt.required, identityYAML("npm (GitHub Actions)", ghIssuer, releaseWF, "")))
			res, err := evaluateDocs(context.Background(), ds, docs, mustPolicy(t, y))
			if err != nil {
				t.Fatal(err)
			}
			if res.Verified != tt.verified || len(res.Builders) != tt.builders {
				t.Fatalf("verified = %v with %d builders, want %v with %d\n%s", res.Verified, len(res.Builders), tt.verified, tt.builders, res.Text())
			}
			if tt.want != "" && !reasonsContain(res, tt.want) {
				t.Errorf("no reason or note containing %q:\n%s", tt.want, res.Text())
			}
			if tt.builders == 0 {
				return
			}
			b := res.Builders[0]
			if b.Name != "npm (GitHub Actions)" || b.BuilderID != "https://github.com/actions/runner/github-hosted" || b.Identity == nil || b.Identity.Subject != releaseWF ||
				b.Source == nil || b.Source.URI != "git+https://github.com/example/hello@refs/tags/v1.0" || b.Invocation != "https://github.com/example/hello/actions/runs/1/attempts/1" {
				t.Errorf("builder %+v", b)
			}
			if !strings.Contains(res.Sentence(), ", and its builder's provenance by npm (GitHub Actions)") ||
				!strings.Contains(res.Text(), "  - npm (GitHub Actions): built by https://github.com/actions/runner/github-hosted from git+https://github.com/example/hello@refs/tags/v1.0") {
				t.Errorf("text:\n%s", res.Text())
			}
		})
	}
}

// npm is a keyless bundle of npmProvenance signed as subject.
func (w *keylessWorld) npm(t testing.TB, subject string, file []byte, commit string) []Document {
	t.Helper()
	g := w.signer(t, subject, ghIssuer, keylesstest.CertOptions{})
	b, err := w.s.Bundle(context.Background(), g, npmProvenance(file, commit), keylesstest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return SplitDocuments("hello-1.0.0.provenance.sigstore.json", b)
}

// TestBuildersNPM: the real npm provenance of sigstore@2.0.0, verified
// under Sigstore's public-good root (both from sigstore-go's test data;
// attest/keyless/testdata/npm/README.md says where they came from), is
// the builder's claim beside a rebuilder's summary of the same tarball.
// The tarball is named by its digests: the registry's sha512 (the
// provenance's subject) and its sha256.
func TestBuildersNPM(t *testing.T) {
	const (
		tgzSHA256 = "b30fd8960310982103abb4e2be9ab9051e61c7db02efc02c3e413d57f60c3268"
		tgzSHA512 = "46d4e2f74c4877316640000a6fdf8a8b59f1e0847667973e9859f774dd31b8f1e0937813b777fb66a2ac67d50540fe34640966eee9fc2ccca387082b4c85cd3c"
		workflow  = "https://github.com/sigstore/sigstore-js/.github/workflows/release.yml@refs/heads/main"
	)
	k := loadTestKeys(t)
	fileSHA := digest.NewDigestFromEncoded(digest.SHA256, tgzSHA256)
	bundle, err := os.ReadFile("keyless/testdata/npm/sigstore-2.0.0.provenance.sigstore.json")
	if err != nil {
		t.Fatal(err)
	}
	root, _ := filepath.Abs("keyless/testdata/npm/trusted_root.json")
	docs := append(chainOf(t, "a", k.signers["rebuilderA"], bare, fileSHA, nil), SplitDocuments("sigstore-2.0.0.provenance.sigstore.json", bundle)...)
	y := fmt.Sprintf("version: 1\ntrustedRoot: %s\nreviewers:\n  required: false\nrebuilders:\n  threshold: 1\n  keys:\n    - name: A\n      key: %s\n"+
		"builders:\n  required: true\n  identities:\n%s", root, k.pubPaths["rebuilderA"], identityYAML("sigstore-js release", "https://token.actions.githubusercontent.com", workflow, ""))
	res, err := Verify(context.Background(), &Target{Path: "sigstore-2.0.0.tgz", Digests: DigestSet{"sha256": tgzSHA256, "sha512": tgzSHA512}},
		docsOf(docs), mustPolicy(t, y), VerifyOptions{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified || len(res.Builders) != 1 {
		t.Fatalf("not verified with the npm provenance:\n%s", res.Text())
	}
	want := BuilderResult{Name: "sigstore-js release", Key: res.Builders[0].Key,
		Identity:  &IdentityRef{Issuer: "https://token.actions.githubusercontent.com", Subject: workflow},
		BuilderID: "https://github.com/actions/runner/github-hosted", BuildType: "https://slsa-framework.github.io/github-actions-buildtypes/workflow/v1",
		Source:      &BuildSource{URI: "git+https://github.com/sigstore/sigstore-js@refs/heads/main", Digest: map[string]string{"gitCommit": "f0b49a04e5a62250e0f60fb128004a73110fe311"}},
		Invocation:  "https://github.com/sigstore/sigstore-js/actions/runs/5904696764/attempts/1",
		Attestation: "sigstore-2.0.0.provenance.sigstore.json"}
	if diff := cmp.Diff(want, res.Builders[0]); diff != "" {
		t.Errorf("builder (-want +got):\n%s", diff)
	}
	// The test rebuild claims another commit (testSource's): said, not failed.
	if !reasonsContain(res, "builder sigstore-js release built from commit f0b49a04e5a62250e0f60fb128004a73110fe311; the trusted rebuilders rebuilt commit "+testSource().GitCommit) {
		t.Errorf("no note of the two commits:\n%s", res.Text())
	}
	// Another file (another sha512) is not what the provenance is about.
	res, err = Verify(context.Background(), &Target{Path: "sigstore-2.0.0.tgz", Digests: DigestSet{"sha256": tgzSHA256, "sha512": strings.Repeat("0", 128)}},
		docsOf(docs), mustPolicy(t, y), VerifyOptions{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified || len(res.Builders) != 0 || !reasonsContain(res, "the policy requires one") {
		t.Errorf("the provenance counted for another file:\n%s", res.Text())
	}
}
