package envelope

import (
	"context"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/opencontainers/go-digest"

	ssldsse "github.com/secure-systems-lab/go-securesystemslib/dsse"

	"github.com/reprove/reprove/attest/keys"
	"github.com/reprove/reprove/attest/signing"
)

func testSigner(t testing.TB, name string) (*signing.Signer, *keys.Verifier) {
	t.Helper()
	ctx := context.Background()
	s, err := signing.Load(ctx, filepath.Join("..", "testdata", "keys", name+".key"), []byte("test"))
	if err != nil {
		t.Fatal(err)
	}
	v, err := loadVerifier(filepath.Join("..", "testdata", "keys", name+".pub"))
	if err != nil {
		t.Fatal(err)
	}
	return s, v
}

const payload = `{"_type":"https://in-toto.io/Statement/v1"}`

func TestSignParseSignedBy(t *testing.T) {
	ctx := context.Background()
	a, va := testSigner(t, "rebuilderA")
	b, vb := testSigner(t, "rebuilderB")
	_, vs := testSigner(t, "stranger")

	env, err := Sign(ctx, []byte(payload), a)
	if err != nil {
		t.Fatal(err)
	}
	e, err := Parse(env)
	if err != nil {
		t.Fatal(err)
	}
	if string(e.Payload) != payload || e.PayloadType != PayloadType || len(e.Signatures) != 1 {
		t.Fatalf("parsed %+v", e)
	}
	if e.PayloadDigest() != digest.FromString(payload) {
		t.Errorf("payload digest %s", e.PayloadDigest())
	}

	// Signatures by A and B; then A again (a duplicate).
	env2, err := Sign(ctx, []byte(payload), a, b)
	if err != nil {
		t.Fatal(err)
	}
	e2, _ := Parse(env2)
	env3, _ := Sign(ctx, []byte(payload), a, b, a)
	e3, err := Parse(env3)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		env  *Envelope
		keys []*keys.Verifier
		want []digest.Digest
	}{
		{"one signer", e, []*keys.Verifier{va, vb, vs}, []digest.Digest{va.Fingerprint}},
		{"two signers", e2, []*keys.Verifier{va, vb, vs}, []digest.Digest{va.Fingerprint, vb.Fingerprint}},
		{"duplicate signature counts once", e3, []*keys.Verifier{va, vb}, []digest.Digest{va.Fingerprint, vb.Fingerprint}},
		{"same key listed twice counts once", e3, []*keys.Verifier{va, va, vs}, []digest.Digest{va.Fingerprint}},
		{"no trusted key", e2, []*keys.Verifier{vs}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := SignedBy(ctx, tt.env, tt.keys)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("(-want +got):\n%s", diff)
			}
		})
	}

	// A flipped bit in the signature or the payload: no signer.
	bad := *e
	bad.Signatures = []Signature{{Sig: append([]byte(nil), e.Signatures[0].Sig...)}}
	bad.Signatures[0].Sig[5] ^= 1
	bad.Raw = rewire(t, &bad)
	if got, _ := SignedBy(ctx, &bad, []*keys.Verifier{va}); len(got) != 0 {
		t.Error("tampered signature accepted")
	}
	bad2 := *e
	bad2.Payload = []byte(strings.Replace(payload, "v1", "v2", 1))
	bad2.Raw = rewire(t, &bad2)
	if got, _ := SignedBy(ctx, &bad2, []*keys.Verifier{va}); len(got) != 0 {
		t.Error("tampered payload accepted")
	}
}

