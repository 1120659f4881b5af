package logproof

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/internal/strictjson"
)

// Revocation is a centre operator's record, logged as an entry of its own,
// that a registered key was revoked: from then on the centre refuses what
// that key signs. Entries it signed earlier stay in the log; a reader marks
// them.
type Revocation struct {
	// Key is the revoked key's fingerprint: the sha256 of its PKIX DER
	// encoding (attest/keys.Fingerprint).
	Key digest.Digest
	// Name and Role are what the centre registered the key as.
	Name string
	Role string
	// RevokedAt is when the operator revoked it.
	RevokedAt time.Time
	// Reason is the operator's note, if any.
	Reason string
}

// MaxRevocationLeaf bounds a revocation leaf.
const MaxRevocationLeaf = 4 << 10

// wireRevocation is the leaf's JSON: {"keyRevocation":{...}}, its one key
// setting it apart from an envelope leaf and a compare report leaf.
type wireRevocation struct {
	KeyRevocation *wireRevoked `json:"keyRevocation"`
}

type wireRevoked struct {
	Key       digest.Digest `json:"key"`
	Name      string        `json:"name"`
	Reason    string        `json:"reason,omitempty"`
	RevokedAt string        `json:"revokedAt"`
	Role      string        `json:"role"`
}

// RevocationLeaf returns the log leaf of a revocation: its RFC 8785
// canonical JSON, {"keyRevocation":{"key":…,"name":…,"reason":…,
// "revokedAt":…,"role":…}}, the time in RFC 3339 UTC to the second.
func RevocationLeaf(r Revocation) ([]byte, error) {
	if err := r.Key.Validate(); err != nil || r.Key.Algorithm() != digest.SHA256 {
		return nil, fmt.Errorf("revocation leaf: key %q is not a sha256 fingerprint", r.Key)
	}
	if r.Name == "" || r.Role == "" || r.RevokedAt.IsZero() {
		return nil, errors.New("revocation leaf: a revocation needs the key's name, role and the time")
	}
	b, err := json.Marshal(wireRevocation{KeyRevocation: &wireRevoked{
		Key: r.Key, Name: r.Name, Reason: r.Reason, Role: r.Role,
		RevokedAt: r.RevokedAt.UTC().Truncate(time.Second).Format(time.RFC3339),
	}})
	if err != nil {
		return nil, fmt.Errorf("revocation leaf: %w", err)
	}
	c, err := jsoncanonicalizer.Transform(b)
	if err != nil {
		return nil, fmt.Errorf("revocation leaf: %w", err)
	}
	if len(c) > MaxRevocationLeaf {
		return nil, fmt.Errorf("revocation leaf: larger than %d bytes", MaxRevocationLeaf)
	}
	return c, nil
}

// IsRevocationLeaf reports whether a leaf is shaped as a revocation (it
// may still fail ParseRevocationLeaf).
func IsRevocationLeaf(leaf []byte) bool {
	return bytes.HasPrefix(leaf, []byte(`{"keyRevocation":`))
}

// ParseRevocationLeaf reads a revocation leaf strictly: it must be exactly
// the leaf RevocationLeaf makes of what it says, so one revocation has one
// leaf.
func ParseRevocationLeaf(leaf []byte) (Revocation, error) {
	r, err := ParseRevocation(leaf)
	if err != nil {
		return r, err
	}
	again, err := RevocationLeaf(r)
	if err != nil {
		return Revocation{}, fmt.Errorf("parse revocation: %w", err)
	}
	if !bytes.Equal(again, leaf) {
		return Revocation{}, errors.New("parse revocation: not in canonical form")
	}
	return r, nil
}

// ParseRevocation reads a revocation's JSON however it is laid out (a
// bundle is indented), strictly: no unknown or duplicate keys, a sha256
// key fingerprint, a name, a role and an RFC 3339 time to the second.
func ParseRevocation(b []byte) (Revocation, error) {
	if len(b) > 4*MaxRevocationLeaf {
		return Revocation{}, fmt.Errorf("parse revocation: larger than %d bytes", 4*MaxRevocationLeaf)
	}
	var w wireRevocation
	if err := strictjson.Unmarshal(b, &w); err != nil {
		return Revocation{}, fmt.Errorf("parse revocation: %w", err)
	}
	if w.KeyRevocation == nil {
		return Revocation{}, errors.New("parse revocation: no keyRevocation")
	}
	at, err := time.Parse(time.RFC3339, w.KeyRevocation.RevokedAt)
	if err != nil {
		return Revocation{}, fmt.Errorf("parse revocation: revokedAt: %w", err)
	}
	r := Revocation{Key: w.KeyRevocation.Key, Name: w.KeyRevocation.Name, Role: w.KeyRevocation.Role, RevokedAt: at.UTC(), Reason: w.KeyRevocation.Reason}
	if !r.RevokedAt.Equal(r.RevokedAt.Truncate(time.Second)) {
		return Revocation{}, errors.New("parse revocation: revokedAt: not to the second")
	}
	if _, err := RevocationLeaf(r); err != nil {
		return Revocation{}, fmt.Errorf("parse revocation: %w", err)
	}
	return r, nil
}

// VerifiedRevocation is a revocation the bundle proves is in the log.
type VerifiedRevocation struct {
	Revocation
	// Index is the revocation's entry in the log.
	Index int64
}

// CheckRevocations verifies the bundle's revocations against the checkpoint
// c (from OpenCheckpoint): each is a revocation leaf in the log at its
// index. A reader marks what the revoked keys signed (the centre refuses
// anything they sign after it, so each of those entries comes before it).
func (bu *Bundle) CheckRevocations(c Checkpoint) ([]VerifiedRevocation, error) {
	var out []VerifiedRevocation
	for i, r := range bu.Revocations {
		rv, err := ParseRevocation(r.Revocation)
		if err != nil {
			return nil, fmt.Errorf("log bundle: revocations[%d]: %w", i, err)
		}
		leaf, err := RevocationLeaf(rv)
		if err != nil {
			return nil, fmt.Errorf("log bundle: revocations[%d]: %w", i, err)
		}
		proof, err := DecodeHashes(r.InclusionProof)
		if err != nil {
			return nil, fmt.Errorf("log bundle: revocations[%d]: %w", i, err)
		}
		if err := VerifyInclusion(leaf, r.Index, proof, c); err != nil {
			return nil, fmt.Errorf("log bundle: revocations[%d]: %w", i, err)
		}
		out = append(out, VerifiedRevocation{Revocation: rv, Index: r.Index})
	}
	return out, nil
}
