package attest

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"time"

	vsa "github.com/in-toto/attestation/go/predicates/vsa/v1"
	ita1 "github.com/in-toto/attestation/go/v1"
	"github.com/opencontainers/go-digest"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/reprove/reprove/attest/internal/strictjson"
	"github.com/reprove/reprove/compare/verdict"
)

// The verification summary reprove writes is two statements about the
// shipped file, signed by the rebuilder (FORMATS.md documents both):
//
//   - a SLSA Verification Summary Attestation v1 (VSAPredicateType), which
//     tools that know SLSA read: who verified, when, against which policy,
//     PASSED or FAILED, and the input attestations it rests on (the rebuild
//     provenance, the comparison and the reviews, by payload digest);
//   - its companion, the comparison (ComparisonPredicateType), which
//     carries what SLSA has no field for: the verdict word, the normalizers
//     the equivalence needed, the rebuilt output and the compare report's
//     digest.
const (
	VSAPredicateType        = "https://slsa.dev/verification_summary/v1"
	ComparisonPredicateType = "https://reprove.dev/attestation/comparison/v1"
	// RebuildPolicyURI names the policy a reprove rebuilder applies: the
	// shipped file is, or is equivalent under the listed normalizers to, an
	// output of the cited rebuild of the cited source.
	RebuildPolicyURI = "https://reprove.dev/policies/reproducible-rebuild/v1"
	// SLSAVersion is the SLSA specification version of the VSA.
	SLSAVersion = "1.0"
)

// Results, levels and properties a reprove VSA records. verifiedLevels
// holds what the evidence the VSA cites supports, and nothing more:
//
//   - SLSA_BUILD_LEVEL_1 when the shipped file is identical to the rebuild's
//     output: the cited provenance then describes a build of exactly this
//     file (SLSA's "provenance exists"). Not level 2: that needs a hosted
//     build platform signing the provenance, which a rebuilder's key does
//     not show. Not for "equivalent": the provenance's subject is then
//     another file.
//   - never SLSA_BUILD_REPRODUCED: that verified property needs build
//     provenance from two or more independently operated build platforms,
//     and one VSA cites one rebuild (reprove verify counts rebuilders
//     across VSAs).
//   - reprove's own properties (REPROVE_*), which SLSA allows beside track
//     levels under a name not starting with SLSA_.
const (
	// LevelBuild1 is SLSA Build level 1 (provenance exists).
	LevelBuild1  = "SLSA_BUILD_LEVEL_1"
	ResultPassed = "PASSED"
	ResultFailed = "FAILED"
	// PropReproduced: the shipped file is identical, or equivalent under
	// named normalizers, to an output of an independent rebuild.
	PropReproduced = "REPROVE_REPRODUCED"
	// PropBitIdentical: identical, byte for byte.
	PropBitIdentical = "REPROVE_BIT_IDENTICAL"
	// PropSourceReviewed: the VSA cites at least one review of the source.
	PropSourceReviewed = "REPROVE_SOURCE_REVIEWED"
	// LevelFailed is SLSA's verifiedLevels value for a failed verification.
	LevelFailed = "FAILED"
)

// ComparisonPredicate is the predicate of the comparison statement. Its
// subject is the shipped file.
type ComparisonPredicate struct {
	Verdict verdict.Verdict `json:"verdict"`
	// Normalizers are those the equivalence needed (sorted); none for
	// identical.
	Normalizers []string `json:"normalizers,omitempty"`
	// Rebuilt is the rebuilt output compared with the shipped file.
	Rebuilt Artifact `json:"rebuilt"`
	// Rebuild is the rebuild (provenance) attestation that produced Rebuilt.
	Rebuild AttestationRef `json:"rebuild"`
	// CompareReport is the compare report (reprove compare --json), when
	// there is one.
	CompareReport *ReportRef `json:"compareReport,omitempty"`
}

// ReportRef points at a document by digest.
type ReportRef struct {
	URI    string    `json:"uri,omitempty"`
	Digest DigestSet `json:"digest"`
}

