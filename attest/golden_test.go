package attest

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	vsapb "github.com/in-toto/attestation/go/predicates/vsa/v1"
	"github.com/opencontainers/go-digest"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/compare/verdict"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/golden")

// checkGolden compares got (a statement payload) with testdata/golden/name,
// stored indented for review; -update rewrites it.
func checkGolden(t *testing.T, name string, got []byte) {
	t.Helper()
	var ind bytes.Buffer
	if err := json.Indent(&ind, got, "", "  "); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	ind.WriteByte('\n')
	path := filepath.Join("testdata", "golden", name)
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, ind.Bytes(), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test -update to create it)", err)
	}
	if diff := cmp.Diff(string(want), ind.String()); diff != "" {
		t.Errorf("%s (-want +got):\n%s", name, diff)
	}
}

func TestGoldenStatements(t *testing.T) {
	review, err := ReviewStatement(testReview("reviewer1"))
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "review.json", review)

	rebuild, err := RebuildStatement(testRebuild("rebuilderA", shippedBytes))
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "rebuild.json", rebuild)

	summary, err := SummaryStatement(Output{Name: "hello", Digest: digest.FromBytes(shippedBytes)}, &SummaryPredicate{
		Verifier:     Party{ID: "https://rebuilderA.example/reprove", Name: "A"},
		TimeVerified: rebuildStart.Add(time.Hour),
		Verdict:      verdict.Equivalent,
		Normalizers:  []string{"archive-mtime", "gzip-header", "archive-mtime"},
		Rebuilt:      Artifact{Name: "hello", Digest: setOf(digest.FromString("rebuilt"))},
		Rebuild:      AttestationRef{PredicateType: ProvenancePredicateType, Digest: setOf(digest.FromBytes(rebuild))},
		Reviews:      []AttestationRef{{PredicateType: ReviewPredicateType, Digest: setOf(digest.FromBytes(review)), URI: "https://audits.example/hello.review.json"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "summary.json", summary)

	// What reprove writes now: a SLSA VSA and its comparison.
	f := newFixture(t)
	review1, _ := envelope.Parse(f.envs["review-reviewer1"])
	rbEnv, err := envelope.Sign(context.Background(), rebuild, f.k.signers["rebuilderA"])
	if err != nil {
		t.Fatal(err)
	}
	rb, _ := envelope.Parse(rbEnv)
	sum, err := Summarize(SummaryInput{
		Shipped: Output{Name: "hello", Digest: digest.FromBytes(shippedBytes)}, ShippedURI: "https://example.com/releases/hello",
		Verdict: verdict.Identical, Rebuilt: digest.FromBytes(shippedBytes),
		CompareReport: digest.FromString("report"), CompareReportURI: "compare/hello.json",
		Rebuild: rb, RebuildURI: "rebuild.intoto.json", ComparisonURI: "hello.comparison.intoto.json",
		Reviews: []*envelope.Envelope{review1}, Time: rebuildStart.Add(time.Hour),
	})
	if err != nil {
		t.Fatal(err)
	}
	checkGolden(t, "vsa.json", sum.VSA)
	checkGolden(t, "comparison.json", sum.Comparison)
	// The VSA decodes with the in-toto VSA bindings, unknown fields refused.
	vst, _ := ParseStatement(sum.VSA)
	var pb vsapb.VerificationSummary
	if err := protojson.Unmarshal(vst.Predicate, &pb); err != nil || pb.GetVerificationResult() != ResultPassed {
		t.Errorf("VSA bindings: %v (%s)", err, pb.GetVerificationResult())
	}

	// The same inputs give the same bytes, every time.
	for i := 0; i < 20; i++ {
		again, _ := ReviewStatement(testReview("reviewer1"))
		if !bytes.Equal(again, review) {
			t.Fatalf("review statement not stable:\n%s\n%s", review, again)
		}
		again, _ = RebuildStatement(testRebuild("rebuilderA", shippedBytes))
		if !bytes.Equal(again, rebuild) {
			t.Fatalf("rebuild statement not stable:\n%s\n%s", rebuild, again)
		}
	}

	// What we write, we read back.
	for _, b := range [][]byte{review, rebuild, summary} {
		if _, err := ParseStatement(b); err != nil {
			t.Errorf("ParseStatement(own output): %v", err)
		}
	}
}

func TestStatementBuildersRefuse(t *testing.T) {
	shipped := Output{Name: "hello", Digest: digest.FromBytes(shippedBytes)}
	okSummary := func() *SummaryPredicate {
		return &SummaryPredicate{
			Verifier: Party{ID: "https://a.example"}, TimeVerified: testNow, Verdict: verdict.Identical,
			Rebuilt: Artifact{Digest: setOf(shipped.Digest)},
			Rebuild: AttestationRef{PredicateType: ProvenancePredicateType, Digest: setOf(digest.FromString("r"))},
			Reviews: []AttestationRef{{PredicateType: ReviewPredicateType, Digest: setOf(digest.FromString("v"))}},
		}
	}
	tests := []struct {
		name string
		run  func() error
	}{
		{"review without verdict", func() error { p := testReview("r"); p.Verdict = 0; _, err := ReviewStatement(p); return err }},
		{"review without time", func() error {
			p := testReview("r")
			p.ReviewedAt = time.Time{}
			_, err := ReviewStatement(p)
			return err
		}},
		{"reviewer id not a URI", func() error { p := testReview("r"); p.Reviewer.ID = "alice"; _, err := ReviewStatement(p); return err }},
		{"scope both all and paths", func() error {
			p := testReview("r")
			p.Scope.Paths = []string{"cmd"}
			_, err := ReviewStatement(p)
			return err
		}},
		{"scope path escapes", func() error {
			p := testReview("r")
			p.Scope = Scope{Paths: []string{"../etc"}}
			_, err := ReviewStatement(p)
			return err
		}},
		{"source with sha1 commit only", func() error {
			p := testReview("r")
			p.Source.Tree = ""
			_, err := ReviewStatement(p)
			return err
		}},
		{"failed rebuild", func() error {
			r := testRebuild("a", shippedBytes)
			r.ExitCode = 2
			_, err := RebuildStatement(r)
			return err
		}},
		{"rebuild schema version", func() error {
			r := testRebuild("a", shippedBytes)
			r.SchemaVersion = 2
			_, err := RebuildStatement(r)
			return err
		}},
		{"rebuild without outputs", func() error {
			r := testRebuild("a", shippedBytes)
			r.Outputs = nil
			_, err := RebuildStatement(r)
			return err
		}},
		{"rebuild output sha512", func() error {
			r := testRebuild("a", shippedBytes)
			r.Outputs[0].Digest = digest.SHA512.FromBytes(shippedBytes)
			_, err := RebuildStatement(r)
			return err
		}},
		{"bad go.sum hash", func() error {
			r := testRebuild("a", shippedBytes)
			r.GoModules[0].GoSum = "h1:short"
			_, err := RebuildStatement(r)
			return err
		}},
		{"base image without digest", func() error {
			r := testRebuild("a", shippedBytes)
			r.BaseImage.Digest = ""
			_, err := RebuildStatement(r)
			return err
		}},
		{"identical with different digests", func() error {
			p := okSummary()
			p.Rebuilt.Digest = setOf(digest.FromString("other"))
			_, err := SummaryStatement(shipped, p)
			return err
		}},
		{"equivalent without normalizers", func() error {
			p := okSummary()
			p.Verdict = verdict.Equivalent
			p.Rebuilt.Digest = setOf(digest.FromString("other"))
			_, err := SummaryStatement(shipped, p)
			return err
		}},
		{"identical with normalizers", func() error {
			p := okSummary()
			p.Normalizers = []string{"x"}
			_, err := SummaryStatement(shipped, p)
			return err
		}},
		{"summary without reviews", func() error { p := okSummary(); p.Reviews = nil; _, err := SummaryStatement(shipped, p); return err }},
		{"summary without verdict", func() error { p := okSummary(); p.Verdict = 0; _, err := SummaryStatement(shipped, p); return err }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.run(); err == nil {
				t.Error("built, want an error")
			}
		})
	}
	if _, err := SummaryStatement(shipped, okSummary()); err != nil {
		t.Errorf("valid summary refused: %v", err)
	}
}

// readGolden returns a golden statement in its compact (signed) form.
func readGolden(name string) ([]byte, error) {
	b, err := os.ReadFile(filepath.Join("testdata", "golden", name))
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	if err := json.Compact(&buf, b); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

func TestParseGoldenPredicates(t *testing.T) {
	parse := func(name string) *Statement {
		b, err := readGolden(name)
		if err != nil {
			t.Fatal(err)
		}
		st, err := ParseStatement(b)
		if err != nil {
			t.Fatal(err)
		}
		return st
	}
	info, err := parseProvenance(parse("rebuild.json"))
	if err != nil {
		t.Fatal(err)
	}
	src := testSource()
	want := &ProvenanceInfo{
		Recipe:    RecipeRef{Name: "hello", Version: "1.0", URI: "recipes/hello.yaml", Digest: digest.FromString("recipe")},
		Source:    src,
		BuilderID: "https://rebuilderA.example/reprove",
		Outputs:   []Subject{{Name: "hello", Digest: DigestSet{"sha256": digest.FromBytes(shippedBytes).Encoded()}}},
		StartedOn: rebuildStart, FinishedOn: rebuildStart.Add(42 * time.Second),
	}
	if diff := cmp.Diff(want, info); diff != "" {
		t.Errorf("provenance (-want +got):\n%s", diff)
	}
	rv, err := parseReview(parse("review.json"))
	if err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(testReview("reviewer1"), rv); diff != "" {
		t.Errorf("review (-want +got):\n%s", diff)
	}
	sm, err := parseSummary(parse("summary.json"))
	if err != nil {
		t.Fatal(err)
	}
	if sm.Verdict != verdict.Equivalent || !cmp.Equal(sm.Normalizers, []string{"archive-mtime", "gzip-header"}) {
		t.Errorf("summary verdict %v normalizers %v", sm.Verdict, sm.Normalizers)
	}

	// The provenance parser refuses another build type and proto spellings.
	b, _ := readGolden("rebuild.json")
	for _, tc := range []struct{ from, to, want string }{
		{BuildType, "https://example.com/other", "build type is"},
		{`"buildType"`, `"build_type"`, `unknown field "build_type"`},
		{`"role":"source"`, `"role":"toolchain"`, `role "source"`},
	} {
		st, err := ParseStatement([]byte(strings.Replace(string(b), tc.from, tc.to, 1)))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parseProvenance(st); err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s -> %s: error %v, want %q", tc.from, tc.to, err, tc.want)
		}
	}
}

func TestSummarize(t *testing.T) {
	f := newFixture(t, identicalA)
	parse := func(name string) *envelope.Envelope {
		e, err := envelope.Parse(f.envs[name])
		if err != nil {
			t.Fatal(err)
		}
		return e
	}
	shipped := Output{Name: "hello", Digest: digest.FromBytes(shippedBytes)}
	ok := func() SummaryInput {
		return SummaryInput{
			Shipped: shipped, Verdict: verdict.Identical, Rebuilt: shipped.Digest,
			Rebuild: parse("rebuild-rebuilderA"), Reviews: []*envelope.Envelope{parse("review-reviewer1")}, Time: testNow,
		}
	}
	sum, err := Summarize(ok())
	if err != nil {
		t.Fatal(err)
	}
	vst, err := ParseStatement(sum.VSA)
	if err != nil {
		t.Fatal(err)
	}
	v, err := parseVSA(vst)
	if err != nil {
		t.Fatal(err)
	}
	wantInputs := []digest.Digest{parse("rebuild-rebuilderA").PayloadDigest(), digest.FromBytes(sum.Comparison), parse("review-reviewer1").PayloadDigest()}
	if v.verifier != "https://rebuilderA.example/reprove" || !cmp.Equal(v.inputs, wantInputs) || v.result != ResultPassed ||
		!cmp.Equal(v.levels, []string{PropBitIdentical, PropReproduced, PropSourceReviewed, LevelBuild1}) {
		t.Errorf("VSA %+v", v)
	}
	cst, _ := ParseStatement(sum.Comparison)
	cp, err := parseComparison(cst)
	if err != nil {
		t.Fatal(err)
	}
	if cp.Rebuilt.Name != "hello" || cp.Verdict != verdict.Identical {
		t.Errorf("comparison %+v", cp)
	}
	// Without reviews (a rebuilder publishing first): no reviewed property.
	in := ok()
	in.Reviews = nil
	if sum, err = Summarize(in); err != nil {
		t.Fatal(err)
	}
	vst, _ = ParseStatement(sum.VSA)
	if v, err = parseVSA(vst); err != nil || len(v.inputs) != 2 || !cmp.Equal(v.levels, []string{PropBitIdentical, PropReproduced, LevelBuild1}) {
		t.Errorf("VSA without reviews: %+v, %v", v, err)
	}
	other := testReview("reviewer1")
	other.Source.Tree = digest.FromString("another tree")
	ost, _ := ReviewStatement(other)
	oenv, _ := envelope.Sign(context.Background(), ost, f.k.signers["reviewer1"])
	otherReview, _ := envelope.Parse(oenv)
	tests := []struct {
		name string
		edit func(*SummaryInput)
		want string
	}{
		{"rebuilt is not an output", func(in *SummaryInput) { in.Rebuilt = digest.FromString("x"); in.Verdict = verdict.Different }, "none of the rebuild's outputs"},
		{"rebuild is a review", func(in *SummaryInput) { in.Rebuild = parse("review-reviewer1") }, "predicate type is"},
		{"review is a rebuild", func(in *SummaryInput) { in.Reviews = []*envelope.Envelope{parse("rebuild-rebuilderA")} }, "not a review"},
		{"review of another source", func(in *SummaryInput) { in.Reviews = []*envelope.Envelope{otherReview} }, "not of the rebuilt source"},
		{"time before the bound", func(in *SummaryInput) { in.Time = time.Unix(0, 0) }, "is before 2023-01-01"},
		{"verifier not a URI", func(in *SummaryInput) { in.Verifier.ID = "me" }, "verifier"},
		{"identical with other digests", func(in *SummaryInput) { in.Shipped.Digest = digest.FromString("other") }, "does not fit the digests"},
		{"no rebuild", func(in *SummaryInput) { in.Rebuild = nil }, "no rebuild attestation"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := ok()
			tt.edit(&in)
			if _, err := Summarize(in); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
		})
	}
}
