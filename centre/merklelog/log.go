// Package merklelog is the centre's append-only Merkle log on a store: it
// sequences accepted items into leaves in batches, signs a checkpoint for
// every tree it commits, and answers for inclusion and consistency proofs,
// tiles and artifact bundles.
//
// The hashing and proofs are RFC 6962's through golang.org/x/mod/sumdb/tlog
// (the Go checksum database's code); the leaf, checkpoint, index and bundle
// formats are attest/logproof's, which is what customers verify with, so the
// two sides cannot disagree.
//
// Sequencing: submissions queue for one sequencer goroutine, which takes
// everything queued (up to MaxBatch leaves) into one store transaction:
// assign indexes under the store's append lock, compute the stored hashes
// and the new tree head, sign and store the checkpoint, commit. One commit
// (one fsync) serves the whole batch, so throughput does not hang on one
// fsync per submission; a submission is acknowledged only after the commit
// that holds it. Replicas sharing one database each run a sequencer; the
// store's lock makes their batches take turns, and each reads the tree size
// under the lock, so they never fork the log.
package merklelog

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/store"
)

// MaxBatch bounds the leaves one append transaction takes.
const MaxBatch = 1024

// Options configure a Log.
type Options struct {
	// Clock stamps entries and checkpoints; nil means time.Now.
	Clock func() time.Time
	// MaxBatch overrides the package's MaxBatch when positive: the leaves
	// one commit gathers from the queue (one submission larger than it is
	// still committed whole, alone).
	MaxBatch int
	// Quorum, when positive, is how many of Witnesses (their verifier
	// keys) must have cosigned a checkpoint before lookups serve it
	// (witnessed.go).
	Quorum    int
	Witnesses []string
	// Committed, when set, hears of each new checkpoint once committed
	// (the cosigner's cue); it must not block.
	Committed func(store.Checkpoint)
}

// Log is the centre's log.
type Log struct {
	st       store.Store
	skey     string
	origin   string
	vkey     string
	verifier *logproof.Verifier
	clock    func() time.Time
	maxBatch int
	cache    *hashCache
	wit      witnessing

	queue chan *request
	stop  chan struct{}
	done  chan struct{}
	once  sync.Once
}

// Added is where one item is in the log.
type Added struct {
	Index int64
	// New is false when the log held the leaf already (a resubmission).
	New bool
}

type request struct {
	ctx     context.Context
	items   []*item.Item
	reports [][]byte
	reply   chan reply
}

type reply struct {
	added []Added
	cp    store.Checkpoint
	err   error
}

// ErrClosed is returned for appends after Close.
var ErrClosed = errors.New("the log is shutting down")

// Open starts the log on st, signing with the note signer key skey. The
// first start records the key's verifier key in the store; later starts
// (and every replica) must sign with the same key.
func Open(ctx context.Context, st store.Store, skey string, opts Options) (*Log, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("open log: signer key: %w", err)
	}
	vkey, err := VerifierKey(skey)
	if err != nil {
		return nil, err
	}
	stored, err := st.InitMeta(ctx, "verifier-key", vkey)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	if stored != vkey {
		return nil, fmt.Errorf("open log: the database belongs to the log %q, but the signer key is for %q: give this replica the log's own key", stored, vkey)
	}
	v, err := logproof.NewVerifier(vkey)
	if err != nil {
		return nil, fmt.Errorf("open log: %w", err)
	}
	l := &Log{
		st: st, skey: skey, origin: s.Name(), vkey: vkey, verifier: v,
		clock: opts.Clock, maxBatch: MaxBatch, cache: newHashCache(1 << 20),
		queue: make(chan *request, 4096), stop: make(chan struct{}), done: make(chan struct{}),
	}
	if l.clock == nil {
		l.clock = time.Now
	}
	if opts.MaxBatch > 0 {
		l.maxBatch = opts.MaxBatch
	}
	if err := l.wit.init(opts); err != nil {
		return nil, err
	}
	go l.sequence()
	return l, nil
}

// Origin is the log's name, the first line of its checkpoints.
func (l *Log) Origin() string { return l.origin }

// VerifierKey is the log's note verifier key, which customers pin.
func (l *Log) VerifierKey() string { return l.vkey }

// Verifier checks the log's checkpoints and indexes.
func (l *Log) Verifier() *logproof.Verifier { return l.verifier }

// Store is the store the log is kept in.
func (l *Log) Store() store.Store { return l.st }

// Close stops the sequencer after the batch in progress; queued appends
// that did not start fail with ErrClosed.
func (l *Log) Close() {
	l.once.Do(func() { close(l.stop) })
	<-l.done
}

