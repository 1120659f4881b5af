package keyless

import (
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/opencontainers/go-digest"
)

// Object identifiers of the certificate extensions read here: the subject
// alternative name (RFC 5280) and Fulcio's identity extensions
// (https://github.com/sigstore/fulcio/blob/main/docs/oid-info.md).
var (
	oidSAN = asn1.ObjectIdentifier{2, 5, 29, 17}
	// oidIssuerV1 holds the OIDC issuer as raw bytes (deprecated, still
	// written); oidIssuerV2 holds it as a DER UTF8String.
	oidIssuerV1 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}
	oidIssuerV2 = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}
	// oidOtherNameSAN types the otherName SAN Fulcio writes for a user
	// name identity (a UTF8String).
	oidOtherNameSAN = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 7}
)

// Claim is who a signing certificate says signed: its subject (the one
// subject alternative name Fulcio writes: an email address, a URI such as
// a GitHub workflow's, or a user name) and the OIDC issuer that vouched
// for it. A claim read from a certificate means nothing until Verify has
// checked the certificate.
type Claim struct {
	Subject string `json:"subject"`
	Issuer  string `json:"issuer"`
}

func (c Claim) String() string { return fmt.Sprintf("%s (issuer %s)", c.Subject, c.Issuer) }

// ClaimOf reads the identity a certificate carries. It refuses a
// certificate whose subject alternative names are not exactly one email
// address, URI or Fulcio user name, and one whose issuer is missing or
// said twice differently.
//
// The names are read from the DER by hand rather than from
// x509.Certificate's EmailAddresses and URIs: Go does not parse otherName
// (Fulcio's user names), and a URI it re-encodes could differ from the
// bytes the certificate holds, which are what a policy must match.
func ClaimOf(cert *x509.Certificate) (Claim, error) {
	var c Claim
	var err error
	if c.Subject, err = subjectOf(cert); err != nil {
		return c, err
	}
	if c.Issuer, err = issuerOf(cert); err != nil {
		return c, err
	}
	return c, nil
}

func subjectOf(cert *x509.Certificate) (string, error) {
	var raw []byte
	for _, e := range cert.Extensions {
		if e.Id.Equal(oidSAN) {
			if raw != nil {
				return "", errors.New("certificate: two subject alternative name extensions")
			}
			raw = e.Value
		}
	}
	if raw == nil {
		return "", errors.New("certificate: no subject alternative name (a signing certificate names its signer there)")
	}
	var names []asn1.RawValue
	if rest, err := asn1.Unmarshal(raw, &names); err != nil || len(rest) > 0 {
		return "", errors.New("certificate: subject alternative names do not parse")
	}
	var found []string
	for _, n := range names {
		if n.Class != asn1.ClassContextSpecific {
			return "", errors.New("certificate: a subject alternative name that is not a GeneralName")
		}
		switch n.Tag {
		case 1, 6: // rfc822Name, uniformResourceIdentifier: IA5String, IMPLICIT
			found = append(found, string(n.Bytes))
		case 0: // otherName: type-id OID, [0] EXPLICIT value
			var on struct {
				TypeID asn1.ObjectIdentifier
				Value  asn1.RawValue `asn1:"tag:0,explicit"`
			}
			if rest, err := asn1.UnmarshalWithParams(n.FullBytes, &on, "tag:0"); err != nil || len(rest) > 0 {
				return "", errors.New("certificate: an otherName subject alternative name does not parse")
			}
			if !on.TypeID.Equal(oidOtherNameSAN) {
				return "", fmt.Errorf("certificate: an otherName subject alternative name of type %s, not a Fulcio user name", on.TypeID)
			}
			var s string
			if rest, err := asn1.UnmarshalWithParams(on.Value.Bytes, &s, "utf8"); err != nil || len(rest) > 0 {
				return "", errors.New("certificate: a Fulcio user name that is not a UTF8String")
			}
			found = append(found, s)
		default:
			return "", fmt.Errorf("certificate: a subject alternative name of kind [%d], not an email address, URI or user name", n.Tag)
		}
	}
	if len(found) != 1 {
		return "", fmt.Errorf("certificate: %d subject alternative names; a signing certificate names one signer", len(found))
	}
	if s := found[0]; s == "" || !utf8.ValidString(s) {
		return "", errors.New("certificate: an empty or non-UTF-8 subject alternative name")
	}
	return found[0], nil
}

