package client

import (
	"encoding/base64"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/api"
)

// EnvelopeLeaf is the log leaf of a DSSE envelope (logproof.EnvelopeLeaf of
// the parsed envelope).
func EnvelopeLeaf(raw []byte) ([]byte, error) {
	e, err := envelope.Parse(raw)
	if err != nil {
		return nil, err
	}
	return leafOf(e)
}

func leafOf(e *envelope.Envelope) ([]byte, error) {
	sigs := make([]logproof.Signature, len(e.Signatures))
	for i, s := range e.Signatures {
		sigs[i] = logproof.Signature{KeyID: s.KeyID, Sig: s.Sig}
	}
	return logproof.EnvelopeLeaf(e.PayloadType, e.Payload, sigs)
}

// CheckReply verifies a submission's reply: the checkpoint is the log's
// (key v), and each entry is the leaf submitted at its position (leaves,
// in order) with a valid inclusion proof to that checkpoint.
func CheckReply(rep *api.SubmitReply, v *logproof.Verifier, leaves [][]byte) (logproof.Checkpoint, error) {
	c, err := v.Open([]byte(rep.Checkpoint))
	if err != nil {
		return c, fmt.Errorf("check the centre's reply: %w", err)
	}
	if c.Size != rep.TreeSize {
		return c, fmt.Errorf("check the centre's reply: treeSize %d, the checkpoint says %d", rep.TreeSize, c.Size)
	}
	if len(rep.Entries) != len(leaves) {
		return c, fmt.Errorf("check the centre's reply: %d entries for %d documents", len(rep.Entries), len(leaves))
	}
	for i, e := range rep.Entries {
		h := logproof.LeafHash(leaves[i])
		if e.LeafHash != base64.StdEncoding.EncodeToString(h[:]) {
			return c, fmt.Errorf("check the centre's reply: entry %d is not the leaf submitted", i)
		}
		p, err := logproof.DecodeHashes(e.InclusionProof)
		if err != nil {
			return c, fmt.Errorf("check the centre's reply: entry %d: %w", i, err)
		}
		if err := logproof.VerifyInclusion(leaves[i], e.Index, p, c); err != nil {
			return c, fmt.Errorf("check the centre's reply: entry %d: %w", i, err)
		}
	}
	return c, nil
}

// CheckBundle verifies a log bundle for artifact subject offline: the
// checkpoint is signed by the log (key v), every entry is a DSSE envelope
// with a valid inclusion proof to it, and the signed artifact index lists
// no entry the bundle lacks. It returns the checkpoint and the envelopes.
// It does not check the envelopes' own signatures: that is the policy's
// work (attest.Verify).
func CheckBundle(bu *logproof.Bundle, v *logproof.Verifier, subject digest.Digest) (logproof.Checkpoint, []*envelope.Envelope, error) {
	return CheckBundleFor(bu, v, subject, nil)
}

// CheckBundleFor is CheckBundle for a reader who trusts only the keys
// trusted (fingerprints): a bundle of those keys' entries
// (FetchBundleFor) is whole for them. It also checks the bundle's logged
// revocations.
func CheckBundleFor(bu *logproof.Bundle, v *logproof.Verifier, subject digest.Digest, trusted []digest.Digest) (logproof.Checkpoint, []*envelope.Envelope, error) {
	c, err := bu.OpenCheckpoint(v)
	if err != nil {
		return c, nil, fmt.Errorf("check log bundle: %w", err)
	}
	var envs []*envelope.Envelope
	seen := map[int64]bool{}
	for i, e := range bu.Entries {
		if seen[e.Index] {
			return c, nil, fmt.Errorf("check log bundle: entry %d is listed twice", e.Index)
		}
		seen[e.Index] = true
		env, err := envelope.Parse(e.Envelope)
		if err != nil {
			return c, nil, fmt.Errorf("check log bundle: entries[%d]: %w", i, err)
		}
		leaf, err := leafOf(env)
		if err != nil {
			return c, nil, fmt.Errorf("check log bundle: entries[%d]: %w", i, err)
		}
		if err := e.VerifyEntry(leaf, c); err != nil {
			return c, nil, fmt.Errorf("check log bundle: entries[%d]: %w", i, err)
		}
		envs = append(envs, env)
	}
	if err := bu.CheckCompleteFor(v, c, subject, trusted); err != nil {
		return c, nil, fmt.Errorf("check log bundle: %w", err)
	}
	if _, err := bu.CheckRevocations(c); err != nil {
		return c, nil, fmt.Errorf("check log bundle: %w", err)
	}
	return c, envs, nil
}
