// Package keylesstest is a Sigstore made in a test: what attest/keyless
// checks, issued for real, so that keyless bundles can be signed, tampered
// with and verified, by reprove and by cosign, without a network.
//
// sigstore-go's virtual Sigstore (pkg/testing/ca) writes each Rekor entry
// body with Rekor's own types, and its functions make the certificate
// authority's root and intermediate and the timestamp authority's chain;
// timestamps are RFC 3161 responses made by github.com/digitorus/timestamp
// (as the virtual Sigstore makes them, with the authority's certificate in
// the token when asked). The rest is here, because the virtual Sigstore
// cannot do it: certificates are issued as Fulcio issues them, with the OIDC
// issuer extensions and a signed certificate timestamp of a certificate
// transparency log (over the precertificate, RFC 6962), which cosign
// requires; and the transparency log (the virtual one signs checkpoints of
// another size than its proofs) holds a few unrelated entries and then
// each bundle's, signs an RFC 8785 signed entry timestamp per entry and a
// Rekor v1 checkpoint (a signed note named by the log's host) per bundle,
// with inclusion proofs from golang.org/x/mod's tlog. TrustedRoot writes
// a trusted_root.json naming them all, as cosign's --trusted-root reads
// it.
//
// The encodings here (SCTs, checkpoints, signed entry timestamps) are
// written again rather than taken from attest/keyless, so that a mistake
// in one is not hidden by the same mistake in the other; cosign, reading
// the same files in the tests, is the referee.
//
// It is a test kit (beside what it stands in for, as httptest beside
// net/http): nothing but tests imports it, so sigstore-go never reaches
// the customer's verifier.
package keylesstest

import (
	"bytes"
	"context"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	"github.com/digitorus/timestamp"
	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	protobundle "github.com/sigstore/protobuf-specs/gen/pb-go/bundle/v1"
	protocommon "github.com/sigstore/protobuf-specs/gen/pb-go/common/v1"
	protodsse "github.com/sigstore/protobuf-specs/gen/pb-go/dsse"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	prototrust "github.com/sigstore/protobuf-specs/gen/pb-go/trustroot/v1"
	"github.com/sigstore/sigstore-go/pkg/testing/ca"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/types/known/timestamppb"

	"github.com/reprove/reprove/attest/envelope"
)

// Issuer is the OIDC issuer GitHub Actions' tokens name, the one most
// keyless signatures carry.
const Issuer = "https://token.actions.githubusercontent.com"

// Sigstore is a certificate authority, a timestamp authority and a
// transparency log, made for one test.
type Sigstore struct {
	vs  *ca.VirtualSigstore
	tsa tsa
	// fulcio issues the certificates; rogue is an authority the trusted
	// root does not name.
	fulcio, rogue authority

	// Host is the log's host name: its base URL is https://Host and its
	// checkpoints are signed by that name.
	Host   string
	treeID int64
	logKey *ecdsa.PrivateKey
	logID  []byte
	ctKey  *ecdsa.PrivateKey

	mu     sync.Mutex
	hashes []tlog.Hash // the log's stored hashes (tlog.StoredHashes)
	size   int64
}

// New makes a Sigstore whose log already holds a few entries of others.
func New() (*Sigstore, error) {
	vs, err := ca.NewVirtualSigstore()
	if err != nil {
		return nil, err
	}
	s := &Sigstore{vs: vs, Host: "rekor.keylesstest.example", treeID: 1193050959916656506}
	if s.fulcio, err = newAuthority(); err != nil {
		return nil, err
	}
	if s.rogue, err = newAuthority(); err != nil {
		return nil, err
	}
	if s.tsa, err = newTSA(); err != nil {
		return nil, err
	}
	if s.logKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	if s.ctKey, err = ecdsa.GenerateKey(elliptic.P256(), rand.Reader); err != nil {
		return nil, err
	}
	der, err := x509.MarshalPKIXPublicKey(s.logKey.Public())
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(der)
	s.logID = sum[:]
	for i := range 5 {
		if _, err := s.append([]byte(fmt.Sprintf(`{"someone":"else","n":%d}`, i))); err != nil {
			return nil, err
		}
	}
	return s, nil
}

