package sigbundle

import (
	"bytes"
	"errors"
	"os"
	"strings"
	"testing"

	"github.com/opencontainers/go-digest"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	sgbundle "github.com/sigstore/sigstore-go/pkg/bundle"
	"google.golang.org/protobuf/encoding/protojson"

	"github.com/reprove/reprove/attest/envelope"
)

func testEnvelope(t testing.TB) *envelope.Envelope {
	t.Helper()
	e, err := envelope.FromParts(envelope.PayloadType, []byte(`{"_type":"https://in-toto.io/Statement/v1"}`),
		[]envelope.Signature{{KeyID: "hint", Sig: []byte("signature bytes")}})
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
	if got.Version != "0.3" || got.KeyHint == "" {
		t.Errorf("version %q, hint %q", got.Version, got.KeyHint)
	}
	ge := got.Envelope
	if !bytes.Equal(ge.Payload, e.Payload) || ge.PayloadType != e.PayloadType || len(ge.Signatures) != 1 ||
		!bytes.Equal(ge.Signatures[0].Sig, []byte("signature bytes")) || ge.Signatures[0].KeyID != "hint" {
		t.Errorf("round trip: %+v", ge)
	}
	if ge.PayloadDigest() != e.PayloadDigest() {
		t.Error("payload digest changed")
	}
	if _, err := Marshal(e, "sha256:short"); err == nil {
		t.Error("a bad fingerprint was accepted")
	}
	two, err := envelope.FromParts(envelope.PayloadType, e.Payload, []envelope.Signature{{Sig: []byte("a")}, {Sig: []byte("b")}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Marshal(two, fp); !errors.Is(err, ErrSignatures) {
		t.Errorf("a bundle of two signatures was written: %v", err)
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
		{"unsupported version", strings.Replace(good, "v0.3", "v0.4", 1), `media type "application/vnd.dev.sigstore.bundle.v0.4+json" is not a bundle version`},
		{"patch version", strings.Replace(good, "v0.3", "v0.3.1", 1), "not a bundle version"},
		{"two signatures (the co-signed bundles reprove once wrote)", strings.Replace(good, `"signatures":[{`, `"signatures":[{"sig":"AAAA"},{`, 1),
			"exactly one signature; it carries 2"},
		{"no signature", strings.Replace(good, `"signatures":[{"sig":"c2lnbmF0dXJlIGJ5dGVz","keyid":"hint"}]`, `"signatures":[]`, 1), "it carries 0"},
		{"no material", strings.Replace(good, `"verificationMaterial":{"publicKey":{"hint":"`, `"x":{"y":{"z":"`, 1), `unknown field "x"`},
		{"material missing", `{"mediaType":"` + MediaType + `","dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AAAA"}]}}`,
			"verificationMaterial: missing"},
		{"a chain in v0.3", `{"mediaType":"` + MediaType + `","verificationMaterial":{"x509CertificateChain":{"certificates":[{"rawBytes":"AAAA"}]}},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AAAA"}]}}`,
			"a v0.3 bundle carries a single certificate"},
		{"a v0.2 log entry without a proof", `{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.2","verificationMaterial":{"publicKey":{"hint":"x"},"tlogEntries":[{"logIndex":"1"}]},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AAAA"}]}}`,
			"needs an inclusion proof"},
		{"a v0.1 log entry without a promise", `{"mediaType":"application/vnd.dev.sigstore.bundle+json;version=0.1","verificationMaterial":{"publicKey":{"hint":"x"},"tlogEntries":[{"logIndex":"1"}]},"dsseEnvelope":{"payload":"e30=","payloadType":"application/vnd.in-toto+json","signatures":[{"sig":"AAAA"}]}}`,
			"needs an inclusion promise"},
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
		bu, err := Parse(in)
		if err != nil {
			return
		}
		// Never more lenient than sigstore-go, the reference reader.
		var pb protobundle.Bundle
		if err := protojson.Unmarshal(in, &pb); err != nil {
			t.Fatalf("accepted what protojson refuses: %v", err)
		}
		if _, err := sgbundle.NewBundle(&pb); err != nil {
			t.Fatalf("accepted what sigstore-go refuses: %v", err)
		}
		e := bu.Envelope
		out, err := Marshal(e, digest.FromString("key"))
		if err != nil {
			t.Fatalf("accepted bundle does not write back: %v", err)
		}
		again, err := Parse(out)
		if err != nil || again.Envelope.PayloadDigest() != e.PayloadDigest() {
			t.Fatalf("round trip: %v", err)
		}
	})
}
