package compare

import (
	"encoding/json"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	"github.com/reprove/reprove/compare/format"
	"github.com/reprove/reprove/compare/pe"
)

// SchemaVersion is the version of the JSON report. It changes whenever a
// field changes meaning or is removed; adding a field keeps it.
const SchemaVersion = 1

// Report is the result of one comparison: the source of truth that the
// text and HTML renderings are made from.
type Report struct {
	SchemaVersion int      `json:"schemaVersion"`
	Verdict       Verdict  `json:"verdict"`
	Rebuilt       Artifact `json:"rebuilt"`
	Shipped       Artifact `json:"shipped"`
	// Allowed lists the normalizers the caller allowed.
	Allowed []string `json:"allowedNormalizers"`
	// Normalizers lists the allowed normalizers that were needed to reach
	// Equivalent; empty for Identical and Different.
	Normalizers []string `json:"normalizers,omitempty"`
	// Suggested lists, for a Different verdict whose every difference some
	// known normalizer covers, the normalizers that would make it
	// Equivalent if the caller allowed them.
	Suggested []string `json:"suggestedNormalizers,omitempty"`
	// Counts summarises every difference found, including those cut from
	// the tree.
	Counts Counts `json:"counts"`
	// Differences is the tree of differences; nil when Identical.
	Differences *Node `json:"differences,omitempty"`
}

// Artifact is one side of the comparison.
type Artifact struct {
	Path   string        `json:"path"`
	Digest digest.Digest `json:"digest"`
	Size   int64         `json:"size"`
	Format format.Format `json:"format"`
}

// Counts counts the leaves of the difference tree.
type Counts struct {
	// Differences is every leaf difference found.
	Differences int `json:"differences"`
	// Accepted is how many of them an allowed normalizer covers.
	Accepted int `json:"accepted"`
	// Omitted is how many nodes were cut from the report to keep it
	// readable (see Limits.MaxChildren and Limits.MaxLines).
	Omitted int `json:"omitted"`
}

// Node is one difference, or a place (a file, member, section) holding
// differences.
type Node struct {
	// Name is the member, section or field this node is about, relative to
	// its parent.
	Name string `json:"name"`
	Kind Kind   `json:"kind"`
	// Summary is one human sentence.
	Summary string `json:"summary,omitempty"`
	// Rebuilt and Shipped are the two values, for field differences.
	Rebuilt string `json:"rebuilt,omitempty"`
	Shipped string `json:"shipped,omitempty"`
	// Normalizer names the normalizer that covers this difference; empty
	// when none may (a change of type, mode, link target, content, …).
	Normalizer string `json:"normalizer,omitempty"`
	// Accepted is true when Normalizer was allowed, so this difference
	// does not count against equivalence.
	Accepted bool `json:"accepted,omitempty"`
	// Signature describes an Authenticode signature (kind signature).
	Signature *pe.Signature `json:"signature,omitempty"`
	// Lines holds a unified diff or a hex view.
	Lines []string `json:"lines,omitempty"`
	// LinesOmitted counts lines cut from Lines.
	LinesOmitted int     `json:"linesOmitted,omitempty"`
	Children     []*Node `json:"children,omitempty"`
	// ChildrenOmitted counts children cut from Children.
	ChildrenOmitted int `json:"childrenOmitted,omitempty"`

	// first puts a place before its siblings of the same rank (Go build
	// info before sections: it says which inputs changed).
	first bool
}

// Leaf reports whether n is a difference rather than a place.
func (n *Node) Leaf() bool { return n.Kind != KindFile && n.Kind != KindSection }

// WriteJSON writes r as indented JSON.
func (r *Report) WriteJSON(w io.Writer) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(r); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// ReadReport decodes a JSON report, refusing other schema versions.
func ReadReport(rd io.Reader) (*Report, error) {
	var r Report
	dec := json.NewDecoder(rd)
	if err := dec.Decode(&r); err != nil {
		return nil, fmt.Errorf("read report: %w", err)
	}
	if r.SchemaVersion != SchemaVersion {
		return nil, fmt.Errorf("read report: schema version %d, want %d", r.SchemaVersion, SchemaVersion)
	}
	if err := r.Rebuilt.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("read report: rebuilt digest: %w", err)
	}
	if err := r.Shipped.Digest.Validate(); err != nil {
		return nil, fmt.Errorf("read report: shipped digest: %w", err)
	}
	return &r, nil
}