// Append logs items (and, for compare reports, their JSON in reports, at
// the same positions; nil for other items) as one unit: all of them are in
// one commit or none is. It returns once they are durable, with the signed
// checkpoint of a tree that holds them.
func (l *Log) Append(ctx context.Context, items []*item.Item, reports [][]byte) ([]Added, store.Checkpoint, error) {
	if len(items) == 0 {
		return nil, store.Checkpoint{}, errors.New("append: nothing to append")
	}
	if limit := max(l.maxBatch, MaxBatch); len(items) > limit {
		return nil, store.Checkpoint{}, fmt.Errorf("append: %d items, more than %d in one submission", len(items), limit)
	}
	if reports == nil {
		reports = make([][]byte, len(items))
	}
	r := &request{ctx: ctx, items: items, reports: reports, reply: make(chan reply, 1)}
	select {
	case l.queue <- r:
	case <-l.stop:
		return nil, store.Checkpoint{}, ErrClosed
	case <-ctx.Done():
		return nil, store.Checkpoint{}, ctx.Err()
	}
	// Once queued, wait for the answer even if ctx ends: the batch may
	// commit, and the caller must not believe otherwise.
	rep := <-r.reply
	return rep.added, rep.cp, rep.err
}

func (l *Log) sequence() {
	defer close(l.done)
	for {
		var first *request
		select {
		case first = <-l.queue:
		case c := <-l.wit.cosigs:
			// Cosignatures are written between batches, by the one
			// writer, so they never wait on the store's lock behind a
			// stream of appends.
			c.done <- l.st.AddCosignature(c.ctx, c.c)
			continue
		case <-l.stop:
			l.drain()
			return
		}
		batch := []*request{first}
		n := len(first.items)
	gather:
		for n < l.maxBatch {
			select {
			case r := <-l.queue:
				if n+len(r.items) > l.maxBatch {
					l.commitAndReply(batch)
					batch, n = nil, 0
				}
				batch = append(batch, r)
				n += len(r.items)
			default:
				break gather
			}
		}
		l.commitAndReply(batch)
	}
}

func (l *Log) drain() {
	for {
		select {
		case r := <-l.queue:
			r.reply <- reply{err: ErrClosed}
		default:
			return
		}
	}
}

func (l *Log) commitAndReply(batch []*request) {
	if len(batch) == 0 {
		return
	}
	// Requests whose caller went away before the batch started are dropped.
	live := batch[:0]
	for _, r := range batch {
		if err := r.ctx.Err(); err != nil {
			r.reply <- reply{err: err}
			continue
		}
		live = append(live, r)
	}
	if len(live) == 0 {
		return
	}
	// The commit itself does not stop for one caller's context.
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	added, cp, err := l.commit(ctx, live)
	if err == nil && l.wit.committed != nil {
		l.wit.committed(cp)
	}
	for i, r := range live {
		if err != nil {
			r.reply <- reply{err: err}
			continue
		}
		r.reply <- reply{added: added[i], cp: cp}
	}
}

// txHashes reads stored hashes inside an append: those this batch made,
// then the cache, then the store.
type txHashes struct {
	tx      store.AppendTx
	first   int64
	pending []tlog.Hash
	cache   *hashCache
}

func (r *txHashes) ReadHashes(ids []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ids))
	var missing []int64
	var at []int
	for i, id := range ids {
		switch {
		case id >= r.first && id < r.first+int64(len(r.pending)):
			out[i] = r.pending[id-r.first]
		default:
			if h, ok := r.cache.get(id); ok {
				out[i] = h
				continue
			}
			missing = append(missing, id)
			at = append(at, i)
		}
	}
	if len(missing) > 0 {
		hs, err := r.tx.ReadHashes(missing)
		if err != nil {
			return nil, err
		}
		for j, h := range hs {
			out[at[j]] = h
		}
	}
	return out, nil
}

