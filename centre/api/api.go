// Package api is the transparency centre's HTTP interface as data: the
// paths, the JSON of requests and replies (schemas/centre-*.schema.json),
// the limits, and the C2SP tlog-tiles paths. The server (package centre)
// and the client (centre/client) share it, so they cannot disagree.
// centre/API.md documents it for people.
package api

import (
	"errors"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprove/reprove/attest/logproof"
)

// SchemaVersion is the version of every JSON reply below.
const SchemaVersion = 1

// Paths.
const (
	PathAttestations   = "/v1/attestations"
	PathCompareReports = "/v1/compare-reports"
	PathArtifacts      = "/v1/artifacts/" // + digest
	PathEntries        = "/v1/entries/"   // + index
	PathCheckpoints    = "/v1/checkpoints/"
	PathConsistency    = "/v1/consistency" // ?from=A&to=B
	PathLog            = "/v1/log"
	PathKeys           = "/v1/keys"
	PathCheckpoint     = "/checkpoint" // C2SP tlog-tiles
	PathTiles          = "/tile/"      // C2SP tlog-tiles
)

// Media types.
const (
	MediaJSON       = "application/json"
	MediaBundle     = logproof.BundleMediaType
	MediaCheckpoint = "text/plain; charset=utf-8"
	MediaTile       = "application/octet-stream"
)

// Limits.
const (
	// MaxSubmission bounds a POST body.
	MaxSubmission = 32 << 20
	// MaxEnvelopes bounds the envelopes of one submission.
	MaxEnvelopes = 1024
	// MaxSigners bounds the keys one lookup asks for (?signer=, repeated).
	MaxSigners = 64
)

// QuerySigner is the lookup's query parameter that names a key (its
// sha256 fingerprint) whose entries the bundle is to hold; repeated for
// several keys. Without it a lookup holds every key's entries.
const QuerySigner = "signer"

// Error is the JSON of every 4xx and 5xx reply.
type Error struct {
	SchemaVersion int    `json:"schemaVersion"`
	Code          string `json:"code"`
	Message       string `json:"message"`
	// Document names the submitted document the error is about, for a
	// .jsonl submission ("line 3").
	Document string `json:"document,omitempty"`
}

func (e *Error) Error() string {
	if e.Document != "" {
		return fmt.Sprintf("%s: %s (%s)", e.Document, e.Message, e.Code)
	}
	return fmt.Sprintf("%s (%s)", e.Message, e.Code)
}

// Error codes besides item's (malformed, bad-statement, unknown-predicate,
// bad-predicate, unknown-key, wrong-role, too-large, unrelated,
// revoked-key, quota).
const (
	CodeNotFound = "not-found"
	// CodeTooManyEntries: the log holds more entries for an artifact than
	// one bundle holds; ask for the keys you trust (?signer=).
	CodeTooManyEntries = "too-many-entries"
	CodeBadRequest     = "bad-request"
	// CodeRateLimited: a key submitted more than its share; retry after
	// the reply's Retry-After.
	CodeRateLimited = "rate-limited"
	// CodeUnavailable: the centre is shutting down, overloaded, or its
	// storage is failing; retry after the reply's Retry-After.
	CodeUnavailable = "unavailable"
	CodeInternal    = "internal"
)

// KeysReply answers GET /v1/keys: every key the centre has registered,
// revoked ones too (the log keeps what they signed). A monitor reads it to
// ask a crowded artifact's lookup key by key.
type KeysReply struct {
	SchemaVersion int        `json:"schemaVersion"`
	Keys          []KeyReply `json:"keys"`
}

// KeyReply is one registered key.
type KeyReply struct {
	Name        string        `json:"name"`
	Role        string        `json:"role"`
	Fingerprint digest.Digest `json:"fingerprint"`
	AddedAt     string        `json:"addedAt"`
	// PublicKey is the key, PEM (PKIX).
	PublicKey string `json:"publicKey,omitempty"`
	// RevokedAt and RevocationEntry are set for a revoked key: when, and
	// the log entry that says so.
	RevokedAt       string `json:"revokedAt,omitempty"`
	RevocationEntry *int64 `json:"revocationEntry,omitempty"`
}

