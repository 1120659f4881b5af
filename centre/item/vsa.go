package item

import (
	"errors"
	"fmt"
	"time"

	vsa "github.com/in-toto/attestation/go/predicates/vsa/v1"
	"github.com/opencontainers/go-digest"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/reprove/reprove/attest"
)

// VSAPredicateType is SLSA's Verification Summary Attestation v1, the form
// reprove's verification summary is moving to.
//
// Until attest reads it (attest is changing its summary to this type), the
// centre reads the fields it indexes and shows with the in-toto bindings:
// the verifier, the time, the result and the input attestations it rests
// on. The signature and role checks are the same as for every item.
const VSAPredicateType = "https://slsa.dev/verification_summary/v1"

// VSA is what the centre reads of a Verification Summary Attestation.
type VSA struct {
	VerifierID     string
	TimeVerified   time.Time
	ResourceURI    string
	Result         string // PASSED or FAILED
	VerifiedLevels []string
	Inputs         []attest.AttestationRef
	cites          []digest.Digest
}

func readVSA(st *attest.Statement) (*VSA, error) {
	var p vsa.VerificationSummary
	if err := (protojson.UnmarshalOptions{}).Unmarshal(st.Predicate, &p); err != nil {
		return nil, fmt.Errorf("parse verification summary: %w", err)
	}
	v := &VSA{
		VerifierID:     p.GetVerifier().GetId(),
		ResourceURI:    p.GetResourceUri(),
		Result:         p.GetVerificationResult(),
		VerifiedLevels: p.GetVerifiedLevels(),
	}
	if v.VerifierID == "" {
		return nil, errors.New("parse verification summary: verifier.id is missing")
	}
	if p.GetTimeVerified() == nil {
		return nil, errors.New("parse verification summary: timeVerified is missing")
	}
	v.TimeVerified = p.GetTimeVerified().AsTime()
	if v.Result != "PASSED" && v.Result != "FAILED" {
		return nil, fmt.Errorf("parse verification summary: verificationResult %q, want PASSED or FAILED", v.Result)
	}
	if len(p.GetInputAttestations()) > attest.MaxReviews+1 {
		return nil, fmt.Errorf("parse verification summary: %d input attestations, more than %d", len(p.GetInputAttestations()), attest.MaxReviews+1)
	}
	for i, in := range p.GetInputAttestations() {
		ds := attest.DigestSet(in.GetDigest())
		d, ok := ds.Digest(digest.SHA256)
		if !ok {
			return nil, fmt.Errorf("parse verification summary: inputAttestations[%d] has no valid sha256 digest", i)
		}
		v.Inputs = append(v.Inputs, attest.AttestationRef{Digest: ds, URI: in.GetUri()})
		v.cites = append(v.cites, d)
	}
	return v, nil
}
