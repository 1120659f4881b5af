// Package centre is reprove's transparency centre: an HTTP server that keeps
// one append-only Merkle log of every review, rebuild, verification summary
// and compare report published to it, and serves the log to customers,
// monitors and people.
//
//   - Publishing (POST /v1/attestations, /v1/compare-reports): each DSSE
//     envelope is checked on arrival (a strict in-toto statement of a known
//     predicate type, signed by a key an operator registered in the right
//     role; see centre/item), logged, and answered with its leaf index, an
//     inclusion proof and the signed checkpoint. Resubmitting is idempotent.
//   - Lookup (GET /v1/artifacts/sha256:…): everything the log holds for a
//     file, with proofs and a signed artifact index (attest/logproof), so a
//     customer checks offline that nothing was left out.
//   - The log itself: GET /checkpoint and C2SP tlog-tiles (/tile/…), a
//     consistency-proof endpoint for monitors.
//   - Web pages (centre/web): search, release pages, the log.
//
// The pieces: centre/store (SQLite or PostgreSQL), centre/merklelog (the
// batched log on a store), centre/api (the wire format), centre/client.
// centre/API.md documents the HTTP interface.
package centre

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/reprove/reprove/attest/keys"
	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/centre/fleetweb"
	"github.com/reprove/reprove/centre/item"
	"github.com/reprove/reprove/centre/merklelog"
	"github.com/reprove/reprove/centre/store"
	"github.com/reprove/reprove/centre/web"
	"github.com/reprove/reprove/centre/witness"
	"github.com/reprove/reprove/fleet/queue"
)

// Config configures a centre.
type Config struct {
	// DataDir holds the SQLite database (unless DatabaseURL is set) and
	// the log's key pair (unless LogKey is set).
	DataDir string
	// DatabaseURL, when set, is a postgres:// URL: the centre keeps its
	// log in PostgreSQL, which replicas may share.
	DatabaseURL string
	// LogKey, when set, is the path of the log's note signer key; every
	// replica of one log needs the same key.
	LogKey string
	// Origin names the log in a key made at first start (its checkpoints'
	// first line); empty means "<hostname>/reprove".
	Origin string
	// Logf, when set, receives the server's own errors.
	Logf func(format string, args ...any)
	// Clock, when set, replaces time.Now.
	Clock func() time.Time
	// MaxBatch, when positive, bounds the leaves one commit takes
	// (merklelog.MaxBatch by default; 1 commits every submission alone).
	MaxBatch int
	// NewLog allows starting a new, empty log with a key that exists
	// already (LogKey, or DataDir's log.key). Without it the centre refuses:
	// an existing key beside an empty database means the database was lost
	// or replaced, and a new log under the old key would fork it.
	NewLog bool
	// KeyRate and KeyBurst are each registered key's share: envelopes per
	// second over time (DefaultKeyRate when 0; unlimited when negative)
	// and at once (DefaultKeyBurst when 0).
	KeyRate  float64
	KeyBurst int
	// MaxInFlight bounds the bytes of submissions in progress at once
	// (DefaultMaxInFlight when 0), MaxSubmissions their number
	// (DefaultMaxSubmissions when 0); past either, a submission is
	// answered 503 with Retry-After.
	MaxInFlight    int64
	MaxSubmissions int
	// Queue, when set, is a rebuild fleet's job queue: the centre serves
	// its dashboard under /fleet/ (centre/fleetweb).
	Queue *queue.Queue
	// Witnesses are asked to cosign each new checkpoint (C2SP
	// tlog-witness); lookups then serve the newest checkpoint that
	// WitnessQuorum of them cosigned (all of them when 0).
	Witnesses     []*witness.Witness
	WitnessQuorum int
	// Witnessing tunes the cosigner (its Logf defaults to Logf).
	Witnessing witness.Options
}

// Centre is an open transparency centre.
type Centre struct {
	cfg   Config
	st    store.Store
	log   *merklelog.Log
	keys  *keyRing
	gate  *gate
	quota *quotas
	cosig *witness.Cosigner
	web   http.Handler
	fleet http.Handler
	logf  func(string, ...any)
	clock func() time.Time
	// KeyCreated is set when this start made the log's key pair.
	KeyCreated bool
}

