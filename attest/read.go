package attest

import (
	"fmt"
	"time"

	slsa "github.com/in-toto/attestation/go/predicates/provenance/v1"
	"github.com/opencontainers/go-digest"
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
		ds, err := DigestSet(d.GetDigest()).Normalized()
		if err != nil {
			return nil, fmt.Errorf("parse provenance: %s: %w", d.GetName(), err)
		}
		out = append(out, Input{
			Role:   d.GetAnnotations().GetFields()["role"].GetStringValue(),
			Name:   d.GetName(),
			URI:    d.GetUri(),
			Digest: ds,
		})
	}
	return out, nil
}

// VSA is what a SLSA Verification Summary Attestation v1 says, read as
// verify reads it (the in-toto VSA bindings, strictly, with reprove's
// policy).
type VSA struct {
	Verifier string
	Time     time.Time
	// Result is ResultPassed or ResultFailed; Levels the verifiedLevels.
	Result string
	Levels []string
	// Inputs are the payload digests of the attestations the VSA rests on:
	// the rebuild, the comparison and the reviews.
	Inputs []digest.Digest
}

// ReadVSA reads a VSA statement's predicate strictly.
func ReadVSA(st *Statement) (*VSA, error) {
	if st.PredicateType != VSAPredicateType {
		return nil, fmt.Errorf("parse verification summary: predicate type is %q, want %q", st.PredicateType, VSAPredicateType)
	}
	v, err := parseVSA(st)
	if err != nil {
		return nil, err
	}
	return &VSA{Verifier: v.verifier, Time: v.time, Result: v.result, Levels: v.levels, Inputs: v.inputs}, nil
}

// ReadComparison reads a comparison statement's predicate strictly: the
// verdict, the normalizers, the rebuilt output, the rebuild it came from
// and the compare report.
func ReadComparison(st *Statement) (*ComparisonPredicate, error) {
	if st.PredicateType != ComparisonPredicateType {
		return nil, fmt.Errorf("parse comparison: predicate type is %q, want %q", st.PredicateType, ComparisonPredicateType)
	}
	return parseComparison(st)
}
