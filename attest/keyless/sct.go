package keyless

import (
	"crypto"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// oidSCTList is the certificate extension holding embedded signed
// certificate timestamps (RFC 6962 §3.3).
var oidSCTList = asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}

// sct is one signed certificate timestamp: a CT log's promise to publish
// the certificate's precertificate.
type sct struct {
	logID      []byte
	timestamp  uint64 // milliseconds since the epoch
	extensions []byte
	hashAlg    byte
	sigAlg     byte
	sig        []byte
}

// checkSCTs requires, when the trusted root lists certificate transparency
// logs, a signed certificate timestamp embedded in leaf by one of them,
// valid over the leaf's precertificate (issued by issuer) and dated in the
// log's validity. SCTs of logs the root does not list are not counted; one
// of a listed log that does not verify refuses the certificate.
//
// Written by hand (RFC 6962 §3.2, §3.3) on encoding/asn1 rather than with
// github.com/google/certificate-transparency-go, which sigstore-go uses:
// that module would bring its own X.509 fork, gRPC and more to the
// customer's verifier for these hundred lines.
func (r *TrustedRoot) checkSCTs(leaf, issuer *x509.Certificate) error {
	if len(r.CTLogs) == 0 {
		return nil
	}
	var raw []byte
	for _, e := range leaf.Extensions {
		if e.Id.Equal(oidSCTList) {
			if rest, err := asn1.Unmarshal(e.Value, &raw); err != nil || len(rest) > 0 {
				return errors.New("certificate: its signed certificate timestamps do not parse")
			}
		}
	}
	if raw == nil {
		return errors.New("certificate: no signed certificate timestamp, and the trusted root lists certificate transparency logs (the certificate was not shown to be published)")
	}
	scts, err := parseSCTList(raw)
	if err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	tbs, err := precertTBS(leaf.RawTBSCertificate)
	if err != nil {
		return fmt.Errorf("certificate: %w", err)
	}
	keyHash := sha256.Sum256(issuer.RawSubjectPublicKeyInfo)
	verified := 0
	for _, s := range scts {
		lg, ok := findLog(r.CTLogs, s.logID)
		if !ok {
			continue
		}
		t := time.UnixMilli(int64(s.timestamp)).UTC()
		if !lg.Contains(t) {
			continue // as sigstore: a log is trusted for SCTs of its period only
		}
		if s.hashAlg != 4 || (s.sigAlg != 3 && s.sigAlg != 1) { // sha256; ecdsa or rsa
			return fmt.Errorf("certificate: the signed certificate timestamp of %s uses algorithms %d/%d, not SHA-256 with ECDSA or RSA", lg.BaseURL, s.hashAlg, s.sigAlg)
		}
		if !verifySig(lg.Key, crypto.SHA256, s.signedData(keyHash[:], tbs), s.sig) {
			return fmt.Errorf("certificate: the signed certificate timestamp of %s does not verify", lg.BaseURL)
		}
		verified++
	}
	if verified == 0 {
		return fmt.Errorf("certificate: no signed certificate timestamp by a certificate transparency log of the trusted root (of %d embedded)", len(scts))
	}
	return nil
}

// signedData is what a log signs for a precertificate entry (RFC 6962
// §3.2): version, signature type, timestamp, entry type, the issuer's key
// hash, the precertificate's TBSCertificate and the SCT's extensions.
func (s *sct) signedData(issuerKeyHash, tbs []byte) []byte {
	b := make([]byte, 0, 2+8+2+32+3+len(tbs)+2+len(s.extensions))
	b = append(b, 0, 0) // v1, certificate_timestamp
	b = binary.BigEndian.AppendUint64(b, s.timestamp)
	b = append(b, 0, 1) // precert_entry
	b = append(b, issuerKeyHash...)
	b = append(b, byte(len(tbs)>>16), byte(len(tbs)>>8), byte(len(tbs)))
	b = append(b, tbs...)
	b = binary.BigEndian.AppendUint16(b, uint16(len(s.extensions)))
	return append(b, s.extensions...)
}

// parseSCTList reads a TLS-encoded SignedCertificateTimestampList.
func parseSCTList(b []byte) ([]sct, error) {
	bad := errors.New("its signed certificate timestamp list does not parse")
	list, rest, ok := vec16(b)
	if !ok || len(rest) > 0 {
		return nil, bad
	}
	var out []sct
	for len(list) > 0 {
		var one []byte
		if one, list, ok = vec16(list); !ok {
			return nil, bad
		}
		var s sct
		if len(one) < 1+32+8 || one[0] != 0 {
			return nil, errors.New("a signed certificate timestamp that is not version 1")
		}
		s.logID, s.timestamp, one = one[1:33], binary.BigEndian.Uint64(one[33:41]), one[41:]
		if s.extensions, one, ok = vec16(one); !ok || len(one) < 2 {
			return nil, bad
		}
		s.hashAlg, s.sigAlg = one[0], one[1]
		if s.sig, one, ok = vec16(one[2:]); !ok || len(one) > 0 {
			return nil, bad
		}
		out = append(out, s)
		if len(out) > 64 {
			return nil, errors.New("more than 64 signed certificate timestamps")
		}
	}
	return out, nil
}

// vec16 splits a TLS vector with a 16-bit length off b.
func vec16(b []byte) (v, rest []byte, ok bool) {
	if len(b) < 2 {
		return nil, nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return nil, nil, false
	}
	return b[2 : 2+n], b[2+n:], true
}

// precertTBS rebuilds the TBSCertificate the CT log saw: the certificate's
// own, without the SCT list extension (RFC 6962 §3.2). The other fields
// and extensions are kept byte for byte.
func precertTBS(tbs []byte) ([]byte, error) {
	bad := errors.New("its TBSCertificate does not parse")
	var seq asn1.RawValue
	if rest, err := asn1.Unmarshal(tbs, &seq); err != nil || len(rest) > 0 || seq.Tag != asn1.TagSequence {
		return nil, bad
	}
	var out []byte
	for b := seq.Bytes; len(b) > 0; {
		var el asn1.RawValue
		var err error
		if b, err = asn1.Unmarshal(b, &el); err != nil {
			return nil, bad
		}
		if el.Class != asn1.ClassContextSpecific || el.Tag != 3 {
			out = append(out, el.FullBytes...)
			continue
		}
		var exts asn1.RawValue
		if rest, err := asn1.Unmarshal(el.Bytes, &exts); err != nil || len(rest) > 0 {
			return nil, bad
		}
		var kept []byte
		for eb := exts.Bytes; len(eb) > 0; {
			var ext asn1.RawValue
			if eb, err = asn1.Unmarshal(eb, &ext); err != nil {
				return nil, bad
			}
			var e pkix.Extension
			if rest, err := asn1.Unmarshal(ext.FullBytes, &e); err != nil || len(rest) > 0 {
				return nil, bad
			}
			if !e.Id.Equal(oidSCTList) {
				kept = append(kept, ext.FullBytes...)
			}
		}
		inner, err := asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: kept})
		if err != nil {
			return nil, err
		}
		outer, err := asn1.Marshal(asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 3, IsCompound: true, Bytes: inner})
		if err != nil {
			return nil, err
		}
		out = append(out, outer...)
	}
	return asn1.Marshal(asn1.RawValue{Tag: asn1.TagSequence, IsCompound: true, Bytes: out})
}
