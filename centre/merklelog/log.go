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
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/sumdb/note"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/store"
)

// MaxBatch bounds the leaves one append transaction takes.
const MaxBatch = 1024

// MaxPerKeySubject bounds the entries one registered key may sign about one
// subject (a file, a source): one key cannot crowd another release's
// lookups, which hold every key's entries. Checked in the append
// transaction, so it holds across replicas.
const MaxPerKeySubject = 256

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

	// seen is the largest tree size this process committed or read: a
	// store that shows a smaller one was rolled back or replaced.
	seen atomic.Int64
	// lastErr is the error of the last commit that failed for a reason of
	// the store's (nil after one that succeeded).
	lastErr atomic.Pointer[error]
}

// ErrRolledBack is a store that holds a shorter log than the log once
// committed: the database was replaced, or restored from an old backup.
// The log refuses to write to it (a new history under the same key would
// be a fork).
var ErrRolledBack = errors.New("the database holds a shorter log than this centre has already signed: it was replaced or restored from an old backup, and writing to it would fork the log")

// RefusedError is one item of a submission refused inside the append
// transaction (a revoked key, a key over its share of one subject); the
// rest of the batch goes on.
type RefusedError struct {
	// Item is the item's position in the submission.
	Item int
	Err  error
}

func (e *RefusedError) Error() string { return e.Err.Error() }
func (e *RefusedError) Unwrap() error { return e.Err }

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

// Health is the error of the last commit, when it failed for a reason of
// the store's (a full disk, a database outage, a replaced database); nil
// once a commit succeeds again.
func (l *Log) Health() error {
	if p := l.lastErr.Load(); p != nil {
		return *p
	}
	return nil
}

// MetaVerifierKey is the store setting that names the log's verifier key,
// recorded by the first start: a store without it holds no log yet.
const MetaVerifierKey = "verifier-key"

// ErrClosed is returned for appends after Close.
var ErrClosed = errors.New("the log is shutting down")

