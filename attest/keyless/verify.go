package keyless

import (
	"crypto/ed25519"
	"crypto/x509"
	"errors"
	"fmt"
	"time"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/keys"
	"github.com/reprove/reprove/attest/sigbundle"
)

// The kinds of failure Verify reports, each wrapped by its error.
var (
	// ErrNoCertificate: the bundle is signed with a key, not a certificate.
	ErrNoCertificate = errors.New("the bundle carries no signing certificate")
	// ErrCertificate: the certificate does not parse or names no single
	// signer and issuer.
	ErrCertificate = errors.New("the signing certificate is unusable")
	// ErrSignature: the envelope's signature is not the certificate key's.
	ErrSignature = errors.New("the signature does not verify with the certificate's key")
	// ErrLog: a transparency-log entry of a trusted log does not hold, or
	// none does while the trusted root lists logs.
	ErrLog = errors.New("the transparency log does not show the signature")
	// ErrTimestamp: a signed timestamp does not hold.
	ErrTimestamp = errors.New("a signed timestamp does not hold")
	// ErrNoTime: nothing proves when the signature was made.
	ErrNoTime = errors.New("nothing proves when the signature was made")
	// ErrChain: the certificate was not issued by a trusted authority, or
	// was not valid at a proven time.
	ErrChain = errors.New("the certificate is not trusted at the time the signature was made")
	// ErrSCT: the certificate was not shown to be in a certificate
	// transparency log the trusted root lists.
	ErrSCT = errors.New("the certificate is not shown in a certificate transparency log")
)

// Signer is who Verify proved signed a bundle, and when.
type Signer struct {
	Claim
	// Times are the times the signature is proven to have existed at
	// (each a transparency log's signed entry timestamp or an RFC 3161
	// timestamp), with what proves each; the certificate was valid at
	// every one of them.
	Times []ProvenTime
	// Certificate is the signing certificate.
	Certificate *x509.Certificate
}

// ProvenTime is a time a signature is proven to have existed at.
type ProvenTime struct {
	Time time.Time
	// By names who proves it: "log https://rekor.sigstore.dev" or
	// "timestamp authority …".
	By string
}

// Verify checks a keyless Sigstore bundle offline against a trusted root,
// as Sigstore's clients do, and returns who signed it:
//
//  1. the bundle's DSSE signature verifies with the public key of its
//     signing certificate;
//  2. each transparency-log entry of a log the root lists is checked:
//     its signed entry timestamp by the log's key (within the log's
//     validity), its inclusion proof to a checkpoint the log signed (the
//     proof's tree is the checkpoint's), and its body records this
//     signature, this certificate and this payload. Entries of logs the
//     root does not list are not counted; when the root lists logs, at
//     least one entry must hold;
//  3. each RFC 3161 timestamp is checked (see checkTimestamp);
//  4. at least one time is proven (a signed entry timestamp's integrated
//     time, or a timestamp authority's time: an inclusion proof alone
//     proves no time), and at every proven time the certificate chains,
//     for code signing, to a certificate authority of the root that was
//     valid then;
//  5. when the root lists certificate transparency logs, the certificate
//     carries a valid signed certificate timestamp of one of them;
//  6. the certificate names one signer (subject alternative name) and one
//     OIDC issuer (Fulcio's extension 1.3.6.1.4.1.57264.1.8, or .1.1).
//
// What the signer may sign for is the policy's to decide (Identity).
func Verify(b *sigbundle.Bundle, root *TrustedRoot) (*Signer, error) {
	if len(b.Certificates) == 0 {
		return nil, ErrNoCertificate
	}
	leaf, err := x509.ParseCertificate(b.Certificates[0])
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCertificate, err)
	}
	claim, err := ClaimOf(leaf)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrCertificate, err)
	}
	if leaf.IsCA {
		return nil, fmt.Errorf("%w: it is a certificate authority's", ErrCertificate)
	}
	env := b.Envelope
	if len(env.Signatures) != 1 {
		return nil, fmt.Errorf("%w: the envelope carries %d signatures", ErrSignature, len(env.Signatures))
	}
	sig := env.Signatures[0].Sig
	if err := checkSignature(leaf, env); err != nil {
		return nil, err
	}
	s := &Signer{Claim: claim, Certificate: leaf}

	logged := 0
	type at struct {
		log   string
		index int64
	}
	seen := map[at]bool{}
	for i, e := range b.TlogEntries {
		k := at{string(e.GetLogId().GetKeyId()), e.GetLogIndex()}
		if seen[k] {
			return nil, fmt.Errorf("%w: tlogEntries[%d] repeats an entry", ErrLog, i)
		}
		seen[k] = true
		le, err := root.checkEntry(e, env, leaf)
		if errors.Is(err, ErrUnknownLog) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrLog, err)
		}
		logged++
		if !le.time.IsZero() {
			s.Times = append(s.Times, ProvenTime{Time: le.time, By: "log " + le.log.BaseURL})
		}
	}
	if len(root.Logs) > 0 && logged == 0 {
		return nil, fmt.Errorf("%w: no entry in a transparency log of the trusted root (of %d entries)", ErrLog, len(b.TlogEntries))
	}
	for _, ts := range b.Timestamps {
		t, a, err := root.checkTimestamp(ts, sig)
		if err != nil {
			return nil, fmt.Errorf("%w: %v", ErrTimestamp, err)
		}
		s.Times = append(s.Times, ProvenTime{Time: t, By: "timestamp authority " + a.Name})
	}
	if len(s.Times) == 0 {
		return nil, fmt.Errorf("%w: the bundle has neither a signed entry timestamp of a trusted log nor a signed timestamp", ErrNoTime)
	}
	var issuer *x509.Certificate
	for _, pt := range s.Times {
		chain, err := root.chain(leaf, pt.Time)
		if err != nil {
			return nil, fmt.Errorf("%w: at %s (proven by %s): %v", ErrChain, pt.Time.Format(time.RFC3339), pt.By, err)
		}
		if len(chain) < 2 {
			return nil, fmt.Errorf("%w: the certificate is itself a trusted root", ErrChain)
		}
		issuer = chain[1]
	}
	if err := root.checkSCTs(leaf, issuer); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrSCT, err)
	}
	return s, nil
}

