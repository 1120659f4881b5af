// Package logproof is the customer's side of reprove's transparency log: the
// leaf an attestation becomes, signed checkpoints (C2SP tlog-checkpoint in a
// C2SP signed note), inclusion and consistency proofs, and the log bundle a
// centre hands back, which lets `reprove verify` check offline that every
// attestation it counts is in the log everybody else sees.
//
// It is pure: no I/O, no network. The hashing is RFC 6962's, through
// golang.org/x/mod/sumdb/tlog (the Go checksum database's code); signed notes
// go through golang.org/x/mod/sumdb/note. The centre (package centre) builds
// the log with the same leaf and checkpoint code, so the two cannot disagree.
//
// The checkpoint body is written here rather than with tlog.FormatTree,
// because FormatTree hard-codes the checksum database's origin line ("go.sum
// database tree"); C2SP checkpoints carry the log's own origin.
package logproof

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"
)

// Signature is one DSSE signature, as it is in the envelope.
type Signature struct {
	KeyID string
	Sig   []byte
}

// EnvelopeLeaf returns the leaf data a DSSE envelope becomes in the log: the
// envelope's RFC 8785 (JCS) canonical JSON. Two submissions of the same
// envelope, however their JSON was laid out, are the same leaf; an envelope
// that gained a signature is a new one.
func EnvelopeLeaf(payloadType string, payload []byte, sigs []Signature) ([]byte, error) {
	if payloadType == "" || len(sigs) == 0 {
		return nil, errors.New("envelope leaf: an envelope needs a payload type and a signature")
	}
	if b, ok := plainEnvelopeLeaf(payloadType, payload, sigs); ok {
		return b, nil
	}
	type wsig struct {
		KeyID string `json:"keyid"`
		Sig   string `json:"sig"`
	}
	w := struct {
		Payload     string `json:"payload"`
		PayloadType string `json:"payloadType"`
		Signatures  []wsig `json:"signatures"`
	}{
		Payload:     base64.StdEncoding.EncodeToString(payload),
		PayloadType: payloadType,
		Signatures:  []wsig{},
	}
	for _, s := range sigs {
		w.Signatures = append(w.Signatures, wsig{KeyID: s.KeyID, Sig: base64.StdEncoding.EncodeToString(s.Sig)})
	}
	b, err := json.Marshal(w)
	if err != nil {
		return nil, fmt.Errorf("envelope leaf: %w", err)
	}
	// encoding/json already writes the keys in order and no whitespace; it
	// escapes strings as RFC 8785 does except for <, >, & and what is not
	// printable ASCII. Base64 never holds those: when the payload type and
	// key ids do not either, its output is the canonical form (the centre
	// makes a leaf of every submission, and re-reading the JSON to
	// canonicalize it was a tenth of the cost).
	safe := jcsPlain(payloadType)
	for _, s := range sigs {
		safe = safe && jcsPlain(s.KeyID)
	}
	if safe {
		return b, nil
	}
	c, err := jsoncanonicalizer.Transform(b)
	if err != nil {
		return nil, fmt.Errorf("envelope leaf: %w", err)
	}
	return c, nil
}

// plainEnvelopeLeaf writes the leaf directly when the payload type and key
// ids need no escaping in JSON (printable ASCII without ", \, <, > or &),
// as every envelope reprove and cosign make has them: base64 needs none
// either, so the leaf is those strings between the keys in RFC 8785's
// order, made in one buffer (the centre makes a leaf of every submission;
// encoding/json's reflection and copies were most of its cost).
func plainEnvelopeLeaf(payloadType string, payload []byte, sigs []Signature) ([]byte, bool) {
	n := len(`{"payload":"","payloadType":"","signatures":[]}`) + base64.StdEncoding.EncodedLen(len(payload)) + len(payloadType)
	if !noEscapes(payloadType) {
		return nil, false
	}
	for _, s := range sigs {
		if !noEscapes(s.KeyID) {
			return nil, false
		}
		n += len(`{"keyid":"","sig":""},`) + len(s.KeyID) + base64.StdEncoding.EncodedLen(len(s.Sig))
	}
	b := make([]byte, 0, n)
	b = append(b, `{"payload":"`...)
	b = base64.StdEncoding.AppendEncode(b, payload)
	b = append(b, `","payloadType":"`...)
	b = append(b, payloadType...)
	b = append(b, `","signatures":[`...)
	for i, s := range sigs {
		if i > 0 {
			b = append(b, ',')
		}
		b = append(b, `{"keyid":"`...)
		b = append(b, s.KeyID...)
		b = append(b, `","sig":"`...)
		b = base64.StdEncoding.AppendEncode(b, s.Sig)
		b = append(b, `"}`...)
	}
	return append(b, "]}"...), true
}

