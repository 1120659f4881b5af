package keys

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestLoadVerifier(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join("..", "testdata", "keys")
	v, err := load(ctx, filepath.Join(dir, "rebuilderA.pub"))
	if err != nil {
		t.Fatal(err)
	}
	fp, err := Fingerprint(v.Public)
	if err != nil || fp != v.Fingerprint {
		t.Errorf("fingerprint %s, Fingerprint() %s %v", v.Fingerprint, fp, err)
	}
	again, err := ParseVerifier(v.PEM, "again")
	if err != nil || again.Fingerprint != v.Fingerprint {
		t.Errorf("PEM does not read back as the same key: %v", err)
	}
	for _, c := range []struct{ name, file, want string }{
		{"private key", filepath.Join(dir, "rebuilderA.key"), "not a public key"},
		{"not PEM", "keys.go", "no PEM block"},
	} {
		if _, err := load(ctx, c.file); err == nil || !strings.Contains(err.Error(), c.want) || !strings.Contains(err.Error(), c.file) {
			t.Errorf("%s: %v, want an error naming %s and saying %q", c.name, err, c.file, c.want)
		}
	}
	big := filepath.Join(t.TempDir(), "big")
	os.WriteFile(big, make([]byte, MaxKeyFileSize+1), 0o644)
	if _, err := load(ctx, big); err == nil || !strings.Contains(err.Error(), "not a key file") {
		t.Errorf("huge file: %v", err)
	}
}

// Keys cosign does not sign with are refused when read.
func TestUnsupportedKeys(t *testing.T) {
	p224, _ := ecdsa.GenerateKey(elliptic.P224(), rand.Reader)
	rsa1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	for _, c := range []struct {
		name string
		pub  any
		want string
	}{
		{"P-224", &p224.PublicKey, "curve P-224"},
		{"RSA 1024", &rsa1024.PublicKey, "1024 bits"},
	} {
		der, err := x509.MarshalPKIXPublicKey(c.pub)
		if err != nil {
			t.Fatal(err)
		}
		_, err = ParseVerifier(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}), c.name)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v, want an error saying %q", c.name, err, c.want)
		}
	}
}

// Each key type: a good signature verifies; one flipped bit, another
// message or another key of the same type does not.
func TestVerify(t *testing.T) {
	msg := []byte("DSSEv1 28 application/vnd.in-toto+json 2 {}")
	for _, kt := range keyTypes(t) {
		t.Run(kt.name, func(t *testing.T) {
			v, err := NewVerifier(kt.key.Public(), kt.name)
			if err != nil {
				t.Fatal(err)
			}
			sig := sign(t, kt, msg)
			if err := v.Verify(msg, sig); err != nil {
				t.Fatalf("good signature: %v", err)
			}
			bad := append([]byte(nil), sig...)
			bad[len(bad)/2] ^= 1
			if v.Verify(msg, bad) == nil {
				t.Error("a flipped bit verified")
			}
			if v.Verify(append(msg, '!'), sig) == nil {
				t.Error("another message verified")
			}
			other := keyTypes(t)
			for _, o := range other {
				if o.name != kt.name {
					continue
				}
				ov, _ := NewVerifier(o.key.Public(), o.name)
				if ov.Verify(msg, sig) == nil {
					t.Error("another key verified")
				}
			}
			if v.VerifyDigest(msg[:3], sig) == nil {
				t.Error("a digest of the wrong length verified")
			}
		})
	}
}

func load(ctx context.Context, path string) (*Verifier, error) {
	b, err := ReadKeyFile(ctx, path)
	if err != nil {
		return nil, err
	}
	return ParseVerifier(b, path)
}