// authority is a certificate authority: a root and an intermediate that
// issues.
type authority struct {
	root, inter *x509.Certificate
	key         crypto.Signer
	start, end  time.Time
}

func newAuthority() (authority, error) {
	rc, rk, err := ca.GenerateRootCa()
	if err != nil {
		return authority{}, err
	}
	ic, ik, err := ca.GenerateFulcioIntermediate(rc, rk)
	if err != nil {
		return authority{}, err
	}
	return authority{root: rc, inter: ic, key: ik, start: time.Now().Add(-5 * time.Hour), end: time.Now().Add(time.Hour)}, nil
}

// tsa is a timestamp authority: a root, an intermediate and the leaf that
// signs, valid from a minute ago for ten minutes.
type tsa struct {
	root, inter, leaf *x509.Certificate
	key, interKey     crypto.Signer
	start, end        time.Time
}

func newTSA() (tsa, error) {
	rc, rk, err := ca.GenerateRootCa()
	if err != nil {
		return tsa{}, err
	}
	ic, ik, err := ca.GenerateTSAIntermediate(rc, rk)
	if err != nil {
		return tsa{}, err
	}
	lk, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return tsa{}, err
	}
	lc, err := ca.GenerateTSALeafCert(time.Now().Add(-time.Minute), lk, ic, ik)
	if err != nil {
		return tsa{}, err
	}
	return tsa{root: rc, inter: ic, leaf: lc, key: lk, interKey: ik, start: time.Now().Add(-5 * time.Hour), end: time.Now().Add(time.Hour)}, nil
}

// RootOptions change the trusted root TrustedRoot writes.
type RootOptions struct {
	// NoCTLog leaves the certificate transparency log out (then no SCT
	// is required).
	NoCTLog bool
	// NoLog leaves the transparency log out.
	NoLog bool
	// NoTSALeaf names the timestamp authority by its root and
	// intermediate only, not its signing certificate.
	NoTSALeaf bool
}

// TrustedRoot is the trusted_root.json of this Sigstore.
func (s *Sigstore) TrustedRoot(o RootOptions) ([]byte, error) {
	pk := func(k *ecdsa.PrivateKey, id []byte) (*prototrust.TransparencyLogInstance, error) {
		der, err := x509.MarshalPKIXPublicKey(k.Public())
		if err != nil {
			return nil, err
		}
		return &prototrust.TransparencyLogInstance{
			BaseUrl: "https://" + s.Host, HashAlgorithm: protocommon.HashAlgorithm_SHA2_256,
			PublicKey: &protocommon.PublicKey{RawBytes: der, KeyDetails: protocommon.PublicKeyDetails_PKIX_ECDSA_P256_SHA_256,
				ValidFor: &protocommon.TimeRange{Start: timestamppb.New(time.Now().Add(-24 * time.Hour))}},
			LogId: &protocommon.LogId{KeyId: id},
		}, nil
	}
	chain := func(cs ...*x509.Certificate) *protocommon.X509CertificateChain {
		c := &protocommon.X509CertificateChain{}
		for _, x := range cs {
			c.Certificates = append(c.Certificates, &protocommon.X509Certificate{RawBytes: x.Raw})
		}
		return c
	}
	tr := &prototrust.TrustedRoot{
		MediaType: "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
		CertificateAuthorities: []*prototrust.CertificateAuthority{{
			Subject:   &protocommon.DistinguishedName{Organization: "sigstore.dev", CommonName: "sigstore"},
			Uri:       "https://fulcio.keylesstest.example",
			CertChain: chain(s.fulcio.inter, s.fulcio.root),
			ValidFor:  &protocommon.TimeRange{Start: timestamppb.New(s.fulcio.start), End: timestamppb.New(s.fulcio.end)},
		}},
		TimestampAuthorities: []*prototrust.CertificateAuthority{{
			Subject:   &protocommon.DistinguishedName{Organization: "sigstore.dev", CommonName: "sigstore-tsa"},
			Uri:       "https://tsa.keylesstest.example",
			CertChain: chain(s.tsa.leaf, s.tsa.inter, s.tsa.root),
			ValidFor:  &protocommon.TimeRange{Start: timestamppb.New(s.tsa.start), End: timestamppb.New(s.tsa.end)},
		}},
	}
	if o.NoTSALeaf {
		tr.TimestampAuthorities[0].CertChain = chain(s.tsa.inter, s.tsa.root)
	}
	if !o.NoLog {
		l, err := pk(s.logKey, s.logID)
		if err != nil {
			return nil, err
		}
		tr.Tlogs = append(tr.Tlogs, l)
	}
	if !o.NoCTLog {
		l, err := pk(s.ctKey, s.ctID())
		if err != nil {
			return nil, err
		}
		l.BaseUrl = "https://ctfe.keylesstest.example"
		tr.Ctlogs = append(tr.Ctlogs, l)
	}
	return protojson.Marshal(tr)
}

