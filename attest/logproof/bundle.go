package logproof

import (
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/opencontainers/go-digest"
	"golang.org/x/mod/sumdb/note"

	"github.com/reprove/reprove/attest/internal/strictjson"
)

// BundleMediaType names a log bundle; it is the first thing a reader checks.
const BundleMediaType = "application/vnd.reprove.log-bundle+json;version=1"

// BundleSchemaVersion is the version of the bundle's JSON.
const BundleSchemaVersion = 1

// MaxBundle bounds a bundle's size, and MaxBundleEntries its entries.
const (
	MaxBundle        = 64 << 20
	MaxBundleEntries = 4096
)

// Bundle is what a centre hands back for one artifact: the envelopes it
// logged, each with an inclusion proof, all to one signed checkpoint. It is
// enough to check offline, against the log's public key, that each envelope
// is in the log.
type Bundle struct {
	MediaType     string `json:"mediaType"`
	SchemaVersion int    `json:"schemaVersion"`
	// Checkpoint is the signed note (C2SP tlog-checkpoint) every proof is
	// relative to.
	Checkpoint string `json:"checkpoint"`
	// ArtifactIndex is the signed note (see Index) that lists every entry
	// the log holds for the artifact at the checkpoint's size.
	ArtifactIndex string        `json:"artifactIndex,omitempty"`
	Entries       []BundleEntry `json:"entries"`
}

// BundleEntry is one logged envelope and its place in the log.
type BundleEntry struct {
	// Index is the leaf index in the log.
	Index int64 `json:"index"`
	// Envelope is the DSSE envelope, as JSON.
	Envelope json.RawMessage `json:"envelope"`
	// InclusionProof is the RFC 6962 audit path, base64 hashes.
	InclusionProof []string `json:"inclusionProof"`
}

// ParseBundle decodes a bundle strictly (unknown or duplicate keys, another
// media type or schema version, bad hashes are errors). It checks the form
// only: VerifyEntry checks signatures and proofs.
func ParseBundle(b []byte) (*Bundle, error) {
	if len(b) > MaxBundle {
		return nil, fmt.Errorf("parse log bundle: larger than %d bytes", MaxBundle)
	}
	var bu Bundle
	if err := strictjson.Unmarshal(b, &bu); err != nil {
		return nil, fmt.Errorf("parse log bundle: %w", err)
	}
	if bu.MediaType != BundleMediaType {
		return nil, fmt.Errorf("parse log bundle: mediaType %q, want %q", bu.MediaType, BundleMediaType)
	}
	if bu.SchemaVersion != BundleSchemaVersion {
		return nil, fmt.Errorf("parse log bundle: schemaVersion %d, want %d", bu.SchemaVersion, BundleSchemaVersion)
	}
	if bu.Checkpoint == "" {
		return nil, errors.New("parse log bundle: checkpoint: required")
	}
	if len(bu.Checkpoint) > MaxCheckpoint {
		return nil, fmt.Errorf("parse log bundle: checkpoint: larger than %d bytes", MaxCheckpoint)
	}
	if len(bu.ArtifactIndex) > MaxBundle/4 {
		return nil, errors.New("parse log bundle: artifactIndex: too large")
	}
	if len(bu.Entries) == 0 {
		return nil, errors.New("parse log bundle: entries: none")
	}
	if len(bu.Entries) > MaxBundleEntries {
		return nil, fmt.Errorf("parse log bundle: entries: more than %d", MaxBundleEntries)
	}
	for i, e := range bu.Entries {
		if e.Index < 0 {
			return nil, fmt.Errorf("parse log bundle: entries[%d].index: negative", i)
		}
		if len(e.Envelope) == 0 || e.Envelope[0] != '{' {
			return nil, fmt.Errorf("parse log bundle: entries[%d].envelope: not a JSON object", i)
		}
		if _, err := DecodeHashes(e.InclusionProof); err != nil {
			return nil, fmt.Errorf("parse log bundle: entries[%d].inclusionProof: %w", i, err)
		}
	}
	return &bu, nil
}

// Marshal writes the bundle as indented JSON.
func (bu *Bundle) Marshal() ([]byte, error) {
	c := *bu
	c.MediaType, c.SchemaVersion = BundleMediaType, BundleSchemaVersion
	b, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("marshal log bundle: %w", err)
	}
	return append(b, '\n'), nil
}

// OpenCheckpoint verifies the bundle's checkpoint with the log's key.
func (bu *Bundle) OpenCheckpoint(v *Verifier) (Checkpoint, error) {
	return v.Open([]byte(bu.Checkpoint))
}

// VerifyEntry checks that leaf (the entry's envelope as EnvelopeLeaf makes
// it, from the parsed envelope) is in the log at the entry's index, under
// the checkpoint c (from OpenCheckpoint).
func (e *BundleEntry) VerifyEntry(leaf []byte, c Checkpoint) error {
	proof, err := DecodeHashes(e.InclusionProof)
	if err != nil {
		return err
	}
	return VerifyInclusion(leaf, e.Index, proof, c)
}

// indexHeader opens an artifact index. It holds spaces, which a note key
// name (and so a log's origin) cannot, so an index never parses as a
// checkpoint nor a checkpoint as an index, though one key signs both.
const indexHeader = "reprove artifact index v1"

