package pe_test

import (
	"bytes"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/reprove/reprove/compare/internal/testexe"
	"github.com/reprove/reprove/compare/pe"
)

func layout(t *testing.T, p string) (*os.File, *pe.Layout) {
	t.Helper()
	f, err := os.Open(p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	l, err := pe.ReadLayout(f, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	return f, l
}

func TestSignatureRoundTrip(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a Windows binary and signs it with osslsigncode")
	}
	unsigned := testexe.Build(t, "windows", "amd64", testexe.Hello("hi"))
	signed := testexe.Sign(t, unsigned, "Example Signer")
	uf, ul := layout(t, unsigned)
	sf, sl := layout(t, signed)
	if ul.Signed() || !sl.Signed() {
		t.Fatalf("Signed() = %v, %v; want false, true", ul.Signed(), sl.Signed())
	}
	sig, err := pe.ReadSignature(sf, sl)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(sig.Signer, "CN=Example Signer") || !sig.DigestMatches || !sig.SignatureValid || sig.DigestAlgorithm != "sha256" {
		t.Errorf("signature = %+v; want signer CN=Example Signer, matching sha256 digest, valid", sig)
	}
	if !pe.PaddingOK(sf, sl, ul.Size) {
		t.Errorf("padding between %d and %d is not zero alignment padding", ul.Size, sl.CertOff)
	}
	strip := pe.Strip{Checksum: true, Signature: true}
	rs, ns := pe.View(sf, sl, strip)
	strip.PadTo = ns
	ru, nu := pe.View(uf, ul, strip)
	a, _ := io.ReadAll(rs)
	b, _ := io.ReadAll(ru)
	if ns != nu || !bytes.Equal(a, b) {
		t.Errorf("stripped signed image (%d bytes) != padded unsigned image (%d bytes)", ns, nu)
	}

	// Tampering with one byte of the signed image breaks the digest match.
	data, _ := os.ReadFile(signed)
	data[ul.Size/2] ^= 0xff
	tampered := t.TempDir() + "/t.exe"
	os.WriteFile(tampered, data, 0o644)
	tf, tl := layout(t, tampered)
	sig, err = pe.ReadSignature(tf, tl)
	if err != nil {
		t.Fatal(err)
	}
	if sig.DigestMatches {
		t.Errorf("tampered image: DigestMatches = true")
	}
}
