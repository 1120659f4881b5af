package attest

import (
	"context"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/keys"
	"github.com/reprove/reprove/attest/sigbundle"
	"github.com/reprove/reprove/compare/verdict"
)

// Signer signs attestations; attest/signing reads cosign-format private
// keys into one. attest itself never reads a private key, so that the
// customer's verifier does not carry the signer's dependencies.
type Signer = envelope.Signer

// Sign wraps a statement (from ReviewStatement, RebuildStatement or
// SummaryStatement) in a DSSE envelope signed by s.
func Sign(ctx context.Context, statement []byte, s Signer) ([]byte, error) {
	return envelope.Sign(ctx, statement, s)
}

// WriteAttestation writes a signed envelope to path atomically, ending in a
// newline so that attestation files concatenate into a JSON Lines bundle.
func WriteAttestation(ctx context.Context, path string, env []byte) error {
	if len(env) == 0 || env[len(env)-1] != '\n' {
		env = append(env[:len(env):len(env)], '\n')
	}
	return WriteFile(ctx, path, env)
}

// BundleExt is the file name ending that makes WriteSigned write a Sigstore
// bundle rather than a bare DSSE envelope.
const BundleExt = ".sigstore.json"

// WriteSigned writes an envelope signed by signer alone to path
// atomically: as a Sigstore bundle (v0.3, with the hint of signer's key)
// when path ends in BundleExt, else as the bare DSSE envelope
// (WriteAttestation). Both forms verify with cosign (v3 reads bundles; v2
// both) and with reprove.
func WriteSigned(ctx context.Context, path string, env []byte, signer Signer) error {
	if !strings.HasSuffix(path, BundleExt) {
		return WriteAttestation(ctx, path, env)
	}
	e, err := envelope.Parse(env)
	if err != nil {
		return err
	}
	fp, err := keys.Fingerprint(signer.Public())
	if err != nil {
		return err
	}
	b, err := sigbundle.Marshal(e, fp)
	if err != nil {
		return err
	}
	return WriteAttestation(ctx, path, b)
}

// SummaryInput is what a verification summary is made from: the shipped
// file, the comparison's outcome, and the signed rebuild and review
// attestations it rests on.
type SummaryInput struct {
	Shipped Output
	// ShippedURI is where the shipped file is published (the VSA's
	// resourceUri); empty means its name.
	ShippedURI string
	// Verdict and Normalizers are the comparison's (report.Report).
	Verdict     verdict.Verdict
	Normalizers []string
	// CompareReport is the digest of the compare report (reprove compare
	// --json) when there is one, and CompareReportURI where it is.
	CompareReport    digest.Digest
	CompareReportURI string
	// Rebuilt is the digest of the rebuilt output compared with Shipped; it
	// must be one of the rebuild attestation's subjects.
	Rebuilt digest.Digest
	Rebuild *envelope.Envelope
	// Reviews may be empty: a rebuilder can publish before any review,
	// and a later summary can cite the reviews.
	Reviews []*envelope.Envelope
	// RebuildURI and ComparisonURI, when set, say where the VSA's input
	// attestations are published (informational).
	RebuildURI, ComparisonURI string
	// Verifier is who compared; empty means the rebuild's builder.
	Verifier Party
	Time     time.Time
}

// SignSummary builds the summary for in (see Summarize) and signs both of
// its statements with s: the comparison envelope and the VSA envelope, each
// to be published as an attestation of its own.
func SignSummary(ctx context.Context, in SummaryInput, s Signer) (comparison, vsa []byte, err error) {
	sum, err := Summarize(in)
	if err != nil {
		return nil, nil, err
	}
	if comparison, err = envelope.Sign(ctx, sum.Comparison, s); err != nil {
		return nil, nil, err
	}
	if vsa, err = envelope.Sign(ctx, sum.VSA, s); err != nil {
		return nil, nil, err
	}
	return comparison, vsa, nil
}
