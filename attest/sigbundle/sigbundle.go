// Package sigbundle reads and writes Sigstore bundles holding one DSSE
// envelope: v0.3 (application/vnd.dev.sigstore.bundle.v0.3+json), the form
// cosign v3 writes by default and cosign v2 with --new-bundle-format, and,
// for reading, v0.1 and v0.2.
//
// The wire types are the Sigstore bundle specification's own (the
// protobuf-specs Go bindings, decoded with protojson under the strict
// name check of attest/internal/strictjson); the rules the specification
// sets are checked here, by hand, so that the customer's verifier needs
// neither sigstore-go nor cosign (and their Rekor, TUF and gRPC clients):
//
//   - the media type names version 0.1, 0.2 or 0.3; any other is refused;
//   - verification material is present: a public key hint, a certificate,
//     or (before v0.3 only) a certificate chain;
//   - a transparency-log entry carries an inclusion promise (v0.1) or an
//     inclusion proof (v0.2 and later);
//   - the content is a DSSE envelope with exactly one signature (the
//     specification: "a client MUST reject an envelope if the number of
//     signatures is not equal to one"; cosign and sigstore-go refuse such
//     a bundle too). A co-signer publishes a bundle of its own.
//
// reprove signs with keys, offline: the bundles it writes carry a public key
// hint (the base64 SHA-256 of the key's PKIX DER, as cosign writes it) and
// no transparency-log entry or timestamp. Reading, verify uses the
// envelope: signatures are checked against the keys of the customer's
// policy, and logs through reprove's own log bundles (attest/logproof). A
// bundle's certificate is kept in Bundle for a verifier of keyless
// identities; its log entries and timestamps are not used.
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
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/internal/strictjson"
)

// MediaType is the media type of the bundles reprove writes.
const MediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"

// MediaTypePrefix starts the media type of every Sigstore bundle version.
const MediaTypePrefix = "application/vnd.dev.sigstore.bundle"

// versions are the media types the specification defines, by version.
var versions = map[string]string{
	MediaTypePrefix + "+json;version=0.1": "0.1",
	MediaTypePrefix + "+json;version=0.2": "0.2",
	MediaTypePrefix + "+json;version=0.3": "0.3",
	MediaType:                             "0.3",
}

// IsBundle reports whether a mediaType names a Sigstore bundle (of any
// version, so that an unknown one is refused by Parse rather than read as
// something else).
func IsBundle(mediaType string) bool { return strings.HasPrefix(mediaType, MediaTypePrefix) }

// Bundle is a Sigstore bundle as reprove reads it.
type Bundle struct {
	// Version is the bundle's version: "0.1", "0.2" or "0.3".
	Version  string
	Envelope *envelope.Envelope
	// KeyHint is the public key hint, when the material is a key.
	KeyHint string
	// Certificates are the DER certificates of the material, the signing
	// leaf first, when it is a certificate or a chain.
	Certificates [][]byte
}

// ErrSignatures is wrapped by the error for a bundle whose envelope does
// not carry exactly one signature.
var ErrSignatures = errors.New("a Sigstore bundle's envelope must carry exactly one signature")

// Marshal wraps an envelope signed by one key in a v0.3 bundle whose
// verification material is the hint of that key, by its fingerprint fp
// (the sha256 of its PKIX DER, see attest/keys).
func Marshal(e *envelope.Envelope, fp digest.Digest) ([]byte, error) {
	if fp.Validate() != nil || fp.Algorithm() != digest.SHA256 {
		return nil, fmt.Errorf("write sigstore bundle: key fingerprint %q is not a sha256 digest", fp)
	}
	if len(e.Signatures) != 1 {
		return nil, fmt.Errorf("write sigstore bundle: %w, not %d (each co-signer writes a bundle of its own)", ErrSignatures, len(e.Signatures))
	}
	sum, _ := hex.DecodeString(fp.Encoded())
	s := e.Signatures[0]
	pb := &protobundle.Bundle{
		MediaType: MediaType,
		VerificationMaterial: &protobundle.VerificationMaterial{
			Content: &protobundle.VerificationMaterial_PublicKey{
				PublicKey: &protocommon.PublicKeyIdentifier{Hint: base64.StdEncoding.EncodeToString(sum)},
			},
		},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: e.Payload, PayloadType: e.PayloadType,
			Signatures: []*protodsse.Signature{{Sig: s.Sig, Keyid: s.KeyID}},
		}},
	}
	out, err := protojson.Marshal(pb)
	if err != nil {
		return nil, fmt.Errorf("write sigstore bundle: %w", err)
	}
	// What reprove writes it must read back.
	if _, err := Parse(out); err != nil {
		return nil, fmt.Errorf("write sigstore bundle: %w", err)
	}
	return out, nil
}