// Index is the centre's signed statement of completeness: at tree size Size
// of log Origin, the entries it holds for artifact Subject (every item whose
// subject it is, and the reviews and rebuilds those cite) are exactly
// Entries. A bundle carries it so that leaving an item out of the bundle, a
// dissenting rebuilder's summary say, is caught offline; a monitor replaying
// the log can check that the centre never lied in one.
type Index struct {
	Origin  string
	Size    int64
	Subject digest.Digest
	Entries []int64 // ascending, distinct
}

// Body formats the index as a signed note's text.
func (x Index) Body() []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "%s\n%s\n%d\n%s\n", indexHeader, x.Origin, x.Size, x.Subject)
	for _, e := range x.Entries {
		fmt.Fprintf(&b, "%d\n", e)
	}
	return []byte(b.String())
}

// ParseIndex parses an index body (not signed).
func ParseIndex(body []byte) (Index, error) {
	var x Index
	if len(body) == 0 || body[len(body)-1] != '\n' {
		return x, errors.New("parse artifact index: the body must end in a newline")
	}
	lines := strings.Split(string(body[:len(body)-1]), "\n")
	if len(lines) < 4 || lines[0] != indexHeader {
		return x, fmt.Errorf("parse artifact index: want %q, origin, tree size and subject", indexHeader)
	}
	x.Origin = lines[1]
	n, err := strconv.ParseInt(lines[2], 10, 64)
	if err != nil || n < 0 || strconv.FormatInt(n, 10) != lines[2] {
		return x, fmt.Errorf("parse artifact index: line 3: bad tree size %q", lines[2])
	}
	x.Size = n
	d, err := digest.Parse(lines[3])
	if err != nil || d.String() != lines[3] {
		return x, fmt.Errorf("parse artifact index: line 4: bad subject digest %q", lines[3])
	}
	x.Subject = d
	if len(lines)-4 > MaxBundleEntries {
		return x, fmt.Errorf("parse artifact index: more than %d entries", MaxBundleEntries)
	}
	for i, l := range lines[4:] {
		e, err := strconv.ParseInt(l, 10, 64)
		if err != nil || e < 0 || e >= x.Size || strconv.FormatInt(e, 10) != l {
			return x, fmt.Errorf("parse artifact index: line %d: bad entry %q", i+5, l)
		}
		if len(x.Entries) > 0 && e <= x.Entries[len(x.Entries)-1] {
			return x, fmt.Errorf("parse artifact index: line %d: entries must ascend", i+5)
		}
		x.Entries = append(x.Entries, e)
	}
	return x, nil
}

// SignIndex signs an index with the log's note signer key.
func SignIndex(x Index, skey string) ([]byte, error) {
	s, err := note.NewSigner(skey)
	if err != nil {
		return nil, fmt.Errorf("sign artifact index: %w", err)
	}
	if s.Name() != x.Origin {
		return nil, fmt.Errorf("sign artifact index: key %q cannot sign for origin %q", s.Name(), x.Origin)
	}
	return note.Sign(&note.Note{Text: string(x.Body())}, s)
}

// OpenIndex verifies a signed artifact index with the log's key.
func (v *Verifier) OpenIndex(signed []byte) (Index, error) {
	if len(signed) > MaxBundle {
		return Index{}, fmt.Errorf("open artifact index: larger than %d bytes", MaxBundle)
	}
	n, err := note.Open(signed, note.VerifierList(v.v))
	if err != nil {
		return Index{}, fmt.Errorf("open artifact index: %w", err)
	}
	x, err := ParseIndex([]byte(n.Text))
	if err != nil {
		return Index{}, err
	}
	if x.Origin != v.v.Name() {
		return Index{}, fmt.Errorf("open artifact index: origin %q is not the log %q", x.Origin, v.v.Name())
	}
	return x, nil
}

// CheckComplete verifies that the bundle is whole for subject: its signed
// artifact index is the log's (key v), is for subject at the checkpoint's
// tree size c, and every entry it lists is in the bundle. It returns the
// listed indexes the bundle lacks as an error naming them.
func (bu *Bundle) CheckComplete(v *Verifier, c Checkpoint, subject digest.Digest) error {
	if bu.ArtifactIndex == "" {
		return errors.New("log bundle: no artifact index, so nothing shows that the bundle holds every entry the log has for this file")
	}
	x, err := v.OpenIndex([]byte(bu.ArtifactIndex))
	if err != nil {
		return fmt.Errorf("log bundle: %w", err)
	}
	if x.Subject != subject {
		return fmt.Errorf("log bundle: the artifact index is for %s, not %s", x.Subject, subject)
	}
	if x.Size != c.Size {
		return fmt.Errorf("log bundle: the artifact index is at tree size %d, the checkpoint at %d", x.Size, c.Size)
	}
	have := map[int64]bool{}
	for _, e := range bu.Entries {
		have[e.Index] = true
	}
	var missing []string
	for _, e := range x.Entries {
		if !have[e] {
			missing = append(missing, strconv.FormatInt(e, 10))
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("log bundle: the log lists entries %s for %s, but the bundle leaves them out", strings.Join(missing, ", "), subject)
	}
	return nil
}
