// Package sigbundle reads and writes Sigstore bundles (v0.3,
// application/vnd.dev.sigstore.bundle.v0.3+json) holding one DSSE envelope,
// the form cosign v3 writes by default and cosign v2 with
// --new-bundle-format. Bundles are built and validated with sigstore-go's
// bundle package over the protobuf-specs types, not by hand.
//
// reprove signs with keys, offline: the bundles it writes carry a public key
// hint (the base64 SHA-256 of the key's PKIX DER, as cosign writes it) and
// no transparency-log entry or timestamp. Reading, it takes only the
// envelope: a certificate, Rekor entry or timestamp in a bundle is ignored,
// because reprove checks signatures against the keys of the customer's
// policy, and logs through its own log bundles (attest/logproof).
package sigbundle

import (
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	"github.com/sigstore/sigstore-go/pkg/bundle"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/internal/strictjson"
)

// MediaType is the media type of the bundles reprove writes.
const MediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// MediaTypePrefix starts the media type of every Sigstore bundle version.
const MediaTypePrefix = "application/vnd.dev.sigstore.bundle"

// IsBundle reports whether a mediaType names a Sigstore bundle.
func IsBundle(mediaType string) bool { return strings.HasPrefix(mediaType, MediaTypePrefix) }

// Marshal wraps a signed envelope in a v0.3 bundle whose verification
// material is the hint of the key with fingerprint fp (the sha256 of its
// PKIX DER, see attest/keys).
func Marshal(e *envelope.Envelope, fp digest.Digest) ([]byte, error) {
	if fp.Validate() != nil || fp.Algorithm() != digest.SHA256 {
		return nil, fmt.Errorf("write sigstore bundle: key fingerprint %q is not a sha256 digest", fp)
	}
	sum, _ := hex.DecodeString(fp.Encoded())
	env := &protodsse.Envelope{Payload: e.Payload, PayloadType: e.PayloadType}
	for _, s := range e.Signatures {
		env.Signatures = append(env.Signatures, &protodsse.Signature{Sig: s.Sig, Keyid: s.KeyID})
	}
	pb := &protobundle.Bundle{
		MediaType: MediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{
				PublicKey: &protocommon.PublicKeyIdentifier{Hint: base64.StdEncoding.EncodeToString(sum)},
			},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: env},
	}
	b, err := bundle.NewBundle(pb)
	if err != nil {
		return nil, fmt.Errorf("write sigstore bundle: %w", err)
	}
	out, err := protojson.Marshal(b.Bundle)
	if err != nil {
		return nil, fmt.Errorf("write sigstore bundle: %w", err)
	}
	return out, nil
}

// Parse reads a Sigstore bundle strictly (exact JSON field names, no
// unknown fields, a media type sigstore-go knows, validated by sigstore-go)
// and returns the DSSE envelope it holds. A bundle holding a message
// signature rather than an envelope is refused: reprove reads
// attestations.
func Parse(b []byte) (*envelope.Envelope, error) {
	if len(b) > envelope.MaxSize*2 {
		return nil, fmt.Errorf("parse sigstore bundle: larger than %d bytes", envelope.MaxSize*2)
	}
	pb := &protobundle.Bundle{}
	if err := strictjson.UnmarshalProto(b, pb); err != nil {
		return nil, fmt.Errorf("parse sigstore bundle: %w", err)
	}
	if _, err := bundle.NewBundle(pb); err != nil {
		return nil, fmt.Errorf("parse sigstore bundle: %w", err)
	}
	de := pb.GetDsseEnvelope()
	if de == nil {
		return nil, errors.New("parse sigstore bundle: it holds no DSSE envelope (a message signature is not an attestation)")
	}
	sigs := make([]envelope.Signature, 0, len(de.GetSignatures()))
	for _, s := range de.GetSignatures() {
		sigs = append(sigs, envelope.Signature{KeyID: s.GetKeyid(), Sig: s.GetSig()})
	}
	e, err := envelope.FromParts(de.GetPayloadType(), de.GetPayload(), sigs)
	if err != nil {
		return nil, fmt.Errorf("parse sigstore bundle: %w", err)
	}
	return e, nil
}
