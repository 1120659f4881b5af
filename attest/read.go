package attest

import (
	"fmt"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
)

// ReadReview reads a review statement's predicate strictly (as Verify does)
// and checks that the statement's subject is the reviewed source.
func ReadReview(st *Statement) (*ReviewPredicate, error) {
	if st.PredicateType != ReviewPredicateType {
		return nil, fmt.Errorf("parse review: predicate type is %q, want %q", st.PredicateType, ReviewPredicateType)
	}
	return parseReview(st)
}

// ReadSummary reads a verification summary's predicate strictly (as Verify
// does). Its Rebuild and Reviews name the attestations it rests on.
func ReadSummary(st *Statement) (*SummaryPredicate, error) {
	if st.PredicateType != SummaryPredicateType {
		return nil, fmt.Errorf("parse summary: predicate type is %q, want %q", st.PredicateType, SummaryPredicateType)
	}
	return parseSummary(st)
}

// Input is one resolved dependency of a rebuild, as its provenance records
// it: the role (RoleSource, RoleToolchain, RoleBaseImage, RoleGoModule),
// the name (with "@version" when it has one), the URI and the digests.
type Input struct {
	Role   string
	Name   string
	URI    string
	Digest DigestSet
}

// ReadProvenanceInputs lists a rebuild statement's resolved dependencies, in
// the provenance's order, after reading it strictly with ReadProvenance.
func ReadProvenanceInputs(st *Statement) ([]Input, error) {
	if _, err := ReadProvenance(st); err != nil {
		return nil, err
	}
	var prov slsa.Provenance
	if err := strictProto(st.Predicate, &prov); err != nil {
		return nil, fmt.Errorf("parse provenance: %w", err)
	}
	var out []Input
	for _, d := range prov.GetBuildDefinition().GetResolvedDependencies() {
		out = append(out, Input{
			Role:   d.GetAnnotations().GetFields()["role"].GetStringValue(),
			Name:   d.GetName(),
			URI:    d.GetUri(),
			Digest: DigestSet(d.GetDigest()),
		})
	}
	return out, nil
}
