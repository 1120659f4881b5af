package signing

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/sigstore/sigstore/pkg/signature"
	"github.com/sigstore/sigstore/pkg/signature/options"

	"github.com/reprove/reprove/attest/keys"
)

func TestGenerateWriteLoad(t *testing.T) {
	ctx := context.Background()
	p, err := Generate([]byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(p.Private, []byte("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")) ||
		!bytes.HasPrefix(p.Public, []byte("-----BEGIN PUBLIC KEY-----")) {
		t.Fatalf("unexpected key format:\n%s\n%s", p.Private, p.Public)
	}
	prefix := filepath.Join(t.TempDir(), "cosign")
	keyPath, pubPath, err := WritePair(ctx, p, prefix, false)
	if err != nil {
		t.Fatal(err)
	}
	if fi, _ := os.Stat(keyPath); fi.Mode().Perm() != 0o600 {
		t.Errorf("private key mode %v, want 0600", fi.Mode().Perm())
	}
	if _, _, err := WritePair(ctx, p, prefix, false); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("overwrite without force: %v", err)
	}
	s, err := Load(ctx, keyPath, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := loadVerifier(pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if s.Fingerprint != v.Fingerprint {
		t.Errorf("signer %s and verifier %s fingerprints differ", s.Fingerprint, v.Fingerprint)
	}
	sig, err := s.Sign(ctx, []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.Verify([]byte("hello"), sig); err != nil {
		t.Errorf("verify: %v", err)
	}
	if _, err := Load(ctx, keyPath, []byte("wrong")); err == nil || !strings.Contains(err.Error(), keyPath) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := Load(ctx, pubPath, []byte("s3cret")); err == nil || !strings.Contains(err.Error(), "not an encrypted cosign private key") {
		t.Errorf("a public key loaded as a private key: %v", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.Sign(cctx, []byte("hello")); err == nil {
		t.Error("signed under a cancelled context")
	}
}

// TestCosignMadeKeys loads keys the cosign CLI generated (testdata/keys):
// each decrypts and matches its public half.
func TestCosignMadeKeys(t *testing.T) {
	ctx := context.Background()
	for _, n := range []string{"rebuilderA", "reviewer1"} {
		s, err := Load(ctx, filepath.Join("..", "testdata", "keys", n+".key"), []byte("test"))
		if err != nil {
			t.Fatal(err)
		}
		v, err := loadVerifier(filepath.Join("..", "testdata", "keys", n+".pub"))
		if err != nil {
			t.Fatal(err)
		}
		if s.Fingerprint != v.Fingerprint {
			t.Errorf("%s: fingerprints differ", n)
		}
	}
}

// Signatures interoperate with Sigstore's signature package, which cosign
// signs and verifies with (options as cosign's key loader sets them): for
// every key type, what reprove signs Sigstore verifies, and what Sigstore
// signs reprove verifies.
func TestSigstoreInterop(t *testing.T) {
	ctx := context.Background()
	msg := []byte("DSSEv1 28 application/vnd.in-toto+json 2 {}")
	var ks []crypto.Signer
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		k, _ := ecdsa.GenerateKey(c, rand.Reader)
		ks = append(ks, k)
	}
	r, _ := rsa.GenerateKey(rand.Reader, 3072)
	_, ed, _ := ed25519.GenerateKey(rand.Reader)
	ks = append(ks, r, ed)
	for _, k := range ks {
		name := typeName(k)
		t.Run(name, func(t *testing.T) {
			s, err := New(k)
			if err != nil {
				t.Fatal(err)
			}
			v, err := keys.NewVerifier(k.Public(), name)
			if err != nil {
				t.Fatal(err)
			}
			sv, err := signature.LoadDefaultSignerVerifier(k, options.WithED25519ph())
			if err != nil {
				t.Fatal(err)
			}
			ours, err := s.Sign(ctx, msg)
			if err != nil {
				t.Fatal(err)
			}
			if err := sv.VerifySignature(bytes.NewReader(ours), bytes.NewReader(msg)); err != nil {
				t.Errorf("Sigstore refuses reprove's signature: %v", err)
			}
			theirs, err := sv.SignMessage(bytes.NewReader(msg))
			if err != nil {
				t.Fatal(err)
			}
			if err := v.Verify(msg, theirs); err != nil {
				t.Errorf("reprove refuses Sigstore's signature: %v", err)
			}
		})
	}
}

func typeName(k crypto.Signer) string {
	switch k := k.(type) {
	case *ecdsa.PrivateKey:
		return "ecdsa-" + k.Curve.Params().Name
	case *rsa.PrivateKey:
		return "rsa"
	}
	return "ed25519"
}

// loadVerifier reads a public key file.
func loadVerifier(path string) (*keys.Verifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return keys.ParseVerifier(b, path)
}
