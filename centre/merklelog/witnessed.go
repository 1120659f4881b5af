package merklelog

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/store"
)

// Witnessed checkpoints: when the centre has witnesses (centre/witness),
// what it hands customers (GET /checkpoint, lookups' bundles) is not the
// newest checkpoint the sequencer signed but the newest one that Quorum
// witnesses have cosigned, with their cosignature lines after the log's
// signature. Appends never wait for witnesses: a submission is answered
// with the checkpoint of its commit, signed by the log alone, and its
// entries reach lookups once the witnesses have cosigned a tree holding
// them (centre/API.md states the bound).

// servedTTL bounds how stale one replica's idea of the served checkpoint
// may be when another replica's cosigner stored the newer cosignatures;
// this replica's own cosignatures refresh it at once.
const servedTTL = 250 * time.Millisecond

// witnessing is the log's part in witnessing.
type witnessing struct {
	// quorum of the witnesses (their verifier keys) must have cosigned a
	// tree for the log to serve it; 0 without witnesses.
	quorum    int
	witnesses []string
	served    servedCache
	committed func(store.Checkpoint)
	cosigs    chan cosigRequest
}

func (w *witnessing) init(opts Options) error {
	w.quorum, w.witnesses, w.committed = max(opts.Quorum, 0), opts.Witnesses, opts.Committed
	w.cosigs = make(chan cosigRequest)
	if w.quorum > len(w.witnesses) {
		return fmt.Errorf("open log: a quorum of %d among %d witnesses", w.quorum, len(w.witnesses))
	}
	return nil
}

type servedCache struct {
	mu  sync.Mutex
	cp  store.Checkpoint
	oc  logproof.Checkpoint
	at  time.Time
	set bool
}

// Quorum is how many witnesses must have cosigned a checkpoint before the
// log serves it (0: the log has no witnesses and serves its newest).
func (l *Log) Quorum() int { return l.wit.quorum }

// Newest is the newest checkpoint the sequencer signed, as stored (Size 0
// for an empty log), for the cosigner.
func (l *Log) Newest(ctx context.Context) (store.Checkpoint, error) {
	cp, _, err := l.Latest(ctx)
	return cp, err
}

type cosigRequest struct {
	ctx  context.Context
	c    store.Cosignature
	done chan error
}

// AddCosignature stores a witness's cosignature of a checkpoint, which
// lookups serve from then on. The sequencer writes it between two batches.
func (l *Log) AddCosignature(ctx context.Context, c store.Cosignature) error {
	r := cosigRequest{ctx: ctx, c: c, done: make(chan error, 1)}
	select {
	case l.wit.cosigs <- r:
	case <-l.stop:
		return ErrClosed
	case <-ctx.Done():
		return ctx.Err()
	}
	if err := <-r.done; err != nil {
		return err
	}
	l.wit.served.mu.Lock()
	l.wit.served.set = false
	l.wit.served.mu.Unlock()
	return nil
}

// Served is the checkpoint the log hands customers, with every witness
// cosignature stored for it: without witnesses the newest; with them the
// newest that Quorum witnesses cosigned, and the empty tree until they have
// cosigned one.
func (l *Log) Served(ctx context.Context) (store.Checkpoint, logproof.Checkpoint, error) {
	if l.wit.quorum == 0 {
		return l.Latest(ctx)
	}
	c := &l.wit.served
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.set && time.Since(c.at) < servedTTL {
		return c.cp, c.oc, nil
	}
	size, err := l.st.LatestCosigned(ctx, l.wit.quorum, l.wit.witnesses)
	var cp store.Checkpoint
	var oc logproof.Checkpoint
	switch {
	case errors.Is(err, store.ErrNotFound):
		// Nothing witnessed yet: the empty tree, whatever the sequencer
		// has committed.
		cp, oc, err = l.empty()
	case err != nil:
		return cp, oc, err
	default:
		cp, oc, err = l.CosignedAt(ctx, size)
	}
	if err != nil {
		return cp, oc, err
	}
	// Never go back: another replica's view read a moment ago may be
	// newer than what this query saw under a lagging read.
	if c.set && c.cp.Size > cp.Size {
		cp, oc = c.cp, c.oc
	}
	c.cp, c.oc, c.at, c.set = cp, oc, time.Now(), true
	return cp, oc, nil
}

// CosignedAt is the checkpoint the log signed at tree size size, with the
// witnesses' cosignature lines stored for it.
func (l *Log) CosignedAt(ctx context.Context, size int64) (store.Checkpoint, logproof.Checkpoint, error) {
	cp, err := l.st.CheckpointAt(ctx, size)
	if err != nil {
		return cp, logproof.Checkpoint{}, err
	}
	oc, err := l.verifier.Open(cp.Note)
	if err != nil {
		return cp, oc, fmt.Errorf("checkpoint at %d: %w", size, err)
	}
	cs, err := l.st.Cosignatures(ctx, size)
	if err != nil {
		return cp, oc, err
	}
	if len(cs) > 0 {
		note := bytes.Clone(cp.Note)
		for _, c := range cs {
			note = append(note, c.Line...)
		}
		cp.Note = note
	}
	return cp, oc, nil
}
