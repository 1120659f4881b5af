package logproof

import (
	"encoding/json"
	"errors"
	"fmt"

	"github.com/reprove/reprove/attest/internal/strictjson"
)

// BundleMediaType names a log bundle; it is the first thing a reader checks.
const BundleMediaType = "application/vnd.reprove.log-bundle+json;version=1"

// BundleSchemaVersion is the version of the bundle's JSON.
const BundleSchemaVersion = 1

// MaxBundle bounds a bundle's size, and MaxBundleEntries its entries.
const (
	MaxBundle        = 64 << 20
	MaxBundleEntries = 4096
)

// Bundle is what a centre hands back for one artifact: the envelopes it
// logged, each with an inclusion proof, all to one signed checkpoint. It is
// enough to check offline, against the log's public key, that each envelope
// is in the log.
type Bundle struct {
	MediaType     string `json:"mediaType"`
	SchemaVersion int    `json:"schemaVersion"`
	// Checkpoint is the signed note (C2SP tlog-checkpoint) every proof is
	// relative to.
	Checkpoint string        `json:"checkpoint"`
	Entries    []BundleEntry `json:"entries"`
}

// BundleEntry is one logged envelope and its place in the log.
type BundleEntry struct {
	// Index is the leaf index in the log.
	Index int64 `json:"index"`
	// Envelope is the DSSE envelope, as JSON.
	Envelope json.RawMessage `json:"envelope"`
	// InclusionProof is the RFC 6962 audit path, base64 hashes.
	InclusionProof []string `json:"inclusionProof"`
}

// ParseBundle decodes a bundle strictly (unknown or duplicate keys, another
// media type or schema version, bad hashes are errors). It checks the form
// only: VerifyEntry checks signatures and proofs.
func ParseBundle(b []byte) (*Bundle, error) {
	if len(b) > MaxBundle {
		return nil, fmt.Errorf("parse log bundle: larger than %d bytes", MaxBundle)
	}
	var bu Bundle
	if err := strictjson.Unmarshal(b, &bu); err != nil {
		return nil, fmt.Errorf("parse log bundle: %w", err)
	}
	if bu.MediaType != BundleMediaType {
		return nil, fmt.Errorf("parse log bundle: mediaType %q, want %q", bu.MediaType, BundleMediaType)
	}
	if bu.SchemaVersion != BundleSchemaVersion {
		return nil, fmt.Errorf("parse log bundle: schemaVersion %d, want %d", bu.SchemaVersion, BundleSchemaVersion)
	}
	if bu.Checkpoint == "" {
		return nil, errors.New("parse log bundle: checkpoint: required")
	}
	if len(bu.Checkpoint) > MaxCheckpoint {
		return nil, fmt.Errorf("parse log bundle: checkpoint: larger than %d bytes", MaxCheckpoint)
	}
	if len(bu.Entries) == 0 {
		return nil, errors.New("parse log bundle: entries: none")
	}
	if len(bu.Entries) > MaxBundleEntries {
		return nil, fmt.Errorf("parse log bundle: entries: more than %d", MaxBundleEntries)
	}
	for i, e := range bu.Entries {
		if e.Index < 0 {
			return nil, fmt.Errorf("parse log bundle: entries[%d].index: negative", i)
		}
		if len(e.Envelope) == 0 || e.Envelope[0] != '{' {
			return nil, fmt.Errorf("parse log bundle: entries[%d].envelope: not a JSON object", i)
		}
		if _, err := DecodeHashes(e.InclusionProof); err != nil {
			return nil, fmt.Errorf("parse log bundle: entries[%d].inclusionProof: %w", i, err)
		}
	}
	return &bu, nil
}

// Marshal writes the bundle as indented JSON.
func (bu *Bundle) Marshal() ([]byte, error) {
	c := *bu
	c.MediaType, c.SchemaVersion = BundleMediaType, BundleSchemaVersion
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal log bundle: %w", err)
	}
	return append(b, '\n'), nil
}

// OpenCheckpoint verifies the bundle's checkpoint with the log's key.
func (bu *Bundle) OpenCheckpoint(v *Verifier) (Checkpoint, error) {
	return v.Open([]byte(bu.Checkpoint))
}

// VerifyEntry checks that leaf (the entry's envelope as EnvelopeLeaf makes
// it, from the parsed envelope) is in the log at the entry's index, under
// the checkpoint c (from OpenCheckpoint).
func (e *BundleEntry) VerifyEntry(leaf []byte, c Checkpoint) error {
	proof, err := DecodeHashes(e.InclusionProof)
	if err != nil {
		return err
	}
	return VerifyInclusion(leaf, e.Index, proof, c)
}
