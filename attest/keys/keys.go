// Package keys reads and writes signing keys in cosign's format: an
// encrypted PEM private key ("ENCRYPTED SIGSTORE PRIVATE KEY", scrypt +
// secretbox, as `cosign generate-key-pair` writes) and a PEM public key
// (PKIX). Keys are generated, encrypted and decrypted by cosign's own
// packages, so the files are interchangeable with the cosign CLI's.
//
// A public key's identity is its Fingerprint: the SHA-256 of its PKIX DER
// encoding. Thresholds count distinct fingerprints, never key ids or names.
package keys

import (
	"context"
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"io"
	"os"

	"github.com/opencontainers/go-digest"
	"github.com/sigstore/cosign/v2/pkg/cosign"
	"github.com/sigstore/sigstore/pkg/cryptoutils"
	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/reprove/reprove/internal/atomicfile"
)

// MaxKeyFileSize bounds what is read from a key file.
const MaxKeyFileSize = 64 << 10

// Pair is a freshly generated key pair, both halves PEM-encoded.
type Pair struct {
	Private []byte // encrypted with the password given to Generate
	Public  []byte
}

// Generate makes a new ECDSA P-256 key pair exactly as
// `cosign generate-key-pair` does, encrypting the private key with password.
func Generate(password []byte) (*Pair, error) {
	kb, err := cosign.GenerateKeyPair(func(bool) ([]byte, error) { return password, nil })
	if err != nil {
		return nil, fmt.Errorf("generate key pair: %w", err)
	}
	return &Pair{Private: kb.PrivateBytes, Public: kb.PublicBytes}, nil
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

// Signer signs with a private key and names its public half.
type Signer struct {
	signature.Signer
	Public      crypto.PublicKey
	Fingerprint digest.Digest
}

// LoadSigner reads and decrypts a cosign-format private key file.
func LoadSigner(ctx context.Context, path string, password []byte) (*Signer, error) {
	b, err := readLimited(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("load private key: %w", err)
	}
	return ParseSigner(b, password, path)
}

// ParseSigner decrypts a cosign-format private key; name says where it came
// from in errors.
func ParseSigner(b, password []byte, name string) (*Signer, error) {
	sv, err := cosign.LoadPrivateKey(b, password, nil)
	if err != nil {
		return nil, fmt.Errorf("load private key %s: %w (is the password right and is it a cosign key?)", name, err)
	}
	pub, err := sv.PublicKey()
	if err != nil {
		return nil, fmt.Errorf("load private key %s: %w", name, err)
	}
	fp, err := Fingerprint(pub)
	if err != nil {
		return nil, fmt.Errorf("load private key %s: %w", name, err)
	}
	return &Signer{Signer: sv, Public: pub, Fingerprint: fp}, nil
}

// Verifier checks signatures made by one public key.
type Verifier struct {
	signature.Verifier
	Public      crypto.PublicKey
	Fingerprint digest.Digest
	// PEM is the key as PEM (PKIX), for tools that take a key file.
	PEM []byte
}

// LoadVerifier reads a PEM public key file.
func LoadVerifier(ctx context.Context, path string) (*Verifier, error) {
	b, err := readLimited(ctx, path)
	if err != nil {
		return nil, fmt.Errorf("load public key: %w", err)
	}
	return ParseVerifier(b, path)
}

// ParseVerifier parses a PEM public key (PKIX) as cosign writes it; name
// says where it came from in errors.
func ParseVerifier(b []byte, name string) (*Verifier, error) {
	pub, err := cryptoutils.UnmarshalPEMToPublicKey(b)
	if err != nil {
		return nil, fmt.Errorf("load public key %s: %w", name, err)
	}
	// ED25519 keys verify as ED25519ph, as cosign's own loader does, so a
	// signature from either tool verifies in the other.
	v, err := signature.LoadDefaultVerifier(pub, options.WithED25519ph())
	if err != nil {
		return nil, fmt.Errorf("load public key %s: %w", name, err)
	}
	fp, err := Fingerprint(pub)
	if err != nil {
		return nil, fmt.Errorf("load public key %s: %w", name, err)
	}
	pemBytes, err := cryptoutils.MarshalPublicKeyToPEM(pub)
	if err != nil {
		return nil, fmt.Errorf("load public key %s: %w", name, err)
	}
	return &Verifier{Verifier: v, Public: pub, Fingerprint: fp, PEM: pemBytes}, nil
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

func readLimited(ctx context.Context, path string) ([]byte, error) {
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
