package logproof

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
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
	// Revocations are the log's records that keys which signed entries
	// were revoked (see Revocation), each with its inclusion proof; the
	// artifact index lists them too.
	Revocations []BundleRevocation `json:"revocations,omitempty"`
}

// BundleRevocation is one logged key revocation and its place in the log.
type BundleRevocation struct {
	Index int64 `json:"index"`
	// Revocation is the log leaf (RevocationLeaf), as JSON.
	Revocation     json.RawMessage `json:"revocation"`
	InclusionProof []string        `json:"inclusionProof"`
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
	if len(bu.Revocations) > MaxBundleEntries {
		return nil, fmt.Errorf("parse log bundle: revocations: more than %d", MaxBundleEntries)
	}
	for i, r := range bu.Revocations {
		if r.Index < 0 {
			return nil, fmt.Errorf("parse log bundle: revocations[%d].index: negative", i)
		}
		if _, err := ParseRevocation(r.Revocation); err != nil {
			return nil, fmt.Errorf("parse log bundle: revocations[%d].revocation: %w", i, err)
		}
		if _, err := DecodeHashes(r.InclusionProof); err != nil {
			return nil, fmt.Errorf("parse log bundle: revocations[%d].inclusionProof: %w", i, err)
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

// The headers of an artifact index. They hold spaces, which a note key
// name (and so a log's origin) cannot, so an index never parses as a
// checkpoint nor a checkpoint as an index, though one key signs both. An
// index that covers every signer and no source is written in the first
// form, which readers that know only it still read; one that names signers
// or sources is written in the second, which such readers refuse (they
// fail closed rather than misread it).
const (
	indexHeader   = "reprove artifact index v1"
	indexHeaderV2 = "reprove artifact index v2"
)

// Index is the centre's signed statement of completeness: at tree size Size
// of log Origin, the entries it holds for artifact Subject are exactly
// Entries. Those are every item whose subject it is, the items those cite,
// the reviews of each source in Sources (the sources the rebuilds among
// them name, so a reviewer's findings under the source digest reach the
// artifact's customers), and the logged revocations of keys that signed any
// of them. A bundle carries it so that leaving an item out of the bundle, a
// dissenting rebuilder's summary say, is caught offline; a monitor
// replaying the log can check that the centre never lied in one.
//
// When Signers is not empty the index covers only the items signed by
// those keys (by fingerprint; what they cite is still listed, whoever
// signed it): the answer to a customer who asked for the keys its policy
// trusts, so that no other key's entries, however many, can crowd them
// out. Such an index is complete only for a reader whose trusted keys are
// all among Signers (CheckCompleteFor).
type Index struct {
	Origin  string
	Size    int64
	Subject digest.Digest
	Signers []digest.Digest // ascending, distinct; none: every signer
	Sources []digest.Digest // ascending, distinct
	Entries []int64         // ascending, distinct
}

// Body formats the index as a signed note's text: the header, origin, tree
// size and subject, then "signer D" and "source D" lines, then one entry
// index a line.
func (x Index) Body() []byte {
	var b strings.Builder
	header := indexHeader
	if len(x.Signers) > 0 || len(x.Sources) > 0 {
		header = indexHeaderV2
	}
	fmt.Fprintf(&b, "%s\n%s\n%d\n%s\n", header, x.Origin, x.Size, x.Subject)
	for _, s := range x.Signers {
		fmt.Fprintf(&b, "signer %s\n", s)
	}
	for _, s := range x.Sources {
		fmt.Fprintf(&b, "source %s\n", s)
	}
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
	if len(lines) < 4 || lines[0] != indexHeader && lines[0] != indexHeaderV2 {
		return x, fmt.Errorf("parse artifact index: want %q (or %q), origin, tree size and subject", indexHeader, indexHeaderV2)
	}
	v2 := lines[0] == indexHeaderV2
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
	if len(lines)-4 > 3*MaxBundleEntries {
		return x, fmt.Errorf("parse artifact index: more than %d lines", 3*MaxBundleEntries)
	}
	rest := lines[4:]
	at := 5
	// digests reads the lines "word D", ascending, at the head of rest.
	digests := func(word string) ([]digest.Digest, error) {
		var out []digest.Digest
		for len(rest) > 0 && strings.HasPrefix(rest[0], word+" ") {
			l := strings.TrimPrefix(rest[0], word+" ")
			d, err := digest.Parse(l)
			if err != nil || d.String() != l || d.Algorithm() != digest.SHA256 {
				return nil, fmt.Errorf("parse artifact index: line %d: bad %s digest %q", at, word, l)
			}
			if len(out) > 0 && d <= out[len(out)-1] {
				return nil, fmt.Errorf("parse artifact index: line %d: %s digests must ascend", at, word)
			}
			out = append(out, d)
			rest, at = rest[1:], at+1
		}
		return out, nil
	}
	if x.Signers, err = digests("signer"); err != nil {
		return x, err
	}
	if x.Sources, err = digests("source"); err != nil {
		return x, err
	}
	if !v2 && (len(x.Signers) > 0 || len(x.Sources) > 0) {
		return x, fmt.Errorf("parse artifact index: signer and source lines need the header %q", indexHeaderV2)
	}
	if v2 && len(x.Signers) == 0 && len(x.Sources) == 0 {
		return x, fmt.Errorf("parse artifact index: an index with neither signers nor sources is written %q", indexHeader)
	}
	if len(rest) > MaxBundleEntries {
		return x, fmt.Errorf("parse artifact index: more than %d entries", MaxBundleEntries)
	}
	for _, l := range rest {
		e, err := strconv.ParseInt(l, 10, 64)
		if err != nil || e < 0 || e >= x.Size || strconv.FormatInt(e, 10) != l {
			return x, fmt.Errorf("parse artifact index: line %d: bad entry %q", at, l)
		}
		if len(x.Entries) > 0 && e <= x.Entries[len(x.Entries)-1] {
			return x, fmt.Errorf("parse artifact index: line %d: entries must ascend", at)
		}
		x.Entries = append(x.Entries, e)
		at++
	}
	return x, nil
}

// CoversSource reports whether the index lists the reviews of source d.
func (x Index) CoversSource(d digest.Digest) bool {
	_, ok := slices.BinarySearch(x.Sources, d)
	return ok
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
// tree size c, covers every signer, and every entry it lists is in the
// bundle. It returns the listed indexes the bundle lacks as an error
// naming them.
func (bu *Bundle) CheckComplete(v *Verifier, c Checkpoint, subject digest.Digest) error {
	return bu.CheckCompleteFor(v, c, subject, nil)
}

// CheckCompleteFor is CheckComplete for a reader who counts only the keys
// trusted (fingerprints): an index restricted to some signers passes when
// every trusted key is among them. With trusted empty, only an index of
// every signer passes.
func (bu *Bundle) CheckCompleteFor(v *Verifier, c Checkpoint, subject digest.Digest, trusted []digest.Digest) error {
	x, err := bu.CompleteIndex(v, c, subject)
	if err != nil {
		return err
	}
	if len(x.Signers) > 0 {
		var left []string
		for _, k := range trusted {
			if _, ok := slices.BinarySearch(x.Signers, k); !ok {
				left = append(left, k.String())
			}
		}
		if len(trusted) == 0 {
			left = append(left, "every other key")
		}
		if len(left) > 0 {
			return fmt.Errorf("log bundle: the artifact index covers only the entries of %d keys, not those of %s: ask the centre for the keys you trust", len(x.Signers), strings.Join(left, ", "))
		}
	}
	return nil
}

// CompleteIndex opens the bundle's artifact index and checks that it is for
// subject at the checkpoint's tree size c and lists no entry the bundle
// lacks, whatever signers it covers (see CheckCompleteFor); a reader then
// asks it what it covers (Signers, CoversSource).
func (bu *Bundle) CompleteIndex(v *Verifier, c Checkpoint, subject digest.Digest) (Index, error) {
	if bu.ArtifactIndex == "" {
		return Index{}, errors.New("log bundle: no artifact index, so nothing shows that the bundle holds every entry the log has for this file")
	}
	x, err := v.OpenIndex([]byte(bu.ArtifactIndex))
	if err != nil {
		return x, fmt.Errorf("log bundle: %w", err)
	}
	if x.Subject != subject {
		return x, fmt.Errorf("log bundle: the artifact index is for %s, not %s", x.Subject, subject)
	}
	if x.Size != c.Size {
		return x, fmt.Errorf("log bundle: the artifact index is at tree size %d, the checkpoint at %d", x.Size, c.Size)
	}
	have := map[int64]bool{}
	for _, e := range bu.Entries {
		have[e.Index] = true
	}
	for _, r := range bu.Revocations {
		have[r.Index] = true
	}
	var missing []string
	for _, e := range x.Entries {
		if !have[e] {
			missing = append(missing, strconv.FormatInt(e, 10))
		}
	}
	if len(missing) > 0 {
		return x, fmt.Errorf("log bundle: the log lists entries %s for %s, but the bundle leaves them out", strings.Join(missing, ", "), subject)
	}
	return x, nil
}