// Signer signs as one identity, with the key of a certificate this
// Sigstore issued to it (valid for ten minutes from its making). It is an
// envelope.Signer: attest signs with it as with a key, and Bundle turns
// each envelope into a keyless bundle.
type Signer struct {
	Cert *x509.Certificate
	key  crypto.Signer
}

// CertOptions change the certificate Signer issues.
type CertOptions struct {
	// NoSCT leaves out the signed certificate timestamp.
	NoSCT bool
	// Untrusted issues it from an authority the trusted root does not
	// name.
	Untrusted bool
}

// Signer issues a certificate to subject (a URI when it has "://", else
// an email address), vouched for by issuer.
func (s *Sigstore) Signer(subject, issuer string) (*Signer, error) {
	return s.SignerWith(subject, issuer, CertOptions{})
}

// SignerWith is Signer with options.
func (s *Sigstore) SignerWith(subject, issuer string, o CertOptions) (*Signer, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	a := s.fulcio
	if o.Untrusted {
		a = s.rogue
	}
	cert, err := s.issue(a, subject, issuer, key.Public(), !o.NoSCT)
	if err != nil {
		return nil, err
	}
	return &Signer{Cert: cert, key: key}, nil
}

// issue makes a certificate as Fulcio does: the subject as its one
// subject alternative name, the issuer in extensions 1.3.6.1.4.1.57264.1.1
// (raw) and .1.8 (a UTF8String), for code signing, ten minutes long; with
// sct, the certificate transparency log's timestamp over the
// precertificate (the same certificate without it) is embedded.
func (s *Sigstore) issue(a authority, subject, issuer string, pub crypto.PublicKey, sct bool) (*x509.Certificate, error) {
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	v2, err := asn1.MarshalWithParams(issuer, "utf8")
	if err != nil {
		return nil, err
	}
	now := time.Now().Truncate(time.Second)
	tmpl := &x509.Certificate{
		SerialNumber: serial, NotBefore: now, NotAfter: now.Add(10 * time.Minute),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		ExtraExtensions: []pkix.Extension{
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 1}, Value: []byte(issuer)},
			{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 1, 8}, Value: v2},
		},
	}
	if strings.Contains(subject, "://") {
		u, err := url.Parse(subject)
		if err != nil {
			return nil, err
		}
		tmpl.URIs = []*url.URL{u}
	} else {
		tmpl.EmailAddresses = []string{subject}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.inter, pub, a.key)
	if err != nil {
		return nil, err
	}
	if sct {
		pre, err := x509.ParseCertificate(der)
		if err != nil {
			return nil, err
		}
		list, err := s.sctList(pre.RawTBSCertificate, a.inter)
		if err != nil {
			return nil, err
		}
		tmpl.ExtraExtensions = append(tmpl.ExtraExtensions, pkix.Extension{Id: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 11129, 2, 4, 2}, Value: list})
		if der, err = x509.CreateCertificate(rand.Reader, tmpl, a.inter, pub, a.key); err != nil {
			return nil, err
		}
	}
	return x509.ParseCertificate(der)
}