// Open opens the store (applying migrations), loads or makes the log key
// and starts the sequencer.
func Open(ctx context.Context, cfg Config) (*Centre, error) {
	c := &Centre{cfg: cfg, logf: cfg.Logf, clock: cfg.Clock}
	if c.logf == nil {
		c.logf = func(string, ...any) {}
	}
	if c.clock == nil {
		c.clock = time.Now
	}
	if cfg.DataDir == "" && (cfg.DatabaseURL == "" || cfg.LogKey == "") {
		return nil, errors.New("open centre: no data directory")
	}
	skey, created, err := loadKey(cfg)
	if err != nil {
		return nil, err
	}
	c.KeyCreated = created
	c.st, err = OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if !created && !cfg.NewLog {
		if err := holdsLog(ctx, c.st, cfg); err != nil {
			c.st.Close()
			return nil, err
		}
	}
	quorum := 0
	if len(cfg.Witnesses) > 0 {
		quorum = cfg.WitnessQuorum
		if quorum == 0 {
			quorum = len(cfg.Witnesses)
		}
		if quorum < 1 || quorum > len(cfg.Witnesses) {
			c.st.Close()
			return nil, fmt.Errorf("open centre: a witness quorum of %d among %d witnesses", quorum, len(cfg.Witnesses))
		}
	}
	// The cosigner starts after the log; a commit before then has nobody
	// to tell, and the cosigner's first round reads the newest anyway.
	var cosig atomic.Pointer[witness.Cosigner]
	var wkeys []string
	for _, w := range cfg.Witnesses {
		wkeys = append(wkeys, w.Key)
	}
	c.log, err = merklelog.Open(ctx, c.st, skey, merklelog.Options{Clock: c.clock, MaxBatch: cfg.MaxBatch, Quorum: quorum, Witnesses: wkeys,
		Committed: func(store.Checkpoint) {
			if cs := cosig.Load(); cs != nil {
				cs.Notify()
			}
		}})
	if err != nil {
		c.st.Close()
		return nil, err
	}
	if len(cfg.Witnesses) > 0 {
		wo := cfg.Witnessing
		if wo.Logf == nil {
			wo.Logf = c.logf
		}
		c.cosig = witness.Start(c.log, cfg.Witnesses, wo)
		cosig.Store(c.cosig)
	}
	c.keys = &keyRing{st: c.st}
	c.gate = newGate(cfg.MaxInFlight, cfg.MaxSubmissions)
	c.quota = newQuotas(cfg.KeyRate, cfg.KeyBurst)
	c.web = web.New(c.log, c.clock)
	if cfg.Queue != nil {
		c.fleet = fleetweb.New(cfg.Queue, c.log, c.clock)
	}
	return c, nil
}

// ErrNoLog is a centre whose log key exists while its database holds no
// log: see Config.NewLog.
var ErrNoLog = errors.New("the database holds no log")

// holdsLog refuses a store that holds no log when the key was not made
// now: the database was deleted or replaced, or points at another (empty)
// database, and starting over under the same key would fork the log.
func holdsLog(ctx context.Context, st store.Store, cfg Config) error {
	_, err := st.Meta(ctx, merklelog.MetaVerifierKey)
	if !errors.Is(err, store.ErrNotFound) {
		return err
	}
	key := cfg.LogKey
	if key == "" {
		key = filepath.Join(cfg.DataDir, merklelog.SignerKeyFile)
	}
	return fmt.Errorf("open centre: %w, but its key %s exists: the database was deleted, replaced or is not the log's; "+
		"a new log under this key would fork the log its customers know. Restore the database, or start a new log on purpose (reprove serve --new-log)", ErrNoLog, key)
}

// OpenStore opens the store a configuration names, as Open does.
func OpenStore(ctx context.Context, cfg Config) (store.Store, error) {
	return store.Open(ctx, cfg.DataDir, cfg.DatabaseURL)
}

func loadKey(cfg Config) (string, bool, error) {
	if cfg.LogKey != "" {
		k, err := merklelog.LoadKey(cfg.LogKey)
		return k, false, err
	}
	origin := cfg.Origin
	if origin == "" {
		origin = DefaultOrigin()
	}
	return merklelog.LoadOrCreateKey(cfg.DataDir, origin)
}

// DefaultOrigin is "<hostname>/reprove", with anything a note key name may
// not hold dropped.
func DefaultOrigin() string {
	h, _ := os.Hostname()
	h = strings.Map(func(r rune) rune {
		if r <= ' ' || r == '+' || r > '~' {
			return -1
		}
		return r
	}, h)
	if h == "" {
		h = "localhost"
	}
	return h + "/reprove"
}

// VerifierKeyPath is where the log's verifier key is written under dir.
func VerifierKeyPath(dir string) string { return filepath.Join(dir, merklelog.VerifierKeyFile) }

// Log is the centre's log.
func (c *Centre) Log() *merklelog.Log { return c.log }

// Witnesses reports what the cosigner knows of each witness (nil without
// witnesses).
func (c *Centre) Witnesses() []witness.Status {
	if c.cosig == nil {
		return nil
	}
	return c.cosig.Status()
}

// Close stops the cosigner and the sequencer and closes the store.
func (c *Centre) Close() error {
	if c.cosig != nil {
		c.cosig.Close()
	}
	c.log.Close()
	return c.st.Close()
}

// Handler serves the API, the log and the pages.
func (c *Centre) Handler() http.Handler {
	mux := http.NewServeMux()
	c.routes(mux)
	if c.fleet != nil {
		mux.Handle("/fleet/", c.fleet)
	}
	mux.Handle("/", c.web)
	return mux
}

