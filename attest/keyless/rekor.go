package keyless

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/ed25519"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	protorekor "github.com/sigstore/protobuf-specs/gen/pb-go/rekor/v1"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/internal/strictjson"
	"github.com/reprove/reprove/attest/logproof"
)

// ErrUnknownLog is wrapped by the error for a log entry of a log the
// trusted root does not list.
var ErrUnknownLog = errors.New("a log the trusted root does not list")

// logEntry is what checkEntry proved of one transparency-log entry.
type logEntry struct {
	log *Log
	// time is the entry's integrated time when the log signed it (in a
	// signed entry timestamp); zero when only an inclusion proof shows
	// the entry, whose integrated time the log did not sign.
	time time.Time
}

// checkEntry checks one Rekor v1 entry of a bundle: that a log of the root
// holds it (by its signed entry timestamp, or an inclusion proof to a
// checkpoint the log signed, or both, each checked), and that it records
// this very signature, by this certificate, over this payload.
//
// Rekor v2 entries (no integrated time, checkpoints signed in the C2SP
// form) are refused: not read yet.
func (r *TrustedRoot) checkEntry(e *protorekor.TransparencyLogEntry, env *envelope.Envelope, leaf *x509.Certificate) (logEntry, error) {
	var le logEntry
	body := e.GetCanonicalizedBody()
	switch {
	case len(body) == 0:
		return le, errors.New("no canonicalized body")
	case e.GetKindVersion() == nil:
		return le, errors.New("no kind and version")
	case e.GetLogIndex() < 0:
		return le, fmt.Errorf("log index %d", e.GetLogIndex())
	case len(e.GetLogId().GetKeyId()) == 0:
		return le, errors.New("no log id")
	}
	lg, ok := findLog(r.Logs, e.GetLogId().GetKeyId())
	if !ok {
		return le, fmt.Errorf("log %s: %w", base64.StdEncoding.EncodeToString(e.GetLogId().GetKeyId()), ErrUnknownLog)
	}
	le.log = lg
	if err := checkBody(body, e.GetKindVersion(), env, leaf); err != nil {
		return le, fmt.Errorf("%s entry %d: %w", lg.BaseURL, e.GetLogIndex(), err)
	}
	promise, proof := e.GetInclusionPromise().GetSignedEntryTimestamp(), e.GetInclusionProof()
	if len(promise) == 0 && proof == nil {
		return le, fmt.Errorf("%s entry %d: neither a signed entry timestamp nor an inclusion proof", lg.BaseURL, e.GetLogIndex())
	}
	if len(promise) > 0 {
		t := time.Unix(e.GetIntegratedTime(), 0).UTC()
		if e.GetIntegratedTime() <= 0 {
			return le, fmt.Errorf("%s entry %d: a signed entry timestamp without an integrated time", lg.BaseURL, e.GetLogIndex())
		}
		if !lg.Contains(t) {
			return le, fmt.Errorf("%s entry %d: integrated at %s, outside the period the trusted root trusts the log (%s)", lg.BaseURL, e.GetLogIndex(), t.Format(time.RFC3339), lg.Validity)
		}
		if err := checkSET(lg, e, promise); err != nil {
			return le, fmt.Errorf("%s entry %d: %w", lg.BaseURL, e.GetLogIndex(), err)
		}
		le.time = t
	}
	if proof != nil {
		if err := checkInclusion(lg, body, proof); err != nil {
			return le, fmt.Errorf("%s entry %d: %w", lg.BaseURL, e.GetLogIndex(), err)
		}
	}
	return le, nil
}

// checkSET checks a Rekor v1 signed entry timestamp: the log's signature
// over the RFC 8785 JSON of the body, integrated time, log id and index.
func checkSET(lg *Log, e *protorekor.TransparencyLogEntry, set []byte) error {
	payload, err := json.Marshal(struct {
		Body           string `json:"body"`
		IntegratedTime int64  `json:"integratedTime"`
		LogID          string `json:"logID"`
		LogIndex       int64  `json:"logIndex"`
	}{base64.StdEncoding.EncodeToString(e.GetCanonicalizedBody()), e.GetIntegratedTime(), hex.EncodeToString(e.GetLogId().GetKeyId()), e.GetLogIndex()})
	if err != nil {
		return err
	}
	canon, err := jsoncanonicalizer.Transform(payload)
	if err != nil {
		return err
	}
	if !verifySig(lg.Key, lg.Hash, canon, set) {
		return errors.New("its signed entry timestamp is not the log's signature")
	}
	return nil
}