func issuerOf(cert *x509.Certificate) (string, error) {
	var v1, v2 *string
	for _, e := range cert.Extensions {
		switch {
		case e.Id.Equal(oidIssuerV1):
			if v1 != nil {
				return "", errors.New("certificate: two OIDC issuer extensions")
			}
			s := string(e.Value)
			v1 = &s
		case e.Id.Equal(oidIssuerV2):
			if v2 != nil {
				return "", errors.New("certificate: two OIDC issuer extensions")
			}
			var s string
			if rest, err := asn1.UnmarshalWithParams(e.Value, &s, "utf8"); err != nil || len(rest) > 0 {
				return "", fmt.Errorf("certificate: the OIDC issuer extension %s is not a UTF8String", oidIssuerV2)
			}
			v2 = &s
		}
	}
	switch {
	case v1 == nil && v2 == nil:
		return "", errors.New("certificate: no OIDC issuer extension (1.3.6.1.4.1.57264.1.8 or .1.1)")
	case v1 != nil && v2 != nil && *v1 != *v2:
		return "", fmt.Errorf("certificate: two different OIDC issuers (%q and %q)", *v1, *v2)
	case v2 != nil:
		if *v2 == "" || !utf8.ValidString(*v2) {
			return "", errors.New("certificate: an empty or non-UTF-8 OIDC issuer")
		}
		return *v2, nil
	}
	if *v1 == "" || !utf8.ValidString(*v1) {
		return "", errors.New("certificate: an empty or non-UTF-8 OIDC issuer")
	}
	return *v1, nil
}

// Identity is a signer a policy trusts without a key: a certificate
// subject, exactly or by a pattern, vouched for by one OIDC issuer, as
// cosign's --certificate-identity (or --certificate-identity-regexp) and
// --certificate-oidc-issuer name one.
type Identity struct {
	Issuer string
	// Subject is matched exactly; SubjectPattern, when Subject is empty,
	// is an RE2 expression that must match the whole subject.
	Subject        string
	SubjectPattern string
	re             *regexp.Regexp
}

// NewIdentity makes an identity of an issuer and either an exact subject
// or a pattern. The pattern is anchored: it must match the whole subject
// (as if written ^(?:pattern)$), so that "https://github.com/org/" does
// not also trust "https://evil.example/?https://github.com/org/".
func NewIdentity(issuer, subject, pattern string) (*Identity, error) {
	id := &Identity{Issuer: issuer, Subject: subject, SubjectPattern: pattern}
	switch {
	case issuer == "":
		return nil, errors.New("an identity needs its OIDC issuer")
	case subject == "" && pattern == "":
		return nil, errors.New("an identity needs a subject or a subject pattern")
	case subject != "" && pattern != "":
		return nil, errors.New("an identity has a subject or a subject pattern, not both")
	case strings.TrimSpace(issuer) != issuer || strings.TrimSpace(subject) != subject:
		return nil, errors.New("an identity's issuer and subject have no surrounding spaces")
	}
	if pattern != "" {
		re, err := regexp.Compile(`^(?:` + pattern + `)$`)
		if err != nil {
			return nil, fmt.Errorf("subject pattern: %w", err)
		}
		id.re = re
	}
	return id, nil
}

// Matches reports whether a claim is this identity.
func (id *Identity) Matches(c Claim) bool {
	if c.Issuer != id.Issuer {
		return false
	}
	if id.re != nil {
		return id.re.MatchString(c.Subject)
	}
	return c.Subject == id.Subject
}

// ID names the identity as a party of a policy, as a key's fingerprint
// names a key: two entries for the same issuer and subject (or the same
// pattern) are one party and count once.
func (id *Identity) ID() digest.Digest {
	kind, v := "subject", id.Subject
	if id.re != nil {
		kind, v = "subjectPattern", id.SubjectPattern
	}
	return digest.FromString("reprove keyless identity v1\nissuer " + id.Issuer + "\n" + kind + " " + v + "\n")
}

func (id *Identity) String() string {
	if id.re != nil {
		return fmt.Sprintf("subject matching %s (issuer %s)", id.SubjectPattern, id.Issuer)
	}
	return fmt.Sprintf("%s (issuer %s)", id.Subject, id.Issuer)
}
