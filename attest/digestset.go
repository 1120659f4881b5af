package attest

import (
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"sort"
	"strings"

	"github.com/opencontainers/go-digest"
)

// Digest-set keys that reprove writes besides the standard ones (sha256,
// gitCommit, gitTree).
const (
	// KeyReproveTree is reprove's sha256 tree digest of a source checkout
	// (internal/treehash): every path, file content, exec bit and symlink.
	// in-toto digest sets allow such custom keys.
	KeyReproveTree = "reproveTree"
	// KeyDirHash is in-toto v1's name for Go's directory hash (a Go
	// module's go.sum "h1:" hash), as in-toto defines it: lower-case hex,
	// without the "h1:" prefix.
	KeyDirHash = "dirHash"
	// KeyGoModuleH1 is the name in-toto v0.1 gave the same hash (hex),
	// under which reprove once wrote it as go.sum does ("h1:" and base64).
	// Both forms are read, as dirHash; it is no longer written.
	KeyGoModuleH1 = "goModuleH1"
)

// DigestSet is an in-toto digest set: algorithm name to encoded digest.
type DigestSet map[string]string

// hexLen is the hex length of the algorithms reprove checks; other keys are
// carried but never relied on.
var hexLen = map[string]int{
	"md5": 32, "sha1": 40, "sha224": 56, "sha256": 64, "sha384": 96, "sha512": 128,
	"sha512_256": 64, KeyReproveTree: 64, KeyDirHash: 64,
}

// strong reports whether alg alone identifies content (a SHA-2 family digest
// of at least 256 bits, or a git object id in a SHA-256 repository). md5,
// sha1 and SHA-1 git ids are not strong: a set holding only those is
// refused.
func strong(alg, value string) bool {
	switch alg {
	case "sha256", "sha384", "sha512", "sha512_256", KeyReproveTree, KeyDirHash, KeyGoModuleH1:
		return true
	case "gitCommit", "gitTree":
		return len(value) == 64
	}
	return false
}

// Validate checks the encoding of every digest reprove knows and that at
// least one is strong. The in-toto bindings' ResourceDescriptor.Validate
// (which ParseStatement also runs) checks lengths but accepts upper-case hex,
// knows nothing of reprove's own keys, and accepts md5/sha1-only sets: this
// adds those rules.
func (s DigestSet) Validate() error {
	if len(s) == 0 {
		return fmt.Errorf("empty digest set")
	}
	hasStrong := false
	for _, alg := range s.algorithms() {
		v := s[alg]
		switch alg {
		case "gitCommit", "gitTree":
			if (len(v) != 40 && len(v) != 64) || !isLowerHex(v) {
				return fmt.Errorf("digest %s: %q is not 40 or 64 lower-case hex digits", alg, v)
			}
		case KeyGoModuleH1:
			if _, err := dirHashOf(v); err != nil {
				return fmt.Errorf("digest %s: %w", alg, err)
			}
		default:
			if n, ok := hexLen[alg]; ok {
				if len(v) != n || !isLowerHex(v) {
					return fmt.Errorf("digest %s: %q is not %d lower-case hex digits", alg, v, n)
				}
			}
		}
		if strong(alg, v) {
			hasStrong = true
		}
	}
	if !hasStrong {
		return fmt.Errorf("digest set {%s} has no sha256-class digest (md5 and sha1 are not accepted)", s)
	}
	return nil
}

func (s DigestSet) algorithms() []string {
	algs := make([]string, 0, len(s))
	for a := range s {
		algs = append(algs, a)
	}
	sort.Strings(algs)
	return algs
}

func (s DigestSet) String() string {
	var parts []string
	for _, a := range s.algorithms() {
		parts = append(parts, a+":"+s[a])
	}
	return strings.Join(parts, ", ")
}

