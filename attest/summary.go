package attest

import (
	"errors"
	"fmt"
	"sort"
	"time"

	ita1 "github.com/in-toto/attestation/go/v1"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/internal/strictjson"
	"github.com/reprove/reprove/compare/verdict"
)

// SummaryPredicateType is the predicate type of a verification summary: the
// link from review and rebuild to the shipped artifact.
const SummaryPredicateType = "https://reprove.dev/attestation/verification-summary/v1"

// MaxReviews bounds the reviews one summary may rest on.
const MaxReviews = 64

// Artifact is a named file and its digests.
type Artifact struct {
	Name   string    `json:"name,omitempty"`
	Digest DigestSet `json:"digest"`
}

// AttestationRef points at another attestation by the sha256 of its signed
// payload (the statement bytes), which signatures added later do not change.
type AttestationRef struct {
	PredicateType string    `json:"predicateType"`
	Digest        DigestSet `json:"digest"`
	URI           string    `json:"uri,omitempty"`
}

func (r AttestationRef) payloadDigest() (digest.Digest, error) {
	d, ok := r.Digest.Digest(digest.SHA256)
	if !ok {
		return "", fmt.Errorf("reference to a %s attestation has no valid sha256 digest", r.PredicateType)
	}
	return d, nil
}

// SummaryPredicate is the predicate of a verification summary. Its subject
// is the shipped artifact.
type SummaryPredicate struct {
	Verifier     Party           `json:"verifier"`
	TimeVerified time.Time       `json:"timeVerified"`
	Verdict      verdict.Verdict `json:"verdict"`
	// Normalizers are those the equivalence needed (sorted); empty for
	// identical.
	Normalizers []string `json:"normalizers,omitempty"`
	// Rebuilt is the rebuilt output compared with the shipped artifact.
	Rebuilt Artifact `json:"rebuilt"`
	// Rebuild is the rebuild (provenance) attestation that produced Rebuilt.
	Rebuild AttestationRef `json:"rebuild"`
	// Reviews are the review attestations of the source that was rebuilt.
	Reviews []AttestationRef `json:"reviews"`
}

// Validate checks a summary predicate on its own.
func (p *SummaryPredicate) Validate() error {
	if err := p.Verifier.validate("verifier"); err != nil {
		return err
	}
	if p.TimeVerified.IsZero() {
		return errors.New("summary time is missing")
	}
	if _, err := p.Verdict.MarshalText(); err != nil {
		return errors.New("summary verdict is missing")
	}
	switch p.Verdict {
	case verdict.Identical:
		if len(p.Normalizers) > 0 {
			return errors.New("an identical verdict lists no normalizers")
		}
	case verdict.Equivalent:
		if len(p.Normalizers) == 0 {
			return errors.New("an equivalent verdict must name the normalizers it needed")
		}
	}
	if !sort.StringsAreSorted(p.Normalizers) {
		return errors.New("summary normalizers are not sorted")
	}
	for i, n := range p.Normalizers {
		if n == "" || i > 0 && p.Normalizers[i-1] == n {
			return fmt.Errorf("summary normalizer %q is empty or listed twice", n)
		}
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
	if len(p.Reviews) == 0 {
		return errors.New("summary rests on no review")
	}
	if len(p.Reviews) > MaxReviews {
		return fmt.Errorf("summary rests on %d reviews, more than %d", len(p.Reviews), MaxReviews)
	}
	for _, r := range p.Reviews {
		if r.PredicateType != ReviewPredicateType {
			return fmt.Errorf("review reference has predicate type %q, want %q", r.PredicateType, ReviewPredicateType)
		}
		if _, err := r.payloadDigest(); err != nil {
			return err
		}
	}
	return nil
}

// SummaryStatement and RefOf write reprove's earlier summary format,
// which verify still reads; reprove itself writes VSAs now, and only
// tests (here and in the centre) make such summaries.

// SummaryStatement builds the verification summary statement for shipped
// (the artifact customers download), ready to sign. An identical verdict
// requires the rebuilt and shipped sha256 digests to be equal, and any other
// verdict requires them to differ.
func SummaryStatement(shipped Output, p *SummaryPredicate) ([]byte, error) {
	fail := func(err error) ([]byte, error) { return nil, fmt.Errorf("build summary statement: %w", err) }
	p.TimeVerified = p.TimeVerified.UTC().Truncate(time.Second)
	p.Normalizers = sortedUnique(p.Normalizers)
	if err := p.Validate(); err != nil {
		return fail(err)
	}
	if err := shipped.Digest.Validate(); err != nil || shipped.Digest.Algorithm() != digest.SHA256 {
		return fail(fmt.Errorf("shipped artifact %q needs a sha256 digest", shipped.Name))
	}
	rebuilt, _ := p.Rebuilt.Digest.Digest(digest.SHA256)
	if (p.Verdict == verdict.Identical) != (rebuilt == shipped.Digest) {
		return fail(fmt.Errorf("verdict %s does not fit the digests (rebuilt %s, shipped %s)", p.Verdict, rebuilt, shipped.Digest))
	}
	subj, err := descriptor(shipped.Name, "", setOf(shipped.Digest), nil)
	if err != nil {
		return fail(err)
	}
	pred, err := structOf(p)
	if err != nil {
		return fail(err)
	}
	return newStatement([]*ita1.ResourceDescriptor{subj}, SummaryPredicateType, pred)
}

// RefOf makes a reference to a signed attestation: its predicate type and
// the sha256 of its payload. It parses the statement to read the type.
func RefOf(e *envelope.Envelope, uri string) (AttestationRef, error) {
	st, err := ParseStatement(e.Payload)
	if err != nil {
		return AttestationRef{}, fmt.Errorf("reference attestation: %w", err)
	}
	return AttestationRef{PredicateType: st.PredicateType, Digest: setOf(e.PayloadDigest()), URI: uri}, nil
}

func parseSummary(st *Statement) (*SummaryPredicate, error) {
	var p SummaryPredicate
	if err := strictjson.Unmarshal(st.Predicate, &p); err != nil {
		return nil, fmt.Errorf("parse summary predicate: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("parse summary predicate: %w", err)
	}
	return &p, nil
}

func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	out := append([]string(nil), s...)
	sort.Strings(out)
	j := 0
	for i := range out {
		if i == 0 || out[i] != out[j-1] {
			out[j] = out[i]
			j++
		}
	}
	return out[:j]
}