// noEscapes reports whether s is written in JSON as it is, by encoding/json
// and RFC 8785 alike: printable ASCII without ", \, <, > or &.
func noEscapes(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '"' || c == '\\' || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// jcsPlain reports whether encoding/json and RFC 8785 write s alike:
// printable ASCII without <, > or &.
func jcsPlain(s string) bool {
	for i := 0; i < len(s); i++ {
		if c := s[i]; c < 0x20 || c > 0x7e || c == '<' || c == '>' || c == '&' {
			return false
		}
	}
	return true
}

// CompareReportLeaf returns the leaf data for a compare report, which the
// log holds by digest only (the report itself is served beside the log):
// {"compareReport":"sha256:…"}. Its one key sets it apart from an envelope
// leaf, whose keys are payload, payloadType and signatures.
func CompareReportLeaf(report digest.Digest) ([]byte, error) {
	if err := report.Validate(); err != nil {
		return nil, fmt.Errorf("compare report leaf: %w", err)
	}
	b, err := json.Marshal(struct {
		CompareReport string `json:"compareReport"`
	}{report.String()})
	if err != nil {
		return nil, fmt.Errorf("compare report leaf: %w", err)
	}
	return b, nil
}

// LeafHash is the RFC 6962 hash of a leaf.
func LeafHash(leaf []byte) tlog.Hash { return tlog.RecordHash(leaf) }

// Checkpoint is a signed tree head: the log's origin, its size and root hash.
type Checkpoint struct {
	Origin string
	Size   int64
	Hash   tlog.Hash
	// Extensions are further body lines (C2SP allows them); kept, not read.
	Extensions []string
}

// MaxCheckpoint bounds a signed checkpoint's text.
const MaxCheckpoint = 16 << 10

// Body formats the checkpoint body (the signed note's text).
func (c Checkpoint) Body() []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s\n%d\n%s\n", c.Origin, c.Size, base64.StdEncoding.EncodeToString(c.Hash[:]))
	for _, e := range c.Extensions {
		b.WriteString(e)
		b.WriteByte('\n')
	}
	return b.Bytes()
}

// ParseCheckpoint parses a checkpoint body (not signed).
func ParseCheckpoint(body []byte) (Checkpoint, error) {
	var c Checkpoint
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return c, errors.New("parse checkpoint: the body must end in a newline")
	}
	lines := strings.Split(string(body[:len(body)-1]), "\n")
	if len(lines) < 3 {
		return c, fmt.Errorf("parse checkpoint: %d lines, want origin, size and root hash", len(lines))
	}
	c.Origin = lines[0]
	if c.Origin == "" || strings.TrimSpace(c.Origin) != c.Origin {
		return c, fmt.Errorf("parse checkpoint: line 1: bad origin %q", c.Origin)
	}
	n, err := strconv.ParseInt(lines[1], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[1] {
		return c, fmt.Errorf("parse checkpoint: line 2: bad tree size %q", lines[1])
	}
	c.Size = n
	h, err := base64.StdEncoding.Strict().DecodeString(lines[2])
	if err != nil || len(h) != tlog.HashSize {
		return c, fmt.Errorf("parse checkpoint: line 3: bad root hash %q", lines[2])
	}
	copy(c.Hash[:], h)
	for i, e := range lines[3:] {
		if e == "" {
			return c, fmt.Errorf("parse checkpoint: line %d: empty extension line", i+4)
		}
	}
	c.Extensions = append([]string(nil), lines[3:]...)
	return c, nil
}

// Verifier checks checkpoints signed by one log, named by its note verifier
// key ("origin+hash+base64key", as `note` prints it).
type Verifier struct {
	v note.Verifier
}

// NewVerifier parses a log's note verifier key.
func NewVerifier(vkey string) (*Verifier, error) {
	v, err := note.NewVerifier(strings.TrimSpace(vkey))
	if err != nil {
		return nil, fmt.Errorf("log key: %w", err)
	}
	return &Verifier{v: v}, nil
}

// Name is the key's name, which is the log's origin.
func (v *Verifier) Name() string { return v.v.Name() }

