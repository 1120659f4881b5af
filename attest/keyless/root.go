package keyless

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/elliptic"
	"crypto/rsa"
	"crypto/x509"
	"errors"
	"fmt"
	"net/url"
	"time"

	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	prototrust "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"

	"github.com/reprove/reprove/attest/internal/strictjson"
)

// Media types of the trusted roots this package reads.
const (
	TrustedRootMediaType01 = "application/vnd.dev.sigstore.trustedroot+json;version=0.1"
	TrustedRootMediaType02 = "application/vnd.dev.sigstore.trustedroot.v0.2+json"
)

// MaxTrustedRootSize bounds a trusted root file (Sigstore's public-good
// root is about 7 kB).
const MaxTrustedRootSize = 4 << 20

// TrustedRoot is what a Sigstore trusted root (trusted_root.json) trusts:
// certificate authorities that issue signing certificates (Fulcio),
// transparency logs (Rekor), certificate transparency logs and timestamp
// authorities, each for the period in which it may be relied on. Several
// roots read together (a file of JSON Lines, as `gh attestation
// trusted-root` prints them) are one TrustedRoot holding all of them.
type TrustedRoot struct {
	CAs    []Authority
	TSAs   []Authority
	Logs   []Log
	CTLogs []Log
}

// Authority is a certificate authority or a timestamp authority.
type Authority struct {
	// Name says which authority in messages: its URI, else its subject.
	Name          string
	Root          *x509.Certificate
	Intermediates []*x509.Certificate
	// Leaf is a timestamp authority's own signing certificate, when the
	// root names it (the first certificate of its chain, not a CA).
	Leaf *x509.Certificate
	Validity
}

// Log is a transparency log (Rekor) or a certificate transparency log.
type Log struct {
	// BaseURL is where the log is served; its host name signs the log's
	// checkpoints.
	BaseURL string
	// ID is the log's id: for Rekor v1 and CT logs, the SHA-256 of its
	// public key's PKIX DER.
	ID  []byte
	Key crypto.PublicKey
	// Hash is the hash its signatures are made over (0 for Ed25519).
	Hash crypto.Hash
	Validity
}

// Validity is the period an authority or log may be relied on; a zero End
// means open.
type Validity struct {
	Start, End time.Time
}

// Contains reports whether t falls in the period.
func (v Validity) Contains(t time.Time) bool {
	return !t.Before(v.Start) && (v.End.IsZero() || !t.After(v.End))
}

// ParseTrustedRoot reads a trusted root file: one trusted root JSON
// document (media type version 0.1 or 0.2), or several as JSON Lines,
// decoded strictly (exact field names, no unknown fields, no duplicate
// keys). name says where it came from in errors.
func ParseTrustedRoot(b []byte, name string) (*TrustedRoot, error) {
	fail := func(format string, a ...any) (*TrustedRoot, error) {
		return nil, fmt.Errorf("read trusted root %s: "+format, append([]any{name}, a...)...)
	}
	if len(b) > MaxTrustedRootSize {
		return fail("larger than %d bytes", MaxTrustedRootSize)
	}
	whole := bytes.TrimSpace(b)
	if len(whole) == 0 {
		return fail("empty")
	}
	docs := [][]byte{whole}
	if err := strictjson.Check(whole); err != nil {
		// JSON Lines: one compact root per line.
		docs = nil
		for _, line := range bytes.Split(whole, []byte("\n")) {
			if line = bytes.TrimSpace(line); len(line) > 0 {
				docs = append(docs, line)
			}
		}
		for _, d := range docs {
			if len(docs) == 1 || d[0] != '{' || d[len(d)-1] != '}' {
				return fail("%w", err)
			}
		}
	}
	out := &TrustedRoot{}
	for i, d := range docs {
		where := ""
		if len(docs) > 1 {
			where = fmt.Sprintf("line %d: ", i+1)
		}
		var pb prototrust.TrustedRoot
		if err := strictjson.UnmarshalProto(d, &pb); err != nil {
			return fail("%s%w", where, err)
		}
		if err := out.add(&pb); err != nil {
			return fail("%s%w", where, err)
		}
	}
	if len(out.CAs) == 0 {
		return fail("it trusts no certificate authority")
	}
	return out, nil
}

func (r *TrustedRoot) add(pb *prototrust.TrustedRoot) error {
	switch pb.GetMediaType() {
	case TrustedRootMediaType01, TrustedRootMediaType02:
	default:
		return fmt.Errorf("media type %q is not a trusted root version this reads (0.1, 0.2)", pb.GetMediaType())
	}
	for i, ca := range pb.GetCertificateAuthorities() {
		a, err := authority(ca, false)
		if err != nil {
			return fmt.Errorf("certificateAuthorities[%d]: %w", i, err)
		}
		r.CAs = append(r.CAs, a)
	}
	for i, ca := range pb.GetTimestampAuthorities() {
		a, err := authority(ca, true)
		if err != nil {
			return fmt.Errorf("timestampAuthorities[%d]: %w", i, err)
		}
		r.TSAs = append(r.TSAs, a)
	}
	for i, l := range pb.GetTlogs() {
		lg, err := transparencyLog(l)
		if err != nil {
			return fmt.Errorf("tlogs[%d]: %w", i, err)
		}
		r.Logs = append(r.Logs, lg)
	}
	for i, l := range pb.GetCtlogs() {
		lg, err := transparencyLog(l)
		if err != nil {
			return fmt.Errorf("ctlogs[%d]: %w", i, err)
		}
		r.CTLogs = append(r.CTLogs, lg)
	}
	return nil
}

