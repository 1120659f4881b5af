package attest

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/opencontainers/go-digest"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	sgroot "github.com/sigstore/sigstore-go/pkg/root"
	sgverify "github.com/sigstore/sigstore-go/pkg/verify"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/sigbundle"
	"github.com/reprove/reprove/attest/signing"
	"github.com/reprove/reprove/compare/verdict"
)

// The cosign CLI these tests run: ci/setup.sh --test installs this version at
// /usr/local/bin/cosign.
const cosignVersion = "v2.6.5"

// cosignCLI finds the cosign binary. Under -short the interop tests skip;
// otherwise a missing cosign fails them (CI installs it).
func cosignCLI(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("interop with the cosign CLI needs the cosign binary (ci/setup.sh --test)")
	}
	for _, p := range []string{"/usr/local/bin/cosign"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	p, err := exec.LookPath("cosign")
	if err != nil {
		t.Fatalf("cosign %s is not installed: run bash ci/setup.sh --test", cosignVersion)
	}
	return p
}

// runCosign runs the cosign CLI offline with a private HOME, and returns
// its combined output.
func runCosign(t *testing.T, cosign, dir string, wantOK bool, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, cosign, args...)
	cmd.Dir = dir
	cmd.Env = []string{"HOME=" + filepath.Join(dir, ".home"), "PATH=/usr/bin:/bin", "COSIGN_PASSWORD=test", "COSIGN_YES=true"}
	out, err := cmd.CombinedOutput()
	if wantOK && err != nil {
		t.Fatalf("cosign %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	if !wantOK && err == nil {
		t.Fatalf("cosign %s succeeded, want a failure\n%s", strings.Join(args, " "), out)
	}
	return string(out)
}

// TestCosignVerifiesReproveAttestations: `cosign verify-blob-attestation`
// with offline flags accepts the review, rebuild and summary attestations
// reprove signs, checks the subject against the file, and refuses a
// tampered one.
func TestCosignVerifiesReproveAttestations(t *testing.T) {
	cosign := cosignCLI(t)
	f := newFixture(t, identicalA)
	dir := f.dir
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	write("summary.json", f.envs["summary-rebuilderA"])
	write("rebuild.json", f.envs["rebuild-rebuilderA"])
	write("review.json", f.envs["review-reviewer1"])
	other := write("other", []byte("not the shipped file\n"))
	verify := func(wantOK bool, key, typ, sig string, extra ...string) string {
		args := append([]string{"verify-blob-attestation", "--key", f.k.pubPaths[key], "--type", typ, "--signature", sig,
			"--insecure-ignore-tlog", "--offline"}, extra...)
		return runCosign(t, cosign, dir, wantOK, args...)
	}
	out := verify(true, "rebuilderA", SummaryPredicateType, "summary.json", f.file)
	if !strings.Contains(out, "Verified OK") {
		t.Errorf("summary: cosign said:\n%s", out)
	}
	// The rebuild's subject is the rebuilt output, byte-identical to the file.
	verify(true, "rebuilderA", "slsaprovenance1", "rebuild.json", f.file)
	// A review's subject is source, not a file: check the signature and type.
	verify(true, "reviewer1", ReviewPredicateType, "review.json", "--check-claims=false")

	// Refusals: another file, another key, another type, a tampered payload.
	verify(false, "rebuilderA", SummaryPredicateType, "summary.json", other)
	verify(false, "rebuilderB", SummaryPredicateType, "summary.json", f.file)
	verify(false, "rebuilderA", ReviewPredicateType, "summary.json", f.file)
	var w map[string]any
	json.Unmarshal(f.envs["summary-rebuilderA"], &w)
	w["payload"] = strings.Replace(w["payload"].(string), "A", "B", 1)
	tampered, _ := json.Marshal(w)
	write("tampered.json", tampered)
	verify(false, "rebuilderA", SummaryPredicateType, "tampered.json", f.file)
}

