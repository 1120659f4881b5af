package merklelog

import (
	"context"
	"errors"
	"fmt"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/store"
)

// ErrNoEntries is returned by Bundle for an artifact the log holds nothing
// for.
var ErrNoEntries = errors.New("the log holds no attestation for this artifact")

// Bundle is everything the log holds for artifact d at the tree it serves
// (Served: with witnesses, the newest one they cosigned): each attestation
// whose subject is d, and the reviews and rebuilds those summaries cite,
// each with an inclusion proof to that checkpoint, which it carries with
// its cosignatures, and the signed artifact index listing exactly those
// entries, so that a bundle with an entry left out fails logproof's
// CheckComplete offline. It also returns the entries it found, for callers
// that render them.
func (l *Log) Bundle(ctx context.Context, d digest.Digest) (*logproof.Bundle, []*store.Entry, error) {
	if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
		return nil, nil, fmt.Errorf("bundle: %q is not a sha256 digest", d)
	}
	cp, _, err := l.Served(ctx)
	if err != nil {
		return nil, nil, err
	}
	return l.bundle(ctx, d, cp)
}

// BundleAt is Bundle at the tree of size size, which must be one the log
// signed a checkpoint for (store.ErrNotFound otherwise): a monitor
// replaying the log up to a size asks for the lookup at that size.
func (l *Log) BundleAt(ctx context.Context, d digest.Digest, size int64) (*logproof.Bundle, []*store.Entry, error) {
	if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
		return nil, nil, fmt.Errorf("bundle: %q is not a sha256 digest", d)
	}
	cp, _, err := l.CosignedAt(ctx, size)
	if err != nil {
		return nil, nil, err
	}
	return l.bundle(ctx, d, cp)
}

func (l *Log) bundle(ctx context.Context, d digest.Digest, cp store.Checkpoint) (*logproof.Bundle, []*store.Entry, error) {
	entries, err := l.st.Lookup(ctx, d, cp.Size, false)
	if err != nil {
		return nil, nil, err
	}
	if len(entries) == 0 {
		return nil, nil, ErrNoEntries
	}
	if len(entries) > logproof.MaxBundleEntries {
		return nil, nil, fmt.Errorf("bundle: %d entries for %s, more than a bundle holds (%d)", len(entries), d, logproof.MaxBundleEntries)
	}
	bu := &logproof.Bundle{Checkpoint: string(cp.Note)}
	x := logproof.Index{Origin: l.origin, Size: cp.Size, Subject: d}
	for _, e := range entries {
		p, err := l.ProveInclusion(ctx, cp.Size, e.Index)
		if err != nil {
			return nil, nil, err
		}
		bu.Entries = append(bu.Entries, logproof.BundleEntry{Index: e.Index, Envelope: e.Leaf, InclusionProof: logproof.EncodeHashes(p)})
		x.Entries = append(x.Entries, e.Index)
	}
	idx, err := logproof.SignIndex(x, l.skey)
	if err != nil {
		return nil, nil, err
	}
	bu.ArtifactIndex = string(idx)
	return bu, entries, nil
}
