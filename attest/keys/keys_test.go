package keys

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
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
	s, err := LoadSigner(ctx, keyPath, []byte("s3cret"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := LoadVerifier(ctx, pubPath)
	if err != nil {
		t.Fatal(err)
	}
	if s.Fingerprint != v.Fingerprint {
		t.Errorf("signer %s and verifier %s fingerprints differ", s.Fingerprint, v.Fingerprint)
	}
	sig, err := s.SignMessage(strings.NewReader("hello"))
	if err != nil {
		t.Fatal(err)
	}
	if err := v.VerifySignature(bytes.NewReader(sig), strings.NewReader("hello")); err != nil {
		t.Errorf("verify: %v", err)
	}
	if _, err := LoadSigner(ctx, keyPath, []byte("wrong")); err == nil || !strings.Contains(err.Error(), keyPath) {
		t.Errorf("wrong password: %v", err)
	}
	if _, err := LoadVerifier(ctx, keyPath); err == nil {
		t.Error("a private key loaded as a public key")
	}
	if _, err := LoadSigner(ctx, pubPath, []byte("s3cret")); err == nil {
		t.Error("a public key loaded as a private key")
	}
	big := filepath.Join(t.TempDir(), "big")
	os.WriteFile(big, make([]byte, MaxKeyFileSize+1), 0o644)
	if _, err := LoadVerifier(ctx, big); err == nil || !strings.Contains(err.Error(), "not a key file") {
		t.Errorf("huge file: %v", err)
	}
}

// TestCosignMadeKeys loads keys the cosign CLI generated (testdata/keys).
func TestCosignMadeKeys(t *testing.T) {
	ctx := context.Background()
	s, err := LoadSigner(ctx, filepath.Join("..", "testdata", "keys", "rebuilderA.key"), []byte("test"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := LoadVerifier(ctx, filepath.Join("..", "testdata", "keys", "rebuilderA.pub"))
	if err != nil {
		t.Fatal(err)
	}
	if s.Fingerprint != v.Fingerprint {
		t.Error("fingerprints differ")
	}
}
