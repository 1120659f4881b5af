// Package item decides what the transparency centre accepts into its log and
// what each logged leaf says. It is pure apart from the signature checks,
// which go through attest's own parsers and cosign's verification.
//
// An item is one of four kinds:
//
//   - a review (attest.ReviewPredicateType), signed by a reviewer key;
//   - a rebuild (SLSA Provenance v1 with reprove's build type), signed by a
//     rebuilder key;
//   - a verification summary: SLSA's Verification Summary Attestation v1
//     (attest.VSAPredicateType) or reprove's earlier summary
//     (attest.SummaryPredicateType), signed by a rebuilder key;
//   - a comparison (attest.ComparisonPredicateType), the VSA's companion
//     with the verdict word and normalizers, signed by a rebuilder key;
//   - a compare report (compare --json), logged by digest
//     (logproof.CompareReportLeaf) and kept beside the log;
//   - a key revocation (logproof.RevocationLeaf), logged by the operator
//     (`reprove serve keys revoke`), never submitted.
//
// For each the centre keeps an index: the sha256 digests of its subjects,
// the payload digests of the attestations it cites (a summary's rebuild and
// reviews, a comparison's compare report), the source a rebuild names, the
// keys that signed it, and the name and version it is known by, so that a
// lookup by artifact digest can return an item, everything it rests on and
// the reviews of its source.
//
// Every signature on a submitted envelope must verify under a registered
// key (at most MaxSignatures of them, counted before any is verified); a
// signature whose key id names a registered key is checked against that
// key alone, and the first signature that verifies under no key refuses
// the envelope, so a hostile envelope costs at most one pass over the keys.
package item

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/sumdb/tlog"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/keys"
	"github.com/reprove/reprove/attest/logproof"
)

// Kind is what an item is.
type Kind int

// The kinds of item.
const (
	Review Kind = iota + 1
	Rebuild
	Summary
	Comparison
	CompareReport
	Revocation
)

var kindNames = map[Kind]string{Review: "review", Rebuild: "rebuild", Summary: "summary", Comparison: "comparison", CompareReport: "compare-report",
	Revocation: "revocation"}