// Validate checks a comparison predicate on its own.
func (p *ComparisonPredicate) Validate() error {
	if err := validateVerdict(p.Verdict, p.Normalizers); err != nil {
		return err
	}
	if err := p.Rebuilt.Digest.Validate(); err != nil {
		return fmt.Errorf("rebuilt artifact: %w", err)
	}
	if _, ok := p.Rebuilt.Digest.Digest(digest.SHA256); !ok {
		return errors.New("rebuilt artifact has no sha256 digest")
	}
	if p.Rebuild.PredicateType != ProvenancePredicateType {
		return fmt.Errorf("rebuild reference has predicate type %q, want %q", p.Rebuild.PredicateType, ProvenancePredicateType)
	}
	if _, err := p.Rebuild.payloadDigest(); err != nil {
		return err
	}
	if p.CompareReport != nil {
		if err := p.CompareReport.Digest.Validate(); err != nil {
			return fmt.Errorf("compare report: %w", err)
		}
	}
	return nil
}

// validateVerdict checks a verdict and its normalizers (sorted, distinct,
// present exactly when the verdict is equivalent).
func validateVerdict(v verdict.Verdict, normalizers []string) error {
	if _, err := v.MarshalText(); err != nil {
		return errors.New("verdict is missing")
	}
	switch v {
	case verdict.Identical:
		if len(normalizers) > 0 {
			return errors.New("an identical verdict lists no normalizers")
		}
	case verdict.Equivalent:
		if len(normalizers) == 0 {
			return errors.New("an equivalent verdict must name the normalizers it needed")
		}
	}
	if !sort.StringsAreSorted(normalizers) {
		return errors.New("normalizers are not sorted")
	}
	for i, n := range normalizers {
		if n == "" || i > 0 && normalizers[i-1] == n {
			return fmt.Errorf("normalizer %q is empty or listed twice", n)
		}
	}
	return nil
}

// levelsFor is exactly the verifiedLevels reprove writes for a verdict.
func levelsFor(v verdict.Verdict, reviewed bool) (result string, levels []string) {
	result, levels = levelsBefore(v, reviewed)
	if v == verdict.Identical {
		levels = append(levels, LevelBuild1)
		sort.Strings(levels)
	}
	return result, levels
}

// levelsBefore is what reprove wrote before it stated SLSA_BUILD_LEVEL_1:
// its own properties only. Summaries signed then still verify.
func levelsBefore(v verdict.Verdict, reviewed bool) (result string, levels []string) {
	if v == verdict.Different {
		return ResultFailed, []string{LevelFailed}
	}
	levels = []string{PropReproduced}
	if v == verdict.Identical {
		levels = append(levels, PropBitIdentical)
	}
	if reviewed {
		levels = append(levels, PropSourceReviewed)
	}
	sort.Strings(levels)
	return ResultPassed, levels
}

// levelsFollow reports whether a VSA's result and verifiedLevels are
// exactly what reprove writes for the verdict (now, or before
// SLSA_BUILD_LEVEL_1 was stated): a VSA claiming more than its comparison
// supports is refused.
func levelsFollow(result string, levels []string, v verdict.Verdict, reviewed bool) bool {
	r, l := levelsFor(v, reviewed)
	if result == r && slices.Equal(levels, l) {
		return true
	}
	r, l = levelsBefore(v, reviewed)
	return result == r && slices.Equal(levels, l)
}

// Summary is a verification summary ready to sign: the comparison statement
// and the VSA that cites it.
type Summary struct {
	Comparison []byte
	VSA        []byte
}

