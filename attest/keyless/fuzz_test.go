package keyless

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"testing"

	"github.com/reprove/reprove/attest/sigbundle"
)

// FuzzVerify: any bundle, checked against Sigstore's public-good root,
// neither panics nor verifies without naming a signer, an issuer and a
// proven time.
func FuzzVerify(f *testing.F) {
	b, err := os.ReadFile("testdata/npm/sigstore-2.0.0.provenance.sigstore.json")
	if err != nil {
		f.Fatal(err)
	}
	rb, err := os.ReadFile("testdata/npm/trusted_root.json")
	if err != nil {
		f.Fatal(err)
	}
	root, err := ParseTrustedRoot(rb, "root")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		bu, err := sigbundle.Parse(b)
		if err != nil {
			return
		}
		s, err := Verify(bu, root)
		if err != nil {
			return
		}
		if s.Subject == "" || s.Issuer == "" || len(s.Times) == 0 {
			t.Fatalf("verified without a signer, issuer or time: %+v", s)
		}
	})
}

// FuzzCertificate: the hand-written readers of certificates (subject
// alternative names, issuer extensions, SCT lists and the precertificate
// a CT log signed) never panic.
func FuzzCertificate(f *testing.F) {
	for _, p := range []string{"testdata/othername.pem"} {
		b, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		blk, _ := pem.Decode(b)
		f.Add(blk.Bytes)
	}
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x01})
	f.Fuzz(func(t *testing.T, der []byte) {
		precertTBS(der)
		parseSCTList(der)
		c, err := x509.ParseCertificate(der)
		if err != nil {
			return
		}
		ClaimOf(c)
		precertTBS(c.RawTBSCertificate)
	})
}

// FuzzParseTrustedRoot: trusted roots never panic the parser, and what it
// accepts trusts a certificate authority.
func FuzzParseTrustedRoot(f *testing.F) {
	b, err := os.ReadFile("testdata/npm/trusted_root.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	f.Add([]byte("{}\n{}"))
	f.Fuzz(func(t *testing.T, b []byte) {
		r, err := ParseTrustedRoot(b, "fuzz")
		if err == nil && len(r.CAs) == 0 {
			t.Fatal("accepted a root without an authority")
		}
	})
}