func (l *Log) commit(ctx context.Context, batch []*request) ([][]Added, store.Checkpoint, error) {
	var cp store.Checkpoint
	var added [][]Added
	var made []tlog.Hash
	var madeFirst int64
	err := l.st.Append(ctx, func(tx store.AppendTx) error {
		added = make([][]Added, len(batch))
		size := tx.Size()
		var hashes []tlog.Hash
		for _, r := range batch {
			for _, it := range r.items {
				hashes = append(hashes, it.LeafHash)
			}
		}
		have, err := tx.FindLeaves(hashes)
		if err != nil {
			return err
		}
		reader := &txHashes{tx: tx, first: tlog.StoredHashCount(size), cache: l.cache}
		now := l.clock().UTC()
		var entries []store.NewEntry
		for ri, r := range batch {
			for i, it := range r.items {
				if idx, ok := have[it.LeafHash]; ok {
					added[ri] = append(added[ri], Added{Index: idx})
					continue
				}
				n := size + int64(len(entries))
				hs, err := tlog.StoredHashesForRecordHash(n, it.LeafHash, reader)
				if err != nil {
					return fmt.Errorf("append: hash leaf %d: %w", n, err)
				}
				reader.pending = append(reader.pending, hs...)
				have[it.LeafHash] = n
				entries = append(entries, store.NewEntry{Index: n, Item: it, LoggedAt: now, Report: r.reports[i]})
				added[ri] = append(added[ri], Added{Index: n, New: true})
			}
		}
		if len(entries) == 0 {
			return nil
		}
		newSize := size + int64(len(entries))
		root, err := tlog.TreeHash(newSize, reader)
		if err != nil {
			return fmt.Errorf("append: tree hash: %w", err)
		}
		signed, err := logproof.Sign(logproof.Checkpoint{Origin: l.origin, Size: newSize, Hash: root}, l.skey)
		if err != nil {
			return err
		}
		if err := tx.Add(entries, reader.first, reader.pending); err != nil {
			return err
		}
		if err := tx.AddCheckpoint(newSize, signed, now); err != nil {
			return err
		}
		cp = store.Checkpoint{Size: newSize, Note: signed, At: now}
		made, madeFirst = reader.pending, reader.first
		return nil
	})
	if err != nil {
		return nil, cp, err
	}
	// Only committed hashes enter the cache: a stored hash never changes
	// once committed, so the cache is right for every replica.
	for i, h := range made {
		l.cache.put(madeFirst+int64(i), h)
	}
	if cp.Size == 0 {
		// Every item was logged already: answer with the latest tree.
		cp, err = l.st.LatestCheckpoint(ctx)
		if err != nil {
			return nil, cp, err
		}
	}
	return added, cp, nil
}

// hashReader reads committed stored hashes through the cache.
type hashReader struct {
	ctx context.Context
	l   *Log
}

func (r hashReader) ReadHashes(ids []int64) ([]tlog.Hash, error) {
	out := make([]tlog.Hash, len(ids))
	var missing []int64
	var at []int
	for i, id := range ids {
		if h, ok := r.l.cache.get(id); ok {
			out[i] = h
			continue
		}
		missing = append(missing, id)
		at = append(at, i)
	}
	if len(missing) > 0 {
		hs, err := r.l.st.ReadHashes(r.ctx, missing)
		if err != nil {
			return nil, err
		}
		for j, h := range hs {
			out[at[j]] = h
			r.l.cache.put(missing[j], h)
		}
	}
	return out, nil
}

// Hashes is a tlog.HashReader over the committed log.
func (l *Log) Hashes(ctx context.Context) tlog.HashReader { return hashReader{ctx: ctx, l: l} }

// Latest is the newest signed checkpoint, opened. A log with no entries yet
// gets a signed checkpoint of the empty tree, made on the spot.
func (l *Log) Latest(ctx context.Context) (store.Checkpoint, logproof.Checkpoint, error) {
	c, err := l.st.LatestCheckpoint(ctx)
	if errors.Is(err, store.ErrNotFound) {
		return l.empty()
	}
	if err != nil {
		return c, logproof.Checkpoint{}, err
	}
	oc, err := l.verifier.Open(c.Note)
	if err != nil {
		return c, oc, fmt.Errorf("latest checkpoint: %w", err)
	}
	return c, oc, nil
}

// empty is a signed checkpoint of the empty tree, made on the spot.
func (l *Log) empty() (store.Checkpoint, logproof.Checkpoint, error) {
	empty := logproof.Checkpoint{Origin: l.origin, Size: 0, Hash: emptyHash}
	signed, err := logproof.Sign(empty, l.skey)
	if err != nil {
		return store.Checkpoint{}, logproof.Checkpoint{}, err
	}
	return store.Checkpoint{Size: 0, Note: signed, At: l.clock().UTC()}, empty, nil
}

// emptyHash is the RFC 6962 root of the empty tree: the SHA-256 of nothing.
var emptyHash = tlog.Hash(sha256.Sum256(nil))

// ProveInclusion is the audit path of leaf index in the tree of size size.
func (l *Log) ProveInclusion(ctx context.Context, size, index int64) ([]tlog.Hash, error) {
	p, err := tlog.ProveRecord(size, index, l.Hashes(ctx))
	if err != nil {
		return nil, fmt.Errorf("prove inclusion of %d in %d: %w", index, size, err)
	}
	return p, nil
}

// ProveConsistency proves that the tree of size newer extends the one of
// size older.
func (l *Log) ProveConsistency(ctx context.Context, older, newer int64) ([]tlog.Hash, error) {
	if older < 0 || older > newer {
		return nil, fmt.Errorf("prove consistency: sizes %d and %d", older, newer)
	}
	if older == 0 || older == newer {
		return nil, nil
	}
	p, err := tlog.ProveTree(newer, older, l.Hashes(ctx))
	if err != nil {
		return nil, fmt.Errorf("prove consistency of %d with %d: %w", older, newer, err)
	}
	return p, nil
}