func rewire(t *testing.T, e *Envelope) []byte {
	w := wireEnvelope{PayloadType: e.PayloadType, Payload: base64.StdEncoding.EncodeToString(e.Payload)}
	for _, s := range e.Signatures {
		w.Signatures = append(w.Signatures, wireSignature{KeyID: s.KeyID, Sig: base64.StdEncoding.EncodeToString(s.Sig)})
	}
	b, err := marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRefuses(t *testing.T) {
	p := base64.StdEncoding.EncodeToString([]byte(payload))
	sig := base64.StdEncoding.EncodeToString([]byte("sig"))
	tests := []struct {
		name, in, want string
	}{
		{"not JSON", `hello`, "invalid character"},
		{"empty", ``, "unexpected end"},
		{"wrong payload type", `{"payloadType":"text/plain","payload":"` + p + `","signatures":[{"keyid":"","sig":"` + sig + `"}]}`, `payload type is "text/plain"`},
		{"no signatures", `{"payloadType":"application/vnd.in-toto+json","payload":"` + p + `","signatures":[]}`, "no signatures"},
		{"empty signature", `{"payloadType":"application/vnd.in-toto+json","payload":"` + p + `","signatures":[{"sig":""}]}`, "signature 0 is empty"},
		{"bad base64 payload", `{"payloadType":"application/vnd.in-toto+json","payload":"%%%","signatures":[{"sig":"` + sig + `"}]}`, "payload is not standard base64"},
		{"url-safe base64 signature", `{"payloadType":"application/vnd.in-toto+json","payload":"` + p + `","signatures":[{"sig":"-_-_"}]}`, "signature 0 is not standard base64"},
		{"empty payload", `{"payloadType":"application/vnd.in-toto+json","payload":"","signatures":[{"sig":"` + sig + `"}]}`, "empty payload"},
		{"duplicate key", `{"payloadType":"application/vnd.in-toto+json","payloadType":"application/vnd.in-toto+json","payload":"` + p + `","signatures":[{"sig":"` + sig + `"}]}`, `duplicate key "payloadType"`},
		{"case variant", `{"PayloadType":"application/vnd.in-toto+json","payload":"` + p + `","signatures":[{"sig":"` + sig + `"}]}`, `unknown field "PayloadType"`},
		{"unknown field", `{"payloadType":"application/vnd.in-toto+json","payload":"` + p + `","signatures":[{"sig":"` + sig + `","cert":"x"}]}`, `unknown field "cert"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("error %v, want one containing %q", err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "parse envelope: ") {
				t.Errorf("error %q does not say what failed", err)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	ctx := context.Background()
	a, va := testSigner(f, "rebuilderA")
	env, err := Sign(ctx, []byte(payload), a)
	if err != nil {
		f.Fatal(err)
	}
	f.Add(env)
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"keyid":"","sig":"AAAA"}]}`))
	f.Add([]byte(`{"payloadType":"application/vnd.in-toto+json","payload":"e30=","signatures":[{"sig":"AAAA"}],"Payload":"e30="}`))
	f.Fuzz(func(t *testing.T, b []byte) {
		e, err := Parse(b)
		if err != nil {
			return
		}
		if len(e.Payload) == 0 || len(e.Signatures) == 0 || e.PayloadType != PayloadType {
			t.Fatalf("Parse accepted an incomplete envelope: %q", b)
		}
		// Only the one true signature over the one true payload verifies.
		got, err := SignedBy(ctx, e, []*keys.Verifier{va})
		if err != nil {
			t.Fatal(err)
		}
		if len(got) > 0 && string(e.Payload) != payload {
			t.Fatalf("signature verified over another payload %q", e.Payload)
		}
	})
}

// PAE is DSSE's encoding, byte for byte as go-securesystemslib writes it.
func TestPAE(t *testing.T) {
	for _, c := range []struct{ typ, payload string }{
		{PayloadType, payload},
		{"", ""},
		{"http://example.com/HelloWorld", "hello world"},
		{"ü", strings.Repeat("x", 1000)},
	} {
		if got, want := PAE(c.typ, []byte(c.payload)), ssldsse.PAE(c.typ, []byte(c.payload)); string(got) != string(want) {
			t.Errorf("PAE(%q, %q) = %q, want %q", c.typ, c.payload, got, want)
		}
	}
}

// loadVerifier reads a public key file.
func loadVerifier(path string) (*keys.Verifier, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	return keys.ParseVerifier(b, path)
}
