package item

import (
	"context"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/centre/centretest/fixture"
	"github.com/reprove/reprove/compare/verdict"
)

var (
	alice = fixture.MustParty("alice")
	rebA  = fixture.MustParty("rebuilder-a")
	rebB  = fixture.MustParty("rebuilder-b")
	known = []Key{{Name: "alice", Role: Reviewer, Verifier: alice.Verifier},
		{Name: "rebuilder-a", Role: Rebuilder, Verifier: rebA.Verifier}, {Name: "rebuilder-b", Role: Rebuilder, Verifier: rebB.Verifier}}
	says = []fixture.Say{{Rebuilder: rebA}, {Rebuilder: rebB, Different: true}}
)

func TestCheckIndexes(t *testing.T) {
	ctx := context.Background()
	rel, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{alice}, says)
	if err != nil {
		t.Fatal(err)
	}
	payload := func(env []byte) digest.Digest {
		e, _ := envelope.Parse(env)
		return e.PayloadDigest()
	}
	review, err := CheckEnvelope(ctx, rel.Reviews[0], known)
	if err != nil {
		t.Fatal(err)
	}
	if review.Kind != Review || review.Subjects[0].Digest != fixture.Source("hello", "1.0").Archive || len(review.Cites) != 0 {
		t.Errorf("review: %+v", review)
	}
	rb, err := CheckEnvelope(ctx, rel.Rebuilds["rebuilder-b"], known)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]Name{{Name: "hello", Version: "1.0"}}, rb.Names); rb.Kind != Rebuild || diff != "" {
		t.Errorf("rebuild: %v %s", rb.Kind, diff)
	}
	// The VSA cites the rebuild, the comparison and the review; the
	// comparison cites the rebuild.
	sum, err := CheckEnvelope(ctx, rel.Summaries["rebuilder-b"], known)
	if err != nil {
		t.Fatal(err)
	}
	want := []digest.Digest{payload(rel.Rebuilds["rebuilder-b"]), payload(rel.Comparisons["rebuilder-b"]), payload(rel.Reviews[0])}
	slices.Sort(want)
	if diff := cmp.Diff(want, sum.Cites); sum.Kind != Summary || diff != "" {
		t.Errorf("summary %v cites (-want +got):\n%s", sum.Kind, diff)
	}
	if sum.Subjects[0].Digest != rel.Digest || sum.Signers[0] != "rebuilder-b" || sum.PayloadDigest != payload(rel.Summaries["rebuilder-b"]) {
		t.Errorf("summary: %+v", sum)
	}
	comp, err := CheckEnvelope(ctx, rel.Comparisons["rebuilder-b"], known)
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff([]digest.Digest{payload(rel.Rebuilds["rebuilder-b"])}, comp.Cites); comp.Kind != Comparison || diff != "" {
		t.Errorf("comparison %v cites (-want +got):\n%s", comp.Kind, diff)
	}
	d, err := Describe(sum.Leaf)
	if err != nil {
		t.Fatal(err)
	}
	if d.VSA == nil || d.VSA.Result != attest.ResultFailed || !strings.Contains(d.Line(), "verification summary by https://rebuilder-b.example/reprove: FAILED") {
		t.Errorf("described: %+v %q", d, d.Line())
	}
	d, err = Describe(comp.Leaf)
	if err != nil || d.Comparison == nil || d.Comparison.Verdict.String() != "different" || d.Comparison.CompareReport == nil || d.Line() != "comparison: different" {
		t.Errorf("described comparison: %+v %v", d, err)
	}
	d, _ = Describe(rb.Leaf)
	if in := d.Rebuild.Input(attest.RoleToolchain); in == nil || in.Name != "golang.org/toolchain@v0.0.1-go1.26.8.linux-amd64" {
		t.Errorf("toolchain: %+v", in)
	}
}

