package keyless

import (
	"bytes"
	"os"
	"strings"
	"testing"
)

func TestParseTrustedRoot(t *testing.T) {
	good, err := os.ReadFile("testdata/npm/trusted_root.json")
	if err != nil {
		t.Fatal(err)
	}
	r, err := ParseTrustedRoot(good, "public-good")
	if err != nil {
		t.Fatal(err)
	}
	if len(r.CAs) != 2 || len(r.Logs) != 1 || len(r.CTLogs) != 2 || len(r.TSAs) != 1 || r.TSAs[0].Leaf == nil ||
		len(r.CAs[1].Intermediates) != 1 || r.Logs[0].BaseURL != "https://rekor.sigstore.dev" || !r.CAs[1].End.IsZero() {
		t.Errorf("root: %d CAs, %d logs, %d CT logs, %d TSAs", len(r.CAs), len(r.Logs), len(r.CTLogs), len(r.TSAs))
	}
	compact := new(bytes.Buffer)
	for _, l := range bytes.Split(good, []byte("\n")) {
		compact.Write(bytes.TrimSpace(l))
	}
	lines := append(append(append([]byte(nil), compact.Bytes()...), '\n'), compact.Bytes()...)
	two, err := ParseTrustedRoot(lines, "two")
	if err != nil {
		t.Fatal(err)
	}
	if len(two.CAs) != 4 || len(two.Logs) != 2 {
		t.Errorf("two roots as JSON Lines: %d CAs, %d logs", len(two.CAs), len(two.Logs))
	}
	s := string(good)
	for _, tt := range []struct{ name, in, want string }{
		{"empty", "", "empty"},
		{"not JSON", "{", "trusted root x: "},
		{"unknown field", strings.Replace(s, `"mediaType"`, `"trustEveryone": true, "mediaType"`, 1), `unknown field "trustEveryone"`},
		{"proto spelling", strings.Replace(s, `"baseUrl"`, `"base_url"`, 1), `unknown field "base_url"`},
		{"duplicate key", strings.Replace(s, `"mediaType": "`, `"mediaType": "x", "mediaType": "`, 1), "duplicate key"},
		{"another media type", strings.Replace(s, "trustedroot+json;version=0.1", "trustedroot+json;version=9", 1), "is not a trusted root version this reads"},
		{"no start of validity", strings.Replace(s, `"start": "2021-01-12T11:53:27.000Z"`, `"end": "2099-01-01T00:00:00Z"`, 1), "tlogs[0]: publicKey: validFor.start: missing"},
		{"key details that do not fit the key", strings.Replace(s, "PKIX_ECDSA_P256_SHA_256", "PKIX_ED25519", 1), "tlogs[0]: publicKey: keyDetails PKIX_ED25519 do not describe"},
		{"no authority", `{"mediaType":"application/vnd.dev.sigstore.trustedroot+json;version=0.1"}`, "it trusts no certificate authority"},
		{"too large", strings.Repeat(" ", MaxTrustedRootSize+1), "larger than"},
	} {
		if _, err := ParseTrustedRoot([]byte(tt.in), "x"); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: %v; want an error containing %q", tt.name, err, tt.want)
		}
	}
}
