// Package report is the compare report model: the types the JSON report is
// made of, which the engine (package compare) fills and the renderings
// (package render, the centre's pages) read. It stands on the vocabulary
// of package verdict and on nothing of the engine, so a reader of reports
// does not carry the archive, compression and executable parsers.
package report

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"

	"github.com/opencontainers/go-digest"
	"github.com/reprove/reprove/compare/format"
	"github.com/reprove/reprove/compare/verdict"
)

// SchemaVersion is the version of the JSON report. It changes whenever a
// field changes meaning or is removed; adding a field keeps it.
//
// Version 2: the report is never cut (counts.omitted and childrenOmitted
// are gone: renderings cut, and say so); nodes carry change and effect;
// counts carry causes; executables are explained by function, object,
// string and data nodes in groups instead of symbol nodes. Since added
// within version 2: the field kind, and id and see.
const SchemaVersion = 2

// Report is the result of one comparison: the source of truth that the
// text and HTML renderings are made from.
type Report struct {
	SchemaVersion int             `json:"schemaVersion"`
	Verdict       verdict.Verdict `json:"verdict"`
	Rebuilt       Artifact        `json:"rebuilt"`
	Shipped       Artifact        `json:"shipped"`
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
	// Notes say what the comparison could not look into and why (a
	// function table it could not read, code over a memory limit). They
	// are no differences.
	Notes []string `json:"notes,omitempty"`
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
	// Causes is how many of them are not effects (see Node.Effect): the
	// differences to read first.
	Causes int `json:"causes"`
}

// Change is what became of a function, object, string or block of data.
type Change int

// Changes.
const (
	ChangeNone    Change = iota // not a function, object, string or data node
	ChangeMoved                 // the same once addresses are mapped from one layout to the other
	ChangeChanged               // different code or data
	ChangeAdded                 // only in the shipped file
	ChangeRemoved               // only in the rebuilt file
)

var changeNames = map[Change]string{ChangeMoved: "moved", ChangeChanged: "changed", ChangeAdded: "added", ChangeRemoved: "removed"}

func (c Change) String() string {
	if s, ok := changeNames[c]; ok {
		return s
	}
	return ""
}

// MarshalText implements encoding.TextMarshaler.
func (c Change) MarshalText() ([]byte, error) {
	s, ok := changeNames[c]
	if !ok {
		return nil, fmt.Errorf("marshal change: invalid value %d", int(c))
	}
	return []byte(s), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (c *Change) UnmarshalText(b []byte) error {
	for k, s := range changeNames {
		if s == string(b) {
			*c = k
			return nil
		}
	}
	return fmt.Errorf("unmarshal change: unknown change %q", b)
}

// Node is one difference, or a place (a file, member, section) holding
// differences.
type Node struct {
	// Name is the member, section or field this node is about, relative to
	// its parent.
	Name string       `json:"name"`
	Kind verdict.Kind `json:"kind"`
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
	// Change says what became of a function, object, string or block of
	// data.
	Change Change `json:"change,omitempty"`
	// Effect marks a difference, or a place holding differences, that
	// follows from the causes before it: code and data that only moved,
	// section bytes the functions, strings and data account for, layout
	// fields. Renderings fold effects.
	Effect bool `json:"effect,omitempty"`
	// Signature describes an Authenticode signature (kind signature).
	Signature *Signature `json:"signature,omitempty"`
	// Lines holds a unified diff, an instruction diff or a hex view.
	Lines []string `json:"lines,omitempty"`
	// LinesOmitted counts lines the comparison did not record (byte ranges
	// past Limits.MaxRanges, instructions past Limits.MaxListing).
	LinesOmitted int `json:"linesOmitted,omitempty"`
	// ID names this node for others that refer to it (See); set only on
	// nodes something refers to, unique in the report.
	ID string `json:"id,omitempty"`
	// See is the ID of the node that explains this difference (an entry
	// of a package's md5sums refers to the file it names).
	See      string  `json:"see,omitempty"`
	Children []*Node `json:"children,omitempty"`
}

// Leaf reports whether n is a difference rather than a place.
func (n *Node) Leaf() bool {
	return n.Kind != verdict.KindFile && n.Kind != verdict.KindSection && n.Kind != verdict.KindGroup
}

// WriteJSON writes r as indented JSON. The tree is written node by node,
// so a report of many megabytes is never held twice in memory (once as
// the tree, once as its encoding); the output is what json.Encoder with
// two-space indentation would write.
func (r *Report) WriteJSON(w io.Writer) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	top := *r
	top.Differences = nil
	head, err := encode(&top, "")
	if err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	if r.Differences == nil {
		bw.Write(head)
		bw.WriteString("\n")
		return flush(bw)
	}
	// Splice "differences" in where encoding/json puts it: after counts,
	// before notes (the field order of Report).
	if at := bytes.Index(head, []byte("\n  \"notes\": ")); at >= 0 {
		bw.Write(head[:at]) // ends with the comma after counts
		bw.WriteString("\n  \"differences\": ")
		if err := writeNode(bw, r.Differences, "  "); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		bw.WriteString(",")
		bw.Write(head[at:])
	} else {
		bw.Write(head[:len(head)-len("\n}")])
		bw.WriteString(",\n  \"differences\": ")
		if err := writeNode(bw, r.Differences, "  "); err != nil {
			return fmt.Errorf("write report: %w", err)
		}
		bw.WriteString("\n}")
	}
	bw.WriteString("\n")
	return flush(bw)
}

