package keys

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"testing"
)

type keyType struct {
	name string
	key  crypto.Signer
}

// keyTypes makes one fresh key of every type cosign signs with.
func keyTypes(t testing.TB) []keyType {
	t.Helper()
	var out []keyType
	for _, c := range []elliptic.Curve{elliptic.P256(), elliptic.P384(), elliptic.P521()} {
		k, err := ecdsa.GenerateKey(c, rand.Reader)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, keyType{"ecdsa-" + c.Params().Name, k})
	}
	r, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	_, ed, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return append(out, keyType{"rsa-2048", r}, keyType{"ed25519", ed})
}

// sign signs as cosign's default signer for the type does, by hand, so
// that the test does not lean on attest/signing.
func sign(t testing.TB, kt keyType, msg []byte) []byte {
	t.Helper()
	h, err := HashFor(kt.key.Public())
	if err != nil {
		t.Fatal(err)
	}
	var opts crypto.SignerOpts = h
	if _, ok := kt.key.(ed25519.PrivateKey); ok {
		opts = &ed25519.Options{Hash: crypto.SHA512}
	}
	sig, err := kt.key.Sign(rand.Reader, Sum(h, msg), opts)
	if err != nil {
		t.Fatal(err)
	}
	return sig
}
