package attest

import (
	"errors"
	"fmt"
	"maps"
	"net/url"
	"path"
	"strings"
	"time"

	ita1 "github.com/in-toto/attestation/go/v1"
	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest/internal/strictjson"
)

// ReviewPredicateType is the predicate type of a code review attestation.
// attest/REVIEW.md documents its fields, semantics and versioning.
const ReviewPredicateType = "https://reprove.dev/attestation/review/v1"

// ReviewVerdict is a reviewer's conclusion.
type ReviewVerdict int

const (
	// Approved: the reviewer found nothing that should stop a release.
	Approved ReviewVerdict = iota + 1
	// Findings: the reviewer found problems (listed in the report).
	Findings
)

var reviewVerdictNames = map[ReviewVerdict]string{Approved: "approved", Findings: "findings"}

func (v ReviewVerdict) String() string {
	if s, ok := reviewVerdictNames[v]; ok {
		return s
	}
	return fmt.Sprintf("ReviewVerdict(%d)", int(v))
}

// MarshalText refuses the zero value, so no review is written without a verdict.
func (v ReviewVerdict) MarshalText() ([]byte, error) {
	s, ok := reviewVerdictNames[v]
	if !ok {
		return nil, fmt.Errorf("marshal review verdict: invalid value %d", int(v))
	}
	return []byte(s), nil
}

// UnmarshalText accepts only the exact words "approved" and "findings".
func (v *ReviewVerdict) UnmarshalText(b []byte) error {
	for k, s := range reviewVerdictNames {
		if string(b) == s {
			*v = k
			return nil
		}
	}
	return fmt.Errorf("unknown review verdict %q (want approved or findings)", b)
}

// ParseReviewVerdict parses "approved" or "findings".
func ParseReviewVerdict(s string) (ReviewVerdict, error) {
	var v ReviewVerdict
	err := v.UnmarshalText([]byte(s))
	return v, err
}

// Party names a person or organisation: a URI that identifies it (mailto:,
// https:) and an optional display name.
type Party struct {
	ID   string `json:"id"`
	Name string `json:"name,omitempty"`
}

// Display is the name if there is one, else the id.
func (p Party) Display() string {
	if p.Name != "" {
		return p.Name
	}
	return p.ID
}

func (p Party) validate(what string) error {
	if p.ID == "" {
		return fmt.Errorf("%s id is empty", what)
	}
	u, err := url.Parse(p.ID)
	if err != nil || u.Scheme == "" {
		return fmt.Errorf("%s id %q is not a URI (for example mailto:alice@example.com or https://example.com/audits)", what, p.ID)
	}
	return nil
}

// Source identifies reviewed or built source code. At least one
// sha256-class digest is required: a git commit id alone is SHA-1.
type Source struct {
	// URI locates the source: a git repository URL or an archive URL.
	URI string `json:"uri,omitempty"`
	// GitCommit and GitTree are git object ids (40 or 64 hex digits).
	GitCommit string `json:"gitCommit,omitempty"`
	GitTree   string `json:"gitTree,omitempty"`
	// Tree is reprove's sha256 tree digest of a checkout (internal/treehash).
	Tree digest.Digest `json:"tree,omitempty"`
	// Archive is the digest of a source archive's bytes.
	Archive digest.Digest `json:"archive,omitempty"`
	// GoModule names a Go module version ("path@version") with GoSum, its
	// go.sum h1: hash, when the source is a module from the proxy.
	GoModule string `json:"goModule,omitempty"`
	GoSum    string `json:"goSum,omitempty"`
}

// DigestSet is the source's digests as an in-toto digest set.
func (s Source) DigestSet() DigestSet {
	ds := DigestSet{}
	if s.GitCommit != "" {
		ds["gitCommit"] = s.GitCommit
	}
	if s.GitTree != "" {
		ds["gitTree"] = s.GitTree
	}
	if s.Tree != "" {
		ds[KeyReproveTree] = s.Tree.Encoded()
	}
	if s.Archive != "" {
		ds[s.Archive.Algorithm().String()] = s.Archive.Encoded()
	}
	putGoSum(ds, s.GoSum)
	return ds
}

// putGoSum adds a go.sum hash to ds as in-toto's dirHash; one that is not
// an h1: hash goes in as it is, under the old key, for Validate to refuse.
func putGoSum(ds DigestSet, goSum string) {
	if goSum == "" {
		return
	}
	if h, err := DirHash(goSum); err == nil {
		ds[KeyDirHash] = h
	} else {
		ds[KeyGoModuleH1] = goSum
	}
}

// Name is how the source is shown to people: repo@commit, module@version or
// the URI.
func (s Source) Name() string {
	switch {
	case s.GoModule != "":
		return s.GoModule
	case s.URI != "" && s.GitCommit != "":
		return strings.TrimPrefix(s.URI, "git+") + "@" + s.GitCommit
	case s.URI != "":
		return s.URI
	case s.GitCommit != "":
		return "commit " + s.GitCommit
	}
	return s.DigestSet().String()
}

