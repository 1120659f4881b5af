package attest

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/attest/policy"
	"github.com/reprove/reprove/compare/verdict"
	"github.com/reprove/reprove/internal/english"
)

// ResultSchemaVersion is the version of Result's JSON form.
const ResultSchemaVersion = 1

// clockSkew is how far in the future a statement's own time may be before it
// is refused as post-dated.
const clockSkew = 5 * time.Minute

// Earliest is the earliest time an attestation may carry: in-toto Statement
// v1 and SLSA Provenance v1, the formats reprove reads, appeared in 2023,
// so an earlier date (year 1, the Unix epoch) is a forgery or a broken
// clock, and is refused as a date in the future is.
var Earliest = time.Date(2023, 1, 1, 0, 0, 0, 0, time.UTC)

// checkTime refuses a time before Earliest or after now (with clock skew);
// what names the attestation in the detail.
func checkTime(what string, t, now time.Time) string {
	switch {
	case t.After(now.Add(clockSkew)):
		return fmt.Sprintf("%s: dated in the future (%s)", what, t.Format(time.RFC3339))
	case t.Before(Earliest):
		return fmt.Sprintf("%s: dated before %s (%s), earlier than any attestation in these formats", what, Earliest.Format("2006-01-02"), t.Format(time.RFC3339))
	}
	return ""
}

// Outcome is what one trusted rebuilder's attestations say about the file.
type Outcome int

const (
	// Agrees: identical, or equivalent under normalizers the policy allows.
	Agrees Outcome = iota + 1
	// Disagrees: the rebuilder found the file different.
	Disagrees
	// NotAccepted: equivalent only under normalizers the policy does not allow.
	NotAccepted
	// Broken: the rebuilder's chain of attestations does not close.
	Broken
)

var outcomeNames = map[Outcome]string{Agrees: "agrees", Disagrees: "disagrees", NotAccepted: "not-accepted", Broken: "broken"}

func (o Outcome) String() string {
	if s, ok := outcomeNames[o]; ok {
		return s
	}
	return fmt.Sprintf("Outcome(%d)", int(o))
}

// MarshalText implements encoding.TextMarshaler.
func (o Outcome) MarshalText() ([]byte, error) {
	s, ok := outcomeNames[o]
	if !ok {
		return nil, fmt.Errorf("marshal outcome: invalid value %d", int(o))
	}
	return []byte(s), nil
}

// Result is the outcome of a verification. Verified is true only when every
// check ran and passed; otherwise Reasons says why not, one reason per
// failed check.
type Result struct {
	SchemaVersion int           `json:"schemaVersion"`
	Verified      bool          `json:"verified"`
	File          string        `json:"file"`
	Digest        digest.Digest `json:"digest"`
	// Name and Version are what the agreeing rebuilds say the file is.
	Name    string  `json:"name,omitempty"`
	Version string  `json:"version,omitempty"`
	Source  *Source `json:"source,omitempty"`

	Rebuilders         []RebuilderResult `json:"rebuilders"`
	RebuilderThreshold int               `json:"rebuilderThreshold"`
	TrustedRebuilders  int               `json:"trustedRebuilders"`
	Reviewers          []ReviewerResult  `json:"reviewers"`
	ReviewerThreshold  int               `json:"reviewerThreshold"`
	TrustedReviewers   int               `json:"trustedReviewers"`
	// ReviewsRequired is false under a policy that makes reviews optional
	// (reviewers: {required: false}).
	ReviewsRequired bool `json:"reviewsRequired"`
	// Builders are the build provenances of the file by the policy's
	// trusted builders (builders:), the build's own claim beside the
	// rebuilders'; BuildersRequired says whether the policy needs one.
	Builders         []BuilderResult `json:"builders,omitempty"`
	TrustedBuilders  int             `json:"trustedBuilders,omitempty"`
	BuildersRequired bool            `json:"buildersRequired,omitempty"`
	// Log is the origin of the transparency log the policy names; when
	// set, only attestations with a valid inclusion proof to a checkpoint
	// it signed were counted.
	Log string `json:"log,omitempty"`

	Policy       digest.Digest `json:"policy"`
	Attestations int           `json:"attestations"`
	CheckedAt    time.Time     `json:"checkedAt"`
	Reasons      []string      `json:"reasons,omitempty"`
	// Notes are facts worth knowing that did not decide the result (for
	// example attestations signed by no trusted key, which are ignored).
	Notes []string `json:"notes,omitempty"`
}

// RebuilderResult is one trusted rebuilder's say.
type RebuilderResult struct {
	Name string `json:"name"`
	// Key names the rebuilder: its key's fingerprint, or, for a keyless
	// identity, the identity's ID (Identity then says which).
	Key         digest.Digest   `json:"key"`
	Identity    *IdentityRef    `json:"identity,omitempty"`
	Outcome     Outcome         `json:"outcome"`
	Verdict     verdict.Verdict `json:"verdict,omitempty"`
	Normalizers []string        `json:"normalizers,omitempty"`
	BuilderID   string          `json:"builderId,omitempty"`
	Detail      string          `json:"detail,omitempty"`
}

// ReviewerResult is one trusted reviewer's review of the source.
type ReviewerResult struct {
	Name string `json:"name"`
	// Key and Identity name the reviewer as RebuilderResult's do.
	Key        digest.Digest `json:"key"`
	Identity   *IdentityRef  `json:"identity,omitempty"`
	Reviewer   Party         `json:"reviewer"`
	Verdict    ReviewVerdict `json:"verdict"`
	Scope      Scope         `json:"scope"`
	ReviewedAt time.Time     `json:"reviewedAt"`
	// AlsoRebuilder names the trusted rebuilder whose key is this
	// reviewer's, when one key played both roles (selfReview: allow).
	AlsoRebuilder string `json:"alsoRebuilder,omitempty"`
}

