package attest

import (
	"crypto/x509"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/keyless"
	"github.com/reprove/reprove/attest/policy"
)

// This file is the seam between a signed document and the policy's
// parties: signersOf says which trusted parties (keys, keyless identities)
// signed a document, by party ID (a key's fingerprint, an identity's ID),
// and the evaluator counts parties without knowing which kind each is.

// IdentityRef is the keyless identity a result's party is, as the policy
// names it.
type IdentityRef struct {
	Issuer         string `json:"issuer"`
	Subject        string `json:"subject,omitempty"`
	SubjectPattern string `json:"subjectPattern,omitempty"`
}

// identityRef is p's identity, nil for a key.
func identityRef(p policy.Party) *IdentityRef {
	if p.Identity == nil {
		return nil
	}
	return &IdentityRef{Issuer: p.Identity.Issuer, Subject: p.Identity.Subject, SubjectPattern: p.Identity.SubjectPattern}
}

// signersOf returns the parties of the policy that signed d: every trusted
// key with a valid signature on the envelope, and, for a keyless Sigstore
// bundle whose certificate names an identity the policy trusts, that
// identity in each role it is trusted in, once the bundle has been checked
// under the policy's trusted root (attest/keyless). A bundle that claims a
// trusted identity and fails that check is a reason: someone presents a
// signature in a trusted name that does not hold.
func (e *evaluator) signersOf(d Document) ([]digest.Digest, error) {
	if e.verifierList == nil {
		e.verifierList = e.verifiers()
	}
	signers, err := envelope.SignedBy(e.ctx, d.Envelope, e.verifierList)
	if err != nil {
		return nil, err
	}
	if d.Sigstore != nil && len(d.Sigstore.Certificates) > 0 && e.pol.HasIdentities() {
		signers = append(signers, e.identitySigners(d)...)
	}
	return signers, nil
}

// identitySigners is signersOf for a keyless bundle's certificate.
func (e *evaluator) identitySigners(d Document) []digest.Digest {
	cert, err := x509.ParseCertificate(d.Sigstore.Certificates[0])
	if err != nil {
		e.note("attestation %s: its signing certificate does not parse (%v); not counted", d.Source, err)
		return nil
	}
	claim, err := keyless.ClaimOf(cert)
	if err != nil {
		e.note("attestation %s: %v; not counted", d.Source, err)
		return nil
	}
	type match struct {
		role string
		id   policy.Identity
	}
	var matches []match
	for _, r := range []struct {
		name string
		role policy.Role
	}{{"reviewer", e.pol.Reviewers}, {"rebuilder", e.pol.Rebuilders}, {"builder", e.pol.Builders}} {
		if id, ok := r.role.Match(claim); ok {
			matches = append(matches, match{r.name, id})
		}
	}
	if len(matches) == 0 {
		return nil // noted by index as signed by no trusted party
	}
	var as []string
	for _, m := range matches {
		as = append(as, fmt.Sprintf("%s %s", m.role, m.id.Name))
	}
	trusted := strings.Join(as, " and ")
	if _, err := keyless.Verify(d.Sigstore, e.pol.TrustedRoot); err != nil {
		e.reason("attestation %s: signed as %s, whom the policy trusts as %s, but %v", d.Source, claim, trusted, err)
		return nil
	}
	var out []digest.Digest
	for i, m := range matches {
		for _, o := range matches[:i] {
			if o.id.ID() == m.id.ID() {
				continue // one entry in two roles: the policy allowed it
			}
			switch {
			case o.role == "reviewer" && m.role == "rebuilder" && !e.pol.AllowSelfReview:
				e.reason("attestation %s: signed by %s, who is both %s: a review and a rebuild by one identity are not independent checks (selfReview: allow accepts it)", d.Source, claim, trusted)
				return nil
			case o.role == "rebuilder" && m.role == "builder":
				e.reason("attestation %s: signed by %s, who is both %s: a rebuild by the builder is no independent check", d.Source, claim, trusted)
				return nil
			}
		}
		out = append(out, m.id.ID())
	}
	return out
}

// untrustedNote notes a document no trusted party signed, by its
// predicate type, read for the note only and not strictly.
func (e *evaluator) untrustedNote(d Document, predicateType string) {
	if predicateType == "" {
		var t struct {
			PredicateType string `json:"predicateType"`
		}
		json.Unmarshal(d.Envelope.Payload, &t)
		predicateType = t.PredicateType
	}
	if d.Sigstore != nil && len(d.Sigstore.Certificates) > 0 {
		if cert, err := x509.ParseCertificate(d.Sigstore.Certificates[0]); err == nil {
			if c, err := keyless.ClaimOf(cert); err == nil {
				e.note("attestation %s (%s) is signed by %s, neither a key nor an identity the policy trusts; ignored", d.Source, shortType(predicateType), c)
				return
			}
		}
	}
	e.note("attestation %s (%s) is signed by no key the policy trusts; ignored", d.Source, shortType(predicateType))
}