// TestV1Summary: reprove's earlier summary is still accepted; what it
// cites is its rebuild and reviews.
func TestV1Summary(t *testing.T) {
	ctx := context.Background()
	rel, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{alice}, says[:1])
	if err != nil {
		t.Fatal(err)
	}
	re, _ := envelope.Parse(rel.Rebuilds["rebuilder-a"])
	rref, _ := attest.RefOf(re, "")
	ve, _ := envelope.Parse(rel.Reviews[0])
	vref, _ := attest.RefOf(ve, "")
	st, err := attest.SummaryStatement(attest.Output{Name: "hello-1.0.tar", Digest: rel.Digest}, &attest.SummaryPredicate{
		Verifier: attest.Party{ID: "https://rebuilder-a.example/reprove"}, TimeVerified: fixture.Time.Add(48 * time.Hour),
		Verdict: verdict.Identical, Rebuilt: attest.Artifact{Digest: attest.DigestSet{"sha256": rel.Digest.Encoded()}},
		Rebuild: rref, Reviews: []attest.AttestationRef{vref},
	})
	if err != nil {
		t.Fatal(err)
	}
	env, err := envelope.Sign(ctx, st, rebA.Signer)
	if err != nil {
		t.Fatal(err)
	}
	it, err := CheckEnvelope(ctx, env, known)
	if err != nil {
		t.Fatal(err)
	}
	want := []digest.Digest{re.PayloadDigest(), ve.PayloadDigest()}
	slices.Sort(want)
	if diff := cmp.Diff(want, it.Cites); it.Kind != Summary || diff != "" {
		t.Errorf("v1 summary %v cites (-want +got):\n%s", it.Kind, diff)
	}
	// A VSA that does not read as reprove's is refused.
	vsa := `{"_type":"https://in-toto.io/Statement/v1","subject":[{"name":"hello","digest":{"sha256":"` + rel.Digest.Encoded() + `"}}],` +
		`"predicateType":"https://slsa.dev/verification_summary/v1","predicate":{"verifier":{"id":"https://rebuilder-a.example"},` +
		`"timeVerified":"2026-11-10T09:00:00Z","resourceUri":"https://example.com/hello","policy":{"uri":"https://example.com/policy"},` +
		`"inputAttestations":[{"digest":{"sha256":"` + re.PayloadDigest().Encoded() + `"}}],"verificationResult":"MAYBE"}}`
	env, _ = envelope.Sign(ctx, []byte(vsa), rebA.Signer)
	var ie *Error
	if _, err := CheckEnvelope(ctx, env, known); !errors.As(err, &ie) || ie.Code != CodeBadPredicate {
		t.Errorf("a foreign VSA: %v", err)
	}
}

func TestRefusals(t *testing.T) {
	ctx := context.Background()
	rel, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{alice}, says[:1])
	if err != nil {
		t.Fatal(err)
	}
	byRebuilder, _ := fixture.Review(ctx, rebA, "hello", "1.0", "x")
	tests := []struct {
		name  string
		env   []byte
		known []Key
		code  Code
	}{
		{"no keys", rel.Reviews[0], nil, CodeUnknownKey},
		{"a review by a rebuilder key", byRebuilder, known, CodeWrongRole},
		{"a rebuild by a reviewer key", rel.Rebuilds["rebuilder-a"], []Key{{Name: "a", Role: Reviewer, Verifier: rebA.Verifier}}, CodeWrongRole},
		{"not JSON", []byte("nope"), known, CodeMalformed},
	}
	for _, tt := range tests {
		_, err := CheckEnvelope(ctx, tt.env, tt.known)
		var ie *Error
		if !errors.As(err, &ie) || ie.Code != tt.code {
			t.Errorf("%s: %v, want code %s", tt.name, err, tt.code)
		}
	}
}

