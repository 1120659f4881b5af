package attest

import (
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"strings"

	"github.com/opencontainers/go-digest"
)

// LookupDigest is the one sha256 digest by which a transparency centre
// finds what a digest set names (a source most of all): its sha256 entry
// when it has one; else reprove's tree digest of a checkout; else a Go
// module's h1: hash (the sha256 of the module's hash listing). Empty when
// the set has none of them. A review is found by the LookupDigest of the
// source it reviews, and a rebuild names its source by the same digest, so
// the centre can hand a file's customers the reviews of the source its
// rebuilds name.
func (s DigestSet) LookupDigest() digest.Digest {
	if v, ok := s[string(digest.SHA256)]; ok {
		if d := digest.NewDigestFromEncoded(digest.SHA256, v); d.Validate() == nil {
			return d
		}
		return ""
	}
	if v, ok := s[KeyReproveTree]; ok {
		if d := digest.NewDigestFromEncoded(digest.SHA256, v); d.Validate() == nil {
			return d
		}
	}
	if v, ok := s[KeyGoModuleH1]; ok {
		if b, err := base64.StdEncoding.Strict().DecodeString(strings.TrimPrefix(v, "h1:")); err == nil && len(b) == sha256.Size && strings.HasPrefix(v, "h1:") {
			return digest.NewDigestFromEncoded(digest.SHA256, hex.EncodeToString(b))
		}
	}
	return ""
}
