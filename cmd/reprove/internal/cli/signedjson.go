package cli

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/opencontainers/go-digest"

	"github.com/reprove/reprove/attest"
)

// signedSchemaVersion versions the --json output of the signing commands
// (review, attest rebuild, attest summary): schemas/signed.schema.json.
const signedSchemaVersion = 1

// signedFile is one attestation a signing command wrote.
type signedFile struct {
	Path          string        `json:"path"`
	PredicateType string        `json:"predicateType"`
	PayloadDigest digest.Digest `json:"payloadDigest"`
	// Form is "bundle" (a Sigstore bundle) or "envelope" (a bare DSSE
	// envelope), by the file's name as the command wrote it.
	Form string `json:"form"`
}

// signedDoc is what a signing command did, as data.
type signedDoc struct {
	SchemaVersion int           `json:"schemaVersion"`
	Command       string        `json:"command"`
	Signer        digest.Digest `json:"signer"`
	Files         []signedFile  `json:"files"`
	// Signatures counts the signatures of a co-signed review.
	Signatures int `json:"signatures,omitempty"`
	// Summary fields: the shipped file, the verdict, the rebuilt output
	// and how many reviews the summary cites.
	Shipped digest.Digest `json:"shipped,omitempty"`
	Verdict string        `json:"verdict,omitempty"`
	Rebuilt digest.Digest `json:"rebuilt,omitempty"`
	Reviews *int          `json:"reviews,omitempty"`
}

func signedAt(path, predicateType string, payload digest.Digest) signedFile {
	form := "envelope"
	if strings.HasSuffix(path, attest.BundleExt) {
		form = "bundle"
	}
	return signedFile{Path: path, PredicateType: predicateType, PayloadDigest: payload, Form: form}
}

// reportSigned ends a signing command: its one line of text, or with
// --json the document instead.
func reportSigned(env *Env, jsonOut bool, doc signedDoc, format string, a ...any) error {
	if !jsonOut {
		printf(env.Stdout, format, a...)
		return nil
	}
	doc.SchemaVersion = signedSchemaVersion
	enc := json.NewEncoder(env.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return fmt.Errorf("write result: %w", err)
	}
	return nil
}