// Serve serves HTTP on ln until ctx ends, then shuts down gracefully:
// it stops accepting, lets requests in flight finish (up to grace),
// and returns. The caller closes the centre afterwards.
func (c *Centre) Serve(ctx context.Context, ln net.Listener, grace time.Duration) error {
	srv := &http.Server{
		Handler:           c.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       2 * time.Minute,
		IdleTimeout:       2 * time.Minute,
		ErrorLog:          nil,
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil {
		return fmt.Errorf("shut down: %w", err)
	}
	if err := <-errc; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	return nil
}

// AddKey registers a public key (PEM) under name with a role.
func AddKey(ctx context.Context, st store.Store, name string, role item.Role, pem []byte, now time.Time) (store.KeyRecord, error) {
	if name == "" || strings.ContainsAny(name, "\n\r\t") {
		return store.KeyRecord{}, fmt.Errorf("add key: bad name %q", name)
	}
	v, err := keys.ParseVerifier(pem, name)
	if err != nil {
		return store.KeyRecord{}, fmt.Errorf("add key: %w", err)
	}
	rec := store.KeyRecord{Name: name, Role: role, Fingerprint: v.Fingerprint, PEM: v.PEM, AddedAt: now.UTC()}
	if err := st.AddKey(ctx, rec); err != nil {
		return store.KeyRecord{}, err
	}
	return rec, nil
}

// Revoked is a logged key revocation.
type Revoked struct {
	Key store.KeyRecord
	// Index is the revocation's log entry; TreeSize the tree it was
	// committed in.
	Index, TreeSize int64
}

// RevokeKey revokes the registered key name, for `reprove serve keys
// revoke`, beside or without a running centre: it opens the store and the
// log as cfg names them (the log's key must exist) and appends a
// revocation entry (logproof.Revocation) as one more replica would. From
// its commit on, every replica refuses what the key signs (the append
// transaction checks). What it signed before stays in the log; lookups of
// it carry the revocation, so verifiers can mark it.
func RevokeKey(ctx context.Context, cfg Config, name, reason string) (*Revoked, error) {
	if cfg.DataDir == "" && (cfg.DatabaseURL == "" || cfg.LogKey == "") {
		return nil, errors.New("revoke key: no data directory")
	}
	path := cfg.LogKey
	if path == "" {
		path = filepath.Join(cfg.DataDir, merklelog.SignerKeyFile)
	}
	skey, err := merklelog.LoadKey(path)
	if err != nil {
		return nil, fmt.Errorf("revoke key: %w", err)
	}
	st, err := OpenStore(ctx, cfg)
	if err != nil {
		return nil, err
	}
	defer st.Close()
	if err := holdsLog(ctx, st, cfg); err != nil {
		return nil, fmt.Errorf("revoke key: %w", err)
	}
	now := time.Now
	if cfg.Clock != nil {
		now = cfg.Clock
	}
	l, err := merklelog.Open(ctx, st, skey, merklelog.Options{Clock: now})
	if err != nil {
		return nil, err
	}
	defer l.Close()
	return revoke(ctx, st, l, name, reason, now())
}

func revoke(ctx context.Context, st store.Store, l *merklelog.Log, name, reason string, now time.Time) (*Revoked, error) {
	if strings.ContainsFunc(reason, func(r rune) bool { return r < ' ' && r != '\t' }) || len(reason) > 1024 {
		return nil, errors.New("revoke key: the reason must be one line of at most 1024 bytes")
	}
	recs, err := st.Keys(ctx)
	if err != nil {
		return nil, err
	}
	var rec *store.KeyRecord
	for i := range recs {
		if recs[i].Name == name {
			rec = &recs[i]
		}
	}
	if rec == nil {
		return nil, fmt.Errorf("revoke key %s: no key of that name is registered: %w", name, store.ErrNotFound)
	}
	if rec.Revoked {
		return nil, fmt.Errorf("revoke key %s: revoked already, at %s (log entry %d): %w", name, rec.RevokedAt.Format(time.RFC3339), rec.RevokedIndex, store.ErrExists)
	}
	role, _ := rec.Role.MarshalText()
	it, err := item.RevocationItem(logproof.Revocation{Key: rec.Fingerprint, Name: rec.Name, Role: string(role), RevokedAt: now, Reason: reason})
	if err != nil {
		return nil, fmt.Errorf("revoke key %s: %w", name, err)
	}
	added, cp, err := l.Append(ctx, []*item.Item{it}, nil)
	if err != nil {
		return nil, fmt.Errorf("revoke key %s: %w", name, err)
	}
	recs, err = st.Keys(ctx)
	if err != nil {
		return nil, err
	}
	for _, k := range recs {
		if k.Name == name {
			rec = &k
		}
	}
	return &Revoked{Key: *rec, Index: added[0].Index, TreeSize: cp.Size}, nil
}