// sctList is the DER extension value of a list of one SCT by the kit's
// certificate transparency log over a precertificate (RFC 6962 §3.2-3.3).
func (s *Sigstore) sctList(tbs []byte, issuer *x509.Certificate) ([]byte, error) {
	ts := uint64(time.Now().UnixMilli())
	ikh := sha256.Sum256(issuer.RawSubjectPublicKeyInfo)
	var signed []byte
	signed = append(signed, 0, 0) // v1, certificate_timestamp
	signed = binary.BigEndian.AppendUint64(signed, ts)
	signed = append(signed, 0, 1) // precert_entry
	signed = append(signed, ikh[:]...)
	signed = append(signed, byte(len(tbs)>>16), byte(len(tbs)>>8), byte(len(tbs)))
	signed = append(signed, tbs...)
	signed = append(signed, 0, 0) // no extensions
	sum := sha256.Sum256(signed)
	sig, err := ecdsa.SignASN1(rand.Reader, s.ctKey, sum[:])
	if err != nil {
		return nil, err
	}
	var one []byte
	one = append(one, 0)
	one = append(one, s.ctID()...)
	one = binary.BigEndian.AppendUint64(one, ts)
	one = append(one, 0, 0) // extensions
	one = append(one, 4, 3) // sha256, ecdsa
	one = binary.BigEndian.AppendUint16(one, uint16(len(sig)))
	one = append(one, sig...)
	list := binary.BigEndian.AppendUint16(nil, uint16(2+len(one)))
	list = binary.BigEndian.AppendUint16(list, uint16(len(one)))
	list = append(list, one...)
	return asn1.Marshal(list)
}

func (s *Sigstore) ctID() []byte {
	der, _ := x509.MarshalPKIXPublicKey(s.ctKey.Public())
	sum := sha256.Sum256(der)
	return sum[:]
}

// Sign signs message as cosign signs with an ECDSA P-256 key.
func (g *Signer) Sign(_ context.Context, message []byte) ([]byte, error) {
	sum := sha256.Sum256(message)
	return g.key.Sign(rand.Reader, sum[:], crypto.SHA256)
}

// Public is the certificate's key.
func (g *Signer) Public() crypto.PublicKey { return g.key.Public() }

// Options shape one bundle.
type Options struct {
	// IntegratedTime is when the log says it took the entry (default:
	// now).
	IntegratedTime time.Time
	// NoTlog leaves out the log entry; NoPromise its signed entry
	// timestamp; NoProof its inclusion proof (the bundle is then of
	// version 0.1, whose entries need no proof).
	NoTlog, NoPromise, NoProof bool
	// NoTimestamp leaves out the RFC 3161 timestamp; TimestampCert puts
	// the authority's certificate in it.
	NoTimestamp, TimestampCert bool
}

// Bundle signs payload (an in-toto statement) with g into a DSSE envelope
// and returns the Sigstore bundle of it: g's certificate, the log's entry
// for it and a signed timestamp, as o says.
func (s *Sigstore) Bundle(ctx context.Context, g *Signer, payload []byte, o Options) ([]byte, error) {
	raw, err := envelope.Sign(ctx, payload, g)
	if err != nil {
		return nil, err
	}
	env, err := envelope.Parse(raw)
	if err != nil {
		return nil, err
	}
	return s.BundleOf(env, g.Cert, o)
}