// Summarize builds the verification summary statements for in, checking
// that the rebuild and reviews are what they claim to be and that the
// rebuilt output is one the rebuild produced. Reviews may be none (a
// rebuilder-only summary; a later summary can cite reviews). Sign both
// statements with the same key (SignSummary does).
func Summarize(in SummaryInput) (*Summary, error) {
	fail := func(format string, a ...any) (*Summary, error) {
		return nil, fmt.Errorf("build summary statement: "+format, a...)
	}
	if in.Rebuild == nil {
		return fail("no rebuild attestation")
	}
	rst, err := ParseStatement(in.Rebuild.Payload)
	if err != nil {
		return fail("rebuild attestation: %w", err)
	}
	info, err := ReadProvenance(rst)
	if err != nil {
		return fail("rebuild attestation: %w", err)
	}
	name, found := "", false
	for _, s := range info.Outputs {
		if d, ok := s.Digest.Digest(digest.SHA256); ok && d == in.Rebuilt {
			name, found = s.Name, true
			break
		}
	}
	if !found {
		return fail("the rebuilt artifact %s is none of the rebuild's outputs", in.Rebuilt)
	}
	if err := in.Shipped.Digest.Validate(); err != nil || in.Shipped.Digest.Algorithm() != digest.SHA256 {
		return fail("shipped artifact %q needs a sha256 digest", in.Shipped.Name)
	}
	if (in.Verdict == verdict.Identical) != (in.Rebuilt == in.Shipped.Digest) {
		return fail("verdict %s does not fit the digests (rebuilt %s, shipped %s)", in.Verdict, in.Rebuilt, in.Shipped.Digest)
	}
	if len(in.Reviews) > MaxReviews {
		return fail("%d reviews, more than %d", len(in.Reviews), MaxReviews)
	}
	when := in.Time.UTC().Truncate(time.Second)
	if when.Before(Earliest) {
		return fail("time %s is before %s", when.Format(time.RFC3339), Earliest.Format("2006-01-02"))
	}
	cp := &ComparisonPredicate{
		Verdict:     in.Verdict,
		Normalizers: sortedUnique(in.Normalizers),
		Rebuilt:     Artifact{Name: name, Digest: setOf(in.Rebuilt)},
		Rebuild:     AttestationRef{PredicateType: ProvenancePredicateType, Digest: setOf(in.Rebuild.PayloadDigest())},
	}
	if in.CompareReport != "" {
		cp.CompareReport = &ReportRef{URI: in.CompareReportURI, Digest: setOf(in.CompareReport)}
	}
	if err := cp.Validate(); err != nil {
		return fail("%w", err)
	}
	subj, err := descriptor(in.Shipped.Name, "", setOf(in.Shipped.Digest), nil)
	if err != nil {
		return fail("%w", err)
	}
	pred, err := structOf(cp)
	if err != nil {
		return fail("%w", err)
	}
	comparison, err := newStatement([]*ita1.ResourceDescriptor{subj}, ComparisonPredicateType, pred)
	if err != nil {
		return fail("%w", err)
	}

	inputs := []*vsa.VerificationSummary_InputAttestation{
		{Uri: in.RebuildURI, Digest: setOf(in.Rebuild.PayloadDigest())},
		{Uri: in.ComparisonURI, Digest: setOf(digest.FromBytes(comparison))},
	}
	for i, e := range in.Reviews {
		st, err := ParseStatement(e.Payload)
		if err != nil {
			return fail("review %d: %w", i+1, err)
		}
		if st.PredicateType != ReviewPredicateType {
			return fail("review %d is a %s attestation, not a review", i+1, st.PredicateType)
		}
		rp, err := parseReview(st)
		if err != nil {
			return fail("review %d: %w", i+1, err)
		}
		if ok, why := matchSets(rp.Source.DigestSet(), info.Source.DigestSet()); !ok {
			return fail("review %d is of %s, not of the rebuilt source %s: %s", i+1, rp.Source.Name(), info.Source.Name(), why)
		}
		inputs = append(inputs, &vsa.VerificationSummary_InputAttestation{Digest: setOf(e.PayloadDigest())})
	}
	verifier := in.Verifier.ID
	if verifier == "" {
		verifier = info.BuilderID
	}
	if err := (Party{ID: verifier}).validate("verifier"); err != nil {
		return fail("%w", err)
	}
	resource := in.ShippedURI
	if resource == "" {
		resource = in.Shipped.Name
	}
	result, levels := levelsFor(in.Verdict, len(in.Reviews) > 0)
	v := &vsa.VerificationSummary{
		Verifier:           &vsa.VerificationSummary_Verifier{Id: verifier},
		TimeVerified:       timestamppb.New(when),
		ResourceUri:        resource,
		Policy:             &vsa.VerificationSummary_Policy{Uri: RebuildPolicyURI},
		InputAttestations:  inputs,
		VerificationResult: result,
		VerifiedLevels:     levels,
		SlsaVersion:        SLSAVersion,
	}
	if _, err := checkVSA(v); err != nil {
		return fail("%w", err)
	}
	statement, err := newStatement([]*ita1.ResourceDescriptor{subj}, VSAPredicateType, v)
	if err != nil {
		return fail("%w", err)
	}
	return &Summary{Comparison: comparison, VSA: statement}, nil
}