// checkInclusion checks a Rekor v1 inclusion proof: the entry's leaf
// hash leads by the proof to the root hash of a tree of the proof's size,
// and a checkpoint the log signed names that same size and root.
func checkInclusion(lg *Log, body []byte, p *protorekor.InclusionProof) error {
	if p.GetTreeSize() <= 0 || p.GetLogIndex() < 0 || p.GetLogIndex() >= p.GetTreeSize() {
		return fmt.Errorf("inclusion proof: index %d in a tree of size %d", p.GetLogIndex(), p.GetTreeSize())
	}
	if len(p.GetRootHash()) != tlog.HashSize {
		return fmt.Errorf("inclusion proof: a root hash of %d bytes", len(p.GetRootHash()))
	}
	if len(p.GetHashes()) > logproof.MaxProofHashes {
		return fmt.Errorf("inclusion proof: %d hashes", len(p.GetHashes()))
	}
	hashes := make([]tlog.Hash, len(p.GetHashes()))
	for i, h := range p.GetHashes() {
		if len(h) != tlog.HashSize {
			return fmt.Errorf("inclusion proof: hash %d is %d bytes", i, len(h))
		}
		copy(hashes[i][:], h)
	}
	var root tlog.Hash
	copy(root[:], p.GetRootHash())
	cp, err := openCheckpoint(lg, p.GetCheckpoint().GetEnvelope())
	if err != nil {
		return err
	}
	if cp.Size != p.GetTreeSize() || cp.Hash != root {
		return fmt.Errorf("inclusion proof: for a tree of size %d, but the checkpoint the log signed is of size %d with another root", p.GetTreeSize(), cp.Size)
	}
	if err := logproof.VerifyInclusion(body, p.GetLogIndex(), hashes, cp); err != nil {
		return err
	}
	return nil
}

// openCheckpoint verifies a Rekor v1 checkpoint, a signed note whose
// signature line is named by the log's host name and keyed by the first
// four bytes of the log's id, and whose origin is that host name followed
// by " - " and the tree's id.
func openCheckpoint(lg *Log, signed string) (logproof.Checkpoint, error) {
	u, err := url.Parse(lg.BaseURL)
	if err != nil || u.Hostname() == "" || len(lg.ID) < 4 {
		return logproof.Checkpoint{}, fmt.Errorf("checkpoint: the trusted root names the log by %q, without a host name to check its checkpoints by", lg.BaseURL)
	}
	if len(signed) > logproof.MaxCheckpoint {
		return logproof.Checkpoint{}, errors.New("checkpoint: too large")
	}
	v := &noteVerifier{name: u.Hostname(), hash: binary.BigEndian.Uint32(lg.ID[:4]), log: lg}
	n, err := note.Open([]byte(signed), note.VerifierList(v))
	if err != nil {
		return logproof.Checkpoint{}, fmt.Errorf("checkpoint: not signed by the log: %w", err)
	}
	cp, err := logproof.ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return cp, fmt.Errorf("checkpoint: %w", err)
	}
	host, tree, ok := strings.Cut(cp.Origin, " - ")
	if _, nerr := strconv.ParseUint(tree, 10, 64); !ok || nerr != nil || host != u.Hostname() {
		return cp, fmt.Errorf("checkpoint: origin %q is not the log %s's (%s - <tree id>)", cp.Origin, lg.BaseURL, u.Hostname())
	}
	return cp, nil
}

// noteVerifier checks the signature on a Rekor v1 checkpoint with the
// log's key (golang.org/x/mod/sumdb/note knows only Ed25519 note keys).
type noteVerifier struct {
	name string
	hash uint32
	log  *Log
}

func (v *noteVerifier) Name() string    { return v.name }
func (v *noteVerifier) KeyHash() uint32 { return v.hash }
func (v *noteVerifier) Verify(msg, sig []byte) bool {
	return verifySig(v.log.Key, v.log.Hash, msg, sig)
}

// verifySig checks a log's signature over msg: ECDSA (ASN.1), RSA PKCS #1
// v1.5, or Ed25519, as the trusted root describes the key.
func verifySig(k crypto.PublicKey, h crypto.Hash, msg, sig []byte) bool {
	if pk, ok := k.(ed25519.PublicKey); ok {
		return ed25519.Verify(pk, msg, sig)
	}
	if h == 0 || !h.Available() {
		return false
	}
	hh := h.New()
	hh.Write(msg)
	sum := hh.Sum(nil)
	switch pk := k.(type) {
	case *ecdsa.PublicKey:
		return ecdsa.VerifyASN1(pk, sum, sig)
	case *rsa.PublicKey:
		return rsa.VerifyPKCS1v15(pk, h, sum, sig) == nil
	}
	return false
}