func TestCompareReport(t *testing.T) {
	ctx := context.Background()
	rel, err := fixture.MakeRelease(ctx, "hello", "1.0", []*fixture.Party{alice}, says)
	if err != nil {
		t.Fatal(err)
	}
	it, rep, err := CheckCompareReport(rel.Reports["rebuilder-b"])
	if err != nil {
		t.Fatal(err)
	}
	if it.Kind != CompareReport || rep.Shipped.Digest != rel.Digest || len(it.Subjects) != 2 {
		t.Errorf("compare report: %+v", it)
	}
	d, err := Describe(it.Leaf)
	if err != nil || d.CompareReport != digest.FromBytes(rel.Reports["rebuilder-b"]) {
		t.Errorf("described: %+v %v", d, err)
	}
	for _, bad := range []string{`{}`, `{"schemaVersion":2}`, strings.Replace(string(rel.Reports["rebuilder-b"]), `"verdict"`, `"verdikt"`, 1)} {
		if _, _, err := CheckCompareReport([]byte(bad)); err == nil {
			t.Errorf("accepted %.60q", bad)
		}
	}
}

func FuzzDescribe(f *testing.F) {
	rel, err := fixture.MakeRelease(context.Background(), "hello", "1.0", []*fixture.Party{alice}, says[:1])
	if err != nil {
		f.Fatal(err)
	}
	for _, e := range rel.All(says[:1]) {
		it, err := CheckEnvelope(context.Background(), e, known)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(it.Leaf)
	}
	f.Add([]byte(`{"compareReport":"sha256:` + strings.Repeat("0", 64) + `"}`))
	f.Fuzz(func(t *testing.T, leaf []byte) {
		d, err := Describe(leaf)
		if err != nil {
			return
		}
		_ = d.Line()
	})
}

func FuzzCheckCompareReport(f *testing.F) {
	rel, err := fixture.MakeRelease(context.Background(), "hello", "1.0", []*fixture.Party{alice}, says)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(rel.Reports["rebuilder-a"])
	f.Add(rel.Reports["rebuilder-b"])
	f.Fuzz(func(t *testing.T, b []byte) {
		it, rep, err := CheckCompareReport(b)
		if err != nil {
			return
		}
		if it.PayloadDigest != digest.FromBytes(b) || rep == nil || len(it.Subjects) == 0 {
			t.Fatalf("accepted a report without its digest or subjects: %+v", it)
		}
	})
}

// Reviews of git checkouts and Go modules carry no plain sha256 subject;
// the centre indexes them by the tree digest or the module's h1: hash.
func TestSourceDigest(t *testing.T) {
	tree := digest.FromString("tree listing")
	h1 := digest.FromString("hash listing")
	h1b64 := "h1:" + base64.StdEncoding.EncodeToString(mustHex(t, h1.Encoded()))
	tests := []struct {
		name string
		set  attest.DigestSet
		want digest.Digest
	}{
		{"git checkout", attest.DigestSet{"gitCommit": strings.Repeat("ab", 20), attest.KeyReproveTree: tree.Encoded()}, tree},
		{"go module", attest.DigestSet{attest.KeyDirHash: h1.Encoded()}, h1},
		{"go module, as reprove wrote it before in-toto's name", attest.DigestSet{attest.KeyGoModuleH1: h1b64}, h1},
		{"go module, in-toto v0.1's goModuleH1", attest.DigestSet{attest.KeyGoModuleH1: h1.Encoded()}, h1},
		{"archive: the sha256 entry is the subject already", attest.DigestSet{"sha256": tree.Encoded(), attest.KeyReproveTree: tree.Encoded()}, ""},
		{"sha1 commit alone", attest.DigestSet{"gitCommit": strings.Repeat("ab", 20)}, ""},
		{"bad tree", attest.DigestSet{attest.KeyReproveTree: "xyz"}, ""},
		{"h1 of the wrong size", attest.DigestSet{attest.KeyGoModuleH1: "h1:AAAA"}, ""},
		{"h1 without its prefix", attest.DigestSet{attest.KeyGoModuleH1: strings.TrimPrefix(h1b64, "h1:")}, ""},
	}
	for _, tc := range tests {
		if got := sourceDigest(tc.set); got != tc.want {
			t.Errorf("%s: got %q, want %q", tc.name, got, tc.want)
		}
	}
}

func mustHex(t *testing.T, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
