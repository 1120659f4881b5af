package attest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"iter"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/internal/strictjson"
	"github.com/reprove/reprove/attest/logproof"
	"github.com/reprove/reprove/attest/sigbundle"
	"github.com/reprove/reprove/internal/ctxio"
)

// Document is one attestation as read from disk: an envelope, or the reason
// it could not be read. Verify treats an unreadable document as a reason to
// refuse, never as something to skip.
type Document struct {
	// Source says where it came from: path, or path:line for JSON Lines.
	Source   string
	Envelope *envelope.Envelope
	Err      error
	// Log is set for an envelope that came in a log bundle: where the
	// bundle says the log holds it.
	Log *LogEntry
	// Sigstore is set for an envelope that came in a Sigstore bundle: its
	// certificate, transparency-log entries and timestamps, which a
	// policy's keyless identities are checked against.
	Sigstore *sigbundle.Bundle
}

// LogEntry is an envelope's place in a transparency log, as a log bundle
// (attest/logproof) states it: checked by verify only under a policy that
// names the log.
type LogEntry struct {
	// Bundle is the bundle the entry came in (shared by its entries), and
	// BundleSource where it was read.
	Bundle       *logproof.Bundle
	BundleSource string
	Entry        *logproof.BundleEntry
}

// Limits of what one verification reads, so that hostile input can neither
// hang `reprove verify` nor make it balloon.
const (
	// MaxDocuments bounds how many attestations one verification reads.
	MaxDocuments = 4096
	// MaxFileSize bounds one attestation file (a JSON Lines file or a
	// bundle of many envelopes).
	MaxFileSize = 64 << 20
	// MaxInputSize bounds all attestation files of one verification
	// together.
	MaxInputSize = 256 << 20
)

// ErrNotRegular is returned for a path that names something other than a
// regular file or directory (a FIFO, a device, a socket): reading one could
// block forever.
var ErrNotRegular = errors.New("not a regular file")

// attestationExts are the file names read from a directory.
var attestationExts = []string{".json", ".jsonl", ".dsse", ".sig", ".bundle"}

// Documents is a stream of attestation documents, read one at a time; a
// non-nil error means the input could not be read, and ends the stream.
type Documents = iter.Seq2[Document, error]

// Files reads attestations from paths (see WalkDocuments).
func Files(ctx context.Context, paths ...string) Documents {
	return func(yield func(Document, error) bool) {
		stopped := false
		err := WalkDocuments(ctx, paths, func(d Document) error {
			if !yield(d, nil) {
				stopped = true
				return errStop
			}
			return nil
		})
		if err != nil && !stopped {
			yield(Document{}, err)
		}
	}
}

var errStop = errors.New("stop")

// LogBundle reads the envelopes of a log bundle already parsed (as
// centre/client fetches one), named name in messages.
func LogBundle(name string, bu *logproof.Bundle) Documents {
	return func(yield func(Document, error) bool) {
		for _, d := range logDocumentsOf(name, bu) {
			if !yield(d, nil) {
				return
			}
		}
	}
}

// Concat reads each stream in turn.
func Concat(streams ...Documents) Documents {
	return func(yield func(Document, error) bool) {
		for _, s := range streams {
			for d, err := range s {
				if !yield(d, err) || err != nil {
					return
				}
			}
		}
	}
}