// The Rekor v1 entry bodies a DSSE envelope is logged as, with only the
// fields Rekor writes (decoded strictly: an unknown field is refused, so
// two readers cannot see two entries in one body).
type (
	rekorHash struct {
		Algorithm string `json:"algorithm"`
		Value     string `json:"value"`
	}
	// intoto v0.0.2: the envelope's signatures with the signing
	// certificate (base64 of its PEM), each signature base64 twice.
	intotoBody struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Spec       struct {
			Content struct {
				Envelope struct {
					PayloadType string `json:"payloadType"`
					Payload     string `json:"payload"`
					Signatures  []struct {
						KeyID     string `json:"keyid"`
						PublicKey string `json:"publicKey"`
						Sig       string `json:"sig"`
					} `json:"signatures"`
				} `json:"envelope"`
				Hash        *rekorHash `json:"hash"`
				PayloadHash *rekorHash `json:"payloadHash"`
			} `json:"content"`
		} `json:"spec"`
	}
	// dsse v0.0.1: the envelope's and the payload's hashes, and each
	// signature (base64) with its verifier (base64 of a PEM).
	dsseBody struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
		Spec       struct {
			EnvelopeHash *rekorHash `json:"envelopeHash"`
			PayloadHash  *rekorHash `json:"payloadHash"`
			Signatures   []struct {
				Signature string `json:"signature"`
				Verifier  string `json:"verifier"`
			} `json:"signatures"`
		} `json:"spec"`
	}
)

// checkBody refuses a log entry that is not of this signature: its kind
// and version must be the entry's, it must hold the envelope's one
// signature made by the bundle's certificate, and name the envelope's
// payload by its SHA-256.
func checkBody(body []byte, kv *protorekor.KindVersion, env *envelope.Envelope, leaf *x509.Certificate) error {
	var head struct {
		APIVersion string `json:"apiVersion"`
		Kind       string `json:"kind"`
	}
	if err := json.Unmarshal(body, &head); err != nil {
		return fmt.Errorf("its body does not parse: %w", err)
	}
	if head.Kind != kv.GetKind() || head.APIVersion != kv.GetVersion() {
		return fmt.Errorf("its body is a %s %s entry, but the bundle says %s %s", head.Kind, head.APIVersion, kv.GetKind(), kv.GetVersion())
	}
	type logged struct{ sig, cert string }
	var sigs []logged
	var payloadHash *rekorHash
	switch head.Kind + " " + head.APIVersion {
	case "intoto 0.0.2":
		var b intotoBody
		if err := strictjson.Unmarshal(body, &b); err != nil {
			return fmt.Errorf("its intoto body: %w", err)
		}
		if b.Spec.Content.Envelope.PayloadType != env.PayloadType {
			return fmt.Errorf("it logs an envelope of payload type %q", b.Spec.Content.Envelope.PayloadType)
		}
		for _, s := range b.Spec.Content.Envelope.Signatures {
			inner, err := base64.StdEncoding.DecodeString(s.Sig)
			if err != nil {
				return errors.New("a signature in its body is not base64")
			}
			sigs = append(sigs, logged{string(inner), s.PublicKey})
		}
		payloadHash = b.Spec.Content.PayloadHash
	case "dsse 0.0.1":
		var b dsseBody
		if err := strictjson.Unmarshal(body, &b); err != nil {
			return fmt.Errorf("its dsse body: %w", err)
		}
		for _, s := range b.Spec.Signatures {
			sigs = append(sigs, logged{s.Signature, s.Verifier})
		}
		payloadHash = b.Spec.PayloadHash
	default:
		return fmt.Errorf("a %s %s entry, not the record of a DSSE envelope this reads (intoto 0.0.2, dsse 0.0.1)", head.Kind, head.APIVersion)
	}
	sum := sha256.Sum256(env.Payload)
	if payloadHash == nil || payloadHash.Algorithm != "sha256" || payloadHash.Value != hex.EncodeToString(sum[:]) {
		return errors.New("it logs another payload (its payload hash is not the envelope's)")
	}
	if len(sigs) != 1 {
		return fmt.Errorf("it logs %d signatures; the bundle's envelope carries one", len(sigs))
	}
	want := base64.StdEncoding.EncodeToString(env.Signatures[0].Sig)
	if sigs[0].sig != want {
		return errors.New("it logs another signature")
	}
	pemBytes, err := base64.StdEncoding.DecodeString(sigs[0].cert)
	if err != nil {
		return errors.New("its signing certificate is not base64")
	}
	blk, _ := pem.Decode(pemBytes)
	if blk == nil || blk.Type != "CERTIFICATE" || !bytes.Equal(blk.Bytes, leaf.Raw) {
		return errors.New("it logs another signing certificate")
	}
	return nil
}
