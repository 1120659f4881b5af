// Package signing makes, reads and uses private keys in cosign's format: a
// PEM block "ENCRYPTED SIGSTORE PRIVATE KEY" (or the older "ENCRYPTED
// COSIGN PRIVATE KEY") holding a PKCS #8 key encrypted with scrypt and
// NaCl secretbox, as `cosign generate-key-pair` writes it, beside a PEM
// public key. The files are interchangeable with the cosign CLI's.
//
// The encryption is go-securesystemslib's encrypted package, the one cosign
// itself calls; the rest is the standard library, so that signing needs
// neither cosign nor Sigstore's clients. Signatures are made as cosign's
// default signer makes them for each key type (see attest/keys, which
// checks them): ECDSA over SHA-256/384/512 by curve, RSA PKCS #1 v1.5 over
// SHA-256, Ed25519ph.
//
// The customer's verifier never imports this package: it only reads public
// keys (attest/keys).
package signing

import (
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"os"

	"github.com/opencontainers/go-digest"
	"github.com/secure-systems-lab/go-securesystemslib/encrypted"

	"github.com/reprove/reprove/attest/keys"
	"github.com/reprove/reprove/internal/atomicfile"
)

// PEM block types of encrypted private keys: what cosign writes now, and
// what it wrote before (both are read).
const (
	SigstorePrivateKeyType = "ENCRYPTED SIGSTORE PRIVATE KEY"
	CosignPrivateKeyType   = "ENCRYPTED COSIGN PRIVATE KEY"
)

// Pair is a freshly generated key pair, both halves PEM-encoded.
type Pair struct {
	Private []byte // encrypted with the password given to Generate
	Public  []byte
}

// Generate makes a new ECDSA P-256 key pair as `cosign generate-key-pair`
// does, encrypting the private key with password.
func Generate(password []byte) (*Pair, error) {
	priv, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key pair: %w", err)
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, fmt.Errorf("generate key pair: %w", err)
	}
	enc, err := encrypted.Encrypt(der, password)
	if err != nil {
		return nil, fmt.Errorf("generate key pair: encrypt the private key: %w", err)
	}
	pubDER, err := x509.MarshalPKIXPublicKey(priv.Public())
	if err != nil {
		return nil, fmt.Errorf("generate key pair: %w", err)
	}
	return &Pair{
		Private: pem.EncodeToMemory(&pem.Block{Type: SigstorePrivateKeyType, Bytes: enc}),
		Public:  pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}),
	}, nil
}

// WritePair writes the pair to prefix+".key" (mode 0600) and prefix+".pub"
// (mode 0644), each atomically. It refuses to overwrite existing files unless
// force is set, and leaves neither file behind if either write fails.
func WritePair(ctx context.Context, p *Pair, prefix string, force bool) (keyPath, pubPath string, err error) {
	keyPath, pubPath = prefix+".key", prefix+".pub"
	if !force {
		for _, f := range []string{keyPath, pubPath} {
			if _, err := os.Lstat(f); err == nil {
				return "", "", fmt.Errorf("write key pair: %s already exists (use --force to replace it)", f)
			}
		}
	}
	if err := ctx.Err(); err != nil {
		return "", "", err
	}
	if err := atomicfile.Write(keyPath, p.Private, 0o600); err != nil {
		return "", "", fmt.Errorf("write private key: %w", err)
	}
	if err := atomicfile.Write(pubPath, p.Public, 0o644); err != nil {
		os.Remove(keyPath)
		return "", "", fmt.Errorf("write public key: %w", err)
	}
	return keyPath, pubPath, nil
}

// Signer signs with one private key. It satisfies envelope.Signer.
type Signer struct {
	key  crypto.Signer
	hash crypto.Hash
	// Fingerprint names the public half (see keys.Fingerprint).
	Fingerprint digest.Digest
}

// Load reads and decrypts a cosign-format private key file.
func Load(ctx context.Context, path string, password []byte) (*Signer, error) {
	b, err := keys.ReadKeyFile(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("load private key: %w", err)
	}
	return Parse(b, password, path)
}

// Parse decrypts a cosign-format private key; name says where it came
// from in errors.
func Parse(b, password []byte, name string) (*Signer, error) {
	blk, _ := pem.Decode(b)
	if blk == nil {
		return nil, fmt.Errorf("load private key %s: no PEM block (is it a cosign key?)", name)
	}
	if blk.Type != SigstorePrivateKeyType && blk.Type != CosignPrivateKeyType {
		return nil, fmt.Errorf("load private key %s: a PEM block of type %q, not an encrypted cosign private key", name, blk.Type)
	}
	der, err := encrypted.Decrypt(blk.Bytes, password)
	if err != nil {
		return nil, fmt.Errorf("load private key %s: %w (is the password right and is it a cosign key?)", name, err)
	}
	k, err := x509.ParsePKCS8PrivateKey(der)
	if err != nil {
		return nil, fmt.Errorf("load private key %s: %w", name, err)
	}
	cs, ok := k.(crypto.Signer)
	if !ok {
		return nil, fmt.Errorf("load private key %s: a %T cannot sign", name, k)
	}
	s, err := New(cs)
	if err != nil {
		return nil, fmt.Errorf("load private key %s: %w", name, err)
	}
	return s, nil
}

// New makes a Signer of a private key already in memory (an ECDSA, RSA or
// Ed25519 key of a kind attest/keys verifies).
func New(key crypto.Signer) (*Signer, error) {
	h, err := keys.HashFor(key.Public())
	if err != nil {
		return nil, err
	}
	fp, err := keys.Fingerprint(key.Public())
	if err != nil {
		return nil, err
	}
	return &Signer{key: key, hash: h, Fingerprint: fp}, nil
}

// Public is the public half.
func (s *Signer) Public() crypto.PublicKey { return s.key.Public() }

// Sign signs message as cosign's default signer for the key's type does.
func (s *Signer) Sign(ctx context.Context, message []byte) ([]byte, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	sum := keys.Sum(s.hash, message)
	var opts crypto.SignerOpts = s.hash
	switch s.key.(type) {
	case ed25519.PrivateKey:
		opts = &ed25519.Options{Hash: crypto.SHA512}
	case *rsa.PrivateKey:
		opts = s.hash // PKCS #1 v1.5
	}
	sig, err := s.key.Sign(rand.Reader, sum, opts)
	if err != nil {
		return nil, fmt.Errorf("sign: %w", err)
	}
	return sig, nil
}