// Digest returns the set's entry for a go-digest algorithm as a validated
// digest.Digest.
func (s DigestSet) Digest(alg digest.Algorithm) (digest.Digest, bool) {
	v, ok := s[string(alg)]
	if !ok {
		return "", false
	}
	d := digest.NewDigestFromEncoded(alg, v)
	if d.Validate() != nil {
		return "", false
	}
	return d, true
}

// setOf makes a digest set from go-digest digests.
func setOf(ds ...digest.Digest) DigestSet {
	s := DigestSet{}
	for _, d := range ds {
		if d != "" {
			s[d.Algorithm().String()] = d.Encoded()
		}
	}
	return s
}

// matchSets decides whether two digest sets name the same content: every
// algorithm both carry must agree, and at least one they share must be
// strong. It returns a reason when they do not match.
func matchSets(a, b DigestSet) (bool, string) {
	shared, strongShared := 0, false
	for _, alg := range a.algorithms() {
		bv, ok := b[alg]
		if !ok {
			continue
		}
		shared++
		if a[alg] != bv {
			return false, fmt.Sprintf("%s differs (%s vs %s)", alg, a[alg], bv)
		}
		if strong(alg, bv) {
			strongShared = true
		}
	}
	if shared == 0 {
		return false, fmt.Sprintf("no digest algorithm in common ({%s} vs {%s})", a, b)
	}
	if !strongShared {
		return false, fmt.Sprintf("they share only weak digests ({%s} vs {%s}); a sha256-class digest is required", a, b)
	}
	return true, ""
}

func isLowerHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// dirHashOf reads a goModuleH1 value in either form it has had: in-toto's
// (64 lower-case hex digits) or go.sum's ("h1:" and base64, as reprove
// wrote it before), and returns it as dirHash (hex).
func dirHashOf(v string) (string, error) {
	if len(v) == 64 && isLowerHex(v) {
		return v, nil
	}
	b64, ok := strings.CutPrefix(v, "h1:")
	if !ok {
		return "", fmt.Errorf("%q is neither 64 hex digits nor an h1: go.sum hash", v)
	}
	raw, err := base64.StdEncoding.Strict().DecodeString(b64)
	if err != nil || len(raw) != 32 {
		return "", fmt.Errorf("%q is not an h1: go.sum hash (base64 of 32 bytes)", v)
	}
	return hex.EncodeToString(raw), nil
}

// DirHash is a go.sum hash ("h1:…") as an in-toto dirHash (hex).
func DirHash(goSum string) (string, error) {
	if !strings.HasPrefix(goSum, "h1:") {
		return "", fmt.Errorf("%q is not an h1: go.sum hash", goSum)
	}
	return dirHashOf(goSum)
}

// GoSum is an in-toto dirHash (hex) as a go.sum hash ("h1:…").
func GoSum(dirHash string) (string, error) {
	raw, err := hex.DecodeString(dirHash)
	if err != nil || len(raw) != 32 || !isLowerHex(dirHash) {
		return "", fmt.Errorf("%q is not a dirHash (64 lower-case hex digits)", dirHash)
	}
	return "h1:" + base64.StdEncoding.EncodeToString(raw), nil
}

// Normalized returns the set with the legacy goModuleH1 entry read as
// dirHash (a valid set has either, or both agreeing), so that sets written
// before and after the rename match.
func (s DigestSet) Normalized() (DigestSet, error) {
	v, ok := s[KeyGoModuleH1]
	if !ok {
		return s, nil
	}
	h, err := dirHashOf(v)
	if err != nil {
		return nil, fmt.Errorf("digest %s: %w", KeyGoModuleH1, err)
	}
	if d, ok := s[KeyDirHash]; ok && d != h {
		return nil, fmt.Errorf("digests %s and %s differ", KeyGoModuleH1, KeyDirHash)
	}
	out := DigestSet{}
	for k, x := range s {
		if k != KeyGoModuleH1 {
			out[k] = x
		}
	}
	out[KeyDirHash] = h
	return out, nil
}