// KeyHash is the key's hash, which its signature lines carry.
func (v *Verifier) KeyHash() uint32 { return v.v.KeyHash() }

// Open verifies a signed checkpoint and parses its body. The origin line
// must be the key's name, so a checkpoint of one log cannot pass for
// another's.
func (v *Verifier) Open(signed []byte) (Checkpoint, error) {
	if len(signed) > MaxCheckpoint {
		return Checkpoint{}, fmt.Errorf("open checkpoint: larger than %d bytes", MaxCheckpoint)
	}
	n, err := note.Open(signed, note.VerifierList(v.v))
	if err != nil {
		return Checkpoint{}, fmt.Errorf("open checkpoint: %w", err)
	}
	c, err := ParseCheckpoint([]byte(n.Text))
	if err != nil {
		return Checkpoint{}, err
	}
	if c.Origin != v.v.Name() {
		return Checkpoint{}, fmt.Errorf("open checkpoint: origin %q is not the log %q", c.Origin, v.v.Name())
	}
	return c, nil
}

// Sign signs a checkpoint with the log's note signer key.
func Sign(c Checkpoint, skey string) ([]byte, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("sign checkpoint: %w", err)
	}
	if s.Name() != c.Origin {
		return nil, fmt.Errorf("sign checkpoint: key %q cannot sign for origin %q", s.Name(), c.Origin)
	}
	return note.Sign(&note.Note{Text: string(c.Body())}, s)
}

// VerifyInclusion checks that leaf is entry index of the tree c describes,
// with proof the RFC 6962 audit path.
func VerifyInclusion(leaf []byte, index int64, proof []tlog.Hash, c Checkpoint) error {
	if index < 0 || index >= c.Size {
		return fmt.Errorf("inclusion proof: leaf index %d is outside a tree of size %d", index, c.Size)
	}
	if err := tlog.CheckRecord(tlog.RecordProof(proof), c.Size, c.Hash, index, LeafHash(leaf)); err != nil {
		return fmt.Errorf("inclusion proof: leaf %d in tree of size %d: %w", index, c.Size, err)
	}
	return nil
}

// VerifyConsistency checks that the tree newer describes extends the one
// older describes (the log was only appended to).
func VerifyConsistency(older, newer Checkpoint, proof []tlog.Hash) error {
	if older.Origin != newer.Origin {
		return fmt.Errorf("consistency proof: checkpoints of two logs (%q, %q)", older.Origin, newer.Origin)
	}
	if newer.Size < older.Size {
		return fmt.Errorf("consistency proof: the log shrank from %d to %d entries", older.Size, newer.Size)
	}
	if newer.Size == older.Size {
		if newer.Hash != older.Hash {
			return fmt.Errorf("consistency proof: two different trees of size %d", newer.Size)
		}
		return nil
	}
	if older.Size == 0 {
		return nil
	}
	if err := tlog.CheckTree(tlog.TreeProof(proof), newer.Size, newer.Hash, older.Size, older.Hash); err != nil {
		return fmt.Errorf("consistency proof: tree of size %d does not extend the one of size %d: %w", newer.Size, older.Size, err)
	}
	return nil
}

// EncodeHashes and DecodeHashes carry proof hashes in JSON as standard
// base64 strings.
func EncodeHashes(hs []tlog.Hash) []string {
	out := make([]string, len(hs))
	for i, h := range hs {
		out[i] = base64.StdEncoding.EncodeToString(h[:])
	}
	return out
}

// MaxProofHashes bounds a proof: a tree of 2^63 leaves needs 63 hashes for
// inclusion and at most about twice that for consistency.
const MaxProofHashes = 128

// DecodeHashes is EncodeHashes' inverse; it refuses anything but 32-byte
// hashes in strict standard base64.
func DecodeHashes(ss []string) ([]tlog.Hash, error) {
	if len(ss) > MaxProofHashes {
		return nil, fmt.Errorf("proof: %d hashes, more than %d", len(ss), MaxProofHashes)
	}
	out := make([]tlog.Hash, len(ss))
	for i, s := range ss {
		b, err := base64.StdEncoding.Strict().DecodeString(s)
		if err != nil || len(b) != tlog.HashSize {
			return nil, fmt.Errorf("proof: hash %d: not 32 bytes of base64", i)
		}
		copy(out[i][:], b)
	}
	return out, nil
}
