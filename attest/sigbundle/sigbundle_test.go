package sigbundle

import (
	"bytes"
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/envelope"
)

func testEnvelope(t testing.TB) *envelope.Envelope {
	t.Helper()
	e, err := envelope.FromParts(envelope.PayloadType, []byte(`{"_type":"https://in-toto.io/Statement/v1"}`),
		[]envelope.Signature{{Sig: []byte("signature bytes")}, {KeyID: "hint", Sig: []byte("second")}})
	if err != nil {
		t.Fatal(err)
	}
	return e
}

func TestRoundTrip(t *testing.T) {
	e := testEnvelope(t)
	fp := digest.FromString("key")
	b, err := Marshal(e, fp)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(b, []byte(`"mediaType":"`+MediaType+`"`)) || !bytes.Contains(b, []byte(`"publicKey":{"hint":"`)) {
		t.Errorf("bundle %s", b)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Payload, e.Payload) || got.PayloadType != e.PayloadType || len(got.Signatures) != 2 ||
		!bytes.Equal(got.Signatures[1].Sig, []byte("second")) || got.Signatures[1].KeyID != "hint" {
		t.Errorf("round trip: %+v", got)
	}
	if got.PayloadDigest() != e.PayloadDigest() {
		t.Error("payload digest changed")
	}
	if _, err := Marshal(e, "sha256:short"); err == nil {
		t.Error("a bad fingerprint was accepted")
	}
}

func TestParseRefuses(t *testing.T) {
	b, err := Marshal(testEnvelope(t), digest.FromString("key"))
	if err != nil {
		t.Fatal(err)
	}
	good := string(b)
	tests := []struct{ name, in, want string }{
		{"unknown field", strings.Replace(good, `{"mediaType"`, `{"extra":1,"mediaType"`, 1), `unknown field "extra"`},
		{"proto spelling", strings.Replace(good, `"mediaType"`, `"media_type"`, 1), `unknown field "media_type"`},
		{"duplicate key", strings.Replace(good, `{"mediaType":"`+MediaType+`"`, `{"mediaType":"`+MediaType+`","mediaType":"x"`, 1), "duplicate key"},
		{"unsupported version", strings.Replace(good, "v0.3", "v0.4", 1), "not yet supported"},
		{"no envelope", `{"mediaType":"` + MediaType + `","verificationMaterial":{"publicKey":{"hint":"x"}},"messageSignature":{"messageDigest":{"algorithm":"SHA2_256","digest":"AAAA"},"signature":"AAAA"}}`,
			"holds no DSSE envelope"},
		{"wrong payload type", strings.Replace(good, "application/vnd.in-toto+json", "text/plain", 1), "payload type"},
		{"not JSON", good[:len(good)/2], "parse sigstore bundle"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := Parse([]byte(tt.in)); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want %q", err, tt.want)
			}
		})
	}
}

// FuzzParse: no input panics the bundle reader, and what it accepts writes
// back to a bundle that reads the same.
func FuzzParse(f *testing.F) {
	b, _ := Marshal(testEnvelope(f), digest.FromString("key"))
	f.Add(b)
	f.Add([]byte(`{"mediaType":"application/vnd.dev.sigstore.bundle.v0.3+json"}`))
	// A bundle the real cosign v3.1.3 wrote (attest-blob --bundle, key
	// based, a signing config without a log): its field order and
	// spacing are not ours.
	real, err := os.ReadFile("testdata/cosign-v3.1.3.sigstore.json")
	if err != nil {
		f.Fatal(err)
	}
	if _, err := Parse(real); err != nil {
		f.Fatalf("cosign v3's bundle: %v", err)
	}
	f.Add(real)
	f.Fuzz(func(t *testing.T, in []byte) {
		e, err := Parse(in)
		if err != nil {
			return
		}
		out, err := Marshal(e, digest.FromString("key"))
		if err != nil {
			t.Fatalf("accepted bundle does not write back: %v", err)
		}
		again, err := Parse(out)
		if err != nil || again.PayloadDigest() != e.PayloadDigest() {
			t.Fatalf("round trip: %v", err)
		}
	})
}
