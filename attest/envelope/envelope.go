// Package envelope signs and parses DSSE envelopes holding in-toto
// statements, in the form the cosign CLI writes and reads
// (`cosign attest-blob` output, `cosign verify-blob-attestation --signature`).
//
// Parsing is strict (see attest/internal/strictjson): duplicate or
// case-variant keys, unknown fields, bad base64 and an unexpected payload type
// are all refused. Signature checks are the DSSE check cosign makes (each
// signature over the pre-authentication encoding, PAE), once per trusted key,
// so that the result is the set of distinct public keys that signed: key ids
// in the envelope are unsigned hints and are ignored.
//
// It needs neither cosign nor Sigstore's clients: signatures are checked
// with attest/keys (the standard library), and signing goes through the
// Signer interface, which attest/signing implements.
package envelope

import (
	"context"
	"crypto"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/internal/strictjson"
	"github.com/reprove/reprove/attest/keys"
)

// PayloadType is the DSSE payload type of in-toto statements.
const PayloadType = "application/vnd.in-toto+json"

// MaxSize bounds one envelope; attestations are small documents.
const MaxSize = 16 << 20

// MaxSignatures bounds the signatures on one envelope.
const MaxSignatures = 64

// Envelope is a parsed DSSE envelope.
type Envelope struct {
	PayloadType string
	// Payload is the decoded payload: the statement bytes that were signed.
	Payload    []byte
	Signatures []Signature
	// Raw is the envelope as it was read.
	Raw []byte
}

// Signature is one DSSE signature.
type Signature struct {
	KeyID string // an unsigned hint; never trusted
	Sig   []byte
}

// PayloadDigest is the SHA-256 of the signed payload. Attestations refer to
// each other by this digest: it does not change when signatures are added.
func (e *Envelope) PayloadDigest() digest.Digest {
	return digest.FromBytes(e.Payload)
}

type wireEnvelope struct {
	PayloadType string          `json:"payloadType"`
	Payload     string          `json:"payload"`
	Signatures  []wireSignature `json:"signatures"`
}

type wireSignature struct {
	KeyID string `json:"keyid"`
	Sig   string `json:"sig"`
}

// Parse reads one DSSE envelope strictly.
func Parse(b []byte) (*Envelope, error) {
	if len(b) > MaxSize {
		return nil, fmt.Errorf("parse envelope: larger than %d bytes", MaxSize)
	}
	var w wireEnvelope
	if err := strictjson.Unmarshal(b, &w); err != nil {
		return nil, fmt.Errorf("parse envelope: %w", err)
	}
	if w.PayloadType != PayloadType {
		return nil, fmt.Errorf("parse envelope: payload type is %q, want %q", w.PayloadType, PayloadType)
	}
	payload, err := base64.StdEncoding.Strict().DecodeString(w.Payload)
	if err != nil {
		return nil, fmt.Errorf("parse envelope: payload is not standard base64: %w", err)
	}
	if len(payload) == 0 {
		return nil, errors.New("parse envelope: empty payload")
	}
	if len(w.Signatures) == 0 {
		return nil, errors.New("parse envelope: no signatures")
	}
	if len(w.Signatures) > MaxSignatures {
		return nil, fmt.Errorf("parse envelope: %d signatures, more than %d", len(w.Signatures), MaxSignatures)
	}
	e := &Envelope{PayloadType: w.PayloadType, Payload: payload, Raw: b}
	for i, s := range w.Signatures {
		sig, err := base64.StdEncoding.Strict().DecodeString(s.Sig)
		if err != nil {
			return nil, fmt.Errorf("parse envelope: signature %d is not standard base64: %w", i, err)
		}
		if len(sig) == 0 {
			return nil, fmt.Errorf("parse envelope: signature %d is empty", i)
		}
		e.Signatures = append(e.Signatures, Signature{KeyID: s.KeyID, Sig: sig})
	}
	return e, nil
}