// authority reads a certificate authority: its chain, leaf first and root
// last, and its validity. A timestamp authority's chain may start with its
// signing certificate.
func authority(ca *prototrust.CertificateAuthority, tsa bool) (Authority, error) {
	a := Authority{Name: ca.GetUri()}
	if a.Name == "" {
		a.Name = ca.GetSubject().GetCommonName()
		if o := ca.GetSubject().GetOrganization(); o != "" {
			a.Name += " (" + o + ")"
		}
	}
	var err error
	if a.Validity, err = validity(ca.GetValidFor()); err != nil {
		return a, err
	}
	var certs []*x509.Certificate
	for i, c := range ca.GetCertChain().GetCertificates() {
		cert, err := x509.ParseCertificate(c.GetRawBytes())
		if err != nil {
			return a, fmt.Errorf("certChain.certificates[%d]: %w", i, err)
		}
		certs = append(certs, cert)
	}
	if len(certs) == 0 {
		return a, errors.New("certChain: no certificates")
	}
	if tsa && !certs[0].IsCA {
		a.Leaf, certs = certs[0], certs[1:]
		if len(certs) == 0 {
			return a, errors.New("certChain: a signing certificate without the authority that issued it")
		}
	}
	for i, c := range certs {
		if !c.IsCA {
			return a, fmt.Errorf("certChain.certificates[%d] (%s) is not a certificate authority", i, c.Subject)
		}
	}
	a.Root, a.Intermediates = certs[len(certs)-1], certs[:len(certs)-1]
	if err := a.Root.CheckSignatureFrom(a.Root); err != nil {
		return a, fmt.Errorf("certChain: the last certificate (%s) is not a self-signed root: %w", a.Root.Subject, err)
	}
	return a, nil
}

// transparencyLog reads a log's key, id and validity.
func transparencyLog(l *prototrust.TransparencyLogInstance) (Log, error) {
	lg := Log{BaseURL: l.GetBaseUrl(), ID: l.GetLogId().GetKeyId()}
	if l.GetHashAlgorithm() != protocommon.HashAlgorithm_SHA2_256 {
		return lg, fmt.Errorf("hashAlgorithm %s; want SHA2_256", l.GetHashAlgorithm())
	}
	if len(lg.ID) == 0 {
		return lg, errors.New("logId: missing")
	}
	if _, err := url.Parse(lg.BaseURL); err != nil || lg.BaseURL == "" {
		return lg, fmt.Errorf("baseUrl %q is not a URL", lg.BaseURL)
	}
	pk := l.GetPublicKey()
	var err error
	if lg.Validity, err = validity(pk.GetValidFor()); err != nil {
		return lg, fmt.Errorf("publicKey: %w", err)
	}
	if lg.Key, err = x509.ParsePKIXPublicKey(pk.GetRawBytes()); err != nil {
		return lg, fmt.Errorf("publicKey: %w", err)
	}
	if lg.Hash, err = keyHash(lg.Key, pk.GetKeyDetails()); err != nil {
		return lg, fmt.Errorf("publicKey: %w", err)
	}
	return lg, nil
}

// keyHash is the hash a log key of these details signs over; it refuses
// details that do not fit the key.
func keyHash(k crypto.PublicKey, d protocommon.PublicKeyDetails) (crypto.Hash, error) {
	curve := func(c elliptic.Curve) bool { e, ok := k.(*ecdsa.PublicKey); return ok && e.Curve == c }
	_, isRSA := k.(*rsa.PublicKey)
	_, isEd := k.(ed25519.PublicKey)
	switch {
	case d == protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256 && curve(elliptic.P256()):
		return crypto.SHA256, nil
	case d == protocommon.PublicKeyDetails_PKIX_ECDSA_P384_SHA_384 && curve(elliptic.P384()):
		return crypto.SHA384, nil
	case d == protocommon.PublicKeyDetails_PKIX_ECDSA_P521_SHA_512 && curve(elliptic.P521()):
		return crypto.SHA512, nil
	case d == protocommon.PublicKeyDetails_PKIX_ED25519 && isEd:
		return 0, nil
	case isRSA && (d == protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_2048_SHA256 ||
		d == protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_3072_SHA256 ||
		d == protocommon.PublicKeyDetails_PKIX_RSA_PKCS1V15_4096_SHA256):
		return crypto.SHA256, nil
	}
	return 0, fmt.Errorf("keyDetails %s do not describe a %T key this reads", d, k)
}

func validity(tr *protocommon.TimeRange) (Validity, error) {
	if tr.GetStart() == nil {
		return Validity{}, errors.New("validFor.start: missing")
	}
	v := Validity{Start: tr.GetStart().AsTime()}
	if tr.GetEnd() != nil {
		v.End = tr.GetEnd().AsTime()
		if v.End.Before(v.Start) {
			return v, fmt.Errorf("validFor: ends (%s) before it starts (%s)", v.End.Format(time.RFC3339), v.Start.Format(time.RFC3339))
		}
	}
	return v, nil
}

// findLog finds a log of logs by its id.
func findLog(logs []Log, id []byte) (*Log, bool) {
	for i := range logs {
		if bytes.Equal(logs[i].ID, id) {
			return &logs[i], true
		}
	}
	return nil, false
}

func (v Validity) String() string {
	if v.End.IsZero() {
		return "from " + v.Start.Format(time.RFC3339)
	}
	return "from " + v.Start.Format(time.RFC3339) + " to " + v.End.Format(time.RFC3339)
}