func (k Kind) String() string {
	if s, ok := kindNames[k]; ok {
		return s
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// MarshalText implements encoding.TextMarshaler.
func (k Kind) MarshalText() ([]byte, error) {
	s, ok := kindNames[k]
	if !ok {
		return nil, fmt.Errorf("marshal item kind: invalid value %d", int(k))
	}
	return []byte(s), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *Kind) UnmarshalText(b []byte) error {
	for v, s := range kindNames {
		if s == string(b) {
			*k = v
			return nil
		}
	}
	return fmt.Errorf("unmarshal item kind: unknown kind %q", b)
}

// Role is what an operator registered a key for.
type Role int

// The roles of keys.
const (
	Reviewer Role = iota + 1
	Rebuilder
)

var roleNames = map[Role]string{Reviewer: "reviewer", Rebuilder: "rebuilder"}

func (r Role) String() string {
	if s, ok := roleNames[r]; ok {
		return s
	}
	return fmt.Sprintf("Role(%d)", int(r))
}

// MarshalText implements encoding.TextMarshaler.
func (r Role) MarshalText() ([]byte, error) {
	s, ok := roleNames[r]
	if !ok {
		return nil, fmt.Errorf("marshal key role: invalid value %d", int(r))
	}
	return []byte(s), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Role) UnmarshalText(b []byte) error {
	v, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = v
	return nil
}

// ParseRole parses "reviewer" or "rebuilder".
func ParseRole(s string) (Role, error) {
	for v, n := range roleNames {
		if n == s {
			return v, nil
		}
	}
	return 0, fmt.Errorf("unknown key role %q (want reviewer or rebuilder)", s)
}

// Key is a public key the centre knows: the name the operator gave it, its
// role and the key itself.
type Key struct {
	Name     string
	Role     Role
	Verifier *keys.Verifier
	// Revoked is set once an operator revoked the key: an envelope it
	// signs is refused.
	Revoked bool
}

// Subject is one subject of an item that the centre indexes: the sha256
// digest, and the name the statement gives it.
type Subject struct {
	Name   string
	Digest digest.Digest
}

// Name is a name and version an item is known by (a rebuild's recipe, a
// summary's shipped file); Version may be empty.
type Name struct {
	Name    string
	Version string
}

// Item is an accepted submission, ready to be logged.
type Item struct {
	Kind Kind
	// Leaf is the log leaf: the envelope's canonical JSON
	// (logproof.EnvelopeLeaf), or logproof.CompareReportLeaf.
	Leaf     []byte
	LeafHash tlog.Hash
	// PayloadDigest is the sha256 of the signed statement, by which other
	// attestations cite this one; for a compare report, the report's digest.
	PayloadDigest digest.Digest
	PredicateType string
	Subjects      []Subject
	// Cites are the payload digests of the attestations a summary or a
	// comparison rests on, and the digest of a comparison's compare report.
	Cites []digest.Digest
	// Sources are the lookup digests (attest.DigestSet.LookupDigest) of the
	// source a rebuild names: the centre hands the reviews found under them
	// to the customers of the rebuild's files.
	Sources []digest.Digest
	Names   []Name
	// Signers are the names of the registered keys of the item's role that
	// signed, sorted; SignerKeys the fingerprints of every registered key
	// that signed (of either role), sorted.
	Signers    []string
	SignerKeys []digest.Digest
	// Revocation is what a revocation item says.
	Revocation *logproof.Revocation
}

// Code names why a submission was refused; it is the "code" of the API's
// JSON error.
type Code string

// The reasons a submission is refused.
const (
	CodeMalformed        Code = "malformed"
	CodeBadStatement     Code = "bad-statement"
	CodeUnknownPredicate Code = "unknown-predicate"
	CodeBadPredicate     Code = "bad-predicate"
	CodeUnknownKey       Code = "unknown-key"
	CodeWrongRole        Code = "wrong-role"
	CodeTooLarge         Code = "too-large"
	CodeUnrelated        Code = "unrelated"
	CodeRevokedKey       Code = "revoked-key"
	CodeQuota            Code = "quota"
)

// Error is a refused submission.
type Error struct {
	Code Code
	Err  error
}

func (e *Error) Error() string { return e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

func refuse(code Code, format string, a ...any) *Error {
	return &Error{Code: code, Err: fmt.Errorf(format, a...)}
}

// PredicateTypes are the statements the centre logs.
var PredicateTypes = []string{attest.ReviewPredicateType, attest.ProvenancePredicateType, attest.VSAPredicateType,
	attest.ComparisonPredicateType, attest.SummaryPredicateType}

// roleFor is the role whose keys may sign an item of kind k.
func roleFor(k Kind) Role {
	if k == Review {
		return Reviewer
	}
	return Rebuilder
}

// MaxSignatures bounds the signatures on one envelope the centre logs. It
// is checked before any signature is verified.
const MaxSignatures = 16

// CheckEnvelope checks one submitted DSSE envelope: strict parsing, a
// statement of a known predicate type that attest reads without error, and
// a valid signature by at least one of keys whose role fits the kind.
// Errors are *Error.
func CheckEnvelope(ctx context.Context, raw []byte, known []Key) (*Item, error) {
	e, err := envelope.Parse(raw)
	if err != nil {
		return nil, &Error{Code: CodeMalformed, Err: err}
	}
	return Check(ctx, e, known)
}

// Check is CheckEnvelope for an envelope already parsed. Keys are tried in
// the order given (those of the item's role first): a caller puts the key
// that most likely signed first.
func Check(ctx context.Context, e *envelope.Envelope, known []Key) (*Item, error) {
	if len(e.Signatures) > MaxSignatures {
		return nil, refuse(CodeTooLarge, "%d signatures on one envelope; the centre logs at most %d", len(e.Signatures), MaxSignatures)
	}
	st, err := attest.ParseStatement(e.Payload)
	if err != nil {
		return nil, &Error{Code: CodeBadStatement, Err: err}
	}
	it := &Item{PayloadDigest: e.PayloadDigest(), PredicateType: st.PredicateType}
	review, err := index(st, it)
	if err != nil {
		return nil, err
	}
	if review != nil {
		// A review's subjects are the source it reviews and nothing else:
		// an extra subject would file it under another artifact (and one
		// key could so crowd that artifact's lookups).
		want := review.Source.DigestSet()
		for i, sub := range st.Subject {
			if !maps.Equal(attest.DigestSet(sub.Digest), want) {
				return nil, refuse(CodeBadStatement, "a review's subjects must be the source it reviews ({%s}); subject %d (%q) is not", want, i+1, sub.Name)
			}
		}
	}
	role := roleFor(it.Kind)
	signed, err := signers(ctx, e, known, role, it.Kind, verifySig)
	if err != nil {
		return nil, err
	}
	for _, k := range signed {
		if k.Revoked {
			return nil, refuse(CodeRevokedKey, "the %s is signed by %s, whose key the centre's operator revoked", it.Kind, k.Name)
		}
		it.SignerKeys = append(it.SignerKeys, k.Verifier.Fingerprint)
		if k.Role == role {
			it.Signers = append(it.Signers, k.Name)
		}
	}
	if len(it.Signers) == 0 {
		return nil, refuse(CodeWrongRole, "a %s must be signed by a %s key; it is signed by %s, registered as a %s key",
			it.Kind, role, signed[0].Name, otherRole(role))
	}
	sort.Strings(it.Signers)
	sort.Slice(it.SignerKeys, func(i, j int) bool { return it.SignerKeys[i] < it.SignerKeys[j] })
	sigs := make([]logproof.Signature, len(e.Signatures))
	for i, s := range e.Signatures {
		sigs[i] = logproof.Signature{KeyID: s.KeyID, Sig: s.Sig}
	}
	it.Leaf, err = logproof.EnvelopeLeaf(e.PayloadType, e.Payload, sigs)
	if err != nil {
		return nil, &Error{Code: CodeMalformed, Err: err}
	}
	it.LeafHash = logproof.LeafHash(it.Leaf)
	return it, nil
}

// signers finds the registered key of each signature on e, each key once:
// a signature whose key id names a registered key (by fingerprint, or by
// the sha256 of its PEM as DSSE libraries compute key ids) is checked
// against that key alone; one without such a hint against the keys of
// role first, then the others. The first signature that verifies under no
// key it was checked against refuses the envelope, so an envelope of
// wrong signatures costs one verification (hinted) or one pass over the
// keys, never signatures × keys.
//
// This is the check cosign's DSSE verifier makes (sigstore's verifier over
// DSSE's pre-authentication encoding) and envelope.SignedBy makes, done by
// signature rather than by key so that it can stop early and use hints.
func signers(ctx context.Context, e *envelope.Envelope, known []Key, role Role, kind Kind, verify func(k *Key, pae, sig []byte) error) ([]Key, error) {
	pae := envelope.PAE(e.PayloadType, e.Payload)
	order := make([]*Key, 0, len(known))
	for i := range known {
		if known[i].Role == role {
			order = append(order, &known[i])
		}
	}
	for i := range known {
		if known[i].Role != role {
			order = append(order, &known[i])
		}
	}
	var out []Key
	seen := map[digest.Digest]bool{}
	for i, s := range e.Signatures {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cands := order
		hinted := hint(known, s.KeyID)
		if hinted != nil {
			cands = []*Key{hinted}
		}
		var got *Key
		for _, k := range cands {
			if verify(k, pae, s.Sig) == nil {
				got = k
				break
			}
		}
		switch {
		case got == nil && hinted != nil:
			return nil, refuse(CodeUnknownKey, "signature %d on the %s names the registered key %s (key id %q) but does not verify under it", i+1, kind, hinted.Name, s.KeyID)
		case got == nil && len(e.Signatures) == 1:
			return nil, refuse(CodeUnknownKey, "no signature on the %s verifies under a key registered with the centre (unknown key or bad signature)", kind)
		case got == nil:
			return nil, refuse(CodeUnknownKey, "signature %d of %d on the %s verifies under no key registered with the centre (unknown key or bad signature); the centre logs only envelopes whose every signature is by a registered key",
				i+1, len(e.Signatures), kind)
		}
		if !seen[got.Verifier.Fingerprint] {
			seen[got.Verifier.Fingerprint] = true
			out = append(out, *got)
		}
	}
	return out, nil
}

// verifySig checks sig over DSSE's pre-authentication encoding pae under
// k's key.
func verifySig(k *Key, pae, sig []byte) error { return k.Verifier.Verify(pae, sig) }

// hint returns the registered key a signature's key id names, if any: its
// fingerprint (with or without "sha256:"), or the hex sha256 of its PEM
// (go-securesystemslib's SHA256KeyID). Key ids are unsigned: a hint only
// picks which key to check, never what counts.
func hint(known []Key, keyID string) *Key {
	if keyID == "" {
		return nil
	}
	for i := range known {
		fp := known[i].Verifier.Fingerprint
		if keyID == fp.String() || keyID == fp.Encoded() {
			return &known[i]
		}
	}
	if len(keyID) != 2*sha256.Size {
		return nil
	}
	for i := range known {
		sum := sha256.Sum256(known[i].Verifier.PEM)
		if keyID == hex.EncodeToString(sum[:]) {
			return &known[i]
		}
	}
	return nil
}

func otherRole(r Role) Role {
	if r == Reviewer {
		return Rebuilder
	}
	return Reviewer
}

// index fills in the kind, subjects, citations, sources and names of a
// statement. For a review it returns the predicate (the caller checks its
// subjects against it).
func index(st *attest.Statement, it *Item) (*attest.ReviewPredicate, error) {
	for _, s := range st.Subject {
		if d, ok := s.Digest.Digest(digest.SHA256); ok {
			it.Subjects = append(it.Subjects, Subject{Name: s.Name, Digest: d})
		}
		// A review of a git checkout or a Go module names its source by
		// reprove's tree digest or the module's h1: hash, both SHA-256
		// digests (of a tree listing, of the module's hash listing), so
		// the review is found by them.
		if d := sourceDigest(s.Digest); d != "" {
			it.Subjects = append(it.Subjects, Subject{Name: s.Name, Digest: d})
		}
	}
	bad := func(err error) (*attest.ReviewPredicate, error) { return nil, &Error{Code: CodeBadPredicate, Err: err} }
	var review *attest.ReviewPredicate
	switch st.PredicateType {
	case attest.ReviewPredicateType:
		it.Kind = Review
		p, err := attest.ReadReview(st)
		if err != nil {
			return bad(err)
		}
		review = p
	case attest.ProvenancePredicateType:
		it.Kind = Rebuild
		info, err := attest.ReadProvenance(st)
		if err != nil {
			return bad(err)
		}
		it.Names = []Name{{Name: info.Recipe.Name, Version: info.Recipe.Version}}
		if d := info.Source.DigestSet().LookupDigest(); d != "" {
			it.Sources = []digest.Digest{d}
		}
	case attest.SummaryPredicateType:
		it.Kind = Summary
		p, err := attest.ReadSummary(st)
		if err != nil {
			return bad(err)
		}
		refs := append([]attest.AttestationRef{p.Rebuild}, p.Reviews...)
		for _, r := range refs {
			if d, ok := r.Digest.Digest(digest.SHA256); ok {
				it.Cites = append(it.Cites, d)
			}
		}
		for _, s := range it.Subjects {
			if s.Name != "" {
				it.Names = append(it.Names, Name{Name: s.Name})
			}
		}
	case attest.VSAPredicateType:
		it.Kind = Summary
		v, err := attest.ReadVSA(st)
		if err != nil {
			return bad(err)
		}
		it.Cites = append(it.Cites, v.Inputs...)
		for _, s := range it.Subjects {
			if s.Name != "" {
				it.Names = append(it.Names, Name{Name: s.Name})
			}
		}
	case attest.ComparisonPredicateType:
		it.Kind = Comparison
		c, err := attest.ReadComparison(st)
		if err != nil {
			return bad(err)
		}
		if d, ok := c.Rebuild.Digest.Digest(digest.SHA256); ok {
			it.Cites = append(it.Cites, d)
		}
		// The compare report it cites: the centre logs a report only when
		// a comparison cites it.
		if c.CompareReport != nil {
			if d, ok := c.CompareReport.Digest.Digest(digest.SHA256); ok {
				it.Cites = append(it.Cites, d)
			}
		}
	default:
		return nil, refuse(CodeUnknownPredicate, "predicate type %q is none the centre logs (%s)", st.PredicateType, strings.Join(PredicateTypes, ", "))
	}
	if len(it.Subjects) == 0 {
		return nil, refuse(CodeBadStatement, "the statement has no subject with a sha256 digest")
	}
	it.Cites = uniqueDigests(it.Cites)
	return review, nil
}

// RevocationItem is the item that logs a key's revocation.
func RevocationItem(r logproof.Revocation) (*Item, error) {
	leaf, err := logproof.RevocationLeaf(r)
	if err != nil {
		return nil, err
	}
	return &Item{Kind: Revocation, Leaf: leaf, LeafHash: logproof.LeafHash(leaf), PayloadDigest: digest.FromBytes(leaf), Revocation: &r}, nil
}

// sourceDigest is the sha256 digest a source subject carries when it has
// no plain sha256 entry: reprove's tree digest, else a Go module's h1: hash.
func sourceDigest(ds attest.DigestSet) digest.Digest {
	if _, ok := ds[string(digest.SHA256)]; ok {
		return ""
	}
	return ds.LookupDigest() // goModuleH1, as reprove once wrote it, is dirHash
}

func uniqueDigests(ds []digest.Digest) []digest.Digest {
	if len(ds) == 0 {
		return nil
	}
	sort.Slice(ds, func(i, j int) bool { return ds[i] < ds[j] })
	out := ds[:1]
	for _, d := range ds[1:] {
		if d != out[len(out)-1] {
			out = append(out, d)
		}
	}
	return out
}