// FromParts makes an envelope from its decoded parts (as a Sigstore bundle
// holds them), checked as Parse checks an envelope read from JSON; Raw is
// its JSON form.
func FromParts(payloadType string, payload []byte, sigs []Signature) (*Envelope, error) {
	w := wireEnvelope{PayloadType: payloadType, Payload: base64.StdEncoding.EncodeToString(payload)}
	for _, s := range sigs {
		w.Signatures = append(w.Signatures, wireSignature{KeyID: s.KeyID, Sig: base64.StdEncoding.EncodeToString(s.Sig)})
	}
	b, err := marshal(w)
	if err != nil {
		return nil, err
	}
	return Parse(b)
}

// PAE is DSSE's pre-authentication encoding of a payload and its type: the
// bytes every signature is over.
//
// Written here rather than taken from go-securesystemslib's dsse package
// (whose PAE is the same bytes, as a test checks): that package imports
// golang.org/x/crypto/ssh for its SSH signers, a module the customer's
// verifier should not carry for one line of the DSSE protocol.
func PAE(payloadType string, payload []byte) []byte {
	b := make([]byte, 0, len("DSSEv1   ")+40+len(payloadType)+len(payload))
	b = append(b, "DSSEv1 "...)
	b = strconv.AppendInt(b, int64(len(payloadType)), 10)
	b = append(b, ' ')
	b = append(b, payloadType...)
	b = append(b, ' ')
	b = strconv.AppendInt(b, int64(len(payload)), 10)
	b = append(b, ' ')
	return append(b, payload...)
}

// Signer signs with one private key (attest/signing reads cosign's).
type Signer interface {
	// Sign returns a signature over message, made as attest/keys checks
	// signatures by the key's type.
	Sign(ctx context.Context, message []byte) ([]byte, error)
	// Public is the public half of the key.
	Public() crypto.PublicKey
}

// Sign makes a DSSE envelope over payload (an in-toto statement) signed by
// each signer in turn, over DSSE's pre-authentication encoding, as cosign's
// DSSE wrapper signs; key ids are left empty, as cosign leaves them. An
// attestation published as a Sigstore bundle has one signer (see
// attest/sigbundle); a co-signer signs the same payload into an envelope of
// its own, and verify counts the signers of one statement over all the
// envelopes that carry it.
func Sign(ctx context.Context, payload []byte, signers ...Signer) ([]byte, error) {
	if len(signers) == 0 {
		return nil, errors.New("sign envelope: no signer")
	}
	w := wireEnvelope{PayloadType: PayloadType, Payload: base64.StdEncoding.EncodeToString(payload)}
	pae := PAE(PayloadType, payload)
	for _, s := range signers {
		sig, err := s.Sign(ctx, pae)
		if err != nil {
			return nil, fmt.Errorf("sign envelope: %w", err)
		}
		w.Signatures = append(w.Signatures, wireSignature{Sig: base64.StdEncoding.EncodeToString(sig)})
	}
	return marshal(w)
}

// marshal writes "keyid": "" when there is no key id, as cosign does.
func marshal(w wireEnvelope) ([]byte, error) {
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("encode envelope: %w", err)
	}
	return b, nil
}

// SignedBy reports which of the given keys produced a valid signature on the
// envelope, by their fingerprints (each at most once): a key counts when any
// signature on the envelope verifies under it, over DSSE's pre-authentication
// encoding (PAE) of the payload type and payload.
//
// This is the check cosign's offline attestation verification makes, done
// once per envelope rather than once per key, and the PAE is hashed once
// per hash function rather than once per key: cosign's path re-decodes the
// whole envelope for every key, which for large hostile envelopes cost more
// than the signatures. Key ids are unsigned hints and are not consulted.
func SignedBy(ctx context.Context, e *Envelope, verifiers []*keys.Verifier) ([]digest.Digest, error) {
	var out []digest.Digest
	seen := map[digest.Digest]bool{}
	pae := PAE(e.PayloadType, e.Payload)
	sums := map[crypto.Hash][]byte{}
	for _, v := range verifiers {
		if seen[v.Fingerprint] {
			continue
		}
		sum, ok := sums[v.Hash()]
		if !ok {
			sum = keys.Sum(v.Hash(), pae)
			sums[v.Hash()] = sum
		}
		for _, s := range e.Signatures {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			if v.VerifyDigest(sum, s.Sig) == nil {
				seen[v.Fingerprint] = true
				out = append(out, v.Fingerprint)
				break
			}
		}
	}
	return out, nil
}
