package attest

// The writer of reprove's earlier summary format
// (SummaryPredicateType), which verify still reads: the tests make such
// summaries; reprove writes VSAs.

import (
	"fmt"
	"time"

	ita1 "github.com/in-toto/attestation/go/v1"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/compare/verdict"
)

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
