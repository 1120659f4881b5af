package attest

import (
	"github.com/opencontainers/go-digest"
)

// LookupDigest is the one sha256 digest by which a transparency centre
// finds what a digest set names (a source most of all): its sha256 entry
// when it has one; else reprove's tree digest of a checkout; else a Go
// module's directory hash (the sha256 of the module's hash listing;
// goModuleH1 as reprove once wrote it is read as dirHash). Empty when the
// set has none of them. A review is found by the LookupDigest of the
// source it reviews, and a rebuild names its source by the same digest, so
// the centre can hand a file's customers the reviews of the source its
// rebuilds name.
func (s DigestSet) LookupDigest() digest.Digest {
	n, err := s.Normalized()
	if err != nil {
		return ""
	}
	if v, ok := n[string(digest.SHA256)]; ok {
		if d := digest.NewDigestFromEncoded(digest.SHA256, v); d.Validate() == nil {
			return d
		}
		return ""
	}
	for _, k := range []string{KeyReproveTree, KeyDirHash} {
		if v, ok := n[k]; ok {
			if d := digest.NewDigestFromEncoded(digest.SHA256, v); d.Validate() == nil {
				return d
			}
		}
	}
	return ""
}
