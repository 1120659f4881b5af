package attest

import (
	"context"
	"fmt"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/keys"
	"github.com/reprove/reprove/compare/verdict"
)

// LoadSigner reads and decrypts a cosign-format private key (see
// attest/keys).
func LoadSigner(ctx context.Context, keyPath string, password []byte) (*keys.Signer, error) {
	return keys.LoadSigner(ctx, keyPath, password)
}

// Sign wraps a statement (from ReviewStatement, RebuildStatement or
// SummaryStatement) in a DSSE envelope signed by each signer.
func Sign(ctx context.Context, statement []byte, signers ...*keys.Signer) ([]byte, error) {
	return envelope.Sign(ctx, statement, signers...)
}

// WriteAttestation writes a signed envelope to path atomically, ending in a
// newline so that attestation files concatenate into a JSON Lines bundle.
func WriteAttestation(ctx context.Context, path string, env []byte) error {
	if len(env) == 0 || env[len(env)-1] != '\n' {
		env = append(env[:len(env):len(env)], '\n')
	}
	return WriteFile(ctx, path, env)
}

// SummaryInput is what a verification summary is made from: the shipped
// file, the comparison's outcome, and the signed rebuild and review
// attestations it rests on.
type SummaryInput struct {
	Shipped Output
	// Verdict and Normalizers are the comparison's (compare.Report).
	Verdict     verdict.Verdict
	Normalizers []string
	// Rebuilt is the digest of the rebuilt output compared with Shipped; it
	// must be one of the rebuild attestation's subjects.
	Rebuilt digest.Digest
	Rebuild *envelope.Envelope
	Reviews []*envelope.Envelope
	// Verifier is who compared; empty means the rebuild's builder.
	Verifier Party
	Time     time.Time
}

// Summarize builds the verification summary statement for in, checking that
// the rebuild and reviews are what they claim to be and that the rebuilt
// output is one the rebuild produced. Sign the result with Sign.
func Summarize(in SummaryInput) ([]byte, error) {
	fail := func(format string, a ...any) ([]byte, error) {
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
	var name string
	found := false
	for _, s := range info.Outputs {
		if d, ok := s.Digest.Digest(digest.SHA256); ok && d == in.Rebuilt {
			name, found = s.Name, true
			break
		}
	}
	if !found {
		return fail("the rebuilt artifact %s is none of the rebuild's outputs", in.Rebuilt)
	}
	p := &SummaryPredicate{
		Verifier:     in.Verifier,
		TimeVerified: in.Time,
		Verdict:      in.Verdict,
		Normalizers:  in.Normalizers,
		Rebuilt:      Artifact{Name: name, Digest: setOf(in.Rebuilt)},
		Rebuild:      AttestationRef{PredicateType: ProvenancePredicateType, Digest: setOf(in.Rebuild.PayloadDigest())},
	}
	if p.Verifier.ID == "" {
		p.Verifier.ID = info.BuilderID
	}
	for i, e := range in.Reviews {
		ref, err := RefOf(e, "")
		if err != nil {
			return fail("review %d: %w", i+1, err)
		}
		if ref.PredicateType != ReviewPredicateType {
			return fail("review %d is a %s attestation, not a review", i+1, ref.PredicateType)
		}
		st, _ := ParseStatement(e.Payload)
		rp, err := parseReview(st)
		if err != nil {
			return fail("review %d: %w", i+1, err)
		}
		if ok, why := matchSets(rp.Source.DigestSet(), info.Source.DigestSet()); !ok {
			return fail("review %d is of %s, not of the rebuilt source %s: %s", i+1, rp.Source.Name(), info.Source.Name(), why)
		}
		p.Reviews = append(p.Reviews, ref)
	}
	return SummaryStatement(in.Shipped, p)
}
