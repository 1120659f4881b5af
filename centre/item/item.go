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
//     (logproof.CompareReportLeaf) and kept beside the log.
//
// For each the centre keeps an index: the sha256 digests of its subjects,
// the payload digests of the attestations it cites (a summary's rebuild and
// reviews), and the name and version it is known by, so that a lookup by
// artifact digest can return an item and everything it rests on.
package item

import (
	"context"
	"fmt"
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
)

var kindNames = map[Kind]string{Review: "review", Rebuild: "rebuild", Summary: "summary", Comparison: "comparison", CompareReport: "compare-report"}

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
	// comparison rests on.
	Cites []digest.Digest
	Names []Name
	// Signers are the names of the registered keys that signed, sorted.
	Signers []string
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

// Check is CheckEnvelope for an envelope already parsed.
func Check(ctx context.Context, e *envelope.Envelope, known []Key) (*Item, error) {
	st, err := attest.ParseStatement(e.Payload)
	if err != nil {
		return nil, &Error{Code: CodeBadStatement, Err: err}
	}
	it := &Item{PayloadDigest: e.PayloadDigest(), PredicateType: st.PredicateType}
	if err := index(st, it); err != nil {
		return nil, err
	}
	role := roleFor(it.Kind)
	var fit, other []*keys.Verifier
	names := map[digest.Digest][]string{}
	for _, k := range known {
		names[k.Verifier.Fingerprint] = append(names[k.Verifier.Fingerprint], k.Name)
		if k.Role == role {
			fit = append(fit, k.Verifier)
		} else {
			other = append(other, k.Verifier)
		}
	}
	signed, err := envelope.SignedBy(ctx, e, candidates(e, fit))
	if err != nil {
		return nil, fmt.Errorf("check signatures: %w", err)
	}
	if len(signed) == 0 {
		// Say whether a key of the other role signed: a clearer error.
		wrong, err := envelope.SignedBy(ctx, e, candidates(e, other))
		if err != nil {
			return nil, fmt.Errorf("check signatures: %w", err)
		}
		if len(wrong) > 0 {
			return nil, refuse(CodeWrongRole, "a %s must be signed by a %s key; it is signed by %s, registered as a %s key",
				it.Kind, role, names[wrong[0]][0], otherRole(role))
		}
		return nil, refuse(CodeUnknownKey, "no signature on the %s verifies under a key registered with the centre (unknown key or bad signature)", it.Kind)
	}
	for _, fp := range signed {
		it.Signers = append(it.Signers, names[fp]...)
	}
	sort.Strings(it.Signers)
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

// candidates narrows keys to those under which some signature of the
// envelope verifies over DSSE's pre-authentication encoding. It is only a
// pre-check, so that a centre with many registered keys does not run
// cosign's whole verification once per key for every envelope (about
// 1.5 ms each here): envelope.SignedBy, the same DSSE check, still decides
// on the keys that remain.
func candidates(e *envelope.Envelope, vs []*keys.Verifier) []*keys.Verifier {
	pae := envelope.PAE(e.PayloadType, e.Payload)
	var out []*keys.Verifier
	for _, v := range vs {
		for _, s := range e.Signatures {
			if v.Verify(pae, s.Sig) == nil {
				out = append(out, v)
				break
			}
		}
	}
	return out
}

func otherRole(r Role) Role {
	if r == Reviewer {
		return Rebuilder
	}
	return Reviewer
}

// index fills in the kind, subjects, citations and names of a statement.
func index(st *attest.Statement, it *Item) error {
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
	bad := func(err error) error { return &Error{Code: CodeBadPredicate, Err: err} }
	switch st.PredicateType {
	case attest.ReviewPredicateType:
		it.Kind = Review
		if _, err := attest.ReadReview(st); err != nil {
			return bad(err)
		}
	case attest.ProvenancePredicateType:
		it.Kind = Rebuild
		info, err := attest.ReadProvenance(st)
		if err != nil {
			return bad(err)
		}
		it.Names = []Name{{Name: info.Recipe.Name, Version: info.Recipe.Version}}
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
	default:
		return refuse(CodeUnknownPredicate, "predicate type %q is none the centre logs (%s)", st.PredicateType, strings.Join(PredicateTypes, ", "))
	}
	if len(it.Subjects) == 0 {
		return refuse(CodeBadStatement, "the statement has no subject with a sha256 digest")
	}
	it.Cites = uniqueDigests(it.Cites)
	return nil
}

// sourceDigest is the sha256 digest a source subject carries when it has
// no plain sha256 entry: reprove's tree digest, else a Go module's h1: hash.
func sourceDigest(ds attest.DigestSet) digest.Digest {
	ds, err := ds.Normalized() // goModuleH1, as reprove once wrote it, is dirHash
	if err != nil {
		return ""
	}
	if _, ok := ds[string(digest.SHA256)]; ok {
		return ""
	}
	if v, ok := ds[attest.KeyReproveTree]; ok {
		if d := digest.NewDigestFromEncoded(digest.SHA256, v); d.Validate() == nil {
			return d
		}
	}
	if v, ok := ds[attest.KeyDirHash]; ok {
		if d := digest.NewDigestFromEncoded(digest.SHA256, v); d.Validate() == nil {
			return d
		}
	}
	return ""
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
