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

// Kind says what differs.
type Kind int

// Kinds of difference.
const (
	KindFile        Kind = iota + 1 // a file or member whose differences are its children
	KindSection                     // an executable section whose differences are its children
	KindAdded                       // present only in the shipped artifact
	KindRemoved                     // present only in the rebuilt artifact
	KindDuplicate                   // a name that repeats a different number of times
	KindFormat                      // the file format differs (gzip vs zip, ELF vs text, …)
	KindType                        // member type (file, dir, symlink, …)
	KindMode                        // permission, setuid/setgid/sticky bits
	KindLink                        // symlink or hard-link target
	KindOwner                       // uid, gid, owner names
	KindMtime                       // member times
	KindOrder                       // member order
	KindCompression                 // compression method, level or compressed bytes
	KindHeader                      // compressed-stream header field (gzip)
	KindMetadata                    // any other metadata field
	KindContent                     // content differs (summary of a leaf with no finer structure)
	KindSymbol                      // a function or object in an executable
	KindBuildInfo                   // a Go build-info field
	KindText                        // lines of text
	KindBytes                       // byte ranges
	KindTimestamp                   // PE COFF timestamp
	KindChecksum                    // PE optional-header checksum
	KindSignature                   // Authenticode signature
)

var kindNames = map[Kind]string{
	KindFile: "file", KindSection: "section", KindAdded: "added", KindRemoved: "removed",
	KindDuplicate: "duplicate", KindFormat: "format", KindType: "type", KindMode: "mode",
	KindLink: "link", KindOwner: "owner", KindMtime: "mtime", KindOrder: "order",
	KindCompression: "compression", KindHeader: "header", KindMetadata: "metadata",
	KindContent: "content", KindSymbol: "symbol", KindBuildInfo: "buildinfo", KindText: "text",
	KindBytes: "bytes", KindTimestamp: "pe-timestamp", KindChecksum: "pe-checksum",
	KindSignature: "signature",
}

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
		return nil, fmt.Errorf("marshal kind: invalid value %d", int(k))
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
	return fmt.Errorf("unmarshal kind: unknown kind %q", b)
}
