package attest

import (
	"bytes"
	"context"
	"encoding/base64"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/reprove/reprove/attest/envelope"
	"github.com/reprove/reprove/attest/internal/strictjson"
)

// Document is one attestation as read from disk: an envelope, or the reason
// it could not be read. Verify treats an unreadable document as a reason to
// refuse, never as something to skip.
type Document struct {
	// Source says where it came from: path, or path:line for JSON Lines.
	Source   string
	Envelope *envelope.Envelope
	Err      error
}

// MaxDocuments bounds how many attestations one verification reads.
const MaxDocuments = 4096

// attestationExts are the file names read from a directory.
var attestationExts = []string{".json", ".jsonl", ".dsse", ".sig", ".bundle"}

// ReadDocuments reads attestations from paths: files holding one DSSE
// envelope (as reprove and `cosign attest-blob` write them), JSON Lines files
// with one envelope per line (*.intoto.jsonl bundles), cosign's old bundle
// format ({"base64Signature": ...}), or directories of such files (not
// recursive; only names ending in .json, .jsonl, .dsse, .sig or .bundle).
func ReadDocuments(ctx context.Context, paths []string) ([]Document, error) {
	var docs []Document
	for _, p := range paths {
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("read attestations: %w", err)
		}
		files := []string{p}
		if fi.IsDir() {
			entries, err := os.ReadDir(p)
			if err != nil {
				return nil, fmt.Errorf("read attestations: %w", err)
			}
			files = files[:0]
			for _, e := range entries {
				if !e.Type().IsRegular() {
					continue
				}
				for _, ext := range attestationExts {
					if strings.HasSuffix(e.Name(), ext) {
						files = append(files, filepath.Join(p, e.Name()))
						break
					}
				}
			}
			sort.Strings(files)
		}
		for _, f := range files {
			if err := ctx.Err(); err != nil {
				return nil, err
			}
			b, err := readFileLimited(f, envelope.MaxSize*4)
			if err != nil {
				return nil, fmt.Errorf("read attestations: %w", err)
			}
			docs = append(docs, SplitDocuments(f, b)...)
			if len(docs) > MaxDocuments {
				return nil, fmt.Errorf("read attestations: more than %d attestations", MaxDocuments)
			}
		}
	}
	return docs, nil
}

// SplitDocuments parses the bytes of one attestation file into documents.
func SplitDocuments(name string, b []byte) []Document {
	trimmed := bytes.TrimSpace(b)
	if len(trimmed) == 0 {
		return []Document{{Source: name, Err: fmt.Errorf("empty file")}}
	}
	// One JSON value (possibly pretty-printed) or JSON Lines?
	if strictjson.Check(trimmed) == nil {
		return []Document{parseDocument(name, trimmed)}
	}
	lines := bytes.Split(trimmed, []byte("\n"))
	jsonLines := len(lines) > 1
	for _, l := range lines {
		if l = bytes.TrimSpace(l); len(l) > 0 && l[0] != '{' {
			jsonLines = false // a broken pretty-printed document: one error
		}
	}
	if !jsonLines {
		return []Document{parseDocument(name, trimmed)}
	}
	var docs []Document
	for i, line := range lines {
		line = bytes.TrimSpace(line)
		if len(line) == 0 {
			continue
		}
		docs = append(docs, parseDocument(fmt.Sprintf("%s:%d", name, i+1), line))
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

func parseDocument(src string, b []byte) Document {
	if bytes.Contains(b, []byte(`"base64Signature"`)) {
		var cb cosignBundle
		if err := strictjson.Unmarshal(b, &cb); err != nil {
			return Document{Source: src, Err: fmt.Errorf("parse cosign bundle: %w", err)}
		}
		raw, err := base64.StdEncoding.Strict().DecodeString(cb.Base64Signature)
		if err != nil {
			return Document{Source: src, Err: fmt.Errorf("parse cosign bundle: base64Signature: %w", err)}
		}
		b = raw
	}
	e, err := envelope.Parse(b)
	return Document{Source: src, Envelope: e, Err: err}
}

func readFileLimited(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	if int64(len(b)) > max {
		return nil, fmt.Errorf("read %s: larger than %d bytes", path, max)
	}
	return b, nil
}
