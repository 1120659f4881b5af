package attest

import (
	"context"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/keys"
)

// AlreadySignedError is CoSign's error when the co-signer's key signed the
// attestation already.
type AlreadySignedError struct {
	Statement, Key digest.Digest
}

func (e *AlreadySignedError) Error() string {
	return fmt.Sprintf("co-sign statement %s: it already carries a signature by key %s", e.Statement, e.Key)
}

// CoSign signs the statement of an existing attestation e (a second
// reviewer co-signing a review, say) with s, into an envelope of s's own
// over the very same payload. Each signer's attestation is a document of
// its own (a Sigstore bundle holds exactly one signature), and they name
// one statement: verify merges the signers of a statement over every
// envelope that carries it, by payload digest, which a signature does not
// change.
//
// A key that signed e already is refused: its second signature would add
// nothing, and a threshold counts a key once.
func CoSign(ctx context.Context, e *envelope.Envelope, s Signer) ([]byte, error) {
	v, err := keys.NewVerifier(s.Public(), "co-signer")
	if err != nil {
		return nil, fmt.Errorf("co-sign: %w", err)
	}
	already, err := envelope.SignedBy(ctx, e, []*keys.Verifier{v})
	if err != nil {
		return nil, fmt.Errorf("co-sign: %w", err)
	}
	if len(already) > 0 {
		return nil, &AlreadySignedError{Statement: e.PayloadDigest(), Key: v.Fingerprint}
	}
	if _, err := ParseStatement(e.Payload); err != nil {
		return nil, fmt.Errorf("co-sign: %w", err)
	}
	signed, err := envelope.Sign(ctx, e.Payload, s)
	if err != nil {
		return nil, fmt.Errorf("co-sign: %w", err)
	}
	return signed, nil
}