// BundleOf makes the Sigstore bundle of an envelope with one signature,
// made with cert's key.
func (s *Sigstore) BundleOf(env *envelope.Envelope, cert *x509.Certificate, o Options) ([]byte, error) {
	if len(env.Signatures) != 1 {
		return nil, errors.New("keylesstest: a bundle holds one signature")
	}
	sig := env.Signatures[0].Sig
	version := "v0.3"
	if o.NoProof {
		version = "0.1"
	}
	pb := &protobundle.Bundle{
		VerificationMaterial: &protobundle.VerificationMaterial{TimestampVerificationData: &protobundle.TimestampVerificationData{}},
		Content: &protobundle.Bundle_DsseEnvelope{DsseEnvelope: &protodsse.Envelope{
			Payload: env.Payload, PayloadType: env.PayloadType,
			Signatures: []*protodsse.Signature{{Sig: sig, Keyid: env.Signatures[0].KeyID}},
		}},
	}
	if version == "v0.3" {
		pb.MediaType = "application/vnd.dev.sigstore.bundle.v0.3+json"
		pb.VerificationMaterial.Content = &protobundle.VerificationMaterial_Certificate{Certificate: &protocommon.X509Certificate{RawBytes: cert.Raw}}
	} else {
		pb.MediaType = "application/vnd.dev.sigstore.bundle+json;version=0.1"
		pb.VerificationMaterial.Content = &protobundle.VerificationMaterial_X509CertificateChain{
			X509CertificateChain: &protocommon.X509CertificateChain{Certificates: []*protocommon.X509Certificate{{RawBytes: cert.Raw}}}}
	}
	if !o.NoTimestamp {
		tsr, err := s.timestamp(sig, o.TimestampCert)
		if err != nil {
			return nil, err
		}
		pb.VerificationMaterial.TimestampVerificationData.Rfc3161Timestamps = []*protocommon.RFC3161SignedTimestamp{{SignedTimestamp: tsr}}
	}
	if !o.NoTlog {
		e, err := s.logEntry(env, cert, o)
		if err != nil {
			return nil, err
		}
		pb.VerificationMaterial.TlogEntries = []*protorekor.TransparencyLogEntry{e}
	}
	return protojson.Marshal(pb)
}

// Timestamp is the timestamp authority's RFC 3161 response over sig, with
// its certificate in the token.
func (s *Sigstore) Timestamp(sig []byte) ([]byte, error) { return s.timestamp(sig, true) }

// TimestampByAnotherLeaf is a response over sig signed by another
// certificate the authority's intermediate issued, which the trusted root
// does not name, carried in the token.
func (s *Sigstore) TimestampByAnotherLeaf(sig []byte) ([]byte, error) {
	k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, err
	}
	c, err := ca.GenerateTSALeafCert(time.Now().Add(-time.Minute), k, s.tsa.inter, s.tsa.interKey)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(sig)
	t := timestamp.Timestamp{HashAlgorithm: crypto.SHA256, HashedMessage: sum[:], Time: time.Now(),
		Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2}, AddTSACertificate: true}
	return t.CreateResponseWithOpts(c, k, crypto.SHA256)
}

func (s *Sigstore) timestamp(sig []byte, withCert bool) ([]byte, error) {
	sum := sha256.Sum256(sig)
	t := timestamp.Timestamp{
		HashAlgorithm: crypto.SHA256, HashedMessage: sum[:], Time: time.Now(),
		Policy: asn1.ObjectIdentifier{1, 3, 6, 1, 4, 1, 57264, 2}, AddTSACertificate: withCert,
	}
	return t.CreateResponseWithOpts(s.tsa.leaf, s.tsa.key, crypto.SHA256)
}

// logEntry logs env as Rekor logs a DSSE envelope (an intoto v0.0.2 entry,
// its body written by Rekor's types through the virtual Sigstore) and
// returns the bundle's entry.
func (s *Sigstore) logEntry(env *envelope.Envelope, cert *x509.Certificate, o Options) (*protorekor.TransparencyLogEntry, error) {
	it := o.IntegratedTime
	if it.IsZero() {
		it = time.Now()
	}
	de := &dsse.Envelope{PayloadType: env.PayloadType, Payload: base64.StdEncoding.EncodeToString(env.Payload),
		Signatures: []dsse.Signature{{KeyID: env.Signatures[0].KeyID, Sig: base64.StdEncoding.EncodeToString(env.Signatures[0].Sig)}}}
	ve, err := s.vs.GenerateTlogEntry(cert, de, env.Signatures[0].Sig, it.Unix(), false)
	if err != nil {
		return nil, fmt.Errorf("keylesstest: rekor entry: %w", err)
	}
	body := ve.TransparencyLogEntry().GetCanonicalizedBody()
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return nil, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	index, err := s.append(body)
	if err != nil {
		return nil, err
	}
	e := &protorekor.TransparencyLogEntry{
		LogIndex: index, LogId: &protocommon.LogId{KeyId: s.logID},
		KindVersion:       &protorekor.KindVersion{Kind: head.Kind, Version: head.APIVersion},
		IntegratedTime:    it.Unix(),
		CanonicalizedBody: body,
	}
	if !o.NoPromise {
		if e.InclusionPromise, err = s.promise(e); err != nil {
			return nil, err
		}
	}
	if !o.NoProof {
		if e.InclusionProof, err = s.proof(index); err != nil {
			return nil, err
		}
	}
	return e, nil
}

