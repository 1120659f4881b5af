package recipes

import (
	"encoding/json"
	"fmt"

	"github.com/cyberphone/json-canonicalization/go/src/webpki.org/jsoncanonicalizer"
	"github.com/opencontainers/go-digest"
)

// Canonical returns the recipe's canonical form: its JSON encoding (the
// field names of the format, empty fields left out) canonicalized by the
// JSON Canonicalization Scheme, RFC 8785: object keys sorted, no
// insignificant whitespace, one spelling for every string and number.
//
// JCS rather than a format of our own because it is a published standard
// with implementations in many languages: anyone holding a recipe, or the
// JSON of one inside an attestation, can recompute its digest without
// reprove. YAML comments, key order, quoting and layout do not change it;
// list order does (steps run in order). The recipe is validated first: an
// invalid recipe has no canonical form and no digest.
func (r *Recipe) Canonical() ([]byte, error) {
	if err := r.Validate(); err != nil {
		return nil, err
	}
	raw, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("encode recipe: %w", err)
	}
	out, err := jsoncanonicalizer.Transform(raw)
	if err != nil {
		return nil, fmt.Errorf("canonicalize recipe: %w", err)
	}
	return out, nil
}

// Digest is the sha256 digest of the canonical form: the recipe's identity
// in attestations.
func (r *Recipe) Digest() (digest.Digest, error) {
	c, err := r.Canonical()
	if err != nil {
		return "", err
	}
	return digest.FromBytes(c), nil
}
