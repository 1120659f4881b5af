package item

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest"
	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/compare/report"
	"github.com/reprove/reprove/schemas"
)

// Described is a logged leaf read back for people: what the pages show.
// Exactly one of Review, Rebuild, Summary, VSA, Comparison and
// CompareReport is set.
type Described struct {
	Kind          Kind
	PredicateType string
	PayloadDigest digest.Digest
	Subjects      []Subject
	Review        *attest.ReviewPredicate
	Rebuild       *Provenance
	Summary       *attest.SummaryPredicate
	VSA           *attest.VSA
	Comparison    *attest.ComparisonPredicate
	// CompareReport is the digest a compare-report leaf holds.
	CompareReport digest.Digest
	// Revocation is what a revocation leaf says.
	Revocation *logproof.Revocation
	// Cites and Sources are the item's index (see Item).
	Cites, Sources []digest.Digest
	// Statement is the statement an attestation leaf carries (nil for
	// compare reports and revocations).
	Statement *attest.Statement
}

// Provenance is what a rebuild attestation says: the recipe, source and
// builder, and every resolved input (toolchain, base image, modules).
type Provenance struct {
	*attest.ProvenanceInfo
	Inputs []attest.Input
}

// Input returns the first input of a role, if there is one.
func (p *Provenance) Input(role string) *attest.Input {
	for i := range p.Inputs {
		if p.Inputs[i].Role == role {
			return &p.Inputs[i]
		}
	}
	return nil
}

// Describe reads a leaf of the log. It checks no signature: the centre
// checked those when it accepted the item.
func Describe(leaf []byte) (*Described, error) {
	if bytes.HasPrefix(leaf, []byte(`{"compareReport":`)) {
		var w struct {
			CompareReport digest.Digest `json:"compareReport"`
		}
		if err := json.Unmarshal(leaf, &w); err != nil {
			return nil, fmt.Errorf("describe leaf: %w", err)
		}
		want, err := logproof.CompareReportLeaf(w.CompareReport)
		if err != nil || !bytes.Equal(want, leaf) {
			return nil, fmt.Errorf("describe leaf: not a compare report leaf")
		}
		return &Described{Kind: CompareReport, PayloadDigest: w.CompareReport, CompareReport: w.CompareReport}, nil
	}
	if logproof.IsRevocationLeaf(leaf) {
		r, err := logproof.ParseRevocationLeaf(leaf)
		if err != nil {
			return nil, fmt.Errorf("describe leaf: %w", err)
		}
		return &Described{Kind: Revocation, PayloadDigest: digest.FromBytes(leaf), Revocation: &r}, nil
	}
	e, err := envelope.Parse(leaf)
	if err != nil {
		return nil, fmt.Errorf("describe leaf: %w", err)
	}
	st, err := attest.ParseStatement(e.Payload)
	if err != nil {
		return nil, fmt.Errorf("describe leaf: %w", err)
	}
	var it Item
	if _, err := index(st, &it); err != nil {
		return nil, fmt.Errorf("describe leaf: %w", err)
	}
	d := &Described{Kind: it.Kind, PredicateType: st.PredicateType, PayloadDigest: e.PayloadDigest(), Subjects: it.Subjects,
		Cites: it.Cites, Sources: it.Sources, Statement: st}
	switch st.PredicateType {
	case attest.ReviewPredicateType:
		d.Review, err = attest.ReadReview(st)
	case attest.ProvenancePredicateType:
		p := &Provenance{}
		p.ProvenanceInfo, err = attest.ReadProvenance(st)
		if err == nil {
			p.Inputs, err = attest.ReadProvenanceInputs(st)
		}
		d.Rebuild = p
	case attest.SummaryPredicateType:
		d.Summary, err = attest.ReadSummary(st)
	case attest.VSAPredicateType:
		d.VSA, err = attest.ReadVSA(st)
	case attest.ComparisonPredicateType:
		d.Comparison, err = attest.ReadComparison(st)
	}
	if err != nil {
		return nil, fmt.Errorf("describe leaf: %w", err)
	}
	return d, nil
}

// MaxCompareReport bounds a submitted compare report.
const MaxCompareReport = 8 << 20

// CheckCompareReport checks a submitted compare report (the JSON
// `reprove compare --json` writes) against its published schema and reads
// it. The log holds its digest, the sha256 of the bytes as submitted; its
// subjects are the rebuilt and the shipped file.
func CheckCompareReport(raw []byte) (*Item, *report.Report, error) {
	if len(raw) > MaxCompareReport {
		return nil, nil, refuse(CodeTooLarge, "the compare report is larger than %d bytes", MaxCompareReport)
	}
	if err := schemas.Validate("compare-report", raw); err != nil {
		return nil, nil, &Error{Code: CodeMalformed, Err: err}
	}
	r, err := ParseCompareReport(raw)
	if err != nil {
		return nil, nil, err
	}
	d := digest.FromBytes(raw)
	leaf, err := logproof.CompareReportLeaf(d)
	if err != nil {
		return nil, nil, err
	}
	it := &Item{Kind: CompareReport, Leaf: leaf, LeafHash: logproof.LeafHash(leaf), PayloadDigest: d}
	for _, a := range []report.Artifact{r.Rebuilt, r.Shipped} {
		if a.Digest.Algorithm() == digest.SHA256 && a.Digest.Validate() == nil {
			it.Subjects = append(it.Subjects, Subject{Name: a.Path, Digest: a.Digest})
		}
	}
	if len(it.Subjects) == 0 {
		return nil, nil, refuse(CodeMalformed, "the compare report names no sha256 digest")
	}
	return it, r, nil
}

// ParseCompareReport decodes a stored compare report.
func ParseCompareReport(raw []byte) (*report.Report, error) {
	r, err := report.Read(bytes.NewReader(raw))
	if err != nil {
		return nil, &Error{Code: CodeMalformed, Err: err}
	}
	return r, nil
}

// Line says in a few words what an entry is.
func (d *Described) Line() string {
	switch {
	case d.Review != nil:
		return fmt.Sprintf("review of %s by %s: %s", d.Review.Source.Name(), d.Review.Reviewer.Display(), d.Review.Verdict)
	case d.Rebuild != nil:
		return fmt.Sprintf("rebuild of %s %s by %s", d.Rebuild.Recipe.Name, d.Rebuild.Recipe.Version, d.Rebuild.BuilderID)
	case d.Summary != nil:
		s := fmt.Sprintf("summary by %s: %s", d.Summary.Verifier.Display(), d.Summary.Verdict)
		if len(d.Summary.Normalizers) > 0 {
			s += " (" + strings.Join(d.Summary.Normalizers, ", ") + ")"
		}
		return s
	case d.VSA != nil:
		return fmt.Sprintf("verification summary by %s: %s", d.VSA.Verifier, d.VSA.Result)
	case d.Comparison != nil:
		s := "comparison: " + d.Comparison.Verdict.String()
		if len(d.Comparison.Normalizers) > 0 {
			s += " (" + strings.Join(d.Comparison.Normalizers, ", ") + ")"
		}
		return s
	case d.Kind == CompareReport:
		return "compare report " + d.CompareReport.String()
	case d.Revocation != nil:
		s := fmt.Sprintf("revocation of the %s key %s (%s)", d.Revocation.Role, d.Revocation.Name, d.Revocation.Key)
		if d.Revocation.Reason != "" {
			s += ": " + d.Revocation.Reason
		}
		return s
	}
	return d.Kind.String()
}