// SubmitReply answers POST /v1/attestations and /v1/compare-reports: where
// each submitted document is in the log, with an inclusion proof to the
// signed checkpoint it carries.
type SubmitReply struct {
	SchemaVersion int `json:"schemaVersion"`
	// Checkpoint is the signed note of a tree that holds every entry.
	Checkpoint string `json:"checkpoint"`
	TreeSize   int64  `json:"treeSize"`
	// Entries are in the order of the submitted documents.
	Entries []SubmittedEntry `json:"entries"`
}

// SubmittedEntry is one submitted document's place in the log.
type SubmittedEntry struct {
	Index int64 `json:"index"`
	// New is false for a document the log held already.
	New  bool   `json:"new"`
	Kind string `json:"kind"`
	// PayloadDigest is the sha256 of the signed statement (or of the
	// compare report), by which attestations cite each other.
	PayloadDigest digest.Digest `json:"payloadDigest"`
	// LeafHash is the RFC 6962 leaf hash, base64.
	LeafHash       string   `json:"leafHash"`
	InclusionProof []string `json:"inclusionProof"`
	// Subjects are the sha256 digests the entry is about (lookups find it
	// by them).
	Subjects []digest.Digest `json:"subjects"`
}

// LogInfo answers GET /v1/log.
type LogInfo struct {
	SchemaVersion int    `json:"schemaVersion"`
	Origin        string `json:"origin"`
	// VerifierKey is the note verifier key that signs checkpoints and
	// artifact indexes: what a policy pins.
	VerifierKey string `json:"verifierKey"`
	TreeSize    int64  `json:"treeSize"`
	Checkpoint  string `json:"checkpoint"`
}

// ConsistencyReply answers GET /v1/consistency?from=A&to=B.
type ConsistencyReply struct {
	SchemaVersion int      `json:"schemaVersion"`
	From          int64    `json:"from"`
	To            int64    `json:"to"`
	Proof         []string `json:"proof"`
}

// EntryReply answers GET /v1/entries/N: the leaf (an envelope's canonical
// JSON, or a compare-report leaf), base64 so its bytes are exact, with its
// proof to the latest checkpoint.
type EntryReply struct {
	SchemaVersion  int           `json:"schemaVersion"`
	Index          int64         `json:"index"`
	Kind           string        `json:"kind"`
	PayloadDigest  digest.Digest `json:"payloadDigest"`
	Signers        []string      `json:"signers"`
	LoggedAt       string        `json:"loggedAt"`
	Leaf           []byte        `json:"leaf"`
	InclusionProof []string      `json:"inclusionProof"`
	Checkpoint     string        `json:"checkpoint"`
}

// CheckpointReply answers GET /v1/checkpoints/N: the checkpoint the log
// signed when it reached that size.
type CheckpointReply struct {
	SchemaVersion int    `json:"schemaVersion"`
	TreeSize      int64  `json:"treeSize"`
	Checkpoint    string `json:"checkpoint"`
	SignedAt      string `json:"signedAt"`
}

// TilePath is the C2SP tlog-tiles path of a tile (L ≥ 0: a hash tile,
// "tile/L/N[.p/W]"; L = -1: an entry bundle, "tile/entries/N[.p/W]").
//
// x/mod's tlog.Tile.Path is used for the index encoding (x001/x234/067),
// which C2SP shares; its paths also carry the tile height ("tile/8/…") and
// call entry bundles "data", which C2SP does not: those two parts are
// rewritten here.
func TilePath(t tlog.Tile) string {
	p := strings.TrimPrefix(t.Path(), "tile/8/")
	if rest, ok := strings.CutPrefix(p, "data/"); ok {
		return "tile/entries/" + rest
	}
	return "tile/" + p
}

// ParseTilePath parses a C2SP tile path (the inverse of TilePath). Only
// tiles of height 8 exist in C2SP, and levels 0 to 63.
func ParseTilePath(path string) (tlog.Tile, error) {
	rest, ok := strings.CutPrefix(path, "tile/")
	if !ok {
		return tlog.Tile{}, errors.New("tile path: not under tile/")
	}
	if e, ok := strings.CutPrefix(rest, "entries/"); ok {
		rest = "data/" + e
	}
	t, err := tlog.ParseTilePath("tile/8/" + rest)
	if err != nil {
		return tlog.Tile{}, fmt.Errorf("tile path %q: not a C2SP tile path", path)
	}
	// The round trip refuses what C2SP does not spell so: x/mod's "data",
	// leading zeros, a full tile written as partial.
	if TilePath(t) != path {
		return tlog.Tile{}, fmt.Errorf("tile path %q: not in canonical form", path)
	}
	return t, nil
}
