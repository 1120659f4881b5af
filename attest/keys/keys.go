// Package keys reads public keys in the form cosign writes them (PEM, PKIX,
// "PUBLIC KEY"; "RSA PUBLIC KEY" for PKCS #1) and checks signatures made by
// them. It is the customer's side of signing and uses the standard library
// only: the private half (cosign's encrypted keys) is attest/signing's,
// which the verifier never imports.
//
// Each key type verifies as cosign's default verifier for that key does, so
// that a signature from either tool verifies in the other:
//
//   - ECDSA: P-256 with SHA-256, P-384 with SHA-384, P-521 with SHA-512,
//     the signature ASN.1 DER;
//   - RSA of 2048, 3072 or 4096 bits: PKCS #1 v1.5 with SHA-256;
//   - Ed25519: Ed25519ph (the message hashed with SHA-512 first), as cosign
//     uses for Ed25519 keys.
//
// Other keys (another curve, an RSA size cosign does not use) are refused
// when the key is read, not when a signature is checked.
//
// A public key's identity is its Fingerprint: the SHA-256 of its PKIX DER
// encoding. Thresholds count distinct fingerprints, never key ids or names.
package keys

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/go-digest"
)

// MaxKeyFileSize bounds what is read from a key file.
const MaxKeyFileSize = 64 << 10

// Verifier checks signatures made by one public key.
type Verifier struct {
	Public      crypto.PublicKey
	Fingerprint digest.Digest
	// PEM is the key as PEM (PKIX), for tools that take a key file.
	PEM  []byte
	hash crypto.Hash
}

// ParseVerifier parses a PEM public key as cosign writes it; name says
// where it came from in errors.
func ParseVerifier(b []byte, name string) (*Verifier, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("load public key %s: no PEM block", name)
	}
	var pub crypto.PublicKey
	var err error
	switch blk.Type {
	case "PUBLIC KEY":
		pub, err = x509.ParsePKIXPublicKey(blk.Bytes)
	case "RSA PUBLIC KEY":
		pub, err = x509.ParsePKCS1PublicKey(blk.Bytes)
	default:
		return nil, fmt.Errorf("load public key %s: a PEM block of type %q, not a public key", name, blk.Type)
	}
	if err != nil {
		return nil, fmt.Errorf("load public key %s: %w", name, err)
	}
	return NewVerifier(pub, name)
}

// NewVerifier makes a verifier for a public key of a type cosign uses;
// name says where it came from in errors.
func NewVerifier(pub crypto.PublicKey, name string) (*Verifier, error) {
	h, err := HashFor(pub)
	if err != nil {
		return nil, fmt.Errorf("load public key %s: %w", name, err)
	}
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return nil, fmt.Errorf("load public key %s: %w", name, err)
	}
	sum := sha256.Sum256(der)
	return &Verifier{
		Public:      pub,
		Fingerprint: digest.NewDigestFromBytes(digest.SHA256, sum[:]),
		PEM:         pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}),
		hash:        h,
	}, nil
}

// HashFor is the hash that signatures by a key of pub's type are made over
// (see the package doc); it refuses keys cosign does not sign with.
func HashFor(pub crypto.PublicKey) (crypto.Hash, error) {
	switch k := pub.(type) {
	case *ecdsa.PublicKey:
		switch k.Curve {
		case elliptic.P256():
			return crypto.SHA256, nil
		case elliptic.P384():
			return crypto.SHA384, nil
		case elliptic.P521():
			return crypto.SHA512, nil
		}
		return 0, fmt.Errorf("an ECDSA key on curve %s; want P-256, P-384 or P-521", k.Params().Name)
	case *rsa.PublicKey:
		switch k.Size() * 8 {
		case 2048, 3072, 4096:
			return crypto.SHA256, nil
		}
		return 0, fmt.Errorf("an RSA key of %d bits; want 2048, 3072 or 4096", k.Size()*8)
	case ed25519.PublicKey:
		return crypto.SHA512, nil
	}
	return 0, fmt.Errorf("a key of type %T; want ECDSA, RSA or Ed25519", pub)
}

// ErrBadSignature is what Verify returns for a signature that does not
// verify.
var ErrBadSignature = errors.New("the signature does not verify")

// Verify checks sig over message.
func (v *Verifier) Verify(message, sig []byte) error {
	return v.VerifyDigest(Sum(v.hash, message), sig)
}

// Hash is the hash Verify computes over a message (see VerifyDigest).
func (v *Verifier) Hash() crypto.Hash { return v.hash }

// VerifyDigest checks sig over a message whose Hash() is sum, so that a
// caller checking one message against many keys hashes it once per hash.
func (v *Verifier) VerifyDigest(sum, sig []byte) error {
	if len(sum) != v.hash.Size() {
		return fmt.Errorf("verify signature: a digest of %d bytes, want %d", len(sum), v.hash.Size())
	}
	ok := false
	switch k := v.Public.(type) {
	case *ecdsa.PublicKey:
		ok = ecdsa.VerifyASN1(k, sum, sig)
	case *rsa.PublicKey:
		ok = rsa.VerifyPKCS1v15(k, v.hash, sum, sig) == nil
	case ed25519.PublicKey:
		ok = ed25519.VerifyWithOptions(k, sum, sig, &ed25519.Options{Hash: crypto.SHA512}) == nil
	}
	if !ok {
		return ErrBadSignature
	}
	return nil
}

// Sum is the digest of message under h (one of SHA-256, SHA-384, SHA-512).
func Sum(h crypto.Hash, message []byte) []byte {
	hh := h.New()
	hh.Write(message)
	return hh.Sum(nil)
}

// Fingerprint is the SHA-256 digest of the key's PKIX DER encoding: the
// same key always has the same fingerprint, whatever it is called.
func Fingerprint(pub crypto.PublicKey) (digest.Digest, error) {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		return "", fmt.Errorf("fingerprint public key: %w", err)
	}
	sum := sha256.Sum256(der)
	return digest.NewDigestFromBytes(digest.SHA256, sum[:]), nil
}

// ReadKeyFile reads a key file of at most MaxKeyFileSize bytes.
func ReadKeyFile(ctx context.Context, path string) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, MaxKeyFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if len(b) > MaxKeyFileSize {
		return nil, fmt.Errorf("read %s: larger than %d bytes; not a key file", path, MaxKeyFileSize)
	}
	return b, nil
}
