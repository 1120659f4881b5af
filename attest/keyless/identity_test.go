package keyless

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/pem"
	"math/big"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// cert makes a self-signed certificate with the given SANs and
// extensions, to read claims from.
func cert(t *testing.T, tmpl *x509.Certificate) *x509.Certificate {
	t.Helper()
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl.SerialNumber = big.NewInt(1)
	tmpl.NotBefore, tmpl.NotAfter = time.Now(), time.Now().Add(time.Hour)
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, k.Public(), k)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func issuerExt(v1, v2 string) []pkix.Extension {
	var out []pkix.Extension
	if v1 != "" {
		out = append(out, pkix.Extension{Id: oidIssuerV1, Value: []byte(v1)})
	}
	if v2 != "" {
		b, _ := asn1.MarshalWithParams(v2, "utf8")
		out = append(out, pkix.Extension{Id: oidIssuerV2, Value: b})
	}
	return out
}

func TestClaimOf(t *testing.T) {
	u, _ := url.Parse("https://github.com/o/r/.github/workflows/w.yml@refs/heads/main")
	const gh = "https://token.actions.githubusercontent.com"
	tests := []struct {
		name string
		tmpl *x509.Certificate
		want Claim
		err  string
	}{
		{"a workflow URI, both issuer extensions", &x509.Certificate{URIs: []*url.URL{u}, ExtraExtensions: issuerExt(gh, gh)},
			Claim{Subject: u.String(), Issuer: gh}, ""},
		{"an email address, the old issuer extension", &x509.Certificate{EmailAddresses: []string{"alice@example.com"}, ExtraExtensions: issuerExt("https://accounts.google.com", "")},
			Claim{Subject: "alice@example.com", Issuer: "https://accounts.google.com"}, ""},
		{"the new issuer extension alone", &x509.Certificate{EmailAddresses: []string{"a@b.example"}, ExtraExtensions: issuerExt("", gh)},
			Claim{Subject: "a@b.example", Issuer: gh}, ""},
		{"two names", &x509.Certificate{EmailAddresses: []string{"a@b.example"}, URIs: []*url.URL{u}, ExtraExtensions: issuerExt(gh, "")},
			Claim{}, "2 subject alternative names"},
		{"a DNS name", &x509.Certificate{DNSNames: []string{"example.com"}, ExtraExtensions: issuerExt(gh, "")},
			Claim{}, "a subject alternative name of kind [2]"},
		{"no name", &x509.Certificate{ExtraExtensions: issuerExt(gh, "")}, Claim{}, "no subject alternative name"},
		{"no issuer", &x509.Certificate{URIs: []*url.URL{u}}, Claim{}, "no OIDC issuer extension"},
		{"two different issuers", &x509.Certificate{URIs: []*url.URL{u}, ExtraExtensions: issuerExt(gh, "https://evil.example")},
			Claim{}, `two different OIDC issuers ("https://token.actions.githubusercontent.com" and "https://evil.example")`},
		{"an issuer that is not a UTF8String", &x509.Certificate{URIs: []*url.URL{u}, ExtraExtensions: []pkix.Extension{{Id: oidIssuerV2, Value: []byte(gh)}}},
			Claim{}, "is not a UTF8String"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := ClaimOf(cert(t, tt.tmpl))
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("ClaimOf = %v, %v; want an error containing %q", got, err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("claim (-want +got):\n%s", diff)
			}
		})
	}
}

// TestClaimOfUserName: a Fulcio certificate for a user name (an otherName,
// which Go's parser leaves in UnhandledCriticalExtensions) names it. The
// certificate is sigstore-go's (pkg/testing/data/bundles/othername.sigstore.json
// of github.com/sigstore/sigstore-go@v1.1.4).
func TestClaimOfUserName(t *testing.T) {
	b, err := os.ReadFile("testdata/othername.pem")
	if err != nil {
		t.Fatal(err)
	}
	blk, _ := pem.Decode(b)
	c, err := x509.ParseCertificate(blk.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ClaimOf(c)
	if err != nil {
		t.Fatal(err)
	}
	if want := (Claim{Subject: "foo!oidc.local", Issuer: "http://oidc.local:8080"}); got != want {
		t.Errorf("claim %v, want %v", got, want)
	}
}

func TestIdentity(t *testing.T) {
	const gh = "https://token.actions.githubusercontent.com"
	wf := "https://github.com/o/r/.github/workflows/release.yml@refs/tags/v1.2.3"
	exact, err := NewIdentity(gh, wf, "")
	if err != nil {
		t.Fatal(err)
	}
	pat, err := NewIdentity(gh, "", `https://github\.com/o/r/\.github/workflows/release\.yml@refs/tags/v.*`)
	if err != nil {
		t.Fatal(err)
	}
	prefix, err := NewIdentity(gh, "", `https://github\.com/o/`)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		id    *Identity
		claim Claim
		want  bool
	}{
		{exact, Claim{wf, gh}, true},
		{exact, Claim{wf + "x", gh}, false},
		{exact, Claim{wf, "https://evil.example"}, false},
		{exact, Claim{wf, gh + "/"}, false},
		{pat, Claim{wf, gh}, true},
		{pat, Claim{"https://github.com/o/r/.github/workflows/release.yml@refs/heads/main", gh}, false},
		{pat, Claim{"https://evil.example/?" + wf, gh}, false},   // anchored at the start
		{prefix, Claim{wf, gh}, false},                           // anchored at the end
		{prefix, Claim{"https://github.com/o/", gh}, true},       // the whole subject
		{pat, Claim{wf, "https://token.actions.example"}, false}, // issuer exact
	}
	for i, tt := range tests {
		if got := tt.id.Matches(tt.claim); got != tt.want {
			t.Errorf("%d: %s matches %s = %v, want %v", i, tt.id, tt.claim, got, tt.want)
		}
	}
	again, _ := NewIdentity(gh, wf, "")
	if exact.ID() != again.ID() || exact.ID() == pat.ID() || exact.ID().Validate() != nil {
		t.Errorf("IDs: %s %s %s", exact.ID(), again.ID(), pat.ID())
	}
	for _, bad := range []struct{ issuer, subject, pattern, want string }{
		{"", wf, "", "needs its OIDC issuer"},
		{gh, "", "", "needs a subject or a subject pattern"},
		{gh, wf, "x", "not both"},
		{gh, "", "(", "subject pattern: error parsing regexp"},
		{gh + " ", wf, "", "no surrounding spaces"},
	} {
		if _, err := NewIdentity(bad.issuer, bad.subject, bad.pattern); err == nil || !strings.Contains(err.Error(), bad.want) {
			t.Errorf("NewIdentity(%q, %q, %q) = %v; want %q", bad.issuer, bad.subject, bad.pattern, err, bad.want)
		}
	}
}