// TestReproveVerifiesCosignAttestations: attestations made by
// `cosign attest-blob` (in-toto Statement v0.1) with keys from
// `cosign generate-key-pair` verify under reprove, and the chain closes over
// the payloads cosign wrote.
func TestReproveVerifiesCosignAttestations(t *testing.T) {
	cosign := cosignCLI(t)
	ctx := context.Background()
	dir := t.TempDir()
	runCosign(t, cosign, dir, true, "generate-key-pair", "--output-key-prefix", "auditor")
	runCosign(t, cosign, dir, true, "generate-key-pair", "--output-key-prefix", "builder")

	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	predicateOf := func(stmt []byte) []byte {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(stmt, &m); err != nil {
			t.Fatal(err)
		}
		return m["predicate"]
	}
	attestBlob := func(key, typ, predicate, blob, out string) *envelope.Envelope {
		runCosign(t, cosign, dir, true, "attest-blob", "--key", key+".key", "--type", typ, "--predicate", predicate,
			"--tlog-upload=false", "--output-signature", out, blob)
		b, err := os.ReadFile(filepath.Join(dir, out))
		if err != nil {
			t.Fatal(err)
		}
		e, err := envelope.Parse(b)
		if err != nil {
			t.Fatalf("reprove cannot parse cosign's envelope: %v", err)
		}
		st, err := ParseStatement(e.Payload)
		if err != nil {
			t.Fatalf("reprove cannot parse cosign's statement: %v", err)
		}
		if st.Type != StatementV01 {
			t.Logf("cosign wrote statement type %s", st.Type)
		}
		return e
	}

	// The source archive, reviewed; its review signed by cosign.
	archive := write("hello-1.0.tar", []byte("the reviewed source\n"))
	archiveDigest := digest.FromBytes([]byte("the reviewed source\n"))
	rp := testReview("auditor")
	rp.Source = Source{URI: "https://example.com/hello-1.0.tar", Archive: archiveDigest}
	rst, err := ReviewStatement(rp)
	if err != nil {
		t.Fatal(err)
	}
	write("review.pred.json", predicateOf(rst))
	reviewEnv := attestBlob("auditor", ReviewPredicateType, "review.pred.json", archive, "review.json")

	// The rebuild, whose output is the shipped file.
	shipped := write("hello", shippedBytes)
	rb := testRebuild("builder", shippedBytes)
	rb.Source = rp.Source
	bst, err := RebuildStatement(rb)
	if err != nil {
		t.Fatal(err)
	}
	write("rebuild.pred.json", predicateOf(bst))
	rebuildEnv := attestBlob("builder", ProvenancePredicateType, "rebuild.pred.json", shipped, "rebuild.json")

	// The summary, pointing at the payloads cosign signed.
	rref, _ := RefOf(rebuildEnv, "")
	vref, _ := RefOf(reviewEnv, "")
	sp := &SummaryPredicate{
		Verifier: Party{ID: "https://builder.example"}, TimeVerified: rebuildStart, Verdict: verdict.Identical,
		Rebuilt: Artifact{Name: "hello", Digest: setOf(digest.FromBytes(shippedBytes))},
		Rebuild: rref, Reviews: []AttestationRef{vref},
	}
	sst, err := SummaryStatement(Output{Name: "hello", Digest: digest.FromBytes(shippedBytes)}, sp)
	if err != nil {
		t.Fatal(err)
	}
	write("summary.pred.json", predicateOf(sst))
	attestBlob("builder", SummaryPredicateType, "summary.pred.json", shipped, "summary.json")

	pol := mustPolicy(t, "version: 1\nreviewers:\n  threshold: 1\n  keys:\n    - name: Auditor\n      key: "+filepath.Join(dir, "auditor.pub")+
		"\nrebuilders:\n  threshold: 1\n  keys:\n    - name: Builder\n      key: "+filepath.Join(dir, "builder.pub")+"\n")
	atts := []string{filepath.Join(dir, "review.json"), filepath.Join(dir, "rebuild.json"), filepath.Join(dir, "summary.json")}
	res, err := verifyFiles(ctx, shipped, atts, pol, VerifyOptions{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified {
		t.Fatalf("cosign-made attestations not verified:\n%s", res.Text())
	}
	t.Log(res.Sentence())

	// cosign's --bundle format (base64Signature holding the envelope) reads too.
	runCosign(t, cosign, dir, true, "attest-blob", "--key", "builder.key", "--type", SummaryPredicateType, "--predicate", "summary.pred.json",
		"--tlog-upload=false", "--bundle", "summary.bundle", "--output-signature", "summary2.json", shipped)
	res, err = verifyFiles(ctx, shipped, []string{atts[0], atts[1], filepath.Join(dir, "summary.bundle")}, pol, VerifyOptions{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if !res.Verified {
		t.Fatalf("cosign bundle not verified:\n%s", res.Text())
	}

	// And the same attestations do not verify another file.
	other := write("other", []byte("other\n"))
	res, err = verifyFiles(ctx, other, atts, pol, VerifyOptions{Now: func() time.Time { return testNow }})
	if err != nil {
		t.Fatal(err)
	}
	if res.Verified {
		t.Fatal("cosign-made attestations verified another file")
	}

	// cosign's keys sign with reprove too, and reprove's keys with cosign.
	s, err := signing.Load(ctx, filepath.Join(dir, "builder.key"), []byte("test"))
	if err != nil {
		t.Fatalf("reprove cannot load cosign's key: %v", err)
	}
	if _, err := envelope.Sign(ctx, sst, s); err != nil {
		t.Fatal(err)
	}
	pair, err := signing.Generate([]byte("test"))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := signing.WritePair(ctx, pair, filepath.Join(dir, "reprove"), false); err != nil {
		t.Fatal(err)
	}
	runCosign(t, cosign, dir, true, "sign-blob", "--key", "reprove.key", "--tlog-upload=false", "--output-signature", "blob.sig", "hello")
	out := runCosign(t, cosign, dir, true, "verify-blob", "--key", "reprove.pub", "--signature", "blob.sig", "--insecure-ignore-tlog", "--offline", "hello")
	if !strings.Contains(out, "Verified OK") {
		t.Errorf("cosign verify-blob with reprove's key said:\n%s", out)
	}
	// The same blob signature checks out under reprove's verifier.
	sig, _ := os.ReadFile(filepath.Join(dir, "blob.sig"))
	v, err := loadVerifier(filepath.Join(dir, "reprove.pub"))
	if err != nil {
		t.Fatal(err)
	}
	raw, err := decodeB64(bytes.TrimSpace(sig))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify(shippedBytes, raw); err != nil {
		t.Errorf("reprove does not verify cosign's signature made with reprove's key: %v", err)
	}
}

func decodeB64(b []byte) ([]byte, error) {
	return base64.StdEncoding.DecodeString(string(b))
}

// The cosign v3 CLI these tests run (ci/setup.sh --test installs it).
const cosignV3Path = "/usr/local/bin/cosign-v3"

func cosignV3(t *testing.T) string {
	t.Helper()
	if testing.Short() {
		t.Skip("interop with the cosign v3 CLI needs the cosign-v3 binary (ci/setup.sh --test)")
	}
	if _, err := os.Stat(cosignV3Path); err != nil {
		t.Fatalf("cosign v3 is not installed at %s: run bash ci/setup.sh --test", cosignV3Path)
	}
	return cosignV3Path
}

// TestCosignVerifiesReproveBundles runs the README's commands: reprove's
// Sigstore bundles (review, rebuild, comparison, VSA) verify with cosign v3
// as they are, and with cosign v2.6.5 given --new-bundle-format and an empty
// trusted root; the bare envelopes verify with both; another file, another
// key or another type is refused.
func TestCosignVerifiesReproveBundles(t *testing.T) {
	v3, v2 := cosignV3(t), cosignCLI(t)
	fixtureVSA = true
	f := newFixture(t, identicalA)
	fixtureVSA = false
	dir := f.dir
	signer := map[string]string{"review-reviewer1": "reviewer1", "review-reviewer2": "reviewer2"}
	for _, n := range f.order {
		e, _ := envelope.Parse(f.envs[n])
		key := signer[n]
		if key == "" {
			key = "rebuilderA"
		}
		b, err := sigbundle.Marshal(e, f.k.signers[key].Fingerprint)
		if err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(dir, n+".sigstore.json"), b, 0o644)
		os.WriteFile(filepath.Join(dir, n+".intoto.json"), f.envs[n], 0o644)
	}
	os.WriteFile(filepath.Join(dir, "trusted-root.json"), []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644)
	os.WriteFile(filepath.Join(dir, "other"), []byte("not the shipped file\n"), 0o644)
	pub := func(k string) string { return f.k.pubPaths[k] }
	cases := []struct {
		file, key, typ string
		extra          []string
	}{
		{"summary-rebuilderA", "rebuilderA", VSAPredicateType, []string{"hello"}},
		{"comparison-rebuilderA", "rebuilderA", ComparisonPredicateType, []string{"hello"}},
		{"rebuild-rebuilderA", "rebuilderA", "slsaprovenance1", []string{"hello"}},
		{"review-reviewer1", "reviewer1", ReviewPredicateType, []string{"--check-claims=false"}},
	}
	for _, c := range cases {
		// README: cosign (v3) verify-blob-attestation --bundle ….sigstore.json --key … --type … --insecure-ignore-tlog FILE
		out := runCosign(t, v3, dir, true, append([]string{"verify-blob-attestation", "--bundle", c.file + ".sigstore.json", "--key", pub(c.key),
			"--type", c.typ, "--insecure-ignore-tlog"}, c.extra...)...)
		if !strings.Contains(out, "Verified OK") {
			t.Errorf("cosign v3, %s: %s", c.file, out)
		}
		// README: cosign v2: add --new-bundle-format --trusted-root trusted-root.json
		runCosign(t, v2, dir, true, append([]string{"verify-blob-attestation", "--new-bundle-format", "--trusted-root", "trusted-root.json",
			"--bundle", c.file + ".sigstore.json", "--key", pub(c.key), "--type", c.typ, "--insecure-ignore-tlog"}, c.extra...)...)
		// README: the bare envelope: --signature ….intoto.json, with either version.
		for _, cli := range []string{v2, v3} {
			runCosign(t, cli, dir, true, append([]string{"verify-blob-attestation", "--signature", c.file + ".intoto.json", "--key", pub(c.key),
				"--type", c.typ, "--insecure-ignore-tlog", "--offline"}, c.extra...)...)
		}
	}
	// Refusals by cosign v3: another file, another key, another type.
	runCosign(t, v3, dir, false, "verify-blob-attestation", "--bundle", "summary-rebuilderA.sigstore.json", "--key", pub("rebuilderA"), "--type", VSAPredicateType, "--insecure-ignore-tlog", "other")
	runCosign(t, v3, dir, false, "verify-blob-attestation", "--bundle", "summary-rebuilderA.sigstore.json", "--key", pub("rebuilderB"), "--type", VSAPredicateType, "--insecure-ignore-tlog", "hello")
	runCosign(t, v3, dir, false, "verify-blob-attestation", "--bundle", "summary-rebuilderA.sigstore.json", "--key", pub("rebuilderA"), "--type", ReviewPredicateType, "--insecure-ignore-tlog", "hello")
	// And reprove verifies the same bundles.
	var atts []string
	for _, n := range f.order {
		atts = append(atts, filepath.Join(dir, n+".sigstore.json"))
	}
	res, err := verifyFiles(context.Background(), f.file, atts, mustPolicy(t, f.policyYAML(1, 1, "")), VerifyOptions{Now: func() time.Time { return testNow }})
	if err != nil || !res.Verified {
		t.Fatalf("reprove on its own bundles: %v\n%s", err, res.Text())
	}
}

// TestReproveVerifiesCosignV3Bundles: the whole chain signed by cosign v3
// (`cosign attest-blob --bundle` with a signing config without a log, the
// README's command), in Sigstore bundles, verifies under reprove.
func TestReproveVerifiesCosignV3Bundles(t *testing.T) {
	v3 := cosignV3(t)
	ctx := context.Background()
	dir := t.TempDir()
	runCosign(t, v3, dir, true, "generate-key-pair", "--output-key-prefix", "auditor")
	runCosign(t, v3, dir, true, "generate-key-pair", "--output-key-prefix", "builder")
	runCosign(t, v3, dir, true, "signing-config", "create", "--out", "signing-config.json")
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	predicateOf := func(stmt []byte) []byte {
		var m map[string]json.RawMessage
		json.Unmarshal(stmt, &m)
		return m["predicate"]
	}
	attest := func(key, typ string, stmt []byte, blob, out string) *envelope.Envelope {
		write(out+".pred.json", predicateOf(stmt))
		runCosign(t, v3, dir, true, "attest-blob", "--key", key+".key", "--type", typ, "--predicate", out+".pred.json",
			"--signing-config", "signing-config.json", "--bundle", out, blob)
		docs := SplitDocuments(out, mustRead(t, filepath.Join(dir, out)))
		if len(docs) != 1 || docs[0].Err != nil {
			t.Fatalf("reprove cannot read cosign v3's bundle %s: %v", out, docs[0].Err)
		}
		return docs[0].Envelope
	}
	archive := write("hello-1.0.tar", []byte("the reviewed source\n"))
	rp := testReview("auditor")
	rp.Source = Source{URI: "https://example.com/hello-1.0.tar", Archive: digest.FromBytes([]byte("the reviewed source\n"))}
	rst, _ := ReviewStatement(rp)
	review := attest("auditor", ReviewPredicateType, rst, archive, "review.sigstore.json")
	shipped := write("hello", shippedBytes)
	rb := testRebuild("builder", shippedBytes)
	rb.Source = rp.Source
	bst, _ := RebuildStatement(rb)
	rebuild := attest("builder", ProvenancePredicateType, bst, shipped, "rebuild.sigstore.json")
	sum, err := Summarize(SummaryInput{
		Shipped: Output{Name: "hello", Digest: digest.FromBytes(shippedBytes)}, Verdict: verdict.Identical, Rebuilt: digest.FromBytes(shippedBytes),
		Rebuild: rebuild, Reviews: []*envelope.Envelope{review}, Time: rebuildStart.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	comparison := attest("builder", ComparisonPredicateType, sum.Comparison, shipped, "comparison.sigstore.json")
	// The VSA cites the payload cosign signed, not the statement we built.
	vsaStmt := strings.Replace(string(sum.VSA), digest.FromBytes(sum.Comparison).Encoded(), comparison.PayloadDigest().Encoded(), 1)
	attest("builder", VSAPredicateType, []byte(vsaStmt), shipped, "vsa.sigstore.json")

	pol := mustPolicy(t, "version: 1\nreviewers:\n  threshold: 1\n  keys:\n    - name: Auditor\n      key: "+filepath.Join(dir, "auditor.pub")+
		"\nrebuilders:\n  threshold: 1\n  keys:\n    - name: Builder\n      key: "+filepath.Join(dir, "builder.pub")+"\n")
	var atts []string
	for _, n := range []string{"review", "rebuild", "comparison", "vsa"} {
		atts = append(atts, filepath.Join(dir, n+".sigstore.json"))
	}
	res, err := verifyFiles(ctx, shipped, atts, pol, VerifyOptions{Now: func() time.Time { return testNow }})
	if err != nil || !res.Verified {
		t.Fatalf("cosign v3 bundles not verified: %v\n%s", err, res.Text())
	}
	t.Log(res.Sentence())
	other := write("other", []byte("other\n"))
	if res, _ := verifyFiles(ctx, other, atts, pol, VerifyOptions{Now: func() time.Time { return testNow }}); res.Verified {
		t.Fatal("cosign v3 bundles verified another file")
	}
}

func mustRead(t *testing.T, p string) []byte {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// TestCoSignedBundles (issue 18): a co-signed review is one bundle per
// signer, each of which cosign v3, cosign v2 and sigstore-go verify with
// that signer's key; verify counts both reviewers over the two bundles. A
// bundle carrying both signatures, as reprove wrote them before, is
// refused by cosign v2, cosign v3 and reprove alike.
func TestCoSignedBundles(t *testing.T) {
	v3, v2 := cosignV3(t), cosignCLI(t)
	ctx := context.Background()
	f := newFixture(t, identicalA)
	f.drop("review-reviewer2") // reviewer2 co-signs reviewer1's review instead
	f.resummarize(t)
	dir := f.dir
	first, _ := envelope.Parse(f.envs["review-reviewer1"])
	second, err := CoSign(ctx, first, f.k.signers["reviewer2"])
	if err != nil {
		t.Fatal(err)
	}
	if _, err := CoSign(ctx, first, f.k.signers["reviewer1"]); !errorsAs[*AlreadySignedError](err) {
		t.Errorf("reviewer1 co-signed its own review: %v", err)
	}
	e2, err := envelope.Parse(second)
	if err != nil {
		t.Fatal(err)
	}
	if e2.PayloadDigest() != first.PayloadDigest() || len(e2.Signatures) != 1 {
		t.Fatalf("the co-signature is not one signature over the same statement: %d signatures", len(e2.Signatures))
	}
	for _, b := range []struct{ name, key string }{{"review.sigstore.json", "reviewer1"}, {"review.reviewer2.sigstore.json", "reviewer2"}} {
		env := f.envs["review-reviewer1"]
		if b.key == "reviewer2" {
			env = second
		}
		if err := WriteSigned(ctx, filepath.Join(dir, b.name), env, f.k.signers[b.key]); err != nil {
			t.Fatal(err)
		}
	}
	os.WriteFile(filepath.Join(dir, "trusted-root.json"), []byte(`{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`), 0o644)
	src := filepath.Join(dir, "source-as-blob")
	os.WriteFile(src, []byte("the review's subject is a source tree; --check-claims=false\n"), 0o644)
	for _, b := range []struct{ file, key string }{{"review.sigstore.json", "reviewer1"}, {"review.reviewer2.sigstore.json", "reviewer2"}} {
		args := []string{"verify-blob-attestation", "--bundle", b.file, "--key", f.k.pubPaths[b.key], "--type", ReviewPredicateType,
			"--insecure-ignore-tlog", "--check-claims=false", src}
		if out := runCosign(t, v3, dir, true, args...); !strings.Contains(out, "Verified OK") {
			t.Errorf("cosign v3, %s: %s", b.file, out)
		}
		runCosign(t, v2, dir, true, append([]string{args[0], "--new-bundle-format", "--trusted-root", "trusted-root.json"}, args[1:]...)...)
		// The other reviewer's key does not verify it.
		other := map[string]string{"reviewer1": "reviewer2", "reviewer2": "reviewer1"}[b.key]
		runCosign(t, v3, dir, false, "verify-blob-attestation", "--bundle", b.file, "--key", f.k.pubPaths[other], "--type", ReviewPredicateType,
			"--insecure-ignore-tlog", "--check-claims=false", src)
		if err := sigstoreGoVerifies(filepath.Join(dir, b.file), f.k.pubs[b.key]); err != nil {
			t.Errorf("sigstore-go, %s: %v", b.file, err)
		}
	}

	// verify counts both reviewers, over the two bundles of one statement.
	var atts []string
	for _, n := range f.order {
		if !strings.HasPrefix(n, "review-") {
			p := filepath.Join(dir, n+".intoto.json")
			os.WriteFile(p, f.envs[n], 0o644)
			atts = append(atts, p)
		}
	}
	atts = append(atts, filepath.Join(dir, "review.sigstore.json"), filepath.Join(dir, "review.reviewer2.sigstore.json"))
	res, err := verifyFiles(ctx, f.file, atts, mustPolicy(t, f.policyYAML(2, 1, "")), VerifyOptions{Now: func() time.Time { return testNow }})
	if err != nil || !res.Verified || len(res.Reviewers) != 2 {
		t.Fatalf("the co-signed review does not count two reviewers: %v\n%s", err, res.Text())
	}

	// One bundle with both signatures: refused by everyone.
	two, err := addSignature(ctx, first, f.k.signers["reviewer2"])
	if err != nil {
		t.Fatal(err)
	}
	var b map[string]any
	one, _ := os.ReadFile(filepath.Join(dir, "review.sigstore.json"))
	json.Unmarshal(one, &b)
	e2sig, _ := envelope.Parse(two)
	sigs := []any{}
	for _, s := range e2sig.Signatures {
		sigs = append(sigs, map[string]any{"sig": base64.StdEncoding.EncodeToString(s.Sig)})
	}
	b["dsseEnvelope"].(map[string]any)["signatures"] = sigs
	both, _ := json.Marshal(b)
	os.WriteFile(filepath.Join(dir, "both.sigstore.json"), both, 0o644)
	for _, cli := range []string{v3, v2} {
		args := []string{"verify-blob-attestation", "--bundle", "both.sigstore.json", "--key", f.k.pubPaths["reviewer1"], "--type", ReviewPredicateType,
			"--insecure-ignore-tlog", "--check-claims=false", src}
		if cli == v2 {
			args = append([]string{args[0], "--new-bundle-format", "--trusted-root", "trusted-root.json"}, args[1:]...)
		}
		if out := runCosign(t, cli, dir, false, args...); !strings.Contains(out, "exactly one signature") {
			t.Errorf("%s refuses a two-signature bundle, but not for its signature count:\n%s", cli, out)
		}
	}
	if err := sigstoreGoVerifies(filepath.Join(dir, "both.sigstore.json"), f.k.pubs["reviewer1"]); err == nil {
		t.Error("sigstore-go verified a two-signature bundle")
	}
	docs := SplitDocuments("both.sigstore.json", both)
	if len(docs) != 1 || !errors.Is(docs[0].Err, sigbundle.ErrSignatures) {
		t.Errorf("reprove read a two-signature bundle: %+v", docs)
	}
	res, err = verifyFiles(ctx, f.file, append(atts[:len(atts)-2:len(atts)-2], filepath.Join(dir, "both.sigstore.json")), mustPolicy(t, f.policyYAML(1, 1, "")), VerifyOptions{Now: func() time.Time { return testNow }})
	if err != nil || res.Verified {
		t.Fatalf("verified with a two-signature bundle: %v\n%s", err, res.Text())
	}
	refused(t, res, "exactly one signature")
}

func errorsAs[T error](err error) bool {
	var target T
	return errors.As(err, &target)
}

// sigstoreGoVerifies verifies a Sigstore bundle with sigstore-go (tests
// only: the verifier does not import it) under a public key, offline, as
// `cosign verify-blob-attestation --key` does for a key-signed bundle.
func sigstoreGoVerifies(path string, pubPEM []byte) error {
	b, err := sgbundle.LoadJSONFromPath(path)
	if err != nil {
		return err
	}
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(pubPEM)
	if err != nil {
		return err
	}
	v, err := signature.LoadDefaultVerifier(pub)
	if err != nil {
		return err
	}
	key := sgroot.NewExpiringKey(v, time.Time{}, time.Time{})
	sv, err := sgverify.NewVerifier(sgroot.NewTrustedPublicKeyMaterial(func(string) (sgroot.TimeConstrainedVerifier, error) {
		return key, nil
	}), sgverify.WithNoObserverTimestamps())
	if err != nil {
		return err
	}
	_, err = sv.Verify(b, sgverify.NewPolicy(sgverify.WithoutArtifactUnsafe(), sgverify.WithKey()))
	return err
}