// ErrBusy is returned for an append when the sequencer's queue is full.
var ErrBusy = errors.New("the log's queue of appends is full")

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
	stored, err := st.InitMeta(ctx, MetaVerifierKey, vkey)
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
	case <-l.stop:
		return nil, store.Checkpoint{}, ErrClosed
	case <-ctx.Done():
		return nil, store.Checkpoint{}, ctx.Err()
	default:
	}
	select {
	case l.queue <- r:
	case <-l.stop:
		return nil, store.Checkpoint{}, ErrClosed
	default:
		// Overloaded: say so at once, rather than hold the caller.
		return nil, store.Checkpoint{}, ErrBusy
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
	added, refused, cp, err := l.commit(ctx, live)
	if err != nil {
		l.lastErr.Store(&err)
	} else {
		l.lastErr.Store(nil)
	}
	if err == nil && l.wit.committed != nil {
		l.wit.committed(cp)
	}
	for i, r := range live {
		switch {
		case err != nil:
			r.reply <- reply{err: err}
		case refused[i] != nil:
			r.reply <- reply{err: refused[i]}
		default:
			r.reply <- reply{added: added[i], cp: cp}
		}
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

func (l *Log) commit(ctx context.Context, batch []*request) ([][]Added, []error, store.Checkpoint, error) {
	var cp store.Checkpoint
	var added [][]Added
	var refused []error
	var made []tlog.Hash
	var madeFirst int64
	err := l.st.Append(ctx, func(tx store.AppendTx) error {
		added = make([][]Added, len(batch))
		size := tx.Size()
		if size < l.seen.Load() {
			return fmt.Errorf("append: %w (it has %d entries; this centre signed a tree of %d)", ErrRolledBack, size, l.seen.Load())
		}
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
		if refused, err = admit(tx, batch, have); err != nil {
			return err
		}
		reader := &txHashes{tx: tx, first: tlog.StoredHashCount(size), cache: l.cache}
		now := l.clock().UTC()
		var entries []store.NewEntry
		for ri, r := range batch {
			if refused[ri] != nil {
				continue
			}
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
		return nil, nil, cp, err
	}
	// Only committed hashes enter the cache: a stored hash never changes
	// once committed, so the cache is right for every replica.
	for i, h := range made {
		l.cache.put(madeFirst+int64(i), h)
	}
	if cp.Size == 0 {
		// Every item was logged already (or refused): answer with the
		// latest tree.
		cp, err = l.st.LatestCheckpoint(ctx)
		if errors.Is(err, store.ErrNotFound) {
			cp, _, err = l.Latest(ctx)
		}
		if err != nil {
			return nil, nil, cp, err
		}
	}
	l.saw(cp.Size)
	return added, refused, cp, nil
}

// saw records a tree size the store showed.
func (l *Log) saw(size int64) {
	for {
		old := l.seen.Load()
		if size <= old || l.seen.CompareAndSwap(old, size) {
			return
		}
	}
}

// admit decides, inside the append transaction, which requests of a batch
// may be logged: none of whose new items is signed by a revoked key, nor
// takes a key past MaxPerKeySubject entries about one subject. It returns
// an error for each refused request (nil for the others).
func admit(tx store.AppendTx, batch []*request, have map[tlog.Hash]int64) ([]error, error) {
	refused := make([]error, len(batch))
	var keys, subjects []digest.Digest
	for _, r := range batch {
		for _, it := range r.items {
			if _, ok := have[it.LeafHash]; ok {
				continue
			}
			keys = append(keys, it.SignerKeys...)
			if it.Revocation != nil {
				keys = append(keys, it.Revocation.Key)
			}
			for _, s := range it.Subjects {
				subjects = append(subjects, s.Digest)
			}
		}
	}
	if len(keys) == 0 {
		return refused, nil
	}
	revoked, err := tx.Revoked(keys)
	if err != nil {
		return nil, err
	}
	counts, err := tx.SignedCounts(subjects, keys)
	if err != nil {
		return nil, err
	}
	for ri, r := range batch {
		add := map[store.SubjectKey]int{}
	items:
		for i, it := range r.items {
			if _, ok := have[it.LeafHash]; ok {
				continue
			}
			if it.Revocation != nil && revoked[it.Revocation.Key] {
				refused[ri] = &RefusedError{Item: i, Err: fmt.Errorf("revoke key %s: %w", it.Revocation.Key, store.ErrExists)}
				break
			}
			for _, k := range it.SignerKeys {
				if revoked[k] {
					refused[ri] = &RefusedError{Item: i, Err: &item.Error{Code: item.CodeRevokedKey,
						Err: fmt.Errorf("the %s is signed by the key %s, which the centre's operator revoked", it.Kind, k)}}
					break items
				}
				for _, s := range uniqueSubjects(it.Subjects) {
					sk := store.SubjectKey{Subject: s, Key: k}
					if counts[sk]+add[sk]+1 > MaxPerKeySubject {
						refused[ri] = &RefusedError{Item: i, Err: &item.Error{Code: item.CodeQuota,
							Err: fmt.Errorf("the key %s has signed %d entries about %s, the most the centre logs from one key about one subject", k, counts[sk]+add[sk], s)}}
						break items
					}
					add[sk]++
				}
			}
		}
		if refused[ri] == nil {
			for sk, n := range add {
				counts[sk] += n
			}
			for _, it := range r.items {
				if it.Revocation != nil {
					revoked[it.Revocation.Key] = true
				}
			}
		}
	}
	return refused, nil
}

func uniqueSubjects(ss []item.Subject) []digest.Digest {
	var out []digest.Digest
	for _, s := range ss {
		if !slices.Contains(out, s.Digest) {
			out = append(out, s.Digest)
		}
	}
	return out
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
	l.saw(c.Size)
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