// append adds a leaf to the log and returns its index.
func (s *Sigstore) append(leaf []byte) (int64, error) {
	hs, err := tlog.StoredHashes(s.size, leaf, s.reader())
	if err != nil {
		return 0, err
	}
	s.hashes = append(s.hashes, hs...)
	s.size++
	return s.size - 1, nil
}

func (s *Sigstore) reader() tlog.HashReader {
	return tlog.HashReaderFunc(func(idx []int64) ([]tlog.Hash, error) {
		out := make([]tlog.Hash, len(idx))
		for i, x := range idx {
			if x < 0 || x >= int64(len(s.hashes)) {
				return nil, fmt.Errorf("keylesstest: no stored hash %d", x)
			}
			out[i] = s.hashes[x]
		}
		return out, nil
	})
}

// promise signs a Rekor v1 signed entry timestamp for e.
func (s *Sigstore) promise(e *protorekor.TransparencyLogEntry) (*protorekor.InclusionPromise, error) {
	b, err := json.Marshal(map[string]any{
		"body": base64.StdEncoding.EncodeToString(e.CanonicalizedBody), "integratedTime": e.IntegratedTime,
		"logID": hex.EncodeToString(s.logID), "logIndex": e.LogIndex,
	})
	if err != nil {
		return nil, err
	}
	c, err := jsoncanonicalizer.Transform(b)
	if err != nil {
		return nil, err
	}
	sum := sha256.Sum256(c)
	sig, err := ecdsa.SignASN1(rand.Reader, s.logKey, sum[:])
	if err != nil {
		return nil, err
	}
	return &protorekor.InclusionPromise{SignedEntryTimestamp: sig}, nil
}

// proof is the inclusion proof of entry index in the log as it is now,
// with the log's checkpoint for that tree.
func (s *Sigstore) proof(index int64) (*protorekor.InclusionProof, error) {
	p, err := tlog.ProveRecord(s.size, index, s.reader())
	if err != nil {
		return nil, err
	}
	th, err := tlog.TreeHash(s.size, s.reader())
	if err != nil {
		return nil, err
	}
	text := fmt.Sprintf("%s - %d\n%d\n%s\nTimestamp: %d\n", s.Host, s.treeID, s.size, base64.StdEncoding.EncodeToString(th[:]), time.Now().UnixNano())
	signed, err := note.Sign(&note.Note{Text: text}, &noteSigner{s})
	if err != nil {
		return nil, err
	}
	ip := &protorekor.InclusionProof{LogIndex: index, RootHash: bytes.Clone(th[:]), TreeSize: s.size,
		Checkpoint: &protorekor.Checkpoint{Envelope: string(signed)}}
	for _, h := range p {
		ip.Hashes = append(ip.Hashes, bytes.Clone(h[:]))
	}
	return ip, nil
}

// noteSigner signs checkpoints as Rekor v1 does: the log's host name,
// the first four bytes of its id as key hash, an ECDSA signature.
type noteSigner struct{ s *Sigstore }

func (n *noteSigner) Name() string    { return n.s.Host }
func (n *noteSigner) KeyHash() uint32 { return binary.BigEndian.Uint32(n.s.logID[:4]) }
func (n *noteSigner) Sign(msg []byte) ([]byte, error) {
	sum := sha256.Sum256(msg)
	return ecdsa.SignASN1(rand.Reader, n.s.logKey, sum[:])
}