// checkSignature checks the envelope's one signature over DSSE's
// pre-authentication encoding with the certificate's key: ECDSA or RSA
// (PKCS #1 v1.5) over the hash cosign uses for the key, or Ed25519.
func checkSignature(leaf *x509.Certificate, env *envelope.Envelope) error {
	pae := envelope.PAE(env.PayloadType, env.Payload)
	sig := env.Signatures[0].Sig
	if k, ok := leaf.PublicKey.(ed25519.PublicKey); ok {
		if !ed25519.Verify(k, pae, sig) {
			return ErrSignature
		}
		return nil
	}
	h, err := keys.HashFor(leaf.PublicKey)
	if err != nil {
		return fmt.Errorf("%w: %v", ErrSignature, err)
	}
	if !verifySig(leaf.PublicKey, h, pae, sig) {
		return ErrSignature
	}
	return nil
}

// chain verifies the certificate at time t against each certificate
// authority of the root valid at t, for code signing, and returns the
// first chain found (leaf first).
func (r *TrustedRoot) chain(leaf *x509.Certificate, t time.Time) ([]*x509.Certificate, error) {
	// Go's verifier refuses a critical extension it did not parse; the
	// subject alternative name of a Fulcio user name is one (an otherName),
	// which ClaimOf has read.
	l := *leaf
	l.UnhandledCriticalExtensions = nil
	for _, oid := range leaf.UnhandledCriticalExtensions {
		if !oid.Equal(oidSAN) {
			l.UnhandledCriticalExtensions = append(l.UnhandledCriticalExtensions, oid)
		}
	}
	var last error = errors.New("no certificate authority of the trusted root was valid then")
	for i := range r.CAs {
		ca := &r.CAs[i]
		if !ca.Contains(t) {
			continue
		}
		roots := x509.NewCertPool()
		roots.AddCert(ca.Root)
		inter := x509.NewCertPool()
		for _, c := range ca.Intermediates {
			inter.AddCert(c)
		}
		chains, err := l.Verify(x509.VerifyOptions{
			Roots: roots, Intermediates: inter, CurrentTime: t,
			KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageCodeSigning},
		})
		if err != nil {
			last = fmt.Errorf("%s: %w", ca.Name, err)
			continue
		}
		return chains[0], nil
	}
	return nil, last
}
