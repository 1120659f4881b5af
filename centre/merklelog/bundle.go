package merklelog

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/store"
)

// ErrNoEntries is returned by Bundle for an artifact the log holds nothing
// for.
var ErrNoEntries = errors.New("the log holds no attestation for this artifact")

// maxBundleBytes is what a bundle may weigh: logproof.MaxBundle, less room
// for the JSON around the leaves.
const maxBundleBytes = logproof.MaxBundle * 7 / 8

// Bundle is everything the log holds for artifact d at the tree it serves
// (Served: with witnesses, the newest one they cosigned): each attestation
// whose subject is d, the reviews and rebuilds those summaries cite, the
// reviews filed under the sources the rebuilds name (a reviewer's
// findings), each with an inclusion proof to that checkpoint, which it
// carries with its cosignatures; the logged revocations of keys that signed
// any of them; and the signed artifact index listing exactly those entries
// and sources, so that a bundle with an entry left out fails logproof's
// CheckComplete offline. It also returns the entries it found, for callers
// that render them. More than a bundle holds is a *store.TooManyError: ask
// for the keys one trusts (BundleFor).
func (l *Log) Bundle(ctx context.Context, d digest.Digest) (*logproof.Bundle, []*store.Entry, error) {
	return l.BundleFor(ctx, d, nil)
}

// BundleFor is Bundle restricted to what the keys signers (fingerprints)
// signed, and what that cites: the artifact index says so (its signer
// lines), and a reader trusting only those keys checks it with logproof's
// CheckCompleteFor. No other key's entries, however many, can crowd such a
// bundle. With signers empty it is Bundle.
func (l *Log) BundleFor(ctx context.Context, d digest.Digest, signers []digest.Digest) (*logproof.Bundle, []*store.Entry, error) {
	if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
		return nil, nil, fmt.Errorf("bundle: %q is not a sha256 digest", d)
	}
	cp, _, err := l.Served(ctx)
	if err != nil {
		return nil, nil, err
	}
	return l.bundle(ctx, d, cp, signers)
}

// BundleAt is Bundle at the tree of size size, which must be one the log
// signed a checkpoint for (store.ErrNotFound otherwise): a monitor
// replaying the log up to a size asks for the lookup at that size.
func (l *Log) BundleAt(ctx context.Context, d digest.Digest, size int64) (*logproof.Bundle, []*store.Entry, error) {
	return l.BundleAtFor(ctx, d, size, nil)
}

// BundleAtFor is BundleFor at the tree of size size (see BundleAt).
func (l *Log) BundleAtFor(ctx context.Context, d digest.Digest, size int64, signers []digest.Digest) (*logproof.Bundle, []*store.Entry, error) {
	if err := d.Validate(); err != nil || d.Algorithm() != digest.SHA256 {
		return nil, nil, fmt.Errorf("bundle: %q is not a sha256 digest", d)
	}
	cp, _, err := l.CosignedAt(ctx, size)
	if err != nil {
		return nil, nil, err
	}
	return l.bundle(ctx, d, cp, signers)
}

func (l *Log) bundle(ctx context.Context, d digest.Digest, cp store.Checkpoint, signers []digest.Digest) (*logproof.Bundle, []*store.Entry, error) {
	signers = slices.Clone(signers)
	slices.Sort(signers)
	signers = slices.Compact(signers)
	f, err := l.st.Find(ctx, store.Query{Subject: d, Size: cp.Size, Signers: signers})
	if err != nil {
		return nil, nil, err
	}
	if len(f.Entries) == 0 {
		return nil, nil, ErrNoEntries
	}
	if n := len(f.Entries) + len(f.Revocations); n > logproof.MaxBundleEntries {
		return nil, nil, &store.TooManyError{Subject: d, Found: n, Max: logproof.MaxBundleEntries}
	}
	bu := &logproof.Bundle{Checkpoint: string(cp.Note)}
	x := logproof.Index{Origin: l.origin, Size: cp.Size, Subject: d, Signers: signers, Sources: f.Sources}
	weight := 0
	prove := func(e *store.Entry) ([]string, error) {
		p, err := l.ProveInclusion(ctx, cp.Size, e.Index)
		if err != nil {
			return nil, err
		}
		// The leaf, its proof (base64 and quotes), and the JSON around.
		if weight += len(e.Leaf) + 48*len(p) + 256; weight > maxBundleBytes {
			return nil, &store.TooManyError{Subject: d, Found: len(f.Entries), Max: logproof.MaxBundleEntries}
		}
		x.Entries = append(x.Entries, e.Index)
		return logproof.EncodeHashes(p), nil
	}
	for _, e := range f.Entries {
		p, err := prove(e)
		if err != nil {
			return nil, nil, err
		}
		bu.Entries = append(bu.Entries, logproof.BundleEntry{Index: e.Index, Envelope: e.Leaf, InclusionProof: p})
	}
	for _, e := range f.Revocations {
		p, err := prove(e)
		if err != nil {
			return nil, nil, err
		}
		bu.Revocations = append(bu.Revocations, logproof.BundleRevocation{Index: e.Index, Revocation: e.Leaf, InclusionProof: p})
	}
	slices.Sort(x.Entries)
	idx, err := logproof.SignIndex(x, l.skey)
	if err != nil {
		return nil, nil, err
	}
	bu.ArtifactIndex = string(idx)
	return bu, f.Entries, nil
}