// VerifyOptions carries the clock and a progress callback.
type VerifyOptions struct {
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Progress, when set, receives one line per step.
	Progress func(string)
	// LogState, when set and the policy names a log, checks the trees of
	// the log bundles that passed against the newest tree seen before
	// (attest/logproof/logstate): a fork or a stale bundle fails.
	LogState LogState
	// ExpectName and ExpectVersion, when set, are what the customer believes
	// the file is: verification fails unless the attestations say the same
	// (so an older, also reproducible release cannot stand in for this one).
	ExpectName, ExpectVersion string
}

// Verify checks the target file against the attestation documents under
// pol. Documents are read and checked one at a time, and only what
// verification needs of each is kept, so memory follows the trusted
// statements, not the size of the input; more than MaxDocuments is an
// error.
//
// A file that fails verification gives a Result with Verified false and
// reasons; an error means the check could not run (an unreadable
// attestation path, a cancelled context).
func Verify(ctx context.Context, t *Target, docs Documents, pol *policy.Policy, opts VerifyOptions) (*Result, error) {
	progress := opts.Progress
	if progress == nil {
		progress = func(string) {}
	}
	now := time.Now
	if opts.Now != nil {
		now = opts.Now
	}
	e, err := newEvaluator(ctx, t, pol, now())
	if err != nil {
		return nil, err
	}
	progress("reading and checking attestations")
	ndocs := 0
	for d, err := range docs {
		if err != nil {
			return nil, err
		}
		if ndocs++; ndocs > MaxDocuments {
			return nil, fmt.Errorf("read attestations: more than %d attestations", MaxDocuments)
		}
		if err := e.index(d); err != nil {
			return nil, err
		}
	}
	progress("checked " + english.Count(ndocs, "attestation"))
	// A subject may name the file by a digest other than sha256: the
	// file is hashed again for those only (rarely: reprove and cosign
	// name subjects by sha256).
	if algs := e.subjectAlgorithms(); len(algs) > 0 {
		if err := t.hashMore(ctx, algs); err != nil {
			return nil, err
		}
	}
	res := e.finish(ndocs)
	if opts.LogState != nil && pol.Log != nil {
		progress("checking the log's trees against the newest one seen before")
		reasons, notes, err := opts.LogState.Check(ctx, pol.Log, e.checkedBundles(), e.now)
		if err != nil {
			return nil, err
		}
		res.Notes = append(res.Notes, notes...)
		if len(reasons) > 0 {
			res.Reasons = append(res.Reasons, reasons...)
			res.Verified = false
		}
	}
	res.Expect(opts.ExpectName, opts.ExpectVersion)
	return res, nil
}

// LogState is the customer's memory of a log (logstate.State): it checks
// the trees a verification saw against the newest one seen before, and
// returns reasons to refuse (a fork, a stale bundle) and notes.
type LogState interface {
	Check(ctx context.Context, pol *logproof.Policy, bundles []*logproof.Checked, now time.Time) (reasons, notes []string, err error)
}

// Expect fails the result unless the agreeing rebuilds say the file is name
// at version (either may be empty: not checked).
func (r *Result) Expect(name, version string) {
	if name != "" && r.Name != name {
		r.Reasons = append(r.Reasons, fmt.Sprintf("the attestations say the file is %q, not %q", r.Name, name))
	}
	if version != "" && r.Version != version {
		r.Reasons = append(r.Reasons, fmt.Sprintf("the attestations say the file is version %q, not %q", r.Version, version))
	}
	if len(r.Reasons) > 0 {
		r.Verified = false
	}
}

func sortedKeys[V any](m map[digest.Digest]V) []digest.Digest {
	out := make([]digest.Digest, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

func rank(o Outcome) int {
	switch o {
	case Agrees:
		return 0
	case NotAccepted:
		return 1
	case Disagrees:
		return 2
	}
	return 3 // Broken
}

// subjectsMatchFile reports whether some subject names the file: every
// digest the subject carries that we computed agrees, and at least one of
// them is sha256-class (ParseStatement already refused md5/sha1-only sets).
func subjectsMatchFile(subjects []Subject, file DigestSet) bool {
	for _, s := range subjects {
		checked, bad := 0, false
		for alg, v := range s.Digest {
			fv, ok := file[alg]
			if !ok {
				continue
			}
			if fv != v {
				bad = true
			}
			checked++
		}
		if checked > 0 && !bad {
			return true
		}
	}
	return false
}

func subjectNames(subjects []Subject) string {
	var parts []string
	for _, s := range subjects {
		d := s.Digest["sha256"]
		if d == "" {
			d = s.Digest.String()
		} else {
			d = "sha256:" + d
		}
		if s.Name != "" {
			parts = append(parts, s.Name+" "+d)
		} else {
			parts = append(parts, d)
		}
	}
	return strings.Join(parts, ", ")
}

func shortType(t string) string {
	switch t {
	case ReviewPredicateType:
		return "review"
	case ProvenancePredicateType:
		return "rebuild provenance"
	case SummaryPredicateType, VSAPredicateType:
		return "verification summary"
	case ComparisonPredicateType:
		return "comparison"
	}
	return t
}