// Validate checks every digest and that at least one is sha256-class.
func (s Source) Validate() error {
	for _, d := range []digest.Digest{s.Tree, s.Archive} {
		if d != "" {
			if err := d.Validate(); err != nil {
				return fmt.Errorf("source digest %q: %w", d, err)
			}
		}
	}
	if s.Tree != "" && s.Tree.Algorithm() != digest.SHA256 {
		return fmt.Errorf("source tree digest %s: must be sha256", s.Tree)
	}
	if (s.GoModule == "") != (s.GoSum == "") {
		return errors.New("source Go module needs both a path@version and its h1: sum")
	}
	if s.GoModule != "" && !strings.Contains(s.GoModule, "@") {
		return fmt.Errorf("source Go module %q is not path@version", s.GoModule)
	}
	if err := s.DigestSet().Validate(); err != nil {
		return fmt.Errorf("source: %w", err)
	}
	return nil
}

// sourceFromSet is the inverse of DigestSet for the fields a digest set
// carries.
func sourceFromSet(uri string, ds DigestSet) Source {
	s := Source{URI: uri, GitCommit: ds["gitCommit"], GitTree: ds["gitTree"]}
	if v, ok := ds[KeyDirHash]; ok {
		s.GoSum, _ = GoSum(v)
	}
	if v, ok := ds[KeyReproveTree]; ok {
		s.Tree = digest.NewDigestFromEncoded(digest.SHA256, v)
	}
	for _, alg := range []digest.Algorithm{digest.SHA256, digest.SHA384, digest.SHA512} {
		if d, ok := ds.Digest(alg); ok {
			s.Archive = d
			break
		}
	}
	return s
}

// Scope says what was reviewed: everything, or the listed paths
// (slash-separated, relative to the source root; a directory covers all
// below it).
type Scope struct {
	All   bool     `json:"all,omitempty"`
	Paths []string `json:"paths,omitempty"`
}

func (s Scope) validate() error {
	if s.All == (len(s.Paths) > 0) {
		return errors.New("scope must be either all or a list of paths")
	}
	seen := map[string]bool{}
	for _, p := range s.Paths {
		trimmed := strings.TrimSuffix(p, "/")
		if trimmed == "" || trimmed == "." || strings.HasPrefix(trimmed, "/") || path.Clean(trimmed) != trimmed ||
			trimmed == ".." || strings.HasPrefix(trimmed, "../") {
			return fmt.Errorf("scope path %q is not a clean relative path", p)
		}
		if seen[p] {
			return fmt.Errorf("scope path %q is listed twice", p)
		}
		seen[p] = true
	}
	return nil
}

// Report points at the reviewer's full report.
type Report struct {
	URI    string        `json:"uri,omitempty"`
	Digest digest.Digest `json:"digest,omitempty"`
}

// ReviewPredicate is the predicate of a review attestation. Its subject is
// the reviewed source (see Review.Source).
type ReviewPredicate struct {
	Reviewer   Party         `json:"reviewer"`
	Source     Source        `json:"source"`
	Scope      Scope         `json:"scope"`
	Verdict    ReviewVerdict `json:"verdict"`
	Report     *Report       `json:"report,omitempty"`
	Notes      string        `json:"notes,omitempty"`
	ReviewedAt time.Time     `json:"reviewedAt"`
}

// Validate checks a review predicate.
func (p *ReviewPredicate) Validate() error {
	if err := p.Reviewer.validate("reviewer"); err != nil {
		return err
	}
	if err := p.Source.Validate(); err != nil {
		return err
	}
	if err := p.Scope.validate(); err != nil {
		return err
	}
	if _, ok := reviewVerdictNames[p.Verdict]; !ok {
		return errors.New("review verdict is missing")
	}
	if p.Report != nil {
		if p.Report.URI == "" && p.Report.Digest == "" {
			return errors.New("report needs a uri or a digest")
		}
		if p.Report.Digest != "" {
			if err := p.Report.Digest.Validate(); err != nil {
				return fmt.Errorf("report digest: %w", err)
			}
		}
	}
	if p.ReviewedAt.IsZero() {
		return errors.New("review time is missing")
	}
	return nil
}

// ReviewStatement builds the in-toto v1 statement for a review, ready to
// sign. The subject is the reviewed source: one descriptor named by its URI
// with every digest the predicate's source carries.
func ReviewStatement(p *ReviewPredicate) ([]byte, error) {
	p.ReviewedAt = p.ReviewedAt.UTC().Truncate(time.Second)
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("build review statement: %w", err)
	}
	name := p.Source.URI
	if p.Source.GoModule != "" {
		name = p.Source.GoModule
	}
	subj, err := descriptor(name, "", p.Source.DigestSet(), nil)
	if err != nil {
		return nil, fmt.Errorf("build review statement: %w", err)
	}
	pred, err := structOf(p)
	if err != nil {
		return nil, fmt.Errorf("build review statement: %w", err)
	}
	return newStatement([]*ita1.ResourceDescriptor{subj}, ReviewPredicateType, pred)
}

// parseReview decodes and validates a review predicate and checks that the
// statement's subject is the source the predicate names.
func parseReview(st *Statement) (*ReviewPredicate, error) {
	var p ReviewPredicate
	if err := strictjson.Unmarshal(st.Predicate, &p); err != nil {
		return nil, fmt.Errorf("parse review predicate: %w", err)
	}
	if err := p.Validate(); err != nil {
		return nil, fmt.Errorf("parse review predicate: %w", err)
	}
	want := p.Source.DigestSet()
	for _, s := range st.Subject {
		if maps.Equal(s.Digest, want) {
			return &p, nil
		}
	}
	return nil, fmt.Errorf("parse review: no subject carries the reviewed source's digests {%s}", want)
}