// ReadDocuments reads every attestation WalkDocuments finds into memory.
func ReadDocuments(ctx context.Context, paths []string) ([]Document, error) {
	var docs []Document
	err := WalkDocuments(ctx, paths, func(d Document) error {
		docs = append(docs, d)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return docs, nil
}

// WalkDocuments reads attestations from paths and hands them to fn one at a
// time, so a caller that keeps only what it needs of each holds one file in
// memory at once. A path is a file holding one DSSE envelope (as reprove and
// `cosign attest-blob` write them), a JSON Lines file with one envelope per
// line (*.intoto.jsonl), a log bundle from a transparency centre (by its
// mediaType, see attest/logproof), a Sigstore bundle (v0.1 to v0.3, as cosign v3
// writes them; *.sigstore.json), cosign's old bundle format
// ({"base64Signature": ...}), or a directory of such files (not recursive; only names ending in
// .json, .jsonl, .dsse, .sig or .bundle, and only regular files).
//
// It refuses paths that are neither regular files nor directories (a FIFO
// would block), files larger than MaxFileSize, more than MaxInputSize bytes
// in all and more than MaxDocuments documents, and stops when ctx is done.
func WalkDocuments(ctx context.Context, paths []string, fn func(Document) error) error {
	var total int64
	n := 0
	for _, p := range paths {
		files, err := attestationFiles(p)
		if err != nil {
			return fmt.Errorf("read attestations: %w", err)
		}
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return err
			}
			b, err := readRegular(ctx, f, min(MaxFileSize, MaxInputSize-total))
			if err != nil {
				if errors.Is(err, errTooLarge) && total > 0 {
					return fmt.Errorf("read attestations: more than %d bytes of attestations in all (at %s)", MaxInputSize, f)
				}
				return fmt.Errorf("read attestations: %w", err)
			}
			total += int64(len(b))
			for _, d := range SplitDocuments(f, b) {
				if n++; n > MaxDocuments {
					return fmt.Errorf("read attestations: more than %d attestations", MaxDocuments)
				}
				if err := fn(d); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// attestationFiles lists the files path stands for: itself, or the
// attestation files of a directory, sorted.
func attestationFiles(path string) ([]string, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if !fi.IsDir() {
		return []string{path}, nil
	}
	entries, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	var files []string
	for _, e := range entries {
		if !e.Type().IsRegular() {
			continue
		}
		for _, ext := range attestationExts {
			if strings.HasSuffix(e.Name(), ext) {
				files = append(files, filepath.Join(path, e.Name()))
				break
			}
		}
	}
	sort.Strings(files)
	return files, nil
}

var errTooLarge = errors.New("too large")

// openRegular opens path for reading only if it is a regular file. The open
// is non-blocking, so a FIFO with no writer cannot hang it, and the check is
// on the opened file, so nothing can be swapped in between.
func openRegular(path string) (*os.File, os.FileInfo, error) {
	f, err := os.OpenFile(path, os.O_RDONLY|syscall.O_NONBLOCK, 0)
	if err != nil {
		return nil, nil, err
	}
	fi, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, nil, err
	}
	if !fi.Mode().IsRegular() {
		f.Close()
		what := "a " + fi.Mode().Type().String()
		switch m := fi.Mode(); {
		case m.IsDir():
			what = "a directory"
		case m&os.ModeNamedPipe != 0:
			what = "a FIFO"
		case m&os.ModeSocket != 0:
			what = "a socket"
		case m&os.ModeDevice != 0:
			what = "a device"
		}
		return nil, nil, fmt.Errorf("%s: %w (it is %s)", path, ErrNotRegular, what)
	}
	return f, fi, nil
}

// readRegular reads a whole regular file of at most max bytes, honouring ctx.
func readRegular(ctx context.Context, path string, max int64) ([]byte, error) {
	f, fi, err := openRegular(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if fi.Size() > max {
		return nil, fmt.Errorf("%s: %w: %d bytes, more than %d", path, errTooLarge, fi.Size(), max)
	}
	b, err := io.ReadAll(io.LimitReader(ctxio.NewReader(ctx, f), max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("%s: %w: more than %d bytes", path, errTooLarge, max)
	}
	return b, nil
}

// Target is the file being verified: where it is, and the digests computed
// of it (sha256 always; others when a statement names the file by them).
type Target struct {
	// Path is where the file is, and how results name it.
	Path    string
	Digests DigestSet
}

// HashTarget hashes the regular file at path (its sha256), telling m (when
// set) how it goes.
func HashTarget(ctx context.Context, path string, m ctxio.Meter) (*Target, error) {
	ds, err := hashFile(ctx, path, m, []string{"sha256"})
	if err != nil {
		return nil, err
	}
	return &Target{Path: path, Digests: ds}, nil
}

// hashers are the algorithms a target can be hashed with: those of the
// SHA-2 family that in-toto digest sets name.
var hashers = map[string]func() hash.Hash{
	"sha224": sha256.New224, "sha256": sha256.New, "sha384": sha512.New384,
	"sha512": sha512.New, "sha512_256": sha512.New512_256,
}

// hashMore adds the digests of the algorithms algs that t lacks (reading
// the file again); a target without a path gets none.
func (t *Target) hashMore(ctx context.Context, algs []string) error {
	var want []string
	for _, a := range algs {
		if _, ok := t.Digests[a]; !ok && hashers[a] != nil {
			want = append(want, a)
		}
	}
	if len(want) == 0 || t.Path == "" {
		return nil
	}
	ds, err := hashFile(ctx, t.Path, nil, want)
	if err != nil {
		return err
	}
	for a, v := range ds {
		t.Digests[a] = v
	}
	return nil
}

// hashFile computes the digests algs of a regular file in one pass,
// telling m (when set) how it goes.
func hashFile(ctx context.Context, path string, m ctxio.Meter, algs []string) (DigestSet, error) {
	f, fi, err := openRegular(path)
	if err != nil {
		return nil, fmt.Errorf("hash file: %w", err)
	}
	defer f.Close()
	hs := make([]hash.Hash, len(algs))
	for i, a := range algs {
		hs[i] = hashers[a]()
	}
	if _, err := ctxio.HashReaderAll(ctx, m.Reader(ctx, f, "hashing "+path, fi.Size()), nil, hs...); err != nil {
		return nil, fmt.Errorf("hash file %s: %w", path, err)
	}
	ds := DigestSet{}
	for i, h := range hs {
		ds[algs[i]] = hex.EncodeToString(h.Sum(nil))
	}
	return ds, nil
}

// SplitDocuments parses the bytes of one attestation file into documents.
func SplitDocuments(name string, b []byte) []Document {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 {
		return []Document{{Source: name, Err: fmt.Errorf("empty file")}}
	}
	// One JSON value (possibly pretty-printed) or JSON Lines? (The strict
	// checks are parseDocument's, once; json.Valid only tells the shapes
	// apart, without a second strict pass. One line is one document either
	// way, so it is not asked.)
	if bytes.IndexByte(trimmed, '\n') < 0 || json.Valid(trimmed) {
		return parseDocument(name, trimmed)
	}
	lines := bytes.Split(trimmed, []byte("\n"))
	jsonLines := len(lines) > 1
	for _, l := range lines {
		if l = bytes.TrimSpace(l); len(l) > 0 && l[0] != '{' {
			jsonLines = false // a broken pretty-printed document: one error
		}
	}
	if !jsonLines {
		return parseDocument(name, trimmed)
	}
	var docs []Document
	for i, line := range lines {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		docs = append(docs, parseDocument(fmt.Sprintf("%s:%d", name, i+1), line)...)
	}
	return docs
}

// cosignBundle is the bundle `cosign attest-blob --bundle` writes (the
// format before sigstore bundles): the envelope is base64 in
// base64Signature. Only the envelope is used; the certificate and Rekor
// fields are ignored because reprove verifies offline against policy keys.
type cosignBundle struct {
	Base64Signature string         `json:"base64Signature"`
	Cert            string         `json:"cert"`
	RekorBundle     map[string]any `json:"rekorBundle"`
}

// parseDocument reads one JSON value: an envelope or a bundle of them.
func parseDocument(src string, b []byte) []Document {
	one := func(e *envelope.Envelope, err error) []Document {
		return []Document{{Source: src, Envelope: e, Err: err}}
	}
	if bytes.Contains(b, []byte(`"mediaType"`)) {
		var head struct {
			MediaType string `json:"mediaType"`
		}
		if err := json.Unmarshal(b, &head); err == nil {
			switch {
			case sigbundle.IsBundle(head.MediaType):
				bu, err := sigbundle.Parse(b)
				if err != nil {
					return one(nil, err)
				}
				return []Document{{Source: src, Envelope: bu.Envelope, Sigstore: bu}}
			case head.MediaType == logproof.BundleMediaType:
				return logDocuments(src, b)
			}
		}
	}
	if bytes.Contains(b, []byte(`"base64Signature"`)) {
		var cb cosignBundle
		if err := strictjson.Unmarshal(b, &cb); err != nil {
			return one(nil, fmt.Errorf("parse cosign bundle: %w", err))
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(cb.Base64Signature)
		if err != nil {
			return one(nil, fmt.Errorf("parse cosign bundle: base64Signature: %w", err))
		}
		b = raw
	}
	return one(envelope.Parse(b))
}

// logDocuments reads a log bundle: one document per entry, each carrying
// the bundle and its entry for verify's log checks.
func logDocuments(src string, b []byte) []Document {
	bu, err := logproof.ParseBundle(b)
	if err != nil {
		return []Document{{Source: src, Err: err}}
	}
	return logDocumentsOf(src, bu)
}

func logDocumentsOf(src string, bu *logproof.Bundle) []Document {
	docs := make([]Document, 0, len(bu.Entries))
	for i := range bu.Entries {
		en := &bu.Entries[i]
		e, err := envelope.Parse(en.Envelope)
		docs = append(docs, Document{
			Source: fmt.Sprintf("%s#%d", src, en.Index), Envelope: e, Err: err,
			Log: &LogEntry{Bundle: bu, BundleSource: src, Entry: en},
		})
	}
	return docs
}

// ReadAttestation reads one signed attestation file (an envelope or a
// bundle holding exactly one) and checks that it is of the wanted predicate
// type (any type when predicateType is empty). Its signatures are not
// checked: signers record digests of what they cite, and reprove verify
// checks every signature against the customer's policy.
func ReadAttestation(ctx context.Context, path, predicateType string) (*envelope.Envelope, *Statement, error) {
	fail := func(err error) (*envelope.Envelope, *Statement, error) {
		return nil, nil, fmt.Errorf("read attestation %s: %w", path, err)
	}
	b, err := readRegular(ctx, path, MaxFileSize)
	if err != nil {
		return nil, nil, fmt.Errorf("read attestation: %w", err)
	}
	docs := SplitDocuments(path, b)
	if len(docs) != 1 {
		return fail(fmt.Errorf("it holds %d attestations, want one", len(docs)))
	}
	if docs[0].Err != nil {
		return fail(docs[0].Err)
	}
	e := docs[0].Envelope
	st, err := ParseStatement(e.Payload)
	if err != nil {
		return fail(err)
	}
	if predicateType != "" && st.PredicateType != predicateType {
		return fail(fmt.Errorf("predicate type is %s, want %s", st.PredicateType, predicateType))
	}
	return e, st, nil
}