func flush(bw *bufio.Writer) error {
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("write report: %w", err)
	}
	return nil
}

// encode is json.Encoder's indented encoding of v, at indentation prefix,
// without the final newline.
func encode(v any, prefix string) ([]byte, error) {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetIndent(prefix, "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(v); err != nil {
		return nil, err
	}
	return bytes.TrimSuffix(b.Bytes(), []byte("\n")), nil
}

// writeNode writes n at indentation prefix: its fields as encoding/json
// would, then its children one by one.
func writeNode(w *bufio.Writer, n *Node, prefix string) error {
	leaf := *n
	leaf.Children = nil
	b, err := encode(&leaf, prefix)
	if err != nil {
		return err
	}
	if len(n.Children) == 0 {
		_, err := w.Write(b)
		return err
	}
	w.Write(b[:len(b)-len("\n"+prefix+"}")])
	w.WriteString(",\n" + prefix + "  \"children\": [")
	for i, c := range n.Children {
		if i > 0 {
			w.WriteString(",")
		}
		w.WriteString("\n" + prefix + "    ")
		if err := writeNode(w, c, prefix+"    "); err != nil {
			return err
		}
	}
	_, err = w.WriteString("\n" + prefix + "  ]\n" + prefix + "}")
	return err
}

// Read decodes a JSON report, refusing other schema versions.
func Read(rd io.Reader) (*Report, error) {
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

// Signature describes the Authenticode signature in a certificate table.
type Signature struct {
	// Signer and Issuer are the distinguished names of the signing
	// certificate.
	Signer string `json:"signer"`
	Issuer string `json:"issuer"`
	Serial string `json:"serial"`
	// DigestAlgorithm and Digest are the image hash the signature covers.
	DigestAlgorithm string `json:"digestAlgorithm,omitempty"`
	Digest          string `json:"digest,omitempty"`
	// DigestMatches is true when Digest is the Authenticode hash of this
	// very image: the signature was made for these bytes.
	DigestMatches bool `json:"digestMatches"`
	// SignatureValid is true when the PKCS#7 signature verifies with the
	// embedded certificate. No trust root is consulted: whether the signer
	// is trusted is a policy question for the verifier, not for compare.
	SignatureValid bool   `json:"signatureValid"`
	Problem        string `json:"problem,omitempty"` // why DigestMatches or SignatureValid is false
}
