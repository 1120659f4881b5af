// Package store keeps the transparency centre's log and its indexes in a
// database: SQLite (modernc.org/sqlite, pure Go; one file, the embedded
// default) or PostgreSQL (pgx; several centre replicas share one server).
// Both go through database/sql and share their queries; a dialect holds what
// differs (placeholders, the append lock, column types in the migrations).
//
// The log itself is three append-only tables: entries (leaf index → leaf
// bytes), hashes (tlog's stored hash index → hash) and checkpoints (tree
// size → signed note). Triggers refuse any UPDATE or DELETE on them, so not
// even a bug in the centre can rewrite a leaf. Beside them, indexes for
// lookups: the subjects of each entry, the attestations it cites, the names
// it is known by, and the compare reports logged by digest.
//
// Appends are serialised by a lock taken at the start of each append
// transaction (SQLite: BEGIN IMMEDIATE; PostgreSQL: SELECT … FOR UPDATE on
// the one row of table tree), so replicas sharing one PostgreSQL never give
// two leaves the same index: each reads the tree size under the lock.
package store

import (
	"context"
	"errors"
	"time"

	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprove/reprove/centre/item"
)

// Store is the centre's storage. Every method is safe for concurrent use.
type Store interface {
	// Append runs fn in one write transaction that holds the log's append
	// lock, and commits when fn returns nil. Nothing fn wrote is kept when
	// it returns an error.
	Append(ctx context.Context, fn func(tx AppendTx) error) error

	// ReadHashes reads stored hashes of the committed log by tlog's
	// stored-hash index; a missing one is an error.
	ReadHashes(ctx context.Context, ids []int64) ([]tlog.Hash, error)
	// LatestCheckpoint is the signed checkpoint of the largest tree; a log
	// with no entries has none (ErrNotFound).
	LatestCheckpoint(ctx context.Context) (Checkpoint, error)
	// CheckpointAt is the signed checkpoint of one tree size.
	CheckpointAt(ctx context.Context, size int64) (Checkpoint, error)
	// Leaves reads the leaves with index in [start, end), in order.
	Leaves(ctx context.Context, start, end int64) ([][]byte, error)
	// Entry reads one entry.
	Entry(ctx context.Context, index int64) (*Entry, error)
	// FindLeaves returns the index of each of the leaf hashes the log holds.
	FindLeaves(ctx context.Context, hashes []tlog.Hash) (map[tlog.Hash]int64, error)
	// Lookup returns, among the entries below tree size size, those whose
	// subject is d, and the entries whose payload digest one of those cites;
	// sorted by index. Compare reports are left out unless withReports.
	Lookup(ctx context.Context, d digest.Digest, size int64, withReports bool) ([]*Entry, error)
	// Recent returns the newest n entries, newest first.
	Recent(ctx context.Context, n int) ([]*Entry, error)
	// Search finds the artifacts known by a name (and version, if not
	// empty): rebuild outputs of recipes with that name and the shipped
	// files of summaries citing those rebuilds or naming their subject so.
	Search(ctx context.Context, name, version string, limit int) ([]Release, error)
	// CompareReport reads a logged compare report's JSON by its digest.
	CompareReport(ctx context.Context, d digest.Digest) ([]byte, error)

	// AddKey registers a key. A name or a key already registered is an
	// error (ErrExists).
	AddKey(ctx context.Context, k KeyRecord) error
	// Keys lists the registered keys, by name.
	Keys(ctx context.Context) ([]KeyRecord, error)
	// KeysVersion changes whenever a key is added: callers cache Keys.
	KeysVersion(ctx context.Context) (int64, error)

	// AddCosignature records a witness's cosignature of the checkpoint of
	// a tree size, keeping only the newest line of each witness per size.
	AddCosignature(ctx context.Context, c Cosignature) error
	// Cosignatures returns the cosignatures stored for a tree size.
	Cosignatures(ctx context.Context, size int64) ([]Cosignature, error)
	// LatestCosigned is the largest tree size cosigned by at least n of
	// the witnesses named (ErrNotFound when there is none).
	LatestCosigned(ctx context.Context, n int, witnesses []string) (int64, error)

	// InitMeta stores value under name unless one is stored already, and
	// returns the stored value.
	InitMeta(ctx context.Context, name, value string) (string, error)

	// Dialect names the database ("sqlite" or "postgres").
	Dialect() string
	Close() error
}

// AppendTx is what an append transaction may do.
type AppendTx interface {
	// Size is the number of entries in the log, read under the lock.
	Size() int64
	// ReadHashes reads stored hashes (committed before this transaction).
	ReadHashes(ids []int64) ([]tlog.Hash, error)
	// FindLeaves returns the index of each of the leaf hashes the log holds.
	FindLeaves(hashes []tlog.Hash) (map[tlog.Hash]int64, error)
	// Add appends entries (their indexes must continue the log) and the
	// stored hashes they bring, starting at stored-hash index first.
	Add(entries []NewEntry, first int64, hashes []tlog.Hash) error
	// AddCheckpoint records the signed checkpoint of the new tree.
	AddCheckpoint(size int64, note []byte, at time.Time) error
}

// NewEntry is one leaf to append and what to index it by.
type NewEntry struct {
	Index    int64
	Item     *item.Item
	LoggedAt time.Time
	// Report is the compare report's JSON, for an item of that kind.
	Report []byte
}

// Entry is one logged leaf and what the store knows of it.
type Entry struct {
	Index         int64
	Leaf          []byte
	Kind          item.Kind
	PayloadDigest digest.Digest
	PredicateType string
	Signers       []string
	LoggedAt      time.Time
}

// Checkpoint is one signed tree head as stored.
type Checkpoint struct {
	Size int64
	Note []byte
	At   time.Time
}

// Release is one search result: an artifact and the name it is known by.
type Release struct {
	Digest  digest.Digest
	Name    string
	Version string
	// Shipped is true when a verification summary is about the file (it
	// is what the vendor shipped); false when only a rebuild produced it
	// (a rebuilder's output that differs from every shipped file).
	Shipped bool
}

// KeyRecord is a registered key.
type KeyRecord struct {
	Name        string
	Role        item.Role
	Fingerprint digest.Digest
	PEM         []byte
	AddedAt     time.Time
}

// Errors callers branch on.
var (
	ErrNotFound = errors.New("not found")
	ErrExists   = errors.New("already exists")
)