// vsaInfo is what verify reads from a VSA.
type vsaInfo struct {
	verifier string
	time     time.Time
	result   string
	levels   []string
	inputs   []digest.Digest // payload sha256 of each input attestation
}

// parseVSA decodes a VSA predicate strictly with the in-toto VSA bindings
// and checks what a reprove VSA must hold.
func parseVSA(st *Statement) (*vsaInfo, error) {
	var v vsa.VerificationSummary
	if err := strictProto(st.Predicate, &v); err != nil {
		return nil, fmt.Errorf("parse verification summary: %w", err)
	}
	info, err := checkVSA(&v)
	if err != nil {
		return nil, fmt.Errorf("parse verification summary: %w", err)
	}
	return info, nil
}

// checkVSA validates a VSA (the in-toto bindings have no validator for
// this predicate): SLSA's required fields, reprove's policy, and input
// attestations named by a sha256 digest each.
func checkVSA(v *vsa.VerificationSummary) (*vsaInfo, error) {
	info := &vsaInfo{verifier: v.GetVerifier().GetId(), result: v.GetVerificationResult(), levels: v.GetVerifiedLevels()}
	if err := (Party{ID: info.verifier}).validate("verifier"); err != nil {
		return nil, err
	}
	if v.GetTimeVerified() == nil {
		return nil, errors.New("timeVerified: required")
	}
	if err := v.GetTimeVerified().CheckValid(); err != nil {
		return nil, fmt.Errorf("timeVerified: %w", err)
	}
	info.time = v.GetTimeVerified().AsTime()
	if v.GetResourceUri() == "" {
		return nil, errors.New("resourceUri: required")
	}
	if v.GetPolicy().GetUri() != RebuildPolicyURI {
		return nil, fmt.Errorf("policy.uri is %q, want %q", v.GetPolicy().GetUri(), RebuildPolicyURI)
	}
	if info.result != ResultPassed && info.result != ResultFailed {
		return nil, fmt.Errorf("verificationResult is %q, want %s or %s", info.result, ResultPassed, ResultFailed)
	}
	if len(info.levels) == 0 {
		return nil, errors.New("verifiedLevels: required")
	}
	if len(v.GetDependencyLevels()) > 0 {
		return nil, errors.New("dependencyLevels: reprove summaries record none")
	}
	if v.GetSlsaVersion() != SLSAVersion {
		return nil, fmt.Errorf("slsaVersion is %q, want %q", v.GetSlsaVersion(), SLSAVersion)
	}
	if n := len(v.GetInputAttestations()); n < 2 || n > MaxReviews+2 {
		return nil, fmt.Errorf("%d input attestations, want the rebuild, the comparison and at most %d reviews", n, MaxReviews)
	}
	for i, a := range v.GetInputAttestations() {
		ds := DigestSet(a.GetDigest())
		if err := ds.Validate(); err != nil {
			return nil, fmt.Errorf("inputAttestations[%d]: %w", i, err)
		}
		d, ok := ds.Digest(digest.SHA256)
		if !ok {
			return nil, fmt.Errorf("inputAttestations[%d]: no sha256 digest of the payload", i)
		}
		if slices.Contains(info.inputs, d) {
			return nil, fmt.Errorf("inputAttestations[%d]: %s is listed twice", i, d)
		}
		info.inputs = append(info.inputs, d)
	}
	return info, nil
}

func parseComparison(st *Statement) (*ComparisonPredicate, error) {
	var p ComparisonPredicate
	if err := strictjson.Unmarshal(st.Predicate, &p); err != nil {
		return nil, fmt.Errorf("parse comparison predicate: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("parse comparison predicate: %w", err)
	}
	return &p, nil
}
