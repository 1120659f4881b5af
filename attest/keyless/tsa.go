package keyless

import (
	"bytes"
	"crypto"
	"crypto/x509"
	"encoding/asn1"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/digitorus/pkcs7"
	"github.com/digitorus/timestamp"
)

var oidExtKeyUsage = asn1.ObjectIdentifier{2, 5, 29, 37}

// checkTimestamp verifies an RFC 3161 timestamp response over a bundle's
// signature bytes and returns the time it proves and the authority that
// signed it. The response is parsed by github.com/digitorus/timestamp
// (and its CMS by github.com/digitorus/pkcs7), small maintained libraries
// on the standard library alone, which sigstore's own timestamp verifier
// stands on; the checks are sigstore's:
//
//   - the token's message imprint is the hash (SHA-256, -384 or -512) of
//     the signature;
//   - its one signer's certificate chains, at the time it states, to a
//     timestamp authority of the trusted root, through that authority's
//     intermediates only, for time stamping;
//   - that certificate is the authority's own when the root names it, and
//     is for time stamping alone, in a critical extension (RFC 3161 §2.3);
//   - the time falls in the authority's validity.
func (r *TrustedRoot) checkTimestamp(resp, sig []byte) (time.Time, *Authority, error) {
	ts, err := timestamp.ParseResponse(resp)
	if err != nil {
		return time.Time{}, nil, fmt.Errorf("signed timestamp: %w", err)
	}
	switch ts.HashAlgorithm {
	case crypto.SHA256, crypto.SHA384, crypto.SHA512:
	default:
		return time.Time{}, nil, fmt.Errorf("signed timestamp: message imprint by %v, not SHA-256, -384 or -512", ts.HashAlgorithm)
	}
	h := ts.HashAlgorithm.New()
	h.Write(sig)
	if !bytes.Equal(h.Sum(nil), ts.HashedMessage) {
		return time.Time{}, nil, errors.New("signed timestamp: it stamps other bytes than the bundle's signature")
	}
	if len(r.TSAs) == 0 {
		return time.Time{}, nil, errors.New("signed timestamp: the trusted root trusts no timestamp authority")
	}
	var errs []string
	for i := range r.TSAs {
		a := &r.TSAs[i]
		if err := a.verifyToken(ts); err != nil {
			errs = append(errs, a.Name+": "+err.Error())
			continue
		}
		return ts.Time.UTC(), a, nil
	}
	return time.Time{}, nil, fmt.Errorf("signed timestamp: signed by no timestamp authority of the trusted root (%s)", strings.Join(errs, "; "))
}

func (a *Authority) verifyToken(ts *timestamp.Timestamp) error {
	p7, err := pkcs7.Parse(ts.RawToken)
	if err != nil {
		return err
	}
	if len(p7.Signers) != 1 {
		return fmt.Errorf("%d signers, want one", len(p7.Signers))
	}
	if a.Leaf != nil {
		// A token need not carry the authority's certificate.
		p7.Certificates = append(p7.Certificates, a.Leaf)
	}
	signer := p7.GetOnlySigner()
	if signer == nil {
		return errors.New("the signer's certificate is not in the token or the trusted root")
	}
	if a.Leaf != nil && !signer.Equal(a.Leaf) {
		return errors.New("signed by another certificate than the authority's own")
	}
	if len(signer.ExtKeyUsage) != 1 || signer.ExtKeyUsage[0] != x509.ExtKeyUsageTimeStamping || len(signer.UnknownExtKeyUsage) > 0 {
		return errors.New("its certificate is not for time stamping alone")
	}
	for _, e := range signer.Extensions {
		if e.Id.Equal(oidExtKeyUsage) && !e.Critical {
			return errors.New("its certificate's extended key usage is not critical")
		}
	}
	if !a.Contains(ts.Time) {
		return fmt.Errorf("it stamps %s, outside the period the trusted root trusts it (%s)", ts.Time.UTC().Format(time.RFC3339), a.Validity)
	}
	roots := x509.NewCertPool()
	roots.AddCert(a.Root)
	inter := x509.NewCertPool()
	for _, c := range a.Intermediates {
		inter.AddCert(c)
	}
	return p7.VerifyWithOpts(x509.VerifyOptions{
		Roots: roots, Intermediates: inter, CurrentTime: ts.Time,
		KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageTimeStamping},
	})
}