// Parse reads a Sigstore bundle strictly (exact JSON field names, no
// unknown fields, the rules of the package doc) and returns it with the
// DSSE envelope it holds. A bundle holding a message signature rather than
// an envelope is refused: reprove reads attestations.
func Parse(b []byte) (*Bundle, error) {
	fail := func(format string, a ...any) (*Bundle, error) {
		return nil, fmt.Errorf("parse sigstore bundle: "+format, a...)
	}
	if len(b) > envelope.MaxSize*2 {
		return fail("larger than %d bytes", envelope.MaxSize*2)
	}
	pb := &protobundle.Bundle{}
	if err := strictjson.UnmarshalProto(b, pb); err != nil {
		return fail("%w", err)
	}
	v, ok := versions[pb.GetMediaType()]
	if !ok {
		return fail("media type %q is not a bundle version reprove reads (0.1, 0.2, 0.3)", pb.GetMediaType())
	}
	out := &Bundle{Version: v}
	if err := out.material(pb.GetVerificationMaterial()); err != nil {
		return fail("verificationMaterial: %w", err)
	}
	de := pb.GetDsseEnvelope()
	if de == nil {
		return fail("it holds no DSSE envelope (a message signature is not an attestation)")
	}
	if n := len(de.GetSignatures()); n != 1 {
		return fail("%w; it carries %d", ErrSignatures, n)
	}
	s := de.GetSignatures()[0]
	e, err := envelope.FromParts(de.GetPayloadType(), de.GetPayload(), []envelope.Signature{{KeyID: s.GetKeyid(), Sig: s.GetSig()}})
	if err != nil {
		return fail("%w", err)
	}
	out.Envelope = e
	return out, nil
}

// material checks the verification material for bundle version b.Version
// and keeps the key hint or certificates.
func (b *Bundle) material(m *protobundle.VerificationMaterial) error {
	if m == nil {
		return errors.New("missing")
	}
	switch c := m.GetContent().(type) {
	case *protobundle.VerificationMaterial_PublicKey:
		b.KeyHint = c.PublicKey.GetHint()
	case *protobundle.VerificationMaterial_Certificate:
		if len(c.Certificate.GetRawBytes()) == 0 {
			return errors.New("certificate: empty")
		}
		b.Certificates = [][]byte{c.Certificate.GetRawBytes()}
	case *protobundle.VerificationMaterial_X509CertificateChain:
		if b.Version == "0.3" {
			return errors.New("x509CertificateChain: a v0.3 bundle carries a single certificate")
		}
		for i, cert := range c.X509CertificateChain.GetCertificates() {
			if len(cert.GetRawBytes()) == 0 {
				return fmt.Errorf("x509CertificateChain.certificates[%d]: empty", i)
			}
			b.Certificates = append(b.Certificates, cert.GetRawBytes())
		}
		if len(b.Certificates) == 0 {
			return errors.New("x509CertificateChain: no certificate")
		}
	default:
		return errors.New("neither a public key, a certificate nor a certificate chain")
	}
	for i, t := range m.GetTlogEntries() {
		switch {
		case b.Version == "0.1" && len(t.GetInclusionPromise().GetSignedEntryTimestamp()) == 0:
			return fmt.Errorf("tlogEntries[%d]: a v0.1 bundle's log entry needs an inclusion promise", i)
		case b.Version != "0.1" && t.GetInclusionProof() == nil:
			return fmt.Errorf("tlogEntries[%d]: a v%s bundle's log entry needs an inclusion proof", i, b.Version)
		}
	}
	return nil
}
